/* sim/queue.c - the world's event queue and the object tables.
 *
 * Map:
 *   queue   a binary min-heap of events ordered by (time, seq); seq is a
 *           world-wide counter, so events at the same virtual time run in
 *           the order they were scheduled: deterministic, never by address
 *   tables  (pointer, generation) slots that events name by index; a freed
 *           slot's generation moves on so stale events miss
 */
#include <stdlib.h>
#include <string.h>

#include "sim/queue.h"
#include "sim/world.h"

/* ---- queue ---- */

int sim_queue_init(sim_queue *q, uint32_t max)
{
    /* seq is key's high bits, as the order of events relies on. */
    assert((sim_event){.seq = 1}.key == 1u << 8 && (sim_event){.bg = 1}.key == 1u << 7);
    memset(q, 0, sizeof *q);
    q->max = max;
    return 0;
}

void sim_queue_fini(sim_queue *q)
{
    free(q->heap);
    free(q->ring);
    memset(q, 0, sizeof *q);
}

/* Room for one more in the ring (rare: the ring doubles). */
static __attribute__((noinline)) int ring_grow(sim_queue *q)
{
    if (sim_queued(q) >= q->max)
        return -ENOBUFS;
    uint32_t cap = q->r_cap ? q->r_cap * 2 : 64;
    sim_event *r = malloc((size_t)cap * sizeof *r);
    if (!r)
        return -ENOMEM;
    for (uint32_t i = 0; i < q->r_len; i++)
        r[i] = q->ring[(q->r_head + i) & (q->r_cap - 1)];
    free(q->ring);
    q->ring = r;
    q->r_cap = cap;
    q->r_head = 0;
    return 0;
}

/* Room for one more in the heap (rare: the heap doubles). */
static __attribute__((noinline)) int heap_grow(sim_queue *q)
{
    if (q->cap >= q->max || sim_queued(q) >= q->max)
        return -ENOBUFS;
    uint32_t cap = q->cap ? q->cap * 2 : 256;
    if (cap > q->max)
        cap = q->max;
    sim_event *h = realloc(q->heap, (size_t)cap * sizeof *h);
    if (!h)
        return -ENOMEM;
    q->heap = h;
    q->cap = cap;
    return 0;
}

static int queue_push(sim_queue *q, const sim_event *ev)
{
    if (q->len == q->cap) {
        int rc = heap_grow(q);
        if (rc < 0)
            return rc;
    }
    sim_timed_insert(q, ev);
    return 0;
}

void sim_timed_insert_heap(sim_queue *q, const sim_event *ev)
{
    assert(q->len < q->cap);
    q->fg += !ev->bg;
    if (q->has_first && sim_ev_before(ev, &q->first)) {
        sim_heap_insert(q, &q->first);
        q->first = *ev;
    } else {
        sim_heap_insert(q, ev);
    }
    /* first, when there is one, is earlier than the heap's top */
    assert(!q->has_first || !q->len || sim_ev_before(&q->first, &q->heap[0]));
    assert(q->fg <= q->len + q->r_len + q->has_first);
}

bool sim_pop(sim_queue *q, tw_ns now, sim_event *out)
{
    const sim_event *head = sim_peek(q, now);
    if (!head)
        return false;
    sim_take(q, head, out);
    return true;
}

void sim_heap_take(sim_queue *q, sim_event *out)
{
    assert(q->len > 0 && !q->has_first); /* first is earlier than the top */
    sim_event *h = q->heap;
    *out = h[0];
    assert(out->bg || q->fg > 0);
    q->fg -= !out->bg;
    const uint32_t len = --q->len;
    if (len == 0)
        return; /* it was the only one */
    const sim_event last = h[len];
    uint32_t pos = 0;
    for (;;) { /* sift the last entry down from the top */
        uint32_t l = 2 * pos + 1, m = l;
        if (l >= len)
            break;
        if (l + 1 < len && sim_ev_before(&h[l + 1], &h[l]))
            m = l + 1;
        if (!sim_ev_before(&h[m], &last))
            break;
        h[pos] = h[m];
        pos = m;
    }
    h[pos] = last;
    /* Where the last entry came to rest no child is earlier, and the
     * new top is not earlier than what was taken: pops never go back. */
    assert(pos >= len || 2 * pos + 1 >= len || !sim_ev_before(&h[2 * pos + 1], &h[pos]));
    assert(pos >= len || 2 * pos + 2 >= len || !sim_ev_before(&h[2 * pos + 2], &h[pos]));
    assert(!sim_ev_before(&h[0], out));
}

int sim_push_out(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
                 uint32_t gen, uint64_t arg)
{
    sim_queue *q = &sim->q;
    bool ring = when <= sim->now;
    assert(ring ? q->r_len == q->r_cap : q->len == q->cap);
    int rc = ring ? ring_grow(q) : heap_grow(q);
    if (rc < 0) {
        sim_fail(sim, rc, "event queue full (raise tw_sim_opts.events_max)");
        return rc;
    }
    return sim_push(sim, when, type, obj, gen, arg); /* with room now */
}

/* Background events stay in the heap, even when due now: the clock may
 * jump past them. */
int sim_push_bg(tw_sim *sim, tw_ns when, uint8_t type, uint64_t arg)
{
    assert(type >= EV_ARRIVE && type < EV__END && sim->seq <= SIM_SEQ_MAX);
    if (when < sim->now)
        when = sim->now;
    sim_event ev = {.time = when, .key = sim->seq++ << 8 | 1u << 7 | type,
                    .arg = arg, .obj = SIM_NONE, .gen = 0};
    assert(ev.bg);
    int rc = queue_push(&sim->q, &ev);
    if (rc < 0)
        sim_fail(sim, rc, "event queue full (raise tw_sim_opts.events_max)");
    return rc;
}

int sim_push_seq(tw_sim *sim, tw_ns when, uint64_t seq, uint8_t type,
                 uint32_t obj, uint32_t gen, uint64_t arg)
{
    assert(type >= EV_ARRIVE && type < EV__END);
    assert(when >= sim->now && seq < sim->seq);
    sim_event ev = {.time = when, .key = seq << 8 | type,
                    .arg = arg, .obj = obj, .gen = gen};
    int rc = queue_push(&sim->q, &ev);
    if (rc < 0)
        sim_fail(sim, rc, "event queue full (raise tw_sim_opts.events_max)");
    return rc;
}

/* ---- tables ---- */

int sim_table_init(sim_table *t, uint32_t max)
{
    memset(t, 0, sizeof *t);
    t->max = max;
    t->free_head = SIM_NONE;
    return 0;
}

void sim_table_fini(sim_table *t)
{
    free(t->p);
    free(t->gen);
    memset(t, 0, sizeof *t);
}

/* Room for cap ids in both arrays. On failure the table is as it was
 * (an array that did grow keeps its old contents, and cap stays). */
static int table_grow(sim_table *t, uint32_t cap)
{
    assert(cap > t->cap && cap <= t->max);
    void **p = realloc(t->p, (size_t)cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    t->p = p;
    uint32_t *gen = realloc(t->gen, (size_t)cap * sizeof *gen);
    if (!gen)
        return -ENOMEM;
    t->gen = gen;
    t->cap = cap;
    return 0;
}

uint32_t sim_table_add(sim_table *t, void *p)
{
    assert(p);
    uint32_t id;
    if (t->free_head != SIM_NONE) {
        id = t->free_head;
        t->free_head = (uint32_t)(uintptr_t)t->p[id];
        t->gen[id]++; /* even (free) -> odd (live) */
    } else {
        if (t->n == t->cap) {
            if (t->cap >= t->max)
                return SIM_NONE;
            uint32_t cap = t->cap ? t->cap * 2 : 64;
            if (cap > t->max)
                cap = t->max;
            if (table_grow(t, cap) < 0)
                return SIM_NONE;
        }
        id = t->n++;
        t->gen[id] = 1;
    }
    t->p[id] = p;
    t->live++;
    assert((t->gen[id] & 1) && t->live <= t->n && t->n <= t->cap);
    return id;
}

void sim_table_del(sim_table *t, uint32_t id)
{
    assert(id < t->n && t->live > 0);
    /* The free chain goes through p; a freed id is told apart from a
     * live one by its generation (odd: live, even: free). */
    assert(t->gen[id] & 1);
    t->gen[id]++;
    t->p[id] = (void *)(uintptr_t)t->free_head;
    t->free_head = id;
    t->live--;
    assert(!(t->gen[id] & 1) && t->live < t->n);
}
