/* real/sys.c - the system-call table and its fault injection.
 *
 * Map:
 *   1. fault state: what is armed, checked on every call
 *   2. the shims: libc behind a fault check, one per table entry
 *   3. the tables: tw_sys (what real/ calls) and tw_sys_default
 *   4. the test API: tw_sys_fail, _clear, _short_write, _calls, _reset
 *
 * The shims cost a counter increment and one atomic load when no fault
 * is armed, so the table stays on in release builds:
 * the code that runs in production is the code the fault tests exercised.
 */
/* accept4 is a GNU extension; it must be visible before any header. */
#define _GNU_SOURCE
#include "real/sys.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* 1. fault state                                                      */

struct fault {
    int skip;  /* calls still to let through before failing */
    int count; /* failures left; -1 forever; 0 not armed */
    int err;
};

/* A mutex, not atomics, guards the fault records: getaddrinfo runs on
 * resolver threads, and faults are a test-time tool where clarity beats
 * speed. `armed` lets the common case skip the lock entirely. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fault faults[TW_SYS__COUNT];
static size_t short_max;
static int armed;
static unsigned long calls[TW_SYS__COUNT];

static const char *const names[TW_SYS__COUNT] = {
    [TW_SYS_SOCKET] = "socket",
    [TW_SYS_BIND] = "bind",
    [TW_SYS_LISTEN] = "listen",
    [TW_SYS_ACCEPT4] = "accept4",
    [TW_SYS_CONNECT] = "connect",
    [TW_SYS_READ] = "read",
    [TW_SYS_WRITE] = "write",
    [TW_SYS_WRITEV] = "writev",
    [TW_SYS_SENDMSG] = "sendmsg",
    [TW_SYS_CLOSE] = "close",
    [TW_SYS_SHUTDOWN] = "shutdown",
    [TW_SYS_SETSOCKOPT] = "setsockopt",
    [TW_SYS_GETSOCKOPT] = "getsockopt",
    [TW_SYS_GETSOCKNAME] = "getsockname",
    [TW_SYS_GETPEERNAME] = "getpeername",
    [TW_SYS_FCNTL] = "fcntl",
    [TW_SYS_EPOLL_CREATE1] = "epoll_create1",
    [TW_SYS_EPOLL_CTL] = "epoll_ctl",
    [TW_SYS_EPOLL_WAIT] = "epoll_wait",
    [TW_SYS_EVENTFD] = "eventfd",
    [TW_SYS_PIPE2] = "pipe2",
    [TW_SYS_FSTAT] = "fstat",
    [TW_SYS_SPAWN] = "posix_spawnp",
    [TW_SYS_PIDFD_OPEN] = "pidfd_open",
    [TW_SYS_PIDFD_SEND_SIGNAL] = "pidfd_send_signal",
    [TW_SYS_WAITID] = "waitid",
    [TW_SYS_KILL] = "kill",
    [TW_SYS_PTHREAD_SIGMASK] = "pthread_sigmask",
    [TW_SYS_SIGPENDING] = "sigpending",
    [TW_SYS_SIGTIMEDWAIT] = "sigtimedwait",
    [TW_SYS_UNLINK] = "unlink",
    [TW_SYS_LSTAT] = "lstat",
    [TW_SYS_CLOCK_GETTIME] = "clock_gettime",
    [TW_SYS_GETADDRINFO] = "getaddrinfo",
    [TW_SYS_PTHREAD_CREATE] = "pthread_create",
    [TW_SYS_SENDTO] = "sendto",
    [TW_SYS_RECVFROM] = "recvfrom",
    [TW_SYS_GETRLIMIT] = "getrlimit",
    [TW_SYS_SETRLIMIT] = "setrlimit",
    [TW_SYS_OPEN] = "open",
    [TW_SYS_PREAD] = "pread",
    [TW_SYS_PWRITE] = "pwrite",
    [TW_SYS_FSYNC] = "fsync",
    [TW_SYS_RENAME] = "rename",
    [TW_SYS_MKDIR] = "mkdir",
    [TW_SYS_OPENDIR] = "opendir",
    [TW_SYS_SENDFILE] = "sendfile",
};

/* Recompute the fast-path flag; fault_lock held. */
static void rearm_locked(void)
{
    int any = short_max != 0;
    for (int i = 0; i < TW_SYS__COUNT; i++)
        any |= faults[i].count != 0;
    __atomic_store_n(&armed, any, __ATOMIC_RELEASE);
}

/* Count the call; return the errno it must fail with, or 0 to go on.
 * The count is a relaxed load and store, not a locked add: this runs on
 * every read and send, and a locked instruction there costs more than
 * the rest of the shim. Counts are exact for calls made from one thread
 * (every test that reads them); concurrent callers may lose a count. */
static int fault_armed(tw_sys_id id);

static inline int fault_hit(tw_sys_id id)
{
    unsigned long n = __atomic_load_n(&calls[id], __ATOMIC_RELAXED);
    __atomic_store_n(&calls[id], n + 1, __ATOMIC_RELAXED);
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE))
        return 0;
    return fault_armed(id);
}

/* fault_hit's slow half, out of line so that the fast half inlines into
 * every shim: some fault is armed, maybe this one. */
static int fault_armed(tw_sys_id id)
{
    int err = 0;
    pthread_mutex_lock(&fault_lock);
    struct fault *f = &faults[id];
    if (f->count != 0) {
        if (f->skip > 0) {
            f->skip--;
        } else {
            err = f->err;
            if (f->count > 0 && --f->count == 0)
                rearm_locked();
        }
    }
    pthread_mutex_unlock(&fault_lock);
    return err;
}

static size_t write_cap(void)
{
    if (!__atomic_load_n(&armed, __ATOMIC_ACQUIRE))
        return 0;
    return __atomic_load_n(&short_max, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* 2. the shims                                                        */

/* Fail with the armed errno, else fall through to libc. */
#define FAULT(id)                       \
    do {                                \
        int e_ = fault_hit(id);         \
        if (e_ != 0) {                  \
            errno = e_;                 \
            return -1;                  \
        }                               \
    } while (0)

static int shim_socket(int d, int ty, int p)
{
    FAULT(TW_SYS_SOCKET);
    return socket(d, ty, p);
}

static int shim_bind(int fd, const struct sockaddr *a, socklen_t l)
{
    FAULT(TW_SYS_BIND);
    return bind(fd, a, l);
}

static int shim_listen(int fd, int backlog)
{
    FAULT(TW_SYS_LISTEN);
    return listen(fd, backlog);
}

static int shim_accept4(int fd, struct sockaddr *a, socklen_t *l, int fl)
{
    FAULT(TW_SYS_ACCEPT4);
    return accept4(fd, a, l, fl);
}

static int shim_connect(int fd, const struct sockaddr *a, socklen_t l)
{
    FAULT(TW_SYS_CONNECT);
    return connect(fd, a, l);
}

/* The calls made for every message (read, write, writev, sendmsg) go to
 * the kernel through syscall(2), not through libc's wrappers. In a
 * program with more than one thread (the twin command has its signal
 * thread; services usually have several) each wrapper makes its call a
 * cancellation point, which costs two atomic read-modify-writes per call:
 * about 40 ns per echoed message, more than twin's own code for it. A
 * loop's thread is not cancelled in the middle of a call (tw_loop_stop is
 * how a loop ends), so nothing is lost. */
/* On x86-64 the two calls of every echoed message (read, and send of one
 * buffer) skip even syscall(2): as a variadic function it moves all six
 * argument registers and a seventh from the stack, and its caller
 * spills, on every call. The instruction itself is all that is needed;
 * the result is the kernel's (-4095..-1: an errno). Elsewhere syscall(2)
 * does it. */
#if defined(__x86_64__)
static inline long sys_ret(long r)
{
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

static inline long raw_syscall3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return sys_ret(r);
}

static inline long raw_syscall6(long nr, long a, long b, long c, long d,
                                long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
                       "r"(r9)
                     : "rcx", "r11", "memory");
    return sys_ret(r);
}
#define SYS_READ(fd, buf, len) \
    raw_syscall3(SYS_read, (long)(fd), (long)(buf), (long)(len))
#define SYS_SEND(fd, buf, len, flags)                                    \
    raw_syscall6(SYS_sendto, (long)(fd), (long)(buf), (long)(len),       \
                 (long)(flags), 0, 0)
#else
#define SYS_READ(fd, buf, len) syscall(SYS_read, fd, buf, len)
#define SYS_SEND(fd, buf, len, flags) \
    syscall(SYS_sendto, fd, buf, len, flags, NULL, 0)
#endif

static ssize_t shim_read(int fd, void *buf, size_t len)
{
    FAULT(TW_SYS_READ);
    return SYS_READ(fd, buf, len);
}

static ssize_t shim_write(int fd, const void *buf, size_t len)
{
    FAULT(TW_SYS_WRITE);
    size_t cap = write_cap();
    if (cap != 0 && len > cap)
        len = cap;
    return syscall(SYS_write, fd, buf, len);
}

/* Copy the first `cap` bytes' worth of iov into out (at most max
 * segments); returns the new count. A short write is what the kernel
 * may do anyway, so taking fewer segments than asked is fair too. */
static int iov_cap(const struct iovec *iov, int n, size_t cap,
                   struct iovec *out, int max)
{
    int k = 0;
    for (int i = 0; i < n && k < max && cap > 0; i++) {
        out[k] = iov[i];
        if (out[k].iov_len > cap)
            out[k].iov_len = cap;
        cap -= out[k].iov_len;
        k++;
    }
    return k;
}

#define SHIM_IOV_MAX 64

static ssize_t shim_writev(int fd, const struct iovec *iov, int n)
{
    FAULT(TW_SYS_WRITEV);
    size_t cap = write_cap();
    if (cap == 0)
        return syscall(SYS_writev, fd, iov, n);
    struct iovec v[SHIM_IOV_MAX];
    return syscall(SYS_writev, fd, v, iov_cap(iov, n, cap, v, SHIM_IOV_MAX));
}

static ssize_t shim_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    FAULT(TW_SYS_SENDMSG);
    size_t cap = write_cap();
    /* One buffer, no address, no ancillary data: send(2) is the same call
     * minus copying the msghdr and the iovec into the kernel, which is a
     * measurable share of echoing a small message. */
    if (cap == 0 && msg->msg_iovlen == 1 && msg->msg_name == NULL &&
        msg->msg_controllen == 0)
        return SYS_SEND(fd, msg->msg_iov[0].iov_base,
                        msg->msg_iov[0].iov_len, flags);
    if (cap == 0)
        return syscall(SYS_sendmsg, fd, msg, flags);
    struct iovec v[SHIM_IOV_MAX];
    struct msghdr m = *msg;
    m.msg_iov = v;
    m.msg_iovlen = (size_t)iov_cap(msg->msg_iov, (int)msg->msg_iovlen, cap,
                                   v, SHIM_IOV_MAX);
    return syscall(SYS_sendmsg, fd, &m, flags);
}

static ssize_t shim_send(int fd, const void *buf, size_t len, int flags)
{
    FAULT(TW_SYS_SENDMSG);
    size_t cap = write_cap();
    if (cap != 0 && len > cap)
        len = cap;
    return SYS_SEND(fd, buf, len, flags);
}

static int shim_close(int fd)
{
    /* A faulted close still closes: Linux frees the descriptor even when
     * close reports an error, and a test must not leak fds. */
    int e = fault_hit(TW_SYS_CLOSE);
    int r = close(fd);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return r;
}

static int shim_shutdown(int fd, int how)
{
    FAULT(TW_SYS_SHUTDOWN);
    return shutdown(fd, how);
}

static int shim_setsockopt(int fd, int lv, int nm, const void *v,
                           socklen_t l)
{
    FAULT(TW_SYS_SETSOCKOPT);
    return setsockopt(fd, lv, nm, v, l);
}

static int shim_getsockopt(int fd, int lv, int nm, void *v, socklen_t *l)
{
    FAULT(TW_SYS_GETSOCKOPT);
    return getsockopt(fd, lv, nm, v, l);
}

static int shim_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
    FAULT(TW_SYS_GETSOCKNAME);
    return getsockname(fd, a, l);
}

static int shim_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
    FAULT(TW_SYS_GETPEERNAME);
    return getpeername(fd, a, l);
}

static int shim_fcntl(int fd, int cmd, int arg)
{
    FAULT(TW_SYS_FCNTL);
    return fcntl(fd, cmd, arg);
}

static int shim_epoll_create1(int flags)
{
    FAULT(TW_SYS_EPOLL_CREATE1);
    return epoll_create1(flags);
}

static int shim_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    FAULT(TW_SYS_EPOLL_CTL);
    return epoll_ctl(epfd, op, fd, ev);
}

static int shim_epoll_wait(int epfd, struct epoll_event *evs, int max,
                           int timeout_ms)
{
    FAULT(TW_SYS_EPOLL_WAIT);
    return epoll_wait(epfd, evs, max, timeout_ms);
}

static int shim_eventfd(unsigned initval, int flags)
{
    FAULT(TW_SYS_EVENTFD);
    return eventfd(initval, flags);
}

static int shim_pipe2(int fds[2], int flags)
{
    FAULT(TW_SYS_PIPE2);
    return pipe2(fds, flags);
}

static int shim_fstat(int fd, struct stat *st)
{
    FAULT(TW_SYS_FSTAT);
    return fstat(fd, st);
}

static int shim_spawn(pid_t *pid, const char *file,
                      const posix_spawn_file_actions_t *actions,
                      const posix_spawnattr_t *attr, char *const argv[],
                      char *const envp[])
{
    int e = fault_hit(TW_SYS_SPAWN);
    if (e != 0)
        return e;
    return posix_spawnp(pid, file, actions, attr, argv, envp);
}

/* Raw system calls: older C libraries have no wrappers for these. */
static int shim_pidfd_open(pid_t pid, unsigned flags)
{
    FAULT(TW_SYS_PIDFD_OPEN);
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

static int shim_pidfd_send_signal(int pidfd, int sig, siginfo_t *info,
                                  unsigned flags)
{
    FAULT(TW_SYS_PIDFD_SEND_SIGNAL);
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, info, flags);
}

static int shim_waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
    FAULT(TW_SYS_WAITID);
    return waitid(idtype, id, info, options);
}

static int shim_kill(pid_t pid, int sig)
{
    FAULT(TW_SYS_KILL);
    return kill(pid, sig);
}

static int shim_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    int e = fault_hit(TW_SYS_PTHREAD_SIGMASK);
    if (e != 0)
        return e;
    return pthread_sigmask(how, set, old);
}

static int shim_sigpending(sigset_t *set)
{
    FAULT(TW_SYS_SIGPENDING);
    return sigpending(set);
}

static int shim_sigtimedwait(const sigset_t *set, siginfo_t *info,
                             const struct timespec *timeout)
{
    FAULT(TW_SYS_SIGTIMEDWAIT);
    return sigtimedwait(set, info, timeout);
}

static int shim_unlink(const char *path)
{
    FAULT(TW_SYS_UNLINK);
    return unlink(path);
}

static int shim_lstat(const char *path, struct stat *st)
{
    FAULT(TW_SYS_LSTAT);
    return lstat(path, st);
}

static int shim_clock_gettime(clockid_t clock, struct timespec *ts)
{
    FAULT(TW_SYS_CLOCK_GETTIME);
    return clock_gettime(clock, ts);
}

static int shim_getaddrinfo(const char *host, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res)
{
    int e = fault_hit(TW_SYS_GETADDRINFO);
    if (e < 0)
        return e;
    if (e > 0) {
        errno = e;
        return EAI_SYSTEM;
    }
    return getaddrinfo(host, service, hints, res);
}

static int shim_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                               void *(*start)(void *), void *arg)
{
    int e = fault_hit(TW_SYS_PTHREAD_CREATE);
    if (e != 0)
        return e;
    return pthread_create(tid, attr, start, arg);
}

static ssize_t shim_sendto(int fd, const void *buf, size_t len, int flags,
                           const struct sockaddr *a, socklen_t alen)
{
    FAULT(TW_SYS_SENDTO);
    return sendto(fd, buf, len, flags, a, alen);
}

static ssize_t shim_recvfrom(int fd, void *buf, size_t len, int flags,
                             struct sockaddr *a, socklen_t *alen)
{
    FAULT(TW_SYS_RECVFROM);
    return recvfrom(fd, buf, len, flags, a, alen);
}

static int shim_getrlimit(int resource, struct rlimit *rl)
{
    FAULT(TW_SYS_GETRLIMIT);
    return getrlimit(resource, rl);
}

static int shim_setrlimit(int resource, const struct rlimit *rl)
{
    FAULT(TW_SYS_SETRLIMIT);
    return setrlimit(resource, rl);
}

static int shim_open(const char *path, int flags, mode_t mode)
{
    FAULT(TW_SYS_OPEN);
    return open(path, flags, mode);
}

static ssize_t shim_pread(int fd, void *buf, size_t len, off_t off)
{
    FAULT(TW_SYS_PREAD);
    return pread(fd, buf, len, off);
}

static ssize_t shim_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    FAULT(TW_SYS_PWRITE);
    size_t cap = write_cap();
    if (cap != 0 && len > cap)
        len = cap;
    return pwrite(fd, buf, len, off);
}

static int shim_fsync(int fd)
{
    FAULT(TW_SYS_FSYNC);
    return fsync(fd);
}

static int shim_rename(const char *from, const char *to)
{
    FAULT(TW_SYS_RENAME);
    return rename(from, to);
}

static int shim_mkdir(const char *path, mode_t mode)
{
    FAULT(TW_SYS_MKDIR);
    return mkdir(path, mode);
}

static DIR *shim_opendir(const char *path)
{
    int e = fault_hit(TW_SYS_OPENDIR);
    if (e != 0) {
        errno = e;
        return NULL;
    }
    return opendir(path);
}

/* Capped like the writes: a short sendfile is what the kernel may do. */
static ssize_t shim_sendfile(int out_fd, int in_fd, off_t *off, size_t len)
{
    FAULT(TW_SYS_SENDFILE);
    size_t cap = write_cap();
    if (cap != 0 && len > cap)
        len = cap;
    return sendfile(out_fd, in_fd, off, len);
}

/* ------------------------------------------------------------------ */
/* 3. the tables                                                       */

/* Written once, used for both: C cannot initialise one global from
 * another, and two copies of the list would drift apart. */
#define TW_SYS_DEFAULTS { \
    .socket = shim_socket, \
    .bind = shim_bind, \
    .listen = shim_listen, \
    .accept4 = shim_accept4, \
    .connect = shim_connect, \
    .read = shim_read, \
    .write = shim_write, \
    .writev = shim_writev, \
    .sendmsg = shim_sendmsg, \
    .send = shim_send, \
    .close = shim_close, \
    .shutdown = shim_shutdown, \
    .setsockopt = shim_setsockopt, \
    .getsockopt = shim_getsockopt, \
    .getsockname = shim_getsockname, \
    .getpeername = shim_getpeername, \
    .fcntl = shim_fcntl, \
    .epoll_create1 = shim_epoll_create1, \
    .epoll_ctl = shim_epoll_ctl, \
    .epoll_wait = shim_epoll_wait, \
    .eventfd = shim_eventfd, \
    .pipe2 = shim_pipe2, \
    .fstat = shim_fstat, \
    .spawn = shim_spawn, \
    .pidfd_open = shim_pidfd_open, \
    .pidfd_send_signal = shim_pidfd_send_signal, \
    .waitid = shim_waitid, \
    .kill = shim_kill, \
    .pthread_sigmask = shim_sigmask, \
    .sigpending = shim_sigpending, \
    .sigtimedwait = shim_sigtimedwait, \
    .unlink = shim_unlink, \
    .lstat = shim_lstat, \
    .clock_gettime = shim_clock_gettime, \
    .getaddrinfo = shim_getaddrinfo, \
    .freeaddrinfo = freeaddrinfo, \
    .pthread_create = shim_pthread_create, \
    .sendto = shim_sendto, \
    .recvfrom = shim_recvfrom, \
    .getrlimit = shim_getrlimit, \
    .setrlimit = shim_setrlimit, \
    .open = shim_open, \
    .pread = shim_pread, \
    .pwrite = shim_pwrite, \
    .fsync = shim_fsync, \
    .rename = shim_rename, \
    .mkdir = shim_mkdir, \
    .opendir = shim_opendir, \
    .readdir = readdir, \
    .closedir = closedir, \
    .sendfile = shim_sendfile, \
}

const tw_sys_table tw_sys_default = TW_SYS_DEFAULTS;
tw_sys_table tw_sys = TW_SYS_DEFAULTS;

/* ------------------------------------------------------------------ */
/* 4. the test API                                                     */

void tw_sys_fail(tw_sys_id id, int nth, int count, int err)
{
    if ((unsigned)id >= TW_SYS__COUNT)
        return;
    pthread_mutex_lock(&fault_lock);
    faults[id].skip = nth > 1 ? nth - 1 : 0;
    faults[id].count = count < 0 ? -1 : count;
    faults[id].err = err;
    rearm_locked();
    pthread_mutex_unlock(&fault_lock);
}

void tw_sys_clear(tw_sys_id id)
{
    tw_sys_fail(id, 1, 0, 0);
}

void tw_sys_short_write(size_t max_bytes)
{
    pthread_mutex_lock(&fault_lock);
    __atomic_store_n(&short_max, max_bytes, __ATOMIC_RELAXED);
    rearm_locked();
    pthread_mutex_unlock(&fault_lock);
}

unsigned long tw_sys_calls(tw_sys_id id)
{
    if ((unsigned)id >= TW_SYS__COUNT)
        return 0;
    return __atomic_load_n(&calls[id], __ATOMIC_RELAXED);
}

void tw_sys_reset(void)
{
    pthread_mutex_lock(&fault_lock);
    for (int i = 0; i < TW_SYS__COUNT; i++) {
        faults[i] = (struct fault){0, 0, 0};
        __atomic_store_n(&calls[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&short_max, 0, __ATOMIC_RELAXED);
    rearm_locked();
    pthread_mutex_unlock(&fault_lock);
    tw_sys = tw_sys_default;
}

const char *tw_sys_name(tw_sys_id id)
{
    if ((unsigned)id >= TW_SYS__COUNT)
        return "?";
    return names[id];
}
