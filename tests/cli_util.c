/* tests/cli_util.c - see cli_util.h. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"

char tw_cli_twin[256];
int tw_cli_timeout = 120;

enum { LIVE_MAX = 16 };
static tw_proc *live[LIVE_MAX];

/* The process groups of every child not yet reaped, for a test process
 * killed from outside (a time limit) to take them along. */
static volatile pid_t groups[LIVE_MAX + 4];

static void groups_add(pid_t pid)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (groups[i] == 0) {
            groups[i] = pid;
            return;
        }
}

static void groups_remove(pid_t pid)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (groups[i] == pid)
            groups[i] = 0;
}

static void on_fatal_signal(int sig)
{
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
        if (groups[i] > 0)
            kill(-groups[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

void tw_cli_init(void)
{
    const char *b = getenv("TWIN_BUILD");
    snprintf(tw_cli_twin, sizeof tw_cli_twin, "%s/twin", b ? b : "build");
    const char *t = getenv("TWIN_CLI_TIMEOUT");
    if (t && atoi(t) > 0)
        tw_cli_timeout = atoi(t);
    signal(SIGPIPE, SIG_IGN);
    const int fatal[] = {SIGTERM, SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) {
        struct sigaction sa = {.sa_handler = on_fatal_signal}, old;
        sigemptyset(&sa.sa_mask);
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(fatal[i], &sa, NULL);
    }
}

bool tw_cli_have(const char *tool)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char file[PATH_MAX];
        struct stat st;
        snprintf(file, sizeof file, "%.*s/%s", (int)n, n ? path : ".", tool);
        if (stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0)
            return true;
        path += n + (path[n] == ':');
    }
    return false;
}

/* ---- deadlines ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline(void) { return now_ms() + (int64_t)tw_cli_timeout * 1000; }

/* Milliseconds left until `end`, for poll(): at least 0. */
static int left_ms(int64_t end)
{
    int64_t d = end - now_ms();
    return d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

/* ---- processes ---- */

pid_t tw_cli_fork(void)
{
    fflush(NULL); /* no buffered output duplicated into the child */
    pid_t parent = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        /* a test process killed outright (SIGKILL) takes this one along */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* what tw_cli_init changed; exec resets the rest */
        const int changed[] = {SIGPIPE, SIGTERM, SIGINT, SIGHUP};
        for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++)
            signal(changed[i], SIG_DFL);
        int null = open("/dev/null", O_RDONLY);
        if (null > 0) {
            dup2(null, 0);
            close(null);
        }
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        return 0;
    }
    setpgid(pid, pid); /* as the child does: whichever runs first */
    groups_add(pid);
    return pid;
}

/* Wait until pid has exited, leaving it unreaped (its pid, and so its
 * group's id, cannot be reused meanwhile). False if `end` came first. */
static bool exited_by(pid_t pid, int64_t end)
{
    useconds_t nap = 1000;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (r == 0 && si.si_pid == pid)
            return true;
        if (r < 0 && errno != EINTR)
            return true; /* not our child (any more): nothing to wait for */
        if (now_ms() >= end)
            return false;
        usleep(nap);
        if (nap < 20000)
            nap *= 2;
    }
}

/* Kill whatever is left of pid's group, then reap pid. */
static int reap(pid_t pid)
{
    kill(-pid, SIGKILL);
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    groups_remove(pid);
    return r == pid ? status : -1;
}

/* Out of time: kill pid's group, reap it, close fd, fail with the
 * message. */
__attribute__((format(printf, 3, 4), noreturn))
static void give_up(pid_t pid, int fd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    reap(pid);
    if (fd >= 0)
        close(fd);
    fail_msg("%s (after %d s its process group was killed)", msg, tw_cli_timeout);
    abort(); /* fail_msg does not return */
}

int tw_cli_wait(pid_t pid, const char *what)
{
    if (!exited_by(pid, deadline()))
        give_up(pid, -1, "%s: still running", what);
    return reap(pid);
}

static void forget(tw_proc *p)
{
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == p)
            live[i] = NULL;
}

void tw_proc_spawn(tw_proc *p, char *const argv[])
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", argv[0]);
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    p->pid = tw_cli_fork();
    if (p->pid == 0) {
        dup2(fds[1], 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    p->fd = fds[0];
    for (int i = 0; i < LIVE_MAX; i++)
        if (!live[i]) {
            live[i] = p;
            return;
        }
    fail_msg("more than %d processes spawned at once", LIVE_MAX);
}

int tw_proc_finish(tw_proc *p, int sig)
{
    forget(p);
    if (sig)
        kill(-p->pid, sig);
    if (!exited_by(p->pid, deadline()))
        give_up(p->pid, p->fd, "%s: still running after signal %d", p->name, sig);
    int status = reap(p->pid);
    close(p->fd);
    assert_true(status != -1);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Read more of p's output into its buffer, waiting until `end`. */
static void proc_fill(tw_proc *p, int64_t end, const char *waiting_for)
{
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    int r;
    while ((r = poll(&pfd, 1, left_ms(end))) < 0 && errno == EINTR)
        ;
    if (r == 0) {
        forget(p);
        give_up(p->pid, p->fd, "%s: no %s in its output", p->name, waiting_for);
    }
    ssize_t n;
    while ((n = read(p->fd, p->buf + p->len, sizeof p->buf - p->len)) < 0 &&
           errno == EINTR)
        ;
    if (n <= 0)
        p->eof = true;
    else
        p->len += (size_t)n;
}

/* The next line (see tw_proc_line), waiting until `end`. */
static bool proc_line(tw_proc *p, char *line, size_t len, int64_t end,
                      const char *waiting_for)
{
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl || p->len == sizeof p->buf || (p->eof && p->len)) {
            size_t n = nl ? (size_t)(nl - p->buf) : p->len;
            size_t c = n < len - 1 ? n : len - 1;
            memcpy(line, p->buf, c);
            line[c] = '\0';
            n += nl != NULL;
            memmove(p->buf, p->buf + n, p->len - n);
            p->len -= n;
            return true;
        }
        if (p->eof)
            return false;
        proc_fill(p, end, waiting_for);
    }
}

bool tw_proc_line(tw_proc *p, char *line, size_t len)
{
    return proc_line(p, line, len, deadline(), "line");
}

bool tw_proc_saw(tw_proc *p, const char *what)
{
    char line[512], waiting_for[300];
    snprintf(waiting_for, sizeof waiting_for, "line with '%s'", what);
    int64_t end = deadline();
    while (proc_line(p, line, sizeof line, end, waiting_for))
        if (strstr(line, what))
            return true;
    return false;
}

int tw_cli_run(const char *cmd, char *out, size_t len)
{
    int fds[2];
    assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
    pid_t pid = tw_cli_fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    int64_t end = deadline();
    size_t n = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, left_ms(end));
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            give_up(pid, fds[0], "command did not finish its output: %s", cmd);
        char scratch[4096];
        char *to = n < len - 1 ? out + n : scratch; /* past len: drained */
        size_t room = n < len - 1 ? len - 1 - n : sizeof scratch;
        ssize_t got = read(fds[0], to, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (to != scratch)
            n += (size_t)got;
    }
    out[n] = '\0';
    if (!exited_by(pid, end))
        give_up(pid, fds[0], "command did not exit: %s", cmd);
    close(fds[0]);
    int st = reap(pid);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* True if a line of /proc/net/<file> has local port `port` in state `st`
 * (any state if st < 0). */
static bool proc_net_has(const char *file, uint16_t port, int st)
{
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/net/%s", file);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char local[64];
        unsigned state;
        if (sscanf(line, " %*u: %63s %*s %x", local, &state) != 2)
            continue;
        const char *colon = strrchr(local, ':');
        found = colon && strtoul(colon + 1, NULL, 16) == port &&
                (st < 0 || state == (unsigned)st);
    }
    fclose(f);
    return found;
}

void tw_cli_wait_bound(int type, uint16_t port, const char *who)
{
    enum { TCP_LISTEN = 0x0A };
    bool tcp = type == SOCK_STREAM;
    int64_t end = deadline();
    while (!(tcp ? proc_net_has("tcp", port, TCP_LISTEN) ||
                       proc_net_has("tcp6", port, TCP_LISTEN)
                 : proc_net_has("udp", port, -1) || proc_net_has("udp6", port, -1))) {
        if (now_ms() >= end)
            fail_msg("%s: nothing %s port %u after %d s", who,
                     tcp ? "listens on TCP" : "is bound to UDP", port, tw_cli_timeout);
        usleep(2000);
    }
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
        kill(-p->pid, SIGKILL);
        reap(p->pid);
        close(p->fd);
    }
    return 0;
}
