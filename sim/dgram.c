/* sim/dgram.c - simulated datagram endpoints: what create_datagram_endpoint
 * makes on a simulated node, the transport ops the core drives, and the
 * delivery of what arrived.
 *
 * Map:
 *   addresses  loopback / wildcard / broadcast tests, the local address
 *              an endpoint binds (and its ephemeral port), conflicts
 *   endpoints  create, find (which endpoint a datagram reaches), destroy
 *   ops        sendto (dgram_net.c; dgram_unix.c for Unix endpoints),
 *              want_read, want_write, destroy
 *   events     deliver a bounded batch; SENT (buffer space) and WRITABLE
 *   the world  init, fini, the event dispatch
 *
 * Unix endpoints (dgram_unix.c) are made, named and fed there; they share
 * the list, the table, the receive queue and the events with IP ones, and
 * no IP lookup ever matches them (their family differs).
 *
 * The rules of the real kernel that protocols can see are kept: a port is
 * taken unless every endpoint on it asked for reuse_port; a connected
 * endpoint hears only from its remote; the most specific endpoint wins
 * (connected over bound-to-the-address over wildcard); endpoints sharing
 * a port by reuse_port split senders by a hash of the sender's address,
 * so one sender always reaches the same one.
 *
 * Looking an endpoint up is a walk over every endpoint of the world: fine
 * for tests and scenarios with a handful per node; a port index is the fix
 * if a world ever holds thousands.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sim/dgram.h"

/* Datagrams handed to the protocol per delivery event at most (as the
 * real backend reads at most that many per readiness event). */
#define DELIVER_MAX 64
/* Linux's ephemeral port range. */
#define EPHEMERAL_MIN 32768
#define EPHEMERAL_MAX 60999

static const tw__transport_ops dg_ops;

static tw_sim *sim_of(const sim_dg *ep) { return ((sim_node *)ep->t.loop)->sim; }

/* ------------------------------------------------------------------ */
/* addresses                                                           */

tw_addr sim_dg_loopback(int family, uint16_t port)
{
    tw_addr a;
    tw_addr_ip(&a, family == AF_INET6 ? "::1" : "127.0.0.1", port);
    return a;
}

static void set_port(tw_addr *a, uint16_t port)
{
    if (sim_dg_family(a) == AF_INET)
        a->u.in4.sin_port = htons(port);
    else
        a->u.in6.sin6_port = htons(port);
}

/* An address a node may bind: the wildcard, a loopback one, its own. */
static bool bindable(const sim_node *n, const tw_addr *a)
{
    return sim_dg_ip_is_wildcard(a) || sim_dg_ip_is_loopback(a) ||
           sim_dg_ip_equal(a, &n->addr);
}

/* Would an endpoint at `a` on node share a port with ep? */
static bool overlaps(const sim_dg *ep, uint32_t node, const tw_addr *a)
{
    if (ep->node != node)
        return false;
    tw_addr local;
    tw__taddr_get(&ep->t.local, &local);
    const tw_addr *b = &local;
    return ep->node == node && sim_dg_family(a) == sim_dg_family(b) &&
           sim_dg_port(a) == sim_dg_port(b) &&
           (sim_dg_ip_is_wildcard(a) || sim_dg_ip_is_wildcard(b) ||
            sim_dg_ip_equal(a, b));
}

static bool port_free(tw_sim *sim, uint32_t node, const tw_addr *a,
                      bool reuse_port)
{
    for (sim_dg *ep = sim->dg->head; ep; ep = ep->next)
        if (overlaps(ep, node, a) && !(reuse_port && ep->reuse_port))
            return false;
    return true;
}

/* The local address of a new endpoint: what was asked (or the family's
 * wildcard), its IP made concrete when connected (as connect() picks the
 * source address), its port chosen when 0. */
static int local_address(tw_sim *sim, sim_node *n, const tw_datagram_opts *o,
                         tw_addr *out)
{
    if (o->local.len) {
        *out = o->local;
        if (!bindable(n, out))
            return -EADDRNOTAVAIL;
    } else {
        tw_addr_ip(out, o->family == AF_INET ? "0.0.0.0" : "::", 0);
    }
    uint16_t port = sim_dg_port(out);
    if (o->remote.len && sim_dg_ip_is_wildcard(out)) {
        if (sim_dg_ip_is_loopback(&o->remote))
            *out = sim_dg_loopback(o->family, port);
        else if (sim_dg_family(&n->addr) == o->family) {
            *out = n->addr;
            set_port(out, port);
        } else
            return -ENETUNREACH; /* no address of that family here */
    }
    if (port != 0)
        return port_free(sim, n->id, out, o->reuse_port) ? 0 : -EADDRINUSE;
    for (int tries = 0; tries <= EPHEMERAL_MAX - EPHEMERAL_MIN; tries++) {
        if (n->next_udp_port < EPHEMERAL_MIN || n->next_udp_port > EPHEMERAL_MAX)
            n->next_udp_port = EPHEMERAL_MIN;
        set_port(out, n->next_udp_port++);
        if (port_free(sim, n->id, out, false))
            return 0;
    }
    return -EADDRINUSE; /* every ephemeral port is taken */
}

/* ------------------------------------------------------------------ */
/* endpoints                                                           */

void sim_dg_attach(tw_sim *sim, sim_dg *ep, sim_node *n)
{
    ep->node = n->id;
    ep->upeer = ep->wait_on = SIM_NONE;
    sim->dg->epoch++; /* what senders remember of sim_dg_find is stale */
    tw__transport_init(&ep->t, &n->loop, &dg_ops, TW_TRANSPORT_DATAGRAM);
    ep->prev = sim->dg->tail;
    if (ep->prev)
        ep->prev->next = ep;
    else
        sim->dg->head = ep;
    sim->dg->tail = ep;
}

int sim_dgram_create(tw_loop *loop, tw_protocol_factory factory, void *arg,
                     const tw_datagram_opts *o, tw_connect_cb cb)
{
    sim_node *n = sim_node_of(loop);
    tw_sim *sim = n->sim;
    if (o->family != AF_INET && o->family != AF_INET6 && o->family != AF_UNIX)
        return -EAFNOSUPPORT;
    if (!n->up)
        return -ENETDOWN;
    if (o->family == AF_UNIX)
        return sim_dg_unix_create(sim, n, factory, arg, o, cb);
    tw_addr local;
    int rc = local_address(sim, n, o, &local);
    if (rc < 0)
        return rc;
    sim_dg *ep = calloc(1, sizeof *ep);
    if (!ep)
        return -ENOMEM;
    ep->id = sim_table_add(&sim->dg->eps, ep);
    if (ep->id == SIM_NONE) {
        free(ep);
        return -ENOBUFS; /* endpoints_max */
    }
    ep->reuse_port = o->reuse_port;
    ep->broadcast = o->allow_broadcast;
    sim_dg_attach(sim, ep, n);
    /* IP addresses: kept inline, nothing to allocate. */
    (void)tw__taddr_set(&ep->t.local, &local);
    if (o->remote.len)
        (void)tw__taddr_set(&ep->t.peer, &o->remote);
    sim_trace(sim, n->id, ep->t.id, "dg_open", sim_dg_port(&local),
              sim_dg_port(&o->remote));
    /* On a factory failure the core destroys ep and reports -ENOMEM
     * through cb: the call itself succeeded (twin/net.h's rule). */
    tw__transport_open(&ep->t, factory, arg, cb);
    return 0;
}

/* How well ep matches a datagram from src to dst: -1 not at all; more is
 * more specific. */
static int match(const sim_dg *ep, uint32_t node, const tw_addr *src,
                 const tw_addr *dst)
{
    if (ep->node != node)
        return -1;
    tw_addr local;
    tw__taddr_get(&ep->t.local, &local);
    const tw_addr *l = &local;
    if (sim_dg_family(l) != sim_dg_family(dst) ||
        sim_dg_port(l) != sim_dg_port(dst))
        return -1;
    int score = 0;
    if (sim_dg_ip_equal(l, dst))
        score += 2;
    else if (!sim_dg_ip_is_wildcard(l))
        return -1;
    if (ep->t.peer.len) {
        tw_addr peer;
        tw__taddr_get(&ep->t.peer, &peer);
        if (!sim_dg_addr_equal(&peer, src))
            return -1; /* connected elsewhere */
        score += 4;
    }
    return score;
}

/* FNV-1a over the sender's port and address: a reuse_port group's choice,
 * stable for one sender. */
static uint32_t sender_hash(const tw_addr *src)
{
    uint32_t h = 2166136261u;
    const uint8_t *p;
    size_t n;
    if (sim_dg_family(src) == AF_INET) {
        p = (const uint8_t *)&src->u.in4.sin_addr;
        n = 4;
    } else {
        p = (const uint8_t *)&src->u.in6.sin6_addr;
        n = 16;
    }
    uint16_t port = sim_dg_port(src);
    h = (h ^ (port & 0xff)) * 16777619u;
    h = (h ^ (port >> 8)) * 16777619u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

sim_dg *sim_dg_find(tw_sim *sim, uint32_t node, const tw_addr *src,
                    const tw_addr *dst)
{
    int best = -1;
    uint32_t count = 0;
    sim_dg *first = NULL; /* the first endpoint with the best score */
    for (sim_dg *ep = sim->dg->head; ep; ep = ep->next) {
        int s = match(ep, node, src, dst);
        if (s > best) {
            best = s;
            count = 1;
            first = ep;
        } else if (s == best && s >= 0) {
            count++;
        }
    }
    if (best < 0)
        return NULL;
    if (count == 1)
        return first; /* the common case: one endpoint on the port */
    uint32_t k = sender_hash(src) % count;
    for (sim_dg *ep = first; ep; ep = ep->next)
        if (match(ep, node, src, dst) == best && k-- == 0)
            return ep;
    assert(!"a reuse_port group shrank while it was searched");
    return NULL;
}

bool sim_dg_hears_broadcast(const sim_dg *ep, uint32_t node, uint16_t port)
{
    if (ep->node != node)
        return false;
    tw_addr local;
    tw__taddr_get(&ep->t.local, &local);
    const tw_addr *l = &local;
    return ep->node == node && sim_dg_family(l) == AF_INET &&
           sim_dg_port(l) == port && !ep->t.peer.len &&
           (sim_dg_ip_is_wildcard(l) || sim_dg_ip_is_broadcast(l));
}

/* ------------------------------------------------------------------ */
/* delivery                                                            */

static int ep_push(tw_sim *sim, sim_dg *ep, uint8_t type, uint64_t arg)
{
    return sim_push(sim, sim->now, type, ep->id,
                    sim_table_gen(&sim->dg->eps, ep->id), arg);
}

static void maybe_deliver(tw_sim *sim, sim_dg *ep)
{
    if (ep->deliver_pending || !ep->want_read || !ep->rx_head)
        return;
    ep->deliver_pending = true;
    ep_push(sim, ep, EV_DGRAM_DELIVER, 0);
}

/* The receive queue's counts agree with it: empty exactly when nothing
 * is counted, and each datagram counts its length and 8 bytes. Checked
 * after each change (enqueue, pop); those two are the only code that
 * changes the queue or its counts, so each change also starts from a
 * queue that passed (an endpoint starts empty, from calloc). */
static inline void rx_check(const sim_dg *ep)
{
    assert((ep->rx_head == NULL) == (ep->rx_tail == NULL));
    assert((ep->rx_head == NULL) == (ep->rx_count == 0));
    assert(ep->rx_bytes >= (size_t)ep->rx_count * TW__DGRAM_HEADER);
    assert(ep->rx_count || ep->rx_bytes == 0);
    assert(!ep->rx_tail || ep->rx_tail->next == NULL);
}

void sim_dg_enqueue(tw_sim *sim, sim_dg *ep, sim_pkt *pkt)
{
    pkt->next = NULL;
    if (ep->rx_tail)
        ep->rx_tail->next = pkt;
    else
        ep->rx_head = pkt;
    ep->rx_tail = pkt;
    ep->rx_bytes += pkt->len + TW__DGRAM_HEADER;
    ep->rx_count++;
    rx_check(ep);
    maybe_deliver(sim, ep);
}

static inline __attribute__((always_inline)) sim_pkt *rx_pop(tw_sim *sim, sim_dg *ep)
{
    sim_pkt *p = ep->rx_head;
    if (!p)
        return NULL;
    assert(ep->rx_bytes >= p->len + TW__DGRAM_HEADER);
    ep->rx_head = p->next;
    if (!ep->rx_head)
        ep->rx_tail = NULL;
    ep->rx_bytes -= p->len + TW__DGRAM_HEADER;
    ep->rx_count--;
    rx_check(ep);
    if (p->is_unix)
        sim_dg_unix_taken(sim, p); /* room in its sender's buffer */
    return p;
}

sim_pkt *sim_dg_pop(tw_sim *sim, sim_dg *ep) { return rx_pop(sim, ep); }

/* A bounded batch, in arrival order. Callbacks may close the transport
 * (it is freed only from the loop, so ep stays valid here). Unix senders
 * waiting for room in this queue are woken after the batch. */
static void deliver(tw_sim *sim, sim_dg *ep)
{
    ep->deliver_pending = false;
    bool took_unix = false;
    for (int i = 0; i < DELIVER_MAX && ep->rx_head; i++) {
        if (!tw__transport_reading(&ep->t)) {
            if (took_unix)
                sim_dg_unix_wake(sim, ep);
            return; /* closing, or not armed yet: it waits */
        }
        sim_pkt *p = rx_pop(sim, ep);
        assert(p != NULL && p->to == ep->node);
        took_unix |= p->is_unix;
        if (p->err) {
            tw__transport_error_received(&ep->t, p->err);
        } else {
            sim->stats.dgrams_delivered++;
            tw__transport_datagram(&ep->t, p->data, p->len, &p->src);
        }
        sim_pkt_free(sim, p);
    }
    if (took_unix)
        sim_dg_unix_wake(sim, ep);
    maybe_deliver(sim, ep);
}

static void maybe_writable(tw_sim *sim, sim_dg *ep)
{
    if (ep->writable_pending || !ep->want_write || ep->blocked)
        return;
    ep->writable_pending = true;
    ep_push(sim, ep, EV_DGRAM_WRITABLE, 0);
}

void sim_dg_wake(tw_sim *sim, sim_dg *ep)
{
    assert(ep->blocked && sim->dg->unix_blocked > 0);
    ep->blocked = false;
    sim->dg->unix_blocked--;
    maybe_writable(sim, ep);
}

static void on_writable(tw_sim *sim, sim_dg *ep)
{
    ep->writable_pending = false;
    if (!ep->want_write || ep->blocked)
        return;
    assert(ep->t.flags & TW__T_WARMED); /* the core armed what it wants */
    tw__transport_writable(&ep->t);
    /* The flush stops after TW__DGRAM_FLUSH_MAX: go on in the next event
     * unless it ran dry (want_write off) or the buffer filled (blocked). */
    maybe_writable(sim, ep);
}

/* ------------------------------------------------------------------ */
/* ops                                                                 */

static int op_sendto(tw_transport *t, const void *data, size_t len,
                     const tw_addr *addr)
{
    sim_dg *ep = (sim_dg *)t;
    /* Sends come until the end, close's flush included. */
    assert(!(t->flags & TW__T_LOST) && (len == 0 || data));
    if (ep->is_unix) /* NULL: the socket it is connected to */
        return sim_dg_unix_send(sim_of(ep), ep, data, len, addr);
    tw_addr peer;
    if (!addr)
        tw__taddr_get(&t->peer, &peer);
    return sim_dg_send(sim_of(ep), ep, data, len, addr ? addr : &peer);
}

static void op_want_read(tw_transport *t, bool on)
{
    sim_dg *ep = (sim_dg *)t;
    /* The core asks on a change only, its flag already saying so. */
    assert(on == !!(t->flags & TW__T_RARMED) && on != ep->want_read);
    ep->want_read = on;
    if (on)
        maybe_deliver(sim_of(ep), ep);
}

static void op_want_write(tw_transport *t, bool on)
{
    sim_dg *ep = (sim_dg *)t;
    assert(on == !!(t->flags & TW__T_WARMED) && on != ep->want_write);
    ep->want_write = on;
    if (on)
        maybe_writable(sim_of(ep), ep);
}

static void free_rx(tw_sim *sim, sim_dg *ep)
{
    sim_pkt *p;
    while ((p = sim_dg_pop(sim, ep)) != NULL)
        sim_pkt_free(sim, p);
    assert(ep->rx_bytes == 0 && ep->rx_count == 0);
}

/* The socket goes: its port is free at once; packets still in flight
 * towards it will find nobody (and be refused). A Unix endpoint's name
 * goes too, and the senders waiting for room in its queue wake up. */
static void op_destroy(tw_transport *t)
{
    sim_dg *ep = (sim_dg *)t;
    tw_sim *sim = sim_of(ep);
    sim_trace(sim, ep->node, t->id, "dg_closed", (int64_t)ep->rx_bytes, 0);
    free_rx(sim, ep);
    if (ep->is_unix)
        sim_dg_unix_destroy(sim, ep);
    if (ep->prev)
        ep->prev->next = ep->next;
    else
        sim->dg->head = ep->next;
    if (ep->next)
        ep->next->prev = ep->prev;
    else
        sim->dg->tail = ep->prev;
    sim_table_del(&sim->dg->eps, ep->id);
    sim->dg->epoch++;
    tw__transport_free(&ep->t);
}

static const tw__transport_ops dg_ops = {
    .send = NULL,
    .want_write = op_want_write,
    .want_read = op_want_read,
    .shutdown_write = NULL,
    .extra_info = NULL, /* no "socket" in the simulation */
    .destroy = op_destroy,
    .sendto = op_sendto,
    .can_write_eof = false,
};

/* ------------------------------------------------------------------ */
/* the world                                                           */

int sim_dgram_init(tw_sim *sim)
{
    sim->dg = calloc(1, sizeof *sim->dg);
    if (!sim->dg)
        return -ENOMEM;
    sim_table_init(&sim->dg->eps, sim->opts.endpoints_max);
    sim->dg->epoch = 1; /* 0 is "nothing remembered" */
    return 0;
}

/* After every node crashed for good (their endpoints are gone): what is
 * left is packets in flight. */
void sim_dgram_fini(tw_sim *sim)
{
    struct sim_dgram *dg = sim->dg;
    if (!dg)
        return;
    assert(dg->head == NULL);
    sim_dg_flying_fini(sim);
    sim_dg_unix_fini(sim);
    sim_pkt_spares_fini(sim);
    sim_table_fini(&dg->eps);
    free(dg->overlays);
    free(dg);
    sim->dg = NULL;
}

void sim_dgram_event(tw_sim *sim, const sim_event *ev)
{
    if (ev->type == EV_DGRAM_ARRIVE) {
        sim_dg_arrive(sim, (sim_pkt *)(uintptr_t)ev->arg);
        return;
    }
    sim_dg *ep = sim_dg_get(sim, ev->obj, ev->gen);
    if (!ep)
        return; /* closed since */
    switch (ev->type) {
    case EV_DGRAM_DELIVER:
        deliver(sim, ep);
        break;
    case EV_DGRAM_SENT:
        assert(ep->tx_bytes >= ev->arg);
        ep->tx_bytes -= ev->arg;
        ep->blocked = false;
        maybe_writable(sim, ep);
        break;
    case EV_DGRAM_WRITABLE:
        on_writable(sim, ep);
        break;
    default:
        assert(!"not a datagram event");
    }
}
