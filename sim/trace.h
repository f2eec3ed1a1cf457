/* sim/trace.h - the trace (sim/trace.c): each record folded into the
 * run's hash inline, and written out when someone reads the trace.
 */
#ifndef TWIN_SIM_TRACE_H
#define TWIN_SIM_TRACE_H

#include "sim/world.h"

/* One step of a name's hash (sim_hash_name, SIM_LIT_HASH): h with the
 * next word v folded in. */
static inline uint64_t sim_mix_const(uint64_t h, uint64_t v)
{
    uint64_t x = (h ^ v) * UINT64_C(0x9E3779B97F4A7C15);
    return x ^ (x >> 31);
}

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
/* The world's settings, a few lines (tw_sim_print_summary's, after its
 * first): what a trace starts with. */
void sim_print_settings(const tw_sim *sim, FILE *f);

/* One trace record: folded into the run's hash, and written out when
 * someone reads the trace. Every simulated run pays for the hash, so it
 * is a few instructions: the fields are spread by independent multiplies
 * by odd 32-bit constants (each a bijection, and one instruction), and
 * their sum goes into the running hash with one multiply and a rotate
 * (a bijection too: two runs that differ in one record differ in the
 * hash). Whole integer values only, never a pointer or a
 * struct's bytes, so every build of a program agrees. A name's hash is
 * remembered by the name's address, but computed from its text; the
 * protocol callbacks' names are hashed once, when the world is made. */
static inline void sim_trace_fold(tw_sim *sim, uint32_t node, uint64_t transport,
                                  uint64_t name_hash, int64_t a, int64_t b)
{
    uint64_t r = (uint64_t)sim->now * UINT64_C(0x7FEB352D) +
                 ((uint64_t)node << 48 ^ transport) * UINT64_C(0x6C8E9CF5) +
                 (uint64_t)a * UINT64_C(0x27D4EB2F) +
                 (uint64_t)b * UINT64_C(0x165667B1) + name_hash;
    uint64_t x = (sim->hash ^ r) * UINT64_C(0xFF51AFD7ED558CCD);
    sim->hash = x << 32 | x >> 32;
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

/* sim_hash_name of a string literal of up to 16 characters, as an
 * expression the compiler folds into a constant; the records the
 * per-message paths make are named this way and pay no lookup. */
#define SIM_LIT_C_(s, i) \
    ((i) < sizeof(s) - 1 ? (uint64_t)(uint8_t)(s)[(i) < sizeof(s) - 1 ? (i) : 0] << (8 * ((i) % 8)) : 0)
#define SIM_LIT_W_(s, k)                                                            \
    (SIM_LIT_C_(s, 8 * (k) + 0) | SIM_LIT_C_(s, 8 * (k) + 1) | SIM_LIT_C_(s, 8 * (k) + 2) | \
     SIM_LIT_C_(s, 8 * (k) + 3) | SIM_LIT_C_(s, 8 * (k) + 4) | SIM_LIT_C_(s, 8 * (k) + 5) | \
     SIM_LIT_C_(s, 8 * (k) + 6) | SIM_LIT_C_(s, 8 * (k) + 7))
#define SIM_LIT_HASH(s)                                                             \
    sim_mix_const(sizeof(s) - 1 > 8   ? sim_mix_const(sim_mix_const(0, SIM_LIT_W_(s, 0)), \
                                                      SIM_LIT_W_(s, 1))                \
                  : sizeof(s) - 1 > 0 ? sim_mix_const(0, SIM_LIT_W_(s, 0))             \
                                      : 0,                                           \
                  sizeof(s) - 1)
/* sim_trace, for `what` a string literal of up to 16 characters. */
#define SIM_TRACE(sim, node, transport, what, a, b)                                 \
    do {                                                                            \
        _Static_assert(sizeof(what) <= 17, "a literal of up to 16 characters");     \
        tw_sim *s_ = (sim);                                                         \
        sim_trace_fold(s_, (node), (transport), SIM_LIT_HASH(what), (a), (b));      \
        if (__builtin_expect(s_->tracing, 0))                                       \
            sim_trace_out(s_, (node), (transport), what, (a), (b));                 \
    } while (0)

#endif
