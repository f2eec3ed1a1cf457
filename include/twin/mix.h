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

#endif
