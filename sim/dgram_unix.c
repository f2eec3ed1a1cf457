/* sim/dgram_unix.c - Unix datagram endpoints (AF_UNIX, SOCK_DGRAM) on a
 * simulated node.
 *
 * Map:
 *   names   the canonical form of an address; a node's socket files and
 *           abstract names; what a name reaches
 *   create  bind (or autobind), connect, then the core's open
 *   send    Linux's checks, in Linux's order; the datagram is queued at
 *           the receiver at once
 *   room    what a read, a close or a crash frees, and who is woken
 *
 * A Unix datagram never leaves its node: no network fault applies (no
 * latency, loss, duplication, reordering, corruption, partition, clog or
 * ENOBUFS), it is queued at the receiver in the instant it is sent, and
 * nothing is drawn from the PRNG. What a protocol sees is what Linux gives
 * the real backend (real/udp.c):
 *   - binding a path replaces the socket file there, live or stale (the
 *     real backend removes a socket file before it binds, as asyncio
 *     does), including a Unix stream server's; the endpoint that had it
 *     lives on, with no name. (A Unix stream server is warier: it takes
 *     a path only from a stale file, sim_dg_unix_claim.) Closing removes
 *     the endpoint's file if it is still the one it bound. An abstract
 *     name ("@name") in use is -EADDRINUSE. A local address of the
 *     family alone autobinds to an abstract name of five hex digits, as
 *     Linux does.
 *   - sendto a path nobody bound: -ENOENT; a socket file with no socket
 *     (left by a crash) or an abstract name nobody has: -ECONNREFUSED; a
 *     Unix stream server's name: -EPROTOTYPE; a receiver connected to
 *     another socket: -EPERM. A remote given to create fails the same
 *     ways (as connect does), returned by create.
 *   - connected is connected to the socket, not to the path: the endpoint
 *     keeps reaching that socket after the path is bound again by another.
 *     Once that socket is gone, the next send fails -ECONNREFUSED (and
 *     what the endpoint had received and not read is dropped), and the
 *     endpoint is no longer connected: sends fail -ENOTCONN from then on.
 *   - a receiver is full when it holds more than UNIX_QLEN datagrams
 *     (unless it is connected to the sender), and a sender's datagrams
 *     waiting in receivers' queues may fill its send buffer (the node's
 *     loopback sndbuf_bytes, len + 8 each). Either way sendto says EAGAIN:
 *     the core queues, pauses the protocol over the high mark, and
 *     flushes when a read (or a close) makes room.
 *   - a datagram over the send buffer less 32 bytes: -EMSGSIZE.
 *   - the receiver sees the sender's bound name as the source, or no
 *     address (len 0) when the sender is unbound.
 *   - a crash kills the node's endpoints; their socket files stay, stale
 *     (a process that dies does not remove its files), their abstract
 *     names go. A later bind replaces a stale file.
 *
 * Names are per node: each node has its own file system and abstract
 * namespace. A path is a name as given: there are no directories and no
 * working directory ("/run/x" and "/run//x" are two names).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/dgram.h"

/* Linux's net.unix.max_dgram_qlen: a receiver's queue is full when it
 * holds more datagrams than this. */
#define UNIX_QLEN 10
/* Linux refuses a datagram larger than the send buffer less this. */
#define UNIX_SNDBUF_SLACK 32
/* Autobound names: a NUL and five hex digits. */
#define AUTOBIND_NAMES 0x100000u

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

/* ------------------------------------------------------------------ */
/* names                                                               */

static bool abstract(const tw_addr *a) { return a->u.un.sun_path[0] == '\0'; }

/* A Unix address as Linux keeps it: a path ends at its first NUL and
 * counts one terminating NUL; an abstract name (a leading NUL) is all of
 * its bytes. -EINVAL when it names nothing. */
static int canonical(const tw_addr *in, tw_addr *out)
{
    if (tw_addr_family(in) != AF_UNIX || in->len <= SUN_OFF ||
        in->len > sizeof(struct sockaddr_un))
        return -EINVAL;
    size_t n = in->len - SUN_OFF;
    memset(out, 0, sizeof *out);
    out->u.un.sun_family = AF_UNIX;
    if (abstract(in)) {
        out->len = in->len;
    } else {
        n = strnlen(in->u.un.sun_path, n);
        if (n >= sizeof out->u.un.sun_path)
            return -EINVAL; /* no room for its NUL in a tw_addr */
        out->len = (socklen_t)(SUN_OFF + n + 1);
    }
    memcpy(out->u.un.sun_path, in->u.un.sun_path, n);
    return 0;
}

static sim_uname *name_at(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    for (sim_uname *u = sim->dg->unames; u; u = u->next)
        if (u->node == node && tw_addr_equal(&u->addr, a))
            return u;
    return NULL;
}

static sim_uname *name_by_ino(tw_sim *sim, uint32_t node, uint64_t ino)
{
    for (sim_uname *u = sim->dg->unames; u; u = u->next)
        if (u->node == node && u->ino == ino)
            return u;
    return NULL;
}

/* A Unix stream server of the node with that name (sim/server.c). */
static sim_listener *stream_at(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    for (sim_listener *l = sim->listeners; l; l = l->next)
        if (l->node == node && !l->unlinked &&
            tw_addr_equal(&l->srv.addrs[0], a))
            return l;
    return NULL;
}

static void name_drop(tw_sim *sim, sim_uname *u)
{
    for (sim_uname **pp = &sim->dg->unames; *pp; pp = &(*pp)->next)
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    free(u);
}

static void wake_waiting(tw_sim *sim, uint32_t node);

/* Put u (filled but for its place) at a on node: what had the path
 * before loses it. An abstract name was checked to be free. */
static void name_put(tw_sim *sim, uint32_t node, sim_uname *u,
                     const tw_addr *a, uint64_t tid)
{
    sim_uname *old = name_at(sim, node, a);
    sim_listener *l = stream_at(sim, node, a);
    assert(!abstract(a) || (!old && !l));
    u->node = node;
    u->ino = ++sim->dg->next_ino;
    u->addr = *a;
    if (old || l) {
        sim_trace(sim, node, tid, "dgu_replace", old ? (int64_t)old->ino : 0,
                  (int64_t)u->ino);
        if (old)
            name_drop(sim, old);
        if (l)
            l->unlinked = true; /* the stream server lives on, nameless */
    }
    u->next = sim->dg->unames;
    sim->dg->unames = u;
    /* Unconnected senders waiting on the old owner's queue would now
     * reach the new one: let them try. */
    wake_waiting(sim, node);
}

/* The endpoint a name reaches on node, or the error Linux gives. */
static int resolve(tw_sim *sim, uint32_t node, const tw_addr *a, sim_dg **out)
{
    sim_uname *u = name_at(sim, node, a);
    if (u) {
        *out = u->ep == SIM_NONE ? NULL : sim_dg_get(sim, u->ep, u->ep_gen);
        return *out ? 0 : -ECONNREFUSED; /* a file with no socket */
    }
    if (stream_at(sim, node, a))
        return -EPROTOTYPE;
    return abstract(a) ? -ECONNREFUSED : -ENOENT;
}

/* A name Linux's autobind would give: a NUL and five hex digits, the
 * first free one from a counter of the world. */
static int autobind_name(tw_sim *sim, uint32_t node, tw_addr *out)
{
    for (uint32_t tries = 0; tries < AUTOBIND_NAMES; tries++) {
        char name[8];
        uint32_t k = sim->dg->next_autobind++ % AUTOBIND_NAMES;
        snprintf(name, sizeof name, "@%05x", (unsigned)k);
        tw_addr_unix(out, name);
        if (!name_at(sim, node, out) && !stream_at(sim, node, out))
            return 0;
    }
    return -ENOSPC; /* every name is taken, as Linux says */
}

int sim_dg_unix_claim(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    sim_uname *u = name_at(sim, node, a);
    sim_dg *ep;
    if (!u)
        return 0;
    if (abstract(a) || resolve(sim, node, a, &ep) == 0)
        return -EADDRINUSE; /* a live socket holds it */
    sim_trace(sim, node, 0, "dgu_replace", (int64_t)u->ino, 0);
    name_drop(sim, u);
    wake_waiting(sim, node);
    return 0;
}

int sim_dg_unix_stream_refusal(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    tw_addr c;
    sim_dg *ep;
    if (canonical(a, &c) < 0 || !name_at(sim, node, &c))
        return -ECONNREFUSED;
    /* A file with no socket refuses; a live datagram socket is of the
     * wrong type. */
    return resolve(sim, node, &c, &ep) == 0 ? -EPROTOTYPE : -ECONNREFUSED;
}

/* ------------------------------------------------------------------ */
/* create                                                              */

static bool connected_to(tw_sim *sim, const sim_dg *ep, const sim_dg *to)
{
    return ep->upeer == to->id &&
           ep->upeer_gen == sim_table_gen(&sim->dg->eps, to->id);
}

/* Linux's unix_may_send: rx takes from anyone unless it is connected,
 * and then only from its peer. */
static bool may_send(tw_sim *sim, const sim_dg *from, const sim_dg *rx)
{
    return rx->upeer == SIM_NONE || connected_to(sim, rx, from);
}

int sim_dg_unix_create(tw_sim *sim, sim_node *n, tw_protocol_factory factory,
                       void *arg, const tw_datagram_opts *o, tw_connect_cb cb)
{
    tw_addr local, remote;
    memset(&local, 0, sizeof local);
    memset(&remote, 0, sizeof remote);
    int rc = 0;
    if (o->reuse_port)
        return -EOPNOTSUPP; /* recent Linux: no SO_REUSEPORT on Unix sockets */
    if (o->local.len == SUN_OFF)
        rc = autobind_name(sim, n->id, &local); /* the family alone */
    else if (o->local.len)
        rc = canonical(&o->local, &local);
    if (rc == 0 && o->remote.len)
        rc = canonical(&o->remote, &remote);
    if (rc < 0)
        return rc;
    if (local.len && abstract(&local) &&
        (name_at(sim, n->id, &local) || stream_at(sim, n->id, &local)))
        return -EADDRINUSE;
    /* Connecting to its own name connects the endpoint to itself; any
     * other name is resolved before the bind, which cannot change it. */
    bool self = remote.len && local.len && tw_addr_equal(&remote, &local);
    sim_dg *peer = NULL;
    if (remote.len && !self) {
        rc = resolve(sim, n->id, &remote, &peer);
        if (rc == 0 && peer->upeer != SIM_NONE)
            rc = -EPERM; /* connected to another: it takes from no one else */
    }
    sim_uname *u = NULL;
    if (local.len && (u = calloc(1, sizeof *u)) == NULL)
        return -ENOMEM;
    if (rc < 0) {
        /* As the real backend: the socket was bound (replacing what had
         * the path) before its connect failed; then it is closed and the
         * file it bound removed. An abstract name goes with the socket. */
        if (u && !abstract(&local)) {
            u->ep = SIM_NONE;
            name_put(sim, n->id, u, &local, 0);
            sim_trace(sim, n->id, 0, "dgu_unlink", (int64_t)u->ino, 0);
            name_drop(sim, u);
        } else {
            free(u);
        }
        return rc;
    }
    sim_dg *ep = calloc(1, sizeof *ep);
    if (!ep) {
        free(u);
        return -ENOMEM;
    }
    ep->id = sim_table_add(&sim->dg->eps, ep);
    if (ep->id == SIM_NONE) {
        free(u);
        free(ep);
        return -ENOBUFS; /* endpoints_max */
    }
    ep->is_unix = true;
    sim_dg_attach(sim, ep, n);
    uint32_t gen = sim_table_gen(&sim->dg->eps, ep->id);
    if (u) {
        u->ep = ep->id;
        u->ep_gen = gen;
        name_put(sim, n->id, u, &local, ep->t.id);
        ep->ino = u->ino;
        (void)tw__taddr_set(&ep->t.local, &local);
    }
    if (remote.len) {
        if (self)
            peer = ep;
        ep->upeer = peer->id;
        ep->upeer_gen = sim_table_gen(&sim->dg->eps, peer->id);
        (void)tw__taddr_set(&ep->t.peer, &remote);
    }
    sim_trace(sim, n->id, ep->t.id, "dgu_open", (int64_t)ep->ino,
              peer ? (int64_t)peer->t.id : 0);
    /* On a factory failure the core destroys ep (removing its name) and
     * reports -ENOMEM through cb: the call itself succeeded. */
    tw__transport_open(&ep->t, factory, arg, cb);
    return 0;
}

/* ------------------------------------------------------------------ */
/* send                                                                */

static int send_error(tw_sim *sim, const sim_dg *ep, size_t len, int err)
{
    sim_trace(sim, ep->node, ep->t.id, "dgu_error", (int64_t)len, -err);
    return err;
}

/* No room: in rx's queue, or (rx NULL) in ep's own send buffer. */
static int no_room(tw_sim *sim, sim_dg *ep, const sim_dg *rx, size_t len)
{
    if (!ep->blocked) {
        ep->blocked = true;
        sim->dg->unix_blocked++;
    }
    ep->wait_on = rx ? rx->id : SIM_NONE;
    ep->wait_gen = rx ? sim_table_gen(&sim->dg->eps, rx->id) : 0;
    assert(ep->blocked && sim->dg->unix_blocked > 0);
    sim_trace(sim, ep->node, ep->t.id, "dgu_eagain", (int64_t)len,
              rx ? (int64_t)rx->rx_count : (int64_t)ep->unix_tx);
    return -EAGAIN;
}

/* ep's peer is gone: it is connected no more, and Linux drops what it had
 * received and not read (unix_dgram_disconnected). */
static void disconnect(tw_sim *sim, sim_dg *ep)
{
    ep->upeer = SIM_NONE;
    if (!ep->rx_head)
        return;
    sim_trace(sim, ep->node, ep->t.id, "dgu_purge", ep->rx_count, 0);
    sim_pkt *p;
    while ((p = sim_dg_pop(sim, ep)) != NULL)
        sim_pkt_free(sim, p);
    sim_dg_unix_wake(sim, ep);
}

int sim_dg_unix_send(tw_sim *sim, sim_dg *ep, const void *data, size_t len,
                     const tw_addr *dst)
{
    assert(ep->is_unix && !(ep->t.flags & TW__T_LOST));
    tw_addr to;
    if (dst) {
        int rc = canonical(dst, &to);
        if (rc < 0)
            return send_error(sim, ep, len, rc);
    } else if (ep->upeer == SIM_NONE) {
        return send_error(sim, ep, len, -ENOTCONN);
    }
    uint32_t sndbuf = sim_path_opts(sim, ep->node, ep->node)->dgram.sndbuf_bytes;
    if (len + UNIX_SNDBUF_SLACK > sndbuf)
        return send_error(sim, ep, len, -EMSGSIZE);
    if (ep->unix_tx >= sndbuf)
        return no_room(sim, ep, NULL, len);
    sim_dg *rx = NULL;
    if (dst) {
        int rc = resolve(sim, ep->node, &to, &rx);
        if (rc < 0)
            return send_error(sim, ep, len, rc);
    } else {
        rx = sim_dg_get(sim, ep->upeer, ep->upeer_gen);
    }
    if (!rx) {
        disconnect(sim, ep);
        return send_error(sim, ep, len, -ECONNREFUSED);
    }
    if (!may_send(sim, ep, rx))
        return send_error(sim, ep, len, -EPERM);
    /* Linux counts the queue only for a receiver not connected back to
     * the sender (and not the sender itself). */
    if (rx != ep && !connected_to(sim, rx, ep) && rx->rx_count > UNIX_QLEN)
        return no_room(sim, ep, rx, len);
    sim_pkt *p = sim_pkt_new(sim, len);
    if (!p)
        return send_error(sim, ep, len, -ENOMEM);
    if (len)
        memcpy(p->data, data, len);
    p->from = p->to = ep->node;
    p->sender = ep->id;
    p->sender_gen = sim_table_gen(&sim->dg->eps, ep->id);
    tw__taddr_get(&ep->t.local, &p->src); /* len 0 when unbound: no address */
    tw__taddr_get(&rx->t.local, &p->dst);
    p->is_unix = true;
    assert(p->from == rx->node); /* a Unix datagram never leaves its node */
    ep->unix_tx += len + TW__DGRAM_HEADER;
    sim->stats.dgrams_sent++;
    sim_trace(sim, ep->node, ep->t.id, "dgu_send", (int64_t)len,
              (int64_t)rx->t.id);
    sim_trace(sim, rx->node, rx->t.id, "dgu_arrive", (int64_t)len,
              (int64_t)ep->t.id);
    sim_dg_enqueue(sim, rx, p);
    return 0;
}

/* ------------------------------------------------------------------ */
/* room                                                                */

void sim_dg_unix_taken(tw_sim *sim, const sim_pkt *p)
{
    sim_dg *s = sim_dg_get(sim, p->sender, p->sender_gen);
    if (!s)
        return; /* the sender is gone, and its buffer with it */
    assert(s->unix_tx >= p->len + TW__DGRAM_HEADER);
    s->unix_tx -= p->len + TW__DGRAM_HEADER;
}

void sim_dg_unix_wake(tw_sim *sim, const sim_dg *rx)
{
    struct sim_dgram *dg = sim->dg;
    if (!dg->unix_blocked || sim->nodes[rx->node]->crashing)
        return; /* nobody waits; or every endpoint of the node is dying */
    uint32_t gen = sim_table_gen(&dg->eps, rx->id);
    uint32_t sndbuf = sim_path_opts(sim, rx->node, rx->node)->dgram.sndbuf_bytes;
    for (sim_dg *e = dg->head; e && dg->unix_blocked; e = e->next) {
        if (!e->is_unix || !e->blocked || e->node != rx->node)
            continue;
        if (e->wait_on == SIM_NONE ? e->unix_tx < sndbuf
                                   : e->wait_on == rx->id && e->wait_gen == gen)
            sim_dg_wake(sim, e);
    }
}

/* A name of the node changed hands: senders waiting on a receiver's
 * queue try again (the name may reach another one now). */
static void wake_waiting(tw_sim *sim, uint32_t node)
{
    struct sim_dgram *dg = sim->dg;
    for (sim_dg *e = dg->head; e && dg->unix_blocked; e = e->next)
        if (e->is_unix && e->blocked && e->node == node &&
            e->wait_on != SIM_NONE)
            sim_dg_wake(sim, e);
}

void sim_dg_unix_destroy(tw_sim *sim, sim_dg *ep)
{
    if (ep->blocked) {
        ep->blocked = false;
        sim->dg->unix_blocked--;
    }
    sim_uname *u = ep->ino ? name_by_ino(sim, ep->node, ep->ino) : NULL;
    if (u && sim->nodes[ep->node]->crashing && !abstract(&u->addr)) {
        u->ep = SIM_NONE; /* the process died: its socket file stays */
        sim_trace(sim, ep->node, ep->t.id, "dgu_stale", (int64_t)u->ino, 0);
    } else if (u) {
        sim_trace(sim, ep->node, ep->t.id, "dgu_unlink", (int64_t)u->ino, 0);
        name_drop(sim, u);
    }
    sim_dg_unix_wake(sim, ep);
}

void sim_dg_unix_fini(tw_sim *sim)
{
    while (sim->dg->unames)
        name_drop(sim, sim->dg->unames);
}
