/* proto/resp_cmd_string.c - Redis's string and bitmap commands.
 *
 * Map: reading and setting (GET SET SETNX SETEX PSETEX GETSET GETDEL
 * GETEX MSET MSETNX MGET); counters (INCR DECR INCRBY DECRBY
 * INCRBYFLOAT); ranges (APPEND STRLEN GETRANGE SUBSTR SETRANGE LCS);
 * bits (SETBIT GETBIT BITCOUNT BITPOS).
 *
 * A command whose replay would differ (a relative time, a float's
 * rounding) hands on a form that redoes exactly its change (resp.h,
 * tw_resp_ctx.propagate); the others are handed on as they came.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "proto/resp_cmd.h"

static bool get_val(tw_resp_ctx *cx, const tw_resp_arg *key,
                    const uint8_t **v, size_t *vlen)
{
    return tw_resp_store_get(cx->store, key->p, key->len, tw__now_ms(cx), v, vlen);
}

/* ---- reading and setting ---- */

TW__CMD(get)
{
    (void)n;
    const uint8_t *v;
    size_t vlen;
    if (get_val(cx, &a[1], &v, &vlen))
        tw_resp_add_bulk(out, v, vlen);
    else
        tw_resp_add_nil(out);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL],
 * options parsed the way Redis parses them (a repeated EX is fine, EX
 * with PX is not). GETEX's options are the same words. */
enum { F_NX = 1, F_XX = 2, F_GET = 4, F_KEEPTTL = 8, F_EX = 16, F_PX = 32,
       F_EXAT = 64, F_PXAT = 128, F_PERSIST = 256 };
#define F_EXPIRY (F_EX | F_PX | F_EXAT | F_PXAT)

static int set_options(const tw_resp_arg *a, size_t from, size_t n, bool getex,
                       unsigned *flags, const tw_resp_arg **expire)
{
    for (size_t j = from; j < n; j++) {
        bool next = j + 1 < n;
        unsigned f = *flags;
        if (!getex && tw__arg_is(&a[j], "nx") && !(f & F_XX))
            *flags |= F_NX;
        else if (!getex && tw__arg_is(&a[j], "xx") && !(f & F_NX))
            *flags |= F_XX;
        else if (!getex && tw__arg_is(&a[j], "get"))
            *flags |= F_GET;
        else if (!getex && tw__arg_is(&a[j], "keepttl") && !(f & F_EXPIRY))
            *flags |= F_KEEPTTL;
        else if (getex && tw__arg_is(&a[j], "persist") && !(f & F_EXPIRY))
            *flags |= F_PERSIST;
        else if (tw__arg_is(&a[j], "ex") && !(f & (F_KEEPTTL | F_PERSIST | (F_EXPIRY & ~F_EX))) && next)
            *flags |= F_EX, *expire = &a[++j];
        else if (tw__arg_is(&a[j], "px") && !(f & (F_KEEPTTL | F_PERSIST | (F_EXPIRY & ~F_PX))) && next)
            *flags |= F_PX, *expire = &a[++j];
        else if (tw__arg_is(&a[j], "exat") && !(f & (F_KEEPTTL | F_PERSIST | (F_EXPIRY & ~F_EXAT))) && next)
            *flags |= F_EXAT, *expire = &a[++j];
        else if (tw__arg_is(&a[j], "pxat") && !(f & (F_KEEPTTL | F_PERSIST | (F_EXPIRY & ~F_PXAT))) && next)
            *flags |= F_PXAT, *expire = &a[++j];
        else
            return -1;
    }
    return 0;
}

/* A time argument as an absolute expiry in Unix ms, or an error reply.
 * Redis's rule: the number must be positive, and the absolute time, once
 * the current time is added, must not overflow. */
static bool expire_arg(tw_resp_ctx *cx, const tw_resp_arg *arg, bool seconds,
                       bool absolute, const char *name, int64_t *at,
                       tw_resp_buf *out)
{
    int64_t v, base = absolute ? 0 : tw__now_ms(cx);
    if (!tw__arg_int(arg, &v)) {
        tw__err(out, TW__ERR_INT);
        return false;
    }
    if (v <= 0 || (seconds && v > INT64_MAX / 1000) ||
        (seconds ? v * 1000 : v) > INT64_MAX - base) {
        tw_resp_add_errorf(out, "ERR invalid expire time in '%s' command", name);
        return false;
    }
    *at = (seconds ? v * 1000 : v) + base;
    return true;
}

/* Hand on SET key value PXAT at (an absolute time replays the same). */
static void propagate_set_at(tw_resp_ctx *cx, const tw_resp_arg *key,
                             const tw_resp_arg *val, int64_t at)
{
    char text[24];
    tw_resp_arg p[5] = {tw__word("SET"), *key, *val, tw__word("PXAT"),
                        tw__int_word(text, at)};
    tw__propagate(cx, p, 5);
}

/* The heart of SET and its relatives: flags F_NX F_XX F_GET F_KEEPTTL,
 * at the absolute expiry (TW_RESP_NO_EXPIRY: none). ok_reply is what
 * a set answers without F_GET (NULL: nothing, the caller replies).
 * Returns 1 set, 0 not set (NX/XX), -1 error replied. */
static int set_generic(tw_resp_ctx *cx, const tw_resp_arg *key,
                       const tw_resp_arg *val, unsigned flags, int64_t at,
                       const char *ok_reply, tw_resp_buf *out)
{
    int64_t t = tw__now_ms(cx);
    const uint8_t *old;
    size_t old_len;
    bool exists = tw_resp_store_get(cx->store, key->p, key->len, t, &old, &old_len);
    if (flags & F_GET) {
        if (exists)
            tw_resp_add_bulk(out, old, old_len); /* before the store changes */
        else
            tw_resp_add_nil(out);
    }
    if (((flags & F_NX) && exists) || ((flags & F_XX) && !exists)) {
        if (!(flags & F_GET) && ok_reply)
            tw_resp_add_nil(out);
        return 0;
    }
    if (tw_resp_store_set(cx->store, key->p, key->len, val->p, val->len, at,
                          flags & F_KEEPTTL, t) < 0) {
        if (!(flags & F_GET))
            tw__err(out, TW__ERR_OOM);
        return -1;
    }
    if (!(flags & F_GET) && ok_reply)
        tw_resp_add_status(out, ok_reply);
    if (at != TW_RESP_NO_EXPIRY) /* replayed later: the expiry as a time */
        propagate_set_at(cx, key, val, at);
    return 1;
}

TW__CMD(set)
{
    unsigned flags = 0;
    const tw_resp_arg *exp_arg = NULL;
    if (set_options(a, 3, n, false, &flags, &exp_arg) < 0) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    int64_t at = TW_RESP_NO_EXPIRY;
    if (exp_arg && !expire_arg(cx, exp_arg, flags & (F_EX | F_EXAT),
                               flags & (F_EXAT | F_PXAT), "set", &at, out))
        return;
    set_generic(cx, &a[1], &a[2], flags, at, "OK", out);
}

TW__CMD(setnx)
{
    (void)n;
    int r = set_generic(cx, &a[1], &a[2], F_NX, TW_RESP_NO_EXPIRY, NULL, out);
    if (r >= 0)
        tw_resp_add_int(out, r);
}

static void setex_generic(tw_resp_ctx *cx, const tw_resp_arg *a, bool seconds,
                          const char *name, tw_resp_buf *out)
{
    int64_t at;
    if (expire_arg(cx, &a[2], seconds, false, name, &at, out))
        set_generic(cx, &a[1], &a[3], 0, at, "OK", out);
}

TW__CMD(setex)
{
    (void)n;
    setex_generic(cx, a, true, "setex", out);
}

TW__CMD(psetex)
{
    (void)n;
    setex_generic(cx, a, false, "psetex", out);
}

TW__CMD(getset)
{
    (void)n;
    set_generic(cx, &a[1], &a[2], F_GET, TW_RESP_NO_EXPIRY, "OK", out);
}

TW__CMD(getdel)
{
    (void)n;
    const uint8_t *v;
    size_t vlen;
    if (!get_val(cx, &a[1], &v, &vlen)) {
        tw_resp_add_nil(out);
        return;
    }
    tw_resp_add_bulk(out, v, vlen); /* before the store changes */
    tw_resp_store_del(cx->store, a[1].p, a[1].len, tw__now_ms(cx));
    tw_resp_arg p[2] = {tw__word("DEL"), a[1]};
    tw__propagate(cx, p, 2);
}

/* GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST] */
TW__CMD(getex)
{
    unsigned flags = 0;
    const tw_resp_arg *exp_arg = NULL;
    if (set_options(a, 2, n, true, &flags, &exp_arg) < 0) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    int64_t at = TW_RESP_NO_EXPIRY, t = tw__now_ms(cx);
    if (exp_arg && !expire_arg(cx, exp_arg, flags & (F_EX | F_EXAT),
                               flags & (F_EXAT | F_PXAT), "getex", &at, out))
        return;
    const uint8_t *v;
    size_t vlen;
    if (!get_val(cx, &a[1], &v, &vlen)) {
        tw_resp_add_nil(out);
        return;
    }
    tw_resp_add_bulk(out, v, vlen);
    char text[24];
    if (exp_arg && at <= t) { /* a time already past: the key goes */
        tw_resp_store_del(cx->store, a[1].p, a[1].len, t);
        tw_resp_arg p[2] = {tw__word("DEL"), a[1]};
        tw__propagate(cx, p, 2);
    } else if (exp_arg) {
        tw_resp_store_set_expiry(cx->store, a[1].p, a[1].len, at, t);
        tw_resp_arg p[3] = {tw__word("PEXPIREAT"), a[1], tw__int_word(text, at)};
        tw__propagate(cx, p, 3);
    } else if (flags & F_PERSIST) {
        int64_t cur;
        if (tw_resp_store_ttl(cx->store, a[1].p, a[1].len, t, &cur) &&
            cur != TW_RESP_NO_EXPIRY) {
            tw_resp_store_set_expiry(cx->store, a[1].p, a[1].len, TW_RESP_NO_EXPIRY, t);
            tw_resp_arg p[2] = {tw__word("PERSIST"), a[1]};
            tw__propagate(cx, p, 2);
        }
    }
}

static bool mset_arity(const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    if (n % 2 == 1)
        return true;
    tw_resp_add_errorf(out, "ERR wrong number of arguments for '%s' command",
                       tw__arg_is(&a[0], "mset") ? "mset" : "msetnx");
    return false;
}

TW__CMD(mset)
{
    if (!mset_arity(a, n, out))
        return;
    for (size_t i = 1; i < n; i += 2)
        if (tw_resp_store_set(cx->store, a[i].p, a[i].len, a[i + 1].p,
                              a[i + 1].len, TW_RESP_NO_EXPIRY, false,
                              tw__now_ms(cx)) < 0) {
            tw__err(out, TW__ERR_OOM); /* the keys before it are set */
            return;
        }
    tw_resp_add_status(out, "OK");
}

TW__CMD(msetnx)
{
    if (!mset_arity(a, n, out))
        return;
    const uint8_t *v;
    size_t vlen;
    for (size_t i = 1; i < n; i += 2)
        if (get_val(cx, &a[i], &v, &vlen)) {
            tw_resp_add_int(out, 0);
            return;
        }
    for (size_t i = 1; i < n; i += 2)
        if (tw_resp_store_set(cx->store, a[i].p, a[i].len, a[i + 1].p,
                              a[i + 1].len, TW_RESP_NO_EXPIRY, false,
                              tw__now_ms(cx)) < 0) {
            tw__err(out, TW__ERR_OOM);
            return;
        }
    tw_resp_add_int(out, 1);
}

TW__CMD(mget)
{
    tw_resp_add_array(out, (int64_t)n - 1);
    for (size_t i = 1; i < n; i++)
        tw__resp_get(cx, &a[i - 1], 2, out); /* get reads its key at [1] */
}

/* ---- counters ---- */

static void incr_by(tw_resp_ctx *cx, const tw_resp_arg *key, int64_t by,
                    tw_resp_buf *out)
{
    const uint8_t *v;
    size_t vlen;
    int64_t cur = 0, t = tw__now_ms(cx);
    if (get_val(cx, key, &v, &vlen) && !tw_resp_str2ll(v, vlen, &cur)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    if ((by < 0 && cur < 0 && by < INT64_MIN - cur) ||
        (by > 0 && cur > 0 && by > INT64_MAX - cur)) {
        tw__err(out, "ERR increment or decrement would overflow");
        return;
    }
    cur += by;
    char text[24];
    int len = snprintf(text, sizeof text, "%" PRId64, cur);
    /* INCR keeps the key's expiry, as Redis replaces the value only. */
    if (tw_resp_store_set(cx->store, key->p, key->len, text, (size_t)len,
                          TW_RESP_NO_EXPIRY, true, t) < 0) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    tw_resp_add_int(out, cur);
}

TW__CMD(incr)
{
    (void)n;
    incr_by(cx, &a[1], 1, out);
}

TW__CMD(decr)
{
    (void)n;
    incr_by(cx, &a[1], -1, out);
}

TW__CMD(incrby)
{
    (void)n;
    int64_t by;
    if (!tw__arg_int(&a[2], &by))
        tw__err(out, TW__ERR_INT);
    else
        incr_by(cx, &a[1], by, out);
}

TW__CMD(decrby)
{
    (void)n;
    int64_t by;
    if (!tw__arg_int(&a[2], &by))
        tw__err(out, TW__ERR_INT);
    else if (by == INT64_MIN)
        tw__err(out, "ERR decrement would overflow");
    else
        incr_by(cx, &a[1], -by, out);
}

#define LD_CHARS 5120 /* Redis's longest long double text */

/* Redis's string2ld: strtold over the whole text (a NUL inside it ends
 * the number early: refused), no leading space, no NaN, no overflow. */
static bool str2ld(const uint8_t *s, size_t len, long double *out)
{
    char buf[LD_CHARS];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (buf[0] == ' ' || (buf[0] >= '\t' && buf[0] <= '\r') || end != buf + len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) ||
        errno == EINVAL || isnan(v))
        return false;
    *out = v;
    return true;
}

/* Redis's human form: 17 decimals, trailing zeros and point dropped. */
static int ld2str(char *buf, size_t cap, long double v)
{
    int l = snprintf(buf, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > cap)
        return -1;
    if (strchr(buf, '.')) {
        while (buf[l - 1] == '0')
            l--;
        if (buf[l - 1] == '.')
            l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = '\0';
    return l;
}

/* INCRBYFLOAT: handed on as SET key result KEEPTTL, as Redis does, so a
 * replay cannot round differently. */
TW__CMD(incrbyfloat)
{
    (void)n;
    const uint8_t *v;
    size_t vlen;
    long double cur = 0, by;
    int64_t t = tw__now_ms(cx);
    if ((get_val(cx, &a[1], &v, &vlen) && !str2ld(v, vlen, &cur)) ||
        !str2ld(a[2].p, a[2].len, &by)) {
        tw__err(out, "ERR value is not a valid float");
        return;
    }
    cur += by;
    if (isnan(cur) || isinf(cur)) {
        tw__err(out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char text[LD_CHARS];
    int len = ld2str(text, sizeof text, cur);
    if (len < 0) {
        tw__err(out, "ERR increment would produce NaN or Infinity");
        return;
    }
    if (tw_resp_store_set(cx->store, a[1].p, a[1].len, text, (size_t)len,
                          TW_RESP_NO_EXPIRY, true, t) < 0) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    tw_resp_add_bulk(out, text, (size_t)len);
    tw_resp_arg val = {(const uint8_t *)text, (size_t)len};
    tw_resp_arg p[4] = {tw__word("SET"), a[1], val, tw__word("KEEPTTL")};
    tw__propagate(cx, p, 4);
}

/* ---- ranges ---- */

static size_t cur_len(tw_resp_ctx *cx, const tw_resp_arg *key)
{
    const uint8_t *v;
    size_t vlen;
    return get_val(cx, key, &v, &vlen) ? vlen : 0;
}

TW__CMD(append)
{
    (void)n;
    const uint8_t *v;
    size_t len = 0;
    bool exists = get_val(cx, &a[1], &v, &len);
    if (a[2].len > tw__bulk_max(cx) - len) {
        tw__err(out, TW__ERR_BIG);
        return;
    }
    if (exists && a[2].len == 0) { /* nothing changes, nothing is handed on */
        tw_resp_add_int(out, (int64_t)len);
        return;
    }
    if (tw_resp_store_write(cx->store, a[1].p, a[1].len, len, a[2].p, a[2].len,
                            tw__now_ms(cx)) < 0) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    tw_resp_add_int(out, (int64_t)(len + a[2].len));
}

TW__CMD(strlen)
{
    (void)n;
    tw_resp_add_int(out, (int64_t)cur_len(cx, &a[1]));
}

/* GETRANGE key start end (and SUBSTR, its old name). */
TW__CMD(getrange)
{
    (void)n;
    int64_t start, end;
    if (!tw__arg_int(&a[2], &start) || !tw__arg_int(&a[3], &end)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    const uint8_t *v = (const uint8_t *)"";
    size_t vlen = 0;
    get_val(cx, &a[1], &v, &vlen);
    int64_t len = (int64_t)vlen;
    if (start < 0 && end < 0 && start > end) {
        tw_resp_add_bulk(out, "", 0);
        return;
    }
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (end < 0) end = 0;
    if (end >= len) end = len - 1;
    if (start > end || len == 0)
        tw_resp_add_bulk(out, "", 0);
    else
        tw_resp_add_bulk(out, v + start, (size_t)(end - start + 1));
}

TW__CMD(setrange)
{
    (void)n;
    int64_t off;
    if (!tw__arg_int(&a[2], &off)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    if (off < 0) {
        tw__err(out, "ERR offset is out of range");
        return;
    }
    const uint8_t *v;
    size_t vlen;
    bool exists = get_val(cx, &a[1], &v, &vlen);
    if (a[3].len == 0) { /* nothing to write: nothing made or changed */
        tw_resp_add_int(out, exists ? (int64_t)vlen : 0);
        return;
    }
    if ((uint64_t)off > tw__bulk_max(cx) || a[3].len > tw__bulk_max(cx) - (size_t)off) {
        tw__err(out, TW__ERR_BIG);
        return;
    }
    if (tw_resp_store_write(cx->store, a[1].p, a[1].len, (size_t)off, a[3].p,
                            a[3].len, tw__now_ms(cx)) < 0) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    size_t end = (size_t)off + a[3].len;
    tw_resp_add_int(out, (int64_t)(exists && vlen > end ? vlen : end));
}

/* LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the
 * dynamic programme Redis runs, with its bound on the table's memory. */
static void lcs_range(tw_resp_buf *m, int64_t as, int64_t ae, int64_t bs,
                      int64_t be, bool withlen)
{
    tw_resp_add_array(m, 2 + withlen);
    tw_resp_add_array(m, 2);
    tw_resp_add_int(m, as);
    tw_resp_add_int(m, ae);
    tw_resp_add_array(m, 2);
    tw_resp_add_int(m, bs);
    tw_resp_add_int(m, be);
    if (withlen)
        tw_resp_add_int(m, ae - as + 1);
}

TW__CMD(lcs)
{
    bool getlen = false, getidx = false, withlen = false;
    int64_t minlen = 0;
    for (size_t j = 3; j < n; j++) {
        if (tw__arg_is(&a[j], "idx")) getidx = true;
        else if (tw__arg_is(&a[j], "len")) getlen = true;
        else if (tw__arg_is(&a[j], "withmatchlen")) withlen = true;
        else if (tw__arg_is(&a[j], "minmatchlen") && j + 1 < n) {
            if (!tw__arg_int(&a[++j], &minlen)) {
                tw__err(out, TW__ERR_INT);
                return;
            }
            if (minlen < 0)
                minlen = 0;
        } else {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
    }
    const uint8_t *x = (const uint8_t *)"", *y = (const uint8_t *)"";
    size_t xl = 0, yl = 0;
    get_val(cx, &a[1], &x, &xl);
    get_val(cx, &a[2], &y, &yl);
    if (getidx && getlen) {
        tw__err(out, "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    if (xl >= UINT32_MAX - 1 || yl >= UINT32_MAX - 1) {
        tw__err(out, "ERR String too long for LCS");
        return;
    }
    uint64_t cells = (uint64_t)(xl + 1) * (yl + 1);
    if (cells > tw__bulk_max(cx) / sizeof(uint32_t)) {
        tw__err(out, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return;
    }
    uint32_t *d = malloc((size_t)cells * sizeof *d);
    uint8_t *res = malloc(xl < yl ? xl + 1 : yl + 1);
    if (!d || !res) {
        free(d);
        free(res);
        tw__err(out, "ERR Insufficient memory, failed allocating transient memory for LCS");
        return;
    }
#define L(i, j) d[(size_t)(j) * (xl + 1) + (i)]
    for (size_t i = 0; i <= xl; i++)
        for (size_t j = 0; j <= yl; j++)
            L(i, j) = !i || !j ? 0
                      : x[i - 1] == y[j - 1] ? L(i - 1, j - 1) + 1
                      : L(i - 1, j) > L(i, j - 1) ? L(i - 1, j) : L(i, j - 1);
    uint32_t total = L(xl, yl), idx = total;
    /* Walk back from the end, gathering the common bytes and the ranges
     * where both strings match in a run. */
    tw_resp_buf m;
    tw_resp_buf_init(&m, 0);
    int64_t nm = 0, as = (int64_t)xl, ae = 0, bs = 0, be = 0;
    size_t i = xl, j = yl;
    while ((getidx || !getlen) && i > 0 && j > 0) {
        bool emit = false;
        if (x[i - 1] == y[j - 1]) {
            res[idx - 1] = x[i - 1];
            if (as == (int64_t)xl) {
                as = ae = (int64_t)i - 1;
                bs = be = (int64_t)j - 1;
            } else if (as == (int64_t)i && bs == (int64_t)j) {
                as--, bs--;
            } else {
                emit = true;
            }
            if (as == 0 || bs == 0)
                emit = true;
            idx--, i--, j--;
        } else {
            if (L(i - 1, j) > L(i, j - 1)) i--;
            else j--;
            if (as != (int64_t)xl)
                emit = true;
        }
        if (emit) {
            if ((minlen == 0 || ae - as + 1 >= minlen) && getidx) {
                lcs_range(&m, as, ae, bs, be, withlen);
                nm++;
            }
            as = (int64_t)xl;
        }
    }
#undef L
    if (getidx) {
        tw_resp_add_array(out, 4);
        tw_resp_add_bulk_str(out, "matches");
        tw_resp_add_array(out, nm);
        tw_resp_add_raw(out, m.data, m.len);
        tw_resp_add_bulk_str(out, "len");
        tw_resp_add_int(out, total);
    } else if (getlen) {
        tw_resp_add_int(out, total);
    } else {
        tw_resp_add_bulk(out, res, total);
    }
    tw_resp_buf_fini(&m);
    free(d);
    free(res);
}

/* ---- bits ---- */

/* A bit offset as Redis takes it: an integer below 8 x proto-max-bulk-len. */
static bool bit_offset(tw_resp_ctx *cx, const tw_resp_arg *arg, uint64_t *off,
                       tw_resp_buf *out)
{
    int64_t v;
    if (!tw__arg_int(arg, &v) || v < 0 || ((uint64_t)v >> 3) >= tw__bulk_max(cx)) {
        tw__err(out, "ERR bit offset is not an integer or out of range");
        return false;
    }
    *off = (uint64_t)v;
    return true;
}

TW__CMD(setbit)
{
    (void)n;
    uint64_t off;
    if (!bit_offset(cx, &a[2], &off, out))
        return;
    if (a[3].len != 1 || (a[3].p[0] != '0' && a[3].p[0] != '1')) {
        tw__err(out, "ERR bit is not an integer or out of range");
        return;
    }
    const uint8_t *v;
    size_t vlen;
    size_t byte = (size_t)(off >> 3);
    uint8_t old = get_val(cx, &a[1], &v, &vlen) && byte < vlen ? v[byte] : 0;
    uint8_t mask = (uint8_t)(1u << (7 - (off & 7)));
    uint8_t now = a[3].p[0] == '1' ? (uint8_t)(old | mask) : (uint8_t)(old & ~mask);
    if (tw_resp_store_write(cx->store, a[1].p, a[1].len, byte, &now, 1,
                            tw__now_ms(cx)) < 0) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    tw_resp_add_int(out, (old & mask) != 0);
}

TW__CMD(getbit)
{
    (void)n;
    uint64_t off;
    if (!bit_offset(cx, &a[2], &off, out))
        return;
    const uint8_t *v;
    size_t vlen;
    size_t byte = (size_t)(off >> 3);
    bool bit = get_val(cx, &a[1], &v, &vlen) && byte < vlen &&
               (v[byte] >> (7 - (off & 7))) & 1;
    tw_resp_add_int(out, bit);
}

/* A [start, end] range of a value in bytes, or in bits with BIT, made
 * absolute as Redis makes it: negative counts from the end, then
 * clamped. *unit is 1 or 8. Returns 0, or -1 after an error reply. */
static int bit_range(const tw_resp_arg *a, size_t n, size_t from, size_t vlen,
                     int64_t *start, int64_t *end, bool *end_given,
                     tw_resp_buf *out)
{
    bool isbit = false;
    *start = 0;
    *end = -1;
    *end_given = false;
    /* Redis's order: the start, the unit, then the end. */
    if (n > from && !tw__arg_int(&a[from], start)) {
        tw__err(out, TW__ERR_INT);
        return -1;
    }
    if (n > from + 2) {
        if (tw__arg_is(&a[from + 2], "bit"))
            isbit = true;
        else if (!tw__arg_is(&a[from + 2], "byte")) {
            tw__err(out, TW__ERR_SYNTAX);
            return -1;
        }
    }
    if (n > from + 1) {
        if (!tw__arg_int(&a[from + 1], end)) {
            tw__err(out, TW__ERR_INT);
            return -1;
        }
        *end_given = true;
    }
    int64_t total = (int64_t)vlen * (isbit ? 8 : 1);
    if (*start < 0) *start += total;
    if (*end < 0) *end += total;
    if (*start < 0) *start = 0;
    if (*end < 0) *end = 0;
    if (*end >= total) *end = total - 1;
    if (!isbit) { /* in bits from here on */
        *start *= 8;
        *end = *end * 8 + 7;
    }
    return 0;
}

static bool bit_at(const uint8_t *v, int64_t i)
{
    return (v[i >> 3] >> (7 - (i & 7))) & 1;
}

TW__CMD(bitcount)
{
    const uint8_t *v;
    size_t vlen;
    int64_t s0 = 0, e0 = 0, start, end;
    bool end_given;
    if (!get_val(cx, &a[1], &v, &vlen)) { /* Redis looks the key up first */
        tw_resp_add_int(out, 0);
        return;
    }
    if (n >= 4 && n <= 5 && (!tw__arg_int(&a[2], &s0) || !tw__arg_int(&a[3], &e0))) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    if (n != 2 && n != 4 && n != 5) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    if (n >= 4 && s0 < 0 && e0 < 0 && s0 > e0) { /* before the unit, as Redis */
        tw_resp_add_int(out, 0);
        return;
    }
    if (n == 5 && !tw__arg_is(&a[4], "bit") && !tw__arg_is(&a[4], "byte")) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    if (bit_range(a, n, 2, vlen, &start, &end, &end_given, out) < 0)
        return;
    int64_t count = 0;
    for (int64_t i = start; i <= end;) {
        if ((i & 7) == 0 && i + 7 <= end) {
            count += __builtin_popcount(v[i >> 3]);
            i += 8;
        } else {
            count += bit_at(v, i++);
        }
    }
    tw_resp_add_int(out, count);
}

TW__CMD(bitpos)
{
    int64_t bit;
    if (!tw__arg_int(&a[2], &bit)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    if (bit != 0 && bit != 1) {
        tw__err(out, "ERR The bit argument must be 1 or 0.");
        return;
    }
    if (n > 6) {
        tw__err(out, TW__ERR_SYNTAX);
        return;
    }
    const uint8_t *v;
    size_t vlen;
    if (!get_val(cx, &a[1], &v, &vlen)) {
        tw_resp_add_int(out, bit ? -1 : 0);
        return;
    }
    int64_t start, end;
    bool end_given;
    if (bit_range(a, n, 3, vlen, &start, &end, &end_given, out) < 0)
        return;
    if (start > end || vlen == 0) {
        tw_resp_add_int(out, -1);
        return;
    }
    uint8_t skip = bit ? 0x00 : 0xff; /* a byte with no bit sought */
    for (int64_t i = start; i <= end;) {
        if ((i & 7) == 0 && i + 7 <= end && v[i >> 3] == skip) {
            i += 8;
            continue;
        }
        if (bit_at(v, i) == bit) {
            tw_resp_add_int(out, i);
            return;
        }
        i++;
    }
    /* No clear bit within the value: the bits after it count as clear,
     * unless an end was given. */
    tw_resp_add_int(out, !bit && !end_given ? end + 1 : -1);
}
