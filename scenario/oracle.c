/* scenario/oracle.c - the runner's own oracles: mistakes any protocol can
 * make, caught without an invariant of its app's (the `expect:` keys
 * write_buffer_max, write_buffer_over_high, connects_per_sec_max,
 * connections_max, node_bytes_max, livelock_callbacks), and the apps'
 * history of operations checked for linearizability at the end
 * (linearizable, history_ops_max; twin/history.h).
 *
 * Map: the world's limits and their alarms; a node's buffered bytes, at
 * check points; a world that failed (a livelock is liveness).
 *
 * Most are the simulator's (twin/simprobe.h, section 4), checked where
 * what they bound grows: an alarm records a correctness failure and
 * stops the world at once, before a runaway writer eats the machine's
 * memory. A node's bytes over all its transports are summed at check
 * points (check_every): each transport is bounded by the write buffer
 * alarm meanwhile. A livelock is the world's own: it stops with -ELOOP.
 * Every message names the node, the transport (t3, as the trace does)
 * and the virtual time.
 */
#include <inttypes.h>
#include <stdio.h>

#include "scenario/run.h"
#include "twin/error.h"
#include "twin/parse.h"

/* ---- the world's limits ---- */

static void on_alarm(void *arg, const tw_sim_alarm *a)
{
    sc_runner *r = arg;
    const char *node = r->sc->nodes[a->node].name;
    const sc_oracles *o = &r->sc->oracles;
    char v[32], l[32], h[32];
    sc_format_bytes(a->value, v, sizeof v);
    sc_format_bytes(a->high, h, sizeof h);
    switch (a->kind) {
    case TW_SIM_ALARM_WRITE_BUFFER:
        if (a->paused && a->limit != o->write_buffer_max)
            sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                           "node %s t%" PRIu64 ": %s buffered for writing, %" PRIu32
                           "x its high-water mark %s more than at pause_writing: "
                           "the protocol does not stop at pause_writing "
                           "(write_buffer_over_high)",
                           node, a->transport, v, o->write_buffer_over_high, h);
        else
            sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                           "node %s t%" PRIu64 ": %s buffered for writing, over "
                           "write_buffer_max %s (high-water mark %s%s)",
                           node, a->transport, v,
                           sc_format_bytes(a->limit, l, sizeof l), h,
                           a->paused ? ", paused" : "");
        break;
    case TW_SIM_ALARM_CONNECT_RATE: {
        char w[32];
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                       "node %s: %" PRIu64 " connection attempts in the second from "
                       "%s, over connects_per_sec_max %" PRIu64 ": it connects "
                       "again without a pause",
                       node, a->value, tw_format_duration(a->window_ns, w, sizeof w),
                       a->limit);
        break;
    }
    case TW_SIM_ALARM_CONNECTIONS:
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                       "node %s t%" PRIu64 ": %" PRIu64 " connections open, over "
                       "connections_max %" PRIu64,
                       node, a->transport, a->value, a->limit);
        break;
    }
    tw_sim_stop(r->sim);
}

int sc_oracles_setup(sc_runner *r)
{
    const sc_oracles *o = &r->sc->oracles;
    tw_sim_limits l = {
        .write_buffer_bytes_max = o->write_buffer_max,
        .write_buffer_over_high = o->write_buffer_over_high,
        .connects_per_sec_max = o->connects_per_sec_max,
        .connections_max = o->connections_max,
    };
    return tw_sim_set_limits(r->sim, &l, on_alarm, r);
}

/* ---- a node's buffered bytes ---- */

void sc_check_node_bytes(sc_runner *r)
{
    uint64_t max = r->sc->oracles.node_bytes_max;
    for (int i = 0; max && i < r->sc->nnodes; i++) {
        tw_sim_node_probe p;
        if (tw_sim_node_probe_get(r->nodes[i].loop, &p) < 0 || p.write_buffered <= max)
            continue;
        char v[32], l[32];
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS,
                       "node %s: %s buffered for writing over its %" PRIu32
                       " transports, over node_bytes_max %s",
                       r->sc->nodes[i].name,
                       sc_format_bytes(p.write_buffered, v, sizeof v), p.transports,
                       sc_format_bytes(max, l, sizeof l));
    }
}

/* ---- a world that failed ---- */

void sc_world_failed(sc_runner *r, int err)
{
    tw_sim_livelock ll;
    r->broken = true;
    if (tw_sim_livelock_get(r->sim, &ll) < 0) {
        const char *why = tw_sim_failure(r->sim);
        sc_runner_fail(r, TW_SCENARIO_CRASH, "the simulator failed: %s%s%s%s",
                       tw_strerror(err), why ? " (" : "", why ? why : "", why ? ")" : "");
        return;
    }
    char what[128], name[96];
    const char *(*namer)(tw_callback, char *, size_t) = r->opts->callback_name;
    if (ll.event)
        snprintf(what, sizeof what, "the last: %s of t%" PRIu64, ll.event, ll.transport);
    else if (!ll.fn)
        snprintf(what, sizeof what, "nothing left to run");
    else if (namer && namer(ll.fn, name, sizeof name))
        snprintf(what, sizeof what, "next to run: callback %s", name);
    else
        snprintf(what, sizeof what, "next to run: callback %p", (void *)ll.fn);
    sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                   "node %s ran %" PRIu64 " callbacks without virtual time "
                   "advancing (livelock_callbacks); %s",
                   r->sc->nodes[ll.node].name, ll.callbacks, what);
}

/* ---- the apps' history ---- */

void sc_check_history(sc_runner *r)
{
    tw_history_verdict v;
    const tw_history *h = tw_sim_history(r->sim);
    r->history_ops = h ? (int64_t)tw_history_count(h) : 0;
    int rc = tw_history_check(h, NULL, &v);
    if (rc == 1)
        return;
    if (rc == 0 && v.at_ns >= 0) /* when it went wrong, found at the end */
        sc_runner_fail_at(r, TW_SCENARIO_CORRECTNESS, v.at_ns,
                          "history not linearizable (checked at the end of the run): "
                          "%.860s", v.message);
    else if (rc == 0)
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "history not linearizable: %.900s",
                       v.message);
    else if (rc == -ENOBUFS)
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "the history is over history_ops_max "
                       "%" PRIu32 " ops or its bytes: raise history_ops_max, or "
                       "record less", r->sc->oracles.history_ops_max);
    else
        sc_runner_fail(r, TW_SCENARIO_CORRECTNESS, "the history could not be "
                       "checked: %s", rc == -E2BIG ? v.message : tw_strerror(rc));
}
