/* sim/tap.c - the packet tap's reports (sim/tap.h, twin/simprobe.h).
 *
 * Map: setting the tap; one report; stream packets (an end's addresses
 * and window); a segment's transmissions (the loss draws' schedule, as
 * sim/net/path.c made it); segments in flight; path changes.
 *
 * Only reads: every value here is one the simulator already decided.
 */
#include <stdlib.h>

#include "sim/sim.h"
#include "sim/tap.h"

int tw_sim_set_packet_tap(tw_sim *sim, tw_sim_packet_fn fn, void *arg)
{
    if (!sim)
        return -EINVAL;
    sim->tap = fn;
    sim->tap_arg = fn ? arg : NULL;
    return 0;
}

tw_loop *tw_sim_node_at(tw_sim *sim, uint32_t id)
{
    return sim && id < sim->nnodes ? &sim->nodes[id]->loop : NULL;
}

/* ---- one report ---- */

uint32_t sim_tap_ip(tw_sim *sim, tw_sim_packet_event ev, tw_sim_packet_kind kind,
                    unsigned flags, tw_ns t, uint32_t from, uint32_t to,
                    const tw_addr *src, const tw_addr *dst, const uint8_t *data,
                    size_t len, uint32_t cookie)
{
    assert(sim->tap && t >= sim->now);
    tw_sim_packet p = {.event = ev, .kind = kind, .flags = flags, .time = t,
                       .from = from, .to = to, .src = src, .dst = dst,
                       .data = data, .len = len, .cookie = cookie};
    return sim->tap(sim->tap_arg, &p);
}

/* ---- stream packets ---- */

/* Room left in ep's receive buffer: what its peer may still send. */
static uint64_t room(tw_sim *sim, const sim_ep *ep)
{
    uint32_t buf = sim_path_opts(sim, ep->peer_node, ep->node)->rcvbuf_bytes;
    return ep->rx_bytes < buf ? buf - ep->rx_bytes : 0;
}

uint32_t sim_tap_tcp(tw_sim *sim, const sim_ep *ep, bool out,
                     tw_sim_packet_event ev, tw_sim_packet_kind kind,
                     unsigned flags, tw_ns t, tw_ns until, const uint8_t *data,
                     size_t len, uint32_t cookie)
{
    if (ep->is_unix)
        return 0; /* never on a path */
    const sim_ep *sender = out ? ep : sim_ep_peer(sim, (sim_ep *)ep);
    tw_addr local, peer;
    tw__taddr_get(&ep->t.local, &local);
    tw__taddr_get(&ep->t.peer, &peer);
    tw_sim_packet p = {.event = ev, .kind = kind, .flags = flags, .time = t,
                       .until = until,
                       .from = out ? ep->node : ep->peer_node,
                       .to = out ? ep->peer_node : ep->node,
                       .src = out ? &local : &peer,
                       .dst = out ? &peer : &local,
                       .data = data, .len = len, .cookie = cookie,
                       .window = sender ? room(sim, sender) : 0};
    assert(sim->tap && t >= sim->now);
    return sim->tap(sim->tap_arg, &p);
}

/* ---- a segment's transmissions ---- */

void sim_tap_segment(tw_sim *sim, sim_ep *from, sim_seg *seg, uint64_t losses,
                     bool gave_up, tw_ns start, tw_ns arrive)
{
    const tw_sim_path_opts *o = sim_path_opts(sim, from->node, from->peer_node);
    tw_sim_packet_kind kind = seg->fin ? TW_SIM_PACKET_FIN : TW_SIM_PACKET_DATA;
    /* The schedule sim_retransmit drew: the first at start, each next one
     * a timeout later, the timeout doubling up to its cap. */
    tw_ns t = start, rto = o->rto_ns;
    for (uint64_t k = 0; k < losses; k++) {
        sim_tap_tcp(sim, from, true, TW_SIM_PACKET_LOST, kind,
                    k ? TW_SIM_PACKET_RETRANSMIT : 0, t, 0, seg->data, seg->len, 0);
        t += rto;
        rto = rto * 2 > o->rto_max_ns ? o->rto_max_ns : rto * 2;
    }
    if (gave_up) { /* the sender's reset, where the retries ran out */
        sim_tap_tcp(sim, from, true, TW_SIM_PACKET_SENT, TW_SIM_PACKET_RST, 0,
                    arrive, 0, NULL, 0, 0);
        return;
    }
    seg->tap = sim_tap_tcp(sim, from, true, TW_SIM_PACKET_SENT, kind,
                           losses ? TW_SIM_PACKET_RETRANSMIT : 0, t, 0,
                           seg->data, seg->len, 0);
}

void sim_tap_fly(tw_sim *sim, sim_ep *ep, tw_sim_packet_event ev, tw_ns due)
{
    for (sim_seg *s = ep->fly_head; s && s->arrive <= due; s = s->next) {
        if (!s->tap && ev != TW_SIM_PACKET_HELD)
            continue; /* sent before the tap was set */
        sim_tap_tcp(sim, ep, false, ev, s->fin ? TW_SIM_PACKET_FIN : TW_SIM_PACKET_DATA,
                    ev == TW_SIM_PACKET_SENT ? TW_SIM_PACKET_RETRANSMIT : 0,
                    sim->now, 0, s->data, s->len, s->tap);
    }
}

/* ---- paths ---- */

void sim_tap_path(tw_sim *sim, uint32_t from, uint32_t to, bool cut, tw_ns until)
{
    tw_sim_packet p = {.event = TW_SIM_PACKET_PATH, .kind = TW_SIM_PACKET_NONE,
                       .time = sim->now, .until = until, .from = from, .to = to,
                       .cut = cut};
    sim->tap(sim->tap_arg, &p);
}
