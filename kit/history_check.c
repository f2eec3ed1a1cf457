/* kit/history_check.c - is a history linearizable? (twin/history.h)
 *
 * Map: values as numbers; one key's ops and their events; the model's
 * step; the memo; the search; explaining a violation; the entry point.
 *
 * Each key is checked on its own (a map's keys are independent
 * registers; P-compositionality). The search is Wing & Gong's: walk the
 * events in time order; at an invocation, try to linearize that op now
 * (the model accepts it from the current state) and restart from the
 * first event left; at a completion whose op is not yet linearized, undo
 * the last choice and try the next candidate. Lowe's memoization cuts it
 * down: a (set of linearized ops, state) pair seen once is never explored
 * again, so the search is polynomial in practice where the plain one is
 * exponential. The events live in a doubly linked list from which a
 * linearized op's two events are lifted and put back in LIFO order.
 *
 * Unknown ops (info, or never completed) have no completion event: they
 * may be linearized anywhere after their invocation or left out, and the
 * search succeeds once every op with a completion is placed. Failed ops
 * and unknown reads are left out: neither changed anything. An expire
 * may happen within its span or not at all: at its completion, if it is
 * not placed yet, the search may pass it over (a choice, undone like
 * the others).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kit/history.h"
#include "twin/mix.h"
#include "twin/parse.h"

#define STATES_MAX_DEFAULT (UINT64_C(4) << 20)
#define BYTES_MAX_DEFAULT (UINT64_C(512) << 20)
#define SHOW_PREFIX 4
#define SHOW_CONCURRENT 4
#define SHOW_WRITERS 2

/* ---- values as numbers: 0 is nil ---- */

typedef struct vtab {
    const char **s;
    size_t *len;
    char **own;      /* strings made here (incr's results) */
    uint32_t n, cap; /* ids 0 .. n-1 */
    uint32_t *slot;  /* open addressing: id + 1, 0 empty */
    uint32_t nslot;
    size_t nown;
} vtab;

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * UINT64_C(0x100000001b3);
    return h;
}

static int vtab_grow(vtab *t)
{
    uint32_t ns = t->nslot ? t->nslot * 2 : 1024;
    uint32_t *slot = calloc(ns, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (uint32_t id = 1; id < t->n; id++) {
        uint64_t h = hash_bytes(t->s[id], t->len[id]);
        uint32_t i = (uint32_t)h & (ns - 1);
        while (slot[i])
            i = (i + 1) & (ns - 1);
        slot[i] = id + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = ns;
    return 0;
}

/* The id of s (len bytes; NULL: nil), added if new. copy: s must be
 * copied (it does not outlive the check). Returns the id or -ENOMEM. */
static int64_t vtab_id(vtab *t, const char *s, size_t len, bool copy)
{
    if (!s)
        return 0;
    if (t->n == 0)
        t->n = 1; /* id 0: nil */
    if ((uint64_t)(t->n + 1) * 2 > t->nslot && vtab_grow(t) < 0)
        return -ENOMEM;
    uint64_t h = hash_bytes(s, len);
    uint32_t i = (uint32_t)h & (t->nslot - 1);
    for (; t->slot[i]; i = (i + 1) & (t->nslot - 1)) {
        uint32_t id = t->slot[i] - 1;
        if (t->len[id] == len && memcmp(t->s[id], s, len) == 0)
            return id;
    }
    if (t->n >= t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 256;
        const char **ns = realloc(t->s, cap * sizeof *ns);
        if (ns)
            t->s = ns;
        size_t *nl = ns ? realloc(t->len, cap * sizeof *nl) : NULL;
        if (!nl)
            return -ENOMEM;
        t->len = nl;
        t->cap = cap;
    }
    if (copy) {
        char **own = realloc(t->own, (t->nown + 1) * sizeof *own);
        char *c = own ? malloc(len + 1) : NULL;
        if (own)
            t->own = own;
        if (!c)
            return -ENOMEM;
        memcpy(c, s, len);
        c[len] = 0;
        t->own[t->nown++] = c;
        s = c;
    }
    t->s[t->n] = s;
    t->len[t->n] = len;
    t->slot[i] = t->n + 1;
    return t->n++;
}

static void vtab_fini(vtab *t)
{
    for (size_t i = 0; i < t->nown; i++)
        free(t->own[i]);
    free(t->own);
    free(t->s);
    free(t->len);
    free(t->slot);
}

/* ---- one key's ops and their events ---- */

typedef struct kop {
    const tw_history_rec *r;
    size_t id; /* the history's op id */
    tw_history_f f;
    int32_t value, from, out;
    bool returns; /* it has a completion event (ok, or settled) */
    tw_ns done;   /* when: its completion's, or the one it was given */
    int32_t after; /* the op of its process it must follow, or -1 */
    uint64_t zob; /* its share of the linearized set's hash */
} kop;

typedef struct ent {
    int32_t op;     /* -1: the head */
    bool ret;
    int32_t prev, next, match; /* list links; a call's return, or -1 */
    int32_t match_call;        /* a return's call */
    tw_ns time;
} ent;

/* ---- the linearized set, and its short form ---- */

/* Which ops are linearized: a bit each. The search places ops nearly in
 * the order they were invoked, so the set is a run of whole words, full,
 * then a few words in play, then nothing: lo and hi bound the words in
 * play (every word below lo is full, none from hi on has a bit; they are
 * hints, narrowed when the short form is made). */
typedef struct opset {
    uint64_t *bits;
    size_t words; /* one more than the ops need: the last is never full */
    size_t lo, hi;
    uint64_t *form; /* the short form's room: 3 + 2 * words */
} opset;

static bool opset_has(const opset *o, size_t i)
{
    return o->bits[i >> 6] & (UINT64_C(1) << (i & 63));
}

static void opset_add(opset *o, size_t i)
{
    assert(!opset_has(o, i) && (i >> 6) + 1 < o->words);
    o->bits[i >> 6] |= UINT64_C(1) << (i & 63);
    if (o->hi < (i >> 6) + 1)
        o->hi = (i >> 6) + 1;
}

static void opset_del(opset *o, size_t i)
{
    assert(opset_has(o, i));
    o->bits[i >> 6] &= ~(UINT64_C(1) << (i & 63));
    if (o->lo > i >> 6)
        o->lo = i >> 6;
}

/* The set's short form, one for each set: lo, hi, the count of words in
 * between that are not full, and each of those as (index, word). A set
 * of n ops takes a few words, not n / 64, so the memo keeps a short form
 * per state: with long histories the whole sets were most of its memory
 * and its time. Returns the form's length in words (in o->form). */
static size_t opset_form(opset *o)
{
    while (o->bits[o->lo] == ~UINT64_C(0))
        o->lo++; /* stops: the last word is never full */
    if (o->hi < o->lo)
        o->hi = o->lo;
    while (o->hi > o->lo && o->bits[o->hi - 1] == 0)
        o->hi--;
    uint64_t *f = o->form;
    size_t n = 3;
    for (size_t w = o->lo; w < o->hi; w++) {
        if (o->bits[w] == ~UINT64_C(0))
            continue;
        f[n++] = w;
        f[n++] = o->bits[w];
    }
    f[0] = o->lo;
    f[1] = o->hi;
    f[2] = (n - 3) / 2;
    assert(n <= 3 + 2 * o->words);
    return n;
}

/* ---- the memo: (linearized set, state) pairs seen ---- */

typedef struct memo_slot {
    uint64_t hash;
    int32_t state;
    uint32_t len; /* the set's short form, in words; 0: slot unused */
    size_t at;    /* where it is in the pool */
} memo_slot;

typedef struct memo {
    memo_slot *slot;
    size_t nslot, n;
    uint64_t *pool;
    size_t pool_n, pool_cap;
    uint64_t states_max, bytes_max;
} memo;

static uint64_t memo_key(uint64_t hash, int32_t state)
{
    return hash ^ tw_mix64((uint64_t)(uint32_t)state);
}

static int memo_grow(memo *m)
{
    size_t ns = m->nslot ? m->nslot * 2 : 4096;
    memo_slot *slot = calloc(ns, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < m->nslot; i++) {
        if (!m->slot[i].len)
            continue;
        size_t j = m->slot[i].hash & (ns - 1);
        while (slot[j].len)
            j = (j + 1) & (ns - 1);
        slot[j] = m->slot[i];
    }
    free(m->slot);
    m->slot = slot;
    m->nslot = ns;
    return 0;
}

/* Adds (set, state) unless seen, the set as its short form (len words,
 * hash its hash): 1 added, 0 seen, -E2BIG past the bounds, -ENOMEM. */
static int memo_add(memo *m, const uint64_t *form, size_t len, uint64_t hash, int32_t state)
{
    assert(len >= 3 && len <= UINT32_MAX);
    uint64_t k = memo_key(hash, state);
    if ((m->n + 1) * 2 > m->nslot && memo_grow(m) < 0)
        return -ENOMEM;
    size_t i = k & (m->nslot - 1);
    for (; m->slot[i].len; i = (i + 1) & (m->nslot - 1)) {
        const memo_slot *s = &m->slot[i];
        if (s->hash == k && s->state == state && s->len == len &&
            memcmp(m->pool + s->at, form, len * sizeof *form) == 0)
            return 0;
    }
    uint64_t bytes = (uint64_t)(m->pool_n + len) * 8 + m->nslot * sizeof(memo_slot);
    if (m->n >= m->states_max || bytes > m->bytes_max)
        return -E2BIG;
    if (m->pool_n + len > m->pool_cap) {
        size_t cap = m->pool_cap ? m->pool_cap * 2 : 4096;
        while (cap < m->pool_n + len)
            cap *= 2;
        uint64_t *p = realloc(m->pool, cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        m->pool = p;
        m->pool_cap = cap;
    }
    memcpy(m->pool + m->pool_n, form, len * sizeof *form);
    m->slot[i] = (memo_slot){.hash = k, .state = state, .len = (uint32_t)len, .at = m->pool_n};
    m->pool_n += len;
    m->n++;
    return 1;
}

/* ---- the search's state ---- */

typedef struct frame {
    int32_t call; /* the entry lifted */
    int32_t state; /* before it */
    bool skip;    /* an expire passed over, not applied */
} frame;

typedef struct search {
    vtab *vt;
    kop *ops;
    size_t nops;
    ent *e; /* e[0] is the head */
    size_t ne;
    memo m;
    opset set;
    frame *stack;
    size_t depth;
    /* the deepest point where a completion blocked the search */
    int32_t *best;
    size_t best_depth;
    /* how many of the stack's first frames best still holds: the frames
     * below it were not popped since best was taken, so a deeper best
     * copies only the frames above it (linear, not quadratic, in all) */
    size_t best_same;
    int32_t best_blocked, best_state;
    bool have_best;
} search;

/* ---- the model's step ---- */

/* Parses a counter's value (nil: 0). */
static bool as_int(const vtab *t, int32_t id, int64_t *out)
{
    if (id == 0) {
        *out = 0;
        return true;
    }
    const char *s = t->s[id];
    size_t len = t->len[id];
    if (len == 0 || len > 20)
        return false;
    char buf[24];
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

/* Applies op o to state s: 1 (accepted; *next set), 0 (not from s), or
 * -ENOMEM. */
static int step(search *S, const kop *o, int32_t s, int32_t *next)
{
    switch (o->f) {
    case TW_HISTORY_READ:
    case TW_HISTORY_GET:
        *next = s;
        return o->out == s;
    case TW_HISTORY_WRITE:
    case TW_HISTORY_PUT:
        *next = o->value;
        return 1;
    case TW_HISTORY_DEL:
    case TW_HISTORY_EXPIRE:
        *next = 0;
        return 1;
    case TW_HISTORY_CAS:
        *next = o->value;
        return o->from == s;
    case TW_HISTORY_INCR: {
        int64_t v;
        if (!as_int(S->vt, s, &v) || v == INT64_MAX)
            return 0;
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%" PRId64, v + 1);
        int64_t id = vtab_id(S->vt, buf, (size_t)n, true);
        if (id < 0)
            return -ENOMEM;
        *next = (int32_t)id;
        return !o->returns || o->out == id;
    }
    }
    return 0;
}

/* ---- the search ---- */

static void lift(search *S, int32_t c)
{
    ent *e = S->e;
    e[e[c].prev].next = e[c].next;
    if (e[c].next >= 0)
        e[e[c].next].prev = e[c].prev;
    int32_t r = e[c].match;
    if (r >= 0) {
        e[e[r].prev].next = e[r].next;
        if (e[r].next >= 0)
            e[e[r].next].prev = e[r].prev;
    }
}

static void unlift(search *S, int32_t c)
{
    ent *e = S->e;
    int32_t r = e[c].match;
    if (r >= 0) {
        e[e[r].prev].next = r;
        if (e[r].next >= 0)
            e[e[r].next].prev = r;
    }
    e[e[c].prev].next = c;
    if (e[c].next >= 0)
        e[e[c].next].prev = c;
}

static void note_blocked(search *S, int32_t op, int32_t state)
{
    if (S->have_best && S->depth <= S->best_depth)
        return;
    S->have_best = true;
    S->best_depth = S->depth;
    assert(S->best_same <= S->depth);
    for (size_t i = S->best_same; i < S->depth; i++)
        S->best[i] = S->e[S->stack[i].call].op;
    S->best_same = S->depth;
    S->best_blocked = op;
    S->best_state = state;
}

/* 1 linearizable, 0 not, -E2BIG, -ENOMEM. */
static int run_search(search *S)
{
    size_t left = 0; /* ops with a completion, not yet linearized */
    for (size_t i = 0; i < S->nops; i++)
        left += S->ops[i].returns;
    uint64_t hash = 0;
    int32_t state = 0;
    int32_t cur = S->e[0].next;
    while (left > 0) {
        if (cur >= 0 && !S->e[cur].ret) {
            const kop *o = &S->ops[S->e[cur].op];
            if (o->after >= 0 && !opset_has(&S->set, (size_t)o->after)) {
                cur = S->e[cur].next; /* its process's op before it comes first */
                continue;
            }
            int32_t next;
            int ok = step(S, o, state, &next);
            if (ok < 0)
                return ok;
            if (ok) {
                opset_add(&S->set, (size_t)S->e[cur].op);
                int added = memo_add(&S->m, S->set.form, opset_form(&S->set),
                                     hash ^ o->zob, next);
                if (added < 0)
                    return added;
                if (added) {
                    S->stack[S->depth++] = (frame){.call = cur, .state = state};
                    state = next;
                    hash ^= o->zob;
                    lift(S, cur);
                    left -= o->returns;
                    cur = S->e[0].next;
                    continue;
                }
                opset_del(&S->set, (size_t)S->e[cur].op);
            }
            cur = S->e[cur].next;
            continue;
        }
        if (cur >= 0 && S->ops[S->e[cur].op].f == TW_HISTORY_EXPIRE) {
            /* an expire that did not happen: passed over, as a choice */
            int32_t c = S->e[cur].match_call;
            const kop *o = &S->ops[S->e[cur].op];
            opset_add(&S->set, (size_t)S->e[cur].op);
            /* (placed or passed over, the same set and state have the
             * same future: one memo entry serves both) */
            int added = memo_add(&S->m, S->set.form, opset_form(&S->set),
                                 hash ^ o->zob, state);
            if (added < 0)
                return added;
            if (added) {
                S->stack[S->depth++] = (frame){.call = c, .state = state, .skip = true};
                hash ^= o->zob;
                lift(S, c);
                left -= o->returns;
                cur = S->e[0].next;
                continue;
            }
            opset_del(&S->set, (size_t)S->e[cur].op);
        }
        /* A completion of an op not linearized (or, defensively, the
         * end): undo the last choice. */
        note_blocked(S, cur >= 0 ? S->e[cur].op : -1, state);
        if (S->depth == 0)
            return 0;
        frame f = S->stack[--S->depth];
        if (S->best_same > S->depth)
            S->best_same = S->depth; /* best's frame there is no longer the stack's */
        const kop *o = &S->ops[S->e[f.call].op];
        opset_del(&S->set, (size_t)S->e[f.call].op);
        hash ^= o->zob;
        state = f.state;
        left += o->returns;
        unlift(S, f.call);
        /* a pass-over was the last choice at its completion: back there,
         * where nothing is left to try, so the undoing goes on */
        cur = f.skip ? S->e[f.call].match : S->e[f.call].next;
    }
    return 1;
}

/* ---- explaining a violation ---- */

static void put_value(char *buf, size_t cap, size_t *at, const char *s, size_t len,
                      bool nil)
{
    if (*at >= cap)
        return;
    if (nil || !s) {
        *at += (size_t)snprintf(buf + *at, cap - *at, "nil");
        return;
    }
    size_t show = len > 24 ? 20 : len;
    *at += (size_t)snprintf(buf + *at, cap - *at, "\"%.*s%s\"", (int)show, s,
                            show < len ? "..." : "");
}

static void put_op(char *buf, size_t cap, size_t *at, const kop *o)
{
    const tw_history_rec *r = o->r;
    char a[32], b[32];
    if (*at >= cap)
        return;
    *at += (size_t)snprintf(buf + *at, cap - *at, "op %zu (process %" PRIu32 " %s",
                            o->id, r->process, tw__history_f_name(r->f));
    if (r->f == TW_HISTORY_CAS) {
        if (*at < cap)
            *at += (size_t)snprintf(buf + *at, cap - *at, " ");
        put_value(buf, cap, at, r->from, r->from_len, r->from_nil);
        if (*at < cap)
            *at += (size_t)snprintf(buf + *at, cap - *at, "->");
    } else if (*at < cap && r->f != TW_HISTORY_DEL && r->f != TW_HISTORY_EXPIRE) {
        *at += (size_t)snprintf(buf + *at, cap - *at, " ");
    }
    if (r->f == TW_HISTORY_READ || r->f == TW_HISTORY_GET || r->f == TW_HISTORY_INCR) {
        if (*at < cap)
            *at += (size_t)snprintf(buf + *at, cap - *at, "-> ");
        if (r->type == TW_HISTORY_OK)
            put_value(buf, cap, at, r->out, r->out_len, r->out_nil);
        else if (*at < cap)
            *at += (size_t)snprintf(buf + *at, cap - *at, "?");
    } else if (r->f != TW_HISTORY_DEL && r->f != TW_HISTORY_EXPIRE) {
        put_value(buf, cap, at, r->value, r->value_len, r->value_nil);
    }
    if (*at >= cap)
        return;
    tw_format_duration(r->invoked, a, sizeof a);
    if (o->returns)
        *at += (size_t)snprintf(buf + *at, cap - *at, ", %s..%s%s)", a,
                                tw_format_duration(o->done, b, sizeof b),
                                r->type == TW_HISTORY_OK ? "" : " info, seen by then");
    else
        *at += (size_t)snprintf(buf + *at, cap - *at, ", %s.., %s)", a,
                                r->type == TW_HISTORY_PENDING ? "pending" : "info");
}

/* For a read that cannot be placed: the writes of the value it saw (a
 * stale read names the write it is stale by; a value written twice, a
 * write that took effect twice), or that none wrote it. */
static void put_writers(const search *S, const kop *x, char *buf, size_t cap, size_t *at)
{
    if ((x->f != TW_HISTORY_READ && x->f != TW_HISTORY_GET) ||
        x->r->type != TW_HISTORY_OK || x->out == 0 || *at >= cap)
        return; /* nil is every key's value before its first write */
    int shown = 0;
    for (size_t i = 0; i < S->nops && shown < SHOW_WRITERS && *at < cap; i++) {
        const kop *o = &S->ops[i];
        bool writes = o->f == TW_HISTORY_WRITE || o->f == TW_HISTORY_PUT ||
                      o->f == TW_HISTORY_CAS;
        if (!writes || o->value != x->out)
            continue;
        *at += (size_t)snprintf(buf + *at, cap - *at, shown ? ", " : "; it read the value of ");
        put_op(buf, cap, at, o);
        shown++;
    }
    if (!shown && *at < cap)
        *at += (size_t)snprintf(buf + *at, cap - *at, "; no write that may have taken effect wrote the value it read");
}

static void explain(search *S, const char *key, tw_history_verdict *out)
{
    char *buf = out->message;
    size_t cap = sizeof out->message, at = 0;
    snprintf(out->key, sizeof out->key, "%s", key);
    at += (size_t)snprintf(buf, cap, "key \"%.60s\" is not linearizable: ", key);
    if (S->best_blocked < 0) {
        snprintf(buf + at, cap - at, "no order places every completed op");
        return;
    }
    const kop *x = &S->ops[S->best_blocked];
    out->at_ns = x->returns ? x->done : x->r->invoked;
    put_op(buf, cap, &at, x);
    if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at,
                               " cannot take effect after the longest linearizable "
                               "order found (%zu ops", S->best_depth);
    size_t from = S->best_depth > SHOW_PREFIX ? S->best_depth - SHOW_PREFIX : 0;
    for (size_t i = from; i < S->best_depth && at < cap; i++) {
        at += (size_t)snprintf(buf + at, cap - at, i == from ? "%s: " : ", ",
                               from ? ", the last" : "");
        put_op(buf, cap, &at, &S->ops[S->best[i]]);
    }
    if (at < cap)
        at += (size_t)snprintf(buf + at, cap - at, "), where the key holds ");
    int32_t st = S->best_state;
    put_value(buf, cap, &at, st ? S->vt->s[st] : NULL, st ? S->vt->len[st] : 0, st == 0);
    put_writers(S, x, buf, cap, &at);
    /* the ops that overlap it and were not placed (the search's set,
     * done with, marks the placed: one pass over the order, not one per op) */
    memset(S->set.bits, 0, S->set.words * sizeof *S->set.bits);
    S->set.lo = S->set.hi = 0;
    for (size_t k = 0; k < S->best_depth; k++)
        opset_add(&S->set, (size_t)S->best[k]);
    int shown = 0;
    for (size_t i = 0; i < S->nops && shown < SHOW_CONCURRENT && at < cap; i++) {
        const kop *o = &S->ops[i];
        if ((int32_t)i == S->best_blocked)
            continue;
        bool placed = opset_has(&S->set, i);
        bool overlaps = o->r->invoked <= x->done &&
                        (!o->returns || o->done >= x->r->invoked);
        if (placed || !overlaps)
            continue;
        at += (size_t)snprintf(buf + at, cap - at, shown ? ", " : "; concurrent with it: ");
        put_op(buf, cap, &at, o);
        shown++;
    }
}

/* ---- unknown writes that were, or were not, seen ---- */

/* An unknown op may float to any point after its invocation, and each
 * one left floating doubles what the search must remember. Most need not
 * float. A write (put, cas) of a value no other op writes:
 *   - never seen by any op (no read returned it, no cas expected it): it
 *     may as well never have happened; it is left out;
 *   - seen: it certainly happened, and before the first of those ops
 *     completed; that completion becomes its own.
 * Either way the verdict is the same as with the op floating free. */
static int settle_unknown(search *S)
{
    for (size_t i = 0; i < S->nops; i++)
        if (S->ops[i].f == TW_HISTORY_INCR)
            return 0; /* incr sees every value: nothing here applies */
    uint32_t nv = S->vt->n ? S->vt->n : 1;
    uint32_t *writers = calloc(nv, sizeof *writers);
    tw_ns *seen = malloc(nv * sizeof *seen);
    if (!writers || !seen) {
        free(writers);
        free(seen);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < nv; i++)
        seen[i] = -1;
    for (size_t i = 0; i < S->nops; i++) {
        const kop *o = &S->ops[i];
        bool writes = o->f == TW_HISTORY_WRITE || o->f == TW_HISTORY_PUT ||
                      o->f == TW_HISTORY_CAS;
        if (writes)
            writers[o->value]++;
        int32_t obs = -1;
        if ((o->f == TW_HISTORY_READ || o->f == TW_HISTORY_GET) && o->returns)
            obs = o->out;
        else if (o->f == TW_HISTORY_CAS)
            obs = o->from;
        if (obs > 0 && o->returns && (seen[obs] < 0 || o->r->done < seen[obs]))
            seen[obs] = o->r->done;
        else if (obs > 0 && !o->returns && seen[obs] < 0)
            seen[obs] = INT64_MAX; /* seen, by an op with no completion */
    }
    size_t kept = 0;
    for (size_t i = 0; i < S->nops; i++) {
        kop *o = &S->ops[i];
        bool writes = o->f == TW_HISTORY_WRITE || o->f == TW_HISTORY_PUT ||
                      o->f == TW_HISTORY_CAS;
        if (!o->returns && writes && o->value > 0 && writers[o->value] == 1) {
            tw_ns t = seen[o->value];
            if (t < 0)
                continue; /* never seen: left out */
            if (t != INT64_MAX && t >= o->r->invoked) {
                o->returns = true;
                o->done = t;
            }
        }
        S->ops[kept++] = *o;
    }
    S->nops = kept;
    free(writers);
    free(seen);
    return 0;
}

/* ---- a process's ops, in order ---- */

/* A process's ops take effect in the order it invoked them (one at a
 * time, as Jepsen's; or pipelined on one connection, which a server
 * runs in order): each op that completed ok follows the process's ok op
 * before it. Unknown ops and expires are left out of the chains. */
typedef struct by_proc {
    uint32_t process;
    int32_t op;
} by_proc;

static int proc_cmp(const void *pa, const void *pb)
{
    const by_proc *a = pa, *b = pb;
    if (a->process != b->process)
        return a->process < b->process ? -1 : 1;
    return (a->op > b->op) - (a->op < b->op);
}

static int chain_processes(search *S)
{
    by_proc *v = malloc((S->nops + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < S->nops; i++) {
        kop *o = &S->ops[i];
        o->after = -1;
        if (o->r->type == TW_HISTORY_OK && o->f != TW_HISTORY_EXPIRE)
            v[n++] = (by_proc){.process = o->r->process, .op = (int32_t)i};
    }
    qsort(v, n, sizeof *v, proc_cmp); /* ops are in invocation order */
    for (size_t i = 1; i < n; i++)
        if (v[i].process == v[i - 1].process)
            S->ops[v[i].op].after = v[i - 1].op;
    free(v);
    return 0;
}

/* ---- one key ---- */

static int ent_cmp(const void *pa, const void *pb)
{
    const ent *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->ret != b->ret) /* at one instant, invocations first */
        return a->ret ? 1 : -1;
    return a->op < b->op ? -1 : a->op > b->op;
}

static int check_key(const tw_history *h, const size_t *idx, size_t n, vtab *vt,
                     const tw_history_check_opts *opts, tw_history_verdict *out)
{
    search S = {.vt = vt};
    int rc = -ENOMEM;
    S.ops = calloc(n + 1, sizeof *S.ops);
    S.e = calloc(2 * n + 1, sizeof *S.e);
    if (!S.ops || !S.e)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const tw_history_rec *r = &h->ops[idx[i]];
        bool read = r->f == TW_HISTORY_READ || r->f == TW_HISTORY_GET;
        if (r->type == TW_HISTORY_FAIL || (read && r->type != TW_HISTORY_OK))
            continue;
        kop *o = &S.ops[S.nops];
        *o = (kop){.r = r, .id = idx[i] + 1, .f = r->f,
                   .returns = r->type == TW_HISTORY_OK, .done = r->done,
                   .zob = tw_mix64(UINT64_C(0x5851f42d4c957f2d) ^ S.nops)};
        int64_t v = vtab_id(vt, r->value, r->value_len, false);
        int64_t f = vtab_id(vt, r->from, r->from_len, false);
        int64_t x = o->returns ? vtab_id(vt, r->out, r->out_len, false) : 0;
        if (v < 0 || f < 0 || x < 0)
            goto done;
        o->value = (int32_t)v, o->from = (int32_t)f, o->out = (int32_t)x;
        S.nops++;
    }
    if (settle_unknown(&S) < 0 || chain_processes(&S) < 0)
        goto done;
    out->ops += S.nops;
    /* events, sorted; then the matches and links */
    S.ne = 1;
    for (size_t i = 0; i < S.nops; i++) {
        S.e[S.ne++] = (ent){.op = (int32_t)i, .time = S.ops[i].r->invoked};
        if (S.ops[i].returns)
            S.e[S.ne++] = (ent){.op = (int32_t)i, .ret = true, .time = S.ops[i].done};
    }
    qsort(S.e + 1, S.ne - 1, sizeof *S.e, ent_cmp);
    int32_t *call_of = malloc((S.nops + 1) * sizeof *call_of);
    if (!call_of)
        goto done;
    S.e[0] = (ent){.op = -1, .prev = -1, .match = -1};
    for (size_t i = 1; i < S.ne; i++) {
        S.e[i].prev = (int32_t)i - 1;
        S.e[i].next = i + 1 < S.ne ? (int32_t)i + 1 : -1;
        S.e[i].match = -1;
        if (!S.e[i].ret)
            call_of[S.e[i].op] = (int32_t)i;
        else {
            S.e[call_of[S.e[i].op]].match = (int32_t)i;
            S.e[i].match_call = call_of[S.e[i].op];
        }
    }
    S.e[0].next = S.ne > 1 ? 1 : -1;
    free(call_of);
    S.set.words = (S.nops + 63) / 64 + 1;
    S.m.states_max = opts && opts->states_max ? opts->states_max : STATES_MAX_DEFAULT;
    S.m.bytes_max = opts && opts->bytes_max ? opts->bytes_max : BYTES_MAX_DEFAULT;
    S.set.bits = calloc(S.set.words, sizeof *S.set.bits);
    S.set.form = calloc(3 + 2 * S.set.words, sizeof *S.set.form);
    S.stack = calloc(S.nops + 1, sizeof *S.stack);
    S.best = calloc(S.nops + 1, sizeof *S.best);
    if (!S.set.bits || !S.set.form || !S.stack || !S.best)
        goto done;
    rc = run_search(&S);
    const char *key = S.nops && S.ops[0].r->key ? S.ops[0].r->key : "";
    if (rc == 0)
        explain(&S, key, out);
    else if (rc == -E2BIG) {
        snprintf(out->key, sizeof out->key, "%s", key);
        snprintf(out->message, sizeof out->message,
                 "key \"%.60s\": the search for a linearizable order of its %zu ops "
                 "went past %" PRIu64 " states or %" PRIu64 " MiB: undecided",
                 key, S.nops, S.m.states_max, S.m.bytes_max >> 20);
    }
done:
    free(S.ops);
    free(S.e);
    free(S.m.slot);
    free(S.m.pool);
    free(S.set.bits);
    free(S.set.form);
    free(S.stack);
    free(S.best);
    return rc;
}

/* ---- the entry point ---- */

typedef struct keyed {
    const char *key;
    size_t i;
} keyed;

static int by_key(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->i > b->i) - (a->i < b->i);
}

int tw_history_check(const tw_history *h, const tw_history_check_opts *opts,
                     tw_history_verdict *out)
{
    static tw_history_verdict scratch;
    if (!out)
        out = &scratch;
    memset(out, 0, sizeof *out);
    out->at_ns = -1;
    if (!h)
        return -EINVAL;
    if (h->overflowed) {
        snprintf(out->message, sizeof out->message,
                 "the history overflowed its limits (%zu ops, %zu bytes): "
                 "not checked", h->ops_max, (size_t)TW_HISTORY_BYTES_MAX);
        return -ENOBUFS;
    }
    keyed *kd = malloc((h->n + 1) * sizeof *kd);
    size_t *idx = malloc((h->n + 1) * sizeof *idx);
    if (!kd || !idx) {
        free(kd);
        free(idx);
        return -ENOMEM;
    }
    for (size_t i = 0; i < h->n; i++)
        kd[i] = (keyed){.key = h->ops[i].key ? h->ops[i].key : "", .i = i};
    qsort(kd, h->n, sizeof *kd, by_key);
    for (size_t i = 0; i < h->n; i++)
        idx[i] = kd[i].i;
    int rc = 1;
    for (size_t i = 0; i < h->n && rc == 1;) {
        size_t j = i + 1;
        while (j < h->n && strcmp(kd[j].key, kd[i].key) == 0)
            j++;
        vtab vt = {0};
        rc = check_key(h, idx + i, j - i, &vt, opts, out);
        vtab_fini(&vt);
        out->keys++;
        i = j;
    }
    free(kd);
    free(idx);
    return rc;
}
