/* core/transport.c - every transport rule of the reference text, once.
 *
 * Map:
 *   calling out     the protocol callbacks, each checked by the contract
 *                   checker when it is on
 *   kinds           the classes of STREAM, READ and WRITE, and the class
 *                   of each kind (internal.h: tw__transport_class)
 *   life            init, open (factory, connection_made, connect cb),
 *                   the end (connection_lost, release, destroy)
 *   reading         deliver / recv_buffer / received, eof, pause/resume
 *   writing         write, writelines, the flush on writable, write_eof,
 *                   watermarks (asyncio's rules to the byte)
 *   closing         close (flush first), abort, fatal errors
 *   queries         extra info, protocol swap, limits
 *
 * Re-entrancy: any callback may close or abort its own transport, pause or
 * resume reading, or write. So after every call out, state is re-read;
 * memory is freed only in the end callback, which always runs from the
 * loop (never inside a call the protocol made).
 *
 * Kinds: what differs between them is the transport's class (tw__cls(t)),
 * asked here as flags and called as hooks; nothing here names a kind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "twin/record.h"

/* ---- calling out ---- */

static inline void check(tw_transport *t, tw__event ev)
{
    /* Once the end is scheduled only connection_made (queued before it),
     * the buffer_updated answering a get_buffer in which the protocol
     * ended the transport, and connection_lost may reach the protocol. */
    assert(!(t->flags & TW__T_LOST) || ev == TW__EV_MADE ||
           ev == TW__EV_BUFFER_UPDATED || ev == TW__EV_LOST);
    if (t->loop->on_callback)
        t->loop->on_callback(t->loop, t, ev);
    if (t->loop->contract_on) {
        /* Every read's event, in the one state where it is allowed and
         * changes nothing: no step to take (ev is a constant here, so this
         * costs the other events nothing). */
        if (ev == TW__EV_DATA && t->contract.state == TW__CONTRACT_MADE)
            return;
        const char *rule = tw__contract_step(&t->contract, ev);
        if (rule)
            tw__contract_fail(t, ev, rule);
    }
}

/* What a transport's flags and buffers satisfy whenever no call of the
 * core's is half done: the end implies closing, and disarms both ways;
 * reading is armed only while the protocol may read; bytes waiting to be
 * sent always have writability armed, or they would wait for ever; a
 * write_eof went out only after the buffer drained; the marks are in
 * order. */
static inline void invariants(const tw_transport *t)
{
    unsigned f = t->flags;
    assert(!(f & TW__T_LOST) || (f & TW__T_CLOSING));
    assert(!(f & TW__T_LOST) || !(f & (TW__T_RARMED | TW__T_WARMED)));
    assert(!(f & TW__T_RARMED) ||
           !(f & (TW__T_CLOSING | TW__T_PAUSED | TW__T_EOF_IN)));
    assert((f & (TW__T_LOST | TW__T_WARMED)) ||
           (t->wbuf.size == 0 && tw__transport_dq(t) == NULL));
    assert(!(f & TW__T_EOF_SENT) || ((f & TW__T_EOF_OUT) && t->wbuf.size == 0));
    assert(t->low <= t->high);
    (void)f;
}

static bool is_buffered(const tw_transport *t)
{
    return t->proto->ops->get_buffer != NULL;
}

static void call_pause(tw_transport *t)
{
    check(t, TW__EV_PAUSE);
    if (t->proto->ops->pause_writing)
        TW__CALL_OUT(t, TW__EV_PAUSE, t->proto->ops->pause_writing(t->proto));
}

static void call_resume(tw_transport *t)
{
    check(t, TW__EV_RESUME);
    if (t->proto->ops->resume_writing)
        TW__CALL_OUT(t, TW__EV_RESUME, t->proto->ops->resume_writing(t->proto));
}

/* ---- backend arming, only on change ---- */

static void arm_read(tw_transport *t, bool on)
{
    assert(!on || tw__cls(t)->reads);
    if (!!(t->flags & TW__T_RARMED) == on)
        return;
    t->flags ^= TW__T_RARMED;
    t->ops->want_read(t, on);
}

static void arm_write(tw_transport *t, bool on)
{
    assert(!on || tw__cls(t)->limits);
    if (!!(t->flags & TW__T_WARMED) == on)
        return;
    t->flags ^= TW__T_WARMED;
    t->ops->want_write(t, on);
}

/* ---- kinds ---- */

static void flush(tw_transport *t);

/* Transport: reads and writes bytes, both halves its own. */
static const tw__transport_class stream_class = {
    .kind = TW_TRANSPORT_STREAM,
    .reads = true,
    .pause_reading = true,
    .writes = true,
    .write_eof = true,
    .limits = true,
    .abort = true,
    .writable = flush,
};

/* ReadTransport (a read pipe): it cannot stay half open, so it closes
 * after eof whatever eof_received said. */
static const tw__transport_class read_class = {
    .kind = TW_TRANSPORT_READ,
    .reads = true,
    .pause_reading = true,
    .close_on_eof = true,
    .abort = true,
};

/* WriteTransport (a write pipe). */
static const tw__transport_class write_class = {
    .kind = TW_TRANSPORT_WRITE,
    .writes = true,
    .write_eof = true,
    .limits = true,
    .abort = true,
    .writable = flush,
};

const tw__transport_class *const tw__classes[] = {
    [TW_TRANSPORT_STREAM] = &stream_class,
    [TW_TRANSPORT_READ] = &read_class,
    [TW_TRANSPORT_WRITE] = &write_class,
    [TW_TRANSPORT_DATAGRAM] = &tw__datagram_class,
    [TW_TRANSPORT_SUBPROCESS] = &tw__subprocess_class,
};

/* ---- life ---- */

void tw__transport_init(tw_transport *t, tw_loop *loop,
                        const tw__transport_ops *ops, tw_transport_kind kind)
{
    assert(loop && ops && ops->destroy);
    assert((size_t)kind < sizeof tw__classes / sizeof tw__classes[0] && tw__classes[kind]);
    const tw__transport_class *c = tw__classes[kind];
    /* The implications internal.h states for a class. */
    assert((!c->pause_reading || c->reads) && (!c->close_on_eof || c->reads));
    assert((!c->write_eof || c->writes) && (!c->writes || c->limits));
    assert((!c->sendto || c->limits) && c->limits == (c->writable != NULL));
    /* A close with more to do after its flush takes no write meanwhile. */
    assert(!ops->close_takes_writes || !ops->close_flushed);
    /* t->k holds a sendfile for a stream, datagrams for sendto. */
    assert(!(c->sendto && kind == TW_TRANSPORT_STREAM));
    t->ops = ops;
    t->kind = (uint8_t)kind;
    t->loop = loop;
    t->proto = NULL;
    t->flags = 0;
    t->lost_err = 0;
    t->id = ++loop->next_transport_id;
    tw__wbuf_init(&t->wbuf);
    t->queued = 0;
    memset(&t->k, 0, sizeof t->k);
    t->high = TW_WRITE_BUFFER_HIGH_DEFAULT;
    t->low = TW_WRITE_BUFFER_HIGH_DEFAULT / 4;
    tw__transport_wbuf_alarm_arm(t);
    memset(&t->contract, 0, sizeof t->contract);
    tw__list_push(&loop->transports, &t->link);
    tw__loop_ref(loop);
}

/* Free everything; the protocol (if any) is released first. From here on
 * the transport is dead: a call on it is a use after the end (strict mode
 * keeps its memory to say so: the backend's destroy frees it through
 * tw__transport_free). */
static void destroy(tw_transport *t)
{
    /* A made transport goes only through its end (connection_lost). */
    assert(!(t->flags & TW__T_MADE) || (t->flags & TW__T_LOST));
    tw_loop *loop = t->loop;
    tw__list_remove(&t->link);
    tw__sendfile_drop(t); /* ended before its end: only if never opened */
    tw__wbuf_clear(&t->wbuf);
    tw__transport_clear_queued(t);
    t->flags |= TW__T_DEAD;
    tw_protocol *p = t->proto;
    t->proto = NULL;
    if (p && p->ops->release)
        TW__CALL_OUT(t, TW__EV_RELEASE, p->ops->release(p));
    t->ops->destroy(t);
    tw__loop_unref(loop);
}

static void end_cb(void *arg)
{
    tw_transport *t = arg;
    assert(t->flags & TW__T_LOST);
    invariants(t);
    if (t->flags & TW__T_MADE) {
        check(t, TW__EV_LOST);
        if (TW__REC_ON(t->loop))
            tw__rec_event(t, TW_REC_LOST, NULL, 0, NULL, t->lost_err);
        if (t->proto->ops->connection_lost)
            TW__CALL_OUT(t, TW__EV_LOST,
                         t->proto->ops->connection_lost(t->proto, t->lost_err));
    }
    destroy(t);
}

/* Schedule the end: connection_lost(err) from the loop. */
static void finish(tw_transport *t, int err)
{
    assert(!(t->flags & TW__T_LOST));
    /* A sendfile hears of it first: its callback is queued before
     * connection_lost, while the transport is still valid. */
    tw__sendfile_end(t, err ? err : -ECANCELED);
    t->flags |= TW__T_LOST | TW__T_CLOSING;
    assert(err >= INT16_MIN && err <= INT16_MAX);
    t->lost_err = (int16_t)err;
    arm_read(t, false);
    arm_write(t, false);
    if (!tw_call_soon(t->loop, end_cb, t))
        abort(); /* cannot keep the promise of connection_lost */
    invariants(t);
}

static void made(tw_transport *t, tw_connect_cb cb, void *cb_arg)
{
    assert(!(t->flags & TW__T_MADE)); /* connection_made once */
    t->flags |= TW__T_MADE;
    check(t, TW__EV_MADE);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_OPEN, NULL, 0, NULL, 0);
    if (t->proto->ops->connection_made)
        TW__CALL_OUT(t, TW__EV_MADE, t->proto->ops->connection_made(t->proto, t));
    if (cb)
        cb(cb_arg, t, 0);
    if (!(t->flags & (TW__T_CLOSING | TW__T_PAUSED | TW__T_EOF_IN)) &&
        tw__cls(t)->reads)
        arm_read(t, true);
}

static void made_cb(void *arg)
{
    made(arg, NULL, NULL);
}

/* A client's completion rides with the scheduled connection_made rather
 * than in every transport: most have none, and it is done with once
 * connection_made has run. */
struct tw__made {
    tw_transport *t;
    tw_connect_cb cb;
    void *arg;
};

void tw__made_then_cb(void *arg)
{
    struct tw__made m = *(struct tw__made *)arg;
    free(arg);
    made(m.t, m.cb, m.arg);
}

int tw__transport_open(tw_transport *t, tw_protocol_factory factory,
                       void *arg, tw_connect_cb cb)
{
    assert(t->proto == NULL && t->flags == 0); /* opened once, fresh */
    tw_protocol *p = factory(arg);
    if (!p || !p->ops) {
        if (cb)
            tw__connect_fail(t->loop, cb, arg, -ENOMEM);
        destroy(t);
        return -ENOMEM;
    }
    t->proto = p;
    struct tw__made *m = NULL;
    if (cb) {
        m = malloc(sizeof *m);
        if (m)
            *m = (struct tw__made){.t = t, .cb = cb, .arg = arg};
    }
    if ((cb && !m) ||
        !(m ? tw_call_soon(t->loop, tw__made_then_cb, m)
            : tw_call_soon(t->loop, made_cb, t))) {
        free(m);
        if (cb)
            tw__connect_fail(t->loop, cb, arg, -ENOMEM);
        destroy(t);
        return -ENOMEM;
    }
    return 0;
}

/* ---- reading ---- */

int tw__transport_recv_buffer(tw_transport *t, ssize_t sizehint, void **buf,
                              size_t *len)
{
    if (!is_buffered(t)) {
        *buf = t->loop->rbuf;
        *len = t->loop->rbuf_len;
        return 0;
    }
    check(t, TW__EV_GET_BUFFER);
    size_t n = 0;
    void *b;
    TW__CALL_OUT(t, TW__EV_GET_BUFFER,
                 b = t->proto->ops->get_buffer(t->proto, sizehint, &n));
    if (!b || n == 0) {
        if (!(t->flags & TW__T_LOST))
            tw__transport_fatal(t, -ENOBUFS);
        return -ENOBUFS;
    }
    *buf = b;
    *len = n;
    assert(*buf && *len > 0); /* room for at least a byte */
    if (TW__REC_ON(t->loop))
        tw__rec_buffer(t->loop, b);
    return 0;
}

void tw__transport_received(tw_transport *t, size_t n)
{
    assert(n > 0);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_DATA, is_buffered(t) ? NULL : t->loop->rbuf, n,
                      NULL, 0);
    if (is_buffered(t)) {
        check(t, TW__EV_BUFFER_UPDATED);
        if (t->proto->ops->buffer_updated)
            TW__CALL_OUT(t, TW__EV_BUFFER_UPDATED,
                         t->proto->ops->buffer_updated(t->proto, n));
    } else {
        check(t, TW__EV_DATA);
        if (t->proto->ops->data_received)
            TW__CALL_OUT(t, TW__EV_DATA,
                         t->proto->ops->data_received(t->proto, t->loop->rbuf, n));
    }
}

/* Hand len bytes (len > 0) to a protocol without get_buffer: one
 * data_received takes them all. */
static inline size_t deliver_whole(tw_transport *t, const uint8_t *data, size_t len)
{
    check(t, TW__EV_DATA);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_DATA, data, len, NULL, 0);
    if (t->proto->ops->data_received)
        TW__CALL_OUT(t, TW__EV_DATA, t->proto->ops->data_received(t->proto, data, len));
    return len;
}

/* tw__transport_deliver for a protocol with get_buffer: copy into its
 * buffers, a buffer_updated for each, while it still reads; the rest
 * goes whole to a protocol without get_buffer set in the meantime. */
static __attribute__((noinline)) size_t deliver_buffered(tw_transport *t,
                                                         const uint8_t *data, size_t len)
{
    size_t done = 0;
    while (done < len && tw__transport_reading(t)) {
        if (!is_buffered(t))
            return done + deliver_whole(t, data + done, len - done);
        void *buf;
        size_t blen;
        if (tw__transport_recv_buffer(t, (ssize_t)(len - done), &buf, &blen) < 0)
            return done;
        size_t n = len - done < blen ? len - done : blen;
        memcpy(buf, data + done, n);
        done += n;
        assert(n > 0 && done <= len); /* each turn moves a byte or more */
        check(t, TW__EV_BUFFER_UPDATED);
        if (TW__REC_ON(t->loop))
            tw__rec_event(t, TW_REC_DATA, NULL, n, NULL, 0);
        if (t->proto->ops->buffer_updated)
            TW__CALL_OUT(t, TW__EV_BUFFER_UPDATED,
                         t->proto->ops->buffer_updated(t->proto, n));
    }
    return done;
}

size_t tw__transport_deliver(tw_transport *t, const uint8_t *data, size_t len)
{
    assert(tw__cls(t)->reads);
    assert(len == 0 || data);
    invariants(t);
    if (is_buffered(t))
        return deliver_buffered(t, data, len);
    if (len == 0 || !tw__transport_reading(t))
        return 0;
    return deliver_whole(t, data, len);
}

void tw__transport_eof(tw_transport *t)
{
    assert(tw__cls(t)->reads);
    invariants(t);
    if (t->flags & (TW__T_CLOSING | TW__T_EOF_IN))
        return;
    t->flags |= TW__T_EOF_IN;
    arm_read(t, false);
    assert(!(t->flags & TW__T_RARMED)); /* no read after eof */
    check(t, TW__EV_EOF);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_EOF, NULL, 0, NULL, 0);
    bool keep = false;
    if (t->proto->ops->eof_received)
        TW__CALL_OUT(t, TW__EV_EOF, keep = t->proto->ops->eof_received(t->proto));
    if (!keep || tw__cls(t)->close_on_eof)
        tw_transport_close(t);
}

int tw_transport_pause_reading(tw_transport *t)
{
    if (tw__transport_dead(t, "pause_reading()"))
        return -EPIPE;
    if (!tw__cls(t)->pause_reading)
        return -ENOTSUP;
    if (t->flags & (TW__T_CLOSING | TW__T_PAUSED))
        return 0;
    t->flags |= TW__T_PAUSED;
    arm_read(t, false);
    assert(!tw__transport_reading(t));
    return 0;
}

int tw_transport_resume_reading(tw_transport *t)
{
    if (tw__transport_dead(t, "resume_reading()"))
        return -EPIPE;
    if (!tw__cls(t)->pause_reading)
        return -ENOTSUP;
    if ((t->flags & TW__T_CLOSING) || !(t->flags & TW__T_PAUSED))
        return 0;
    t->flags &= ~TW__T_PAUSED;
    if ((t->flags & TW__T_MADE) && !(t->flags & TW__T_EOF_IN))
        arm_read(t, true);
    invariants(t);
    return 0;
}

bool tw_transport_is_reading(const tw_transport *t)
{
    if (tw__transport_dead(t, "is_reading()"))
        return false;
    assert(tw__cls(t)->pause_reading || !(t->flags & TW__T_PAUSED));
    return !(t->flags & (TW__T_CLOSING | TW__T_PAUSED | TW__T_EOF_IN)) &&
           tw__cls(t)->reads;
}

/* ---- writing ---- */

static size_t buffered(const tw_transport *t)
{
    assert(tw__cls(t)->writes || t->wbuf.size == 0);
    assert(tw__cls(t)->limits || t->queued == 0);
    return t->wbuf.size + t->queued;
}

void tw__transport_wbuf_alarm_arm(tw_transport *t)
{
    const tw_loop *loop = t->loop;
    size_t at = SIZE_MAX;
    if (loop->on_wbuf_alarm && !(t->flags & TW__T_WALARM)) {
        if (loop->wbuf_alarm_max)
            at = loop->wbuf_alarm_max;
        size_t k = loop->wbuf_alarm_over_high;
        if (k && (t->flags & TW__T_WPAUSED)) {
            size_t high = t->high > TW__WBUF_ALARM_HIGH_MIN ? t->high
                                                            : TW__WBUF_ALARM_HIGH_MIN;
            size_t more = high > SIZE_MAX / k ? SIZE_MAX : high * k;
            size_t now = buffered(t);
            size_t paused_at = more > SIZE_MAX - now ? SIZE_MAX : now + more;
            if (paused_at < at)
                at = paused_at;
        }
    }
    t->wbuf_alarm = at;
}

/* The buffer went past t->wbuf_alarm: tell the loop's listener, once. */
static void wbuf_alarm(tw_transport *t)
{
    size_t bound = t->wbuf_alarm;
    t->flags |= TW__T_WALARM;
    t->wbuf_alarm = SIZE_MAX;
    t->loop->on_wbuf_alarm(t->loop, t, buffered(t), bound);
}

/* Every growth of the buffer passes here (write, sendto, the TLS
 * layer's records), inside the call that grew it. */
static void maybe_pause(tw_transport *t)
{
    assert(tw__cls(t)->limits && t->low <= t->high);
    assert(!(t->flags & TW__T_LOST));
    if (buffered(t) > t->wbuf_alarm)
        wbuf_alarm(t);
    if (buffered(t) <= t->high || (t->flags & TW__T_WPAUSED))
        return;
    t->flags |= TW__T_WPAUSED;
    tw__transport_wbuf_alarm_arm(t);
    call_pause(t);
}

static void maybe_resume(tw_transport *t)
{
    assert(tw__cls(t)->limits && t->low <= t->high);
    assert(!(t->flags & TW__T_LOST));
    if (!(t->flags & TW__T_WPAUSED) || buffered(t) > t->low)
        return;
    /* Paused only above high, resumed only at or below low: between the
     * two the buffer drained by at least high - low. */
    t->flags &= ~TW__T_WPAUSED;
    tw__transport_wbuf_alarm_arm(t);
    call_resume(t);
}

void tw__transport_maybe_pause(tw_transport *t)
{
    if (!(t->flags & TW__T_LOST))
        maybe_pause(t);
}

void tw__transport_maybe_resume(tw_transport *t)
{
    if (!(t->flags & TW__T_LOST))
        maybe_resume(t);
}

/* close()'s flush is done: the end, unless the transport has more to do
 * first (ops->close_flushed, which may be called again: it is idempotent). */
static void close_flushed(tw_transport *t)
{
    if (t->ops->close_flushed)
        t->ops->close_flushed(t);
    else
        finish(t, 0);
}

static void do_shutdown(tw_transport *t)
{
    /* Once, after write_eof, with nothing left to send before it. */
    assert((t->flags & TW__T_EOF_OUT) && !(t->flags & TW__T_EOF_SENT));
    assert(t->wbuf.size == 0 && !(t->flags & TW__T_CLOSING));
    t->flags |= TW__T_EOF_SENT;
    int rc = t->ops->shutdown_write(t);
    if (rc < 0)
        tw__transport_fatal(t, rc);
}

/* Whether a write may go on: 0, or the error it returns. Closing refuses
 * it, except while close()'s flush is still in progress on a transport
 * that takes writes then (ops->close_takes_writes: asyncio's socket
 * transport appends them to the buffer it is flushing). */
static int write_check(const tw_transport *t)
{
    if (!tw__cls(t)->writes)
        return -ENOTSUP;
    if ((t->flags & TW__T_CLOSING) &&
        ((t->flags & TW__T_LOST) || !t->ops->close_takes_writes))
        return -EPIPE;
    if (t->flags & TW__T_EOF_OUT)
        return -ESHUTDOWN;
    if (tw__transport_sendfile(t))
        return -EBUSY; /* the file has the connection until it is sent */
    return 0;
}

/* Strict mode: a write of `bytes` that write_check refused with rc. After
 * write_eof asyncio's socket transport raises (RuntimeError, even for no
 * bytes); after the protocol's close() or abort() it drops the bytes
 * without a word. A connection the network lost is no
 * mistake of the protocol's (it has not heard yet), nor is a write of
 * nothing. */
static void strict_write(const tw_transport *t, const char *call, int rc,
                         size_t bytes)
{
    if (!tw__strict_on(t) || rc == -ENOTSUP)
        return;
    char rule[96];
    if (t->flags & TW__T_EOF_OUT)
        snprintf(rule, sizeof rule, "after write_eof(): refused");
    else if (bytes == 0)
        return;
    else if (t->flags & (TW__T_ABORT_CALLED | TW__T_CLOSE_CALLED))
        snprintf(rule, sizeof rule, "after %s: refused, its %zu bytes dropped",
                 t->flags & TW__T_ABORT_CALLED ? "abort()" : "close()", bytes);
    else
        return;
    tw__strict_fail(t, call, rule);
}

static int queue_rest(tw_transport *t, const struct iovec *iov, int iovcnt,
                      int i, size_t off, size_t rest);

static int writelines(tw_transport *t, const char *call,
                      const struct iovec *iov, int iovcnt)
{
    bool args_ok = iovcnt >= 0 && (iovcnt == 0 || iov);
    size_t total = 0;
    for (int i = 0; args_ok && i < iovcnt; i++)
        total += iov[i].iov_len;
    int rc = write_check(t);
    if (rc < 0) {
        strict_write(t, call, rc, total);
        return rc;
    }
    if (!args_ok)
        return -EINVAL;
    invariants(t);
    if (total == 0)
        return 0;
    if (TW__REC_ON(t->loop))
        tw__rec_writev(t, iov, iovcnt, 0);
    size_t taken = 0; /* by the backend at once */
    int i = 0;
    size_t off = 0; /* bytes of iov[i] already taken */
    if (t->wbuf.size == 0) {
        /* Nothing queued: try the kernel (or the simulated path) first. */
        int n = iovcnt < TW__IOV_MAX ? iovcnt : TW__IOV_MAX;
        size_t offered = 0;
        for (int k = 0; k < n; k++)
            offered += iov[k].iov_len;
        ssize_t sent = t->ops->send(t, iov, n);
        if (sent < 0) {
            tw__transport_fatal(t, (int)sent);
            return (int)sent;
        }
        /* A backend never takes more than it was offered, and a send
         * that took everything leaves nothing buffered. */
        assert((size_t)sent <= offered);
        (void)offered;
        taken = (size_t)sent;
        size_t left = (size_t)sent;
        while (i < iovcnt && left >= iov[i].iov_len) {
            left -= iov[i].iov_len;
            i++;
        }
        off = left;
        if (i == iovcnt)
            return 0;
        assert(!(t->flags & TW__T_LOST) && t->wbuf.size == 0);
    }
    return queue_rest(t, iov, iovcnt, i, off, total - taken);
}

/* What the backend did not take of a write (iov from iov[i] + off on,
 * `rest` bytes, at least one): into wbuf, writability armed, the pause
 * rule run. */
static int queue_rest(tw_transport *t, const struct iovec *iov, int iovcnt,
                      int i, size_t off, size_t rest)
{
    assert(rest > 0 && i < iovcnt);
    const size_t size_before = t->wbuf.size;
    for (; i < iovcnt; i++, off = 0) {
        if (iov[i].iov_len == off)
            continue;
        if (tw__wbuf_append(&t->wbuf, (const uint8_t *)iov[i].iov_base + off,
                            iov[i].iov_len - off) < 0) {
            /* Keep what was queued; the rest is refused as a whole. */
            if (t->wbuf.size)
                arm_write(t, true);
            return -ENOMEM;
        }
    }
    /* Every byte was either taken by the backend or is buffered now. */
    assert(t->wbuf.size == size_before + rest);
    (void)size_before; /* read by assertions only */
    (void)rest;
    arm_write(t, true);
    maybe_pause(t);
    /* The pause rule held inside the write: over the high mark means
     * paused (unless the protocol ended the transport meanwhile). */
    assert((t->flags & (TW__T_WPAUSED | TW__T_LOST)) || buffered(t) <= t->high);
    invariants(t);
    return 0;
}

int tw_transport_writelines(tw_transport *t, const struct iovec *iov,
                            int iovcnt)
{
    if (tw__transport_dead(t, "writelines()"))
        return -EPIPE;
    return writelines(t, "writelines()", iov, iovcnt);
}

/* Nothing queued, and nothing that refuses or holds back a write: the
 * state in which write() offers its bytes to the backend at once. Any
 * other (closing, write_eof, a file being sent, a kind that does not
 * write) takes writelines' general way, which sorts out the rest. */
static bool write_now_ok(const tw_transport *t)
{
    return t->wbuf.size == 0 &&
           !(t->flags & (TW__T_CLOSING | TW__T_EOF_OUT)) &&
           tw__cls(t)->writes && tw__transport_sendfile(t) == NULL;
}

int tw_transport_write(tw_transport *t, const void *data, size_t len)
{
    if (tw__transport_dead(t, "write()"))
        return -EPIPE;
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    if (len == 0 || !data || !write_now_ok(t) || TW__REC_ON(t->loop))
        return len > 0 && !data ? -EINVAL : writelines(t, "write()", &iov, 1);
    /* The common case, a request answered: writelines' first step for
     * one buffer, without its loops over the vector (a recording loop
     * takes writelines' way, which records the write). */
    ssize_t sent = t->ops->send(t, &iov, 1);
    if (sent < 0) {
        tw__transport_fatal(t, (int)sent);
        return (int)sent;
    }
    assert((size_t)sent <= len); /* never more than it was offered */
    if ((size_t)sent == len)
        return 0;
    assert(!(t->flags & TW__T_LOST) && t->wbuf.size == 0);
    return queue_rest(t, &iov, 1, 0, (size_t)sent, len - (size_t)sent);
}

void tw__transport_writable(tw_transport *t)
{
    if (t->flags & TW__T_LOST)
        return;
    assert(tw__cls(t)->writable); /* only a kind with a buffer arms writing */
    invariants(t);
    tw__cls(t)->writable(t);
    invariants(t);
}

/* The writable hook of the kinds that write bytes: send what wbuf holds. */
static void flush(tw_transport *t)
{
    assert(tw__cls(t)->writes && !(t->flags & TW__T_LOST));
    if (t->wbuf.size) {
        struct iovec iov[TW__IOV_MAX];
        int n = tw__wbuf_iov(&t->wbuf, iov, TW__IOV_MAX);
        size_t offered = 0;
        for (int k = 0; k < n; k++)
            offered += iov[k].iov_len;
        assert(offered > 0 && offered <= t->wbuf.size);
        ssize_t sent = t->ops->send(t, iov, n);
        if (sent < 0) {
            tw__transport_fatal(t, (int)sent);
            return;
        }
        assert((size_t)sent <= offered);
        (void)offered;
        tw__wbuf_consume(&t->wbuf, (size_t)sent);
    }
    maybe_resume(t);
    if ((t->flags & TW__T_LOST) || t->wbuf.size)
        return;
    if (tw__transport_sendfile(t)) {
        /* Drained with a file waiting: it goes now (core/sendfile.c),
         * arming writing as it needs. No close or write_eof can be
         * pending: both wait for, or end, the sendfile. */
        tw__sendfile_pump(t);
        return;
    }
    arm_write(t, false);
    if (t->flags & TW__T_CLOSING)
        close_flushed(t);
    else if ((t->flags & TW__T_EOF_OUT) && !(t->flags & TW__T_EOF_SENT))
        do_shutdown(t);
}

int tw_transport_write_eof(tw_transport *t)
{
    if (tw__transport_dead(t, "write_eof()"))
        return -EPIPE;
    if (!tw__cls(t)->write_eof || !t->ops->can_write_eof)
        return -ENOTSUP;
    /* asyncio ignores it once closing; strict mode reports it after the
     * protocol's own close() or abort(): the half close it asks for will
     * not be what happens. A second write_eof is a plain no-op. */
    if (t->flags & (TW__T_ABORT_CALLED | TW__T_CLOSE_CALLED))
        if (tw__strict_on(t))
            tw__strict_fail(t, "write_eof()",
                            t->flags & TW__T_ABORT_CALLED
                                ? "after abort(): ignored"
                                : "after close(): ignored");
    if (t->flags & (TW__T_CLOSING | TW__T_EOF_OUT))
        return 0;
    if (tw__transport_sendfile(t))
        return -EBUSY;
    t->flags |= TW__T_EOF_OUT;
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_WRITE_EOF, NULL, 0, NULL, 0);
    if (t->wbuf.size == 0)
        do_shutdown(t);
    invariants(t);
    return 0;
}

bool tw_transport_can_write_eof(const tw_transport *t)
{
    if (tw__transport_dead(t, "can_write_eof()"))
        return false;
    return tw__cls(t)->write_eof && t->ops->can_write_eof;
}

size_t tw_transport_get_write_buffer_size(const tw_transport *t)
{
    if (tw__transport_dead(t, "get_write_buffer_size()"))
        return 0;
    return buffered(t);
}

void tw_transport_get_write_buffer_limits(const tw_transport *t, size_t *low,
                                          size_t *high)
{
    if (tw__transport_dead(t, "get_write_buffer_limits()")) {
        if (low)
            *low = 0;
        if (high)
            *high = 0;
        return;
    }
    if (low)
        *low = t->low;
    if (high)
        *high = t->high;
}

/* Strict mode: limits asyncio refuses with ValueError ("high must be >=
 * low must be >= 0"), named with what they came to. */
static int bad_limits(const tw_transport *t, ssize_t high, ssize_t low)
{
    if (tw__strict_on(t)) {
        char rule[96];
        snprintf(rule, sizeof rule, "with high %zd and low %zd: refused, "
                                    "high >= low >= 0 must hold", high, low);
        tw__strict_fail(t, "set_write_buffer_limits()", rule);
    }
    return -EINVAL;
}

int tw_transport_set_write_buffer_limits(tw_transport *t, ssize_t high,
                                         ssize_t low)
{
    if (tw__transport_dead(t, "set_write_buffer_limits()"))
        return -EPIPE;
    if (!tw__cls(t)->limits)
        return -ENOTSUP; /* nothing is ever written */
    if (high < TW_LIMIT_DEFAULT || low < TW_LIMIT_DEFAULT)
        return bad_limits(t, high, low);
    if (high == TW_LIMIT_DEFAULT)
        high = low == TW_LIMIT_DEFAULT ? TW_WRITE_BUFFER_HIGH_DEFAULT : 4 * low;
    if (low == TW_LIMIT_DEFAULT)
        low = high / 4;
    if (low > high)
        return bad_limits(t, high, low);
    t->high = (size_t)high;
    t->low = (size_t)low;
    assert(t->low <= t->high);
    tw__transport_wbuf_alarm_arm(t);
    if (!(t->flags & TW__T_LOST) && (t->flags & TW__T_MADE))
        maybe_pause(t);
    return 0;
}

/* ---- closing ---- */

int tw_transport_close(tw_transport *t)
{
    if (tw__transport_dead(t, "close()"))
        return -EPIPE;
    if (TW__REC_ON(t->loop) && !(t->flags & TW__T_CLOSING))
        tw__rec_event(t, TW_REC_CLOSE, NULL, 0, NULL, 0);
    t->flags |= TW__T_CLOSE_CALLED;
    if (tw__cls(t)->close)
        return tw__cls(t)->close(t); /* a subprocess: pipes, kill, the exit */
    if (t->flags & TW__T_CLOSING)
        return 0;
    /* A sendfile stops here (asyncio's fails too); what the transport
     * took of the file is flushed below like any write. */
    tw__sendfile_end(t, -ECANCELED);
    t->flags |= TW__T_CLOSING;
    arm_read(t, false);
    assert(tw__cls(t)->sendto || tw__transport_dq(t) == NULL);
    if (t->wbuf.size == 0 && tw__transport_dq(t) == NULL)
        close_flushed(t);
    invariants(t);
    return 0;
}

static void force_close(tw_transport *t, int err)
{
    if (t->flags & TW__T_LOST)
        return;
    tw__wbuf_clear(&t->wbuf);
    tw__transport_clear_queued(t);
    assert(t->wbuf.size == 0 && tw__transport_dq(t) == NULL);
    finish(t, err);
}

int tw_transport_abort(tw_transport *t)
{
    if (tw__transport_dead(t, "abort()"))
        return -EPIPE;
    if (!tw__cls(t)->abort)
        return -ENOTSUP; /* SubprocessTransport has none: close() kills */
    if (TW__REC_ON(t->loop) && !(t->flags & TW__T_LOST))
        tw__rec_event(t, TW_REC_ABORT, NULL, 0, NULL, 0);
    t->flags |= TW__T_ABORT_CALLED;
    force_close(t, 0);
    return 0;
}

void tw__transport_fatal(tw_transport *t, int err)
{
    assert(err < 0);
    force_close(t, err);
}

bool tw_transport_is_closing(const tw_transport *t)
{
    if (tw__transport_dead(t, "is_closing()"))
        return true;
    return (t->flags & TW__T_CLOSING) != 0;
}

/* ---- queries ---- */

tw_transport_kind tw_transport_kind_of(const tw_transport *t)
{
    (void)tw__transport_dead(t, "kind_of()"); /* the kind is still known */
    return tw__cls(t)->kind;
}

tw_loop *tw_transport_loop(const tw_transport *t)
{
    (void)tw__transport_dead(t, "loop()"); /* the loop is still there */
    return t->loop;
}

int tw_transport_get_extra_info(tw_transport *t, const char *name,
                                tw_extra *out)
{
    tw_extra dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof *out);
    if (tw__transport_dead(t, "get_extra_info()"))
        return -ENOENT;
    if (!name)
        return -EINVAL;
    const tw__taddr *a = NULL;
    if (strcmp(name, "peername") == 0)
        a = &t->peer;
    else if (strcmp(name, "sockname") == 0)
        a = &t->local;
    if (a) {
        if (a->len == 0)
            return -ENOENT;
        out->type = TW_EXTRA_ADDR;
        tw__taddr_get(a, &out->v.addr);
        return 0;
    }
    return t->ops->extra_info ? t->ops->extra_info(t, name, out) : -ENOENT;
}

int tw_transport_set_keepalive(tw_transport *t, tw_ns idle_ns,
                               tw_ns interval_ns, unsigned count)
{
    if (!t)
        return -EINVAL;
    if (!t->ops->keepalive)
        return -ENOTSUP;
    if (idle_ns < 0 || (idle_ns && (interval_ns <= 0 || count < 1 || count > 127)))
        return -EINVAL;
    if (t->flags & TW__T_CLOSING)
        return -EPIPE;
    return t->ops->keepalive(t, idle_ns, interval_ns, count);
}

int tw_transport_set_user_timeout(tw_transport *t, tw_ns timeout_ns)
{
    if (!t)
        return -EINVAL;
    if (!t->ops->user_timeout)
        return -ENOTSUP;
    if (timeout_ns < 0)
        return -EINVAL;
    if (t->flags & TW__T_CLOSING)
        return -EPIPE;
    return t->ops->user_timeout(t, timeout_ns);
}

int tw_transport_peername(tw_transport *t, tw_addr *out)
{
    if (tw__transport_dead(t, "peername()"))
        return -ENOENT;
    if (t->peer.len == 0)
        return -ENOENT;
    tw__taddr_get(&t->peer, out);
    return 0;
}

int tw_transport_sockname(tw_transport *t, tw_addr *out)
{
    if (tw__transport_dead(t, "sockname()"))
        return -ENOENT;
    if (t->local.len == 0)
        return -ENOENT;
    tw__taddr_get(&t->local, out);
    return 0;
}

int tw_transport_set_protocol(tw_transport *t, tw_protocol *p)
{
    if (tw__transport_dead(t, "set_protocol()"))
        return -EPIPE;
    if (!p || !p->ops)
        return -EINVAL;
    t->proto = p;
    return 0;
}

tw_protocol *tw_transport_get_protocol(const tw_transport *t)
{
    if (tw__transport_dead(t, "get_protocol()"))
        return NULL;
    return t->proto;
}

/* ---- datagrams ---- */

int tw_transport_sendto(tw_transport *t, const void *data, size_t len,
                        const tw_addr *addr)
{
    if (tw__transport_dead(t, "sendto()"))
        return -EPIPE;
    if (!tw__cls(t)->sendto || !t->ops->sendto)
        return -ENOTSUP;
    if (t->flags & TW__T_CLOSING)
        return -EPIPE;
    if (len > 0 && !data)
        return -EINVAL;
    return tw__cls(t)->sendto(t, data, len, addr); /* core/datagram.c */
}

void tw__transport_arm_write(tw_transport *t, bool on) { arm_write(t, on); }

void tw__transport_finish(tw_transport *t, int err) { finish(t, err); }

void tw__transport_datagram(tw_transport *t, const uint8_t *data, size_t len,
                            const tw_addr *from)
{
    if (t->flags & TW__T_CLOSING)
        return;
    check(t, TW__EV_DATAGRAM);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_DGRAM, data, len, from, 0);
    if (t->proto->ops->datagram_received)
        TW__CALL_OUT(t, TW__EV_DATAGRAM,
                     t->proto->ops->datagram_received(t->proto, data, len, from));
}

void tw__transport_error_received(tw_transport *t, int err)
{
    if (t->flags & TW__T_CLOSING)
        return;
    check(t, TW__EV_ERROR);
    if (TW__REC_ON(t->loop))
        tw__rec_event(t, TW_REC_ERROR, NULL, 0, NULL, err);
    if (t->proto->ops->error_received)
        TW__CALL_OUT(t, TW__EV_ERROR, t->proto->ops->error_received(t->proto, err));
}
