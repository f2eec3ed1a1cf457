/* real/udp.c - the datagram transport over a socket: UDP on IPv4 and IPv6,
 * and Unix datagram sockets.
 *
 * Map:
 *   1. the endpoint, and interest: want_read/want_write as one epoll mask
 *   2. readiness: a bounded batch of datagrams, then the flush
 *   3. the ops the core calls: sendto (one try), extra_info, destroy
 *   4. making one: socket, options, bind, connect, then the core's open
 *
 * Every transport rule (the queue of unsent datagrams, its header
 * accounting and watermarks, error_received for failed sends, close's
 * flush) lives in core/datagram.c; this file only moves datagrams between
 * the socket and the core's entry points. Every syscall goes through
 * tw_sys (real/sys.h) so tests can make any of them fail.
 */
#include "real/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "twin/datagram.h"

/* Datagrams read per readiness event at most: one busy endpoint must not
 * starve the others; level-triggered epoll calls again for the rest. */
#define READS_MAX 64

struct real_udp {
    struct tw_transport base; /* first: the core casts */
    struct real_io io;
    struct real_loop *l;
    bool want_rd, want_wr;
    /* A failed epoll_ctl cannot be reported from inside the core's call
     * to want_*: it is reported from the loop instead (as stream.c). */
    int io_err;
    tw_handle io_err_h;
    /* A Unix endpoint's socket file, removed on close if still ours. */
    char *path;
    dev_t dev;
    ino_t ino;
};

static struct real_udp *udp_of(tw_transport *t) { return (struct real_udp *)t; }

/* ------------------------------------------------------------------ */
/* 1. interest                                                         */

static void io_err_cb(void *arg)
{
    struct real_udp *u = arg;
    u->io_err_h = 0;
    tw__transport_fatal(&u->base, u->io_err);
}

static void interest_update(struct real_udp *u)
{
    uint32_t mask = (u->want_rd ? EPOLLIN : 0) | (u->want_wr ? EPOLLOUT : 0);
    int r = tw__real_io_set(u->l, &u->io, mask);
    if (r < 0 && u->io_err_h == 0) {
        /* Out of the epoll set the endpoint would be deaf for good: lose
         * it with the reason instead. */
        u->io_err = r;
        u->io_err_h = tw_call_soon(&u->l->base, io_err_cb, u);
    }
}

static void udp_want_read(tw_transport *t, bool on)
{
    struct real_udp *u = udp_of(t);
    /* The core asks on a change only, its flag already saying so. */
    assert(on == !!(t->flags & TW__T_RARMED));
    u->want_rd = on;
    interest_update(u);
}

static void udp_want_write(tw_transport *t, bool on)
{
    struct real_udp *u = udp_of(t);
    assert(on == !!(t->flags & TW__T_WARMED) && on != u->want_wr);
    u->want_wr = on;
    interest_update(u);
}

/* ------------------------------------------------------------------ */
/* 2. readiness                                                        */

/* Fill a from what recvfrom/getsockname wrote: a Unix socket with no name
 * (unbound) gives just a family, which twin spells as "no address". */
static void addr_fix(tw_addr *a, socklen_t len)
{
    if (len > sizeof a->u.ss)
        len = 0;
    if (len <= offsetof(struct sockaddr_un, sun_path) ||
        (a->u.sa.sa_family == AF_UNIX &&
         len == offsetof(struct sockaddr_un, sun_path) + 1 &&
         a->u.un.sun_path[0] == '\0'))
        len = 0;
    a->len = len;
}

/* One datagram. Returns false when there is nothing more to read now. */
static bool udp_read_one(struct real_udp *u)
{
    tw_transport *t = &u->base;
    uint8_t *buf = t->loop->rbuf;
    size_t cap = t->loop->rbuf_len;
    tw_addr from;
    ssize_t n = -1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        socklen_t alen = sizeof from.u.ss;
        memset(&from, 0, sizeof from);
        /* MSG_TRUNC: the real length, so a datagram larger than the read
         * buffer is reported instead of silently cut. */
        n = tw_sys.recvfrom(u->io.fd, buf, cap, MSG_TRUNC, &from.u.sa, &alen);
        if (n >= 0) {
            addr_fix(&from, alen);
            break;
        }
        if (errno != EINTR)
            break;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return false;
        /* ECONNREFUSED and friends: an ICMP error about an earlier send
         * on a connected socket. asyncio: error_received, and go on. */
        tw__transport_error_received(t, -errno);
        return true;
    }
    if ((size_t)n > cap) {
        tw__transport_error_received(t, -EMSGSIZE);
        return true;
    }
    assert(from.len <= sizeof from.u.ss); /* addr_fix kept it in bounds */
    tw__transport_datagram(t, buf, (size_t)n, &from);
    return true;
}

static void udp_cb(struct real_io *io, uint32_t ev)
{
    struct real_udp *u = tw__container_of(io, struct real_udp, io);
    tw_transport *t = &u->base;
    /* Reported only while watched, and watched only while something is
     * wanted (the mask is the wants). */
    assert(io->mask != 0 && (u->want_rd || u->want_wr));
    /* EPOLLERR (a pending ICMP error) goes to the read, which reports it
     * through recvfrom's errno and so clears it. */
    if ((ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && u->want_rd) {
        if (!tw__transport_reading(t)) {
            u->want_rd = false; /* closing: stop level-triggered wakeups */
            interest_update(u);
        }
        for (int i = 0; i < READS_MAX && tw__transport_reading(t); i++)
            if (!udp_read_one(u))
                break;
    }
    /* Callbacks may have closed or aborted the transport; the core
     * disarms writing when nothing is queued, so re-read want_wr. */
    if ((ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && u->want_wr)
        tw__transport_writable(t);
}

/* ------------------------------------------------------------------ */
/* 3. ops                                                              */

static int udp_sendto(tw_transport *t, const void *data, size_t len,
                      const tw_addr *addr)
{
    struct real_udp *u = udp_of(t);
    /* Sends come until the end, close's flush included. */
    assert(!(t->flags & TW__T_LOST) && (len == 0 || data));
    const struct sockaddr *sa = addr ? &addr->u.sa : NULL;
    socklen_t alen = addr ? addr->len : 0;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        /* MSG_NOSIGNAL: never SIGPIPE, whatever the socket type. */
        ssize_t n = tw_sys.sendto(u->io.fd, data, len, MSG_NOSIGNAL, sa, alen);
        if (n >= 0)
            return 0; /* a datagram goes whole or not at all */
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -EAGAIN;
        if (errno != EINTR)
            return -errno; /* ENOBUFS too: reported, the datagram dropped,
                              as the reference text says */
    }
    return -EAGAIN; /* interrupted throughout: the core waits for EPOLLOUT */
}

static int udp_extra_info(tw_transport *t, const char *name, tw_extra *out)
{
    if (strcmp(name, "socket") == 0) {
        out->type = TW_EXTRA_FD;
        out->v.fd = udp_of(t)->io.fd;
        return 0;
    }
    return -ENOENT;
}

/* Remove the socket file if it is still the one we bound: another
 * endpoint may have replaced it since (server.c does the same). */
static void unix_unlink(struct real_udp *u)
{
    struct stat st;
    if (u->path && tw_sys.lstat(u->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == u->dev && st.st_ino == u->ino)
        tw_sys.unlink(u->path);
}

static void udp_destroy(tw_transport *t)
{
    struct real_udp *u = udp_of(t);
    if (u->io_err_h != 0)
        tw_handle_cancel(t->loop, u->io_err_h);
    tw__real_io_set(u->l, &u->io, 0);
    tw_sys.close(u->io.fd);
    unix_unlink(u);
    free(u->path);
    tw__transport_free(&u->base);
}

static const tw__transport_ops udp_ops = {
    .send = NULL, /* write() is -ENOTSUP on a datagram transport */
    .want_write = udp_want_write,
    .want_read = udp_want_read,
    .shutdown_write = NULL,
    .extra_info = udp_extra_info,
    .destroy = udp_destroy,
    .sendto = udp_sendto,
    .can_write_eof = false,
};

/* ------------------------------------------------------------------ */
/* 4. making one                                                       */

static int sockopt_on(int fd, int level, int name)
{
    int one = 1;
    return tw_sys.setsockopt(fd, level, name, &one, sizeof one) < 0 ? -errno
                                                                    : 0;
}

/* A stale socket file from an earlier run would make bind fail: remove
 * it, but only a socket (anything else at path is somebody's data, and
 * EADDRINUSE is the right answer then). asyncio does the same. */
static int unix_clear_stale(const tw_addr *a)
{
    struct stat st;
    const char *path = a->u.un.sun_path;
    if (path[0] == '\0') /* the abstract namespace has no files */
        return 0;
    if (tw_sys.lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    if (tw_sys.unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Options, bind and connect on a fresh socket. 0 or -errno; *bound says
 * whether the bind was done (a Unix path then has our file). */
static int udp_setup(int fd, const tw_datagram_opts *o, bool *bound)
{
    int r = 0;
    if (o->reuse_port)
        r = sockopt_on(fd, SOL_SOCKET, SO_REUSEPORT);
    if (r == 0 && o->allow_broadcast)
        r = sockopt_on(fd, SOL_SOCKET, SO_BROADCAST);
    tw_addr any;
    const tw_addr *local = o->local.len ? &o->local : NULL;
    if (!local && o->family != AF_UNIX) {
        /* Bound now rather than on the first send, so that sockname is
         * known from connection_made on (the simulator does the same). */
        tw_addr_ip(&any, o->family == AF_INET ? "0.0.0.0" : "::", 0);
        local = &any;
    }
    if (r == 0 && local && o->family == AF_UNIX)
        r = unix_clear_stale(local);
    if (r == 0 && local) {
        if (tw_sys.bind(fd, &local->u.sa, local->len) < 0)
            r = -errno;
        else
            *bound = true;
    }
    if (r == 0 && o->remote.len) {
        /* Connecting a datagram socket only sets its default peer: it
         * completes at once (or fails at once). */
        r = -EINTR;
        for (int i = 0; i < TW__REAL_EINTR_MAX && r == -EINTR; i++)
            r = tw_sys.connect(fd, &o->remote.u.sa, o->remote.len) < 0 ? -errno
                                                                       : 0;
    }
    return r;
}

/* Out of memory for a long Unix path: the address is left unknown. */
static void name_of(int fd, tw__taddr *out,
                    int (*get)(int, struct sockaddr *, socklen_t *))
{
    tw_addr a;
    socklen_t len = sizeof a.u.ss;
    memset(&a, 0, sizeof a);
    if (get(fd, &a.u.sa, &len) < 0)
        len = 0;
    addr_fix(&a, len);
    (void)tw__taddr_set(out, &a);
}

/* Note the Unix socket file we bound, to remove it on close. */
static int remember_path(struct real_udp *u, const tw_addr *local)
{
    struct stat st;
    const char *path = local->u.un.sun_path;
    if (local->len == 0 || path[0] == '\0' || tw_sys.lstat(path, &st) < 0)
        return 0;
    u->path = strdup(path);
    if (u->path == NULL)
        return -ENOMEM; /* the caller removes the file */
    u->dev = st.st_dev;
    u->ino = st.st_ino;
    return 0;
}

int tw__real_create_datagram_endpoint(tw_loop *loop,
                                      tw_protocol_factory factory, void *arg,
                                      const tw_datagram_opts *opts,
                                      tw_connect_cb cb)
{
    struct real_loop *l = tw__real_loop(loop);
    int fd = tw_sys.socket(opts->family,
                           SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    bool bound = false;
    int r = udp_setup(fd, opts, &bound);
    struct real_udp *u = NULL;
    if (r == 0 && (u = calloc(1, sizeof *u)) == NULL)
        r = -ENOMEM;
    if (r == 0 && opts->family == AF_UNIX)
        r = remember_path(u, &opts->local);
    if (r < 0) {
        /* Bound, then failed (the remote could not be connected to):
         * the socket file is ours, just made; it goes with the socket. */
        if (bound && opts->family == AF_UNIX &&
            opts->local.u.un.sun_path[0] != '\0')
            tw_sys.unlink(opts->local.u.un.sun_path);
        free(u);
        tw_sys.close(fd);
        return r;
    }
    u->io.cb = udp_cb;
    u->io.fd = fd;
    u->l = l;
    tw_transport *t = &u->base;
    tw__transport_init(t, loop, &udp_ops, TW_TRANSPORT_DATAGRAM);
    name_of(fd, &t->local, tw_sys.getsockname);
    if (opts->remote.len) {
        name_of(fd, &t->peer, tw_sys.getpeername);
        if (t->peer.len == 0) /* connected is what makes sendto(NULL) work */
            (void)tw__taddr_set(&t->peer, &opts->remote);
    }
    /* A factory failure is reported through cb by the core, which also
     * destroys t (closing fd): the call itself succeeded. */
    tw__transport_open(t, factory, arg, cb);
    return 0;
}
