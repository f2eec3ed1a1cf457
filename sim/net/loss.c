/* sim/net/loss.c - loss that comes in bursts: the correlated and
 * Gilbert-Elliott models of a path, and loss bursts scripted on paths.
 *
 * Map:
 *   models     validation; one packet through a model (its state lives
 *              in the path, so each direction has its own channel)
 *   the draw   sim_loss: independent, then the path's model, then the
 *              burst's; counted on the path for fault accounting
 *   bursts     tw_sim_loss_burst: a model laid on paths until a time
 *
 * Determinism: a model that is off draws nothing, so adding a model to
 * one path leaves every other draw of the run where it was; all draws
 * come from the network stream in the order packets are sent.
 */
#include <stdlib.h>

#include "sim/fault.h"
#include "sim/net.h"
#include "sim/trace.h"
#include "sim/world.h"

/* ---- models ---- */

static bool prob_ok(double p) { return p >= 0 && p <= 1; }

bool tw_sim_loss_model_ok(const tw_sim_loss_model *m)
{
    if (!m)
        return false;
    switch (m->kind) {
    case TW_SIM_LOSS_NONE:
        return true;
    case TW_SIM_LOSS_CORRELATED:
        return prob_ok(m->probability) && m->correlation >= 0 &&
               m->correlation < 1;
    case TW_SIM_LOSS_GILBERT_ELLIOTT:
        return m->p > 0 && m->p <= 1 && prob_ok(m->r) &&
               prob_ok(m->loss_bad) && prob_ok(m->loss_good);
    }
    return false;
}

/* One packet through model m whose memory is *st. */
static bool model_drop(tw_sim_prng *r, const tw_sim_loss_model *m,
                       sim_loss_state *st)
{
    bool lost;
    if (m->kind == TW_SIM_LOSS_CORRELATED) {
        /* Repeat the last fate, or draw afresh: the rate stays p. */
        if (m->correlation > 0 && tw_sim_prng_chance(r, m->correlation))
            lost = st->last_lost;
        else
            lost = tw_sim_prng_chance(r, m->probability);
        st->last_lost = lost;
        return lost;
    }
    assert(m->kind == TW_SIM_LOSS_GILBERT_ELLIOTT);
    double loss_bad = m->loss_bad > 0 ? m->loss_bad : 1;
    double to_good = m->r > 0 ? m->r : 1 - m->p;
    if (st->bad) {
        lost = tw_sim_prng_chance(r, loss_bad);
        if (tw_sim_prng_chance(r, to_good))
            st->bad = false;
    } else {
        lost = tw_sim_prng_chance(r, m->loss_good);
        if (tw_sim_prng_chance(r, m->p))
            st->bad = true;
    }
    return lost;
}

/* ---- the draw ---- */

bool sim_loss(tw_sim *sim, uint32_t from, uint32_t to, double p, tw_ns when)
{
    assert(when >= sim->now);
    tw_sim_prng *r = &sim->rng_net;
    sim_path *path = sim_path_of(sim, from, to);
    const tw_sim_loss_model *m = &sim_path_opts(sim, from, to)->loss_model;
    bool lost = p > 0 && tw_sim_prng_chance(r, p);
    /* The models still see the packet when it is already lost, so their
     * channels move with the traffic whatever the other draws said. */
    if (m->kind != TW_SIM_LOSS_NONE && model_drop(r, m, &path->loss[0]))
        lost = true;
    if (path->burst && path->burst_until <= sim->now)
        path->burst = 0; /* over: the channel starts good next time */
    if (path->burst && when < path->burst_until &&
        model_drop(r, &sim->bursts[path->burst - 1], &path->loss[1])) {
        if (!lost)
            path->count.burst_lost++; /* lost to the burst alone */
        lost = true;
    }
    if (lost)
        path->count.lost++;
    /* A loss the burst alone made is a loss: counted in both. */
    assert(path->count.burst_lost <= path->count.lost);
    return lost;
}

/* ---- bursts ---- */

static void burst_set(tw_sim *sim, uint32_t from, uint32_t to, uint32_t idx,
                      tw_ns until)
{
    if (from == to)
        return; /* a node's loopback never loses */
    sim_path *p = sim_path_of(sim, from, to);
    p->burst = idx;
    p->burst_until = until;
    p->loss[1] = (sim_loss_state){0};
}

int sim_loss_burst_apply(tw_sim *sim, uint32_t a, uint32_t b,
                         const tw_sim_loss_model *model, tw_ns duration_ns,
                         bool oneway)
{
    assert(a < sim->nnodes && (b == SIM_NONE || b < sim->nnodes));
    assert(!model || duration_ns > 0);
    uint32_t idx = 0;
    if (model) {
        tw_sim_loss_model *nm =
            realloc(sim->bursts, (sim->nbursts + 1) * sizeof *nm);
        if (!nm)
            return -ENOMEM;
        sim->bursts = nm;
        nm[sim->nbursts++] = *model;
        idx = sim->nbursts;
    }
    tw_ns until = model ? sim->now + duration_ns : 0;
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (j == a || (b != SIM_NONE && j != b))
            continue;
        burst_set(sim, a, j, idx, until);
        if (!oneway)
            burst_set(sim, j, a, idx, until);
    }
    sim_trace(sim, a, 0, model ? "loss_burst" : "loss_burst_end",
              b != SIM_NONE ? (int64_t)b : -1, model ? duration_ns : 0);
    return 0;
}

int tw_sim_loss_burst(tw_sim *sim, tw_loop *a, tw_loop *b,
                      const tw_sim_loss_model *model, tw_ns duration_ns,
                      bool oneway)
{
    sim_node *na = sim_node_of(a), *nb = sim_node_of(b);
    if (!sim || !na || na->sim != sim || (b && (!nb || nb->sim != sim)))
        return -EINVAL;
    if (model && (!tw_sim_loss_model_ok(model) ||
                  model->kind == TW_SIM_LOSS_NONE || duration_ns <= 0))
        return -EINVAL;
    if (sim->driving)
        return -EBUSY;
    return sim_loss_burst_apply(sim, na->id, nb ? nb->id : SIM_NONE, model,
                                duration_ns, oneway);
}
