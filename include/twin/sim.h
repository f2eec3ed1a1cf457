/* twin/sim.h - the deterministic simulated backend.
 *
 * Map:
 *   1. the PRNG (documented, so a seed means the same thing everywhere)
 *   2. latency distributions
 *   3. options: one struct, units in the names, zero means "default"
 *   4. the world: create, nodes, run, step, free
 *   5. node apps: a start function run at creation and after each restart
 *   6. paths: per-path overrides of the network options
 *   7. faults: twin/simfault.h
 *   8. the trace and its hash
 *
 * A tw_sim is a world: one virtual clock (integer ns, starting at 0), one
 * event queue ordered by (time, sequence number), one seed, and nodes. Each
 * node has its own tw_loop (twin/loop.h) and an address; every loop call
 * works on it in virtual time, and running any node's loop drives the whole
 * world. Nothing in the simulator reads the wall clock, libc's generator,
 * pointer values or uninitialised memory: the same seed and the same
 * program give the same trace, byte for byte, and the same trace hash.
 *
 * Threads: a world and its loops belong to one thread (as a loop does).
 *
 * Errors follow twin/error.h: 0 or a non-negative value on success, a
 * negative errno on failure. Functions taking a tw_loop * that is not a
 * simulated node's loop return -EINVAL.
 */
#ifndef TWIN_SIM_H
#define TWIN_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"
#include "twin/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_sim tw_sim;

/* ------------------------------------------------------------------ */
/* 1. the PRNG
 *
 * xoshiro256** (Blackman and Vigna, 2018), its 256-bit state filled by
 * splitmix64. The world keeps independent streams so that, for example,
 * the schedule of swarm faults depends on the seed alone and not on how
 * much traffic there was:
 *
 *     stream k of seed S: x = S ^ (0x632be59bd9b4e019 * (k + 1));
 *                         s[0..3] = splitmix64(&x) four times
 *     splitmix64(&x):     x += 0x9e3779b97f4a7c15; z = x;
 *                         z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9;
 *                         z = (z ^ z >> 27) * 0x94d049bb133111eb;
 *                         return z ^ z >> 31;
 *
 * Streams: 0 network (latency, chunking, loss), 1 faults (black-holed
 * SYNs), 2 buggify, 3 the user's (tw_sim_rand), 4 the disk's (file
 * latencies and what a crash keeps: twin/simfs.h), 8 the swarm's draws
 * (twin/simfault.h; drawn before a run, from the seed alone). Derived values: below(n) is
 * Lemire's multiply-shift with rejection (unbiased); a double in [0,1) is
 * the top 53 bits times 2^-53; chance(p) is double < p.
 *
 * Schedule fuzzing (tw_sim_opts.prng_bytes): a generator may be given a
 * feed of bytes. While the feed lasts, each next() takes one byte b from
 * it as the top 8 bits of its value, the generator's own output shifted
 * right by 8 filling the rest: below(n) then lands in [b*n/256,
 * (b+1)*n/256) (unless Lemire's rare rejection draws again), double in
 * [b/256, (b+1)/256), so one byte steers one
 * choice (a delay, a chunk size, a loss, a fault time) and a mutation of
 * that byte moves that choice alone. Once the feed is used up, next() is
 * the plain generator again: the same bytes and seed always give the same
 * run. Streams that share a feed take its bytes in the order they draw. */

typedef struct tw_sim_prng_feed {
    const uint8_t *data; /* not owned */
    size_t len;
    size_t pos; /* bytes taken so far */
} tw_sim_prng_feed;

typedef struct tw_sim_prng {
    uint64_t s[4];
    tw_sim_prng_feed *feed; /* NULL: the generator alone (set by seed) */
} tw_sim_prng;

enum {
    TW_SIM_STREAM_NET = 0,
    TW_SIM_STREAM_FAULT = 1,
    TW_SIM_STREAM_BUGGIFY = 2,
    TW_SIM_STREAM_USER = 3,
};

void tw_sim_prng_seed(tw_sim_prng *p, uint64_t seed, unsigned stream);
uint64_t tw_sim_prng_next(tw_sim_prng *p);
/* Uniform in [0, n); n > 0. */
uint64_t tw_sim_prng_below(tw_sim_prng *p, uint64_t n);
/* Uniform in [0, 1). */
double tw_sim_prng_double(tw_sim_prng *p);
/* True with probability p (p <= 0: never, p >= 1: always). */
bool tw_sim_prng_chance(tw_sim_prng *p, double prob);

/* ------------------------------------------------------------------ */
/* 2. latency distributions
 *
 * Every sample is clamped to [min_ns, max_ns] (max_ns 0: no upper bound;
 * for BIMODAL max_ns bounds the fast mode only).
 *   CONSTANT     min_ns
 *   UNIFORM      uniform integer in [min_ns, max_ns]
 *   NORMAL       mean_ns + stddev_ns * N(0,1) (Marsaglia's polar method)
 *   EXPONENTIAL  min_ns + Exp(mean: mean_ns - min_ns)
 *   PARETO       min_ns * U^(-1/alpha) (min_ns > 0 is the scale; heavy tail,
 *                mean alpha*min/(alpha-1) for alpha > 1); alpha 0: 1.5
 *   BIMODAL      "mostly fast, rare slow tail": with slow_probability a
 *                uniform draw in [slow_min_ns, slow_max_ns], otherwise a
 *                uniform draw in [min_ns, max_ns]
 * The logarithm, exponential and square root are computed by the simulator
 * itself with + - * / only, so builds and libm versions cannot disagree. */

typedef enum tw_sim_dist_kind {
    TW_SIM_DIST_DEFAULT = 0, /* the option's default distribution */
    TW_SIM_DIST_CONSTANT,
    TW_SIM_DIST_UNIFORM,
    TW_SIM_DIST_NORMAL,
    TW_SIM_DIST_EXPONENTIAL,
    TW_SIM_DIST_PARETO,
    TW_SIM_DIST_BIMODAL,
} tw_sim_dist_kind;

typedef struct tw_sim_dist {
    tw_sim_dist_kind kind;
    tw_ns min_ns;
    tw_ns max_ns;
    tw_ns mean_ns;
    tw_ns stddev_ns;
    double alpha;
    double slow_probability;
    tw_ns slow_min_ns;
    tw_ns slow_max_ns;
} tw_sim_dist;

/* One sample (kind DEFAULT samples as CONSTANT). */
tw_ns tw_sim_dist_sample(const tw_sim_dist *d, tw_sim_prng *p);
/* "constant", "uniform", "normal", "exponential", "pareto", "bimodal". */
const char *tw_sim_dist_name(tw_sim_dist_kind kind);
/* The kind of a name above, or -EINVAL. */
int tw_sim_dist_parse(const char *name);

/* ------------------------------------------------------------------ */
/* 3. options. Zero in any field means its default (given in brackets). */

/* Datagrams (UDP, twin/datagram.h) on one direction of a path. Each
 * datagram's fate is drawn from the network stream of the seed when it is
 * sent, in the order of the fields below, and only for the impairments
 * that are on (a probability of 0 draws nothing, so turning one on does
 * not change the draws of a run without it). Every fate is traced. */
typedef struct tw_sim_dgram_opts {
    /* sendto fails with -ENOBUFS, reported to error_received (the
     * reference text's rule); nothing is sent. [0] */
    double enobufs_probability;
    /* Lost on the way. [0] */
    double loss_probability;
    /* Answered as by a closed port: an ICMP port unreachable travels
     * back, and a connected sender sees error_received(-ECONNREFUSED)
     * (an unconnected one hears nothing, as on Linux). [0] */
    double refuse_probability;
    /* Arrives twice; the copy draws its own latency. [0] */
    double duplicate_probability;
    /* Held back by an extra delay, uniform in [1 ns,
     * reorder_delay_ns_max], so that datagrams sent after it overtake it;
     * all others arrive in the order they were sent. [0; 1 ms] */
    double reorder_probability;
    tw_ns reorder_delay_ns_max;
    /* 1 to corrupt_bits_max distinct bits flipped, at positions uniform
     * over the datagram (an empty one stays intact). [0; 1] */
    double corrupt_probability;
    uint32_t corrupt_bits_max;
    /* A larger datagram fails with -EMSGSIZE, reported to error_received
     * from inside sendto. [0: UDP's limit, 65,507 bytes over IPv4 and
     * 65,527 over IPv6, as on Linux] */
    uint32_t size_max_bytes;
    /* The sender's socket buffer: bytes (each datagram counts its length
     * + 8) waiting for the wire (bandwidth, clog) after which sendto
     * pushes back; the transport then queues and pause_writing follows.
     * An empty buffer always takes one datagram. A node's Unix datagram
     * endpoints take their send buffer from its loopback path's (each
     * datagram counting until its receiver reads it; see twin/datagram.h);
     * no other field here applies to them. [212,992, Linux's] */
    uint32_t sndbuf_bytes;
    /* The receiver's socket buffer: bytes arrived and not yet handed to
     * the protocol; datagrams that do not fit are dropped. [212,992] */
    uint32_t rcvbuf_bytes;
} tw_sim_dgram_opts;

/* Loss that is not independent from packet to packet (sim/net/loss.c). Every
 * packet crossing a path passes its model once: a stream segment (each
 * retransmission again) or a datagram. It is drawn only when on, after
 * the independent draw of loss_probability, so a run without a model
 * draws what it always drew. A model is lost-or-not per packet; what a
 * loss does is the path's rule (a stream segment comes back one RTO
 * later, a datagram is gone).
 *   CORRELATED       each packet repeats the previous packet's fate with
 *                    probability `correlation`, else is lost with
 *                    `probability` independently: the loss rate stays
 *                    `probability` while losses cluster (netem's "loss
 *                    random P CORR" intends this; its formula lets the
 *                    rate sink below P as the correlation grows).
 *   GILBERT_ELLIOTT  two states, as netem's "loss gemodel p r 1-h 1-k":
 *                    a packet is lost with loss_bad in the bad state,
 *                    loss_good in the good one; then the channel moves
 *                    good->bad with p, bad->good with r. It starts good.
 *                    Mean burst length 1/r packets, mean gap 1/p. */
typedef enum tw_sim_loss_kind {
    TW_SIM_LOSS_NONE = 0,
    TW_SIM_LOSS_CORRELATED,
    TW_SIM_LOSS_GILBERT_ELLIOTT,
} tw_sim_loss_kind;

typedef struct tw_sim_loss_model {
    tw_sim_loss_kind kind;
    double probability; /* CORRELATED, in [0, 1] */
    double correlation; /* CORRELATED, in [0, 1) */
    double p;           /* GILBERT_ELLIOTT: good -> bad, in (0, 1] */
    double r;           /* GILBERT_ELLIOTT: bad -> good [0: 1 - p] */
    double loss_bad;    /* GILBERT_ELLIOTT: 1-h [0: 1] */
    double loss_good;   /* GILBERT_ELLIOTT: 1-k [0] */
} tw_sim_loss_model;

/* One direction of a path between two nodes. */
typedef struct tw_sim_path_opts {
    /* One-way delay of every segment, SYN and ACK. [network: uniform
     * 100 us .. 1 ms; loopback: uniform 1 us .. 20 us] */
    tw_sim_dist latency;
    /* Serialisation rate; segments queue behind each other. [0: unlimited] */
    uint64_t bandwidth_bytes_per_sec;
    /* Receive window of each connection in this direction: bytes sent but
     * not yet read by the receiving protocol. A slow or paused reader keeps
     * it full, and the writer's buffer then grows. [128 KiB] */
    uint32_t rcvbuf_bytes;
    /* Per segment. A loss is not lost data: the segment arrives one
     * retransmission timeout later (doubling each time). [0] */
    double loss_probability;
    tw_ns rto_ns;     /* first retransmission timeout [200 ms] */
    tw_ns rto_max_ns; /* cap of the doubling [10 s] */
    /* Consecutive losses of one segment after which the connection fails:
     * the sender sees -ETIMEDOUT, the receiver -ECONNRESET. [15] */
    uint32_t loss_retries_max;
    /* Datagrams: latency and bandwidth above apply to them too; a
     * partition loses them, a clog holds them (and fills the sender's
     * socket buffer). */
    tw_sim_dgram_opts dgram;
    /* Bursty or correlated loss on top of the independent kind. [none] */
    tw_sim_loss_model loss_model;
} tw_sim_path_opts;

typedef struct tw_sim_record tw_sim_record;
typedef void (*tw_sim_trace_fn)(void *arg, const tw_sim_record *rec,
                                const char *line);

typedef struct tw_sim_opts {
    tw_sim_path_opts net;      /* between two different nodes */
    tw_sim_path_opts loopback; /* a node to itself (127.0.0.1, Unix) */

    /* Largest piece of a stream handed to one data_received. [256 KiB] */
    uint32_t chunk_bytes_max;
    /* Chance that a delivery is cut short: then it is a few bytes (one
     * time in three) or any size below what has arrived, drawn from the
     * seed, so a parser that assumes message boundaries fails here. Else
     * it is all that has arrived, up to chunk_bytes_max, as a real read
     * mostly is. 1: every delivery is cut; negative: none is. A TLS
     * transport's protocol still gets whole records (twin/tls.h): this
     * cuts the encrypted stream under them. [0.25] */
    double chunk_split_probability;
    /* Largest segment one send makes (the rest becomes more segments,
     * each with its own latency draw; order is always kept). [64 KiB] */
    uint32_t segment_bytes_max;

    tw_ns connect_timeout_ns; /* a SYN nobody answers [30 s] */
    tw_ns syn_rto_ns;         /* SYN retransmission, doubling [1 s] */
    /* A connection whose path is cut (partition, crashed peer) for this
     * long fails with -ETIMEDOUT on each live end. [60 s] */
    tw_ns stall_timeout_ns;
    /* A listener that hit EMFILE waits this long before accepting again,
     * as asyncio does. [1 s] */
    tw_ns accept_retry_delay_ns;
    /* Chance that a connect's SYN is black-holed (the connect then times
     * out after connect_timeout_ns). [0] */
    double connect_timeout_probability;

    /* Limits; each has a setting to raise it. (Fixed ones: 8 SYN
     * retransmissions per connect, 2^20 listeners and 2^20 scripted faults
     * per world.) Hitting events_max fails the run with -ENOBUFS rather
     * than silently dropping work (it is checked as the queue grows: the
     * run fails with at least events_max queued, and before twice as
     * many); at endpoints_max a connect returns -ENOBUFS and a server
     * node drops SYNs. */
    uint32_t nodes_max;      /* [1024] */
    uint32_t endpoints_max;  /* stream ends alive at once [4 Mi] */
    uint32_t events_max;     /* network events queued at once [16 Mi] */
    /* tw_sim_run_until_idle gives up (-ETIME) after this much virtual time
     * (a periodic timer is never idle). [1 hour] */
    tw_ns idle_horizon_ns;
    /* Livelock: a node that runs more callbacks than this while world time
     * stays put (those its loop runs, and the protocol callbacks the
     * network delivers to it) stops the world with -ELOOP, instead of
     * spinning for ever: a protocol that reschedules itself with
     * tw_call_soon, or with a timer for now, never lets time move.
     * tw_sim_livelock says where. UINT64_MAX: never. [1,000,000] */
    uint64_t livelock_callbacks;

    /* Buggify (twin/buggify.h): each TW_BUGGIFY site is enabled for the
     * run with buggify_site_probability [0.25] and then fires with
     * buggify_fire_probability [0.05]. */
    bool buggify;
    double buggify_site_probability;
    double buggify_fire_probability;

    /* Schedule fuzzing (section 1): when set, every draw of the world's
     * four streams, in the order they happen, takes its top 8 bits from
     * the next of these bytes; the seed supplies the rest, and every draw
     * once they are used up. A fuzzer's input then chooses the schedule
     * (delays, chunk sizes, losses) and a crash replays
     * from the same bytes. Not copied: they must outlive the world.
     * tw_sim_prng_bytes_used() says how many a run took. [NULL] */
    const uint8_t *prng_bytes;
    size_t prng_bytes_len;

    /* Trace output (section 8). The hash covers every record whatever the
     * filter. trace_file: one readable line per record (not owned). */
    FILE *trace_file;
    tw_sim_trace_fn trace_fn;
    void *trace_arg;
    const char *trace_node; /* only this node's records [NULL: all] */
    bool trace_verbose;     /* also one line per node loop iteration */
    bool trace_json;        /* JSON lines instead of text (section 8) */
} tw_sim_opts;

/* Fill *opts with every default spelled out. */
void tw_sim_opts_default(tw_sim_opts *opts);

/* ------------------------------------------------------------------ */
/* 4. the world */

/* A new world. opts NULL: defaults; it is copied. Returns NULL on bad
 * options or out of memory (errno EINVAL / ENOMEM). */
tw_sim *tw_sim_new(uint64_t seed, const tw_sim_opts *opts);

/* Free the world: every node's transports and servers are torn down as in
 * a crash (protocols get release only), stop hooks run, everything is
 * freed. When a trace file is set, a closing line with the seed and the
 * trace hash is printed to it. NULL is ignored. */
void tw_sim_free(tw_sim *sim);

/* Add a node with a numeric IPv4 or IPv6 address ("10.0.0.1",
 * "127.0.0.1"). name is copied (at most 31 bytes) and must be unique.
 * The loop is owned by the world (never tw_loop_free it). A connection from
 * a node to its own address or to 127.0.0.0/8 or ::1 stays inside it over
 * the loopback path. NULL if the name or address is taken, the address is
 * not numeric, or nodes_max is reached. */
tw_loop *tw_sim_add_node(tw_sim *sim, const char *name, const char *addr);

/* Give a host name addresses of its own, as /etc/hosts or DNS would
 * (a name with an IPv6 and an IPv4 address, a service behind several):
 * addrs is a comma separated list of numeric IPv4 or IPv6 addresses
 * ("10.0.9.9,::1"), at most TW_SIM_HOST_ADDRS_MAX, in the order the
 * resolver gives them. Every node resolves the name to them, before
 * "localhost" and node names; a connection tries them in turn
 * (tw_create_connection) or races them (tw_create_connection_ex with
 * Happy Eyeballs); a server listening on the name listens on the first.
 * An address that no node has is a black hole: a connect to it hears
 * nothing, and fails only at connect_timeout_ns or the caller's timeout.
 * A name given again is replaced; addrs NULL removes it. name: at most
 * TW_SIM_HOST_NAME_MAX bytes, not numeric; copied. 0, -EINVAL (a bad
 * name or address), -ENOSPC (TW_SIM_HOSTS_MAX names), -ENOMEM. */
#define TW_SIM_HOSTS_MAX 64
#define TW_SIM_HOST_NAME_MAX 63
#define TW_SIM_HOST_ADDRS_MAX 16
int tw_sim_set_host(tw_sim *sim, const char *name, const char *addrs);

/* Run the world for `duration` ns of virtual time: afterwards the clock is
 * exactly `duration` later, unless tw_sim_stop ended the run early (the
 * clock then stays where the stop came). Returns 0, -EBUSY if called from
 * inside the world (a callback), or the world's fatal error (-ENOBUFS
 * when a limit was hit, -ELOOP for a livelock: tw_sim_livelock). A fatal
 * error is for good: every later run returns it at once. */
int tw_sim_run_for(tw_sim *sim, tw_ns duration);

/* tw_sim_run_for in pieces, so that a caller can look up between them
 * (at a wall-clock limit, say): at most steps_max steps (see tw_sim_step)
 * towards now + duration. Returns 1 once the clock is there, the world
 * exactly as tw_sim_run_for would have left it; 0 when steps_max ran out
 * first, the clock at the last event run: a call for the rest of the
 * duration then goes on as if nothing had paused (the same events, the
 * same trace hash). Errors as tw_sim_run_for. */
int tw_sim_run_for_steps(tw_sim *sim, tw_ns duration, uint64_t steps_max);

/* From inside the world (a callback, an alarm of twin/simprobe.h): the
 * run in progress (run_for, run_until_idle, a node's tw_loop_run) returns
 * once the current step is done, its clock not moved further. Outside a
 * run it does nothing. */
void tw_sim_stop(tw_sim *sim);

/* Where a livelock (tw_sim_opts.livelock_callbacks) stopped the world. */
typedef struct tw_sim_livelock {
    uint32_t node;        /* the node's id */
    tw_ns time_ns;        /* world time, which did not advance */
    uint64_t callbacks;   /* run by the node at that time */
    /* What it was running: a protocol callback the network delivered
     * (event, its name as the trace has it: "data_received", and its
     * transport's id), or else the callback its loop runs next (fn,
     * NULL if none: name it with dladdr, as `twin sim` does). */
    const char *event;
    uint64_t transport;
    tw_callback fn;
} tw_sim_livelock;

/* 0 and *out filled if a livelock stopped sim, else -ENOENT. */
int tw_sim_livelock_get(const tw_sim *sim, tw_sim_livelock *out);
/* Why the world failed, in words ("event queue full (raise
 * tw_sim_opts.events_max)", "livelock: node ..."), once a run returned
 * the error that stopped it for good; NULL while it has not failed. The
 * text is the world's, valid until tw_sim_free. The simulator prints
 * nothing of it: with a trace going to a file (tw_sim_trace_to), the
 * trace ends with it. */
const char *tw_sim_failure(const tw_sim *sim);

/* Run until nothing is left to do: no ready callback, no timer and no
 * network event other than the swarm's clock (open servers and idle
 * connections do not count: nothing could ever happen to them).
 * Returns 0, -ETIME after idle_horizon_ns, or an error as above. */
int tw_sim_run_until_idle(tw_sim *sim);

/* One step (for unit tests): run one iteration of every node with ready
 * callbacks or due timers (in node-id order); or else advance the clock to
 * the earliest event and process it: a network event (with the deliveries
 * it makes due at once, when nothing else is due before them), or a
 * node's timer falling due (which the next step runs). Returns 1 if
 * something was done, 0 if the world is idle (as tw_sim_run_until_idle),
 * or a negative error. */
int tw_sim_step(tw_sim *sim);

/* Virtual world time in ns (a node's clocks run at its own rate, and its
 * time of day may be stepped: twin/simfault.h, TW_SIM_FAULT_CLOCK). */
tw_ns tw_sim_now(const tw_sim *sim);
uint64_t tw_sim_seed(const tw_sim *sim);
/* The world a loop belongs to; NULL for a loop of another backend. */
tw_sim *tw_sim_of(tw_loop *loop);
/* The node's name / id (0, 1, ... in creation order). NULL / -EINVAL for
 * a loop that is not a simulated node. */
const char *tw_sim_node_name(tw_loop *loop);
int tw_sim_node_id(tw_loop *loop);
tw_loop *tw_sim_node(tw_sim *sim, const char *name); /* NULL: none */
/* True unless the node is crashed. */
bool tw_sim_node_up(tw_loop *loop);
/* From now on the node's monotonic clock (tw_loop_now) reads now_ns,
 * going on from there; its time of day stays where it is. For a node
 * that stands for a host up for a while (a replay starts its node's
 * clock where the recorded loop's was). A monotonic clock never goes
 * back: -EINVAL for now_ns below what it reads, or a loop that is not a
 * simulated node. */
int tw_sim_set_uptime(tw_loop *node, tw_ns now_ns);
/* From the user stream (3): protocol code under test may use it for its
 * own randomness so that it replays with the seed too. */
uint64_t tw_sim_rand(tw_sim *sim);
/* Bytes of tw_sim_opts.prng_bytes the world's draws have taken so far. */
size_t tw_sim_prng_bytes_used(const tw_sim *sim);
/* Counters, for tests and benchmarks. */
typedef struct tw_sim_stats {
    uint64_t events;        /* network events processed */
    uint64_t iterations;    /* node loop iterations run */
    uint64_t records;       /* trace records */
    uint64_t bytes_sent;    /* stream bytes taken by send */
    uint64_t bytes_delivered;
    uint64_t connects, accepts, resets, timeouts, refused;
    uint64_t losses;        /* segment losses (retransmissions) */
    uint64_t faults;        /* faults applied (scripted and swarm) */
    /* datagrams: taken by sendto; handed to a protocol; and the fates */
    uint64_t dgrams_sent, dgrams_delivered;
    uint64_t dgrams_lost, dgrams_duplicated, dgrams_reordered;
    uint64_t dgrams_corrupted, dgrams_refused;
    uint64_t dgrams_dropped; /* cut path, node down, full rcvbuf, no route */
    uint32_t endpoints;     /* stream ends alive now */
    uint32_t events_queued; /* now */
} tw_sim_stats;
void tw_sim_get_stats(const tw_sim *sim, tw_sim_stats *out);

/* ------------------------------------------------------------------ */
/* 5. node apps
 *
 * A node's app is a start function: it runs from the node's loop (never
 * inside this call) once now, and again after every restart. A crash
 * kills the app's process: its transports and servers die and its timers
 * are gone without any callback except each protocol's release (so their
 * memory is freed); then stop(loop, arg) runs (may be NULL) to free the
 * app's own state. start's non-zero return is traced as a failed start.
 * arg is the caller's and must outlive the world (or the next set). */
int tw_sim_node_set_start(tw_loop *loop, int (*start)(tw_loop *, void *),
                          void *arg);
int tw_sim_node_set_stop(tw_loop *loop, void (*stop)(tw_loop *, void *));

/* ------------------------------------------------------------------ */
/* 6. per-path overrides: traffic from `from` to `to` (one direction) uses
 * *opts from now on (copied; zero fields take the world's defaults for
 * that kind of path). from == to sets a node's loopback. */
int tw_sim_path_set(tw_sim *sim, tw_loop *from, tw_loop *to,
                    const tw_sim_path_opts *opts);

/* ------------------------------------------------------------------ */
/* 7. faults: twin/simfault.h (included at the end of this header). */

/* ------------------------------------------------------------------ */
/* 8. the trace
 *
 * Every event the simulator delivers is a record: the virtual time, the
 * node, the transport (its loop-unique id, 0 if none), what happened and
 * up to two numbers (byte counts, errors). The hash folds every record's
 * fields in as 64-bit values (a multiply and a shift each; names 8 bytes
 * at a time, little-endian), never pointers or padding, so two runs agree
 * exactly when their traces do, whatever the build. Lines look like
 *     12.000250000 n1 t3 deliver 512 1024
 * (seconds.nanoseconds, node, transport, event, numbers). Datagrams:
 * dg_open, dg_send (len, port), dg_loss, dg_dup, dg_reorder (len, held
 * ns), dg_corrupt (len, bits), dg_enobufs, dg_emsgsize, dg_eacces,
 * dg_eagain, dg_arrive (len, source port), dg_drop (len, why: 1 cut,
 * 2 node down, 3 full rcvbuf, 4 no route, 5 no broadcast listener),
 * dg_refused, dg_icmp, dg_icmp_ignored, dg_closed. */

struct tw_sim_record {
    tw_ns time_ns;
    uint32_t node;         /* node id, UINT32_MAX: the world itself */
    const char *node_name; /* "-" for the world */
    uint64_t transport;
    const char *what;      /* static string */
    int64_t a, b;
};

uint64_t tw_sim_trace_hash(const tw_sim *sim);
/* What every record's fields are, one line each (`twin sim
 * --trace-fields`): the trace format's documentation, from the table the
 * printer uses. */
void tw_sim_trace_fields(FILE *f);
/* True if some record (or protocol callback) is named `prefix` or starts
 * with it: what a trace filter's event= may name. */
bool tw_sim_trace_event_known(const char *prefix);
/* Change the trace output (NULL: none) and node filter at run time. */
void tw_sim_trace_to(tw_sim *sim, FILE *f, const char *node);
/* Print "seed=S hash=H events=N time=T" and the options to f. */
void tw_sim_print_summary(const tw_sim *sim, FILE *f);

#ifdef __cplusplus
}
#endif
#include "twin/simfault.h"
#include "twin/simfs.h"

#endif
