/* core/subprocess.h - the SubprocessTransport, once for both backends
 * (core/subprocess.c), and what a backend gives it. Not a public header.
 *
 * The split, as for streams: every rule of the reference text lives in
 * the core (the pipes' adapter protocols that turn data_received into
 * pipe_data_received(fd, ...), connection_lost only after the exit and
 * every pipe, process_exited once and from the loop, close kills). A
 * backend only starts the child, makes its pipe transports, delivers
 * signals and reports the exit.
 *
 * How a backend spawns (real/process.c, sim/process.c):
 *   1. allocate its struct, which begins with a tw__subprocess, and its
 *      pipe transports' memory; start the child (nothing may fail later
 *      except out-of-memory that the core reports through cb);
 *   2. tw__subprocess_init(), then for each pipe: tw__transport_init() it
 *      (kind WRITE for fd 0, READ for 1 and 2) and tw__subprocess_set_pipe();
 *   3. tw__subprocess_open(): it opens the pipes, then the subprocess
 *      transport (connection_made, cb);
 *   4. later, once, tw__subprocess_exited(returncode) when reaped.
 *
 * Memory: the backend struct is freed by ops->free when the last of its
 * holders lets go: the subprocess transport and each pipe's adapter
 * protocol (released by its pipe transport). So a pipe transport that
 * outlives the subprocess transport (tw_loop_free tears them down in any
 * order) never points at freed memory.
 */
#ifndef TWIN_CORE_SUBPROCESS_H
#define TWIN_CORE_SUBPROCESS_H

#include "core/internal.h"
#include "twin/process.h"

typedef struct tw__subprocess tw__subprocess;

typedef struct tw__subprocess_ops {
    /* Deliver sig (0..64) to the child, which has not been reaped yet.
     * 0 or a negative errno. */
    int (*signal)(tw__subprocess *sp, int sig);
    /* The subprocess transport is going away (after connection_lost, or
     * torn down by tw_loop_free or a failed open). If the child was not
     * reaped, kill it and reap it now, with no callback: no zombie may be
     * left. Release the backend's resources, not the memory. */
    void (*cleanup)(tw__subprocess *sp);
    /* Free the memory; the last holder let go. */
    void (*free)(tw__subprocess *sp);
} tw__subprocess_ops;

/* The protocol of one pipe transport: forwards to the subprocess's
 * protocol with the child's fd number. */
typedef struct tw__pipe_adapter {
    tw_protocol base;
    tw__subprocess *sp;
    int fd;          /* the child's: 0, 1 or 2 */
    tw_transport *t; /* the pipe transport, NULL once it is lost */
    bool opened;     /* holds a ref on sp until released */
} tw__pipe_adapter;

struct tw__subprocess {
    struct tw_transport base; /* first: the core casts */
    const tw__subprocess_ops *sops;
    int pid;
    int returncode;
    bool exited;         /* reaped: returncode is valid */
    bool exit_delivered; /* process_exited has run */
    bool open;           /* base is an initialised transport */
    bool gone;           /* base was destroyed */
    tw_handle exit_h;    /* process_exited scheduled, not yet run */
    unsigned refs;
    tw__pipe_adapter pipes[3];
};

/* Set up sp (its transport part is initialised by tw__subprocess_open). */
void tw__subprocess_init(tw__subprocess *sp, const tw__subprocess_ops *sops,
                         int pid);

/* Attach the pipe transport of child fd 0, 1 or 2 (initialised, not
 * opened). */
void tw__subprocess_set_pipe(tw__subprocess *sp, int fd, tw_transport *pipe);

/* Open the pipes and then the subprocess transport on loop, with the
 * contract of tw__transport_open: on failure (the factory returned NULL,
 * or out of memory) the child is killed and reaped through ops->cleanup,
 * every pipe is closed, cb(arg, NULL, -ENOMEM) is scheduled if cb, and
 * -ENOMEM is returned; the backend must not touch sp again. */
int tw__subprocess_open(tw__subprocess *sp, tw_loop *loop,
                        tw_protocol_factory factory, void *arg,
                        tw_connect_cb cb);

/* The child was reaped with this returncode (status, or -signal). Call
 * once. process_exited follows from the loop. */
void tw__subprocess_exited(tw__subprocess *sp, int returncode);

#endif
