/* sim/queue.h - the world's event queue and the object tables
 * (sim/queue.c).
 *
 * Map:
 *   events  the kinds of event, one event, the queue (a heap ordered by
 *           time and sequence, and a ring of the events due now)
 *   tables  ids with generations, for the objects events name
 *
 * Objects that events refer to (endpoints, listeners) live in tables of
 * (pointer, generation): an event names an index and a generation, so an
 * event for a freed object finds a newer generation and is dropped.
 */
#ifndef TWIN_SIM_QUEUE_H
#define TWIN_SIM_QUEUE_H

#include "core/internal.h"
#include "twin/sim.h"

#define SIM_NONE UINT32_MAX

/* ---- events ---- */

enum sim_ev_type {
    EV_ARRIVE = 1, /* segments reach the receiving endpoint */
    EV_DELIVER,    /* hand one chunk (or the EOF) to the protocol */
    EV_ACK,        /* an ack lands where a writer waits for window */
    EV_WRITABLE,   /* window space: flush the sender's buffer */
    EV_RST,        /* connection reset: fatal(arg) */
    EV_STALL,      /* is the path still cut? then -ETIMEDOUT */
    EV_PEER_DEAD,  /* the peer's node crashed: -ETIMEDOUT unless back */
    EV_SYN,        /* a connect's SYN reaches the server node */
    EV_SYNACK,     /* the handshake completes at the client */
    EV_REFUSED,    /* RST answering a SYN: -ECONNREFUSED */
    EV_CONN_TIMEOUT,
    EV_ACCEPT,     /* the listener accepts what is queued */
    EV_PIPE,       /* a simulated pipe's action (sim/proc.h) */
    EV_PROC,       /* a simulated process's action (sim/proc.h) */
    EV_FAULT,      /* a fault from the timeline (obj: its id) */
    EV_DGRAM_ARRIVE,   /* a datagram (or ICMP error) reaches a node */
    EV_DGRAM_DELIVER,  /* hand queued datagrams to the protocol */
    EV_DGRAM_SENT,     /* `arg` bytes left the sender's socket buffer */
    EV_DGRAM_WRITABLE, /* room again: flush the transport's queue */
    EV_TIMER,          /* a node's earliest timer is due (obj: node) */
    EV_KEEPALIVE,      /* a stream end's keepalive timer */
    EV_THAW,           /* a held node may run again (obj: node) */
    EV__END            /* one past the last type (new ones go above) */
};

typedef struct sim_event {
    tw_ns time;
    /* Among events of one time, the order they were scheduled in: seq,
     * a world-wide count, in the high bits of key, so one comparison of
     * key orders them (no two events share a seq). */
    union {
        uint64_t key;
        struct {
            uint64_t type : 7; /* enum sim_ev_type */
            uint64_t bg : 1;   /* background: does not keep the world busy */
            uint64_t seq : 56;
        };
    };
    uint64_t arg;
    uint32_t obj, gen;
} sim_event;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sim_event's key puts seq in its high bits on little-endian targets"
#endif
_Static_assert(sizeof(sim_event) == 32, "an event is four words");
_Static_assert(EV__END <= 128, "a type fits its seven bits");
#define SIM_SEQ_MAX ((UINT64_C(1) << 56) - 1)

/* Events due at the current time (pushed with when <= now) go to a FIFO
 * ring instead of the heap: they are the common case (a delivery, a
 * writable), and they sort after every heap event of the same time, all
 * of which were pushed before the clock got there. */
typedef struct sim_queue {
    sim_event *heap;
    uint32_t len, cap, max;
    uint32_t fg; /* foreground events queued (first, heap and ring) */
    sim_event *ring;
    uint32_t r_head, r_len, r_cap;
    /* The earliest timed event, kept out of the heap while it is known:
     * when has_first, first is earlier than every event in the heap. A
     * conversation's next hop is most often the earliest event there is,
     * so it is queued and taken without sifting the heap. */
    bool has_first;
    sim_event first;
} sim_queue;

static inline bool sim_ev_before(const sim_event *a, const sim_event *b)
{
    return a->time < b->time || (a->time == b->time && a->key < b->key);
}

/* queue.c */
int sim_queue_init(sim_queue *q, uint32_t max);
void sim_queue_fini(sim_queue *q);
/* sim_push (sim/world.h, inline) when the ring or the heap it goes to
 * is full: that one grown, then the same. */
int sim_push_out(tw_sim *sim, tw_ns when, uint8_t type, uint32_t obj,
                 uint32_t gen, uint64_t arg);
int sim_push_bg(tw_sim *sim, tw_ns when, uint8_t type, uint64_t arg);
/* An event whose place in the order was taken earlier: seq is a value of
 * sim->seq taken (sim->seq++) when it was scheduled, and when is after
 * the time it was taken at. It goes in the heap, even when due now, as
 * it would have had it been pushed then. */
int sim_push_seq(tw_sim *sim, tw_ns when, uint64_t seq, uint8_t type,
                 uint32_t obj, uint32_t gen, uint64_t arg);
/* The earliest timed event (first, else the heap's top), NULL if none. */
static inline const sim_event *sim_timed_min(const sim_queue *q)
{
    return q->has_first ? &q->first : q->len ? &q->heap[0] : NULL;
}
/* The earliest event, NULL if none: a timed event of the current time
 * (now) first, then the ring, then the timed ones. */
bool sim_pop(sim_queue *q, tw_ns now, sim_event *out);
static inline const sim_event *sim_peek(const sim_queue *q, tw_ns now)
{
    const sim_event *t = sim_timed_min(q);
    if (t && (t->time <= now || !q->r_len))
        return t;
    return q->r_len ? &q->ring[q->r_head] : NULL;
}
/* Put ev into the heap, which has room for it: sift it up from the end
 * (a binary min-heap by time, then key). The caller counts it in fg. */
static inline void sim_heap_insert(sim_queue *q, const sim_event *ev)
{
    assert(q->len < q->cap);
    sim_event *h = q->heap;
    uint32_t pos = q->len++;
    while (pos > 0) {
        uint32_t parent = (pos - 1) / 2;
        if (sim_ev_before(&h[parent], ev))
            break;
        h[pos] = h[parent];
        pos = parent;
    }
    h[pos] = *ev;
}
/* Queue timed event ev; the heap has room for one more. It becomes first
 * when it is earlier than every timed event, else goes into the heap
 * (and a first it displaces, too: sim_timed_insert_heap, queue.c). */
void sim_timed_insert_heap(sim_queue *q, const sim_event *ev);
static inline void sim_timed_insert(sim_queue *q, const sim_event *ev)
{
    assert(q->len < q->cap);
    if (!q->has_first && (!q->len || sim_ev_before(ev, &q->heap[0]))) {
        q->first = *ev;
        q->has_first = true;
        q->fg += !ev->bg;
        assert(q->fg <= q->len + q->r_len + 1);
        return;
    }
    sim_timed_insert_heap(q, ev);
}
/* The heap's top, taken into out (sim_take's heap half). */
void sim_heap_take(sim_queue *q, sim_event *out);
/* Take head, what sim_peek returned, into out. */
static inline void sim_take(sim_queue *q, const sim_event *head, sim_event *out)
{
    if (head == &q->first) {
        assert(q->has_first);
        *out = q->first;
        q->has_first = false;
        assert(out->bg || q->fg > 0);
        q->fg -= !out->bg;
        return;
    }
    if (head != q->heap) {
        /* The ring holds what was queued for the current instant: the
         * clock does not move on while it has any. A foreground heap
         * event of that instant was queued before the clock got there,
         * so before anything in the ring (sim_peek took it first). */
        assert(head == &q->ring[q->r_head] && q->r_len > 0 && !head->bg);
        *out = *head;
        q->r_head = (q->r_head + 1) & (q->r_cap - 1);
        q->r_len--;
        assert(q->fg > 0);
        q->fg--;
        return;
    }
    sim_heap_take(q, out);
}
static inline uint32_t sim_queued(const sim_queue *q)
{
    return q->len + q->r_len + q->has_first;
}

/* ---- tables ---- */

/* Two arrays rather than one of (pointer, generation) pairs: 12 bytes an
 * id instead of 16, which counts with a few hundred thousand endpoints.
 * A free id's p holds the next free id (the free chain). */
typedef struct sim_table {
    void **p;
    uint32_t *gen;
    uint32_t n, cap, max, live;
    uint32_t free_head; /* UINT32_MAX: none */
} sim_table;

/* queue.c: a table of ids with generations (endpoints) */
int sim_table_init(sim_table *t, uint32_t max);
void sim_table_fini(sim_table *t);
uint32_t sim_table_add(sim_table *t, void *p); /* UINT32_MAX: full */
void sim_table_del(sim_table *t, uint32_t id);
static inline void *sim_table_get(const sim_table *t, uint32_t id, uint32_t gen)
{
    if (id >= t->n || t->gen[id] != gen || !(gen & 1))
        return NULL;
    return t->p[id];
}
static inline uint32_t sim_table_gen(const sim_table *t, uint32_t id)
{
    return t->gen[id];
}

#endif
