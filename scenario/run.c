/* scenario/run.c - one seed of a scenario: build the world, drive it
 * through the timeline, judge it.
 *
 * Map: failures; the world; the timeline (the file's faults handed to
 * the world); driving (check points between); the quiet phase; stuck
 * connections; the verdict; the entry point.
 *
 * The runner keeps no schedule of its own: every fault goes onto the
 * world's timeline (twin/simfault.h), which applies it at its time and
 * counts what it did. The runner acts only between runs, at check
 * points: tw_sim_run_for up to the next one, then look. Nothing here
 * reads a clock or draws a number except through the world.
 *
 * The runner's own oracles (scenario/oracle.c) watch throughout: the
 * world's limits raise an alarm where a buffer or a count grows, which
 * fails the run and stops the world at once; a livelock stops it too.
 *
 * Order of a run: fault phase [0, duration], where invariants (and each
 * node's buffered bytes) are checked every check_every (after the faults
 * of that instant); then,
 * if the file has one, the quiet phase: cuts healed, bursts ended,
 * crashed nodes restarted (a freeze, slow spell, clog or impairment
 * still open runs to its own end), and
 * the run ends as soon as every app it waits for is done, or fails
 * liveness at the bound; then the stuck check; then the exit statuses.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/run.h"
#include "twin/error.h"
#include "twin/parse.h"
#include "twin/programs.h"
#include "twin/simpcap.h"
#include "twin/simproc.h"

/* ---- failures ---- */

static void fail_v(sc_runner *r, tw_scenario_verdict v, tw_ns when, const char *fmt,
                   va_list ap)
{
    sc_failure *f = v == TW_SCENARIO_CRASH         ? &r->crash
                    : v == TW_SCENARIO_CORRECTNESS ? &r->correctness
                                                   : &r->liveness;
    if (f->set)
        return;
    f->set = true;
    f->at = when;
    char at[32], msg[1000];
    vsnprintf(msg, sizeof msg, fmt, ap);
    snprintf(f->msg, sizeof f->msg, "at %s: %s", tw_format_duration(f->at, at, sizeof at),
             msg);
}

void sc_runner_fail(sc_runner *r, tw_scenario_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(r, v, r->sim ? tw_sim_now(r->sim) : 0, fmt, ap);
    va_end(ap);
}

void sc_runner_fail_at(sc_runner *r, tw_scenario_verdict v, tw_ns when, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fail_v(r, v, when, fmt, ap);
    va_end(ap);
}

bool sc_runner_stopped(const sc_runner *r)
{
    return r->crash.set || r->correctness.set || r->stopped || r->broken;
}

/* The caller's stop (a wall-clock limit), asked between steps of the
 * world: asking changes nothing in it. */
static bool stop_asked(sc_runner *r)
{
    if (!r->stopped && r->opts->stop && r->opts->stop(r->opts->stop_arg))
        r->stopped = true;
    return r->stopped;
}

/* ---- the world ---- */

static tw_sim *make_world(const tw_scenario *sc, uint64_t seed, FILE *trace,
                          bool json)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net = sc->world.net; /* its zero fields become defaults again */
    if (sc->world.stall_timeout)
        o.stall_timeout_ns = sc->world.stall_timeout;
    if (sc->world.connect_timeout)
        o.connect_timeout_ns = sc->world.connect_timeout;
    if (sc->world.chunk_max)
        o.chunk_bytes_max = sc->world.chunk_max;
    if (sc->world.segment_max)
        o.segment_bytes_max = sc->world.segment_max;
    if (sc->world.chunk_split >= 0) /* 0 in a file: never cut */
        o.chunk_split_probability = sc->world.chunk_split > 0 ? sc->world.chunk_split : -1;
    o.buggify = sc->world.buggify;
    o.livelock_callbacks = sc->oracles.livelock_callbacks ? sc->oracles.livelock_callbacks
                                                          : UINT64_MAX;
    o.trace_file = trace;
    o.trace_json = json;
    tw_sim *sim = tw_sim_new(seed, &o);
    if (sim && tw_programs_register(sim) < 0) {
        tw_sim_free(sim);
        return NULL;
    }
    return sim;
}

/* ---- the timeline ---- */

/* Every fault onto the world's timeline (twin/simfault.h), in the file's
 * order: the world applies each at its time, and undoes it when its
 * window closes. Node indices are the world's node ids. */
static bool schedule(sc_runner *r)
{
    const tw_scenario *sc = r->sc;
    for (int i = 0; i < sc->nfaults; i++) {
        int id = tw_sim_at(r->sim, sc->faults[i].at, &sc->faults[i].f);
        if (id < 0) {
            sc_runner_fail(r, TW_SCENARIO_CRASH,
                           "the simulator refused fault #%d: %s", i, tw_strerror(id));
            return false;
        }
        r->ids[i] = id;
    }
    return true;
}

/* ---- driving ---- */

/* At a check point: invariants; in the quiet phase, the goals. True if
 * the run should stop here. */
static bool check(sc_runner *r)
{
    sc_check_invariants(r);
    sc_check_node_bytes(r);
    if (sc_runner_stopped(r))
        return true;
    char who[96];
    if (r->quiet && sc_goals_met(r, who, sizeof who)) {
        r->converged = tw_sim_now(r->sim);
        return true;
    }
    return false;
}

/* Run the world to time t, stopping at check points, and asking the
 * caller's stop there and every TW_SCENARIO_STOP_STEPS steps. False if
 * the run must stop (a failure, the quiet phase's goals met, the
 * caller's stop). */
static bool advance(sc_runner *r, tw_ns t)
{
    while (tw_sim_now(r->sim) < t) {
        tw_ns next = r->next_check < t ? r->next_check : t;
        int rc = tw_sim_run_for_steps(r->sim, next - tw_sim_now(r->sim),
                                      TW_SCENARIO_STOP_STEPS);
        if (rc < 0) {
            sc_world_failed(r, rc);
            return false;
        }
        if (stop_asked(r) || sc_runner_stopped(r)) /* or an oracle's alarm */
            return false;
        if (rc == 0)
            continue; /* not at next yet: events of its instant may remain */
        if (tw_sim_now(r->sim) >= r->next_check) {
            r->next_check += r->sc->check_every;
            if (check(r))
                return false;
        }
    }
    return !sc_runner_stopped(r);
}

/* ---- the quiet phase ---- */

static void quiet_phase(sc_runner *r)
{
    char who[96], b[32];
    r->quiet = true;
    if (sc_goals_met(r, who, sizeof who)) {
        r->converged = tw_sim_now(r->sim);
    } else {
        advance(r, r->sc->duration + r->sc->quiet);
        if (r->converged < 0 && !sc_runner_stopped(r) && !sc_goals_met(r, who, sizeof who))
            sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                           "%s had not finished %s after the fault phase ended", who,
                           tw_format_duration(r->sc->quiet, b, sizeof b));
        else if (r->converged < 0 && !sc_runner_stopped(r))
            r->converged = tw_sim_now(r->sim);
    }
    r->quiet = false;
}

/* ---- stuck connections ---- */

/* Work that nothing will move: bytes that arrived and are not read (a
 * reader paused for good), or bytes buffered for sending with nothing
 * unacknowledged (the window is open, yet they stay). Bytes in flight are
 * not stuck however long their retransmissions take, and an idle end
 * whose peer vanished (a reset lost in a partition) is a leak TCP has
 * too, not a stuck connection: nothing is waiting on it. */
static bool holds(const tw_sim_stream_probe *p)
{
    return p->arrived || (p->buffered && !p->unacked && !p->peer_gone);
}

static bool same(const tw_sim_stream_probe *a, const tw_sim_stream_probe *b)
{
    return a->slot == b->slot && a->gen == b->gen && a->buffered == b->buffered &&
           a->unacked == b->unacked && a->in_flight == b->in_flight &&
           a->arrived == b->arrived && a->peer_gone == b->peer_gone;
}

/* Is the end before[i] in the probe now[0..m), unchanged? */
static bool still(const tw_sim_stream_probe *was, const tw_sim_stream_probe *now, size_t m)
{
    for (size_t k = 0; k < m; k++)
        if (same(was, &now[k]))
            return true;
    return false;
}

/* A connection that holds what nothing will move, unchanged for
 * stuck_after, is stuck. Probe, then probe again at every check point of
 * the wait: one that changed at any of them moved (a reader that pauses a
 * moment after each read may hold the same unread bytes at two probes far
 * apart, having read in between), and is not stuck. The wait is the whole
 * stuck_after whatever the probes find, so the run's end does not depend
 * on them. */
static void check_stuck(sc_runner *r)
{
    size_t n = tw_sim_streams(r->sim, NULL, 0);
    tw_sim_stream_probe *before = calloc(n + 1, sizeof *before);
    bool *moved = calloc(n + 1, sizeof *moved);
    if (!before || !moved) {
        free(before);
        free(moved);
        return;
    }
    tw_sim_streams(r->sim, before, n);
    size_t held = 0;
    for (size_t i = 0; i < n; i++) {
        moved[i] = !holds(&before[i]);
        held += !moved[i];
    }
    tw_sim_stream_probe *now = NULL;
    size_t m = 0;
    tw_ns end = tw_sim_now(r->sim) + r->sc->stuck_after;
    bool waited = held > 0;
    while (held && tw_sim_now(r->sim) < end) {
        tw_ns next = r->next_check > tw_sim_now(r->sim) && r->next_check < end
                         ? r->next_check
                         : end;
        if (!advance(r, next)) {
            waited = false;
            break;
        }
        m = tw_sim_streams(r->sim, NULL, 0);
        free(now);
        now = calloc(m + 1, sizeof *now);
        if (!now) {
            waited = false;
            break;
        }
        tw_sim_streams(r->sim, now, m);
        for (size_t i = 0; i < n; i++)
            if (!moved[i] && !still(&before[i], now, m)) {
                moved[i] = true;
                held--;
            }
    }
    /* Nothing left to watch: the rest of the wait, as it always runs. */
    if (waited && !held && tw_sim_now(r->sim) < end)
        waited = advance(r, end);
    for (size_t i = 0; waited && held && i < n; i++) {
        if (moved[i])
            continue;
        const tw_sim_stream_probe *p = &before[i]; /* as the last probe saw it */
        for (size_t k = 0; k < m; k++)
            if (same(&before[i], &now[k]))
                p = &now[k];
        char b[32];
        sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                       "connection %s t%" PRIu64 " -> %s stuck for %s: "
                       "%" PRIu64 " bytes arrived unread (%s), %" PRIu64 " buffered%s",
                       r->sc->nodes[p->node].name, p->transport,
                       r->sc->nodes[p->peer_node].name,
                       tw_format_duration(r->sc->stuck_after, b, sizeof b), p->arrived,
                       p->reading ? "reading" : "reading paused", p->buffered,
                       p->peer_gone ? ", half-open: its peer is gone" : "");
    }
    free(now);
    free(moved);
    free(before);
}

/* ---- the verdict ---- */

static void judge(sc_runner *r, tw_scenario_result *res)
{
    const sc_failure *f = r->crash.set         ? &r->crash
                          : r->correctness.set ? &r->correctness
                          : r->liveness.set    ? &r->liveness
                                               : NULL;
    res->verdict = r->crash.set         ? TW_SCENARIO_CRASH
                   : r->correctness.set ? TW_SCENARIO_CORRECTNESS
                   : r->liveness.set    ? TW_SCENARIO_LIVENESS
                   : r->stopped         ? TW_SCENARIO_TIMEOUT
                                        : TW_SCENARIO_PASS;
    res->failed_ns = f ? f->at : r->stopped ? tw_sim_now(r->sim) : -1;
    char at[32];
    if (!f && r->stopped)
        snprintf(res->message, sizeof res->message, "at %s: stopped by the caller "
                 "before the end", tw_format_duration(tw_sim_now(r->sim), at, sizeof at));
    else
        snprintf(res->message, sizeof res->message, "%s", f ? f->msg : "");
}

static int fill_effects(sc_runner *r, tw_scenario_result *res)
{
    const tw_scenario *sc = r->sc;
    res->effects = calloc((size_t)sc->nfaults + 1, sizeof *res->effects);
    if (!res->effects)
        return -ENOMEM;
    res->neffects = (size_t)sc->nfaults;
    for (int i = 0; i < sc->nfaults; i++) {
        tw_scenario_effect *e = &res->effects[i];
        const tw_sim_fault_info *in = tw_sim_fault_kind_info(sc->faults[i].f.kind);
        sc_fault_describe(sc, &sc->faults[i], e->what, sizeof e->what);
        e->kind = in->name;
        e->unit = in->unit;
        if (r->ids[i] >= 0)
            tw_sim_fault_effect(r->sim, r->ids[i], &e->count);
        e->drawn = sc->faults[i].drawn;
        e->index = (size_t)i;
        e->at_ns = sc->faults[i].at;
        e->for_ns = sc->faults[i].f.duration_ns;
        e->pair = in->pair;
        e->a = sc->faults[i].f.a;
        e->b = sc->faults[i].f.b;
    }
    return 0;
}

/* ---- the entry point ---- */

static void drive(sc_runner *r)
{
    const tw_scenario *sc = r->sc;
    bool going = schedule(r) && advance(r, sc->duration);
    if (going) {
        /* The fault phase ends: with a quiet phase every fault heals. */
        tw_sim_faults_end(r->sim, sc->quiet > 0);
        if (sc->quiet)
            quiet_phase(r);
    }
    if (!sc_runner_stopped(r) && sc->expect_no_stuck)
        check_stuck(r);
    if (!sc_runner_stopped(r)) {
        sc_check_invariants(r);
        sc_check_exits(r);
        sc_check_replays(r);
    }
    if (!sc_runner_stopped(r) && sc->oracles.linearizable)
        sc_check_history(r);
}

int sc_run(const tw_scenario *sc, uint64_t seed, const tw_scenario_run_opts *opts,
           tw_scenario_result *res)
{
    static const tw_scenario_run_opts none;
    opts = opts ? opts : &none;
    *res = (tw_scenario_result){.seed = seed, .converged_ns = -1, .failed_ns = -1,
                                .history_ops = -1};
    tw_scenario *own = NULL;
    if (opts->swarm && sc->swarm.on) {
        if (!(own = sc_copy(sc)) || sc_swarm_draw(own, seed) < 0) {
            tw_scenario_free(own);
            return -ENOMEM;
        }
        sc = own;
    }
    sc_runner r = {.sc = sc, .opts = opts, .next_check = sc->check_every,
                   .converged = -1, .history_ops = -1};
    r.ids = malloc(((size_t)sc->nfaults + 1) * sizeof *r.ids);
    for (int i = 0; r.ids && i < sc->nfaults; i++)
        r.ids[i] = -1;
    r.sim = r.ids ? make_world(sc, seed, opts->trace, opts->trace_json) : NULL;
    int rc = r.sim ? sc_oracles_setup(&r) : -ENOMEM;
    if (rc == 0 && (sc->oracles.linearizable || opts->history))
        rc = tw_sim_history(r.sim) ? tw_history_set_ops_max(tw_sim_history(r.sim),
                                                            sc->oracles.history_ops_max)
                                   : -ENOMEM;
    if (rc == 0)
        rc = sc_nodes_setup(&r);
    tw_sim_pcap *pcap = NULL;
    if (rc == 0 && opts->pcap_dir) {
        /* Before any app has run: the capture hears the whole run. */
        rc = tw_sim_pcap_start(r.sim, opts->pcap_dir, &pcap, res->pcap_error,
                               sizeof res->pcap_error);
        res->pcap_status = rc;
    }
    if (rc == 0) {
        drive(&r);
        res->pcap_status = tw_sim_pcap_finish(pcap, res->pcap_error,
                                              sizeof res->pcap_error);
        judge(&r, res);
        res->hash = tw_sim_trace_hash(r.sim);
        res->end_ns = tw_sim_now(r.sim);
        res->converged_ns = r.converged;
        res->history_ops = r.history_ops;
        tw_sim_get_stats(r.sim, &res->stats);
        if (opts->history)
            tw_history_write_jsonl(tw_sim_history(r.sim), opts->history, res->end_ns);
        rc = fill_effects(&r, res);
    }
    /* its crashes run the stop hooks: states go. The trace ends with the
     * closing seed/hash line it writes first: the teardown (every node's
     * servers and connections let go) is no part of the run. */
    tw_sim_free(r.sim);
    sc_nodes_fini(&r);
    free(r.ids);
    tw_scenario_free(own);
    if (rc < 0)
        tw_scenario_result_fini(res);
    return rc;
}

int tw_scenario_run(const tw_scenario *sc, uint64_t seed,
                    const tw_scenario_run_opts *opts, tw_scenario_result *res)
{
    return sc_run(sc, seed, opts, res);
}

void tw_scenario_result_fini(tw_scenario_result *res)
{
    free(res->effects);
    res->effects = NULL;
    res->neffects = 0;
}
