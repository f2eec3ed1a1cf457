/* sim/net/path.c - the network between nodes: one path per ordered pair.
 *
 * Map:
 *   matrix     a dense nodes x nodes array of path state, grown by copy
 *   options    the world's defaults or a per-path override
 *   transit    when a segment sent now arrives: the wire's queue
 *              (bandwidth), a latency draw, retransmission delays for each
 *              loss; arrival order per connection is kept by the caller.
 *              The lossless case is sim_transit in sim/net.h, inline: it
 *              comes here for the wire time and the retransmissions
 *   cuts       partition state (cut_since), read by streams and connects
 *   counters   packets, cut hits, clogged sends per path (twin/simprobe.h)
 *
 * Loss on a stream is modelled as TCP makes it look: never missing bytes,
 * only a segment that arrives one retransmission timeout (doubling) later;
 * too many in a row and the connection fails instead of hanging.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/net.h"
#include "sim/tap.h"
#include "sim/world.h"

int sim_paths_grow(tw_sim *sim, uint32_t nodes)
{
    if (nodes <= sim->paths_cap)
        return 0;
    uint32_t cap = sim->paths_cap ? sim->paths_cap : 4;
    while (cap < nodes)
        cap *= 2;
    sim_path *p = malloc((size_t)cap * cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    for (size_t i = 0; i < (size_t)cap * cap; i++)
        p[i] = (sim_path){.cut_since = -1};
    for (uint32_t i = 0; i < sim->paths_cap; i++)
        memcpy(&p[(size_t)i * cap], &sim->paths[(size_t)i * sim->paths_cap],
               sim->paths_cap * sizeof *p);
    free(sim->paths);
    sim->paths = p;
    sim->paths_cap = cap;
    assert(sim->paths_cap >= nodes);
    return 0;
}


int tw_sim_path_set(tw_sim *sim, tw_loop *from, tw_loop *to,
                    const tw_sim_path_opts *opts)
{
    sim_node *a = sim_node_of(from), *b = sim_node_of(to);
    if (!sim || !a || !b || a->sim != sim || b->sim != sim || !opts)
        return -EINVAL;
    tw_sim_path_opts o = *opts;
    const tw_sim_path_opts *def = a == b ? &sim->opts.loopback : &sim->opts.net;
    if (o.latency.kind == TW_SIM_DIST_DEFAULT)
        o.latency = def->latency;
    if (!o.rcvbuf_bytes)
        o.rcvbuf_bytes = def->rcvbuf_bytes;
    if (!o.rto_ns)
        o.rto_ns = def->rto_ns;
    if (!o.rto_max_ns)
        o.rto_max_ns = def->rto_max_ns;
    if (!o.loss_retries_max)
        o.loss_retries_max = def->loss_retries_max;
    if (o.loss_probability < 0 || o.loss_probability >= 1 ||
        o.latency.min_ns < 0 || o.latency.max_ns < 0 ||
        !sim_dgram_opts_ok(&o.dgram) || !tw_sim_loss_model_ok(&o.loss_model))
        return -EINVAL;
    sim_dgram_defaults(&o.dgram); /* zero fields: the defaults */
    sim_path *p = sim_path_of(sim, a->id, b->id);
    if (p->override) { /* set before: replaced, so the table stays bounded */
        assert(p->override <= sim->noverrides);
        sim->overrides[p->override - 1] = o;
        return 0;
    }
    tw_sim_path_opts *ov = realloc(sim->overrides,
                                   (sim->noverrides + 1) * sizeof *ov);
    if (!ov)
        return -ENOMEM;
    sim->overrides = ov;
    ov[sim->noverrides++] = o;
    p->override = sim->noverrides;
    return 0;
}

tw_ns sim_wire_time(const tw_sim_path_opts *o, size_t len)
{
    assert(o->bandwidth_bytes_per_sec > 0);
    return (tw_ns)((__int128)len * TW_NS_PER_SEC / (__int128)o->bandwidth_bytes_per_sec);
}

tw_ns sim_retransmit(tw_sim *sim, uint32_t from, uint32_t to,
                     const tw_sim_path_opts *o, sim_path *p, tw_ns sent, tw_ns t,
                     bool *gave_up)
{
    assert(t >= sent && sent >= sim->now && !*gave_up);
    tw_ns rto = o->rto_ns;
    /* Each retransmission is another packet through the loss draws
     * (sim/net/loss.c), which draw nothing when no loss is set, at the
     * time it goes: a burst that is over by then spares it. */
    for (uint32_t k = 0; sim_loss(sim, from, to, o->loss_probability, sent); k++) {
        if (k >= o->loss_retries_max) {
            *gave_up = true;
            return t;
        }
        sim->stats.losses++;
        p->count.packets++;
        t += rto;
        sent += rto;
        rto = rto * 2 > o->rto_max_ns ? o->rto_max_ns : rto * 2;
    }
    assert(t >= sim->now); /* a retransmission only ever comes later */
    return t;
}

void sim_path_cut_set(tw_sim *sim, uint32_t from, uint32_t to, bool cut)
{
    sim_path *p = sim_path_of(sim, from, to);
    if (from == to)
        return; /* a node is never cut off from itself */
    if (sim_tapping(sim) && cut != (p->cut_since >= 0))
        sim_tap_path(sim, from, to, cut, 0);
    if (cut && p->cut_since < 0) {
        p->cut_since = sim->now;
        sim->paths_cut++;
    } else if (!cut && p->cut_since >= 0) {
        p->cut_since = -1;
        assert(sim->paths_cut > 0);
        sim->paths_cut--;
    }
    /* A cut dates from its first moment (a second cut does not move it). */
    assert(cut == (p->cut_since >= 0) && p->cut_since <= sim->now);
}
