/* sim/proc.h - simulated pipes and processes (twin/simproc.h), shared by
 * sim/pipe.c and sim/process.c only.
 *
 * Map:
 *   events    EV_PIPE and EV_PROC actions (the world's queue, so a node's
 *             crash, which wipes its loop, cannot strand one)
 *   pipes     a byte queue with a capacity and two ends, each an fd that
 *             nobody wrapped yet, a transport, or a process
 *   registry  one per world: programs, scripted faults, the pipe and
 *             process tables, pid and fd counters
 *   glue      what pipe.c asks of a process and the reverse
 *
 * Objects that events name live in sim_tables of (pointer, generation),
 * as endpoints do: an event for a freed pipe or a reaped process finds a
 * newer generation and is dropped.
 */
#ifndef TWIN_SIM_PROC_H
#define TWIN_SIM_PROC_H

#include "core/subprocess.h"
#include "sim/sim.h"
#include "twin/simproc.h"

/* Linux's default pipe capacity. */
#define SIM_PIPE_CAP (64 * 1024)

/* ---- events: the action is the low byte of the event's arg, the rest
 * its payload ---- */
enum {
    PIPE_DELIVER = 1, /* hand the reader a chunk (or the end) */
    PIPE_WRITABLE,    /* room again: flush the writer transport */
    PIPE_READER_GONE, /* the writer transport learns the reader closed */
    PROC_START,       /* run the program's start (after spawn or exec) */
    PROC_TIMER,       /* payload: the timer's sequence number */
    PROC_SIGNAL,      /* payload: the signal */
    PROC_DRAINED,     /* an output pipe drained: unblock */
    PROC_STDIN_EOF,   /* stdin is /dev/null or inherited: end at once */
    PROC_REAP,        /* the parent reaps the dead process */
};
#define SIM_ACT(arg) ((unsigned)((arg) & 0xff))
#define SIM_PAYLOAD(arg) ((arg) >> 8)
#define SIM_ARG(act, payload) ((uint64_t)(act) | ((uint64_t)(payload) << 8))

/* ---- pipes ---- */

enum { END_FD = 0, END_TRANSPORT, END_PROC, END_CLOSED };

typedef struct sim_pipe sim_pipe;

/* A pipe transport: a ReadTransport or a WriteTransport on one end. */
typedef struct sim_pipe_tr {
    struct tw_transport base; /* first: the core casts */
    sim_pipe *pipe;
    int fd;                   /* for get_extra_info("pipe") */
    bool want_rd, want_wr;
} sim_pipe_tr;

struct sim_pipe {
    uint32_t id, node;
    tw_sim *sim;
    tw__wbuf buf;         /* written, not yet read */
    uint8_t r_kind, w_kind; /* END_* */
    int r_fd, w_fd;       /* user fd numbers, -1 for a process's pipe */
    sim_pipe_tr *r_tr, *w_tr;
    tw_sim_proc *r_proc, *w_proc;
    bool deliver_pending, writable_pending, eof_done;
    /* slow output: the reader gets at most this many bytes per second */
    uint64_t rate_bytes_per_sec;
    tw_ns rate_next;
};

/* ---- the registry ---- */

typedef struct sim_program_entry {
    char name[64];
    const tw_sim_program *prog;
} sim_program_entry;

typedef struct sim_fault_entry {
    tw_sim_proc_fault f;
    char program[64]; /* f.program points here, or is NULL */
    uint32_t left;    /* spawns still to hit; 0 with f.count 0: all */
} sim_fault_entry;

typedef struct sim_procs {
    sim_program_entry *progs;
    uint32_t nprogs;
    sim_fault_entry *faults;
    uint32_t nfaults;
    sim_table pipes, procs;
    int next_pid, next_fd;
} sim_procs;

/* The world's registry, made on first use; NULL when out of memory. */
sim_procs *sim_procs_of(tw_sim *sim);

/* world.c's hooks: the loop ops, the events, the end of the world (after
 * every node's transports are gone: frees pipes nobody wrapped). */
int sim_connect_pipe(tw_loop *loop, tw_protocol_factory factory, void *arg,
                     int fd, bool write, tw_connect_cb cb);
int sim_subprocess(tw_loop *loop, tw_protocol_factory factory, void *arg,
                   const struct tw_subprocess_spec *spec, tw_connect_cb cb);
void sim_proc_event(tw_sim *sim, const sim_event *ev);
void sim_procs_free(tw_sim *sim);

/* ---- pipe.c ---- */

/* A new pipe on node, both ends of kind END_FD with no fd numbers yet.
 * NULL when out of memory. */
sim_pipe *sim_pipe_new(tw_sim *sim, uint32_t node);
/* Make tr a transport on end `write` of p (on node loop `loop`), owning
 * that end: initialised, not opened. */
void sim_pipe_attach(sim_pipe *p, sim_pipe_tr *tr, bool write, tw_loop *loop);
/* Close one end (whatever holds it). The pipe is freed when both are. */
void sim_pipe_close_end(sim_pipe *p, bool write);
/* A process writes: always taken. */
void sim_pipe_put(sim_pipe *p, const void *data, size_t len);
bool sim_pipe_over(const sim_pipe *p); /* more than the capacity held */
/* Schedule a delivery to the reader if it can take one. */
void sim_pipe_kick(sim_pipe *p);
void sim_pipe_event(tw_sim *sim, const sim_event *ev);
sim_pipe *sim_pipe_by_fd(tw_sim *sim, uint32_t node, int fd, bool *write);
/* The world's latency for work inside one node. */
tw_ns sim_local_latency(tw_sim *sim, uint32_t node);

/* ---- process.c, for pipe.c ---- */

/* The process would read stdin now. */
bool sim_proc_reading(const tw_sim_proc *p);
void sim_proc_input(tw_sim_proc *p, const uint8_t *data, size_t len);
void sim_proc_input_eof(tw_sim_proc *p);
/* One of p's output pipes went down to its capacity. */
void sim_proc_output_drained(tw_sim_proc *p);
/* The reader of one of p's output pipes closed (dropping its bytes). */
void sim_proc_reader_gone(tw_sim_proc *p);
uint64_t sim_proc_tid(const tw_sim_proc *p); /* transport id, for traces */

#endif
