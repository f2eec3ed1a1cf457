/* tests/test_scenario_network.c - a scenario's `network:` section as
 * people get it wrong and right: each bad value is "file:line:column:
 * message" pointing at the value (or at the mapping that lacks a key),
 * never a crash; good values mean what the README says, as the
 * scenario writes them back. */
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

/* Five lines before the section: `network:` is line 6 (or 5 plus the
 * section's own lines). */
static const char head[] =
    "duration: 2s\n"
    "nodes:\n"
    "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--port, \"7\"]}\n"
    "  - {name: client, addr: 10.0.0.2, app: echo-load, args: [--connect, \"server:7\"]}\n"
    "network:\n";

static int parse(const char *section, tw_scenario **sc, char *err, size_t errlen)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "%s%s", head, section);
    assert_true(n > 0 && (size_t)n < sizeof text);
    return tw_scenario_parse("t.yaml", text, (size_t)n, sc, err, errlen);
}

static void test_bad_network_values_are_placed(void **state)
{
    (void)state;
    static const struct {
        const char *section; /* after "network:\n" (line 5) */
        int line, col;       /* where the error points */
        const char *message;
    } bad[] = {
        {"  latency: {min: 1ms}\n", 6, 12,
         "latency as a mapping needs 'dist' (constant, uniform, normal, exponential, "
         "pareto, bimodal)"},
        {"  latency: {dist: lognormal}\n", 6, 19,
         "unknown latency distribution 'lognormal' (constant, uniform"},
        {"  latency: {dist: uniform, min: -1ms}\n", 6, 33, "min must not be negative"},
        {"  latency: {dist: uniform, min: 3ms, max: 1ms}\n", 6, 12,
         "a uniform latency needs max >= min"},
        {"  latency: {dist: pareto, alpha: 2}\n", 6, 12,
         "a pareto latency needs min > 0 (its scale)"},
        {"  latency: {dist: pareto, min: 1ms, alpha: x}\n", 6, 44,
         "alpha must be a number from 0 to 1000000"},
        {"  jitter: 1ms\n", 6, 11,
         "jitter goes with a single latency value (latency: 2ms, jitter: 500us)"},
        {"  latency: -2ms\n", 6, 12, "latency and jitter must not be negative"},
        {"  latency: 2ms\n  jitter: -1ms\n", 7, 11, "latency and jitter must not be negative"},
        {"  gilbert_elliott: {r: 10%}\n", 6, 20,
         "gilbert_elliott needs p (good -> bad per packet)"},
        {"  gilbert_elliott: {p: 0}\n", 6, 24, "p must be above 0"},
        {"  loss_correlation: 20%\n", 6, 21, "loss_correlation goes with loss"},
        {"  loss: 1%\n  loss_correlation: 20%\n  gilbert_elliott: {p: 1%}\n", 8, 20,
         "gilbert_elliott and loss_correlation are two loss models: pick one"},
        {"  loss: 100%\n", 6, 9, "loss must be below 100% (for a dead link use a partition)"},
        {"  loss: 1%\n  loss_correlation: 100%\n", 7, 21,
         "loss_correlation must be below 100%"},
        {"  reorder_delay: 0s\n", 6, 18, "reorder_delay must be longer than 0"},
        {"  rcvbuf: 0\n", 6, 11, "rcvbuf must be from 1 byte to 4GiB"},
        {"  bandwidth: 0\n", 6, 14, "bandwidth must be above 0 (for none, use a partition)"},
        {"  rto: 0s\n", 6, 8, "rto must be longer than 0"},
        {"  stall_timeout: 0s\n", 6, 18, "stall_timeout must be longer than 0"},
        {"  segment_max: 8GiB\n", 6, 16, "segment_max must be from 1 byte to 4GiB"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[600], where[64];
        tw_scenario *sc = (tw_scenario *)1;
        int rc = parse(bad[i].section, &sc, err, sizeof err);
        snprintf(where, sizeof where, "t.yaml:%d:%d: ", bad[i].line, bad[i].col);
        if (rc != -EINVAL || sc || strncmp(err, where, strlen(where)) != 0 ||
            !strstr(err, bad[i].message))
            fail_msg("network:\n%swant '%s%s', got rc %d: '%s'", bad[i].section, where,
                     bad[i].message, rc, rc ? err : "");
    }
}

/* The section as the scenario writes it back: one line, "network: {...}". */
static void written_network(const char *section, char *out, size_t len)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (parse(section, &sc, err, sizeof err) != 0)
        fail_msg("network:\n%s: %s", section, err);
    char *text = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&text, &tlen);
    assert_non_null(f);
    assert_int_equal(tw_scenario_write(sc, f, NULL), 0);
    fclose(f);
    const char *n = strstr(text, "\nnetwork: ");
    assert_non_null(n);
    snprintf(out, len, "%.*s", (int)strcspn(n + 1, "\n"), n + 1);
    free(text);
    tw_scenario_free(sc);
}

static void test_good_network_values_mean_what_they_say(void **state)
{
    (void)state;
    static const struct {
        const char *section, *written;
    } good[] = {
        /* a latency and its jitter: uniform around it */
        {"  latency: 5ms\n  jitter: 2ms\n",
         "network: {latency: {dist: uniform, min: 3ms, max: 7ms, mean: 5ms}}"},
        /* a jitter above the latency: never below zero, so the mean
         * (what the world's summary says) is above the latency */
        {"  latency: 1ms\n  jitter: 3ms\n",
         "network: {latency: {dist: uniform, max: 4ms, mean: 2ms}}"},
        {"  loss: 2%\n  loss_correlation: 50%\n", "network: {loss: 0.02, loss_correlation: 0.5}"},
        {"  gilbert_elliott: {p: 1%, r: 20%, loss_bad: 80%}\n",
         "network: {loss: 0, gilbert_elliott: {p: 0.01, r: 0.2, loss_bad: 0.8}}"},
        {"  latency: {dist: pareto, min: 1ms, alpha: 1.5}\n  rcvbuf: 64KiB\n  rto: 300ms\n"
         "  stall_timeout: 5s\n  segment_max: 1400\n  chunk_split: 0\n",
         "network: {latency: {dist: pareto, min: 1ms, alpha: 1.5}, rcvbuf: 65536, rto: 300ms, "
         "stall_timeout: 5s, chunk_split: 0, segment_max: 1400}"},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char got[512];
        written_network(good[i].section, got, sizeof got);
        if (strcmp(got, good[i].written) != 0)
            fail_msg("network:\n%swant '%s'\ngot  '%s'", good[i].section, good[i].written, got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_bad_network_values_are_placed),
        TW_TEST(test_good_network_values_mean_what_they_say),
    };
    return cmocka_run_group_tests_name("scenario network section", tests, NULL, NULL);
}
