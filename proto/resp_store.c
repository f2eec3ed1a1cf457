/* proto/resp_store.c - the keyspace: a chained hash table of binary keys
 * and values, each with an optional expiry on the loop's clock.
 *
 * Map: hashing; entries; the table (find, grow); the public operations;
 * reclaiming expired keys.
 *
 * One allocation per key holds the entry, the key and the value; a SET
 * of a value that fits in place (the common case: a benchmark, a counter)
 * copies the bytes and allocates nothing. The table doubles when it holds
 * more keys than buckets, all at once: a pause proportional to the keys
 * (Redis rehashes incrementally instead; a known limit here).
 *
 * Expiry is Redis's: milliseconds, a key is gone once now > its expiry,
 * deleted when a lookup finds it so, and otherwise by expire_step, which
 * walks the buckets a bounded number at a time from a cursor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "twin/resp.h"

#define BUCKETS_MIN 16

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t expire_ms; /* TW_RESP_NO_EXPIRY: none */
    size_t klen, vlen, vcap;
    uint8_t data[];    /* the key, then vcap bytes for the value */
} entry;

struct tw_resp_store {
    entry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count, nvolatile, bytes;
    size_t cursor;   /* where the next expire_step begins */
    uint64_t dirty;  /* changes asked for (expiry's own reclaiming not) */
    uint64_t rng;    /* RANDOMKEY's generator, from the hash seed */
    tw_resp_store_opts o;
};

/* ---- hashing ---- */

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fmix(uint64_t z)
{
    z ^= z >> 33;
    z *= UINT64_C(0xff51afd7ed558ccd);
    z ^= z >> 33;
    z *= UINT64_C(0xc4ceb9fe1a85ec53);
    return z ^ (z >> 33);
}

/* Eight bytes at a time (little-endian words: the order of keys in the
 * table, and so expire_step's, is the same on every x86 or ARM host). */
static uint64_t hash_of(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h = seed ^ (n * UINT64_C(0x9e3779b97f4a7c15));
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = rotl(h ^ (w * UINT64_C(0x87c37b91114253d5)), 31) *
            UINT64_C(0x4cf5ad432745937f);
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h ^= w * UINT64_C(0x87c37b91114253d5);
    return fmix(h);
}

/* ---- entries ---- */

static size_t entry_bytes(size_t klen, size_t vcap)
{
    return sizeof(entry) + klen + vcap;
}

static bool expired(const entry *e, int64_t now_ms)
{
    return e->expire_ms != TW_RESP_NO_EXPIRY && now_ms > e->expire_ms;
}

static void set_expiry(tw_resp_store *st, entry *e, int64_t expire_ms)
{
    st->nvolatile -= e->expire_ms != TW_RESP_NO_EXPIRY;
    st->nvolatile += expire_ms != TW_RESP_NO_EXPIRY;
    e->expire_ms = expire_ms;
}

/* Unlink *slot and free it. */
static void drop(tw_resp_store *st, entry **slot)
{
    entry *e = *slot;
    *slot = e->next;
    st->count--;
    st->nvolatile -= e->expire_ms != TW_RESP_NO_EXPIRY;
    st->bytes -= entry_bytes(e->klen, e->vcap);
    free(e);
}

/* ---- the table ---- */

static entry **find(tw_resp_store *st, const void *key, size_t klen,
                    uint64_t h)
{
    entry **slot = &st->buckets[h & (st->nbuckets - 1)];
    for (; *slot; slot = &(*slot)->next) {
        entry *e = *slot;
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return slot;
    }
    return slot; /* the empty end of the chain */
}

/* The slot of a live key, or NULL (an expired one is deleted). */
static entry **lookup(tw_resp_store *st, const void *key, size_t klen,
                      int64_t now_ms)
{
    entry **slot = find(st, key, klen, hash_of(key, klen, st->o.hash_seed));
    if (!*slot)
        return NULL;
    if (expired(*slot, now_ms)) {
        drop(st, slot);
        return NULL;
    }
    return slot;
}

static void grow(tw_resp_store *st)
{
    size_t n = st->nbuckets * 2;
    entry **b = calloc(n, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < st->nbuckets; i++) {
        entry *e = st->buckets[i];
        while (e) {
            entry *next = e->next;
            entry **head = &b[e->hash & (n - 1)];
            e->next = *head;
            *head = e;
            e = next;
        }
    }
    st->bytes += (n - st->nbuckets) * sizeof *b;
    free(st->buckets);
    st->buckets = b;
    st->nbuckets = n;
    st->cursor = 0;
}

/* ---- the public operations ---- */

tw_resp_store *tw_resp_store_new(const tw_resp_store_opts *opts)
{
    tw_resp_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    if (opts)
        st->o = *opts;
    st->nbuckets = BUCKETS_MIN;
    st->buckets = calloc(st->nbuckets, sizeof *st->buckets);
    if (!st->buckets) {
        free(st);
        return NULL;
    }
    st->bytes = st->nbuckets * sizeof *st->buckets;
    st->rng = st->o.hash_seed ^ UINT64_C(0x243f6a8885a308d3);
    return st;
}

void tw_resp_store_flush(tw_resp_store *st)
{
    st->dirty++;
    for (size_t i = 0; i < st->nbuckets; i++)
        while (st->buckets[i])
            drop(st, &st->buckets[i]);
    st->cursor = 0;
}

void tw_resp_store_free(tw_resp_store *st)
{
    if (!st)
        return;
    tw_resp_store_flush(st);
    free(st->buckets);
    free(st);
}

bool tw_resp_store_get(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms, const uint8_t **val, size_t *vlen)
{
    entry **slot = lookup(st, key, klen, now_ms);
    if (!slot)
        return false;
    *val = (*slot)->data + (*slot)->klen;
    *vlen = (*slot)->vlen;
    return true;
}

/* Within the byte limit after trading `old` bytes for `new`? */
static bool fits(const tw_resp_store *st, size_t old, size_t add)
{
    return !st->o.bytes_max || add <= old ||
           st->bytes - old + add <= st->o.bytes_max;
}

int tw_resp_store_set(tw_resp_store *st, const void *key, size_t klen,
                      const void *val, size_t vlen, int64_t expire_ms,
                      bool keep_ttl, int64_t now_ms)
{
    uint64_t h = hash_of(key, klen, st->o.hash_seed);
    entry **slot = find(st, key, klen, h);
    if (*slot && expired(*slot, now_ms)) {
        drop(st, slot);
        slot = find(st, key, klen, h);
    }
    entry *old = *slot;
    if (old && vlen <= old->vcap && old->vcap <= 2 * vlen + 64) {
        memcpy(old->data + klen, val, vlen); /* in place */
        old->vlen = vlen;
        if (!keep_ttl)
            set_expiry(st, old, expire_ms);
        st->dirty++;
        return 0;
    }
    if (!old && st->o.keys_max && st->count >= st->o.keys_max)
        return -ENOMEM;
    size_t old_bytes = old ? entry_bytes(klen, old->vcap) : 0;
    size_t new_bytes = entry_bytes(klen, vlen);
    if (klen > SIZE_MAX / 4 || vlen > SIZE_MAX / 4 || !fits(st, old_bytes, new_bytes))
        return -ENOMEM;
    entry *e = malloc(new_bytes);
    if (!e)
        return -ENOMEM;
    e->hash = h;
    e->klen = klen;
    e->vlen = e->vcap = vlen;
    e->expire_ms = TW_RESP_NO_EXPIRY;
    memcpy(e->data, key, klen);
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    int64_t exp = keep_ttl && old ? old->expire_ms : keep_ttl ? TW_RESP_NO_EXPIRY
                                                              : expire_ms;
    if (old) {
        e->next = old->next;
        drop(st, slot); /* unlinks old: *slot is old->next now */
    } else {
        e->next = NULL;
    }
    *slot = e;
    st->count++;
    st->bytes += new_bytes;
    set_expiry(st, e, exp);
    st->dirty++;
    if (st->count > st->nbuckets)
        grow(st);
    return 0;
}

bool tw_resp_store_del(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms)
{
    entry **slot = lookup(st, key, klen, now_ms);
    if (!slot)
        return false;
    drop(st, slot);
    st->dirty++;
    return true;
}

bool tw_resp_store_ttl(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms, int64_t *expire_ms)
{
    entry **slot = lookup(st, key, klen, now_ms);
    if (!slot)
        return false;
    *expire_ms = (*slot)->expire_ms;
    return true;
}

bool tw_resp_store_set_expiry(tw_resp_store *st, const void *key,
                              size_t klen, int64_t expire_ms, int64_t now_ms)
{
    entry **slot = lookup(st, key, klen, now_ms);
    if (!slot)
        return false;
    set_expiry(st, *slot, expire_ms);
    st->dirty++;
    return true;
}

size_t tw_resp_store_count(const tw_resp_store *st) { return st->count; }
size_t tw_resp_store_volatile(const tw_resp_store *st) { return st->nvolatile; }
size_t tw_resp_store_bytes(const tw_resp_store *st) { return st->bytes; }
size_t tw_resp_store_bytes_max(const tw_resp_store *st) { return st->o.bytes_max; }
void tw_resp_store_set_bytes_max(tw_resp_store *st, size_t bytes_max)
{
    st->o.bytes_max = bytes_max;
}
uint64_t tw_resp_store_dirty(const tw_resp_store *st) { return st->dirty; }

int tw_resp_store_each(const tw_resp_store *st, int64_t now_ms,
                       tw_resp_store_each_fn *fn, void *arg)
{
    for (size_t i = 0; i < st->nbuckets; i++)
        for (const entry *e = st->buckets[i]; e; e = e->next) {
            if (expired(e, now_ms))
                continue;
            int rc = fn(arg, e->data, e->klen, e->data + e->klen, e->vlen, e->expire_ms);
            if (rc < 0)
                return rc;
        }
    return 0;
}

/* ---- reclaiming expired keys ---- */

size_t tw_resp_store_expire_step(tw_resp_store *st, int64_t now_ms,
                                 size_t buckets)
{
    size_t deleted = 0;
    for (size_t n = 0; n < buckets && n < st->nbuckets && st->nvolatile; n++) {
        entry **slot = &st->buckets[st->cursor];
        while (*slot) {
            if (expired(*slot, now_ms)) {
                drop(st, slot);
                deleted++;
            } else {
                slot = &(*slot)->next;
            }
        }
        st->cursor = (st->cursor + 1) & (st->nbuckets - 1);
    }
    return deleted;
}

/* ---- writing into a value, moving, scanning, drawing ---- */

/* A new entry for key holding vlen bytes of val in vcap of room, linked
 * in place of *slot's chain end or of old. */
static entry *entry_new(uint64_t h, const void *key, size_t klen,
                        const void *val, size_t vlen, size_t vcap)
{
    entry *e = malloc(entry_bytes(klen, vcap));
    if (!e)
        return NULL;
    e->next = NULL;
    e->hash = h;
    e->klen = klen;
    e->vlen = vlen;
    e->vcap = vcap;
    e->expire_ms = TW_RESP_NO_EXPIRY;
    memcpy(e->data, key, klen);
    if (vlen)
        memcpy(e->data + klen, val, vlen);
    return e;
}

/* Put e where *slot is (replacing old if there), counting it. */
static void place(tw_resp_store *st, entry **slot, entry *e, int64_t exp)
{
    if (*slot) {
        e->next = (*slot)->next;
        drop(st, slot);
    }
    *slot = e;
    st->count++;
    st->bytes += entry_bytes(e->klen, e->vcap);
    set_expiry(st, e, exp);
    st->dirty++;
    if (st->count > st->nbuckets)
        grow(st);
}

int tw_resp_store_write(tw_resp_store *st, const void *key, size_t klen,
                        size_t off, const void *p, size_t n, int64_t now_ms)
{
    if (off > SIZE_MAX / 4 || n > SIZE_MAX / 4 || klen > SIZE_MAX / 4)
        return -ENOMEM;
    uint64_t h = hash_of(key, klen, st->o.hash_seed);
    entry **slot = lookup(st, key, klen, now_ms);
    if (!slot)
        slot = find(st, key, klen, h);
    entry *old = *slot;
    size_t vlen = old ? old->vlen : 0, end = off + n;
    size_t need = end > vlen ? end : vlen;
    if (old && need <= old->vcap) {
        if (end > vlen && off > vlen)
            memset(old->data + klen + vlen, 0, off - vlen);
        if (n)
            memcpy(old->data + klen + off, p, n);
        old->vlen = need;
        st->dirty++;
        return 0;
    }
    if (!old && st->o.keys_max && st->count >= st->o.keys_max)
        return -ENOMEM;
    /* Room to grow into when it grows again (APPEND in a loop), within
     * a value's longest. */
    size_t cap = old ? (need < 1024 * 1024 ? need * 2 : need + 1024 * 1024) : need;
    size_t old_bytes = old ? entry_bytes(klen, old->vcap) : 0;
    if (!fits(st, old_bytes, entry_bytes(klen, cap)))
        cap = need;
    if (!fits(st, old_bytes, entry_bytes(klen, cap)))
        return -ENOMEM;
    entry *e = entry_new(h, key, klen, old ? old->data + klen : NULL, vlen, cap);
    if (!e)
        return -ENOMEM;
    if (off > vlen)
        memset(e->data + klen + vlen, 0, off - vlen);
    if (n)
        memcpy(e->data + klen + off, p, n);
    e->vlen = need;
    place(st, slot, e, old ? old->expire_ms : TW_RESP_NO_EXPIRY);
    return 0;
}

int tw_resp_store_copy(tw_resp_store *st, const void *src, size_t slen,
                       const void *dst, size_t dlen, bool replace, bool keep,
                       int64_t now_ms)
{
    entry **s = lookup(st, src, slen, now_ms);
    if (!s)
        return -ENOENT;
    uint64_t h = hash_of(dst, dlen, st->o.hash_seed);
    entry **d = lookup(st, dst, dlen, now_ms);
    if (d && !replace)
        return -EEXIST;
    entry *from = *s;
    size_t old_bytes = d ? entry_bytes(dlen, (*d)->vcap) : 0;
    if (!d && keep && st->o.keys_max && st->count >= st->o.keys_max)
        return -ENOMEM;
    if (keep && !fits(st, old_bytes, entry_bytes(dlen, from->vlen)))
        return -ENOMEM;
    entry *e = entry_new(h, dst, dlen, from->data + from->klen, from->vlen, from->vlen);
    if (!e)
        return -ENOMEM;
    int64_t exp = from->expire_ms;
    if (!keep) { /* unlink the source first: dst's slot may follow it */
        drop(st, s);
        st->dirty++;
    }
    place(st, find(st, dst, dlen, h), e, exp);
    return 0;
}

/* Redis's cursor step: increment the bits above the mask, reversed. */
static uint64_t rev64(uint64_t v)
{
    uint64_t r = 0;
    for (int i = 0; i < 64; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

uint64_t tw_resp_store_scan(tw_resp_store *st, uint64_t cursor,
                            int64_t now_ms, tw_resp_scan_fn *fn, void *arg)
{
    uint64_t mask = st->nbuckets - 1;
    for (entry *e = st->buckets[cursor & mask]; e; e = e->next)
        if (!expired(e, now_ms))
            fn(arg, e->data, e->klen);
    cursor |= ~mask;
    cursor = rev64(cursor);
    cursor++;
    return rev64(cursor);
}

static uint64_t draw(tw_resp_store *st)
{
    st->rng += UINT64_C(0x9e3779b97f4a7c15);
    return fmix(st->rng);
}

bool tw_resp_store_random(tw_resp_store *st, int64_t now_ms,
                          const uint8_t **key, size_t *klen)
{
    /* Draw a bucket, take the first non-empty one from there, then a
     * drawn place in its chain; an expired key met is reclaimed and the
     * draw made again, a bounded number of times. */
    for (int tries = 0; tries < 100 && st->count; tries++) {
        size_t b = (size_t)draw(st) & (st->nbuckets - 1);
        while (!st->buckets[b])
            b = (b + 1) & (st->nbuckets - 1);
        size_t len = 0;
        for (entry *e = st->buckets[b]; e; e = e->next)
            len++;
        entry **slot = &st->buckets[b];
        for (size_t i = (size_t)(draw(st) % len); i; i--)
            slot = &(*slot)->next;
        if (expired(*slot, now_ms)) {
            drop(st, slot);
            continue;
        }
        *key = (*slot)->data;
        *klen = (*slot)->klen;
        return true;
    }
    for (size_t b = 0; b < st->nbuckets; b++) /* all drawn were expired */
        for (entry *e = st->buckets[b]; e; e = e->next)
            if (!expired(e, now_ms)) {
                *key = e->data;
                *klen = e->klen;
                return true;
            }
    return false;
}
