/* scenario/effect.c - how often each fault took effect: the proof that a
 * green run was green under fire.
 *
 * Map: the paths a fault touches; begin (just before the fault is
 * applied); end (when its window closes).
 *
 * A fault with a window (partition, clog, loss burst, emfile) counts what
 * its paths' counters (twin/simprobe.h) gained while it lasted: packets
 * that met the cut, packets sent into the clog, packets the burst took,
 * accepts refused. A fault of an instant counts what it hit: connections
 * reset, open transports of a crashed node, timers of a node whose clock
 * moved, cut paths a heal restored, a restart of a node that was down.
 * Overlapping faults of one kind on one path each count the overlap.
 */
#include "scenario/run.h"

/* ---- the paths a fault touches ---- */

typedef enum { C_BLOCKED, C_CLOGGED, C_BURST_LOST } counter;

static uint64_t pick(const tw_sim_path_counters *c, counter which)
{
    switch (which) {
    case C_BLOCKED: return c->blocked;
    case C_CLOGGED: return c->clogged;
    default: return c->burst_lost;
    }
}

/* Sum of one counter over a-b both ways (b < 0: a and every node). */
static uint64_t paths_sum(const sc_runner *r, const sc_fault *f, counter which)
{
    uint64_t sum = 0;
    for (int j = 0; j < r->sc->nnodes; j++) {
        if (j == f->a || (f->b >= 0 && j != f->b))
            continue;
        tw_sim_path_counters c;
        if (tw_sim_path_counters_get(r->sim, r->nodes[f->a].loop,
                                     r->nodes[j].loop, &c) == 0)
            sum += pick(&c, which);
        if (tw_sim_path_counters_get(r->sim, r->nodes[j].loop,
                                     r->nodes[f->a].loop, &c) == 0)
            sum += pick(&c, which);
    }
    return sum;
}

/* Segments in flight on the fault's paths landing before until (a clog
 * that is oneway holds a->b only). */
static uint64_t arrivals(const sc_runner *r, const sc_fault *f, tw_ns until)
{
    uint64_t n = 0;
    for (int j = 0; j < r->sc->nnodes; j++) {
        if (j == f->a || (f->b >= 0 && j != f->b))
            continue;
        n += tw_sim_path_arrivals(r->sim, r->nodes[f->a].loop, r->nodes[j].loop, until);
        if (!f->oneway)
            n += tw_sim_path_arrivals(r->sim, r->nodes[j].loop, r->nodes[f->a].loop,
                                      until);
    }
    return n;
}

static uint32_t cut_paths(const sc_runner *r, const sc_fault *f)
{
    uint32_t n = 0;
    for (int j = 0; j < r->sc->nnodes; j++) {
        if (j == f->a || (f->b >= 0 && j != f->b))
            continue;
        n += tw_sim_path_is_cut(r->sim, r->nodes[f->a].loop, r->nodes[j].loop);
        n += tw_sim_path_is_cut(r->sim, r->nodes[j].loop, r->nodes[f->a].loop);
    }
    return n;
}

/* ---- begin and end ---- */

void sc_effect_begin(sc_runner *r, int i)
{
    const sc_fault *f = &r->sc->faults[i];
    sc_effect_state *st = &r->effects[i];
    tw_loop *a = r->nodes[f->a].loop;
    tw_sim_node_probe probe;
    tw_sim_node_probe_get(a, &probe);
    st->open = true;
    switch (f->kind) {
    case SC_PARTITION:
        st->base = paths_sum(r, f, C_BLOCKED);
        break;
    case SC_CLOG:
        /* Held: what is already on the way and lands inside the clog,
         * and (at the end) what is sent into it meanwhile. */
        st->base = paths_sum(r, f, C_CLOGGED);
        st->count = arrivals(r, f, tw_sim_now(r->sim) + f->dur);
        break;
    case SC_LOSS:
        st->base = paths_sum(r, f, C_BURST_LOST);
        break;
    case SC_EMFILE:
        st->base = probe.emfile_left + f->count;
        break;
    case SC_HEAL:
        st->count = cut_paths(r, f);
        st->open = false;
        break;
    case SC_RESET:
        st->count = tw_sim_connections_between(r->sim, a,
                                               f->b >= 0 ? r->nodes[f->b].loop : NULL);
        st->open = false;
        break;
    case SC_CRASH:
        st->count = probe.up ? probe.transports : 0;
        st->open = false;
        break;
    case SC_RESTART:
        st->count = !probe.up;
        st->open = false;
        break;
    case SC_CLOCK:
        st->count = probe.up ? probe.timers : 0;
        st->open = false;
        break;
    case SC_KILL: /* counted by the apply, which knows the processes */
    case SC_KINDS:
        st->open = false;
        break;
    }
}

void sc_effect_end(sc_runner *r, int i)
{
    const sc_fault *f = &r->sc->faults[i];
    sc_effect_state *st = &r->effects[i];
    if (!st->open)
        return;
    st->open = false;
    switch (f->kind) {
    case SC_PARTITION:
        st->count = paths_sum(r, f, C_BLOCKED) - st->base;
        break;
    case SC_CLOG:
        st->count += paths_sum(r, f, C_CLOGGED) - st->base;
        break;
    case SC_LOSS:
        st->count = paths_sum(r, f, C_BURST_LOST) - st->base;
        break;
    case SC_EMFILE: {
        tw_sim_node_probe probe;
        tw_sim_node_probe_get(r->nodes[f->a].loop, &probe);
        uint64_t used = st->base > probe.emfile_left ? st->base - probe.emfile_left : 0;
        st->count = used > f->count ? f->count : used;
        break;
    }
    default:
        break;
    }
}
