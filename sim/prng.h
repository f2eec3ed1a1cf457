/* sim/prng.h - the PRNG's inline parts and the simulator's own math
 * (sim/prng.c).
 */
#ifndef TWIN_SIM_PRNG_H
#define TWIN_SIM_PRNG_H

#include "core/internal.h"
#include "twin/mix.h"
#include "twin/sim.h"

/* prng.c: the generator (twin/sim.h spells it out; its step is
 * twin/mix.h's), inline here for the hot paths; tw_sim_prng_* are the
 * same functions by their public names */
static inline uint64_t sim_next(tw_sim_prng *p)
{
    uint64_t result = tw_xoshiro_next(p->s);
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

/* prng.c: the simulator's own math, + - * / only */
double sim_ln(double x);
double sim_exp(double x);
double sim_sqrt(double x);

#endif
