/* tests/test_matrix_strict.c - strict contract mode on BOTH backends: each
 * mistake a protocol can make with its own transport (a write refused
 * after close(), abort() or write_eof(); write_eof after close(); limits
 * asyncio refuses; any call after connection_lost, from a timer or from
 * release) reaches the contract handler as one sentence naming the loop,
 * the transport, the call and the callback it was made in; what asyncio
 * takes without a word is not reported; and the call returns its error
 * value instead of touching freed memory (the ASan pass would see it).
 *
 * Map: helpers; one test per mistake; the calls that are no mistake.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/rec.h"

/* ---- helpers ---- */

static void strict_open(tw_env *env, rec_pair *p)
{
    tw_loop_set_contract_strict(env->loop, true);
    assert_true(tw_loop_contract_strict(env->loop));
    rec_pair_open(env, p, NULL);
}

/* Exactly one violation was reported, and it names each of `words` and
 * the loop; then it is forgotten, so that teardown sees a clean run. */
#define EXPECT_VIOLATION(env, ...)                                           \
    expect_violation(env, __LINE__, (const char *const[]){__VA_ARGS__, NULL})

static void expect_violation(tw_env *env, int line, const char *const *words)
{
    if (env->violations != 1)
        fail_msg("%s backend, line %d: %d violations reported, not 1 (first: %s)",
                 env->backend, line, env->violations, env->violation);
    const char *where = env->sim ? "node n1 (sim backend): " : "loop (real backend): ";
    if (!strstr(env->violation, "twin contract violation: ") ||
        !strstr(env->violation, where))
        fail_msg("%s backend, line %d: '%s' does not name the loop as '%s'",
                 env->backend, line, env->violation, where);
    for (int i = 0; words[i]; i++)
        if (!strstr(env->violation, words[i]))
            fail_msg("%s backend, line %d: '%s' does not say '%s'", env->backend,
                     line, env->violation, words[i]);
    env->violations = 0;
    env->violation[0] = '\0';
}

/* ---- a write refused after close(), in data_received ---- */

static int late_rc;

static void close_then_write(rec *r, const uint8_t *d, size_t n)
{
    (void)d, (void)n;
    assert_int_equal(tw_transport_close(r->t), 0);
    late_rc = tw_transport_write(r->t, "late", 4);
}

static void test_strict_write_after_close(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.on_data = close_then_write;
    strict_open(env, &p);
    late_rc = 1;
    assert_int_equal(tw_transport_write(p.cli.r.t, "hello", 5), 0);
    TW_WAIT(env, p.pool.recs[0].done);
    /* nothing was buffered: close() ended the flush at once, and the
     * write is refused as asyncio drops it */
    assert_int_equal(late_rc, -EPIPE);
    EXPECT_VIOLATION(env, ": write() after close(): refused, its 4 bytes dropped",
                     "(in data_received of transport #");
    TW_WAIT(env, p.cli.r.done); /* the client closes on the server's EOF */
    rec_pair_close(env, &p);
}

/* ---- writelines after abort(), outside any callback ---- */

static void test_strict_writelines_after_abort(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    strict_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_abort(t), 0);
    struct iovec iov[2] = {{.iov_base = "ab", .iov_len = 2},
                           {.iov_base = "cde", .iov_len = 3}};
    assert_int_equal(tw_transport_writelines(t, iov, 2), -EPIPE);
    EXPECT_VIOLATION(env, "writelines() after abort(): refused, its 5 bytes dropped",
                     "(outside any protocol callback)");
    TW_WAIT(env, p.cli.r.done && p.pool.recs[0].done);
    rec_pair_close(env, &p);
}

/* ---- write after write_eof(), in eof_received ---- */

static int eof_write_rc;

static void half_close_then_write(rec *r)
{
    assert_int_equal(tw_transport_write_eof(r->t), 0);
    eof_write_rc = tw_transport_write(r->t, "x", 1);
}

static void test_strict_write_after_write_eof(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.eof_keep = true;
    p.pool.tmpl.on_eof = half_close_then_write;
    strict_open(env, &p);
    eof_write_rc = 1;
    assert_int_equal(tw_transport_write_eof(p.cli.r.t), 0);
    TW_WAIT(env, p.pool.recs[0].eofs == 1);
    assert_int_equal(eof_write_rc, -ESHUTDOWN); /* asyncio: RuntimeError */
    EXPECT_VIOLATION(env, "write() after write_eof(): refused",
                     "(in eof_received of transport #");
    /* the server's half close reaches the client, which then closes; the
     * server, half closed both ways, is closed by hand */
    TW_WAIT(env, p.cli.r.done);
    tw_transport_close(p.pool.recs[0].t);
    TW_WAIT(env, p.pool.recs[0].done);
    rec_pair_close(env, &p);
}

/* ---- write_eof after close(), in pause_writing ---- */

static void close_then_write_eof(rec *r)
{
    assert_int_equal(tw_transport_close(r->t), 0);
    assert_int_equal(tw_transport_write_eof(r->t), 0); /* ignored */
}

static void test_strict_write_eof_after_close(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.cli.r.on_pause = close_then_write_eof;
    strict_open(env, &p);
    tw_transport *t = p.cli.r.t;
    /* high 0: the first byte buffered pauses the writer */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, 0), 0);
    assert_int_equal(tw_transport_pause_reading(p.pool.recs[0].t), 0);
    static uint8_t chunk[65536];
    while (p.cli.r.pauses == 0)
        assert_int_equal(tw_transport_write(t, chunk, sizeof chunk), 0);
    EXPECT_VIOLATION(env, "write_eof() after close(): ignored",
                     "(in pause_writing of transport #");
    assert_int_equal(tw_transport_resume_reading(p.pool.recs[0].t), 0);
    TW_WAIT(env, p.cli.r.done && p.pool.recs[0].done);
    rec_pair_close(env, &p);
}

/* ---- set_write_buffer_limits that asyncio refuses ---- */

static void test_strict_limits_asyncio_refuses(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    strict_open(env, &p);
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 10, 20), -EINVAL);
    EXPECT_VIOLATION(env, "set_write_buffer_limits() with high 10 and low 20: "
                          "refused, high >= low >= 0 must hold");
    /* only low given: high is 4 * low, so low alone is never refused */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, TW_LIMIT_DEFAULT, 20), 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, -5, TW_LIMIT_DEFAULT),
                     -EINVAL);
    EXPECT_VIOLATION(env, "set_write_buffer_limits() with high -5");
    size_t low, high;
    tw_transport_get_write_buffer_limits(t, &low, &high);
    assert_int_equal(low, 20); /* the refused calls changed nothing */
    assert_int_equal(high, 80);
    tw_transport_close(t);
    TW_WAIT(env, p.cli.r.done && p.pool.recs[0].done);
    rec_pair_close(env, &p);
}

/* ---- any call after connection_lost, from a timer ---- */

static tw_transport *stale;
static int stale_rcs[3];
static bool stale_closing;

static void use_stale(void *arg)
{
    bool *ran = arg;
    stale_rcs[0] = tw_transport_write(stale, "x", 1);
    *ran = true;
}

static void test_strict_use_after_connection_lost(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    strict_open(env, &p);
    stale = p.cli.r.t;
    assert_int_equal(tw_transport_close(stale), 0);
    TW_WAIT(env, p.cli.r.done && p.pool.recs[0].done);
    /* The protocol kept its pointer and uses it from a timer: the
     * transport is gone, and says so instead of crashing. */
    bool ran = false;
    tw_call_later(env->loop, TW_MS(1), use_stale, &ran);
    TW_WAIT(env, ran);
    assert_int_equal(stale_rcs[0], -EPIPE);
    EXPECT_VIOLATION(env, "write() after connection_lost returned: the transport is gone",
                     "(outside any protocol callback)");
    /* every call is guarded, queries included */
    stale_closing = tw_transport_is_closing(stale);
    assert_true(stale_closing);
    EXPECT_VIOLATION(env, "is_closing() after connection_lost returned");
    assert_int_equal(tw_transport_get_write_buffer_size(stale), 0);
    EXPECT_VIOLATION(env, "get_write_buffer_size() after connection_lost returned");
    assert_int_equal(tw_transport_close(stale), -EPIPE);
    EXPECT_VIOLATION(env, "close() after connection_lost returned");
    assert_int_equal(tw_transport_pause_reading(stale), -EPIPE);
    EXPECT_VIOLATION(env, "pause_reading() after connection_lost returned");
    tw_addr a;
    assert_int_equal(tw_transport_peername(stale, &a), -ENOENT);
    EXPECT_VIOLATION(env, "peername() after connection_lost returned");
    rec_pair_close(env, &p);
}

/* ---- a call from release: after connection_lost returned, too ---- */

typedef struct keeper {
    tw_protocol base;
    tw_transport *t;
    bool lost, released;
    size_t in_lost, in_release;
} keeper;

static void k_made(tw_protocol *p, tw_transport *t) { ((keeper *)p)->t = t; }

static void k_lost(tw_protocol *p, int err)
{
    keeper *k = (keeper *)p;
    (void)err;
    k->lost = true;
    /* still valid here: connection_lost has not returned */
    k->in_lost = tw_transport_get_write_buffer_size(k->t);
}

static void k_release(tw_protocol *p)
{
    keeper *k = (keeper *)p;
    k->released = true;
    k->in_release = tw_transport_get_write_buffer_size(k->t);
}

static const tw_protocol_ops keeper_ops = {
    .connection_made = k_made, .connection_lost = k_lost, .release = k_release,
};

static tw_protocol *keeper_factory(void *arg) { return arg; }

static void test_strict_call_in_release(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_loop_set_contract_strict(env->loop, true);
    rec_pool pool;
    memset(&pool, 0, sizeof pool);
    tw_server *srv;
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &pool, env->host,
                                      0, NULL, &srv), 0);
    keeper k = {.base.ops = &keeper_ops};
    assert_int_equal(tw_create_connection(env->loop, keeper_factory, &k, env->host,
                                          tw_server_port(srv), NULL), 0);
    TW_WAIT(env, k.t && pool.n == 1 && pool.recs[0].made);
    assert_int_equal(tw_transport_close(k.t), 0);
    TW_WAIT(env, k.released && pool.recs[0].done);
    assert_true(k.lost);
    assert_int_equal(k.in_release, 0);
    EXPECT_VIOLATION(env, "get_write_buffer_size() after connection_lost returned",
                     "(in release of transport #");
    tw_server_close(srv);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&pool);
}

/* ---- what asyncio takes without a word ---- */

static int quiet_rcs[2];

/* In eof_received: close twice, abort after close, writes of nothing. */
static void close_twice_and_write_nothing(rec *r)
{
    assert_int_equal(tw_transport_close(r->t), 0);
    assert_int_equal(tw_transport_close(r->t), 0);
    assert_int_equal(tw_transport_abort(r->t), 0);
    quiet_rcs[0] = tw_transport_write(r->t, "", 0);
    quiet_rcs[1] = tw_transport_writelines(r->t, NULL, 0);
}

static void test_strict_quiet_on_what_asyncio_allows(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_pair p;
    memset(&p, 0, sizeof p);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.eof_keep = true;
    p.cli.r.on_eof = close_twice_and_write_nothing;
    strict_open(env, &p);
    tw_transport *t = p.cli.r.t;
    /* reading: twice, out of order (no-ops since Python 3.7) */
    assert_int_equal(tw_transport_resume_reading(t), 0);
    assert_int_equal(tw_transport_pause_reading(t), 0);
    assert_int_equal(tw_transport_pause_reading(t), 0);
    assert_int_equal(tw_transport_resume_reading(t), 0);
    assert_int_equal(tw_transport_resume_reading(t), 0);
    /* limits at their edges */
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 0, 0), 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 100, 100), 0);
    assert_int_equal(tw_transport_write(t, "abc", 3), 0);
    /* write_eof twice (the server's) */
    rec *s = &p.pool.recs[0];
    assert_int_equal(tw_transport_write_eof(s->t), 0);
    assert_int_equal(tw_transport_write_eof(s->t), 0);
    TW_WAIT(env, p.cli.r.done && s->eofs == 1);
    assert_int_equal(quiet_rcs[0], -EPIPE);
    assert_int_equal(quiet_rcs[1], -EPIPE);
    assert_int_equal(env->violations, 0);
    tw_transport_close(s->t);
    TW_WAIT(env, s->done);
    assert_int_equal(s->total, 3);
    rec_pair_close(env, &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_strict_write_after_close),
        TW_MATRIX(test_strict_writelines_after_abort),
        TW_MATRIX(test_strict_write_after_write_eof),
        TW_MATRIX(test_strict_write_eof_after_close),
        TW_MATRIX(test_strict_limits_asyncio_refuses),
        TW_MATRIX(test_strict_use_after_connection_lost),
        TW_MATRIX(test_strict_call_in_release),
        TW_MATRIX(test_strict_quiet_on_what_asyncio_allows),
    };
    return cmocka_run_group_tests_name("matrix_strict", tests, NULL, NULL);
}
