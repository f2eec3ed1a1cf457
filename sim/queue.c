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

static bool ev_less(const sim_event *a, const sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static int ring_push(sim_queue *q, const sim_event *ev)
{
    if (q->r_len == q->r_cap) {
        if (q->len + q->r_len >= q->max)
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
    }
    /* A power-of-two ring (the masks above), in FIFO order: an event
     * due now queues behind every one queued before it. */
    assert(q->r_cap && (q->r_cap & (q->r_cap - 1)) == 0 && q->r_len < q->r_cap);
    assert(!ev->bg);
    assert(q->r_len == 0 ||
           q->ring[(q->r_head + q->r_len - 1) & (q->r_cap - 1)].seq < ev->seq);
    q->ring[(q->r_head + q->r_len++) & (q->r_cap - 1)] = *ev;
    if (!ev->bg)
        q->fg++;
    assert(q->fg <= q->len + q->r_len);
    return 0;
}

static int queue_push(sim_queue *q, const sim_event *ev)
{
    if (q->len == q->cap) {
        if (q->cap >= q->max || q->len + q->r_len >= q->max)
            return -ENOBUFS;
        uint32_t cap = q->cap ? q->cap * 2 : 256;
        if (cap > q->max)
            cap = q->max;
        sim_event *h = realloc(q->heap, (size_t)cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        q->heap = h;
        q->cap = cap;
    }
    uint32_t pos = q->len++;
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!ev_less(ev, &q->heap[parent]))
            break;
        q->heap[pos] = q->heap[parent];
        pos = parent;
    }
    q->heap[pos] = *ev;
    if (!ev->bg)
        q->fg++;
    /* The heap property where it came to rest: its parent is not later. */
    assert(pos == 0 || !ev_less(&q->heap[pos], &q->heap[(pos - 1) / 2]));
    assert(q->len <= q->cap && q->fg <= q->len + q->r_len);
    return 0;
}

bool sim_pop(sim_queue *q, tw_ns now, sim_event *out)
{
    if (q->r_len && !(q->len && q->heap[0].time <= now)) {
        /* The ring holds what was queued for the current instant: the
         * clock does not move on while it has any. */
        assert(q->ring[q->r_head].time == now);
        *out = q->ring[q->r_head];
        q->r_head = (q->r_head + 1) & (q->r_cap - 1);
        q->r_len--;
        if (!out->bg) {
            assert(q->fg > 0);
            q->fg--;
        }
        return true;
    }
    if (q->len == 0)
        return false;
    /* A foreground heap event of the current instant was queued before
     * the clock got there, so before anything in the ring. */
    assert(!q->r_len || q->heap[0].bg || q->heap[0].time < now ||
           q->heap[0].seq < q->ring[q->r_head].seq);
    *out = q->heap[0];
    if (!out->bg) {
        assert(q->fg > 0);
        q->fg--;
    }
    sim_event last = q->heap[--q->len];
    uint32_t pos = 0;
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = l;
        if (l >= q->len)
            break;
        if (r < q->len && ev_less(&q->heap[r], &q->heap[l]))
            m = r;
        if (!ev_less(&q->heap[m], &last))
            break;
        q->heap[pos] = q->heap[m];
        pos = m;
    }
    if (q->len)
        q->heap[pos] = last;
    /* Where the last entry came to rest no child is earlier, and the
     * new top is not earlier than what was taken: pops never go back. */
    assert(pos >= q->len || 2 * pos + 1 >= q->len ||
           !ev_less(&q->heap[2 * pos + 1], &q->heap[pos]));
    assert(pos >= q->len || 2 * pos + 2 >= q->len ||
           !ev_less(&q->heap[2 * pos + 2], &q->heap[pos]));
    assert(q->len == 0 || !ev_less(&q->heap[0], out));
    return true;
}

static int push(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
                uint32_t gen, uint64_t arg, bool bg)
{
    assert(type >= EV_ARRIVE && type < EV__END);
    assert(!bg || obj == SIM_NONE);
    if (when < sim->now)
        when = sim->now;
    sim_event ev = {.time = when, .seq = sim->seq++, .arg = arg,
                    .obj = obj, .gen = gen, .type = type, .bg = bg};
    /* Background events stay in the heap: the clock may jump past them. */
    int rc = when == sim->now && !bg ? ring_push(&sim->q, &ev)
                                      : queue_push(&sim->q, &ev);
    if (rc < 0)
        sim_fail(sim, rc, "event queue full (raise tw_sim_opts.events_max)");
    return rc;
}

int sim_push(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
             uint32_t gen, uint64_t arg)
{
    return push(sim, when, type, obj, gen, arg, false);
}

int sim_push_bg(tw_sim *sim, tw_ns when, uint8_t type, uint64_t arg)
{
    return push(sim, when, type, SIM_NONE, 0, arg, true);
}

int sim_push_seq(tw_sim *sim, tw_ns when, uint64_t seq, uint8_t type,
                 uint32_t obj, uint32_t gen, uint64_t arg)
{
    assert(type >= EV_ARRIVE && type < EV__END);
    assert(when >= sim->now && seq < sim->seq);
    sim_event ev = {.time = when, .seq = seq, .arg = arg,
                    .obj = obj, .gen = gen, .type = type, .bg = false};
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
