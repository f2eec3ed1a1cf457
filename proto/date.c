/* proto/date.c - the reference text's subprocess example ("loop.
 * subprocess_exec() and SubprocessProtocol") as the app `date`: run a
 * program, collect its stdout, and wait for BOTH process_exited and the
 * stdout pipe's closing before using the output (the newer revision's
 * warning: the exit may be reported before the last data).
 *
 * Map: the protocol; the app (options, start, result, free).
 *
 * On the real backend it runs /bin/date (found in the PATH); on a
 * simulated node the program `date` registered with the world (see
 * twin/programs.h and sim/programs/date.c), which prints the node's
 * virtual time.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/opts.h"
#include "twin/twin.h"

/* Output kept, at most; a date is one short line. */
#define DATE_OUT_MAX 4096
/* Program arguments, at most (argv[0] included). */
#define DATE_ARGS_MAX 32

struct date_app {
    tw_protocol base; /* the protocol is the app's state: one child */
    tw_transport *t;
    FILE *out;
    char output[DATE_OUT_MAX];
    size_t len;
    bool exited, pipe_closed, lost, printed;
    int returncode;
};

/* ---- the protocol ---- */

static void date_made(tw_protocol *p, tw_transport *t)
{
    ((struct date_app *)p)->t = t;
}

static void date_data(tw_protocol *p, int fd, const uint8_t *d, size_t n)
{
    struct date_app *a = (struct date_app *)p;
    if (fd != 1)
        return;
    size_t room = sizeof a->output - 1 - a->len;
    if (n > room)
        n = room; /* a date is short: keep the start, never overflow */
    memcpy(a->output + a->len, d, n);
    a->len += n;
}

/* Both the exit and the end of stdout: only now is the output whole. */
static void maybe_done(struct date_app *a)
{
    if (!a->exited || !a->pipe_closed || a->printed)
        return;
    a->printed = true;
    while (a->len > 0 && (a->output[a->len - 1] == '\n' ||
                          a->output[a->len - 1] == '\r' ||
                          a->output[a->len - 1] == ' '))
        a->len--;
    a->output[a->len] = '\0';
    fprintf(a->out, "Current date: %s\n", a->output);
    fflush(a->out);
    tw_transport_close(a->t); /* as the example: transport.close() */
}

static void date_pipe_lost(tw_protocol *p, int fd, int err)
{
    struct date_app *a = (struct date_app *)p;
    (void)err;
    if (fd == 1) {
        a->pipe_closed = true;
        maybe_done(a);
    }
}

static void date_exited(tw_protocol *p)
{
    struct date_app *a = (struct date_app *)p;
    a->exited = true;
    tw_transport_get_returncode(a->t, &a->returncode);
    maybe_done(a);
}

static void date_lost(tw_protocol *p, int err)
{
    (void)err;
    ((struct date_app *)p)->lost = true;
}

static const tw_protocol_ops date_ops = {
    .connection_made = date_made,
    .pipe_data_received = date_data,
    .pipe_connection_lost = date_pipe_lost,
    .process_exited = date_exited,
    .connection_lost = date_lost,
    /* no release: the app's free() owns the memory */
};

static tw_protocol *date_factory(void *arg) { return arg; }

/* ---- the app ---- */

typedef struct date_opts {
    const char *program;
    tw_opt_args args;
} date_opts;

/* Options and the program's arguments may come in any order. */
static const tw_opt date_table[] = {
    {.name = "program", TW_OPT_FIELD(TW_OPT_STRING, date_opts, program),
     .def = "date", .meta = "NAME", .help = "the program to run [date]"},
    {TW_OPT_FIELD(TW_OPT_ARGS, date_opts, args), .max = DATE_ARGS_MAX - 1,
     .flags = TW_OPT_ARGS_ANYWHERE, .help = "its arguments"},
    {0},
};

TW_OPTS_USAGE_TEXT(date_usage, 1024, date_table)

static int date_start(tw_loop *loop, int argc, char **argv, FILE *out,
                      void **state)
{
    date_opts o = {0};
    int rc = tw_opts_parse(date_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    const char *args[DATE_ARGS_MAX + 1] = {o.program};
    int n = 1;
    for (int i = 0; i < o.args.argc; i++)
        args[n++] = o.args.argv[i];
    args[n] = NULL;
    struct date_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->base.ops = &date_ops;
    a->out = out;
    /* The example's stdin=None, stderr=None: the child shares ours. */
    tw_subprocess_opts so = {.stdin_mode = TW_STDIO_INHERIT,
                             .stdout_mode = TW_STDIO_PIPE,
                             .stderr_mode = TW_STDIO_INHERIT};
    rc = tw_subprocess_exec(loop, date_factory, a, args, &so, NULL);
    if (rc < 0) {
        fprintf(out, "date: cannot run %s: %s\n", args[0], tw_strerror(rc));
        free(a);
        return rc;
    }
    *state = a;
    return 0;
}

static int date_result(void *state)
{
    struct date_app *a = state;
    return a->printed && a->returncode == 0 && a->len > 0 ? 0 : 1;
}

static void date_free(void *state) { free(state); }

const tw_app tw__app_date = {
    .name = "date",
    .summary = "run a program (date), print its output once it exited and "
               "its stdout closed",
    .usage = date_usage,
    .opts = date_table,
    .start = date_start,
    .result = date_result,
    .free = date_free,
};
