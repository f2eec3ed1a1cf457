/* tests/test_cli_udp.c - the UDP echo apps as a user runs them with the
 * `twin` command: server and client against each other, the client
 * against socat's echo, socat against the server, an empty datagram,
 * nobody there, and bad options. Real backend, loopback only.
 *
 * The client resends what does not come back (--retries), so a datagram
 * dropped by a busy machine cannot fail a test.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

/* Start a server on host (NULL: the default), read its lines until
 * "Serving on"; returns its port. */
static uint16_t start_server_on(tw_proc *srv, char *host)
{
    char *argv[] = {tw_cli_twin, "run", "udp-echo-server", "--port", "0",
                    host ? "--host" : NULL, host, NULL};
    tw_proc_spawn(srv, argv);
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    assert_string_equal(line, "Starting UDP server");
    assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

static uint16_t start_server(tw_proc *srv) { return start_server_on(srv, NULL); }

/* Both apps take host names (resolved off the loop): the server binds
 * "localhost", the client binds and connects by name. */
static void test_udp_apps_by_name(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_server_on(&srv, "localhost");
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect localhost:%u --bind localhost:0 "
             "--message named --timeout 200 --retries 50",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: 'named'"));
    assert_true(tw_proc_saw(&srv, "Received 'named' from 127.0.0.1:"));
    /* a name nobody has: the client says so and fails */
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect no..such.host:%u 2>&1",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "Endpoint failed"));
    assert_null(strstr(out, "Send:"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_udp_client_against_udp_server(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_server(&srv);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message hi "
             "--count 3 --timeout 200 --retries 50",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    /* the reference example's lines */
    assert_non_null(strstr(out, "Send: 'hi'"));
    assert_non_null(strstr(out, "Received: 'hi'"));
    assert_non_null(strstr(out, "Close the socket"));
    assert_non_null(strstr(out, "Connection closed"));
    assert_true(tw_proc_saw(&srv, "Send 'hi' to 127.0.0.1:"));
    /* an empty message is an empty datagram, echoed as one */
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message '' "
             "--timeout 200 --retries 50",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: ''"));
    assert_true(tw_proc_saw(&srv, "Received '' from 127.0.0.1:"));
    /* SIGTERM: a clean stop, exit status 0 */
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

/* A Unix datagram client with no --bind still hears its echo: it takes
 * a name the system picks (an abstract one), which the server answers. */
static void test_unix_client_without_bind_gets_its_echo(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/tmp/twin-udpcli-%d.sock", (int)getpid());
    unlink(path);
    char *argv[] = {tw_cli_twin, "run", "udp-echo-server", "--unix", path, NULL};
    tw_proc srv;
    tw_proc_spawn(&srv, argv);
    char line[256], want[96];
    assert_true(tw_proc_line(&srv, line, sizeof line));
    assert_true(tw_proc_line(&srv, line, sizeof line));
    snprintf(want, sizeof want, "Serving on unix:%s", path);
    assert_string_equal(line, want);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --unix %s --message hey --timeout 200 --retries 5",
             tw_cli_twin, path);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: 'hey'"));
    assert_true(tw_proc_saw(&srv, "Received 'hey' from unix:@"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_socat_against_udp_server(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    tw_proc srv;
    uint16_t port = start_server(&srv);
    char cmd[512], out[256] = "";
    /* socat ends once the 10 bytes of the answer are read (readbytes);
     * -t only bounds a wait for a datagram lost on the way, after which
     * the next try resends */
    int rc = -1;
    for (int i = 0; i < 10 && !strstr(out, "from-socat"); i++) {
        snprintf(cmd, sizeof cmd,
                 "printf 'from-socat' | socat -t 10 - UDP4:127.0.0.1:%u,readbytes=10",
                 port);
        out[0] = '\0';
        rc = tw_cli_run(cmd, out, sizeof out);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(out, "from-socat");
    assert_true(tw_proc_saw(&srv, "Send 'from-socat' to 127.0.0.1:"));
    assert_int_equal(tw_proc_finish(&srv, SIGINT), 0);
}

static void test_udp_client_against_socat(void **state)
{
    (void)state;
    if (!tw_cli_have("socat"))
        skip();
    uint16_t port = tw_cli_free_port(SOCK_DGRAM);
    char listen[96];
    snprintf(listen, sizeof listen, "UDP4-RECVFROM:%u,bind=127.0.0.1,fork", port);
    char *argv[] = {"socat", listen, "PIPE", NULL};
    tw_proc s;
    tw_proc_spawn(&s, argv);
    tw_cli_wait_bound(SOCK_DGRAM, port, "socat");
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message socat-echo "
             "--count 3 --timeout 100 --retries 100",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: 'socat-echo'"));
    tw_proc_finish(&s, SIGTERM);
}

static void test_udp_client_nobody_there(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --timeout 50 "
             "--retries 2 2>&1",
             tw_cli_twin, tw_cli_free_port(SOCK_DGRAM));
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    /* the refusal reaches error_received; the client gives up in time */
    assert_non_null(strstr(out, "Error received: Connection refused"));
    assert_non_null(strstr(out, "No reply after 3 tries"));
    assert_non_null(strstr(out, "Connection closed"));
}

static void test_udp_bad_usage(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --port 99999 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-server: --port: expected an integer 0..65535, got '99999'"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --host '' 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-server: --host '': want an address or a name "
                                "(0.0.0.0 or :: for every address of the host)"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --unix /tmp/%0120d 2>&1",
             tw_cli_twin, 0);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "want a socket path of at most 107 bytes"));
    /* a name is looked up: one nobody has fails after the start */
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --host no..such.host 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "cannot bind no..such.host"));
    assert_null(strstr(out, "Serving on"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --connect nonsense 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "HOST:PORT"));
    /* A wrong address names its option, its value and what it wants. */
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --connect 127.0.0.1:0 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-client: --connect '127.0.0.1:0': want HOST:PORT "
                                "with a port from 1 to 65535"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --bind 127.0.0.1 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-client: --bind '127.0.0.1': want HOST:PORT"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --unix /tmp/%0120d 2>&1",
             tw_cli_twin, 0);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-client: --unix '/tmp/000"));
    assert_non_null(strstr(out, "want a socket path of at most 107 bytes"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --count x 2>&1", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "udp-echo-client: --count: expected an integer 0..1000000, got 'x'"));
    snprintf(cmd, sizeof cmd, "%s apps", tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "udp-echo-server"));
    assert_non_null(strstr(out, "udp-echo-client"));
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_udp_client_against_udp_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_socat_against_udp_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_client_against_socat, tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_client_nobody_there, tw_cli_teardown),
        cmocka_unit_test_teardown(test_unix_client_without_bind_gets_its_echo,
                                  tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_bad_usage, tw_cli_teardown),
        cmocka_unit_test_teardown(test_udp_apps_by_name, tw_cli_teardown),
    };
    return cmocka_run_group_tests_name("twin command: UDP echo", tests, NULL,
                                       NULL);
}
