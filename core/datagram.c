/* core/datagram.c - datagram endpoints, the rules both backends share.
 *
 * Map:
 *   1. tw_create_datagram_endpoint: argument checks, then the backend
 *   2. sendto: the destination rule, the send tried at once, the queue
 *   3. the flush when the backend says it can send again; clear
 *   4. the DATAGRAM kind's class, which holds 2 and 3
 *
 * The split is the one of core/transport.c: a backend only tries to send
 * one datagram now (ops->sendto: sent, -EAGAIN, or an error about that
 * datagram) and says when it could send again (tw__transport_writable).
 * The queue of datagrams it could not take, the header accounting of the
 * write buffer size, the watermarks, error_received for errors of a send,
 * and close's flush all live here, so the two worlds cannot differ on
 * them.
 *
 * asyncio's _SelectorDatagramTransport is the model, with one fix: its
 * flush subtracts a datagram's length but not its 8-byte header from the
 * buffer size; here a datagram counts len + 8 from queueing to sending.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "twin/record.h"
#include "twin/datagram.h"

/* One datagram that could not be sent at once. */
struct tw__dgram {
    struct tw__dgram *next;
    tw_addr addr;   /* len 0: the connected remote */
    size_t len;
    uint8_t data[]; /* a copy: the caller's buffer is free at once */
};

/* ------------------------------------------------------------------ */
/* 1. making an endpoint                                               */

static bool family_known(int f)
{
    return f == AF_INET || f == AF_INET6 || f == AF_UNIX;
}

/* The endpoint's family from the options, or a negative errno. Checked
 * here once so that both backends refuse the same input alike. */
static int opts_family(const tw_datagram_opts *o)
{
    int lf = tw_addr_family(&o->local), rf = tw_addr_family(&o->remote);
    if ((o->local.len && !family_known(lf)) ||
        (o->remote.len && !family_known(rf)))
        return -EINVAL;
    if (o->family != AF_UNSPEC && !family_known(o->family))
        return -EAFNOSUPPORT;
    int f = o->family != AF_UNSPEC ? o->family : lf != AF_UNSPEC ? lf : rf;
    if (f == AF_UNSPEC)
        return -EINVAL; /* asyncio: "unexpected address family" */
    if ((lf != AF_UNSPEC && lf != f) || (rf != AF_UNSPEC && rf != f))
        return -EINVAL;
    return f;
}

/* Make the endpoint from numeric addresses only (o's hosts unset). */
static int create_now(tw_loop *loop, tw_protocol_factory factory, void *arg,
                      const tw_datagram_opts *opts, tw_connect_cb cb)
{
    int f = opts_family(opts);
    if (f < 0)
        return f;
    /* A UDP datagram cannot be sent to port 0 (the kernel says EINVAL
     * on every send): refuse the endpoint rather than each sendto. */
    if (f != AF_UNIX && opts->remote.len && tw_addr_port(&opts->remote) == 0)
        return -EINVAL;
    if (!loop->ops->create_datagram_endpoint)
        return -ENOTSUP;
    tw_datagram_opts o = *opts;
    o.family = f;
    return loop->ops->create_datagram_endpoint(loop, factory, arg, &o, cb);
}

/* An endpoint waiting for the names of its ends (LOCAL, REMOTE). It holds
 * a loop ref and is listed in loop->lookups until it ends: made (or
 * failed) from the loop, or dropped with the loop. */
enum { LOCAL, REMOTE };

struct lookup {
    tw__list link;
    tw_loop *loop;
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    tw_datagram_opts o; /* numeric ends set, named ends to fill in */
    int want;           /* the family asked for, or AF_UNSPEC */
    void *req[2];       /* the backend's lookups still running */
    bool named[2];
    int n[2];
    tw_addr addrs[2][TW__RESOLVE_MAX];
};

static void lookup_free(struct lookup *k)
{
    for (int e = LOCAL; e <= REMOTE; e++)
        if (k->req[e]) {
            k->loop->ops->resolve_cancel(k->loop, k->req[e]);
            k->req[e] = NULL;
        }
    tw__list_remove(&k->link);
    tw__loop_unref(k->loop);
    free(k);
}

void tw__dgram_lookups_cancel(tw_loop *loop)
{
    while (!tw__list_empty(&loop->lookups))
        lookup_free(tw__container_of(loop->lookups.next, struct lookup, link));
}

/* The first address of `end` of family f (AF_UNSPEC: any), or NULL. */
static const tw_addr *first_of(const struct lookup *k, int end, int f)
{
    for (int i = 0; i < k->n[end]; i++)
        if (f == AF_UNSPEC || tw_addr_family(&k->addrs[end][i]) == f)
            return &k->addrs[end][i];
    return NULL;
}

/* Every name is known: pick the addresses, then make the endpoint. The
 * lookup is gone before any callback of the user's runs. */
static void lookup_finish(struct lookup *k, int err)
{
    tw_loop *loop = k->loop;
    tw_protocol_factory factory = k->factory;
    void *arg = k->arg;
    tw_connect_cb cb = k->cb;
    tw_datagram_opts o = k->o;
    if (err == 0 && k->named[LOCAL] && k->named[REMOTE] &&
        k->want == AF_UNSPEC) {
        /* asyncio pairs them up: the first local address that has a
         * remote address of its family. */
        const tw_addr *r = NULL;
        for (int i = 0; i < k->n[LOCAL] && !r; i++) {
            r = first_of(k, REMOTE, tw_addr_family(&k->addrs[LOCAL][i]));
            if (r) {
                o.local = k->addrs[LOCAL][i];
                o.remote = *r;
            }
        }
        if (!r)
            err = -EAFNOSUPPORT;
    } else if (err == 0) {
        for (int e = LOCAL; e <= REMOTE && err == 0; e++) {
            if (!k->named[e])
                continue;
            const tw_addr *a = first_of(k, e, k->want);
            if (!a)
                err = -EAFNOSUPPORT; /* none of the family wanted */
            else if (e == LOCAL)
                o.local = *a;
            else
                o.remote = *a;
        }
    }
    lookup_free(k);
    if (err == 0)
        err = create_now(loop, factory, arg, &o, cb);
    if (err < 0 && cb)
        cb(arg, NULL, err); /* from the loop already: the resolver's call */
}

static void lookup_done(struct lookup *k, int end, int err,
                        const tw_addr *addrs, int n)
{
    k->req[end] = NULL;
    if (err == 0) {
        assert(n > 0);
        if (n > TW__RESOLVE_MAX)
            n = TW__RESOLVE_MAX;
        memcpy(k->addrs[end], addrs, (size_t)n * sizeof *addrs);
        k->n[end] = n;
    }
    /* A failure ends it at once (the other lookup is cancelled). */
    if (err < 0 || (!k->req[LOCAL] && !k->req[REMOTE]))
        lookup_finish(k, err);
}

static void local_done(void *ctx, int err, const tw_addr *addrs, int n)
{
    lookup_done(ctx, LOCAL, err, addrs, n);
}

static void remote_done(void *ctx, int err, const tw_addr *addrs, int n)
{
    lookup_done(ctx, REMOTE, err, addrs, n);
}

/* Set an end given by host: 1 when numeric (*out is set), 0 for a name to
 * resolve (*out is left empty), -EINVAL for an empty host. */
static int host_end(const char *host, uint16_t port, tw_addr *out)
{
    if (!*host)
        return -EINVAL;
    if (tw_addr_ip(out, host, port) == 0)
        return 1;
    memset(out, 0, sizeof *out); /* len 0 until the name is known */
    return 0;
}

int tw_create_datagram_endpoint(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const tw_datagram_opts *opts,
                                tw_connect_cb cb)
{
    if (!loop || !factory || !opts)
        return -EINVAL;
    tw_datagram_opts o = *opts;
    o.local_host = o.remote_host = NULL;
    const char *host[2] = {opts->local_host, opts->remote_host};
    bool named[2] = {false, false};
    for (int e = LOCAL; e <= REMOTE; e++) {
        if (!host[e])
            continue;
        tw_addr *a = e == LOCAL ? &o.local : &o.remote;
        int rc = host_end(host[e], e == LOCAL ? opts->local_port
                                              : opts->remote_port, a);
        if (rc < 0)
            return rc;
        named[e] = rc == 0;
    }
    if (!named[LOCAL] && !named[REMOTE])
        return create_now(loop, factory, arg, &o, cb);

    /* What can be told without the names is told now, by the call. */
    if (o.family == AF_UNIX)
        return -EINVAL;
    int want = AF_UNSPEC;
    if (o.family != AF_UNSPEC || o.local.len || o.remote.len) {
        want = opts_family(&o);
        if (want < 0)
            return want;
        if (want == AF_UNIX)
            return -EINVAL; /* a host with a Unix other end */
    }
    if (named[REMOTE] && opts->remote_port == 0)
        return -EINVAL;
    if (o.remote.len && tw_addr_port(&o.remote) == 0)
        return -EINVAL;
    if (!loop->ops->create_datagram_endpoint || !loop->ops->resolve)
        return -ENOTSUP;
    struct lookup *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->loop = loop;
    k->factory = factory;
    k->arg = arg;
    k->cb = cb;
    k->o = o;
    k->want = want;
    tw__list_push(&loop->lookups, &k->link);
    tw__loop_ref(loop);
    for (int e = LOCAL; e <= REMOTE; e++) {
        if (!named[e])
            continue;
        k->named[e] = true;
        int err = 0;
        k->req[e] = loop->ops->resolve(
            loop, host[e], e == LOCAL ? opts->local_port : opts->remote_port,
            e == LOCAL, e == LOCAL ? local_done : remote_done, k, &err);
        if (!k->req[e]) {
            lookup_free(k); /* cancels the other one, if started */
            return err < 0 ? err : -ENOMEM;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* 2. sendto                                                           */

/* Where a datagram goes: *dest NULL for the connected remote. Errors are
 * about the call (returned by sendto), not about the network. */
static int destination(const tw_transport *t, const tw_addr *addr,
                       const tw_addr **dest)
{
    *dest = NULL;
    if (t->peer.len) {
        /* asyncio: "Invalid address: must be None or <remote>". */
        if (addr) {
            tw_addr peer;
            tw__taddr_peek(&t->peer, &peer);
            if (!tw_addr_equal(addr, &peer))
                return -EINVAL;
        }
        return 0;
    }
    if (!addr || addr->len == 0)
        return -EDESTADDRREQ;
    int f = tw_addr_family(addr);
    /* No local address: an unbound Unix socket (IP endpoints are always
     * bound, to a port of the system's choice at least). */
    int lf = t->local.len ? tw__taddr_family(&t->local) : AF_UNIX;
    if (f != lf)
        return -EAFNOSUPPORT;
    if (f != AF_UNIX && tw_addr_port(addr) == 0)
        return -EINVAL;
    *dest = addr;
    return 0;
}

/* The oldest datagram queued, or NULL (t->k.dq is the newest, and the
 * queue a ring through next). */
static struct tw__dgram *dq_head(const tw_transport *t)
{
    return t->k.dq ? t->k.dq->next : NULL;
}

/* The queue's bookkeeping: empty exactly when nothing is counted, and a
 * ring. Each datagram counts len + 8 in queued, so a queue of any
 * datagram counts at least 8. */
static void queue_check(const tw_transport *t)
{
    assert((t->k.dq == NULL) == (t->queued == 0));
    assert(!t->k.dq || t->k.dq->next);
    assert(!t->k.dq || t->queued >= dq_head(t)->len + TW__DGRAM_HEADER);
}

static int enqueue(tw_transport *t, const void *data, size_t len,
                   const tw_addr *dest)
{
    queue_check(t);
    struct tw__dgram *d = malloc(sizeof *d + len);
    if (!d)
        return -ENOMEM;
    if (dest)
        d->addr = *dest;
    else
        d->addr.len = 0;
    d->len = len;
    if (len)
        memcpy(d->data, data, len);
    if (t->k.dq) { /* after the newest, before the oldest */
        d->next = t->k.dq->next;
        t->k.dq->next = d;
    } else {
        d->next = d;
    }
    t->k.dq = d;
    t->queued += len + TW__DGRAM_HEADER;
    queue_check(t);
    return 0;
}

/* The public call, after transport.c's checks (class, closing, data). */
static int dgram_sendto(tw_transport *t, const void *data, size_t len,
                        const tw_addr *addr)
{
    assert(tw__cls(t) == &tw__datagram_class);
    assert(!(t->flags & TW__T_CLOSING));
    assert(t->wbuf.size == 0); /* a datagram queues whole, never as bytes */
    const tw_addr *dest;
    int rc = destination(t, addr, &dest);
    if (rc < 0)
        return rc;
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_SENDTO, data, len, addr, 0);
    if (t->k.dq == NULL) {
        /* Nothing queued: the order cannot be broken, try it now. */
        rc = t->ops->sendto(t, data, len, dest);
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN) {
            /* About this datagram, not the call: asyncio reports the
             * OSError of a send to error_received and goes on. */
            tw__transport_error_received(t, rc);
            return 0;
        }
    }
    rc = enqueue(t, data, len, dest);
    if (rc < 0)
        return rc;
    tw__transport_arm_write(t, true);
    tw__transport_maybe_pause(t);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 3. flush and clear                                                  */

static void pop(tw_transport *t)
{
    queue_check(t);
    struct tw__dgram *d = dq_head(t);
    assert(d);
    if (d == t->k.dq)
        t->k.dq = NULL;
    else
        t->k.dq->next = d->next;
    assert(t->queued >= d->len + TW__DGRAM_HEADER);
    t->queued -= d->len + TW__DGRAM_HEADER;
    free(d);
    queue_check(t);
}

/* A queue of datagrams, not bytes: send them in order, then resume or
 * close as the stream flush does. */
static void dgram_writable(tw_transport *t)
{
    assert(tw__cls(t) == &tw__datagram_class && !(t->flags & TW__T_LOST));
    queue_check(t);
    for (int i = 0; i < TW__DGRAM_FLUSH_MAX && t->k.dq; i++) {
        struct tw__dgram *d = dq_head(t);
        int rc = t->ops->sendto(t, d->data, d->len, d->addr.len ? &d->addr : NULL);
        if (rc == -EAGAIN)
            break;
        pop(t);
        if (rc < 0) {
            /* May close or abort (abort clears the queue): re-read. */
            tw__transport_error_received(t, rc);
            if (t->flags & TW__T_LOST)
                return;
        }
    }
    tw__transport_maybe_resume(t); /* may sendto more, or close */
    queue_check(t);
    if ((t->flags & TW__T_LOST) || t->k.dq)
        return;
    tw__transport_arm_write(t, false);
    if (t->flags & TW__T_CLOSING)
        tw__transport_finish(t, 0);
}

/* Drop every queued datagram (abort, fatal errors, the end, teardown). */
static void dgram_clear(tw_transport *t)
{
    assert(tw__cls(t) == &tw__datagram_class);
    while (t->k.dq)
        pop(t);
    assert(t->queued == 0); /* every byte counted was a queued datagram's */
}

/* ------------------------------------------------------------------ */
/* 4. the class                                                        */

/* DatagramTransport: reads datagrams (no pause_reading), sends them with
 * sendto through the queue above, whose size the watermarks apply to;
 * close() waits for the queue, abort() drops it. */
const tw__transport_class tw__datagram_class = {
    .kind = TW_TRANSPORT_DATAGRAM,
    .reads = true,
    .limits = true,
    .abort = true,
    .writable = dgram_writable,
    .sendto = dgram_sendto,
    .clear = dgram_clear,
};
