/* tests/test_sim_loss.c - loss beyond independent drops: the
 * Gilbert-Elliott and correlated models give the rates and burst lengths
 * their parameters promise; a model that is off draws nothing (adding
 * one path's model leaves other runs untouched); loss bursts hit only
 * their paths, only while they last, and are counted. Draws are taken
 * straight from the simulator's loss decision (sim/net/loss.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "sim/sim.h"
#include "twin/simprobe.h"

typedef struct world {
    tw_sim *sim;
    tw_loop *a, *b, *c;
} world;

static world make(const tw_sim_loss_model *net_model)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    if (net_model)
        o.net.loss_model = *net_model;
    world w = {.sim = tw_sim_new(5, &o)};
    assert_non_null(w.sim);
    w.a = tw_sim_add_node(w.sim, "a", "10.0.0.1");
    w.b = tw_sim_add_node(w.sim, "b", "10.0.0.2");
    w.c = tw_sim_add_node(w.sim, "c", "10.0.0.3");
    return w;
}

/* N packets a->b: the loss rate, the mean run of losses, P(loss | loss). */
typedef struct stats {
    double rate, burst, after_loss;
} stats;

static stats draw(world *w, int n)
{
    int lost = 0, runs = 0, pairs = 0, both = 0;
    bool prev = false;
    for (int i = 0; i < n; i++) {
        bool l = sim_loss(w->sim, 0, 1, 0, w->sim->now);
        lost += l;
        runs += l && !prev;
        if (prev) {
            pairs++;
            both += l;
        }
        prev = l;
    }
    return (stats){(double)lost / n, runs ? (double)lost / runs : 0,
                   pairs ? (double)both / pairs : 0};
}

static void test_gilbert_elliott(void **state)
{
    (void)state;
    tw_sim_loss_model m = {.kind = TW_SIM_LOSS_GILBERT_ELLIOTT, .p = 0.05, .r = 0.25};
    world w = make(&m);
    stats s = draw(&w, 400000);
    /* Bad a fraction p/(p+r) of the time, losing everything there:
     * rate 1/6; a stay in the bad state lasts 1/r = 4 packets. */
    assert_in_range((int)(s.rate * 1000), 155, 178);
    assert_in_range((int)(s.burst * 100), 380, 420);
    tw_sim_path_counters c;
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.a, w.b, &c), 0);
    assert_in_range(c.lost, 62000, 71000);
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.b, w.a, &c), 0);
    assert_int_equal(c.lost, 0); /* the other direction is its own channel */
    tw_sim_free(w.sim);

    /* netem's 1-h and 1-k: the bad state loses half, the good one 1%. */
    m = (tw_sim_loss_model){.kind = TW_SIM_LOSS_GILBERT_ELLIOTT, .p = 0.1, .r = 0.1,
                            .loss_bad = 0.5, .loss_good = 0.01};
    w = make(&m);
    s = draw(&w, 400000);
    assert_in_range((int)(s.rate * 1000), 245, 265); /* (0.5 + 0.01) / 2 */
    tw_sim_free(w.sim);
}

static void test_correlated(void **state)
{
    (void)state;
    tw_sim_loss_model m = {.kind = TW_SIM_LOSS_CORRELATED, .probability = 0.1,
                           .correlation = 0.8};
    world w = make(&m);
    stats s = draw(&w, 400000);
    /* The rate stays p; a loss follows a loss with c + (1 - c) p. */
    assert_in_range((int)(s.rate * 1000), 92, 108);
    assert_in_range((int)(s.after_loss * 1000), 800, 840);
    tw_sim_free(w.sim);
    m.correlation = 0;
    w = make(&m);
    s = draw(&w, 400000);
    assert_in_range((int)(s.after_loss * 1000), 90, 110); /* independent */
    tw_sim_free(w.sim);
}

/* Off means no draw: the network stream is where it was. */
static void test_off_draws_nothing(void **state)
{
    (void)state;
    world w = make(NULL);
    tw_sim_prng before = w.sim->rng_net;
    for (int i = 0; i < 100; i++)
        assert_false(sim_loss(w.sim, 0, 1, 0, w.sim->now));
    assert_memory_equal(&before, &w.sim->rng_net, sizeof before);
    tw_sim_free(w.sim);
}

static void test_burst_window_and_paths(void **state)
{
    (void)state;
    world w = make(NULL);
    tw_sim_loss_model all = {.kind = TW_SIM_LOSS_CORRELATED, .probability = 1};
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, w.b, &all, TW_MS(100), true), 0);
    assert_true(sim_loss(w.sim, 0, 1, 0, w.sim->now));  /* a->b: in the burst */
    assert_false(sim_loss(w.sim, 1, 0, 0, w.sim->now)); /* oneway: b->a is not */
    assert_false(sim_loss(w.sim, 0, 2, 0, w.sim->now)); /* a->c is another path */
    /* A packet that goes later (a retransmission) meets the burst only
     * if the burst still holds then. */
    assert_true(sim_loss(w.sim, 0, 1, 0, w.sim->now + TW_MS(99)));
    assert_false(sim_loss(w.sim, 0, 1, 0, w.sim->now + TW_MS(100)));
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(100)), 0);
    assert_false(sim_loss(w.sim, 0, 1, 0, w.sim->now)); /* over */
    tw_sim_path_counters c;
    tw_sim_path_counters_get(w.sim, w.a, w.b, &c);
    assert_int_equal(c.lost, 2);
    assert_int_equal(c.burst_lost, 2);
    /* b NULL: all of a's paths, both ways; NULL model ends it early. */
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, NULL, &all, TW_SEC(10), false), 0);
    assert_true(sim_loss(w.sim, 2, 0, 0, w.sim->now));
    assert_false(sim_loss(w.sim, 1, 2, 0, w.sim->now));
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, NULL, NULL, 0, false), 0);
    assert_false(sim_loss(w.sim, 2, 0, 0, w.sim->now));
    /* Bad bursts are refused. */
    tw_sim_loss_model bad = {.kind = TW_SIM_LOSS_GILBERT_ELLIOTT, .p = 0};
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, w.b, &bad, TW_MS(1), false), -EINVAL);
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, w.b, &all, 0, false), -EINVAL);
    bad = (tw_sim_loss_model){.kind = TW_SIM_LOSS_CORRELATED, .correlation = 1};
    assert_false(tw_sim_loss_model_ok(&bad));
    tw_sim_free(w.sim);
}

/* A segment sent in a burst that loses everything is retransmitted
 * until a transmission goes after the burst's end: that one arrives. The
 * transmissions' times are the sender's timeouts, 40 ms doubling. */
static void test_retransmission_after_a_burst_arrives(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1),
                                  .max_ns = TW_MS(1), .mean_ns = TW_MS(1)};
    o.net.rto_ns = TW_MS(40);
    world w = {.sim = tw_sim_new(5, &o)};
    assert_non_null(w.sim);
    w.a = tw_sim_add_node(w.sim, "a", "10.0.0.1");
    w.b = tw_sim_add_node(w.sim, "b", "10.0.0.2");
    tw_sim_loss_model all = {.kind = TW_SIM_LOSS_CORRELATED, .probability = 1};
    assert_int_equal(tw_sim_loss_burst(w.sim, w.a, w.b, &all, TW_MS(100), true), 0);
    sim_path *p = sim_path_of(w.sim, 0, 1);
    const tw_sim_path_opts *po = sim_path_opts(w.sim, 0, 1);
    bool gave_up = false;
    tw_ns t = sim_transit_at(w.sim, po, p, 0, 1, 64, w.sim->now, &gave_up);
    /* lost at 0 and 40 ms, in the burst; sent again at 120 ms, after it */
    assert_false(gave_up);
    assert_int_equal(t, TW_MS(120) + TW_MS(1));
    tw_sim_path_counters c;
    tw_sim_path_counters_get(w.sim, w.a, w.b, &c);
    assert_int_equal(c.burst_lost, 2);
    tw_sim_free(w.sim);
}

/* A path's model is validated like the rest of its options. */
static void test_bad_model_refused(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.loss_model = (tw_sim_loss_model){.kind = TW_SIM_LOSS_CORRELATED, .probability = 2};
    assert_null(tw_sim_new(1, &o));
    world w = make(NULL);
    tw_sim_path_opts p = {.loss_model = {.kind = 99}};
    assert_int_equal(tw_sim_path_set(w.sim, w.a, w.b, &p), -EINVAL);
    tw_sim_free(w.sim);
}

/* r 0 means r = 1 - p: with p 0.2 the bad state is left with 0.8, so a
 * fifth of the packets are lost, in runs of 1.25 on average. */
static void test_gilbert_elliott_default_r(void **state)
{
    (void)state;
    tw_sim_loss_model m = {.kind = TW_SIM_LOSS_GILBERT_ELLIOTT, .p = 0.2};
    world w = make(&m);
    stats s = draw(&w, 400000);
    assert_in_range((int)(s.rate * 1000), 195, 205);
    assert_in_range((int)(s.burst * 100), 120, 130);
    tw_sim_free(w.sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_gilbert_elliott),
        TW_TEST(test_gilbert_elliott_default_r),
        TW_TEST(test_correlated),
        TW_TEST(test_off_draws_nothing),
        TW_TEST(test_burst_window_and_paths),
        TW_TEST(test_retransmission_after_a_burst_arrives),
        TW_TEST(test_bad_model_refused),
    };
    return cmocka_run_group_tests_name("sim_loss", tests, NULL, NULL);
}
