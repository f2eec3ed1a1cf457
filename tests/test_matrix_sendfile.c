/* tests/test_matrix_sendfile.c - tw_loop_sendfile (asyncio's
 * loop.sendfile), each body run on BOTH backends: the real one sends
 * with sendfile(2), the simulator with the fallback (the file read and
 * sent as the connection takes it); then what only epoll can show (which
 * path it took, sendfile(2) failing before and after the first byte).
 *
 * Map: helpers (a file of a known pattern, the completion); whole files
 * through an echo; offset and count; what is refused meanwhile; the
 * order with buffered writes; TLS and Unix transports; a file's error;
 * close, abort and a peer's reset; the real backend's paths.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/harness.h"
#include "tests/rec.h"
#include "twin/real.h"
#include "twin/tls.h"

/* ---- helpers ---- */

#define SEED 41

typedef struct file {
    int fd;
    size_t size;
    uint8_t *bytes; /* what it holds */
    char path[64];
} file;

static void file_make(file *f, size_t size)
{
    snprintf(f->path, sizeof f->path, "/tmp/twin-sendfile-XXXXXX");
    f->fd = mkstemp(f->path);
    assert_true(f->fd >= 0);
    f->size = size;
    f->bytes = malloc(size ? size : 1);
    assert_non_null(f->bytes);
    for (size_t i = 0; i < size; i++)
        f->bytes[i] = tw_pattern(SEED, i);
    for (size_t off = 0; off < size;) {
        ssize_t n = write(f->fd, f->bytes + off, size - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    assert_int_equal(lseek(f->fd, 0, SEEK_SET), 0);
}

static void file_free(file *f)
{
    close(f->fd);
    unlink(f->path);
    free(f->bytes);
}

static off_t file_pos(const file *f) { return lseek(f->fd, 0, SEEK_CUR); }

/* The completion, and what the client's protocol had seen by then. */
typedef struct sf_res {
    bool called;
    uint64_t sent;
    int err;
    tw_transport *t;
    int lost_before; /* connection_lost calls before it */
    rec *r;
    const char *trailer; /* written from the completion, if set */
    int trailer_rc;
} sf_res;

static void sf_cb(void *arg, tw_transport *t, uint64_t sent, int err)
{
    sf_res *s = arg;
    assert_false(s->called); /* once */
    s->called = true;
    s->sent = sent;
    s->err = err;
    s->t = t;
    s->lost_before = s->r ? s->r->lost : -1;
    if (s->trailer)
        s->trailer_rc = tw_transport_write(t, s->trailer, strlen(s->trailer));
}

static void sendfile_wait(tw_env *env, tw_transport *t, file *f, int64_t off,
                          uint64_t count, sf_res *s)
{
    s->called = false;
    assert_int_equal(tw_loop_sendfile(env->loop, t, f->fd, off, count, sf_cb, s),
                     0);
    assert_false(s->called); /* never from inside the call */
    TW_RUN_UNTIL(env, s->called, TW_SEC(120));
    assert_ptr_equal(s->t, t);
}

static void pause_on_made(rec *r) { tw_transport_pause_reading(r->t); }

/* ---- whole files ---- */

/* A few MiB and an odd tail, echoed back by the server: both directions
 * byte for byte; the position ends past the file. */
static void test_sendfile_whole_file_echoed(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, (3u << 20) + 4321);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.echo = true;
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    sf_res s = {.r = &p.cli.r};
    sendfile_wait(env, t, &f, 0, 0, &s);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f.size);
    assert_int_equal(file_pos(&f), (off_t)f.size);
    TW_RUN_UNTIL(env, p.cli.r.len == f.size, TW_SEC(120));
    assert_memory_equal(p.cli.r.data, f.bytes, f.size);
    assert_int_equal(p.pool.recs[0].len, f.size);
    assert_memory_equal(p.pool.recs[0].data, f.bytes, f.size);
    assert_int_equal(s.lost_before, 0);
    /* the protocol's writes are its own again */
    assert_int_equal(tw_transport_write(t, "!", 1), 0);
    TW_WAIT(env, p.pool.recs[0].len == f.size + 1);
    tw_transport_close(t);
    rec_pair_close(env, &p);
    file_free(&f);
}

/* The same over a Unix socket. */
static void test_sendfile_unix_socket(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, (1u << 20) + 99);
    rec_pool pool = {0};
    tw_server *srv;
    assert_int_equal(tw_create_unix_server(env->loop, rec_pool_factory, &pool,
                                           env->unix_path, NULL, &srv), 0);
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_unix_connection(env->loop, rec_client_factory, &c,
                                               env->unix_path, rec_client_cb), 0);
    TW_WAIT(env, c.res.called && pool.n == 1 && pool.recs[0].made);
    assert_int_equal(c.res.err, 0);
    sf_res s = {.r = &c.r};
    sendfile_wait(env, c.res.t, &f, 0, 0, &s);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f.size);
    TW_RUN_UNTIL(env, pool.recs[0].len == f.size, TW_SEC(120));
    assert_memory_equal(pool.recs[0].data, f.bytes, f.size);
    tw_transport_close(c.res.t);
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&pool);
    rec_free(&c.r);
    file_free(&f);
}

/* ---- offset and count ---- */

static void test_sendfile_offset_and_count(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, 100000);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    sf_res s = {.r = &p.cli.r};
    size_t want = 0;
    /* a slice */
    sendfile_wait(env, t, &f, 1000, 5000, &s);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, 5000);
    assert_int_equal(file_pos(&f), 6000);
    want += 5000;
    /* a count past the end: to the end */
    sendfile_wait(env, t, &f, 99000, 5000, &s);
    assert_int_equal(s.sent, 1000);
    assert_int_equal(file_pos(&f), 100000);
    want += 1000;
    /* an offset past the end: nothing sent, the position untouched */
    assert_int_equal(lseek(f.fd, 7, SEEK_SET), 7);
    sendfile_wait(env, t, &f, 200000, 0, &s);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, 0);
    assert_int_equal(file_pos(&f), 7);
    /* count 0: from the offset to the end */
    sendfile_wait(env, t, &f, 90000, 0, &s);
    assert_int_equal(s.sent, 10000);
    want += 10000;
    TW_WAIT(env, p.pool.recs[0].len == want);
    const uint8_t *got = p.pool.recs[0].data;
    assert_memory_equal(got, f.bytes + 1000, 5000);
    assert_memory_equal(got + 5000, f.bytes + 99000, 1000);
    assert_memory_equal(got + 6000, f.bytes + 90000, 10000);
    tw_transport_close(t);
    rec_pair_close(env, &p);
    file_free(&f);
}

/* ---- what is refused ---- */

static int refused_calls;
static void refused_cb(void *arg, tw_transport *t, uint64_t sent, int err)
{
    (void)arg;
    (void)t;
    (void)sent;
    (void)err;
    refused_calls++;
}

static void test_sendfile_refusals(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, 2u << 20);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    tw_loop *l = env->loop;
    refused_calls = 0;
    assert_int_equal(tw_loop_sendfile(l, t, f.fd, -1, 0, refused_cb, NULL), -EINVAL);
    assert_int_equal(tw_loop_sendfile(l, t, -1, 0, 0, refused_cb, NULL), -EBADF);
    assert_int_equal(tw_loop_sendfile(l, NULL, f.fd, 0, 0, refused_cb, NULL), -EINVAL);
    assert_int_equal(tw_loop_sendfile(NULL, t, f.fd, 0, 0, refused_cb, NULL), -EINVAL);

    /* while the file goes, the connection is its own */
    sf_res s = {.r = &p.cli.r, .trailer = "END"};
    assert_int_equal(tw_loop_sendfile(l, t, f.fd, 0, 0, sf_cb, &s), 0);
    assert_int_equal(tw_transport_write(t, "x", 1), -EBUSY);
    struct iovec iov = {.iov_base = "y", .iov_len = 1};
    assert_int_equal(tw_transport_writelines(t, &iov, 1), -EBUSY);
    assert_int_equal(tw_transport_write_eof(t), -EBUSY);
    assert_int_equal(tw_loop_sendfile(l, t, f.fd, 0, 0, refused_cb, NULL), -EBUSY);
    TW_WAIT(env, s.called);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f.size);
    assert_int_equal(s.trailer_rc, 0); /* free again in the completion */
    TW_WAIT(env, p.pool.recs[0].len == f.size + 3);
    assert_memory_equal(p.pool.recs[0].data, f.bytes, f.size);
    assert_memory_equal(p.pool.recs[0].data + f.size, "END", 3);

    /* after write_eof, and once closing */
    assert_int_equal(tw_transport_write_eof(t), 0);
    assert_int_equal(tw_loop_sendfile(l, t, f.fd, 0, 0, refused_cb, NULL), -ESHUTDOWN);
    tw_transport_close(t);
    assert_int_equal(tw_loop_sendfile(l, t, f.fd, 0, 0, refused_cb, NULL), -EPIPE);

    /* a datagram transport cannot (asyncio raises for it) */
    rec_client d;
    rec_client_init(&d, 0);
    tw_datagram_opts o = {0};
    assert_int_equal(tw_addr_ip(&o.local, env->host, 0), 0);
    assert_int_equal(tw_create_datagram_endpoint(l, rec_client_factory, &d, &o,
                                                 rec_client_cb), 0);
    TW_WAIT(env, d.res.called);
    assert_int_equal(tw_loop_sendfile(l, d.res.t, f.fd, 0, 0, refused_cb, NULL),
                     -ENOTSUP);
    tw_transport_close(d.res.t);
    rec_pair_close(env, &p);
    assert_int_equal(refused_calls, 0);
    rec_free(&d.r);
    file_free(&f);
}

/* ---- order with buffered writes ---- */

/* What was written before goes first: the file waits for the buffer to
 * drain (the protocol's pause and resume as usual), then goes, then the
 * completion's write. */
static void test_sendfile_after_buffered_writes(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, (1u << 20) + 17);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.on_made = pause_on_made; /* a reader that waits */
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    size_t head = 8u << 20;
    uint8_t *h = malloc(head);
    assert_non_null(h);
    for (size_t i = 0; i < head; i++)
        h[i] = tw_pattern(SEED + 1, i);
    assert_int_equal(tw_transport_write(t, h, head), 0);
    assert_true(tw_transport_get_write_buffer_size(t) > 0);
    assert_int_equal(p.cli.r.pauses, 1);
    sf_res s = {.r = &p.cli.r, .trailer = "END"};
    assert_int_equal(tw_loop_sendfile(env->loop, t, f.fd, 0, 0, sf_cb, &s), 0);
    tw_run_slice(env);
    assert_false(s.called);
    tw_transport_resume_reading(p.pool.recs[0].t);
    TW_RUN_UNTIL(env, s.called, TW_SEC(120));
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f.size);
    assert_int_equal(p.cli.r.resumes, 1); /* the header drained */
    TW_RUN_UNTIL(env, p.pool.recs[0].len == head + f.size + 3, TW_SEC(120));
    const uint8_t *got = p.pool.recs[0].data;
    assert_memory_equal(got, h, head);
    assert_memory_equal(got + head, f.bytes, f.size);
    assert_memory_equal(got + head + f.size, "END", 3);
    tw_transport_close(t);
    rec_pair_close(env, &p);
    free(h);
    file_free(&f);
}

/* close() while the file still waits for the buffer: the sendfile ends
 * (-ECANCELED, nothing of the file sent), and what was written is
 * flushed before the connection closes. */
static void test_sendfile_close_while_waiting_for_buffer(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, 1u << 20);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.on_made = pause_on_made;
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    size_t head = 8u << 20;
    uint8_t *h = malloc(head);
    assert_non_null(h);
    for (size_t i = 0; i < head; i++)
        h[i] = tw_pattern(SEED + 2, i);
    assert_int_equal(tw_transport_write(t, h, head), 0);
    assert_true(tw_transport_get_write_buffer_size(t) > 0);
    sf_res s = {.r = &p.cli.r};
    assert_int_equal(lseek(f.fd, 11, SEEK_SET), 11);
    assert_int_equal(tw_loop_sendfile(env->loop, t, f.fd, 0, 0, sf_cb, &s), 0);
    tw_run_slice(env);
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, s.called);
    assert_int_equal(s.err, -ECANCELED);
    assert_int_equal(s.sent, 0);
    assert_int_equal(file_pos(&f), 11); /* nothing sent: untouched */
    tw_transport_resume_reading(p.pool.recs[0].t);
    TW_RUN_UNTIL(env, p.pool.recs[0].eofs == 1 && p.cli.r.done, TW_SEC(120));
    assert_int_equal(p.pool.recs[0].len, head);
    assert_memory_equal(p.pool.recs[0].data, h, head);
    rec_pair_close(env, &p);
    free(h);
    file_free(&f);
}

/* ---- TLS ---- */

static void test_sendfile_over_tls(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, (2u << 20) + 5);
    tw_tls_ctx *sctx = tw_tls_ctx_new(TW_TLS_SERVER);
    tw_tls_ctx *cctx = tw_tls_ctx_new(TW_TLS_CLIENT);
    assert_int_equal(tw_tls_ctx_use_test_cert(sctx, env->host), 0);
    assert_int_equal(tw_tls_ctx_trust_test_ca(cctx), 0);
    rec_pool pool = {0};
    pool.tmpl.echo = true;
    tw_server *srv;
    assert_int_equal(tw_create_server_tls(env->loop, rec_pool_factory, &pool,
                                          env->host, 0, NULL, sctx, &srv), 0);
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_connection_tls(env->loop, rec_client_factory, &c,
                                              env->host, tw_server_port(srv),
                                              cctx, rec_client_cb), 0);
    TW_WAIT(env, c.res.called && pool.n == 1 && pool.recs[0].made);
    assert_int_equal(c.res.err, 0);
    unsigned long native = tw_sys_calls(TW_SYS_SENDFILE);
    sf_res s = {.r = &c.r};
    sendfile_wait(env, c.res.t, &f, 0, 0, &s);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f.size);
    /* encrypted on its way: the fallback, never sendfile(2) */
    assert_int_equal(tw_sys_calls(TW_SYS_SENDFILE), native);
    TW_RUN_UNTIL(env, c.r.len == f.size, TW_SEC(120));
    assert_memory_equal(c.r.data, f.bytes, f.size);
    assert_memory_equal(pool.recs[0].data, f.bytes, f.size);
    assert_int_equal(c.r.pauses, c.r.resumes);
    tw_transport_close(c.res.t);
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&pool);
    rec_free(&c.r);
    tw_tls_ctx_free(sctx);
    tw_tls_ctx_free(cctx);
    file_free(&f);
}

/* ---- a file's error ---- */

/* Reading fails (a directory): the sendfile ends with the error, and the
 * transport stays open. */
static void test_sendfile_file_error_keeps_transport(void **state)
{
    tw_env *env = TW_ENV(state);
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dir >= 0);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    sf_res s = {.r = &p.cli.r};
    assert_int_equal(tw_loop_sendfile(env->loop, t, dir, 0, 0, sf_cb, &s), 0);
    TW_WAIT(env, s.called);
    assert_int_equal(s.err, -EISDIR);
    assert_int_equal(s.sent, 0);
    assert_false(tw_transport_is_closing(t));
    assert_int_equal(tw_transport_write(t, "ok", 2), 0);
    TW_WAIT(env, p.pool.recs[0].len == 2);
    tw_transport_close(t);
    rec_pair_close(env, &p);
    close(dir);
}

/* ---- close, abort, reset ---- */

/* A paused reader holds the file up; close() stops the sendfile: its
 * completion says -ECANCELED and how much the transport took, before
 * connection_lost; the peer gets exactly that much, then EOF. */
static void test_sendfile_close_cancels(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, 16u << 20);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.on_made = pause_on_made;
    rec_pair_open(env, &p, NULL);
    tw_transport *t = p.cli.r.t;
    sf_res s = {.r = &p.cli.r};
    assert_int_equal(tw_loop_sendfile(env->loop, t, f.fd, 0, 0, sf_cb, &s), 0);
    for (int i = 0; i < 20; i++)
        tw_run_slice(env);
    assert_false(s.called); /* held up by the reader */
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, s.called);
    assert_int_equal(s.err, -ECANCELED);
    assert_true(s.sent > 0 && s.sent < f.size);
    assert_int_equal(s.lost_before, 0);
    assert_int_equal(file_pos(&f), (off_t)s.sent);
    tw_transport_resume_reading(p.pool.recs[0].t);
    TW_RUN_UNTIL(env, p.pool.recs[0].eofs == 1 && p.cli.r.done, TW_SEC(120));
    assert_int_equal(p.pool.recs[0].len, s.sent);
    assert_memory_equal(p.pool.recs[0].data, f.bytes, s.sent);
    assert_int_equal(p.cli.r.lost_err, 0);
    rec_pair_close(env, &p);
    file_free(&f);
}

/* abort() and a reset by the peer: the completion gets the connection's
 * end first (-ECANCELED for an abort, the reset's error else), then
 * connection_lost. */
static void test_sendfile_abort_and_reset(void **state)
{
    tw_env *env = TW_ENV(state);
    file f;
    file_make(&f, 16u << 20);
    for (int round = 0; round < 2; round++) {
        rec_pair p;
        memset(&p, 0, sizeof p);
        rec_client_init(&p.cli, 0);
        p.pool.tmpl.on_made = pause_on_made;
        rec_pair_open(env, &p, NULL);
        tw_transport *t = p.cli.r.t;
        sf_res s = {.r = &p.cli.r};
        assert_int_equal(tw_loop_sendfile(env->loop, t, f.fd, 0, 0, sf_cb, &s), 0);
        for (int i = 0; i < 10; i++)
            tw_run_slice(env);
        assert_false(s.called);
        if (round == 0)
            tw_transport_abort(t);
        else
            tw_transport_abort(p.pool.recs[0].t); /* unread data: a reset */
        TW_RUN_UNTIL(env, s.called && p.cli.r.done, TW_SEC(120));
        assert_int_equal(s.lost_before, 0);
        if (round == 0) {
            assert_int_equal(s.err, -ECANCELED);
            assert_int_equal(p.cli.r.lost_err, 0);
            tw_transport_abort(p.pool.recs[0].t); /* it reads no more */
        } else {
            assert_true(s.err < 0);
            assert_int_equal(s.err, p.cli.r.lost_err);
        }
        rec_pair_close(env, &p);
    }
    file_free(&f);
}

/* ---- the real backend's paths ---- */

static void real_pair(tw_loop *loop, rec_pool *pool, tw_server **srv,
                      rec_client *c)
{
    memset(pool, 0, sizeof *pool);
    assert_int_equal(tw_create_server(loop, rec_pool_factory, pool, "127.0.0.1",
                                      0, NULL, srv), 0);
    rec_client_init(c, 0);
    assert_int_equal(tw_create_connection(loop, rec_client_factory, c,
                                          "127.0.0.1", tw_server_port(*srv),
                                          rec_client_cb), 0);
    for (int i = 0; i < 500 && !(c->res.called && pool->n == 1); i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(c->res.err, 0);
}

static void real_send(tw_loop *loop, rec_client *c, rec_pool *pool, file *f,
                      size_t *total)
{
    sf_res s = {.r = &c->r};
    assert_int_equal(tw_loop_sendfile(loop, c->res.t, f->fd, 0, 0, sf_cb, &s), 0);
    for (int i = 0; i < 3000 && !s.called; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_true(s.called);
    assert_int_equal(s.err, 0);
    assert_int_equal(s.sent, f->size);
    *total += f->size;
    for (int i = 0; i < 3000 && pool->recs[0].len < *total; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(pool->recs[0].len, *total);
    assert_memory_equal(pool->recs[0].data + *total - f->size, f->bytes, f->size);
}

/* sendfile(2) on a plain socket; it failing before the first byte (a
 * file it cannot take) or midway, and short ones: the bytes arrive
 * intact every time. */
static void test_real_sendfile_paths(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    file f;
    file_make(&f, (2u << 20) + 3);
    rec_pool pool;
    tw_server *srv;
    rec_client c;
    real_pair(loop, &pool, &srv, &c);
    size_t total = 0;
    real_send(loop, &c, &pool, &f, &total);
    assert_true(tw_sys_calls(TW_SYS_SENDFILE) >= 1); /* the fast path */
    unsigned long reads_before = tw_sys_calls(TW_SYS_SENDFILE);
    /* not available: the fallback does it all */
    tw_sys_fail(TW_SYS_SENDFILE, 1, 1, EINVAL);
    real_send(loop, &c, &pool, &f, &total);
    assert_int_equal(tw_sys_calls(TW_SYS_SENDFILE), reads_before + 1);
    /* failing midway: the fallback goes on from there */
    tw_sys_short_write(100000);
    tw_sys_fail(TW_SYS_SENDFILE, 3, 1, EIO);
    real_send(loop, &c, &pool, &f, &total);
    tw_sys_reset();
    /* short ones only */
    tw_sys_short_write(65536 + 1);
    real_send(loop, &c, &pool, &f, &total);
    tw_sys_reset();
    tw_transport_close(c.res.t);
    tw_server_close(srv);
    for (int i = 0; i < 100 && tw_loop_alive(loop); i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(tw_loop_alive(loop), 0);
    rec_pool_free(&pool);
    rec_free(&c.r);
    file_free(&f);
    tw_loop_free(loop);
}

/* A loop freed with a sendfile running, and with its completion still
 * queued: nothing is called, nothing leaks. */
static void test_loop_freed_mid_sendfile(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        tw_loop *loop = tw_loop_new(NULL);
        assert_non_null(loop);
        file f;
        file_make(&f, 4u << 20);
        rec_pool pool;
        tw_server *srv;
        rec_client c;
        real_pair(loop, &pool, &srv, &c);
        refused_calls = 0;
        assert_int_equal(tw_loop_sendfile(loop, c.res.t, f.fd, 0, 0, refused_cb,
                                          NULL), 0);
        if (round == 1)
            tw_transport_close(c.res.t); /* the completion is queued */
        tw_loop_free(loop);
        assert_int_equal(refused_calls, 0);
        rec_pool_free(&pool);
        rec_free(&c.r);
        file_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_sendfile_whole_file_echoed),
        TW_MATRIX(test_sendfile_unix_socket),
        TW_MATRIX(test_sendfile_offset_and_count),
        TW_MATRIX(test_sendfile_refusals),
        TW_MATRIX(test_sendfile_after_buffered_writes),
        TW_MATRIX(test_sendfile_close_while_waiting_for_buffer),
        TW_MATRIX(test_sendfile_over_tls),
        TW_MATRIX(test_sendfile_file_error_keeps_transport),
        TW_MATRIX(test_sendfile_close_cancels),
        TW_MATRIX(test_sendfile_abort_and_reset),
        TW_TEST(test_real_sendfile_paths),
        TW_TEST(test_loop_freed_mid_sendfile),
    };
    return cmocka_run_group_tests_name("sendfile (backend matrix)", tests, NULL,
                                       NULL);
}
