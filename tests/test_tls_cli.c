/* tests/test_tls_cli.c - the TLS echo apps as a user runs them: `twin run
 * echo-server --tls-cert --tls-key` against `openssl s_client`, against
 * twin's own echo-client with each --tls option, and against a plain-text
 * client; bad TLS options get a clear message. Real backend, loopback. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"
#include "tests/tls_files.h"

static tls_files files;

static uint16_t start_tls_server(tw_proc *srv, const char *cert,
                                 const char *key)
{
    char *argv[] = {tw_cli_twin, "run", "echo-server", "--port", "0",
                    "--tls-cert", (char *)cert, "--tls-key", (char *)key, NULL};
    tw_proc_spawn(srv, argv);
    char line[256];
    assert_true(tw_proc_line(srv, line, sizeof line));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

static void test_s_client_against_tls_echo_server(void **state)
{
    (void)state;
    if (!tw_cli_have("openssl"))
        skip();
    tw_proc srv;
    uint16_t port = start_tls_server(&srv, files.cert, files.key);
    char cmd[1024], out[4096];
    /* -verify_return_error: a certificate it does not accept fails it */
    snprintf(cmd, sizeof cmd,
             "printf 'hello over tls' | openssl s_client -connect 127.0.0.1:%u "
             "-servername localhost -CAfile %s -verify_return_error -quiet 2>/dev/null",
             port, files.ca);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "hello over tls");
    assert_true(tw_proc_saw(&srv, "Data received: 'hello over tls'"));
    assert_true(tw_proc_saw(&srv, "Close the client socket"));
    /* TLS 1.2 too, with the session shown: the server's certificate */
    snprintf(cmd, sizeof cmd,
             "printf 'again' | openssl s_client -connect 127.0.0.1:%u -tls1_2 "
             "-servername localhost -CAfile %s -verify_return_error -ign_eof 2>&1",
             port, files.ca);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "subject=O = twin test (insecure), CN = localhost"));
    assert_non_null(strstr(out, "Protocol  : TLSv1.2"));
    assert_non_null(strstr(out, "Verify return code: 0 (ok)"));
    assert_non_null(strstr(out, "again"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_echo_client_tls_options(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_tls_server(&srv, files.cert, files.key);
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run echo-client --connect localhost:%u --tls-ca %s --message hi 2>&1",
             tw_cli_twin, port, files.ca);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'hi'"));
    assert_non_null(strstr(out, "The server closed the connection"));
    /* the system's CAs do not know twin's test CA */
    snprintf(cmd, sizeof cmd,
             "%s run echo-client --connect localhost:%u --tls --message hi 2>&1",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "TLS handshake failed: certificate verify failed"));
    assert_non_null(strstr(out, "Connect failed: certificate rejected (TLS)"));
    /* another name than the certificate's */
    snprintf(cmd, sizeof cmd,
             "%s run echo-client --connect 127.0.0.1:%u --tls-ca %s "
             "--tls-name wrong.example --message hi 2>&1",
             tw_cli_twin, port, files.ca);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "certificate verify failed: hostname mismatch"));
    /* unverified, still encrypted */
    snprintf(cmd, sizeof cmd,
             "%s run echo-client --connect 127.0.0.1:%u --tls-no-verify --message nv 2>&1",
             tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'nv'"));
    /* a plain-text client: the server says what it was */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u "
                              "--message plain 2>&1", tw_cli_twin, port);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_true(tw_proc_saw(&srv, "TLS handshake failed: TLS protocol error: wrong version number"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_echo_client_against_self_signed(void **state)
{
    (void)state;
    tw_proc srv;
    uint16_t port = start_tls_server(&srv, files.self_cert, files.self_key);
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run echo-client --connect localhost:%u --tls-ca %s --message hi 2>&1",
             tw_cli_twin, port, files.ca);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "certificate verify failed: self-signed certificate"));
    /* the server heard why */
    assert_true(tw_proc_saw(&srv, "TLS handshake failed: the peer refused the "
                               "certificate: tlsv1 alert unknown ca"));
    assert_int_equal(tw_proc_finish(&srv, SIGTERM), 0);
}

static void test_bad_tls_options(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run echo-server --port 0 --tls-cert /nonexistent/cert.pem 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "cannot read /nonexistent/cert.pem"));
    snprintf(cmd, sizeof cmd, "%s run echo-server --port 0 --tls-key %s 2>&1",
             tw_cli_twin, files.key);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "--tls-key needs --tls-cert"));
    snprintf(cmd, sizeof cmd, "%s run echo-server --port 0 --tls-cert %s "
                              "--tls-key %s 2>&1",
             tw_cli_twin, files.cert, files.wrong_key);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "mismatch"));
    /* the options were well formed, the files did not fit: the message
     * says so, and no usage follows it */
    if (strstr(out, "usage:"))
        fail_msg("a key that does not fit its certificate is answered with the usage:\n%s", out);
    snprintf(cmd, sizeof cmd, "%s run echo-client --unix /tmp/x.sock --tls 2>&1",
             tw_cli_twin);
    assert_int_equal(tw_cli_run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "no TLS over --unix"));
}

static int setup(void **state)
{
    (void)state;
    tls_files_make(&files);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tls_files_remove(&files);
    return 0;
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_s_client_against_tls_echo_server, tw_cli_teardown),
        cmocka_unit_test_teardown(test_echo_client_tls_options, tw_cli_teardown),
        cmocka_unit_test_teardown(test_echo_client_against_self_signed, tw_cli_teardown),
        cmocka_unit_test_teardown(test_bad_tls_options, tw_cli_teardown),
    };
    return cmocka_run_group_tests_name("twin command with TLS", tests, setup, teardown);
}
