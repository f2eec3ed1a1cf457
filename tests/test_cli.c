/* tests/test_cli.c - the `twin` command as a user runs it: the echo server
 * and client against each other, against nc, and against socat; SIGTERM
 * stops the server cleanly; bad options get a usage message; the loop's
 * --busy-poll option. Real backend, loopback only. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_echo_client_against_echo_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_nc_against_echo_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_echo_client_against_socat, tw_cli_teardown),
        cmocka_unit_test_teardown(test_bad_usage, tw_cli_teardown),
        cmocka_unit_test_teardown(test_busy_poll_option, tw_cli_teardown),
        cmocka_unit_test_teardown(test_messages_say_what_is_wrong, tw_cli_teardown),
    };
    return cmocka_run_group_tests_name("twin command", tests, NULL, NULL);
}
