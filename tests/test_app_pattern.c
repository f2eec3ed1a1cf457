/* tests/test_app_pattern.c - the checking apps' streams made and checked a
 * word at a time (apps/pattern.h) are the streams they always sent.
 *
 * Map: the byte-at-a-time definitions (bulk-send's stream, echo-load's
 * messages); fill against them at every offset and length around word
 * edges; the first wrong byte found wherever it is.
 */
#include <stdint.h>
#include <string.h>

#include "apps/pattern.h"
#include "tests/harness.h"
#include "twin/mix.h"

/* ---- the definitions, a byte at a time ---- */

/* bulk-send: byte k of every stream. */
static uint8_t bulk_byte(uint64_t k)
{
    uint64_t z = (k / 8) * UINT64_C(0x9e3779b97f4a7c15) + 0x5eed;
    z = (z ^ (z >> 31)) * UINT64_C(0xbf58476d1ce4e5b9);
    z ^= z >> 29;
    return (uint8_t)(z >> (8 * (k % 8)));
}

static uint64_t bulk_word(const void *ctx, uint64_t index)
{
    (void)ctx;
    uint64_t z = index * UINT64_C(0x9e3779b97f4a7c15) + 0x5eed;
    z = (z ^ (z >> 31)) * UINT64_C(0xbf58476d1ce4e5b9);
    return z ^ (z >> 29);
}

/* echo-load: byte off of message i under seed. */
static uint8_t echo_byte(uint64_t seed, uint64_t i, uint64_t off)
{
    uint64_t w = tw_mix64(tw_mix64(seed ^ (i << 20)) + off / 8);
    return (uint8_t)(w >> (8 * (off % 8)));
}

static uint64_t echo_word(const void *base, uint64_t index)
{
    return tw_mix64(*(const uint64_t *)base + index);
}

/* ---- fill ---- */

static void test_fill_is_the_byte_definition(void **state)
{
    (void)state;
    uint8_t got[80];
    uint64_t base = tw_mix64(7 ^ ((uint64_t)3 << 20));
    for (uint64_t off = 0; off < 24; off++) {
        for (size_t n = 0; n <= 70; n++) {
            memset(got, 0xee, sizeof got);
            apps_pattern_fill(got, off + 8000, n, bulk_word, NULL);
            for (size_t k = 0; k < n; k++)
                if (got[k] != bulk_byte(off + 8000 + k))
                    fail_msg("bulk off %llu n %zu byte %zu: 0x%02x, want 0x%02x",
                             (unsigned long long)off, n, k, got[k],
                             bulk_byte(off + 8000 + k));
            assert_int_equal(got[n], 0xee); /* nothing past n */
            apps_pattern_fill(got, off, n, echo_word, &base);
            for (size_t k = 0; k < n; k++)
                if (got[k] != echo_byte(7, 3, off + k))
                    fail_msg("echo off %llu n %zu byte %zu: 0x%02x, want 0x%02x",
                             (unsigned long long)off, n, k, got[k],
                             echo_byte(7, 3, off + k));
        }
    }
}

/* ---- mismatch ---- */

static void test_mismatch_finds_the_first_wrong_byte(void **state)
{
    (void)state;
    enum { N = 1500 }; /* over the checker's 512-byte steps */
    static uint8_t d[N];
    for (uint64_t off = 0; off < 9; off++) {
        apps_pattern_fill(d, off, N, bulk_word, NULL);
        assert_int_equal(apps_pattern_mismatch(d, off, N, bulk_word, NULL), N);
        for (size_t bad = 0; bad < N; bad += 37) {
            d[bad] ^= 0x01;
            if (bad + 5 < N)
                d[bad + 5] ^= 0x80; /* a later one too: the first is reported */
            assert_int_equal(apps_pattern_mismatch(d, off, N, bulk_word, NULL), bad);
            d[bad] ^= 0x01;
            if (bad + 5 < N)
                d[bad + 5] ^= 0x80;
        }
        assert_int_equal(apps_pattern_mismatch(d, off, 0, bulk_word, NULL), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_fill_is_the_byte_definition),
        TW_TEST(test_mismatch_finds_the_first_wrong_byte),
    };
    return cmocka_run_group_tests_name("app_pattern", tests, NULL, NULL);
}
