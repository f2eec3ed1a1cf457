/* tests/test_sim_determinism.c - same seed, same trace. The demo world
 * (scenarios/demo.yaml under --swarm: swarm faults, buggify, loss,
 * crashes) runs 200 seeds twice each through the scenario runner; every
 * pair must hash alike, different seeds must (almost always) differ, and
 * every seed must pass: no echoed byte ever wrong, every workload done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/scenario.h"

#define SEEDS 200
#define DEMO "scenarios/demo.yaml"

static tw_scenario *load_demo(void)
{
    tw_scenario *sc = NULL;
    char err[600];
    if (tw_scenario_load(DEMO, &sc, err, sizeof err) < 0)
        fail_msg("%s", err);
    return sc;
}

/* One swarm run of seed; its trace to trace (may be NULL). */
static void run_demo(const tw_scenario *sc, uint64_t seed, FILE *trace,
                     tw_scenario_result *res)
{
    tw_scenario_run_opts o = {.swarm = true, .trace = trace};
    assert_int_equal(tw_scenario_run(sc, seed, &o, res), 0);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_200_seeds_twice(void **state)
{
    (void)state;
    static uint64_t hashes[SEEDS];
    uint64_t events = 0, faults = 0, resets = 0, timeouts = 0;
    tw_scenario *sc = load_demo();
    for (int s = 0; s < SEEDS; s++) {
        uint64_t seed = 1000 + (uint64_t)s;
        tw_scenario_result r1, r2;
        run_demo(sc, seed, NULL, &r1);
        run_demo(sc, seed, NULL, &r2);
        if (r1.hash != r2.hash)
            fail_msg("seed %llu: hash %016llx then %016llx (replay with "
                     "twin demo --seed %llu --trace)",
                     (unsigned long long)seed, (unsigned long long)r1.hash,
                     (unsigned long long)r2.hash, (unsigned long long)seed);
        if (r1.verdict != TW_SCENARIO_PASS)
            fail_msg("seed %llu: %s: %s", (unsigned long long)seed,
                     tw_scenario_verdict_name(r1.verdict), r1.message);
        assert_int_equal(r2.verdict, TW_SCENARIO_PASS);
        hashes[s] = r1.hash;
        events += r1.stats.events;
        faults += r1.stats.faults;
        resets += r1.stats.resets;
        timeouts += r1.stats.timeouts;
        tw_scenario_result_fini(&r1);
        tw_scenario_result_fini(&r2);
    }
    tw_scenario_free(sc);
    qsort(hashes, SEEDS, sizeof hashes[0], cmp_u64);
    int distinct = 1;
    for (int i = 1; i < SEEDS; i++)
        distinct += hashes[i] != hashes[i - 1];
    assert_true(distinct >= SEEDS - 2);
    /* the runs did exercise the faults */
    assert_true(faults > SEEDS);
    assert_true(resets > 0 && timeouts > 0);
    print_message("%d seeds x2: %llu events, %llu faults, %llu resets, %llu "
                  "timeouts, %d distinct hashes\n",
                  SEEDS, (unsigned long long)events, (unsigned long long)faults,
                  (unsigned long long)resets, (unsigned long long)timeouts,
                  distinct);
}

/* The trace text is a pure function of the seed as well. */
static void test_trace_text_replays(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    FILE *fa = open_memstream(&a, &alen), *fb = open_memstream(&b, &blen);
    tw_scenario *sc = load_demo();
    tw_scenario_result ra, rb;
    run_demo(sc, 77, fa, &ra);
    run_demo(sc, 77, fb, &rb);
    fclose(fa);
    fclose(fb);
    assert_true(ra.hash == rb.hash);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_non_null(strstr(a, "SEED=77"));
    assert_non_null(strstr(a, " deliver "));
    tw_scenario_result_fini(&ra);
    tw_scenario_result_fini(&rb);
    tw_scenario_free(sc);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_200_seeds_twice),
        TW_TEST(test_trace_text_replays),
    };
    return cmocka_run_group_tests_name("sim_determinism", tests, NULL, NULL);
}
