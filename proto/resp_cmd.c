/* proto/resp_cmd.c - the command table, dispatch and the connection
 * commands, replying as Redis 7 replies.
 *
 * Map: the glob matcher; connection commands (PING ECHO QUIT SELECT HELLO
 * RESET); the table; dispatch. The families are in resp_cmd_string.c,
 * resp_cmd_keys.c and resp_cmd_server.c (resp_cmd.h is what they share).
 *
 * Reply texts, error wording included, are Redis's, so clients and their
 * tests that match on them work unchanged. Arity follows Redis's rule: a
 * positive arity is the exact argument count (the name included), a
 * negative one the least.
 */
#include "proto/resp_cmd.h"

/* ---- the glob matcher ---- */

static uint8_t fold(uint8_t c, bool nocase)
{
    return nocase && c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

/* A [...] class at p (after the '['); *used is its length. */
static bool class_match(const uint8_t *p, size_t plen, uint8_t c, bool nocase,
                        size_t *used)
{
    size_t i = 0;
    bool neg = i < plen && p[i] == '^', hit = false;
    i += neg;
    for (; i < plen && p[i] != ']'; i++) {
        if (p[i] == '\\' && i + 1 < plen) {
            hit |= fold(p[++i], nocase) == fold(c, nocase);
        } else if (i + 2 < plen && p[i + 1] == '-') {
            uint8_t lo = fold(p[i], nocase), hi = fold(p[i + 2], nocase);
            if (lo > hi) { uint8_t t = lo; lo = hi; hi = t; }
            hit |= fold(c, nocase) >= lo && fold(c, nocase) <= hi;
            i += 2;
        } else {
            hit |= fold(p[i], nocase) == fold(c, nocase);
        }
    }
    *used = i < plen ? i + 1 : i; /* an unclosed class ends the pattern */
    return neg ? !hit : hit;
}

static bool glob_at(const uint8_t *p, size_t plen, const uint8_t *s, size_t slen,
                    bool nocase, int depth, size_t *budget)
{
    if (depth > 1000)
        return false;
    while (plen) {
        if (!(*budget)--)
            return false;
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*')
                p++, plen--;
            if (plen == 1)
                return true;
            for (size_t i = 0; i <= slen; i++)
                if (glob_at(p + 1, plen - 1, s + i, slen - i, nocase, depth + 1, budget))
                    return true;
            return false;
        case '?':
            if (!slen)
                return false;
            s++, slen--;
            break;
        case '[': {
            if (!slen)
                return false;
            size_t used;
            if (!class_match(p + 1, plen - 1, s[0], nocase, &used))
                return false;
            p += used, plen -= used;
            s++, slen--;
            break;
        }
        case '\\':
            if (plen >= 2)
                p++, plen--;
            /* fall through */
        default:
            if (!slen || fold(p[0], nocase) != fold(s[0], nocase))
                return false;
            s++, slen--;
            break;
        }
        p++, plen--;
    }
    return slen == 0;
}

bool tw__glob(const uint8_t *pat, size_t plen, const uint8_t *s, size_t slen,
              bool nocase)
{
    size_t budget = 1 << 20; /* a pattern like a*a*a*a*b gives up, not hangs */
    return glob_at(pat, plen, s, slen, nocase, 0, &budget);
}

/* ---- connection ---- */

TW__CMD(ping)
{
    (void)cx;
    if (n > 2)
        tw__err(out, "ERR wrong number of arguments for 'ping' command");
    else if (n == 2)
        tw_resp_add_bulk(out, a[1].p, a[1].len);
    else
        tw_resp_add_status(out, "PONG");
}

TW__CMD(echo)
{
    (void)cx; (void)n;
    tw_resp_add_bulk(out, a[1].p, a[1].len);
}

TW__CMD(quit)
{
    (void)a; (void)n;
    cx->quit = true;
    tw_resp_add_status(out, "OK");
}

TW__CMD(select)
{
    (void)cx; (void)n;
    int64_t db;
    if (!tw__arg_int(&a[1], &db))
        tw__err(out, TW__ERR_INT);
    else if (db != 0)
        tw__err(out, "ERR DB index is out of range"); /* one keyspace */
    else
        tw_resp_add_status(out, "OK");
}

bool tw__resp_name_ok(const tw_resp_arg *name, tw_resp_buf *out)
{
    for (size_t i = 0; i < name->len; i++)
        if (name->p[i] < '!' || name->p[i] > '~') {
            tw__err(out, "ERR Client names cannot contain spaces, newlines or special characters.");
            return false;
        }
    if (name->len > TW_RESP_NAME_MAX) { /* Redis has no limit; twin keeps one */
        tw_resp_add_errorf(out, "ERR Client names are limited to %d bytes",
                           TW_RESP_NAME_MAX);
        return false;
    }
    return true;
}

void tw__resp_set_name(tw_resp_ctx *cx, const tw_resp_arg *name)
{
    if (!cx->client)
        return;
    memcpy(cx->client->name, name->p, name->len);
    cx->client->name[name->len] = '\0';
    cx->client->name_len = name->len;
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only. Checked
 * in Redis's order: the version's range, the options, the name; then a
 * RESP3 the server does not speak. */
TW__CMD(hello)
{
    const tw_resp_arg *setname = NULL;
    int64_t ver = 2;
    if (n >= 2) {
        if (!tw__arg_int(&a[1], &ver)) {
            tw__err(out, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            tw__err(out, "NOPROTO unsupported protocol version");
            return;
        }
    }
    for (size_t i = 2; i < n; i++) {
        if (tw__arg_is(&a[i], "auth") && i + 2 < n) {
            if (!tw__arg_is(&a[i + 1], "default")) { /* no users but that */
                tw__err(out, "WRONGPASS invalid username-password pair or user is disabled.");
                return;
            }
            i += 2;
        } else if (tw__arg_is(&a[i], "setname") && i + 1 < n) {
            setname = &a[++i];
        } else {
            tw_resp_add_errorf(out, "ERR Syntax error in HELLO option '%.*s'",
                               tw__clen(&a[i], 128), (const char *)a[i].p);
            return;
        }
    }
    if (setname && !tw__resp_name_ok(setname, out))
        return;
    if (ver != 2) {
        tw__err(out, "NOPROTO unsupported protocol version");
        return;
    }
    if (setname)
        tw__resp_set_name(cx, setname);
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

/* RESET: the connection as if new (its name, its reply mode). */
TW__CMD(reset)
{
    (void)a; (void)n;
    if (cx->client) {
        cx->client->name_len = 0;
        cx->client->name[0] = '\0';
        cx->client->reply = TW_RESP_REPLY_ON;
    }
    tw_resp_add_status(out, "RESET");
}

/* ---- the table ---- */

#define C(nm, ar, fn, fl, f, l, s, acl, grp, since, sum) \
    {nm, sizeof nm - 1, ar, tw__resp_##fn, fl, f, l, s, acl, grp, sum, since}

static const tw__resp_cmd table[] = {
    /* the hot ones first: lookup is linear */
    C("get", 2, get, "readonly fast", 1, 1, 1, "@read @string @fast", "string", "1.0.0",
      "The value of a key."),
    C("set", -3, set, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "1.0.0",
      "Give a key a value, with an expiry and conditions if asked."),
    C("incr", 2, incr, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Add one to the integer in a key."),
    C("mset", -3, mset, "write denyoom", 1, -1, 2, "@write @string @slow", "string", "1.0.1",
      "Set several keys at once."),
    C("mget", -2, mget, "readonly fast", 1, -1, 1, "@read @string @fast", "string", "1.0.0",
      "The values of several keys."),
    C("ping", -1, ping, "fast", 0, 0, 0, "@fast @connection", "connection", "1.0.0",
      "Ask whether the server answers."),
    C("del", -2, del, "write", 1, -1, 1, "@keyspace @write @slow", "generic", "1.0.0",
      "Remove keys."),
    C("exists", -2, exists, "readonly fast", 1, -1, 1, "@keyspace @read @fast", "generic", "1.0.0",
      "Count which of the keys named exist."),
    C("decr", 2, decr, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Take one from the integer in a key."),
    C("incrby", 3, incrby, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Add a number to the integer in a key."),
    C("decrby", 3, decrby, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Take a number from the integer in a key."),
    C("incrbyfloat", 3, incrbyfloat, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "2.6.0",
      "Add a decimal number to the number in a key."),
    C("append", 3, append, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "2.0.0",
      "Add bytes to the end of a key's value."),
    C("getdel", 2, getdel, "write fast", 1, 1, 1, "@write @string @fast", "string", "6.2.0",
      "The value of a key, which is then removed."),
    C("getex", -2, getex, "write fast", 1, 1, 1, "@write @string @fast", "string", "6.2.0",
      "The value of a key, its expiry changed as asked."),
    C("getrange", 4, getrange, "readonly", 1, 1, 1, "@read @string @slow", "string", "2.4.0",
      "Part of a key's value, by byte positions."),
    C("getset", 3, getset, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Give a key a new value and answer its old one."),
    C("lcs", -3, lcs, "readonly", 1, 2, 1, "@read @string @slow", "string", "7.0.0",
      "The longest common subsequence of two keys' values."),
    C("msetnx", -3, msetnx, "write denyoom", 1, -1, 2, "@write @string @slow", "string", "1.0.1",
      "Set several keys at once, only if none of them exists."),
    C("psetex", 4, psetex, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.6.0",
      "Give a key a value that expires in so many milliseconds."),
    C("setex", 4, setex, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.0.0",
      "Give a key a value that expires in so many seconds."),
    C("setnx", 3, setnx, "write denyoom fast", 1, 1, 1, "@write @string @fast", "string", "1.0.0",
      "Give a key a value only if it has none."),
    C("setrange", 4, setrange, "write denyoom", 1, 1, 1, "@write @string @slow", "string", "2.2.0",
      "Overwrite part of a key's value from a byte position."),
    C("strlen", 2, strlen, "readonly fast", 1, 1, 1, "@read @string @fast", "string", "2.2.0",
      "The length of a key's value."),
    C("substr", 4, getrange, "readonly", 1, 1, 1, "@read @string @slow", "string", "1.0.0",
      "Part of a key's value (GETRANGE's old name)."),
    C("setbit", 4, setbit, "write denyoom", 1, 1, 1, "@write @bitmap @slow", "bitmap", "2.2.0",
      "Set or clear one bit of a key's value."),
    C("getbit", 3, getbit, "readonly fast", 1, 1, 1, "@read @bitmap @fast", "bitmap", "2.2.0",
      "One bit of a key's value."),
    C("bitcount", -2, bitcount, "readonly", 1, 1, 1, "@read @bitmap @slow", "bitmap", "2.6.0",
      "How many bits are set in a key's value, or in a range of it."),
    C("bitpos", -3, bitpos, "readonly", 1, 1, 1, "@read @bitmap @slow", "bitmap", "2.8.7",
      "Where the first set or clear bit of a key's value is."),
    C("expire", -3, expire, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic", "1.0.0",
      "Make a key expire in so many seconds."),
    C("pexpire", -3, pexpire, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0",
      "Make a key expire in so many milliseconds."),
    C("expireat", -3, expireat, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic", "1.2.0",
      "Make a key expire at a Unix time in seconds."),
    C("pexpireat", -3, pexpireat, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic", "2.6.0",
      "Make a key expire at a Unix time in milliseconds."),
    C("expiretime", 2, expiretime, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0",
      "When a key expires, in Unix seconds."),
    C("pexpiretime", 2, pexpiretime, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic", "7.0.0",
      "When a key expires, in Unix milliseconds."),
    C("ttl", 2, ttl, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0",
      "Seconds left before a key expires."),
    C("pttl", 2, pttl, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic", "2.6.0",
      "Milliseconds left before a key expires."),
    C("persist", 2, persist, "write fast", 1, 1, 1, "@keyspace @write @fast", "generic", "2.2.0",
      "Take a key's expiry away."),
    C("keys", 2, keys, "readonly", 0, 0, 0, "@keyspace @read @slow @dangerous", "generic", "1.0.0",
      "Every key name a pattern matches."),
    C("scan", -2, scan, "readonly", 0, 0, 0, "@keyspace @read @slow", "generic", "2.8.0",
      "Walk the key names a few at a time with a cursor."),
    C("randomkey", 1, randomkey, "readonly", 0, 0, 0, "@keyspace @read @slow", "generic", "1.0.0",
      "A key name drawn at random."),
    C("rename", 3, rename, "write", 1, 2, 1, "@keyspace @write @slow", "generic", "1.0.0",
      "Give a key another name, replacing what had it."),
    C("renamenx", 3, renamenx, "write fast", 1, 2, 1, "@keyspace @write @fast", "generic", "1.0.0",
      "Give a key another name only if no key has it."),
    C("copy", -3, copy, "write denyoom", 1, 2, 1, "@keyspace @write @slow", "generic", "6.2.0",
      "Copy a key's value and expiry to another key."),
    C("touch", -2, touch, "readonly fast", 1, -1, 1, "@keyspace @read @fast", "generic", "3.2.1",
      "Count which of the keys named exist (access times are not kept)."),
    C("type", 2, type, "readonly fast", 1, 1, 1, "@keyspace @read @fast", "generic", "1.0.0",
      "The kind of value a key holds."),
    C("unlink", -2, del, "write fast", 1, -1, 1, "@keyspace @write @fast", "generic", "4.0.0",
      "Remove keys (the same as DEL here)."),
    C("dbsize", 1, dbsize, "readonly fast", 0, 0, 0, "@keyspace @read @fast", "server", "1.0.0",
      "How many keys there are."),
    C("flushall", -1, flushall, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0",
      "Remove every key."),
    C("flushdb", -1, flushall, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", "server", "1.0.0",
      "Remove every key of the one database."),
    C("echo", 2, echo, "fast", 0, 0, 0, "@fast @connection", "connection", "1.0.0",
      "Answer the argument given."),
    C("quit", -1, quit, "allow_busy noscript loading stale fast no_auth", 0, 0, 0, "@fast @connection",
      "connection", "1.0.0", "Close the connection after answering."),
    C("select", 2, select, "loading stale fast", 0, 0, 0, "@fast @connection", "connection", "2.0.0",
      "Choose the database (there is one: 0)."),
    C("hello", -1, hello, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection",
      "connection", "6.0.0", "Greet the server, choosing RESP2."),
    C("reset", 1, reset, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection",
      "connection", "6.2.0", "Put the connection back as it was when it opened."),
    C("client", -2, client, "", 0, 0, 0, "@slow", "connection", "2.4.0",
      "What the server knows of its connections."),
    C("command", -1, command, "loading stale", 0, 0, 0, "@slow @connection", "server", "2.8.13",
      "What the server knows of its commands."),
    C("config", -2, config, "", 0, 0, 0, "@slow", "server", "2.0.0",
      "Read and change the server's settings."),
    C("info", -1, info, "loading stale", 0, 0, 0, "@slow @dangerous", "server", "1.0.0",
      "The server's state and counters, by section."),
    C("time", 1, time, "loading stale fast", 0, 0, 0, "@fast", "server", "2.6.0",
      "The server's clock as Unix seconds and microseconds."),
    C("wait", 3, wait, "noscript", 0, 0, 0, "@slow @connection", "generic", "3.0.0",
      "Wait for replicas to have the writes (there are none)."),
};

#define NCMDS (sizeof table / sizeof table[0])
_Static_assert(NCMDS <= TW_RESP_COMMANDS_MAX, "TW_RESP_COMMANDS_MAX too small");

size_t tw_resp_command_count(void) { return NCMDS; }
const char *tw_resp_command_name(size_t i) { return i < NCMDS ? table[i].name : NULL; }
size_t tw__resp_ncmds(void) { return NCMDS; }
const tw__resp_cmd *tw__resp_cmd_at(size_t i) { return i < NCMDS ? &table[i] : NULL; }

/* Linear, most used first: a few dozen names, compared only when the
 * length and first letter match, cost less than hashing the name. */
const tw__resp_cmd *tw__resp_lookup(const tw_resp_arg *name)
{
    if (name->len == 0)
        return NULL;
    uint8_t first = name->p[0] | 0x20;
    for (size_t i = 0; i < NCMDS; i++)
        if (table[i].len == name->len && (uint8_t)table[i].name[0] == first &&
            tw__arg_is(name, table[i].name))
            return &table[i];
    return NULL;
}

/* ---- dispatch ---- */

static void unknown(const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    /* Redis: the name cut at 128 bytes, then each argument quoted and
     * followed by a space while the list is under 128 bytes long. */
    char args[512];
    size_t len = 0;
    for (size_t i = 1; i < n && len < 128; i++)
        len += (size_t)snprintf(args + len, sizeof args - len, "'%.*s' ",
                                tw__clen(&a[i], 128 - len), (const char *)a[i].p);
    args[len] = '\0';
    tw_resp_add_errorf(out, "ERR unknown command '%.*s', with args beginning with: %s",
                       tw__clen(&a[0], 128), (const char *)a[0].p, args);
}

/* A write that would pass the store's byte limit is refused up front, as
 * Redis refuses "denyoom" commands once used memory is over maxmemory. */
static bool over_memory(const tw_resp_ctx *cx, const tw__resp_cmd *c)
{
    size_t max = tw_resp_store_bytes_max(cx->store);
    return max && strstr(c->flags, "denyoom") && tw_resp_store_bytes(cx->store) >= max;
}

static void run(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t argc,
                tw_resp_buf *out)
{
    const tw__resp_cmd *c = tw__resp_lookup(&argv[0]);
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
    if (over_memory(cx, c)) {
        tw__err(out, TW__ERR_OOM);
        return;
    }
    if (cx->deny_writes && strstr(c->flags, "write")) {
        tw_resp_add_error(out, cx->deny_writes, strlen(cx->deny_writes));
        return;
    }
    if (cx->info && cx->info->calls)
        cx->info->calls[c - table]++;
    if (cx->client) {
        cx->client->commands++;
        cx->client->last_cmd = c->name;
        cx->client->last = cx->now;
    }
    uint64_t dirty = tw_resp_store_dirty(cx->store);
    cx->propagated = false;
    c->fn(cx, argv, argc, out);
    if (cx->propagate && !cx->propagated && tw_resp_store_dirty(cx->store) != dirty)
        cx->propagate(cx->propagate_arg, argv, argc);
}

void tw_resp_exec(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t argc,
                  tw_resp_buf *out)
{
    if (argc == 0)
        return;
    if (cx->client)
        cx->client_id = cx->client->id;
    /* CLIENT REPLY OFF or SKIP: the command runs, its reply is dropped
     * (a SKIP only for the command after the one that asked). */
    uint8_t mode = cx->client ? cx->client->reply : TW_RESP_REPLY_ON;
    if (mode == TW_RESP_REPLY_ON) {
        run(cx, argv, argc, out);
        return;
    }
    /* The reply is built where it can be taken back: a large bulk must
     * not go to the sink meanwhile. */
    size_t mark = out->len;
    void (*sink)(void *, const void *, size_t) = out->sink;
    out->sink = NULL;
    run(cx, argv, argc, out);
    out->sink = sink;
    if (mode == TW_RESP_REPLY_OFF && cx->client->reply == TW_RESP_REPLY_ON)
        return; /* CLIENT REPLY ON is answered */
    out->len = mark;
    if (mode == TW_RESP_REPLY_SKIP && cx->client->reply == TW_RESP_REPLY_SKIP)
        cx->client->reply = TW_RESP_REPLY_ON;
}
