/* tests/test_matrix_stream.c - stream Transport and Protocol behaviours of
 * the reference text, each body run on BOTH backends (real epoll on
 * loopback, and the simulated network): the proof that protocol code sees
 * the same thing in both worlds.
 *
 * Map: helpers (a server+client pair); connection life; eof and half-close;
 * close/abort; writes and errors; watermarks; reading; BufferedProtocol;
 * big transfers; servers and refusals; addresses and extra info; Unix
 * sockets; protocol swap; the echo apps.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/harness.h"
#include "tests/rec.h"
#include "twin/echo.h"
#include "twin/sim.h"

typedef struct pair {
    rec_pool pool; /* server side protocols */
    rec_client cli;
    tw_server *srv;
    uint16_t port;
} pair;

static void pair_init(pair *p)
{
    memset(p, 0, sizeof *p);
    rec_client_init(&p->cli, 0);
}

/* Listen, connect, and run until both ends saw connection_made. */
static void pair_open(tw_env *env, pair *p)
{
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p->pool,
                                      env->host, 0, NULL, &p->srv), 0);
    p->port = tw_server_port(p->srv);
    assert_true(p->port > 0);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &p->cli,
                                          env->host, p->port, rec_client_cb), 0);
    /* connection_made is never called from inside create_* */
    assert_int_equal(p->cli.r.made, 0);
    assert_false(p->cli.res.called);
    TW_WAIT(env, p->cli.res.called && p->pool.n == 1 && p->pool.recs[0].made);
    assert_int_equal(p->cli.res.err, 0);
    assert_ptr_equal(p->cli.res.t, p->cli.r.t);
    /* the connect completion comes after connection_made */
    assert_int_equal(p->cli.r.made, 1);
}

static rec *server_rec(pair *p) { return &p->pool.recs[0]; }

static void pair_close(tw_env *env, pair *p)
{
    if (p->srv)
        tw_server_close(p->srv);
    p->srv = NULL;
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&p->pool);
    rec_free(&p->cli.r);
}

/* Fill the path until the transport has to buffer (the peer is not
 * reading). Returns the bytes written; the pattern continues from `off`. */
static size_t fill_until_buffered(tw_transport *t, uint64_t seed, size_t off)
{
    static uint8_t chunk[65536];
    size_t written = 0;
    assert_int_equal(tw_transport_set_write_buffer_limits(t, (ssize_t)1 << 40, 0), 0);
    while (tw_transport_get_write_buffer_size(t) == 0) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = tw_pattern(seed, off + written + i);
        assert_int_equal(tw_transport_write(t, chunk, sizeof chunk), 0);
        written += sizeof chunk;
        assert_true(written < ((size_t)256 << 20)); /* the path must fill */
    }
    return written;
}

static void write_pattern(tw_transport *t, uint64_t seed, size_t off, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = tw_pattern(seed, off + i);
    assert_int_equal(tw_transport_write(t, b, n), 0);
    free(b);
}

/* ---- connection life ---- */

static void close_after_5(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (r->len == 5) {
        tw_transport_close(r->t);
        /* connection_lost never runs inside close() */
        assert_int_equal(r->lost, 0);
        assert_true(tw_transport_is_closing(r->t));
    }
}

static void test_echo_roundtrip(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.echo = true;
    p.cli.r.on_data = close_after_5;
    pair_open(env, &p);
    assert_int_equal(tw_transport_write(p.cli.r.t, "hello", 5), 0);
    TW_WAIT(env, p.cli.r.done && server_rec(&p)->done);
    assert_int_equal(p.cli.r.len, 5);
    assert_memory_equal(p.cli.r.data, "hello", 5);
    assert_string_equal(p.cli.r.log, "MDL");
    assert_int_equal(p.cli.r.lost_err, 0);
    /* the server saw data, then the client's EOF, then closed itself */
    assert_string_equal(server_rec(&p)->log, "MDEL");
    assert_int_equal(server_rec(&p)->lost_err, 0);
    assert_true(server_rec(&p)->released);
    pair_close(env, &p);
}

static void close_in_made(rec *r) { tw_transport_close(r->t); }

static void test_close_in_connection_made(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.cli.r.on_made = close_in_made;
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p.pool,
                                      env->host, 0, NULL, &p.srv), 0);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &p.cli,
                                          env->host, tw_server_port(p.srv),
                                          rec_client_cb), 0);
    TW_WAIT(env, p.cli.r.done && p.pool.n == 1 && p.pool.recs[0].done);
    assert_string_equal(p.cli.r.log, "ML");
    assert_string_equal(server_rec(&p)->log, "MEL");
    pair_close(env, &p);
}

/* ---- eof and half-close ---- */

static void test_eof_received_false_closes(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_true(tw_transport_can_write_eof(t));
    assert_int_equal(tw_transport_write(t, "abc", 3), 0);
    assert_int_equal(tw_transport_write_eof(t), 0);
    assert_int_equal(tw_transport_write_eof(t), 0); /* idempotent */
    assert_int_equal(tw_transport_write(t, "x", 1), -ESHUTDOWN);
    assert_false(tw_transport_is_closing(t));
    TW_WAIT(env, p.cli.r.done && server_rec(&p)->done);
    assert_string_equal(server_rec(&p)->log, "MDEL");
    assert_int_equal(server_rec(&p)->len, 3);
    /* the server's close reached the client as EOF */
    assert_string_equal(p.cli.r.log, "MEL");
    assert_int_equal(p.cli.r.lost_err, 0);
    pair_close(env, &p);
}

static void reply_and_close(rec *r)
{
    assert_false(tw_transport_is_reading(r->t));
    assert_int_equal(tw_transport_write(r->t, "bye", 3), 0);
    assert_int_equal(tw_transport_close(r->t), 0);
}

static void test_eof_received_true_keeps_half_open(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.eof_keep = true;
    p.pool.tmpl.on_eof = reply_and_close;
    pair_open(env, &p);
    assert_int_equal(tw_transport_write(p.cli.r.t, "abc", 3), 0);
    assert_int_equal(tw_transport_write_eof(p.cli.r.t), 0);
    TW_WAIT(env, p.cli.r.done && server_rec(&p)->done);
    /* after its own write_eof the client still received the reply */
    assert_int_equal(p.cli.r.len, 3);
    assert_memory_equal(p.cli.r.data, "bye", 3);
    assert_string_equal(p.cli.r.log, "MDEL");
    assert_string_equal(server_rec(&p)->log, "MDEL");
    assert_memory_equal(server_rec(&p)->data, "abc", 3);
    pair_close(env, &p);
}

/* A client kept half-open after the server's EOF writes to the server,
 * which has closed and gone: the server's host answers with a reset, but
 * the client reads nothing any more and is not waiting to write, so it
 * learns of the reset only at its next write: -EPIPE, Linux's error for
 * a reset after the peer's FIN (asyncio's transport: BrokenPipeError). */
static void test_reset_after_eof_is_learned_at_the_next_write(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.cli.r.eof_keep = true;
    pair_open(env, &p);
    tw_transport_close(server_rec(&p)->t);
    TW_WAIT(env, p.cli.r.eofs == 1 && server_rec(&p)->done);
    assert_int_equal(tw_transport_write(p.cli.r.t, "anyone?", 7), 0);
    tw_run_for(env, TW_MS(200)); /* the reset has come back */
    assert_int_equal(p.cli.r.lost, 0);
    assert_int_equal(tw_transport_write(p.cli.r.t, "again", 5), -EPIPE);
    TW_WAIT(env, p.cli.r.done);
    assert_int_equal(p.cli.r.lost_err, -EPIPE);
    assert_string_equal(p.cli.r.log, "MEL");
    pair_close(env, &p);
}

/* A reset that comes while the client has paused reading (and has
 * nothing to write) waits for it: resume_reading finds first the bytes
 * that came before it, then the reset, -ECONNRESET (a socket's read
 * returns what is queued before its error). The reset: the server
 * closes with the client's bytes unread. */
static void test_reset_while_paused_is_learned_on_resume(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    assert_int_equal(tw_transport_pause_reading(p.cli.r.t), 0);
    assert_int_equal(tw_transport_write(p.cli.r.t, "unread", 6), 0);
    assert_int_equal(tw_transport_write(server_rec(&p)->t, "last words", 10), 0);
    tw_run_for(env, TW_MS(100)); /* each in the other's kernel, not read */
    tw_transport_close(server_rec(&p)->t);
    TW_WAIT(env, server_rec(&p)->done);
    tw_run_for(env, TW_MS(200));
    assert_int_equal(p.cli.r.lost, 0);
    assert_int_equal(tw_transport_resume_reading(p.cli.r.t), 0);
    assert_int_equal(p.cli.r.lost, 0); /* never from inside the call */
    TW_WAIT(env, p.cli.r.done);
    assert_int_equal(p.cli.r.lost_err, -ECONNRESET);
    assert_string_equal(p.cli.r.log, "MDL");
    assert_int_equal(p.cli.r.len, 10);
    assert_memory_equal(p.cli.r.data, "last words", 10);
    pair_close(env, &p);
}

/* ---- close and abort ---- */

static void test_close_flushes_everything(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 11;
    pair_open(env, &p);
    size_t n = 8u << 20;
    write_pattern(p.cli.r.t, 11, 0, n);
    bool flushing = tw_transport_get_write_buffer_size(p.cli.r.t) > 0;
    assert_int_equal(tw_transport_close(p.cli.r.t), 0);
    /* asyncio's socket transport takes a write while close() is still
     * flushing, and refuses one once nothing was left to flush */
    if (flushing) {
        write_pattern(p.cli.r.t, 11, n, 1);
        n++;
    } else {
        assert_int_equal(tw_transport_write(p.cli.r.t, "x", 1), -EPIPE);
    }
    TW_WAIT(env, p.cli.r.done && server_rec(&p)->done);
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_int_equal(server_rec(&p)->total, n);
    assert_false(server_rec(&p)->mismatch);
    assert_string_equal(server_rec(&p)->log, "MDEL");
    pair_close(env, &p);
}

static void test_abort_drops_buffer(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 12;
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    size_t written = fill_until_buffered(t, 12, 0);
    write_pattern(t, 12, written, 1 << 20);
    written += 1 << 20;
    size_t buffered = tw_transport_get_write_buffer_size(t);
    assert_true(buffered > 0);
    /* what the transport handed on before the abort: the rest of
     * `written` was still in twin's buffer */
    size_t left = written - buffered;
    assert_int_equal(tw_transport_abort(t), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(t), 0);
    assert_int_equal(p.cli.r.lost, 0); /* never synchronous */
    assert_true(tw_transport_is_closing(t));
    assert_int_equal(tw_transport_write(t, "x", 1), -EPIPE);
    assert_int_equal(tw_transport_abort(t), 0);
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, p.cli.r.done);
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_string_equal(p.cli.r.log, "ML");
    assert_int_equal(tw_transport_resume_reading(server_rec(&p)->t), 0);
    TW_WAIT(env, server_rec(&p)->done);
    /* what was still in twin's buffer never left: in the simulator all
     * that had left arrives; on loopback the kernel may deliver what it
     * accepted, never more */
    if (env->sim)
        assert_int_equal(server_rec(&p)->total, left);
    else
        assert_true(server_rec(&p)->total <= left);
    assert_false(server_rec(&p)->mismatch);
    pair_close(env, &p);
}

static void test_use_after_close_is_an_error(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_write(t, "x", 1), 0);
    assert_int_equal(tw_transport_close(t), 0);
    assert_true(tw_transport_is_closing(t));
    struct iovec iov = {.iov_base = "ab", .iov_len = 2};
    assert_int_equal(tw_transport_write(t, "y", 1), -EPIPE);
    assert_int_equal(tw_transport_writelines(t, &iov, 1), -EPIPE);
    assert_int_equal(tw_transport_write_eof(t), 0);
    assert_int_equal(tw_transport_close(t), 0);
    assert_int_equal(tw_transport_pause_reading(t), 0);
    assert_int_equal(tw_transport_resume_reading(t), 0);
    assert_false(tw_transport_is_reading(t));
    assert_int_equal(tw_transport_sendto(t, "z", 1, NULL), -ENOTSUP);
    assert_int_equal(tw_transport_write(t, NULL, 0), -EPIPE);
    TW_WAIT(env, p.cli.r.done && server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->len, 1);
    pair_close(env, &p);
}

/* ---- writes ---- */

static void test_writelines_is_ordered(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 13;
    pair_open(env, &p);
    /* 200 segments (more than one writev takes), some empty */
    enum { N = 200 };
    static uint8_t bytes[N * 301];
    struct iovec iov[N];
    size_t off = 0;
    for (int i = 0; i < N; i++) {
        size_t len = (size_t)(i % 7 == 0 ? 0 : 1 + (i * 37) % 300);
        for (size_t j = 0; j < len; j++)
            bytes[off + j] = tw_pattern(13, off + j);
        iov[i].iov_base = bytes + off;
        iov[i].iov_len = len;
        off += len;
    }
    assert_int_equal(tw_transport_writelines(p.cli.r.t, iov, N), 0);
    assert_int_equal(tw_transport_writelines(p.cli.r.t, NULL, 0), 0);
    assert_int_equal(tw_transport_write(p.cli.r.t, "", 0), 0);
    assert_int_equal(tw_transport_close(p.cli.r.t), 0);
    TW_WAIT(env, server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->total, off);
    assert_false(server_rec(&p)->mismatch);
    pair_close(env, &p);
}

/* ---- watermarks ---- */

static void test_write_buffer_limits_rules(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    size_t low, high;
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 64 * 1024);
    assert_int_equal(low, 16 * 1024);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 1000, TW_LIMIT_DEFAULT), 0);
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 1000);
    assert_int_equal(low, 250);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, TW_LIMIT_DEFAULT, 1000), 0);
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 4000);
    assert_int_equal(low, 1000);
    /* low > high, and negatives, are refused and change nothing */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 100, 200), -EINVAL);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, -5, 1), -EINVAL);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 10, -7), -EINVAL);
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 4000);
    assert_int_equal(low, 1000);
    /* high 0 forces low 0 */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, TW_LIMIT_DEFAULT), 0);
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 0);
    assert_int_equal(low, 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, TW_LIMIT_DEFAULT,
                                                          TW_LIMIT_DEFAULT), 0);
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(high, 65536);
    assert_int_equal(low, 16384);
    /* nothing buffered: no pause was ever due */
    assert_int_equal(p.cli.r.pauses, 0);
    tw_transport_close(t);
    pair_close(env, &p);
}

static size_t size_at_resume;
static void note_size(rec *r) { size_at_resume = tw_transport_get_write_buffer_size(r->t); }

static void test_watermark_boundaries(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 14;
    p.cli.r.on_resume = note_size;
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    size_t written = fill_until_buffered(t, 14, 0);
    size_t s = tw_transport_get_write_buffer_size(t);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, (ssize_t)s + 100, 0), 0);
    assert_int_equal(p.cli.r.pauses, 0);
    /* reaching exactly high does not pause ... */
    write_pattern(t, 14, written, 100);
    written += 100;
    assert_int_equal(tw_transport_get_write_buffer_size(t), s + 100);
    assert_int_equal(p.cli.r.pauses, 0);
    /* ... one byte over does, inside write() */
    write_pattern(t, 14, written, 1);
    written += 1;
    assert_int_equal(p.cli.r.pauses, 1);
    /* writing more while paused does not pause again */
    write_pattern(t, 14, written, 10);
    written += 10;
    assert_int_equal(p.cli.r.pauses, 1);
    assert_int_equal(p.cli.r.resumes, 0);
    /* low 0: resume_writing only once the buffer is empty */
    size_at_resume = (size_t)-1;
    assert_int_equal(tw_transport_resume_reading(server_rec(&p)->t), 0);
    TW_WAIT(env, p.cli.r.resumes == 1);
    assert_int_equal(size_at_resume, 0);
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->total, written);
    assert_false(server_rec(&p)->mismatch);
    assert_string_equal(p.cli.r.log, "MPRL");
    pair_close(env, &p);
}

static void test_zero_high_water_and_set_limits_pause(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 15;
    p.cli.r.on_resume = note_size;
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    size_t w1 = fill_until_buffered(t, 15, 0);
    assert_int_equal(p.cli.r.pauses, 0);
    /* set_write_buffer_limits may pause at once ... */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, TW_LIMIT_DEFAULT), 0);
    assert_int_equal(p.cli.r.pauses, 1);
    /* ... but never resumes, even when the buffer is now under high */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, (ssize_t)1 << 40, 0), 0);
    assert_int_equal(p.cli.r.resumes, 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, 0), 0);
    size_at_resume = (size_t)-1;
    assert_int_equal(tw_transport_resume_reading(server_rec(&p)->t), 0);
    TW_WAIT(env, p.cli.r.resumes == 1);
    assert_int_equal(size_at_resume, 0);
    /* high 0: any byte that has to wait pauses again */
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    fill_until_buffered(t, 15, w1);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, 0), 0);
    assert_int_equal(p.cli.r.pauses, 2);
    tw_transport_abort(t);
    TW_WAIT(env, p.cli.r.done);
    tw_transport_resume_reading(server_rec(&p)->t);
    TW_WAIT(env, server_rec(&p)->done);
    assert_false(server_rec(&p)->mismatch);
    pair_close(env, &p);
}

/* ---- reading ---- */

static void test_pause_resume_reading(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    tw_transport *st = server_rec(&p)->t;
    assert_true(tw_transport_is_reading(st));
    assert_int_equal(tw_transport_pause_reading(st), 0);
    assert_int_equal(tw_transport_pause_reading(st), 0); /* idempotent */
    assert_false(tw_transport_is_reading(st));
    assert_int_equal(tw_transport_write(p.cli.r.t, "data", 4), 0);
    tw_loop_run_for(env->loop, TW_MS(50));
    assert_int_equal(server_rec(&p)->data_calls, 0);
    assert_int_equal(tw_transport_resume_reading(st), 0);
    assert_int_equal(tw_transport_resume_reading(st), 0); /* idempotent */
    assert_true(tw_transport_is_reading(st));
    TW_WAIT(env, server_rec(&p)->len == 4);
    assert_memory_equal(server_rec(&p)->data, "data", 4);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, server_rec(&p)->done);
    pair_close(env, &p);
}

static void test_reads_are_at_most_256k(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 16;
    pair_open(env, &p);
    /* pile 4 MiB up behind a paused reader, so reads could be large */
    assert_int_equal(tw_transport_pause_reading(server_rec(&p)->t), 0);
    write_pattern(p.cli.r.t, 16, 0, 4u << 20);
    tw_transport_close(p.cli.r.t);
    tw_loop_run_for(env->loop, TW_MS(50));
    tw_transport_resume_reading(server_rec(&p)->t);
    TW_WAIT(env, server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->total, 4u << 20);
    assert_false(server_rec(&p)->mismatch);
    assert_true(server_rec(&p)->max_chunk <= 256 * 1024);
    pair_close(env, &p);
}

static void abort_on_data(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    tw_transport_abort(r->t);
}

static void test_abort_inside_data_received(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.on_data = abort_on_data;
    pair_open(env, &p);
    for (int i = 0; i < 50; i++)
        tw_transport_write(p.cli.r.t, "0123456789", 10);
    TW_WAIT(env, server_rec(&p)->done);
    /* nothing after abort: one data_received, then connection_lost */
    assert_string_equal(server_rec(&p)->log, "MDL");
    assert_int_equal(server_rec(&p)->data_calls, 1);
    TW_WAIT(env, p.cli.r.done);
    pair_close(env, &p);
}

/* ---- BufferedProtocol ---- */

static void test_buffered_protocol_small_buffers(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.bufsize = 7;
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 17;
    pair_open(env, &p);
    const size_t n = 100000;
    write_pattern(p.cli.r.t, 17, 0, n);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, server_rec(&p)->done);
    rec *s = server_rec(&p);
    assert_int_equal(s->total, n);
    assert_false(s->mismatch);
    assert_true(s->max_chunk <= 7);
    assert_true(s->get_buffers >= (int)(n / 7));
    assert_string_equal(s->log, "MDEL");
    pair_close(env, &p);
}

static void test_buffered_protocol_large_buffer(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.bufsize = 1 << 20;
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 18;
    pair_open(env, &p);
    write_pattern(p.cli.r.t, 18, 0, 3u << 20);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->total, 3u << 20);
    assert_false(server_rec(&p)->mismatch);
    pair_close(env, &p);
}

static void test_buffered_protocol_empty_buffer_is_an_error(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.bufsize = 16;
    p.pool.tmpl.zero_buffer = true;
    pair_open(env, &p);
    assert_int_equal(tw_transport_write(p.cli.r.t, "abc", 3), 0);
    TW_WAIT(env, server_rec(&p)->done);
    assert_int_equal(server_rec(&p)->lost_err, -ENOBUFS);
    assert_string_equal(server_rec(&p)->log, "ML");
    assert_true(server_rec(&p)->get_buffers >= 1);
    TW_WAIT(env, p.cli.r.done);
    pair_close(env, &p);
}

/* ---- a big transfer through a slow reader ---- */

struct big {
    tw_transport *t;
    size_t sent, total;
    uint8_t chunk[256 * 1024];
};

static struct big big;

static void big_write_more(void)
{
    tw_transport *t = big.t;
    while (big.sent < big.total) {
        size_t n = big.total - big.sent < sizeof big.chunk ? big.total - big.sent
                                                            : sizeof big.chunk;
        for (size_t i = 0; i < n; i++)
            big.chunk[i] = tw_pattern(19, big.sent + i);
        assert_int_equal(tw_transport_write(t, big.chunk, n), 0);
        big.sent += n;
        rec *r = (rec *)tw_transport_get_protocol(t);
        if (r->pauses > r->resumes)
            return; /* pause_writing: wait for resume_writing */
    }
    tw_transport_close(t);
}

static void big_resume(rec *r) { (void)r; big_write_more(); }

static void slow_resume(void *t) { tw_transport_resume_reading(t); }

static void slow_reader(rec *r, const uint8_t *d, size_t n)
{
    (void)d;
    /* every ~1 MiB, stop reading for 1 ms */
    if ((r->total - n) >> 20 != r->total >> 20) {
        tw_transport_pause_reading(r->t);
        tw_call_later(tw_transport_loop(r->t), TW_MS(1), slow_resume, r->t);
    }
}

static void test_large_transfer_slow_reader(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 19;
    p.pool.tmpl.on_data = slow_reader;
    p.cli.r.on_resume = big_resume;
    pair_open(env, &p);
    memset(&big, 0, sizeof big);
    big.t = p.cli.r.t;
    big.total = 64u << 20;
    big_write_more();
    TW_RUN_UNTIL(env, p.cli.r.done && server_rec(&p)->done, TW_SEC(300));
    assert_int_equal(server_rec(&p)->total, big.total);
    assert_false(server_rec(&p)->mismatch);
    assert_true(p.cli.r.pauses >= 1);
    assert_int_equal(p.cli.r.pauses, p.cli.r.resumes);
    assert_int_equal(p.cli.r.lost_err, 0);
    pair_close(env, &p);
}

/* ---- servers and refusals ---- */

static int factory_calls;
static tw_protocol *counting_factory(void *client)
{
    factory_calls++;
    return rec_client_factory(client);
}

static void test_connection_refused(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pool pool = {0};
    tw_server *srv;
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &pool,
                                      env->host, 0, NULL, &srv), 0);
    uint16_t port = tw_server_port(srv);
    assert_int_equal(tw_server_close(srv), 0);
    rec_client c;
    rec_client_init(&c, 0);
    factory_calls = 0;
    assert_int_equal(tw_create_connection(env->loop, counting_factory, &c,
                                          env->host, port, rec_client_cb), 0);
    TW_WAIT(env, c.res.called);
    assert_int_equal(c.res.err, -ECONNREFUSED);
    assert_null(c.res.t);
    assert_int_equal(factory_calls, 0);
    assert_int_equal(c.r.made, 0);
    assert_int_equal(pool.n, 0);
    rec_free(&c.r);
}

static void test_server_close_keeps_connections(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.echo = true;
    p.cli.r.on_data = close_after_5;
    pair_open(env, &p);
    assert_int_equal(tw_server_accepted(p.srv), 1);
    tw_server_close(p.srv);
    p.srv = NULL;
    /* the accepted connection still works */
    assert_int_equal(tw_transport_write(p.cli.r.t, "hello", 5), 0);
    TW_WAIT(env, p.cli.r.done);
    assert_memory_equal(p.cli.r.data, "hello", 5);
    /* new ones are refused */
    rec_client c2;
    rec_client_init(&c2, 0);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &c2,
                                          env->host, p.port, rec_client_cb), 0);
    TW_WAIT(env, c2.res.called);
    assert_int_equal(c2.res.err, -ECONNREFUSED);
    rec_free(&c2.r);
    pair_close(env, &p);
}

/* Out of descriptors: the server hears of each failed accept, keeps the
 * client waiting in the backlog, and accepts it once it can (a retry
 * delay, 1 s on both backends, after each failure). */
static int accept_errors, accept_error_last;
static void on_accept_error(void *arg, tw_server *srv, int err)
{
    (void)arg;
    assert_non_null(srv);
    accept_errors++;
    accept_error_last = err;
}

static void test_accept_failures_are_reported(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    p.pool.tmpl.echo = true;
    p.cli.r.on_data = close_after_5;
    accept_errors = accept_error_last = 0;
    tw_server_opts so = {.on_accept_error = on_accept_error};
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p.pool,
                                      env->host, 0, &so, &p.srv), 0);
    if (env->sim)
        assert_int_equal(tw_sim_emfile(env->loop, 2), 0);
    else
        tw_sys_fail(TW_SYS_ACCEPT4, 1, 2, EMFILE);
    tw_ns t0 = tw_loop_now(env->loop);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &p.cli,
                                          env->host, tw_server_port(p.srv),
                                          rec_client_cb), 0);
    TW_WAIT(env, p.pool.n == 1);
    assert_true(tw_loop_now(env->loop) - t0 >= TW_SEC(2));
    assert_int_equal(accept_errors, 2);
    assert_int_equal(accept_error_last, -EMFILE);
    TW_WAIT(env, p.cli.r.made);
    assert_int_equal(tw_transport_write(p.cli.r.t, "later", 5), 0);
    TW_WAIT(env, p.cli.r.done);
    assert_memory_equal(p.cli.r.data, "later", 5);
    assert_int_equal(accept_errors, 2);
    pair_close(env, &p);
}

static void test_many_connections(void **state)
{
    tw_env *env = TW_ENV(state);
    enum { N = 12 };
    rec_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.tmpl.echo = true;
    tw_server *srv;
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &pool,
                                      env->host, 0, NULL, &srv), 0);
    static rec_client c[N];
    for (int i = 0; i < N; i++) {
        rec_client_init(&c[i], 0);
        c[i].r.on_data = close_after_5;
        assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &c[i],
                                              env->host, tw_server_port(srv),
                                              rec_client_cb), 0);
    }
    for (int i = 0; i < N; i++) {
        TW_WAIT(env, c[i].r.made);
        char msg[6];
        snprintf(msg, sizeof msg, "m%04d", i);
        tw_transport_write(c[i].r.t, msg, 5);
    }
    for (int i = 0; i < N; i++) {
        char msg[6];
        snprintf(msg, sizeof msg, "m%04d", i);
        TW_WAIT(env, c[i].r.done);
        assert_int_equal(c[i].r.len, 5);
        assert_memory_equal(c[i].r.data, msg, 5);
        rec_free(&c[i].r);
    }
    assert_int_equal(tw_server_accepted(srv), N);
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&pool);
}

static void test_bad_arguments(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_server *srv = (tw_server *)1;
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_server(env->loop, NULL, NULL, env->host, 0, NULL, &srv), -EINVAL);
    assert_null(srv);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &c,
                                          env->host, 0, rec_client_cb), -EINVAL);
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &c,
                                          NULL, 80, rec_client_cb), -EINVAL);
    tw_server_opts o = {.backlog = -1};
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, NULL, env->host,
                                      0, &o, &srv), -EINVAL);
    char longpath[200];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    assert_int_equal(tw_create_unix_connection(env->loop, rec_client_factory, &c,
                                               longpath, rec_client_cb),
                     -ENAMETOOLONG);
    /* no callback ran for any refused call */
    tw_loop_run_for(env->loop, TW_MS(10));
    assert_false(c.res.called);
    rec_free(&c.r);
}

/* ---- addresses and extra info ---- */

static void test_extra_info(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    pair_open(env, &p);
    tw_transport *ct = p.cli.r.t, *st = server_rec(&p)->t;
    tw_extra e;
    assert_int_equal(tw_transport_get_extra_info(ct, "peername", &e), 0);
    assert_int_equal(e.type, TW_EXTRA_ADDR);
    assert_int_equal(tw_addr_port(&e.v.addr), p.port);
    tw_addr cs, sp;
    assert_int_equal(tw_transport_sockname(ct, &cs), 0);
    assert_int_equal(tw_transport_peername(st, &sp), 0);
    assert_true(tw_addr_equal(&cs, &sp));
    char a[TW_ADDR_STRLEN], b[TW_ADDR_STRLEN];
    tw_addr_format(&cs, a, sizeof a);
    tw_addr_format(&sp, b, sizeof b);
    assert_string_equal(a, b);
    assert_int_equal(tw_transport_get_extra_info(ct, "no-such-thing", &e), -ENOENT);
    int rc = tw_transport_get_extra_info(ct, "socket", &e);
    if (strcmp(env->backend, "real") == 0) {
        assert_int_equal(rc, 0);
        assert_int_equal(e.type, TW_EXTRA_FD);
        assert_true(e.v.fd >= 0);
    } else {
        assert_int_equal(rc, -ENOENT); /* no OS socket in the simulation */
    }
    assert_int_equal(tw_transport_kind_of(ct), TW_TRANSPORT_STREAM);
    assert_ptr_equal(tw_transport_loop(ct), env->loop);
    tw_transport_close(ct);
    pair_close(env, &p);
}

/* ---- Unix sockets ---- */

static void test_unix_echo(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pool pool;
    memset(&pool, 0, sizeof pool);
    pool.tmpl.echo = true;
    tw_server *srv;
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool,
                                           env->unix_path, NULL, &srv), 0);
    tw_addr sa;
    assert_int_equal(tw_server_sockname(srv, 0, &sa), 0);
    assert_int_equal(tw_addr_family(&sa), AF_UNIX);
    rec_client c;
    rec_client_init(&c, 0);
    c.r.on_data = close_after_5;
    assert_int_equal(tw_create_unix_connection(env->loop, rec_client_factory, &c,
                                               env->unix_path, rec_client_cb), 0);
    TW_WAIT(env, c.r.made);
    tw_transport_write(c.r.t, "unix!", 5);
    TW_WAIT(env, c.r.done);
    assert_memory_equal(c.r.data, "unix!", 5);
    assert_string_equal(c.r.log, "MDL");
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_free(&c.r);
    rec_pool_free(&pool);
}

/* A client's peername is the path it dialled, whole (a path longer than
 * the room kept inline for an address), the same through get_extra_info;
 * the family alone for its own unnamed end. */
static void test_unix_peername_is_the_whole_path(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pool pool;
    memset(&pool, 0, sizeof pool);
    tw_server *srv;
    char path[sizeof env->unix_path + 16];
    snprintf(path, sizeof path, "%s.a-longer-name", env->unix_path);
    assert_true(strlen(path) > 26);
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool,
                                           path, NULL, &srv), 0);
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_unix_connection(env->loop, rec_client_factory, &c,
                                               path, rec_client_cb), 0);
    TW_WAIT(env, c.r.made);
    tw_addr pa, want;
    assert_int_equal(tw_addr_unix(&want, path), 0);
    assert_int_equal(tw_transport_peername(c.r.t, &pa), 0);
    assert_int_equal(tw_addr_family(&pa), AF_UNIX);
    assert_string_equal(pa.u.un.sun_path, path);
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(c.r.t, "peername", &x), 0);
    assert_int_equal(x.type, TW_EXTRA_ADDR);
    assert_int_equal(x.v.addr.len, pa.len);
    assert_memory_equal(&x.v.addr.u, &pa.u, pa.len);
    tw_addr sa;
    if (tw_transport_sockname(c.r.t, &sa) == 0) /* unnamed: the family at most */
        assert_int_equal(tw_addr_family(&sa), AF_UNIX);
    tw_transport_close(c.r.t);
    TW_WAIT(env, c.r.done);
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    unlink(path);
    rec_free(&c.r);
    rec_pool_free(&pool);
}

/* A path a live server listens on is taken: a second server gets
 * -EADDRINUSE and the first stays reachable (the second used to remove
 * the first's socket file and bind in its place). Once the first is
 * closed, the path is free again. */
static void test_unix_server_refuses_a_live_path(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pool pool, pool2;
    memset(&pool, 0, sizeof pool);
    memset(&pool2, 0, sizeof pool2);
    pool.tmpl.echo = true;
    tw_server *srv, *srv2 = NULL;
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool,
                                           env->unix_path, NULL, &srv), 0);
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool2,
                                           env->unix_path, NULL, &srv2),
                     -EADDRINUSE);
    assert_null(srv2);
    rec_client c;
    rec_client_init(&c, 0);
    c.r.on_data = close_after_5;
    assert_int_equal(tw_create_unix_connection(env->loop, rec_client_factory, &c,
                                               env->unix_path, rec_client_cb), 0);
    TW_WAIT(env, c.r.made);
    tw_transport_write(c.r.t, "first", 5);
    TW_WAIT(env, c.r.done);
    assert_memory_equal(c.r.data, "first", 5);
    assert_int_equal(pool2.n, 0);
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool2,
                                           env->unix_path, NULL, &srv2), 0);
    tw_server_close(srv2);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_free(&c.r);
    rec_pool_free(&pool);
    rec_pool_free(&pool2);
}

/* ---- protocol swap ---- */

static rec second;

static void swap_on_first(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    /* "one" may arrive in pieces: swap once all of it is here */
    if (r->len < 3)
        return;
    assert_int_equal(tw_transport_set_protocol(r->t, &second.base), 0);
    assert_ptr_equal(tw_transport_get_protocol(r->t), &second.base);
    second.t = r->t;
}

static void test_set_protocol(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    rec_init(&second, 0);
    p.pool.tmpl.on_data = swap_on_first;
    pair_open(env, &p);
    assert_int_equal(tw_transport_set_protocol(server_rec(&p)->t, NULL), -EINVAL);
    tw_transport_write(p.cli.r.t, "one", 3);
    TW_WAIT(env, server_rec(&p)->len == 3);
    tw_transport_write(p.cli.r.t, "two", 3);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, second.done);
    assert_memory_equal(server_rec(&p)->data, "one", 3);
    assert_memory_equal(second.data, "two", 3);
    assert_string_equal(second.log, "DEL");
    /* the transport releases the protocol it has at the end, only */
    assert_true(second.released);
    assert_false(server_rec(&p)->released);
    rec_free(&second);
    pair_close(env, &p);
}

/* A BufferedProtocol that hands the transport to a plain Protocol once
 * it has 1000 bytes: what is left of the bytes on their way (of the read
 * or delivery under way, too) goes to the new protocol's data_received,
 * in order, none lost. */
static void swap_after_1000(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (second.t || r->len < 1000)
        return;
    assert_int_equal(tw_transport_set_protocol(r->t, &second.base), 0);
    second.t = r->t;
}

static void test_set_protocol_buffered_to_plain(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    pair_init(&p);
    rec_init(&second, 0);
    p.pool.tmpl.bufsize = 4;
    p.pool.tmpl.on_data = swap_after_1000;
    pair_open(env, &p);
    uint8_t msg[4000];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7 + i / 251);
    tw_transport_write(p.cli.r.t, msg, sizeof msg);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, second.done);
    rec *first = server_rec(&p);
    /* 4-byte buffers to the first up to 1000 bytes, the rest to the second */
    assert_true(first->len >= 1000 && first->len < 1004);
    assert_true(first->max_chunk <= 4);
    assert_int_equal(first->len + second.len, sizeof msg);
    assert_memory_equal(first->data, msg, first->len);
    assert_memory_equal(second.data, msg + first->len, second.len);
    rec_free(&second);
    pair_close(env, &p);
}

/* ---- the echo apps' protocols ---- */

static void test_echo_protocols(void **state)
{
    tw_env *env = TW_ENV(state);
    for (int keep = 0; keep < 2; keep++) {
        tw_echo_server_cfg cfg = {.keep_open = keep};
        tw_server *srv;
        assert_int_equal(tw_create_server(env->loop, tw_echo_server_factory, &cfg,
                                          env->host, 0, NULL, &srv), 0);
        tw_echo_client_cfg cc = {.message = "Hello World!", .count = keep ? 3 : 1};
        tw_echo_client *c = tw_echo_client_new(&cc);
        assert_non_null(c);
        assert_int_equal(tw_create_connection(env->loop, tw_echo_client_factory, c,
                                              env->host, tw_server_port(srv),
                                              tw_echo_client_connected), 0);
        TW_WAIT(env, tw_echo_client_done(c));
        size_t n;
        const uint8_t *got = tw_echo_client_received(c, &n);
        assert_int_equal(cfg.connections, 1);
        if (keep) {
            assert_int_equal(tw_echo_client_error(c), 0);
            assert_true(tw_echo_client_ok(c));
            assert_int_equal(n, 36);
        } else {
            /* The reference server echoes its first data_received and
             * closes. On loopback the one 12-byte write is one read. In
             * the simulator the message may arrive in pieces (some seeds
             * make sure of it): then the server closes with bytes unread,
             * which is a reset, and the client gets the first piece, then
             * the reset, never nothing. */
            assert_true(n >= 1 && n <= 12);
            assert_memory_equal(got, "Hello World!", n);
            if (!env->sim)
                assert_int_equal(n, 12);
            assert_int_equal(tw_echo_client_error(c), n == 12 ? 0 : -ECONNRESET);
        }
        tw_echo_client_free(c);
        tw_server_close(srv);
        TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_echo_roundtrip),
        TW_MATRIX(test_unix_peername_is_the_whole_path),
        TW_MATRIX(test_close_in_connection_made),
        TW_MATRIX(test_eof_received_false_closes),
        TW_MATRIX(test_eof_received_true_keeps_half_open),
        TW_MATRIX(test_reset_after_eof_is_learned_at_the_next_write),
        TW_MATRIX(test_reset_while_paused_is_learned_on_resume),
        TW_MATRIX(test_close_flushes_everything),
        TW_MATRIX(test_abort_drops_buffer),
        TW_MATRIX(test_use_after_close_is_an_error),
        TW_MATRIX(test_writelines_is_ordered),
        TW_MATRIX(test_write_buffer_limits_rules),
        TW_MATRIX(test_watermark_boundaries),
        TW_MATRIX(test_zero_high_water_and_set_limits_pause),
        TW_MATRIX(test_pause_resume_reading),
        TW_MATRIX(test_reads_are_at_most_256k),
        TW_MATRIX(test_abort_inside_data_received),
        TW_MATRIX(test_buffered_protocol_small_buffers),
        TW_MATRIX(test_buffered_protocol_large_buffer),
        TW_MATRIX(test_buffered_protocol_empty_buffer_is_an_error),
        TW_MATRIX(test_large_transfer_slow_reader),
        TW_MATRIX(test_connection_refused),
        TW_MATRIX(test_server_close_keeps_connections),
        TW_MATRIX(test_accept_failures_are_reported),
        TW_MATRIX(test_many_connections),
        TW_MATRIX(test_bad_arguments),
        TW_MATRIX(test_extra_info),
        TW_MATRIX(test_unix_echo),
        TW_MATRIX(test_unix_server_refuses_a_live_path),
        TW_MATRIX(test_set_protocol),
        TW_MATRIX(test_set_protocol_buffered_to_plain),
        TW_MATRIX(test_echo_protocols),
    };
    return cmocka_run_group_tests_name("stream transports (backend matrix)",
                                       tests, NULL, NULL);
}
