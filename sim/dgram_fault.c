/* sim/dgram_fault.c - datagram options and faults: validation and
 * defaults, the options a path has now, impairments (DGRAM) and ENOBUFS.
 *
 * Map:
 *   options  ok, defaults, size limits by family
 *   paths    the path's own options with a fault's overlay on top
 *   faults   DGRAM (an overlay for a while), ENOBUFS (a count per node),
 *            as sim/fault.c applies them
 */
#include <stdlib.h>
#include <string.h>

#include "sim/dgram.h"

#define OVERLAYS_MAX (1u << 20)
#define SNDBUF_DEFAULT 212992 /* Linux's net.core.wmem_default */
#define RCVBUF_DEFAULT 212992 /* and rmem_default */
#define UDP4_MAX 65507        /* 65,535 - 20 (IPv4) - 8 (UDP) */
#define UDP6_MAX 65527        /* 65,535 - 8: IPv6 counts no header */

/* ------------------------------------------------------------------ */
/* options                                                             */

static bool prob_ok(double p) { return p >= 0 && p <= 1; }

bool sim_dgram_opts_ok(const tw_sim_dgram_opts *o)
{
    return prob_ok(o->enobufs_probability) && prob_ok(o->loss_probability) &&
           prob_ok(o->refuse_probability) &&
           prob_ok(o->duplicate_probability) &&
           prob_ok(o->reorder_probability) && prob_ok(o->corrupt_probability) &&
           o->reorder_delay_ns_max >= 0 && o->corrupt_bits_max <= 64;
}

void sim_dgram_defaults(tw_sim_dgram_opts *o)
{
    if (!o->reorder_delay_ns_max)
        o->reorder_delay_ns_max = TW_MS(1);
    if (!o->corrupt_bits_max)
        o->corrupt_bits_max = 1;
    if (!o->sndbuf_bytes)
        o->sndbuf_bytes = SNDBUF_DEFAULT;
    if (!o->rcvbuf_bytes)
        o->rcvbuf_bytes = RCVBUF_DEFAULT;
    /* size_max_bytes stays 0: it depends on the family of each send */
}

uint32_t sim_dg_size_max(const tw_sim_dgram_opts *o, int family)
{
    if (o->size_max_bytes)
        return o->size_max_bytes;
    return family == AF_INET6 ? UDP6_MAX : UDP4_MAX;
}

/* ------------------------------------------------------------------ */
/* paths                                                               */

/* Overlay's non-zero fields over *o. */
static void overlay(tw_sim_dgram_opts *o, const tw_sim_dgram_opts *f)
{
#define OVER(x) if (f->x) o->x = f->x
    OVER(enobufs_probability);
    OVER(loss_probability);
    OVER(refuse_probability);
    OVER(duplicate_probability);
    OVER(reorder_probability);
    OVER(reorder_delay_ns_max);
    OVER(corrupt_probability);
    OVER(corrupt_bits_max);
    OVER(size_max_bytes);
    OVER(sndbuf_bytes);
    OVER(rcvbuf_bytes);
#undef OVER
}

const tw_sim_dgram_opts *sim_dg_opts_overlaid(tw_sim *sim, const sim_path *p,
                                              const tw_sim_dgram_opts *own,
                                              tw_sim_dgram_opts *scratch)
{
    assert(sim_dg_overlaid(sim, p) && p->dgram_overlay <= sim->dg->noverlays);
    *scratch = *own;
    overlay(scratch, &sim->dg->overlays[p->dgram_overlay - 1]);
    return scratch;
}

/* ------------------------------------------------------------------ */
/* faults                                                              */

bool sim_dgram_fault_ok(const tw_sim_fault *f)
{
    return f->kind != TW_SIM_FAULT_DGRAM || sim_dgram_opts_ok(&f->dgram);
}

static void set_overlay(tw_sim *sim, uint32_t from, uint32_t to, uint32_t idx,
                        tw_ns until)
{
    sim_path *p = sim_path_of(sim, from, to);
    p->dgram_overlay = idx;
    p->dgram_overlay_until = until;
}

/* Paths as a clog picks them: a->b (and b->a unless oneway); b SIM_NONE
 * means every other node (a single-node world: its loopback). */
static void impair(tw_sim *sim, const tw_sim_fault *f, uint32_t a, uint32_t b)
{
    struct sim_dgram *dg = sim->dg;
    if (dg->noverlays >= OVERLAYS_MAX) {
        sim_fail(sim, -ENOBUFS, "too many datagram faults in one world");
        return;
    }
    tw_sim_dgram_opts *ov = realloc(dg->overlays,
                                    (dg->noverlays + 1) * sizeof *ov);
    if (!ov) {
        sim_fail(sim, -ENOMEM, "out of memory for a datagram fault");
        return;
    }
    dg->overlays = ov;
    ov[dg->noverlays++] = f->dgram;
    tw_ns until = f->duration_ns > 0 ? sim->now + f->duration_ns : 0;
    for (uint32_t j = 0; j < sim->nnodes; j++) {
        if (b != SIM_NONE ? j != b : (j == a && sim->nnodes > 1))
            continue;
        set_overlay(sim, a, j, dg->noverlays, until);
        if (!f->oneway)
            set_overlay(sim, j, a, dg->noverlays, until);
    }
}

void sim_dgram_fault(tw_sim *sim, const tw_sim_fault *f, uint32_t a, uint32_t b)
{
    if (f->kind == TW_SIM_FAULT_ENOBUFS)
        sim->nodes[a]->enobufs_left += f->count;
    else
        impair(sim, f, a, b);
}
