/* sim/dgram_net.c - the simulated network for datagrams: what a send
 * becomes, and what happens when it arrives.
 *
 * Map:
 *   packets   spares, copies; in flight: the paths' lanes and the event
 *             queue (launch, land)
 *   send      the sender's checks (broadcast permission, size, ENOBUFS,
 *             socket buffer), the wire (bandwidth, clog), one packet per
 *             destination node
 *   fate      loss, refusal, duplication, reordering, corruption and
 *             latency, drawn at send time in that order
 *   arrival   cut, clog, crashed node; broadcast; the endpoint (which
 *             its sender remembers) or a refusal (ICMP port unreachable
 *             back to the sender); the receiver's socket buffer
 *
 * Order: datagrams on one path arrive in the order they were sent (a
 * later one waits for the newest before it, as on one link), unless the
 * fate held one back (reorder) or made a copy (duplicate): exactly the
 * reorderings asked for, at the rate asked for. Every outcome is a trace
 * record and a counter in tw_sim_stats.
 *
 * This is the path every simulated datagram takes, so it is kept lean: a
 * packet comes from the world's spares, a path and its options are looked
 * up once per send and once per arrival, and the queue holds a lane's
 * first arrival only (see launch).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/dgram.h"

/* ------------------------------------------------------------------ */
/* packets (new and free: sim/dgram.h)                                  */

void sim_pkt_spares_fini(tw_sim *sim)
{
    struct sim_dgram *dg = sim->dg;
    while (dg->spare) {
        sim_pkt *p = dg->spare;
        dg->spare = p->next;
        free(p);
        dg->nspare--;
    }
    assert(dg->nspare == 0);
}

static sim_pkt *pkt_clone(tw_sim *sim, const sim_pkt *p)
{
    sim_pkt *c = sim_pkt_new(sim, p->len);
    if (c) {
        uint32_t cap = c->cap;
        memcpy(c, p, offsetof(sim_pkt, data) + p->len);
        c->cap = cap;
    }
    return c;
}

/* Packets in flight and the event queue. Each packet in flight arrives by
 * an EV_DGRAM_ARRIVE event that carries it. On one path most packets
 * arrive in the order they were sent (no overtaking on one link, see
 * fate), so they wait in the path's lane, and only the first of a lane
 * has its event in the queue: each one's place in the world's order
 * (time, then sequence) is taken when it is launched, as for any event,
 * and when it reaches the head of its lane its event is queued with that
 * place. The queue then gives the same order as if every packet's event
 * had been queued at launch, and holds a few events instead of every
 * packet in flight. A packet that would arrive before the lane's last
 * one (held back, a copy, an ICMP error, one a clog kept) or now has its
 * event queued at once, and waits on the world's list of such packets.
 * The lanes and that list are what the world frees at its end. (The
 * event carries the packet's pointer; its value decides nothing.) */
static inline __attribute__((always_inline)) void
launch(tw_sim *sim, sim_pkt *pkt, tw_ns when)
{
    assert(when >= sim->now && pkt->from < sim->nnodes && pkt->to < sim->nnodes);
    struct sim_dgram *dg = sim->dg;
    if (dg->nflying >= sim->opts.events_max) {
        sim_pkt_free(sim, pkt);
        sim_fail(sim, -ENOBUFS, "too many datagrams in flight "
                                "(raise tw_sim_opts.events_max)");
        return;
    }
    dg->nflying++;
    sim_path *path = sim_path_of(sim, pkt->from, pkt->to);
    sim_pkt *tail = path->dgram_lane_tail;
    pkt->laned = when > sim->now && (!tail || when >= tail->when);
    if (!pkt->laned) {
        pkt->prev = NULL;
        pkt->next = dg->flying;
        if (dg->flying)
            dg->flying->prev = pkt;
        dg->flying = pkt;
        sim_push(sim, when, EV_DGRAM_ARRIVE, SIM_NONE, 0, (uint64_t)(uintptr_t)pkt);
        return;
    }
    pkt->when = when;
    pkt->seq = sim->seq++; /* its place, as sim_push would have taken it */
    pkt->lane_next = NULL;
    path->dgram_lane_tail = pkt;
    if (tail) {
        assert(tail->when <= when && tail->seq < pkt->seq);
        tail->lane_next = pkt; /* queued when tail has arrived */
        dg->nparked++;
        return;
    }
    path->dgram_lane = pkt;
    sim_push_seq(sim, when, pkt->seq, EV_DGRAM_ARRIVE, SIM_NONE, 0,
                 (uint64_t)(uintptr_t)pkt);
}

/* Its arrival event takes pkt out of flight (and queues the event of the
 * next in its lane). */
static inline __attribute__((always_inline)) void land(tw_sim *sim, sim_pkt *pkt)
{
    struct sim_dgram *dg = sim->dg;
    assert(pkt != NULL && dg->nflying > 0);
    dg->nflying--;
    if (!pkt->laned) {
        assert(pkt->prev ? pkt->prev->next == pkt : dg->flying == pkt);
        if (pkt->prev)
            pkt->prev->next = pkt->next;
        else
            dg->flying = pkt->next;
        if (pkt->next)
            pkt->next->prev = pkt->prev;
        pkt->next = pkt->prev = NULL;
        return;
    }
    /* The head of its lane arrived: the next one's event is queued. */
    sim_path *path = sim_path_of(sim, pkt->from, pkt->to);
    assert(path->dgram_lane == pkt && pkt->when == sim->now);
    sim_pkt *next = pkt->lane_next;
    path->dgram_lane = next;
    pkt->laned = false;
    if (!next) {
        path->dgram_lane_tail = NULL;
        return;
    }
    assert(next->seq > pkt->seq && dg->nparked > 0);
    dg->nparked--;
    sim_push_seq(sim, next->when, next->seq, EV_DGRAM_ARRIVE, SIM_NONE, 0,
                 (uint64_t)(uintptr_t)next);
}

void sim_dg_flying_fini(tw_sim *sim)
{
    struct sim_dgram *dg = sim->dg;
    while (dg->flying) {
        sim_pkt *p = dg->flying;
        dg->flying = p->next;
        dg->nflying--;
        free(p);
    }
    for (size_t i = 0; i < (size_t)sim->paths_cap * sim->paths_cap; i++) {
        sim_path *path = &sim->paths[i];
        while (path->dgram_lane) {
            sim_pkt *p = path->dgram_lane;
            path->dgram_lane = p->lane_next;
            dg->nflying--;
            free(p);
        }
        path->dgram_lane_tail = NULL;
    }
    assert(dg->nflying == 0);
}

static void drop(tw_sim *sim, uint32_t node, uint64_t tid, const sim_pkt *p,
                 int why)
{
    sim->stats.dgrams_dropped++;
    sim_trace(sim, node, tid, "dg_drop", p->len, why);
}

/* ------------------------------------------------------------------ */
/* fate                                                                */

/* Flip k distinct bits (k from 1 to bits_max, at most the datagram's). */
static int corrupt(tw_sim_prng *r, sim_pkt *p, uint32_t bits_max)
{
    uint64_t nbits = (uint64_t)p->len * 8;
    uint64_t k = 1 + tw_sim_prng_below(r, bits_max);
    if (k > nbits)
        k = nbits;
    uint64_t done[64];
    int n = 0;
    while ((uint64_t)n < k) {
        uint64_t bit = tw_sim_prng_below(r, nbits);
        bool again = false;
        for (int i = 0; i < n; i++)
            again |= done[i] == bit;
        if (again)
            continue; /* k <= 64 of nbits >= k: terminates */
        done[n++] = bit;
        p->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert(n >= 1 && n <= 64); /* at least a bit, at most what done holds */
    return n;
}

/* The path a packet takes, in hand: its state, its options, and its
 * datagram options now (sim_dg_opts). */
typedef struct dg_route {
    sim_path *path;
    const tw_sim_path_opts *po;
    const tw_sim_dgram_opts *o;
    tw_sim_dgram_opts scratch;
} dg_route;

static void route_of(tw_sim *sim, uint32_t from, uint32_t to, dg_route *rt)
{
    rt->path = sim_path_of(sim, from, to);
    rt->po = sim_path_opts(sim, from, to);
    rt->o = sim_dg_opts_of(sim, rt->path, rt->po, &rt->scratch);
}

/* One packet from ep's node to node `to` by route rt, on the wire at
 * `depart`. */
static inline __attribute__((always_inline)) void
fate(tw_sim *sim, sim_dg *ep, uint32_t to, const dg_route *rt, const tw_addr *src,
     const tw_addr *dst, const void *data, size_t len, tw_ns depart)
{
    tw_sim_prng *r = &sim->rng_net;
    uint64_t tid = ep->t.id;
    sim_path *path = rt->path;
    const tw_sim_path_opts *po = rt->po;
    const tw_sim_dgram_opts *o = rt->o;
    /* what a datagram fault did here, for its effect count */
    uint64_t *impaired = sim_dg_overlaid(sim, path) ? &path->count.dgram_impaired : NULL;
    /* Lost? What sim_loss (sim/net/loss.c) says, asked only when some
     * loss is on: it draws nothing and changes nothing otherwise. */
    bool lossy = o->loss_probability > 0 ||
                 po->loss_model.kind != TW_SIM_LOSS_NONE || path->burst;
    if (lossy && sim_loss(sim, ep->node, to, o->loss_probability, depart)) {
        if (impaired)
            ++*impaired;
        sim->stats.dgrams_lost++;
        sim_trace(sim, ep->node, tid, "dg_loss", (int64_t)len, to);
        if (sim_tapping(sim))
            sim_tap_ip(sim, TW_SIM_PACKET_LOST, TW_SIM_PACKET_UDP, 0, depart,
                       ep->node, to, src, dst, data, len, 0);
        return;
    }
    bool refuse = o->refuse_probability > 0 &&
                  tw_sim_prng_chance(r, o->refuse_probability);
    bool dup = o->duplicate_probability > 0 &&
               tw_sim_prng_chance(r, o->duplicate_probability);
    tw_ns hold = 0;
    if (o->reorder_probability > 0 && tw_sim_prng_chance(r, o->reorder_probability))
        hold = 1 + (tw_ns)tw_sim_prng_below(r, (uint64_t)o->reorder_delay_ns_max);
    sim_pkt *p = sim_pkt_new(sim, len);
    if (!p) {
        sim_fail(sim, -ENOMEM, "out of memory for a datagram");
        return;
    }
    if (len)
        memcpy(p->data, data, len);
    p->from = ep->node;
    p->to = to;
    p->depart = depart;
    p->epoch = sim->nodes[ep->node]->crash_epoch;
    p->sender = ep->id;
    p->sender_gen = sim_table_gen(&sim->dg->eps, ep->id);
    sim_dg_addr_copy(&p->src, src);
    sim_dg_addr_copy(&p->dst, dst);
    p->refuse = refuse;
    bool corrupted = false;
    if (len && o->corrupt_probability > 0 &&
        tw_sim_prng_chance(r, o->corrupt_probability)) {
        corrupted = true;
        sim->stats.dgrams_corrupted++;
        sim_trace(sim, ep->node, tid, "dg_corrupt", (int64_t)len,
                  corrupt(r, p, o->corrupt_bits_max));
    }
    if (impaired && (refuse || dup || hold || corrupted))
        ++*impaired;
    /* sim_latency with the path in hand: counted, then drawn */
    sim_count_packet(sim, path);
    tw_ns arrive = depart + sim_dist_sample(&po->latency, r);
    assert(arrive >= depart && depart >= sim->now);
    if (arrive < path->dgram_last)
        arrive = path->dgram_last; /* no overtaking on one link */
    if (hold) {
        sim->stats.dgrams_reordered++;
        sim_trace(sim, ep->node, tid, "dg_reorder", (int64_t)len, hold);
        arrive += hold; /* and the link's order does not wait for it */
    } else {
        path->dgram_last = arrive; /* only forward: arrive >= it above */
    }
    assert(arrive >= path->dgram_last); /* a held one only later */
    if (sim_tapping(sim)) /* as sent: data is what the sender gave */
        p->tap = sim_tap_ip(sim, TW_SIM_PACKET_SENT, TW_SIM_PACKET_UDP,
                            (dup ? TW_SIM_PACKET_DUPLICATE : 0u) |
                                (corrupted ? TW_SIM_PACKET_CORRUPT : 0u) |
                                (hold ? TW_SIM_PACKET_REORDER : 0u),
                            depart, ep->node, to, src, dst, data, len, 0);
    sim_pkt *copy = dup ? pkt_clone(sim, p) : NULL;
    launch(sim, p, arrive);
    if (copy) {
        sim->stats.dgrams_duplicated++;
        tw_ns again = depart + sim_latency(sim, ep->node, to);
        sim_trace(sim, ep->node, tid, "dg_dup", (int64_t)len, again - depart);
        launch(sim, copy, again);
    }
}

/* ------------------------------------------------------------------ */
/* send                                                                */

/* The source address of a datagram from ep to dst: its bound address, or
 * when bound to the wildcard the one routing would pick. */
static int source(tw_sim *sim, const sim_dg *ep, const tw_addr *dst,
                  tw_addr *out)
{
    tw_addr local;
    tw__taddr_peek(&ep->t.local, &local);
    const tw_addr *l = &local;
    sim_node *n = sim->nodes[ep->node];
    if (!sim_dg_ip_is_wildcard(l)) {
        sim_dg_addr_copy(out, l);
        return 0;
    }
    int family = sim_dg_family(l);
    if (sim_dg_ip_is_loopback(dst)) {
        *out = sim_dg_loopback(family, sim_dg_port(l));
        return 0;
    }
    if (sim_dg_family(&n->addr) != family)
        return -ENETUNREACH;
    *out = n->addr;
    if (family == AF_INET)
        out->u.in4.sin_port = l->u.in4.sin_port;
    else
        out->u.in6.sin6_port = l->u.in6.sin6_port;
    return 0;
}

/* The node dst leads to from ep's node n, as sim_node_by_addr says; an
 * endpoint remembers its last IPv4 answer, as most send to one place. */
static sim_node *node_for(tw_sim *sim, sim_dg *ep, const tw_addr *dst, sim_node *n)
{
    if (sim_dg_family(dst) != AF_INET)
        return sim_node_by_addr(sim, dst, n);
    uint32_t ip4 = dst->u.in4.sin_addr.s_addr;
    if (ep->route_nodes == sim->nnodes && ep->route_ip4 == ip4) {
        assert(ep->route_to == SIM_NONE || ep->route_to < sim->nnodes);
        return ep->route_to == SIM_NONE ? NULL : sim->nodes[ep->route_to];
    }
    sim_node *to = sim_node_by_addr(sim, dst, n);
    ep->route_ip4 = ip4;
    ep->route_to = to ? to->id : SIM_NONE;
    ep->route_nodes = sim->nnodes;
    return to;
}

int sim_dg_send(tw_sim *sim, sim_dg *ep, const void *data, size_t len,
                const tw_addr *dst)
{
    assert(!ep->is_unix && dst != NULL);
    sim_node *n = sim->nodes[ep->node];
    uint64_t tid = ep->t.id;
    bool bcast = sim_dg_ip_is_broadcast(dst);
    if (bcast && !ep->broadcast) {
        sim_trace(sim, ep->node, tid, "dg_eacces", (int64_t)len, 0);
        return -EACCES; /* Linux, without SO_BROADCAST */
    }
    sim_node *to = bcast ? NULL : node_for(sim, ep, dst, n);
    uint32_t wire_to = to ? to->id : ep->node;
    dg_route rt;
    route_of(sim, ep->node, wire_to, &rt);
    const tw_sim_dgram_opts *o = rt.o;
    if (len > sim_dg_size_max(o, sim_dg_family(dst))) {
        sim_trace(sim, ep->node, tid, "dg_emsgsize", (int64_t)len, 0);
        return -EMSGSIZE;
    }
    tw_addr src;
    int rc = source(sim, ep, dst, &src);
    if (rc < 0)
        return rc;
    if (n->enobufs_left > 0 ||
        (o->enobufs_probability > 0 &&
         tw_sim_prng_chance(&sim->rng_net, o->enobufs_probability))) {
        if (n->enobufs_left > 0)
            n->enobufs_left--;
        sim_trace(sim, ep->node, tid, "dg_enobufs", (int64_t)len, 0);
        return -ENOBUFS;
    }
    size_t cost = len + TW__DGRAM_HEADER;
    if (ep->tx_bytes > 0 && ep->tx_bytes + cost > o->sndbuf_bytes) {
        ep->blocked = true; /* until EV_DGRAM_SENT makes room */
        sim_trace(sim, ep->node, tid, "dg_eagain", (int64_t)len,
                  (int64_t)ep->tx_bytes);
        return -EAGAIN;
    }
    /* The wire: behind what is already on it, after a clog, at the
     * path's bandwidth. Until then the datagram fills the socket buffer. */
    sim_path *path = rt.path;
    const tw_sim_path_opts *po = rt.po;
    tw_ns start = sim_depart(sim, ep->node); /* after a blocking call */
    if (path->busy_until > start)
        start = path->busy_until;
    if (path->clog_until > start)
        start = path->clog_until;
    tw_ns wire = 0;
    if (po->bandwidth_bytes_per_sec)
        wire = (tw_ns)((__int128)len * TW_NS_PER_SEC /
                       (__int128)po->bandwidth_bytes_per_sec);
    tw_ns depart = start + wire;
    assert(depart >= sim->now && depart >= path->busy_until);
    if (depart > sim->now) {
        path->busy_until = depart;
        ep->tx_bytes += cost;
        sim_push(sim, depart, EV_DGRAM_SENT, ep->id,
                 sim_table_gen(&sim->dg->eps, ep->id), cost);
    }
    sim->stats.dgrams_sent++;
    sim_trace(sim, ep->node, tid, "dg_send", (int64_t)len, sim_dg_port(dst));
    if (bcast) {
        /* One copy per node, each on its own path, the sender's too. */
        for (uint32_t j = 0; j < sim->nnodes; j++) {
            dg_route each;
            route_of(sim, ep->node, j, &each);
            fate(sim, ep, j, &each, &src, dst, data, len, depart);
        }
    } else if (to) {
        assert(to->id == wire_to); /* rt is that path's */
        fate(sim, ep, to->id, &rt, &src, dst, data, len, depart);
    } else {
        sim->stats.dgrams_dropped++;
        sim_trace(sim, ep->node, tid, "dg_drop", (int64_t)len,
                  SIM_DG_DROP_NOROUTE);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* arrival                                                             */

/* Nobody there (or the fate said so): an ICMP port unreachable goes back
 * over the reverse path, carrying the sender's identity. */
static void refuse(tw_sim *sim, sim_pkt *p)
{
    assert(p->err == 0 && !p->is_unix); /* an error is never answered */
    sim->stats.dgrams_refused++;
    sim_trace(sim, p->to, 0, "dg_refused", p->len, sim_dg_port(&p->dst));
    if (sim_tapping(sim)) /* the ICMP error, quoting the datagram */
        p->tap = sim_tap_ip(sim, TW_SIM_PACKET_SENT, TW_SIM_PACKET_ICMP_UNREACH, 0,
                            sim->now, p->to, p->from, &p->src, &p->dst, p->data,
                            p->len, 0);
    uint32_t from = p->to;
    p->to = p->from;
    p->from = from;
    p->err = -ECONNREFUSED;
    p->len = 0;
    launch(sim, p, sim->now + sim_latency(sim, p->from, p->to));
}

/* As Linux: an ICMP error reaches the socket that sent the datagram only
 * if it is connected; unconnected sockets never hear of it. */
static void icmp_arrive(tw_sim *sim, sim_pkt *p)
{
    assert(p->err < 0 && p->len == 0);
    sim_dg *ep = sim_dg_get(sim, p->sender, p->sender_gen);
    if (!ep || !ep->t.peer.len) {
        sim_trace(sim, p->to, ep ? ep->t.id : 0, "dg_icmp_ignored", p->err, 0);
        sim_pkt_free(sim, p);
        return;
    }
    sim_trace(sim, p->to, ep->t.id, "dg_icmp", p->err, 0);
    sim_dg_enqueue(sim, ep, p);
}

static bool fits(tw_sim *sim, const sim_pkt *p, const sim_dg *ep)
{
    tw_sim_dgram_opts scratch;
    const tw_sim_dgram_opts *o = sim_dg_opts(sim, p->from, p->to, &scratch);
    return ep->rx_bytes + p->len + TW__DGRAM_HEADER <= o->rcvbuf_bytes;
}

static void broadcast_arrive(tw_sim *sim, sim_pkt *p)
{
    assert(p->err == 0 && sim_dg_ip_is_broadcast(&p->dst));
    uint16_t port = sim_dg_port(&p->dst);
    int heard = 0;
    for (sim_dg *ep = sim->dg->head; ep; ep = ep->next) {
        if (!sim_dg_hears_broadcast(ep, p->to, port))
            continue;
        if (!fits(sim, p, ep)) {
            drop(sim, p->to, ep->t.id, p, SIM_DG_DROP_RCVBUF);
            continue;
        }
        sim_pkt *c = pkt_clone(sim, p);
        if (!c) {
            sim_fail(sim, -ENOMEM, "out of memory for a datagram");
            break;
        }
        heard++;
        sim_trace(sim, p->to, ep->t.id, "dg_arrive", p->len, sim_dg_port(&p->src));
        sim_dg_enqueue(sim, ep, c);
    }
    if (!heard)
        drop(sim, p->to, 0, p, SIM_DG_DROP_NOBODY);
    sim_pkt_free(sim, p);
}

/* Most datagrams come from an endpoint that sent the one before to the
 * same place: its sender remembers where that one went. */
static inline __attribute__((always_inline)) sim_dg *
find_pkt(tw_sim *sim, const sim_pkt *p)
{
    struct sim_dgram *dg = sim->dg;
    sim_dg *s = sim_dg_get(sim, p->sender, p->sender_gen);
    bool v4 = sim_dg_family(&p->src) == AF_INET &&
              sim_dg_family(&p->dst) == AF_INET;
    if (!s || !v4)
        return sim_dg_find(sim, p->to, &p->src, &p->dst);
    uint32_t sip = p->src.u.in4.sin_addr.s_addr, dip = p->dst.u.in4.sin_addr.s_addr;
    uint16_t sport = p->src.u.in4.sin_port, dport = p->dst.u.in4.sin_port;
    if (s->hit_epoch == dg->epoch && s->hit_node == p->to &&
        s->hit_src_ip4 == sip && s->hit_dst_ip4 == dip &&
        s->hit_src_port == sport && s->hit_dst_port == dport) {
        sim_dg *ep = s->hit_ep == SIM_NONE ? NULL
                                           : sim_dg_get(sim, s->hit_ep, s->hit_gen);
        assert(ep || s->hit_ep == SIM_NONE); /* none went: the epoch holds */
        return ep;
    }
    sim_dg *ep = sim_dg_find(sim, p->to, &p->src, &p->dst);
    s->hit_epoch = dg->epoch;
    s->hit_node = p->to;
    s->hit_src_ip4 = sip;
    s->hit_dst_ip4 = dip;
    s->hit_src_port = sport;
    s->hit_dst_port = dport;
    s->hit_ep = ep ? ep->id : SIM_NONE;
    s->hit_gen = ep ? sim_table_gen(&dg->eps, ep->id) : 0;
    return ep;
}

/* The tap hears the packet reach the node, or stop short of it. */
static void tap_arrival(tw_sim *sim, const sim_pkt *p, tw_sim_packet_event ev)
{
    if (sim_tapping(sim))
        sim_tap_ip(sim, ev, p->err ? TW_SIM_PACKET_ICMP_UNREACH : TW_SIM_PACKET_UDP,
                   0, sim->now, p->from, p->to, &p->src, &p->dst, p->data, p->len,
                   p->tap);
}

/* One packet in flight, at its node's crash: if it was still to leave,
 * the tap hears now that it never will, with the time of the crash, as
 * it hears a stream's unsent segments (sim_stream_unsent); its arrival
 * drops it as before, and tells the tap nothing more. */
static void tell_unsent(tw_sim *sim, sim_pkt *p, uint32_t node)
{
    if (p->from != node || p->err || p->is_unix || p->unsent_told ||
        p->depart <= sim->now || p->epoch != sim->nodes[node]->crash_epoch)
        return;
    p->unsent_told = true;
    sim_tap_ip(sim, TW_SIM_PACKET_DROPPED, TW_SIM_PACKET_UDP, 0, sim->now, p->from,
               p->to, &p->src, &p->dst, p->data, p->len, p->tap);
    p->tap = 0; /* its cookie is done with */
}

void sim_dg_unsent(tw_sim *sim, uint32_t node)
{
    if (!sim_tapping(sim) || !sim->dg)
        return;
    for (sim_pkt *p = sim->dg->flying; p; p = p->next)
        tell_unsent(sim, p, node);
    for (uint32_t to = 0; to < sim->nnodes; to++)
        for (sim_pkt *p = sim_path_of(sim, node, to)->dgram_lane; p; p = p->lane_next)
            tell_unsent(sim, p, node);
}

void sim_dg_arrive(tw_sim *sim, sim_pkt *p)
{
    land(sim, p); /* packets are only taken by their event */
    assert(p->from < sim->nnodes && p->to < sim->nnodes);
    const sim_node *sender = sim->nodes[p->from];
    if (__builtin_expect(sender->crash_epoch != p->epoch, 0) && !p->err &&
        sender->crashed_at < p->depart) {
        /* sent after a blocking call that had not returned when its node
         * crashed (sim_depart): it never left (the tap heard so then) */
        drop(sim, p->to, 0, p, SIM_DG_DROP_UNSENT);
        if (!p->unsent_told)
            tap_arrival(sim, p, TW_SIM_PACKET_DROPPED);
        sim_pkt_free(sim, p);
        return;
    }
    sim_path *path = sim_path_of(sim, p->from, p->to);
    if (p->from != p->to && path->cut_since >= 0) { /* sim_path_blocks */
        path->count.blocked++;
        drop(sim, p->to, 0, p, SIM_DG_DROP_CUT);
        tap_arrival(sim, p, TW_SIM_PACKET_DROPPED);
        sim_pkt_free(sim, p);
        return;
    }
    if (path->clog_until > sim->now) {
        launch(sim, p, path->clog_until); /* held, not lost */
        return;
    }
    if (!sim->nodes[p->to]->up) {
        drop(sim, p->to, 0, p, SIM_DG_DROP_DOWN); /* a dead host: silence */
        tap_arrival(sim, p, TW_SIM_PACKET_DROPPED);
        sim_pkt_free(sim, p);
        return;
    }
    tap_arrival(sim, p, TW_SIM_PACKET_ARRIVED);
    if (p->err) {
        icmp_arrive(sim, p);
        return;
    }
    if (sim_dg_ip_is_broadcast(&p->dst)) {
        broadcast_arrive(sim, p);
        return;
    }
    sim_dg *ep = find_pkt(sim, p);
    if (!ep || p->refuse) {
        refuse(sim, p);
        return;
    }
    tw_sim_dgram_opts scratch;
    const tw_sim_dgram_opts *o =
        sim_dg_opts_of(sim, path, sim_path_opts(sim, p->from, p->to), &scratch);
    if (ep->rx_bytes + p->len + TW__DGRAM_HEADER > o->rcvbuf_bytes) { /* fits */
        drop(sim, p->to, ep->t.id, p, SIM_DG_DROP_RCVBUF);
        sim_pkt_free(sim, p);
        return;
    }
    sim_trace(sim, p->to, ep->t.id, "dg_arrive", p->len, sim_dg_port(&p->src));
    sim_dg_enqueue(sim, ep, p);
}
