/* twin/simproc.h - simulated processes and pipes: what subprocess_exec,
 * subprocess_shell, connect_read_pipe and connect_write_pipe (twin/
 * process.h) work on inside a simulated world (twin/sim.h).
 *
 * Map:
 *   1. pipes: a simulated pipe's two fds
 *   2. programs: a table of callbacks registered with the world by name
 *   3. what a running program can do (tw_sim_proc_*)
 *   4. faults: scripted per program, or a kill at a virtual time
 *
 * A simulated program is event-driven C code that runs in virtual time
 * on the node that spawned it: it is started with its argv, receives its
 * stdin in chunks, writes stdout and stderr, sets timers, and exits with a
 * status or dies by a signal. The parent sees exactly what a real child
 * gives: the same pipe transports, the same SubprocessProtocol callbacks,
 * asyncio's returncode (minus the signal number for a signal death).
 *
 * Naming: subprocess_exec runs the program registered under argv[0], or
 * else under its last path component ("/bin/cat" finds "cat");
 * subprocess_shell runs the one registered as "sh" with {"sh", "-c", cmd}
 * (twin/programs.h has one that understands a little shell). An unknown
 * name is -ENOENT from the spawning call, as on the real backend.
 *
 * Pipes behave as Linux's: 64 KiB of capacity; bytes reach the reader
 * after a latency and in chunk sizes drawn from the world's seed; a
 * writer that fills the pipe is pushed back (a transport buffers and gets
 * pause_writing; a program is "blocked in write" and is handed no more
 * input until the pipe drains); the reader's close gives the writer
 * EPIPE (a program dies of SIGPIPE unless its signal callback takes it).
 *
 * Every spawn, exit, signal, fault and pipe end is a record in the world's
 * trace, so two runs of one seed agree here too. All chance comes from the
 * world's PRNG.
 *
 * Threads and errors as twin/sim.h: one thread per world; 0 or a negative
 * errno; a loop that is not a simulated node's gives -EINVAL.
 */
#ifndef TWIN_SIMPROC_H
#define TWIN_SIMPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin/loop.h"
#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. pipes */

/* Make a pipe on node `loop`: fds[0] is its read end, fds[1] its write
 * end. The numbers are the world's own (>= 3, never a kernel fd). Hand
 * them to tw_connect_read_pipe / tw_connect_write_pipe on the same loop,
 * which then own them; close an end that is never wrapped with
 * tw_sim_pipe_close (tw_sim_free frees whatever is left). Returns 0,
 * -EINVAL, or -ENOMEM. */
int tw_sim_pipe(tw_loop *loop, int fds[2]);

/* Close an end that no transport owns. 0, -EINVAL (not a sim node), or
 * -EBADF (no such open end on this node, or a transport owns it). */
int tw_sim_pipe_close(tw_loop *loop, int fd);

/* ------------------------------------------------------------------ */
/* 2. programs */

typedef struct tw_sim_proc tw_sim_proc;

/* The callbacks of a program. Only start is required. Each runs from the
 * node's loop (never inside a parent's call) and may call any
 * tw_sim_proc_* function, including exit. A NULL callback means:
 *   input      the program never reads its stdin (what the parent writes
 *              stays in the pipe and pushes back), and input_eof is not
 *              called either;
 *   drained    nothing to do when output drains;
 *   signal     every signal takes its default action (below);
 *   free       nothing to free. */
typedef struct tw_sim_program {
    /* The process starts. argv[0] is the name it was started by; argv
     * and its strings stay valid until free. */
    void (*start)(tw_sim_proc *p, int argc, char **argv);
    /* A chunk of stdin (len > 0), only while the process is not blocked
     * writing (see tw_sim_proc_blocked). */
    void (*input)(tw_sim_proc *p, const uint8_t *data, size_t len);
    /* stdin is at its end (the writer closed, or stdin is /dev/null or
     * inherited). Once, after the last input. */
    void (*input_eof)(tw_sim_proc *p);
    /* An output pipe drained below its capacity after a write had left
     * the process blocked: write more now. */
    void (*drained)(tw_sim_proc *p);
    /* A signal other than SIGKILL and SIGSTOP arrived. Return true if
     * handled; false for the default action: SIGCHLD, SIGCONT, SIGURG,
     * SIGWINCH and the stop signals are ignored (stopping is not
     * simulated), every other signal kills the process. */
    bool (*signal)(tw_sim_proc *p, int sig);
    /* The process is over (exited, killed, crashed, or exec'd another
     * program): free the program's own state. After it returns, p must
     * not be used by this program. */
    void (*free)(tw_sim_proc *p);
} tw_sim_program;

/* Register prog (not copied: it must outlive the world) under name
 * (copied, 1..63 bytes, no '/'). Registering a name again replaces the
 * program for later spawns. 0, -EINVAL, -ENOMEM. */
int tw_sim_register_program(tw_sim *sim, const char *name,
                            const tw_sim_program *prog);

/* The program registered as name, or NULL. */
const tw_sim_program *tw_sim_find_program(tw_sim *sim, const char *name);

/* ------------------------------------------------------------------ */
/* 3. a running program's calls. p is the process the callback got; it
 * is valid from start until the program's free returns. */

/* Write len bytes to fd 1 or 2, wherever the spawn sent it (a pipe to
 * the parent, /dev/null, stdout). Always taken whole (copied); if a pipe
 * now holds more than its capacity the process is blocked (no input
 * until `drained`), as a real one would sit in write(). Returns 0;
 * -EBADF for another fd or one the program closed; -EPIPE when the
 * pipe's reader is gone and the signal callback handled SIGPIPE
 * (otherwise the process dies of SIGPIPE, after which calls return
 * -ESRCH). */
int tw_sim_proc_write(tw_sim_proc *p, int fd, const void *data, size_t len);

/* True while an output pipe holds more than its capacity. */
bool tw_sim_proc_blocked(const tw_sim_proc *p);

/* Close the program's fd 0, 1 or 2 (its end: the parent then sees EOF on
 * an output, or EPIPE writing stdin). 0 or -EBADF. */
int tw_sim_proc_close(tw_sim_proc *p, int fd);

/* Exit with status & 0xff: every fd closes, free runs, and the parent
 * reaps the process after a short latency. */
void tw_sim_proc_exit(tw_sim_proc *p, int status);

/* Die of signal sig (a crash: SIGSEGV, SIGABRT, ...): returncode -sig. */
void tw_sim_proc_die(tw_sim_proc *p, int sig);

/* Replace the program (exec): argv[0] names it as for spawning. The
 * process, its pid and its fds stay; the old program's free runs, then
 * the new one's start from the loop. 0, -ENOENT (the old program goes
 * on), -ENOMEM, -EINVAL. argv is copied. */
int tw_sim_proc_exec(tw_sim_proc *p, int argc, char *const argv[]);

/* One timer per process: cb(p) after delay ns of the node's time.
 * Setting it again replaces it; delay < 0 cancels it. Gone with the
 * process. Returns 0 or -ENOMEM. */
int tw_sim_proc_timer(tw_sim_proc *p, tw_ns delay, void (*cb)(tw_sim_proc *p));

/* The program's own pointer (NULL until set). */
void tw_sim_proc_set_data(tw_sim_proc *p, void *data);
void *tw_sim_proc_data(const tw_sim_proc *p);

int tw_sim_proc_pid(const tw_sim_proc *p);
/* The node it runs on (for tw_loop_now: a date program's clock). */
tw_loop *tw_sim_proc_loop(const tw_sim_proc *p);
/* Its environment: value of name, or NULL. A spawn without an env gets
 * the world's default, which is empty: a simulated node has no
 * environment of its own. */
const char *tw_sim_proc_getenv(const tw_sim_proc *p, const char *name);
/* The whole environment: NULL-terminated "NAME=value" strings, valid
 * until the process ends. */
const char *const *tw_sim_proc_environ(const tw_sim_proc *p);
/* Its working directory: the spawn's cwd, else "/". Processes do not
 * see the node's file system (twin/simfs.h): any cwd is accepted, where
 * the real backend refuses one that does not exist with -ENOENT. */
const char *tw_sim_proc_cwd(const tw_sim_proc *p);

/* ------------------------------------------------------------------ */
/* 4. faults. Each is traced when it strikes. */

typedef struct tw_sim_proc_fault {
    /* The program (registered name) whose spawns it hits; NULL: any. */
    const char *program;
    /* Spawns it applies to, from now on [0: every one]. */
    uint32_t count;
    /* Kill the process kill_signal [SIGKILL] this long after its spawn
     * (0: no kill). */
    tw_ns kill_after_ns;
    int kill_signal;
    /* Crash after partial output: once the process has written
     * crash_after_bytes bytes to fds 1 and 2 together, the rest of that
     * write is lost and it dies of crash_signal [SIGSEGV]. */
    bool crash;
    uint64_t crash_after_bytes;
    int crash_signal;
    /* Exit with exit_status at once, before start, never reading stdin
     * (the parent's writes then fail with EPIPE). */
    bool exit_before_input;
    int exit_status;
    /* Slow output: the process's pipes carry at most this many bytes per
     * second of virtual time towards the parent [0: no limit]. */
    uint64_t output_bytes_per_sec;
} tw_sim_proc_fault;

/* Script a fault for later spawns (copied; the name too). 0, -EINVAL,
 * -ENOMEM. */
int tw_sim_proc_fault_add(tw_sim *sim, const tw_sim_proc_fault *f);

/* Send sig to the process pid running on node `loop` at world time when
 * (clamped to now). 0; -EINVAL; -ESRCH when no such process runs there
 * now. A process that is gone by then is skipped (traced). */
int tw_sim_proc_kill_at(tw_loop *loop, int pid, tw_ns when, int sig);

/* Send sig now to every live process on node `loop` running the program
 * registered as `program` (a scenario's kill fault). Returns how many
 * were signalled (0: none was running), or -EINVAL. */
int tw_sim_proc_kill_program(tw_loop *loop, const char *program, int sig);

#ifdef __cplusplus
}
#endif
#endif
