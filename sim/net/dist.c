/* sim/net/dist.c - latency distributions, sampled from the world's PRNG.
 *
 * Map: names, the samplers (one per kind), clamping.
 *
 * Each sampler draws a fixed number of values for a given outcome, and all
 * arithmetic goes through sim/prng.c's math, so a sample depends on the
 * seed alone (see twin/sim.h for the formulas).
 */
#include <string.h>

#include "sim/prng.h"

static const char *const names[] = {
    [TW_SIM_DIST_DEFAULT] = "default",   [TW_SIM_DIST_CONSTANT] = "constant",
    [TW_SIM_DIST_UNIFORM] = "uniform",   [TW_SIM_DIST_NORMAL] = "normal",
    [TW_SIM_DIST_EXPONENTIAL] = "exponential",
    [TW_SIM_DIST_PARETO] = "pareto",     [TW_SIM_DIST_BIMODAL] = "bimodal",
};

const char *tw_sim_dist_name(tw_sim_dist_kind kind)
{
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

int tw_sim_dist_parse(const char *name)
{
    if (!name)
        return -EINVAL;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

static tw_ns uniform(tw_sim_prng *p, tw_ns lo, tw_ns hi)
{
    if (hi <= lo)
        return lo;
    return lo + (tw_ns)tw_sim_prng_below(p, (uint64_t)(hi - lo) + 1);
}

/* N(0,1) by Marsaglia's polar method. The loop ends with probability
 * pi/4 per round; 64 rounds bound it (the odds of needing more are
 * below 1e-40). */
static double std_normal(tw_sim_prng *p)
{
    for (int i = 0; i < 64; i++) {
        double u = 2 * tw_sim_prng_double(p) - 1;
        double v = 2 * tw_sim_prng_double(p) - 1;
        double s = u * u + v * v;
        if (s > 0 && s < 1)
            return u * sim_sqrt(-2 * sim_ln(s) / s);
    }
    return 0;
}

/* A double of ns to tw_ns without overflow. */
static tw_ns to_ns(double x)
{
    if (!(x > 0))
        return 0;
    if (x > 9.0e18)
        return INT64_MAX / 2;
    return (tw_ns)(x + 0.5);
}

tw_ns tw_sim_dist_sample(const tw_sim_dist *d, tw_sim_prng *p)
{
    assert(d && p);
    tw_ns x;
    switch (d->kind) {
    case TW_SIM_DIST_UNIFORM:
        x = uniform(p, d->min_ns, d->max_ns);
        break;
    case TW_SIM_DIST_NORMAL:
        x = to_ns((double)d->mean_ns + (double)d->stddev_ns * std_normal(p));
        break;
    case TW_SIM_DIST_EXPONENTIAL: {
        double mean = (double)(d->mean_ns - d->min_ns);
        double u = tw_sim_prng_double(p); /* [0,1): 1-u is in (0,1] */
        x = d->min_ns + to_ns(-mean * sim_ln(1 - u));
        break;
    }
    case TW_SIM_DIST_PARETO: {
        double alpha = d->alpha > 0 ? d->alpha : 1.5;
        double u = 1 - tw_sim_prng_double(p);
        x = to_ns((double)d->min_ns * sim_exp(-sim_ln(u) / alpha));
        break;
    }
    case TW_SIM_DIST_BIMODAL:
        if (tw_sim_prng_chance(p, d->slow_probability))
            x = uniform(p, d->slow_min_ns, d->slow_max_ns);
        else
            x = uniform(p, d->min_ns, d->max_ns);
        break;
    case TW_SIM_DIST_CONSTANT:
    case TW_SIM_DIST_DEFAULT:
    default:
        x = d->min_ns;
        break;
    }
    if (x < d->min_ns)
        x = d->min_ns;
    if (d->max_ns > 0 && x > d->max_ns && d->kind != TW_SIM_DIST_BIMODAL)
        x = d->max_ns;
    if (x < 0)
        x = 0;
    return x;
}
