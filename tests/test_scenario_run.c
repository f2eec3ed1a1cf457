/* tests/test_scenario_run.c - running scenarios: every file in
 * scenarios/ passes for 100 seeds (TWIN_SCENARIO_SEEDS overrides) and
 * each of its faults takes effect in some seed; a seed replays to the
 * same trace hash, and a non-deterministic app is caught; a
 * swarm seed's dumped schedule replays the swarm run exactly; the three
 * verdicts come out of the failures they name; an inert fault counts 0;
 * timeline windows open and close on time; swarm draws stay within the
 * file's limits. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scenario/internal.h"
#include "tests/harness.h"
#include "twin/app.h"
#include "twin/scenario.h"
#include "twin/twin.h"

/* 100 seeds of every file: about 3 s plain and 8 s under ASan+UBSan on
 * one core, so both passes run them all (TWIN_SCENARIO_SEEDS overrides:
 * more for a soak, fewer on a slow machine). */
static uint64_t seeds_per_file(void)
{
    const char *s = getenv("TWIN_SCENARIO_SEEDS");
    if (s && atoi(s) > 0)
        return (uint64_t)atoi(s);
    return 100;
}

static tw_scenario *load(const char *path)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_load(path, &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    return sc;
}

static tw_scenario *parse(const char *text)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("t.yaml", text, strlen(text), &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    return sc;
}

static tw_scenario_result run(const tw_scenario *sc, uint64_t seed, bool swarm)
{
    tw_scenario_result r;
    tw_scenario_run_opts o = {.swarm = swarm};
    assert_int_equal(tw_scenario_run(sc, seed, &o, &r), 0);
    return r;
}

/* ---- every file, many seeds ---- */

static void sweep_file(const char *path, uint64_t seeds)
{
    tw_scenario *sc = load(path);
    size_t nf = tw_scenario_fault_count(sc);
    uint64_t *hits = calloc(nf + 1, sizeof *hits);
    assert_non_null(hits);
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        tw_scenario_result r = run(sc, seed, false);
        if (r.verdict != TW_SCENARIO_PASS)
            fail_msg("%s seed %llu: %s: %s (replay: twin sim %s --seed %llu --trace)",
                     path, (unsigned long long)seed,
                     tw_scenario_verdict_name(r.verdict), r.message, path,
                     (unsigned long long)seed);
        assert_int_equal(r.neffects, nf);
        for (size_t i = 0; i < nf; i++)
            hits[i] += r.effects[i].count > 0;
        tw_scenario_result_fini(&r);
    }
    for (size_t i = 0; i < nf; i++)
        if (!hits[i])
            fail_msg("%s: fault #%zu never took effect in %llu seeds", path, i,
                     (unsigned long long)seeds);
    free(hits);
    tw_scenario_free(sc);
}

/* The trace of one run, as text or as JSON lines. */
static char *traced(const tw_scenario *sc, uint64_t seed, bool swarm, bool json)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    tw_scenario_run_opts o = {.swarm = swarm, .trace = f, .trace_json = json};
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(sc, seed, &o, &r), 0);
    tw_scenario_result_fini(&r);
    fclose(f);
    return text;
}

/* Every record a shipped scenario makes is described (no bare a= b=),
 * and its JSON line is one object. */
static void test_every_record_is_labelled(void **state)
{
    (void)state;
    DIR *d = opendir("scenarios");
    assert_non_null(d);
    size_t records = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[300];
        snprintf(path, sizeof path, "scenarios/%s", e->d_name);
        tw_scenario *sc = load(path);
        for (int swarm = 0; swarm <= (int)tw_scenario_has_swarm(sc); swarm++) {
            char *text = traced(sc, 2, swarm, false), *json = traced(sc, 2, swarm, true);
            size_t lines = 0, objects = 0;
            for (char *s, *l = strtok_r(text, "\n", &s); l; l = strtok_r(NULL, "\n", &s)) {
                double t;
                if (sscanf(l, " %lf", &t) != 1 || strchr(l, '|'))
                    continue; /* a summary or an app's line */
                lines++;
                if (strstr(l, " a=") || strstr(l, " b="))
                    fail_msg("%s: an undescribed record: %s", path, l);
                if (strstr(l, " err=E") == NULL && strstr(l, " err=") && !strstr(l, " err=0"))
                    fail_msg("%s: an error not by name: %s", path, l);
            }
            for (char *s, *l = strtok_r(json, "\n", &s); l; l = strtok_r(NULL, "\n", &s)) {
                if (l[0] != '{' || strstr(l, "\"what\": \"app\", \"line\": "))
                    continue; /* a summary or an app's line */
                objects++;
                size_t ln = strlen(l);
                assert_true(ln > 2 && l[ln - 1] == '}');
                assert_non_null(strstr(l, "\"what\": \""));
            }
            assert_int_equal(lines, objects);
            records += lines;
            free(text);
            free(json);
        }
        tw_scenario_free(sc);
    }
    closedir(d);
    assert_true(records > 1000);
}

static void test_every_scenario_passes(void **state)
{
    (void)state;
    DIR *d = opendir("scenarios");
    assert_non_null(d);
    int files = 0;
    uint64_t seeds = seeds_per_file();
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[300];
        snprintf(path, sizeof path, "scenarios/%s", e->d_name);
        sweep_file(path, seeds);
        files++;
    }
    closedir(d);
    assert_true(files >= 8);
    print_message("%d scenario files x %llu seeds: all pass\n", files,
                  (unsigned long long)seeds);
}

/* ---- replay ---- */

static void test_seed_replays_its_hash(void **state)
{
    (void)state;
    tw_scenario *sc = load("scenarios/partition_heal.yaml");
    tw_scenario_result a = run(sc, 42, false), b = run(sc, 42, false),
                       c = run(sc, 43, false);
    assert_int_equal(a.hash, b.hash);
    assert_int_equal(a.end_ns, b.end_ns);
    assert_int_not_equal(a.hash, c.hash);
    tw_scenario_result_fini(&a);
    tw_scenario_result_fini(&b);
    tw_scenario_result_fini(&c);
    FILE *report = tmpfile();
    assert_int_equal(tw_scenario_check_determinism(sc, 7, false, report), 0);
    fclose(report);
    tw_scenario_free(sc);
}

/* The schedule --swarm draws for a seed, written out, replays that very
 * run without --swarm: same faults, same order, same hash. */
static void test_swarm_schedule_replays(void **state)
{
    (void)state;
    tw_scenario *sc = load("scenarios/swarm_echo.yaml");
    int differ = 0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        tw_scenario_result a = run(sc, seed, true);
        tw_scenario *m = tw_scenario_materialize(sc, seed);
        assert_non_null(m);
        assert_false(tw_scenario_has_swarm(m));
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_int_equal(tw_scenario_write(m, f, NULL), 0);
        fclose(f);
        tw_scenario *again = parse(text);
        tw_scenario_result b = run(again, seed, false);
        assert_int_equal(a.hash, b.hash);
        assert_int_equal(a.neffects, b.neffects);
        tw_scenario_result c = run(sc, seed, false); /* no swarm: calm */
        differ += c.hash != a.hash;
        tw_scenario_result_fini(&a);
        tw_scenario_result_fini(&b);
        tw_scenario_result_fini(&c);
        tw_scenario_free(again);
        tw_scenario_free(m);
        free(text);
    }
    assert_true(differ > 0);
    tw_scenario_free(sc);
}

/* ---- verdicts ---- */

static const char two_nodes[] =
    "duration: 1s\n"
    "nodes:\n"
    "  - {name: server, addr: 10.0.0.1, app: echo-server,\n"
    "     args: [--host, \"\", --port, \"7\", --keep-open, --quiet]}\n"
    "  - {name: client, addr: 10.0.0.2, app: echo-load,\n"
    "     args: [--connect, \"server:7\", --messages, \"%s\", --quiet %s]}\n"
    "  - {name: idle, addr: 10.0.0.3}\n"
    "network: {latency: 5ms}\n"
    "%s";

static tw_scenario_result run_text(const char *messages, const char *extra_args,
                                   const char *tail)
{
    char text[2048];
    snprintf(text, sizeof text, two_nodes, messages, extra_args, tail);
    tw_scenario *sc = parse(text);
    tw_scenario_result r = run(sc, 1, false);
    tw_scenario_free(sc);
    return r;
}

static void test_verdicts(void **state)
{
    (void)state;
    tw_scenario_result r = run_text("20", "", "quiet: {within: 5s}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_true(r.converged_ns >= TW_SEC(1));
    assert_int_equal(r.failed_ns, -1);
    tw_scenario_result_fini(&r);

    /* Liveness: 2000 round trips of 10 ms cannot fit in 1 s + 2 s. */
    r = run_text("2000", "", "quiet: {within: 2s}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_LIVENESS);
    assert_non_null(strstr(r.message, "client (echo-load) had not finished 2s after"));
    tw_scenario_result_fini(&r);

    /* Correctness: the client gives up at the first reset (exit 1). */
    r = run_text("50", ", --no-reconnect",
                 "timeline:\n  - {at: 200ms, reset: client}\nquiet: {within: 2s}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    assert_non_null(strstr(r.message, "exited with status 1, expected 0"));
    assert_int_equal(r.effects[0].count, 1); /* one connection reset */
    tw_scenario_result_fini(&r);

    /* ... unless the file expects exactly that. */
    r = run_text("50", ", --no-reconnect",
                 "timeline:\n  - {at: 200ms, reset: client}\nquiet: {within: 2s}\n"
                 "expect: {exit: {client: 1}}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    tw_scenario_result_fini(&r);
}

/* An app whose invariant breaks at its third check: a correctness
 * failure, reported with the node, the app and its sentence. */
static int checks;
static int liar_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)l, (void)argc, (void)argv, (void)out;
    *st = &checks;
    return 0;
}
static int liar_result(void *st) { (void)st; return 0; }
static void liar_free(void *st) { (void)st; }
static const char *liar_invariant(void *st)
{
    (void)st;
    return ++checks >= 3 ? "two plus two is five" : NULL;
}
static const tw_app liar = {
    .name = "test-liar", .summary = "", .usage = "", .start = liar_start,
    .result = liar_result, .free = liar_free, .invariant = liar_invariant,
};

static void test_invariant_failure_stops_the_run(void **state)
{
    (void)state;
    tw_scenario *sc = parse("duration: 10s\nnodes:\n  - {name: n, addr: 10.0.0.1, "
                            "app: test-liar}\n");
    checks = 0;
    assert_int_equal(tw_scenario_node_count(sc), 1);
    assert_string_equal(tw_scenario_node_name(sc, 0), "n");
    assert_null(tw_scenario_node_name(sc, 1));
    tw_scenario_result r = run(sc, 1, false);
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    assert_string_equal(r.message, "at 300ms: n (test-liar): two plus two is five");
    assert_int_equal(r.end_ns, TW_MS(300)); /* it stopped there */
    assert_int_equal(r.failed_ns, TW_MS(300));
    tw_scenario_result_fini(&r);
    tw_scenario_free(sc);
}

/* An app that remembers across runs (a static variable: what a seed
 * cannot replay) connects a little later each time it starts. */
static int drifter_starts;
static tw_protocol *drifter_factory(void *arg)
{
    (void)arg;
    return NULL; /* the attempt is what shows in the trace */
}
static void drifter_go(void *loop)
{
    tw_create_connection(loop, drifter_factory, NULL, "server", 7, NULL);
}
static int drifter_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)argc, (void)argv, (void)out;
    tw_call_later(l, TW_MS(10) * ++drifter_starts, drifter_go, l);
    *st = &drifter_starts;
    return 0;
}
static const tw_app drifter = {
    .name = "test-drifter", .summary = "", .usage = "", .start = drifter_start,
    .result = liar_result, .free = liar_free,
};

static void test_nondeterminism_is_shown(void **state)
{
    (void)state;
    tw_scenario *sc = parse("duration: 100ms\nnodes:\n  - {name: server, addr: 10.0.0.1, "
                            "app: echo-server, args: [--host, \"\", --port, \"7\", "
                            "--quiet]}\n  - {name: n, addr: 10.0.0.2, app: test-drifter}\n");
    char *text = NULL;
    size_t len = 0;
    FILE *report = open_memstream(&text, &len);
    assert_int_equal(tw_scenario_check_determinism(sc, 1, false, report), -EPROTO);
    fclose(report);
    assert_non_null(strstr(text, "seed 1: the two runs part at trace line"));
    assert_non_null(strstr(text, ">> run 1 line"));
    assert_non_null(strstr(text, ">> run 2 line"));
    assert_non_null(strstr(text, " n t0 connect"));
    free(text);
    tw_scenario_free(sc);
}

/* ---- proof of effect ---- */

/* The datagram faults in a timeline, through the one scheduler: a drop
 * window on the client's path and two refused sends, each counted; the
 * client's resends carry it through. */
static void test_datagram_faults_take_effect(void **state)
{
    (void)state;
    tw_scenario *sc = parse(
        "duration: 2s\n"
        "nodes:\n"
        "  - {name: server, addr: 10.0.0.1, app: udp-echo-server,\n"
        "     args: [--host, 10.0.0.1, --port, \"9\", --quiet]}\n"
        "  - {name: client, addr: 10.0.0.2, app: udp-load,\n"
        "     args: [--connect, \"10.0.0.1:9\", --datagrams, \"300\", --window, \"2\",\n"
        "            --timeout, 50ms, --quiet]}\n"
        "network: {latency: 1ms}\n"
        "timeline:\n"
        "  - {at: 20ms, dgram: [client, server], for: 100ms, oneway: true, drop: 50%}\n"
        "  - {at: 30ms, enobufs: client, count: 2}\n"
        "quiet: {within: 10s, until: [client]}\n");
    tw_scenario_result r = run(sc, 1, false);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_int_equal(r.neffects, 2);
    assert_string_equal(r.effects[0].kind, "dgram");
    assert_string_equal(r.effects[0].unit, "datagrams impaired");
    assert_true(r.effects[0].count > 0);
    assert_string_equal(r.effects[1].kind, "enobufs");
    assert_int_equal(r.effects[1].count, 2);
    tw_scenario_result_fini(&r);
    tw_scenario_free(sc);
}

static void test_inert_fault_counts_zero(void **state)
{
    (void)state;
    tw_scenario_result r = run_text(
        "100", "",
        "timeline:\n  - {at: 100ms, partition: [idle, server], for: 500ms}\n"
        "  - {at: 100ms, partition: [client, server], for: 200ms}\n"
        "  - {at: 200ms, crash: idle, for: 100ms}\n"
        "  - {at: 300ms, clog: [client, server], for: 100ms}\n"
        "quiet: {within: 5s}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_int_equal(r.neffects, 4);
    assert_int_equal(r.effects[0].count, 0); /* nobody talks to idle */
    assert_true(r.effects[1].count > 0);     /* the client's traffic was cut */
    assert_int_equal(r.effects[2].count, 0); /* idle had nothing open */
    assert_true(r.effects[3].count > 0);     /* packets held by the clog */
    assert_string_equal(r.effects[1].unit, "packets cut");
    /* when, for how long, on which nodes (their order in the file) */
    assert_int_equal(r.effects[0].at_ns, TW_MS(100));
    assert_int_equal(r.effects[0].for_ns, TW_MS(500));
    assert_true(r.effects[0].pair);
    assert_int_equal(r.effects[0].a, 2); /* idle */
    assert_int_equal(r.effects[0].b, 0); /* server */
    assert_int_equal(r.effects[2].at_ns, TW_MS(200));
    assert_false(r.effects[2].pair);     /* a crash has one node */
    assert_int_equal(r.effects[2].a, 2);
    assert_int_equal(r.effects[3].for_ns, TW_MS(100));
    assert_int_equal(r.effects[3].a, 1); /* client */
    tw_scenario_result_fini(&r);
}

/* ---- fault scheduling ---- */

/* The trace's fault records of a run of text (seed 1), one
 * "SECONDS NODE NAME" per fault, joined by "; ". */
static tw_scenario_result run_faults(const char *messages, const char *tail,
                                     char *out, size_t len)
{
    char text[2048];
    snprintf(text, sizeof text, two_nodes, messages, "", tail);
    tw_scenario *sc = parse(text);
    char *trace = NULL;
    size_t tlen = 0;
    FILE *f = open_memstream(&trace, &tlen);
    assert_non_null(f);
    tw_scenario_result r;
    tw_scenario_run_opts o = {.trace = f};
    assert_int_equal(tw_scenario_run(sc, 1, &o, &r), 0);
    fclose(f);
    static const char *const names[] = {"partition", "heal", "crash_fault",
                                        "restart_fault", "reset_all"};
    out[0] = 0;
    for (char *line = strtok(trace, "\n"); line; line = strtok(NULL, "\n")) {
        char at[32], node[32], tid[32], what[32];
        if (sscanf(line, "%31s %31s %31s %31s", at, node, tid, what) != 4)
            continue;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(what, names[i]) == 0) {
                size_t n = strlen(out);
                snprintf(out + n, len - n, "%s%s %s %s", n ? "; " : "", at, node,
                         what);
            }
    }
    free(trace);
    tw_scenario_free(sc);
    return r;
}

/* A timeline entry applies at its "at" and, with "for", ends at at + for:
 * a partition heals, a crashed node restarts. A window that starts on a
 * path the instant another ends there follows it (file order): it is in
 * force, and cuts traffic. */
static void test_fault_windows_open_and_close_on_time(void **state)
{
    (void)state;
    char got[1024];
    tw_scenario_result r = run_faults(
        "100",
        "timeline:\n  - {at: 300ms, partition: [client, server], for: 200ms}\n"
        "  - {at: 100ms, crash: idle, for: 250ms}\n"
        "quiet: {within: 5s}\n",
        got, sizeof got);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_string_equal(got, "0.100000000 idle crash_fault; "
                             "0.300000000 client partition; "
                             "0.350000000 idle restart_fault; "
                             "0.500000000 client heal");
    tw_scenario_result_fini(&r);

    r = run_faults("100",
                   "timeline:\n  - {at: 100ms, partition: [client, server], for: 100ms}\n"
                   "  - {at: 200ms, partition: [client, server], for: 200ms}\n"
                   "quiet: {within: 5s}\n",
                   got, sizeof got);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_string_equal(got, "0.100000000 client partition; "
                             "0.200000000 client heal; "
                             "0.200000000 client partition; "
                             "0.400000000 client heal");
    assert_true(r.effects[1].count > 0);
    tw_scenario_result_fini(&r);
}

/* An entry at exactly the end of the fault phase is applied there. */
static void test_fault_at_the_end_of_the_fault_phase(void **state)
{
    (void)state;
    char got[1024];
    tw_scenario_result r = run_faults(
        "200", "timeline:\n  - {at: 1s, reset: client}\nquiet: {within: 5s}\n",
        got, sizeof got);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    assert_string_equal(got, "1.000000000 client reset_all");
    assert_int_equal(r.effects[0].count, 1); /* the client's connection */
    tw_scenario_result_fini(&r);
}

/* Swarm draws stay inside the file's limits: times in the window (on the
 * millisecond grid, so the first is the first whole millisecond in it),
 * durations in their range, and a pair fault names two different nodes. */
static void test_swarm_draws_within_limits(void **state)
{
    (void)state;
    tw_scenario *sc = parse(
        "duration: 10ms\n"
        "nodes:\n  - {name: a, addr: 10.0.0.1}\n  - {name: b, addr: 10.0.0.2}\n"
        "  - {name: c, addr: 10.0.0.3}\n"
        "swarm:\n  faults: [partition, clog, crash]\n  window: [1500us, 5ms]\n"
        "  count: 40\n  duration: [1ms, 3ms]\n");
    int first = 0, pairs = 0, against_all = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tw_scenario *m = tw_scenario_materialize(sc, seed);
        assert_non_null(m);
        for (int i = 0; i < m->nfaults; i++) {
            const sc_fault *e = &m->faults[i];
            const tw_sim_fault *f = &e->f;
            assert_true(e->drawn);
            assert_in_range(e->at, 1500 * TW_NS_PER_US, TW_MS(5));
            assert_int_equal(e->at % TW_MS(1), 0);
            first += e->at == TW_MS(2);
            assert_in_range(f->duration_ns, TW_MS(1), TW_MS(3));
            if (f->kind == TW_SIM_FAULT_CRASH) {
                assert_int_equal(f->b, -1);
                continue;
            }
            if (f->b < 0) {
                against_all++;
                continue;
            }
            pairs++;
            assert_true(f->b != f->a);
        }
        tw_scenario_free(m);
    }
    assert_true(first > 0);
    assert_true(pairs > 100);
    assert_true(against_all > 0);
    tw_scenario_free(sc);
}

/* ---- the caller's stop ---- */

/* Says stop on its limit-th question (0: never), counting them all. */
typedef struct stopper {
    unsigned asked, limit;
} stopper;

static bool stop_at(void *arg)
{
    stopper *s = arg;
    return ++s->asked == s->limit;
}

/* A stop that never stops is asked often (not only at check points) and
 * changes nothing: the same verdict, end and trace hash. One that stops
 * ends the run there with the verdict timeout; a run of the endless file
 * (a year of faults checked every millisecond) is stopped too. */
static void test_stop_callback(void **state)
{
    (void)state;
    /* One check point in the fault phase, thousands of events. */
    tw_scenario *sc = parse(
        "duration: 2s\ncheck_every: 2s\n"
        "nodes:\n"
        "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--host, \"\", "
        "--port, \"7\", --keep-open, --quiet]}\n"
        "  - {name: client, addr: 10.0.0.2, app: echo-load, args: [--connect, "
        "\"server:7\", --messages, \"30000\", --quiet]}\n"
        "network: {latency: 100us}\n"
        "quiet: {within: 30s}\n");
    tw_scenario_result plain = run(sc, 5, false), asked, stopped;
    assert_int_equal(plain.verdict, TW_SCENARIO_PASS);
    stopper never = {0};
    tw_scenario_run_opts o = {.stop = stop_at, .stop_arg = &never};
    assert_int_equal(tw_scenario_run(sc, 5, &o, &asked), 0);
    assert_int_equal(asked.verdict, TW_SCENARIO_PASS);
    assert_int_equal(asked.hash, plain.hash);
    assert_int_equal(asked.end_ns, plain.end_ns);
    assert_int_equal(asked.stats.events, plain.stats.events);
    /* every TW_SCENARIO_STOP_STEPS steps at least, a step being an event
     * or a batch of callbacks */
    if (never.asked < plain.stats.events / TW_SCENARIO_STOP_STEPS / 4 || never.asked < 8)
        fail_msg("asked %u times for %llu events", never.asked,
                 (unsigned long long)plain.stats.events);
    stopper third = {.limit = 3};
    o.stop_arg = &third;
    assert_int_equal(tw_scenario_run(sc, 5, &o, &stopped), 0);
    assert_int_equal(third.asked, 3);
    assert_int_equal(stopped.verdict, TW_SCENARIO_TIMEOUT);
    assert_non_null(strstr(stopped.message, "stopped by the caller before the end"));
    assert_true(stopped.end_ns < plain.end_ns);
    assert_string_equal(tw_scenario_verdict_name(stopped.verdict), "timeout");
    assert_int_equal(tw_scenario_verdict_worst(TW_SCENARIO_TIMEOUT, TW_SCENARIO_PASS),
                     TW_SCENARIO_TIMEOUT);
    assert_int_equal(tw_scenario_verdict_worst(TW_SCENARIO_TIMEOUT, TW_SCENARIO_LIVENESS),
                     TW_SCENARIO_LIVENESS);
    tw_scenario_result_fini(&plain);
    tw_scenario_result_fini(&asked);
    tw_scenario_result_fini(&stopped);
    tw_scenario_free(sc);

    sc = load("tests/data/endless.yaml");
    stopper soon = {.limit = 200};
    o.stop_arg = &soon;
    assert_int_equal(tw_scenario_run(sc, 1, &o, &stopped), 0);
    assert_int_equal(stopped.verdict, TW_SCENARIO_TIMEOUT);
    assert_true(stopped.end_ns < TW_SEC(3600));
    tw_scenario_result_fini(&stopped);
    /* shrink: a first run stopped is nothing to shrink */
    tw_scenario *small = NULL;
    soon.asked = 0;
    assert_int_equal(tw_scenario_shrink_bounded(sc, 1, false, 10, NULL, NULL, stop_at,
                                                &soon, &small, NULL), -ETIMEDOUT);
    assert_null(small);
    tw_scenario_free(sc);
}

/* Each test starts clean, with this file's two apps registered. */
static int setup(void **state)
{
    tw_test_setup(state);
    if (tw_app_register(&liar) != 0 || tw_app_register(&drifter) != 0)
        return -1;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_scenario_passes, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_every_record_is_labelled, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_seed_replays_its_hash, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_swarm_schedule_replays, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_verdicts, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_invariant_failure_stops_the_run, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_nondeterminism_is_shown, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_inert_fault_counts_zero, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_datagram_faults_take_effect, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_fault_windows_open_and_close_on_time, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_fault_at_the_end_of_the_fault_phase, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_swarm_draws_within_limits, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_stop_callback, setup, tw_test_teardown),
    };
    return cmocka_run_group_tests_name("scenario_run", tests, NULL, NULL);
}
