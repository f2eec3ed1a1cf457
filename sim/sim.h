/* sim/sim.h - the simulator's insides, shared by the files of sim/ only.
 *
 * Map:
 *   events     one queue for the whole world, ordered by (time, seq)
 *   nodes      a tw_loop first, then the node's clock and app
 *   paths      a dense matrix of per-direction state (cut, clog, busy)
 *   endpoints  one end of a stream connection: a tw_transport first, then
 *              the bytes flowing towards it (in flight, then arrived)
 *   listeners  a tw_server first, then the accept queue
 *   the world  everything above, the PRNG streams and the trace
 *
 * Objects that events refer to (endpoints, listeners) live in tables of
 * (pointer, generation): an event names an index and a generation, so an
 * event for a freed object finds a newer generation and is dropped.
 */
#ifndef TWIN_SIM_INTERNAL_H
#define TWIN_SIM_INTERNAL_H

#include "core/internal.h"
#include "twin/sim.h"
#include "twin/simprobe.h"

#define SIM_NONE UINT32_MAX

/* ---- events ---- */

enum sim_ev_type {
    EV_ARRIVE = 1, /* segments reach the receiving endpoint */
    EV_DELIVER,    /* hand one chunk (or the EOF) to the protocol */
    EV_ACK,        /* an ack lands where a writer waits for window */
    EV_WRITABLE,   /* window space: flush the sender's buffer */
    EV_RST,        /* connection reset: fatal(arg) */
    EV_STALL,      /* is the path still cut? then -ETIMEDOUT */
    EV_PEER_DEAD,  /* the peer's node crashed: -ETIMEDOUT unless back */
    EV_SYN,        /* a connect's SYN reaches the server node */
    EV_SYNACK,     /* the handshake completes at the client */
    EV_REFUSED,    /* RST answering a SYN: -ECONNREFUSED */
    EV_CONN_TIMEOUT,
    EV_ACCEPT,     /* the listener accepts what is queued */
    EV_PIPE,       /* a simulated pipe's action (sim/proc.h) */
    EV_PROC,       /* a simulated process's action (sim/proc.h) */
    EV_FAULT,      /* a scripted fault (obj: index) */
    EV_SWARM,      /* the swarm's clock: draw the next fault */
    EV_DGRAM_ARRIVE,   /* a datagram (or ICMP error) reaches a node */
    EV_DGRAM_DELIVER,  /* hand queued datagrams to the protocol */
    EV_DGRAM_SENT,     /* `arg` bytes left the sender's socket buffer */
    EV_DGRAM_WRITABLE, /* room again: flush the transport's queue */
    EV_TIMER,          /* a node's earliest timer is due (obj: node) */
    EV__END            /* one past the last type (new ones go above) */
};

typedef struct sim_event {
    tw_ns time;
    uint64_t seq;
    uint64_t arg;
    uint32_t obj, gen;
    uint8_t type;
    bool bg; /* background: does not keep the world busy */
} sim_event;

/* Events due at the current time (pushed with when <= now) go to a FIFO
 * ring instead of the heap: they are the common case (a delivery, a
 * writable), and they sort after every heap event of the same time, all
 * of which were pushed before the clock got there. */
typedef struct sim_queue {
    sim_event *heap;
    uint32_t len, cap, max;
    uint32_t fg; /* foreground events queued (heap and ring) */
    sim_event *ring;
    uint32_t r_head, r_len, r_cap;
} sim_queue;

/* ---- nodes ---- */

typedef struct sim_node {
    struct tw_loop loop; /* first: a node is its loop */
    tw_sim *sim;
    uint32_t id;
    char name[32];
    tw_addr addr; /* port 0 */
    bool up, crashing;
    bool contract_on;
    uint32_t crash_epoch;
    uint32_t restarts; /* restart faults that brought it back */
    /* clock: local(w) = base_local + (w - base_world) * (1e6 + drift) / 1e6,
     * never below floor (a monotonic clock never goes back). */
    tw_ns base_world, base_local, floor;
    int32_t drift_ppm;
    /* the EV_TIMER queued for the node's earliest timer: its world time
     * (-1: none) and generation (an older one is stale) */
    tw_ns timer_armed;
    uint32_t timer_gen;
    uint32_t emfile_left;
    uint32_t enobufs_left;   /* datagram sends to fail (dgram_fault.c) */
    uint16_t next_udp_port;  /* ephemeral UDP ports (dgram.c) */
    uint16_t next_ephemeral, next_listen_port;
    int (*start)(tw_loop *, void *);
    void (*stop)(tw_loop *, void *);
    void *app_arg;
} sim_node;

/* ---- paths ---- */

/* A loss model's memory: the previous packet's fate (CORRELATED), the
 * channel's state (GILBERT_ELLIOTT). */
typedef struct sim_loss_state {
    bool last_lost, bad;
} sim_loss_state;

typedef struct sim_path {
    tw_ns cut_since; /* -1: not cut */
    tw_ns clog_until;
    tw_ns busy_until; /* bandwidth: the wire is busy until then */
    uint32_t override; /* index+1 into sim->overrides, 0: defaults */
    /* datagrams (sim/dgram*.c): arrival of the newest one, which later
     * ones may not overtake unless reordered; a fault's impairments
     * (index+1 into the overlays, 0: none) and until when (0: ever) */
    tw_ns dgram_last;
    uint32_t dgram_overlay;
    tw_ns dgram_overlay_until;
    /* loss models (sim/loss.c): the channel state of the path's model
     * [0] and of a burst's [1]; the burst (index+1 into sim->bursts, 0:
     * none) and until when; traffic counters (twin/simprobe.h) */
    sim_loss_state loss[2];
    uint32_t burst;
    tw_ns burst_until;
    tw_sim_path_counters count;
} sim_path;

/* ---- stream endpoints ---- */

typedef struct sim_seg {
    struct sim_seg *next;
    tw_ns sent, arrive;
    uint32_t len, off;
    /* bytes of the other direction read by the sender, acknowledged by
     * this segment (an ack riding on data, as TCP's do) */
    size_t ack;
    bool fin, small; /* small: SIM_SEG_SMALL bytes of room, recycled */
    uint8_t data[];
} sim_seg;

/* Segments of up to this many bytes come from the world's free list. */
#define SIM_SEG_SMALL 480
#define SIM_SEG_FREE_MAX 4096

/* Acknowledgements on their way back to the end that sent the bytes:
 * arrival time and bytes, in arrival order. They are not events: the
 * sender settles them when it looks at its window, and an EV_ACK is
 * queued only to wake a writer the window holds up. */
#define SIM_ACKS 4
typedef struct sim_ack {
    tw_ns t;
    size_t n;
} sim_ack;

typedef struct sim_listener sim_listener;

typedef struct sim_ep {
    struct tw_transport t; /* first: the core's transport */
    uint32_t id, peer_id, peer_gen;
    uint32_t node, peer_node;
    /* the direction towards this endpoint */
    sim_seg *fly_head, *fly_tail; /* sent, not arrived, in order */
    sim_seg *rx_head, *rx_tail;   /* arrived, not read */
    size_t rx_bytes, fly_bytes;
    tw_ns fly_last;               /* arrival of the newest segment */
    /* the direction away from it */
    size_t tx_unacked;            /* sent, not yet acknowledged as read */
    uint64_t ack_parked;          /* acks held by a cut on their way here */
    sim_ack acks[SIM_ACKS];       /* acks on their way here (a ring) */
    uint8_t ack_head, ack_len;
    bool ack_event;               /* an EV_ACK is queued to wake a writer */
    bool arrive_pending;          /* an EV_ARRIVE is queued for fly_head */
    int pending_err;              /* reset before the transport opened */
    bool opened, connecting, broken;
    bool fin_sent, fin_arrived, eof_done;
    bool rx_parked, deliver_pending, writable_pending, rst_sent;
    bool want_write, want_read, peer_crashed, is_unix;
    /* until opened: how to open (client) or where queued (server) */
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    sim_listener *listener;
    struct sim_ep *next_queued;
    uint8_t syn_tries;
} sim_ep;

struct sim_listener {
    tw_server srv; /* first: the core's server */
    uint32_t id;
    uint32_t node;
    bool unlinked, accept_pending;
    sim_ep *q_head, *q_tail;
    uint32_t q_len;
    struct sim_listener *next; /* in the world's list */
    /* Asked once for each SYN the listener takes (room in its backlog):
     * true refuses it as a closed port does (-ECONNREFUSED at the
     * client). NULL: none is. Set by the scripted peer (sim/peer.c). */
    bool (*refuse_syn)(void *arg);
    void *refuse_arg;
};

/* ---- the world ---- */

/* trace.c: record names' hashes, found by the name's address */
#define SIM_NAME_CACHE 64
typedef struct sim_name_cache {
    const char *name;
    uint64_t hash;
} sim_name_cache;

typedef struct sim_slot {
    void *p;
    uint32_t gen;
} sim_slot;

typedef struct sim_table {
    sim_slot *slots;
    uint32_t n, cap, max, live;
    uint32_t free_head; /* UINT32_MAX: none */
} sim_table;

struct tw_sim {
    tw_sim_opts opts;
    uint64_t seed;
    tw_ns now;
    tw_sim_prng rng_net, rng_fault, rng_bug, rng_user;
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
    tw_sim_path_opts *overrides;
    uint32_t noverrides;
    sim_table eps, lsns;
    struct sim_procs *procs; /* pipes and processes (sim/proc.h), or NULL */
    sim_listener *listeners;
    tw_sim_fault *faults; /* scripted, by index */
    uint32_t nfaults, capfaults;
    uint8_t *scratch; /* one chunk, gathered from segments */
    sim_seg *seg_free; /* small segments to reuse */
    uint32_t seg_nfree;
    bool driving, swarm_started;
    tw_loop *driven; /* the loop a tw_loop_run drives, or NULL */
    int err;
    /* trace */
    uint64_t hash;
    FILE *trace_file;
    bool tracing; /* trace_file or opts.trace_fn: records are written out */
    char trace_node[32];
    sim_name_cache names[SIM_NAME_CACHE];
    uint64_t callback_hash[TW__EV_COUNT]; /* each callback name's hash */
    tw_sim_stats stats;
    struct sim_dgram *dg; /* datagrams (sim/dgram.h) */
    tw_sim_loss_model *bursts; /* loss bursts' models (sim/loss.c) */
    uint32_t nbursts;
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
/* One step not passing world time limit: 1 if done, else 0 with the clock
 * moved to limit (the world was idle before it). */
int sim_step_bounded(tw_sim *sim, tw_ns limit);
/* Would an event queued for now be the very next thing the world runs?
 * (No node has work, nothing else is due now, no stop was asked.) Then
 * an event handler may do that work at once instead of queueing it: the
 * run is the same, minus the queueing. */
static inline bool sim_next_is_now(const tw_sim *sim)
{
    return !sim->ndue && !sim->q.r_len &&
           (!sim->q.len || sim->q.heap[0].time > sim->now) && !sim->err &&
           !(sim->driven && sim->driven->stopping);
}

/* queue.c */
int sim_queue_init(sim_queue *q, uint32_t max);
void sim_queue_fini(sim_queue *q);
int sim_push(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
             uint32_t gen, uint64_t arg);
int sim_push_bg(tw_sim *sim, tw_ns when, uint8_t type, uint64_t arg);
/* The earliest event, NULL if none: a heap event of the current time
 * (now) first, then the ring, then the heap. */
bool sim_pop(sim_queue *q, tw_ns now, sim_event *out);
static inline const sim_event *sim_peek(const sim_queue *q, tw_ns now)
{
    if (q->len && (q->heap[0].time <= now || !q->r_len))
        return &q->heap[0];
    return q->r_len ? &q->ring[q->r_head] : NULL;
}
static inline uint32_t sim_queued(const sim_queue *q) { return q->len + q->r_len; }

/* queue.c: a table of ids with generations (endpoints) */
int sim_table_init(sim_table *t, uint32_t max);
void sim_table_fini(sim_table *t);
uint32_t sim_table_add(sim_table *t, void *p); /* UINT32_MAX: full */
void sim_table_del(sim_table *t, uint32_t id);
static inline void *sim_table_get(const sim_table *t, uint32_t id, uint32_t gen)
{
    if (id >= t->n || t->slots[id].gen != gen || !(gen & 1))
        return NULL;
    return t->slots[id].p;
}
static inline uint32_t sim_table_gen(const sim_table *t, uint32_t id)
{
    return t->slots[id].gen;
}

/* prng.c: the generator (twin/sim.h spells it out), inline here for the
 * hot paths; tw_sim_prng_* are the same functions by their public names */
static inline uint64_t sim_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t sim_next(tw_sim_prng *p)
{
    uint64_t *s = p->s;
    uint64_t result = sim_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sim_rotl(s[3], 45);
    tw_sim_prng_feed *f = p->feed;
    if (__builtin_expect(f != NULL, 0) && f->pos < f->len) {
        /* Schedule fuzzing: the feed's byte decides where in the range
         * this draw lands; the generator only fills in below it. */
        result = (uint64_t)f->data[f->pos++] << 56 | result >> 8;
    }
    return result;
}

static inline uint64_t sim_below(tw_sim_prng *p, uint64_t n)
{
    assert(n > 0);
    /* Lemire: the high word of x * n is uniform once the low word is out
     * of the biased zone. */
    unsigned __int128 m = (unsigned __int128)sim_next(p) * n;
    uint64_t low = (uint64_t)m;
    if (__builtin_expect(low < n, 0)) {
        uint64_t threshold = -n % n;
        while (low < threshold) {
            m = (unsigned __int128)sim_next(p) * n;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static inline double sim_double(tw_sim_prng *p)
{
    return (double)(sim_next(p) >> 11) * 0x1.0p-53;
}

static inline bool sim_chance(tw_sim_prng *p, double prob)
{
    if (prob <= 0)
        return false;
    if (prob >= 1)
        return true;
    return sim_double(p) < prob;
}

/* A latency draw: uniform and constant inline, the rest in sim/dist.c
 * (tw_sim_dist_sample, which gives the same values for these two). */
static inline tw_ns sim_dist_sample(const tw_sim_dist *d, tw_sim_prng *p)
{
    if (d->kind == TW_SIM_DIST_UNIFORM && d->max_ns > d->min_ns && d->min_ns >= 0)
        return d->min_ns + (tw_ns)sim_below(p, (uint64_t)(d->max_ns - d->min_ns) + 1);
    if (d->kind == TW_SIM_DIST_CONSTANT && d->min_ns >= 0 &&
        (d->max_ns <= 0 || d->min_ns <= d->max_ns))
        return d->min_ns;
    return tw_sim_dist_sample(d, p);
}

/* prng.c: the simulator's own math, + - * / only */
double sim_ln(double x);
double sim_exp(double x);
double sim_sqrt(double x);

/* path.c */
static inline sim_path *sim_path_of(tw_sim *sim, uint32_t from, uint32_t to)
{
    assert(from < sim->nnodes && to < sim->nnodes);
    return &sim->paths[(size_t)from * sim->paths_cap + to];
}
static inline const tw_sim_path_opts *sim_path_opts(tw_sim *sim, uint32_t from,
                                                    uint32_t to)
{
    sim_path *p = sim_path_of(sim, from, to);
    if (p->override)
        return &sim->overrides[p->override - 1];
    return from == to ? &sim->opts.loopback : &sim->opts.net;
}
int sim_paths_grow(tw_sim *sim, uint32_t nodes);
/* Every packet put on a path is counted (twin/simprobe.h): that is how a
 * clog or a partition proves it met live traffic. */
static inline void sim_count_packet(tw_sim *sim, sim_path *p)
{
    p->count.packets++;
    if (p->clog_until > sim->now)
        p->count.clogged++;
}
/* One packet's latency from -> to, drawn and counted. */
static inline tw_ns sim_latency(tw_sim *sim, uint32_t from, uint32_t to)
{
    const tw_sim_path_opts *o = sim_path_opts(sim, from, to);
    sim_count_packet(sim, sim_path_of(sim, from, to));
    return sim_dist_sample(&o->latency, &sim->rng_net);
}
/* path.c: how long len bytes take on the wire of a path with a bandwidth;
 * when a segment due at t on path p (options o) arrives after the
 * retransmissions the loss draws make. */
tw_ns sim_wire_time(const tw_sim_path_opts *o, size_t len);
tw_ns sim_retransmit(tw_sim *sim, uint32_t from, uint32_t to,
                     const tw_sim_path_opts *o, sim_path *p, tw_ns t, bool *gave_up);
/* When a segment of len bytes sent now reaches the other end (bandwidth,
 * latency, retransmissions); if it exhausted its retries, *gave_up is set
 * and the time returned is when the sender gives up. */
static inline tw_ns sim_transit(tw_sim *sim, uint32_t from, uint32_t to, size_t len,
                                bool *gave_up)
{
    const tw_sim_path_opts *o = sim_path_opts(sim, from, to);
    sim_path *p = sim_path_of(sim, from, to);
    tw_ns start = p->busy_until > sim->now ? p->busy_until : sim->now;
    if (o->bandwidth_bytes_per_sec)
        start += sim_wire_time(o, len);
    p->busy_until = start;
    tw_ns t = start + sim_dist_sample(&o->latency, &sim->rng_net);
    sim_count_packet(sim, p);
    if (__builtin_expect(o->loss_probability <= 0 &&
                         o->loss_model.kind == TW_SIM_LOSS_NONE && !p->burst, 1))
        return t; /* what sim_loss would say, without asking */
    return sim_retransmit(sim, from, to, o, p, t, gave_up);
}
/* Is the path cut? (Asking counts, on a cut path, as traffic blocked.) */
bool sim_path_cut_slow(tw_sim *sim, uint32_t from, uint32_t to);
static inline bool sim_path_cut(tw_sim *sim, uint32_t from, uint32_t to)
{
    if (from == to || sim_path_of(sim, from, to)->cut_since < 0)
        return false;
    return sim_path_cut_slow(sim, from, to);
}
void sim_path_cut_set(tw_sim *sim, uint32_t from, uint32_t to, bool cut);

/* loss.c */
/* Is the packet crossing from->to now lost? Independent loss with p
 * (drawn only when p > 0), then the path's model and its burst's (each
 * drawn only when on). Counts the loss on the path. */
bool sim_loss(tw_sim *sim, uint32_t from, uint32_t to, double p);

/* stream.c */
sim_ep *sim_ep_new(tw_sim *sim, uint32_t node);
void sim_ep_free(tw_sim *sim, sim_ep *ep);
static inline sim_ep *sim_ep_get(tw_sim *sim, uint32_t id, uint32_t gen)
{
    return (sim_ep *)sim_table_get(&sim->eps, id, gen);
}
/* Every live stream end, in id order; the body may free the one it has:
 *   sim_ep *ep;
 *   for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) ...            */
static inline sim_ep *sim_ep_next(tw_sim *sim, uint32_t *i)
{
    while (*i < sim->eps.n) {
        uint32_t id = (*i)++;
        sim_ep *ep = sim_ep_get(sim, id, sim_table_gen(&sim->eps, id));
        if (ep)
            return ep;
    }
    return NULL;
}
static inline sim_ep *sim_ep_peer(tw_sim *sim, sim_ep *ep)
{
    if (ep->peer_id == SIM_NONE)
        return NULL;
    return (sim_ep *)sim_table_get(&sim->eps, ep->peer_id, ep->peer_gen);
}
int sim_ep_open(tw_sim *sim, sim_ep *ep, tw_protocol_factory f, void *arg,
                tw_connect_cb cb);
void sim_ep_kill(tw_sim *sim, sim_ep *ep, int err);
/* If the endpoint's path is cut, start its stall clock. */
void sim_ep_watch_cut(tw_sim *sim, sim_ep *ep);
void sim_send_rst(tw_sim *sim, sim_ep *from);
void sim_stream_event(tw_sim *sim, const sim_event *ev, sim_ep *ep);
void sim_stream_heal(tw_sim *sim);
/* Before a cut heals: settle every end's acks that arrived under the
 * cut (they are held). After a clog: acks still on their way across a
 * clogged path wait for its end; those that landed stand. */
void sim_stream_settle_all(tw_sim *sim);
void sim_stream_clogged(tw_sim *sim);
/* The window's view after settling the acks that have arrived. */
size_t sim_ep_unacked(tw_sim *sim, sim_ep *ep);
void sim_segs_fini(tw_sim *sim);
extern const tw__transport_ops tw__sim_stream_ops;

/* server.c */
int sim_connect_host(tw_loop *, tw_protocol_factory, void *, const char *,
                     uint16_t, tw_connect_cb);
int sim_connect_addr(tw_loop *, tw_protocol_factory, void *, const tw_addr *,
                     tw_connect_cb);
int sim_create_server(tw_loop *, tw_protocol_factory, void *, const char *,
                      uint16_t, const tw_server_opts *, tw_server **);
int sim_create_unix_server(tw_loop *, tw_protocol_factory, void *,
                           const char *, const tw_server_opts *, tw_server **);
void sim_server_event(tw_sim *sim, const sim_event *ev);
/* The loop's resolve / resolve_cancel ops (core/internal.h). */
void *sim_resolve_op(tw_loop *loop, const char *host, uint16_t port,
                     bool passive, tw__resolve_cb cb, void *ctx, int *err);
void sim_resolve_cancel_op(tw_loop *loop, void *req);

/* fault.c */
void sim_fault_event(tw_sim *sim, const sim_event *ev);
void sim_swarm_event(tw_sim *sim);
void sim_node_crash(tw_sim *sim, sim_node *n, bool for_good);
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
/* The swarm's datagram fault: fill *f (a, b, duration set) from r. */
void sim_dgram_swarm_draw(tw_sim_prng *r, tw_sim_fault *f);
/* A Unix stream server binds name a on node: a Unix datagram endpoint's
 * socket file there is replaced; its abstract name is -EADDRINUSE. */
int sim_dg_unix_claim(tw_sim *sim, uint32_t node, const tw_addr *a);
/* What a Unix stream connect to name a on node that no stream server has
 * is told: -EPROTOTYPE when a datagram endpoint has the name, else
 * -ECONNREFUSED. */
int sim_dg_unix_stream_refusal(tw_sim *sim, uint32_t node, const tw_addr *a);

/* trace.c */
void sim_trace_callback(tw_loop *loop, const tw_transport *t, unsigned ev);
uint64_t sim_hash_name(const char *what);
void sim_trace_out(tw_sim *sim, uint32_t node, uint64_t transport,
                   const char *what, int64_t a, int64_t b);

/* One trace record: folded into the run's hash, and written out when
 * someone reads the trace. Every simulated run pays for the hash, so it
 * is a few instructions: the fields are spread by independent multiplies
 * (each a bijection), and their sum goes into the running hash with one
 * multiply-and-shift. Whole integer values only, never a pointer or a
 * struct's bytes, so every build of a program agrees. A name's hash is
 * remembered by the name's address, but computed from its text; the
 * protocol callbacks' names are hashed once, when the world is made. */
static inline void sim_trace_fold(tw_sim *sim, uint32_t node, uint64_t transport,
                                  uint64_t name_hash, int64_t a, int64_t b)
{
    uint64_t r = (uint64_t)sim->now * UINT64_C(0x9E3779B97F4A7C15) +
                 ((uint64_t)node << 48 ^ transport) * UINT64_C(0xC2B2AE3D27D4EB4F) +
                 (uint64_t)a * UINT64_C(0x165667B19E3779F9) +
                 (uint64_t)b * UINT64_C(0xD6E8FEB86659FD93) + name_hash;
    uint64_t x = (sim->hash ^ r) * UINT64_C(0xFF51AFD7ED558CCD);
    sim->hash = x ^ (x >> 32);
    sim->stats.records++;
}
static inline void sim_trace(tw_sim *sim, uint32_t node, uint64_t transport,
                             const char *what, int64_t a, int64_t b)
{
    uintptr_t addr = (uintptr_t)what;
    sim_name_cache *c = &sim->names[(addr ^ (addr >> 7)) % SIM_NAME_CACHE];
    if (__builtin_expect(c->name != what, 0)) {
        c->name = what;
        c->hash = sim_hash_name(what);
    }
    sim_trace_fold(sim, node, transport, c->hash, a, b);
    if (__builtin_expect(sim->tracing, 0))
        sim_trace_out(sim, node, transport, what, a, b);
}
static inline uint64_t sim_ep_tid(const sim_ep *ep)
{
    return ep->opened ? ep->t.id : 0;
}


#endif
