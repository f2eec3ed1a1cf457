/* tests/test_fuzz_found.c - bugs the fuzzers of fuzz/ found, each kept as
 * a plain unit test (the crash inputs also live in fuzz/regressions/, but
 * those need clang's libFuzzer to replay).
 *
 * Map: a stream that lost a segment for good delivered what came after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/sim.h"
#include "twin/twin.h"

/* ---- the stream hole (found by fuzz/schedule.c) ----
 * A segment whose retransmissions ran out was dropped and a reset sent,
 * but the segments sent after it still arrived, before the reset: the
 * receiver got the stream with a hole in it. TCP never delivers past a
 * hole, so the receiver must see a prefix of what was sent, then the
 * reset. */

#define SENT (32 * 1024)

static uint8_t byte_at(size_t k) { return (uint8_t)(k * 31 + (k >> 8)); }

typedef struct checker {
    tw_protocol base;
    size_t got;
    size_t wrong;
    int lost_err;
    bool lost;
} checker;

static void ck_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    checker *c = (checker *)p;
    for (size_t i = 0; i < n; i++)
        if (d[i] != byte_at(c->got + i))
            c->wrong++;
    c->got += n;
}

static void ck_lost(tw_protocol *p, int err)
{
    checker *c = (checker *)p;
    c->lost = true;
    c->lost_err = err;
}

static const tw_protocol_ops checker_ops = {
    .data_received = ck_data,
    .connection_lost = ck_lost,
};

static tw_protocol *checker_factory(void *arg)
{
    checker *c = arg;
    c->base.ops = &checker_ops;
    return &c->base;
}

static void writer_made(tw_protocol *p, tw_transport *t)
{
    static uint8_t buf[SENT];
    for (size_t k = 0; k < SENT; k++)
        buf[k] = byte_at(k);
    tw_transport_write(t, buf, SENT);
    tw_transport_close(t);
}

static const tw_protocol_ops writer_ops = {.connection_made = writer_made};
static tw_protocol writer = {.ops = &writer_ops};
static tw_protocol *writer_factory(void *arg) { return &writer; }

static void test_stream_never_delivers_past_a_lost_segment(void **state)
{
    (void)state;
    int resets = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        tw_sim_opts o;
        tw_sim_opts_default(&o);
        o.segment_bytes_max = 512;      /* many segments, each its own fate */
        o.net.loss_probability = 0.6;
        o.net.loss_retries_max = 1;     /* a second loss gives up */
        o.net.rcvbuf_bytes = SENT;
        tw_sim *sim = tw_sim_new(seed, &o);
        assert_non_null(sim);
        tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
        tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
        checker c = {0};
        tw_server *srv;
        assert_int_equal(tw_create_server(a, checker_factory, &c, "10.0.0.1", 7,
                                          NULL, &srv), 0);
        assert_int_equal(tw_create_connection(b, writer_factory, NULL, "10.0.0.1",
                                              7, NULL), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_SEC(60)), 0);
        if (c.wrong)
            fail_msg("seed %llu: %zu of %zu bytes received were not the ones "
                     "sent there", (unsigned long long)seed, c.wrong, c.got);
        assert_true(c.lost);
        if (c.lost_err == -ECONNRESET) {
            resets++;
            assert_true(c.got < SENT);
        } else {
            assert_int_equal(c.got, SENT);
        }
        tw_server_close(srv);
        tw_sim_free(sim);
    }
    assert_true(resets > 0); /* the give-up path was taken */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_stream_never_delivers_past_a_lost_segment),
    };
    return cmocka_run_group_tests_name("fuzz_found", tests, NULL, NULL);
}
