/* tests/test_scenario_cli.c - `twin sim` and `twin shrink` as a user
 * runs them: the replay command a sweep prints reproduces that seed's
 * trace hash; shards split a range; exit statuses tell the verdicts
 * apart; a bad file is "file:line:column" and status 2; a dumped swarm
 * schedule and a shrunk failure replay on their own; --check-determinism,
 * --trace-filter (each key, each bad value named), `twin apps`, a
 * sweep naming a swarm kind that never took effect, and `twin demo
 * --seed` and --trace-fields do what they say. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "tests/cli_util.h"

static char tmpdir[128];

/* Write a scenario file of text to tmpdir/name; path gets its path. */
static void write_scenario(char *path, size_t len, const char *name, const char *text)
{
    snprintf(path, len, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Run a shell command; its stdout (and stderr if both) into out. */
__attribute__((format(printf, 4, 5)))
static int sh(char *out, size_t len, bool both, const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (both)
        strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    else
        strncat(cmd, " 2>/dev/null", sizeof cmd - strlen(cmd) - 1);
    return tw_cli_run(cmd, out, len);
}

static char out[1 << 20];

/* The trace hash a single-seed run prints. */
static uint64_t printed_hash(const char *text)
{
    const char *h = strstr(text, "trace hash ");
    assert_non_null(h);
    return strtoull(h + 11, NULL, 16);
}

static void test_bad_file_exit_2(void **state)
{
    (void)state;
    char path[256];
    write_scenario(path, sizeof path, "bad.yaml",
                   "duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1, app: nope}\n");
    int rc = sh(out, sizeof out, true, "%s sim %s --seed 1", tw_cli_twin, path);
    assert_int_equal(rc, 2);
    char want[400];
    snprintf(want, sizeof want, "%s:3:36: unknown app 'nope'", path);
    assert_non_null(strstr(out, want));
    /* A near miss names the app meant. */
    write_scenario(path, sizeof path, "bad.yaml",
                   "duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1, app: echo-sever}\n");
    assert_int_equal(sh(out, sizeof out, true, "%s sim %s --seed 1", tw_cli_twin, path), 2);
    snprintf(want, sizeof want, "%s:3:36: unknown app 'echo-sever' (did you mean "
             "'echo-server'?", path);
    assert_non_null(strstr(out, want));
    assert_int_equal(sh(out, sizeof out, true, "%s sim %s --seeds 1..5", tw_cli_twin, path), 2);
    assert_int_equal(sh(out, sizeof out, true, "%s sim scenarios/echo_loss.yaml --seeds 5..1",
                        tw_cli_twin), 2);
    assert_int_equal(sh(out, sizeof out, true, "%s sim", tw_cli_twin), 2);
    assert_int_equal(sh(out, sizeof out, true, "%s sim no-such-file.yaml", tw_cli_twin), 2);
    assert_non_null(strstr(out, "no-such-file.yaml: No such file"));
    assert_int_equal(sh(out, sizeof out, true, "%s sim scenarios --seed 1", tw_cli_twin), 2);
    assert_non_null(strstr(out, "scenarios: is a directory, not a scenario file"));
}

/* Two shards of a sweep, merged by `twin report`: the same verdict
 * counts and failing seeds as the whole sweep, the replay commands, and
 * the file's faults that never took effect; a seed in both files counts
 * once; a file that is not a sweep's is refused. */
static void test_report_merges_shards(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-report-XXXXXX";
    assert_non_null(mkdtemp(dir));
    for (int i = 0; i < 2; i++)
        assert_int_equal(sh(out, sizeof out, false,
                            "%s sim tests/data/flaky.yaml --seeds 1..20 --shard %d/2 "
                            "--json > %s/s%d.jsonl; test -s %s/s%d.jsonl",
                            tw_cli_twin, i, dir, i, dir, i), 0);
    /* the whole sweep's failing seeds */
    sh(out, sizeof out, false, "%s sim tests/data/flaky.yaml --seeds 1..20 --json", tw_cli_twin);
    int fails[20], failed = 0;
    for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"))
        if (strncmp(l, "{\"seed\": ", 9) == 0 && !strstr(l, "\"verdict\": \"pass\""))
            fails[failed++] = atoi(l + 9);
    assert_true(failed > 0 && failed < 20);
    int rc = sh(out, sizeof out, true, "%s report %s/s0.jsonl %s/s1.jsonl %s/s1.jsonl",
                tw_cli_twin, dir, dir, dir);
    assert_int_equal(rc, 1); /* the worst verdict: correctness */
    char counts[80];
    snprintf(counts, sizeof counts, "pass %d correctness %d", 20 - failed, failed);
    assert_non_null(strstr(out, "20 seeds (1..20)"));
    assert_non_null(strstr(out, counts));
    assert_non_null(strstr(out, "10 seed(s) met more than once"));
    for (int i = 0; i < failed; i++) {
        char seed[40];
        snprintf(seed, sizeof seed, "FAIL seed %d (correctness)", fails[i]);
        if (!strstr(out, seed))
            fail_msg("%s missing from the report:\n%s", seed, out);
    }
    assert_non_null(strstr(out, "reproduce with: "));
    assert_non_null(strstr(out, "faults that took effect in no seed of any shard:"));
    assert_non_null(strstr(out, "#0 partition bystander<->server"));
    /* not a sweep's lines */
    assert_int_equal(sh(out, sizeof out, true, "%s report scenarios/demo.yaml", tw_cli_twin), 2);
    rc = sh(out, sizeof out, true, "echo '{\"x\": 1}' > %s/bad.jsonl && %s report %s/bad.jsonl",
            dir, tw_cli_twin, dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "bad.jsonl:1: not a line of"));
    char rm[128];
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    assert_int_equal(system(rm), 0);
}

/* From the JSON lines of a sweep, the first failing seed: its replay
 * command must print the same trace hash. */
static void test_sweep_replay_reproduces_hash(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false, "%s sim tests/data/flaky.yaml --seeds 1..30 --json",
                tw_cli_twin);
    assert_int_equal(rc, 1); /* some seeds fail, all of them correctness */
    int lines = 0, failures = 0, passes = 0;
    char replay[600] = "";
    uint64_t want = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        lines++;
        char seed[32];
        snprintf(seed, sizeof seed, "{\"seed\": %d,", lines); /* each in order */
        if (strncmp(line, seed, strlen(seed)) != 0)
            fail_msg("line %d of the sweep is not seed %d's: %.80s", lines, lines, line);
        if (strstr(line, "\"verdict\": \"pass\"")) {
            passes++;
            continue;
        }
        if (!strstr(line, "\"verdict\": \"correctness\""))
            fail_msg("seed %d: neither pass nor correctness: %.200s", lines, line);
        if (failures++)
            continue;
        /* the first failing seed is replayed below */
        char *h = strstr(line, "\"hash\": \"");
        char *r = strstr(line, "\"replay\": \"");
        assert_non_null(h);
        assert_non_null(r);
        want = strtoull(h + 9, NULL, 16);
        r += 11;
        size_t n = strcspn(r, "\"");
        memcpy(replay, r, n);
        replay[n] = '\0';
    }
    assert_int_equal(lines, 30);
    assert_true(failures >= 1);
    assert_int_equal(passes + failures, lines);
    assert_non_null(strstr(replay, " sim tests/data/flaky.yaml --seed "));
    rc = sh(out, sizeof out, false, "%s", replay);
    assert_int_equal(rc, 1);
    assert_int_equal(printed_hash(out), want);
}

static void test_shards_split_the_range(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false,
                "%s sim scenarios/oneway_partition.yaml --seeds 1..10 --shard 1/3 --json",
                tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "{\"seed\": 2,"));
    assert_non_null(strstr(out, "{\"seed\": 5,"));
    assert_non_null(strstr(out, "{\"seed\": 8,"));
    assert_null(strstr(out, "{\"seed\": 1,"));
    assert_null(strstr(out, "{\"seed\": 3,"));
    assert_int_equal(sh(out, sizeof out, true, "%s sim scenarios/oneway_partition.yaml "
                                               "--seeds 1..10 --shard 3/3", tw_cli_twin), 2);
}

static void test_exit_status_per_verdict(void **state)
{
    (void)state;
    assert_int_equal(sh(out, sizeof out, false, "%s sim scenarios/echo_loss.yaml --seed 3",
                        tw_cli_twin), 0);
    assert_non_null(strstr(out, "result: PASS"));
    assert_int_equal(sh(out, sizeof out, false, "%s sim tests/data/too_slow.yaml --seed 1",
                        tw_cli_twin), 3);
    assert_non_null(strstr(out, "result: FAIL (liveness)"));
    assert_non_null(strstr(out, "reproduce with: "));
    /* A sweep exits with its worst verdict; warnings name inert faults. */
    assert_int_equal(sh(out, sizeof out, true, "%s sim tests/data/flaky.yaml --seeds 1..20",
                        tw_cli_twin), 1);
    assert_non_null(strstr(out, "warning: fault #0 (partition bystander<->server at "
                                "100ms for 200ms) never took effect"));
    assert_non_null(strstr(out, "reproduce with: "));
}

/* A fault due after a failure stopped the run had no turn: it is said
 * to be not reached, not inert, and a sweep does not ask to re-aim it. */
static void test_fault_after_the_end_is_not_reached(void **state)
{
    (void)state;
    char path[256];
    write_scenario(path, sizeof path, "early.yaml",
                   "name: early\nduration: 6s\nnodes:\n"
                   "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--host, \"\", "
                   "--port, \"7\", --keep-open, --quiet]}\n"
                   "  - {name: client, addr: 10.0.0.2, app: echo-load, args: [--connect, "
                   "\"server:7\", --messages, \"1000\", --quiet]}\n"
                   "network: {latency: 1ms}\n"
                   "timeline:\n"
                   "  - {at: 100ms, reset: server}\n"
                   "  - {at: 5s, partition: [client, server], for: 100ms}\n"
                   "quiet: {within: 2s}\n"
                   "expect: {connects_per_sec_max: 1}\n");
    /* the reconnect after the reset fails the run at 200ms */
    assert_int_equal(sh(out, sizeof out, false, "%s sim %s --seed 1", tw_cli_twin, path), 1);
    assert_non_null(strstr(out, "virtual time 200ms"));
    assert_non_null(strstr(out, "#0 reset server<->* at 100ms: 1 connections reset\n"));
    if (!strstr(out, "#1 partition client<->server at 5s for 100ms: 0 packets cut  "
                     "<- not reached: the run ended first\n"))
        fail_msg("the late fault is not said to be unreached:\n%s", out);
    assert_null(strstr(out, "INERT"));
    assert_int_equal(sh(out, sizeof out, true, "%s sim %s --seeds 1..3", tw_cli_twin, path), 1);
    if (!strstr(out, "note: fault #1 (partition client<->server at 5s for 100ms) was "
                     "reached in none of the 3 seeds: each run ended before its time\n"))
        fail_msg("the sweep does not say the late fault was unreached:\n%s", out);
    assert_null(strstr(out, "warning:"));
    assert_null(strstr(out, "aim it at live traffic"));
    /* nor does `report` list it among the faults no seed felt */
    char lines[300];
    snprintf(lines, sizeof lines, "%s/early.jsonl", tmpdir);
    sh(out, sizeof out, false, "%s sim %s --seeds 1..3 --json > %s", tw_cli_twin, path, lines);
    assert_int_equal(sh(out, sizeof out, true, "%s report %s", tw_cli_twin, lines), 1);
    assert_non_null(strstr(out, "correctness 3"));
    if (strstr(out, "took effect in no seed"))
        fail_msg("report lists a fault no run got to:\n%s", out);
    unlink(lines);
    unlink(path);
}

static void test_dump_schedule_replays(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/schedule.yaml", tmpdir);
    int rc = sh(out, sizeof out, false,
                "%s sim scenarios/swarm_echo.yaml --swarm --seed 11 --dump-schedule %s",
                tw_cli_twin, path);
    assert_int_equal(rc, 0);
    uint64_t swarm_hash = printed_hash(out);
    rc = sh(out, sizeof out, false, "%s sim %s --seed 11", tw_cli_twin, path);
    assert_int_equal(rc, 0);
    assert_int_equal(printed_hash(out), swarm_hash);
    assert_null(strstr(out, "(drawn)")); /* the file's own faults now */
}

static void test_shrink_command(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/shrunk.yaml", tmpdir);
    int rc = sh(out, sizeof out, false, "%s shrink tests/data/flaky.yaml --seed 1 --out %s",
                tw_cli_twin, path);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "shrunk: 2 fault(s) -> 0"));
    rc = sh(out, sizeof out, false, "%s sim %s --seed 1", tw_cli_twin, path);
    assert_int_equal(rc, 1); /* still the same failure, on its own */
    /* A passing seed: nothing to shrink. */
    rc = sh(out, sizeof out, false, "%s shrink scenarios/echo_loss.yaml --seed 1 --out %s",
            tw_cli_twin, path);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "passes: nothing to shrink"));
}

/* A seed a --swarm sweep failed, shrunk without --swarm, passes: the
 * command says that the file has a swarm section and --swarm is
 * missing, and with it the same seed shrinks. */
static void test_shrink_without_swarm_says_so(void **state)
{
    (void)state;
    char path[256], small[256];
    snprintf(small, sizeof small, "%s/swarm_only.small.yaml", tmpdir);
    /* Calm without --swarm; with it, one reset in the first 50 ms fails
     * a client that does not reconnect. */
    write_scenario(path, sizeof path, "swarm_only.yaml",
                   "duration: 1s\nnodes:\n"
                   "  - {name: server, addr: 10.0.0.1, app: echo-server, args: "
                   "[--host, \"\", --port, \"7\", --keep-open, --quiet]}\n"
                   "  - {name: client, addr: 10.0.0.2, app: echo-load, args: "
                   "[--connect, \"server:7\", --messages, \"200\", --timeout, 100ms, "
                   "--no-reconnect, --quiet]}\n"
                   "quiet: {within: 2s}\n"
                   "swarm: {faults: [reset], count: [1, 1], window: [10ms, 50ms]}\n");
    assert_int_equal(sh(out, sizeof out, false, "%s sim %s --swarm --seed 1", tw_cli_twin,
                        path), 1);
    int rc = sh(out, sizeof out, false, "%s shrink %s --seed 1 --out %s", tw_cli_twin,
                path, small);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "seed 1 passes without --swarm: nothing to shrink (the "
                                "file has a swarm section"));
    rc = sh(out, sizeof out, false, "%s shrink %s --swarm --seed 1 --out %s", tw_cli_twin,
            path, small);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "still fails (correctness)"));
    /* A file without a swarm section passes as before, with no hint. */
    rc = sh(out, sizeof out, false, "%s shrink scenarios/echo_loss.yaml --seed 1 --out %s",
            tw_cli_twin, small);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "seed 1 passes: nothing to shrink\n"));
}

static void test_determinism_trace_filter_apps(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false,
                "%s sim scenarios/crash_restart.yaml --seed 4 --check-determinism", tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "deterministic"));
    rc = sh(out, sizeof out, false, "%s sim scenarios/crash_restart.yaml --seed 4 "
                                    "--trace-filter 'node=c2,event=crash|restart'", tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, " c2 t0 crash "));
    assert_non_null(strstr(out, " c2 t0 restart "));
    assert_null(strstr(out, " server t"));
    assert_null(strstr(out, " c2 t1 data_received"));
    /* Past its 16 events a filter is refused, not cut short in silence
     * (the 17th, restart, would then never show). */
    rc = sh(out, sizeof out, true, "%s sim scenarios/crash_restart.yaml --seed 4 "
                                   "--trace-filter 'event=send|arrive|deliver|eof|open|"
                                   "closed|connect|accept|syn|listen|unlisten|reset|"
                                   "timeout|data_received|connection_made|"
                                   "connection_lost|restart'", tw_cli_twin);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "event=: at most 16 events (got 'restart' after them)"));
    /* and the help names every key the filter takes */
    sh(out, sizeof out, true, "%s sim --help", tw_cli_twin);
    assert_non_null(strstr(out, "from=TIME, to=TIME"));
    rc = sh(out, sizeof out, false, "%s apps", tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "echo-load\n"));
    assert_non_null(strstr(out, "in scenarios: reports when it is done; checks an invariant"));
}

/* The trace filter's keys: a transport and a window keep only their
 * records; each bad key or value is named, with status 2. */
static void test_trace_filter_keys(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false, "%s sim scenarios/crash_restart.yaml --seed 4 "
                                        "--trace-filter 't=1,from=1s,to=2s'", tw_cli_twin);
    assert_int_equal(rc, 0);
    unsigned records = 0;
    for (const char *l = out; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned long long sec, ns;
        char node[32], t[32];
        if (sscanf(l, " %llu.%9llu %31s %31s", &sec, &ns, node, t) != 4)
            continue;
        records++;
        if (strcmp(t, "t1") != 0 || sec * 1000000000ull + ns < 1000000000ull ||
            sec * 1000000000ull + ns > 2000000000ull)
            fail_msg("outside t=1, from=1s, to=2s: %.*s", (int)strcspn(l, "\n"), l);
    }
    assert_true(records > 10);
    /* JSON records are filtered too */
    rc = sh(out, sizeof out, false, "%s sim scenarios/crash_restart.yaml --seed 4 --trace-json "
                                    "--trace-filter node=c2", tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "{\"t\": "));
    for (const char *l = out; (l = strstr(l, "\"node\": \"")) != NULL; l++)
        if (strncmp(l, "\"node\": \"c2\"", 12) != 0)
            fail_msg("--trace-json, node=c2: %.*s", (int)strcspn(l, "\n"), l);
    /* several nodes, as several events: any of them */
    rc = sh(out, sizeof out, false, "%s sim scenarios/crash_restart.yaml --seed 4 --trace "
                                    "--trace-filter 'node=c1|c2'", tw_cli_twin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, " c1 t"));
    assert_non_null(strstr(out, " c2 t"));
    assert_null(strstr(out, " server t"));
    /* and the apps' lines, as records named app of their node */
    char path[256];
    write_scenario(path, sizeof path, "talk.yaml",
                   "name: talk\nduration: 1s\nnodes:\n"
                   "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--host, \"\", "
                   "--port, \"7\"]}\n"
                   "  - {name: client, addr: 10.0.0.2, app: echo-load, args: [--connect, "
                   "\"server:7\", --messages, \"3\"]}\n");
    rc = sh(out, sizeof out, false, "%s sim %s --seed 1 --trace --trace-filter node=client",
            tw_cli_twin, path);
    assert_int_equal(rc, 0);
    assert_null(strstr(out, "server| "));
    assert_non_null(strstr(out, " client t1 connection_made\n"));
    rc = sh(out, sizeof out, false, "%s sim %s --seed 1 --trace --trace-filter "
                                    "node=server,event=app", tw_cli_twin, path);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "server| Serving on 0.0.0.0:7\n"));
    assert_non_null(strstr(out, "server| Connection from 10.0.0.2:"));
    assert_null(strstr(out, " server t")); /* no record of the world */
    rc = sh(out, sizeof out, false, "%s sim %s --seed 1 --trace-json --trace-filter "
                                    "node=server,event=app", tw_cli_twin, path);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "{\"t\": 0.000000000, \"node\": \"server\", \"transport\": 0, "
                                "\"what\": \"app\", \"line\": \"Serving on 0.0.0.0:7\"}\n"));
    assert_null(strstr(out, "\"what\": \"listen\""));
    static const char *const bad[][2] = {
        {"t=one", "transport 'one' is not a number"},
        {"from=soon", "'soon' is not a duration"},
        {"colour=red", "unknown key 'colour' (node, event, t, from, to)"},
        {"node", "'node' is not KEY=VALUE"},
        {"node=nobody", "no node 'nobody' in the scenario"},
        {"node=c1|nobody", "no node 'nobody' in the scenario"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = sh(out, sizeof out, true, "%s sim scenarios/crash_restart.yaml --seed 4 "
                                       "--trace-filter '%s'", tw_cli_twin, bad[i][0]);
        if (rc != 2 || !strstr(out, bad[i][1]))
            fail_msg("--trace-filter '%s': exit %d, wanted \"%s\":\n%s", bad[i][0], rc,
                     bad[i][1], out);
    }
}

/* A kind of fault the swarm draws that no seed's traffic ever meets is
 * named: here fsync_fail, over apps that never fsync; the resets, drawn
 * while the client still sends, are not. */
static void test_sweep_names_an_inert_swarm_kind(void **state)
{
    (void)state;
    char path[256];
    write_scenario(path, sizeof path, "inert-swarm.yaml",
                   "name: inert-swarm\nduration: 1s\nnodes:\n"
                   "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--host, \"\", "
                   "--port, \"7\", --keep-open, --quiet]}\n"
                   "  - {name: client, addr: 10.0.0.2, app: echo-load, args: [--connect, "
                   "\"server:7\", --messages, \"3000\", --quiet]}\n"
                   "quiet:\n  within: 10s\n"
                   "swarm:\n  faults: [fsync_fail, reset]\n  window: [100ms, 1s]\n"
                   "  count: [2, 4]\n");
    int rc = sh(out, sizeof out, true, "%s sim %s --swarm --seeds 1..6", tw_cli_twin, path);
    assert_int_equal(rc, 0);
    const char *w = strstr(out, "warning: the swarm drew ");
    unsigned drawn = 0;
    if (!w || sscanf(w, "warning: the swarm drew %u fsync_fail fault(s); none took effect",
                     &drawn) != 1 || drawn == 0)
        fail_msg("no warning of the inert fsync_fail faults:\n%s", out);
    assert_non_null(strstr(out, "an inert fault makes a green sweep a lie"));
    assert_null(strstr(out, "reset fault(s); none took effect"));
}

/* `twin sim --trace-fields` lists the records with their fields and
 * meanings (the table the trace printer labels fields from, whose
 * completeness test_scenario_run checks), and says what a JSON trace
 * adds. */
static void test_trace_fields_lists_the_records(void **state)
{
    (void)state;
    assert_int_equal(sh(out, sizeof out, false, "%s sim --trace-fields", tw_cli_twin), 0);
    assert_non_null(strstr(out, "Each trace line: SECONDS.NANOSECONDS NODE tTRANSPORT WHAT"));
    assert_non_null(strstr(out, "what \"app\", field line"));
    assert_non_null(strstr(out, "\n  reset                    err                a connection reset\n"));
    assert_non_null(strstr(out, "\n  reset_unseen             err "));
    assert_non_null(strstr(out, "\n  fs_fsync                 "));
}

/* `twin demo --seed N` runs one seed twice: the replay's hash is the
 * run's, and it says how to see the trace. */
static void test_demo_one_seed_replays(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false, "%s demo --seed 3", tw_cli_twin);
    assert_int_equal(rc, 0);
    const char *run = strstr(out, "seed 3 ");
    assert_non_null(run);
    run = strstr(run, " hash ");
    assert_non_null(run);
    uint64_t h = strtoull(run + 6, NULL, 16);
    char want[512];
    snprintf(want, sizeof want, "replay of seed 3: hash %016" PRIx64 " (identical)\n", h);
    if (!strstr(out, want))
        fail_msg("wanted \"%s\":\n%s", want, out);
    snprintf(want, sizeof want, "replay it: %s demo --seed 3 --trace\n", tw_cli_twin);
    assert_non_null(strstr(out, want));
    /* with the trace (1.6 MB: its head and its end) */
    rc = sh(out, sizeof out, false, "%s demo --seed 3 --trace > %s/demo3.txt && "
                                    "grep -m1 SEED= %s/demo3.txt && grep -c ' data_received$' "
                                    "%s/demo3.txt && tail -3 %s/demo3.txt",
            tw_cli_twin, tmpdir, tmpdir, tmpdir, tmpdir);
    assert_int_equal(rc, 0);
    unsigned callbacks = 0;
    if (strncmp(out, "twin sim: SEED=3\n", 17) != 0 ||
        sscanf(strchr(out, '\n') + 1, "%u", &callbacks) != 1 || callbacks < 1000)
        fail_msg("%s", out);
    snprintf(want, sizeof want, "replay of seed 3: hash %016" PRIx64 " (identical)\n", h);
    assert_non_null(strstr(out, want));
}

/* The trace a user reads is the run the verdict reports: as many record
 * lines as its "N trace records", none after the closing "seed= hash="
 * line (the teardown after the run is no part of it). */
static void test_trace_ends_with_the_run(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false, "%s sim scenarios/crash_restart.yaml --seed 3 --trace",
                tw_cli_twin);
    assert_int_equal(rc, 0);
    const char *end = strstr(out, "twin sim: seed=3 hash=");
    assert_non_null(end);
    uint64_t lines = 0;
    bool after = false;
    for (const char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        unsigned long long sec, ns;
        char c;
        if (sscanf(l, " %llu.%9llu %c", &sec, &ns, &c) == 3) {
            lines++;
            after = after || l > end;
        }
    }
    const char *v = strstr(out, " events, ");
    assert_non_null(v);
    uint64_t records = strtoull(v + 9, NULL, 10);
    assert_true(records > 0);
    if (after || lines != records)
        fail_msg("%" PRIu64 " record lines (some after the closing line: %d), the verdict "
                 "says %" PRIu64 " trace records", lines, after, records);
}

/* expect: {linearizable: true} over apps that record nothing checks
 * nothing: a seed says so, and a sweep warns, rather than pass as if a
 * history had been judged. */
static void test_empty_history_is_said(void **state)
{
    (void)state;
    char path[256];
    write_scenario(path, sizeof path, "nohist.yaml",
                   "duration: 1s\nnodes:\n"
                   "  - {name: server, addr: 10.0.0.1, app: echo-server, args: "
                   "[--host, \"\", --port, \"7\", --keep-open, --quiet]}\n"
                   "  - {name: client, addr: 10.0.0.2, app: echo-load, args: "
                   "[--connect, \"server:7\", --messages, \"20\", --quiet]}\n"
                   "quiet: {within: 2s}\nexpect: {linearizable: true}\n");
    assert_int_equal(sh(out, sizeof out, false, "%s sim %s --seed 1", tw_cli_twin, path), 0);
    assert_non_null(strstr(out, "history: no app recorded an operation, so linearizable: "
                                "true checked nothing"));
    assert_int_equal(sh(out, sizeof out, true, "%s sim %s --seeds 1..3", tw_cli_twin, path), 0);
    assert_non_null(strstr(out, "warning: linearizable: true, but no app recorded an "
                                "operation in any of the 3 seeds checked"));
    /* A history that was there says how much was checked, and no warning. */
    assert_int_equal(sh(out, sizeof out, true, "%s sim scenarios/resp-partition.yaml "
                                               "--seed 1", tw_cli_twin), 0);
    assert_non_null(strstr(out, " operations checked\n"));
    assert_null(strstr(out, "checked nothing"));
}

/* Output that cannot be written is a failure: /dev/full takes nothing
 * (ENOSPC), for standard output and for the files the commands write. */
static void test_output_to_full_device(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    char cmd[512];
    /* Each: stderr read back, stdout (or the file) on /dev/full. */
    snprintf(cmd, sizeof cmd, "%s sim scenarios/echo_loss.yaml --seeds 1..400 --json "
             "2>&1 >/dev/full", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin: cannot write standard output: No space left on device"));
    /* the sweep stopped soon after: not all 400 seeds were run */
    assert_null(strstr(out, "400 seeds in"));
    snprintf(cmd, sizeof cmd, "%s sim scenarios/echo_loss.yaml --seed 1 --trace "
             "2>&1 >/dev/full", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin: cannot write standard output: No space left on device"));
    snprintf(cmd, sizeof cmd, "%s sim scenarios/swarm_echo.yaml --swarm --seed 1 "
             "--dump-schedule /dev/full 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin: cannot write /dev/full: No space left on device"));
    assert_null(strstr(out, "written"));
    assert_null(strstr(out, "result:")); /* stopped before the run */
    snprintf(cmd, sizeof cmd, "%s sim scenarios/swarm_echo.yaml --swarm --seed 1 "
             "--dump-schedule - 2>&1 >/dev/full", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "cannot write the schedule to standard output"));
    assert_null(strstr(out, "written"));
    snprintf(cmd, sizeof cmd, "%s shrink tests/data/flaky.yaml --seed 1 --out /dev/full 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin: cannot write /dev/full: No space left on device"));
    assert_null(strstr(out, "written to"));
    snprintf(cmd, sizeof cmd, "%s apps 2>&1 >/dev/full", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "cannot write standard output"));
}

/* --max-wall: a seed slower than that in wall-clock time is stopped and
 * reported as a timeout (exit 5) with its replay command; a sweep and a
 * shrink stop it the same way. tests/data/endless.yaml would run for
 * hours. */
static void test_max_wall(void **state)
{
    (void)state;
    int rc = sh(out, sizeof out, false, "%s sim tests/data/endless.yaml --seed 1 "
                "--max-wall 300ms", tw_cli_twin);
    assert_int_equal(rc, 5);
    assert_non_null(strstr(out, "result: FAIL (timeout)"));
    assert_non_null(strstr(out, "ran longer than --max-wall 300ms of wall-clock time; "
                                "stopped at virtual time "));
    assert_non_null(strstr(out, "reproduce with: "));
    assert_non_null(strstr(out, " sim tests/data/endless.yaml --seed 1 --max-wall 300ms\n"));
    rc = sh(out, sizeof out, true, "%s sim tests/data/endless.yaml --seeds 1..2 "
            "--max-wall 100ms --json", tw_cli_twin);
    assert_int_equal(rc, 5);
    assert_non_null(strstr(out, "{\"seed\": 1, \"verdict\": \"timeout\", \"exit\": 5,"));
    assert_non_null(strstr(out, "{\"seed\": 2, \"verdict\": \"timeout\", \"exit\": 5,"));
    assert_non_null(strstr(out, "FAIL seed 2 (timeout): ran longer than --max-wall 100ms"));
    assert_non_null(strstr(out, "2 failed (0 correctness, 0 liveness, 0 crash, 2 timeout)"));
    /* a timeout is the mildest failure: a sweep with a real one exits
     * with that */
    rc = sh(out, sizeof out, true, "%s sim tests/data/endless.yaml tests/data/too_slow.yaml "
            "--seeds 1..1 --max-wall 100ms", tw_cli_twin);
    assert_int_equal(rc, 3);
    rc = sh(out, sizeof out, true, "%s shrink tests/data/endless.yaml --seed 1 "
            "--max-wall 100ms", tw_cli_twin);
    assert_int_equal(rc, 5);
    assert_non_null(strstr(out, "seed 1 ran longer than --max-wall 100ms of wall-clock "
                                "time (TIMEOUT): nothing to shrink"));
    /* twin demo sweeps too (1ns: every seed is over it) */
    rc = sh(out, sizeof out, false, "%s demo --seeds 1..2 --max-wall 1ns", tw_cli_twin);
    assert_int_equal(rc, 5);
    assert_non_null(strstr(out, "2 seeds: 0 passed, 0 correctness, 0 liveness, 0 crash, "
                                "2 timeout"));
    assert_non_null(strstr(out, "replay it: "));
    assert_non_null(strstr(out, " demo --seed 2 --max-wall 1ns\n"));
    rc = sh(out, sizeof out, true, "%s sim tests/data/endless.yaml --max-wall soon",
            tw_cli_twin);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--max-wall: expected a duration like 60s or 10m (0: no "
                                "limit), got 'soon'"));
    rc = sh(out, sizeof out, true, "%s sim tests/data/endless.yaml --max-wall 99999999999h",
            tw_cli_twin);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "--max-wall: too large"));
}

int main(void)
{
    tw_cli_init();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/twin-scenario-cli-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        TW_TEST(test_bad_file_exit_2),
        TW_TEST(test_sweep_replay_reproduces_hash),
        TW_TEST(test_report_merges_shards),
        TW_TEST(test_shards_split_the_range),
        TW_TEST(test_exit_status_per_verdict),
        TW_TEST(test_fault_after_the_end_is_not_reached),
        TW_TEST(test_dump_schedule_replays),
        TW_TEST(test_shrink_command),
        TW_TEST(test_shrink_without_swarm_says_so),
        TW_TEST(test_determinism_trace_filter_apps),
        TW_TEST(test_trace_ends_with_the_run),
        TW_TEST(test_trace_filter_keys),
        TW_TEST(test_sweep_names_an_inert_swarm_kind),
        TW_TEST(test_demo_one_seed_replays),
        TW_TEST(test_trace_fields_lists_the_records),
        TW_TEST(test_empty_history_is_said),
        TW_TEST(test_output_to_full_device),
        TW_TEST(test_max_wall),
    };
    int rc = cmocka_run_group_tests_name("scenario_cli", tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (tw_cli_run(cmd, out, sizeof out) != 0)
        rc = rc ? rc : 1;
    return rc;
}
