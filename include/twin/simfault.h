/* twin/simfault.h - the simulator's faults: one table of kinds, one
 * scheduler, one swarm. Included by twin/sim.h (its section 7).
 *
 * Map:
 *   kinds      what each fault does, its name in timelines, its target,
 *              the modifiers it takes and what its effect count counts
 *   a fault    tw_sim_fault: one struct for every kind
 *   schedule   tw_sim_at and the shorthands for "now"; ending them all
 *   effects    how often a scheduled fault took effect
 *   swarm      faults drawn from the seed within limits
 *
 * Every fault reaches the world through one scheduler: tw_sim_at puts it
 * on the world's timeline at a virtual time, and the world applies it
 * once everything else due at that time has run (never inside a protocol
 * callback); a run that ends at time t (tw_sim_run_for) has applied the
 * faults of t when it returns. A fault for now is queued behind what is
 * already queued for now, and applies before time advances. A fault with a window (`duration_ns`) is undone when the
 * window closes where undoing means something: a partition heals, a
 * crashed node restarts; clogs, loss bursts and datagram impairments end
 * by themselves. A scenario file's timeline, the swarm's draws and a
 * program's own calls all take this road, so a fault in a trace, in a
 * written timeline and in the effect report is the same fault.
 *
 * Nodes are named by their ids (tw_sim_node_id: the order they were
 * added, from 0); `b` TW_SIM_ALL means "every other node". */
#ifndef TWIN_SIMFAULT_H
#define TWIN_SIMFAULT_H

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* kinds. Their order is the swarm's (it tosses a coin per kind in this
 * order), so new kinds go last. */

typedef enum tw_sim_fault_kind {
    TW_SIM_FAULT_PARTITION = 1, /* a-b cut (a->b only if oneway); packets
                                   meeting the cut are lost */
    TW_SIM_FAULT_HEAL,          /* a-b restored (both directions) */
    TW_SIM_FAULT_CLOG,          /* a->b (and b->a unless oneway) deliver
                                   nothing until the window closes;
                                   nothing is lost */
    TW_SIM_FAULT_RESET,         /* every connection between a and b (b
                                   TW_SIM_ALL: all of a's) gets
                                   -ECONNRESET at both ends */
    TW_SIM_FAULT_CRASH,         /* a crashes (twin/sim.h, section 5) */
    TW_SIM_FAULT_RESTART,       /* a comes back; its start runs again */
    TW_SIM_FAULT_CLOCK,         /* a's time of day (tw_loop_now +
                                   tw_loop_epoch) steps to world time plus
                                   skew_ns (not added to an earlier
                                   skew), as an NTP step does; both its
                                   clocks run at drift_ppm from now on.
                                   Its monotonic clock (tw_loop_now, its
                                   timers) never steps, as Linux's
                                   CLOCK_MONOTONIC does not: only a new
                                   rate moves its timers */
    TW_SIM_FAULT_LOSS,          /* packets a->b (and b->a unless oneway)
                                   also pass `loss` for the window */
    TW_SIM_FAULT_KILL,          /* signal `signal` to a's simulated
                                   processes running `program` */
    TW_SIM_FAULT_EMFILE,        /* a's next `count` accepts fail EMFILE */
    TW_SIM_FAULT_DGRAM,         /* datagrams a->b (and b->a unless
                                   oneway) get the non-zero fields of
                                   `dgram` on top of their path's for the
                                   window (none: from now on) */
    TW_SIM_FAULT_ENOBUFS,       /* a's next `count` datagram sends fail
                                   with -ENOBUFS */
    TW_SIM_FAULT_FREEZE,        /* a's process stops for the window (a
                                   SIGSTOP, a GC pause): no callback runs,
                                   its timers fire late when it resumes;
                                   its kernel still takes what arrives, up
                                   to the windows, and acknowledges it, so
                                   peers see silence but their keepalive
                                   and user timeout never fire (a paused
                                   VM, whose kernel stops too: a
                                   blackhole for the window) */
    TW_SIM_FAULT_SLOW,          /* for the window, each turn of a's loop
                                   costs `cost_ns` of virtual time in
                                   which nothing else of it runs (a gray
                                   failure: alive, but slow) */
    TW_SIM_FAULT_BLACKHOLE,     /* a-b (a->b if oneway) drop everything
                                   silently, resets and SYNs too, for the
                                   window or (none) for good; unlike a
                                   partition, no heal undoes it, the
                                   quiet phase's neither */
    TW_SIM_FAULT_DISK_EIO,      /* a's file calls that read, write or
                                   fsync fail with -EIO for the window
                                   (twin/file.h) */
    TW_SIM_FAULT_DISK_FULL,     /* a's writes and creates fail with
                                   -ENOSPC for the window */
    TW_SIM_FAULT_FSYNC_FAIL,    /* a's next `count` fsyncs (of files or
                                   directories) fail with -EIO; what they
                                   were to make durable stays not */
    TW_SIM_FAULT_POWER_LOSS,    /* a crashes as CRASH does, and its disk
                                   loses everything not durable (no
                                   draw: the worst case); back after the
                                   window, if it has one */
    TW_SIM_FAULT_DISK_CORRUPT,  /* for the window, each of a's file reads
                                   comes back with one bit flipped in one
                                   512-byte sector of what it read (the
                                   seed picks which); the file's bytes
                                   stay right (a bad read, not bad data) */
    TW_SIM_FAULT_LOST_WRITE,    /* a's next `count` file writes report
                                   success and change nothing (a disk
                                   that drops a write it acknowledged) */
    TW_SIM_FAULT_KINDS          /* one past the last */
} tw_sim_fault_kind;

#define TW_SIM_ALL (-1)

/* What the simulator, the scenario loader and writer, the swarm and the
 * effect report know of a kind. */
typedef struct tw_sim_fault_info {
    const char *name;      /* in timelines and reports: "partition" */
    const char *trace;     /* its trace record's name */
    const char *unit;      /* what its effect count counts */
    const char *effect;    /* what "took effect" means, in a sentence */
    bool pair;             /* targets a-b (else node a alone) */
    bool window;           /* takes duration_ns */
    bool needs_window;     /* ...and must have one */
    bool swarm;            /* the swarm may draw it */
    const char *mods[6];   /* timeline modifiers besides at and for */
} tw_sim_fault_info;

/* NULL if k is no kind. */
const tw_sim_fault_info *tw_sim_fault_kind_info(tw_sim_fault_kind k);
/* The kind named `name`, or -EINVAL. */
int tw_sim_fault_kind_parse(const char *name);
/* True if kind k takes timeline modifier `mod` ("oneway", "count", ...). */
bool tw_sim_fault_kind_takes(tw_sim_fault_kind k, const char *mod);

/* ------------------------------------------------------------------ */
/* a fault */

typedef struct tw_sim_fault {
    tw_sim_fault_kind kind;
    int a, b;              /* node ids; b TW_SIM_ALL: every other node */
    bool oneway;           /* PARTITION, CLOG, LOSS, DGRAM */
    tw_ns duration_ns;     /* the window (kinds with `window`); 0: none */
    tw_ns skew_ns;         /* CLOCK */
    int32_t drift_ppm;     /* CLOCK, in (-1000000, 1000000) */
    uint32_t count;        /* EMFILE, ENOBUFS, FSYNC_FAIL */
    tw_sim_loss_model loss; /* LOSS */
    tw_sim_dgram_opts dgram; /* DGRAM */
    char program[64];      /* KILL */
    int signal;            /* KILL, 1..64 */
    tw_ns cost_ns;         /* SLOW: per loop turn, > 0 */
} tw_sim_fault;

/* True if *f is a fault the world can apply (its nodes aside). */
bool tw_sim_fault_ok(const tw_sim_fault *f);

/* ------------------------------------------------------------------ */
/* schedule */

/* Put *f (copied) on the timeline at world time `when` (clamped to now).
 * Returns the fault's id (>= 0, for tw_sim_fault_effect), -EINVAL for a
 * bad fault or a node the world does not have, -ENOBUFS past 2^20 faults,
 * -ENOMEM. */
int tw_sim_at(tw_sim *sim, tw_ns when, const tw_sim_fault *f);

/* Shorthands for tw_sim_at(sim, now, ...), nodes named by their loops
 * (b NULL: every other node). Each returns 0 or an error. */
int tw_sim_partition(tw_sim *sim, tw_loop *a, tw_loop *b, bool oneway);
int tw_sim_heal(tw_sim *sim, tw_loop *a, tw_loop *b);
int tw_sim_clog(tw_sim *sim, tw_loop *a, tw_loop *b, tw_ns duration_ns,
                bool oneway);
int tw_sim_reset_connections(tw_sim *sim, tw_loop *a, tw_loop *b);
int tw_sim_crash(tw_loop *node);
int tw_sim_restart(tw_loop *node);
int tw_sim_set_clock(tw_loop *node, tw_ns skew_ns, int32_t drift_ppm);
int tw_sim_emfile(tw_loop *node, uint32_t count);
int tw_sim_dgram_impair(tw_sim *sim, tw_loop *a, tw_loop *b,
                        const tw_sim_dgram_opts *dgram, tw_ns duration_ns,
                        bool oneway);
int tw_sim_enobufs(tw_loop *node, uint32_t count);
/* The disk faults (twin/simfs.h). power_loss with duration_ns 0 stays
 * down until a restart. */
int tw_sim_disk_eio(tw_loop *node, tw_ns duration_ns);
int tw_sim_disk_full(tw_loop *node, tw_ns duration_ns);
int tw_sim_fsync_fail(tw_loop *node, uint32_t count);
int tw_sim_power_loss(tw_loop *node, tw_ns duration_ns);
int tw_sim_disk_corrupt(tw_loop *node, tw_ns duration_ns);
int tw_sim_lost_write(tw_loop *node, uint32_t count);

/* Reset one simulated stream connection: both ends see -ECONNRESET, an
 * end that neither reads nor waits to write at its next write or
 * resume_reading (as a socket keeps its error; -EPIPE after its peer's
 * FIN). -EINVAL if t is not a simulated stream transport. */
int tw_sim_reset_transport(tw_transport *t);
/* A loss burst at once (sim/net/loss.c), outside the timeline: packets
 * a->b (and b->a unless oneway; b NULL: all of a's paths) also pass
 * *model for duration_ns (> 0); model NULL ends the bursts on those
 * paths. A path holds one burst: a new one replaces it. Call it between
 * runs, never from a callback (-EBUSY); a LOSS fault is the scheduled
 * form. 0 or -EINVAL (bad model, nodes not of this world), -ENOMEM. */
int tw_sim_loss_burst(tw_sim *sim, tw_loop *a, tw_loop *b,
                      const tw_sim_loss_model *model, tw_ns duration_ns,
                      bool oneway);
/* True if *m is a valid model (kind NONE included). */
bool tw_sim_loss_model_ok(const tw_sim_loss_model *m);

/* End the fault phase, between runs: the faults still waiting on the
 * timeline are dropped, and with heal_all the partitions still open heal
 * now and crashes still under way restart, every cut path heals, every
 * loss burst ends and every node that is down restarts. The undoing is
 * queued at now, like any fault. A window that no heal undoes runs to
 * its own end, and its count with it: a blackhole, a freeze, a slow
 * spell, a clog, a datagram or disk impairment (a node frozen for 2 s
 * from 100 ms before the phase's end stays frozen 1.9 s into the quiet
 * phase). 0 or -EBUSY (from a callback). */
int tw_sim_faults_end(tw_sim *sim, bool heal_all);

/* ------------------------------------------------------------------ */
/* effects: the proof that a green run was green under fire */

/* How often fault `id` took effect so far (the unit is its kind's): for a
 * fault with a window, what its paths' counters gained while it lasted
 * (packets cut, held, lost; accepts and sends refused), counted up to
 * now while the window is open; for one of an instant, what it hit
 * (connections reset, transports a crash took and the files it cut
 * back or whose creation or renaming it undid, timers a clock move
 * shifted, cut paths a heal restored, a restart of a node that was down,
 * processes signalled). 0 for a fault not yet applied. -EINVAL for no
 * such id. */
int tw_sim_fault_effect(tw_sim *sim, int id, uint64_t *count);
/* True once fault `id` has been applied. */
bool tw_sim_fault_applied(const tw_sim *sim, int id);

/* ------------------------------------------------------------------ */
/* swarm: swarm testing (Groce et al., 2012). Each seed tosses a coin per
 * eligible kind (at least one stays on), then draws `count` faults of the
 * kinds on, at times on the millisecond grid of the window, between the
 * eligible nodes, with windows and strengths within the limits. All of it
 * comes from stream TW_SIM_STREAM_SWARM of the seed and the spec alone,
 * never from a run: the schedule a seed draws is known before it runs. */

#define TW_SIM_STREAM_SWARM 8

typedef struct tw_sim_swarm_spec {
    unsigned kinds;           /* 1u << kind, for kinds whose info says swarm */
    const int *nodes;         /* eligible node ids */
    int nnodes;               /* 0 (nodes NULL): every node */
    tw_ns from, to;           /* window for fault times */
    uint32_t count_min, count_max; /* faults per seed, max <= 256 */
    tw_ns dur_min, dur_max;   /* windows, dur_min >= 1 */
    double loss_max;          /* LOSS: probability ceiling */
    tw_ns skew_max;           /* CLOCK */
    int32_t drift_max;        /* CLOCK, ppm */
    const char *program;      /* KILL: what it hits */
    double dgram_max;         /* DGRAM: probability ceiling [0.5] */
    /* DGRAM: the impairments it may draw, one per fault: TW_SIM_SWARM_DGRAM_*
     * bits; 0: all five. (A protocol that trusts its payloads, as a real
     * host's UDP checksum lets it, leaves CORRUPT out.) */
    unsigned dgram_kinds;
} tw_sim_swarm_spec;

#define TW_SIM_SWARM_DGRAM_DROP      (1u << 0) /* loss_probability */
#define TW_SIM_SWARM_DGRAM_DUPLICATE (1u << 1)
#define TW_SIM_SWARM_DGRAM_REORDER   (1u << 2)
#define TW_SIM_SWARM_DGRAM_CORRUPT   (1u << 3)
#define TW_SIM_SWARM_DGRAM_REFUSE    (1u << 4)
#define TW_SIM_SWARM_DGRAM_ALL       0x1fu

#define TW_SIM_SWARM_FAULTS_MAX 256

/* Fill spec with the defaults: partition, clog, reset, crash, clock and
 * loss on; every node; window [0, to]; 1..4 faults of 1 ms..1 s; loss up
 * to 50%; skew up to 1 s; no drift. */
void tw_sim_swarm_spec_default(tw_sim_swarm_spec *spec, tw_ns to);
/* -EINVAL with *why set if spec cannot be drawn from (nnodes: the world's
 * node count, for the eligible ids). */
int tw_sim_swarm_spec_check(const tw_sim_swarm_spec *spec, int nnodes,
                            const char **why);
/* Draw seed's faults for a world of nnodes nodes, in time order (ties in
 * draw order): add(arg, at, fault) for each, stopping at its first
 * error. Returns how many were drawn, or the error. */
int tw_sim_swarm_draw(const tw_sim_swarm_spec *spec, uint64_t seed, int nnodes,
                      int (*add)(void *arg, tw_ns at, const tw_sim_fault *f),
                      void *arg);
/* Draw from the world's seed and schedule the faults (tw_sim_at); with
 * tw_sim_opts.prng_bytes, the draws take the feed's next bytes first, as
 * the world's streams do. */
int tw_sim_swarm(tw_sim *sim, const tw_sim_swarm_spec *spec);

#ifdef __cplusplus
}
#endif

#endif
