/* tests/test_real_process.c - what only the real backend can show about
 * pipes and child processes: no fd leaks into a child, no zombie is left
 * behind (after close, after an exit, after tw_loop_free), the pidfd is
 * what watches the child and no SIGCHLD handler is installed, SIGPIPE
 * never kills us (and a SIGPIPE of the host's is left alone), the child
 * gets a clean signal state, and injected system call failures leave
 * nothing behind.
 *
 * Map: helpers; fds; zombies; pidfd and SIGCHLD; SIGPIPE; the child's
 * signal state; signal deaths; faults; refused fds; the environment.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/harness.h"
#include "tests/prec.h"
#include "tests/rec.h"
#include "twin/real.h"

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- helpers ---- */

typedef struct fixture {
    tw_loop *loop;
    tw_env env; /* for TW_WAIT and prec_exec */
    /* what tests change, put back even when a test fails half way */
    struct sigaction chld, pipe;
    sigset_t mask;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    sigaction(SIGCHLD, NULL, &f->chld);
    sigaction(SIGPIPE, NULL, &f->pipe);
    pthread_sigmask(SIG_BLOCK, NULL, &f->mask);
    f->loop = tw_loop_new(NULL);
    if (!f->loop)
        return -1;
    f->env.backend = tw_backend_real;
    f->env.loop = f->loop;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    tw_sys_reset();
    sigaction(SIGCHLD, &f->chld, NULL);
    sigaction(SIGPIPE, &f->pipe, NULL);
    pthread_sigmask(SIG_SETMASK, &f->mask, NULL);
    tw_loop_run_for(f->loop, TW_SEC(1));
    unsigned alive = tw_loop_alive(f->loop);
    tw_loop_free(f->loop);
    free(f);
    return alive ? -1 : 0;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* No child of ours is waiting to be reaped, and none runs. */
static void assert_no_children(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    errno = 0;
    int r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    assert_int_equal(r, -1);
    assert_int_equal(errno, ECHILD);
}

static void assert_reaped(int pid)
{
    assert_true(pid > 0);
    errno = 0;
    assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD); /* not ours any more: reaped */
    assert_int_equal(kill(pid, 0), -1);  /* and gone, not a zombie */
}

/* ---- fds ---- */

/* A host fd without CLOEXEC, twin's epoll fd and eventfd, another child's
 * pipes and pidfd: the child's shell sees only 0, 1 and 2. */
static void test_no_fd_leaks_into_the_child(void **state)
{
    fixture *f = *state;
    int host_fd = open("/dev/null", O_RDONLY); /* deliberately no CLOEXEC */
    assert_true(host_fd >= 3);
    prec other;
    prec_init(&other);
    prec_exec(&f->env, &other, ARGV("sleep", "100"), NULL);
    prec r;
    prec_init(&r);
    prec_shell(&f->env, &r, "ls /proc/$$/fd", NULL);
    TW_WAIT(&f->env, r.released);
    assert_string_equal(prec_str(&r, 1), "0\n1\n2\n");
    assert_int_equal(r.returncode, 0);
    tw_transport_close(other.t);
    TW_WAIT(&f->env, other.released);
    close(host_fd);
    prec_free(&r);
    prec_free(&other);
}

/* Every fd of a run is given back: pipes, pidfd. */
static void test_no_fd_leaks_in_the_parent(void **state)
{
    fixture *f = *state;
    int before = count_fds();
    for (int i = 0; i < 3; i++) {
        prec r;
        prec_init(&r);
        prec_shell(&f->env, &r, "echo hi; echo err >&2", NULL);
        TW_WAIT(&f->env, r.released);
        prec_free(&r);
    }
    assert_int_equal(count_fds(), before);
}

/* ---- zombies ---- */

static void close_now(prec *r) { tw_transport_close(r->t); }

static void test_no_zombie_after_close(void **state)
{
    fixture *f = *state;
    prec r;
    prec_init(&r);
    r.on_made = close_now;
    prec_exec(&f->env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(&f->env, r.released);
    int pid = r.pid;
    assert_int_equal(r.returncode, -SIGKILL);
    assert_reaped(pid);
    assert_no_children();
    prec_free(&r);
}

static void test_no_zombie_after_a_normal_exit(void **state)
{
    fixture *f = *state;
    prec r;
    prec_init(&r);
    prec_exec(&f->env, &r, ARGV("true"), NULL);
    TW_WAIT(&f->env, r.released);
    int pid = r.pid;
    assert_reaped(pid);
    prec_free(&r);
}

/* tw_loop_free with a child still running (and its pipes open): the child
 * is killed and reaped, the protocol released without callbacks. */
static void test_loop_free_kills_and_reaps(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    tw_env env = {.backend = tw_backend_real, .loop = loop};
    prec r;
    prec_init(&r);
    prec_exec(&env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(&env, r.made);
    int pid = r.pid;
    tw_loop_free(loop);
    assert_true(r.released);
    assert_int_equal(r.lost, 0);
    assert_reaped(pid);
    prec_free(&r);
}

/* ---- pidfd, not SIGCHLD ---- */

static void test_pidfd_watches_the_child_not_sigchld(void **state)
{
    fixture *f = *state;
    struct sigaction before, after;
    assert_int_equal(sigaction(SIGCHLD, NULL, &before), 0);
    tw_sys_reset();
    prec r;
    prec_init(&r);
    prec_exec(&f->env, &r, ARGV("true"), NULL);
    TW_WAIT(&f->env, r.released);
    assert_int_equal(tw_sys_calls(TW_SYS_PIDFD_OPEN), 1);
    assert_true(tw_sys_calls(TW_SYS_WAITID) >= 1);
    assert_int_equal(sigaction(SIGCHLD, NULL, &after), 0);
    assert_ptr_equal(after.sa_handler, before.sa_handler);
    assert_ptr_equal(after.sa_handler, SIG_DFL);
    prec_free(&r);
}

/* A host that set SIGCHLD to SIG_IGN has its children reaped by the
 * kernel: the exit is still seen (the pidfd, or pidfd_open's ESRCH when
 * the child was gone before it), the status is lost, and asyncio's
 * answer is 255. */
static void test_sigchld_ignored_by_the_host(void **state)
{
    fixture *f = *state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    assert_int_equal(sigaction(SIGCHLD, &ign, &old), 0);
    prec r;
    prec_init(&r);
    prec_exec(&f->env, &r, ARGV("true"), NULL);
    TW_WAIT(&f->env, r.released);
    sigaction(SIGCHLD, &old, NULL);
    assert_int_equal(r.exited, 1);
    assert_int_equal(r.returncode, 255);
    prec_free(&r);
}

/* ---- SIGPIPE ---- */

static bool sigpipe_pending(void)
{
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, SIGPIPE) == 1;
}

static bool sigpipe_blocked(void)
{
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    return sigismember(&m, SIGPIPE) == 1;
}

/* The reader is gone and the kernel says EPIPE right away: the write
 * returns -EPIPE, SIGPIPE (at its default: death) never arrives. */
static void write_into_a_closed_pipe(fixture *f, rec_client *w)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    rec_client_init(w, 0);
    assert_int_equal(tw_connect_write_pipe(f->loop, rec_client_factory, w,
                                           fds[1], rec_client_cb), 0);
    TW_WAIT(&f->env, w->res.called);
    close(fds[0]);
    assert_int_equal(tw_transport_write(w->r.t, "x", 1), -EPIPE);
    TW_WAIT(&f->env, w->r.released);
    assert_int_equal(w->r.lost_err, -EPIPE);
}

static void test_sigpipe_never_kills_us(void **state)
{
    fixture *f = *state;
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigemptyset(&dfl.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
    rec_client w;
    write_into_a_closed_pipe(f, &w);
    assert_false(sigpipe_pending());
    assert_false(sigpipe_blocked()); /* the mask is as it was */
    sigaction(SIGPIPE, &old, NULL);
    rec_free(&w.r);
}

/* A SIGPIPE the host had pending (blocked) before our write is its own:
 * it is still pending afterwards. */
static void test_a_pending_host_sigpipe_is_left_alone(void **state)
{
    fixture *f = *state;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    raise(SIGPIPE);
    assert_true(sigpipe_pending());
    rec_client w;
    write_into_a_closed_pipe(f, &w);
    assert_true(sigpipe_pending());
    assert_true(sigpipe_blocked());
    struct timespec zero = {0, 0};
    assert_int_equal(sigtimedwait(&set, NULL, &zero), SIGPIPE);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    rec_free(&w.r);
}

/* ---- the child's signal state ---- */

/* The mask of a /proc/PID/status line ("SigIgn:\t0000000000001000"). */
static unsigned long long status_mask(int pid, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    unsigned long long m = ~0ull;
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, key, strlen(key)) == 0)
            m = strtoull(line + strlen(key) + 1, NULL, 16);
    fclose(fp);
    return m;
}

static void check_child_signals(prec *r)
{
    int pid = tw_transport_get_pid(r->t);
    unsigned long long bit = 1ull << (SIGPIPE - 1);
    /* sleep has exec'd by now: posix_spawn returned after the exec */
    assert_int_equal(status_mask(pid, "SigIgn:") & bit, 0);
    assert_int_equal(status_mask(pid, "SigBlk:"), 0);
    tw_transport_kill(r->t);
}

/* A host that ignores SIGPIPE and blocks signals in its loop thread must
 * not hand either to its children (Popen's restore_signals). */
static void test_child_gets_a_clean_signal_state(void **state)
{
    fixture *f = *state;
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    sigset_t usr, oldmask;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr, &oldmask);
    prec r;
    prec_init(&r);
    r.on_made = check_child_signals;
    prec_exec(&f->env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(&f->env, r.released);
    pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
    sigaction(SIGPIPE, &old, NULL);
    assert_int_equal(r.returncode, -SIGKILL);
    prec_free(&r);
}

/* A crash (core dump or not) reads as asyncio's negative signal. */
static void test_signal_death_from_inside(void **state)
{
    fixture *f = *state;
    prec r;
    prec_init(&r);
    prec_shell(&f->env, &r, "kill -SEGV $$", NULL);
    TW_WAIT(&f->env, r.released);
    assert_int_equal(r.returncode, -SIGSEGV);
    prec_free(&r);
}

/* ---- faults ---- */

static void test_spawn_failures_leave_nothing(void **state)
{
    fixture *f = *state;
    int before = count_fds();
    prec r;
    prec_init(&r);
    struct {
        tw_sys_id id;
        int err;
    } cases[] = {
        {TW_SYS_PIPE2, EMFILE},
        {TW_SYS_SPAWN, EAGAIN},
        {TW_SYS_PIDFD_OPEN, ENOSYS},
        {TW_SYS_EPOLL_CTL, ENOMEM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tw_sys_fail(cases[i].id, 1, 1, cases[i].err);
        assert_int_equal(tw_subprocess_exec(f->loop, prec_factory, &r,
                                            ARGV("sleep", "100"), NULL, prec_cb),
                         -cases[i].err);
        tw_sys_clear(cases[i].id);
        assert_int_equal(count_fds(), before);
        assert_no_children(); /* a started child was killed and reaped */
        assert_int_equal(tw_loop_alive(f->loop), 0);
    }
    tw_run_slice(&f->env);
    assert_false(r.cb_called);
    prec_free(&r);
}

/* Short writes and reads of one byte at a time still move every byte. */
static void test_short_writes_through_cat(void **state)
{
    fixture *f = *state;
    static uint8_t data[200000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = tw_pattern(5, i);
    tw_sys_short_write(777);
    prec r;
    prec_init(&r);
    r.user = data;
    prec_exec(&f->env, &r, ARGV("cat"), NULL);
    TW_WAIT(&f->env, r.made);
    tw_transport *in = prec_pipe(&r, 0);
    assert_int_equal(tw_transport_write(in, data, sizeof data), 0);
    assert_int_equal(tw_transport_write_eof(in), 0);
    TW_WAIT(&f->env, r.released);
    tw_sys_short_write(0);
    assert_int_equal(r.outlen[1], sizeof data);
    assert_memory_equal(r.out[1], data, sizeof data);
    prec_free(&r);
}

/* ---- refused fds ---- */

static void test_connect_pipe_refuses_a_regular_file(void **state)
{
    fixture *f = *state;
    char path[] = "/tmp/twin-pipe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_connect_read_pipe(f->loop, rec_client_factory, &c, fd,
                                          rec_client_cb), -EINVAL);
    /* the fd was the call's: closed */
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    int dn = open("/dev/null", O_WRONLY | O_CLOEXEC); /* epoll cannot watch it */
    assert_int_equal(tw_connect_write_pipe(f->loop, rec_client_factory, &c, dn,
                                           rec_client_cb), -EPERM);
    assert_int_equal(fcntl(dn, F_GETFD), -1);
    tw_run_slice(&f->env);
    assert_false(c.res.called);
    rec_free(&c.r);
}

/* ---- the environment ---- */

static void test_env_null_inherits_ours(void **state)
{
    fixture *f = *state;
    setenv("TWIN_INHERITED", "from the parent", 1);
    prec r;
    prec_init(&r);
    prec_exec(&f->env, &r, ARGV("printenv", "TWIN_INHERITED"), NULL);
    TW_WAIT(&f->env, r.released);
    unsetenv("TWIN_INHERITED");
    assert_string_equal(prec_str(&r, 1), "from the parent\n");
    prec_free(&r);
}

/* A full path and a missing cwd. */
static void test_paths(void **state)
{
    fixture *f = *state;
    prec r;
    prec_init(&r);
    prec_exec(&f->env, &r, ARGV("/bin/echo", "abs"), NULL);
    TW_WAIT(&f->env, r.released);
    assert_string_equal(prec_str(&r, 1), "abs\n");
    prec_free(&r);
    tw_subprocess_opts o = {.cwd = "/twin/no/such/dir"};
    assert_int_equal(tw_subprocess_exec(f->loop, prec_factory, &r, ARGV("true"),
                                        &o, prec_cb), -ENOENT);
    assert_no_children();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_fd_leaks_into_the_child),
        T(test_no_fd_leaks_in_the_parent),
        T(test_no_zombie_after_close),
        T(test_no_zombie_after_a_normal_exit),
        TW_TEST(test_loop_free_kills_and_reaps),
        T(test_pidfd_watches_the_child_not_sigchld),
        T(test_sigchld_ignored_by_the_host),
        T(test_sigpipe_never_kills_us),
        T(test_a_pending_host_sigpipe_is_left_alone),
        T(test_child_gets_a_clean_signal_state),
        T(test_signal_death_from_inside),
        T(test_spawn_failures_leave_nothing),
        T(test_short_writes_through_cat),
        T(test_connect_pipe_refuses_a_regular_file),
        T(test_env_null_inherits_ours),
        T(test_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
