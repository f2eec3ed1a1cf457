/* twin/mix.h - one 64-bit mixer for values derived from (seed, index).
 *
 * tw_mix64 is splitmix64's step: add the golden-ratio increment, then its
 * finalizer. Equal inputs give equal outputs on every build and machine,
 * so a workload that derives message i's length and bytes as
 * tw_mix64(seed ^ i) replays exactly, on both backends. It is the mixer
 * behind the simulator's seeding (twin/sim.h spells out the generator).
 * Not for secrets.
 */
#ifndef TWIN_MIX_H
#define TWIN_MIX_H

#include <stdint.h>

static inline uint64_t tw_mix64(uint64_t z)
{
    z += UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* xoshiro256**, the generator twin/sim.h spells out: its state filled
 * from (seed, stream) by splitmix64, and one step. For code that needs a
 * world's draws without a world (the simulator's own streams use them). */
static inline void tw_xoshiro_seed(uint64_t s[4], uint64_t seed, unsigned stream)
{
    uint64_t x = seed ^ (UINT64_C(0x632be59bd9b4e019) * ((uint64_t)stream + 1));
    for (int i = 0; i < 4; i++) {
        s[i] = tw_mix64(x);
        x += UINT64_C(0x9e3779b97f4a7c15);
    }
}

static inline uint64_t tw__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t tw_xoshiro_next(uint64_t s[4])
{
    uint64_t result = tw__rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = tw__rotl64(s[3], 45);
    return result;
}

#endif
