/* sim/server.c - making simulated connections: listeners, connects, the
 * handshake, the accept queue, EMFILE.
 *
 * Map:
 *   addresses  name resolution in the simulated world (names given
 *              addresses, localhost, node names), port choice
 *   listeners  create_server / create_unix_server / close
 *   connect    connect_host / connect_addr / the core's dial: a client
 *              endpoint and a SYN
 *   handshake  SYN at the server node: refused, dropped (cut, full
 *              backlog, crashed node: retried until the connect timeout)
 *              or queued with its server endpoint; SYNACK at the client
 *   accept     up to `backlog` per wake-up; EMFILE pauses the listener for
 *              accept_retry_delay_ns, as asyncio does
 *
 * Both endpoints of a connection exist from the moment the SYN is
 * accepted by the server node's "kernel", so bytes a client sends before
 * the server app accepts are already queued towards it (as with TCP).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sim/dgram.h"
#include "sim/sim.h"

/* ---- addresses ---- */

static bool is_wildcard(const tw_addr *a)
{
    if (tw_addr_family(a) == AF_INET)
        return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
    if (tw_addr_family(a) == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
    return false;
}

static bool same_ip(const tw_addr *a, const tw_addr *b)
{
    tw_addr x = *a, y = *b;
    if (tw_addr_family(&x) == AF_INET)
        x.u.in4.sin_port = y.u.in4.sin_port = 0;
    else if (tw_addr_family(&x) == AF_INET6)
        x.u.in6.sin6_port = y.u.in6.sin6_port = 0;
    return tw_addr_equal(&x, &y);
}

static void set_port(tw_addr *a, uint16_t port)
{
    if (tw_addr_family(a) == AF_INET)
        a->u.in4.sin_port = htons(port);
    else if (tw_addr_family(a) == AF_INET6)
        a->u.in6.sin6_port = htons(port);
}

static sim_host *find_host(tw_sim *sim, const char *name)
{
    for (uint32_t i = 0; i < sim->nhosts; i++)
        if (strcmp(sim->hosts[i].name, name) == 0)
            return &sim->hosts[i];
    return NULL;
}

/* Simulated name resolution: numeric, a name given addresses
 * (tw_sim_set_host), "localhost", or a node's name. Up to max (>= 1)
 * addresses into out, in order; returns how many, or a TW_EAI_* error. */
static int resolve_all(tw_sim *sim, const char *host, uint16_t port,
                       tw_addr *out, int max)
{
    assert(max >= 1);
    if (tw_addr_ip(out, host, port) == 0)
        return 1;
    const sim_host *h = find_host(sim, host);
    if (h) {
        int n = h->n < max ? h->n : max;
        for (int i = 0; i < n; i++) {
            out[i] = h->addrs[i];
            set_port(&out[i], port);
        }
        return n;
    }
    if (strcmp(host, "localhost") == 0)
        return tw_addr_ip(out, "127.0.0.1", port) == 0 ? 1 : -EINVAL;
    tw_loop *l = tw_sim_node(sim, host);
    if (!l)
        return TW_EAI_NONAME; /* no node of that name */
    *out = ((sim_node *)l)->addr;
    set_port(out, port);
    return 1;
}

/* The first address only: what a server listens on. */
static int resolve(tw_sim *sim, const char *host, uint16_t port, tw_addr *out)
{
    int n = resolve_all(sim, host, port, out, 1);
    return n < 0 ? n : 0;
}

int tw_sim_set_host(tw_sim *sim, const char *name, const char *addrs)
{
    if (!sim || !name || !*name || strlen(name) > TW_SIM_HOST_NAME_MAX)
        return -EINVAL;
    tw_addr tmp;
    if (tw_addr_ip(&tmp, name, 0) == 0)
        return -EINVAL; /* a numeric host resolves to itself */
    sim_host h = {.n = 0};
    memcpy(h.name, name, strlen(name) + 1);
    if (addrs) {
        /* "A,B,C": each between commas, none empty. */
        for (const char *p = addrs;;) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            char one[TW_ADDR_STRLEN];
            if (len == 0 || len >= sizeof one || h.n == TW_SIM_HOST_ADDRS_MAX)
                return -EINVAL;
            memcpy(one, p, len);
            one[len] = '\0';
            if (tw_addr_ip(&h.addrs[h.n], one, 0) < 0)
                return -EINVAL;
            h.n++;
            if (!end)
                break;
            p = end + 1;
        }
    }
    sim_host *old = find_host(sim, name);
    if (!addrs) {
        if (old)
            *old = sim->hosts[--sim->nhosts]; /* order does not matter */
        return 0;
    }
    if (old) {
        *old = h;
        return 0;
    }
    if (sim->nhosts >= TW_SIM_HOSTS_MAX)
        return -ENOSPC;
    sim_host *grown = realloc(sim->hosts, (sim->nhosts + 1) * sizeof *grown);
    if (!grown)
        return -ENOMEM;
    sim->hosts = grown;
    sim->hosts[sim->nhosts++] = h;
    return 0;
}

/* The loop ops for the core's lookups (datagram endpoints by name): the
 * answer is known at once, and delivered from the loop as a resolver's
 * would be, by a timer due now: it runs after what the world has already
 * scheduled for this instant (a crash, say). A crash cancels it with the
 * rest of the loop. */
struct sim_lookup {
    tw__resolve_cb cb;
    void *ctx;
    tw_handle h;
    int err, n;
    tw_addr addrs[TW__RESOLVE_MAX];
};

static void lookup_fire(void *p)
{
    struct sim_lookup *r = p;
    tw__resolve_cb cb = r->cb;
    void *ctx = r->ctx;
    int err = r->err, n = r->n;
    tw_addr addrs[TW__RESOLVE_MAX];
    memcpy(addrs, r->addrs, sizeof addrs);
    free(p);
    cb(ctx, err, addrs, err ? 0 : n);
}

void *sim_resolve_op(tw_loop *loop, const char *host, uint16_t port,
                     bool passive, tw__resolve_cb cb, void *ctx, int *err)
{
    sim_node *n = (sim_node *)loop;
    (void)passive;
    if (!n->up) {
        *err = -ENETDOWN;
        return NULL;
    }
    struct sim_lookup *r = calloc(1, sizeof *r);
    if (!r) {
        *err = -ENOMEM;
        return NULL;
    }
    r->cb = cb;
    r->ctx = ctx;
    int got = resolve_all(n->sim, host, port, r->addrs, TW__RESOLVE_MAX);
    r->err = got < 0 ? got : 0;
    r->n = got < 0 ? 0 : got;
    r->h = tw_call_later(loop, 0, lookup_fire, r);
    if (!r->h) {
        free(r);
        *err = -ENOMEM;
        return NULL;
    }
    return r;
}

void sim_resolve_cancel_op(tw_loop *loop, void *req)
{
    struct sim_lookup *r = req;
    tw_handle_cancel(loop, r->h);
    free(r);
}

/* ---- listeners ---- */

static bool overlaps(const tw_addr *a, const tw_addr *b)
{
    if (tw_addr_family(a) != tw_addr_family(b))
        return false;
    if (tw_addr_family(a) == AF_UNIX)
        return tw_addr_equal(a, b);
    return tw_addr_port(a) == tw_addr_port(b) &&
           (is_wildcard(a) || is_wildcard(b) || same_ip(a, b));
}

static sim_listener *find_bound(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    for (sim_listener *l = sim->listeners; l; l = l->next)
        if (l->node == node && !l->unlinked && overlaps(&l->srv.addrs[0], a))
            return l;
    return NULL;
}

/* The listener a dialled address reaches on node `node`. */
static sim_listener *find_listener(tw_sim *sim, uint32_t node, const tw_addr *a)
{
    sim_listener *found = NULL;
    for (sim_listener *l = sim->listeners; l; l = l->next)
        if (l->node == node && !l->unlinked && overlaps(&l->srv.addrs[0], a))
            found = l; /* the oldest one: the list is newest first */
    return found;
}

static uint16_t pick_port(tw_sim *sim, sim_node *n, tw_addr *a)
{
    for (int tries = 0; tries < 30000; tries++) {
        uint16_t p = n->next_listen_port++;
        if (n->next_listen_port >= 32768)
            n->next_listen_port = 10000;
        set_port(a, p);
        if (!find_bound(sim, n->id, a))
            return p;
    }
    return 0;
}

static void listener_close(tw_server *srv)
{
    sim_listener *l = (sim_listener *)srv;
    tw_sim *sim = ((sim_node *)srv->loop)->sim;
    sim_node *n = sim->nodes[l->node];
    for (sim_listener **pp = &sim->listeners; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    while (l->q_head) {
        sim_ep *s = l->q_head;
        l->q_head = s->next_queued;
        if (!n->crashing)
            sim_send_rst(sim, s); /* the queued client learns at once */
        sim_ep_free(sim, s);
    }
    sim_trace(sim, l->node, 0, "unlisten", tw_addr_port(&srv->addrs[0]), 0);
    tw__server_fini(srv);
    sim_table_del(&sim->lsns, l->id);
    free(l);
}

static const tw__server_ops listener_ops = {.close = listener_close};

static int listen_on(sim_node *n, tw_protocol_factory f, void *arg,
                     tw_addr *a, const tw_server_opts *opts, tw_server **out)
{
    tw_sim *sim = n->sim;
    if (!n->up)
        return -ENETDOWN;
    if (tw_addr_family(a) != AF_UNIX) {
        if (tw_addr_port(a) == 0 && pick_port(sim, n, a) == 0)
            return -EADDRINUSE;
        sim_listener *other = find_bound(sim, n->id, a);
        if (other && !(opts && opts->reuse_port))
            return -EADDRINUSE;
    } else {
        /* A path a live server holds is taken, as on the real backend
         * (which asks the socket file with a connect); only a stale
         * socket file is replaced. */
        if (find_bound(sim, n->id, a))
            return -EADDRINUSE;
        int rc = sim_dg_unix_claim(sim, n->id, a); /* sim/dgram_unix.c */
        if (rc < 0)
            return rc;
    }
    sim_listener *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->id = sim_table_add(&sim->lsns, l);
    if (l->id == SIM_NONE) {
        free(l);
        return -ENOMEM;
    }
    l->node = n->id;
    tw__server_init(&l->srv, &n->loop, &listener_ops, f, arg, opts);
    l->srv.addrs[0] = *a;
    l->srv.nlisten = 1;
    l->next = sim->listeners;
    sim->listeners = l;
    sim_trace(sim, n->id, 0, "listen", tw_addr_port(a), l->srv.backlog);
    *out = &l->srv;
    return 0;
}

int sim_create_server(tw_loop *loop, tw_protocol_factory f, void *arg,
                      const char *host, uint16_t port,
                      const tw_server_opts *opts, tw_server **out)
{
    sim_node *n = (sim_node *)loop;
    int family = opts ? opts->family : AF_UNSPEC;
    tw_addr a;
    if (!*host) {
        bool v6 = family == AF_INET6 ||
                  (family == AF_UNSPEC && tw_addr_family(&n->addr) == AF_INET6);
        tw_addr_ip(&a, v6 ? "::" : "0.0.0.0", port);
    } else {
        int rc = resolve(n->sim, host, port, &a);
        if (rc < 0)
            return rc;
        tw_addr lo4, lo6;
        tw_addr_ip(&lo4, "127.0.0.1", port);
        tw_addr_ip(&lo6, "::1", port);
        if (!is_wildcard(&a) && !same_ip(&a, &n->addr) &&
            !same_ip(&a, &lo4) && !same_ip(&a, &lo6))
            return -EADDRNOTAVAIL;
    }
    if (family != AF_UNSPEC && tw_addr_family(&a) != family)
        return -EAFNOSUPPORT;
    return listen_on(n, f, arg, &a, opts, out);
}

int sim_create_unix_server(tw_loop *loop, tw_protocol_factory f, void *arg,
                           const char *path, const tw_server_opts *opts,
                           tw_server **out)
{
    tw_addr a;
    int rc = tw_addr_unix(&a, path);
    if (rc < 0)
        return rc;
    return listen_on((sim_node *)loop, f, arg, &a, opts, out);
}

/* ---- connect ---- */

/* A client endpoint on its way to addr, from local if given (an address
 * of the node's, checked by the caller; port 0: an ephemeral one): its
 * SYN and its connect timeout queued. NULL: out of memory. The caller
 * says what happens once connected. */
static sim_ep *connect_begin(sim_node *n, const tw_addr *addr,
                             const tw_addr *local)
{
    tw_sim *sim = n->sim;
    sim_node *dst = sim_node_by_addr(sim, addr, n);
    sim_ep *c = sim_ep_new(sim, n->id);
    if (!c)
        return NULL;
    c->dial = calloc(1, sizeof *c->dial);
    if (!c->dial) {
        sim_ep_free(sim, c);
        return NULL;
    }
    c->connecting = true;
    c->peer_node = dst ? dst->id : n->id;
    tw_addr src;
    memset(&src, 0, sizeof src);
    if (tw_addr_family(addr) == AF_UNIX) {
        c->is_unix = true;
        src.len = offsetof(struct sockaddr_un, sun_path);
        src.u.un.sun_family = AF_UNIX;
    } else {
        /* The source address: loopback for loopback, else the node's. */
        if (dst == n && !same_ip(addr, &n->addr))
            src = *addr;
        else
            src = n->addr;
        if (tw_addr_family(&src) != tw_addr_family(addr))
            src = *addr;
        if (local && !sim_dg_ip_is_wildcard(local))
            src = *local;
        if (local && tw_addr_port(local)) {
            set_port(&src, tw_addr_port(local));
        } else {
            set_port(&src, n->next_ephemeral++);
            if (n->next_ephemeral >= 61000 || n->next_ephemeral < 32768)
                n->next_ephemeral = 32768;
        }
    }
    if (tw__taddr_set(&c->t.peer, addr) < 0 || tw__taddr_set(&c->t.local, &src) < 0) {
        sim_ep_free(sim, c);
        return NULL;
    }
    tw__loop_ref(&n->loop);
    sim->stats.connects++;
    sim_trace(sim, n->id, 0, "connect", c->id, dst ? (int64_t)dst->id : -1);
    sim_limits_connect(sim, n);
    uint32_t gen = sim_table_gen(&sim->eps, c->id);
    bool blackhole = !dst || tw_sim_prng_chance(&sim->rng_fault,
                                                sim->opts.connect_timeout_probability);
    if (sim_tapping(sim) && !c->is_unix) {
        tw_sim_packet_event ev = blackhole ? TW_SIM_PACKET_LOST : TW_SIM_PACKET_SENT;
        if (dst)
            sim_tap_tcp(sim, c, true, ev, TW_SIM_PACKET_SYN, 0, sim->now, 0, NULL, 0, 0);
        else /* an address no node has */
            sim_tap_ip(sim, ev, TW_SIM_PACKET_SYN, 0, sim->now, n->id,
                       TW_SIM_PACKET_NOBODY, &src, addr, NULL, 0, 0);
    }
    if (!blackhole)
        sim_push(sim, sim->now + sim_latency(sim, n->id, c->peer_node), EV_SYN,
                 c->id, gen, 0);
    sim_push(sim, sim->now + sim->opts.connect_timeout_ns, EV_CONN_TIMEOUT,
             c->id, gen, 0);
    return c;
}

int sim_connect_addr(tw_loop *loop, tw_protocol_factory f, void *arg,
                     const tw_addr *addr, tw_connect_cb cb)
{
    sim_node *n = (sim_node *)loop;
    if (!n->up)
        return -ENETDOWN;
    sim_ep *c = connect_begin(n, addr, NULL);
    if (!c)
        return -ENOBUFS;
    c->dial->factory = f;
    c->dial->arg = arg;
    c->dial->cb = cb;
    return 0;
}

void *sim_dial_op(tw_loop *loop, const tw_addr *addr, const tw_addr *local,
                  tw__dial_cb cb, void *ctx, int *err)
{
    sim_node *n = (sim_node *)loop;
    if (!n->up) {
        *err = -ENETDOWN;
        return NULL;
    }
    /* bind(2)'s rule: an address of this host's, or any. */
    if (local && !sim_dg_ip_is_wildcard(local) && !same_ip(local, &n->addr) &&
        !sim_dg_ip_is_loopback(local)) {
        *err = -EADDRNOTAVAIL;
        return NULL;
    }
    sim_ep *c = connect_begin(n, addr, local);
    if (!c) {
        *err = -ENOBUFS;
        return NULL;
    }
    c->dial->dial_cb = cb;
    c->dial->dial_ctx = ctx;
    return c;
}

void sim_dial_cancel_op(tw_loop *loop, void *req)
{
    sim_node *n = (sim_node *)loop;
    tw_sim *sim = n->sim;
    sim_ep *c = req;
    assert(c->connecting && !c->opened && c->dial->dial_cb);
    c->connecting = false;
    sim_trace(sim, n->id, 0, "connect_cancel", c->id, 0);
    tw__loop_unref(loop);
    sim_send_rst(sim, c); /* a half-made server end, if any, goes too */
    sim_ep_free(sim, c);
}

int sim_connect_host(tw_loop *loop, tw_protocol_factory f, void *arg,
                     const char *host, uint16_t port, tw_connect_cb cb)
{
    sim_node *n = (sim_node *)loop;
    tw_addr a[TW__RESOLVE_MAX];
    int rc = resolve_all(n->sim, host, port, a, TW__RESOLVE_MAX);
    if (rc < 0) {
        /* Resolution fails from the loop, as a real resolver would. */
        if (!n->up)
            return -ENETDOWN;
        tw__connect_fail(loop, cb, arg, rc);
        return 0;
    }
    if (rc > 1) /* each in turn, as the real backend tries them */
        return tw_create_connection_addrs(loop, f, arg, a, rc, NULL, cb);
    return sim_connect_addr(loop, f, arg, &a[0], cb);
}

static void connect_fail(tw_sim *sim, sim_ep *c, int err)
{
    sim_node *n = sim->nodes[c->node];
    c->connecting = false;
    if (err != -ETIMEDOUT)
        sim->stats.refused++;
    else
        sim->stats.timeouts++;
    sim_trace(sim, n->id, 0, "connect_failed", c->id, -err);
    tw__dial_cb dcb = c->dial->dial_cb;
    void *ctx = c->dial->dial_ctx;
    if (!dcb)
        tw__connect_fail(&n->loop, c->dial->cb, c->dial->arg, err);
    tw__loop_unref(&n->loop);
    sim_send_rst(sim, c); /* a half-made server end, if any, goes too */
    sim_ep_free(sim, c);
    if (dcb)
        dcb(ctx, err, NULL); /* last: it may dial again */
}

/* ---- handshake ---- */

static void syn_retry(tw_sim *sim, sim_ep *c, uint64_t tries)
{
    if (tries >= 8)
        return; /* the connect timeout ends it */
    tw_ns delay = sim->opts.syn_rto_ns << tries;
    if (sim_tapping(sim))
        sim_tap_tcp(sim, c, true, TW_SIM_PACKET_SENT, TW_SIM_PACKET_SYN,
                    TW_SIM_PACKET_RETRANSMIT, sim->now + delay, 0, NULL, 0, 0);
    sim_push(sim, sim->now + delay + sim_latency(sim, c->node, c->peer_node),
             EV_SYN, c->id, sim_table_gen(&sim->eps, c->id), tries + 1);
}

static void on_syn(tw_sim *sim, sim_ep *c, uint64_t tries)
{
    sim_node *dst = sim->nodes[c->peer_node];
    if (!dst->up || sim_path_blocks(sim, c->node, dst->id)) {
        if (sim_tapping(sim))
            sim_tap_tcp(sim, c, true, TW_SIM_PACKET_DROPPED, TW_SIM_PACKET_SYN, 0,
                        sim->now, 0, NULL, 0, 0);
        return syn_retry(sim, c, tries);
    }
    sim_path *p = sim_path_of(sim, c->node, dst->id);
    if (p->clog_until > sim->now) {
        sim_push(sim, p->clog_until, EV_SYN, c->id,
                 sim_table_gen(&sim->eps, c->id), tries);
        return;
    }
    if (sim_tapping(sim))
        sim_tap_tcp(sim, c, true, TW_SIM_PACKET_ARRIVED, TW_SIM_PACKET_SYN, 0,
                    sim->now, 0, NULL, 0, 0);
    tw_ns back = sim->now + sim_latency(sim, dst->id, c->node);
    tw_addr to;
    tw__taddr_get(&c->t.peer, &to);
    sim_listener *l = find_listener(sim, dst->id, &to);
    if (l && l->q_len >= (uint32_t)l->srv.backlog) {
        sim_trace(sim, dst->id, 0, "syn_dropped", c->id, l->q_len);
        return syn_retry(sim, c, tries);
    }
    sim_ep *s = NULL;
    if (l) {
        s = sim_ep_new(sim, dst->id);
        if (!s)
            return syn_retry(sim, c, tries);
        if (l->refuse_syn && l->refuse_syn(l->refuse_arg)) {
            sim_ep_free(sim, s); /* its owner answers as a closed port */
            l = NULL;
        }
    }
    if (!l) {
        /* A Unix name a datagram endpoint has is a socket of another
         * type: Linux says EPROTOTYPE (the event's arg carries it). */
        int err = c->is_unix ? sim_dg_unix_stream_refusal(sim, dst->id, &to)
                             : -ECONNREFUSED;
        sim_trace(sim, dst->id, 0, "refuse", c->id, tw_addr_port(&to));
        bool blocked = sim_path_blocks(sim, dst->id, c->node);
        if (sim_tapping(sim)) /* the reset answering it */
            sim_tap_tcp(sim, c, false, blocked ? TW_SIM_PACKET_LOST : TW_SIM_PACKET_SENT,
                        TW_SIM_PACKET_RST, 0, sim->now, 0, NULL, 0, 0);
        if (!blocked)
            sim_push(sim, back, EV_REFUSED, c->id, sim_table_gen(&sim->eps, c->id),
                     err == -ECONNREFUSED ? 0 : (uint64_t)-err);
        return;
    }
    s->peer_node = c->node;
    assert(!s->peer && !c->peer); /* a pair is made once */
    s->peer = c;
    c->peer = s;
    if (tw__taddr_copy(&s->t.local, &c->t.peer) < 0 ||
        tw__taddr_copy(&s->t.peer, &c->t.local) < 0) {
        sim_ep_free(sim, s);
        return syn_retry(sim, c, tries);
    }
    s->is_unix = c->is_unix;
    s->queued = true;
    if (l->q_tail)
        l->q_tail->next_queued = s;
    else
        l->q_head = s;
    l->q_tail = s;
    l->q_len++;
    sim_trace(sim, dst->id, 0, "syn", c->id, s->id);
    if (sim_tapping(sim))
        sim_tap_tcp(sim, s, true, TW_SIM_PACKET_SENT, TW_SIM_PACKET_SYNACK, 0,
                    sim->now, 0, NULL, 0, 0);
    if (!l->accept_pending) {
        l->accept_pending = true;
        sim_push(sim, sim->now, EV_ACCEPT, l->id, sim_table_gen(&sim->lsns, l->id), 0);
    }
    sim_push(sim, back, EV_SYNACK, c->id, sim_table_gen(&sim->eps, c->id), 0);
}

/* ---- accept ---- */

static sim_ep *dequeue(sim_listener *l)
{
    sim_ep *s = l->q_head;
    assert(s && l->q_len > 0);
    l->q_head = s->next_queued;
    if (!l->q_head)
        l->q_tail = NULL;
    l->q_len--;
    s->next_queued = NULL;
    s->queued = false;
    return s;
}

static void on_accept(tw_sim *sim, uint32_t id, uint32_t gen)
{
    sim_listener *l = sim_table_get(&sim->lsns, id, gen);
    if (!l)
        return;
    l->accept_pending = false;
    sim_node *n = sim->nodes[l->node];
    for (int k = 0; k < l->srv.backlog && l->q_head; k++) {
        if (n->emfile_left) {
            n->emfile_left--;
            sim_trace(sim, n->id, 0, "accept_emfile", l->q_len, 0);
            l->accept_pending = true;
            sim_push(sim, sim->now + sim->opts.accept_retry_delay_ns, EV_ACCEPT,
                     id, gen, 0);
            tw__server_accept_error(&l->srv, -EMFILE); /* may close it */
            return;
        }
        sim_ep *s = dequeue(l);
        l->srv.accepted++;
        sim->stats.accepts++;
        sim_trace(sim, n->id, 0, "accept", s->id, l->q_len);
        sim_ep_open(sim, s, l->srv.factory, l->srv.arg, NULL);
        /* The factory may have closed the server. */
        if (sim_table_get(&sim->lsns, id, gen) != l)
            return;
    }
    if (l->q_head && !l->accept_pending) {
        l->accept_pending = true;
        sim_push(sim, sim->now, EV_ACCEPT, id, gen, 0);
    }
}

void sim_server_event(tw_sim *sim, const sim_event *ev)
{
    if (ev->type == EV_ACCEPT)
        return on_accept(sim, ev->obj, ev->gen);
    sim_ep *c = sim_ep_get(sim, ev->obj, ev->gen);
    if (!c || !c->connecting)
        return;
    switch (ev->type) {
    case EV_SYN:
        on_syn(sim, c, ev->arg);
        break;
    case EV_SYNACK: {
        sim_node *n = sim->nodes[c->node];
        if (sim_tapping(sim))
            sim_tap_tcp(sim, c, false, TW_SIM_PACKET_ARRIVED, TW_SIM_PACKET_SYNACK, 0,
                        sim->now, 0, NULL, 0, 0);
        c->connecting = false;
        tw__loop_unref(&n->loop);
        sim_trace(sim, n->id, 0, "connected", c->id, 0);
        sim_ep_dial *d = c->dial;
        if (d->dial_cb) {
            /* The core's race: it says how to open, or that this lost. */
            tw__dial_cb dcb = d->dial_cb;
            tw__dial_open how;
            d->dial_cb = NULL;
            if (!dcb(d->dial_ctx, 0, &how)) {
                sim_send_rst(sim, c);
                sim_ep_free(sim, c);
                break;
            }
            sim_ep_open(sim, c, how.factory, how.arg, how.cb);
            break;
        }
        sim_ep_open(sim, c, d->factory, d->arg, d->cb);
        break;
    }
    case EV_REFUSED:
        if (sim_tapping(sim))
            sim_tap_tcp(sim, c, false, TW_SIM_PACKET_ARRIVED, TW_SIM_PACKET_RST, 0,
                        sim->now, 0, NULL, 0, 0);
        connect_fail(sim, c, ev->arg ? -(int)ev->arg : -ECONNREFUSED);
        break;
    case EV_CONN_TIMEOUT:
        connect_fail(sim, c, -ETIMEDOUT);
        break;
    default:
        assert(!"not a server event");
    }
}
