/* proto/resp_cmd.h - what the command files share (private to proto/).
 *
 * Map: the command table's entry; helpers every family uses (argument
 * words and integers, the keyspace clock, error replies, handing on a
 * change); the glob matcher; each family's commands.
 *
 * The keyspace clock is Unix time in milliseconds, as Redis's is: the
 * loop's time plus the server's epoch (tw_resp_info.epoch_ms), so an
 * expiry that would overflow once the current time is added is refused
 * where Redis refuses it, and EXPIRETIME and TIME give dates.
 */
#ifndef TW_PROTO_RESP_CMD_H
#define TW_PROTO_RESP_CMD_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "twin/resp.h"
#include "twin/twin.h"

typedef void tw__resp_fn(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                         tw_resp_buf *out);

typedef struct tw__resp_cmd {
    const char *name;  /* lower case, as Redis names it in errors */
    size_t len;
    int arity;         /* > 0: exactly; < 0: at least (the name counted) */
    tw__resp_fn *fn;
    const char *flags; /* COMMAND's flags, space separated */
    int first_key, last_key, step;
    const char *acl;   /* COMMAND's ACL categories, space separated */
    const char *group; /* COMMAND DOCS: the family */
    const char *summary;
    const char *since;
} tw__resp_cmd;

/* The table (resp_cmd.c). */
size_t tw__resp_ncmds(void);
const tw__resp_cmd *tw__resp_cmd_at(size_t i);
const tw__resp_cmd *tw__resp_lookup(const tw_resp_arg *name);
/* Calls of each command since start (INFO commandstats). */
uint64_t tw__resp_calls(size_t i);

#define TW__ERR_INT "ERR value is not an integer or out of range"
#define TW__ERR_SYNTAX "ERR syntax error"
#define TW__ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
#define TW__ERR_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"

static inline void tw__err(tw_resp_buf *out, const char *s)
{
    tw_resp_add_error(out, s, strlen(s));
}

static inline bool tw__arg_is(const tw_resp_arg *a, const char *word)
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

static inline bool tw__arg_int(const tw_resp_arg *a, int64_t *v)
{
    return tw_resp_str2ll(a->p, a->len, v);
}

/* The keyspace clock: Unix ms. */
static inline int64_t tw__now_ms(const tw_resp_ctx *cx)
{
    return cx->now / TW_NS_PER_MS + (cx->info ? cx->info->epoch_ms : 0);
}

/* An argument's length up to its first NUL, within cap: Redis prints
 * arguments with %s. */
static inline int tw__clen(const tw_resp_arg *a, size_t cap)
{
    const uint8_t *z = memchr(a->p, 0, a->len);
    size_t n = z ? (size_t)(z - a->p) : a->len;
    return (int)(n < cap ? n : cap);
}

static inline tw_resp_arg tw__word(const char *s)
{
    return (tw_resp_arg){(const uint8_t *)s, strlen(s)};
}

static inline tw_resp_arg tw__int_word(char text[24], int64_t v)
{
    int len = snprintf(text, 24, "%" PRId64, v);
    return (tw_resp_arg){(const uint8_t *)text, (size_t)len};
}

/* Hand on the command's own replayable form of its change. */
static inline void tw__propagate(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t n)
{
    cx->propagated = true;
    if (cx->propagate)
        cx->propagate(cx->propagate_arg, argv, n);
}

/* The longest string a command may build (APPEND, SETRANGE, SETBIT). */
static inline size_t tw__bulk_max(const tw_resp_ctx *cx)
{
    return cx->info && cx->info->limits.bulk_max ? cx->info->limits.bulk_max
                                                 : TW_RESP_BULK_MAX_DEFAULT;
}

/* Redis's glob (stringmatchlen): * ? [abc] [^a-z] and \ escapes, with
 * nocase for CONFIG GET. Recursion on '*' is bounded by the pattern's
 * stars, and the work by a step budget, as Redis bounds it. */
bool tw__glob(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen,
              bool nocase);

/* Client names (resp_cmd.c): Redis's rule (printable ASCII, no spaces)
 * and twin's bound (TW_RESP_NAME_MAX), an error replied when broken; and
 * setting one on the caller's connection. */
bool tw__resp_name_ok(const tw_resp_arg *name, tw_resp_buf *out);
void tw__resp_set_name(tw_resp_ctx *cx, const tw_resp_arg *name);

/* Each family's commands. */
#define TW__CMD(name) void tw__resp_##name(tw_resp_ctx *cx, const tw_resp_arg *a, \
                                           size_t n, tw_resp_buf *out)
/* connection (resp_cmd.c) */
TW__CMD(ping); TW__CMD(echo); TW__CMD(quit); TW__CMD(select); TW__CMD(hello);
TW__CMD(reset);
/* strings (resp_cmd_string.c) */
TW__CMD(get); TW__CMD(set); TW__CMD(mset); TW__CMD(msetnx); TW__CMD(mget);
TW__CMD(incr); TW__CMD(decr); TW__CMD(incrby); TW__CMD(decrby);
TW__CMD(incrbyfloat); TW__CMD(append); TW__CMD(getdel); TW__CMD(getex);
TW__CMD(getrange); TW__CMD(getset); TW__CMD(lcs); TW__CMD(psetex);
TW__CMD(setex); TW__CMD(setnx); TW__CMD(setrange); TW__CMD(strlen);
TW__CMD(setbit); TW__CMD(getbit); TW__CMD(bitcount); TW__CMD(bitpos);
/* keys (resp_cmd_keys.c) */
TW__CMD(del); TW__CMD(exists); TW__CMD(expire); TW__CMD(pexpire);
TW__CMD(expireat); TW__CMD(pexpireat); TW__CMD(expiretime);
TW__CMD(pexpiretime); TW__CMD(ttl); TW__CMD(pttl); TW__CMD(persist);
TW__CMD(keys); TW__CMD(scan); TW__CMD(randomkey); TW__CMD(rename);
TW__CMD(renamenx); TW__CMD(copy); TW__CMD(touch); TW__CMD(type);
TW__CMD(dbsize); TW__CMD(flushall);
/* server (resp_cmd_server.c) */
TW__CMD(command); TW__CMD(config); TW__CMD(info); TW__CMD(client);
TW__CMD(time); TW__CMD(wait);

#endif
