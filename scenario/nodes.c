/* scenario/nodes.c - apps on simulated nodes: started by the node's start
 * hook (again after each restart), dropped by its stop hook, watched by
 * the run.
 *
 * Map: the apps' output (a FILE per node, line-prefixed); the contract
 * checker's reports; start and stop; setup and teardown; the checks a
 * run makes (invariants, goals, exit statuses).
 *
 * A crash tears the node's loop down before the stop hook runs, so an
 * app's state is dropped with its `discard` (memory only) when it has
 * one: its transports and timers are gone already.
 */
#define _GNU_SOURCE /* fopencookie */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kit/history.h"
#include "scenario/run.h"
#include "twin/error.h"
#include "twin/replay.h"
#include "twin/simfs.h"

/* ---- output ---- */

/* A line of an app's output as a record of the JSON trace (what "app",
 * its text in "line", escaped as the history's JSON escapes its values:
 * every byte kept, so the line is valid JSON whatever the app printed),
 * in its place among the world's records. It is no record of the world:
 * not in the trace hash, nor in the text trace, which has the apps'
 * lines on app_out. Its length is bounded: a line of at most 256 bytes,
 * each escaped in at most 6, a node's name of at most 31, the time and
 * the keys: under the 2 KiB a reader of the trace takes per line
 * (cli/tfilter.c, cli/timeline.c). */
_Static_assert(sizeof ((sc_node_rt *)0)->line * 6 + SC_NAME_MAX + 128 < 2048,
               "an app's JSON line fits the trace readers' 2 KiB");
static void json_line(FILE *f, tw_ns t, const char *node, const char *s, size_t n)
{
    fprintf(f, "{\"t\": %" PRId64 ".%09" PRId64 ", \"node\": \"%s\", \"transport\": 0, "
               "\"what\": \"app\", \"line\": ",
            t / TW_NS_PER_SEC, t % TW_NS_PER_SEC, node);
    tw__history_json_str(f, s, n, false);
    fputs("}\n", f);
}

static void flush_line(sc_node_rt *n)
{
    const tw_scenario_run_opts *o = n->r->opts;
    const char *name = n->r->sc->nodes[n->idx].name;
    if (o->app_out && n->line_len)
        fprintf(o->app_out, "%s| %.*s\n", name, (int)n->line_len, n->line);
    if (o->trace && o->trace_json && n->line_len)
        json_line(o->trace, tw_sim_now(n->r->sim), name, n->line, n->line_len);
    n->line_len = 0;
}

static ssize_t out_write(void *cookie, const char *buf, size_t len)
{
    sc_node_rt *n = cookie;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || n->line_len == sizeof n->line)
            flush_line(n);
        if (buf[i] != '\n')
            n->line[n->line_len++] = buf[i];
    }
    return (ssize_t)len;
}

/* ---- the contract checker ---- */

static void on_violation(void *arg, const char *msg)
{
    sc_node_rt *n = arg;
    if (n->r->sc->expect_contract)
        sc_runner_fail(n->r, TW_SCENARIO_CORRECTNESS, "%s: %s",
                       n->r->sc->nodes[n->idx].name, msg);
}

/* ---- start and stop ---- */

static int node_start(tw_loop *loop, void *arg)
{
    sc_node_rt *n = arg;
    const sc_node *spec = &n->r->sc->nodes[n->idx];
    int first = 0;
    for (int k = 0; k < spec->napps; k++) {
        const sc_app *a = &spec->apps[k];
        char *argv[SC_ARGS_MAX + 2]; /* getopt permutes: a fresh copy */
        memcpy(argv, a->argv, ((size_t)a->argc + 1) * sizeof *argv);
        void *state = NULL;
        int saved = opterr;
        opterr = 0;
        int rc = a->app->start(loop, a->argc, argv, n->out, &state);
        opterr = saved;
        fflush(n->out);
        n->apps[k] = (sc_app_rt){.spec = a, .state = rc < 0 ? NULL : state};
        if (rc < 0) {
            sc_runner_fail(n->r, TW_SCENARIO_CORRECTNESS,
                           "%s: app %s failed to start: %s", spec->name,
                           a->argv[0], tw_strerror(rc));
            if (!first)
                first = rc;
        }
    }
    /* The recorded peers, once: a restarted app meets no second copy. */
    if (!first && n->peers && tw_app_restarts(loop) == 0) {
        int rc = tw_replay_peers_start(n->peers, loop);
        if (rc < 0)
            sc_runner_fail(n->r, TW_SCENARIO_CORRECTNESS, "%s: replay %s: %s",
                           spec->name, spec->replay, tw_strerror(rc));
    }
    return first;
}

static void node_stop(tw_loop *loop, void *arg)
{
    sc_node_rt *n = arg;
    (void)loop;
    for (int k = 0; k < SC_APPS_MAX; k++) {
        sc_app_rt *a = &n->apps[k];
        if (!a->state)
            continue;
        tw_app_discard(a->spec->app, a->state);
        a->state = NULL;
    }
}

/* ---- setup and teardown ---- */

int sc_nodes_setup(sc_runner *r)
{
    const tw_scenario *sc = r->sc;
    r->nodes = calloc((size_t)sc->nnodes, sizeof *r->nodes);
    if (!r->nodes)
        return -ENOMEM;
    static const cookie_io_functions_t io = {.write = out_write};
    for (int i = 0; i < sc->nnodes; i++) {
        sc_node_rt *n = &r->nodes[i];
        n->r = r;
        n->idx = i;
        n->loop = tw_sim_add_node(r->sim, sc->nodes[i].name, sc->nodes[i].addr);
        n->out = fopencookie(n, "w", io);
        if (!n->loop || !n->out)
            return -ENOMEM;
        setvbuf(n->out, NULL, _IOLBF, 0); /* lines reach app_out in time order */
        tw_loop_set_contract_check(n->loop, true);
        /* strict unless the file says `contract: basic` (or false) */
        tw_loop_set_contract_strict(n->loop, sc->expect_contract && sc->contract_strict);
        tw_loop_set_contract_handler(n->loop, on_violation, n);
    }
    /* A replay's peers talk over the node's loopback: a constant latency
     * keeps the recorded order (a path of the file's own still wins).
     * Its file calls take no time, as in `twin replay`: the recorded
     * times hold what they took. */
    for (int i = 0; i < sc->nnodes; i++) {
        if (!sc->nodes[i].replay[0])
            continue;
        char err[512];
        int rc = tw_replay_peers_load(sc->nodes[i].replay, r->sim ? tw_sim_seed(r->sim) : 0,
                                      r->nodes[i].out, &r->nodes[i].peers, err, sizeof err);
        if (rc < 0) {
            sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "%s: %s", sc->nodes[i].name, err);
            continue;
        }
        tw_sim_path_opts lo = {.latency = {.kind = TW_SIM_DIST_CONSTANT,
                                           .min_ns = 1000, .max_ns = 1000,
                                           .mean_ns = 1000}};
        if (tw_sim_path_set(r->sim, r->nodes[i].loop, r->nodes[i].loop, &lo) < 0)
            return -EINVAL;
        const tw_sim_dist no_time = {.kind = TW_SIM_DIST_CONSTANT};
        const tw_sim_fs_opts fo = {.latency = no_time, .fsync_latency = no_time};
        if ((rc = tw_sim_fs_set(r->nodes[i].loop, &fo)) < 0)
            return rc;
    }
    for (int i = 0; i < sc->npaths; i++)
        if (tw_sim_path_set(r->sim, r->nodes[sc->paths[i].from].loop,
                            r->nodes[sc->paths[i].to].loop, &sc->paths[i].opts) < 0)
            return -EINVAL;
    /* Hooks last: a start runs from the loop, once every node exists. */
    for (int i = 0; i < sc->nnodes; i++) {
        if (!sc->nodes[i].napps)
            continue;
        tw_sim_node_set_stop(r->nodes[i].loop, node_stop);
        tw_sim_node_set_start(r->nodes[i].loop, node_start, &r->nodes[i]);
    }
    return 0;
}

/* After tw_sim_free (whose crashes ran the stop hooks). */
void sc_nodes_fini(sc_runner *r)
{
    for (int i = 0; r->nodes && i < r->sc->nnodes; i++) {
        sc_node_rt *n = &r->nodes[i];
        node_stop(NULL, n); /* nodes that never had hooks */
        if (n->out) {
            fflush(n->out);
            flush_line(n);
            fclose(n->out);
        }
        tw_replay_peers_free(n->peers); /* the world that used them is gone */
    }
    free(r->nodes);
    r->nodes = NULL;
}

/* ---- checks ---- */

/* Each `replay:` node's writes against its recording: a difference is a
 * correctness failure naming the transport, the offset and the bytes. */
void sc_check_replays(sc_runner *r)
{
    for (int i = 0; i < r->sc->nnodes; i++) {
        sc_node_rt *n = &r->nodes[i];
        tw_replay_result res;
        if (n->peers && tw_replay_peers_check(n->peers, &res) == 1)
            sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "%s: replay: %s",
                           r->sc->nodes[i].name, res.diff);
        if (n->out)
            fflush(n->out);
    }
}

void sc_check_invariants(sc_runner *r)
{
    if (!r->sc->expect_invariants)
        return;
    for (int i = 0; i < r->sc->nnodes; i++)
        for (int k = 0; k < r->sc->nodes[i].napps; k++) {
            sc_app_rt *a = &r->nodes[i].apps[k];
            const char *msg;
            if (a->state && a->spec->app->invariant &&
                (msg = a->spec->app->invariant(a->state)))
                sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "%s (%s): %s",
                               r->sc->nodes[i].name, a->spec->argv[0], msg);
        }
}

static bool node_waited_for(const tw_scenario *sc, int i)
{
    if (sc->until_all)
        return true;
    for (int k = 0; k < sc->nuntil; k++)
        if (sc->until[k] == i)
            return true;
    return false;
}

/* An app "has a goal" when it can say it is done. A node that is down
 * has nothing running, so nothing of it is done. */
bool sc_goals_met(sc_runner *r, char *who, size_t len)
{
    for (int i = 0; i < r->sc->nnodes; i++) {
        if (!node_waited_for(r->sc, i))
            continue;
        for (int k = 0; k < r->sc->nodes[i].napps; k++) {
            const sc_app *spec = &r->sc->nodes[i].apps[k];
            sc_app_rt *a = &r->nodes[i].apps[k];
            if (!spec->app->done && tw_sim_node_up(r->nodes[i].loop))
                continue;
            if (!a->state || !spec->app->done || !spec->app->done(a->state)) {
                snprintf(who, len, "%s (%s)", r->sc->nodes[i].name, spec->argv[0]);
                return false;
            }
        }
    }
    return true;
}

void sc_check_exits(sc_runner *r)
{
    for (int i = 0; i < r->sc->nnodes; i++) {
        const sc_node *spec = &r->sc->nodes[i];
        if (!spec->napps || spec->expect_exit == SC_EXIT_ANY)
            continue;
        if (!tw_sim_node_up(r->nodes[i].loop)) {
            if (spec->exit_given)
                sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                               "%s is down at the end: no exit status", spec->name);
            continue;
        }
        for (int k = 0; k < spec->napps; k++) {
            sc_app_rt *a = &r->nodes[i].apps[k];
            const tw_app *app = spec->apps[k].app;
            if (!a->state)
                continue; /* its start failed: reported then */
            if (app->done && !app->done(a->state)) {
                sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                               "%s (%s) had not finished at the end", spec->name,
                               app->name);
                continue;
            }
            int st = app->result ? app->result(a->state) : 0;
            if (st != spec->expect_exit)
                sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                               "%s (%s) exited with status %d, expected %d",
                               spec->name, app->name, st, spec->expect_exit);
        }
    }
}
