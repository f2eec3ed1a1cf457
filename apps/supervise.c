/* apps/supervise.c - the app `supervise`: run a program, and run it
 * again when it dies, as a process supervisor does.
 *
 * Map: the child's protocol; restarting; options; the app.
 *
 *     twin run supervise --restarts 3 -- sh -c 'echo working; sleep 1'
 *
 * A run that exits 0 ends the job (done, status 0). A run that exits
 * non-zero or dies of a signal is started again after --backoff
 * (doubling), at most --restarts times; then the app gives up (done,
 * status 1). Output lines of the child are counted, and passed on unless
 * --quiet. In a scenario, a kill fault or a crashing program is what it
 * survives.
 *
 * Ownership: the child's protocol is its own object, freed by release;
 * the app state is detached from it on free (as in echo_load.c). The
 * argv given after "--" is copied.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/twin.h"

#define ARGS_MAX 32

typedef struct sup sup;

typedef struct child {
    tw_protocol base;
    sup *app; /* NULL once the app is gone */
    tw_transport *t;
    bool exited, lost;
} child;

struct sup {
    tw_loop *loop;
    FILE *out; /* NULL: quiet */
    char *argv[ARGS_MAX + 1];
    uint64_t restarts_max, runs, failures, lines;
    tw_ns backoff, delay;
    child *c;
    tw_handle timer;
    bool done, gave_up;
    int last_code;
};

static int spawn(sup *a);

static void ended(sup *a, int code);

static void spawn_cb(void *arg)
{
    sup *a = arg;
    a->timer = 0;
    if (spawn(a) < 0)
        ended(a, 127); /* as a shell says of a program it cannot run */
}

/* A run ended (code as asyncio's returncode): done, or again later. */
static void ended(sup *a, int code)
{
    a->last_code = code;
    if (code == 0) {
        a->done = true;
        if (a->out)
            fprintf(a->out, "supervise: run %llu of %s exited 0\n",
                    (unsigned long long)a->runs, a->argv[0]);
        return;
    }
    a->failures++;
    if (a->out)
        fprintf(a->out, "supervise: run %llu of %s %s %d%s\n",
                (unsigned long long)a->runs, a->argv[0],
                code < 0 ? "died of signal" : "exited with status",
                code < 0 ? -code : code,
                a->failures > a->restarts_max ? "; giving up" : "; restarting");
    if (a->failures > a->restarts_max) {
        a->gave_up = true;
        return;
    }
    a->timer = tw_call_later(a->loop, a->delay, spawn_cb, a);
    a->delay *= 2;
}

/* ---- the child's protocol ---- */

static void ch_made(tw_protocol *p, tw_transport *t) { ((child *)p)->t = t; }

static void ch_data(tw_protocol *p, int fd, const uint8_t *d, size_t n)
{
    child *c = (child *)p;
    if (!c->app)
        return;
    for (size_t i = 0; i < n; i++)
        c->app->lines += d[i] == '\n';
    if (c->app->out && fd == 1)
        fprintf(c->app->out, "%.*s", (int)n, (const char *)d);
}

static void ch_lost(tw_protocol *p, int err)
{
    child *c = (child *)p;
    sup *a = c->app;
    (void)err;
    int code = -1;
    if (!a)
        return;
    a->c = NULL;
    c->app = NULL;
    if (tw_transport_get_returncode(c->t, &code) < 0)
        code = -1;
    ended(a, code); /* every pipe closed and the exit known: the run is over */
}

static void ch_release(tw_protocol *p)
{
    child *c = (child *)p;
    if (c->app && c->app->c == c)
        c->app->c = NULL;
    free(c);
}

static const tw_protocol_ops child_ops = {
    .connection_made = ch_made,
    .pipe_data_received = ch_data,
    .connection_lost = ch_lost,
    .release = ch_release,
};

static tw_protocol *ch_factory(void *arg)
{
    child *c = arg;
    return &c->base;
}

static int spawn(sup *a)
{
    child *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->base.ops = &child_ops;
    c->app = a;
    a->runs++;
    tw_subprocess_opts o = {.stdin_mode = TW_STDIO_DEVNULL,
                            .stderr_mode = TW_STDIO_STDOUT};
    int rc = tw_subprocess_exec(a->loop, ch_factory, c,
                                (const char *const *)a->argv, &o, NULL);
    if (rc < 0) {
        free(c);
        if (a->out)
            fprintf(a->out, "supervise: cannot run %s: %s\n", a->argv[0],
                    tw_strerror(rc));
        return rc;
    }
    a->c = c;
    return 0;
}

/* ---- the app ---- */

static void free_args(sup *a)
{
    for (int i = 0; a->argv[i]; i++)
        free(a->argv[i]);
}

typedef struct sup_opts {
    uint64_t restarts;
    tw_ns backoff;
    bool quiet;
    tw_opt_args prog;
} sup_opts;

/* The first operand ends the options: the program's own stay its own. */
static const tw_opt sup_table[] = {
    {.name = "restarts", TW_OPT_FIELD(TW_OPT_U64, sup_opts, restarts), .def = "3",
     .help = "give up after N failed runs more (default 3)"},
    {.name = "backoff", TW_OPT_FIELD(TW_OPT_DURATION, sup_opts, backoff),
     .def = "100ms", .min = 1,
     .help = "wait before a restart, doubling (default 100ms)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, sup_opts, quiet), .help = "no output"},
    {TW_OPT_FIELD(TW_OPT_ARGS, sup_opts, prog), .min = 1, .max = ARGS_MAX,
     .meta = "PROGRAM ARG...", .help = "what to run (after '--' if it has options)"},
    {0},
};

TW_OPTS_USAGE_TEXT(sup_usage, 2048, sup_table)

static int sup_start(tw_loop *loop, int argc, char **argv, FILE *out,
                     void **state)
{
    sup_opts o = {0};
    int rc = tw_opts_parse(sup_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    sup *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    a->restarts_max = o.restarts;
    a->backoff = o.backoff;
    bool quiet = o.quiet;
    for (int i = 0; rc == 0 && i < o.prog.argc; i++)
        if (!(a->argv[i] = strdup(o.prog.argv[i])))
            rc = -ENOMEM;
    if (rc < 0) {
        free_args(a);
        free(a);
        return rc;
    }
    a->out = out; /* a first run that cannot start is an error: say why */
    a->delay = a->backoff;
    if ((rc = spawn(a)) < 0) {
        free_args(a);
        free(a);
        return rc;
    }
    a->out = quiet ? NULL : out;
    *state = a;
    return 0;
}

static bool sup_done(void *state)
{
    sup *a = state;
    return a->done || a->gave_up;
}

static int sup_result(void *state) { return ((sup *)state)->done ? 0 : 1; }

static void sup_free(void *state)
{
    sup *a = state;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    if (a->c) {
        a->c->app = NULL;
        tw_transport_close(a->c->t); /* kills the child if it still runs */
    }
    free_args(a);
    free(a);
}

static void sup_discard(void *state)
{
    free_args(state);
    free(state);
}

const tw_app tw__app_supervise = {
    .name = "supervise",
    .summary = "runs a program; runs it again when it fails or dies",
    .usage = sup_usage,
    .opts = sup_table,
    .start = sup_start,
    .result = sup_result,
    .free = sup_free,
    .done = sup_done,
    .discard = sup_discard,
};
