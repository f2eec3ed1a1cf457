/* twin/process.h - pipes and subprocesses: loop.connect_read_pipe,
 * connect_write_pipe, subprocess_exec and subprocess_shell of asyncio, and
 * the SubprocessTransport's calls.
 *
 * Map:
 *   1. pipe transports (ReadTransport / WriteTransport over a pipe)
 *   2. spawning: the stdio choices, the options, exec and shell
 *   3. the SubprocessTransport: pid, pipes, returncode, signals
 *
 * Both backends: on the real backend an fd is a kernel pipe and a child is
 * an OS process; on a simulated node an fd comes from tw_sim_pipe() and a
 * child is a program registered with the world (twin/simproc.h). Protocol
 * code sees the same transports and callbacks either way.
 *
 * Callback order of a subprocess (asyncio's, which both backends keep):
 *   connection_made(t)                 after the pipe transports exist, so
 *                                      get_pipe_transport() works in it
 *   pipe_data_received(1|2, data)*     child output, from the loop
 *   pause_writing / resume_writing     the stdin pipe's flow control
 *   pipe_connection_lost(0|1|2, err)   once per pipe, when it closes
 *   process_exited()                   once; it MAY come before the pipes'
 *                                      data and pipe_connection_lost (a
 *                                      child's output can still be in the
 *                                      pipe when it exits): wait for both
 *                                      before using the output
 *   connection_lost(0)                 last: after process_exited AND after
 *                                      every pipe's pipe_connection_lost
 * The transport pointer is valid until connection_lost returns, and the
 * protocol is released after it (twin/protocol.h).
 */
#ifndef TWIN_PROCESS_H
#define TWIN_PROCESS_H

#include <stdbool.h>

#include "twin/loop.h"
#include "twin/net.h"
#include "twin/protocol.h"
#include "twin/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. pipe transports
 *
 * Wrap the read end of a pipe as a ReadTransport (a streaming protocol's
 * data_received, eof_received, connection_lost; no write) or the write end
 * as a WriteTransport (write, writelines, write_eof, flow control; no
 * reading). Outcome as for tw_create_connection (twin/net.h): connection_made
 * from the loop, then cb(arg, t, 0); the call returns an error and cb is
 * never called when the fd cannot be used.
 *
 * Ownership: the call refuses its arguments without touching fd with
 * -EINVAL (NULL loop or factory) or -EBADF (fd < 0; an fd not open for
 * the transport's direction, such as a pipe's write end handed to
 * connect_read_pipe; on a simulated node an fd that is not an open end
 * of a tw_sim_pipe() of that node).
 * Past those checks the fd belongs to the call: the transport closes it,
 * or the call does before returning any other error. The fd is made
 * non-blocking. Real backend: a pipe (FIFO), a socket or a character
 * device that epoll can watch; anything else fails (-EINVAL for a regular
 * file or directory, as asyncio refuses them).
 *
 * Pipe rules (asyncio's):
 *   - a read pipe closes itself after eof_received, whatever it returns
 *     (a pipe cannot be half open);
 *   - write_eof on a write pipe flushes, then closes the transport:
 *     connection_lost(0) follows;
 *   - a write pipe whose reader has gone is closed: connection_lost(0) when
 *     nothing was buffered, -EPIPE when data was still waiting; a write()
 *     into it returns -EPIPE. SIGPIPE never reaches the process;
 *   - get_extra_info("pipe") gives the fd (TW_EXTRA_FD). */
int tw_connect_read_pipe(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, int fd, tw_connect_cb cb);
int tw_connect_write_pipe(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, int fd, tw_connect_cb cb);

/* ------------------------------------------------------------------ */
/* 2. spawning */

/* Where one of the child's standard streams goes. Zero is PIPE, asyncio's
 * default for all three. */
typedef enum tw_stdio {
    TW_STDIO_PIPE = 0, /* a pipe to a transport of the SubprocessTransport */
    TW_STDIO_INHERIT,  /* the parent's own fd 0/1/2 (asyncio's None) */
    TW_STDIO_DEVNULL,  /* /dev/null */
    TW_STDIO_STDOUT,   /* stderr only: wherever stdout goes */
} tw_stdio;

/* Options; a zeroed struct (or NULL) is asyncio's defaults: three pipes,
 * the parent's working directory and environment. The call copies or uses
 * everything during the call: nothing here must outlive it. */
typedef struct tw_subprocess_opts {
    tw_stdio stdin_mode, stdout_mode, stderr_mode;
    /* Working directory of the child, or NULL. Relative program paths are
     * looked up after changing to it (as subprocess.Popen does). */
    const char *cwd;
    /* NULL-terminated "NAME=value" strings replacing the whole
     * environment, or NULL to inherit the parent's. */
    const char *const *env;
} tw_subprocess_opts;

/* What the core hands a backend (core/internal.h: loop ops `subprocess`):
 * validated, defaults filled in. For subprocess_shell, argv is
 * {"/bin/sh", "-c", cmd, NULL} and cmd is the command line; for exec, cmd
 * is NULL. */
struct tw_subprocess_spec {
    const char *const *argv;
    const char *cmd;
    tw_subprocess_opts opts;
};

/* Start argv[0] with arguments argv (NULL-terminated, argc >= 1). A name
 * without '/' is searched in the PATH (of the parent). Returns 0 once the
 * child is running: the factory's protocol then gets connection_made from
 * the loop, then cb(arg, t, 0) runs (cb may be NULL).
 * Errors (returned; cb is never called; nothing is left running):
 *   -EINVAL   NULL loop/factory/argv, empty argv or argv[0], a bad stdio
 *             mode (STDOUT for stdin or stdout), an empty cwd
 *   -ENOENT   no such program (simulated: none registered under that
 *             name), or no such cwd (real backend only: a simulated
 *             program does not run in the node's file system of
 *             twin/simfs.h, and any cwd is accepted); -EACCES not
 *             executable (simulated: -ENOENT, as for any name that no
 *             program is registered under)
 *   -EMFILE, -ENOMEM, and other errors of the system; -EAGAIN on a
 *             simulated node once the world's 2^20 processes are live
 *             (a simulated child holds no descriptors: no -EMFILE there)
 *   -ENOTSUP  a backend without subprocesses
 * If the factory returns NULL the child is killed and cb(arg, NULL,
 * -ENOMEM) runs from the loop (the call itself returned 0).
 * In the child, every fd other than 0, 1 and 2 is closed (Popen's
 * close_fds), its signal mask is empty and SIGPIPE is back to default. */
int tw_subprocess_exec(tw_loop *loop, tw_protocol_factory factory, void *arg,
                       const char *const argv[], const tw_subprocess_opts *opts,
                       tw_connect_cb cb);

/* Run the command line cmd with /bin/sh -c (shell syntax; quoting the
 * arguments is the caller's job). Everything else as tw_subprocess_exec. */
int tw_subprocess_shell(tw_loop *loop, tw_protocol_factory factory, void *arg,
                        const char *cmd, const tw_subprocess_opts *opts,
                        tw_connect_cb cb);

/* ------------------------------------------------------------------ */
/* 3. the SubprocessTransport
 *
 * Each call below returns -ENOTSUP on a transport of another kind. Of the
 * generic transport calls, close, is_closing, get_extra_info ("subprocess":
 * the pid as TW_EXTRA_INT), get_protocol and set_protocol apply; write,
 * abort, the reading and the buffer-limit calls return -ENOTSUP. */

/* The child's process id (> 0), or -ENOTSUP. Valid after exit too. */
int tw_transport_get_pid(tw_transport *t);

/* The transport of the child's fd 0 (a WriteTransport: write to the
 * child's stdin), 1 or 2 (ReadTransports of its output) in *out. *out is
 * NULL for any other fd, when no pipe was asked for, and once that pipe's
 * pipe_connection_lost has returned (the pointer is then no longer
 * valid). The pipe transport may be used as any pipe transport (write,
 * write_eof, close, pause_reading, limits). Returns 0, or -ENOTSUP; out
 * must not be NULL (-EINVAL). */
int tw_transport_get_pipe_transport(tw_transport *t, int fd,
                                    tw_transport **out);

/* asyncio's returncode. Returns 0 and sets *code once the child has
 * exited: its exit status (0..255), or minus the signal number that
 * killed it (-9 after kill()). Returns -EAGAIN while it is still running
 * (asyncio's None), -ENOTSUP on another kind. The code is known when the
 * child has been reaped, which is just before process_exited runs. */
int tw_transport_get_returncode(tw_transport *t, int *code);

/* Send a signal (Linux numbering, on both backends) to the child.
 * kill() is SIGKILL and terminate() SIGTERM, as on POSIX in asyncio.
 * Allowed after close() until connection_lost. Returns 0; -ESRCH once the
 * child has exited (no signal is sent: its pid may be reused already);
 * -EINVAL for a signal number out of range (0 probes, as kill(2)). */
int tw_transport_send_signal(tw_transport *t, int sig);
int tw_transport_kill(tw_transport *t);
int tw_transport_terminate(tw_transport *t);

/* close() (tw_transport_close) on a SubprocessTransport: closes the pipe
 * transports (stdin flushes first) and kills the child with SIGKILL if it
 * has not exited. The protocol still gets pipe_connection_lost for each
 * pipe and process_exited, then connection_lost(0). The child is always
 * reaped: no zombie is left behind. tw_loop_free() with a child still
 * running kills it and reaps it before it returns (no callbacks). */

#ifdef __cplusplus
}
#endif
#endif
