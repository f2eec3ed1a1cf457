/* sim/world.h - the world and its nodes.
 *
 * Map:
 *   nodes      a tw_loop first, then the node's clock and app
 *   the world  the nodes, the paths, the object tables, the PRNG streams,
 *              the trace's state
 *   world.c    nodes, their clocks and timers, stepping the world
 *   node.c     a node's app, crash and restart
 *   limits.c   the limits' alarms (twin/simprobe.h, section 4)
 *   faults     sim/fault.h
 *   datagrams  what the rest of sim/ calls in sim/dgram*.c
 *
 * The event queue and the tables are in sim/queue.h; the PRNG's inline
 * parts in sim/prng.h; the trace's in sim/trace.h.
 */
#ifndef TWIN_SIM_WORLD_H
#define TWIN_SIM_WORLD_H

#include "core/internal.h"
#include "sim/pool.h"
#include "sim/queue.h"
#include "twin/sim.h"
#include "twin/simprobe.h"

/* The world holds these by pointer; sim/net.h and sim/stream.h define
 * them. */
typedef struct sim_path sim_path;
typedef struct sim_seg sim_seg;
typedef struct sim_listener sim_listener;

/* ---- nodes ---- */

/* The most nodes a world may have (tw_sim_opts.nodes_max): node ids are
 * 16 bits where they are kept by the hundred thousand (sim_ep). */
#define SIM_NODES_LIMIT 65535

typedef struct sim_node {
    struct tw_loop loop; /* first: a node is its loop */
    tw_sim *sim;
    uint32_t id;
    char name[32];
    tw_addr addr; /* port 0 */
    bool up, crashing;
    bool power_loss;      /* the crash under way loses unsynced data */
    bool restart_queued;  /* a restart fault is queued for now (fault.c) */
    struct sim_fs *fs;    /* its files (sim/fs.h), NULL until used */
    bool contract_on;
    uint32_t crash_epoch;
    tw_ns crashed_at;  /* world time of its last crash */
    uint32_t restarts; /* restart faults that brought it back */
    /* Two clocks, as a Linux host has. The monotonic one (tw_loop_now,
     * timers): local(w) = base_local + (w - base_world) * (1e6 + drift)
     * / 1e6, never below floor; a clock fault changes its rate only. The
     * time of day (tw_loop_now + tw_loop_epoch) is local plus
     * TW_EPOCH_VIRTUAL plus tod_offset: a clock fault steps it, as NTP's
     * step moves CLOCK_REALTIME and leaves CLOCK_MONOTONIC alone. */
    tw_ns base_world, base_local, floor;
    tw_ns tod_offset;
    uint64_t tod_reads; /* tw_loop_epoch calls: who reads the date */
    int32_t drift_ppm;
    /* the EV_TIMER queued for the node's earliest timer: its world time
     * (-1: none) and generation (an older one is stale) */
    tw_ns timer_armed;
    uint32_t timer_gen;
    uint32_t emfile_left;
    uint32_t enobufs_left;   /* datagram sends to fail (dgram_fault.c) */
    /* held: nothing of it runs before held_until (a freeze, a slow
     * turn); what falls due meanwhile waits, counted in held_events.
     * slow: each turn before slow_until holds it slow_cost. */
    tw_ns held_until, slow_until, slow_cost;
    uint64_t held_events;
    bool thaw_pending;
    uint16_t next_udp_port;  /* ephemeral UDP ports (dgram.c) */
    uint16_t next_ephemeral, next_listen_port;
    int (*start)(tw_loop *, void *);
    void (*stop)(tw_loop *, void *);
    void *app_arg;
    /* limits (limits.c): stream ends open on it; connect attempts in the
     * second of world time that starts at connects_from; alarms given */
    uint32_t conns_open;
    uint32_t connects;
    tw_ns connects_from;
    bool rate_alarmed, conns_alarmed;
    /* livelock (world.c): callbacks run while world time read spin_at */
    tw_ns spin_at;
    uint64_t spin;
} sim_node;

/* ---- the world ---- */

/* trace.c: record names' hashes, found by the name's address */
#define SIM_NAME_CACHE 64
typedef struct sim_name_cache {
    const char *name;
    uint64_t hash;
} sim_name_cache;

struct tw_sim {
    tw_sim_opts opts;
    uint64_t seed;
    tw_ns now;
    tw_sim_prng rng_net, rng_fault, rng_bug, rng_user;
    tw_sim_prng rng_disk; /* files (twin/simfs.h): no feed */
    tw_sim_prng_feed feed; /* opts.prng_bytes, shared by the four */
    sim_queue q;
    uint64_t seq;
    sim_node **nodes;
    uint32_t nnodes;
    /* nodes with work to run now (ready callbacks, a due timer): a bit per
     * node id, so they run in id order without visiting the others */
    uint64_t *due;
    uint32_t ndue;
    sim_path *paths; /* nodes_cap x nodes_cap */
    uint32_t paths_cap;
    uint32_t paths_cut; /* paths whose cut_since >= 0: none, no looking */
    tw_ns clog_max;     /* the latest clog_until of any path: past it, none is */
    tw_sim_path_opts *overrides;
    uint32_t noverrides;
    sim_table eps, lsns;
    sim_pool ep_pool; /* the stream endpoints' memory (sim/stream.h) */
    struct sim_procs *procs; /* pipes and processes (sim/proc.h), or NULL */
    sim_listener *listeners;
    struct sim_host *hosts; /* names given addresses (tw_sim_set_host) */
    uint32_t nhosts;
    tw_sim_fault *faults; /* every fault, by id (sim/fault.h) */
    uint32_t nfaults, capfaults;
    struct sim_timeline *tl; /* their actions in time order, or NULL */
    uint8_t *scratch; /* one chunk, gathered from segments */
    sim_pool seg_pool[2]; /* tiny and small segments (sim/stream.h) */
    bool driving;
    tw_ns held_max; /* latest held_until of any node: none held after it */
    tw_ns slow_max; /* latest slow_until of any node */
    tw_loop *driven; /* the loop a tw_loop_run drives, or NULL */
    bool halt;       /* tw_sim_stop: the run returns after this step */
    int err;
    /* Why the world failed (err), in words: tw_sim_failure. */
    char fail_why[200];
    bool livelocked; /* err is -ELOOP, and here is where */
    tw_sim_livelock livelock;
    /* limits (limits.c; twin/simprobe.h) */
    tw_sim_limits limits;
    tw_sim_alarm_fn alarm_fn;
    void *alarm_arg;
    /* trace */
    uint64_t hash;
    FILE *trace_file;
    bool tracing; /* trace_file or opts.trace_fn: records are written out */
    char trace_node[32];
    sim_name_cache names[SIM_NAME_CACHE];
    uint64_t callback_hash[TW__EV_COUNT]; /* each callback name's hash */
    tw_sim_stats stats;
    struct sim_dgram *dg; /* datagrams (sim/dgram.h) */
    tw_sim_loss_model *bursts; /* loss bursts' models (sim/net/loss.c) */
    uint32_t nbursts;
    struct tw_history *history; /* the apps' operations (sim/history.c), or NULL */
    /* the packet tap (twin/simprobe.h, sim/tap.h), or NULL */
    tw_sim_packet_fn tap;
    void *tap_arg;
};

extern const tw__loop_ops tw__sim_loop_ops;

/* world.c */
sim_node *sim_node_of(tw_loop *loop);
tw_ns sim_node_local(sim_node *n, tw_ns world);
tw_ns sim_node_world(sim_node *n, tw_ns local);
sim_node *sim_node_by_addr(tw_sim *sim, const tw_addr *a, sim_node *from);
/* A node's loop was made afresh (added, restarted): hook it up. */
void sim_node_hooks(sim_node *n);
/* The node's clock or life changed: forget its queued timer event and
 * queue one for its earliest timer as the clock now reads. */
void sim_node_rearm(sim_node *n);
void sim_fail(tw_sim *sim, int err, const char *why);

/* Queue an event (sim/queue.h): at when, or now if when has passed; in
 * the order of scheduling among events of one time. 0, or a negative
 * errno when the queue is full (the world has then failed). Inline: the
 * ring's and the heap's common case, with room; sim_push_out grows. */
static inline __attribute__((always_inline)) int
sim_push_inline(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj, uint32_t gen,
                uint64_t arg)
{
    sim_queue *q = &sim->q;
    assert(type >= EV_ARRIVE && type < EV__END && sim->seq <= SIM_SEQ_MAX);
    if (when <= sim->now) {
        if (__builtin_expect(q->r_len == q->r_cap, 0))
            return sim_push_out(sim, when, type, obj, gen, arg);
        /* Due now: behind everything queued before it (a FIFO ring). */
        sim_event *e = &q->ring[(q->r_head + q->r_len) & (q->r_cap - 1)];
        *e = (sim_event){.time = sim->now, .key = sim->seq++ << 8 | type, .arg = arg,
                         .obj = obj, .gen = gen};
        q->r_len++;
        q->fg++;
        assert(q->r_len <= q->r_cap && q->fg <= sim_queued(q));
        return 0;
    }
    if (__builtin_expect(q->len == q->cap, 0))
        return sim_push_out(sim, when, type, obj, gen, arg);
    sim_event ev = {.time = when, .key = sim->seq++ << 8 | type, .arg = arg, .obj = obj,
                    .gen = gen};
    sim_timed_insert(q, &ev);
    return 0;
}
/* sim_push, inlined where the compiler likes; sim_push_inline always,
 * for the per-message paths. */
static inline int sim_push(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
                           uint32_t gen, uint64_t arg)
{
    return sim_push_inline(sim, when, type, obj, gen, arg);
}
/* One step not passing world time limit: 1 if done, else 0 with the clock
 * moved to limit (the world was idle before it). */
int sim_step_bounded(tw_sim *sim, tw_ns limit);
/* Would an event queued for now be the very next thing the world runs?
 * (No node has work, nothing else is due now, no stop was asked.) Then
 * an event handler may do that work at once instead of queueing it: the
 * run is the same, minus the queueing. */
static inline bool sim_next_is_now(const tw_sim *sim)
{
    const sim_event *t = sim_timed_min(&sim->q);
    return !sim->ndue && !sim->q.r_len && (!t || t->time > sim->now) && !sim->err &&
           !(sim->driven && sim->driven->stopping);
}

/* Count n callbacks run by node nd at the world's now: past
 * opts.livelock_callbacks, the world stops (-ELOOP). The event and
 * transport name a protocol callback (NULL: the loop's). */
void sim_livelock(tw_sim *sim, sim_node *nd, const char *event,
                  uint64_t transport);
static inline void sim_spin(tw_sim *sim, sim_node *nd, uint64_t n,
                            const char *event, uint64_t transport)
{
    if (nd->spin_at != sim->now) {
        nd->spin_at = sim->now;
        nd->spin = 0;
    }
    nd->spin += n;
    if (__builtin_expect(nd->spin > sim->opts.livelock_callbacks, 0))
        sim_livelock(sim, nd, event, transport);
}

/* limits.c */
/* A node's loop was made afresh: give it the world's write-buffer alarm. */
void sim_limits_hook(sim_node *n);
/* A connect attempt of n, reaching the network. */
void sim_limits_connect(tw_sim *sim, sim_node *n);
/* A stream end opened on n as transport t; one of n's ended. */
void sim_limits_opened(tw_sim *sim, sim_node *n, uint64_t t);
static inline void sim_limits_closed(sim_node *n)
{
    assert(n->conns_open > 0);
    n->conns_open--;
}

/* fault.c: an EV_FAULT */
void sim_fault_event(tw_sim *sim, const sim_event *ev);
/* node.c */
void sim_node_crash(tw_sim *sim, sim_node *n, bool for_good);
/* fault.c: hold n until `until` (later of the two holds wins). */
void sim_node_hold(tw_sim *sim, sim_node *n, tw_ns until);
static inline bool sim_node_held(const tw_sim *sim, const sim_node *n)
{
    return n->held_until > sim->now;
}
/* Held, or slow: its program's work goes through the queue (and pays). */
static inline bool sim_node_busy(const tw_sim *sim, const sim_node *n)
{
    return n->held_until > sim->now || n->slow_until > sim->now;
}
/* When what node `node` sends now leaves it: now, or, after blocking calls
 * (a file's fsync, a write) made earlier in the callback that sends,
 * when they return: the node is held until then, and a reply written
 * after an fsync cannot leave before the fsync is done. */
static inline tw_ns sim_depart(const tw_sim *sim, uint32_t node)
{
    tw_ns t = sim->now;
    if (__builtin_expect(sim->held_max > t, 0) && sim->nodes[node]->held_until > t)
        t = sim->nodes[node]->held_until;
    return t;
}
void sim_node_restart(tw_sim *sim, sim_node *n);
void sim_node_start_app(sim_node *n);

/* dgram.c, dgram_net.c, dgram_fault.c: datagrams (sim/dgram.h) */
int sim_dgram_init(tw_sim *sim);
void sim_dgram_fini(tw_sim *sim);
int sim_dgram_create(tw_loop *, tw_protocol_factory, void *,
                     const struct tw_datagram_opts *, tw_connect_cb);
void sim_dgram_event(tw_sim *sim, const sim_event *ev);
bool sim_dgram_opts_ok(const tw_sim_dgram_opts *o);
void sim_dgram_defaults(tw_sim_dgram_opts *o);
bool sim_dgram_fault_ok(const tw_sim_fault *f);
void sim_dgram_fault(tw_sim *sim, const tw_sim_fault *f, uint32_t a,
                     uint32_t b);
/* Node `node` crashes now: the tap hears that its datagrams still to
 * leave (sent after a blocking call that had not returned) never do. */
void sim_dg_unsent(tw_sim *sim, uint32_t node);
/* A Unix stream server binds name a on node: a stale socket file there
 * (its datagram endpoint gone in a crash) is replaced; a live datagram
 * endpoint's name, and any abstract name in use, is -EADDRINUSE. */
int sim_dg_unix_claim(tw_sim *sim, uint32_t node, const tw_addr *a);
/* What a Unix stream connect to name a on node that no stream server has
 * is told: -EPROTOTYPE when a datagram endpoint has the name, else
 * -ECONNREFUSED. */
int sim_dg_unix_stream_refusal(tw_sim *sim, uint32_t node, const tw_addr *a);

#endif
