/* tests/test_matrix_timing.c - when callbacks come and what a half-closed
 * stream still does, on BOTH backends:
 *
 *   - the connect completion comes after connection_made, from the loop;
 *   - eof_received returning true leaves the transport open for writing,
 *     after the callback has returned, not only inside it;
 *   - write_eof with bytes still buffered sends every byte, then the EOF;
 *   - keepalive and the user timeout are options of a TCP stream (the
 *     real backend sets the socket options; the simulator keeps them and
 *     acts on them, tests/test_sim_fault.c shows how).
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/harness.h"
#include "tests/rec.h"

typedef rec_pair pair;

/* The client's connect completion, and what it saw when it ran. */
static struct {
    bool called;
    int err;
    int made_then;       /* client's connection_made count at that time */
    bool inside_create;  /* called before create_connection returned */
} cc;

static void connect_cb(void *client, tw_transport *t, int err)
{
    rec_client *c = client;
    cc.called = true;
    cc.err = err;
    cc.made_then = c->r.made;
    cc.inside_create = ((rec_pair *)((char *)c - offsetof(rec_pair, cli)))->in_create;
    rec_client_cb(client, t, err);
}

static void pair_open(tw_env *env, pair *p)
{
    memset(&cc, 0, sizeof cc);
    rec_pair_open(env, p, connect_cb);
}

static void pair_close(tw_env *env, pair *p) { rec_pair_close(env, p); }

static void test_connect_cb_after_connection_made(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    pair_open(env, &p);
    assert_true(cc.called);
    assert_int_equal(cc.err, 0);
    assert_false(cc.inside_create);
    /* connection_made had run, once, when the completion came */
    assert_int_equal(cc.made_then, 1);
    assert_string_equal(p.cli.r.log, "M");
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, p.pool.recs[0].done && p.cli.r.done);
    pair_close(env, &p);
}

/* ---- half-open after eof_received returned true ---- */

static struct {
    bool closing_after_eof;
    bool reading_after_eof;
    int write_rc;
    tw_env *env;
} ho;

static void later_reply(void *arg)
{
    rec *r = arg;
    /* a loop turn after eof_received: still open for writing */
    ho.closing_after_eof = tw_transport_is_closing(r->t);
    ho.reading_after_eof = tw_transport_is_reading(r->t);
    ho.write_rc = tw_transport_write(r->t, "late reply", 10);
    tw_transport_close(r->t);
}

static void reply_later(rec *r)
{
    tw_call_later(ho.env->loop, TW_MS(20), later_reply, r);
}

static void test_half_open_outlives_eof_received(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    memset(&p, 0, sizeof p);
    memset(&ho, 0, sizeof ho);
    ho.env = env;
    ho.write_rc = 1;
    ho.closing_after_eof = true;
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.eof_keep = true;
    p.pool.tmpl.on_eof = reply_later;
    pair_open(env, &p);
    rec *srv = &p.pool.recs[0];
    assert_int_equal(tw_transport_write(p.cli.r.t, "ask", 3), 0);
    assert_int_equal(tw_transport_write_eof(p.cli.r.t), 0);
    TW_WAIT(env, p.cli.r.done && srv->done);
    assert_false(ho.closing_after_eof);
    assert_false(ho.reading_after_eof);
    assert_int_equal(ho.write_rc, 0);
    assert_int_equal(p.cli.r.len, 10);
    assert_memory_equal(p.cli.r.data, "late reply", 10);
    assert_string_equal(p.cli.r.log, "MDEL");
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_string_equal(srv->log, "MDEL");
    assert_int_equal(srv->lost_err, 0);
    pair_close(env, &p);
}

/* ---- write_eof behind buffered bytes ---- */

static void test_write_eof_flushes_buffer_first(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 51;
    p.pool.tmpl.eof_keep = true;
    pair_open(env, &p);
    rec *srv = &p.pool.recs[0];
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_pause_reading(srv->t), 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, (ssize_t)1 << 40, 0), 0);
    static uint8_t chunk[65536];
    size_t written = 0;
    while (tw_transport_get_write_buffer_size(t) == 0) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = tw_pattern(51, written + i);
        assert_int_equal(tw_transport_write(t, chunk, sizeof chunk), 0);
        written += sizeof chunk;
        assert_true(written < ((size_t)256 << 20)); /* the path must fill */
    }
    /* bytes wait in the transport: the EOF goes after them */
    assert_int_equal(tw_transport_write_eof(t), 0);
    assert_int_equal(tw_transport_write(t, "x", 1), -ESHUTDOWN);
    tw_loop_run_for(env->loop, TW_MS(20));
    assert_int_equal(srv->eofs, 0);
    assert_int_equal(tw_transport_resume_reading(srv->t), 0);
    TW_WAIT(env, srv->eofs == 1);
    assert_int_equal(srv->total, written);
    assert_false(srv->mismatch);
    assert_int_equal(tw_transport_get_write_buffer_size(t), 0);
    assert_false(tw_transport_is_closing(t)); /* half-closed, not closed */
    assert_int_equal(p.cli.r.lost, 0);
    tw_transport_close(srv->t);
    TW_WAIT(env, p.cli.r.done && srv->done);
    assert_string_equal(p.cli.r.log, "MEL");
    assert_int_equal(p.cli.r.lost_err, 0);
    assert_string_equal(srv->log, "MDEL");
    pair_close(env, &p);
}

/* ---- keepalive and user timeout ---- */


static void test_keepalive_and_user_timeout_options(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    pair_open(env, &p);
    tw_transport *t = p.cli.r.t;
    bool real = env->backend == tw_backend_real;
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(30), TW_SEC(5), 4), 0);
    assert_int_equal(tw_transport_set_user_timeout(t, TW_MS(2500)), 0);
    if (real) {
        assert_int_equal(tw_sockopt(t, SOL_SOCKET, SO_KEEPALIVE), 1);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPIDLE), 30);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPINTVL), 5);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_KEEPCNT), 4);
        assert_int_equal(tw_sockopt(t, IPPROTO_TCP, TCP_USER_TIMEOUT), 2500);
    }
    /* values that mean nothing */
    assert_int_equal(tw_transport_set_keepalive(t, -1, TW_SEC(1), 3), -EINVAL);
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), 0, 3), -EINVAL);
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), TW_SEC(1), 0), -EINVAL);
    assert_int_equal(tw_transport_set_user_timeout(t, -5), -EINVAL);
    /* off again; the connection works as before */
    assert_int_equal(tw_transport_set_keepalive(t, 0, 0, 0), 0);
    if (real)
        assert_int_equal(tw_sockopt(t, SOL_SOCKET, SO_KEEPALIVE), 0);
    assert_int_equal(tw_transport_write(t, "ping", 4), 0);
    rec *srv = &p.pool.recs[0];
    TW_WAIT(env, srv->total == 4);
    /* a live peer answers probes: a short keepalive changes nothing */
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), TW_SEC(1), 2), 0);
    tw_loop_run_for(env->loop, real ? TW_MS(50) : TW_SEC(10));
    assert_int_equal(p.cli.r.lost, 0);
    tw_transport_close(t);
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), TW_SEC(1), 2), -EPIPE);
    assert_int_equal(tw_transport_set_user_timeout(t, TW_SEC(1)), -EPIPE);
    tw_transport_close(srv->t);
    TW_WAIT(env, p.pool.recs[0].done && p.cli.r.done);
    pair_close(env, &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_connect_cb_after_connection_made),
        TW_MATRIX(test_half_open_outlives_eof_received),
        TW_MATRIX(test_write_eof_flushes_buffer_first),
        TW_MATRIX(test_keepalive_and_user_timeout_options),
    };
    return cmocka_run_group_tests_name("matrix_timing", tests, NULL, NULL);
}
