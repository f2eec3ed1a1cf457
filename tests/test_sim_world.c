/* tests/test_sim_world.c - the simulated world itself: virtual time, the
 * node loops, the order of events at one instant, the PRNG's documented
 * output, the latency distributions, node clocks (skew, drift). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "twin/echo.h"

#include "twin/twin.h"
#include "twin/sim.h"

typedef struct tick {
    tw_loop *loop;
    int fired;
    tw_ns at[64];
    int order[64];
    int *log;
    int *loglen;
    int id;
} tick;

static void on_tick(void *arg)
{
    tick *t = arg;
    t->at[t->fired % 64] = tw_loop_now(t->loop);
    t->fired++;
    if (t->log)
        t->log[(*t->loglen)++] = t->id;
}

static void periodic(void *arg)
{
    tick *t = arg;
    on_tick(t);
    if (t->fired < 60)
        tw_call_later(t->loop, TW_SEC(1), periodic, t);
}

static void test_minute_of_timers_is_sixty_events(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    tick t = {.loop = loop};
    tw_call_later(loop, TW_SEC(1), periodic, &t);
    assert_int_equal(tw_loop_run(loop), 0);
    assert_int_equal(t.fired, 60);
    assert_int_equal(tw_loop_now(loop), TW_SEC(60));
    for (int i = 0; i < 60; i++)
        assert_int_equal(t.at[i], TW_SEC(i + 1)); /* exactly on time */
    /* The clock jumped from timer to timer: one event and one loop
     * iteration per timer, nothing for the idle time between them. */
    tw_sim_stats st;
    tw_sim_get_stats(sim, &st);
    print_message("60 s of timers: %llu events, %llu iterations\n",
                  (unsigned long long)st.events, (unsigned long long)st.iterations);
    assert_int_equal(st.events, 60);
    assert_int_equal(st.iterations, 60);
    tw_sim_free(sim);
}

static void test_timer_order_and_fifo(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(2, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    int log[16], len = 0;
    tick t[6];
    for (int i = 0; i < 6; i++)
        t[i] = (tick){.loop = loop, .log = log, .loglen = &len, .id = i};
    tw_call_later(loop, TW_MS(30), on_tick, &t[0]);
    tw_call_later(loop, TW_MS(10), on_tick, &t[1]);
    tw_call_later(loop, TW_MS(10), on_tick, &t[2]); /* same time: FIFO */
    tw_call_soon(loop, on_tick, &t[3]);
    tw_call_soon(loop, on_tick, &t[4]);
    tw_handle h = tw_call_later(loop, TW_MS(20), on_tick, &t[5]);
    assert_int_equal(tw_handle_cancel(loop, h), 0);
    assert_int_equal(tw_handle_cancel(loop, h), -ENOENT);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    int want[] = {3, 4, 1, 2, 0};
    assert_int_equal(len, 5);
    assert_memory_equal(log, want, sizeof want);
    assert_int_equal(t[5].fired, 0);
    assert_int_equal(tw_sim_now(sim), TW_MS(30));
    tw_sim_free(sim);
}

/* on_tick, then a call_soon of the tick after it on the same loop. */
static void tick_then_soon(void *arg)
{
    tick *t = arg;
    on_tick(t);
    tw_call_soon(t->loop, on_tick, t + 1);
}

typedef struct crasher {
    tw_loop *victim;
    bool victim_up;
} crasher;

static void crash_victim(void *arg) { tw_sim_crash(((crasher *)arg)->victim); }

static void look_at_victim(void *arg)
{
    crasher *c = arg;
    c->victim_up = tw_sim_node_up(c->victim);
}

/* Events due at the same virtual time run in the order they were
 * scheduled, whichever node they are for: timers set in the order b, a,
 * c fire in that order (a node runs what its timer made ready before the
 * next event). An event scheduled for "now" at that instant (a crash)
 * runs after the events already due then. */
static void test_same_time_events_run_in_schedule_order(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(3, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tw_loop *c = tw_sim_add_node(sim, "c", "10.0.0.3");
    int log[16], len = 0;
    tick t[5];
    tw_loop *on[5] = {a, a, b, c, c};
    for (int i = 0; i < 5; i++)
        t[i] = (tick){.loop = on[i], .log = log, .loglen = &len, .id = i};
    assert_int_equal(tw_sim_run_for(sim, TW_MS(5)), 0);
    tw_call_later(b, TW_SEC(1), on_tick, &t[2]);
    tw_call_later(a, TW_SEC(1), tick_then_soon, &t[0]); /* then t[1] */
    tw_call_later(c, TW_SEC(1), on_tick, &t[3]);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    int want[] = {2, 0, 1, 3};
    assert_int_equal(len, 4);
    assert_memory_equal(log, want, sizeof want);
    for (int i = 0; i < 4; i++)
        assert_int_equal(t[i].at[0], TW_SEC(1) + TW_MS(5));

    crasher k = {.victim = b};
    tw_call_later(a, TW_SEC(1), crash_victim, &k);
    tw_call_later(c, TW_SEC(1), look_at_victim, &k);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_true(k.victim_up); /* c's timer was due before the crash was made */
    assert_false(tw_sim_node_up(b));
    tw_sim_free(sim);
}

/* call_soon_threadsafe on a simulated node (from the world's own
 * thread, the only one a world runs on) runs in the next iteration. */
static void test_call_soon_threadsafe_on_a_node(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tick ta = {.loop = a}, tb = {.loop = b};
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_int_equal(tw_call_soon_threadsafe(b, on_tick, &tb), 0);
    assert_int_equal(tw_call_soon_threadsafe(a, on_tick, &ta), 0);
    assert_int_equal(tw_sim_step(sim), 1);
    assert_int_equal(ta.fired, 1);
    assert_int_equal(tb.fired, 1);
    assert_int_equal(tw_sim_step(sim), 0); /* nothing else to do */
    tw_sim_free(sim);
}

static void test_step_and_run_for(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(3, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    tick t = {.loop = loop};
    assert_int_equal(tw_sim_step(sim), 0); /* nothing to do */
    tw_call_later(loop, TW_MS(5), on_tick, &t);
    assert_int_equal(tw_sim_step(sim), 1); /* the clock jumps to 5 ms */
    assert_int_equal(tw_sim_now(sim), TW_MS(5));
    assert_int_equal(t.fired, 0);
    assert_int_equal(tw_sim_step(sim), 1); /* the timer runs */
    assert_int_equal(t.fired, 1);
    assert_int_equal(tw_sim_step(sim), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(10)), 0);
    assert_int_equal(tw_sim_now(sim), TW_MS(5) + TW_SEC(10));
    /* run_for on a loop passes exactly that much loop time */
    tw_call_later(loop, TW_SEC(100), on_tick, &t);
    assert_int_equal(tw_loop_run_for(loop, TW_SEC(2)), 0);
    assert_int_equal(tw_loop_now(loop), TW_MS(5) + TW_SEC(12));
    assert_int_equal(t.fired, 1);
    tw_sim_free(sim);
}

static void stop_loop(void *arg) { tw_loop_stop(arg); }

static void test_stop_and_nested_run(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(4, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tick tb = {.loop = b};
    tw_call_later(b, TW_SEC(1), on_tick, &tb); /* another node's timer */
    tw_call_later(a, TW_SEC(5), stop_loop, a);
    tw_call_later(a, TW_SEC(9), stop_loop, a);
    assert_int_equal(tw_loop_run(a), 0); /* runs the whole world */
    assert_int_equal(tb.fired, 1);
    assert_int_equal(tw_sim_now(sim), TW_SEC(5));
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_int_equal(tw_sim_now(sim), TW_SEC(9));
    assert_string_equal(tw_loop_backend(a), "sim");
    assert_ptr_equal(tw_sim_of(a), sim);
    assert_ptr_equal(tw_sim_node(sim, "b"), b);
    assert_int_equal(tw_sim_node_id(b), 1);
    assert_null(tw_sim_add_node(sim, "b", "10.0.0.3"));  /* name taken */
    assert_null(tw_sim_add_node(sim, "c", "10.0.0.2"));  /* address taken */
    assert_null(tw_sim_add_node(sim, "d", "not-an-ip"));
    tw_sim_free(sim);
}

/* Known answers: computed independently from the formulas in twin/sim.h. */
static void test_prng_documented_output(void **state)
{
    (void)state;
    tw_sim_prng p;
    tw_sim_prng_seed(&p, 0, 0);
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0xae06a0e58587ad31));
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0xb11e5a6861971fa1));
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0x1ff5c95558c1b3b6));
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0x6dc555f6d32a3fd9));
    tw_sim_prng_seed(&p, 42, TW_SIM_STREAM_USER);
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0x8b15ee39dda75bee));
    assert_true(tw_sim_prng_next(&p) == UINT64_C(0x8450f68f2bae8630));
    /* tw_sim_rand is stream 3 of the world's seed */
    tw_sim *sim = tw_sim_new(42, NULL);
    assert_true(tw_sim_rand(sim) == UINT64_C(0x8b15ee39dda75bee));
    tw_sim_free(sim);
    /* below() stays in range and covers it */
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = tw_sim_prng_below(&p, 7);
        assert_true(v < 7);
        seen[v]++;
    }
    for (int i = 0; i < 7; i++)
        assert_true(seen[i] > 850 && seen[i] < 1150);
    for (int i = 0; i < 1000; i++) {
        double d = tw_sim_prng_double(&p);
        assert_true(d >= 0 && d < 1);
    }
}

typedef struct dstats {
    double mean;
    tw_ns min, max;
} dstats;

static dstats sample(const tw_sim_dist *d, int n)
{
    tw_sim_prng p;
    tw_sim_prng_seed(&p, 99, 0);
    dstats s = {0, INT64_MAX, 0};
    for (int i = 0; i < n; i++) {
        tw_ns x = tw_sim_dist_sample(d, &p);
        s.mean += (double)x / n;
        if (x < s.min)
            s.min = x;
        if (x > s.max)
            s.max = x;
    }
    return s;
}

static void test_distributions(void **state)
{
    (void)state;
    const int n = 200000;
    tw_sim_dist c = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = 777};
    dstats s = sample(&c, 100);
    assert_true(s.min == 777 && s.max == 777);

    tw_sim_dist u = {.kind = TW_SIM_DIST_UNIFORM, .min_ns = 1000, .max_ns = 3000};
    s = sample(&u, n);
    assert_true(s.min >= 1000 && s.max <= 3000);
    assert_true(s.mean > 1980 && s.mean < 2020);

    tw_sim_dist nd = {.kind = TW_SIM_DIST_NORMAL, .mean_ns = 10000, .stddev_ns = 1000};
    s = sample(&nd, n);
    assert_true(s.mean > 9980 && s.mean < 10020);
    assert_true(s.min > 4000 && s.max < 16000); /* six sigma */

    tw_sim_dist e = {.kind = TW_SIM_DIST_EXPONENTIAL, .min_ns = 100, .mean_ns = 5100};
    s = sample(&e, n);
    assert_true(s.min >= 100);
    assert_true(s.mean > 5050 && s.mean < 5150);

    tw_sim_dist pa = {.kind = TW_SIM_DIST_PARETO, .min_ns = 1000, .alpha = 3,
                      .max_ns = 1000000};
    s = sample(&pa, n);
    assert_true(s.min >= 1000 && s.max <= 1000000);
    assert_true(s.mean > 1450 && s.mean < 1550); /* alpha*min/(alpha-1) */

    tw_sim_dist b = {.kind = TW_SIM_DIST_BIMODAL, .min_ns = 100, .max_ns = 200,
                     .slow_probability = 0.01, .slow_min_ns = 100000,
                     .slow_max_ns = 200000};
    tw_sim_prng p;
    tw_sim_prng_seed(&p, 5, 0);
    int slow = 0;
    for (int i = 0; i < n; i++) {
        tw_ns x = tw_sim_dist_sample(&b, &p);
        assert_true((x >= 100 && x <= 200) || (x >= 100000 && x <= 200000));
        slow += x >= 100000;
    }
    assert_true(slow > n / 100 - 300 && slow < n / 100 + 300);

    assert_int_equal(tw_sim_dist_parse("pareto"), TW_SIM_DIST_PARETO);
    assert_string_equal(tw_sim_dist_name(TW_SIM_DIST_BIMODAL), "bimodal");
    assert_int_equal(tw_sim_dist_parse("zipf"), -EINVAL);
}

/* Two clocks, as a Linux host has: a clock fault steps a node's time of
 * day (tw_loop_now + tw_loop_epoch) and sets the rate of both; its
 * monotonic clock, which its timers run on, never steps, either way. */
static void test_clock_skew_and_drift(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(6, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    assert_int_equal(tw_loop_epoch(a), TW_EPOCH_VIRTUAL);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0);
    assert_int_equal(tw_sim_set_clock(b, TW_SEC(5), 1000), 0); /* +5 s, +0.1% */
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(10)), 0);
    assert_int_equal(tw_loop_now(a), TW_SEC(11));
    assert_int_equal(tw_loop_now(b), TW_SEC(1) + TW_SEC(10) + TW_MS(10)); /* no step */
    assert_int_equal(tw_loop_now(a) + tw_loop_epoch(a), TW_EPOCH_VIRTUAL + TW_SEC(11));
    assert_int_equal(tw_loop_now(b) + tw_loop_epoch(b),
                     TW_EPOCH_VIRTUAL + TW_SEC(1) + TW_SEC(5) + TW_SEC(10) + TW_MS(10));
    /* b's timers follow b's clock: 1 s of b time is 1/1.001 s of world */
    tick t = {.loop = b};
    tw_call_later(b, TW_SEC(1), on_tick, &t);
    tw_ns before = tw_sim_now(sim);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_int_equal(t.fired, 1);
    tw_ns took = tw_sim_now(sim) - before;
    assert_true(took >= 999000999 - 2 && took <= 999001000);
    /* The time of day set back 100 s: the monotonic clock and the timers
     * go on as if nothing happened. */
    tw_ns shown = tw_loop_now(b);
    t.fired = 0;
    tw_call_later(b, TW_SEC(1), on_tick, &t);
    before = tw_sim_now(sim);
    assert_int_equal(tw_sim_set_clock(b, -TW_SEC(100), 0), 0);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_int_equal(t.fired, 1);
    assert_int_equal(tw_sim_now(sim) - before, TW_SEC(1));
    assert_int_equal(tw_loop_now(b), shown + TW_SEC(1));
    assert_int_equal(tw_loop_now(b) + tw_loop_epoch(b),
                     TW_EPOCH_VIRTUAL + tw_sim_now(sim) - TW_SEC(100));
    assert_int_equal(tw_sim_set_clock(b, 0, 2000000), -EINVAL);
    /* The effect report: a step moved no pending timer, a new rate did. */
    tick u = {.loop = b};
    tw_call_later(b, TW_SEC(10), on_tick, &u);
    tw_sim_fault step = {.kind = TW_SIM_FAULT_CLOCK, .a = tw_sim_node_id(b),
                         .b = TW_SIM_ALL, .skew_ns = TW_SEC(7)};
    int id = tw_sim_at(sim, tw_sim_now(sim), &step);
    assert_true(id >= 0);
    tw_sim_fault rate = step;
    rate.drift_ppm = 5000;
    int id2 = tw_sim_at(sim, tw_sim_now(sim) + TW_SEC(1), &rate);
    assert_true(id2 >= 0);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(2)), 0);
    uint64_t moved = 99;
    assert_int_equal(tw_sim_fault_effect(sim, id, &moved), 0);
    assert_int_equal(moved, 0);
    assert_int_equal(tw_sim_fault_effect(sim, id2, &moved), 0);
    assert_int_equal(moved, 1);
    /* ... and a read of the date since counts for each */
    (void)tw_loop_epoch(b);
    assert_int_equal(tw_sim_fault_effect(sim, id, &moved), 0);
    assert_int_equal(moved, 1);
    assert_int_equal(tw_sim_fault_effect(sim, id2, &moved), 0);
    assert_int_equal(moved, 2);
    /* An uptime moves the monotonic clock forward only, and leaves the
     * time of day where it was. */
    tw_ns tod = tw_loop_now(b) + tw_loop_epoch(b);
    assert_int_equal(tw_sim_set_uptime(b, tw_loop_now(b) - 1), -EINVAL);
    assert_int_equal(tw_sim_set_uptime(b, TW_SEC(3600)), 0);
    assert_int_equal(tw_loop_now(b), TW_SEC(3600));
    assert_int_equal(tw_loop_now(b) + tw_loop_epoch(b), tod);
    tw_sim_free(sim);
}

typedef struct nest {
    tw_loop *loop;
    tw_sim *sim;
    int rc_loop, rc_sim;
} nest;

static void try_nested(void *arg)
{
    nest *n = arg;
    n->rc_loop = tw_loop_run(n->loop);
    n->rc_sim = tw_sim_run_for(n->sim, TW_SEC(1));
}

static void test_nested_run_is_refused(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(8, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    nest n = {.loop = b, .sim = sim};
    tw_call_soon(a, try_nested, &n);
    assert_int_equal(tw_loop_run(a), 0);
    assert_int_equal(n.rc_loop, -EBUSY);
    assert_int_equal(n.rc_sim, -EBUSY);
    tw_sim_free(sim);
}

typedef struct lines {
    int n, from_b;
    char last[160];
} lines;

static void collect(void *arg, const tw_sim_record *rec, const char *line)
{
    lines *l = arg;
    l->n++;
    l->from_b += strcmp(rec->node_name, "b") == 0;
    snprintf(l->last, sizeof l->last, "%s", line);
}

static void test_trace_filter_and_hash(void **state)
{
    (void)state;
    lines l = {0};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tw_sim_opts o = {.trace_fn = collect, .trace_arg = &l, .trace_node = "b",
                     .trace_file = f};
    tw_sim *sim = tw_sim_new(9, &o);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    uint64_t h0 = tw_sim_trace_hash(sim);
    tw_sim_set_clock(a, TW_SEC(1), 0);
    tw_sim_set_clock(b, TW_SEC(2), 0);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_true(tw_sim_trace_hash(sim) != h0); /* a's records count too */
    assert_true(l.n >= 2);
    assert_int_equal(l.n, l.from_b); /* but only b's are shown */
    assert_non_null(strstr(l.last, " b t0 clock "));
    tw_sim_free(sim);
    fclose(f);
    assert_non_null(strstr(text, "SEED=9"));
    assert_non_null(strstr(text, "twin sim: seed=9 hash="));
    assert_null(strstr(text, " a t0 clock"));
    free(text);
}

/* A trace starts with the world's seed and settings (no hash yet: none
 * of the run is in it) and ends with the closing seed/hash line: what
 * tw_sim_free lets go (a server, a connection still open) is no part of
 * the run, and is not printed after it. */
static void test_trace_starts_and_ends_with_the_run(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.trace_file = f;
    tw_sim *sim = tw_sim_new(5, &o);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_loop *c = tw_sim_add_node(sim, "c", "10.0.0.2");
    tw_echo_server_cfg cfg = {.keep_open = true};
    tw_server *srv;
    assert_int_equal(tw_create_server(s, tw_echo_server_factory, &cfg, "10.0.0.1", 7,
                                      NULL, &srv), 0);
    tw_echo_client *cl = tw_echo_client_new(&(tw_echo_client_cfg){.message = "hi"});
    assert_non_null(cl);
    assert_int_equal(tw_create_connection(c, tw_echo_client_factory, cl, "10.0.0.1", 7,
                                          tw_echo_client_connected), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0);
    assert_true(cfg.connections == 1); /* a connection and a server open */
    char closing[80];
    snprintf(closing, sizeof closing, "twin sim: seed=5 hash=%016llx\n",
             (unsigned long long)tw_sim_trace_hash(sim));
    tw_sim_free(sim);
    fclose(f);
    assert_int_equal(strncmp(text, "twin sim: SEED=5\n", 17), 0);
    const char *end = strstr(text, closing);
    assert_non_null(end);
    assert_true(strstr(text, "hash=") == end + strlen("twin sim: seed=5 "));
    assert_string_equal(end, closing); /* the last line */
    assert_non_null(strstr(text, " deliver "));
    tw_echo_client_free(cl);
    free(text);
}

/* A uniform draw covers both ends of its range, evenly; a Pareto draw
 * with no alpha has alpha 1.5, so P(x > 2 min) = 2^-1.5 = 0.354. */
static void test_distribution_ends_and_defaults(void **state)
{
    (void)state;
    tw_sim_prng p;
    tw_sim_prng_seed(&p, 7, 0);
    tw_sim_dist u = {.kind = TW_SIM_DIST_UNIFORM, .min_ns = 10, .max_ns = 13};
    int seen[4] = {0};
    for (int i = 0; i < 4000; i++) {
        tw_ns x = tw_sim_dist_sample(&u, &p);
        assert_in_range(x, 10, 13);
        seen[x - 10]++;
    }
    for (int i = 0; i < 4; i++)
        assert_in_range(seen[i], 850, 1150);
    tw_sim_dist pa = {.kind = TW_SIM_DIST_PARETO, .min_ns = 1000};
    const int n = 200000;
    int above = 0;
    for (int i = 0; i < n; i++) {
        tw_ns x = tw_sim_dist_sample(&pa, &p);
        assert_true(x >= 1000);
        above += x > 2000;
    }
    assert_in_range(above / (n / 1000), 344, 364);
}

/* ---- livelock and stop ---- */

typedef struct spin {
    tw_loop *loop;
    uint64_t runs;
    tw_ns delay; /* -1: tw_call_soon; else a timer this far */
} spin;

static void spin_again(void *arg)
{
    spin *s = arg;
    s->runs++;
    if (s->delay < 0)
        tw_call_soon(s->loop, spin_again, s);
    else
        tw_call_later(s->loop, s->delay, spin_again, s);
}

/* A callback that reschedules itself for now: time cannot move, and the
 * world stops with -ELOOP after livelock_callbacks, saying where, instead
 * of never returning. For good: every later run returns it too. */
static void test_livelock_stops_the_world(void **state)
{
    (void)state;
    for (int timer = 0; timer < 2; timer++) {
        tw_sim_opts o = {.livelock_callbacks = 1000};
        tw_sim *sim = tw_sim_new(1, &o);
        tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
        tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
        spin quiet = {.loop = a, .delay = TW_MS(1)};
        spin spinning = {.loop = b, .delay = timer ? 0 : -1};
        tw_call_soon(a, spin_again, &quiet);
        tw_call_later(b, TW_MS(5), spin_again, &spinning);
        tw_sim_livelock ll;
        assert_int_equal(tw_sim_livelock_get(sim, &ll), -ENOENT);
        assert_null(tw_sim_failure(sim));
        /* the library says why in words when asked, and prints nothing */
        fflush(stderr);
        FILE *err = tmpfile();
        assert_non_null(err);
        int saved = dup(2);
        assert_true(saved >= 0 && dup2(fileno(err), 2) == 2);
        int rc = tw_sim_run_for(sim, TW_SEC(1));
        fflush(stderr);
        assert_int_equal(dup2(saved, 2), 2);
        close(saved);
        assert_int_equal(rc, -ELOOP);
        assert_int_equal(fseek(err, 0, SEEK_END), 0);
        assert_int_equal(ftell(err), 0); /* not a byte on stderr */
        fclose(err);
        const char *why = tw_sim_failure(sim);
        assert_non_null(why);
        assert_non_null(strstr(why, "livelock: node b ran 1001 callbacks while world time "
                                    "stayed at 5000000 ns (livelock_callbacks 1000)"));
        assert_int_equal(tw_sim_now(sim), TW_MS(5)); /* where it got stuck */
        assert_int_equal(tw_sim_livelock_get(sim, &ll), 0);
        assert_int_equal(ll.node, 1);
        assert_int_equal(ll.time_ns, TW_MS(5));
        assert_int_equal(ll.callbacks, 1001);
        assert_null(ll.event);
        assert_ptr_equal(ll.fn, spin_again);
        assert_int_equal(spinning.runs, 1001);
        /* a ran at 0..4 ms; at 5 ms too when b's timers queue behind
         * a's, not when b always has a callback ready. */
        assert_int_equal(quiet.runs, timer ? 6 : 5);
        assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), -ELOOP);
        assert_int_equal(tw_sim_run_until_idle(sim), -ELOOP);
        assert_int_equal(tw_loop_run(a), -ELOOP);
        assert_int_equal(spinning.runs, 1001);
        tw_sim_free(sim);
    }
    /* A million callbacks spread over time are no livelock. */
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    spin busy = {.loop = a, .delay = 1};
    tw_call_soon(a, spin_again, &busy);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(2)), 0);
    assert_int_equal(busy.runs, 2000001);
    tw_sim_free(sim);
}

static void stop_now(void *arg) { tw_sim_stop(arg); }

/* tw_sim_stop from a callback: the run returns at that time. Outside a
 * run it does nothing. */
static void test_stop_ends_the_run_there(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_sim_stop(sim);
    tw_call_later(a, TW_MS(300), stop_now, sim);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(10)), 0);
    assert_int_equal(tw_sim_now(sim), TW_MS(300));
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0); /* not stopped again */
    assert_int_equal(tw_sim_now(sim), TW_MS(1300));
    tw_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_minute_of_timers_is_sixty_events),
        TW_TEST(test_timer_order_and_fifo),
        TW_TEST(test_same_time_events_run_in_schedule_order),
        TW_TEST(test_call_soon_threadsafe_on_a_node),
        TW_TEST(test_step_and_run_for),
        TW_TEST(test_stop_and_nested_run),
        TW_TEST(test_prng_documented_output),
        TW_TEST(test_distributions),
        TW_TEST(test_distribution_ends_and_defaults),
        TW_TEST(test_clock_skew_and_drift),
        TW_TEST(test_nested_run_is_refused),
        TW_TEST(test_trace_filter_and_hash),
        TW_TEST(test_trace_starts_and_ends_with_the_run),
        TW_TEST(test_livelock_stops_the_world),
        TW_TEST(test_stop_ends_the_run_there),
    };
    return cmocka_run_group_tests_name("sim_world", tests, NULL, NULL);
}
