/* sim/fault_effect.c - how often each fault took effect: the proof that
 * a green run was green under fire.
 *
 * Map: the paths a fault touches; begin (just before the fault applies);
 * end (when its window closes); the count as of now.
 *
 * A fault with a window (partition, clog, loss burst, datagram
 * impairment), and one that arms a count (emfile, enobufs), counts what
 * its paths' or node's counters (twin/simprobe.h) gained while it lasted:
 * packets that met the cut, packets sent into the clog, packets the burst
 * took, datagrams impaired, accepts and sends refused. A fault of an
 * instant counts what it hit: connections reset, open transports of a
 * crashed node (and the files its crash cut back or whose names it
 * undid, added by sim_fault_event around the apply: only the apply
 * knows), timers of a node whose clock moved, cut paths a heal
 * restored, a restart of a node that was down, processes signalled (set
 * by the apply). Overlapping faults of one kind on one path each count
 * the overlap.
 */
#include "sim/fault.h"
#include "sim/fs.h"
#include "sim/sim.h"
#include "twin/simprobe.h"

/* ---- the paths a fault touches ---- */

typedef enum { C_BLOCKED, C_CLOGGED, C_BURST_LOST, C_DGRAM } counter;

static uint64_t pick(const tw_sim_path_counters *c, counter which)
{
    switch (which) {
    case C_BLOCKED: return c->blocked;
    case C_CLOGGED: return c->clogged;
    case C_BURST_LOST: return c->burst_lost;
    default: return c->dgram_impaired;
    }
}

static tw_loop *loop_of(tw_sim *sim, int id) { return &sim->nodes[id]->loop; }

/* Does the fault's a-b cover node j (j != a)? */
static bool touches(const tw_sim_fault *f, uint32_t j)
{
    return (int)j != f->a && (f->b < 0 || (int)j == f->b);
}

/* Sum of one counter over a-b both ways (b ALL: a and every node). */
static uint64_t paths_sum(tw_sim *sim, const tw_sim_fault *f, counter which)
{
    uint64_t sum = 0;
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (!touches(f, j))
            continue;
        tw_sim_path_counters c;
        if (tw_sim_path_counters_get(sim, loop_of(sim, f->a), loop_of(sim, (int)j),
                                     &c) == 0)
            sum += pick(&c, which);
        if (tw_sim_path_counters_get(sim, loop_of(sim, (int)j), loop_of(sim, f->a),
                                     &c) == 0)
            sum += pick(&c, which);
    }
    return sum;
}

/* Segments in flight on the fault's paths landing before until (a clog
 * that is oneway holds a->b only). */
static uint64_t arrivals(tw_sim *sim, const tw_sim_fault *f, tw_ns until)
{
    uint64_t n = 0;
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (!touches(f, j))
            continue;
        n += tw_sim_path_arrivals(sim, loop_of(sim, f->a), loop_of(sim, (int)j), until);
        if (!f->oneway)
            n += tw_sim_path_arrivals(sim, loop_of(sim, (int)j), loop_of(sim, f->a),
                                      until);
    }
    return n;
}

static uint32_t cut_paths(tw_sim *sim, const tw_sim_fault *f)
{
    uint32_t n = 0;
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (!touches(f, j))
            continue;
        n += tw_sim_path_is_cut(sim, loop_of(sim, f->a), loop_of(sim, (int)j));
        n += tw_sim_path_is_cut(sim, loop_of(sim, (int)j), loop_of(sim, f->a));
    }
    return n;
}

/* A disk fault's counter on n's file system (made for it: the fault is
 * about to apply there). */
static uint64_t disk_counter(sim_node *n, tw_sim_fault_kind kind)
{
    sim_fs *fs = sim_fs_of(n);
    if (!fs)
        return 0;
    return kind == TW_SIM_FAULT_DISK_EIO       ? fs->eio_hits
           : kind == TW_SIM_FAULT_DISK_FULL    ? fs->full_hits
           : kind == TW_SIM_FAULT_DISK_CORRUPT ? fs->corrupt_hits
           : kind == TW_SIM_FAULT_LOST_WRITE   ? fs->writes_lost
                                               : fs->fsync_failed;
}

/* ---- begin, end, now ---- */

void sim_effect_begin(tw_sim *sim, uint32_t i)
{
    const tw_sim_fault *f = &sim->faults[i];
    sim_fault_state *st = &sim->tl->st[i];
    sim_node *n = sim->nodes[f->a];
    tw_sim_node_probe probe;
    tw_sim_node_probe_get(&n->loop, &probe);
    st->open = true;
    switch (f->kind) {
    case TW_SIM_FAULT_PARTITION:
    case TW_SIM_FAULT_BLACKHOLE:
        st->base = paths_sum(sim, f, C_BLOCKED);
        break;
    case TW_SIM_FAULT_FREEZE:
    case TW_SIM_FAULT_SLOW:
        st->base = n->held_events;
        break;
    case TW_SIM_FAULT_CLOG:
        /* Held: what is already on the way and lands inside the clog,
         * and (at the end) what is sent into it meanwhile. */
        st->base = paths_sum(sim, f, C_CLOGGED);
        st->count = arrivals(sim, f, sim->now + f->duration_ns);
        break;
    case TW_SIM_FAULT_LOSS:
        st->base = paths_sum(sim, f, C_BURST_LOST);
        break;
    case TW_SIM_FAULT_DGRAM:
        st->base = paths_sum(sim, f, C_DGRAM);
        break;
    case TW_SIM_FAULT_EMFILE:
        st->base = probe.emfile_left + f->count;
        break;
    case TW_SIM_FAULT_ENOBUFS:
        st->base = n->enobufs_left + f->count;
        break;
    case TW_SIM_FAULT_HEAL:
        st->count = cut_paths(sim, f);
        st->open = false;
        break;
    case TW_SIM_FAULT_RESET:
        st->count = tw_sim_connections_between(
            sim, &n->loop, f->b >= 0 ? loop_of(sim, f->b) : NULL);
        st->open = false;
        break;
    case TW_SIM_FAULT_CRASH:
    case TW_SIM_FAULT_POWER_LOSS:
        st->count = probe.up ? probe.transports : 0;
        st->open = false;
        break;
    case TW_SIM_FAULT_DISK_EIO:
    case TW_SIM_FAULT_DISK_FULL:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_DISK_CORRUPT:
    case TW_SIM_FAULT_LOST_WRITE:
        st->base = disk_counter(n, f->kind);
        break;
    case TW_SIM_FAULT_RESTART:
        st->count = !probe.up;
        st->open = false;
        break;
    case TW_SIM_FAULT_CLOCK:
        /* A step moves no timer, a new rate all; what reads the date
         * from now on meets the step. */
        st->count = probe.up && f->drift_ppm != n->drift_ppm ? probe.timers : 0;
        st->base = n->tod_reads;
        break;
    case TW_SIM_FAULT_KILL: /* counted by the apply, which knows them */
    case TW_SIM_FAULT_KINDS:
        st->open = false;
        break;
    }
}

/* What an open count reads now. */
static uint64_t reading(tw_sim *sim, uint32_t i)
{
    const tw_sim_fault *f = &sim->faults[i];
    const sim_fault_state *st = &sim->tl->st[i];
    assert(st->open);
    switch (f->kind) {
    case TW_SIM_FAULT_PARTITION:
    case TW_SIM_FAULT_BLACKHOLE:
        return paths_sum(sim, f, C_BLOCKED) - st->base;
    case TW_SIM_FAULT_FREEZE:
    case TW_SIM_FAULT_SLOW:
        return sim->nodes[f->a]->held_events - st->base;
    case TW_SIM_FAULT_CLOG:
        return st->count + paths_sum(sim, f, C_CLOGGED) - st->base;
    case TW_SIM_FAULT_LOSS:
        return paths_sum(sim, f, C_BURST_LOST) - st->base;
    case TW_SIM_FAULT_DGRAM:
        return paths_sum(sim, f, C_DGRAM) - st->base;
    case TW_SIM_FAULT_CLOCK:
        return st->count + sim->nodes[f->a]->tod_reads - st->base;
    case TW_SIM_FAULT_DISK_EIO:
    case TW_SIM_FAULT_DISK_FULL:
    case TW_SIM_FAULT_DISK_CORRUPT:
        return disk_counter(sim->nodes[f->a], f->kind) - st->base;
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_LOST_WRITE: {
        /* the fsyncs it armed: overlapping ones share the count */
        uint64_t used = disk_counter(sim->nodes[f->a], f->kind) - st->base;
        return used > f->count ? f->count : used;
    }
    case TW_SIM_FAULT_EMFILE:
    case TW_SIM_FAULT_ENOBUFS: {
        sim_node *n = sim->nodes[f->a];
        uint64_t left = f->kind == TW_SIM_FAULT_EMFILE ? n->emfile_left
                                                       : n->enobufs_left;
        uint64_t used = st->base > left ? st->base - left : 0;
        return used > f->count ? f->count : used;
    }
    default:
        return st->count;
    }
}

void sim_effect_end(tw_sim *sim, uint32_t i)
{
    sim_fault_state *st = &sim->tl->st[i];
    if (!st->open)
        return;
    st->count = reading(sim, i);
    st->open = false;
}

uint64_t sim_effect_now(tw_sim *sim, uint32_t i)
{
    const sim_fault_state *st = &sim->tl->st[i];
    if (!st->applied)
        return 0;
    return st->open ? reading(sim, i) : st->count;
}
