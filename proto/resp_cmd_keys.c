/* proto/resp_cmd_keys.c - Redis's generic keyspace commands.
 *
 * Map: DEL UNLINK EXISTS TOUCH TYPE; expiry (EXPIRE PEXPIRE EXPIREAT
 * PEXPIREAT EXPIRETIME PEXPIRETIME TTL PTTL PERSIST); naming (RENAME
 * RENAMENX COPY); walking (KEYS SCAN RANDOMKEY); DBSIZE FLUSHALL FLUSHDB.
 *
 * Every value is a string, so TYPE says "string" and SCAN's TYPE filter
 * keeps all keys or none. SCAN and RANDOMKEY depend on the keys and the
 * keyspace's hash seed only (never on addresses): a seed replays them.
 */
#include <errno.h>
#include <stdlib.h>

#include "proto/resp_cmd.h"

TW__CMD(del)
{
    int64_t deleted = 0;
    for (size_t i = 1; i < n; i++)
        deleted += tw_resp_store_del(cx->store, a[i].p, a[i].len, tw__now_ms(cx));
    tw_resp_add_int(out, deleted);
}

TW__CMD(exists)
{
    int64_t found = 0; /* a key named twice counts twice, as in Redis */
    const uint8_t *v;
    size_t vlen;
    for (size_t i = 1; i < n; i++)
        found += tw_resp_store_get(cx->store, a[i].p, a[i].len, tw__now_ms(cx), &v, &vlen);
    tw_resp_add_int(out, found);
}

TW__CMD(touch)
{
    tw__resp_exists(cx, a, n, out); /* no access times kept: a count */
}

TW__CMD(type)
{
    (void)n;
    const uint8_t *v;
    size_t vlen;
    bool there = tw_resp_store_get(cx->store, a[1].p, a[1].len, tw__now_ms(cx), &v, &vlen);
    tw_resp_add_status(out, there ? "string" : "none");
}

/* ---- expiry ---- */

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] */
static void expire_generic(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                           bool seconds, bool absolute, const char *name,
                           tw_resp_buf *out)
{
    unsigned nx = 0, xx = 0, gt = 0, lt = 0;
    for (size_t j = 3; j < n; j++) {
        if (tw__arg_is(&a[j], "nx")) nx = 1;
        else if (tw__arg_is(&a[j], "xx")) xx = 1;
        else if (tw__arg_is(&a[j], "gt")) gt = 1;
        else if (tw__arg_is(&a[j], "lt")) lt = 1;
        else {
            tw_resp_add_errorf(out, "ERR Unsupported option %.*s",
                               tw__clen(&a[j], 128), (const char *)a[j].p);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        tw__err(out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        tw__err(out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    int64_t when, t = tw__now_ms(cx), base = absolute ? 0 : t;
    if (!tw__arg_int(&a[2], &when)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    /* Redis's bounds: the time in ms, plus now for a relative one, must
     * fit in 64 bits. */
    if ((seconds && (when > INT64_MAX / 1000 || when < INT64_MIN / 1000)) ||
        (seconds ? when * 1000 : when) > INT64_MAX - base) {
        tw_resp_add_errorf(out, "ERR invalid expire time in '%s' command", name);
        return;
    }
    when = (seconds ? when * 1000 : when) + base;
    int64_t cur;
    if (!tw_resp_store_ttl(cx->store, a[1].p, a[1].len, t, &cur)) {
        tw_resp_add_int(out, 0);
        return;
    }
    bool none = cur == TW_RESP_NO_EXPIRY; /* no expiry counts as infinite */
    if ((nx && !none) || (xx && none) || (gt && (none || when <= cur)) ||
        (lt && !none && when >= cur)) {
        tw_resp_add_int(out, 0);
        return;
    }
    char text[24];
    if (when <= t) { /* already in the past: the key goes now */
        tw_resp_store_del(cx->store, a[1].p, a[1].len, t);
        tw_resp_arg p[2] = {tw__word("DEL"), a[1]};
        tw__propagate(cx, p, 2);
    } else {
        tw_resp_store_set_expiry(cx->store, a[1].p, a[1].len, when, t);
        tw_resp_arg p[3] = {tw__word("PEXPIREAT"), a[1], tw__int_word(text, when)};
        tw__propagate(cx, p, 3);
    }
    tw_resp_add_int(out, 1);
}

TW__CMD(expire) { expire_generic(cx, a, n, true, false, "expire", out); }
TW__CMD(pexpire) { expire_generic(cx, a, n, false, false, "pexpire", out); }
TW__CMD(expireat) { expire_generic(cx, a, n, true, true, "expireat", out); }
TW__CMD(pexpireat) { expire_generic(cx, a, n, false, true, "pexpireat", out); }

/* TTL PTTL EXPIRETIME PEXPIRETIME: -2 absent, -1 no expiry. */
static void ttl_generic(tw_resp_ctx *cx, const tw_resp_arg *a, bool ms,
                        bool absolute, tw_resp_buf *out)
{
    int64_t at, t = tw__now_ms(cx);
    if (!tw_resp_store_ttl(cx->store, a[1].p, a[1].len, t, &at)) {
        tw_resp_add_int(out, -2);
        return;
    }
    if (at == TW_RESP_NO_EXPIRY) {
        tw_resp_add_int(out, -1);
        return;
    }
    if (absolute) {
        tw_resp_add_int(out, ms ? at : at / 1000);
        return;
    }
    int64_t left = at - t < 0 ? 0 : at - t;
    tw_resp_add_int(out, ms ? left : (left + 500) / 1000); /* Redis rounds */
}

TW__CMD(ttl) { (void)n; ttl_generic(cx, a, false, false, out); }
TW__CMD(pttl) { (void)n; ttl_generic(cx, a, true, false, out); }
TW__CMD(expiretime) { (void)n; ttl_generic(cx, a, false, true, out); }
TW__CMD(pexpiretime) { (void)n; ttl_generic(cx, a, true, true, out); }

TW__CMD(persist)
{
    (void)n;
    int64_t at, t = tw__now_ms(cx);
    if (!tw_resp_store_ttl(cx->store, a[1].p, a[1].len, t, &at) ||
        at == TW_RESP_NO_EXPIRY) {
        tw_resp_add_int(out, 0);
        return;
    }
    tw_resp_store_set_expiry(cx->store, a[1].p, a[1].len, TW_RESP_NO_EXPIRY, t);
    tw_resp_add_int(out, 1);
}

/* ---- naming ---- */

static bool same(const tw_resp_arg *x, const tw_resp_arg *y)
{
    return x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

static void rename_generic(tw_resp_ctx *cx, const tw_resp_arg *a, bool nx,
                           tw_resp_buf *out)
{
    int64_t t = tw__now_ms(cx);
    const uint8_t *v;
    size_t vlen;
    if (!tw_resp_store_get(cx->store, a[1].p, a[1].len, t, &v, &vlen)) {
        tw__err(out, "ERR no such key");
        return;
    }
    if (same(&a[1], &a[2])) { /* Redis: nothing to do */
        if (nx)
            tw_resp_add_int(out, 0);
        else
            tw_resp_add_status(out, "OK");
        return;
    }
    int rc = tw_resp_store_copy(cx->store, a[1].p, a[1].len, a[2].p, a[2].len,
                                !nx, false, t);
    if (rc == -EEXIST)
        tw_resp_add_int(out, 0);
    else if (rc < 0)
        tw__err(out, TW__ERR_OOM);
    else if (nx)
        tw_resp_add_int(out, 1);
    else
        tw_resp_add_status(out, "OK");
}

TW__CMD(rename) { (void)n; rename_generic(cx, a, false, out); }
TW__CMD(renamenx) { (void)n; rename_generic(cx, a, true, out); }

/* COPY source destination [DB destination-db] [REPLACE] */
TW__CMD(copy)
{
    bool replace = false;
    for (size_t j = 3; j < n; j++) {
        int64_t db;
        if (tw__arg_is(&a[j], "replace")) {
            replace = true;
        } else if (tw__arg_is(&a[j], "db") && j + 1 < n) {
            if (!tw__arg_int(&a[++j], &db)) {
                tw__err(out, TW__ERR_INT);
                return;
            }
            if (db != 0) {
                tw__err(out, "ERR DB index is out of range");
                return;
            }
        } else {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
    }
    if (same(&a[1], &a[2])) {
        tw__err(out, "ERR source and destination objects are the same");
        return;
    }
    int rc = tw_resp_store_copy(cx->store, a[1].p, a[1].len, a[2].p, a[2].len,
                                replace, true, tw__now_ms(cx));
    if (rc == -ENOMEM)
        tw__err(out, TW__ERR_OOM);
    else
        tw_resp_add_int(out, rc == 0);
}

/* ---- walking ---- */

typedef struct walk {
    tw_resp_buf *out;
    const tw_resp_arg *pat; /* NULL: every key */
    int64_t found;
    bool none;              /* TYPE asked for another type */
} walk;

static void walk_one(void *arg, const uint8_t *key, size_t klen)
{
    walk *w = arg;
    if (w->none || (w->pat && !tw__glob(w->pat->p, w->pat->len, key, klen, false)))
        return;
    tw_resp_add_bulk(w->out, key, klen);
    w->found++;
}

static bool match_all(const tw_resp_arg *pat)
{
    return pat->len == 1 && pat->p[0] == '*';
}

/* The keys are gathered apart and counted, then the array written. */
TW__CMD(keys)
{
    (void)n;
    tw_resp_buf keys;
    tw_resp_buf_init(&keys, 0);
    walk w = {&keys, match_all(&a[1]) ? NULL : &a[1], 0, false};
    int64_t t = tw__now_ms(cx);
    uint64_t c = 0;
    do
        c = tw_resp_store_scan(cx->store, c, t, walk_one, &w);
    while (c);
    tw_resp_add_array(out, w.found);
    tw_resp_add_raw(out, keys.data, keys.len);
    tw_resp_buf_fini(&keys);
}

/* Redis parses a cursor as an unsigned 64-bit number. */
static bool cursor_arg(const tw_resp_arg *a, uint64_t *c)
{
    if (a->len == 0 || a->len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < a->len; i++) {
        if (a->p[i] < '0' || a->p[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(a->p[i] - '0');
    }
    *c = v;
    return true;
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] */
TW__CMD(scan)
{
    uint64_t c;
    if (!cursor_arg(&a[1], &c)) {
        tw__err(out, "ERR invalid cursor");
        return;
    }
    int64_t count = 10;
    walk w = {NULL, NULL, 0, false};
    for (size_t j = 2; j < n; j += 2) {
        if (j + 1 >= n) {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
        if (tw__arg_is(&a[j], "count")) {
            if (!tw__arg_int(&a[j + 1], &count)) {
                tw__err(out, TW__ERR_INT);
                return;
            }
            if (count < 1) {
                tw__err(out, TW__ERR_SYNTAX);
                return;
            }
        } else if (tw__arg_is(&a[j], "match")) {
            w.pat = match_all(&a[j + 1]) ? NULL : &a[j + 1];
        } else if (tw__arg_is(&a[j], "type")) {
            w.none = !tw__arg_is(&a[j + 1], "string");
        } else {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
    }
    tw_resp_buf keys;
    tw_resp_buf_init(&keys, 0);
    w.out = &keys;
    /* Redis's effort: buckets until COUNT keys are seen, at most ten
     * times COUNT buckets (empty ones included). */
    int64_t t = tw__now_ms(cx), seen = 0;
    uint64_t buckets_max = (uint64_t)count * 10;
    do {
        int64_t before = w.found;
        c = tw_resp_store_scan(cx->store, c, t, walk_one, &w);
        seen += w.found - before;
    } while (c && seen < count && --buckets_max);
    char text[24];
    int len = snprintf(text, sizeof text, "%" PRIu64, c);
    tw_resp_add_array(out, 2);
    tw_resp_add_bulk(out, text, (size_t)len);
    tw_resp_add_array(out, w.found);
    tw_resp_add_raw(out, keys.data, keys.len);
    tw_resp_buf_fini(&keys);
}

TW__CMD(randomkey)
{
    (void)a; (void)n;
    const uint8_t *k;
    size_t klen;
    if (tw_resp_store_random(cx->store, tw__now_ms(cx), &k, &klen))
        tw_resp_add_bulk(out, k, klen);
    else
        tw_resp_add_nil(out);
}

/* ---- the whole keyspace ---- */

TW__CMD(dbsize)
{
    (void)a; (void)n;
    tw_resp_add_int(out, (int64_t)tw_resp_store_count(cx->store));
}

/* FLUSHALL and FLUSHDB [ASYNC|SYNC]: one keyspace, so the same. */
TW__CMD(flushall)
{
    if (n > 2 || (n == 2 && !tw__arg_is(&a[1], "async") && !tw__arg_is(&a[1], "sync"))) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    tw_resp_store_flush(cx->store);
    tw_resp_add_status(out, "OK");
}
