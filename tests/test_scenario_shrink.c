/* tests/test_scenario_shrink.c - shrinking a failure found under many
 * faults down to the one that matters, with a deliberately broken
 * protocol: a ping client that reconnects after every failure except a
 * reset (its bug). The scenario throws partitions, clogs, loss bursts,
 * clock jumps and one reset at it; shrink must end with fewer faults and
 * a shorter fault phase, and the file it writes must fail on its own. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/scenario.h"
#include "twin/twin.h"

/* ---- the broken protocol ---- */

typedef struct pinger pinger;

typedef struct pconn {
    tw_protocol base;
    pinger *app;
    tw_transport *t;
} pconn;

struct pinger {
    tw_loop *loop;
    pconn *c;
    tw_handle timer;
    int echoed;
    size_t bytes;
    bool waiting, connecting;
};

static void p_connect(pinger *a);

static void p_tick(void *arg)
{
    pinger *a = arg;
    a->timer = 0;
    if (a->c && a->c->t && !a->waiting) {
        tw_transport_write(a->c->t, "ping", 4);
        a->waiting = true;
    } else if (!a->c && !a->connecting) {
        p_connect(a);
    }
    if (a->echoed < 40)
        a->timer = tw_call_later(a->loop, TW_MS(50), p_tick, a);
}

static void pc_made(tw_protocol *p, tw_transport *t) { ((pconn *)p)->t = t; }

static void pc_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    pconn *c = (pconn *)p;
    (void)d;
    if (!c->app)
        return;
    /* Stream chunks are the simulator's choice: count bytes, not reads. */
    c->app->bytes += n;
    if (c->app->bytes % 4 == 0) {
        c->app->echoed = (int)(c->app->bytes / 4);
        c->app->waiting = false;
    }
}

static void pc_lost(tw_protocol *p, int err)
{
    pconn *c = (pconn *)p;
    if (!c->app)
        return;
    pinger *a = c->app;
    a->c = NULL;
    a->waiting = false;
    if (err == -ECONNRESET) { /* THE BUG: a reset stops the pinger for good */
        if (a->timer)
            tw_handle_cancel(a->loop, a->timer);
        a->timer = 0;
    }
}

static void pc_release(tw_protocol *p)
{
    pconn *c = (pconn *)p;
    if (c->app && c->app->c == c)
        c->app->c = NULL;
    free(c);
}

static const tw_protocol_ops pconn_ops = {
    .connection_made = pc_made, .data_received = pc_data,
    .connection_lost = pc_lost, .release = pc_release,
};

static tw_protocol *pc_factory(void *arg)
{
    pinger *a = arg;
    pconn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &pconn_ops;
    c->app = a;
    a->c = c;
    return &c->base;
}

static void pc_connected(void *arg, tw_transport *t, int err)
{
    pinger *a = arg;
    (void)t, (void)err;
    a->connecting = false; /* failed: the next tick tries again */
}

static void p_connect(pinger *a)
{
    a->connecting = tw_create_connection(a->loop, pc_factory, a, "server", 7,
                                         pc_connected) == 0;
}

static int p_start(tw_loop *loop, int argc, char **argv, FILE *out, void **st)
{
    (void)argc, (void)argv, (void)out;
    pinger *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    p_connect(a);
    a->timer = tw_call_later(loop, TW_MS(50), p_tick, a);
    *st = a;
    return 0;
}

static bool p_done(void *st) { return ((pinger *)st)->echoed >= 40; }
static int p_result(void *st) { return p_done(st) ? 0 : 1; }
static void p_discard(void *st) { free(st); }

static const tw_app pinger_app = {
    .name = "test-pinger", .summary = "pings; gives up after a reset (a bug)",
    .usage = "", .start = p_start, .result = p_result, .free = p_discard,
    .done = p_done, .discard = p_discard,
};

/* ---- the test ---- */

static const char scenario[] =
    "duration: 6s\n"
    "nodes:\n"
    "  - {name: server, addr: 10.0.0.1, app: echo-server,\n"
    "     args: [--host, \"\", --port, \"7\", --keep-open, --quiet]}\n"
    "  - {name: client, addr: 10.0.0.2, app: test-pinger}\n"
    "  - {name: other, addr: 10.0.0.3}\n"
    "network: {latency: 2ms, stall_timeout: 500ms, connect_timeout: 200ms}\n"
    "timeline:\n"
    "  - {at: 300ms, clog: [client, server], for: 200ms}\n"
    "  - {at: 700ms, partition: [client, server], for: 300ms}\n"
    "  - {at: 1200ms, loss: [client, server], for: 400ms, probability: 20%}\n"
    "  - {at: 1500ms, clock: client, skew: 1s}\n"
    "  - {at: 1700ms, partition: other, for: 1s}\n"
    "  - {at: 2s, reset: [client, server]}\n"
    "  - {at: 2500ms, clog: [client, server], oneway: true, for: 100ms}\n"
    "  - {at: 3s, partition: [client, server], oneway: true, for: 200ms}\n"
    "  - {at: 4s, clock: server, drift_ppm: 1000}\n"
    "  - {at: 5s, emfile: server, count: 2}\n"
    "quiet: {within: 3s, until: [client]}\n";

static void test_shrink_keeps_the_failure(void **state)
{
    (void)state;
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("broken.yaml", scenario, strlen(scenario), &sc, err,
                          sizeof err) != 0)
        fail_msg("%s", err);
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(sc, 1, NULL, &r), 0);
    if (r.verdict != TW_SCENARIO_LIVENESS) {
        for (size_t i = 0; i < r.neffects; i++)
            print_error("%s: %llu\n", r.effects[i].what, (unsigned long long)r.effects[i].count);
        fail_msg("verdict %s: %s", tw_scenario_verdict_name(r.verdict), r.message);
    }
    char seed_failure[1024];
    snprintf(seed_failure, sizeof seed_failure, "%s", r.message);
    tw_scenario_result_fini(&r);

    tw_scenario *small = NULL;
    tw_scenario_shrink_stats st;
    char *log = NULL;
    size_t loglen = 0;
    FILE *lf = open_memstream(&log, &loglen);
    assert_int_equal(tw_scenario_shrink(sc, 1, false, 0, lf, &small, &st), 0);
    fclose(lf);
    /* The log names the failure being shrunk, so that a reader can tell
     * it from the one the smaller file shows. */
    if (!strstr(log, seed_failure))
        fail_msg("the shrink log does not name the failure '%s':\n%s", seed_failure, log);
    assert_int_equal(st.faults_before, 10);
    assert_true(st.faults_after < st.faults_before);
    assert_true(st.faults_after >= 1); /* without the reset it would pass */
    assert_true(st.duration_after < st.duration_before);
    assert_int_equal(st.verdict, TW_SCENARIO_LIVENESS);
    print_message("shrunk: %zu faults -> %zu, %lld ms -> %lld ms in %zu runs\n",
                  st.faults_before, st.faults_after,
                  (long long)(st.duration_before / TW_MS(1)),
                  (long long)(st.duration_after / TW_MS(1)), st.runs);

    /* The written file fails on its own, the same way. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(tw_scenario_write(small, f, "shrunk"), 0);
    fclose(f);
    tw_scenario *again = NULL;
    if (tw_scenario_parse("shrunk.yaml", text, len, &again, err, sizeof err) != 0)
        fail_msg("%s\n%s", err, text);
    assert_int_equal(tw_scenario_fault_count(again), st.faults_after);
    assert_int_equal(tw_scenario_run(again, 1, NULL, &r), 0);
    assert_int_equal(r.verdict, TW_SCENARIO_LIVENESS);
    /* A failure that reads otherwise is said to; the same one is not. */
    const char *a = strstr(seed_failure, ": "), *b = strstr(r.message, ": ");
    bool otherwise = strcmp(a ? a : seed_failure, b ? b : r.message) != 0;
    assert_int_equal(strstr(log, "fails otherwise than the seed did") != NULL, otherwise);
    if (otherwise)
        assert_non_null(strstr(log, b ? b + 2 : r.message));
    free(log);
    bool has_reset = false;
    for (size_t i = 0; i < r.neffects; i++)
        has_reset |= strcmp(r.effects[i].kind, "reset") == 0;
    assert_true(has_reset); /* the fault that triggers the bug stayed */
    tw_scenario_result_fini(&r);

    free(text);
    tw_scenario_free(again);
    tw_scenario_free(small);
    tw_scenario_free(sc);
}

static void test_shrink_of_a_passing_seed(void **state)
{
    (void)state;
    char err[600];
    tw_scenario *sc = NULL;
    assert_int_equal(tw_scenario_load("scenarios/oneway_partition.yaml", &sc, err,
                                      sizeof err), 0);
    tw_scenario *small = (tw_scenario *)1;
    assert_int_equal(tw_scenario_shrink(sc, 1, false, 0, NULL, &small, NULL), -EAGAIN);
    assert_null(small);
    tw_scenario_free(sc);
}

/* Each test starts clean, with this file's app registered. */
static int setup(void **state)
{
    tw_test_setup(state);
    return tw_app_register(&pinger_app) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shrink_keeps_the_failure, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_shrink_of_a_passing_seed, setup, tw_test_teardown),
    };
    return cmocka_run_group_tests_name("scenario_shrink", tests, NULL, NULL);
}
