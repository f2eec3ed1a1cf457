/* tests/cli_util.c - see cli_util.h. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

char tw_cli_twin[256];

enum { LIVE_MAX = 16 };
static tw_proc *live[LIVE_MAX];

void tw_cli_init(void)
{
    const char *b = getenv("TWIN_BUILD");
    snprintf(tw_cli_twin, sizeof tw_cli_twin, "%s/twin", b ? b : "build");
    signal(SIGPIPE, SIG_IGN);
}

bool tw_cli_have(const char *tool)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

void tw_proc_spawn(tw_proc *p, char *const argv[])
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL); /* no buffered output duplicated into the child */
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
    for (int i = 0; i < LIVE_MAX; i++)
        if (!live[i]) {
            live[i] = p;
            break;
        }
}

int tw_proc_finish(tw_proc *p, int sig)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == p)
            live[i] = NULL;
    int status = 0;
    if (sig)
        kill(p->pid, sig);
    pid_t r;
    while ((r = waitpid(p->pid, &status, 0)) < 0 && errno == EINTR)
        ;
    fclose(p->out);
    assert_int_equal(r, p->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool tw_proc_saw(tw_proc *p, const char *what)
{
    char line[512];
    while (fgets(line, sizeof line, p->out))
        if (strstr(line, what))
            return true;
    return false;
}

int tw_cli_run(const char *cmd, char *out, size_t len)
{
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint16_t tw_cli_free_port(int type)
{
    int fd = socket(AF_INET, type, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

int tw_cli_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < LIVE_MAX; i++) {
        tw_proc *p = live[i];
        if (!p)
            continue;
        live[i] = NULL;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        fclose(p->out);
    }
    return 0;
}
