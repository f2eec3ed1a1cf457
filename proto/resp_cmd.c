/* proto/resp_cmd.c - the commands, replying as Redis 7 replies.
 *
 * Map: helpers (names, integers, time); connection commands (PING ECHO
 * QUIT SELECT HELLO); strings (GET SET MSET MGET INCR INCRBY DECR DECRBY); keys (DEL
 * EXISTS EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL); server (DBSIZE FLUSHALL COMMAND CONFIG
 * INFO); the table and dispatch.
 *
 * Reply texts, error wording included, are Redis's, so clients and their
 * tests that match on them work unchanged. Arity follows Redis's rule: a
 * positive arity is the exact argument count (the name included), a
 * negative one the least.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "twin/resp.h"
#include "twin/twin.h"

typedef void cmd_fn(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                    tw_resp_buf *out);

typedef struct cmd {
    const char *name; /* lower case, as Redis names it in errors */
    size_t len;
    int arity;
    cmd_fn *fn;
    const char *flags; /* COMMAND's flags, space separated */
    int first_key, last_key, step;
} cmd;

static const char ERR_INT[] = "ERR value is not an integer or out of range";
static const char ERR_SYNTAX[] = "ERR syntax error";
static const char ERR_OOM[] = "OOM command not allowed when used memory > 'maxmemory'.";

/* ---- helpers ---- */

static void add_err(tw_resp_buf *out, const char *s)
{
    tw_resp_add_error(out, s, strlen(s));
}

static bool arg_is(const tw_resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    if (a->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = a->p[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (c != (uint8_t)word[i])
            return false;
    }
    return true;
}

static int64_t now_ms(const tw_resp_ctx *cx) { return cx->now / TW_NS_PER_MS; }

static bool arg_int(const tw_resp_arg *a, int64_t *v)
{
    return tw_resp_str2ll(a->p, a->len, v);
}

/* Up to the first NUL: Redis prints arguments with %s. */
static int c_len(const tw_resp_arg *a, size_t cap)
{
    const uint8_t *z = memchr(a->p, 0, a->len);
    size_t n = z ? (size_t)(z - a->p) : a->len;
    return (int)(n < cap ? n : cap);
}

/* A write that would pass the store's byte limit is refused up front, as
 * Redis refuses "denyoom" commands once used memory is over maxmemory. */
/* Hand on the command's own form of its change (see tw_resp_ctx). */
static void propagate(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t n)
{
    cx->propagated = true;
    if (cx->propagate)
        cx->propagate(cx->propagate_arg, argv, n);
}

static tw_resp_arg word(const char *s) { return (tw_resp_arg){(const uint8_t *)s, strlen(s)}; }

static tw_resp_arg ms_word(char text[24], int64_t v)
{
    int len = snprintf(text, 24, "%" PRId64, v);
    return (tw_resp_arg){(const uint8_t *)text, (size_t)len};
}

static bool over_memory(const tw_resp_ctx *cx)
{
    return cx->info && cx->info->bytes_max &&
           tw_resp_store_bytes(cx->store) >= cx->info->bytes_max;
}

/* ---- connection ---- */

static void c_ping(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)cx;
    if (n > 2)
        add_err(out, "ERR wrong number of arguments for 'ping' command");
    else if (n == 2)
        tw_resp_add_bulk(out, a[1].p, a[1].len);
    else
        tw_resp_add_status(out, "PONG");
}

static void c_echo(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)cx; (void)n;
    tw_resp_add_bulk(out, a[1].p, a[1].len);
}

static void c_quit(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)a; (void)n;
    cx->quit = true;
    tw_resp_add_status(out, "OK");
}

static void c_select(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)cx; (void)n;
    int64_t db;
    if (!arg_int(&a[1], &db))
        add_err(out, ERR_INT);
    else if (db != 0)
        add_err(out, "ERR DB index is out of range"); /* one keyspace */
    else
        tw_resp_add_status(out, "OK");
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only. */
static void c_hello(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    if (n >= 2) {
        int64_t ver;
        if (!arg_int(&a[1], &ver)) {
            add_err(out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver != 2) {
            add_err(out, "NOPROTO unsupported protocol version");
            return;
        }
        for (size_t i = 2; i < n; i++) {
            if (arg_is(&a[i], "auth") && i + 2 < n) {
                if (!arg_is(&a[i + 1], "default")) { /* no users but that */
                    add_err(out, "WRONGPASS invalid username-password pair or user is disabled.");
                    return;
                }
                i += 2;
            } else if (arg_is(&a[i], "setname") && i + 1 < n) {
                i++;
            } else {
                tw_resp_add_errorf(out, "ERR Syntax error in HELLO option '%.*s'",
                                   c_len(&a[i], 128), (const char *)a[i].p);
                return;
            }
        }
    }
    tw_resp_add_array(out, 14);
    tw_resp_add_bulk_str(out, "server");
    tw_resp_add_bulk_str(out, "twin");
    tw_resp_add_bulk_str(out, "version");
    tw_resp_add_bulk_str(out, TWIN_VERSION);
    tw_resp_add_bulk_str(out, "proto");
    tw_resp_add_int(out, 2);
    tw_resp_add_bulk_str(out, "id");
    tw_resp_add_int(out, (int64_t)cx->client_id);
    tw_resp_add_bulk_str(out, "mode");
    tw_resp_add_bulk_str(out, "standalone");
    tw_resp_add_bulk_str(out, "role");
    tw_resp_add_bulk_str(out, "master");
    tw_resp_add_bulk_str(out, "modules");
    tw_resp_add_array(out, 0);
}

/* ---- strings ---- */

static void c_get(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    const uint8_t *v;
    size_t vlen;
    if (tw_resp_store_get(cx->store, a[1].p, a[1].len, now_ms(cx), &v, &vlen))
        tw_resp_add_bulk(out, v, vlen);
    else
        tw_resp_add_nil(out);
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL],
 * options parsed the way Redis parses them (a repeated EX is fine, EX
 * with PX is not). */
enum { F_NX = 1, F_XX = 2, F_GET = 4, F_KEEPTTL = 8, F_EX = 16, F_PX = 32,
       F_EXAT = 64, F_PXAT = 128 };
#define F_EXPIRY (F_EX | F_PX | F_EXAT | F_PXAT)

static int set_options(const tw_resp_arg *a, size_t n, unsigned *flags,
                       const tw_resp_arg **expire)
{
    for (size_t j = 3; j < n; j++) {
        bool next = j + 1 < n;
        unsigned f = *flags;
        if (arg_is(&a[j], "nx") && !(f & F_XX))
            *flags |= F_NX;
        else if (arg_is(&a[j], "xx") && !(f & F_NX))
            *flags |= F_XX;
        else if (arg_is(&a[j], "get"))
            *flags |= F_GET;
        else if (arg_is(&a[j], "keepttl") && !(f & F_EXPIRY))
            *flags |= F_KEEPTTL;
        else if (arg_is(&a[j], "ex") && !(f & (F_KEEPTTL | (F_EXPIRY & ~F_EX))) && next)
            *flags |= F_EX, *expire = &a[++j];
        else if (arg_is(&a[j], "px") && !(f & (F_KEEPTTL | (F_EXPIRY & ~F_PX))) && next)
            *flags |= F_PX, *expire = &a[++j];
        else if (arg_is(&a[j], "exat") && !(f & (F_KEEPTTL | (F_EXPIRY & ~F_EXAT))) && next)
            *flags |= F_EXAT, *expire = &a[++j];
        else if (arg_is(&a[j], "pxat") && !(f & (F_KEEPTTL | (F_EXPIRY & ~F_PXAT))) && next)
            *flags |= F_PXAT, *expire = &a[++j];
        else
            return -1;
    }
    return 0;
}

/* An EX/PX/EXAT/PXAT argument as an absolute expiry, or an error reply. */
static bool expire_arg(tw_resp_ctx *cx, const tw_resp_arg *arg, bool seconds,
                       bool absolute, const char *name, int64_t *at,
                       tw_resp_buf *out)
{
    int64_t v, base = absolute ? 0 : now_ms(cx);
    if (!arg_int(arg, &v)) {
        add_err(out, ERR_INT);
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

static void c_set(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    unsigned flags = 0;
    const tw_resp_arg *exp_arg = NULL;
    if (set_options(a, n, &flags, &exp_arg) < 0) {
        add_err(out, ERR_SYNTAX);
        return;
    }
    int64_t at = TW_RESP_NO_EXPIRY, t = now_ms(cx);
    if (exp_arg && !expire_arg(cx, exp_arg, flags & (F_EX | F_EXAT),
                               flags & (F_EXAT | F_PXAT), "set", &at, out))
        return;
    if (over_memory(cx)) {
        add_err(out, ERR_OOM);
        return;
    }
    const uint8_t *old;
    size_t old_len;
    bool exists = tw_resp_store_get(cx->store, a[1].p, a[1].len, t, &old, &old_len);
    if (flags & F_GET) {
        if (exists)
            tw_resp_add_bulk(out, old, old_len); /* before the store changes */
        else
            tw_resp_add_nil(out);
    }
    if (((flags & F_NX) && exists) || ((flags & F_XX) && !exists)) {
        if (!(flags & F_GET))
            tw_resp_add_nil(out);
        return;
    }
    if (tw_resp_store_set(cx->store, a[1].p, a[1].len, a[2].p, a[2].len, at,
                          flags & F_KEEPTTL, t) < 0) {
        if (!(flags & F_GET))
            add_err(out, ERR_OOM);
        return;
    }
    if (!(flags & F_GET))
        tw_resp_add_status(out, "OK");
    if (flags & F_EXPIRY) { /* replayed later: the expiry as a time */
        char text[24];
        tw_resp_arg p[5] = {a[0], a[1], a[2], word("PXAT"), ms_word(text, at)};
        propagate(cx, p, 5);
    }
}

static void c_mset(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    if (n % 2 == 0) {
        add_err(out, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    if (over_memory(cx)) {
        add_err(out, ERR_OOM);
        return;
    }
    for (size_t i = 1; i < n; i += 2)
        if (tw_resp_store_set(cx->store, a[i].p, a[i].len, a[i + 1].p,
                              a[i + 1].len, TW_RESP_NO_EXPIRY, false,
                              now_ms(cx)) < 0) {
            add_err(out, ERR_OOM); /* the keys before it are set */
            return;
        }
    tw_resp_add_status(out, "OK");
}

static void c_mget(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    tw_resp_add_array(out, (int64_t)n - 1);
    for (size_t i = 1; i < n; i++)
        c_get(cx, &a[i - 1], 2, out); /* c_get reads its key at [1] */
}

static void incr_by(tw_resp_ctx *cx, const tw_resp_arg *key, int64_t by,
                    tw_resp_buf *out)
{
    const uint8_t *v;
    size_t vlen;
    int64_t cur = 0, t = now_ms(cx);
    if (tw_resp_store_get(cx->store, key->p, key->len, t, &v, &vlen) &&
        !tw_resp_str2ll(v, vlen, &cur)) {
        add_err(out, ERR_INT);
        return;
    }
    if ((by < 0 && cur < 0 && by < INT64_MIN - cur) ||
        (by > 0 && cur > 0 && by > INT64_MAX - cur)) {
        add_err(out, "ERR increment or decrement would overflow");
        return;
    }
    cur += by;
    char text[24];
    int len = snprintf(text, sizeof text, "%" PRId64, cur);
    /* INCR keeps the key's expiry, as Redis replaces the value only. */
    if (tw_resp_store_set(cx->store, key->p, key->len, text, (size_t)len,
                          TW_RESP_NO_EXPIRY, true, t) < 0) {
        add_err(out, ERR_OOM);
        return;
    }
    tw_resp_add_int(out, cur);
}

static void c_incr(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    incr_by(cx, &a[1], 1, out);
}

static void c_decr(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    incr_by(cx, &a[1], -1, out);
}

static void c_incrby(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    int64_t by;
    if (!arg_int(&a[2], &by))
        add_err(out, ERR_INT);
    else
        incr_by(cx, &a[1], by, out);
}

static void c_decrby(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    int64_t by;
    if (!arg_int(&a[2], &by))
        add_err(out, ERR_INT);
    else if (by == INT64_MIN)
        add_err(out, "ERR decrement would overflow");
    else
        incr_by(cx, &a[1], -by, out);
}

/* ---- keys ---- */

static void c_del(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    int64_t deleted = 0;
    for (size_t i = 1; i < n; i++)
        deleted += tw_resp_store_del(cx->store, a[i].p, a[i].len, now_ms(cx));
    tw_resp_add_int(out, deleted);
}

static void c_exists(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    int64_t found = 0; /* a key named twice counts twice, as in Redis */
    const uint8_t *v;
    size_t vlen;
    for (size_t i = 1; i < n; i++)
        found += tw_resp_store_get(cx->store, a[i].p, a[i].len, now_ms(cx), &v, &vlen);
    tw_resp_add_int(out, found);
}

/* EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT key time [NX|XX|GT|LT] */
static void expire_generic(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                           bool seconds, bool absolute, const char *name,
                           tw_resp_buf *out)
{
    unsigned nx = 0, xx = 0, gt = 0, lt = 0;
    for (size_t j = 3; j < n; j++) {
        if (arg_is(&a[j], "nx")) nx = 1;
        else if (arg_is(&a[j], "xx")) xx = 1;
        else if (arg_is(&a[j], "gt")) gt = 1;
        else if (arg_is(&a[j], "lt")) lt = 1;
        else {
            tw_resp_add_errorf(out, "ERR Unsupported option %.*s",
                               c_len(&a[j], 128), (const char *)a[j].p);
            return;
        }
    }
    if (nx && (xx || gt || lt)) {
        add_err(out, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return;
    }
    if (gt && lt) {
        add_err(out, "ERR GT and LT options at the same time are not compatible");
        return;
    }
    int64_t when, t = now_ms(cx), base = absolute ? 0 : t;
    if (!arg_int(&a[2], &when)) {
        add_err(out, ERR_INT);
        return;
    }
    if ((seconds && (when > INT64_MAX / 1000 || when < INT64_MIN / 1000)) ||
        (seconds ? when * 1000 : when) > INT64_MAX - base ||
        (seconds ? when * 1000 : when) < INT64_MIN - base) {
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
        tw_resp_arg p[2] = {word("DEL"), a[1]};
        propagate(cx, p, 2);
    } else {
        tw_resp_store_set_expiry(cx->store, a[1].p, a[1].len, when, t);
        tw_resp_arg p[3] = {word("PEXPIREAT"), a[1], ms_word(text, when)};
        propagate(cx, p, 3);
    }
    tw_resp_add_int(out, 1);
}

static void c_expire(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    expire_generic(cx, a, n, true, false, "expire", out);
}

static void c_pexpire(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    expire_generic(cx, a, n, false, false, "pexpire", out);
}

static void c_expireat(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    expire_generic(cx, a, n, true, true, "expireat", out);
}

static void c_pexpireat(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    expire_generic(cx, a, n, false, true, "pexpireat", out);
}

static void ttl_generic(tw_resp_ctx *cx, const tw_resp_arg *a, bool ms,
                        tw_resp_buf *out)
{
    int64_t at, t = now_ms(cx);
    if (!tw_resp_store_ttl(cx->store, a[1].p, a[1].len, t, &at)) {
        tw_resp_add_int(out, -2);
        return;
    }
    if (at == TW_RESP_NO_EXPIRY) {
        tw_resp_add_int(out, -1);
        return;
    }
    int64_t left = at - t < 0 ? 0 : at - t;
    tw_resp_add_int(out, ms ? left : (left + 500) / 1000); /* Redis rounds */
}

static void c_ttl(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    ttl_generic(cx, a, false, out);
}

static void c_pttl(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)n;
    ttl_generic(cx, a, true, out);
}

/* ---- server ---- */

static void c_dbsize(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)a; (void)n;
    tw_resp_add_int(out, (int64_t)tw_resp_store_count(cx->store));
}

static void c_flushall(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    if (n > 2 || (n == 2 && !arg_is(&a[1], "async") && !arg_is(&a[1], "sync"))) {
        add_err(out, ERR_SYNTAX);
        return;
    }
    tw_resp_store_flush(cx->store);
    tw_resp_add_status(out, "OK");
}

static const cmd *table_get(size_t i);
static const cmd *lookup(const tw_resp_arg *name);

/* One COMMAND entry, Redis 6's six fields: name, arity, flags, first
 * key, last key, step. */
static void add_command_info(const cmd *c, tw_resp_buf *out)
{
    tw_resp_add_array(out, 6);
    tw_resp_add_bulk_str(out, c->name);
    tw_resp_add_int(out, c->arity);
    size_t nflags = 0;
    for (const char *f = c->flags; *f; f++)
        nflags += f == c->flags || f[-1] == ' ';
    tw_resp_add_array(out, (int64_t)nflags);
    for (const char *f = c->flags; *f;) {
        size_t len = strcspn(f, " ");
        tw_resp_add_raw(out, "+", 1);
        tw_resp_add_raw(out, f, len);
        tw_resp_add_raw(out, "\r\n", 2);
        f += len + (f[len] == ' ');
    }
    tw_resp_add_int(out, c->first_key);
    tw_resp_add_int(out, c->last_key);
    tw_resp_add_int(out, c->step);
}

/* COMMAND, COMMAND COUNT, COMMAND INFO name...; anything else (DOCS
 * included) is an unknown subcommand, which makes redis-cli fall back
 * on its own built-in help. */
static void c_command(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    (void)cx;
    if (n == 1) {
        tw_resp_add_array(out, (int64_t)tw_resp_command_count());
        for (size_t i = 0; i < tw_resp_command_count(); i++)
            add_command_info(table_get(i), out);
    } else if (arg_is(&a[1], "count") && n == 2) {
        tw_resp_add_int(out, (int64_t)tw_resp_command_count());
    } else if (arg_is(&a[1], "info")) {
        tw_resp_add_array(out, (int64_t)n - 2);
        for (size_t i = 2; i < n; i++) {
            const cmd *c = lookup(&a[i]);
            if (c)
                add_command_info(c, out);
            else
                tw_resp_add_nil(out);
        }
    } else {
        tw_resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                           c_len(&a[1], 128), (const char *)a[1].p);
    }
}

/* CONFIG GET name... (exact names or "*"): enough for tools that ask,
 * such as redis-benchmark asking for "save" and "appendonly". */
static void c_config(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    if (!arg_is(&a[1], "get") || n < 3) {
        tw_resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                           c_len(&a[1], 128), (const char *)a[1].p);
        return;
    }
    const tw_resp_info *in = cx->info;
    char v[5][24];
    snprintf(v[0], sizeof v[0], "%" PRIu64, in ? in->maxclients : 0);
    snprintf(v[1], sizeof v[1], "%zu", in ? in->limits.bulk_max : 0);
    snprintf(v[2], sizeof v[2], "%zu", in ? in->bytes_max : 0);
    snprintf(v[3], sizeof v[3], "%zu", in ? in->limits.pending_max : 0);
    const char *const kv[][2] = {
        {"save", ""}, {"appendonly", "no"}, {"databases", "1"},
        {"maxclients", v[0]}, {"proto-max-bulk-len", v[1]},
        {"maxmemory", v[2]}, {"client-query-buffer-limit", v[3]},
    };
    size_t nkv = sizeof kv / sizeof kv[0], hits = 0;
    bool hit[sizeof kv / sizeof kv[0]] = {false};
    for (size_t i = 2; i < n; i++)
        for (size_t k = 0; k < nkv; k++)
            if (!hit[k] && ((a[i].len == 1 && a[i].p[0] == '*') || arg_is(&a[i], kv[k][0])))
                hit[k] = true, hits++;
    tw_resp_add_array(out, (int64_t)hits * 2);
    for (size_t k = 0; k < nkv; k++)
        if (hit[k]) {
            tw_resp_add_bulk_str(out, kv[k][0]);
            tw_resp_add_bulk_str(out, kv[k][1]);
        }
}

static void c_info(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    static const char *const sections[] = {"server", "clients", "memory", "keyspace"};
    bool want[4];
    for (int s = 0; s < 4; s++) {
        want[s] = n == 1;
        for (size_t i = 1; i < n; i++)
            want[s] |= arg_is(&a[i], sections[s]) || arg_is(&a[i], "all") ||
                       arg_is(&a[i], "default") || arg_is(&a[i], "everything");
    }
    const tw_resp_info *in = cx->info;
    char text[1024];
    size_t len = 0;
#define PUT(...) len += (size_t)snprintf(text + len, sizeof text - len, __VA_ARGS__)
    if (want[0])
        PUT("# Server\r\nserver:twin\r\ntwin_version:%s\r\nrun_id:%s\r\n"
            "uptime_in_seconds:%" PRId64 "\r\n\r\n", TWIN_VERSION,
            in ? in->run_id : "", in ? (cx->now - in->started) / TW_NS_PER_SEC : 0);
    if (want[1])
        PUT("# Clients\r\nconnected_clients:%" PRIu64 "\r\nmaxclients:%" PRIu64
            "\r\n\r\n", in ? in->clients : 0, in ? in->maxclients : 0);
    if (want[2])
        PUT("# Memory\r\nused_memory:%zu\r\nmaxmemory:%zu\r\n\r\n",
            tw_resp_store_bytes(cx->store), in ? in->bytes_max : 0);
    if (want[3]) {
        PUT("# Keyspace\r\n");
        if (tw_resp_store_count(cx->store))
            PUT("db0:keys=%zu,expires=%zu,avg_ttl=0\r\n",
                tw_resp_store_count(cx->store), tw_resp_store_volatile(cx->store));
        PUT("\r\n");
    }
#undef PUT
    if (len >= sizeof text)
        len = sizeof text - 1;
    /* Redis ends the text with one CRLF, not the blank line after it. */
    tw_resp_add_bulk(out, text, len >= 2 ? len - 2 : len);
}

/* ---- the table and dispatch ---- */

static const cmd table[] = {
    {"get", 3, 2, c_get, "readonly fast", 1, 1, 1},
    {"set", 3, -3, c_set, "write denyoom", 1, 1, 1},
    {"ping", 4, -1, c_ping, "fast", 0, 0, 0},
    {"echo", 4, 2, c_echo, "fast", 0, 0, 0},
    {"del", 3, -2, c_del, "write", 1, -1, 1},
    {"exists", 6, -2, c_exists, "readonly fast", 1, -1, 1},
    {"incr", 4, 2, c_incr, "write denyoom fast", 1, 1, 1},
    {"decr", 4, 2, c_decr, "write denyoom fast", 1, 1, 1},
    {"incrby", 6, 3, c_incrby, "write denyoom fast", 1, 1, 1},
    {"decrby", 6, 3, c_decrby, "write denyoom fast", 1, 1, 1},
    {"mget", 4, -2, c_mget, "readonly fast", 1, -1, 1},
    {"mset", 4, -3, c_mset, "write denyoom", 1, -1, 2},
    {"expire", 6, -3, c_expire, "write fast", 1, 1, 1},
    {"pexpire", 7, -3, c_pexpire, "write fast", 1, 1, 1},
    {"expireat", 8, -3, c_expireat, "write fast", 1, 1, 1},
    {"pexpireat", 9, -3, c_pexpireat, "write fast", 1, 1, 1},
    {"ttl", 3, 2, c_ttl, "readonly fast", 1, 1, 1},
    {"pttl", 4, 2, c_pttl, "readonly fast", 1, 1, 1},
    {"dbsize", 6, 1, c_dbsize, "readonly fast", 0, 0, 0},
    {"flushall", 8, -1, c_flushall, "write", 0, 0, 0},
    {"quit", 4, -1, c_quit, "fast", 0, 0, 0},
    {"select", 6, 2, c_select, "loading stale fast", 0, 0, 0},
    {"hello", 5, -1, c_hello, "noscript loading stale fast", 0, 0, 0},
    {"command", 7, -1, c_command, "loading stale", 0, 0, 0},
    {"config", 6, -2, c_config, "admin loading stale", 0, 0, 0},
    {"info", 4, -1, c_info, "loading stale", 0, 0, 0},
};

#define NCMDS (sizeof table / sizeof table[0])

size_t tw_resp_command_count(void) { return NCMDS; }
const char *tw_resp_command_name(size_t i) { return i < NCMDS ? table[i].name : NULL; }
static const cmd *table_get(size_t i) { return &table[i]; }

/* Linear, most used first: two dozen names, compared only when the
 * lengths match, cost less than hashing the name. */
static const cmd *lookup(const tw_resp_arg *name)
{
    if (name->len == 0)
        return NULL;
    uint8_t first = name->p[0] | 0x20;
    for (size_t i = 0; i < NCMDS; i++)
        if (table[i].len == name->len && (uint8_t)table[i].name[0] == first &&
            arg_is(name, table[i].name))
            return &table[i];
    return NULL;
}

static void unknown(const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    /* Redis: the name cut at 128 bytes, then each argument quoted and
     * followed by a space while the list is under 128 bytes long. */
    char args[512];
    size_t len = 0;
    for (size_t i = 1; i < n && len < 128; i++)
        len += (size_t)snprintf(args + len, sizeof args - len, "'%.*s' ",
                                c_len(&a[i], 128 - len), (const char *)a[i].p);
    args[len] = '\0';
    tw_resp_add_errorf(out, "ERR unknown command '%.*s', with args beginning with: %s",
                       c_len(&a[0], 128), (const char *)a[0].p, args);
}

void tw_resp_exec(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t argc,
                  tw_resp_buf *out)
{
    if (argc == 0)
        return;
    const cmd *c = lookup(&argv[0]);
    if (!c) {
        unknown(argv, argc, out);
        return;
    }
    if ((c->arity > 0 && (size_t)c->arity != argc) ||
        (c->arity < 0 && argc < (size_t)-c->arity)) {
        tw_resp_add_errorf(out, "ERR wrong number of arguments for '%s' command",
                           c->name);
        return;
    }
    if (cx->deny_writes && strstr(c->flags, "write")) {
        add_err(out, cx->deny_writes);
        return;
    }
    uint64_t dirty = tw_resp_store_dirty(cx->store);
    cx->propagated = false;
    c->fn(cx, argv, argc, out);
    if (cx->propagate && !cx->propagated && tw_resp_store_dirty(cx->store) != dirty)
        cx->propagate(cx->propagate_arg, argv, argc);
}
