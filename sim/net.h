/* sim/net.h - the network model (sim/net/): paths, latency draws, loss,
 * bandwidth, retransmission, the cut and clog state.
 *
 * Map:
 *   paths        a dense matrix of per-direction state (cut, clog, busy)
 *   draws        a latency draw (the rest of it in net/dist.c)
 *   net/path.c   a path's options, counters, latency, transit, cuts
 *   net/loss.c   is a packet lost
 */
#ifndef TWIN_SIM_NET_H
#define TWIN_SIM_NET_H

#include "sim/prng.h"
#include "sim/world.h"
#include "twin/simprobe.h"

/* ---- paths ---- */

/* A loss model's memory: the previous packet's fate (CORRELATED), the
 * channel's state (GILBERT_ELLIOTT). */
typedef struct sim_loss_state {
    bool last_lost, bad;
} sim_loss_state;

typedef struct sim_path {
    tw_ns cut_since; /* -1: not cut */
    bool black;      /* the cut is a blackhole's: no heal undoes it */
    tw_ns clog_until;
    tw_ns busy_until; /* bandwidth: the wire is busy until then */
    uint32_t override; /* index+1 into sim->overrides, 0: defaults */
    /* datagrams (sim/dgram*.c): arrival of the newest one, which later
     * ones may not overtake unless reordered; a fault's impairments
     * (index+1 into the overlays, 0: none) and until when (0: ever) */
    tw_ns dgram_last;
    uint32_t dgram_overlay;
    tw_ns dgram_overlay_until;
    /* datagrams in flight on the path in arrival order, of which only the
     * first has its event in the world's queue (sim/dgram_net.c) */
    struct sim_pkt *dgram_lane, *dgram_lane_tail;
    /* loss models (sim/net/loss.c): the channel state of the path's model
     * [0] and of a burst's [1]; the burst (index+1 into sim->bursts, 0:
     * none) and until when; traffic counters (twin/simprobe.h) */
    sim_loss_state loss[2];
    uint32_t burst;
    tw_ns burst_until;
    tw_sim_path_counters count;
} sim_path;

/* A latency draw: uniform and constant inline, the rest in sim/net/dist.c
 * (tw_sim_dist_sample, which gives the same values for these two). */
static inline tw_ns sim_dist_sample(const tw_sim_dist *d, tw_sim_prng *p)
{
    if (d->kind == TW_SIM_DIST_UNIFORM && d->max_ns > d->min_ns && d->min_ns >= 0)
        return d->min_ns + (tw_ns)sim_below(p, (uint64_t)(d->max_ns - d->min_ns) + 1);
    if (d->kind == TW_SIM_DIST_CONSTANT && d->min_ns >= 0 &&
        (d->max_ns <= 0 || d->min_ns <= d->max_ns))
        return d->min_ns;
    return tw_sim_dist_sample(d, p);
}

/* net/path.c */
static inline sim_path *sim_path_of(tw_sim *sim, uint32_t from, uint32_t to)
{
    assert(from < sim->nnodes && to < sim->nnodes);
    return &sim->paths[(size_t)from * sim->paths_cap + to];
}
/* The options of path p, from -> to. */
static inline const tw_sim_path_opts *sim_path_opts_at(tw_sim *sim, const sim_path *p,
                                                       uint32_t from, uint32_t to)
{
    if (p->override)
        return &sim->overrides[p->override - 1];
    return from == to ? &sim->opts.loopback : &sim->opts.net;
}
static inline const tw_sim_path_opts *sim_path_opts(tw_sim *sim, uint32_t from,
                                                    uint32_t to)
{
    return sim_path_opts_at(sim, sim_path_of(sim, from, to), from, to);
}
int sim_paths_grow(tw_sim *sim, uint32_t nodes);
/* Every packet put on a path is counted (twin/simprobe.h): that is how a
 * clog or a partition proves it met live traffic. */
static inline void sim_count_packet(tw_sim *sim, sim_path *p)
{
    p->count.packets++;
    if (p->clog_until > sim->now)
        p->count.clogged++;
}
/* One packet's latency from -> to, drawn and counted. */
static inline tw_ns sim_latency(tw_sim *sim, uint32_t from, uint32_t to)
{
    const tw_sim_path_opts *o = sim_path_opts(sim, from, to);
    sim_count_packet(sim, sim_path_of(sim, from, to));
    return sim_dist_sample(&o->latency, &sim->rng_net);
}
/* net/path.c: how long len bytes take on the wire of a path with a bandwidth;
 * when a segment due at t on path p (options o) arrives after the
 * retransmissions the loss draws make. */
tw_ns sim_wire_time(const tw_sim_path_opts *o, size_t len);
tw_ns sim_retransmit(tw_sim *sim, uint32_t from, uint32_t to,
                     const tw_sim_path_opts *o, sim_path *p, tw_ns sent, tw_ns t,
                     bool *gave_up);
/* When a segment of len bytes sent now over path p (from -> to, options
 * o), leaving its node at depart (sim_depart), reaches the other end
 * (bandwidth, latency, retransmissions); if it exhausted its retries,
 * *gave_up is set and the time returned is when the sender gives up. */
static inline __attribute__((always_inline)) tw_ns
sim_transit_at(tw_sim *sim, const tw_sim_path_opts *o, sim_path *p, uint32_t from,
               uint32_t to, size_t len, tw_ns depart, bool *gave_up)
{
    tw_ns start = depart;
    if (p->busy_until > start)
        start = p->busy_until;
    if (o->bandwidth_bytes_per_sec)
        start += sim_wire_time(o, len);
    p->busy_until = start;
    tw_ns t = start + sim_dist_sample(&o->latency, &sim->rng_net);
    sim_count_packet(sim, p);
    assert(t >= start && start >= sim->now);
    if (__builtin_expect(o->loss_probability <= 0 &&
                         o->loss_model.kind == TW_SIM_LOSS_NONE && !p->burst, 1))
        return t; /* what sim_loss would say, without asking */
    return sim_retransmit(sim, from, to, o, p, start, t, gave_up);
}
/* Is the path cut? Only asks: counts nothing, changes nothing. */
static inline bool sim_path_is_cut(tw_sim *sim, uint32_t from, uint32_t to)
{
    return sim->paths_cut && from != to && sim_path_of(sim, from, to)->cut_since >= 0;
}
/* A packet from -> to meets the path now: true if a cut stops it, and
 * then counted as traffic blocked (twin/simprobe.h: how a partition
 * proves it met live traffic). Only where a packet is really stopped. */
static inline bool sim_path_blocks(tw_sim *sim, uint32_t from, uint32_t to)
{
    if (!sim_path_is_cut(sim, from, to))
        return false;
    sim_path_of(sim, from, to)->count.blocked++;
    return true;
}
void sim_path_cut_set(tw_sim *sim, uint32_t from, uint32_t to, bool cut);

/* net/loss.c */
/* Is the packet put on the wire from->to at `when` (now or later: a
 * retransmission's time) lost? Independent loss with p (drawn only when
 * p > 0), then the path's model, and its burst's while the burst's
 * window holds `when` (each drawn only when on). Counts the loss on the
 * path. */
bool sim_loss(tw_sim *sim, uint32_t from, uint32_t to, double p, tw_ns when);

#endif
