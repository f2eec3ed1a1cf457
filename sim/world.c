/* sim/world.c - the world: options, nodes and their clocks, the loop ops
 * of a simulated node, and the stepping that drives everything.
 *
 * Map:
 *   options    defaults, validation
 *   clock      node-local time from world time (skew, drift), and back
 *   nodes      add, find, the loop ops table
 *   work       which nodes have something to run: a bit per node, set
 *              when its loop gets a ready callback (tw_loop.on_wake) or
 *              its earliest timer falls due (an EV_TIMER in the queue)
 *   stepping   one step: the nodes with work first (node-id order), else
 *              the clock jumps to the earliest event
 *   running    run (a node's loop), run_for, run_until_idle, step
 *   life       new, free, queries
 *
 * Determinism rests on three things here: nodes are visited in id order,
 * the clock only ever jumps to the (time, seq)-earliest thing, and nothing
 * else (no wall clock, no address) is consulted.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sim/proc.h"
#include "sim/dgram.h"
#include "sim/fault.h"
#include "sim/fs.h"
#include "sim/sim.h"
#include "twin/history.h"
#include "twin/mix.h"

/* ---- options ---- */

static void path_defaults(tw_sim_path_opts *p, bool loopback)
{
    if (p->latency.kind == TW_SIM_DIST_DEFAULT) {
        p->latency.kind = TW_SIM_DIST_UNIFORM;
        p->latency.min_ns = loopback ? 1 * TW_NS_PER_US : 100 * TW_NS_PER_US;
        p->latency.max_ns = loopback ? 20 * TW_NS_PER_US : TW_MS(1);
    }
    if (!p->rcvbuf_bytes)
        p->rcvbuf_bytes = 128 * 1024;
    if (!p->rto_ns)
        p->rto_ns = TW_MS(200);
    if (!p->rto_max_ns)
        p->rto_max_ns = TW_SEC(10);
    if (!p->loss_retries_max)
        p->loss_retries_max = 15;
    sim_dgram_defaults(&p->dgram);
}

static void fill_defaults(tw_sim_opts *o)
{
    path_defaults(&o->net, false);
    path_defaults(&o->loopback, true);
#define DEF(f, v) if (!o->f) o->f = (v)
    DEF(chunk_bytes_max, 256 * 1024);
    DEF(chunk_split_probability, 0.25);
    DEF(segment_bytes_max, 64 * 1024);
    DEF(connect_timeout_ns, TW_SEC(30));
    DEF(syn_rto_ns, TW_SEC(1));
    DEF(stall_timeout_ns, TW_SEC(60));
    DEF(accept_retry_delay_ns, TW_SEC(1));
    DEF(nodes_max, 1024);
    DEF(endpoints_max, 4u << 20);
    DEF(events_max, 16u << 20);
    DEF(idle_horizon_ns, TW_SEC(3600));
    DEF(livelock_callbacks, 1000000);
    DEF(buggify_site_probability, 0.25);
    DEF(buggify_fire_probability, 0.05);
#undef DEF
}

void tw_sim_opts_default(tw_sim_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    fill_defaults(opts);
}

static bool dist_ok(const tw_sim_dist *d)
{
    if (d->min_ns < 0 || d->max_ns < 0 || d->mean_ns < 0 || d->stddev_ns < 0)
        return false;
    if (d->kind == TW_SIM_DIST_PARETO && d->min_ns <= 0)
        return false;
    if (d->kind == TW_SIM_DIST_UNIFORM && d->max_ns < d->min_ns)
        return false;
    return (unsigned)d->kind <= TW_SIM_DIST_BIMODAL;
}

static bool path_ok(const tw_sim_path_opts *p)
{
    return dist_ok(&p->latency) && p->loss_probability >= 0 &&
           p->loss_probability < 1 && p->rto_ns >= 0 && p->rto_max_ns >= 0 &&
           sim_dgram_opts_ok(&p->dgram) && tw_sim_loss_model_ok(&p->loss_model);
}

/* ---- clock ---- */

tw_ns sim_node_local(sim_node *n, tw_ns world)
{
    if (n->drift_ppm == 0) { /* the common case, without 128-bit division */
        tw_ns local = n->base_local + (world - n->base_world);
        return local < n->floor ? n->floor : local;
    }
    __int128 d = (__int128)(world - n->base_world) * (1000000 + n->drift_ppm);
    __int128 l = n->base_local + d / 1000000;
    tw_ns local = l > INT64_MAX ? INT64_MAX : l < INT64_MIN ? INT64_MIN : (tw_ns)l;
    return local < n->floor ? n->floor : local;
}

/* The earliest world time at which the node's clock reads `local` or
 * more (never before now). */
tw_ns sim_node_world(sim_node *n, tw_ns local)
{
    tw_sim *sim = n->sim;
    if (local <= sim_node_local(n, sim->now))
        return sim->now;
    if (n->drift_ppm == 0) { /* local > floor here: no clamping applies */
        __int128 w = (__int128)n->base_world + local - n->base_local;
        return w > INT64_MAX ? INT64_MAX : (tw_ns)w;
    }
    __int128 num = (__int128)(local - n->base_local) * 1000000;
    __int128 den = 1000000 + n->drift_ppm;
    __int128 w = n->base_world + (num + den - 1) / den;
    if (w > INT64_MAX)
        return INT64_MAX;
    assert(w >= sim->now);
    return (tw_ns)w;
}

static tw_ns loop_now(tw_loop *loop)
{
    sim_node *n = (sim_node *)loop;
    tw_ns t = sim_node_local(n, n->sim->now);
    assert(t >= n->floor); /* a node's clock is monotonic */
    n->floor = t; /* what a clock has shown, it never takes back */
    return t;
}

/* ---- nodes ---- */

sim_node *sim_node_of(tw_loop *loop)
{
    return loop && loop->ops == &tw__sim_loop_ops ? (sim_node *)loop : NULL;
}

tw_sim *tw_sim_of(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n ? n->sim : NULL;
}

static bool ip_equal(const tw_addr *a, const tw_addr *b)
{
    if (tw_addr_family(a) != tw_addr_family(b))
        return false;
    if (tw_addr_family(a) == AF_INET)
        return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

static bool is_loopback(const tw_addr *a)
{
    if (tw_addr_family(a) == AF_INET)
        return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
    if (tw_addr_family(a) == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
    return false;
}

/* The node an IP address leads to from `from`: loopback stays home. */
sim_node *sim_node_by_addr(tw_sim *sim, const tw_addr *a, sim_node *from)
{
    if (tw_addr_family(a) == AF_UNIX)
        return from;
    for (uint32_t i = 0; i < sim->nnodes; i++)
        if (ip_equal(&sim->nodes[i]->addr, a))
            return sim->nodes[i];
    return is_loopback(a) ? from : NULL;
}

tw_loop *tw_sim_node(tw_sim *sim, const char *name)
{
    for (uint32_t i = 0; sim && name && i < sim->nnodes; i++)
        if (strcmp(sim->nodes[i]->name, name) == 0)
            return &sim->nodes[i]->loop;
    return NULL;
}

static int loop_run(tw_loop *loop, tw_ns deadline);
static void loop_destroy(tw_loop *loop) { (void)loop; /* tw_sim_free's job */ }

/* ---- work: which nodes have something to run ---- */

static void set_due(tw_sim *sim, uint32_t id)
{
    uint64_t bit = UINT64_C(1) << (id & 63);
    assert(id < sim->nnodes);
    if (!(sim->due[id >> 6] & bit)) {
        sim->due[id >> 6] |= bit;
        sim->ndue++;
    }
    assert(sim->ndue <= sim->nnodes);
}

static void clear_due(tw_sim *sim, uint32_t id)
{
    uint64_t bit = UINT64_C(1) << (id & 63);
    if (sim->due[id >> 6] & bit) {
        assert(sim->ndue > 0);
        sim->due[id >> 6] &= ~bit;
        sim->ndue--;
    }
}

/* The lowest node id >= from with work, or UINT32_MAX. */
static uint32_t next_due(const tw_sim *sim, uint32_t from)
{
    assert(sim->ndue <= sim->nnodes);
    uint32_t words = (sim->nnodes + 63) / 64;
    for (uint32_t w = from >> 6; w < words; w++) {
        uint64_t bits = sim->due[w];
        if (w == from >> 6)
            bits &= ~UINT64_C(0) << (from & 63);
        if (bits)
            return w * 64 + (uint32_t)__builtin_ctzll(bits);
    }
    return UINT32_MAX;
}

/* Queue an EV_TIMER for the node's earliest timer, unless one as early is
 * queued already. */
static void arm_timer(sim_node *n)
{
    tw_ns next = n->up ? tw__loop_next_timer(&n->loop) : -1;
    if (next < 0)
        return;
    tw_ns w = sim_node_world(n, next);
    assert(w >= n->sim->now); /* a timer event never lands in the past */
    if (n->timer_armed >= 0 && n->timer_armed <= w)
        return;
    n->timer_armed = w;
    sim_push(n->sim, w, EV_TIMER, n->id, ++n->timer_gen, 0);
}

void sim_node_rearm(sim_node *n)
{
    n->timer_armed = -1;
    n->timer_gen++;
    arm_timer(n);
}

static void on_wake(tw_loop *loop, bool timer)
{
    sim_node *n = (sim_node *)loop;
    if (timer)
        arm_timer(n);
    else
        set_due(n->sim, n->id);
}

/* call_soon_threadsafe on a simulated node: a world runs on one thread,
 * so the caller is that thread and the inbox is ready now. */
static void loop_wakeup(tw_loop *loop)
{
    sim_node *n = (sim_node *)loop;
    set_due(n->sim, n->id);
}

void sim_node_hooks(sim_node *n)
{
    n->loop.on_callback = sim_trace_callback;
    n->loop.on_wake = on_wake;
    n->timer_armed = -1;
    n->timer_gen++;
    sim_limits_hook(n);
}

/* Is this queued EV_TIMER the live one, with its node's timer due? */
static bool timer_live(tw_sim *sim, const sim_event *ev)
{
    sim_node *n = sim->nodes[ev->obj];
    if (ev->gen != n->timer_gen || !n->up)
        return false;
    tw_ns next = tw__loop_next_timer(&n->loop);
    return next >= 0 && sim_node_world(n, next) <= ev->time;
}

/* ---- randomness for layers over the streams (TLS) ---- */

/* A layer's generators are their own stream ("TLS"), apart from the
 * world's four: drawing from one moves nothing else in the run. */
#define LAYER_STREAM 0x544c53

_Static_assert(sizeof ((tw_sim_prng *)0)->s <= sizeof ((tw__rand *)0)->state,
               "a tw__rand holds a generator's state");

static uint64_t layer_next(tw__rand *r)
{
    tw_sim_prng p = {.feed = NULL};
    memcpy(p.s, r->state, sizeof p.s);
    uint64_t x = sim_next(&p);
    memcpy(r->state, p.s, sizeof p.s);
    return x;
}

/* Each user's generator is seeded by the world's seed, the node, the key
 * and the moment (a restarted node numbers its transports anew), so a
 * seed replays every draw. */
static bool loop_rand_stream(tw_loop *loop, uint64_t key, tw__rand *r)
{
    sim_node *n = (sim_node *)loop;
    uint64_t seed = tw_mix64(n->sim->seed) ^ tw_mix64(~(uint64_t)n->id) ^
                    tw_mix64(key * 2 + 1) ^ tw_mix64((uint64_t)tw_loop_now(loop));
    tw_sim_prng p;
    tw_sim_prng_seed(&p, seed, LAYER_STREAM);
    memset(r, 0, sizeof *r);
    memcpy(r->state, p.s, sizeof p.s);
    r->next = layer_next;
    return true;
}

static const char *loop_label(tw_loop *loop) { return ((sim_node *)loop)->name; }

int tw_sim_set_uptime(tw_loop *node, tw_ns now_ns)
{
    sim_node *n = sim_node_of(node);
    if (!n)
        return -EINVAL;
    tw_sim *sim = n->sim;
    tw_ns local = sim_node_local(n, sim->now);
    if (now_ns < local)
        return -EINVAL;
    n->tod_offset -= now_ns - local; /* the time of day does not move */
    n->base_world = sim->now;
    n->base_local = n->floor = now_ns;
    sim_trace(sim, n->id, 0, "uptime", now_ns, 0);
    sim_node_rearm(n);
    return 0;
}

/* A TLS secret of the node's: to the tap, which may keep it with the
 * node's capture. */
static void loop_tls_secret(tw_loop *loop, const char *line)
{
    sim_node *n = (sim_node *)loop;
    tw_sim *sim = n->sim;
    if (sim_tapping(sim))
        sim_tap_ip(sim, TW_SIM_PACKET_SECRET, TW_SIM_PACKET_NONE, 0, sim->now, n->id,
                   n->id, NULL, NULL, (const uint8_t *)line, strlen(line), 0);
}

static tw_ns loop_epoch(tw_loop *loop)
{
    sim_node *n = (sim_node *)loop;
    n->tod_reads++;
    return TW_EPOCH_VIRTUAL + n->tod_offset;
}

const tw__loop_ops tw__sim_loop_ops = {
    .name = "sim",
    .now = loop_now,
    .epoch = loop_epoch,
    .tls_secret = loop_tls_secret,
    .poll = NULL,
    .run = loop_run,
    .wakeup = loop_wakeup,
    .destroy = loop_destroy,
    .connect_host = sim_connect_host,
    .connect_addr = sim_connect_addr,
    .connect_fd = NULL,
    .create_server = sim_create_server,
    .create_unix_server = sim_create_unix_server,
    .create_datagram_endpoint = sim_dgram_create,
    .resolve = sim_resolve_op,
    .resolve_cancel = sim_resolve_cancel_op,
    .dial = sim_dial_op,
    .dial_cancel = sim_dial_cancel_op,
    .connect_pipe = sim_connect_pipe,
    .subprocess = sim_subprocess,
    .rand_stream = loop_rand_stream,
    .label = loop_label,
    .file = &sim_file_ops,
};

tw_loop *tw_sim_add_node(tw_sim *sim, const char *name, const char *addr)
{
    tw_addr a;
    if (!sim || !name || !*name || strlen(name) >= sizeof sim->nodes[0]->name ||
        tw_addr_ip(&a, addr, 0) < 0 || tw_sim_node(sim, name) ||
        sim->nnodes >= sim->opts.nodes_max)
        return NULL;
    for (uint32_t i = 0; i < sim->nnodes; i++)
        if (ip_equal(&sim->nodes[i]->addr, &a))
            return NULL;
    if (sim_paths_grow(sim, sim->nnodes + 1) < 0)
        return NULL;
    sim_node **nodes = realloc(sim->nodes, (sim->nnodes + 1) * sizeof *nodes);
    if (!nodes)
        return NULL;
    sim->nodes = nodes;
    if (sim->nnodes % 64 == 0) {
        uint64_t *due = realloc(sim->due, (sim->nnodes / 64 + 1) * sizeof *due);
        if (!due)
            return NULL;
        due[sim->nnodes / 64] = 0;
        sim->due = due;
    }
    sim_node *n = calloc(1, sizeof *n);
    if (!n || tw__loop_init(&n->loop, &tw__sim_loop_ops,
                            sim->opts.chunk_bytes_max) < 0) {
        free(n);
        return NULL;
    }
    n->sim = sim;
    sim_node_hooks(n);
    n->id = sim->nnodes;
    strcpy(n->name, name);
    n->addr = a;
    n->up = true;
    n->contract_on = n->loop.contract_on;
    n->base_world = n->base_local = n->floor = sim->now;
    n->next_ephemeral = 32768;
    n->next_listen_port = 10000;
    sim->nodes[sim->nnodes++] = n;
    sim_trace(sim, n->id, 0, "node", 0, 0);
    return &n->loop;
}

const char *tw_sim_node_name(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n ? n->name : NULL;
}

int tw_sim_node_id(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n ? (int)n->id : -EINVAL;
}

bool tw_sim_node_up(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n && n->up;
}

/* ---- stepping ---- */

void sim_fail(tw_sim *sim, int err, const char *why)
{
    assert(err < 0);
    if (!sim->err) {
        sim->err = err;
        snprintf(sim->fail_why, sizeof sim->fail_why, "%s", why);
        if (sim->trace_file) /* the trace says where it ended, and why */
            fprintf(sim->trace_file, "world failed: seed=%llu: %s\n",
                    (unsigned long long)sim->seed, why);
    }
}

const char *tw_sim_failure(const tw_sim *sim)
{
    return sim->err ? sim->fail_why : NULL;
}

/* ---- held nodes (a freeze, a slow turn) ---- */

/* Wake n when its hold ends. */
static void thaw_later(tw_sim *sim, sim_node *n)
{
    if (n->thaw_pending)
        return;
    n->thaw_pending = true;
    sim_push(sim, n->held_until, EV_THAW, n->id, 0, 0);
}

/* The end of a hold (a freeze, a file call's latency), in two stages
 * (arg). A process woken from a stop, or back from a blocking call,
 * finds its sockets readable and its timers due at once, and the epoll
 * backend runs what poll found before the timers due (core/loop.c,
 * run_generic): so stage 0 lets the events held for the node, queued
 * for this instant already, run first, and stage 1, queued behind them,
 * gives the node its turn. A slow node's turn comes at once: each of its
 * turns is one event, so its timers would wait as long as events came. */
static void on_thaw(tw_sim *sim, sim_node *n, uint64_t stage)
{
    if (stage == 0)
        n->thaw_pending = false;
    if (sim_node_held(sim, n)) { /* held again meanwhile */
        thaw_later(sim, n);
        return;
    }
    if (stage == 0) {
        sim_trace(sim, n->id, 0, "thaw", (int64_t)n->held_events, 0);
        if (n->slow_until <= sim->now) {
            sim_push(sim, sim->now, EV_THAW, n->id, 0, 1);
            return;
        }
    }
    set_due(sim, n->id);
    sim_node_rearm(n);
}

/* The node whose program an event calls into (SIM_NONE: the event is
 * the network's or a kernel's, which a held node does not stop). */
static uint32_t event_node(tw_sim *sim, const sim_event *ev)
{
    switch (ev->type) {
    case EV_DELIVER:
    case EV_ACK:
    case EV_WRITABLE:
    case EV_RST:
    case EV_STALL:
    case EV_PEER_DEAD:
    case EV_KEEPALIVE:
    case EV_SYNACK:
    case EV_REFUSED:
    case EV_CONN_TIMEOUT: {
        sim_ep *ep = sim_ep_get(sim, ev->obj, ev->gen);
        return ep ? ep->node : SIM_NONE;
    }
    case EV_ACCEPT: {
        sim_listener *l = sim_table_get(&sim->lsns, ev->obj, ev->gen);
        return l ? l->node : SIM_NONE;
    }
    case EV_DGRAM_DELIVER:
    case EV_DGRAM_WRITABLE: {
        sim_dg *d = sim_dg_get(sim, ev->obj, ev->gen);
        return d ? d->node : SIM_NONE;
    }
    default:
        return SIM_NONE;
    }
}

static void dispatch_event(tw_sim *sim, const sim_event *ev);

/* While a node is held or slow: an event for a held node waits for the
 * hold's end, in order; one for a slow node costs it a slow turn. */
static __attribute__((noinline)) void dispatch_held(tw_sim *sim, const sim_event *ev)
{
    uint32_t id = event_node(sim, ev);
    sim_node *n = id == SIM_NONE ? NULL : sim->nodes[id];
    if (n && sim_node_held(sim, n)) {
        sim->stats.events++;
        n->held_events++;
        uint64_t arg = ev->type == EV_RST ? sim_stream_rst_held(sim, ev) : ev->arg;
        sim_push(sim, n->held_until, ev->type, ev->obj, ev->gen, arg);
        return;
    }
    dispatch_event(sim, ev);
    if (n && n->slow_until > sim->now)
        sim_node_hold(sim, n, sim->now + n->slow_cost);
}

/* Inline in step (see there): the common case, no node held or slow. */
static inline __attribute__((always_inline)) void dispatch(tw_sim *sim, const sim_event *ev)
{
    if (sim->now >= sim->held_max && sim->now >= sim->slow_max)
        dispatch_event(sim, ev);
    else
        dispatch_held(sim, ev);
}

static inline __attribute__((always_inline)) void dispatch_event(tw_sim *sim, const sim_event *ev)
{
    sim->stats.events++;
    if (ev->type == EV_ARRIVE) { /* the commonest, ahead of the switch */
        sim_ep *ep = sim_ep_get(sim, ev->obj, ev->gen);
        if (ep)
            sim_stream_arrive(sim, ep);
        return;
    }
    switch (ev->type) {
    case EV_DELIVER:
    case EV_ACK:
    case EV_WRITABLE:
    case EV_RST:
    case EV_STALL:
    case EV_PEER_DEAD:
    case EV_KEEPALIVE: {
        sim_ep *ep = sim_ep_get(sim, ev->obj, ev->gen);
        if (ep)
            sim_stream_event(sim, ev, ep);
        break;
    }
    case EV_SYN:
    case EV_SYNACK:
    case EV_REFUSED:
    case EV_CONN_TIMEOUT:
    case EV_ACCEPT:
        sim_server_event(sim, ev);
        break;
    case EV_PIPE:
    case EV_PROC:
        sim_proc_event(sim, ev);
        break;
    case EV_FAULT:
        sim_fault_event(sim, ev);
        break;
    case EV_DGRAM_ARRIVE:
    case EV_DGRAM_DELIVER:
    case EV_DGRAM_SENT:
    case EV_DGRAM_WRITABLE:
        sim_dgram_event(sim, ev);
        break;
    case EV_THAW:
        on_thaw(sim, sim->nodes[ev->obj], ev->arg);
        break;
    case EV_TIMER: /* a live one: step() drops the stale */
        sim->nodes[ev->obj]->timer_armed = -1;
        set_due(sim, ev->obj);
        break;
    default:
        assert(!"unknown event type");
    }
}

/* A livelock: where, then the world stops for good. */
void sim_livelock(tw_sim *sim, sim_node *nd, const char *event,
                  uint64_t transport)
{
    if (sim->err)
        return;
    sim->livelocked = true;
    sim->livelock = (tw_sim_livelock){
        .node = nd->id,
        .time_ns = sim->now,
        .callbacks = nd->spin,
        .event = event,
        .transport = transport,
        .fn = event || !nd->up ? NULL : tw__loop_next_callback(&nd->loop),
    };
    char why[200];
    snprintf(why, sizeof why,
             "livelock: node %s ran %llu callbacks while world time stayed at "
             "%lld ns (livelock_callbacks %llu)",
             nd->name, (unsigned long long)nd->spin, (long long)sim->now,
             (unsigned long long)sim->opts.livelock_callbacks);
    sim_fail(sim, -ELOOP, why);
}

int tw_sim_livelock_get(const tw_sim *sim, tw_sim_livelock *out)
{
    if (!sim->livelocked)
        return -ENOENT;
    *out = sim->livelock;
    return 0;
}

void tw_sim_stop(tw_sim *sim)
{
    if (sim->driving)
        sim->halt = true;
}

enum { STEP_IDLE = 0, STEP_DID = 1, STEP_LIMIT = 2 };

/* One pass over the nodes with work, in id order. A node that gets work
 * during the pass runs in it if its id is higher than the one running,
 * else in the next pass; a node runs at most once per pass. */
static void run_due(tw_sim *sim)
{
    for (uint32_t id = next_due(sim, 0); id != UINT32_MAX; id = next_due(sim, id + 1)) {
        assert(id < sim->nnodes);
        clear_due(sim, id);
        sim_node *n = sim->nodes[id];
        if (!n->up)
            continue;
        if (sim_node_held(sim, n)) { /* frozen, or between slow turns */
            n->held_events++;
            thaw_later(sim, n);
            continue;
        }
        if (sim->opts.trace_verbose || sim->opts.trace_fn)
            sim_trace(sim, n->id, 0, "run", n->loop.ready_len, 0);
        sim->stats.iterations++;
        sim_spin(sim, n, tw__loop_run_ready(&n->loop), NULL, 0);
        if (n->slow_until > sim->now) /* a gray failure: the turn took time */
            sim_node_hold(sim, n, sim->now + n->slow_cost);
        /* what the run made ready waits for the next pass */
        if (n->up && tw__loop_has_ready(&n->loop))
            set_due(sim, id);
        else
            clear_due(sim, id);
        arm_timer(n);
    }
}

/* One step. limit: world time not to pass (-1: none). bg_only_idle: the
 * world counts as idle when only background events remain. Inline in
 * each of the few loops that take steps, with the dispatch: it runs once
 * per event, and a call per step was a tenth of a simulated message. */
static inline __attribute__((always_inline)) int step(tw_sim *sim, tw_ns limit, bool bg_only_idle)
{
    if (sim->ndue) {
        run_due(sim);
        return STEP_DID;
    }
    const sim_event *head;
    while ((head = sim_peek(&sim->q, sim->now)) && head->type == EV_TIMER &&
           !timer_live(sim, head)) {
        /* A timer cancelled or moved, or its node down: drop the event
         * without moving the clock, and queue the right one. */
        sim_event ev;
        sim_pop(&sim->q, sim->now, &ev);
        sim_node *n = sim->nodes[ev.obj];
        if (ev.gen == n->timer_gen)
            sim_node_rearm(n);
    }
    /* The timeline's faults of time t run once nothing else is due at or
     * before t (sim/fault.h). */
    tw_ns tl = sim_timeline_next(sim);
    if (tl >= 0 && (!head || head->time > tl)) {
        if (limit >= 0 && tl > limit)
            return STEP_LIMIT;
        if (tl > sim->now)
            sim->now = tl;
        sim_timeline_run(sim);
        return STEP_DID;
    }
    if (!head || (bg_only_idle && sim->q.fg == 0))
        return STEP_IDLE;
    tw_ns t = head->time;
    if (limit >= 0 && t > limit)
        return STEP_LIMIT;
    assert(t >= sim->now);
    sim->now = t;
    sim_event ev;
    /* The one peeked at is the one taken: the clock moved to its time. */
    sim_take(&sim->q, head, &ev);
    assert(ev.time == t);
    dispatch(sim, &ev);
    return STEP_DID;
}

/* ---- running ---- */

static int loop_run(tw_loop *loop, tw_ns deadline)
{
    sim_node *n = (sim_node *)loop;
    tw_sim *sim = n->sim;
    if (sim->driving)
        return -EBUSY;
    sim->driving = true;
    sim->driven = loop;
    sim->halt = false;
    tw_ns limit = deadline >= 0 ? sim_node_world(n, deadline) : -1;
    for (;;) {
        if (sim->err)
            break;
        int s = step(sim, limit, true);
        if (loop->stopping) {
            loop->stopping = false;
            break;
        }
        if (sim->halt)
            break;
        if (s == STEP_LIMIT) {
            sim->now = limit; /* run_for: the loop's time has passed */
            break;
        }
        if (s == STEP_IDLE)
            break;
    }
    sim->driving = false;
    sim->driven = NULL;
    return sim->err;
}

int tw_sim_run_for(tw_sim *sim, tw_ns duration)
{
    if (sim->driving)
        return -EBUSY;
    if (duration < 0)
        duration = 0;
    tw_ns limit = duration > INT64_MAX - sim->now ? INT64_MAX : sim->now + duration;
    sim->driving = true;
    sim->halt = false;
    while (!sim->err && !sim->halt && step(sim, limit, false) == STEP_DID)
        ;
    /* Everything up to the limit ran: nothing due now is left behind. */
    assert(sim->err || sim->halt || (!sim->ndue && !sim->q.r_len));
    if (!sim->err && !sim->halt)
        sim->now = limit;
    sim->driving = sim->halt = false;
    return sim->err;
}

int tw_sim_run_for_steps(tw_sim *sim, tw_ns duration, uint64_t steps_max)
{
    if (sim->driving)
        return -EBUSY;
    if (duration < 0)
        duration = 0;
    tw_ns limit = duration > INT64_MAX - sim->now ? INT64_MAX : sim->now + duration;
    sim->driving = true;
    /* The loop of tw_sim_run_for, left early: nothing but the count
     * differs, so a later call for the rest resumes the same sequence. */
    bool reached = false;
    sim->halt = false;
    for (uint64_t n = 0; !sim->err && !sim->halt; n++) {
        if (n == steps_max)
            break;
        if (step(sim, limit, false) != STEP_DID) {
            reached = true;
            break;
        }
    }
    if (!sim->err && reached)
        sim->now = limit;
    sim->driving = sim->halt = false;
    return sim->err ? sim->err : reached;
}

int tw_sim_run_until_idle(tw_sim *sim)
{
    if (sim->driving)
        return -EBUSY;
    tw_ns limit = sim->now + sim->opts.idle_horizon_ns;
    sim->driving = true;
    sim->halt = false;
    int s;
    while (!sim->err && !sim->halt && (s = step(sim, limit, true)) == STEP_DID)
        ;
    bool halted = sim->halt;
    sim->driving = sim->halt = false;
    if (sim->err)
        return sim->err;
    return s == STEP_LIMIT && !halted ? -ETIME : 0;
}

int sim_step_bounded(tw_sim *sim, tw_ns limit)
{
    if (sim->driving || sim->err)
        return 0;
    sim->driving = true;
    int s = step(sim, limit, true);
    if (s != STEP_DID && limit > sim->now)
        sim->now = limit;
    sim->driving = sim->halt = false;
    return s == STEP_DID && !sim->err;
}

int tw_sim_step(tw_sim *sim)
{
    if (sim->driving)
        return -EBUSY;
    sim->driving = true;
    int s = step(sim, -1, true);
    sim->driving = sim->halt = false;
    return sim->err ? sim->err : s == STEP_DID;
}

/* ---- life ---- */

tw_sim *tw_sim_new(uint64_t seed, const tw_sim_opts *opts)
{
    tw_sim *sim = calloc(1, sizeof *sim);
    if (!sim) {
        errno = ENOMEM;
        return NULL;
    }
    if (opts)
        sim->opts = *opts;
    fill_defaults(&sim->opts);
    const tw_sim_opts *o = &sim->opts;
    if (!path_ok(&o->net) || !path_ok(&o->loopback) ||
        o->connect_timeout_probability < 0 || o->nodes_max > SIM_NODES_LIMIT) {
        free(sim);
        errno = EINVAL;
        return NULL;
    }
    sim->seed = seed;
    tw_sim_prng_seed(&sim->rng_net, seed, TW_SIM_STREAM_NET);
    tw_sim_prng_seed(&sim->rng_fault, seed, TW_SIM_STREAM_FAULT);
    tw_sim_prng_seed(&sim->rng_bug, seed, TW_SIM_STREAM_BUGGIFY);
    tw_sim_prng_seed(&sim->rng_user, seed, TW_SIM_STREAM_USER);
    tw_sim_prng_seed(&sim->rng_disk, seed, TW_SIM_STREAM_DISK);
    if (o->prng_bytes) { /* schedule fuzzing: one feed steers all four */
        sim->feed.data = o->prng_bytes;
        sim->feed.len = o->prng_bytes_len;
        sim->rng_net.feed = sim->rng_fault.feed = &sim->feed;
        sim->rng_bug.feed = sim->rng_user.feed = &sim->feed;
    }
    sim_queue_init(&sim->q, o->events_max);
    sim_table_init(&sim->eps, o->endpoints_max);
    sim_pool_init(&sim->ep_pool, sizeof(sim_ep), SIM_EP_BLOCK);
    sim_segs_init(sim);
    sim_table_init(&sim->lsns, 1u << 20);
    sim->hash = UINT64_C(0xcbf29ce484222325);
    sim->trace_file = o->trace_file;
    sim->tracing = o->trace_file || o->trace_fn;
    for (unsigned ev = 0; ev < TW__EV_COUNT; ev++)
        sim->callback_hash[ev] = sim_hash_name(tw__event_name((tw__event)ev));
    if (o->trace_node)
        snprintf(sim->trace_node, sizeof sim->trace_node, "%s", o->trace_node);
    sim->scratch = malloc(o->chunk_bytes_max);
    if (!sim->scratch || sim_dgram_init(sim) < 0) {
        tw_sim_free(sim);
        errno = ENOMEM;
        return NULL;
    }
    if (o->buggify) {
        extern int tw__buggify_worlds;
        tw__buggify_worlds++;
    }
    if (sim->trace_file) { /* the settings; the hash comes at the end */
        fprintf(sim->trace_file, "twin sim: SEED=%llu\n", (unsigned long long)sim->seed);
        sim_print_settings(sim, sim->trace_file);
    }
    return sim;
}

void tw_sim_free(tw_sim *sim)
{
    if (!sim)
        return;
    if (sim->trace_file)
        fprintf(sim->trace_file, "twin sim: seed=%llu hash=%016llx\n",
                (unsigned long long)sim->seed,
                (unsigned long long)sim->hash);
    /* The trace ends there: the teardown below is no part of the run. */
    sim->tracing = false;
    sim->driving = true; /* no run from a release or stop hook */
    sim->tap = NULL;     /* the teardown is no traffic */
    for (uint32_t i = 0; i < sim->nnodes; i++)
        sim_node_crash(sim, sim->nodes[i], true);
    /* Ends not on any loop (half-made connections) go last. */
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));)
        sim_ep_free(sim, ep);
    /* every one given back, the quarantined too (with their loops) */
    assert(sim->ep_pool.live == 0);
    sim_pool_fini(&sim->ep_pool);
    sim_segs_fini(sim);
    sim_dgram_fini(sim); /* after the crashes: datagrams still in flight */
    sim_procs_free(sim); /* after the crashes too: pipes never wrapped */
    for (uint32_t i = 0; i < sim->nnodes; i++) {
        sim_fs_free(sim->nodes[i]->fs);
        free(sim->nodes[i]);
    }
    if (sim->opts.buggify) {
        extern int tw__buggify_worlds;
        tw__buggify_worlds--;
    }
    free(sim->nodes);
    free(sim->due);
    free(sim->paths);
    free(sim->overrides);
    free(sim->bursts);
    tw_history_free(sim->history);
    sim_timeline_free(sim);
    free(sim->hosts);
    free(sim->scratch);
    sim_queue_fini(&sim->q);
    sim_table_fini(&sim->eps);
    sim_table_fini(&sim->lsns);
    free(sim);
}

tw_ns tw_sim_now(const tw_sim *sim) { return sim->now; }
uint64_t tw_sim_seed(const tw_sim *sim) { return sim->seed; }
uint64_t tw_sim_rand(tw_sim *sim) { return tw_sim_prng_next(&sim->rng_user); }
size_t tw_sim_prng_bytes_used(const tw_sim *sim) { return sim->feed.pos; }

void tw_sim_get_stats(const tw_sim *sim, tw_sim_stats *out)
{
    *out = sim->stats;
    out->endpoints = sim->eps.live;
    /* with the datagram arrivals waiting in their paths' lanes */
    out->events_queued = sim_queued(&sim->q) + (sim->dg ? sim->dg->nparked : 0);
}
