/* real/sys.h - the one door between the epoll backend and the kernel.
 *
 * Map:
 *   1. the override table: every system call real/ makes, as a pointer
 *   2. fault injection for tests (SQLite's test_syscall.c, made smaller)
 *
 * Every file in real/ calls the kernel only through `tw_sys`, never
 * directly. That one rule is what lets a cmocka test make the Nth accept4()
 * fail with EMFILE, cut writes short or interrupt epoll_wait() with EINTR,
 * exactly where it wants, without a network that misbehaves on cue.
 *
 * Only tests and the backend include this header; protocol code never does.
 */
#ifndef TWIN_REAL_SYS_H
#define TWIN_REAL_SYS_H

#include <dirent.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. the override table                                               */

/* One id per entry of the table, for the fault API below. */
typedef enum tw_sys_id {
    TW_SYS_SOCKET,
    TW_SYS_BIND,
    TW_SYS_LISTEN,
    TW_SYS_ACCEPT4,
    TW_SYS_CONNECT,
    TW_SYS_READ,
    TW_SYS_WRITE,
    TW_SYS_WRITEV,
    TW_SYS_SENDMSG,
    TW_SYS_CLOSE,
    TW_SYS_SHUTDOWN,
    TW_SYS_SETSOCKOPT,
    TW_SYS_GETSOCKOPT,
    TW_SYS_GETSOCKNAME,
    TW_SYS_GETPEERNAME,
    TW_SYS_FCNTL,
    TW_SYS_EPOLL_CREATE1,
    TW_SYS_EPOLL_CTL,
    TW_SYS_EPOLL_WAIT,
    TW_SYS_EVENTFD,
    TW_SYS_PIPE2,             /* pipes and subprocesses: real/pipe.c, */
    TW_SYS_FSTAT,             /* real/process.c */
    TW_SYS_SPAWN,
    TW_SYS_PIDFD_OPEN,
    TW_SYS_PIDFD_SEND_SIGNAL,
    TW_SYS_WAITID,
    TW_SYS_KILL,
    TW_SYS_PTHREAD_SIGMASK,
    TW_SYS_SIGPENDING,
    TW_SYS_SIGTIMEDWAIT,
    TW_SYS_UNLINK,
    TW_SYS_LSTAT,
    TW_SYS_CLOCK_GETTIME,
    TW_SYS_GETADDRINFO,
    TW_SYS_PTHREAD_CREATE,
    TW_SYS_SENDTO,
    TW_SYS_RECVFROM,
    TW_SYS_GETRLIMIT,         /* RLIMIT_NOFILE: tw_loop_fd_limit */
    TW_SYS_SETRLIMIT,
    TW_SYS_OPEN,              /* files (twin/file.h): real/file.c */
    TW_SYS_PREAD,
    TW_SYS_PWRITE,
    TW_SYS_FSYNC,
    TW_SYS_RENAME,
    TW_SYS_MKDIR,
    TW_SYS_OPENDIR,
    TW_SYS_SENDFILE,          /* tw_loop_sendfile's fast path */
    TW_SYS__COUNT
} tw_sys_id;

/* The table. Each entry has the libc signature (fcntl takes one int
 * argument: the backend needs no other form). The defaults are libc's
 * functions behind a thin shim that applies the faults of section 2, so
 * a test that swaps in its own pointer bypasses those faults for that
 * call (save tw_sys_default's entry to chain to it).
 *
 * The table is read without a lock: change it only while no loop runs
 * and no resolver thread is pending. Note that the loop's eventfd is
 * read and written through the `read` and `write` entries too (on a
 * wakeup or a finished name lookup): a test faulting those should not
 * have a lookup or a threadsafe call in flight. */
typedef struct tw_sys_table {
    int (*socket)(int domain, int type, int protocol);
    int (*bind)(int fd, const struct sockaddr *addr, socklen_t len);
    int (*listen)(int fd, int backlog);
    int (*accept4)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
    int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
    ssize_t (*read)(int fd, void *buf, size_t len);
    ssize_t (*write)(int fd, const void *buf, size_t len);
    ssize_t (*writev)(int fd, const struct iovec *iov, int iovcnt);
    ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
    /* send(2): a stream's write of one buffer, the common case, without
     * a msghdr to fill and take apart. Counted, faulted and cut short as
     * sendmsg (TW_SYS_SENDMSG): to a test both are the stream's send. */
    ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
    int (*close)(int fd);
    int (*shutdown)(int fd, int how);
    int (*setsockopt)(int fd, int level, int name, const void *val,
                      socklen_t len);
    int (*getsockopt)(int fd, int level, int name, void *val,
                      socklen_t *len);
    int (*getsockname)(int fd, struct sockaddr *addr, socklen_t *len);
    int (*getpeername)(int fd, struct sockaddr *addr, socklen_t *len);
    int (*fcntl)(int fd, int cmd, int arg);
    int (*epoll_create1)(int flags);
    int (*epoll_ctl)(int epfd, int op, int fd, struct epoll_event *ev);
    int (*epoll_wait)(int epfd, struct epoll_event *evs, int max,
                      int timeout_ms);
    int (*eventfd)(unsigned initval, int flags);
    /* Pipes and subprocesses. spawn is posix_spawnp and pthread_sigmask
     * (its entry): both return an error number, not -1/errno.
     * pidfd_open and pidfd_send_signal are the raw system calls. */
    int (*pipe2)(int fds[2], int flags);
    int (*fstat)(int fd, struct stat *st);
    int (*spawn)(pid_t *pid, const char *file,
                 const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[],
                 char *const envp[]);
    int (*pidfd_open)(pid_t pid, unsigned flags);
    int (*pidfd_send_signal)(int pidfd, int sig, siginfo_t *info,
                             unsigned flags);
    int (*waitid)(idtype_t idtype, id_t id, siginfo_t *info, int options);
    int (*kill)(pid_t pid, int sig);
    int (*pthread_sigmask)(int how, const sigset_t *set, sigset_t *old);
    int (*sigpending)(sigset_t *set);
    int (*sigtimedwait)(const sigset_t *set, siginfo_t *info,
                        const struct timespec *timeout);
    int (*unlink)(const char *path);
    int (*lstat)(const char *path, struct stat *st);
    int (*clock_gettime)(clockid_t clock, struct timespec *ts);
    /* Runs on the resolver's worker thread, not the loop's. */
    int (*getaddrinfo)(const char *host, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
    /* Frees what getaddrinfo above returned (no fault applies). */
    void (*freeaddrinfo)(struct addrinfo *res);
    /* Returns an error number, not -1/errno, as pthreads do. */
    int (*pthread_create)(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);
    /* Datagrams (real/udp.c). sendto is never cut short by
     * tw_sys_short_write: a datagram goes whole or not at all. */
    ssize_t (*sendto)(int fd, const void *buf, size_t len, int flags,
                      const struct sockaddr *addr, socklen_t alen);
    ssize_t (*recvfrom)(int fd, void *buf, size_t len, int flags,
                        struct sockaddr *addr, socklen_t *alen);
    /* Resource limits (tw_loop_fd_limit reads and raises RLIMIT_NOFILE). */
    int (*getrlimit)(int resource, struct rlimit *rl);
    int (*setrlimit)(int resource, const struct rlimit *rl);
    /* Files (real/file.c). open takes its mode always; opendir fails
     * with NULL and errno; readdir and closedir take no fault. pwrite
     * is cut short by tw_sys_short_write as write is. */
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*fsync)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*mkdir)(const char *path, mode_t mode);
    DIR *(*opendir)(const char *path);
    struct dirent *(*readdir)(DIR *dir);
    int (*closedir)(DIR *dir);
    ssize_t (*sendfile)(int out_fd, int in_fd, off_t *offset, size_t count);
} tw_sys_table;

/* What real/ calls. */
extern tw_sys_table tw_sys;
/* The defaults (libc behind the fault shims), to restore or chain to. */
extern const tw_sys_table tw_sys_default;

/* ------------------------------------------------------------------ */
/* 2. fault injection                                                  */

/* Make the nth call of `id` from now (nth >= 1: 1 is the very next call)
 * fail `count` times in a row (count -1: from then on, until cleared),
 * setting errno to `err` and returning -1, except as listed below.
 * Arming a fault replaces the one armed for id before.
 *   getaddrinfo: err > 0 fails with EAI_SYSTEM and errno = err; err < 0
 *                is returned as the EAI_* code itself (glibc's are < 0).
 *   pthread_create, spawn, pthread_sigmask: return err.
 *   clock_gettime: fails; the loop then keeps its last reading.
 *   opendir: returns NULL.
 * Thread-safe. */
void tw_sys_fail(tw_sys_id id, int nth, int count, int err);

/* Stop the fault armed for id (calls from now on succeed). */
void tw_sys_clear(tw_sys_id id);

/* Cap every write, writev, sendmsg and sendfile at max_bytes (0: no
 * cap) so the backend sees short writes; the bytes that go out are still
 * the first ones asked for, so a stream must arrive intact. */
void tw_sys_short_write(size_t max_bytes);

/* Calls of id (failed ones included) since the last tw_sys_reset(). */
unsigned long tw_sys_calls(tw_sys_id id);

/* Clear every fault and the short-write cap, zero the call counts and
 * restore tw_sys to tw_sys_default. */
void tw_sys_reset(void);

/* The entry's name ("accept4"), for messages. */
const char *tw_sys_name(tw_sys_id id);

#ifdef __cplusplus
}
#endif
#endif
