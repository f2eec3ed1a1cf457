/* sim/pool.c - objects of one size in blocks (sim/pool.h). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "sim/pool.h"

void sim_pool_init(sim_pool *p, size_t size, uint32_t per_block)
{
    assert(size >= sizeof(void *) && size % 8 == 0 && per_block > 0);
    memset(p, 0, sizeof *p);
    p->size = size;
    p->per_block = per_block;
    p->used = per_block; /* no block yet: the first get makes one */
}

void sim_pool_fini(sim_pool *p)
{
    for (uint32_t i = 0; i < p->nblocks; i++)
        free(p->blocks[i]);
    free(p->blocks);
    size_t size = p->size;
    uint32_t per_block = p->per_block;
    sim_pool_init(p, size, per_block);
}

void *sim_pool_get_more(sim_pool *p)
{
    if (SIM_POOL_MALLOC) {
        void *o = malloc(p->size);
        p->live += o != NULL;
        return o;
    }
    assert(!p->free); /* sim_pool_get took the free list's first */
    void *o;
    if (p->used == p->per_block) {
        if (p->nblocks == p->capblocks) {
            uint32_t cap = p->capblocks ? 2 * p->capblocks : 16;
            uint8_t **b = realloc(p->blocks, cap * sizeof *b);
            if (!b)
                return NULL;
            p->blocks = b;
            p->capblocks = cap;
        }
        uint8_t *block = malloc(p->size * p->per_block);
        if (!block)
            return NULL;
        p->blocks[p->nblocks++] = block;
        p->used = 0;
    }
    assert(p->nblocks > 0 && p->used < p->per_block);
    o = p->blocks[p->nblocks - 1] + p->size * p->used++;
    p->live++;
    return o;
}

void sim_pool_free(sim_pool *p, void *o)
{
    assert(SIM_POOL_MALLOC && o && p->live > 0);
    p->live--;
    free(o);
}
