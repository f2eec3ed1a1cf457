/* tests/test_sim_queue.c - the world's event queue (sim/queue.h) hands
 * events out in the order the simulation relies on: by time, then by the
 * order they were scheduled in; an event queued for the current time goes
 * behind everything queued before it, and after every timed event of that
 * time. The queue is checked against a plain list that finds each next
 * event by looking at all of them, over long random mixes of pushes and
 * pops, with the clock moving as the world moves it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "sim/sim.h"

#define REF_MAX 4096

/* The reference: every queued event, and whether it went to the ring
 * (queued for the time it was then). */
typedef struct ref {
    sim_event ev[REF_MAX];
    bool ring[REF_MAX];
    int n;
} ref;

/* The next event as the queue's rule says: a timed event due by now
 * first (the earliest), then the ring in order, then the earliest timed. */
static int ref_next(const ref *r, tw_ns now)
{
    int timed = -1, ring = -1;
    for (int i = 0; i < r->n; i++) {
        const sim_event *e = &r->ev[i];
        if (r->ring[i]) {
            if (ring < 0 || e->key < r->ev[ring].key)
                ring = i;
        } else if (timed < 0 || sim_ev_before(e, &r->ev[timed])) {
            timed = i;
        }
    }
    if (timed >= 0 && (r->ev[timed].time <= now || ring < 0))
        return timed;
    return ring;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n operations on a fresh world's queue; spread: how far ahead of the
 * clock timed events go (a small spread makes many of one time). */
static void run_mix(uint64_t seed, int n, int spread, int push_percent)
{
    tw_sim *sim = tw_sim_new(1, NULL);
    assert_non_null(sim);
    assert_int_equal(sim_queued(&sim->q), 0);
    static ref r;
    r.n = 0;
    uint64_t s = seed;
    int pops = 0;
    for (int i = 0; i < n; i++) {
        bool push = r.n == 0 || (r.n < REF_MAX && (int)(next_rand(&s) % 100) < push_percent);
        if (push) {
            tw_ns when = sim->now - 1 + (tw_ns)(next_rand(&s) % (uint64_t)(spread + 2));
            uint8_t type = (uint8_t)(EV_ARRIVE + next_rand(&s) % (EV__END - EV_ARRIVE));
            uint64_t seq = sim->seq;
            assert_int_equal(sim_push(sim, when, type, (uint32_t)i, 7, seq), 0);
            r.ev[r.n] = (sim_event){.time = when <= sim->now ? sim->now : when,
                                    .key = seq << 8 | type, .arg = seq, .obj = (uint32_t)i,
                                    .gen = 7};
            r.ring[r.n] = when <= sim->now;
            r.n++;
        } else {
            int want = ref_next(&r, sim->now);
            assert_true(want >= 0);
            sim_event got;
            assert_true(sim_pop(&sim->q, sim->now, &got));
            assert_int_equal(got.key, r.ev[want].key);
            assert_int_equal(got.time, r.ev[want].time);
            assert_int_equal(got.obj, r.ev[want].obj);
            assert_int_equal(got.arg, r.ev[want].arg);
            /* the clock goes to the event, as a step moves it */
            assert_true(got.time >= sim->now);
            sim->now = got.time;
            r.ev[want] = r.ev[r.n - 1];
            r.ring[want] = r.ring[r.n - 1];
            r.n--;
            pops++;
        }
        assert_int_equal(sim_queued(&sim->q), (uint32_t)r.n);
    }
    /* what is left comes out in order too */
    while (r.n) {
        int want = ref_next(&r, sim->now);
        sim_event got;
        assert_true(sim_pop(&sim->q, sim->now, &got));
        assert_int_equal(got.key, r.ev[want].key);
        sim->now = got.time;
        r.ev[want] = r.ev[r.n - 1];
        r.ring[want] = r.ring[r.n - 1];
        r.n--;
    }
    sim_event none;
    assert_false(sim_pop(&sim->q, sim->now, &none));
    assert_true(pops > n / 10);
    tw_sim_free(sim);
}

/* Pushes and pops about even: the queue stays short, and the earliest
 * event is often the one just pushed (a conversation's next hop). */
static void test_short_queue_order(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++)
        run_mix(seed * 0x9E3779B97F4A7C15u, 20000, 40, 50);
}

/* Many events of few times: ties between the timed events, the ring and
 * the clock. */
static void test_ties_order(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++)
        run_mix(seed * 0xC2B2AE3D27D4EB4Fu, 20000, 2, 55);
}

/* A long queue: the heap deep, pushes earlier and later than its top. */
static void test_long_queue_order(void **state)
{
    for (uint64_t seed = 1; seed <= 5; seed++)
        run_mix(seed * 0x165667B19E3779F9u, 30000, 1000, 70);
}

/* A conversation: each pop pushes the next hop a little later, behind a
 * timer far ahead; the order is the same as with the heap alone. */
static void test_conversation_order(void **state)
{
    tw_sim *sim = tw_sim_new(1, NULL);
    assert_non_null(sim);
    assert_int_equal(sim_push(sim, 1000000, EV_TIMER, 0, 0, 0), 0);
    assert_int_equal(sim_push(sim, 10, EV_ARRIVE, 1, 1, 0), 0);
    for (int i = 0; i < 1000; i++) {
        sim_event got;
        assert_true(sim_pop(&sim->q, sim->now, &got));
        assert_int_equal(got.type, EV_ARRIVE);
        assert_int_equal(got.time, 10 + 10 * i);
        sim->now = got.time;
        assert_int_equal(sim_push(sim, sim->now + 10, EV_ARRIVE, 1, 1, 0), 0);
        assert_int_equal(sim_queued(&sim->q), 2);
    }
    /* an event earlier than the next hop goes before it */
    assert_int_equal(sim_push(sim, sim->now + 5, EV_DELIVER, 2, 1, 0), 0);
    sim_event got;
    assert_true(sim_pop(&sim->q, sim->now, &got));
    assert_int_equal(got.type, EV_DELIVER);
    assert_true(sim_pop(&sim->q, sim->now, &got));
    assert_int_equal(got.type, EV_ARRIVE);
    assert_true(sim_pop(&sim->q, sim->now, &got));
    assert_int_equal(got.type, EV_TIMER);
    assert_false(sim_pop(&sim->q, sim->now, &got));
    tw_sim_free(sim);
}

/* The queue's bound: a world whose queue would grow past events_max
 * fails with -ENOBUFS and a reason naming the setting, for events due
 * later (the heap) and due now (the ring) alike. The bound is checked as
 * the queue grows, so it holds at least events_max and never twice as
 * many. */
static void fill_until_refused(bool now)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.events_max = 1000;
    tw_sim *sim = tw_sim_new(1, &o);
    assert_non_null(sim);
    int rc = 0;
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < 4000 && rc == 0; i++) {
        rc = sim_push(sim, now ? sim->now : 100 + (tw_ns)i, EV_ARRIVE, i, 1, 0);
        accepted += rc == 0;
    }
    assert_int_equal(rc, -ENOBUFS);
    assert_true(accepted >= 1000 && accepted < 2000);
    assert_int_equal(sim_queued(&sim->q), accepted);
    assert_non_null(tw_sim_failure(sim));
    assert_non_null(strstr(tw_sim_failure(sim), "events_max"));
    tw_sim_free(sim);
}

static void test_events_max_fails_the_world(void **state)
{
    fill_until_refused(false);
    fill_until_refused(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_short_queue_order),
        TW_TEST(test_ties_order),
        TW_TEST(test_long_queue_order),
        TW_TEST(test_conversation_order),
        TW_TEST(test_events_max_fails_the_world),
    };
    return cmocka_run_group_tests_name("sim_queue", tests, NULL, NULL);
}
