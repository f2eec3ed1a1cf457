/* tests/test_sim_peer.c - the scripted peer (twin/simtest.h) on a small
 * line protocol, and buggify (twin/buggify.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "twin/buggify.h"
#include "twin/real.h"
#include "twin/simtest.h"
#include "twin/twin.h"

/* ---- the protocol under test: "PING\r\n" -> "+PONG\r\n" ---- */

typedef struct pinger {
    tw_protocol base;
    tw_transport *t;
    char line[64];
    size_t len;
    bool naive; /* assumes one data_received per message: wrong */
    int lost, lost_err, released;
} pinger;

static void pg_made(tw_protocol *p, tw_transport *t) { ((pinger *)p)->t = t; }

static void pg_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    pinger *x = (pinger *)p;
    if (x->naive) {
        if (n == 6 && memcmp(d, "PING\r\n", 6) == 0)
            tw_transport_write(x->t, "+PONG\r\n", 7);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (x->len < sizeof x->line)
            x->line[x->len++] = (char)d[i];
        if (d[i] != '\n')
            continue;
        if (x->len == 6 && memcmp(x->line, "PING\r\n", 6) == 0)
            tw_transport_write(x->t, "+PONG\r\n", 7);
        else
            tw_transport_write(x->t, "-ERR\r\n", 6);
        x->len = 0;
    }
}

static void pg_lost(tw_protocol *p, int err)
{
    ((pinger *)p)->lost++;
    ((pinger *)p)->lost_err = err;
}

static void pg_release(tw_protocol *p) { ((pinger *)p)->released++; }

static const tw_protocol_ops pinger_ops = {
    .connection_made = pg_made,
    .data_received = pg_data,
    .connection_lost = pg_lost,
    .release = pg_release,
};

static tw_protocol *pinger_factory(void *arg)
{
    pinger *x = arg;
    x->base.ops = &pinger_ops;
    return &x->base;
}

static void test_ping_pong_script(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(1, NULL, pinger_factory, &pg, false);
    assert_non_null(st);
    tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), 0);
    /* a command cut anywhere still works */
    tw_simtest_send_str(st, TW_MS(60), "PI");
    tw_simtest_send_str(st, TW_MS(70), "NG\r\nPING\r\nHELLO\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n+PONG\r\n-ERR\r\n", TW_MS(100)),
                     0);
    /* the peer half-closes: eof_received's default closes the protocol */
    tw_simtest_write_eof(st, TW_MS(110));
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(200)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_MS(300)), 0);
    assert_int_equal(pg.lost, 1);
    assert_int_equal(pg.lost_err, 0);
    assert_int_equal(pg.released, 1);
    tw_simtest_free(st);
}

static void test_expect_reports_what_arrived(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(2, NULL, pinger_factory, &pg, true);
    assert_non_null(st);
    tw_simtest_send_str(st, TW_MS(1), "PONG\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), -EBADMSG);
    assert_non_null(strstr(tw_simtest_error(st), "-ERR"));
    const uint8_t *d;
    assert_int_equal(tw_simtest_unread(st, &d), 6);
    /* nothing more comes: a timeout, at exactly the deadline */
    assert_int_equal(tw_simtest_expect_str(st, "-ERR\r\nmore", TW_MS(80)), -ETIMEDOUT);
    assert_int_equal(tw_sim_now(tw_simtest_sim(st)), TW_MS(80));
    tw_simtest_free(st);
    assert_int_equal(pg.released, 1);
}

static void test_peer_reset(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(3, NULL, pinger_factory, &pg, false);
    tw_simtest_reset(st, TW_MS(5));
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(50)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_MS(60)), 0);
    assert_int_equal(pg.lost_err, -ECONNRESET);
    assert_int_equal(tw_simtest_peer_error(st), -ECONNRESET);
    tw_simtest_free(st);
}

/* The simulator's chunking catches a parser that assumes boundaries. */
static void test_naive_parser_fails_under_some_seed(void **state)
{
    (void)state;
    int failures = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        pinger pg = {.naive = true};
        tw_simtest *st = tw_simtest_new(seed, NULL, pinger_factory, &pg, false);
        tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
        failures += tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)) != 0;
        tw_simtest_free(st);
    }
    assert_true(failures > 0);
    assert_true(failures < 30);
}

/* A slow reader: the peer stops reading and the protocol's writes back
 * up into its buffer. */
typedef struct blaster {
    tw_protocol base;
    tw_transport *t;
    int pauses;
} blaster;

static void bl_made(tw_protocol *p, tw_transport *t)
{
    static uint8_t chunk[65536];
    ((blaster *)p)->t = t;
    for (int i = 0; i < 8; i++)
        tw_transport_write(t, chunk, sizeof chunk);
}

static void bl_pause(tw_protocol *p) { ((blaster *)p)->pauses++; }

static const tw_protocol_ops blaster_ops = {.connection_made = bl_made,
                                            .pause_writing = bl_pause};

static tw_protocol *blaster_factory(void *arg)
{
    blaster *b = arg;
    b->base.ops = &blaster_ops;
    return &b->base;
}

static void test_slow_peer_pushes_back(void **state)
{
    (void)state;
    blaster b = {0};
    tw_simtest *st = tw_simtest_new(4, NULL, blaster_factory, &b, false);
    tw_simtest_pause_reading(st, 0, true);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(1)), 0);
    assert_int_equal(b.pauses, 1);
    assert_true(tw_transport_get_write_buffer_size(b.t) > 64 * 1024);
    tw_simtest_pause_reading(st, TW_SEC(2), false);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(3)), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(b.t), 0);
    assert_int_equal(tw_simtest_unread(st, NULL), 8 * 65536);
    tw_simtest_free(st);
}

/* ---- buggify ---- */

static int fires(tw_loop *loop, int calls, int *sites)
{
    int n = 0;
    bool hit[4] = {false};
    for (int i = 0; i < calls; i++) {
        /* four distinct call sites */
        if (TW_BUGGIFY(loop)) { n++; hit[0] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[1] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[2] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[3] = true; }
    }
    *sites = hit[0] + hit[1] + hit[2] + hit[3];
    return n;
}

static void test_buggify(void **state)
{
    (void)state;
    int sites;
    /* off: never */
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n", "10.0.0.1");
    assert_int_equal(fires(loop, 1000, &sites), 0);
    /* a real loop: never, even while a buggify world exists */
    tw_sim_opts o = {.buggify = true, .buggify_site_probability = 0.5,
                     .buggify_fire_probability = 0.1};
    tw_sim *bsim = tw_sim_new(7, &o);
    tw_loop *bloop = tw_sim_add_node(bsim, "n", "10.0.0.1");
    tw_loop *real = tw_loop_new(NULL);
    assert_non_null(real);
    assert_int_equal(fires(real, 1000, &sites), 0);
    assert_int_equal(fires(loop, 1000, &sites), 0);
    tw_loop_free(real);
    /* on: enabled sites fire about 10% of calls, replayed by the seed */
    int total_sites = 0, any = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tw_sim *a = tw_sim_new(seed, &o), *b = tw_sim_new(seed, &o);
        tw_loop *la = tw_sim_add_node(a, "n", "10.0.0.1");
        tw_loop *lb = tw_sim_add_node(b, "n", "10.0.0.1");
        int sa, sb;
        int fa = fires(la, 1000, &sa), fb = fires(lb, 1000, &sb);
        assert_int_equal(fa, fb);
        assert_int_equal(sa, sb);
        assert_true(tw_sim_trace_hash(a) == tw_sim_trace_hash(b));
        if (sa)
            assert_true(fa > sa * 50 && fa < sa * 150);
        total_sites += sa;
        any += fa > 0;
        tw_sim_free(a);
        tw_sim_free(b);
    }
    assert_true(total_sites > 20 && total_sites < 60); /* ~half of 80 */
    assert_true(any > 10);
    (void)bloop;
    tw_sim_free(bsim);
    tw_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_pong_script),
        cmocka_unit_test(test_expect_reports_what_arrived),
        cmocka_unit_test(test_peer_reset),
        cmocka_unit_test(test_naive_parser_fails_under_some_seed),
        cmocka_unit_test(test_slow_peer_pushes_back),
        cmocka_unit_test(test_buggify),
    };
    return cmocka_run_group_tests_name("sim_peer", tests, NULL, NULL);
}
