/* real/stream.c - the stream transport over a socket (TCP, Unix,
 * socketpair).
 *
 * Map:
 *   1. interest: registered once, edge-triggered, for both directions
 *   2. the readiness callback: read once, then flush
 *   3. the ops the core calls: send, sendfile, shutdown_write,
 *      extra_info, keepalive, destroy
 *   4. making one: tw__real_stream_new
 *
 * The transport rules (watermarks, close flushing, eof, callback timing)
 * all live in core/transport.c; this file only moves bytes between the
 * socket and the core's entry points.
 *
 * Why edge-triggered: a level-triggered socket is checked again by every
 * epoll_wait after it was reported, and changing what we wait for costs
 * an epoll_ctl each time (twice per partial write). With edges, a socket
 * is registered once for both directions, is checked once per event, and
 * pausing or resuming costs no system call. The price is bookkeeping,
 * kept in two rules:
 *   reading  an edge sets rd_ready; a read shorter than its buffer, or
 *            EAGAIN, or eof clears it (the queue was empty: the next byte
 *            raises a new edge) unless the peer's end was reported already
 *            (eof or an error waits behind the bytes, and no edge will
 *            come for it). A full read leaves it set and asks the
 *            loop to call again (tw__real_io_again) instead of reading
 *            on, so one busy connection cannot starve the others.
 *   writing  when the core starts waiting for room (want_write), and
 *            each time a send stops short while it waits, the socket is
 *            re-armed (EPOLL_CTL_MOD) so epoll reports writability now or
 *            when it comes; a socket whose writes never stop short, as in
 *            request/response traffic, costs no epoll_ctl at all.
 */
#include "real/internal.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

struct real_stream {
    struct tw_transport base; /* first: the core casts */
    struct real_io io;
    bool want_rd, want_wr;
    /* An edge said there may be something to read (bytes, eof or an
     * error) and no read has found the socket empty since. */
    bool rd_ready;
    /* Epoll has reported the peer's end (EPOLLRDHUP, HUP, ERR): then a
     * short read does not mean empty, eof or the error is still to come,
     * and no new edge will announce it. */
    bool rd_hup;
    /* A failed epoll_ctl cannot be reported from inside the core's call
     * to want_*: it is reported from the loop instead. */
    int io_err;
    tw_handle io_err_h;
};

static struct real_stream *stream_of(tw_transport *t)
{
    return (struct real_stream *)t;
}

static struct real_loop *loop_of(const struct real_stream *s)
{
    return tw__real_loop(s->base.loop);
}

/* ------------------------------------------------------------------ */
/* 1. interest                                                         */

#define STREAM_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static void io_err_cb(void *arg)
{
    struct real_stream *s = arg;
    s->io_err_h = 0;
    tw__transport_fatal(&s->base, s->io_err);
}

/* Without the fd in the epoll set the transport would hang forever: lose
 * the connection with the reason instead. */
static void io_failed(struct real_stream *s, int err)
{
    if (s->io_err_h == 0) {
        s->io_err = err;
        s->io_err_h = tw_call_soon(s->base.loop, io_err_cb, s);
    }
}

/* Register on the first want: registering reports what is ready already
 * as an edge, so nothing that came before is missed. */
static void watch(struct real_stream *s)
{
    if (s->io.mask != 0)
        return;
    int r = tw__real_io_set(loop_of(s), &s->io, STREAM_EVENTS);
    if (r < 0)
        io_failed(s, r);
}

/* Make epoll report the socket's state now (an edge may not be coming). */
static void rearm(struct real_stream *s)
{
    if (s->io.mask == 0)
        return; /* registering will report it */
    int r = tw__real_io_rearm(loop_of(s), &s->io);
    if (r < 0)
        io_failed(s, r);
}

static void stream_want_read(tw_transport *t, bool on)
{
    struct real_stream *s = stream_of(t);
    /* The core asks on a change only, its flag already saying so. */
    assert(on == !!(t->flags & TW__T_RARMED) && on != s->want_rd);
    s->want_rd = on;
    if (!on)
        return;
    if (s->io.mask == 0)
        watch(s);
    else if (s->rd_ready)
        tw__real_io_again(loop_of(s), &s->io); /* its edge came while paused */
}

/* The core wants to flush: have epoll report writability now or when it
 * comes. Re-arming, not trusting the last EAGAIN to bring an edge: the
 * core also arms after a send of fewer segments than it buffered, or
 * after a fault a test injected, and no edge is coming then. */
static void stream_want_write(tw_transport *t, bool on)
{
    struct real_stream *s = stream_of(t);
    assert(on == !!(t->flags & TW__T_WARMED) && on != s->want_wr);
    s->want_wr = on;
    if (!on)
        return;
    if (s->io.mask == 0)
        watch(s);
    else
        rearm(s);
}

/* ------------------------------------------------------------------ */
/* 2. readiness                                                        */

/* One read per readiness event or again, so one busy connection cannot
 * starve the others. */
static void stream_read(struct real_stream *s)
{
    tw_transport *t = &s->base;
    void *buf;
    size_t len;
    if (t->proto->ops->get_buffer == NULL) {
        /* A data_received protocol reads into the loop's buffer; only a
         * BufferedProtocol's get_buffer needs the core's call. */
        buf = t->loop->rbuf;
        len = t->loop->rbuf_len;
    } else {
        if (tw__transport_recv_buffer(t, -1, &buf, &len) < 0)
            return; /* no buffer from the protocol: the core lost it */
        assert(buf != NULL && len > 0);
        if (len > t->loop->rbuf_len)
            len = t->loop->rbuf_len;
    }
    ssize_t n = -1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        n = tw_sys.read(s->io.fd, buf, len);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n > 0) {
        assert((size_t)n <= len); /* never more than the buffer held */
        /* short: the queue is empty, unless the end is in it too */
        s->rd_ready = (size_t)n == len || s->rd_hup;
        tw__transport_received(t, (size_t)n);
        /* The callback may have paused, closed or lost the transport. */
        if (s->rd_ready && s->want_rd && tw__transport_reading(t))
            tw__real_io_again(loop_of(s), &s->io);
    } else if (n == 0) {
        s->rd_ready = false;
        tw__transport_eof(t);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* Nothing there after all. An EAGAIN is not always the whole
         * truth (a spurious wakeup, an injected fault), and no edge comes
         * for bytes already queued: have epoll look again. */
        s->rd_ready = false;
        rearm(s);
    } else if (errno == EINTR) {
        tw__real_io_again(loop_of(s), &s->io); /* interrupted throughout */
    } else {
        tw__transport_fatal(t, -errno);
    }
    /* An unanswered get_buffer (EAGAIN, EINTR) is allowed by the
     * BufferedProtocol state machine. */
}

static void stream_cb(struct real_io *io, uint32_t ev)
{
    struct real_stream *s = tw__container_of(io, struct real_stream, io);
    tw_transport *t = &s->base;
    /* Only a registered socket is reported, and only a live transport
     * stays registered (the end removes it before freeing). */
    assert(io->fd >= 0 && io->mask != 0);
    /* EPOLLHUP and EPOLLERR come whatever the mask: they go to the read
     * (which reports eof or the error) or else to the flush (whose send
     * reports the error). An edge nobody wants now is remembered for
     * resume_reading, or (writable, nothing to write) needs nothing. */
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->rd_hup = true;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s->rd_ready = true;
    if (s->rd_ready && s->want_rd && tw__transport_reading(t))
        stream_read(s);
    /* The read may have closed, paused or lost the transport; the core
     * disarms writing when it has nothing more to send, so want_wr is
     * re-read here rather than trusted from before the callback. */
    if ((ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && s->want_wr)
        tw__transport_writable(t);
}

/* ------------------------------------------------------------------ */
/* 3. ops                                                              */

/* send or sendmsg with MSG_NOSIGNAL: a peer that went away must give
 * -EPIPE, not kill the process with SIGPIPE, and ignoring SIGPIPE
 * globally is not a library's decision to make. (A future pipe transport
 * cannot use MSG_NOSIGNAL: it must block SIGPIPE around its writev
 * instead.) */
static inline __attribute__((always_inline)) ssize_t
send_once(int fd, const struct iovec *iov, int iovcnt)
{
    /* One buffer (a reply, an echo) is most writes: send(2), no msghdr. */
    if (iovcnt == 1)
        return tw_sys.send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    return tw_sys.sendmsg(fd, &msg, MSG_NOSIGNAL);
}

/* The first send failed (errno says why): try again while interrupted.
 * Returns what a later try took, 0 for EAGAIN or interrupted throughout,
 * or -errno. Out of the way of the send that succeeds. */
static ssize_t __attribute__((noinline))
send_failed(int fd, const struct iovec *iov, int iovcnt)
{
    for (int i = 1; i < TW__REAL_EINTR_MAX && errno == EINTR; i++) {
        ssize_t n = send_once(fd, iov, iovcnt);
        if (n >= 0)
            return n;
    }
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        return -errno;
    return 0;
}

static ssize_t stream_send(tw_transport *t, const struct iovec *iov,
                           int iovcnt)
{
    struct real_stream *s = stream_of(t);
    if (iovcnt > UIO_MAXIOV)
        iovcnt = UIO_MAXIOV; /* a short write; the core sends the rest */
    ssize_t n = send_once(s->io.fd, iov, iovcnt);
    if (n < 0 && (n = send_failed(s->io.fd, iov, iovcnt)) < 0)
        return n;
    /* Stopped short while the core waits for EPOLLOUT already: have epoll
     * look again (otherwise want_write(true) comes next and does). */
    assert(n >= 0);
    if (s->want_wr) {
        size_t total = 0;
        for (int i = 0; i < iovcnt; i++)
            total += iov[i].iov_len;
        assert((size_t)n <= total); /* the kernel takes at most what it got */
        if ((size_t)n < total)
            rearm(s);
    }
    return n;
}

/* tw_loop_sendfile's fast path: sendfile(2), with SIGPIPE held back (it
 * has no MSG_NOSIGNAL). Same edge bookkeeping as send: stopped with
 * EAGAIN while the core waits for EPOLLOUT, have epoll look again. */
static ssize_t stream_sendfile(tw_transport *t, int fd, off_t *off,
                               size_t len)
{
    struct real_stream *s = stream_of(t);
    if (len > TW__REAL_SENDFILE_MAX)
        len = TW__REAL_SENDFILE_MAX;
    struct real_sigpipe h;
    tw__real_sigpipe_hold(&h);
    ssize_t n = -1;
    int err = 0;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        n = tw_sys.sendfile(s->io.fd, fd, off, len);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0)
        err = errno;
    tw__real_sigpipe_release(&h, err);
    if (n >= 0)
        return n;
    if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
        return -err;
    if (s->want_wr)
        rearm(s);
    return -EAGAIN;
}

static int stream_shutdown_write(tw_transport *t)
{
    if (tw_sys.shutdown(stream_of(t)->io.fd, SHUT_WR) < 0)
        return -errno;
    return 0;
}

static int stream_extra_info(tw_transport *t, const char *name,
                             tw_extra *out)
{
    if (strcmp(name, "socket") == 0) {
        out->type = TW_EXTRA_FD;
        out->v.fd = stream_of(t)->io.fd;
        return 0;
    }
    return -ENOENT;
}

/* TCP only: a Unix stream has no peer to probe. */
static bool is_tcp(tw_transport *t)
{
    int fam = tw__taddr_family(&t->local);
    return fam == AF_INET || fam == AF_INET6;
}

static int set_int(int fd, int level, int name, long v)
{
    int x = v > INT32_MAX ? INT32_MAX : (int)v;
    return tw_sys.setsockopt(fd, level, name, &x, sizeof x) < 0 ? -errno : 0;
}

/* Whole seconds, rounded up, at least one. */
static long secs(tw_ns ns) { return ns <= TW_SEC(1) ? 1 : (long)((ns + TW_SEC(1) - 1) / TW_SEC(1)); }

static int stream_keepalive(tw_transport *t, tw_ns idle, tw_ns interval,
                            unsigned count)
{
    if (!is_tcp(t))
        return -ENOTSUP;
    int fd = stream_of(t)->io.fd, rc;
    if ((rc = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, idle > 0)) < 0 || !idle)
        return rc;
    if ((rc = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, secs(idle))) < 0 ||
        (rc = set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, secs(interval))) < 0)
        return rc;
    return set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (long)count);
}

static int stream_user_timeout(tw_transport *t, tw_ns timeout)
{
    if (!is_tcp(t))
        return -ENOTSUP;
    long ms = timeout ? (long)((timeout + TW_MS(1) - 1) / TW_MS(1)) : 0;
    return set_int(stream_of(t)->io.fd, IPPROTO_TCP, TCP_USER_TIMEOUT, ms);
}

static void stream_destroy(tw_transport *t)
{
    struct real_stream *s = stream_of(t);
    if (s->io_err_h != 0)
        tw_handle_cancel(t->loop, s->io_err_h);
    tw__real_io_set(loop_of(s), &s->io, 0);
    tw_sys.close(s->io.fd);
    tw__transport_free(&s->base);
}

static const tw__transport_ops stream_ops = {
    .send = stream_send,
    .want_write = stream_want_write,
    .want_read = stream_want_read,
    .shutdown_write = stream_shutdown_write,
    .extra_info = stream_extra_info,
    .destroy = stream_destroy,
    .sendto = NULL,
    .can_write_eof = true,
    .keepalive = stream_keepalive,
    .user_timeout = stream_user_timeout,
    .close_takes_writes = true, /* a socket, as asyncio's */
    .sendfile = stream_sendfile,
};

/* ------------------------------------------------------------------ */
/* 4. making one                                                       */

/* Fill a from getsockname/getpeername; an empty address on failure (a
 * peer that already reset: the first read will report it). */
/* Out of memory for a long Unix path: the address is left unknown. */
static void name_of(int fd, tw__taddr *out,
                    int (*get)(int, struct sockaddr *, socklen_t *))
{
    tw_addr a;
    memset(&a, 0, sizeof a);
    socklen_t len = sizeof a.u.ss;
    if (get(fd, &a.u.sa, &len) < 0 || len > sizeof a.u.ss)
        len = 0;
    a.len = len;
    (void)tw__taddr_set(out, &a);
}

tw_transport *tw__real_stream_new(struct real_loop *l, int fd)
{
    assert(fd >= 0);
    struct real_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->io.cb = stream_cb;
    s->io.fd = fd;
    tw_transport *t = &s->base;
    tw__transport_init(t, &l->base, &stream_ops, TW_TRANSPORT_STREAM);
    name_of(fd, &t->local, tw_sys.getsockname);
    name_of(fd, &t->peer, tw_sys.getpeername);
    int family = tw__taddr_family(&t->local);
    if (family == AF_INET || family == AF_INET6) {
        /* asyncio's choice: a transport writes what it was given now;
         * Nagle's delay would only stall request/response protocols.
         * Failure is harmless (the socket still works), so ignored. */
        int one = 1;
        tw_sys.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return t;
}
