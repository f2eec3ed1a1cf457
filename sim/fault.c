/* sim/fault.c - faults: scripted at a virtual time or drawn by the swarm.
 *
 * Map:
 *   scripting  tw_sim_at and its shorthands: every fault becomes an event,
 *              so none ever runs inside a protocol callback
 *   apply      partition / heal / clog / reset / crash / restart / clock /
 *              emfile
 *   crash      the node's loop is torn down as the core tears down a loop
 *              (protocols get release only), then made anew; peers find out
 *              the way TCP peers do: a timeout, or a reset once it is back
 *   swarm      one fault every Exp(swarm_interval_ns), kinds and victims
 *              drawn from the fault stream of the seed
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "twin/app.h"

#define FAULTS_MAX (1u << 20)

/* ---- scripting ---- */

static bool fault_ok(tw_sim *sim, const tw_sim_fault *f)
{
    sim_node *a = sim_node_of(f->a), *b = sim_node_of(f->b);
    if (!a || a->sim != sim || (f->b && (!b || b->sim != sim)))
        return false;
    if (f->kind < TW_SIM_FAULT_PARTITION || f->kind > TW_SIM_FAULT_ENOBUFS)
        return false;
    if (!sim_dgram_fault_ok(f)) /* DGRAM's options (sim/dgram_fault.c) */
        return false;
    if (f->kind == TW_SIM_FAULT_CLOCK &&
        (f->drift_ppm <= -1000000 || f->drift_ppm >= 1000000))
        return false;
    return f->duration_ns >= 0;
}

int tw_sim_at(tw_sim *sim, tw_ns when, const tw_sim_fault *f)
{
    if (!sim || !f || !fault_ok(sim, f))
        return -EINVAL;
    if (sim->nfaults == sim->capfaults) {
        if (sim->capfaults >= FAULTS_MAX)
            return -ENOBUFS;
        uint32_t cap = sim->capfaults ? sim->capfaults * 2 : 16;
        tw_sim_fault *nf = realloc(sim->faults, cap * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        sim->faults = nf;
        sim->capfaults = cap;
    }
    sim->faults[sim->nfaults] = *f;
    return sim_push(sim, when, EV_FAULT, sim->nfaults++, 0, 0);
}

static int now_fault(tw_loop *a, tw_loop *b, tw_sim_fault f)
{
    tw_sim *sim = tw_sim_of(a);
    if (!sim)
        return -EINVAL;
    f.a = a;
    f.b = b;
    return tw_sim_at(sim, sim->now, &f);
}

int tw_sim_partition(tw_sim *sim, tw_loop *a, tw_loop *b, bool oneway)
{
    if (tw_sim_of(a) != sim)
        return -EINVAL;
    return now_fault(a, b, (tw_sim_fault){.kind = TW_SIM_FAULT_PARTITION, .oneway = oneway});
}

int tw_sim_heal(tw_sim *sim, tw_loop *a, tw_loop *b)
{
    if (tw_sim_of(a) != sim)
        return -EINVAL;
    return now_fault(a, b, (tw_sim_fault){.kind = TW_SIM_FAULT_HEAL});
}

int tw_sim_clog(tw_sim *sim, tw_loop *a, tw_loop *b, tw_ns duration_ns,
                bool oneway)
{
    if (tw_sim_of(a) != sim)
        return -EINVAL;
    return now_fault(a, b, (tw_sim_fault){.kind = TW_SIM_FAULT_CLOG,
                                          .duration_ns = duration_ns,
                                          .oneway = oneway});
}

int tw_sim_reset_connections(tw_sim *sim, tw_loop *a, tw_loop *b)
{
    if (tw_sim_of(a) != sim)
        return -EINVAL;
    return now_fault(a, b, (tw_sim_fault){.kind = TW_SIM_FAULT_RESET});
}

int tw_sim_crash(tw_loop *node)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_CRASH});
}

int tw_sim_restart(tw_loop *node)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_RESTART});
}

int tw_sim_set_clock(tw_loop *node, tw_ns skew_ns, int32_t drift_ppm)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_CLOCK,
                                                .skew_ns = skew_ns,
                                                .drift_ppm = drift_ppm});
}

int tw_sim_emfile(tw_loop *node, uint32_t count)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_EMFILE,
                                                .count = count});
}

/* ---- apply ---- */

static bool pair_match(uint32_t x, uint32_t y, uint32_t a, uint32_t b)
{
    return (x == a && (b == SIM_NONE || y == b)) ||
           (y == a && (b == SIM_NONE || x == b));
}

static void cut(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, bool on)
{
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (j == a || (b != SIM_NONE && j != b))
            continue;
        sim_path_cut_set(sim, a, j, on);
        if (!oneway)
            sim_path_cut_set(sim, j, a, on);
    }
}

static void partition(tw_sim *sim, uint32_t a, uint32_t b, bool oneway)
{
    cut(sim, a, b, oneway, true);
    /* Every connection across the cut starts its stall clock. */
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (ep->node != ep->peer_node && pair_match(ep->node, ep->peer_node, a, b))
            sim_ep_watch_cut(sim, ep);
    }
}

static void clog_paths(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, tw_ns until)
{
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (b != SIM_NONE && j != b)
            continue;
        if (b == SIM_NONE && j == a)
            continue;
        sim_path *p = sim_path_of(sim, a, j);
        if (p->clog_until < until)
            p->clog_until = until;
        p = sim_path_of(sim, j, a);
        if (!oneway && p->clog_until < until)
            p->clog_until = until;
    }
}

static void reset(tw_sim *sim, uint32_t a, uint32_t b)
{
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (!ep->connecting && pair_match(ep->node, ep->peer_node, a, b))
            sim_push(sim, sim->now, EV_RST, ep->id,
                     sim_table_gen(&sim->eps, ep->id), ECONNRESET);
    }
}

static void set_clock(tw_sim *sim, sim_node *n, tw_ns skew, int32_t drift)
{
    n->floor = sim_node_local(n, sim->now);
    n->base_world = sim->now;
    n->base_local = sim->now + skew;
    n->drift_ppm = drift;
    sim_node_rearm(n); /* its timers fall due at other world times now */
}

static void start_cb(void *arg)
{
    sim_node *n = arg;
    int rc = n->start ? n->start(&n->loop, n->app_arg) : 0;
    sim_trace(n->sim, n->id, 0, rc ? "start_failed" : "started", rc, 0);
}

void sim_node_start_app(sim_node *n)
{
    if (n->start && !tw_call_soon(&n->loop, start_cb, n))
        sim_fail(n->sim, -ENOMEM, "out of memory starting an app");
}

int tw_sim_node_set_start(tw_loop *loop, int (*start)(tw_loop *, void *),
                          void *arg)
{
    sim_node *n = sim_node_of(loop);
    if (!n)
        return -EINVAL;
    n->start = start;
    n->app_arg = arg;
    if (n->up)
        sim_node_start_app(n);
    return 0;
}

int tw_sim_node_set_stop(tw_loop *loop, void (*stop)(tw_loop *, void *))
{
    sim_node *n = sim_node_of(loop);
    if (!n)
        return -EINVAL;
    n->stop = stop;
    return 0;
}

void sim_node_crash(tw_sim *sim, sim_node *n, bool for_good)
{
    if (!n->up && !for_good)
        return;
    n->up = false;
    n->crashing = true;
    n->crash_epoch++;
    if (!for_good)
        sim_trace(sim, n->id, 0, "crash", n->crash_epoch, 0);
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (ep->node != n->id)
            continue;
        sim_ep *peer = sim_ep_peer(sim, ep);
        if (peer && peer->node != n->id && !for_good) {
            /* The peer hears nothing: it times out, or is reset once this
             * node is back and answers its next segment. */
            peer->peer_crashed = true;
            sim_push(sim, sim->now + sim->opts.stall_timeout_ns, EV_PEER_DEAD,
                     peer->id, sim_table_gen(&sim->eps, peer->id), 0);
        }
        if (!ep->opened && !ep->listener) {
            if (ep->connecting)
                tw__loop_unref(&n->loop);
            sim_ep_free(sim, ep);
        }
    }
    bool contract_on = n->loop.contract_on;
    tw_contract_handler h = n->loop.contract_handler;
    void *harg = n->loop.contract_arg;
    tw__loop_fini(&n->loop);
    if (n->stop)
        n->stop(&n->loop, n->app_arg);
    if (!for_good) {
        if (tw__loop_init(&n->loop, &tw__sim_loop_ops, sim->opts.chunk_bytes_max) < 0)
            sim_fail(sim, -ENOMEM, "out of memory restarting a node's loop");
        n->loop.contract_on = contract_on;
        n->loop.contract_handler = h;
        n->loop.contract_arg = harg;
        sim_node_hooks(n);
    }
    n->crashing = false;
}

static void restart(tw_sim *sim, sim_node *n)
{
    if (n->up)
        return;
    n->up = true;
    n->restarts++;
    sim_trace(sim, n->id, 0, "restart", n->crash_epoch, 0);
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (ep->peer_crashed && ep->peer_node == n->id) {
            ep->peer_crashed = false;
            sim_push(sim, sim->now + sim_latency(sim, n->id, ep->node), EV_RST,
                     ep->id, sim_table_gen(&sim->eps, ep->id), ECONNRESET);
        }
    }
    sim_node_start_app(n);
}

unsigned tw_app_restarts(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n ? n->restarts : 0;
}

static void apply(tw_sim *sim, const tw_sim_fault *f)
{
    sim_node *na = sim_node_of(f->a), *nb = sim_node_of(f->b);
    uint32_t a = na->id, b = nb ? nb->id : SIM_NONE;
    sim->stats.faults++;
    static const char *const names[] = {
        [TW_SIM_FAULT_PARTITION] = "partition", [TW_SIM_FAULT_HEAL] = "heal",
        [TW_SIM_FAULT_CLOG] = "clog",           [TW_SIM_FAULT_RESET] = "reset_all",
        [TW_SIM_FAULT_CRASH] = "crash_fault",   [TW_SIM_FAULT_RESTART] = "restart_fault",
        [TW_SIM_FAULT_CLOCK] = "clock",         [TW_SIM_FAULT_EMFILE] = "emfile",
        [TW_SIM_FAULT_DGRAM] = "dgram_fault",   [TW_SIM_FAULT_ENOBUFS] = "enobufs_fault",
    };
    sim_trace(sim, a, 0, names[f->kind], b == SIM_NONE ? -1 : (int64_t)b,
              f->kind == TW_SIM_FAULT_CLOCK ? f->skew_ns : f->duration_ns);
    switch (f->kind) {
    case TW_SIM_FAULT_PARTITION:
        partition(sim, a, b, f->oneway);
        if (f->duration_ns > 0)
            tw_sim_at(sim, sim->now + f->duration_ns,
                      &(tw_sim_fault){.kind = TW_SIM_FAULT_HEAL, .a = f->a, .b = f->b});
        break;
    case TW_SIM_FAULT_HEAL:
        sim_stream_settle_all(sim); /* acks that met the cut are held */
        cut(sim, a, b, false, false);
        sim_stream_heal(sim);
        break;
    case TW_SIM_FAULT_CLOG:
        clog_paths(sim, a, b, f->oneway, sim->now + f->duration_ns);
        sim_stream_clogged(sim);
        break;
    case TW_SIM_FAULT_RESET:
        reset(sim, a, b);
        break;
    case TW_SIM_FAULT_CRASH:
        sim_node_crash(sim, na, false);
        break;
    case TW_SIM_FAULT_RESTART:
        restart(sim, na);
        break;
    case TW_SIM_FAULT_CLOCK:
        set_clock(sim, na, f->skew_ns, f->drift_ppm);
        break;
    case TW_SIM_FAULT_EMFILE:
        na->emfile_left += f->count;
        break;
    case TW_SIM_FAULT_DGRAM:
    case TW_SIM_FAULT_ENOBUFS:
        sim_dgram_fault(sim, f, a, b); /* sim/dgram_fault.c */
        break;
    }
}

void sim_fault_event(tw_sim *sim, const sim_event *ev)
{
    assert(ev->obj < sim->nfaults);
    tw_sim_fault f = sim->faults[ev->obj]; /* apply may grow the array */
    apply(sim, &f);
}

/* ---- swarm ---- */

void sim_swarm_event(tw_sim *sim)
{
    tw_sim_prng *r = &sim->rng_fault;
    const tw_sim_opts *o = &sim->opts;
    uint32_t kinds[8], nk = 0;
    for (uint32_t bit = 0; bit < 8; bit++)
        if ((o->swarm_faults & (1u << bit)) &&
            (sim->nnodes >= 2 || (1u << bit) >= TW_SIM_SWARM_CRASH))
            kinds[nk++] = 1u << bit;
    if (nk && sim->nnodes) {
        uint32_t kind = kinds[tw_sim_prng_below(r, nk)];
        uint32_t a = (uint32_t)tw_sim_prng_below(r, sim->nnodes);
        uint32_t b = sim->nnodes >= 2
                         ? (a + 1 + (uint32_t)tw_sim_prng_below(r, sim->nnodes - 1)) % sim->nnodes
                         : a;
        tw_ns dur = 1 + (tw_ns)tw_sim_prng_below(r, (uint64_t)o->swarm_duration_ns_max);
        tw_sim_fault f = {.a = &sim->nodes[a]->loop, .b = &sim->nodes[b]->loop,
                          .duration_ns = dur};
        switch (kind) {
        case TW_SIM_SWARM_PARTITION:
        case TW_SIM_SWARM_ONEWAY:
            f.kind = TW_SIM_FAULT_PARTITION;
            f.oneway = kind == TW_SIM_SWARM_ONEWAY;
            break;
        case TW_SIM_SWARM_CLOG:
            f.kind = TW_SIM_FAULT_CLOG;
            f.oneway = tw_sim_prng_chance(r, 0.5);
            break;
        case TW_SIM_SWARM_RESET:
            f.kind = TW_SIM_FAULT_RESET;
            break;
        case TW_SIM_SWARM_CRASH:
            f.kind = TW_SIM_FAULT_CRASH;
            f.b = NULL;
            tw_sim_at(sim, sim->now + dur,
                      &(tw_sim_fault){.kind = TW_SIM_FAULT_RESTART, .a = f.a});
            break;
        case TW_SIM_SWARM_CLOCK:
            f.kind = TW_SIM_FAULT_CLOCK;
            f.b = NULL;
            f.skew_ns = (tw_ns)tw_sim_prng_below(r, (uint64_t)dur) - dur / 2;
            f.drift_ppm = (int32_t)tw_sim_prng_below(r, 2001) - 1000;
            break;
        case TW_SIM_SWARM_DGRAM:
            sim_dgram_swarm_draw(r, &f); /* sim/dgram_fault.c */
            break;
        default:
            f.kind = TW_SIM_FAULT_EMFILE;
            f.b = NULL;
            f.count = 1 + (uint32_t)tw_sim_prng_below(r, 3);
            break;
        }
        apply(sim, &f);
    }
    double u = tw_sim_prng_double(r);
    tw_ns next = 1 + (tw_ns)(-(double)o->swarm_interval_ns * sim_ln(1 - u));
    sim_push_bg(sim, sim->now + next, EV_SWARM, 0);
}
