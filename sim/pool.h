/* sim/pool.h - objects of one size in blocks (sim/pool.c), for what the
 * simulator keeps by the hundred thousand: stream endpoints, and the
 * segments in flight.
 *
 * A block holds many objects, so an object costs its size alone: no
 * malloc header, no rounding up to malloc's 16 bytes. A freed object goes
 * on the pool's free list and is the next one handed out; blocks are
 * released with the pool only, so a pool holds its peak until the world
 * is freed (a peak bounded by the endpoints and their windows). Under AddressSanitizer every object is a
 * malloc of its own instead, so that a use after free is still caught.
 */
#ifndef TWIN_SIM_POOL_H
#define TWIN_SIM_POOL_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SIM_POOL_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_POOL_MALLOC 1
#endif
#endif
#ifndef SIM_POOL_MALLOC
#define SIM_POOL_MALLOC 0
#endif

typedef struct sim_pool {
    size_t size;        /* of an object: a multiple of 8 */
    uint32_t per_block; /* objects a block holds */
    uint32_t used;      /* objects handed out of the newest block */
    uint8_t **blocks;
    uint32_t nblocks, capblocks;
    void *free;         /* freed objects, chained through their first word */
    uint64_t live;      /* objects handed out and not freed */
} sim_pool;

/* A pool of objects of size bytes, per_block to a block. */
void sim_pool_init(sim_pool *p, size_t size, uint32_t per_block);
/* Every block goes: objects still out are gone with them. */
void sim_pool_fini(sim_pool *p);
/* The out-of-line halves of the two below: a new object when the free
 * list is empty (or every object under AddressSanitizer); freeing one
 * under AddressSanitizer. */
void *sim_pool_get_more(sim_pool *p);
void sim_pool_free(sim_pool *p, void *o);

/* An object, uninitialised; NULL: out of memory. Inline: the last object
 * freed, while there is one (per message, a segment comes and goes). */
static inline void *sim_pool_get(sim_pool *p)
{
    void *o = p->free;
    if (SIM_POOL_MALLOC || !o)
        return sim_pool_get_more(p);
    memcpy(&p->free, o, sizeof p->free);
    p->live++;
    return o;
}
/* o, from p, is free again. */
static inline void sim_pool_put(sim_pool *p, void *o)
{
    if (SIM_POOL_MALLOC) {
        sim_pool_free(p, o);
        return;
    }
    assert(o && p->live > 0);
    p->live--;
    memcpy(o, &p->free, sizeof p->free);
    p->free = o;
}

#endif
