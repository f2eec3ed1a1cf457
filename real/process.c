/* real/process.c - child processes on the epoll backend (subprocess_exec
 * and subprocess_shell); the SubprocessTransport's rules are the core's
 * (core/subprocess.c), this file starts, signals and reaps.
 *
 * Map:
 *   1. reaping: the pidfd in the epoll set, waitid on it
 *   2. the backend ops the core calls: signal, cleanup, free
 *   3. the child's stdio: pipes, /dev/null, inherit, stderr to stdout
 *   4. spawning: posix_spawnp, then the pidfd, then the transports
 *
 * Why pidfd: a SIGCHLD handler is process-wide and would fight the host
 * program's own (or a second loop's); a pidfd is per child, sits in the
 * epoll set like any fd, becomes readable when the child exits, and
 * signals sent through it can never hit a recycled pid. waitid(P_PIDFD)
 * reaps exactly our child and nothing else.
 *
 * Why posix_spawnp: glibc runs it with clone(CLONE_VM | CLONE_VFORK), so
 * it is safe in a threaded program and cheap for a large one, and it
 * reports a failed exec (or chdir) as its own return value, so a missing
 * program is an error of the call, not a child that exits 127.
 *
 * Nothing leaks into the child: every fd twin opens is O_CLOEXEC, and the
 * child additionally closes every fd above 2 before exec (Popen's
 * close_fds=True), so even a host fd without CLOEXEC stays home.
 */
/* posix_spawn_file_actions_addchdir_np and _addclosefrom_np are GNU. */
#define _GNU_SOURCE
#include "real/internal.h"
#include "core/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

struct real_proc {
    tw__subprocess sp; /* first: the core casts */
    struct real_loop *l;
    struct real_io io; /* the pidfd */
    bool reaped;
};

static struct real_proc *proc_of(tw__subprocess *sp)
{
    return (struct real_proc *)sp;
}

/* ------------------------------------------------------------------ */
/* 1. reaping                                                          */

/* asyncio's returncode: the exit status, or minus the signal. */
static int returncode_of(const siginfo_t *si)
{
    if (si->si_code == CLD_EXITED)
        return si->si_status;
    return -si->si_status; /* CLD_KILLED, CLD_DUMPED */
}

/* Reap the child if it has exited (block: wait for it). Returns 1 with
 * *code set, 0 while it runs, or -errno. */
static int reap(struct real_proc *p, bool block, int *code)
{
    siginfo_t si;
    int opts = WEXITED | (block ? 0 : WNOHANG);
    int r = -1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        memset(&si, 0, sizeof si);
        r = tw_sys.waitid(P_PIDFD, (id_t)p->io.fd, &si, opts);
        if (r < 0 && errno == EINVAL) /* P_PIDFD is Linux 5.4+; until we */
            r = tw_sys.waitid(P_PID, (id_t)p->sp.pid, &si, opts); /* reap, the pid is ours */
        if (r == 0 || errno != EINTR)
            break;
    }
    if (r < 0 && errno == ECHILD) {
        /* Somebody else reaped it (SIGCHLD set to SIG_IGN, or a host's
         * waitpid(-1)): the status is lost. asyncio reports 255 too. */
        *code = 255;
        return 1;
    }
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (si.si_pid == 0)
        return 0;
    *code = returncode_of(&si);
    return 1;
}

static void pidfd_cb(struct real_io *io, uint32_t events)
{
    struct real_proc *p = tw__container_of(io, struct real_proc, io);
    (void)events;
    int code = 0;
    int r = reap(p, false, &code);
    if (r == 0)
        return; /* not yet (spurious, or interrupted): epoll calls again */
    if (r < 0)
        code = 255; /* waitid itself failed: say "exited", never spin */
    p->reaped = true;
    tw__real_io_set(p->l, io, 0);
    tw__subprocess_exited(&p->sp, code);
}

/* ------------------------------------------------------------------ */
/* 2. backend ops                                                      */

static int proc_signal(tw__subprocess *sp, int sig)
{
    struct real_proc *p = proc_of(sp);
    if (p->reaped)
        return -ESRCH;
    if (tw_sys.pidfd_send_signal(p->io.fd, sig, NULL, 0) < 0)
        return -errno;
    return 0;
}

/* Kill and reap what still runs: the transport is going away (after its
 * end, or torn down by tw_loop_free), and no zombie may stay behind.
 * SIGKILL cannot be caught, so the blocking wait is short. */
static void proc_cleanup(tw__subprocess *sp)
{
    struct real_proc *p = proc_of(sp);
    if (!p->reaped && p->io.fd >= 0) {
        int code;
        tw_sys.pidfd_send_signal(p->io.fd, SIGKILL, NULL, 0);
        reap(p, true, &code);
        p->reaped = true;
    }
    if (p->io.fd >= 0) {
        tw__real_io_set(p->l, &p->io, 0);
        tw_sys.close(p->io.fd);
        p->io.fd = -1;
    }
}

/* The allocation begins with sp, which begins with its transport. */
static void proc_free(tw__subprocess *sp) { tw__transport_free(&sp->base); }

static const tw__subprocess_ops proc_ops = {
    .signal = proc_signal,
    .cleanup = proc_cleanup,
    .free = proc_free,
};

/* ------------------------------------------------------------------ */
/* 3. the child's stdio                                                */

struct stdio_fds {
    int parent[3]; /* our ends, -1 where no pipe */
    int child[3];  /* the child's ends, closed once it runs */
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        tw_sys.close(*fd);
    *fd = -1;
}

static void stdio_close(struct stdio_fds *s)
{
    for (int i = 0; i < 3; i++) {
        close_fd(&s->parent[i]);
        close_fd(&s->child[i]);
    }
}

/* Move fd above 2: the child dup2()s its ends onto 0..2, and an end that
 * already sat on one of those numbers (the host closed its stdin) could
 * be overwritten before it is used. */
static int above_stdio(int *fd)
{
    if (*fd > 2)
        return 0;
    int n = tw_sys.fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (n < 0)
        return -errno;
    tw_sys.close(*fd);
    *fd = n;
    return 0;
}

/* One pipe for child fd i: the child reads stdin, writes stdout/err. */
static int stdio_pipe(struct stdio_fds *s, int i)
{
    int fds[2];
    if (tw_sys.pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    s->child[i] = i == 0 ? fds[0] : fds[1];
    s->parent[i] = i == 0 ? fds[1] : fds[0];
    int err = above_stdio(&s->child[i]);
    if (err == 0)
        err = above_stdio(&s->parent[i]);
    if (err == 0) {
        int fl = tw_sys.fcntl(s->parent[i], F_GETFL, 0);
        if (fl < 0 || tw_sys.fcntl(s->parent[i], F_SETFL, fl | O_NONBLOCK) < 0)
            err = -errno;
    }
    return err;
}

/* The file actions the child runs before exec, in order. */
static int stdio_actions(posix_spawn_file_actions_t *fa,
                         const struct stdio_fds *s,
                         const tw_subprocess_opts *o)
{
    const tw_stdio modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
    int e = 0;
    if (o->cwd)
        e = posix_spawn_file_actions_addchdir_np(fa, o->cwd);
    for (int i = 0; i < 3 && e == 0; i++) {
        switch (modes[i]) {
        case TW_STDIO_PIPE:
            e = posix_spawn_file_actions_adddup2(fa, s->child[i], i);
            break;
        case TW_STDIO_DEVNULL:
            e = posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                                 i == 0 ? O_RDONLY : O_WRONLY, 0);
            break;
        case TW_STDIO_STDOUT: /* after fd 1 is in place */
            e = posix_spawn_file_actions_adddup2(fa, 1, 2);
            break;
        case TW_STDIO_INHERIT:
            break;
        }
    }
    if (e == 0)
        e = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    return -e;
}

/* A clean signal state for the child: nothing blocked (we may be inside
 * a host's masked thread), SIGPIPE and SIGXFSZ at their defaults (a
 * server that ignores SIGPIPE must not hand that to `yes | head`), as
 * Popen's restore_signals does. */
static int spawn_attr(posix_spawnattr_t *attr)
{
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGXFSZ);
    int e = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK |
                                               POSIX_SPAWN_SETSIGDEF);
    if (e == 0)
        e = posix_spawnattr_setsigmask(attr, &none);
    if (e == 0)
        e = posix_spawnattr_setsigdefault(attr, &def);
    return -e;
}

/* ------------------------------------------------------------------ */
/* 4. spawning                                                         */

/* Start the child with its stdio in place. 0 and *pid, or -errno. */
static int start_child(const struct tw_subprocess_spec *spec,
                       struct stdio_fds *s, pid_t *pid)
{
    const tw_stdio modes[3] = {spec->opts.stdin_mode, spec->opts.stdout_mode,
                               spec->opts.stderr_mode};
    int err = 0;
    for (int i = 0; i < 3 && err == 0; i++)
        if (modes[i] == TW_STDIO_PIPE)
            err = stdio_pipe(s, i);
    if (err < 0)
        return err;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -ENOMEM;
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -ENOMEM;
    }
    err = stdio_actions(&fa, s, &spec->opts);
    if (err == 0)
        err = spawn_attr(&attr);
    if (err == 0) {
        char *const *env = spec->opts.env ? (char *const *)spec->opts.env
                                          : environ;
        err = -tw_sys.spawn(pid, spec->argv[0], &fa, &attr,
                            (char *const *)spec->argv, env);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 3; i++)
        close_fd(&s->child[i]); /* the child has them; EOF needs ours shut */
    return err;
}

/* A child we cannot watch: kill it and reap it at once. */
static void abandon(pid_t pid)
{
    siginfo_t si;
    tw_sys.kill(pid, SIGKILL);
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++)
        if (tw_sys.waitid(P_PID, (id_t)pid, &si, WEXITED) == 0 || errno != EINTR)
            break;
}

int tw__real_subprocess(tw_loop *loop, tw_protocol_factory factory, void *arg,
                        const struct tw_subprocess_spec *spec,
                        tw_connect_cb cb)
{
    struct real_loop *l = tw__real_loop(loop);
    struct stdio_fds s = {{-1, -1, -1}, {-1, -1, -1}};
    const tw_stdio modes[3] = {spec->opts.stdin_mode, spec->opts.stdout_mode,
                               spec->opts.stderr_mode};
    /* All memory first: once the child runs, nothing may fail but what
     * the core reports through cb. */
    struct real_proc *p = calloc(1, sizeof *p);
    struct real_pipe *pipes[3] = {NULL, NULL, NULL};
    int err = p ? 0 : -ENOMEM;
    for (int i = 0; i < 3 && err == 0; i++)
        if (modes[i] == TW_STDIO_PIPE && !(pipes[i] = calloc(1, sizeof *pipes[i])))
            err = -ENOMEM;
    pid_t pid = -1;
    if (err == 0)
        err = start_child(spec, &s, &pid);
    int pidfd = -1;
    bool gone = false;
    if (err == 0 && (pidfd = tw_sys.pidfd_open(pid, 0)) < 0) {
        /* ESRCH: it exited and was reaped already, by the kernel (the
         * host set SIGCHLD to SIG_IGN) or by a host's waitpid(-1). */
        if (errno == ESRCH)
            gone = true;
        else
            err = -errno;
    }
    if (err == 0) {
        p->l = l;
        p->io.cb = pidfd_cb;
        p->io.fd = pidfd;
        if (!gone)
            err = tw__real_io_set(l, &p->io, EPOLLIN);
    }
    if (err < 0) {
        if (pid > 0)
            abandon(pid);
        if (pidfd >= 0)
            tw_sys.close(pidfd);
        stdio_close(&s);
        for (int i = 0; i < 3; i++)
            free(pipes[i]);
        free(p);
        return err;
    }
    tw__subprocess_init(&p->sp, &proc_ops, pid);
    p->reaped = gone;
    for (int i = 0; i < 3; i++) {
        if (!pipes[i])
            continue;
        tw__real_pipe_init(pipes[i], l, s.parent[i], i == 0);
        tw__subprocess_set_pipe(&p->sp, i, &pipes[i]->base);
    }
    /* The core reports a factory failure through cb (and kills the
     * child through proc_cleanup): the call itself succeeded. */
    if (tw__subprocess_open(&p->sp, loop, factory, arg, cb) == 0 && gone)
        tw__subprocess_exited(&p->sp, 255); /* its status is lost (reap) */
    return 0;
}
