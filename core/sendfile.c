/* core/sendfile.c - asyncio's loop.sendfile over a stream transport.
 *
 * Map:
 *   1. the state: one per transport at most (tw__transport_sendfile(t))
 *   2. the pump: the backend's fast path, else read a block and send it
 *   3. the end: the file position, the callback from the loop
 *   4. the call
 *
 * The file goes out once the write buffer has drained (what was written
 * before goes first), straight through the backend's send, never through
 * the buffer: the pump runs from the stream's writable hook (flush, in
 * core/transport.c) whenever the buffer is empty and a sendfile waits,
 * and holds at most one block of the file, sent as the connection takes
 * it. transport.c refuses writes meanwhile, ends the sendfile on close()
 * (-ECANCELED) and on the loss of the connection (before connection_lost
 * is scheduled), and drops it with the transport.
 */
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"
#include "twin/record.h" /* TW_REC_F_SENDFILE */

/* ------------------------------------------------------------------ */
/* 1. the state                                                        */

struct tw__sendfile {
    tw_transport *t;
    int fd;
    int64_t offset;    /* where it started */
    off_t pos;         /* the next byte of the file to read or send */
    uint64_t count;    /* 0: to the end of the file */
    uint64_t sent;     /* bytes the transport took */
    tw_sendfile_cb cb;
    void *arg;
    int err;
    bool native;       /* the transport's sendfile op is worth a try */
    tw_handle pump_h;  /* a pump scheduled from the loop */
    size_t blen, boff; /* the fallback's block: bytes in it, bytes sent */
    uint8_t *block;    /* TW_SENDFILE_BLOCK bytes, once the fallback runs */
};

/* Bytes one pump moves at most before it lets the loop run others (it
 * goes on from the loop). */
#define TURN_MAX ((uint64_t)1 << 20)
/* Reads retried after EINTR at most. */
#define EINTR_MAX 16

static void sf_free(struct tw__sendfile *sf)
{
    free(sf->block);
    free(sf);
}

void tw__sendfile_drop(tw_transport *t)
{
    struct tw__sendfile *sf = tw__transport_sendfile(t);
    if (!sf)
        return;
    t->k.sendfile = NULL;
    if (sf->pump_h)
        tw_handle_cancel(t->loop, sf->pump_h);
    sf_free(sf);
}

/* ------------------------------------------------------------------ */
/* 3. the end                                                          */

void tw__sendfile_done_cb(void *p)
{
    struct tw__sendfile *sf = p;
    /* Scheduled before any connection_lost: sf->t is still valid. */
    if (sf->cb)
        sf->cb(sf->arg, sf->t, sf->sent, sf->err);
    sf_free(sf);
}

void tw__sendfile_end(tw_transport *t, int err)
{
    struct tw__sendfile *sf = tw__transport_sendfile(t);
    if (!sf)
        return;
    assert(err <= 0);
    t->k.sendfile = NULL;
    if (sf->pump_h)
        tw_handle_cancel(t->loop, sf->pump_h);
    sf->pump_h = 0;
    sf->err = err;
    /* asyncio's file position: just past what was sent, error or not. A
     * file that cannot seek keeps its own. */
    if (sf->sent > 0)
        (void)lseek(sf->fd, (off_t)(sf->offset + (int64_t)sf->sent), SEEK_SET);
    /* Armed for the file only: nothing of the protocol's waits. */
    if (!(t->flags & TW__T_LOST) && t->wbuf.size == 0)
        tw__transport_arm_write(t, false);
    if (!tw_call_soon(t->loop, tw__sendfile_done_cb, sf))
        abort(); /* the promise of a completion cannot be kept */
}

/* ------------------------------------------------------------------ */
/* 2. the pump                                                         */

static void pump_cb(void *arg)
{
    struct tw__sendfile *sf = arg;
    sf->pump_h = 0;
    tw_transport *t = sf->t;
    /* An end cancels this, and writes wait for the end. */
    assert(tw__transport_sendfile(t) == sf && !(t->flags & TW__T_LOST));
    if (t->wbuf.size == 0)
        tw__sendfile_pump(t);
}

/* Let the loop run others, then go on. */
static void pump_later(tw_transport *t, struct tw__sendfile *sf)
{
    tw__transport_arm_write(t, false);
    sf->pump_h = tw_call_soon(t->loop, pump_cb, sf);
    if (!sf->pump_h)
        tw__sendfile_end(t, -ENOMEM);
}

static ssize_t read_block(struct tw__sendfile *sf, size_t len)
{
    ssize_t n = -1;
    for (int i = 0; i < EINTR_MAX; i++) {
        n = pread(sf->fd, sf->block, len, sf->pos);
        if (n >= 0 || errno != EINTR)
            break;
    }
    return n < 0 ? -errno : n;
}

void tw__sendfile_pump(tw_transport *t)
{
    struct tw__sendfile *sf = tw__transport_sendfile(t);
    assert(sf && t->wbuf.size == 0 && !(t->flags & TW__T_LOST));
    uint64_t budget = TURN_MAX;
    for (;;) {
        if (sf->boff < sf->blen) {
            /* The block read last, as the connection takes it. */
            struct iovec iov = {sf->block + sf->boff, sf->blen - sf->boff};
            ssize_t n = t->ops->send(t, &iov, 1);
            if (n < 0) {
                tw__transport_fatal(t, (int)n); /* ends sf with n */
                return;
            }
            assert((size_t)n <= iov.iov_len);
            if (TW__REC_ON(t->loop)) { /* as a write of those bytes */
                struct iovec taken = {iov.iov_base, (size_t)n};
                tw__rec_writev(t, &taken, 1, TW_REC_F_SENDFILE);
            }
            sf->boff += (size_t)n;
            sf->sent += (uint64_t)n;
            budget -= (uint64_t)n < budget ? (uint64_t)n : budget;
            /* A TLS send may have called pause_writing, which may have
             * closed the transport. */
            if (tw__transport_sendfile(t) != sf)
                return;
            if (sf->boff < sf->blen) {
                tw__transport_arm_write(t, true); /* the rest when it can */
                return;
            }
            continue;
        }
        uint64_t want = sf->count ? sf->count - sf->sent : UINT64_MAX;
        if (want == 0) {
            tw__sendfile_end(t, 0);
            return;
        }
        if (budget == 0) {
            pump_later(t, sf);
            return;
        }
        if (want > budget)
            want = budget;
        if (sf->native) {
            off_t before = sf->pos;
            ssize_t n = t->ops->sendfile(t, sf->fd, &sf->pos, (size_t)want);
            if (n > 0) {
                assert((uint64_t)n <= want && sf->pos == before + n);
                if (TW__REC_ON(t->loop))
                    tw__rec_file(t, sf->fd, before, (size_t)n);
                sf->sent += (uint64_t)n;
                budget -= (uint64_t)n;
                continue;
            }
            if (n == 0) {
                tw__sendfile_end(t, 0); /* the end of the file */
                return;
            }
            if (n == -EAGAIN) {
                tw__transport_arm_write(t, true);
                return;
            }
            /* Not for this file or socket, or failed midway: the fallback
             * goes on from here, and its read or its send says whose the
             * fault is. (asyncio falls back before the first byte, and
             * raises after it.) */
            sf->native = false;
            sf->pos = before;
            continue;
        }
        if (!sf->block && !(sf->block = malloc(TW_SENDFILE_BLOCK))) {
            tw__sendfile_end(t, -ENOMEM);
            return;
        }
        size_t len = want < TW_SENDFILE_BLOCK ? (size_t)want
                                              : TW_SENDFILE_BLOCK;
        ssize_t n = read_block(sf, len);
        if (n <= 0) {
            /* The end of the file, or the file's error: the transport
             * stays as it is. */
            tw__sendfile_end(t, (int)n);
            return;
        }
        sf->pos += n;
        sf->blen = (size_t)n;
        sf->boff = 0;
    }
}

/* ------------------------------------------------------------------ */
/* 4. the call                                                         */

int tw_loop_sendfile(tw_loop *loop, tw_transport *t, int fd, int64_t offset,
                     uint64_t count, tw_sendfile_cb cb, void *arg)
{
    if (!loop || !t || t->loop != loop || offset < 0)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    if (tw__cls(t)->kind != TW_TRANSPORT_STREAM)
        return -ENOTSUP;
    if (t->flags & TW__T_CLOSING)
        return -EPIPE;
    if (t->flags & TW__T_EOF_OUT)
        return -ESHUTDOWN;
    if (tw__transport_sendfile(t))
        return -EBUSY;
    struct tw__sendfile *sf = calloc(1, sizeof *sf);
    if (!sf)
        return -ENOMEM;
    sf->t = t;
    sf->fd = fd;
    sf->offset = offset;
    sf->pos = (off_t)offset;
    sf->count = count;
    sf->cb = cb;
    sf->arg = arg;
    sf->native = t->ops->sendfile != NULL;
    if (t->wbuf.size == 0) {
        /* From the loop, as the rest: nothing runs inside this call. */
        sf->pump_h = tw_call_soon(loop, pump_cb, sf);
        if (!sf->pump_h) {
            free(sf);
            return -ENOMEM;
        }
    }
    /* Else the buffer drains first, and its flush starts the pump. */
    t->k.sendfile = sf;
    return 0;
}
