/* sim/programs/sh.c - the simulated `sh`, so that subprocess_shell works
 * in a simulated world: `sh -c CMD` with the little grammar twin/programs.h
 * lists.
 *
 * Map: parsing (commands, words, quotes, redirections); running
 * (builtins, exec of the last command); the program's callbacks.
 *
 * Like dash running `sh -c cmd`, it execs a last command that is not a
 * builtin instead of forking: the program keeps the shell's pid and
 * stdio, so the parent sees one process either way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/simproc.h"

#define SH_WORDS_MAX 64
#define SH_CMDS_MAX 64
#define SH_LINE_MAX 4096

struct sh_cmd {
    int argc;
    char *argv[SH_WORDS_MAX + 1];
    int out_fd;      /* a builtin's output: 1, or 2 after >&2 */
    bool close[3];   /* >&- 2>&- <&- */
};

struct sh {
    char buf[SH_LINE_MAX]; /* the words, NUL-separated */
    struct sh_cmd cmds[SH_CMDS_MAX];
    int ncmds, next;
    int status;
    bool reading;    /* in `read`: waiting for a line */
    char name[64];   /* argv[0], as dash names itself in its messages */
};

/* ---- parsing ---- */

/* A redirection word: sets the command's effect and returns true. */
static bool redirection(struct sh_cmd *c, const char *w)
{
    if (!strcmp(w, ">&2") || !strcmp(w, "1>&2"))
        c->out_fd = 2;
    else if (!strcmp(w, ">&-") || !strcmp(w, "1>&-"))
        c->close[1] = true;
    else if (!strcmp(w, "2>&-"))
        c->close[2] = true;
    else if (!strcmp(w, "<&-") || !strcmp(w, "0<&-"))
        c->close[0] = true;
    else if (!strcmp(w, "2>&1"))
        ; /* a builtin writes to one fd only: nothing to do */
    else
        return false;
    return true;
}

/* Split cmd into commands and words, in place in sh->buf. Returns 0, or
 * -1 when it is too long or a quote is not closed. */
static int parse(struct sh *sh, const char *cmd)
{
    size_t o = 0;
    const char *s = cmd;
    struct sh_cmd *c = &sh->cmds[0];
    memset(c, 0, sizeof *c);
    c->out_fd = 1;
    sh->ncmds = 1;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == ';' || *s == '\n' || *s == '\0') {
            if (c->argc > 0 && sh->ncmds < SH_CMDS_MAX && *s) {
                c = &sh->cmds[sh->ncmds++];
                memset(c, 0, sizeof *c);
                c->out_fd = 1;
            }
            if (!*s++)
                break;
            continue;
        }
        char *word = sh->buf + o;
        while (*s && *s != ' ' && *s != '\t' && *s != ';' && *s != '\n') {
            if (*s == '\'' || *s == '"') {
                char q = *s++;
                while (*s && *s != q) {
                    if (o + 1 >= sizeof sh->buf)
                        return -1;
                    sh->buf[o++] = *s++;
                }
                if (*s++ != q)
                    return -1;
                continue;
            }
            if (o + 1 >= sizeof sh->buf)
                return -1;
            sh->buf[o++] = *s++;
        }
        if (o + 1 >= sizeof sh->buf || c->argc >= SH_WORDS_MAX)
            return -1;
        sh->buf[o++] = '\0';
        if (!redirection(c, word))
            c->argv[c->argc++] = word;
    }
    if (sh->cmds[sh->ncmds - 1].argc == 0)
        sh->ncmds--; /* a trailing ';' */
    return 0;
}

/* ---- running ---- */

static void say(tw_sim_proc *p, int fd, const char *s)
{
    tw_sim_proc_write(p, fd, s, strlen(s));
}

static void builtin_echo(tw_sim_proc *p, const struct sh_cmd *c)
{
    for (int i = 1; i < c->argc; i++) {
        if (i > 1)
            say(p, c->out_fd, " ");
        say(p, c->out_fd, c->argv[i]);
    }
    say(p, c->out_fd, "\n");
}

/* Run commands from sh->next until the end, an exit, an exec, or a read
 * that must wait for input. */
static void run(tw_sim_proc *p, struct sh *sh)
{
    while (sh->next < sh->ncmds) {
        struct sh_cmd *c = &sh->cmds[sh->next++];
        const char *name = c->argc ? c->argv[0] : "";
        bool last = sh->next == sh->ncmds;
        if (!strcmp(name, "echo")) {
            builtin_echo(p, c);
            sh->status = 0;
        } else if (!strcmp(name, "true") || !strcmp(name, ":")) {
            sh->status = 0;
        } else if (!strcmp(name, "false")) {
            sh->status = 1;
        } else if (!strcmp(name, "exit")) {
            tw_sim_proc_exit(p, c->argc > 1 ? atoi(c->argv[1]) : sh->status);
            return;
        } else if (!strcmp(name, "read")) {
            sh->reading = true;
            return; /* input or its end continues */
        } else if (!strcmp(name, "exec") && c->argc == 1) {
            for (int fd = 0; fd < 3; fd++)
                if (c->close[fd])
                    tw_sim_proc_close(p, fd);
            sh->status = 0;
        } else if (last) {
            char **argv = c->argv + (!strcmp(name, "exec") ? 1 : 0);
            int argc = c->argc - (!strcmp(name, "exec") ? 1 : 0);
            if (tw_sim_proc_exec(p, argc, argv) == 0)
                return;
            say(p, 2, sh->name);
            say(p, 2, ": 1: ");
            say(p, 2, argv[0]);
            say(p, 2, ": not found\n");
            tw_sim_proc_exit(p, 127);
            return;
        } else {
            say(p, 2, sh->name);
            say(p, 2, ": 1: ");
            say(p, 2, name);
            say(p, 2, ": the simulated sh runs a program as its last command only\n");
            tw_sim_proc_exit(p, 2);
            return;
        }
    }
    tw_sim_proc_exit(p, sh->status);
}

/* ---- the program ---- */

static void sh_start(tw_sim_proc *p, int argc, char **argv)
{
    const char *name = argc > 0 && argv[0][0] ? argv[0] : "sh";
    if (argc < 3 || strcmp(argv[1], "-c") != 0) {
        say(p, 2, name);
        say(p, 2, ": the simulated sh runs `sh -c COMMAND` only\n");
        tw_sim_proc_exit(p, 2);
        return;
    }
    struct sh *sh = calloc(1, sizeof *sh);
    if (!sh) {
        tw_sim_proc_exit(p, 2);
        return;
    }
    snprintf(sh->name, sizeof sh->name, "%s", name);
    tw_sim_proc_set_data(p, sh);
    if (parse(sh, argv[2]) < 0) {
        say(p, 2, sh->name);
        say(p, 2, ": 1: Syntax error: unterminated quoted string or too long\n");
        tw_sim_proc_exit(p, 2);
        return;
    }
    run(p, sh);
}

/* Only `read` reads: it takes the first line (the rest of the chunk is
 * lost, a documented difference from dash's byte-wise reads). */
static void sh_input(tw_sim_proc *p, const uint8_t *d, size_t n)
{
    struct sh *sh = tw_sim_proc_data(p);
    if (!sh || !sh->reading || !memchr(d, '\n', n))
        return;
    sh->reading = false;
    sh->status = 0;
    run(p, sh);
}

static void sh_input_eof(tw_sim_proc *p)
{
    struct sh *sh = tw_sim_proc_data(p);
    if (!sh || !sh->reading)
        return;
    sh->reading = false;
    sh->status = 1;
    run(p, sh);
}

static void sh_free(tw_sim_proc *p) { free(tw_sim_proc_data(p)); }

const tw_sim_program tw__program_sh = {
    .start = sh_start,
    .input = sh_input,
    .input_eof = sh_input_eof,
    .free = sh_free,
};
