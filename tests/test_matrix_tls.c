/* tests/test_matrix_tls.c - TLS transports, each body run on BOTH backends
 * (real epoll on loopback, and the simulated network): the same Transport
 * and Protocol callbacks as a plain stream, encrypted.
 *
 * Map: helpers (certificate files, a TLS server+client pair, error
 * callbacks); the handshake and what the transport tells; 16 MiB
 * byte-exact; close and close_notify, EOF without it; eof_received true;
 * flow control both ways; a BufferedProtocol; each failure (untrusted
 * certificate, wrong name, plain-text server, plain-text client, timeout,
 * a certificate required after connection_made); the context's calls;
 * TLS over Unix sockets and over a socket of the caller's (the latter on
 * epoll only: a simulated node has no descriptors, and says -ENOTSUP);
 * a connect with options (a timeout) under TLS.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "tests/harness.h"
#include "tests/rec.h"
#include "tests/tls_files.h"
#include "twin/tls.h"

static tls_files files;

static int group_setup(void **state)
{
    (void)state;
    tls_files_make(&files);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tls_files_remove(&files);
    return 0;
}

/* ---- helpers ---- */

typedef struct errs {
    int n, err;
    char reason[256];
} errs;

static void on_error(void *arg, int err, const char *reason)
{
    errs *e = arg;
    e->n++;
    e->err = err;
    snprintf(e->reason, sizeof e->reason, "%s", reason);
}

typedef struct tpair {
    rec_pool pool; /* server side protocols */
    rec_client cli;
    tw_server *srv;
    uint16_t port;
    tw_tls_ctx *sctx, *cctx;
    errs serr, cerr;
} tpair;

static void tpair_init(tpair *p, const char *cert, const char *key)
{
    memset(p, 0, sizeof *p);
    rec_client_init(&p->cli, 0);
    p->sctx = tw_tls_ctx_new(TW_TLS_SERVER);
    p->cctx = tw_tls_ctx_new(TW_TLS_CLIENT);
    assert_non_null(p->sctx);
    assert_non_null(p->cctx);
    assert_int_equal(tw_tls_ctx_load_cert_chain(p->sctx, cert, key), 0);
    assert_int_equal(tw_tls_ctx_load_verify_file(p->cctx, files.ca), 0);
    tw_tls_ctx_set_error_cb(p->sctx, on_error, &p->serr);
    tw_tls_ctx_set_error_cb(p->cctx, on_error, &p->cerr);
}

static void tpair_listen(tw_env *env, tpair *p)
{
    assert_int_equal(tw_create_server_tls(env->loop, rec_pool_factory, &p->pool,
                                          env->host, 0, NULL, p->sctx, &p->srv), 0);
    p->port = tw_server_port(p->srv);
    assert_true(p->port > 0);
}

static void tpair_connect(tw_env *env, tpair *p)
{
    assert_int_equal(tw_create_connection_tls(env->loop, rec_client_factory, &p->cli,
                                              env->host, p->port, p->cctx,
                                              rec_client_cb), 0);
    /* nothing is ever called from inside create_* */
    assert_false(p->cli.res.called);
}

/* Listen, connect, run until both ends saw connection_made. */
static void tpair_open(tw_env *env, tpair *p)
{
    tpair_listen(env, p);
    tpair_connect(env, p);
    TW_WAIT(env, p->cli.res.called && p->pool.n == 1 && p->pool.recs[0].made);
    assert_int_equal(p->cli.res.err, 0);
    assert_ptr_equal(p->cli.res.t, p->cli.r.t);
    assert_int_equal(p->cli.r.made, 1); /* connection_made came first */
    assert_true(tw_transport_is_tls(p->cli.r.t));
    assert_true(tw_transport_is_tls(p->pool.recs[0].t));
}

static rec *srv_rec(tpair *p) { return &p->pool.recs[0]; }

static void tpair_close(tw_env *env, tpair *p)
{
    if (p->srv)
        tw_server_close(p->srv);
    p->srv = NULL;
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&p->pool);
    rec_free(&p->cli.r);
    tw_tls_ctx_free(p->sctx);
    tw_tls_ctx_free(p->cctx);
}

/* The connect must fail with err, and no protocol be made on either side. */
static void expect_connect_failure(tw_env *env, tpair *p, int err)
{
    TW_WAIT(env, p->cli.res.called);
    assert_int_equal(p->cli.res.err, err);
    assert_null(p->cli.res.t);
    assert_int_equal(p->cli.r.made, 0); /* the factory was never called */
    assert_int_equal(p->cerr.n, 1);
    assert_int_equal(p->cerr.err, err);
    assert_string_equal(tw_tls_ctx_error(p->cctx), p->cerr.reason);
    assert_int_equal(tw_tls_ctx_failures(p->cctx), 1);
}

static long extra_int(tw_transport *t, const char *name)
{
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(t, name, &x), 0);
    assert_int_equal(x.type, TW_EXTRA_INT);
    return (long)x.v.i;
}

static void *extra_ptr(tw_transport *t, const char *name)
{
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(t, name, &x), 0);
    assert_int_equal(x.type, TW_EXTRA_PTR);
    return x.v.ptr;
}

static const char *extra_str(tw_transport *t, const char *name)
{
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(t, name, &x), 0);
    assert_int_equal(x.type, TW_EXTRA_STR);
    return x.v.str;
}

/* ---- the handshake and what the transport tells ---- */

static void close_after_5(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (r->len == 5)
        tw_transport_close(r->t);
}

static long eof_close_notify; /* "close_notify" as eof_received saw it */
static void note_close_notify(rec *r) { eof_close_notify = extra_int(r->t, "close_notify"); }

static void test_tls_handshake_echo_and_extra_info(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    assert_int_equal(tw_tls_ctx_set_alpn(p.cctx, "h2,http/1.1"), 0);
    assert_int_equal(tw_tls_ctx_set_alpn(p.sctx, "http/1.1,h2"), 0);
    p.pool.tmpl.echo = true;
    p.pool.tmpl.on_eof = note_close_notify;
    p.cli.r.on_data = close_after_5;
    eof_close_notify = -1;
    tpair_open(env, &p);
    tw_transport *t = p.cli.r.t, *st = srv_rec(&p)->t;

    /* no half-close on TLS, as the text says */
    assert_false(tw_transport_can_write_eof(t));
    assert_int_equal(tw_transport_write_eof(t), -ENOTSUP);
    assert_false(tw_transport_is_closing(t));

    /* the reference text's SSL names */
    assert_ptr_equal(extra_ptr(t, "sslcontext"), p.cctx);
    assert_non_null(extra_ptr(t, "ssl_object"));
    const tw_tls_peercert *pc = extra_ptr(t, "peercert");
    assert_string_equal(pc->subject, "CN=localhost,O=twin test (insecure)");
    assert_string_equal(pc->issuer, "CN=twin test CA (insecure),O=twin test (insecure)");
    assert_true(pc->verified);
    const unsigned char *der = pc->der;
    X509 *x = d2i_X509(NULL, &der, (long)pc->der_len);
    assert_non_null(x); /* the DER bytes are the certificate */
    assert_ptr_equal(der, pc->der + pc->der_len);
    X509_free(x);
    const tw_tls_cipher *ci = extra_ptr(t, "cipher");
    assert_true(strlen(ci->name) > 0);
    assert_string_equal(ci->version, "TLSv1.3");
    assert_true(ci->secret_bits >= 128);
    tw_extra ex;
    assert_int_equal(tw_transport_get_extra_info(t, "compression", &ex), 0);
    assert_int_equal(ex.type, TW_EXTRA_NONE); /* asyncio's None */
    assert_string_equal(extra_str(t, "alpn"), "http/1.1"); /* the server's pick */
    assert_string_equal(extra_str(st, "alpn"), "http/1.1");
    assert_int_equal(extra_int(t, "close_notify"), 0);
    assert_int_equal(tw_transport_get_extra_info(t, "ssl_error", &ex), -ENOENT);
    assert_null(tw_transport_tls_error(t));
    /* a server asked no certificate of the client */
    assert_int_equal(tw_transport_get_extra_info(st, "peercert", &ex), -ENOENT);
    assert_ptr_equal(extra_ptr(st, "sslcontext"), p.sctx);
    /* the addresses are the connection's */
    tw_addr peer;
    assert_int_equal(tw_transport_peername(t, &peer), 0);
    assert_int_equal(tw_addr_port(&peer), p.port);

    assert_int_equal(tw_transport_write(t, "hello", 5), 0);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_int_equal(p.cli.r.len, 5);
    assert_memory_equal(p.cli.r.data, "hello", 5);
    assert_string_equal(p.cli.r.log, "MDL");
    assert_int_equal(p.cli.r.lost_err, 0);
    /* the client's close reached the server as close_notify, then EOF */
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_int_equal(eof_close_notify, 1);
    assert_int_equal(srv_rec(&p)->lost_err, 0);
    assert_true(srv_rec(&p)->released);
    assert_int_equal(tw_server_accepted(p.srv), 1);
    assert_int_equal(p.serr.n + p.cerr.n, 0);
    tpair_close(env, &p);
}

/* ---- 16 MiB, byte for byte ---- */

struct big {
    tw_transport *t;
    size_t sent, total;
    uint8_t chunk[200 * 1000]; /* not a multiple of a record */
};

static struct big big;

static void big_write_more(void)
{
    while (big.sent < big.total) {
        size_t n = big.total - big.sent < sizeof big.chunk ? big.total - big.sent
                                                            : sizeof big.chunk;
        for (size_t i = 0; i < n; i++)
            big.chunk[i] = tw_pattern(23, big.sent + i);
        assert_int_equal(tw_transport_write(big.t, big.chunk, n), 0);
        big.sent += n;
        rec *r = (rec *)tw_transport_get_protocol(big.t);
        if (r->pauses > r->resumes)
            return; /* pause_writing: wait for resume_writing */
    }
    tw_transport_close(big.t);
}

static void big_resume(rec *r) { (void)r; big_write_more(); }

static void test_tls_16mib_byte_exact(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 23;
    p.pool.tmpl.on_eof = note_close_notify;
    p.cli.r.on_resume = big_resume;
    eof_close_notify = -1;
    tpair_open(env, &p);
    memset(&big, 0, sizeof big);
    big.t = p.cli.r.t;
    big.total = 16u << 20;
    big_write_more();
    TW_RUN_UNTIL(env, p.cli.r.done && srv_rec(&p)->done, TW_SEC(300));
    assert_int_equal(srv_rec(&p)->total, big.total);
    assert_false(srv_rec(&p)->mismatch);
    assert_true(srv_rec(&p)->max_chunk <= 256 * 1024);
    assert_true(p.cli.r.pauses >= 1); /* the records could not drain at once */
    assert_int_equal(p.cli.r.pauses, p.cli.r.resumes);
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_int_equal(eof_close_notify, 1);
    tpair_close(env, &p);
}

/* ---- close, close_notify, and an EOF without it ---- */

static void test_tls_close_flushes_then_close_notify(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.on_eof = note_close_notify;
    eof_close_notify = -1;
    tpair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_write(t, "last words", 10), 0);
    assert_int_equal(tw_transport_close(t), 0);
    assert_int_equal(tw_transport_close(t), 0); /* idempotent */
    assert_true(tw_transport_is_closing(t));
    assert_int_equal(tw_transport_write(t, "x", 1), -EPIPE);
    assert_int_equal(p.cli.r.lost, 0); /* never inside close() */
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_string_equal(p.cli.r.log, "ML");
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_memory_equal(srv_rec(&p)->data, "last words", 10);
    assert_int_equal(eof_close_notify, 1);
    tpair_close(env, &p);
}

static void test_tls_abort_sends_no_close_notify(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.on_eof = note_close_notify;
    eof_close_notify = -1;
    tpair_open(env, &p);
    assert_int_equal(tw_transport_abort(p.cli.r.t), 0);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_string_equal(p.cli.r.log, "ML");
    /* asyncio's rule: an EOF without close_notify is an EOF */
    assert_string_equal(srv_rec(&p)->log, "MEL");
    assert_int_equal(eof_close_notify, 0);
    assert_int_equal(srv_rec(&p)->lost_err, 0);
    tpair_close(env, &p);
}

static void test_tls_eof_received_true_still_closes(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.eof_keep = true; /* "stay half-open": not on TLS */
    tpair_open(env, &p);
    assert_int_equal(tw_transport_write(p.cli.r.t, "abc", 3), 0);
    assert_int_equal(tw_transport_close(p.cli.r.t), 0);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_int_equal(srv_rec(&p)->lost_err, 0);
    tpair_close(env, &p);
}

/* ---- flow control ---- */

static void test_tls_watermarks_follow_the_records(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 29;
    tpair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    /* The server stops reading: the records pile up in its receive window,
     * then in the client's connection, then the plaintext waits. */
    assert_int_equal(tw_transport_pause_reading(srv_rec(&p)->t), 0);
    assert_false(tw_transport_is_reading(srv_rec(&p)->t));
    static uint8_t chunk[16384];
    size_t sent = 0;
    while (p.cli.r.pauses == 0) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = tw_pattern(29, sent + i);
        assert_int_equal(tw_transport_write(t, chunk, sizeof chunk), 0);
        sent += sizeof chunk;
        assert_true(sent < ((size_t)256 << 20));
        if (sent % (1 << 20) == 0)
            tw_run_slice(env); /* let the network move what it can */
    }
    /* pause_writing came from inside write, strictly over the high mark */
    size_t low, high;
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_true(tw_transport_get_write_buffer_size(t) > high);
    assert_int_equal(p.cli.r.resumes, 0);
    tw_run_slice(env);
    assert_int_equal(p.cli.r.resumes, 0); /* nothing drains while paused */
    assert_int_equal(tw_transport_resume_reading(srv_rec(&p)->t), 0);
    TW_WAIT(env, p.cli.r.resumes == 1);
    assert_true(tw_transport_get_write_buffer_size(t) <= low);
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_int_equal(srv_rec(&p)->total, sent);
    assert_false(srv_rec(&p)->mismatch);
    tpair_close(env, &p);
}

static void pause_in_made(rec *r) { tw_transport_pause_reading(r->t); }

static void test_tls_pause_reading_holds_data_and_eof(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.on_made = pause_in_made;
    tpair_open(env, &p);
    assert_int_equal(tw_transport_write(p.cli.r.t, "held", 4), 0);
    assert_int_equal(tw_transport_close(p.cli.r.t), 0);
    TW_WAIT(env, p.cli.r.done);
    for (int i = 0; i < 5; i++)
        tw_run_slice(env);
    assert_string_equal(srv_rec(&p)->log, "M"); /* neither data nor EOF yet */
    assert_int_equal(tw_transport_resume_reading(srv_rec(&p)->t), 0);
    TW_WAIT(env, srv_rec(&p)->done);
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_memory_equal(srv_rec(&p)->data, "held", 4);
    tpair_close(env, &p);
}

static void test_tls_buffered_protocol(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.bufsize = 1000; /* smaller than a record */
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 31;
    tpair_open(env, &p);
    size_t n = 300000;
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = tw_pattern(31, i);
    assert_int_equal(tw_transport_write(p.cli.r.t, b, n), 0);
    free(b);
    assert_int_equal(tw_transport_close(p.cli.r.t), 0);
    TW_WAIT(env, srv_rec(&p)->done);
    assert_int_equal(srv_rec(&p)->total, n);
    assert_false(srv_rec(&p)->mismatch);
    assert_true(srv_rec(&p)->max_chunk <= 1000);
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    tpair_close(env, &p);
}

/* ---- failures ---- */

static void test_tls_untrusted_certificate(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.self_cert, files.self_key);
    tpair_listen(env, &p);
    tpair_connect(env, &p);
    expect_connect_failure(env, &p, -EKEYREJECTED);
    assert_string_equal(p.cerr.reason, "certificate verify failed: self-signed certificate");
    /* the server heard the client's alert */
    TW_WAIT(env, p.serr.n == 1);
    assert_int_equal(p.serr.err, -EKEYREJECTED);
    assert_non_null(strstr(p.serr.reason, "unknown ca"));
    assert_int_equal(p.pool.n, 0); /* no protocol was made for it */
    assert_int_equal(tw_server_accepted(p.srv), 1);
    tpair_close(env, &p);
}

static void test_tls_wrong_name(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.wrong_cert, files.wrong_key);
    tpair_listen(env, &p);
    tpair_connect(env, &p); /* to 127.0.0.1: checked as an IP address */
    expect_connect_failure(env, &p, -EKEYREJECTED);
    assert_string_equal(p.cerr.reason, "certificate verify failed: IP address mismatch");
    /* and by name */
    rec_client_init(&p.cli, 0);
    p.cerr.n = 0;
    assert_int_equal(tw_tls_ctx_set_server_name(p.cctx, "localhost"), 0);
    tpair_connect(env, &p);
    TW_WAIT(env, p.cli.res.called);
    assert_int_equal(p.cli.res.err, -EKEYREJECTED);
    assert_string_equal(p.cerr.reason, "certificate verify failed: hostname mismatch");
    /* without verification the same server is fine (and says who it is) */
    rec_client_init(&p.cli, 0);
    assert_int_equal(tw_tls_ctx_set_verify(p.cctx, false), 0);
    tpair_connect(env, &p);
    TW_WAIT(env, p.cli.res.called);
    assert_int_equal(p.cli.res.err, 0);
    const tw_tls_peercert *pc = extra_ptr(p.cli.r.t, "peercert");
    assert_string_equal(pc->subject, "CN=wrong.example,O=twin test (insecure)");
    assert_false(pc->verified);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.cli.r.done);
    tpair_close(env, &p);
}

static void test_tls_plain_text_server(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.echo = true; /* it echoes the ClientHello back */
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p.pool,
                                      env->host, 0, NULL, &p.srv), 0);
    p.port = tw_server_port(p.srv);
    tpair_connect(env, &p);
    expect_connect_failure(env, &p, -EPROTO);
    assert_non_null(strstr(p.cerr.reason, "TLS protocol error: "));
    TW_WAIT(env, p.pool.n == 1 && srv_rec(&p)->done);
    tpair_close(env, &p);
}

static void send_plain(rec *r) { tw_transport_write(r->t, "GET / HTTP/1.0\r\n\r\n", 18); }

/* A TLS server, and a plain-text client that sends it an HTTP request
 * (eof_keep: what its eof_received returns). */
static void plain_client_open(tw_env *env, tpair *p, bool eof_keep)
{
    tpair_init(p, files.cert, files.key);
    tpair_listen(env, p);
    p->cli.r.on_made = send_plain;
    p->cli.r.eof_keep = eof_keep;
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &p->cli,
                                          env->host, p->port, rec_client_cb), 0);
}

static void test_tls_plain_text_client(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    plain_client_open(env, &p, false);
    TW_WAIT(env, p.serr.n == 1 && p.cli.r.done);
    assert_int_equal(p.serr.err, -EPROTO);
    assert_string_equal(p.serr.reason, "TLS protocol error: http request");
    assert_string_equal(tw_tls_ctx_error(p.sctx), p.serr.reason);
    assert_int_equal(p.pool.n, 0);
    /* the plain client just sees the connection end */
    assert_int_equal(p.cli.r.made, 1);
    tpair_close(env, &p);
}

/* A plain-text client that stays half-open after the server's alert and
 * EOF (eof_received returns true) and never closes: the server reads and
 * drops what it sends for a second (TW__TLS_LINGER), then lets the
 * connection go. A write after that is answered with a reset, which the
 * client, reading nothing any more, learns of only at its next write:
 * -EPIPE, as Linux gives for a reset after the peer's FIN. */
static void test_tls_failed_handshake_lingers_a_second(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    plain_client_open(env, &p, true);
    TW_WAIT(env, p.serr.n == 1 && p.cli.r.eofs == 1);
    /* lingering: what the client sends is read and dropped */
    tw_transport_write(p.cli.r.t, "more", 4);
    tw_run_for(env, TW_MS(500));
    tw_transport_write(p.cli.r.t, "more", 4);
    tw_run_for(env, TW_MS(200));
    assert_false(p.cli.r.done);
    /* past the second the server's end is gone: a write meets a reset */
    tw_run_for(env, TW_MS(600));
    tw_transport_write(p.cli.r.t, "late", 4);
    tw_run_for(env, TW_MS(200));
    assert_false(p.cli.r.done); /* it reads nothing: the reset waits */
    tw_transport_write(p.cli.r.t, "again", 5);
    TW_WAIT(env, p.cli.r.done);
    assert_int_equal(p.cli.r.lost_err, -EPIPE);
    assert_int_equal(p.pool.n, 0);
    tpair_close(env, &p);
}

static void test_tls_handshake_timeout(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    assert_int_equal(tw_tls_ctx_set_handshake_timeout(p.cctx, TW_MS(300)), 0);
    assert_int_equal(tw_tls_ctx_set_handshake_timeout(p.cctx, 0), -EINVAL);
    /* a plain server that says nothing */
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p.pool,
                                      env->host, 0, NULL, &p.srv), 0);
    p.port = tw_server_port(p.srv);
    tw_ns t0 = tw_loop_now(env->loop);
    tpair_connect(env, &p);
    expect_connect_failure(env, &p, -ETIMEDOUT);
    assert_true(tw_loop_now(env->loop) - t0 >= TW_MS(300));
    assert_non_null(strstr(p.cerr.reason, "did not finish"));
    TW_WAIT(env, p.pool.n == 1 && srv_rec(&p)->done);
    tpair_close(env, &p);
}

static void close_at_once(rec *r) { tw_transport_close(r->t); }

static void test_tls_peer_closes_during_handshake(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.on_made = close_at_once; /* a plain server that hangs up */
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p.pool,
                                      env->host, 0, NULL, &p.srv), 0);
    p.port = tw_server_port(p.srv);
    tpair_connect(env, &p);
    expect_connect_failure(env, &p, -ECONNRESET);
    /* an EOF, or (a real socket closed on the unread hello) a reset */
    assert_non_null(strstr(p.cerr.reason, "during the TLS handshake"));
    tpair_close(env, &p);
}

static tw_protocol *refusing_factory(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_tls_server_factory_refuses(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    assert_int_equal(tw_create_server_tls(env->loop, refusing_factory, NULL,
                                          env->host, 0, NULL, p.sctx, &p.srv), 0);
    p.port = tw_server_port(p.srv);
    tpair_connect(env, &p);
    /* The client's handshake is done before the server makes a protocol
     * (TLS 1.3): it is connected, then the refused connection ends. */
    TW_WAIT(env, p.cli.r.done);
    assert_int_equal(p.cli.res.err, 0);
    /* "ML" (a reset) or "MEL" (an EOF): made, then lost */
    assert_int_equal(p.cli.r.log[0], 'M');
    assert_int_equal(p.cli.r.log[p.cli.r.loglen - 1], 'L');
    assert_int_equal(p.serr.n, 0); /* the handshake itself went well */
    tpair_close(env, &p);
}

static int lost_err_seen;
static char lost_reason[256];
static void note_reason(rec *r)
{
    /* valid until connection_lost returns, as the transport is */
    const char *why = tw_transport_tls_error(r->t);
    lost_err_seen = r->lost_err;
    snprintf(lost_reason, sizeof lost_reason, "%s", why ? why : "(none)");
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(r->t, "ssl_error", &x), 0);
    assert_string_equal(x.v.str, lost_reason);
}

static void test_tls_client_certificate_required(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    assert_int_equal(tw_tls_ctx_load_verify_file(p.sctx, files.ca), 0);
    assert_int_equal(tw_tls_ctx_set_verify(p.sctx, true), 0);
    p.cli.r.on_lost = note_reason;
    lost_err_seen = 1;
    tpair_listen(env, &p);
    tpair_connect(env, &p);
    /* TLS 1.3: the client is done before the server checks it, so the
     * refusal arrives after connection_made, as connection_lost. */
    TW_WAIT(env, p.cli.r.done && p.serr.n == 1);
    assert_int_equal(p.cli.res.err, 0);
    assert_string_equal(p.cli.r.log, "ML");
    assert_int_equal(lost_err_seen, -EKEYREJECTED);
    assert_string_equal(lost_reason, "the peer refused the certificate: "
                                     "tlsv13 alert certificate required");
    assert_int_equal(p.serr.err, -EKEYREJECTED);
    assert_non_null(strstr(p.serr.reason, "no certificate"));
    assert_int_equal(p.pool.n, 0);
    /* with a certificate of the test CA it is welcome, and seen */
    rec_client_init(&p.cli, 0);
    assert_int_equal(tw_tls_ctx_load_cert_chain(p.cctx, files.wrong_cert,
                                                files.wrong_key), 0);
    tpair_connect(env, &p);
    TW_WAIT(env, p.cli.res.called && p.pool.n == 1 && srv_rec(&p)->made);
    assert_int_equal(p.cli.res.err, 0);
    const tw_tls_peercert *pc = extra_ptr(srv_rec(&p)->t, "peercert");
    assert_string_equal(pc->subject, "CN=wrong.example,O=twin test (insecure)");
    assert_true(pc->verified);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    tpair_close(env, &p);
}

static void test_tls_refused_and_context_freed_early(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    tpair_listen(env, &p);
    uint16_t port = p.port;
    tw_server_close(p.srv);
    p.srv = NULL;
    /* the connection holds its own reference to the context */
    tw_tls_ctx *c = p.cctx;
    p.cctx = NULL;
    assert_int_equal(tw_create_connection_tls(env->loop, rec_client_factory, &p.cli,
                                              env->host, port, c, rec_client_cb), 0);
    tw_tls_ctx_free(c);
    TW_WAIT(env, p.cli.res.called);
    assert_int_equal(p.cli.res.err, -ECONNREFUSED);
    assert_int_equal(p.cli.r.made, 0);
    assert_int_equal(p.cerr.n, 0); /* no handshake ever started */
    /* bad arguments: an error, and cb is never called */
    assert_int_equal(tw_create_connection_tls(env->loop, rec_client_factory, &p.cli,
                                              env->host, 443, NULL, rec_client_cb),
                     -EINVAL);
    assert_int_equal(tw_create_connection_tls(env->loop, rec_client_factory, &p.cli,
                                              env->host, 443, p.sctx, rec_client_cb),
                     -EINVAL); /* a server's context */
    tpair_close(env, &p);
}

/* ---- over a Unix socket, over a socket of the caller's ---- */

static void test_tls_unix_socket(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    p.pool.tmpl.echo = true;
    p.pool.tmpl.on_eof = note_close_notify;
    p.cli.r.on_data = close_after_5;
    eof_close_notify = -1;
    assert_int_equal(tw_create_unix_server_tls(env->loop, rec_pool_factory,
                                               &p.pool, env->unix_path, NULL,
                                               p.sctx, &p.srv), 0);
    /* no host to check the certificate against: a name must be given */
    assert_int_equal(tw_create_unix_connection_tls(env->loop, rec_client_factory,
                                                   &p.cli, env->unix_path,
                                                   p.cctx, rec_client_cb),
                     -EINVAL);
    assert_int_equal(tw_tls_ctx_set_server_name(p.cctx, "localhost"), 0);
    assert_int_equal(tw_create_unix_connection_tls(env->loop, rec_client_factory,
                                                   &p.cli, env->unix_path,
                                                   p.cctx, rec_client_cb), 0);
    assert_false(p.cli.res.called);
    TW_WAIT(env, p.cli.res.called && p.pool.n == 1 && srv_rec(&p)->made);
    assert_int_equal(p.cli.res.err, 0);
    tw_transport *t = p.cli.r.t;
    assert_true(tw_transport_is_tls(t));
    assert_true(tw_transport_is_tls(srv_rec(&p)->t));
    const tw_tls_peercert *pc = extra_ptr(t, "peercert");
    assert_true(pc->verified);
    tw_addr peer;
    assert_int_equal(tw_transport_peername(t, &peer), 0);
    assert_int_equal(tw_addr_family(&peer), AF_UNIX);
    assert_int_equal(tw_transport_write(t, "hello", 5), 0);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    assert_memory_equal(p.cli.r.data, "hello", 5);
    assert_string_equal(p.cli.r.log, "MDL");
    assert_string_equal(srv_rec(&p)->log, "MDEL");
    assert_int_equal(eof_close_notify, 1);

    /* the name is checked: another one is refused */
    rec_free(&p.cli.r);
    rec_client_init(&p.cli, 0);
    assert_int_equal(tw_tls_ctx_set_server_name(p.cctx, "wrong.example"), 0);
    assert_int_equal(tw_create_unix_connection_tls(env->loop, rec_client_factory,
                                                   &p.cli, env->unix_path,
                                                   p.cctx, rec_client_cb), 0);
    expect_connect_failure(env, &p, -EKEYREJECTED);
    /* without verification no name is needed */
    tw_tls_ctx *nv = tw_tls_ctx_new(TW_TLS_CLIENT);
    assert_int_equal(tw_tls_ctx_set_verify(nv, false), 0);
    rec_free(&p.cli.r);
    rec_client_init(&p.cli, 0);
    assert_int_equal(tw_create_unix_connection_tls(env->loop, rec_client_factory,
                                                   &p.cli, env->unix_path, nv,
                                                   rec_client_cb), 0);
    tw_tls_ctx_free(nv);
    TW_WAIT(env, p.cli.res.called);
    assert_int_equal(p.cli.res.err, 0);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.cli.r.done);
    tpair_close(env, &p);
}

static conn_result fd_srv_res;
static void fd_srv_cb(void *arg, tw_transport *t, int err)
{
    (void)arg;
    fd_srv_res.called = true;
    fd_srv_res.err = err;
    fd_srv_res.t = t;
}

/* asyncio's create_connection(sock=, ssl=) and connect_accepted_socket(
 * sock, ssl=): both ends of a socket pair, each wrapped in TLS. */
static void test_tls_over_existing_socket(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    assert_int_equal(tw_tls_ctx_set_server_name(p.cctx, "localhost"), 0);
    p.pool.tmpl.echo = true;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    /* the roles are the contexts': a server's cannot start a client */
    assert_int_equal(tw_create_connection_fd_tls(env->loop, rec_client_factory,
                                                 &p.cli, sv[0], p.sctx,
                                                 rec_client_cb), -EINVAL);
    assert_int_equal(tw_connect_accepted_socket_tls(env->loop, rec_pool_factory,
                                                    &p.pool, sv[1], p.cctx,
                                                    fd_srv_cb), -EINVAL);
    int rc_c = tw_create_connection_fd_tls(env->loop, rec_client_factory, &p.cli,
                                           sv[0], p.cctx, rec_client_cb);
    int rc_s = tw_connect_accepted_socket_tls(env->loop, rec_pool_factory,
                                              &p.pool, sv[1], p.sctx, fd_srv_cb);
    if (env->sim) {
        /* a simulated node has no descriptors */
        assert_int_equal(rc_c, -ENOTSUP);
        assert_int_equal(rc_s, -ENOTSUP);
        close(sv[0]);
        close(sv[1]);
        tw_run_slice(env);
        assert_false(p.cli.res.called);
        tpair_close(env, &p);
        return;
    }
    assert_int_equal(rc_c, 0);
    assert_int_equal(rc_s, 0);
    memset(&fd_srv_res, 0, sizeof fd_srv_res);
    assert_false(p.cli.res.called); /* after the handshake, from the loop */
    TW_WAIT(env, p.cli.res.called && fd_srv_res.called);
    assert_int_equal(p.cli.res.err, 0);
    assert_int_equal(fd_srv_res.err, 0);
    assert_int_equal(p.pool.n, 1);
    assert_ptr_equal(fd_srv_res.t, srv_rec(&p)->t);
    assert_int_equal(srv_rec(&p)->made, 1); /* connection_made came first */
    assert_true(tw_transport_is_tls(p.cli.r.t));
    assert_true(extra_ptr(p.cli.r.t, "peercert") != NULL);
    assert_int_equal(tw_transport_write(p.cli.r.t, "hi there", 8), 0);
    TW_WAIT(env, p.cli.r.len == 8);
    assert_memory_equal(p.cli.r.data, "hi there", 8);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    tpair_close(env, &p);
}

/* A server-side handshake over a socket fails: its completion hears it. */
static void test_tls_accepted_socket_handshake_fails(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    memset(&fd_srv_res, 0, sizeof fd_srv_res);
    int rc = tw_connect_accepted_socket_tls(env->loop, rec_pool_factory, &p.pool,
                                            sv[1], p.sctx, fd_srv_cb);
    if (env->sim) { /* no descriptors (see above) */
        assert_int_equal(rc, -ENOTSUP);
        close(sv[0]);
        close(sv[1]);
        tpair_close(env, &p);
        return;
    }
    assert_int_equal(rc, 0);
    /* the other end speaks plain text */
    assert_int_equal(write(sv[0], "GET / HTTP/1.0\r\n\r\n", 18), 18);
    TW_WAIT(env, fd_srv_res.called);
    assert_int_equal(fd_srv_res.err, -EPROTO);
    assert_null(fd_srv_res.t);
    assert_int_equal(p.pool.n, 0);
    assert_int_equal(p.serr.n, 1);
    close(sv[0]);
    tpair_close(env, &p);
}

/* ---- a connect with options ---- */

static void test_tls_connect_with_timeout(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    tpair_listen(env, &p);
    tw_connect_report rep;
    tw_connect_opts o = {.timeout_ns = TW_SEC(10), .report = &rep};
    assert_int_equal(tw_create_connection_tls_ex(env->loop, rec_client_factory,
                                                 &p.cli, "localhost", p.port, &o,
                                                 p.cctx, rec_client_cb), 0);
    TW_WAIT(env, p.cli.res.called && p.pool.n == 1 && srv_rec(&p)->made);
    assert_int_equal(p.cli.res.err, 0);
    assert_true(tw_transport_is_tls(p.cli.r.t));
    assert_int_equal(rep.attempts[rep.n - 1].err, 0);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.cli.r.done);

    /* a SYN nobody answers: a listener whose queue is full on epoll, an
     * address no node has in the simulator */
    int lfd = -1, cfd = -1;
    const char *host = "10.0.0.99";
    uint16_t port = 9;
    if (!env->sim) {
        tw_addr a;
        tw_addr_ip(&a, "127.0.0.1", 0);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(lfd, &a.u.sa, a.len), 0);
        assert_int_equal(listen(lfd, 0), 0);
        socklen_t len = sizeof a.u.ss;
        assert_int_equal(getsockname(lfd, &a.u.sa, &len), 0);
        cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int r = connect(cfd, &a.u.sa, a.len);
        assert_true(r == 0 || errno == EINPROGRESS);
        struct pollfd pf = {.fd = cfd, .events = POLLOUT};
        assert_int_equal(poll(&pf, 1, 5000), 1);
        host = "127.0.0.1";
        port = tw_addr_port(&a);
    }
    rec_free(&p.cli.r);
    rec_client_init(&p.cli, 0);
    o.timeout_ns = TW_MS(200);
    tw_ns t0 = tw_loop_now(env->loop);
    assert_int_equal(tw_create_connection_tls_ex(env->loop, rec_client_factory,
                                                 &p.cli, host, port, &o, p.cctx,
                                                 rec_client_cb), 0);
    TW_WAIT(env, p.cli.res.called);
    assert_int_equal(p.cli.res.err, -ETIMEDOUT);
    assert_true(tw_loop_now(env->loop) - t0 >= TW_MS(200));
    assert_int_equal(p.cli.r.made, 0);
    assert_int_equal(p.cerr.n, 0); /* no handshake was started */
    assert_int_equal(rep.attempts[0].err, -ETIMEDOUT);
    if (cfd >= 0)
        close(cfd);
    if (lfd >= 0)
        close(lfd);
    tpair_close(env, &p);
}

/* ---- the context's own calls (no loop needed, run once per backend) ---- */

/* Keepalive and the user timeout of a TLS transport are those of the TCP
 * connection under it: set there (the real socket's options), refused
 * with -EPIPE once the TLS transport closes. */
static void test_tls_keepalive_is_the_connection_s(void **state)
{
    tw_env *env = TW_ENV(state);
    tpair p;
    tpair_init(&p, files.cert, files.key);
    tpair_open(env, &p);
    tw_transport *t = p.cli.r.t, *s = srv_rec(&p)->t;
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(30), TW_SEC(5), 4), 0);
    assert_int_equal(tw_transport_set_keepalive(s, TW_SEC(20), TW_SEC(2), 3), 0);
    assert_int_equal(tw_transport_set_user_timeout(t, TW_MS(2500)), 0);
    if (env->backend == tw_backend_real) {
        assert_int_equal(tw_sockopt(t, SOL_SOCKET, SO_KEEPALIVE), 1);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPIDLE), 30);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPINTVL), 5);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPCNT), 4);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_USER_TIMEOUT), 2500);
        assert_int_equal(tw_sockopt(s, IPPROTO_TCP, TCP_KEEPIDLE), 20);
    }
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), 0, 3), -EINVAL);
    /* the connection goes on as before */
    assert_int_equal(tw_transport_write(t, "ping", 4), 0);
    TW_WAIT(env, srv_rec(&p)->total == 4);
    assert_int_equal(tw_transport_close(t), 0);
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), TW_SEC(1), 2), -EPIPE);
    assert_int_equal(tw_transport_set_user_timeout(t, TW_SEC(1)), -EPIPE);
    TW_WAIT(env, p.cli.r.done && srv_rec(&p)->done);
    tpair_close(env, &p);
}

static void test_tls_context_errors(void **state)
{
    (void)state;
    tw_tls_ctx *ctx = tw_tls_ctx_new(TW_TLS_SERVER);
    assert_non_null(ctx);
    assert_int_equal(tw_tls_ctx_load_cert_chain(ctx, "/nonexistent/cert.pem", NULL),
                     -ENOENT);
    assert_non_null(strstr(tw_tls_ctx_error(ctx), "/nonexistent/cert.pem"));
    /* a key that is not the certificate's */
    assert_int_equal(tw_tls_ctx_load_cert_chain(ctx, files.cert, files.wrong_key),
                     -EINVAL);
    assert_non_null(strstr(tw_tls_ctx_error(ctx), "mismatch"));
    /* a key file is not a certificate */
    assert_int_equal(tw_tls_ctx_load_verify_file(ctx, files.key), -EINVAL);
    assert_int_equal(tw_tls_ctx_set_alpn(ctx, "h2,,x"), -EINVAL);
    assert_int_equal(tw_tls_ctx_set_alpn(ctx, "h2,"), -EINVAL);
    assert_int_equal(tw_tls_ctx_set_alpn(ctx, ""), 0);
    assert_int_equal(tw_tls_ctx_use_test_cert(ctx, ""), -EINVAL);
    assert_int_equal(tw_tls_ctx_use_test_cert(ctx, "a b"), -EINVAL);
    assert_int_equal(tw_tls_ctx_use_test_cert(ctx, "localhost,::1"), 0);
    assert_int_equal(tw_tls_ctx_role(ctx), TW_TLS_SERVER);
    assert_non_null(tw_tls_ctx_ssl_ctx(ctx));
    tw_tls_ctx_free(ctx);
    tw_tls_ctx_free(NULL);
    assert_null(tw_tls_ctx_new((tw_tls_role)7));
    /* the test credentials are the same bytes every time */
    char *c1, *k1, *c2, *k2;
    assert_int_equal(tw_tls_test_cert_pem("a.example", false, &c1, &k1), 0);
    assert_int_equal(tw_tls_test_cert_pem("a.example", false, &c2, &k2), 0);
    assert_string_equal(c1, c2);
    assert_string_equal(k1, k2);
    free(c2);
    free(k2);
    assert_int_equal(tw_tls_test_cert_pem("b.example", false, &c2, &k2), 0);
    assert_string_not_equal(k1, k2);
    free(c1);
    free(k1);
    free(c2);
    free(k2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_tls_handshake_echo_and_extra_info),
        TW_MATRIX(test_tls_16mib_byte_exact),
        TW_MATRIX(test_tls_close_flushes_then_close_notify),
        TW_MATRIX(test_tls_abort_sends_no_close_notify),
        TW_MATRIX(test_tls_eof_received_true_still_closes),
        TW_MATRIX(test_tls_watermarks_follow_the_records),
        TW_MATRIX(test_tls_pause_reading_holds_data_and_eof),
        TW_MATRIX(test_tls_buffered_protocol),
        TW_MATRIX(test_tls_untrusted_certificate),
        TW_MATRIX(test_tls_wrong_name),
        TW_MATRIX(test_tls_plain_text_server),
        TW_MATRIX(test_tls_plain_text_client),
        TW_MATRIX(test_tls_failed_handshake_lingers_a_second),
        TW_MATRIX(test_tls_handshake_timeout),
        TW_MATRIX(test_tls_peer_closes_during_handshake),
        TW_MATRIX(test_tls_server_factory_refuses),
        TW_MATRIX(test_tls_client_certificate_required),
        TW_MATRIX(test_tls_refused_and_context_freed_early),
        TW_MATRIX(test_tls_keepalive_is_the_connection_s),
        TW_MATRIX(test_tls_context_errors),
        TW_MATRIX(test_tls_unix_socket),
        TW_MATRIX(test_tls_over_existing_socket),
        TW_MATRIX(test_tls_accepted_socket_handshake_fails),
        TW_MATRIX(test_tls_connect_with_timeout),
    };
    return cmocka_run_group_tests_name("TLS transports (backend matrix)", tests,
                                       group_setup, group_teardown);
}
