/* core/loop.c - the backend-independent half of every loop.
 *
 * Map:
 *   slots      one table of scheduled callbacks; a handle is (gen, index)
 *              so a stale handle never cancels a newer callback
 *   ready      FIFO ring of slot indices to run in the next iteration
 *   timers     binary heap of slot indices ordered by (when, seq): equal
 *              deadlines run in scheduling order, which the simulator's
 *              determinism relies on
 *   inbox      call_soon_threadsafe: a locked vector, drained each turn
 *   run        the generic run loop over the backend's poll()
 *   lists      the intrusive list used for transports and servers
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define NO_SLOT UINT32_MAX

/* ---- lists ---- */

void tw__list_init(tw__list *l) { l->prev = l->next = l; }

void tw__list_push(tw__list *head, tw__list *item)
{
    item->next = head;
    item->prev = head->prev;
    head->prev->next = item;
    head->prev = item;
}

void tw__list_remove(tw__list *item)
{
    item->prev->next = item->next;
    item->next->prev = item->prev;
    item->prev = item->next = item;
}

/* ---- slots ---- */

static uint32_t slot_alloc(tw_loop *loop)
{
    uint32_t idx;
    if (loop->free_head != NO_SLOT) {
        idx = loop->free_head;
        assert(idx < loop->nslots && loop->slots[idx].state == TW__SLOT_FREE);
        loop->free_head = (uint32_t)(uintptr_t)loop->slots[idx].arg;
    } else {
        if (loop->nslots == loop->capslots) {
            uint32_t cap = loop->capslots ? loop->capslots * 2 : 64;
            if (cap > TW__SLOTS_MAX)
                return NO_SLOT;
            tw__slot *s = realloc(loop->slots, cap * sizeof *s);
            if (!s)
                return NO_SLOT;
            loop->slots = s;
            loop->capslots = cap;
        }
        idx = loop->nslots++;
        loop->slots[idx].gen = 1;
    }
    tw__slot *s = &loop->slots[idx];
    s->heap_pos = -1;
    s->seq = loop->seq++;
    assert(idx < loop->nslots && loop->nslots <= loop->capslots);
    return idx;
}

static void slot_free(tw_loop *loop, uint32_t idx)
{
    assert(idx < loop->nslots);
    tw__slot *s = &loop->slots[idx];
    assert(s->heap_pos < 0); /* out of the timer heap first */
    s->state = TW__SLOT_FREE;
    s->cb = NULL;
    s->gen++;
    if (s->gen == 0)
        s->gen = 1;
    s->arg = (void *)(uintptr_t)loop->free_head;
    loop->free_head = idx;
}

static tw_handle handle_of(const tw_loop *loop, uint32_t idx)
{
    return ((uint64_t)loop->slots[idx].gen << 32) | (uint64_t)(idx + 1);
}

/* The slot a handle names, or NO_SLOT if it is stale or invalid. */
static uint32_t slot_of(const tw_loop *loop, tw_handle h)
{
    uint64_t low = h & 0xffffffffu;
    if (low == 0 || low > loop->nslots)
        return NO_SLOT;
    uint32_t idx = (uint32_t)(low - 1);
    if (loop->slots[idx].gen != (uint32_t)(h >> 32))
        return NO_SLOT;
    /* A live handle names a slot in use: a freed one moved its gen on. */
    assert(loop->slots[idx].state != TW__SLOT_FREE);
    return idx;
}

/* ---- ready ring ---- */

static int ready_push(tw_loop *loop, uint32_t idx)
{
    if (loop->ready_len == loop->ready_cap) {
        uint32_t cap = loop->ready_cap ? loop->ready_cap * 2 : 64;
        uint32_t *r = malloc(cap * sizeof *r);
        if (!r)
            return -ENOMEM;
        for (uint32_t i = 0; i < loop->ready_len; i++)
            r[i] = loop->ready[(loop->ready_head + i) % loop->ready_cap];
        free(loop->ready);
        loop->ready = r;
        loop->ready_cap = cap;
        loop->ready_head = 0;
    }
    assert(loop->ready_len < loop->ready_cap && loop->ready_head < loop->ready_cap);
    loop->ready[(loop->ready_head + loop->ready_len) % loop->ready_cap] = idx;
    if (loop->ready_len++ == 0 && loop->on_wake)
        loop->on_wake(loop, false);
    return 0;
}

static uint32_t ready_pop(tw_loop *loop)
{
    assert(loop->ready_len > 0);
    uint32_t idx = loop->ready[loop->ready_head];
    loop->ready_head = (loop->ready_head + 1) % loop->ready_cap;
    loop->ready_len--;
    /* Only slots scheduled to run, or cancelled since, wait in the ring. */
    assert(idx < loop->nslots);
    assert(loop->slots[idx].state == TW__SLOT_READY ||
           loop->slots[idx].state == TW__SLOT_CANCELLED);
    return idx;
}

/* ---- timer heap ---- */

static bool heap_less(const tw_loop *loop, uint32_t a, uint32_t b)
{
    const tw__slot *x = &loop->slots[a], *y = &loop->slots[b];
    return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

static void heap_set(tw_loop *loop, uint32_t pos, uint32_t idx)
{
    assert(pos < TW__SLOTS_MAX); /* fits heap_pos */
    loop->heap[pos] = idx;
    loop->slots[idx].heap_pos = (int32_t)pos;
}

static void heap_up(tw_loop *loop, uint32_t pos)
{
    uint32_t idx = loop->heap[pos];
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (!heap_less(loop, idx, loop->heap[parent]))
            break;
        heap_set(loop, pos, loop->heap[parent]);
        pos = parent;
    }
    heap_set(loop, pos, idx);
    /* The heap property where the entry came to rest: its parent is not
     * later; its children were below the entries it passed, so neither. */
    assert(pos == 0 || !heap_less(loop, idx, loop->heap[(pos - 1) / 2]));
}

static void heap_down(tw_loop *loop, uint32_t pos)
{
    uint32_t idx = loop->heap[pos];
    for (;;) {
        uint32_t l = 2 * pos + 1, r = l + 1, m = pos;
        uint32_t best = idx;
        if (l < loop->heap_len && heap_less(loop, loop->heap[l], best)) {
            m = l;
            best = loop->heap[l];
        }
        if (r < loop->heap_len && heap_less(loop, loop->heap[r], best))
            m = r;
        if (m == pos)
            break;
        heap_set(loop, pos, loop->heap[m]);
        pos = m;
    }
    heap_set(loop, pos, idx);
    /* Where it came to rest, no child is earlier than the entry. */
    assert(2 * pos + 1 >= loop->heap_len ||
           !heap_less(loop, loop->heap[2 * pos + 1], idx));
    assert(2 * pos + 2 >= loop->heap_len ||
           !heap_less(loop, loop->heap[2 * pos + 2], idx));
}

static int heap_push(tw_loop *loop, uint32_t idx)
{
    if (loop->heap_len == loop->heap_cap) {
        uint32_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
        uint32_t *h = realloc(loop->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        loop->heap = h;
        loop->heap_cap = cap;
    }
    assert(loop->slots[idx].heap_pos < 0);
    heap_set(loop, loop->heap_len++, idx);
    heap_up(loop, loop->heap_len - 1);
    assert(loop->heap_len <= loop->heap_cap);
    assert(loop->heap[loop->slots[idx].heap_pos] == idx);
    return 0;
}

static void heap_remove(tw_loop *loop, uint32_t idx)
{
    uint32_t pos = (uint32_t)loop->slots[idx].heap_pos;
    assert(pos < loop->heap_len && loop->heap[pos] == idx);
    loop->slots[idx].heap_pos = -1;
    uint32_t last = loop->heap[--loop->heap_len];
    if (pos == loop->heap_len)
        return;
    heap_set(loop, pos, last);
    if (pos > 0 && heap_less(loop, last, loop->heap[(pos - 1) / 2]))
        heap_up(loop, pos);
    else
        heap_down(loop, pos);
}

/* ---- public scheduling ---- */

tw_handle tw_call_soon(tw_loop *loop, tw_callback cb, void *arg)
{
    assert(loop && cb);
    uint32_t idx = slot_alloc(loop);
    if (idx == NO_SLOT)
        return 0;
    if (ready_push(loop, idx) < 0) {
        slot_free(loop, idx);
        return 0;
    }
    tw__slot *s = &loop->slots[idx];
    s->cb = cb;
    s->arg = arg;
    s->state = TW__SLOT_READY;
    return handle_of(loop, idx);
}

tw_handle tw_call_at(tw_loop *loop, tw_ns when, tw_callback cb, void *arg)
{
    assert(loop && cb);
    uint32_t idx = slot_alloc(loop);
    if (idx == NO_SLOT)
        return 0;
    tw__slot *s = &loop->slots[idx];
    s->cb = cb;
    s->arg = arg;
    s->when = when;
    s->state = TW__SLOT_TIMER;
    if (heap_push(loop, idx) < 0) {
        slot_free(loop, idx);
        return 0;
    }
    if (loop->heap[0] == idx && loop->on_wake)
        loop->on_wake(loop, true);
    return handle_of(loop, idx);
}

tw_handle tw_call_later(tw_loop *loop, tw_ns delay, tw_callback cb, void *arg)
{
    if (delay < 0)
        delay = 0;
    tw_ns now = tw_loop_now(loop);
    tw_ns when = delay > INT64_MAX - now ? INT64_MAX : now + delay;
    return tw_call_at(loop, when, cb, arg);
}

int tw_call_soon_threadsafe(tw_loop *loop, tw_callback cb, void *arg)
{
    assert(loop && cb);
    pthread_mutex_lock(&loop->ts_lock);
    if (loop->ts_len == loop->ts_cap) {
        size_t cap = loop->ts_cap ? loop->ts_cap * 2 : 16;
        tw__ts_call *c = realloc(loop->ts_calls, cap * sizeof *c);
        if (!c) {
            pthread_mutex_unlock(&loop->ts_lock);
            return -ENOMEM;
        }
        loop->ts_calls = c;
        loop->ts_cap = cap;
    }
    loop->ts_calls[loop->ts_len++] = (tw__ts_call){cb, arg};
    __atomic_store_n(&loop->ts_pending, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&loop->ts_lock);
    if (loop->ops->wakeup)
        loop->ops->wakeup(loop);
    return 0;
}

int tw_handle_cancel(tw_loop *loop, tw_handle h)
{
    uint32_t idx = slot_of(loop, h);
    if (idx == NO_SLOT)
        return -ENOENT;
    tw__slot *s = &loop->slots[idx];
    switch (s->state) {
    case TW__SLOT_TIMER:
        heap_remove(loop, idx);
        slot_free(loop, idx);
        return 0;
    case TW__SLOT_READY:
        /* still in the ring: skipped and freed when the ring reaches it */
        s->state = TW__SLOT_CANCELLED;
        s->gen++;
        if (s->gen == 0)
            s->gen = 1;
        return 0;
    default:
        return -ENOENT;
    }
}

bool tw_handle_pending(tw_loop *loop, tw_handle h)
{
    uint32_t idx = slot_of(loop, h);
    if (idx == NO_SLOT)
        return false;
    uint8_t st = loop->slots[idx].state;
    return st == TW__SLOT_READY || st == TW__SLOT_TIMER;
}

tw_ns tw_loop_now(tw_loop *loop) { return loop->ops->now(loop); }

uint64_t tw_loop_fd_limit(tw_loop *loop, uint64_t want)
{
    return loop->ops->fd_limit ? loop->ops->fd_limit(loop, want) : UINT64_MAX;
}

tw_ns tw_loop_epoch(tw_loop *loop)
{
    return loop->ops->epoch ? loop->ops->epoch(loop) : TW_EPOCH_VIRTUAL;
}

double tw_loop_time(tw_loop *loop)
{
    return (double)tw_loop_now(loop) / 1e9;
}

/* ---- iteration ---- */

tw_ns tw__loop_next_timer(const tw_loop *loop)
{
    return loop->heap_len ? loop->slots[loop->heap[0]].when : -1;
}

bool tw__loop_has_ready(const tw_loop *loop)
{
    return loop->ready_len > 0 ||
           __atomic_load_n(&loop->ts_pending, __ATOMIC_ACQUIRE);
}

bool tw__loop_idle(const tw_loop *loop)
{
    return loop->alive == 0 && loop->heap_len == 0 && !tw__loop_has_ready(loop);
}

static void drain_inbox(tw_loop *loop)
{
    if (!__atomic_load_n(&loop->ts_pending, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&loop->ts_lock);
    tw__ts_call *calls = loop->ts_calls;
    size_t n = loop->ts_len;
    loop->ts_calls = NULL;
    loop->ts_len = loop->ts_cap = 0;
    __atomic_store_n(&loop->ts_pending, 0, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&loop->ts_lock);
    /* A call the ready queue cannot take (out of memory) is lost: the
     * library does not print, it counts (tw_loop_dropped_calls). */
    for (size_t i = 0; i < n; i++)
        if (!tw_call_soon(loop, calls[i].cb, calls[i].arg))
            loop->ts_dropped++;
    free(calls);
}

uint32_t tw__loop_run_ready(tw_loop *loop)
{
    drain_inbox(loop);
    if (loop->heap_len) {
        tw_ns now = tw_loop_now(loop);
        uint32_t prev = NO_SLOT; /* the timer moved just before */
        while (loop->heap_len && loop->slots[loop->heap[0]].when <= now) {
            uint32_t idx = loop->heap[0];
            /* Due timers leave in (when, seq) order: the heap's top is
             * never earlier than the one taken before it. */
            assert(loop->slots[idx].state == TW__SLOT_TIMER);
            assert(prev == NO_SLOT || !heap_less(loop, idx, prev));
            prev = idx;
            (void)prev; /* read by assertions only */
            heap_remove(loop, idx);
            if (TW__REC_ON(loop))
                tw__rec_timer(loop, loop->slots[idx].when);
            loop->slots[idx].state = TW__SLOT_READY;
            if (ready_push(loop, idx) < 0) { /* keep it: retry next turn */
                loop->slots[idx].state = TW__SLOT_TIMER;
                heap_push(loop, idx);
                break;
            }
        }
    }
    /* Only what is ready now: callbacks scheduled from here on wait for
     * the next iteration, so I/O is never starved. */
    uint32_t n = loop->ready_len, ran = 0;
    while (n--) {
        uint32_t idx = ready_pop(loop);
        tw__slot *s = &loop->slots[idx];
        if (s->state == TW__SLOT_CANCELLED) {
            slot_free(loop, idx);
            continue;
        }
        tw_callback cb = s->cb;
        void *arg = s->arg;
        slot_free(loop, idx); /* before the call: pending() is false inside */
        cb(arg);
        ran++;
    }
    return ran;
}

tw_callback tw__loop_next_callback(const tw_loop *loop)
{
    for (uint32_t i = 0; i < loop->ready_len; i++) {
        const tw__slot *s = &loop->slots[loop->ready[(loop->ready_head + i) %
                                                     loop->ready_cap]];
        if (s->state == TW__SLOT_READY)
            return s->cb;
    }
    return loop->heap_len ? loop->slots[loop->heap[0]].cb : NULL;
}

void tw__loop_set_wbuf_alarm(tw_loop *loop,
                             void (*fn)(tw_loop *, tw_transport *, size_t,
                                        size_t),
                             size_t max, uint32_t over_high)
{
    loop->on_wbuf_alarm = fn;
    loop->wbuf_alarm_max = max;
    loop->wbuf_alarm_over_high = over_high;
    for (tw__list *l = loop->transports.next; l != &loop->transports; l = l->next)
        tw__transport_wbuf_alarm_arm(tw__container_of(l, tw_transport, link));
}

static int run_generic(tw_loop *loop, tw_ns deadline)
{
    int rc = 0;
    for (;;) {
        if (tw__loop_idle(loop) || (!loop->stopping && deadline >= 0 &&
                                    tw_loop_now(loop) >= deadline))
            break;
        tw_ns timeout = -1;
        if (loop->stopping || tw__loop_has_ready(loop)) {
            timeout = 0;
        } else {
            tw_ns now = tw_loop_now(loop);
            tw_ns next = tw__loop_next_timer(loop);
            if (next >= 0)
                timeout = next > now ? next - now : 0;
            if (deadline >= 0) {
                tw_ns left = deadline > now ? deadline - now : 0;
                if (timeout < 0 || left < timeout)
                    timeout = left;
            }
        }
        rc = loop->ops->poll(loop, timeout);
        if (rc < 0)
            break;
        tw__loop_run_ready(loop);
        if (loop->stopping)
            break;
    }
    loop->stopping = false;
    return rc;
}

static int run(tw_loop *loop, tw_ns deadline)
{
    if (loop->running)
        return -EBUSY;
    loop->running = true;
    int rc = loop->ops->run ? loop->ops->run(loop, deadline)
                            : run_generic(loop, deadline);
    loop->running = false;
    return rc;
}

int tw_loop_run(tw_loop *loop) { return run(loop, -1); }

int tw_loop_run_for(tw_loop *loop, tw_ns duration)
{
    tw_ns now = tw_loop_now(loop);
    if (duration < 0)
        duration = 0;
    return run(loop, duration > INT64_MAX - now ? INT64_MAX : now + duration);
}

void tw_loop_stop(tw_loop *loop) { loop->stopping = true; }

const char *tw_loop_backend(const tw_loop *loop) { return loop->ops->name; }

unsigned tw_loop_alive(const tw_loop *loop) { return loop->alive; }

uint64_t tw_loop_dropped_calls(const tw_loop *loop) { return loop->ts_dropped; }

void tw_loop_set_contract_check(tw_loop *loop, bool on)
{
    loop->contract_on = on;
    if (!on)
        loop->contract_strict = false;
}

void tw_loop_set_contract_strict(tw_loop *loop, bool on)
{
    loop->contract_strict = on;
    if (on)
        loop->contract_on = true;
}

bool tw_loop_contract_strict(const tw_loop *loop) { return loop->contract_strict; }

void tw_loop_set_contract_handler(tw_loop *loop, tw_contract_handler h, void *arg)
{
    loop->contract_handler = h;
    loop->contract_arg = arg;
}

/* ---- life ---- */

int tw__loop_init(tw_loop *loop, const tw__loop_ops *ops, size_t rbuf_len)
{
    assert(ops && ops->now);
    memset(loop, 0, sizeof *loop);
    loop->ops = ops;
    loop->free_head = NO_SLOT;
    tw__list_init(&loop->transports);
    tw__list_init(&loop->servers);
    tw__list_init(&loop->lookups);
    tw__list_init(&loop->files);
    tw__list_init(&loop->quarantine);
    loop->cb_ev = -1;
    tw__list_init(&loop->dialers);
    loop->rbuf_len = rbuf_len ? rbuf_len : TW__READ_SIZE_DEFAULT;
    loop->rbuf = malloc(loop->rbuf_len);
    if (!loop->rbuf)
        return -ENOMEM;
    if (pthread_mutex_init(&loop->ts_lock, NULL) != 0) {
        free(loop->rbuf);
        return -ENOMEM;
    }
#ifdef NDEBUG
    loop->contract_on = false;
#else
    loop->contract_on = true;
#endif
    return 0;
}

void tw__loop_fini(tw_loop *loop)
{
    loop->finishing = true; /* what ends from here on is freed at once */
    tw__rec_stop(loop); /* what is torn down below was never seen */
    /* Lookups first: their backend requests must not call back into
     * what is freed below. */
    tw__dgram_lookups_cancel(loop);
    tw__files_close_all(loop);
    tw__dialers_drop(loop);
    /* Servers first (they make transports), then every transport: its
     * protocol is released so its memory is freed, but sees no other
     * callback. */
    while (!tw__list_empty(&loop->servers)) {
        tw_server *srv = tw__container_of(loop->servers.next, tw_server, link);
        srv->ops->close(srv);
    }
    while (!tw__list_empty(&loop->transports)) {
        tw_transport *t = tw__container_of(loop->transports.next, tw_transport, link);
        tw__list_remove(&t->link);
        tw__sendfile_drop(t);
        tw__wbuf_clear(&t->wbuf);
        tw__transport_clear_queued(t); /* queued datagrams are freed too */
        if (t->proto && t->proto->ops->release)
            t->proto->ops->release(t->proto);
        t->ops->destroy(t);
    }
    tw__quarantine_drain(loop);
    /* Pending callbacks are dropped; the ones that own their argument
     * (failed-connect and sendfile completions) free it. */
    for (uint32_t i = 0; i < loop->nslots; i++) {
        tw__slot *s = &loop->slots[i];
        if ((s->state == TW__SLOT_READY || s->state == TW__SLOT_TIMER) &&
            (s->cb == tw__connect_fail_cb || s->cb == tw__sendfile_done_cb ||
             s->cb == tw__made_then_cb))
            free(s->arg);
    }
    free(loop->slots);
    free(loop->ready);
    free(loop->heap);
    free(loop->ts_calls);
    free(loop->rbuf);
    pthread_mutex_destroy(&loop->ts_lock);
    loop->slots = NULL;
    loop->ready = loop->heap = NULL;
    loop->ts_calls = NULL;
    loop->rbuf = NULL;
}

void tw_loop_free(tw_loop *loop)
{
    if (loop)
        loop->ops->destroy(loop);
}
