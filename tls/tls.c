/* tls/tls.c - the TLS layer: a stream transport over another one.
 *
 * Map:
 *   1. the link        the protocol on the inner transport
 *   2. records out     SSL's output to the inner; the outer's send
 *   3. records in      the handshake, reads, EOF
 *   4. ends            a failed handshake, the inner's end
 *   5. the outer's ops want_write, want_read, close_flushed, destroy
 *   6. life            new, start, discard, the client's connect outcome
 *
 * Two transports per connection. The inner is a plain stream of either
 * backend; its protocol is the link, which feeds what arrives to SSL
 * through a memory BIO and hands SSL's records back to it. The outer is
 * what the user's protocol holds: a core transport (kind STREAM) whose
 * ops encrypt, so every rule of the text (write buffer, watermarks, close
 * flushing, callback timing, use after close) is core/transport.c's, once.
 *
 * Flow control. The inner's marks are (0, 0): it pauses the link as soon
 * as it buffers anything, and resumes it when it has sent everything. The
 * outer's send encrypts only while the inner is not paused, so at most one
 * chunk of records waits in the inner and the plaintext waits in the
 * outer's buffer, where the user's marks apply; t->queued counts those
 * records, so get_write_buffer_size is the plain stream's. Reading is the
 * other way round: pause_reading on the outer pauses the inner, so a
 * reader that stops pushes back on the peer as a plain socket would.
 *
 * Ownership. The outer is the loop's from tw__tls_conn_start (a client's
 * before its connection exists, so that a loop torn down meanwhile frees
 * it); the link is the inner's protocol, freed on the inner's release.
 * Each points at the other until one goes, which detaches both. The outer
 * ends (connection_lost) only after the inner has ended: a close sends
 * close_notify and closes the inner, whose end then ends the outer.
 *
 * Every OpenSSL call for a connection whose loop lends a generator is made
 * inside a randomness scope (tls_rand.c); user callbacks are never called inside
 * one, and never while an SSL call's result is still to be read.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "tls/tls_internal.h"

#define READ_PASSES_MAX 16 /* then let the loop run others */

struct tls_link {
    tw_protocol base;
    tls_conn *c; /* NULL once the outer is gone */
};

static void scope_enter(tls_conn *c, tw__tls_scope *s)
{
    tw__tls_rand_enter(s, c->lent ? &c->rng : NULL);
    ERR_clear_error(); /* SSL_get_error reads the thread's queue */
}

static void set_reason(tls_conn *c, const char *reason)
{
    free(c->reason);
    c->reason = strdup(reason); /* NULL on ENOMEM: only the text is lost */
}

static void hs_fail(tls_conn *c, int err, const char *reason);
static void inner_gone(tls_conn *c, int err);
static void finish_outer(tls_conn *c, int err);
static void read_records(tls_conn *c);
static void handshake(tls_conn *c);

/* ------------------------------------------------------------------ */
/* 1. the link                                                         */

static bool ssl_setup(tls_conn *c);

static void hs_timeout_cb(void *arg)
{
    tls_conn *c = arg;
    char why[96];
    c->timer_h = 0;
    snprintf(why, sizeof why, "the TLS handshake did not finish within %.3g s",
             (double)c->ctx->handshake_timeout / 1e9);
    hs_fail(c, -ETIMEDOUT, why);
}

static void link_made(tw_protocol *p, tw_transport *inner)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (!c) {
        tw_transport_abort(inner); /* its connection is gone already */
        return;
    }
    c->inner = inner;
    /* Paused as soon as it holds a byte: see "Flow control" above. */
    tw_transport_set_write_buffer_limits(inner, 0, 0);
    (void)tw__taddr_copy(&c->base.peer, &inner->peer);
    (void)tw__taddr_copy(&c->base.local, &inner->local);
    c->state = TLS_HANDSHAKE;
    if (!ssl_setup(c)) {
        hs_fail(c, -ENOMEM, "out of memory starting TLS");
        return;
    }
    c->timer_h = tw_call_later(c->base.loop, c->ctx->handshake_timeout,
                               hs_timeout_cb, c);
    handshake(c); /* a client's hello goes out now */
}

static void link_data(tw_protocol *p, const uint8_t *data, size_t len)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (!c || (c->state != TLS_HANDSHAKE && c->state != TLS_OPEN))
        return; /* a failed or closing connection reads nothing more */
    if (BIO_write(c->in, data, (int)len) != (int)len) {
        ERR_clear_error();
        if (c->state == TLS_HANDSHAKE)
            hs_fail(c, -ENOMEM, "out of memory buffering TLS records");
        else if (!(c->base.flags & TW__T_LOST))
            tw__transport_fatal(&c->base, -ENOMEM);
        return;
    }
    if (c->state == TLS_HANDSHAKE)
        handshake(c); /* records after it wait for the protocol to read */
    else
        read_records(c);
}

static bool link_eof(tw_protocol *p)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (!c)
        return false;
    c->inner_eof = true;
    if (c->state == TLS_HANDSHAKE) {
        hs_fail(c, -ECONNRESET,
                "the peer closed the connection during the TLS handshake");
        return false;
    }
    if (c->state != TLS_OPEN)
        return false;
    read_records(c); /* what is left, then the EOF (or later, if paused) */
    return true;     /* keep the inner writable for our close_notify */
}

static void link_pause(tw_protocol *p)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (c)
        c->blocked = true;
}

static void link_resume(tw_protocol *p)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (!c)
        return;
    c->blocked = false;
    c->base.queued = 0; /* the inner sent every record */
    if (c->state != TLS_OPEN || (c->base.flags & TW__T_LOST))
        return;
    if (c->want_write)
        tw__transport_writable(&c->base); /* the plaintext waiting */
    else
        tw__transport_maybe_resume(&c->base);
}

static void detach(tls_conn *c)
{
    if (c->link)
        c->link->c = NULL;
    c->link = NULL;
    c->inner = NULL;
    c->blocked = false;
    c->base.queued = 0;
}

static void link_lost(tw_protocol *p, int err)
{
    tls_conn *c = ((tls_link *)p)->c;
    if (!c)
        return;
    detach(c);
    inner_gone(c, err);
}

static void link_release(tw_protocol *p)
{
    tls_link *l = (tls_link *)p;
    tls_conn *c = l->c;
    if (c) {
        /* Ended without connection_lost. Made (c->inner set) but not lost:
         * the loop is being torn down (a crash), the outer goes with it
         * and nothing may be called. Never made (a reset right after the
         * accept): the outer, made for it, ends unseen. */
        bool made = c->inner != NULL;
        detach(c);
        if (!made)
            finish_outer(c, 0);
    }
    free(l);
}

static const tw_protocol_ops link_ops = {
    .connection_made = link_made,
    .connection_lost = link_lost,
    .pause_writing = link_pause,
    .resume_writing = link_resume,
    .data_received = link_data,
    .eof_received = link_eof,
    .release = link_release,
};

/* ------------------------------------------------------------------ */
/* 2. records out                                                      */

/* Hand SSL's output to the inner, straight from the pair's ring. Inside
 * a scope or not: no draws. A write error loses the inner, whose end then
 * ends the outer. */
static void flush_out(tls_conn *c)
{
    char *p;
    int n;
    while ((n = BIO_nread0(c->out, &p)) > 0) {
        if (c->inner)
            tw_transport_write(c->inner, p, (size_t)n);
        BIO_nread(c->out, &p, n);
    }
    c->base.queued = c->inner ? tw_transport_get_write_buffer_size(c->inner) : 0;
}

/* The outer's send: encrypt while the inner takes the records at once. */
static ssize_t tls_send(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    tls_conn *c = (tls_conn *)t;
    if (c->state != TLS_OPEN || !c->inner)
        return -EPIPE;
    size_t taken = 0, total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    int err = 0;
    char reason[256];
    tw__tls_scope s;
    scope_enter(c, &s);
    for (int i = 0; i < iovcnt && !c->blocked && c->inner && !err; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t len = iov[i].iov_len, off = 0;
        while (off < len && !c->blocked && c->inner) {
            size_t n = len - off < TW__TLS_WRITE_CHUNK ? len - off : TW__TLS_WRITE_CHUNK;
            int r = SSL_write(c->ssl, p + off, (int)n);
            if (r <= 0) {
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_WRITE) { /* the ring is full */
                    flush_out(c);
                    continue;
                }
                err = tw__tls_error(c, e, reason, sizeof reason);
                break;
            }
            off += (size_t)r;
            taken += (size_t)r;
            flush_out(c);
        }
        if (off < len)
            break;
    }
    flush_out(c); /* an alert after a failure */
    tw__tls_rand_leave(&s);
    if (err) {
        set_reason(c, reason);
        c->linger = true; /* the alert goes out before the close */
        return err;       /* the core loses the outer with it */
    }
    /* All taken: the core returns at once, so the records the inner holds
     * are counted here (inside write, as pause_writing must be). Never
     * with some left: the core has still to buffer them. */
    if (taken == total)
        tw__transport_maybe_pause(t);
    return (ssize_t)taken;
}

/* ------------------------------------------------------------------ */
/* 3. records in                                                       */

static void opened(tls_conn *c);

static void handshake(tls_conn *c)
{
    char reason[256];
    int err = 0;
    tw__tls_scope s;
    scope_enter(c, &s);
    int e = SSL_ERROR_WANT_WRITE;
    /* A flight larger than the ring (a long chain) goes out in parts. */
    for (int i = 0; i < 64 && e == SSL_ERROR_WANT_WRITE; i++) {
        int r = SSL_do_handshake(c->ssl);
        e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c->ssl, r);
        flush_out(c);
    }
    if (e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ)
        err = tw__tls_error(c, e, reason, sizeof reason);
    tw__tls_rand_leave(&s);
    if (err)
        hs_fail(c, err, reason);
    else if (e == SSL_ERROR_NONE)
        opened(c);
}

static void drain_cb(void *arg)
{
    tls_conn *c = arg;
    c->drain_h = 0;
    if (c->state == TLS_OPEN)
        read_records(c);
}

static void schedule_drain(tls_conn *c)
{
    if (c->drain_h)
        return;
    c->drain_h = tw_call_soon(c->base.loop, drain_cb, c);
    if (!c->drain_h && !(c->base.flags & TW__T_LOST))
        tw__transport_fatal(&c->base, -ENOMEM);
}

/* The peer is done sending: asyncio's rule, close_notify or not. TLS has
 * no half-close, so the outer closes whatever eof_received says. */
static void peer_eof(tls_conn *c)
{
    tw_transport *t = &c->base;
    tw__transport_eof(t);
    if (!(t->flags & TW__T_CLOSING))
        tw_transport_close(t);
}

/* Decrypt and deliver while the outer reads. Stops at a record not yet
 * complete; delivers the EOF once nothing more can come. */
static void read_records(tls_conn *c)
{
    tw_transport *t = &c->base;
    for (int pass = 0; pass < READ_PASSES_MAX; pass++) {
        if (c->state != TLS_OPEN || !tw__transport_reading(t))
            return;
        char reason[256];
        int err = 0, e = SSL_ERROR_NONE;
        uint8_t peek;
        tw__tls_scope s;
        scope_enter(c, &s);
        /* A peek first, so a buffered protocol is asked for a buffer only
         * when there is something to put in it. */
        int r = SSL_peek(c->ssl, &peek, 1);
        size_t hint = r > 0 ? (size_t)SSL_pending(c->ssl) : 0;
        if (r <= 0) {
            e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN &&
                e != SSL_ERROR_WANT_WRITE)
                err = tw__tls_error(c, e, reason, sizeof reason);
        }
        flush_out(c); /* an alert, an answer to a KeyUpdate */
        tw__tls_rand_leave(&s);
        if (e == SSL_ERROR_WANT_WRITE)
            continue; /* its answer had no room: sent now, read again */
        if (r > 0) {
            void *buf;
            size_t len, got = 0;
            if (tw__transport_recv_buffer(t, (ssize_t)hint, &buf, &len) < 0)
                return; /* the protocol gave no buffer: lost */
            scope_enter(c, &s);
            while (got < len) {
                size_t want = len - got < INT32_MAX ? len - got : INT32_MAX;
                r = SSL_read(c->ssl, (uint8_t *)buf + got, (int)want);
                if (r <= 0)
                    break;
                got += (size_t)r;
            }
            if (r <= 0) {
                e = SSL_get_error(c->ssl, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_ZERO_RETURN)
                    err = tw__tls_error(c, e, reason, sizeof reason);
            }
            flush_out(c);
            tw__tls_rand_leave(&s);
            assert(got > 0); /* the peek saw a byte */
            tw__transport_received(t, got);
            if (r > 0 || e == SSL_ERROR_WANT_WRITE)
                continue; /* the buffer is full, or an answer went out */
        }
        /* After the callbacks: the outer may be closing or lost now. */
        if (t->flags & TW__T_LOST)
            return;
        if (err) {
            set_reason(c, reason);
            c->linger = true; /* our alert goes out before the close */
            tw__transport_fatal(t, err);
            return;
        }
        if (!tw__transport_reading(t))
            return; /* the EOF waits for resume_reading, as data does */
        if (e == SSL_ERROR_ZERO_RETURN) {
            c->close_notify = true;
            peer_eof(c);
        } else if (c->inner_eof) {
            peer_eof(c); /* no close_notify: an EOF all the same */
        }
        return;
    }
    schedule_drain(c); /* more records: after the others had their turn */
}

/* ------------------------------------------------------------------ */
/* 4. ends                                                             */

static void cancel(tw_loop *loop, tw_handle *h)
{
    if (*h)
        tw_handle_cancel(loop, *h);
    *h = 0;
}

/* The outer ends: connection_lost(err) from the loop if it was made. */
static void finish_outer(tls_conn *c, int err)
{
    tw_transport *t = &c->base;
    if (t->flags & TW__T_LOST)
        return;
    if (err < 0)
        tw__transport_fatal(t, err);
    else
        tw__transport_finish(t, 0);
}

/* The handshake did: the protocol is made now (connection_made from the
 * loop), and reads wait until it reads. */
static void opened(tls_conn *c)
{
    cancel(c->base.loop, &c->timer_h);
    c->state = TLS_OPEN;
    if (c->inner)
        tw_transport_pause_reading(c->inner);
    tw_connect_cb cb = c->cb;
    c->cb = NULL;
    c->opening = true;
    if (tw__transport_open(&c->base, c->factory, c->arg, cb) < 0)
        return; /* the factory refused: the core freed c */
    c->opening = false;
}

/* A failed handshake's peer did not close within the linger time. */
static void linger_cb(void *arg)
{
    tls_conn *c = arg;
    c->timer_h = 0;
    if (c->inner)
        tw_transport_close(c->inner); /* its end ends us */
}

static void hs_fail(tls_conn *c, int err, const char *reason)
{
    if (c->state == TLS_FAILED || c->state == TLS_OPEN || c->state == TLS_CLOSING)
        return;
    c->state = TLS_FAILED;
    cancel(c->base.loop, &c->timer_h);
    set_reason(c, reason);
    if (c->cb) {
        /* As for any failed connect: from the loop, no protocol made. */
        tw__connect_fail(c->base.loop, c->cb, c->arg, err);
        c->cb = NULL;
    }
    if (c->inner && !c->inner_eof && tw_transport_can_write_eof(c->inner)) {
        /* A lingering close: our alert, then EOF; read and drop until the
         * peer closes too. Closing at once, with the peer's records still
         * unread, would answer them with a reset that can overtake the
         * alert, and the peer would never learn why. */
        c->linger = true;
        tw_transport_write_eof(c->inner);
        tw_transport_resume_reading(c->inner);
        c->timer_h = tw_call_later(c->base.loop, TW__TLS_LINGER, linger_cb, c);
    } else if (c->inner) {
        c->linger = true;
        tw_transport_close(c->inner); /* its end ends us */
    } else {
        finish_outer(c, err);
    }
    /* Last: the callback is the user's and may do anything. */
    tw__tls_ctx_fail(c->ctx, err, reason, true);
}

static void inner_gone(tls_conn *c, int err)
{
    switch (c->state) {
    case TLS_CONNECTING:
    case TLS_HANDSHAKE: {
        char why[160];
        snprintf(why, sizeof why, "the connection was lost during the TLS "
                                  "handshake: %s", tw_strerror(err ? err : -ECONNRESET));
        hs_fail(c, err ? err : -ECONNRESET, why);
        break;
    }
    case TLS_FAILED:
        finish_outer(c, 0); /* never made: nobody hears of it */
        break;
    case TLS_OPEN:
    case TLS_CLOSING:
        finish_outer(c, err);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* 5. the outer's ops                                                  */

static void kick_cb(void *arg)
{
    tls_conn *c = arg;
    c->kick_h = 0;
    if (c->want_write && !c->blocked && c->state == TLS_OPEN &&
        !(c->base.flags & TW__T_LOST))
        tw__transport_writable(&c->base);
}

static void tls_want_write(tw_transport *t, bool on)
{
    tls_conn *c = (tls_conn *)t;
    c->want_write = on;
    /* Blocked: the link's resume calls writable. Else nothing will, so
     * the loop does. */
    if (on && !c->blocked && !c->kick_h)
        c->kick_h = tw_call_soon(t->loop, kick_cb, c);
}

static void tls_want_read(tw_transport *t, bool on)
{
    tls_conn *c = (tls_conn *)t;
    if (!c->inner || c->state != TLS_OPEN)
        return;
    if (!on) {
        tw_transport_pause_reading(c->inner);
        return;
    }
    tw_transport_resume_reading(c->inner);
    schedule_drain(c); /* records SSL holds already, a pending EOF */
}

static int tls_shutdown_write(tw_transport *t)
{
    (void)t;
    return -ENOTSUP; /* never called: can_write_eof is false */
}

/* close() has flushed the plaintext: close_notify, then the inner's own
 * close (its flush first); its end ends the outer. */
static void tls_close_flushed(tw_transport *t)
{
    tls_conn *c = (tls_conn *)t;
    if (c->state == TLS_CLOSING)
        return;
    if (c->state != TLS_OPEN || !c->inner) {
        finish_outer(c, 0);
        return;
    }
    c->state = TLS_CLOSING;
    cancel(t->loop, &c->drain_h);
    tw__tls_scope s;
    scope_enter(c, &s);
    (void)SSL_shutdown(c->ssl); /* 0: sent, the peer's not awaited */
    ERR_clear_error();
    flush_out(c);
    tw__tls_rand_leave(&s);
    c->linger = true;
    tw_transport_close(c->inner);
}

static void tls_destroy(tw_transport *t)
{
    tls_conn *c = (tls_conn *)t;
    /* Not lost and not inside open: the loop is being torn down, and the
     * inner goes the same way without our help. */
    bool teardown = !(t->flags & TW__T_LOST) && !c->opening;
    cancel(t->loop, &c->drain_h);
    cancel(t->loop, &c->kick_h);
    cancel(t->loop, &c->timer_h);
    tw_transport *inner = c->inner;
    tls_link *unused = c->link_given ? NULL : c->link;
    detach(c);
    free(unused); /* a connect that never completed */
    if (inner && !teardown) {
        if (c->linger)
            tw_transport_close(inner);
        else
            tw_transport_abort(inner);
    }
    SSL_free(c->ssl); /* and its BIOs; the pair's other half is ours */
    BIO_free(c->out);
    tw__tls_info_free(c);
    free(c->server_name);
    free(c->reason);
    tw_tls_ctx_free(c->ctx);
    tw__transport_free(&c->base);
}

/* Keepalive and the user timeout are the TCP connection's under the
 * records: set on it (a Unix socket's refuses them with -ENOTSUP). */
static int tls_keepalive(tw_transport *t, tw_ns idle, tw_ns interval, unsigned count)
{
    tls_conn *c = (tls_conn *)t;
    return c->inner ? tw_transport_set_keepalive(c->inner, idle, interval, count)
                    : -ENOTSUP;
}

static int tls_user_timeout(tw_transport *t, tw_ns timeout)
{
    tls_conn *c = (tls_conn *)t;
    return c->inner ? tw_transport_set_user_timeout(c->inner, timeout) : -ENOTSUP;
}

const tw__transport_ops tw__tls_ops = {
    .send = tls_send,
    .want_write = tls_want_write,
    .want_read = tls_want_read,
    .shutdown_write = tls_shutdown_write,
    .extra_info = tw__tls_extra_info,
    .destroy = tls_destroy,
    .sendto = NULL,
    .can_write_eof = false, /* write_eof: -ENOTSUP, as the text says */
    .tls = true,
    .close_flushed = tls_close_flushed,
    .keepalive = tls_keepalive,
    .user_timeout = tls_user_timeout,
};

bool tw_transport_is_tls(const tw_transport *t)
{
    return t && t->ops == &tw__tls_ops;
}

const char *tw_transport_tls_error(const tw_transport *t)
{
    if (t && tw__transport_dead(t, "tls_error()"))
        return NULL; /* the reason went with the connection */
    return tw_transport_is_tls(t) ? ((const tls_conn *)t)->reason : NULL;
}

/* ------------------------------------------------------------------ */
/* 6. life                                                             */

static bool is_ip(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

void tw__tls_keylog(const SSL *ssl, const char *line)
{
    const tls_conn *c = SSL_get_app_data(ssl);
    tw_loop *loop = c ? c->base.loop : NULL;
    if (loop && loop->ops->tls_secret)
        loop->ops->tls_secret(loop, line);
}

static bool ssl_setup(tls_conn *c)
{
    if (!c->server)
        tw__tls_ctx_default_trust(c->ctx);
    /* In: a memory BIO, which takes whatever the inner brings while the
     * protocol does not read. Out: a BIO pair, whose ring the records are
     * written into once and sent to the inner from in place (a memory BIO
     * would clear, copy and copy again). */
    BIO *ssl_side = NULL;
    c->ssl = SSL_new(c->ctx->ssl);
    c->in = BIO_new(BIO_s_mem());
    if (BIO_new_bio_pair(&ssl_side, TW__TLS_RING, &c->out, 256) != 1)
        ssl_side = c->out = NULL;
    if (!c->ssl || !c->in || !c->out) {
        BIO_free(c->in);
        BIO_free(ssl_side);
        BIO_free(c->out);
        c->in = c->out = NULL;
        ERR_clear_error();
        return false;
    }
    SSL_set_bio(c->ssl, c->in, ssl_side);
    SSL_set_app_data(c->ssl, c);
    if (c->server) {
        SSL_set_accept_state(c->ssl);
        return true;
    }
    SSL_set_connect_state(c->ssl);
    const char *name = c->server_name;
    bool ok = true;
    if (name && !is_ip(name)) /* SNI carries host names only */
        ok = SSL_set_tlsext_host_name(c->ssl, name) == 1;
    if (ok && name && c->ctx->verify)
        ok = is_ip(name) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) == 1
                         : SSL_set1_host(c->ssl, name) == 1;
    ERR_clear_error();
    return ok;
}

tls_conn *tw__tls_conn_new(tw_loop *loop, tw_tls_ctx *ctx, bool server,
                           const char *server_name,
                           tw_protocol_factory factory, void *arg,
                           tw_connect_cb cb)
{
    tls_conn *c = calloc(1, sizeof *c);
    tls_link *l = calloc(1, sizeof *l);
    char *name = server_name ? strdup(server_name) : NULL;
    if (!c || !l || (server_name && !name)) {
        free(c);
        free(l);
        free(name);
        return NULL;
    }
    l->base.ops = &link_ops;
    l->c = c;
    c->link = l;
    c->base.loop = loop;
    c->ctx = ctx;
    tw__tls_ctx_ref(ctx);
    c->server = server;
    c->server_name = name;
    c->factory = factory;
    c->arg = arg;
    c->cb = cb;
    c->state = TLS_CONNECTING;
    return c;
}

void tw__tls_conn_start(tls_conn *c)
{
    tw_loop *loop = c->base.loop;
    tw__transport_init(&c->base, loop, &tw__tls_ops, TW_TRANSPORT_STREAM);
    /* A loop that replays (a simulated one) lends the connection a
     * generator of its own, told apart by the transport's id. */
    c->lent = loop->ops->rand_stream &&
              loop->ops->rand_stream(loop, c->base.id, &c->rng);
}

void tw__tls_conn_discard(tls_conn *c)
{
    free(c->link);
    free(c->server_name);
    tw_tls_ctx_free(c->ctx);
    free(c);
}

tw_protocol *tw__tls_link(tls_conn *c)
{
    c->link_given = true;
    return &c->link->base;
}

tw_protocol *tw__tls_link_factory(void *arg)
{
    tls_conn *c = arg;
    return c->link ? tw__tls_link(c) : NULL;
}

void tw__tls_connected(void *arg, tw_transport *inner, int err)
{
    tls_conn *c = arg;
    if (inner)
        return; /* the link's connection_made has started the handshake */
    /* Refused, unreachable, timed out: no link was made. */
    tw_connect_cb cb = c->cb;
    void *cb_arg = c->arg;
    c->cb = NULL;
    c->state = TLS_FAILED;
    finish_outer(c, 0);
    if (cb)
        cb(cb_arg, NULL, err);
}
