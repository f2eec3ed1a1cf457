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

#include "tests/harness.h"

static char twin_bin[256];

static void find_twin(void)
{
    const char *b = getenv("TWIN_BUILD");
    snprintf(twin_bin, sizeof twin_bin, "%s/twin", b ? b : "build");
}

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

struct proc {
    pid_t pid;
    FILE *out;
};

/* Start argv with stdout on a pipe we read. */
static void spawn(struct proc *p, char *const argv[])
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    p->out = fdopen(fds[0], "r");
    assert_non_null(p->out);
}

static int finish(struct proc *p, int sig)
{
    int status;
    if (sig)
        kill(p->pid, sig);
    assert_int_equal(waitpid(p->pid, &status, 0), p->pid);
    fclose(p->out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Run a shell command, capture its stdout. Returns the exit status. */
static int run(const char *cmd, char *out, size_t len)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Read the server's lines until "Serving on"; returns its port. */
static uint16_t start_server(struct proc *srv)
{
    char *argv[] = {twin_bin, "run", "udp-echo-server", "--port", "0", NULL};
    spawn(srv, argv);
    char line[256];
    assert_non_null(fgets(line, sizeof line, srv->out));
    assert_string_equal(line, "Starting UDP server\n");
    assert_non_null(fgets(line, sizeof line, srv->out));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

/* Read server lines until one contains `what` (or its output ends). */
static bool server_said(struct proc *srv, const char *what)
{
    char line[512];
    while (fgets(line, sizeof line, srv->out))
        if (strstr(line, what))
            return true;
    return false;
}

static void test_udp_client_against_udp_server(void **state)
{
    (void)state;
    struct proc srv;
    uint16_t port = start_server(&srv);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message hi "
             "--count 3 --timeout 200 --retries 50",
             twin_bin, port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    /* the reference example's lines */
    assert_non_null(strstr(out, "Send: 'hi'"));
    assert_non_null(strstr(out, "Received: 'hi'"));
    assert_non_null(strstr(out, "Close the socket"));
    assert_non_null(strstr(out, "Connection closed"));
    assert_true(server_said(&srv, "Send 'hi' to 127.0.0.1:"));
    /* an empty message is an empty datagram, echoed as one */
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message '' "
             "--timeout 200 --retries 50",
             twin_bin, port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: ''"));
    assert_true(server_said(&srv, "Received '' from 127.0.0.1:"));
    /* SIGTERM: a clean stop, exit status 0 */
    assert_int_equal(finish(&srv, SIGTERM), 0);
}

static void test_socat_against_udp_server(void **state)
{
    (void)state;
    if (!have("socat"))
        skip();
    struct proc srv;
    uint16_t port = start_server(&srv);
    char cmd[512], out[256] = "";
    /* socat waits -t seconds for the answer after sending; resend until
     * one comes back */
    int rc = -1;
    for (int i = 0; i < 20 && !strstr(out, "from-socat"); i++) {
        snprintf(cmd, sizeof cmd,
                 "printf 'from-socat' | socat -t 0.5 - UDP4:127.0.0.1:%u", port);
        out[0] = '\0';
        rc = run(cmd, out, sizeof out);
    }
    assert_int_equal(rc, 0);
    assert_string_equal(out, "from-socat");
    assert_int_equal(finish(&srv, SIGINT), 0);
}

static uint16_t free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_udp_client_against_socat(void **state)
{
    (void)state;
    if (!have("socat"))
        skip();
    uint16_t port = free_udp_port();
    char listen[96];
    snprintf(listen, sizeof listen, "UDP4-RECVFROM:%u,bind=127.0.0.1,fork", port);
    char *argv[] = {"socat", listen, "PIPE", NULL};
    struct proc s;
    spawn(&s, argv);
    char cmd[512], out[4096];
    /* the client resends until socat is up and answers */
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --message socat-echo "
             "--count 3 --timeout 100 --retries 100",
             twin_bin, port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Received: 'socat-echo'"));
    finish(&s, SIGTERM);
}

static void test_udp_client_nobody_there(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s run udp-echo-client --connect 127.0.0.1:%u --timeout 50 "
             "--retries 2 2>&1",
             twin_bin, free_udp_port());
    assert_int_equal(run(cmd, out, sizeof out), 1);
    /* the refusal reaches error_received; the client gives up in time */
    assert_non_null(strstr(out, "Error received: Connection refused"));
    assert_non_null(strstr(out, "No reply after 3 tries"));
    assert_non_null(strstr(out, "Connection closed"));
}

static void test_udp_bad_usage(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --port 99999 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad port"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-server --host nonsense 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "numeric address"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --connect nonsense 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "HOST:PORT"));
    snprintf(cmd, sizeof cmd, "%s run udp-echo-client --count x 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad number"));
    snprintf(cmd, sizeof cmd, "%s apps", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "udp-echo-server"));
    assert_non_null(strstr(out, "udp-echo-client"));
}

int main(void)
{
    find_twin();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_client_against_udp_server),
        cmocka_unit_test(test_socat_against_udp_server),
        cmocka_unit_test(test_udp_client_against_socat),
        cmocka_unit_test(test_udp_client_nobody_there),
        cmocka_unit_test(test_udp_bad_usage),
    };
    return cmocka_run_group_tests_name("twin command: UDP echo", tests, NULL,
                                       NULL);
}
