/* sim/prng.c - the one PRNG of the simulator, and the math it needs.
 *
 * Map:
 *   splitmix64     seeds the state (and derives independent streams)
 *   xoshiro256**   the generator itself
 *   derived draws  below(n), double, chance
 *   (a feed of bytes, when set, steers each draw: schedule fuzzing)
 *   math           ln, exp, sqrt with + - * / only
 *
 * The generator and its seeding are spelled out in twin/sim.h so that a
 * seed printed by one build means the same run to any other build. The math
 * is ours rather than libm's because a libm update or a different build
 * must not move a latency sample by one ulp: that would change the run.
 */
#include <string.h>

#include "sim/prng.h"
#include "twin/mix.h"

void tw_sim_prng_seed(tw_sim_prng *p, uint64_t seed, unsigned stream)
{
    assert(p);
    tw_xoshiro_seed(p->s, seed, stream);
    p->feed = NULL;
    /* splitmix64 never yields four zero words in a row, but the all-zero
     * state is xoshiro's one fixed point: make sure. */
    assert(p->s[0] | p->s[1] | p->s[2] | p->s[3]);
}

/* The generator and the derived draws live in sim/prng.h, inline for the
 * simulator's own hot paths; these are the public names for them. */
uint64_t tw_sim_prng_next(tw_sim_prng *p) { return sim_next(p); }
uint64_t tw_sim_prng_below(tw_sim_prng *p, uint64_t n) { return sim_below(p, n); }
double tw_sim_prng_double(tw_sim_prng *p) { return sim_double(p); }
bool tw_sim_prng_chance(tw_sim_prng *p, double prob) { return sim_chance(p, prob); }

/* ---- math ---- */

#define LN2 0.69314718055994530942

/* x = m * 2^e with m in [1, 2), read from the bits: no frexp needed. */
static double split_exp(double x, int *e)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    int ex = (int)((b >> 52) & 0x7ff);
    assert(ex != 0 && ex != 0x7ff); /* callers pass normal numbers */
    *e = ex - 1023;
    b = (b & ~(UINT64_C(0x7ff) << 52)) | (UINT64_C(1023) << 52);
    double m;
    memcpy(&m, &b, sizeof m);
    return m;
}

static double pow2i(int k)
{
    assert(k > -1023 && k < 1024);
    uint64_t b = (uint64_t)(k + 1023) << 52;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

double sim_ln(double x)
{
    assert(x > 0);
    if (x < 0x1.0p-1000)
        x = 0x1.0p-1000; /* keep it normal; latencies never care */
    int e;
    double m = split_exp(x, &e);
    if (m > 1.41421356237309504880) { /* centre m on 1 for a fast series */
        m *= 0.5;
        e++;
    }
    /* ln m = 2 atanh(z), z = (m-1)/(m+1), |z| < 0.172 */
    double z = (m - 1) / (m + 1), z2 = z * z, term = z, sum = 0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2 * sum + e * LN2;
}

double sim_exp(double x)
{
    if (x > 700)
        x = 700;
    if (x < -700)
        return 0;
    /* x = k ln2 + r, |r| <= ln2/2; e^r by Taylor, 2^k by the bits. */
    int k = (int)(x / LN2 + (x < 0 ? -0.5 : 0.5));
    double r = x - k * LN2, term = 1, sum = 1;
    for (int i = 1; i < 25; i++) {
        term *= r / i;
        sum += term;
    }
    return sum * pow2i(k);
}

double sim_sqrt(double x)
{
    assert(x >= 0);
    if (x == 0)
        return 0;
    int e;
    double m = split_exp(x, &e);
    if (e & 1) { /* make the exponent even */
        m *= 2;
        e--;
    }
    double y = (m + 1) * 0.5; /* m in [1, 4): Newton converges fast */
    for (int i = 0; i < 8; i++)
        y = 0.5 * (y + m / y);
    return y * pow2i(e / 2);
}
