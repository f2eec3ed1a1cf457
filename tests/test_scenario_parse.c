/* tests/test_scenario_parse.c - scenario files as people get them wrong:
 * every malformed case of the issue (YAML syntax, unknown key, wrong
 * type, unknown app, fault at a negative time, unknown node) and more get
 * "file:line:column: message", never a crash; good files load, and write
 * back to text that loads to the same scenario. Also the value parsers
 * (twin/parse.h) that files and apps share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "tests/harness.h"
#include <dirent.h>

#include "twin/parse.h"
#include "twin/scenario.h"
#include "twin/sim.h"

/* ---- helpers ---- */

static const char good_head[] =
    "duration: 2s\n"
    "nodes:\n"
    "  - name: server\n"
    "    addr: 10.0.0.1\n"
    "    app: echo-server\n"
    "    args: [--host, \"\", --port, \"7\", --keep-open, --quiet]\n"
    "  - name: client\n"
    "    addr: 10.0.0.2\n"
    "    app: echo-load\n"
    "    args: [--connect, \"server:7\", --messages, \"10\", --quiet]\n";

/* Parse text; expect failure at line:col with `needle` in the message.
 * A wrong place or message fails the test that asked, at once. */
static void expect_error(const char *text, int line, int col, const char *needle)
{
    char err[600], where[64];
    tw_scenario *sc = (tw_scenario *)1;
    int rc = tw_scenario_parse("t.yaml", text, strlen(text), &sc, err, sizeof err);
    if (rc != -EINVAL)
        fail_msg("expected an error (%s) for:\n%s\ngot rc %d", needle, text, rc);
    assert_null(sc);
    snprintf(where, sizeof where, "t.yaml:%d:%d: ", line, col);
    if (strncmp(err, where, strlen(where)) != 0 || !strstr(err, needle))
        fail_msg("want '%s...%s', got '%s'\nfor:\n%s", where, needle, err, text);
}

static tw_scenario *expect_ok(const char *text)
{
    char err[600];
    tw_scenario *sc = NULL;
    int rc = tw_scenario_parse("t.yaml", text, strlen(text), &sc, err, sizeof err);
    if (rc != 0)
        fail_msg("unexpected error: %s\nfor:\n%s", err, text);
    return sc;
}

static char *cat(const char *a, const char *b)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s%s", a, b);
    return buf;
}

/* ---- the cases ---- */

static void test_yaml_syntax(void **state)
{
    (void)state;
    expect_error("duration: 1s\nnodes: [\n", 3, 1, "YAML syntax error");
    expect_error("duration: 1s\n  bad indent: x\n", 2, 13, "YAML syntax error");
    expect_error("a: 'unterminated\n", 2, 1, "YAML syntax error");
    expect_error("duration: 1s\n\t- tab\n", 2, 1, "YAML syntax error");
}

static void test_unknown_key(void **state)
{
    (void)state;
    expect_error(cat(good_head, "colour: blue\n"), 11, 1, "unknown key 'colour'");
    expect_error(cat(good_head, "network: {latncy: 1ms}\n"), 11, 11,
                 "unknown key 'latncy' in network");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, crash: server, when: 2s}\n"),
                 12, 29, "unknown key 'when'");
    expect_error("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1, ip: x}\n", 3, 31,
                 "unknown key 'ip' in a node");
    expect_error(cat(good_head, "quiet: {within: 1s, untill: all}\n"), 11, 21,
                 "unknown key 'untill'");
}

/* A typo gets the key it was meant to be; a key like none gets every key
 * the place takes, the last of a timeline entry's dozens included. */
static void test_unknown_key_is_answered_with_the_near_one_or_all(void **state)
{
    (void)state;
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, dgram: [client, server], "
                                "for: 1s, dorp: 20%}\n"),
                 12, 48, "unknown key 'dorp' in a timeline entry (did you mean 'drop'?)");
    expect_error(cat(good_head, "network: {latncy: 1ms}\n"), 11, 11,
                 "(did you mean 'latency'?)");
    const char *text = cat(good_head, "timeline:\n  - {at: 1s, crash: server, bits: 3}\n");
    expect_error(text, 12, 29,
                 "unknown key 'bits' in a timeline entry (expected one of: at, for, ");
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
        char want[48];
        snprintf(want, sizeof want, " %s,", tw_sim_fault_kind_info(k)->name);
        if (k == TW_SIM_FAULT_KINDS - 1) /* the last key, or before its modifiers */
            snprintf(want, sizeof want, " %s", tw_sim_fault_kind_info(k)->name);
        expect_error(text, 12, 29, want);
    }
}

/* The distance behind every "did you mean" (scenario keys, app options):
 * one for a letter put in, left out, changed, or two swapped; capped. */
static void test_parse_distance(void **state)
{
    (void)state;
    assert_int_equal(tw_parse_distance("latency", 7, "latency"), 0);
    assert_int_equal(tw_parse_distance("lantecy", 7, "latency"), 2);
    assert_int_equal(tw_parse_distance("latnecy", 7, "latency"), 1); /* a swap */
    assert_int_equal(tw_parse_distance("latenc", 6, "latency"), 1);
    assert_int_equal(tw_parse_distance("latencyy", 8, "latency"), 1);
    assert_int_equal(tw_parse_distance("lat", 3, "latency"), TW_PARSE_FAR);
    assert_int_equal(tw_parse_distance("seedsX", 5, "seeds"), 0); /* la bytes only */
    assert_int_equal(tw_parse_distance("drop", 4, "loss"), TW_PARSE_FAR);
    char long_name[80];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    assert_int_equal(tw_parse_distance(long_name, strlen(long_name), long_name),
                     TW_PARSE_FAR); /* past 64 bytes: no guess */
}

/* The name meant: the nearest one offered, none when two are as near,
 * whatever comes after them (a farther name does not undo a tie), and
 * none too far off. */
static void test_parse_guess(void **state)
{
    (void)state;
    const char *typed = "latncy";
    const char *names[][4] = {
        {"latency", "loss", "seeds", NULL},     /* one near: latency */
        {"latency", "latncx", "loss", NULL},    /* two at one edit: a tie */
        {"latency", "latncx", "latXncyZ", NULL}, /* the tie, then one at two */
        {"loss", "seeds", "drop", NULL},        /* none near */
    };
    const char *want[] = {"latency", NULL, NULL, NULL};
    for (int k = 0; k < 4; k++) {
        tw_parse_guess g = TW_PARSE_GUESS_INIT;
        for (int i = 0; names[k][i]; i++)
            tw_parse_guess_offer(&g, names[k][i],
                                 tw_parse_distance(typed, strlen(typed), names[k][i]));
        const char *got = tw_parse_guess_best(&g);
        if (want[k])
            assert_string_equal(got, want[k]);
        else
            assert_null(got);
    }
    /* half or more of a short name changed is no typo of it */
    tw_parse_guess g = TW_PARSE_GUESS_INIT;
    tw_parse_guess_offer(&g, "ab", tw_parse_distance("xb", 2, "ab"));
    assert_null(tw_parse_guess_best(&g));
    /* and through a scenario key */
    expect_error(cat(good_head, "network: {los: 1%}\n"), 11, 11, "did you mean 'loss'");
}

static void test_wrong_type(void **state)
{
    (void)state;
    expect_error("duration: [1s]\nnodes: []\n", 1, 11, "duration must be a duration");
    expect_error("duration: 10 parsecs\nnodes: []\n", 1, 11, "not '10 parsecs'");
    expect_error(cat(good_head, "network: {loss: lots}\n"), 11, 17,
                 "loss must be a probability");
    expect_error(cat(good_head, "network: {loss: 150%}\n"), 11, 17,
                 "loss must be a probability");
    expect_error(cat(good_head, "buggify: maybe\n"), 11, 10, "true or false");
    expect_error("duration: 1s\nnodes: {a: 1}\n", 2, 8, "nodes must be a list");
    expect_error("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1, app: echo-load, "
                 "args: --quiet}\n", 3, 53, "args must be a list");
    expect_error(cat(good_head, "network: {bandwidth: fast}\n"), 11, 22,
                 "bandwidth must be a rate");
    expect_error(cat(good_head, "expect: {exit: {client: yes}}\n"), 11, 25,
                 "an exit status must be a whole number");
    expect_error("- just\n- a list\n", 1, 1, "a scenario must be a mapping");
    expect_error(cat(good_head, "expect: {contract: maybe}\n"), 11, 20,
                 "contract must be true, strict, basic or false, not 'maybe'");
}

/* The description a run starts with: a path without a bandwidth limit
 * says so, rather than "0 B/s"; one with a limit gives it. */
static void test_describe_bandwidth(void **state)
{
    (void)state;
    char text[64 << 10];
    for (int limited = 0; limited < 2; limited++) {
        tw_scenario *sc = expect_ok(cat(good_head, limited ? "network: {bandwidth: 10MB/s}\n"
                                                           : "network: {latency: 1ms}\n"));
        FILE *f = fmemopen(text, sizeof text, "w");
        assert_non_null(f);
        tw_scenario_describe(sc, f);
        fclose(f);
        tw_scenario_free(sc);
        const char *want = limited ? ", bandwidth 10000000 B/s, " : ", bandwidth unlimited, ";
        if (!strstr(text, want))
            fail_msg("no '%s' in:\n%s", want, text);
        assert_null(strstr(text, "bandwidth 0 B/s"));
    }
}

/* The description names every swarm limit a seed draws within, the
 * clock's drift among them (it was left out, so a file's drift_max did
 * not show in what a run printed). */
static void test_describe_swarm_drift(void **state)
{
    (void)state;
    char text[64 << 10];
    tw_scenario *sc = expect_ok(cat(good_head, "swarm: {faults: [clock], drift_max: 20000}\n"));
    FILE *f = fmemopen(text, sizeof text, "w");
    assert_non_null(f);
    tw_scenario_describe(sc, f);
    fclose(f);
    tw_scenario_free(sc);
    if (!strstr(text, ", skew <= 1s, drift <= 20000 ppm\n"))
        fail_msg("no drift in:\n%s", text);
}

/* The description says how deliveries are cut, the setting a parser's
 * bugs hang on: the defaults when the file gives none, else the file's
 * (it was left out, so chunk_split: 100% did not show in what a run
 * printed). */
static void test_describe_chunking(void **state)
{
    (void)state;
    char text[64 << 10];
    const char *const nets[] = {"network: {latency: 1ms}\n",
                                ("network: {chunk_split: 100%, chunk_max: 1KiB, "
                                 "segment_max: 2KiB}\n"),
                                "network: {chunk_split: 0}\n"};
    const char *const want[] = {("  deliveries: chunk_split 0.25, chunk_max 262144 B, "
                                 "segment_max 65536 B\n"),
                                ("  deliveries: chunk_split 1, chunk_max 1024 B, "
                                 "segment_max 2048 B\n"),
                                "  deliveries: chunk_split 0, "};
    for (int i = 0; i < 3; i++) {
        tw_scenario *sc = expect_ok(cat(good_head, nets[i]));
        FILE *f = fmemopen(text, sizeof text, "w");
        assert_non_null(f);
        tw_scenario_describe(sc, f);
        fclose(f);
        tw_scenario_free(sc);
        if (!strstr(text, want[i]))
            fail_msg("no '%s' in:\n%s", want[i], text);
    }
}

static void test_unknown_app(void **state)
{
    (void)state;
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "ecko-server\n", 5, 10, "unknown app 'ecko-server'");
    /* It names the apps there are, and how an app of one's own gets in. */
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "my-server\n", 5, 10, "unknown app 'my-server' (this program has: "
                 "echo-server, echo-client, ");
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "my-server\n", 5, 10, "resp-client; apps of a shared object need "
                 "--load FILE.so)");
    /* An app that exists but rejects its arguments, at the args. */
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "echo-load\n    args: [--messages, zero]\n", 6, 11,
                 "app 'echo-load' rejected its arguments");
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "echo-load\n    args: [--frobnicate]\n", 6, 11, "--frobnicate");
    /* --help among them: said as such, not as a start that failed with
     * "usage: ..." and ECANCELED */
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    app: "
                 "echo-load\n    args: [--help]\n", 6, 11,
                 "app 'echo-load' was given --help: a scenario runs the app (`apps` "
                 "lists its options)");
    /* Good options, a start that fails all the same: not the arguments'
     * fault, and said so (two servers of one node on one port). */
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    apps:\n"
                 "      - {app: echo-server, args: [--port, \"7\"]}\n"
                 "      - {app: echo-server, args: [--port, \"7\"]}\n", 7, 34,
                 "app 'echo-server' could not start on node a: ");
    expect_error("duration: 1s\nnodes:\n  - name: a\n    addr: 10.0.0.1\n    apps:\n"
                 "      - {app: echo-server, args: [--port, \"7\"]}\n"
                 "      - {app: echo-server, args: [--port, \"7\"]}\n", 7, 34,
                 "(EADDRINUSE)");
}

static void test_negative_time(void **state)
{
    (void)state;
    expect_error(cat(good_head, "timeline:\n  - {at: -500ms, crash: server}\n"), 12, 10,
                 "a fault at a negative time (-500ms)");
    expect_error(cat(good_head, "timeline:\n  - {at: 5s, crash: server}\n"), 12, 10,
                 "after the end of the fault phase");
}

static void test_unknown_node(void **state)
{
    (void)state;
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, crash: serveur}\n"), 12, 21,
                 "unknown node 'serveur' in crash (nodes: server, client)");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, partition: [client, x]}\n"), 12,
                 34, "unknown node 'x'");
    expect_error(cat(good_head, "paths:\n  - {from: client, to: nobody, loss: 1%}\n"), 12,
                 24, "unknown node 'nobody' in to");
    expect_error(cat(good_head, "quiet: {within: 2s, until: [clint]}\n"), 11, 29,
                 "unknown node 'clint'");
    expect_error(cat(good_head, "expect: {exit: {srv: 0}}\n"), 11, 17,
                 "unknown node 'srv' in exit");
}

/* ---- more ways to be wrong ---- */

static void test_structure(void **state)
{
    (void)state;
    expect_error("", 1, 1, "empty");
    expect_error("# only a comment\n", 1, 1, "empty");
    expect_error(cat(good_head, "---\nduration: 1s\n"), 12, 1, "a second YAML document");
    expect_error("duration: 1s\nduration: 2s\nnodes: []\n", 2, 1, "duplicate key 'duration'");
    expect_error("nodes:\n  - {name: a, addr: 10.0.0.1}\n", 1, 1, "needs a duration");
    expect_error("duration: 1s\n", 1, 1, "needs nodes");
    expect_error("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1}\n  - {name: a, addr: "
                 "10.0.0.2}\n", 4, 12, "a second node named 'a'");
    expect_error("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.999}\n", 3, 21,
                 "numeric IPv4 or IPv6");
    expect_error("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1}\n  - {name: b, addr: "
                 "10.0.0.1}\n", 4, 21, "address 10.0.0.1 is taken");
    expect_error("duration: 1s\nnodes:\n  - {name: 'a b', addr: 10.0.0.1}\n", 3, 12,
                 "letters, digits");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, clog: [client, server]}\n"), 12, 5,
                 "clog needs 'for'");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, crash: server, reset: client}\n"),
                 12, 14, "one fault per timeline entry");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, reset: server, for: 1s}\n"), 12, 29,
                 "'for' does not apply to reset");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s}\n"), 12, 5, "needs a fault");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, partition: [client, client]}\n"),
                 12, 25, "between a node and itself");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, kill: server, program: x, signal: "
                                "WINCHY}\n"), 12, 48, "signal must be");
    expect_error(cat(good_head, "network: {jitter: 1ms}\n"), 11, 19, "jitter goes with");
    expect_error(cat(good_head, "network: {latency: {dist: zipf}}\n"), 11, 27,
                 "unknown latency distribution 'zipf'");
    expect_error(cat(good_head, "network: {loss: 1%, loss_correlation: 20%, "
                                "gilbert_elliott: {p: 1%}}\n"), 11, 61, "pick one");
    expect_error(cat(good_head, "swarm: {faults: [heal]}\n"), 11, 18, "swarm faults are");
    /* A NUL byte inside a value, bad UTF-8, and an alias of itself. */
    expect_error("duration: \"1\\0s\"\nnodes: []\n", 1, 11, "NUL byte");
    expect_error("duration: 1s\nname: \"\xff\xfe\"\n", 2, 8, "encoding error");
    expect_error("duration: 1s\nnodes: &x [*x]\n", 2, 8, "a node must be a mapping");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "nodes: " then n of open, n of close: a flow list or mapping n deep. */
static char *nested(size_t n, char open, char close, size_t *len)
{
    char *s = malloc(n * 2 + 64);
    assert_non_null(s);
    strcpy(s, "duration: 1s\nnodes: ");
    size_t k = strlen(s);
    memset(s + k, open, n);
    memset(s + k + n, close, n);
    *len = k + 2 * n;
    s[*len] = '\0';
    return s;
}

/* A file nested past the limit is refused where it passes it, at once:
 * libyaml alone takes seconds for 40000 levels and minutes for a
 * mebibyte of them. */
static void test_deep_nesting(void **state)
{
    (void)state;
    char err[600];
    tw_scenario *sc = NULL;
    const char *opens = "[{";
    const char *closes = "]}";
    for (int k = 0; k < 2; k++) {
        size_t len;
        char *deep = nested(100000, opens[k], closes[k], &len);
        double t0 = now_s();
        assert_int_equal(tw_scenario_parse("t.yaml", deep, len, &sc, err, sizeof err),
                         -EINVAL);
        double secs = now_s() - t0;
        assert_null(sc);
        /* the top mapping is the first level: the 65th opens with the
         * 64th bracket, at column 8 + 63 of line 2 */
        assert_string_equal(err, "t.yaml:2:71: lists and mappings nested more than "
                                 "64 deep");
        if (secs > 0.5)
            fail_msg("a 100000-deep file took %.3f s to refuse", secs);
        free(deep);
    }
    /* 64 levels are allowed (the file is wrong for other reasons). */
    size_t len;
    char *ok = nested(63, '[', ']', &len);
    assert_int_equal(tw_scenario_parse("t.yaml", ok, len, &sc, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "a node must be a mapping"));
    free(ok);
    /* Block nesting counts the same way: each "- k:" opens a list and a
     * mapping, so line 3 + i opens levels 2 + 2i and 3 + 2i. */
    char block[20000] = "duration: 1s\nnodes:\n";
    for (int i = 0; i < 70; i++) {
        size_t n = strlen(block);
        snprintf(block + n, sizeof block - n, "%*s- k:\n", 2 * i, "");
    }
    expect_error(block, 34, 65, "nested more than 64 deep");
}

/* Anchors and aliases: libyaml's loader compares each with those before
 * it, so their number is bounded; an alias of itself loads (as a node
 * shared, not a copy) and is refused by the schema. */
static void test_hostile(void **state)
{
    (void)state;
    char err[600];
    tw_scenario *sc = NULL;
    const char *laughs = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a]\n"
                         "c: &c [*b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c]\n";
    assert_int_equal(tw_scenario_parse("t.yaml", laughs, strlen(laughs), &sc, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "unknown key 'a'"));
    size_t cap = 300 * 16 + 64, n = 0;
    char *many = malloc(cap);
    assert_non_null(many);
    n += (size_t)snprintf(many + n, cap - n, "x: [");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(many + n, cap - n, "&a%03d 1, ", i);
    n += (size_t)snprintf(many + n, cap - n, "2]\n");
    /* the 257th anchor: "x: [" then 256 of "&aNNN 1, " (9 bytes each) */
    expect_error(many, 1, 5 + 256 * 9, "more than 256 anchors (&name)");
    free(many);
    cap = 5000 * 4 + 64;
    many = malloc(cap);
    assert_non_null(many);
    n = (size_t)snprintf(many, cap, "x: [&a 1, ");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(many + n, cap - n, "*a, ");
    snprintf(many + n, cap - n, "2]\n");
    expect_error(many, 1, 11 + 4096 * 4, "more than 4096 aliases (*name)");
    free(many);
}

/* ---- good files ---- */

static void test_good_file_loads(void **state)
{
    (void)state;
    tw_scenario *sc = expect_ok(cat(good_head,
        "network:\n  latency: 2ms\n  jitter: 1ms\n  loss: 1%\n  loss_correlation: 25%\n"
        "  bandwidth: 10MB/s\n  duplicate: 1%\n  reorder: 5%\n  reorder_delay: 2ms\n"
        "paths:\n  - {from: client, to: server, both: true, loss: 0.5%, "
        "gilbert_elliott: {p: 1%, r: 30%}}\n"
        "timeline:\n  - {at: 100ms, partition: [client, server], for: 1s}\n"
        "  - {at: 200ms, partition: client, oneway: true, for: 100ms}\n"
        "  - {at: 300ms, heal: client}\n  - {at: 400ms, clog: [client, server], for: 1ms}\n"
        "  - {at: 500ms, reset: [client, server]}\n  - {at: 600ms, crash: server, for: 1s}\n"
        "  - {at: 700ms, restart: server}\n  - {at: 800ms, clock: client, skew: -1s, "
        "drift_ppm: 100}\n  - {at: 900ms, loss: client, for: 1s, probability: 50%, "
        "correlation: 10%}\n  - {at: 1s, loss: [client, server], for: 1s, gilbert_elliott: "
        "{p: 5%}}\n  - {at: 1100ms, kill: client, program: sleep, signal: TERM}\n"
        "  - {at: 1200ms, emfile: server, count: 2}\n"
        "quiet: {within: 5s, until: [client]}\n"
        "expect: {exit: {client: 0, server: any}, contract: true, stuck_after: 2s}\n"
        "swarm: {faults: [partition, crash], nodes: [client], window: [0s, 2s], count: 3, "
        "duration: [1ms, 1s]}\n"));
    assert_int_equal(tw_scenario_fault_count(sc), 12);
    assert_int_equal(tw_scenario_duration(sc), TW_SEC(2));
    assert_int_equal(tw_scenario_quiet(sc), TW_SEC(5));
    assert_true(tw_scenario_has_swarm(sc));
    assert_string_equal(tw_scenario_name(sc), "t");
    tw_scenario_free(sc);
}

/* Write, parse, write again: the same text, so a dumped schedule or a
 * shrunk file is exactly the scenario it came from. */
static char *written(const tw_scenario *sc)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(tw_scenario_write(sc, f, "a comment\nof two lines"), 0);
    fclose(f);
    return text;
}

/* text parsed and written: the file it gives, which reads back to the
 * same file again (the caller frees it). */
static char *written_back(const char *text)
{
    tw_scenario *sc = expect_ok(text);
    char *one = written(sc);
    tw_scenario *again = expect_ok(one);
    char *two = written(again);
    assert_string_equal(one, two);
    free(two);
    tw_scenario_free(sc);
    tw_scenario_free(again);
    return one;
}

static void test_write_round_trip(void **state)
{
    (void)state;
    DIR *d = opendir("scenarios");
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[300], err[600];
        snprintf(path, sizeof path, "scenarios/%s", e->d_name);
        tw_scenario *sc = NULL, *again = NULL;
        if (tw_scenario_load(path, &sc, err, sizeof err) != 0)
            fail_msg("%s", err);
        char *one = written(sc);
        if (tw_scenario_parse(path, one, strlen(one), &again, err, sizeof err) != 0)
            fail_msg("%s written back does not load: %s\n%s", path, err, one);
        char *two = written(again);
        assert_string_equal(one, two);
        free(one);
        free(two);
        tw_scenario_free(sc);
        tw_scenario_free(again);
        files++;
    }
    closedir(d);
    assert_true(files >= 8);
}

/* Probabilities are written in the fewest digits that read back as the
 * same number: a file's 20% as 0.2, not 0.20000000000000001; a value
 * that needs all 17 digits keeps them. */
static void test_probabilities_write_back_short(void **state)
{
    (void)state;
    char *text = written_back(cat(good_head,
        "network: {reorder: 20%, loss: 1%, duplicate: 0.30000000000000004}\n"));
    if (!strstr(text, "reorder: 0.2") || strstr(text, "0.2000") ||
        !strstr(text, "loss: 0.01") || strstr(text, "0.0100") ||
        !strstr(text, "duplicate: 0.30000000000000004"))
        fail_msg("%s", text);
    free(text);
}

/* The swarm's dgram_kinds: the impairments its dgram faults may draw, by
 * a timeline dgram fault's names; written back as given, and a name that
 * is none is refused, naming the five. */
static void test_swarm_dgram_kinds(void **state)
{
    (void)state;
    char *text = written_back(cat(good_head, "swarm: {faults: [dgram], dgram_kinds: "
                                             "[drop, duplicate, reorder, refuse]}\n"));
    if (!strstr(text, "  dgram_kinds: [drop, duplicate, reorder, refuse]\n"))
        fail_msg("%s", text);
    free(text);
    /* all five, or none given: nothing to write */
    text = written_back(cat(good_head, "swarm: {faults: [dgram]}\n"));
    assert_null(strstr(text, "dgram_kinds"));
    free(text);
    expect_error(cat(good_head, "swarm: {faults: [dgram], dgram_kinds: [drop, flip]}\n"),
                 11, 46, "dgram_kinds are drop, duplicate, reorder, corrupt and refuse");
    expect_error(cat(good_head, "swarm: {faults: [dgram], dgram_kinds: []}\n"), 11, 39,
                 "dgram_kinds needs at least one impairment");
}

/* The contract expectation's four words, as they are written back:
 * strict is the default and writes as true. */
static void test_contract_modes_write_back(void **state)
{
    (void)state;
    const char *const in[] = {"", "expect: {contract: true}\n",
                              "expect: {contract: strict}\n",
                              "expect: {contract: basic}\n",
                              "expect: {contract: false}\n"};
    const char *const out[] = {"contract: true,", "contract: true,", "contract: true,",
                               "contract: basic,", "contract: false,"};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        tw_scenario *sc = expect_ok(cat(good_head, in[i]));
        char *text = written(sc);
        if (!strstr(text, out[i]))
            fail_msg("'%s' wrote back without '%s':\n%s", in[i], out[i], text);
        free(text);
        tw_scenario_free(sc);
    }
}

/* One table of fault kinds: every kind the simulator has can be written
 * in a timeline, loads, is described, and writes back as it was read;
 * every kind the swarm may draw can be listed in a swarm section, and
 * is drawn by some seed and written out. */
static void test_every_fault_kind_in_a_timeline_and_a_swarm(void **state)
{
    (void)state;
    static const char *const entries[] = {
        "  - {at: 1s, partition: [server, client], for: 100ms, oneway: true}\n",
        "  - {at: 1s, heal: [server, client]}\n",
        "  - {at: 1s, clog: server, for: 10ms}\n",
        "  - {at: 1s, reset: [server, client]}\n",
        "  - {at: 1s, crash: server, for: 100ms}\n",
        "  - {at: 1s, restart: server}\n",
        "  - {at: 1s, clock: client, skew: 5ms, drift_ppm: -20}\n",
        "  - {at: 1s, loss: [client, server], for: 1s, probability: 10%}\n",
        "  - {at: 1s, kill: client, program: cat, signal: TERM}\n",
        "  - {at: 1s, emfile: server, count: 2}\n",
        "  - {at: 1s, dgram: [client, server], for: 1s, drop: 5%, duplicate: 10%}\n",
        "  - {at: 1s, enobufs: client, count: 3}\n",
        "  - {at: 1s, freeze: server, for: 300ms}\n",
        "  - {at: 1s, slow: server, for: 1s, cost: 5ms}\n",
        "  - {at: 1s, blackhole: [client, server]}\n",
        "  - {at: 1s, disk_eio: server, for: 20ms}\n",
        "  - {at: 1s, disk_full: server, for: 20ms}\n",
        "  - {at: 1s, fsync_fail: server, count: 2}\n",
        "  - {at: 1s, power_loss: server, for: 100ms}\n",
        "  - {at: 1s, disk_corrupt: server, for: 20ms}\n",
        "  - {at: 1s, lost_write: server, count: 1}\n",
    };
    size_t n = sizeof entries / sizeof entries[0];
    assert_int_equal(n, TW_SIM_FAULT_KINDS - TW_SIM_FAULT_PARTITION);
    char text[8192];
    int len = snprintf(text, sizeof text, "%stimeline:\n", good_head);
    for (size_t i = 0; i < n; i++)
        len += snprintf(text + len, sizeof text - (size_t)len, "%s", entries[i]);
    tw_scenario *sc = expect_ok(text);
    char *one = written(sc);
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
        char key[40];
        snprintf(key, sizeof key, ", %s: ", tw_sim_fault_kind_info(k)->name);
        if (!strstr(one, key))
            fail_msg("kind %s is not written back:\n%s", key, one);
    }
    assert_non_null(strstr(one, ", drop: 0.05"));
    assert_non_null(strstr(one, ", duplicate: 0.1"));
    assert_non_null(strstr(one, "enobufs: \"client\", count: 3"));
    tw_scenario *again = NULL;
    char err[600];
    assert_int_equal(tw_scenario_parse("w.yaml", one, strlen(one), &again, err, sizeof err), 0);
    char *two = written(again);
    assert_string_equal(one, two);
    free(one);
    free(two);
    tw_scenario_free(again);
    tw_scenario_free(sc);

    /* The swarm: every kind it may draw, drawn by some seed. */
    char kinds[300] = "";
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++)
        if (tw_sim_fault_kind_info(k)->swarm)
            snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                     kinds[0] ? ", " : "", tw_sim_fault_kind_info(k)->name);
    snprintf(text, sizeof text,
             "%sswarm:\n  faults: [%s]\n  program: cat\n  count: 8\n", good_head,
             kinds);
    sc = expect_ok(text);
    unsigned seen = 0;
    for (uint64_t seed = 1; seed <= 64; seed++) {
        tw_scenario *m = tw_scenario_materialize(sc, seed);
        assert_non_null(m);
        char *w = written(m);
        for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
            char key[40];
            snprintf(key, sizeof key, ", %s: ", tw_sim_fault_kind_info(k)->name);
            if (strstr(w, key))
                seen |= 1u << k;
        }
        assert_int_equal(tw_scenario_parse("m.yaml", w, strlen(w), &again, err, sizeof err), 0);
        tw_scenario_free(again);
        free(w);
        tw_scenario_free(m);
    }
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++)
        if (tw_sim_fault_kind_info(k)->swarm && !(seen & (1u << k)))
            fail_msg("the swarm never drew %s", tw_sim_fault_kind_info(k)->name);
    tw_scenario_free(sc);
    /* heal and restart undo others: a swarm does not draw them alone */
    expect_error(cat(good_head, "swarm:\n  faults: [heal]\n"), 12, 12,
                 "swarm faults are partition, clog");
    /* a datagram fault needs an impairment; 'loss' is a fault of its own */
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, slow: client, for: 1s}\n"),
                 12, 5, "slow needs 'cost'");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, freeze: client}\n"),
                 12, 5, "freeze needs 'for'");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, dgram: client, for: 1s}\n"),
                 12, 5, "dgram needs one of drop, duplicate");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, dgram: client, loss: 5%}\n"),
                 12, 14, "one fault per timeline entry");
}

/* chunk_split: a probability, written back as it was read. */
static void test_chunk_split(void **state)
{
    (void)state;
    tw_scenario *sc = expect_ok(cat(good_head, "network: {chunk_split: 100%}\n"));
    char *text = written(sc);
    assert_non_null(strstr(text, "chunk_split: 1}")); /* 100% */
    free(text);
    tw_scenario_free(sc);
    sc = expect_ok(good_head);
    text = written(sc);
    assert_null(strstr(text, "chunk_split")); /* not set: not written */
    free(text);
    tw_scenario_free(sc);
    expect_error(cat(good_head, "network: {chunk_split: 150%}\n"), 11, 24,
                 "chunk_split must be a probability");
}

static void test_load_missing_file(void **state)
{
    (void)state;
    char err[300];
    tw_scenario *sc = NULL;
    assert_int_equal(tw_scenario_load("no/such/file.yaml", &sc, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "no/such/file.yaml: "));
    /* a directory opens; only reading it fails: it is named for what it is */
    assert_int_equal(tw_scenario_load("scenarios", &sc, err, sizeof err), -EISDIR);
    assert_string_equal(err, "scenarios: is a directory, not a scenario file");
    assert_null(sc);
}

/* A duration past what a run holds is too large, not malformed. */
static void test_duration_too_large(void **state)
{
    (void)state;
    expect_error("duration: 99999999999h\nnodes: []\n", 1, 11,
                 "duration is too large: at most 8760h (a year), not '99999999999h'");
    expect_error("duration: 9000h\nnodes: []\n", 1, 11,
                 "duration is too large: at most 8760h (a year), not '9000h'");
    expect_error(cat(good_head, "timeline:\n  - {at: 1s, clock: client, skew: -9000h}\n"),
                 12, 35, "skew is too far below zero: at least -8760h (a year)");
    expect_error("duration: 12 parsecs\nnodes: []\n", 1, 11,
                 "duration must be a duration like 10s or 250ms, not '12 parsecs'");
}

/* ---- the value parsers ---- */

static void test_parse_values(void **state)
{
    (void)state;
    tw_ns ns;
    assert_int_equal(tw_parse_duration("0.1s", &ns), 0);
    assert_int_equal(ns, 100000000);
    assert_int_equal(tw_parse_duration("1.5", &ns), 0);
    assert_int_equal(ns, 1500000000);
    assert_int_equal(tw_parse_duration("-250ms", &ns), 0);
    assert_int_equal(ns, -250000000);
    assert_int_equal(tw_parse_duration("7ns", &ns), 0);
    assert_int_equal(ns, 7);
    assert_int_equal(tw_parse_duration("2m", &ns), 0);
    assert_int_equal(ns, TW_SEC(120));
    assert_int_equal(tw_parse_duration("1.5ns", &ns), -EINVAL);
    assert_int_equal(tw_parse_duration("1 s", &ns), -EINVAL);
    assert_int_equal(tw_parse_duration("", &ns), -EINVAL);
    assert_int_equal(tw_parse_duration("99999999999999999999s", &ns), -ERANGE);
    uint64_t v;
    assert_int_equal(tw_parse_bytes("64KiB", &v), 0);
    assert_int_equal(v, 65536);
    assert_int_equal(tw_parse_bytes("1.5MB", &v), 0);
    assert_int_equal(v, 1500000);
    assert_int_equal(tw_parse_bytes("-1", &v), -EINVAL);
    assert_int_equal(tw_parse_rate("100Mbit/s", &v), 0);
    assert_int_equal(v, 12500000);
    assert_int_equal(tw_parse_rate("10MB/s", &v), 0);
    assert_int_equal(v, 10000000);
    double p;
    assert_int_equal(tw_parse_probability("2.5%", &p), 0);
    assert_true(p == 0.025);
    assert_int_equal(tw_parse_probability("0.30000000000000004", &p), 0);
    assert_true(p == 0.1 + 0.2); /* 17 digits read back to the same double */
    assert_int_equal(tw_parse_probability("1e-05", &p), 0);
    assert_true(p == 1e-05);
    assert_int_equal(tw_parse_probability("nan", &p), -EINVAL);
    assert_int_equal(tw_parse_probability("2", &p), -ERANGE);
    char host[64];
    uint16_t port;
    assert_int_equal(tw_parse_hostport("[::1]:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 80);
    assert_int_equal(tw_parse_hostport("server:0", host, sizeof host, &port), -EINVAL);
    char buf[32];
    assert_string_equal(tw_format_duration(1500000000, buf, sizeof buf), "1500ms");
    assert_string_equal(tw_format_duration(TW_SEC(3), buf, sizeof buf), "3s");
    assert_string_equal(tw_format_duration(-7, buf, sizeof buf), "-7ns");
    assert_string_equal(tw_format_duration(0, buf, sizeof buf), "0s");
    char where[TW_HOSTPORT_STRLEN];
    assert_string_equal(tw_format_hostport("", 7, where, sizeof where), "*:7");
    assert_string_equal(tw_format_hostport(NULL, 7, where, sizeof where), "*:7");
    assert_string_equal(tw_format_hostport("::1", 80, where, sizeof where), "[::1]:80");
    assert_string_equal(tw_format_hostport("server", 80, where, sizeof where), "server:80");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_yaml_syntax),
        TW_TEST(test_unknown_key),
        TW_TEST(test_describe_bandwidth),
        TW_TEST(test_describe_swarm_drift),
        TW_TEST(test_describe_chunking),
        TW_TEST(test_unknown_key_is_answered_with_the_near_one_or_all),
        TW_TEST(test_parse_distance),
        TW_TEST(test_parse_guess),
        TW_TEST(test_swarm_dgram_kinds),
        TW_TEST(test_wrong_type),
        TW_TEST(test_unknown_app),
        TW_TEST(test_negative_time),
        TW_TEST(test_unknown_node),
        TW_TEST(test_structure),
        TW_TEST(test_deep_nesting),
        TW_TEST(test_hostile),
        TW_TEST(test_good_file_loads),
        TW_TEST(test_write_round_trip),
        TW_TEST(test_probabilities_write_back_short),
        TW_TEST(test_contract_modes_write_back),
        TW_TEST(test_every_fault_kind_in_a_timeline_and_a_swarm),
        TW_TEST(test_chunk_split),
        TW_TEST(test_load_missing_file),
        TW_TEST(test_duration_too_large),
        TW_TEST(test_parse_values),
    };
    return cmocka_run_group_tests_name("scenario_parse", tests, NULL, NULL);
}
