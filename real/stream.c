/* real/stream.c - the stream transport over a socket (TCP, Unix,
 * socketpair).
 *
 * Map:
 *   1. interest: want_read/want_write become one epoll mask
 *   2. the readiness callback: read once, then flush
 *   3. the ops the core calls: send, shutdown_write, extra_info, destroy
 *   4. making one: tw__real_stream_new
 *
 * The transport rules (watermarks, close flushing, eof, callback timing)
 * all live in core/transport.c; this file only moves bytes between the
 * socket and the core's entry points.
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
    struct real_loop *l;
    bool want_rd, want_wr;
    /* A failed epoll_ctl cannot be reported from inside the core's call
     * to want_*: it is reported from the loop instead. */
    int io_err;
    tw_handle io_err_h;
};

static struct real_stream *stream_of(tw_transport *t)
{
    return (struct real_stream *)t;
}

/* ------------------------------------------------------------------ */
/* 1. interest                                                         */

static void io_err_cb(void *arg)
{
    struct real_stream *s = arg;
    s->io_err_h = 0;
    tw__transport_fatal(&s->base, s->io_err);
}

static void interest_update(struct real_stream *s)
{
    uint32_t mask = (s->want_rd ? EPOLLIN : 0) | (s->want_wr ? EPOLLOUT : 0);
    int r = tw__real_io_set(s->l, &s->io, mask);
    if (r < 0 && s->io_err_h == 0) {
        /* Without the fd in the epoll set the transport would hang
         * forever: lose the connection with the reason instead. */
        s->io_err = r;
        s->io_err_h = tw_call_soon(&s->l->base, io_err_cb, s);
    }
}

static void stream_want_read(tw_transport *t, bool on)
{
    struct real_stream *s = stream_of(t);
    s->want_rd = on;
    interest_update(s);
}

static void stream_want_write(tw_transport *t, bool on)
{
    struct real_stream *s = stream_of(t);
    s->want_wr = on;
    interest_update(s);
}

/* ------------------------------------------------------------------ */
/* 2. readiness                                                        */

/* One read per readiness event, so one busy connection cannot starve the
 * others; level-triggered epoll calls again while bytes remain. */
static void stream_read(struct real_stream *s)
{
    tw_transport *t = &s->base;
    void *buf;
    size_t len;
    if (tw__transport_recv_buffer(t, -1, &buf, &len) < 0)
        return; /* no buffer from the protocol: the core lost it */
    assert(buf != NULL && len > 0);
    if (len > t->loop->rbuf_len)
        len = t->loop->rbuf_len;
    ssize_t n = -1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        n = tw_sys.read(s->io.fd, buf, len);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n > 0) {
        tw__transport_received(t, (size_t)n);
    } else if (n == 0) {
        tw__transport_eof(t);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        tw__transport_fatal(t, -errno);
    }
    /* EAGAIN (a spurious wakeup) or EINTR again: an unanswered
     * get_buffer is allowed by the BufferedProtocol state machine, and
     * epoll will call again when there is something to read. */
}

static void stream_cb(struct real_io *io, uint32_t ev)
{
    struct real_stream *s = tw__container_of(io, struct real_stream, io);
    tw_transport *t = &s->base;
    /* EPOLLHUP and EPOLLERR come whatever the mask: they go to the read
     * (which reports eof or the error) or else to the flush (whose send
     * reports the error). */
    if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && s->want_rd) {
        if (tw__transport_reading(t)) {
            stream_read(s);
        } else {
            /* Reading is over for good (eof delivered, or closing) while
             * still armed: stop the wakeups, level-triggered epoll would
             * otherwise report the same readable socket forever. */
            s->want_rd = false;
            interest_update(s);
        }
    }
    /* The read may have closed, paused or lost the transport; the core
     * disarms writing when it has nothing more to send, so want_wr is
     * re-read here rather than trusted from before the callback. */
    if ((ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && s->want_wr)
        tw__transport_writable(t);
}

/* ------------------------------------------------------------------ */
/* 3. ops                                                              */

/* sendmsg with MSG_NOSIGNAL: a peer that went away must give -EPIPE, not
 * kill the process with SIGPIPE, and ignoring SIGPIPE globally is not a
 * library's decision to make. (A future pipe transport cannot use
 * MSG_NOSIGNAL: it must block SIGPIPE around its writev instead.) */
static ssize_t stream_send(tw_transport *t, const struct iovec *iov,
                           int iovcnt)
{
    struct real_stream *s = stream_of(t);
    if (iovcnt > UIO_MAXIOV)
        iovcnt = UIO_MAXIOV; /* a short write; the core sends the rest */
    struct msghdr msg = {.msg_iov = (struct iovec *)iov,
                         .msg_iovlen = (size_t)iovcnt};
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        ssize_t n = tw_sys.sendmsg(s->io.fd, &msg, MSG_NOSIGNAL);
        if (n >= 0)
            return n;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
    return 0; /* interrupted throughout: the core waits for EPOLLOUT */
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

static void stream_destroy(tw_transport *t)
{
    struct real_stream *s = stream_of(t);
    if (s->io_err_h != 0)
        tw_handle_cancel(t->loop, s->io_err_h);
    tw__real_io_set(s->l, &s->io, 0);
    tw_sys.close(s->io.fd);
    free(s);
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
};

/* ------------------------------------------------------------------ */
/* 4. making one                                                       */

/* Fill a from getsockname/getpeername; an empty address on failure (a
 * peer that already reset: the first read will report it). */
static void name_of(int fd, tw_addr *a,
                    int (*get)(int, struct sockaddr *, socklen_t *))
{
    socklen_t len = sizeof a->u.ss;
    if (get(fd, &a->u.sa, &len) < 0 || len > sizeof a->u.ss)
        len = 0;
    a->len = len;
}

tw_transport *tw__real_stream_new(struct real_loop *l, int fd)
{
    assert(fd >= 0);
    struct real_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->io.cb = stream_cb;
    s->io.fd = fd;
    s->l = l;
    tw_transport *t = &s->base;
    tw__transport_init(t, &l->base, &stream_ops, TW_TRANSPORT_STREAM);
    name_of(fd, &t->local, tw_sys.getsockname);
    name_of(fd, &t->peer, tw_sys.getpeername);
    int family = tw_addr_family(&t->local);
    if (family == AF_INET || family == AF_INET6) {
        /* asyncio's choice: a transport writes what it was given now;
         * Nagle's delay would only stall request/response protocols.
         * Failure is harmless (the socket still works), so ignored. */
        int one = 1;
        tw_sys.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return t;
}
