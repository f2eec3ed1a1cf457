/* tests/test_cli.c - the `twin` command as a user runs it: the echo server
 * and client against each other, against nc, and against socat; SIGTERM
 * stops the server cleanly; bad options get a usage message. Real backend,
 * loopback only. */
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
        execv(argv[0], argv);
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

static uint16_t start_echo_server(struct proc *srv, bool keep_open)
{
    char *argv[] = {twin_bin, "run", "echo-server", "--port", "0",
                    keep_open ? "--keep-open" : NULL, NULL};
    spawn(srv, argv);
    char line[256];
    assert_non_null(fgets(line, sizeof line, srv->out));
    unsigned port = 0;
    assert_int_equal(sscanf(line, "Serving on 127.0.0.1:%u", &port), 1);
    assert_true(port > 0 && port < 65536);
    return (uint16_t)port;
}

static void test_echo_client_against_echo_server(void **state)
{
    (void)state;
    struct proc srv;
    uint16_t port = start_echo_server(&srv, false);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u --message hi",
             twin_bin, port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data sent: 'hi'"));
    assert_non_null(strstr(out, "Data received: 'hi'"));
    assert_non_null(strstr(out, "The server closed the connection"));
    /* the server printed the reference example's lines */
    char line[256];
    bool saw_close = false;
    while (fgets(line, sizeof line, srv.out))
        if (strstr(line, "Close the client socket")) {
            saw_close = true;
            break;
        }
    assert_true(saw_close);
    /* a host name resolves too */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect localhost:%u --message again",
             twin_bin, port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "Data received: 'again'"));
    /* SIGTERM: a clean stop, exit status 0 */
    assert_int_equal(finish(&srv, SIGTERM), 0);
}

static void test_nc_against_echo_server(void **state)
{
    (void)state;
    if (!have("nc"))
        skip();
    struct proc srv;
    uint16_t port = start_echo_server(&srv, false);
    char cmd[256], out[256];
    snprintf(cmd, sizeof cmd, "printf 'hello from nc' | nc -q 5 127.0.0.1 %u", port);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_string_equal(out, "hello from nc");
    assert_int_equal(finish(&srv, SIGINT), 0);
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_echo_client_against_socat(void **state)
{
    (void)state;
    if (!have("socat"))
        skip();
    uint16_t port = free_port();
    char listen[64];
    snprintf(listen, sizeof listen, "TCP-LISTEN:%u,bind=127.0.0.1,reuseaddr", port);
    char *argv[] = {"/usr/bin/socat", listen, "PIPE", NULL};
    struct proc s;
    spawn(&s, argv);
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u --message socat-echo --count 3",
             twin_bin, port);
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) { /* until socat listens */
        rc = run(cmd, out, sizeof out);
        if (rc != 0)
            usleep(100000);
    }
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "socat-echo"));
    finish(&s, SIGTERM);
}

static void test_bad_usage(void **state)
{
    (void)state;
    char cmd[512], out[4096];
    snprintf(cmd, sizeof cmd, "%s run no-such-app 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "no app named 'no-such-app'"));
    snprintf(cmd, sizeof cmd, "%s run echo-server --port 99999 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad port"));
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect nonsense 2>&1", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "HOST:PORT"));
    snprintf(cmd, sizeof cmd, "%s apps", twin_bin);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "echo-server"));
    assert_non_null(strstr(out, "echo-client"));
    /* nothing listens: the client says so and fails */
    snprintf(cmd, sizeof cmd, "%s run echo-client --connect 127.0.0.1:%u 2>&1",
             twin_bin, free_port());
    assert_int_equal(run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "Connect failed"));
}

int main(void)
{
    find_twin();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_client_against_echo_server),
        cmocka_unit_test(test_nc_against_echo_server),
        cmocka_unit_test(test_echo_client_against_socat),
        cmocka_unit_test(test_bad_usage),
    };
    return cmocka_run_group_tests_name("twin command", tests, NULL, NULL);
}
