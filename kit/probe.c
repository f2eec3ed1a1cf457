/* kit/probe.c - read-only views of a running world (twin/simprobe.h):
 * path counters, a node's state, connections and what they hold.
 *
 * Map: paths; nodes; stream ends.
 *
 * Nothing here draws from a PRNG, traces or changes state, so probing a
 * run never changes it.
 */
#include "sim/net.h"
#include "sim/stream.h"
#include "sim/world.h"

/* ---- paths ---- */

static sim_node *node_in(tw_sim *sim, tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n && n->sim == sim ? n : NULL;
}

int tw_sim_path_counters_get(tw_sim *sim, tw_loop *from, tw_loop *to,
                             tw_sim_path_counters *out)
{
    sim_node *a = node_in(sim, from), *b = node_in(sim, to);
    if (!a || !b || !out)
        return -EINVAL;
    *out = sim_path_of(sim, a->id, b->id)->count;
    return 0;
}

uint64_t tw_sim_path_arrivals(tw_sim *sim, tw_loop *from, tw_loop *to,
                              tw_ns until)
{
    sim_node *a = node_in(sim, from), *b = node_in(sim, to);
    uint64_t n = 0;
    sim_ep *ep;
    for (uint32_t i = 0; a && b && (ep = sim_ep_next(sim, &i));) {
        if (ep->node != b->id || ep->peer_node != a->id)
            continue;
        for (const sim_seg *s = ep->fly_head; s; s = s->next)
            n += s->arrive < until;
    }
    return n;
}

bool tw_sim_path_is_cut(tw_sim *sim, tw_loop *from, tw_loop *to)
{
    sim_node *a = node_in(sim, from), *b = node_in(sim, to);
    return a && b && sim_path_is_cut(sim, a->id, b->id);
}

/* ---- nodes ---- */

static uint32_t list_len(const tw__list *head)
{
    uint32_t n = 0;
    for (const tw__list *l = head->next; l != head; l = l->next)
        n++;
    return n;
}

int tw_sim_node_probe_get(tw_loop *node, tw_sim_node_probe *out)
{
    sim_node *n = sim_node_of(node);
    if (!n || !out)
        return -EINVAL;
    *out = (tw_sim_node_probe){.up = n->up, .emfile_left = n->emfile_left,
                               .connections = n->conns_open};
    if (!n->up)
        return 0; /* a crashed node's loop is empty */
    out->transports = list_len(&n->loop.transports);
    out->servers = list_len(&n->loop.servers);
    out->timers = n->loop.heap_len;
    const tw__list *head = &n->loop.transports;
    for (const tw__list *l = head->next; l != head; l = l->next)
        out->write_buffered += tw_transport_get_write_buffer_size(
            tw__container_of(l, tw_transport, link));
    return 0;
}

/* ---- stream ends ---- */

static bool open_end(const sim_ep *ep)
{
    return ep->opened && !(ep->t.flags & TW__T_LOST);
}

uint32_t tw_sim_connections_between(tw_sim *sim, tw_loop *a, tw_loop *b)
{
    sim_node *na = node_in(sim, a), *nb = node_in(sim, b);
    if (!na || (b && !nb))
        return 0;
    uint32_t count = 0;
    /* Each connection has one end on a (a node's connections to itself
     * are not between nodes). */
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (open_end(ep) && ep->node == na->id &&
            ep->peer_node != na->id && (!nb || ep->peer_node == nb->id))
            count++;
    }
    return count;
}

size_t tw_sim_streams(tw_sim *sim, tw_sim_stream_probe *out, size_t max)
{
    size_t n = 0;
    sim_ep *ep;
    for (uint32_t i = 0; sim && (ep = sim_ep_next(sim, &i));) {
        if (!open_end(ep))
            continue;
        if (n < max) {
            sim_ep *peer = sim_ep_peer(sim, ep);
            out[n] = (tw_sim_stream_probe){
                .slot = ep->id,
                .gen = sim_table_gen(&sim->eps, ep->id),
                .node = ep->node,
                .peer_node = ep->peer_node,
                .transport = ep->t.id,
                .buffered = ep->t.wbuf.size,
                .unacked = sim_ep_unacked(sim, ep),
                .in_flight = ep->fly_bytes,
                .arrived = ep->rx_bytes,
                .reading = tw__transport_reading(&ep->t),
                .peer_gone = !peer || !sim->nodes[ep->peer_node]->up,
            };
        }
        n++;
    }
    return n;
}
