/* tests/test_sim_tls.c - TLS in the simulated world: the handshake and
 * the records cross the simulated network with its faults, and a run
 * replays from its seed.
 *
 * Map: a two-node world with a TLS echo server; one seed twice gives the
 * same trace hash and the same handshake randoms (another seed, other
 * randoms); the test credentials' generator; TLS under loss; a reset mid-transfer; a crash of the server
 * node mid-handshake and mid-transfer, then a restart; the TLS scenario
 * file for a few seeds, and its determinism; contexts made once per
 * process for the worlds of a sweep.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tests/rec.h"
#include "tls/tls_internal.h"
#include "twin/echo.h"
#include "twin/scenario.h"
#include "twin/sim.h"
#include "twin/tls.h"

#define SERVER_ADDR "10.0.0.1"

/* ---- a two-node world: a TLS echo server and a TLS client ---- */

typedef struct world {
    tw_sim *sim;
    tw_loop *s, *c;
    tw_tls_ctx *sctx, *cctx;
    tw_echo_server_cfg cfg;
    tw_server *srv;
    rec_client cli;
    size_t want;     /* bytes the client expects back */
    int violations;
} world;

static void count_violation(void *arg, const char *msg)
{
    world *w = arg;
    w->violations++;
    fprintf(stderr, "%s\n", msg);
}

static int server_start(tw_loop *loop, void *arg)
{
    world *w = arg;
    return tw_create_server_tls(loop, tw_echo_server_factory, &w->cfg, SERVER_ADDR,
                                443, NULL, w->sctx, &w->srv);
}

/* The next world's chunk_split_probability (0: the default). */
static double world_chunk_split;

static void world_new(world *w, uint64_t seed, double loss)
{
    memset(w, 0, sizeof *w);
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    if (world_chunk_split)
        o.chunk_split_probability = world_chunk_split;
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_UNIFORM,
                                  .min_ns = TW_MS(1), .max_ns = TW_MS(3)};
    o.net.loss_probability = loss;
    o.net.rto_ns = TW_MS(50);
    o.stall_timeout_ns = TW_SEC(2);
    w->sim = tw_sim_new(seed, &o);
    assert_non_null(w->sim);
    w->s = tw_sim_add_node(w->sim, "s", SERVER_ADDR);
    w->c = tw_sim_add_node(w->sim, "c", "10.0.0.2");
    assert_non_null(w->s);
    assert_non_null(w->c);
    tw_loop_set_contract_handler(w->s, count_violation, w);
    tw_loop_set_contract_handler(w->c, count_violation, w);
    w->sctx = tw_tls_ctx_new(TW_TLS_SERVER);
    w->cctx = tw_tls_ctx_new(TW_TLS_CLIENT);
    assert_int_equal(tw_tls_ctx_use_test_cert(w->sctx, SERVER_ADDR), 0);
    assert_int_equal(tw_tls_ctx_trust_test_ca(w->cctx), 0);
    w->cfg.keep_open = true;
    rec_client_init(&w->cli, 0);
    w->cli.r.verify = true;
    w->cli.r.seed = 41;
    assert_int_equal(tw_sim_node_set_start(w->s, server_start, w), 0);
}

static void world_free(world *w)
{
    tw_sim_free(w->sim); /* the server goes with its node */
    tw_tls_ctx_free(w->sctx);
    tw_tls_ctx_free(w->cctx);
    rec_free(&w->cli.r);
    assert_int_equal(w->violations, 0);
}

static void write_pattern(tw_transport *t, size_t n)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = tw_pattern(41, i);
    assert_int_equal(tw_transport_write(t, b, n), 0);
    free(b);
}

static size_t want_back;
static void close_when_all_back(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (r->total == want_back)
        tw_transport_close(r->t);
}

/* Connect, wait for the handshake. */
static void world_connect(world *w)
{
    tw_sim_run_for(w->sim, TW_MS(1)); /* the server node's start */
    assert_int_equal(tw_create_connection_tls(w->c, rec_client_factory, &w->cli,
                                              SERVER_ADDR, 443, w->cctx,
                                              rec_client_cb), 0);
    for (int i = 0; i < 10000 && !w->cli.res.called; i++)
        tw_sim_run_for(w->sim, TW_MS(1));
    assert_true(w->cli.res.called);
}

/* ---- one seed, one trace ---- */

typedef struct run_out {
    uint64_t hash;
    unsigned char client_random[32], server_random[32];
} run_out;

static void run_once(uint64_t seed, run_out *out)
{
    world w;
    world_new(&w, seed, 0.03);
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    SSL *ssl;
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(w.cli.r.t, "ssl_object", &x), 0);
    ssl = x.v.ptr;
    assert_int_equal(SSL_get_client_random(ssl, out->client_random, 32), 32);
    assert_int_equal(SSL_get_server_random(ssl, out->server_random, 32), 32);
    want_back = 256 * 1024;
    w.cli.r.on_data = close_when_all_back;
    write_pattern(w.cli.r.t, want_back);
    for (int i = 0; i < 600 && !w.cli.r.done; i++)
        tw_sim_run_for(w.sim, TW_MS(100));
    assert_true(w.cli.r.done);
    assert_int_equal(w.cli.r.total, want_back);
    assert_false(w.cli.r.mismatch);
    assert_int_equal(w.cli.r.lost_err, 0);
    tw_sim_run_for(w.sim, TW_SEC(1));
    out->hash = tw_sim_trace_hash(w.sim);
    world_free(&w);
}

static void test_same_seed_same_trace_hash(void **state)
{
    (void)state;
    run_out a, b, c;
    run_once(42, &a);
    run_once(42, &b);
    assert_int_equal(a.hash, b.hash);
    /* OpenSSL's randomness came from the world: the same bytes */
    assert_memory_equal(a.client_random, b.client_random, 32);
    assert_memory_equal(a.server_random, b.server_random, 32);
    /* and another seed draws other bytes */
    run_once(43, &c);
    assert_memory_not_equal(a.client_random, c.client_random, 32);
    assert_memory_not_equal(a.server_random, c.server_random, 32);
    assert_int_not_equal(a.hash, c.hash);
    print_message("seed 42: trace hash %016llx twice\n", (unsigned long long)a.hash);
}

/* The test credentials' fixed generator (tls/) draws what the
 * simulator's PRNG draws for the same seed and stream (the generator
 * twin/sim.h spells out), so the credentials keep their bytes. */
static void test_fixed_generator_draws_as_the_sim_prng(void **state)
{
    (void)state;
    const uint64_t seeds[] = {0, 42, UINT64_C(0x7477696e2d746c73), UINT64_MAX};
    const unsigned streams[] = {0, 3, 0x7e57};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        for (size_t k = 0; k < sizeof streams / sizeof streams[0]; k++) {
            tw__rand r;
            tw_sim_prng p;
            tw__tls_rand_fixed(&r, seeds[i], streams[k]);
            tw_sim_prng_seed(&p, seeds[i], streams[k]);
            for (int n = 0; n < 100; n++)
                assert_true(r.next(&r) == tw_sim_prng_next(&p));
        }
}

/* ---- loss ---- */

static void test_tls_under_loss(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        world w;
        world_new(&w, seed, 0.10); /* one segment in ten is lost */
        world_connect(&w);
        assert_int_equal(w.cli.res.err, 0);
        want_back = 1 << 20;
        w.cli.r.on_data = close_when_all_back;
        write_pattern(w.cli.r.t, want_back);
        for (int i = 0; i < 3000 && !w.cli.r.done; i++)
            tw_sim_run_for(w.sim, TW_MS(100));
        assert_true(w.cli.r.done);
        assert_int_equal(w.cli.r.total, want_back);
        assert_false(w.cli.r.mismatch);
        assert_int_equal(w.cli.r.lost_err, 0);
        tw_sim_stats st;
        tw_sim_get_stats(w.sim, &st);
        assert_true(st.losses > 0);
        world_free(&w);
    }
}

/* ---- deliveries are whole records ---- */

static int cut_records;
static void count_cut_records(rec *r, const uint8_t *d, size_t n)
{
    (void)d;
    if (n % 16384 != 0)
        cut_records++;
    close_when_all_back(r, d, n);
}

/* chunk_split cuts the encrypted stream; the protocol over it gets whole
 * records, as asyncio's SSL transport gives them (one SSL_read per record,
 * never a part of one): with every delivery of the connection under it
 * cut, each data_received still holds whole 16 KiB records. So a parser's
 * cuts over TLS are those of its peer's writes (README, "TLS"). */
static void test_tls_deliveries_are_whole_records(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        world w;
        world_chunk_split = 1; /* every delivery of the stream under TLS cut */
        world_new(&w, seed, 0);
        world_chunk_split = 0;
        world_connect(&w);
        assert_int_equal(w.cli.res.err, 0);
        want_back = 8 * 16384; /* eight full records */
        cut_records = 0;
        w.cli.r.on_data = count_cut_records;
        write_pattern(w.cli.r.t, want_back);
        for (int i = 0; i < 600 && !w.cli.r.done; i++)
            tw_sim_run_for(w.sim, TW_MS(100));
        assert_true(w.cli.r.done);
        assert_int_equal(w.cli.r.total, want_back);
        assert_false(w.cli.r.mismatch);
        assert_int_equal(cut_records, 0);
        assert_true(w.cli.r.data_calls >= 1);
        world_free(&w);
    }
}

/* ---- a reset mid-transfer ---- */

static void test_tls_reset_mid_transfer(void **state)
{
    (void)state;
    world w;
    world_new(&w, 7, 0);
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    want_back = 4 << 20;
    write_pattern(w.cli.r.t, want_back);
    tw_sim_run_for(w.sim, TW_MS(20));
    assert_true(w.cli.r.total > 0 && w.cli.r.total < want_back);
    assert_int_equal(tw_sim_reset_connections(w.sim, w.s, w.c), 0);
    tw_sim_run_for(w.sim, TW_MS(100));
    assert_true(w.cli.r.done);
    assert_int_equal(w.cli.r.lost_err, -ECONNRESET);
    /* the server is still there: a new connection, a new handshake */
    rec_free(&w.cli.r);
    rec_client_init(&w.cli, 0);
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    tw_transport_close(w.cli.r.t);
    tw_sim_run_for(w.sim, TW_MS(100));
    assert_true(w.cli.r.done);
    assert_int_equal(w.cli.r.lost_err, 0);
    assert_int_equal(w.cfg.connections, 2);
    world_free(&w);
}

/* ---- a crash of the server node, mid-handshake and mid-transfer ---- */

static void test_tls_server_crash_and_restart(void **state)
{
    (void)state;
    world w;
    world_new(&w, 9, 0);
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    want_back = 4 << 20;
    write_pattern(w.cli.r.t, want_back);
    /* a second client mid-handshake when the node goes down */
    rec_client mid;
    rec_client_init(&mid, 0);
    assert_int_equal(tw_create_connection_tls(w.c, rec_client_factory, &mid,
                                              SERVER_ADDR, 443, w.cctx,
                                              rec_client_cb), 0);
    /* accepted, so the server's TLS layer exists, but not yet done */
    for (int i = 0; i < 1000 && tw_server_accepted(w.srv) < 2; i++)
        tw_sim_run_for(w.sim, 100 * TW_NS_PER_US);
    assert_int_equal(tw_server_accepted(w.srv), 2);
    assert_false(mid.res.called);
    assert_int_equal(tw_sim_crash(w.s), 0);
    tw_sim_run_for(w.sim, TW_SEC(5)); /* the client gives up on both */
    assert_true(w.cli.r.done);
    assert_true(w.cli.r.lost_err < 0);
    assert_true(mid.res.called);
    assert_true(mid.res.err < 0);
    assert_int_equal(mid.r.made, 0);
    assert_int_equal(tw_sim_restart(w.s), 0);
    rec_free(&w.cli.r);
    rec_client_init(&w.cli, 0);
    world_connect(&w); /* the restarted server handshakes afresh */
    assert_int_equal(w.cli.res.err, 0);
    tw_transport_close(w.cli.r.t);
    tw_sim_run_for(w.sim, TW_MS(100));
    assert_true(w.cli.r.done);
    rec_free(&mid.r);
    world_free(&w);
}

/* Keepalive on a TLS transport is the TCP connection's under it: a
 * server that crashed without a word is found by the probes (10, 12 and
 * 14 s after the last traffic, none answered: gone at 16 s), not left
 * half-open; without them the client, which sends nothing, never
 * learns. */
static tw_ns lost_at;
static void note_lost_at(rec *r) { lost_at = tw_loop_now(tw_transport_loop(r->t)); }

static void test_tls_keepalive_finds_a_dead_peer(void **state)
{
    (void)state;
    world w;
    world_new(&w, 12, 0);
    w.cli.r.on_lost = note_lost_at;
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    tw_transport *t = w.cli.r.t;
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(10), TW_SEC(2), 3), 0);
    assert_int_equal(tw_transport_set_user_timeout(t, 0), 0);
    assert_int_equal(tw_transport_set_keepalive(t, TW_SEC(1), 0, 3), -EINVAL);
    tw_sim_run_for(w.sim, TW_MS(100)); /* the handshake's last records */
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_crash(w.s), 0);
    tw_sim_run_for(w.sim, TW_SEC(60));
    assert_true(w.cli.r.done);
    assert_int_equal(w.cli.r.lost_err, -ETIMEDOUT);
    /* 16 s after the last traffic, which came before t0 */
    assert_true(lost_at > t0 + TW_SEC(15) && lost_at <= t0 + TW_SEC(16));
    world_free(&w);
}

/* ---- the scenario file ---- */

static void test_tls_scenario_passes_and_replays(void **state)
{
    (void)state;
    char err[512];
    tw_scenario *sc = NULL;
    int rc = tw_scenario_load("scenarios/tls_echo.yaml", &sc, err, sizeof err);
    if (rc < 0)
        fail_msg("%s", err);
    uint64_t resets = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        tw_scenario_result res;
        assert_int_equal(tw_scenario_run(sc, seed, NULL, &res), 0);
        if (res.verdict != TW_SCENARIO_PASS)
            fail_msg("seed %llu: %s: %s", (unsigned long long)seed,
                     tw_scenario_verdict_name(res.verdict), res.message);
        for (size_t i = 0; i < res.neffects; i++)
            if (strcmp(res.effects[i].kind, "reset") == 0)
                resets += res.effects[i].count;
        tw_scenario_result_fini(&res);
    }
    assert_true(resets > 0); /* the resets hit TLS connections */
    assert_int_equal(tw_scenario_check_determinism(sc, 3, false, stderr), 0);
    tw_scenario_free(sc);
}

/* ---- contexts shared by the worlds of a process ---- */

static void on_tls_error(void *arg, int err, const char *reason)
{
    (void)arg; (void)err; (void)reason;
}

static void test_shared_ctx_made_once_per_configuration(void **state)
{
    (void)state;
    tw_tls_opts so = {.test_cert = "server,10.0.0.1"};
    tw_tls_opts co = {.test_ca = true, .server_name = "server"};
    tw_tls_ctx *s1, *s2, *c1, *other;
    assert_int_equal(tw_tls_ctx_new_shared(TW_TLS_SERVER, &so, &s1), 0);
    assert_int_equal(tw_tls_ctx_new_shared(TW_TLS_SERVER, &so, &s2), 0);
    assert_int_equal(tw_tls_ctx_new_shared(TW_TLS_CLIENT, &co, &c1), 0);
    /* the same options: one OpenSSL context, two callers' contexts */
    assert_ptr_not_equal(s1, s2);
    assert_ptr_equal(tw_tls_ctx_ssl_ctx(s1), tw_tls_ctx_ssl_ctx(s2));
    assert_ptr_not_equal(tw_tls_ctx_ssl_ctx(s1), tw_tls_ctx_ssl_ctx(c1));
    /* other names: another certificate, another context */
    tw_tls_opts so2 = {.test_cert = "server2"};
    assert_int_equal(tw_tls_ctx_new_shared(TW_TLS_SERVER, &so2, &other), 0);
    assert_ptr_not_equal(tw_tls_ctx_ssl_ctx(s1), tw_tls_ctx_ssl_ctx(other));
    tw_tls_ctx_free(other);
    /* what is the caller's own stays its own */
    tw_tls_ctx_set_error_cb(s1, on_tls_error, NULL);
    assert_ptr_equal(s1->error_cb, on_tls_error);
    assert_null(s2->error_cb);
    assert_int_equal(tw_tls_ctx_set_handshake_timeout(s1, TW_SEC(1)), 0);
    assert_int_not_equal(s2->handshake_timeout, TW_SEC(1));
    tw_tls_ctx_free(s1);
    /* a sharer outlives another's free and still handshakes */
    world w;
    world_new(&w, 7, 0);
    tw_tls_ctx_free(w.sctx);
    tw_tls_ctx_free(w.cctx);
    w.sctx = s2;
    w.cctx = c1;
    world_connect(&w);
    assert_int_equal(w.cli.res.err, 0);
    tw_transport_close(w.cli.r.t);
    tw_sim_run_for(w.sim, TW_MS(100));
    world_free(&w);
}

/* A certificate file written anew is read anew. */
static void test_shared_ctx_rereads_a_changed_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-tls-shared-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[96];
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    const char *names[] = {"a.example", "a-longer-name.example"};
    tw_tls_ctx *ctx[2];
    for (int i = 0; i < 2; i++) {
        char *cert, *key;
        assert_int_equal(tw_tls_test_cert_pem(names[i], false, &cert, &key), 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(cert, f);
        fputs(key, f);
        fclose(f);
        free(cert);
        free(key);
        tw_tls_opts o = {.cert_file = path};
        assert_int_equal(tw_tls_ctx_new_shared(TW_TLS_SERVER, &o, &ctx[i]), 0);
    }
    assert_ptr_not_equal(tw_tls_ctx_ssl_ctx(ctx[0]), tw_tls_ctx_ssl_ctx(ctx[1]));
    tw_tls_ctx_free(ctx[0]);
    tw_tls_ctx_free(ctx[1]);
    /* a missing file: the reason, as tw_tls_ctx_configure gives it */
    unlink(path);
    tw_tls_opts o = {.cert_file = path};
    tw_tls_ctx *bad;
    assert_true(tw_tls_ctx_new_shared(TW_TLS_SERVER, &o, &bad) < 0);
    assert_non_null(bad);
    assert_non_null(strstr(tw_tls_ctx_error(bad), "cannot read"));
    tw_tls_ctx_free(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_same_seed_same_trace_hash),
        TW_TEST(test_fixed_generator_draws_as_the_sim_prng),
        TW_TEST(test_tls_under_loss),
        TW_TEST(test_tls_deliveries_are_whole_records),
        TW_TEST(test_tls_reset_mid_transfer),
        TW_TEST(test_tls_server_crash_and_restart),
        TW_TEST(test_tls_keepalive_finds_a_dead_peer),
        TW_TEST(test_tls_scenario_passes_and_replays),
        TW_TEST(test_shared_ctx_made_once_per_configuration),
        TW_TEST(test_shared_ctx_rereads_a_changed_file),
    };
    return cmocka_run_group_tests_name("TLS in the simulated world", tests, NULL, NULL);
}
