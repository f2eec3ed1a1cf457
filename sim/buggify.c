/* sim/buggify.c - fault points placed by protocol code (twin/buggify.h).
 *
 * A site is its file's base name and line. Whether a site is enabled for a
 * run is a pure function of (seed, site): no registration order, no
 * addresses, so adding a site elsewhere does not move this one. Whether an
 * enabled site fires on a given call is drawn from the buggify stream.
 */
#include <string.h>

#include "sim/trace.h"
#include "sim/world.h"
#include "twin/mix.h"
#include "twin/buggify.h"

int tw__buggify_worlds;


bool tw__buggify(tw_loop *loop, const char *file, int line)
{
    tw_sim *sim = tw_sim_of(loop);
    if (!sim || !sim->opts.buggify)
        return false;
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (const char *s = base; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    uint64_t site = tw_mix64(sim->seed ^ tw_mix64(h ^ (uint64_t)line));
    double u = (double)(site >> 11) * 0x1.0p-53;
    if (u >= sim->opts.buggify_site_probability)
        return false;
    if (!tw_sim_prng_chance(&sim->rng_bug, sim->opts.buggify_fire_probability))
        return false;
    sim_node *n = sim_node_of(loop);
    sim_trace(sim, n->id, 0, "buggify", line, 0);
    return true;
}
