/* tests/test_resp_cli.c - `twin run resp-server` on the real backend,
 * spoken to by real clients: redis-cli (Debian's redis-tools) in its
 * one-command, stdin and --pipe modes, and twin's own checked workload
 * (`twin run resp-client`). Loopback only; skipped where redis-cli is
 * not installed. Last, `twin sim` over the resp scenario files.
 *
 * Map: processes; the server; redis-cli; the checked workload; the
 * scenarios.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

/* ---- processes ---- */

/* ---- the server ---- */

static uint16_t start_server(tw_proc *srv, char *extra)
{
    char *argv[] = {tw_cli_twin, "run", "resp-server", "--port", "0", extra, NULL};
    tw_proc_spawn(srv, argv);
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    return (uint16_t)port;
}

/* redis-cli ARGS against the server; its output must be `want`. */
static void cli(uint16_t port, const char *args, const char *want)
{
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "redis-cli -p %u %s", port, args);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    if (strcmp(out, want) != 0)
        fail_msg("redis-cli %s\n  printed '%s'\n  wanted  '%s'", args, out, want);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- redis-cli ---- */

static void test_redis_cli_commands(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-cli"))
        skip();
    tw_proc srv;
    uint16_t port = start_server(&srv, NULL);
    cli(port, "PING", "PONG\n");
    cli(port, "SET greeting 'hello world'", "OK\n");
    cli(port, "GET greeting", "hello world\n");
    cli(port, "--no-raw GET greeting", "\"hello world\"\n");
    cli(port, "GET nothing", "\n");
    cli(port, "--no-raw GET nothing", "(nil)\n");
    cli(port, "INCR visits", "1\n");
    cli(port, "--no-raw INCRBY visits 41", "(integer) 42\n");
    cli(port, "MSET a 1 b 2", "OK\n");
    cli(port, "--no-raw MGET a nope b", "1) \"1\"\n2) (nil)\n3) \"2\"\n");
    /* TTL counts down from 100 s: how far depends on how long the two
     * commands took apart (Redis rounds to the nearest second) */
    int64_t t0 = now_ms();
    cli(port, "SET k v EX 100", "OK\n");
    char cmd[64], out[64];
    snprintf(cmd, sizeof cmd, "redis-cli -p %u TTL k", port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    int64_t took = now_ms() - t0;
    long ttl = strtol(out, NULL, 10);
    if (ttl > 100 || ttl < 100 - (took + 999) / 1000)
        fail_msg("TTL %ld, %lld ms after SET ... EX 100", ttl, (long long)took);
    cli(port, "SET k v2 NX", "\n");
    cli(port, "EXISTS a b nope", "2\n");
    cli(port, "DEL a b", "2\n");
    cli(port, "DBSIZE", "3\n");
    cli(port, "ECHO 'two words'", "two words\n");
    cli(port, "FOO a b",
        "ERR unknown command 'FOO', with args beginning with: 'a' 'b' \n\n");
    cli(port, "GET", "ERR wrong number of arguments for 'get' command\n\n");
    cli(port, "-2 PING", "PONG\n"); /* HELLO 2 first */
    cli(port, "FLUSHALL", "OK\n");
    cli(port, "DBSIZE", "0\n");
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* A server with --appendonly in dir (appendfsync as given); returns its
 * port. Its first line says what it loaded. */
static uint16_t start_aof_server(tw_proc *srv, char *dir, char *fsync, char *loaded,
                                 size_t len)
{
    char *argv[] = {tw_cli_twin, "run", "resp-server", "--port", "0", "--appendonly",
                    "--dir", dir, "--appendfsync", fsync, NULL};
    tw_proc_spawn(srv, argv);
    assert_true(tw_proc_line(srv, loaded, len));
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    return (uint16_t)port;
}

/* Restarted, the server has what redis-cli wrote: after a clean stop,
 * and after being killed (SIGKILL) with appendfsync always. */
static void test_redis_cli_persistent_server_restarted(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-cli"))
        skip();
    char dir[] = "/tmp/twin-aof-cli-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tw_proc srv;
    char loaded[256], want[300];
    uint16_t port = start_aof_server(&srv, dir, "everysec", loaded, sizeof loaded);
    snprintf(want, sizeof want, "Loaded %s/appendonly.aof: 0 keys", dir);
    assert_string_equal(loaded, want);
    cli(port, "SET greeting 'hello world'", "OK\n");
    cli(port, "INCRBY visits 41", "41\n");
    cli(port, "INCR visits", "42\n");
    cli(port, "SET gone soon", "OK\n");
    cli(port, "DEL gone", "1\n");
    cli(port, "SET later v EX 1000", "OK\n");
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);

    port = start_aof_server(&srv, dir, "always", loaded, sizeof loaded);
    snprintf(want, sizeof want, "Loaded %s/appendonly.aof: 3 keys", dir);
    assert_string_equal(loaded, want);
    cli(port, "GET greeting", "hello world\n");
    cli(port, "GET visits", "42\n");
    cli(port, "EXISTS gone", "0\n");
    char cmd[128], out[64];
    snprintf(cmd, sizeof cmd, "redis-cli -p %u TTL later", port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    long ttl = strtol(out, NULL, 10);
    if (ttl < 990 || ttl > 1000)
        fail_msg("TTL after the restart: %s", out);
    cli(port, "INCR visits", "43\n");
    tw_proc_finish(&srv, SIGKILL); /* no chance to flush anything */

    port = start_aof_server(&srv, dir, "always", loaded, sizeof loaded);
    cli(port, "GET visits", "43\n");
    cli(port, "DBSIZE", "3\n");
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_redis_cli_stdin_and_pipe_mode(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-cli"))
        skip();
    tw_proc srv;
    uint16_t port = start_server(&srv, NULL);
    char cmd[1024], out[8192];
    /* Commands on stdin, one per line. */
    snprintf(cmd, sizeof cmd,
             "printf 'SET a 1\\nINCR a\\nGET a\\n' | redis-cli -p %u", port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "OK\n2\n2\n");
    /* --pipe: 10,000 requests written at once, as for a mass import;
     * redis-cli counts the replies and checks its own ECHO comes back. */
    snprintf(cmd, sizeof cmd,
             "i=0; while [ $i -lt 10000 ]; do printf 'SET key:%%d %%d\\r\\n' $i $i; "
             "i=$((i+1)); done | redis-cli -p %u --pipe", port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "errors: 0, replies: 10000"));
    cli(port, "DBSIZE", "10001\n");
    cli(port, "GET key:9999", "9999\n");
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* ---- the checked workload, and the limits a real client meets ---- */

static void test_resp_client_and_limits(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_server(&srv, "--max-bulk=1024");
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s run resp-client --connect 127.0.0.1:%u --ops 20000 --pipeline 16 "
             "--px-max 50ms", tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "20000 ops checked over 1 connection(s)"));
    if (tw_cli_have("redis-cli")) {
        /* A value past --max-bulk: an error reply, then the connection
         * is closed (redis-cli says so on stderr). */
        snprintf(cmd, sizeof cmd,
                 "head -c 2000 /dev/zero | tr '\\0' x | redis-cli -p %u -x SET big 2>&1",
                 port);
        tw_cli_run(cmd, out, sizeof out);
        assert_non_null(strstr(out, "Protocol error: invalid bulk length"));
        cli(port, "EXISTS big", "0\n");
    }
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
}

/* Nothing listens: --attempts N gives up after N connects, as echo-load
 * does, and the run fails (without it the client retries for ever). */
static void test_resp_client_gives_up_after_attempts(void **state)
{
    (void)state;
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s run resp-client --connect 127.0.0.1:%u --attempts 3 --retry 10ms",
             tw_cli_twin, tw_cli_free_port(SOCK_STREAM));
    int64_t t0 = now_ms();
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    int failures = 0;
    for (const char *p = out; (p = strstr(p, "resp-client: connection failed (")); p++)
        failures++;
    if (failures != 3)
        fail_msg("%d failures reported, wanted 3:\n%s", failures, out);
    /* 10 + 20 ms of back-off, no watchdog left to wait for */
    assert_true(now_ms() - t0 < 10000);
    /* the option is checked like any other */
    snprintf(cmd, sizeof cmd, "%s run resp-client --attempts x 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--attempts"));
}

/* ---- the descriptor limit ---- */

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* What comes on fd until the server's end of it, or 10 s (a hang). */
static size_t read_to_eof(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    int64_t end = now_ms() + 10000;
    while (n < cap - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(end - now_ms());
        if (left <= 0 || poll(&p, 1, left) != 1)
            break;
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    return n;
}

/* With RLIMIT_NOFILE at 48 (soft and hard), maxclients is lowered to
 * 48 - 32 at start, and said so once; a client past it is told so and
 * closed, as Redis does, where it used to wait in the backlog unanswered
 * once descriptors ran out. */
static void test_maxclients_within_the_descriptor_limit(void **state)
{
    (void)state;
    enum { N = 20, MAX = 16 };
    char script[512];
    snprintf(script, sizeof script,
             "ulimit -n 48 && exec %s run resp-server --port 0", tw_cli_twin);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    tw_proc srv;
    tw_proc_spawn(&srv, argv);
    char line[256];
    assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_string_equal(line, "resp-server: maxclients lowered from 10000 to 16: the "
                              "open-file limit (ulimit -n) is 48, 32 of them kept for "
                              "the server");
    assert_true(tw_proc_line(&srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    int fd[N];
    for (int i = 0; i < N; i++) {
        fd[i] = tcp_connect((uint16_t)port);
        assert_int_equal(write(fd[i], "PING\r\n", 6), 6);
    }
    static const char full[] = "-ERR max number of clients reached\r\n";
    int pong = 0, refused = 0;
    char buf[256];
    for (int i = 0; i < N; i++) {
        struct pollfd p = {.fd = fd[i], .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t k = read(fd[i], buf, 7);
        assert_true(k > 0);
        buf[k] = '\0';
        if (strcmp(buf, "+PONG\r\n") == 0) {
            pong++;
            continue;
        }
        /* the rest of the error, then the end of the connection */
        size_t more = read_to_eof(fd[i], buf + k, sizeof buf - (size_t)k);
        if (strcmp(buf, full) != 0)
            fail_msg("client %d: '%s' (%zu bytes)", i, buf, (size_t)k + more);
        refused++;
    }
    assert_int_equal(pong, MAX);
    assert_int_equal(refused, N - MAX);
    /* what the server says of itself agrees */
    for (int i = 0; i < N; i++) {
        static const char q[] = "CONFIG GET maxclients\r\n";
        if (write(fd[i], q, sizeof q - 1) != (ssize_t)(sizeof q - 1))
            continue;
        struct pollfd p = {.fd = fd[i], .events = POLLIN};
        if (poll(&p, 1, 2000) != 1)
            continue;
        ssize_t k = read(fd[i], buf, sizeof buf - 1);
        if (k <= 0)
            continue;
        buf[k] = '\0';
        assert_string_equal(buf, "*2\r\n$10\r\nmaxclients\r\n$2\r\n16\r\n");
        break;
    }
    for (int i = 0; i < N; i++)
        close(fd[i]);
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* ---- the scenarios, as the issue runs them: several files, one sweep ---- */

static void test_twin_sim_resp_scenarios(void **state)
{
    (void)state;
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd,
             "%s sim scenarios/resp-loss.yaml scenarios/resp-crash.yaml "
             "scenarios/resp-slow-reader.yaml --seeds 1..5 --quiet 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    /* One summary line per file, each with its own verdicts. */
    int sweeps = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, " seeds in "))
            continue;
        sweeps++;
        const char *tail = strstr(line, "): ");
        if (strncmp(line, "5 seeds in ", 11) != 0 || !tail ||
            strcmp(tail, "): 5 passed, 0 failed (0 correctness, 0 liveness, 0 crash)") != 0)
            fail_msg("sweep %d: '%s'", sweeps, line);
    }
    assert_int_equal(sweeps, 3);
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_redis_cli_commands, tw_cli_teardown),
        cmocka_unit_test_teardown(test_redis_cli_stdin_and_pipe_mode, tw_cli_teardown),
        cmocka_unit_test_teardown(test_redis_cli_persistent_server_restarted,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_resp_client_and_limits, tw_cli_teardown),
        cmocka_unit_test_teardown(test_resp_client_gives_up_after_attempts,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_maxclients_within_the_descriptor_limit,
                                  tw_cli_teardown),
        TW_TEST(test_twin_sim_resp_scenarios),
    };
    return cmocka_run_group_tests_name("resp server and redis-cli", tests, NULL, NULL);
}
