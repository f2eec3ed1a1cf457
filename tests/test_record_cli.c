/* tests/test_record_cli.c - `twin run --record` under real clients on
 * loopback, then `twin replay` of the file in the simulator: the echo
 * server under socat, the UDP echo server under socat, the RESP server
 * under redis-cli and redis-benchmark (200 requests), the echo and UDP
 * echo clients against the servers' recorded answers. Each replay must
 * report the very writes the real run made (exit 0, "replay: SAME").
 * A scenario node replays a recording too. Then what the command says
 * about its options, a difference, and the
 * test skeleton `twin recording --to-test` prints, compiled and run;
 * `twin recording`'s listing and fuzz seed, replay's own options.
 * A tool that is not installed skips its test.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

static char dir[64];

/* Start `twin run --record dir/name [extra] APP ARGS --port 0`; the port
 * from its first line. */
static uint16_t start(tw_proc *srv, const char *name, const char *app,
                      const char *extra)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *argv[12];
    int k = 0;
    argv[k++] = tw_cli_twin;
    argv[k++] = "run";
    argv[k++] = "--record";
    argv[k++] = path;
    if (extra)
        argv[k++] = (char *)extra;
    argv[k++] = (char *)app;
    argv[k++] = "--port";
    argv[k++] = "0";
    argv[k] = NULL;
    tw_proc_spawn(srv, argv);
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    if (strncmp(line, "Starting", 8) == 0) /* the UDP server's first line */
        assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    if (sscanf(line, "Serving on 127.0.0.1:%u", &port) != 1)
        fail_msg("%s: '%s'", app, line);
    return (uint16_t)port;
}

/* `twin replay dir/name APP --port P`: its exit status, its output. */
static int replay(const char *name, const char *app, uint16_t port, char *out,
                  size_t len)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s replay %s/%s %s --port %u 2>&1", tw_cli_twin, dir,
             name, app, port);
    return tw_cli_run(cmd, out, len);
}

static void sh(const char *fmt, uint16_t port)
{
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, fmt, port, port);
    int rc = tw_cli_run(cmd, out, sizeof out);
    if (rc != 0)
        fail_msg("'%s' exited %d: %s", cmd, rc, out);
}

static void expect_same(const char *name, const char *app, uint16_t port)
{
    static char out[1 << 16];
    int rc = replay(name, app, port, out, sizeof out);
    if (rc != 0 || !strstr(out, "replay: SAME"))
        fail_msg("replay of %s exited %d:\n%s", name, rc, out);
}

static void test_echo_server_under_socat_replays_the_same(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "echo.rec", "echo-server", NULL);
    sh("printf 'hello\\nworld\\n' | socat -t 5 - TCP:127.0.0.1:%u", port);
    sh("(printf one; sleep 0.1; printf two) | socat -t 5 - TCP:127.0.0.1:%u", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    expect_same("echo.rec", "echo-server", port);
}

static void test_udp_echo_server_under_socat_replays_the_same(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "udp.rec", "udp-echo-server", NULL);
    sh("printf 'ping-one' | socat -t 5 - UDP4:127.0.0.1:%u,readbytes=8", port);
    sh("printf 'ping-two!' | socat -t 5 - UDP4:127.0.0.1:%u,readbytes=9", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    expect_same("udp.rec", "udp-echo-server", port);
}

static void test_resp_server_under_redis_tools_replays_the_same(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-cli") || !tw_cli_have("redis-benchmark"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "resp.rec", "resp-server", NULL);
    sh("redis-cli -p %u set greeting hello >/dev/null && "
       "redis-cli -p %u get greeting | grep -qx hello", port);
    sh("redis-benchmark -p %u -n 200 -c 4 -P 4 -t set,get,incr,ping -q >/dev/null"
       " && echo %u >/dev/null", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    expect_same("resp.rec", "resp-server", port);
    /* Replayed against the echo server instead: the first difference. */
    static char out[1 << 16];
    assert_int_equal(replay("resp.rec", "echo-server", port, out, sizeof out), 1);
    if (!strstr(out, "replay: DIFFER t1 (127.0.0.1:") ||
        !strstr(out, "the writes differ at byte 0: expected \"+OK\\r\\n\""))
        fail_msg("%s", out);
}

/* A client app recorded against a server of twin's own (argv; its line
 * "Serving on 127.0.0.1:PORT" comes after skip others), the server
 * stopped, then replayed with the same options against the replay's own
 * peer: it gets what it got (said, a line of its output) and the replay
 * is the same. Replayed with another message, the replay fails: out has
 * what it said, and the server's port is returned to name it. */
static unsigned record_then_replay(char **server, int skip, const char *app,
                                   const char *said, char *out, size_t outlen)
{
    tw_proc srv;
    tw_proc_spawn(&srv, server);
    char line[256];
    unsigned port = 0;
    for (int i = 0; i < skip; i++)
        assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s run --record %s/%s.rec %s --connect "
             "127.0.0.1:%u --message hello 2>&1", tw_cli_twin, dir, app, app, port);
    assert_int_equal(tw_cli_run(cmd, out, outlen), 0);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    snprintf(cmd, sizeof cmd, "%s replay %s/%s.rec %s --connect "
             "127.0.0.1:%u --message hello 2>&1", tw_cli_twin, dir, app, app, port);
    int rc = tw_cli_run(cmd, out, outlen);
    if (rc != 0 || !strstr(out, said) || !strstr(out, "replay: SAME"))
        fail_msg("exit %d: %s", rc, out);
    snprintf(cmd, sizeof cmd, "%s replay %s/%s.rec %s --connect "
             "127.0.0.1:%u --message help 2>&1", tw_cli_twin, dir, app, app, port);
    assert_int_equal(tw_cli_run(cmd, out, outlen), 1);
    return port;
}

/* A client app: its connection is made by the app, so in the replay a
 * peer listens on the recorded port and answers as the server did. */
static void test_echo_client_replays_against_a_listening_peer(void **state)
{
    (void)state;
    char *sv[] = {tw_cli_twin, "run", "echo-server", "--port", "0", "--keep-open", NULL};
    char out[4096];
    record_then_replay(sv, 0, "echo-client", "Data received: 'hello'", out, sizeof out);
    /* Another message: the first byte that differs, named. */
    if (!strstr(out, "the writes differ at byte 3: expected \"lo\", got \"p\""))
        fail_msg("%s", out);
}

/* A UDP client app: its endpoint is connected to the server's address,
 * so it takes datagrams from that address alone, and its own port is the
 * system's pick, another in the replay. The replay's peer binds the
 * server's recorded port and answers to wherever the app's datagram came
 * from: the client gets its echo and the replay is the same. */
static void test_udp_echo_client_replays_against_a_bound_peer(void **state)
{
    (void)state;
    char *sv[] = {tw_cli_twin, "run", "udp-echo-server", "--port", "0", NULL};
    char out[4096];
    unsigned port = record_then_replay(sv, 1, "udp-echo-client", "Received: 'hello'", out,
                                       sizeof out);
    /* Another message: the datagram that differs, and where the endpoint
     * was connected to. */
    char want[128];
    snprintf(want, sizeof want, " udp -> 127.0.0.1:%u): the writes differ at datagram 0: "
             "expected \"hello\", got \"help\"", port);
    if (!strstr(out, want))
        fail_msg("wanted '%s' in: %s", want, out);
    /* Its datagrams make a fuzz seed; a scripted-peer test they cannot
     * (the peer scripts streams), and --to-test says so rather than
     * print a test that scripts nothing. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s recording %s/udp-echo-client.rec --to-fuzz-seed %s/u.seed 2>&1",
             tw_cli_twin, dir, dir);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    const char *no = "t1 is a datagram endpoint, and the scripted peer of a test "
                     "(twin/simtest.h) scripts streams only";
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s recording %s/udp-echo-client.rec --to-test%s 2>&1",
                 tw_cli_twin, dir, i ? " --transport 1" : "");
        int rc = tw_cli_run(cmd, out, sizeof out);
        if (rc != 2 || !strstr(out, no) || strstr(out, "tw_simtest_new"))
            fail_msg("--to-test of a datagram endpoint: exit %d: %s", rc, out);
    }
    /* Redacted, a datagram of another size differs, and the verdict
     * says the recorded one's size. */
    tw_proc srv;
    tw_proc_spawn(&srv, sv);
    char line[256];
    assert_true(tw_proc_line(&srv, line, sizeof line)); /* Starting */
    assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    snprintf(cmd, sizeof cmd, "%s run --record %s/red.rec --record-redact udp-echo-client "
             "--connect 127.0.0.1:%u --message hello 2>&1", tw_cli_twin, dir, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    snprintf(cmd, sizeof cmd, "%s replay %s/red.rec udp-echo-client --connect 127.0.0.1:%u "
             "--message help 2>&1", tw_cli_twin, dir, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "the writes differ at datagram 0: expected 5 bytes (redacted), "
                     "got \"help\""))
        fail_msg("%s", out);
}

/* A scenario node of kind replay: the RESP recording's peers played
 * against resp-server on a node of a scenario file; against echo-server
 * the run is a correctness failure naming the first difference. */
static void test_scenario_node_replays_a_recording(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-cli"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "scn.rec", "resp-server", NULL);
    sh("redis-cli -p %u set k v >/dev/null && redis-cli -p %u get k | grep -qx v", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    static char cmd[2048], out[1 << 16];
    const char *apps[] = {"resp-server", "echo-server"};
    for (int i = 0; i < 2; i++) {
        char yaml[256];
        snprintf(yaml, sizeof yaml, "%s/replay-%d.yaml", dir, i);
        FILE *f = fopen(yaml, "w");
        assert_non_null(f);
        fprintf(f, "name: replay-%d\nduration: 5s\nnodes:\n"
                   "  - name: server\n    addr: 10.0.0.1\n    app: %s\n"
                   "    args: [--port, \"%u\"]\n    replay: %s/scn.rec\n"
                   "network:\n  chunk_split: 0\n",
                i, apps[i], port, dir);
        fclose(f);
        snprintf(cmd, sizeof cmd, "%s sim %s --seed 1 --verbose 2>&1", tw_cli_twin, yaml);
        int rc = tw_cli_run(cmd, out, sizeof out);
        if (i == 0 && (rc != 0 || !strstr(out, "server| replay: SAME: 2 transports")))
            fail_msg("resp-server: exit %d\n%s", rc, out);
        if (i == 1 && (rc == 0 || !strstr(out, "server: replay: t1 (127.0.0.1:") ||
                       !strstr(out, "the writes differ at byte 0")))
            fail_msg("echo-server: exit %d\n%s", rc, out);
    }
}

static void test_record_options_are_checked(void **state)
{
    (void)state;
    char cmd[512], out[1024];
    snprintf(cmd, sizeof cmd, "%s run --record-ring 1000 --record %s/x.rec echo-server 2>&1",
             tw_cli_twin, dir);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--record ring: 1000 bytes is below the least"));
    snprintf(cmd, sizeof cmd, "%s run --record-max 1MiB echo-server 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "go with --record FILE"));
    snprintf(cmd, sizeof cmd, "%s run --record /nonexistent/x.rec echo-server 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "--record /nonexistent/x.rec: No such file or directory"));
    snprintf(cmd, sizeof cmd, "%s replay %s/none.rec echo-server 2>&1", tw_cli_twin, dir);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "none.rec: No such file or directory"));
}

/* `cmd 2>&1` (formatted with the rest): its exit status; out has what
 * it printed. */
static int run_fmt(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run_fmt(char *out, size_t len, const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd - 8, fmt, ap);
    va_end(ap);
    strcat(cmd, " 2>&1");
    return tw_cli_run(cmd, out, len);
}

/* What `twin recording` shows of a recorded echo connection, the fuzz
 * seed it makes of it, and `twin replay`'s own options: the trace, the
 * seed, the capture; each bad value named. */
static void test_recording_dump_seed_and_replay_options(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "op.rec", "echo-server", NULL);
    sh("printf 'hello\\nworld\\n' | socat -t 5 - TCP:127.0.0.1:%u", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    static char out[1 << 16];

    /* the records, one line each, after a header naming the file */
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec", tw_cli_twin, dir), 0);
    char head[128];
    snprintf(head, sizeof head, "# %s/op.rec: version ", dir);
    if (strncmp(out, head, strlen(head)) != 0 || !strstr(out, " t1 open 127.0.0.1:") ||
        !strstr(out, " accepted\n") || !strstr(out, " t1 lost\n"))
        fail_msg("%s", out);
    unsigned got = 0, wrote = 0;
    for (const char *l = out; (l = strchr(l, '\n')) != NULL; l++) {
        unsigned n;
        if (sscanf(l + 1, "%*s t1 data %u bytes", &n) == 1)
            got += n;
        else if (sscanf(l + 1, "%*s t1 write %u bytes", &n) == 1)
            wrote += n;
    }
    assert_int_equal(got, 12);
    assert_int_equal(wrote, 12);

    /* the bytes t1 received, as tw_fuzz_protocol's input: a header (the
     * count of cuts), the cuts (each a chunk's size less one), the bytes */
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-fuzz-seed %s/op.seed",
                             tw_cli_twin, dir, dir), 0);
    if (!strstr(out, "op.seed: t1's ") || !strstr(out, " (12 bytes), as tw_fuzz_protocol"))
        fail_msg("%s", out);
    char path[128];
    snprintf(path, sizeof path, "%s/op.seed", dir);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t seed[64];
    size_t n = fread(seed, 1, sizeof seed, f);
    fclose(f);
    size_t cuts = seed[0], sum = 0;
    assert_true(cuts >= 1 && n == 1 + cuts + 12);
    for (size_t i = 0; i < cuts; i++)
        sum += seed[1 + i] + 1u;
    assert_int_equal(sum, 12);
    assert_memory_equal(seed + 1 + cuts, "hello\nworld\n", 12);

    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-test --to-fuzz-seed x",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "--to-fuzz-seed and --to-test: pick one"));
    /* a word it does not take is named before the usage; a file after
     * --to-test is told where the test goes */
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-test t.c",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "recording: unexpected argument 't.c' (--to-test writes the "
                                "test on stdout: > FILE)\nusage: "));
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-fuzz-seed",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "recording: --to-fuzz-seed needs a value\n"));
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-tset",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "recording: unknown option '--to-tset'\n"));
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --transport t0",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "bad --transport 't0'"));
    assert_int_equal(run_fmt(out, sizeof out, "%s recording %s/op.rec --to-fuzz-seed %s/x "
                             "--transport 7", tw_cli_twin, dir, dir), 2);
    assert_non_null(strstr(out, "t7"));

    /* the replay's trace, under the seed asked for, and its capture */
    assert_int_equal(run_fmt(out, sizeof out, "%s replay %s/op.rec --trace --seed 9 --pcap %s "
                             "echo-server --port %u", tw_cli_twin, dir, dir, port), 0);
    if (!strstr(out, "twin sim: SEED=9\n") || !strstr(out, " t1 data_received\n") ||
        !strstr(out, "replay: SAME") || !strstr(out, "replay: seed=9 hash="))
        fail_msg("%s", out);
    snprintf(head, sizeof head, "capture: %s/app.pcapng", dir);
    assert_non_null(strstr(out, head));
    snprintf(path, sizeof path, "%s/app.pcapng", dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t magic[4] = {0};
    assert_int_equal(fread(magic, 1, 4, f), 4);
    fclose(f);
    assert_memory_equal(magic, "\x0a\x0d\x0d\x0a", 4); /* a pcapng section */

    /* bad values, named; replay's own options after the app's name */
    assert_int_equal(run_fmt(out, sizeof out, "%s replay %s/op.rec --seed x echo-server",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "replay: bad --seed 'x'"));
    assert_int_equal(run_fmt(out, sizeof out, "%s replay %s/op.rec --tail 0 echo-server",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "replay: bad --tail '0'"));
    assert_int_equal(run_fmt(out, sizeof out, "%s replay %s/op.rec --fast echo-server",
                             tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "replay: unknown option '--fast'"));
    assert_int_equal(run_fmt(out, sizeof out, "%s replay %s/op.rec echo-server --port %u --trace",
                             tw_cli_twin, dir, port), 2);
    if (!strstr(out, "echo-server: unknown option --trace") ||
        !strstr(out, "replay's own options (--trace) go before the app's name"))
        fail_msg("%s", out);
}

/* The skeleton of a recorded echo connection, compiled against the
 * build's library with the echo server as make_protocol: it passes. */
static void test_recording_to_test_skeleton_compiles_and_passes(void **state)
{
    (void)state;
    if (!tw_cli_have("socat") || !tw_cli_have("clang"))
        skip();
    tw_proc srv;
    uint16_t port = start(&srv, "sk.rec", "echo-server", NULL);
    sh("(printf 'abc'; sleep 0.1; printf 'def') | socat -t 5 - TCP:127.0.0.1:%u", port);
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
    /* The tree is the working directory; the build is TWIN_BUILD, whose
     * library a sanitized build (BUILD-asan) or a gcov build links with
     * its runtime. */
    char tree[512];
    assert_non_null(getcwd(tree, sizeof tree));
    const char *build = getenv("TWIN_BUILD") ? getenv("TWIN_BUILD") : "build";
    size_t bl = strlen(build);
    const char *san = bl > 5 && strcmp(build + bl - 5, "-asan") == 0
                          ? "-fsanitize=address,undefined" : "";
    /* a gcov build (BUILD-cov, make coverage) links gcov's runtime */
    const char *gcov = bl > 4 && strcmp(build + bl - 4, "-cov") == 0 ? "-lgcov" : "";
    static char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s recording %s/sk.rec --to-test > %s/sk_test.c && "
             "printf '#include <twin/echo.h>\n"
             "static tw_echo_server_cfg cfg;\n"
             "tw_protocol *make_protocol(void *arg) "
             "{ (void)arg; return tw_echo_server_factory(&cfg); }\n' > %s/sk_proto.c && "
             "clang -std=gnu11 %s -I%s/include %s/sk_test.c %s/sk_proto.c %s%s%s/libtwin.a "
             "%s -lcmocka -pthread -lyaml -lssl -lcrypto -o %s/sk_test 2>&1 && %s/sk_test 2>&1",
             tw_cli_twin, dir, dir, dir, san, tree, dir, dir, build[0] == '/' ? "" : tree,
             build[0] == '/' ? "" : "/", build, gcov, dir, dir);
    int rc = tw_cli_run(cmd, out, sizeof out);
    if (rc != 0 || !strstr(out, "[  PASSED  ] 1 test(s)."))
        fail_msg("skeleton: exit %d\n%s", rc, out);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/twin-reccli-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_echo_server_under_socat_replays_the_same,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_echo_server_under_socat_replays_the_same,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_resp_server_under_redis_tools_replays_the_same,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_echo_client_replays_against_a_listening_peer,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_echo_client_replays_against_a_bound_peer,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_scenario_node_replays_a_recording, tw_cli_teardown),
        cmocka_unit_test_teardown(test_record_options_are_checked, tw_cli_teardown),
        cmocka_unit_test_teardown(test_recording_to_test_skeleton_compiles_and_passes,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_recording_dump_seed_and_replay_options,
                                  tw_cli_teardown),
    };
    return cmocka_run_group_tests_name("twin run --record, twin replay", tests, setup,
                                       teardown);
}
