/* sim/programs/programs.c - simulated stand-ins for cat, echo, true,
 * false, sleep, printenv, pwd and yes, and the registration of all the
 * standard programs (twin/programs.h; sh lives in sim/programs/sh.c, date
 * in sim/programs/date.c).
 *
 * Map: output helpers; the programs, one small table each; registering.
 *
 * Each is event-driven code in virtual time (twin/simproc.h): start runs
 * once, input brings stdin, drained says the output pipe has room again.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/programs.h"
#include "twin/simproc.h"

extern const tw_sim_program tw__program_sh;
extern const tw_sim_program tw__program_date;

/* ---- output helpers ---- */

static void say(tw_sim_proc *p, int fd, const char *s)
{
    tw_sim_proc_write(p, fd, s, strlen(s));
}

/* "prog: message\n" on stderr, then exit status. */
static void fail(tw_sim_proc *p, const char *prog, const char *msg, int status)
{
    say(p, 2, prog);
    say(p, 2, ": ");
    say(p, 2, msg);
    say(p, 2, "\n");
    tw_sim_proc_exit(p, status);
}

/* ---- cat ---- */

static void cat_start(tw_sim_proc *p, int argc, char **argv)
{
    (void)argv;
    if (argc > 1)
        fail(p, "cat", "the simulated cat reads its stdin only", 1);
}

static void cat_input(tw_sim_proc *p, const uint8_t *d, size_t n)
{
    tw_sim_proc_write(p, 1, d, n); /* a SIGPIPE ends it, as a real cat */
}

static void cat_eof(tw_sim_proc *p) { tw_sim_proc_exit(p, 0); }

static const tw_sim_program program_cat = {
    .start = cat_start, .input = cat_input, .input_eof = cat_eof,
};

/* ---- echo ---- */

static void echo_start(tw_sim_proc *p, int argc, char **argv)
{
    int i = 1;
    bool newline = true;
    if (argc > 1 && strcmp(argv[1], "-n") == 0) {
        newline = false;
        i = 2;
    }
    for (int first = i; i < argc; i++) {
        if (i > first)
            say(p, 1, " ");
        say(p, 1, argv[i]);
    }
    if (newline)
        say(p, 1, "\n");
    tw_sim_proc_exit(p, 0);
}

static const tw_sim_program program_echo = {.start = echo_start};

/* ---- true, false ---- */

static void true_start(tw_sim_proc *p, int argc, char **argv)
{
    (void)argc; (void)argv;
    tw_sim_proc_exit(p, 0);
}

static void false_start(tw_sim_proc *p, int argc, char **argv)
{
    (void)argc; (void)argv;
    tw_sim_proc_exit(p, 1);
}

static const tw_sim_program program_true = {.start = true_start};
static const tw_sim_program program_false = {.start = false_start};

/* ---- sleep ---- */

/* "1", "0.25", "100": seconds as integer ns, -1 if not a number. */
static tw_ns parse_seconds(const char *s)
{
    tw_ns whole = 0, frac = 0, scale = TW_NS_PER_SEC;
    const char *c = s;
    for (; *c >= '0' && *c <= '9'; c++)
        if ((whole = whole * 10 + (*c - '0')) > 100000000)
            return -1;
    if (*c == '.')
        for (c++; *c >= '0' && *c <= '9'; c++)
            if (scale > 1)
                frac += (*c - '0') * (scale /= 10);
    return *c || c == s ? -1 : whole * TW_NS_PER_SEC + frac;
}

static void sleep_done(tw_sim_proc *p) { tw_sim_proc_exit(p, 0); }

static void sleep_start(tw_sim_proc *p, int argc, char **argv)
{
    tw_ns ns = argc > 1 ? parse_seconds(argv[1]) : -1;
    if (ns < 0) {
        fail(p, "sleep", argc > 1 ? "invalid time interval" : "missing operand", 1);
        return;
    }
    tw_sim_proc_timer(p, ns, sleep_done);
}

static const tw_sim_program program_sleep = {.start = sleep_start};

/* ---- printenv, pwd ---- */

static void printenv_start(tw_sim_proc *p, int argc, char **argv)
{
    if (argc > 1) {
        const char *v = tw_sim_proc_getenv(p, argv[1]);
        if (v) {
            say(p, 1, v);
            say(p, 1, "\n");
        }
        tw_sim_proc_exit(p, v ? 0 : 1);
        return;
    }
    for (const char *const *e = tw_sim_proc_environ(p); e && *e; e++) {
        say(p, 1, *e);
        say(p, 1, "\n");
    }
    tw_sim_proc_exit(p, 0);
}

static const tw_sim_program program_printenv = {.start = printenv_start};

static void pwd_start(tw_sim_proc *p, int argc, char **argv)
{
    (void)argc; (void)argv;
    say(p, 1, tw_sim_proc_cwd(p));
    say(p, 1, "\n");
    tw_sim_proc_exit(p, 0);
}

static const tw_sim_program program_pwd = {.start = pwd_start};

/* ---- yes ---- */

/* One block of "WORD\n" lines per write; the pipe pushes back. */
#define YES_BLOCK 8192

static void yes_fill(tw_sim_proc *p)
{
    const char *block = tw_sim_proc_data(p);
    while (!tw_sim_proc_blocked(p))
        if (tw_sim_proc_write(p, 1, block, strlen(block)) < 0)
            return; /* SIGPIPE handled or dead */
}

static void yes_start(tw_sim_proc *p, int argc, char **argv)
{
    const char *word = argc > 1 ? argv[1] : "y";
    size_t w = strlen(word) + 1;
    size_t lines = YES_BLOCK / w ? YES_BLOCK / w : 1;
    char *block = malloc(lines * w + 1);
    if (!block) {
        fail(p, "yes", "out of memory", 1);
        return;
    }
    for (size_t i = 0; i < lines; i++) {
        memcpy(block + i * w, word, w - 1);
        block[i * w + w - 1] = '\n';
    }
    block[lines * w] = '\0';
    tw_sim_proc_set_data(p, block);
    yes_fill(p);
}

static void yes_free(tw_sim_proc *p) { free(tw_sim_proc_data(p)); }

static const tw_sim_program program_yes = {
    .start = yes_start, .drained = yes_fill, .free = yes_free,
};

/* ---- registering ---- */

/* The programs added from outside the library, registered after the
 * standard ones. */
static struct {
    char name[64];
    const tw_sim_program *prog;
} added[TW_PROGRAMS_ADDED_MAX];
static size_t nadded;

static ptrdiff_t added_find(const char *name)
{
    for (size_t i = 0; i < nadded; i++)
        if (strcmp(added[i].name, name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

int tw_programs_add(const char *name, const tw_sim_program *prog)
{
    size_t len = name ? strlen(name) : 0;
    if (!len || len >= sizeof added[0].name || strchr(name, '/') || !prog || !prog->start)
        return -EINVAL;
    ptrdiff_t i = added_find(name);
    if (i < 0) {
        if (nadded == TW_PROGRAMS_ADDED_MAX)
            return -ENOSPC;
        i = (ptrdiff_t)nadded++;
        memcpy(added[i].name, name, len + 1);
    }
    added[i].prog = prog;
    assert(nadded <= TW_PROGRAMS_ADDED_MAX);
    return 0;
}

int tw_programs_remove(const char *name)
{
    if (!name)
        return -EINVAL;
    ptrdiff_t i = added_find(name);
    if (i < 0)
        return -ENOENT;
    memmove(&added[i], &added[i + 1], (nadded - (size_t)i - 1) * sizeof added[0]);
    nadded--;
    return 0;
}

int tw_programs_register(tw_sim *sim)
{
    static const struct {
        const char *name;
        const tw_sim_program *prog;
    } all[] = {
        {"cat", &program_cat},     {"date", &tw__program_date},
        {"echo", &program_echo},   {"false", &program_false},
        {"printenv", &program_printenv}, {"pwd", &program_pwd},
        {"sh", &tw__program_sh},   {"sleep", &program_sleep},
        {"true", &program_true},   {"yes", &program_yes},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        int rc = tw_sim_register_program(sim, all[i].name, all[i].prog);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < nadded; i++) {
        int rc = tw_sim_register_program(sim, added[i].name, added[i].prog);
        if (rc < 0)
            return rc;
    }
    return 0;
}
