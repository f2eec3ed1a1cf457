/* tests/test_cli.c - the `twin` command as a user runs it: the echo server
 * and client against each other, against nc, and against socat; SIGTERM
 * stops the server cleanly; bad options get a usage message; the loop's
 * --busy-poll option. Real backend, loopback only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

static uint16_t start_echo_server(tw_proc *srv, bool keep_open)
{
    char *argv[] = {tw_cli_twin, "run", "echo-server", "--port", "0",
                    keep_open ? "--keep-open" : NULL, NULL};
    tw_proc_spawn(srv, argv);
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

static void test_echo_client_against_echo_server(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_echo_server(&srv, false);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u --message hi",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data sent: 'hi'"));
    assert_non_null(strstr(out, "Data received: 'hi'"));
    assert_non_null(strstr(out, "The server closed the connection"));
    /* the server printed the reference example's lines */
    assert_true(tw_proc_saw(&srv, "Close the client socket"));
    /* a host name resolves too */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect localhost:%u --message again",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'again'"));
    /* SIGTERM: a clean stop, exit status 0 */
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_nc_against_echo_server(void **state)
{
    (void)state;
    if (!tw_cli_have("nc"))
        skip();
    tw_proc srv;
    uint16_t port = start_echo_server(&srv, false);
    char cmd[256], out[256];
    /* -q -1: no timer after our EOF; nc ends when the server closes */
    snprintf(cmd, sizeof cmd, "printf 'hello from nc' | nc -q -1 127.0.0.1 %u", port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "hello from nc");
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
}

static void test_echo_client_against_socat(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    uint16_t port = tw_cli_free_port(SOCK_STREAM);
    char listen[64];
    snprintf(listen, sizeof listen, "TCP-LISTEN:%u,bind=127.0.0.1,reuseaddr", port);
    char *argv[] = {"/usr/bin/socat", listen, "PIPE", NULL};
    tw_proc s;
    tw_proc_spawn(&s, argv);
    tw_cli_wait_bound(SOCK_STREAM, port, "socat");
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u --message socat-echo --count 3",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    /* exit status 0: all 30 bytes came back, each copy intact */
    assert_non_null(strstr(out, "Data received: 'socat-echo"));
    tw_proc_finish(&s, SIGTERM);
}

static void test_bad_usage(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run no-such-app 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "no app named 'no-such-app'"));
    snprintf(cmd, sizeof cmd, "%s run echo-server --port 99999 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "echo-server: --port: expected an integer 0..65535, got '99999'"));
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect nonsense 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "HOST:PORT"));
    snprintf(cmd, sizeof cmd, "%s apps", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "echo-server"));
    assert_non_null(strstr(out, "echo-client"));
    /* nothing listens: the client says so and fails */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u 2>&1",
             tw_cli_twin, tw_cli_free_port(SOCK_STREAM));
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "Connect failed"));
}

/* `twin run APP --help` answers with the app's usage once, on stdout, and
 * exit status 0: it was asked for, nothing failed (it went to stderr with
 * status 2, as a bad option does). */
static void test_run_app_help(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-server --help 2>/dev/null", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    const char *u = strstr(out, "usage: echo-server [OPTIONS]\n");
    assert_non_null(u);
    assert_null(strstr(u + 1, "usage:"));
    assert_non_null(strstr(out, "  --port PORT"));
    snprintf(cmd, sizeof cmd, "%s run echo-server --help 2>&1 >/dev/null", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "");
}

/* Messages that name what is wrong, on stderr where the usage goes (each
 * command reads stderr only: 2>&1 >/dev/null). */
static void test_messages_say_what_is_wrong(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    /* a bad option is named beside the usage, with its range */
    snprintf(cmd, sizeof cmd, "%s run echo-server --port 99999 2>&1 >/dev/null", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "echo-server: --port: expected an integer 0..65535, got '99999'\n"
                                "usage: twin run echo-server"));
    /* a duration too large for any clock is not a malformed one */
    snprintf(cmd, sizeof cmd, "%s run echo-load --timeout 99999999999h 2>&1 >/dev/null",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "echo-load: --timeout: '99999999999h' is too large "
                                "(at most 2562047h)"));
    snprintf(cmd, sizeof cmd, "%s demo --seconds 99999999999h 2>&1 >/dev/null", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin demo: --seconds: '99999999999h' is too large "
                                "(at most 86400, a day)"));
    snprintf(cmd, sizeof cmd, "%s demo --seconds soon 2>&1 >/dev/null", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twin demo: --seconds: expected a positive number"));
    /* a name that does not resolve says so, in the resolver's words (an
     * empty label: glibc refuses it without asking any DNS server) */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect no..such.host:7 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "Connect failed: name does not resolve: "));
    assert_null(strstr(out, "No route to host"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --connect no..such.host:7 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "Endpoint failed: name does not resolve: "));
    /* a server host that does not resolve: said, and the command ends */
    snprintf(cmd, sizeof cmd, "%s run echo-server --host no..such.host --port 9 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "echo-server: cannot listen on no..such.host:9: "
                                "name does not resolve: "));
    /* a port in use on every interface: the address as host:port */
    tw_proc srv;
    char *argv[] = {tw_cli_twin, "run", "echo-server", "--host", "", "--port", "0", NULL};
    tw_proc_spawn(&srv, argv);
    char line[256];
    assert_true(tw_proc_line(&srv, line, sizeof line));
    const char *colon = strrchr(line, ':');
    assert_non_null(colon);
    unsigned port = (unsigned)atoi(colon + 1);
    assert_true(port > 0 && port < 65536);
    snprintf(cmd, sizeof cmd, "%s run echo-server --host '' --port %u 2>&1", tw_cli_twin,
             port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    char want[128];
    snprintf(want, sizeof want, "echo-server: cannot listen on *:%u: Address already in use",
             port);
    assert_non_null(strstr(out, want));
    snprintf(cmd, sizeof cmd, "%s run resp-server --host '' --port %u 2>&1", tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    snprintf(want, sizeof want, "resp-server: cannot listen on *:%u: Address already in use",
             port);
    assert_non_null(strstr(out, want));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* `twin run --busy-poll DURATION APP`: the loop option comes before the
 * app; the app runs as without it. */
static void test_busy_poll_option(void **state)
{
    (void)state;
    char *argv[] = {tw_cli_twin, "run", "--busy-poll", "20us", "echo-server",
                    "--port", "0", NULL};
    tw_proc srv;
    tw_proc_spawn(&srv, argv);
    char line[256];
    assert_true(tw_proc_line(&srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u --message polled",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'polled'"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);

    snprintf(cmd, sizeof cmd, "%s run --busy-poll soon echo-server 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad --busy-poll 'soon'"));
    snprintf(cmd, sizeof cmd, "%s run --busy-poll -1us echo-server 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s run --busy-poll 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s run --busy-poll 10us 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "usage: twin run"));
}

/* `twin run`'s own options before the app: --help is the usage, an
 * unknown option is named as one, a missing value is said to be missing
 * (the last word used to be taken for a size: "bad --help ''"). */
static void test_run_options_worded(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run --help 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "usage: twin run"))
        fail_msg("%s", out);
    snprintf(cmd, sizeof cmd, "%s run --frobnicate 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    if (!strstr(out, "run: unknown option '--frobnicate'"))
        fail_msg("%s", out);
    snprintf(cmd, sizeof cmd, "%s run --record-max 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    if (!strstr(out, "run: --record-max needs a value"))
        fail_msg("%s", out);
}

/* A server app given a host name: where it listens is said once the name
 * has resolved (port 0's choice included), and a name that does not
 * resolve is an error naming it, and the end of the run (both used to
 * print nothing and wait for ever). */
static void test_server_host_names(void **state)
{
    (void)state;
    /* a hang shows as a failure well before the usual limit */
    int saved = tw_cli_timeout;
    tw_cli_timeout = saved < 30 ? saved : 30;
    static const char *const apps[] = {"echo-server", "resp-server", "bulk-recv"};
    static const char *const bad[] = {"nonexistent.invalid", "999.1.1.1"};
    char cmd[512], out[4096], want[128];
    for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++) {
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            snprintf(cmd, sizeof cmd, "%s run %s --host %s --port 0 2>&1",
                     tw_cli_twin, apps[i], bad[k]);
            int rc = tw_cli_run(cmd, out, sizeof out);
            snprintf(want, sizeof want, "%s: cannot listen on %s:0: ", apps[i], bad[k]);
            if (rc != 1 || !strstr(out, want))
                fail_msg("%s: exit %d, printed '%s'", cmd, rc, out);
        }
        char *argv[] = {tw_cli_twin, "run", (char *)apps[i], "--host", "localhost",
                        "--port", "0", NULL};
        tw_proc srv;
        tw_proc_spawn(&srv, argv);
        char line[256];
        assert_true(tw_proc_line(&srv, line, sizeof line));
        unsigned port = 0;
        if (sscanf(line, "Serving on 127.0.0.1:%u", &port) != 1 &&
            sscanf(line, "Serving on [::1]:%u", &port) != 1)
            fail_msg("%s --host localhost: '%s'", apps[i], line);
        assert_true(port > 0 && port < 65536);
        tw_cli_wait_bound(SOCK_STREAM, (uint16_t)port, apps[i]);
        assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
    }
    tw_cli_timeout = saved;
}

/* A second echo-server on a Unix path a live one serves is refused, and
 * the first keeps its clients (the second used to take the path over). */
static void test_unix_path_in_use(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-cli-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/echo.sock", dir);
    char *argv[] = {tw_cli_twin, "run", "echo-server", "--unix", path,
                    "--keep-open", NULL};
    tw_proc srv;
    tw_proc_spawn(&srv, argv);
    char line[256], cmd[512], out[4096], want[128];
    assert_true(tw_proc_line(&srv, line, sizeof line));
    snprintf(want, sizeof want, "Serving on unix:%s", path);
    assert_string_equal(line, want);
    /* a second server that wrongly starts would serve for ever */
    int saved = tw_cli_timeout;
    tw_cli_timeout = saved < 30 ? saved : 30;
    snprintf(cmd, sizeof cmd, "%s run echo-server --unix %s 2>&1", tw_cli_twin, path);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    tw_cli_timeout = saved;
    snprintf(want, sizeof want, "echo-server: cannot listen on %s: %s", path,
             strerror(EADDRINUSE));
    if (!strstr(out, want))
        fail_msg("second server printed '%s'", out);
    snprintf(cmd, sizeof cmd, "%s run echo-client --unix %s --message still",
             tw_cli_twin, path);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'still'"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
    unlink(path); /* removed by the server already; in case it was not */
    assert_int_equal(rmdir(dir), 0);
}

/* A blocking TCP connection to the loopback port. */
static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Whether fd has something to read within ms milliseconds. */
static bool readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

/* Out of descriptors: the echo server says so (it used to leave the
 * clients past the limit waiting without a word), serves the clients it
 * has, and lets a waiting one in once a descriptor is free. */
static void test_out_of_descriptors_is_said(void **state)
{
    (void)state;
    enum { N = 24 };
    char script[512];
    snprintf(script, sizeof script,
             "ulimit -n 16 && exec %s run echo-server --port 0 --keep-open --quiet",
             tw_cli_twin);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    tw_proc srv;
    tw_proc_spawn(&srv, argv);
    char line[256];
    unsigned port = 0;
    assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    int fd[N];
    for (int i = 0; i < N; i++)
        fd[i] = tcp_connect((uint16_t)port);
    int saved = tw_cli_timeout; /* silence is the failure: don't wait long */
    tw_cli_timeout = saved < 30 ? saved : 30;
    assert_true(tw_proc_saw(&srv, "echo-server: cannot accept a connection: Too many "
                                  "open files (EMFILE); clients wait unanswered until it can"));
    tw_cli_timeout = saved;
    /* Who is served: each sends a byte; the accepted ones, first come
     * first served, echo it. */
    for (int i = 0; i < N; i++)
        assert_int_equal(write(fd[i], "e", 1), 1);
    int served = 0;
    while (served < N && readable(fd[served], 2000))
        served++;
    assert_true(served > 0 && served < N);
    for (int i = served + 1; i < N; i++)
        assert_false(readable(fd[i], 0));
    /* Two leave: within a retry delay or two, the first waiting one is in. */
    close(fd[0]);
    close(fd[1]);
    fd[0] = fd[1] = -1;
    assert_true(readable(fd[served], 10000));
    char c = 0;
    assert_int_equal(read(fd[served], &c, 1), 1);
    assert_int_equal(c, 'e');
    for (int i = 0; i < N; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* `twin run echo-server --keep-open | head -1`: once head has gone, the
 * server's log has nowhere to go, and the server keeps serving without
 * it (it used to die of SIGPIPE at the next connection). */
static void test_server_outlives_its_closed_output(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_echo_server(&srv, true);
    /* what head does when it has its line: close the read end */
    close(srv.fd);
    srv.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(srv.fd >= 0);
    char cmd[512], out[4096];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "%s run echo-client --connect 127.0.0.1:%u --message again%d",
                 tw_cli_twin, port, i);
        assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
        assert_non_null(strstr(out, "Data received: 'again"));
    }
    /* still there, and a clean stop */
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_echo_client_against_echo_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_nc_against_echo_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_echo_client_against_socat, tw_cli_teardown),
        cmocka_unit_test_teardown(test_bad_usage, tw_cli_teardown),
        cmocka_unit_test_teardown(test_run_app_help, tw_cli_teardown),
        cmocka_unit_test_teardown(test_busy_poll_option, tw_cli_teardown),
        cmocka_unit_test_teardown(test_run_options_worded, tw_cli_teardown),
        cmocka_unit_test_teardown(test_server_host_names, tw_cli_teardown),
        cmocka_unit_test_teardown(test_unix_path_in_use, tw_cli_teardown),
        cmocka_unit_test_teardown(test_out_of_descriptors_is_said, tw_cli_teardown),
        cmocka_unit_test_teardown(test_server_outlives_its_closed_output,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_messages_say_what_is_wrong, tw_cli_teardown),
    };
    return cmocka_run_group_tests_name("twin command", tests, NULL, NULL);
}
