/* sim/fault.c - faults: the kinds' table, the timeline, applying one.
 *
 * Map:
 *   kinds      names, targets, modifiers, units: the one table the
 *              scenario loader and writer, the swarm and the report read
 *   checks     a fault the world can apply
 *   timeline   tw_sim_at and the shorthands; the actions due now; ending
 *              the fault phase
 *   apply      partition / heal / clog / reset / crash / restart / clock /
 *              emfile / datagram faults, from an EV_FAULT
 *
 * Every fault goes through the timeline (sim/fault.h says how it runs),
 * so none ever runs inside a protocol callback and all are counted
 * (sim/fault_effect.c) and traced alike.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/fault.h"
#include "sim/fs.h"
#include "sim/sim.h"
#include "twin/simproc.h"

/* ---- kinds ---- */

static const tw_sim_fault_info kinds[TW_SIM_FAULT_KINDS] = {
    [TW_SIM_FAULT_PARTITION] = {"partition", "partition", "packets cut",
                                "packets met the cut", true, true, false, true,
                                {"oneway"}},
    [TW_SIM_FAULT_HEAL] = {"heal", "heal", "cut paths healed",
                           "cut paths were restored", true, false, false, false,
                           {0}},
    [TW_SIM_FAULT_CLOG] = {"clog", "clog", "packets held",
                           "packets were held on the clogged paths", true, true,
                           true, true, {"oneway"}},
    [TW_SIM_FAULT_RESET] = {"reset", "reset_all", "connections reset",
                            "connections were reset", true, false, false, true,
                            {0}},
    [TW_SIM_FAULT_CRASH] = {"crash", "crash_fault", "transports and unsynced files lost",
                            "open transports died with the node, and its disk "
                            "lost what it chose of what was not durable", false, true,
                            false, true, {0}},
    [TW_SIM_FAULT_RESTART] = {"restart", "restart_fault", "restarts",
                              "a node that was down came back", false, false,
                              false, false, {0}},
    [TW_SIM_FAULT_CLOCK] = {"clock", "clock", "timers moved or dates read",
                            "pending timers fell due at other times (a new rate), "
                            "and the node read its stepped date", false,
                            false, false, true, {"skew", "drift_ppm"}},
    [TW_SIM_FAULT_LOSS] = {"loss", "loss_burst", "packets lost",
                           "packets the burst's model took", true, true, true,
                           true,
                           {"oneway", "probability", "correlation",
                            "gilbert_elliott"}},
    [TW_SIM_FAULT_KILL] = {"kill", "proc-kill", "processes killed",
                           "processes running the program were signalled",
                           false, false, false, true, {"program", "signal"}},
    [TW_SIM_FAULT_EMFILE] = {"emfile", "emfile", "accepts failed",
                             "accepts failed with EMFILE", false, false, false,
                             true, {"count"}},
    [TW_SIM_FAULT_DGRAM] = {"dgram", "dgram_fault", "datagrams impaired",
                            "datagrams were lost, refused, duplicated, "
                            "reordered or corrupted by it",
                            true, true, false, true,
                            {"oneway", "drop", "duplicate", "reorder",
                             "corrupt", "refuse"}},
    [TW_SIM_FAULT_ENOBUFS] = {"enobufs", "enobufs_fault", "sends failed",
                              "datagram sends failed with ENOBUFS", false,
                              false, false, true, {"count"}},
    [TW_SIM_FAULT_FREEZE] = {"freeze", "freeze", "events held",
                             "callbacks and deliveries waited for it", false,
                             true, true, true, {0}},
    [TW_SIM_FAULT_SLOW] = {"slow", "slow", "events held",
                           "callbacks and deliveries waited for its slow "
                           "turns", false, true, true, true, {"cost"}},
    [TW_SIM_FAULT_BLACKHOLE] = {"blackhole", "blackhole", "packets cut",
                                "packets vanished into it", true, true, false,
                                true, {"oneway"}},
    [TW_SIM_FAULT_DISK_EIO] = {"disk_eio", "disk_eio", "disk calls failed",
                               "file reads, writes and fsyncs failed with EIO",
                               false, true, true, true, {0}},
    [TW_SIM_FAULT_DISK_FULL] = {"disk_full", "disk_full", "writes refused",
                                "file writes and creates failed with ENOSPC",
                                false, true, true, true, {0}},
    [TW_SIM_FAULT_FSYNC_FAIL] = {"fsync_fail", "fsync_fail", "fsyncs failed",
                                 "fsyncs failed with EIO", false, false, false,
                                 true, {"count"}},
    [TW_SIM_FAULT_POWER_LOSS] = {"power_loss", "power_loss",
                                 "transports and unsynced files lost",
                                 "open transports died with the node, and "
                                 "its disk lost what was not durable",
                                 false, true, false, true, {0}},
    [TW_SIM_FAULT_DISK_CORRUPT] = {"disk_corrupt", "disk_corrupt", "reads corrupted",
                                   "file reads came back with a flipped bit",
                                   false, true, true, true, {0}},
    [TW_SIM_FAULT_LOST_WRITE] = {"lost_write", "lost_write", "writes lost",
                                 "file writes reported done changed nothing",
                                 false, false, false, true, {"count"}},
};

const tw_sim_fault_info *tw_sim_fault_kind_info(tw_sim_fault_kind k)
{
    return k >= TW_SIM_FAULT_PARTITION && k < TW_SIM_FAULT_KINDS ? &kinds[k] : NULL;
}

int tw_sim_fault_kind_parse(const char *name)
{
    for (int k = TW_SIM_FAULT_PARTITION; name && k < TW_SIM_FAULT_KINDS; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -EINVAL;
}

bool tw_sim_fault_kind_takes(tw_sim_fault_kind k, const char *mod)
{
    const tw_sim_fault_info *in = tw_sim_fault_kind_info(k);
    if (!in || !mod)
        return false;
    if (strcmp(mod, "for") == 0)
        return in->window;
    for (size_t i = 0; i < sizeof in->mods / sizeof in->mods[0] && in->mods[i]; i++)
        if (strcmp(in->mods[i], mod) == 0)
            return true;
    return false;
}

const char *sim_fault_trace_name(tw_sim_fault_kind k)
{
    return tw_sim_fault_kind_info(k) ? kinds[k].trace : "fault";
}

/* ---- checks ---- */

bool tw_sim_fault_ok(const tw_sim_fault *f)
{
    const tw_sim_fault_info *in = f ? tw_sim_fault_kind_info(f->kind) : NULL;
    if (!in || f->a < 0 || f->b < TW_SIM_ALL || f->duration_ns < 0)
        return false;
    if (!in->pair && f->b != TW_SIM_ALL)
        return false;
    if (in->needs_window && f->duration_ns <= 0)
        return false;
    switch (f->kind) {
    case TW_SIM_FAULT_CLOCK:
        return f->drift_ppm > -1000000 && f->drift_ppm < 1000000;
    case TW_SIM_FAULT_LOSS:
        return tw_sim_loss_model_ok(&f->loss) && f->loss.kind != TW_SIM_LOSS_NONE;
    case TW_SIM_FAULT_KILL:
        return f->program[0] && memchr(f->program, 0, sizeof f->program) &&
               f->signal >= 1 && f->signal <= 64;
    case TW_SIM_FAULT_DGRAM:
        return sim_dgram_fault_ok(f); /* sim/dgram_fault.c */
    case TW_SIM_FAULT_SLOW:
        return f->cost_ns > 0;
    default:
        return true;
    }
}

/* ---- timeline ---- */

static sim_timeline *timeline(tw_sim *sim)
{
    if (!sim->tl)
        sim->tl = calloc(1, sizeof *sim->tl);
    return sim->tl;
}

void sim_timeline_free(tw_sim *sim)
{
    if (sim->tl) {
        free(sim->tl->a);
        free(sim->tl->st);
        free(sim->tl);
        sim->tl = NULL;
    }
    free(sim->faults);
    sim->faults = NULL;
}

/* Keep *f as fault number i (not on the timeline yet). */
static int keep(tw_sim *sim, const tw_sim_fault *f)
{
    sim_timeline *tl = timeline(sim);
    if (!tl)
        return -ENOMEM;
    if (sim->nfaults == sim->capfaults) {
        if (sim->capfaults >= SIM_FAULTS_MAX)
            return -ENOBUFS;
        uint32_t cap = sim->capfaults ? sim->capfaults * 2 : 16;
        tw_sim_fault *nf = realloc(sim->faults, cap * sizeof *nf);
        if (!nf)
            return -ENOMEM;
        sim->faults = nf;
        sim_fault_state *ns = realloc(tl->st, cap * sizeof *ns);
        if (!ns)
            return -ENOMEM;
        tl->st = ns;
        sim->capfaults = cap;
    }
    sim->faults[sim->nfaults] = *f;
    tl->st[sim->nfaults] = (sim_fault_state){0};
    return (int)sim->nfaults++;
}

/* Insert an action in (t, seq) order; most land at the end. */
static int add_action(tw_sim *sim, tw_ns t, uint32_t fault, bool end)
{
    sim_timeline *tl = sim->tl;
    if (tl->head > 0 && tl->head == tl->n)
        tl->head = tl->n = 0;
    if (tl->n == tl->cap) {
        if (tl->head > tl->n / 2) { /* reclaim the run prefix */
            memmove(tl->a, tl->a + tl->head, (tl->n - tl->head) * sizeof *tl->a);
            tl->n -= tl->head;
            tl->head = 0;
        } else {
            uint32_t cap = tl->cap ? tl->cap * 2 : 32;
            sim_action *na = realloc(tl->a, cap * sizeof *na);
            if (!na)
                return -ENOMEM;
            tl->a = na;
            tl->cap = cap;
        }
    }
    uint32_t k = tl->n;
    while (k > tl->head && tl->a[k - 1].t > t) {
        tl->a[k] = tl->a[k - 1];
        k--;
    }
    tl->a[k] = (sim_action){t, tl->seq++, fault, end};
    tl->n++;
    assert(tl->head <= tl->n && tl->n <= tl->cap);
    return 0;
}

static void start(tw_sim *sim, uint32_t i);

int tw_sim_at(tw_sim *sim, tw_ns when, const tw_sim_fault *f)
{
    if (!sim || !tw_sim_fault_ok(f) || (uint32_t)f->a >= sim->nnodes ||
        (f->b != TW_SIM_ALL && (uint32_t)f->b >= sim->nnodes))
        return -EINVAL;
    if (when < sim->now)
        when = sim->now;
    const tw_sim_fault_info *in = &kinds[f->kind];
    bool window = in->window && f->duration_ns > 0;
    if (window && f->duration_ns > INT64_MAX - when)
        return -EINVAL;
    int id = keep(sim, f);
    if (id < 0)
        return id;
    int rc = 0;
    if (when == sim->now)
        start(sim, (uint32_t)id); /* queued at now, after what is queued */
    else
        rc = add_action(sim, when, (uint32_t)id, false);
    if (rc == 0 && window)
        rc = add_action(sim, when + f->duration_ns, (uint32_t)id, true);
    if (rc < 0) {
        sim_fail(sim, rc, "out of memory scheduling a fault");
        return rc;
    }
    return id;
}

static int now_fault(tw_loop *a, tw_loop *b, tw_sim_fault f)
{
    tw_sim *sim = tw_sim_of(a);
    if (!sim || (b && tw_sim_of(b) != sim))
        return -EINVAL;
    f.a = tw_sim_node_id(a);
    f.b = b ? tw_sim_node_id(b) : TW_SIM_ALL;
    int id = tw_sim_at(sim, sim->now, &f);
    return id < 0 ? id : 0;
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

int tw_sim_dgram_impair(tw_sim *sim, tw_loop *a, tw_loop *b,
                        const tw_sim_dgram_opts *dgram, tw_ns duration_ns,
                        bool oneway)
{
    if (!dgram || tw_sim_of(a) != sim)
        return -EINVAL;
    return now_fault(a, b, (tw_sim_fault){.kind = TW_SIM_FAULT_DGRAM,
                                          .oneway = oneway,
                                          .duration_ns = duration_ns,
                                          .dgram = *dgram});
}

int tw_sim_enobufs(tw_loop *node, uint32_t count)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_ENOBUFS,
                                                .count = count});
}

int tw_sim_disk_eio(tw_loop *node, tw_ns duration_ns)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_DISK_EIO,
                                                .duration_ns = duration_ns});
}

int tw_sim_disk_full(tw_loop *node, tw_ns duration_ns)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_DISK_FULL,
                                                .duration_ns = duration_ns});
}

int tw_sim_fsync_fail(tw_loop *node, uint32_t count)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_FSYNC_FAIL,
                                                .count = count});
}

int tw_sim_disk_corrupt(tw_loop *node, tw_ns duration_ns)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_DISK_CORRUPT,
                                                .duration_ns = duration_ns});
}

int tw_sim_lost_write(tw_loop *node, uint32_t count)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_LOST_WRITE,
                                                .count = count});
}

int tw_sim_power_loss(tw_loop *node, tw_ns duration_ns)
{
    return now_fault(node, NULL, (tw_sim_fault){.kind = TW_SIM_FAULT_POWER_LOSS,
                                                .duration_ns = duration_ns});
}

bool tw_sim_fault_applied(const tw_sim *sim, int id)
{
    return sim && sim->tl && id >= 0 && (uint32_t)id < sim->nfaults &&
           sim->tl->st[id].applied;
}

int tw_sim_fault_effect(tw_sim *sim, int id, uint64_t *count)
{
    if (!sim || !sim->tl || id < 0 || (uint32_t)id >= sim->nfaults || !count)
        return -EINVAL;
    *count = sim_effect_now(sim, (uint32_t)id);
    return 0;
}

/* An undoing queued at now (a window's end, the quiet phase's healing):
 * a fault of its own, off the timeline. */
static void queue_now(tw_sim *sim, tw_sim_fault_kind kind, int a, int b)
{
    if (kind == TW_SIM_FAULT_RESTART) {
        /* One restart brings a node back: a crash ending as the fault
         * phase ends (which restarts every node down) queues no second. */
        sim_node *n = sim->nodes[a];
        if (n->restart_queued)
            return;
        n->restart_queued = true;
    }
    int id = keep(sim, &(tw_sim_fault){.kind = kind, .a = a, .b = b});
    if (id < 0) {
        sim_fail(sim, id, "too many faults in one world");
        return;
    }
    sim->tl->st[id].applied = true;
    sim_push(sim, sim->now, EV_FAULT, (uint32_t)id, 0, 0);
}

static uint32_t node_or_none(int x) { return x < 0 ? SIM_NONE : (uint32_t)x; }

static void start(tw_sim *sim, uint32_t i)
{
    const tw_sim_fault *f = &sim->faults[i];
    sim_effect_begin(sim, i);
    sim->tl->st[i].applied = true;
    if (f->kind == TW_SIM_FAULT_LOSS) {
        /* At once, as a burst set between runs (no EV_FAULT). */
        sim->stats.faults++;
        int rc = sim_loss_burst_apply(sim, (uint32_t)f->a, node_or_none(f->b),
                                      &f->loss, f->duration_ns, f->oneway);
        if (rc < 0)
            sim_fail(sim, rc, "out of memory for a loss burst");
    } else if (f->kind == TW_SIM_FAULT_KILL) {
        sim->stats.faults++;
        int n = tw_sim_proc_kill_program(&sim->nodes[f->a]->loop, f->program,
                                         f->signal);
        sim->tl->st[i].count = n > 0 ? (uint64_t)n : 0;
    } else {
        sim_push(sim, sim->now, EV_FAULT, i, 0, 0);
    }
}

static void blackhole(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, bool on);

/* Its window closes: count, then undo what does not undo itself. */
static void end(tw_sim *sim, uint32_t i)
{
    const tw_sim_fault *f = &sim->faults[i];
    sim_effect_end(sim, i);
    sim->tl->st[i].ended = true;
    if (f->kind == TW_SIM_FAULT_PARTITION)
        queue_now(sim, TW_SIM_FAULT_HEAL, f->a, f->b);
    else if (f->kind == TW_SIM_FAULT_CRASH || f->kind == TW_SIM_FAULT_POWER_LOSS)
        queue_now(sim, TW_SIM_FAULT_RESTART, f->a, TW_SIM_ALL);
    else if (f->kind == TW_SIM_FAULT_BLACKHOLE)
        blackhole(sim, (uint32_t)f->a, node_or_none(f->b), f->oneway, false);
}

void sim_timeline_run(tw_sim *sim)
{
    sim_timeline *tl = sim->tl;
    assert(tl && tl->head < tl->n && tl->a[tl->head].t <= sim->now);
    while (tl->head < tl->n && tl->a[tl->head].t <= sim->now && !sim->err) {
        sim_action act = tl->a[tl->head++];
        assert(act.fault < sim->nfaults);
        act.end ? end(sim, act.fault) : start(sim, act.fault);
    }
}

/* A cut a heal can undo (a blackhole's is its own). */
static bool healable(tw_sim *sim, uint32_t i, uint32_t j)
{
    const sim_path *p = sim_path_of(sim, i, j);
    return p->cut_since >= 0 && !p->black;
}

static bool any_cut(tw_sim *sim, uint32_t i)
{
    for (uint32_t j = 0; j < sim->nnodes; j++)
        if (j != i && (healable(sim, i, j) || healable(sim, j, i)))
            return true;
    return false;
}

/* A window the end of the fault phase leaves to its own end. */
static bool runs_out(tw_sim_fault_kind kind)
{
    return kind == TW_SIM_FAULT_BLACKHOLE || kind == TW_SIM_FAULT_FREEZE ||
           kind == TW_SIM_FAULT_SLOW || kind == TW_SIM_FAULT_CLOG ||
           kind == TW_SIM_FAULT_DGRAM || kind == TW_SIM_FAULT_DISK_EIO ||
           kind == TW_SIM_FAULT_DISK_FULL || kind == TW_SIM_FAULT_DISK_CORRUPT;
}

int tw_sim_faults_end(tw_sim *sim, bool heal_all)
{
    if (!sim)
        return -EINVAL;
    if (sim->driving)
        return -EBUSY;
    sim_timeline *tl = sim->tl;
    /* The ends of windows no heal brings early (a blackhole's, and a
     * freeze, a slow spell, a clog, a datagram or disk impairment, which
     * run to their end): kept, so that their counts go on to the end. */
    uint32_t kept = 0;
    for (uint32_t k = tl ? tl->head : 0; tl && k < tl->n; k++) {
        sim_action act = tl->a[k];
        if (act.end && runs_out(sim->faults[act.fault].kind))
            tl->a[kept++] = act;
        else if (heal_all && act.end)
            end(sim, act.fault);
    }
    if (tl) {
        tl->head = 0;
        tl->n = kept;
    }
    if (!heal_all)
        return 0;
    for (uint32_t i = 0; i < sim->nnodes; i++) {
        if (any_cut(sim, i))
            queue_now(sim, TW_SIM_FAULT_HEAL, (int)i, TW_SIM_ALL);
        if (sim->nbursts)
            sim_loss_burst_apply(sim, i, SIM_NONE, NULL, 0, false);
        if (!sim->nodes[i]->up)
            queue_now(sim, TW_SIM_FAULT_RESTART, (int)i, TW_SIM_ALL);
    }
    return sim->err;
}

/* ---- apply ---- */

static bool pair_match(uint32_t x, uint32_t y, uint32_t a, uint32_t b)
{
    return (x == a && (b == SIM_NONE || y == b)) ||
           (y == a && (b == SIM_NONE || x == b));
}

/* Cut or heal a-b's paths; a heal leaves a blackhole's alone. */
static void cut_one(tw_sim *sim, uint32_t from, uint32_t to, bool on)
{
    if (on || !sim_path_of(sim, from, to)->black)
        sim_path_cut_set(sim, from, to, on);
}

static void cut(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, bool on)
{
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (j == a || (b != SIM_NONE && j != b))
            continue;
        cut_one(sim, a, j, on);
        if (!oneway)
            cut_one(sim, j, a, on);
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

static void clog_one(tw_sim *sim, uint32_t from, uint32_t to, tw_ns until)
{
    sim_path *p = sim_path_of(sim, from, to);
    if (p->clog_until >= until)
        return;
    if (sim_tapping(sim))
        sim_tap_path(sim, from, to, false, until);
    p->clog_until = until;
    if (sim->clog_max < until)
        sim->clog_max = until;
}

static void clog_paths(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, tw_ns until)
{
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (b != SIM_NONE && j != b)
            continue;
        if (b == SIM_NONE && j == a)
            continue;
        clog_one(sim, a, j, until);
        if (!oneway)
            clog_one(sim, j, a, until);
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

static void black_one(tw_sim *sim, uint32_t from, uint32_t to, bool on)
{
    if (from == to)
        return;
    sim_path *p = sim_path_of(sim, from, to);
    p->black = on;
    sim_path_cut_set(sim, from, to, on);
}

/* A blackhole: a cut no heal undoes; its own end does (at once). */
static void blackhole(tw_sim *sim, uint32_t a, uint32_t b, bool oneway, bool on)
{
    if (!on)
        sim_stream_settle_all(sim);
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (j == a || (b != SIM_NONE && j != b))
            continue;
        black_one(sim, a, j, on);
        if (!oneway)
            black_one(sim, j, a, on);
    }
    if (on) {
        sim_ep *ep;
        for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));)
            if (ep->node != ep->peer_node && pair_match(ep->node, ep->peer_node, a, b))
                sim_ep_watch_cut(sim, ep);
    } else {
        sim_trace(sim, a, 0, "blackhole_end", b == SIM_NONE ? -1 : (int64_t)b, 0);
        sim_stream_heal(sim);
    }
}

/* A node held (frozen, or a slow turn) until `until`. */
void sim_node_hold(tw_sim *sim, sim_node *n, tw_ns until)
{
    if (until > n->held_until)
        n->held_until = until;
    if (until > sim->held_max)
        sim->held_max = until;
}

/* The node's time of day is world time plus skew from now on, both
 * running at the rate drift gives; its monotonic clock goes on from
 * where it is, at that rate (never a step). */
static void set_clock(tw_sim *sim, sim_node *n, tw_ns skew, int32_t drift)
{
    tw_ns local = sim_node_local(n, sim->now);
    n->floor = local;
    n->base_world = sim->now;
    n->base_local = local;
    n->drift_ppm = drift;
    n->tod_offset = sim->now + skew - local;
    assert(sim_node_local(n, sim->now) == local); /* no step */
    sim_node_rearm(n); /* its timers fall due at other world times now */
}

/* A disk fault: its window or count on the node's file system (made
 * for it if the node has none yet: the fault waits for files). */
static void disk_fault(tw_sim *sim, sim_node *n, const tw_sim_fault *f)
{
    sim_fs *fs = sim_fs_of(n);
    if (!fs) {
        sim_fail(sim, -ENOMEM, "out of memory for a node's file system");
        return;
    }
    tw_ns until = sim->now + f->duration_ns;
    if (f->kind == TW_SIM_FAULT_DISK_EIO && until > fs->eio_until)
        fs->eio_until = until;
    else if (f->kind == TW_SIM_FAULT_DISK_FULL && until > fs->full_until)
        fs->full_until = until;
    else if (f->kind == TW_SIM_FAULT_FSYNC_FAIL)
        fs->fsync_fail_left += f->count;
    else if (f->kind == TW_SIM_FAULT_DISK_CORRUPT && until > fs->corrupt_until)
        fs->corrupt_until = until;
    else if (f->kind == TW_SIM_FAULT_LOST_WRITE)
        fs->lost_write_left += f->count;
}

static void apply(tw_sim *sim, const tw_sim_fault *f)
{
    sim_node *na = sim->nodes[f->a];
    uint32_t a = na->id, b = node_or_none(f->b);
    sim->stats.faults++;
    /* The second number: what ends by itself says when; a partition's
     * heal and a crash's restart are records of their own. */
    bool self_ending = f->kind == TW_SIM_FAULT_CLOG || f->kind == TW_SIM_FAULT_DGRAM ||
                       f->kind == TW_SIM_FAULT_FREEZE || f->kind == TW_SIM_FAULT_SLOW ||
                       f->kind == TW_SIM_FAULT_BLACKHOLE ||
                       f->kind == TW_SIM_FAULT_DISK_EIO ||
                       f->kind == TW_SIM_FAULT_DISK_FULL ||
                       f->kind == TW_SIM_FAULT_DISK_CORRUPT;
    sim_trace(sim, a, 0, kinds[f->kind].trace, b == SIM_NONE ? -1 : (int64_t)b,
              f->kind == TW_SIM_FAULT_CLOCK ? f->skew_ns
              : self_ending                 ? f->duration_ns
                                            : 0);
    switch (f->kind) {
    case TW_SIM_FAULT_PARTITION:
        partition(sim, a, b, f->oneway);
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
        na->restart_queued = false;
        sim_node_restart(sim, na);
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
    case TW_SIM_FAULT_FREEZE:
        sim_node_hold(sim, na, sim->now + f->duration_ns);
        break;
    case TW_SIM_FAULT_SLOW:
        na->slow_cost = f->cost_ns;
        na->slow_until = sim->now + f->duration_ns;
        if (na->slow_until > sim->slow_max)
            sim->slow_max = na->slow_until;
        break;
    case TW_SIM_FAULT_BLACKHOLE:
        blackhole(sim, a, b, f->oneway, true);
        break;
    case TW_SIM_FAULT_DISK_EIO:
    case TW_SIM_FAULT_DISK_FULL:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_DISK_CORRUPT:
    case TW_SIM_FAULT_LOST_WRITE:
        disk_fault(sim, na, f);
        break;
    case TW_SIM_FAULT_POWER_LOSS:
        na->power_loss = true;
        sim_node_crash(sim, na, false);
        na->power_loss = false; /* also when it was down already */
        break;
    case TW_SIM_FAULT_LOSS: /* applied at once by start() */
    case TW_SIM_FAULT_KILL:
    case TW_SIM_FAULT_KINDS:
        assert(!"not an EV_FAULT kind");
        break;
    }
}

void sim_fault_event(tw_sim *sim, const sim_event *ev)
{
    assert(ev->obj < sim->nfaults);
    tw_sim_fault f = sim->faults[ev->obj]; /* apply may grow the array */
    bool crash = f.kind == TW_SIM_FAULT_CRASH || f.kind == TW_SIM_FAULT_POWER_LOSS;
    uint64_t before = crash ? sim_fs_crash_losses(sim->nodes[f.a]) : 0;
    apply(sim, &f);
    /* What a crash took from the disk is what it hit too: a node with
     * no transport open still loses its unsynced writes. */
    if (crash)
        sim->tl->st[ev->obj].count += sim_fs_crash_losses(sim->nodes[f.a]) - before;
}
