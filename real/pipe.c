/* real/pipe.c - ReadTransport and WriteTransport over a pipe fd
 * (connect_read_pipe, connect_write_pipe, and a subprocess's stdio).
 *
 * Map:
 *   1. interest: one epoll mask from want_read/want_write and the kind
 *   2. readiness: read once per event; a write pipe's reader going away
 *   3. the ops the core calls: send (SIGPIPE held back), shutdown_write
 *      (a pipe cannot half-close: it closes), extra_info, destroy
 *   4. making one: init (for subprocess pipes), connect_pipe
 *
 * As in real/stream.c, every transport rule is the core's; this file only
 * moves bytes. Two things differ from a socket, both as in asyncio's
 * unix_events.py:
 *   - a write pipe stays in the epoll set even when it has nothing to
 *     send (interest EPOLLERR only: epoll reports nothing else then),
 *     because the kernel flags EPOLLERR on it when the last reader
 *     closes: an idle write pipe then closes cleanly, a busy one is lost
 *     with -EPIPE;
 *   - write(2) on a pipe cannot take MSG_NOSIGNAL, so SIGPIPE is blocked
 *     for the calling thread around the write and a SIGPIPE it raised is
 *     consumed before unblocking: the process is never killed by it, and
 *     no signal disposition of the host program is touched.
 */
#include "real/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* 1. interest                                                         */

static struct real_pipe *pipe_of(tw_transport *t)
{
    return (struct real_pipe *)t;
}

static void io_err_cb(void *arg)
{
    struct real_pipe *p = arg;
    p->io_err_h = 0;
    tw__transport_fatal(&p->base, p->io_err);
}

static void interest_update(struct real_pipe *p)
{
    uint32_t mask = 0;
    if (!p->hup) {
        if (p->write)
            mask = p->want_wr ? EPOLLOUT : EPOLLERR; /* see the top */
        else
            mask = p->want_rd ? EPOLLIN : 0;
    }
    int r = tw__real_io_set(p->l, &p->io, mask);
    if (r < 0 && p->io_err_h == 0) {
        /* Unwatched, the transport would hang: lose it with the reason,
         * from the loop (we may be inside a core call). */
        p->io_err = r;
        p->io_err_h = tw_call_soon(&p->l->base, io_err_cb, p);
    }
}

static void pipe_want_read(tw_transport *t, bool on)
{
    struct real_pipe *p = pipe_of(t);
    /* A write pipe never reads (its class has no reads); the core asks on
     * a change only, its flag already saying so. */
    assert(!p->write || !on);
    assert(on == !!(t->flags & TW__T_RARMED));
    p->want_rd = on;
    interest_update(p);
}

static void pipe_want_write(tw_transport *t, bool on)
{
    struct real_pipe *p = pipe_of(t);
    assert(p->write || !on); /* and a read pipe never writes */
    assert(on == !!(t->flags & TW__T_WARMED));
    p->want_wr = on;
    interest_update(p);
}

/* ------------------------------------------------------------------ */
/* 2. readiness                                                        */

static void pipe_read(struct real_pipe *p)
{
    tw_transport *t = &p->base;
    assert(!p->write);
    void *buf;
    size_t len;
    if (tw__transport_recv_buffer(t, -1, &buf, &len) < 0)
        return;
    if (len > t->loop->rbuf_len)
        len = t->loop->rbuf_len;
    ssize_t n = -1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        n = tw_sys.read(p->io.fd, buf, len);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n > 0) {
        assert((size_t)n <= len); /* never more than the buffer held */
        tw__transport_received(t, (size_t)n);
    } else if (n == 0) {
        tw__transport_eof(t);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        tw__transport_fatal(t, -errno);
    }
}

/* The reader of a write pipe is gone (asyncio's _read_ready of the write
 * pipe transport): nothing waiting, a clean close; data waiting, it can
 * never be delivered. */
static void reader_gone(struct real_pipe *p)
{
    tw_transport *t = &p->base;
    assert(p->write && !p->hup && !(t->flags & TW__T_LOST));
    p->hup = true; /* out of the epoll set: EPOLLERR would repeat forever */
    interest_update(p);
    if (t->wbuf.size)
        tw__transport_fatal(t, -EPIPE);
    else
        tw_transport_close(t);
}

static void pipe_cb(struct real_io *io, uint32_t ev)
{
    struct real_pipe *p = tw__container_of(io, struct real_pipe, io);
    tw_transport *t = &p->base;
    assert(io->mask != 0 && !p->hup); /* a pipe past its hangup is unwatched */
    if (!p->write) {
        /* EPOLLHUP: the writer closed; the read drains, then sees 0. */
        if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && p->want_rd) {
            if (tw__transport_reading(t)) {
                pipe_read(p);
            } else {
                p->want_rd = false;
                interest_update(p);
            }
        }
        return;
    }
    if (ev & (EPOLLERR | EPOLLHUP)) {
        if (!(t->flags & TW__T_LOST))
            reader_gone(p);
        return;
    }
    if ((ev & EPOLLOUT) && p->want_wr)
        tw__transport_writable(t);
}

/* ------------------------------------------------------------------ */
/* 3. ops                                                              */

/* SIGPIPE held back for this thread around a call that may raise it. A
 * SIGPIPE that was already pending before the call is somebody else's
 * and is left alone. */
void tw__real_sigpipe_hold(struct real_sigpipe *h)
{
    sigemptyset(&h->set);
    sigaddset(&h->set, SIGPIPE);
    h->masked = tw_sys.pthread_sigmask(SIG_BLOCK, &h->set, &h->old) == 0;
    h->was_pending = false;
    sigset_t pending;
    if (h->masked && tw_sys.sigpending(&pending) == 0)
        h->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void tw__real_sigpipe_release(struct real_sigpipe *h, int err)
{
    if (err == EPIPE && h->masked && !h->was_pending) {
        const struct timespec zero = {0, 0};
        for (int i = 0; i < TW__REAL_EINTR_MAX; i++)
            if (tw_sys.sigtimedwait(&h->set, NULL, &zero) >= 0 ||
                errno != EINTR)
                break;
    }
    if (h->masked)
        tw_sys.pthread_sigmask(SIG_SETMASK, &h->old, NULL);
}

/* writev with SIGPIPE held back. */
static ssize_t quiet_writev(int fd, const struct iovec *iov, int iovcnt,
                            int *err)
{
    struct real_sigpipe h;
    tw__real_sigpipe_hold(&h);
    ssize_t n = -1;
    *err = 0;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        n = tw_sys.writev(fd, iov, iovcnt);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0)
        *err = errno;
    assert(n >= 0 || *err != 0);
    tw__real_sigpipe_release(&h, *err);
    return n;
}

static ssize_t pipe_send(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    struct real_pipe *p = pipe_of(t);
    assert(p->write && !(t->flags & TW__T_LOST));
    if (iovcnt > UIO_MAXIOV)
        iovcnt = UIO_MAXIOV;
    int err;
    ssize_t n = quiet_writev(p->io.fd, iov, iovcnt, &err);
    if (n >= 0)
        return n;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)
        return 0; /* the core waits for EPOLLOUT */
    return -err;
}

/* write_eof on a pipe: the buffer is flushed, and a pipe's only way to
 * say "no more" is to close (asyncio: connection_lost follows). */
static int pipe_shutdown_write(tw_transport *t)
{
    tw_transport_close(t);
    return 0;
}

static int pipe_extra_info(tw_transport *t, const char *name, tw_extra *out)
{
    if (strcmp(name, "pipe") != 0)
        return -ENOENT;
    out->type = TW_EXTRA_FD;
    out->v.fd = pipe_of(t)->io.fd;
    return 0;
}

static void pipe_destroy(tw_transport *t)
{
    struct real_pipe *p = pipe_of(t);
    if (p->io_err_h != 0)
        tw_handle_cancel(t->loop, p->io_err_h);
    tw__real_io_set(p->l, &p->io, 0);
    tw_sys.close(p->io.fd);
    tw__transport_free(&p->base);
}

static const tw__transport_ops pipe_ops = {
    .send = pipe_send,
    .want_write = pipe_want_write,
    .want_read = pipe_want_read,
    .shutdown_write = pipe_shutdown_write,
    .extra_info = pipe_extra_info,
    .destroy = pipe_destroy,
    .sendto = NULL,
    .can_write_eof = true,
};

/* ------------------------------------------------------------------ */
/* 4. making one                                                       */

void tw__real_pipe_init(struct real_pipe *p, struct real_loop *l, int fd,
                        bool write)
{
    assert(fd >= 0);
    p->io.cb = pipe_cb;
    p->io.fd = fd;
    p->l = l;
    p->write = write;
    tw__transport_init(&p->base, &l->base, &pipe_ops,
                       write ? TW_TRANSPORT_WRITE : TW_TRANSPORT_READ);
    if (write)
        interest_update(p); /* watch for the reader going away from now on */
}

/* What asyncio accepts: pipes, sockets and character devices, open for
 * the transport's direction. A pipe's write end taken as a read pipe
 * would never be readable (epoll reports nothing), so the wrong end is
 * refused with -EBADF, as read(2) would, and left open for the caller as
 * the simulated backend leaves it. */
static int check_fd(int fd, bool write)
{
    struct stat st;
    if (tw_sys.fstat(fd, &st) < 0)
        return -errno;
    int fl = tw_sys.fcntl(fd, F_GETFL, 0);
    if (fl < 0)
        return -errno;
    int acc = fl & O_ACCMODE;
    if (acc != O_RDWR && acc != (write ? O_WRONLY : O_RDONLY))
        return -EBADF;
    if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !S_ISCHR(st.st_mode))
        return -EINVAL;
    if (tw_sys.fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

int tw__real_connect_pipe(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, int fd, bool write, tw_connect_cb cb)
{
    struct real_loop *l = tw__real_loop(loop);
    int err = check_fd(fd, write);
    struct real_pipe *p = NULL;
    if (err == 0 && (p = calloc(1, sizeof *p)) == NULL)
        err = -ENOMEM;
    if (err == 0) {
        /* Probe now that epoll can watch it (a tty or a pipe can, /dev/null
         * cannot): failing here beats a transport that never moves. */
        struct real_io probe = {.cb = NULL, .fd = fd, .mask = 0};
        err = tw__real_io_set(l, &probe, write ? EPOLLOUT : EPOLLIN);
        tw__real_io_set(l, &probe, 0);
    }
    if (err != 0) {
        free(p);
        if (err != -EBADF)
            tw_sys.close(fd);
        return err;
    }
    tw__real_pipe_init(p, l, fd, write);
    /* A factory failure is reported through cb by the core, which also
     * closes the fd: the call itself succeeded. */
    tw__transport_open(&p->base, factory, arg, cb);
    return 0;
}
