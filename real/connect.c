/* real/connect.c - client connections: by address, by host name, and by
 * an existing socket.
 *
 * Map:
 *   1. the connect attempt: one state struct for the whole operation
 *   2. endings: success (a transport), failure, cancel by the loop
 *   3. trying addresses in turn, non-blocking connect, SO_ERROR
 *   4. the ops: connect_addr, connect_host, connect_fd, dial
 *
 * A dial (the core's single attempt, core/connect.c) is the same state
 * with the core's callback in place of the user's: it reports to the
 * core synchronously from the loop and lets it choose how to open.
 *
 * Errors about the call itself (no socket could be made for a single
 * address, out of memory, no thread for the resolver) are returned and
 * the callback is never called; everything the network decides (refused,
 * unreachable, unknown host) arrives through the callback from the loop.
 */
#include "real/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

/* ------------------------------------------------------------------ */
/* 1. the attempt                                                      */

struct real_connect {
    struct real_pending pend; /* in the loop's pending list, holds a ref */
    struct real_io io;        /* the socket while connect is in progress */
    struct real_loop *l;
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    tw__dial_cb dial_cb;      /* a dial: the core's callback, else NULL */
    void *dial_ctx;
    struct real_resolve *res; /* while the host name is being resolved */
    tw_addr addrs[TW__REAL_ADDRS_MAX];
    int naddrs, next;
    int last_err;
};

static void connect_cancel(struct real_pending *p);
static void connect_ready(struct real_io *io, uint32_t events);

static struct real_connect *connect_new(struct real_loop *l,
                                        tw_protocol_factory factory,
                                        void *arg, tw_connect_cb cb)
{
    struct real_connect *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->pend.cancel = connect_cancel;
    c->io.cb = connect_ready;
    c->io.fd = -1;
    c->l = l;
    c->factory = factory;
    c->arg = arg;
    c->cb = cb;
    c->last_err = -EHOSTUNREACH; /* if there is no address to try at all */
    tw__list_push(&l->pending, &c->pend.link);
    tw__loop_ref(&l->base);
    return c;
}

/* Unlist, unref and free; the socket, if any, is the caller's. */
static void connect_free(struct real_connect *c)
{
    assert(c->io.fd < 0 && c->res == NULL);
    tw__list_remove(&c->pend.link);
    tw__loop_unref(&c->l->base);
    free(c);
}

/* Stop watching the socket and hand it back. */
static int connect_take_fd(struct real_connect *c)
{
    int fd = c->io.fd;
    tw__real_io_set(c->l, &c->io, 0);
    c->io.fd = -1;
    return fd;
}

/* ------------------------------------------------------------------ */
/* 2. endings                                                          */

static void connect_done(struct real_connect *c, int fd)
{
    struct real_loop *l = c->l;
    tw_protocol_factory factory = c->factory;
    void *arg = c->arg;
    tw_connect_cb cb = c->cb;
    if (c->dial_cb) {
        /* The core says how to open it (or that it lost a race). */
        tw__dial_cb dcb = c->dial_cb;
        void *ctx = c->dial_ctx;
        connect_free(c);
        tw__dial_open how;
        if (!dcb(ctx, 0, &how)) {
            tw_sys.close(fd);
            return;
        }
        factory = how.factory;
        arg = how.arg;
        cb = how.cb;
    } else {
        connect_free(c);
    }
    tw_transport *t = tw__real_stream_new(l, fd);
    if (t == NULL) {
        tw_sys.close(fd);
        tw__connect_fail(&l->base, cb, arg, -ENOMEM);
        return;
    }
    /* On a factory failure the core destroys t (closing fd) and reports
     * -ENOMEM through cb itself: nothing is left for us to do. */
    tw__transport_open(t, factory, arg, cb);
}

static void connect_failed(struct real_connect *c)
{
    if (c->dial_cb) {
        tw__dial_cb dcb = c->dial_cb;
        void *ctx = c->dial_ctx;
        int err = c->last_err;
        connect_free(c);
        dcb(ctx, err, NULL); /* last: it may start another dial */
        return;
    }
    tw__connect_fail(&c->l->base, c->cb, c->arg, c->last_err);
    connect_free(c);
}

/* The loop is being freed: no callback, just release. */
static void connect_cancel(struct real_pending *p)
{
    struct real_connect *c = tw__container_of(p, struct real_connect, pend);
    if (c->res != NULL) {
        tw__real_resolve_cancel(c->res);
        c->res = NULL;
    }
    if (c->io.fd >= 0)
        tw_sys.close(connect_take_fd(c));
    connect_free(c);
}

/* ------------------------------------------------------------------ */
/* 3. trying addresses                                                 */

static int stream_socket(int family)
{
    int fd = tw_sys.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           0);
    return fd < 0 ? -errno : fd;
}

/* Start connecting fd to the current address. Returns true when the
 * operation went on (connected, or now waiting for EPOLLOUT), false when
 * this address failed (fd closed, last_err set). */
static bool connect_start(struct real_connect *c, int fd)
{
    const tw_addr *a = &c->addrs[c->next];
    int r = tw_sys.connect(fd, &a->u.sa, a->len);
    if (r == 0 && !c->dial_cb) {
        connect_done(c, fd); /* Unix sockets usually connect at once */
        return true;
    }
    /* EINTR: the connect goes on in the background, as EINPROGRESS. A
     * full Unix listen queue gives EAGAIN: reported as is (asyncio's
     * behaviour too), retrying could wait forever. A dial never reports
     * inside the call: one connected at once hears it from EPOLLOUT,
     * which comes at once, from the loop. */
    if (r == 0 || errno == EINPROGRESS || errno == EINTR) {
        c->io.fd = fd;
        r = tw__real_io_set(c->l, &c->io, EPOLLOUT);
        if (r == 0)
            return true;
        c->io.fd = -1;
    } else {
        r = -errno;
    }
    tw_sys.close(fd);
    c->last_err = r;
    return false;
}

/* Try the addresses from c->next on until one goes on; when none is left
 * report the last error. */
static void connect_try(struct real_connect *c)
{
    for (; c->next < c->naddrs; c->next++) {
        int fd = stream_socket(tw_addr_family(&c->addrs[c->next]));
        if (fd < 0) {
            c->last_err = fd;
            continue;
        }
        if (connect_start(c, fd))
            return;
    }
    connect_failed(c);
}

/* EPOLLOUT (or ERR/HUP) on a connecting socket: SO_ERROR says how the
 * connect ended. */
static void connect_ready(struct real_io *io, uint32_t events)
{
    struct real_connect *c = tw__container_of(io, struct real_connect, io);
    int err = 0;
    socklen_t len = sizeof err;
    if (tw_sys.getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err == 0) {
        connect_done(c, connect_take_fd(c));
        return;
    }
    tw_sys.close(connect_take_fd(c));
    c->last_err = -err;
    c->next++;
    connect_try(c);
}

static void connect_resolved(void *ctx, int err, const tw_addr *addrs,
                             int n)
{
    struct real_connect *c = ctx;
    c->res = NULL;
    if (err != 0) {
        c->last_err = err;
        connect_failed(c);
        return;
    }
    assert(n > 0 && n <= TW__REAL_ADDRS_MAX);
    for (int i = 0; i < n; i++)
        c->addrs[i] = addrs[i];
    c->naddrs = n;
    connect_try(c);
}

/* ------------------------------------------------------------------ */
/* 4. the ops                                                          */

int tw__real_connect_addr(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const tw_addr *addr, tw_connect_cb cb)
{
    int family = tw_addr_family(addr);
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
        return -EAFNOSUPPORT;
    /* The socket is made before anything is scheduled, so running out of
     * descriptors is the call's error, returned, as asyncio raises it. */
    int fd = stream_socket(family);
    if (fd < 0)
        return fd;
    struct real_connect *c = connect_new(tw__real_loop(loop), factory, arg,
                                         cb);
    if (c == NULL) {
        tw_sys.close(fd);
        return -ENOMEM;
    }
    c->addrs[0] = *addr;
    c->naddrs = 1;
    if (!connect_start(c, fd))
        connect_failed(c);
    return 0;
}

int tw__real_connect_host(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const char *host, uint16_t port,
                          tw_connect_cb cb)
{
    tw_addr a;
    if (tw_addr_ip(&a, host, port) == 0)
        return tw__real_connect_addr(loop, factory, arg, &a, cb);
    struct real_loop *l = tw__real_loop(loop);
    struct real_connect *c = connect_new(l, factory, arg, cb);
    if (c == NULL)
        return -ENOMEM;
    int err = 0;
    c->res = tw__real_resolve(l, host, port, AF_UNSPEC, false,
                              connect_resolved, c, &err);
    if (c->res == NULL) {
        connect_free(c);
        return err;
    }
    return 0;
}

/* asyncio's sock= and connect_accepted_socket: the socket is connected
 * already, so this only checks it, makes it non-blocking and wraps it.
 * `accepted` matters only for TLS (server side), which is not here yet. */
int tw__real_connect_fd(tw_loop *loop, tw_protocol_factory factory,
                        void *arg, int fd, bool accepted, tw_connect_cb cb)
{
    int type = 0;
    socklen_t len = sizeof type;
    int err = 0;
    if (tw_sys.getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        err = -errno; /* ENOTSOCK: a pipe or a file */
    else if (type != SOCK_STREAM)
        err = -EINVAL; /* asyncio: "A Stream Socket was expected" */
    if (err == 0) {
        int fl = tw_sys.fcntl(fd, F_GETFL, 0);
        if (fl < 0 || tw_sys.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            err = -errno;
    }
    tw_transport *t = NULL;
    if (err == 0) {
        t = tw__real_stream_new(tw__real_loop(loop), fd);
        if (t == NULL)
            err = -ENOMEM;
    }
    if (err != 0) {
        /* The fd was handed over with the call (twin/net.h): closing it
         * on error too means the caller never has to guess. */
        if (err != -EBADF)
            tw_sys.close(fd);
        return err;
    }
    /* A factory failure is reported through cb by the core (which also
     * closes the fd): the call itself succeeded, so it returns 0. */
    tw__transport_open(t, factory, arg, cb);
    return 0;
}

/* The core's single attempt (core/internal.h's dial): a socket, bound to
 * local if given, connecting to addr. */
void *tw__real_dial(tw_loop *loop, const tw_addr *addr, const tw_addr *local,
                    tw__dial_cb cb, void *ctx, int *err)
{
    int family = tw_addr_family(addr);
    assert(family == AF_INET || family == AF_INET6);
    assert(!local || tw_addr_family(local) == family);
    int fd = stream_socket(family);
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    if (local && tw_sys.bind(fd, &local->u.sa, local->len) < 0) {
        *err = -errno;
        tw_sys.close(fd);
        return NULL;
    }
    struct real_connect *c = connect_new(tw__real_loop(loop), NULL, NULL, NULL);
    if (c == NULL) {
        tw_sys.close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    c->dial_cb = cb;
    c->dial_ctx = ctx;
    c->addrs[0] = *addr;
    c->naddrs = 1;
    if (!connect_start(c, fd)) {
        /* Failed at once (fd closed): the caller hears it from us. */
        *err = c->last_err;
        connect_free(c);
        return NULL;
    }
    return c;
}

void tw__real_dial_cancel(tw_loop *loop, void *req)
{
    (void)loop;
    struct real_connect *c = req;
    assert(c->dial_cb != NULL);
    connect_cancel(&c->pend);
}
