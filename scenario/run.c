/* scenario/run.c - one seed of a scenario: build the world, drive it
 * through the timeline, judge it.
 *
 * Map: failures; the world; actions (each fault's start and end, in time
 * order); applying and ending faults; driving (check points between);
 * the quiet phase; stuck connections; the verdict; the entry point.
 *
 * The runner only acts between runs of the world, at exact virtual
 * times: tw_sim_run_for up to the next action or check point, then act.
 * Faults are applied through the simulator's own calls, which queue them
 * at "now", so a fault never runs inside a protocol callback. Nothing
 * here reads a clock or draws a number except through the world.
 *
 * Order of a run: fault phase [0, duration], where every action applies
 * at its time and invariants are checked every check_every; then, if the
 * file has one, the quiet phase: every fault healed (cuts healed, bursts
 * ended, crashed nodes restarted; clogs end on their own), and the run
 * ends as soon as every app it waits for is done, or fails liveness at
 * the bound; then the stuck check; then the exit statuses.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/run.h"
#include "twin/error.h"
#include "twin/parse.h"
#include "twin/programs.h"
#include "twin/simproc.h"

/* ---- failures ---- */

void sc_runner_fail(sc_runner *r, tw_scenario_verdict v, const char *fmt, ...)
{
    sc_failure *f = v == TW_SCENARIO_CRASH         ? &r->crash
                    : v == TW_SCENARIO_CORRECTNESS ? &r->correctness
                                                   : &r->liveness;
    if (f->set)
        return;
    f->set = true;
    char at[32], msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(f->msg, sizeof f->msg, "at %s: %s",
             tw_format_duration(r->sim ? tw_sim_now(r->sim) : 0, at, sizeof at), msg);
}

bool sc_runner_stopped(const sc_runner *r)
{
    return r->crash.set || r->correctness.set || r->stopped;
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

static tw_sim *make_world(const tw_scenario *sc, uint64_t seed, FILE *trace)
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
    o.trace_file = trace;
    tw_sim *sim = tw_sim_new(seed, &o);
    if (sim && tw_programs_register(sim) < 0) {
        tw_sim_free(sim);
        return NULL;
    }
    return sim;
}

/* ---- actions ---- */

typedef struct action {
    tw_ns t;
    uint32_t seq; /* ties keep the file's order */
    int fault;
    bool end;
} action;

static int action_cmp(const void *pa, const void *pb)
{
    const action *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Start and end of every fault. A window with no "for" (a partition left
 * to the quiet phase, an emfile) is closed at the end of the run. */
static action *build_actions(const tw_scenario *sc, size_t *n)
{
    action *act = calloc((size_t)sc->nfaults * 2 + 1, sizeof *act);
    size_t k = 0;
    for (int i = 0; act && i < sc->nfaults; i++) {
        const sc_fault *f = &sc->faults[i];
        act[k] = (action){f->at, (uint32_t)k, i, false};
        k++;
        if (f->dur) {
            act[k] = (action){f->at + f->dur, (uint32_t)k, i, true};
            k++;
        }
    }
    if (act)
        qsort(act, k, sizeof *act, action_cmp);
    *n = k;
    return act;
}

/* ---- applying and ending faults ---- */

static void apply(sc_runner *r, int i)
{
    const sc_fault *f = &r->sc->faults[i];
    tw_loop *a = r->nodes[f->a].loop;
    tw_loop *b = f->b >= 0 ? r->nodes[f->b].loop : NULL;
    int rc = 0;
    sc_effect_begin(r, i);
    switch (f->kind) {
    case SC_PARTITION: rc = tw_sim_partition(r->sim, a, b, f->oneway); break;
    case SC_HEAL: rc = tw_sim_heal(r->sim, a, b); break;
    case SC_CLOG: rc = tw_sim_clog(r->sim, a, b, f->dur, f->oneway); break;
    case SC_RESET: rc = tw_sim_reset_connections(r->sim, a, b); break;
    case SC_CRASH: rc = tw_sim_crash(a); break;
    case SC_RESTART: rc = tw_sim_restart(a); break;
    case SC_CLOCK: rc = tw_sim_set_clock(a, f->skew, f->drift_ppm); break;
    case SC_EMFILE: rc = tw_sim_emfile(a, f->count); break;
    case SC_LOSS:
        rc = tw_sim_loss_burst(r->sim, a, b, &f->loss, f->dur, f->oneway);
        r->bursts = true;
        break;
    case SC_KILL:
        rc = tw_sim_proc_kill_program(a, f->program, f->signal);
        r->effects[i].count = rc > 0 ? (uint64_t)rc : 0;
        break;
    case SC_KINDS:
        break;
    }
    if (rc < 0)
        sc_runner_fail(r, TW_SCENARIO_CRASH, "the simulator refused fault #%d: %s",
                       i, tw_strerror(rc));
}

/* Its window closes: count, then undo what does not undo itself. */
static void end(sc_runner *r, int i)
{
    const sc_fault *f = &r->sc->faults[i];
    sc_effect_end(r, i);
    tw_loop *a = r->nodes[f->a].loop;
    if (f->kind == SC_PARTITION)
        tw_sim_heal(r->sim, a, f->b >= 0 ? r->nodes[f->b].loop : NULL);
    else if (f->kind == SC_CRASH)
        tw_sim_restart(a);
}

/* ---- driving ---- */

/* At a check point: invariants; in the quiet phase, the goals. True if
 * the run should stop here. */
static bool check(sc_runner *r)
{
    sc_check_invariants(r);
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
            sc_runner_fail(r, TW_SCENARIO_CRASH, "the simulator failed: %s",
                           tw_strerror(rc));
            return false;
        }
        if (stop_asked(r))
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

static void heal_all(sc_runner *r)
{
    const tw_scenario *sc = r->sc;
    for (int i = 0; i < sc->nnodes; i++) {
        bool cut = false;
        for (int j = 0; j < sc->nnodes && !cut; j++)
            cut = tw_sim_path_is_cut(r->sim, r->nodes[i].loop, r->nodes[j].loop) ||
                  tw_sim_path_is_cut(r->sim, r->nodes[j].loop, r->nodes[i].loop);
        if (cut)
            tw_sim_heal(r->sim, r->nodes[i].loop, NULL);
        if (r->bursts)
            tw_sim_loss_burst(r->sim, r->nodes[i].loop, NULL, NULL, 0, false);
        if (!tw_sim_node_up(r->nodes[i].loop))
            tw_sim_restart(r->nodes[i].loop);
    }
}

static void quiet_phase(sc_runner *r)
{
    char who[96], b[32];
    r->quiet = true;
    heal_all(r);
    if (sc_goals_met(r, who, sizeof who)) {
        r->converged = tw_sim_now(r->sim);
    } else {
        advance(r, r->sc->duration + r->sc->quiet);
        if (r->converged < 0 && !sc_runner_stopped(r) && !sc_goals_met(r, who, sizeof who))
            sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                           "%s had not finished %s after every fault healed", who,
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

/* A connection that holds what nothing will move, unchanged for
 * stuck_after, is stuck. Probe, wait, probe. */
static void check_stuck(sc_runner *r)
{
    size_t n = tw_sim_streams(r->sim, NULL, 0);
    tw_sim_stream_probe *before = calloc(n + 1, sizeof *before);
    if (!before)
        return;
    tw_sim_streams(r->sim, before, n);
    size_t held = 0;
    for (size_t i = 0; i < n; i++)
        held += holds(&before[i]);
    if (held && advance(r, tw_sim_now(r->sim) + r->sc->stuck_after)) {
        size_t m = tw_sim_streams(r->sim, NULL, 0);
        tw_sim_stream_probe *after = calloc(m + 1, sizeof *after);
        if (after)
            tw_sim_streams(r->sim, after, m);
        for (size_t i = 0; after && i < n; i++)
            for (size_t k = 0; holds(&before[i]) && k < m; k++) {
                if (!same(&before[i], &after[k]))
                    continue;
                const tw_sim_stream_probe *p = &after[k];
                char b[32];
                sc_runner_fail(r, TW_SCENARIO_LIVENESS,
                               "connection %s t%" PRIu64 " -> %s stuck for %s: "
                               "%" PRIu64 " bytes arrived unread (%s), %" PRIu64
                               " buffered%s",
                               r->sc->nodes[p->node].name, p->transport,
                               r->sc->nodes[p->peer_node].name,
                               tw_format_duration(r->sc->stuck_after, b, sizeof b),
                               p->arrived, p->reading ? "reading" : "reading paused",
                               p->buffered,
                               p->peer_gone ? ", half-open: its peer is gone" : "");
            }
        free(after);
    }
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
        sc_fault_describe(sc, &sc->faults[i], e->what, sizeof e->what);
        e->kind = sc_kind_name(sc->faults[i].kind);
        e->unit = sc_kind_unit(sc->faults[i].kind);
        e->count = r->effects[i].count;
        e->drawn = sc->faults[i].drawn;
        e->index = (size_t)i;
    }
    return 0;
}

/* ---- the entry point ---- */

static void drive(sc_runner *r)
{
    const tw_scenario *sc = r->sc;
    size_t nact, i = 0;
    action *act = build_actions(sc, &nact);
    if (!act) {
        sc_runner_fail(r, TW_SCENARIO_CRASH, "out of memory");
        return;
    }
    bool going = true;
    for (; going && i < nact && act[i].t <= sc->duration; i++) {
        going = advance(r, act[i].t);
        if (going)
            act[i].end ? end(r, act[i].fault) : apply(r, act[i].fault);
    }
    if (going)
        going = advance(r, sc->duration);
    if (going && sc->quiet) {
        /* Windows still open close now: the quiet phase heals them. */
        for (; i < nact; i++)
            if (act[i].end)
                end(r, act[i].fault);
        quiet_phase(r);
    }
    if (!sc_runner_stopped(r) && sc->expect_no_stuck)
        check_stuck(r);
    if (!sc_runner_stopped(r)) {
        sc_check_invariants(r);
        sc_check_exits(r);
    }
    for (int k = 0; k < sc->nfaults; k++)
        sc_effect_end(r, k); /* windows the run ended inside */
    free(act);
}

int sc_run(const tw_scenario *sc, uint64_t seed, const tw_scenario_run_opts *opts,
           tw_scenario_result *res)
{
    static const tw_scenario_run_opts none;
    opts = opts ? opts : &none;
    *res = (tw_scenario_result){.seed = seed, .converged_ns = -1};
    tw_scenario *own = NULL;
    if (opts->swarm && sc->swarm.on) {
        if (!(own = sc_copy(sc)) || sc_swarm_draw(own, seed) < 0) {
            tw_scenario_free(own);
            return -ENOMEM;
        }
        sc = own;
    }
    sc_runner r = {.sc = sc, .opts = opts, .next_check = sc->check_every,
                   .converged = -1};
    r.effects = calloc((size_t)sc->nfaults + 1, sizeof *r.effects);
    r.sim = r.effects ? make_world(sc, seed, opts->trace) : NULL;
    int rc = r.sim ? sc_nodes_setup(&r) : -ENOMEM;
    if (rc == 0) {
        drive(&r);
        judge(&r, res);
        res->hash = tw_sim_trace_hash(r.sim);
        res->end_ns = tw_sim_now(r.sim);
        res->converged_ns = r.converged;
        tw_sim_get_stats(r.sim, &res->stats);
        rc = fill_effects(&r, res);
    }
    tw_sim_free(r.sim); /* its crashes run the stop hooks: states go */
    sc_nodes_fini(&r);
    free(r.effects);
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
