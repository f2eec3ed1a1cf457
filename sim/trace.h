/* sim/trace.h - the trace (sim/trace.c): each record folded into the
 * run's hash inline, and written out when someone reads the trace.
 */
#ifndef TWIN_SIM_TRACE_H
#define TWIN_SIM_TRACE_H

#include "sim/world.h"

/* trace.c */
void sim_trace_callback(tw_loop *loop, const tw_transport *t, unsigned ev);
uint64_t sim_hash_name(const char *what);
void sim_trace_out(tw_sim *sim, uint32_t node, uint64_t transport,
                   const char *what, int64_t a, int64_t b);
/* trace_fields.c: one record as a line of text (labelled fields, errors
 * and signals by name, durations in human units) or of JSON; the length
 * it would take. True if the record's name is described. */
size_t sim_trace_format(const tw_sim *sim, const char *node, uint64_t transport,
                        const char *what, int64_t a, int64_t b, bool json,
                        char *buf, size_t len);
bool sim_trace_known(const char *what);

/* One trace record: folded into the run's hash, and written out when
 * someone reads the trace. Every simulated run pays for the hash, so it
 * is a few instructions: the fields are spread by independent multiplies
 * (each a bijection), and their sum goes into the running hash with one
 * multiply-and-shift. Whole integer values only, never a pointer or a
 * struct's bytes, so every build of a program agrees. A name's hash is
 * remembered by the name's address, but computed from its text; the
 * protocol callbacks' names are hashed once, when the world is made. */
static inline void sim_trace_fold(tw_sim *sim, uint32_t node, uint64_t transport,
                                  uint64_t name_hash, int64_t a, int64_t b)
{
    uint64_t r = (uint64_t)sim->now * UINT64_C(0x9E3779B97F4A7C15) +
                 ((uint64_t)node << 48 ^ transport) * UINT64_C(0xC2B2AE3D27D4EB4F) +
                 (uint64_t)a * UINT64_C(0x165667B19E3779F9) +
                 (uint64_t)b * UINT64_C(0xD6E8FEB86659FD93) + name_hash;
    uint64_t x = (sim->hash ^ r) * UINT64_C(0xFF51AFD7ED558CCD);
    sim->hash = x ^ (x >> 32);
    sim->stats.records++;
}
static inline void sim_trace(tw_sim *sim, uint32_t node, uint64_t transport,
                             const char *what, int64_t a, int64_t b)
{
    uintptr_t addr = (uintptr_t)what;
    sim_name_cache *c = &sim->names[(addr ^ (addr >> 7)) % SIM_NAME_CACHE];
    if (__builtin_expect(c->name != what, 0)) {
        c->name = what;
        c->hash = sim_hash_name(what);
    }
    sim_trace_fold(sim, node, transport, c->hash, a, b);
    if (__builtin_expect(sim->tracing, 0))
        sim_trace_out(sim, node, transport, what, a, b);
}

#endif
