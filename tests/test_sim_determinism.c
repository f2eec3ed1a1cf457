/* tests/test_sim_determinism.c - same seed, same trace. The demo world
 * (swarm faults, buggify, loss, crashes) runs 200 seeds twice each; every
 * pair must hash alike, different seeds must (almost always) differ, and
 * no echoed byte may ever be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/sim.h"

#define SEEDS 200

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
    for (int s = 0; s < SEEDS; s++) {
        uint64_t seed = 1000 + (uint64_t)s;
        uint64_t m1 = 0, m2 = 0;
        tw_sim_stats st;
        uint64_t h1 = tw_sim_demo(seed, TW_SEC(3), NULL, &m1, &st);
        uint64_t h2 = tw_sim_demo(seed, TW_SEC(3), NULL, &m2, NULL);
        if (h1 != h2)
            fail_msg("seed %llu: hash %016llx then %016llx (replay with "
                     "tests/prog/sim_hash -trace %llu)",
                     (unsigned long long)seed, (unsigned long long)h1,
                     (unsigned long long)h2, (unsigned long long)seed);
        assert_int_equal(m1, 0);
        assert_int_equal(m2, 0);
        hashes[s] = h1;
        events += st.events;
        faults += st.faults;
        resets += st.resets;
        timeouts += st.timeouts;
    }
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
    uint64_t ha = tw_sim_demo(77, TW_SEC(2), fa, NULL, NULL);
    uint64_t hb = tw_sim_demo(77, TW_SEC(2), fb, NULL, NULL);
    fclose(fa);
    fclose(fb);
    assert_true(ha == hb);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    assert_non_null(strstr(a, "SEED=77"));
    assert_non_null(strstr(a, " deliver "));
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
