/* proto/resp_cmd_server.c - the server's commands: COMMAND, CONFIG,
 * INFO, CLIENT, TIME, WAIT.
 *
 * Map: help texts; COMMAND (its entries, COUNT, LIST, INFO, DOCS,
 * GETKEYS); CONFIG (GET with globs, SET, HELP); INFO (its sections);
 * CLIENT; TIME and WAIT.
 *
 * What twin has no counterpart for is answered as a Redis with nothing
 * of it would: a primary with no replicas, one database, no modules.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdarg.h>
#include <sys/resource.h>

#include "proto/resp_cmd.h"

/* The version whose behaviour the commands follow (INFO redis_version:
 * clients decide what to use by it). */
#define REDIS_VERSION "7.0.15"

static void wrong_sub(const char *cmd, const char *sub, tw_resp_buf *out)
{
    tw_resp_add_errorf(out, "ERR wrong number of arguments for '%s|%s' command", cmd, sub);
}

static void unknown_sub(const char *cmd, const tw_resp_arg *sub, tw_resp_buf *out)
{
    tw_resp_add_errorf(out, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                       tw__clen(sub, 128), (const char *)sub->p, cmd);
}

static void help(const char *const *lines, tw_resp_buf *out)
{
    size_t n = 0;
    while (lines[n])
        n++;
    tw_resp_add_array(out, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        tw_resp_add_status(out, lines[i]);
}

/* ---- COMMAND ---- */

static size_t words(const char *s)
{
    size_t n = 0;
    for (const char *f = s; *f; f++)
        n += f[0] != ' ' && (f == s || f[-1] == ' ');
    return n;
}

/* Each space-separated word of s, as a status or a bulk. */
static void add_words(const char *s, bool status, tw_resp_buf *out)
{
    tw_resp_add_array(out, (int64_t)words(s));
    while (*s) {
        size_t len = strcspn(s, " ");
        if (status) {
            tw_resp_add_raw(out, "+", 1);
            tw_resp_add_raw(out, s, len);
            tw_resp_add_raw(out, "\r\n", 2);
        } else {
            tw_resp_add_bulk(out, s, len);
        }
        s += len + (s[len] == ' ');
    }
}

/* What COMMAND INFO says beyond the table: Redis 7's tips for a cluster
 * proxy, and each key spec's flags (a spec per key position, from the
 * first key on; "flags|note" where Redis adds a note). */
typedef struct cmd_meta {
    const char *name, *tips, *specs;
} cmd_meta;

static const cmd_meta metas[] = {
    {"get", "", "RO access"},
    {"set", "", "RW access update variable_flags|RW and ACCESS due to the optional `GET` argument"},
    {"incr", "", "RW access update"},
    {"mset", "request_policy:multi_shard response_policy:all_succeeded", "OW update"},
    {"mget", "request_policy:multi_shard", "RO access"},
    {"ping", "request_policy:all_shards response_policy:all_succeeded", ""},
    {"del", "request_policy:multi_shard response_policy:agg_sum", "RM delete"},
    {"exists", "request_policy:multi_shard response_policy:agg_sum", "RO"},
    {"decr", "", "RW access update"},
    {"incrby", "", "RW access update"},
    {"decrby", "", "RW access update"},
    {"incrbyfloat", "", "RW access update"},
    {"append", "", "RW insert"},
    {"getdel", "", "RW access delete"},
    {"getex", "", "RW access update|RW and UPDATE because it changes the TTL"},
    {"getrange", "", "RO access"},
    {"getset", "", "RW access update"},
    {"lcs", "", "RO access"},
    {"msetnx", "request_policy:multi_shard response_policy:agg_min", "OW insert"},
    {"psetex", "", "OW update"},
    {"setex", "", "OW update"},
    {"setnx", "", "OW insert"},
    {"setrange", "", "RW update"},
    {"strlen", "", "RO"},
    {"substr", "", "RO access"},
    {"setbit", "", "RW access update"},
    {"getbit", "", "RO access"},
    {"bitcount", "", "RO access"},
    {"bitpos", "", "RO access"},
    {"expire", "", "RW update"},
    {"pexpire", "", "RW update"},
    {"expireat", "", "RW update"},
    {"pexpireat", "", "RW update"},
    {"expiretime", "", "RO access"},
    {"pexpiretime", "", "RO access"},
    {"ttl", "nondeterministic_output", "RO access"},
    {"pttl", "nondeterministic_output", "RO access"},
    {"persist", "", "RW update"},
    {"keys", "request_policy:all_shards nondeterministic_output_order", ""},
    {"scan", "nondeterministic_output request_policy:special", ""},
    {"randomkey", "request_policy:all_shards nondeterministic_output", ""},
    {"rename", "", "RW access delete;OW update"},
    {"renamenx", "", "RW access delete;OW insert"},
    {"copy", "", "RO access;OW update"},
    {"touch", "request_policy:multi_shard response_policy:agg_sum", "RO"},
    {"type", "", "RO"},
    {"unlink", "request_policy:multi_shard response_policy:agg_sum", "RM delete"},
    {"dbsize", "request_policy:all_shards response_policy:agg_sum", ""},
    {"flushall", "request_policy:all_shards response_policy:all_succeeded", ""},
    {"flushdb", "request_policy:all_shards response_policy:all_succeeded", ""},
    {"command", "nondeterministic_output_order", ""},
    {"info", "nondeterministic_output request_policy:all_shards response_policy:special", ""},
    {"time", "nondeterministic_output", ""},
    {"wait", "request_policy:all_shards response_policy:agg_min", ""},
};

static const cmd_meta *meta_of(const tw__resp_cmd *c)
{
    for (size_t i = 0; i < sizeof metas / sizeof metas[0]; i++)
        if (!strcmp(metas[i].name, c->name))
            return &metas[i];
    return NULL;
}

/* One key spec: flags (and note) from spec[0..len), the keys from index
 * on: lastkey is relative to it (-1: to the end). */
static void add_one_spec(const char *spec, size_t len, int index, int lastkey,
                         int step, tw_resp_buf *out)
{
    const char *bar = memchr(spec, '|', len);
    size_t flen = bar ? (size_t)(bar - spec) : len;
    char flags[96];
    snprintf(flags, sizeof flags, "%.*s", (int)flen, spec);
    tw_resp_add_array(out, bar ? 8 : 6);
    if (bar) {
        tw_resp_add_bulk_str(out, "notes");
        tw_resp_add_bulk(out, bar + 1, len - flen - 1);
    }
    tw_resp_add_bulk_str(out, "flags");
    add_words(flags, true, out);
    tw_resp_add_bulk_str(out, "begin_search");
    tw_resp_add_array(out, 4);
    tw_resp_add_bulk_str(out, "type");
    tw_resp_add_bulk_str(out, "index");
    tw_resp_add_bulk_str(out, "spec");
    tw_resp_add_array(out, 2);
    tw_resp_add_bulk_str(out, "index");
    tw_resp_add_int(out, index);
    tw_resp_add_bulk_str(out, "find_keys");
    tw_resp_add_array(out, 4);
    tw_resp_add_bulk_str(out, "type");
    tw_resp_add_bulk_str(out, "range");
    tw_resp_add_bulk_str(out, "spec");
    tw_resp_add_array(out, 6);
    tw_resp_add_bulk_str(out, "lastkey");
    tw_resp_add_int(out, lastkey);
    tw_resp_add_bulk_str(out, "keystep");
    tw_resp_add_int(out, step);
    tw_resp_add_bulk_str(out, "limit");
    tw_resp_add_int(out, 0);
}

static void add_key_specs(const tw__resp_cmd *c, const cmd_meta *m, tw_resp_buf *out)
{
    const char *specs = m ? m->specs : "";
    size_t nspecs = *specs ? 1 : 0;
    for (const char *p = specs; *p; p++)
        nspecs += *p == ';';
    tw_resp_add_array(out, (int64_t)nspecs);
    if (nspecs == 1) { /* one spec covers every key */
        int last = c->last_key < 0 ? -1 : c->last_key - c->first_key;
        add_one_spec(specs, strlen(specs), c->first_key, last, c->step, out);
        return;
    }
    int index = c->first_key;
    for (const char *p = specs; nspecs; nspecs--, index++) {
        size_t len = strcspn(p, ";");
        add_one_spec(p, len, index, 0, 1, out);
        p += len + (p[len] == ';');
    }
}

/* One COMMAND entry, Redis 7's ten fields: name, arity, flags, first
 * key, last key, step, ACL categories, tips, key specs, subcommands. */
static void add_command_info(const tw__resp_cmd *c, tw_resp_buf *out)
{
    tw_resp_add_array(out, 10);
    tw_resp_add_bulk_str(out, c->name);
    tw_resp_add_int(out, c->arity);
    add_words(c->flags, true, out);
    tw_resp_add_int(out, c->first_key);
    tw_resp_add_int(out, c->last_key);
    tw_resp_add_int(out, c->step);
    add_words(c->acl, true, out);
    const cmd_meta *m = meta_of(c);
    add_words(m ? m->tips : "", false, out);
    add_key_specs(c, m, out);
    tw_resp_add_array(out, 0);
}

static void add_command_docs(const tw__resp_cmd *c, tw_resp_buf *out)
{
    tw_resp_add_bulk_str(out, c->name);
    tw_resp_add_array(out, 6);
    tw_resp_add_bulk_str(out, "summary");
    tw_resp_add_bulk_str(out, c->summary);
    tw_resp_add_bulk_str(out, "since");
    tw_resp_add_bulk_str(out, c->since);
    tw_resp_add_bulk_str(out, "group");
    tw_resp_add_bulk_str(out, c->group);
}

/* COMMAND GETKEYS cmd args...: the keys by the command's first, last
 * and step, as Redis finds them for a command with one key spec. */
static void command_getkeys(const tw_resp_arg *a, size_t n, tw_resp_buf *out)
{
    const tw__resp_cmd *c = tw__resp_lookup(&a[2]);
    size_t argc = n - 2;
    if (!c) {
        tw__err(out, "ERR Invalid command specified");
        return;
    }
    if ((c->arity > 0 && (size_t)c->arity != argc) ||
        (c->arity < 0 && argc < (size_t)-c->arity)) {
        tw__err(out, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (!c->first_key) {
        tw__err(out, "ERR The command has no key arguments");
        return;
    }
    size_t last = c->last_key < 0 ? argc - 1 : (size_t)c->last_key;
    if (last >= argc)
        last = argc - 1;
    tw_resp_add_array(out, (int64_t)((last - (size_t)c->first_key) / (size_t)c->step + 1));
    for (size_t i = (size_t)c->first_key; i <= last; i += (size_t)c->step)
        tw_resp_add_bulk(out, a[2 + i].p, a[2 + i].len);
}

static const char *const command_help[] = {
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)", "    Return details about all Redis commands.",
    "COUNT", "    Return the total number of commands in this Redis server.",
    "LIST", "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
    "HELP", "    Prints this help.", NULL,
};

TW__CMD(command)
{
    (void)cx;
    size_t all = tw__resp_ncmds();
    if (n == 1) {
        tw_resp_add_array(out, (int64_t)all);
        for (size_t i = 0; i < all; i++)
            add_command_info(tw__resp_cmd_at(i), out);
    } else if (tw__arg_is(&a[1], "count")) {
        if (n != 2)
            wrong_sub("command", "count", out);
        else
            tw_resp_add_int(out, (int64_t)all);
    } else if (tw__arg_is(&a[1], "list")) {
        if (n != 2) { /* FILTERBY is not served */
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
        tw_resp_add_array(out, (int64_t)all);
        for (size_t i = 0; i < all; i++)
            tw_resp_add_bulk_str(out, tw__resp_cmd_at(i)->name);
    } else if (tw__arg_is(&a[1], "info")) {
        if (n == 2) {
            tw__resp_command(cx, a, 1, out);
            return;
        }
        tw_resp_add_array(out, (int64_t)n - 2);
        for (size_t i = 2; i < n; i++) {
            const tw__resp_cmd *c = tw__resp_lookup(&a[i]);
            if (c)
                add_command_info(c, out);
            else
                tw_resp_add_nil(out);
        }
    } else if (tw__arg_is(&a[1], "docs")) {
        size_t hits = 0;
        for (size_t i = 2; i < n; i++)
            hits += tw__resp_lookup(&a[i]) != NULL;
        tw_resp_add_array(out, 2 * (int64_t)(n == 2 ? all : hits));
        for (size_t i = 0; n == 2 && i < all; i++)
            add_command_docs(tw__resp_cmd_at(i), out);
        for (size_t i = 2; i < n; i++)
            if (tw__resp_lookup(&a[i]))
                add_command_docs(tw__resp_lookup(&a[i]), out);
    } else if (tw__arg_is(&a[1], "getkeys")) {
        if (n < 4)
            wrong_sub("command", "getkeys", out);
        else
            command_getkeys(a, n, out);
    } else if (tw__arg_is(&a[1], "help") && n == 2) {
        help(command_help, out);
    } else {
        unknown_sub("COMMAND", &a[1], out);
    }
}

/* ---- CONFIG ---- */

typedef struct param {
    const char *name;
    char value[32];
} param;

/* The settings the server has, with their values now. */
static size_t params(const tw_resp_ctx *cx, param *p)
{
    const tw_resp_info *in = cx->info;
    size_t n = 0;
#define P(nm, ...) (p[n].name = nm, snprintf(p[n].value, sizeof p[n].value, __VA_ARGS__), n++)
    P("save", "%s", "");
    P("appendonly", "%s", "no");
    P("databases", "%d", 1);
    P("maxclients", "%" PRIu64, in ? in->maxclients : 0);
    P("proto-max-bulk-len", "%zu", tw__bulk_max(cx));
    P("maxmemory", "%zu", tw_resp_store_bytes_max(cx->store));
    P("maxmemory-policy", "%s", "noeviction");
    P("client-query-buffer-limit", "%zu",
      in && in->limits.pending_max ? in->limits.pending_max : TW_RESP_PENDING_MAX_DEFAULT);
    P("hz", "%" PRIu64, in && in->hz ? in->hz : 10);
#undef P
    return n;
}

/* Redis's memory values: a number with an optional k kb m mb g gb. */
static bool memory_value(const tw_resp_arg *a, uint64_t *v)
{
    static const struct { const char *unit; uint64_t mul; } units[] = {
        {"", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000000}, {"mb", 1 << 20},
        {"g", 1000000000}, {"gb", 1 << 30},
    };
    size_t d = 0;
    while (d < a->len && a->p[d] >= '0' && a->p[d] <= '9')
        d++;
    int64_t num;
    if (!d || !tw_resp_str2ll(a->p, d, &num))
        return false;
    tw_resp_arg unit = {a->p + d, a->len - d};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (tw__arg_is(&unit, units[i].unit)) {
            if ((uint64_t)num > UINT64_MAX / units[i].mul)
                return false;
            *v = (uint64_t)num * units[i].mul;
            return true;
        }
    return false;
}

static const char *const config_help[] = {
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
    "RESETSTAT", "    Reset statistics reported by the INFO command.",
    "REWRITE", "    Rewrite the configuration file.",
    "HELP", "    Prints this help.", NULL,
};

/* CONFIG GET pattern...: a name without glob characters is answered with
 * the name as asked; a pattern with the names it matches, each once. */
static void config_get(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                       tw_resp_buf *out)
{
    param p[16];
    size_t np = params(cx, p);
    const tw_resp_arg *as[16] = {NULL}; /* how each is named in the reply */
    size_t hits = 0;
    for (size_t i = 2; i < n; i++) {
        bool glob = memchr(a[i].p, '*', a[i].len) || memchr(a[i].p, '?', a[i].len) ||
                    memchr(a[i].p, '[', a[i].len);
        for (size_t k = 0; k < np; k++) {
            bool hit = glob ? tw__glob(a[i].p, a[i].len, (const uint8_t *)p[k].name,
                                       strlen(p[k].name), true)
                            : tw__arg_is(&a[i], p[k].name);
            if (hit && !as[k]) {
                as[k] = glob ? &a[0] : &a[i]; /* &a[0]: its own name */
                hits++;
            }
        }
    }
    tw_resp_add_array(out, 2 * (int64_t)hits);
    for (size_t k = 0; k < np; k++) {
        if (!as[k])
            continue;
        if (as[k] == &a[0])
            tw_resp_add_bulk_str(out, p[k].name);
        else
            tw_resp_add_bulk(out, as[k]->p, as[k]->len);
        tw_resp_add_bulk_str(out, p[k].value);
    }
}

/* CONFIG SET name value...: maxmemory is the one setting that changes
 * while the server runs; the others are fixed at start. */
static void config_set(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                       tw_resp_buf *out)
{
    if (n < 4 || n % 2) {
        wrong_sub("config", "set", out);
        return;
    }
    param p[16];
    size_t np = params(cx, p);
    uint64_t bytes = 0;
    bool set_mem = false;
    for (size_t i = 2; i < n; i += 2) {
        size_t k = 0;
        while (k < np && !tw__arg_is(&a[i], p[k].name))
            k++;
        if (k == np) {
            tw_resp_add_errorf(out, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                               tw__clen(&a[i], 128), (const char *)a[i].p);
            return;
        }
        if (strcmp(p[k].name, "maxmemory")) {
            tw_resp_add_errorf(out, "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config",
                               p[k].name);
            return;
        }
        if (!memory_value(&a[i + 1], &bytes) || bytes > SIZE_MAX) {
            tw__err(out, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
            return;
        }
        set_mem = true;
    }
    if (set_mem)
        tw_resp_store_set_bytes_max(cx->store, (size_t)bytes);
    tw_resp_add_status(out, "OK");
}

TW__CMD(config)
{
    if (tw__arg_is(&a[1], "get")) {
        if (n < 3)
            wrong_sub("config", "get", out);
        else
            config_get(cx, a, n, out);
    } else if (tw__arg_is(&a[1], "set")) {
        config_set(cx, a, n, out);
    } else if (tw__arg_is(&a[1], "resetstat") && n == 2) {
        tw_resp_add_status(out, "OK");
    } else if (tw__arg_is(&a[1], "help") && n == 2) {
        help(config_help, out);
    } else {
        unknown_sub("CONFIG", &a[1], out);
    }
}

/* ---- INFO ---- */

enum { S_SERVER, S_CLIENTS, S_MEMORY, S_STATS, S_REPLICATION, S_CPU,
       S_KEYSPACE, S_COMMANDSTATS, S_N };
static const char *const section_names[S_N] = {
    "server", "clients", "memory", "stats", "replication", "cpu", "keyspace",
    "commandstats",
};

typedef struct text {
    char *p;
    size_t len, cap;
} text;

__attribute__((format(printf, 2, 3)))
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    if (!t->p) { /* room for a section or two; it grows as it needs */
        t->p = malloc(1024);
        if (!t->p)
            return;
        t->cap = 1024;
    }
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p)
            return; /* the section is cut short; the reply is still sound */
        t->p = p;
        t->cap = cap;
    }
}

static void info_server(const tw_resp_ctx *cx, text *t)
{
    const tw_resp_info *in = cx->info;
    tw_ns up = in ? cx->now - in->started : 0;
    int64_t usec = cx->now / 1000 + (in ? in->epoch_ms * 1000 : 0);
    put(t, "# Server\r\nredis_version:%s\r\ntwin_version:%s\r\nredis_mode:standalone\r\n"
           "arch_bits:%d\r\nmultiplexing_api:%s\r\nrun_id:%s\r\n"
           "server_time_usec:%" PRId64 "\r\nuptime_in_seconds:%" PRId64
           "\r\nuptime_in_days:%" PRId64 "\r\nhz:%" PRIu64 "\r\n"
           "executable:twin\r\nconfig_file:\r\n\r\n",
        REDIS_VERSION, TWIN_VERSION, (int)(sizeof(void *) * 8),
        in && in->real ? "epoll" : "sim", in ? in->run_id : "", usec,
        up / TW_NS_PER_SEC, up / TW_NS_PER_SEC / 86400,
        in && in->hz ? in->hz : 10);
}

static void info_clients(const tw_resp_ctx *cx, text *t)
{
    const tw_resp_info *in = cx->info;
    put(t, "# Clients\r\nconnected_clients:%" PRIu64 "\r\nmaxclients:%" PRIu64
           "\r\nblocked_clients:0\r\ntracking_clients:0\r\n\r\n",
        in ? in->clients : 0, in ? in->maxclients : 0);
}

static void info_memory(const tw_resp_ctx *cx, text *t)
{
    size_t used = tw_resp_store_bytes(cx->store), max = tw_resp_store_bytes_max(cx->store);
    put(t, "# Memory\r\nused_memory:%zu\r\nused_memory_human:%.2fK\r\n"
           "used_memory_dataset:%zu\r\nmaxmemory:%zu\r\nmaxmemory_human:%.2fK\r\n"
           "maxmemory_policy:noeviction\r\nmem_allocator:libc\r\n\r\n",
        used, (double)used / 1024, used, max, (double)max / 1024);
}

static void info_stats(const tw_resp_ctx *cx, text *t)
{
    const tw_resp_info *in = cx->info;
    put(t, "# Stats\r\ntotal_connections_received:%" PRIu64
           "\r\ntotal_commands_processed:%" PRIu64 "\r\nrejected_connections:%" PRIu64
           "\r\nexpired_keys:0\r\nevicted_keys:0\r\npubsub_channels:0\r\n\r\n",
        in ? in->connections : 0, in ? in->commands : 0, in ? in->rejected : 0);
}

static void info_replication(const tw_resp_ctx *cx, text *t)
{
    (void)cx;
    put(t, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
           "master_failover_state:no-failover\r\nmaster_repl_offset:0\r\n"
           "repl_backlog_active:0\r\n\r\n");
}

static void info_cpu(const tw_resp_ctx *cx, text *t)
{
    double sys = 0, user = 0;
    struct rusage ru;
    if (cx->info && cx->info->real && getrusage(RUSAGE_SELF, &ru) == 0) {
        sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    }
    put(t, "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\n\r\n", sys, user);
}

static void info_keyspace(const tw_resp_ctx *cx, text *t)
{
    put(t, "# Keyspace\r\n");
    if (tw_resp_store_count(cx->store))
        put(t, "db0:keys=%zu,expires=%zu,avg_ttl=0\r\n",
            tw_resp_store_count(cx->store), tw_resp_store_volatile(cx->store));
    put(t, "\r\n");
}

static void info_commandstats(const tw_resp_ctx *cx, text *t)
{
    put(t, "# Commandstats\r\n");
    for (size_t i = 0; cx->info && cx->info->calls && i < tw__resp_ncmds(); i++)
        if (cx->info->calls[i])
            put(t, "cmdstat_%s:calls=%" PRIu64 ",usec=0,usec_per_call=0.00,"
                   "rejected_calls=0,failed_calls=0\r\n",
                tw__resp_cmd_at(i)->name, cx->info->calls[i]);
    put(t, "\r\n");
}

/* INFO [section ...]: "default" (no argument) is every section but
 * commandstats; "all" and "everything" add it. */
TW__CMD(info)
{
    bool want[S_N] = {false};
    for (size_t i = 1; i < n; i++)
        for (int s = 0; s < S_N; s++)
            want[s] |= tw__arg_is(&a[i], section_names[s]) || tw__arg_is(&a[i], "all") ||
                       tw__arg_is(&a[i], "everything") ||
                       (s != S_COMMANDSTATS && tw__arg_is(&a[i], "default"));
    for (int s = 0; s < S_N && n == 1; s++)
        want[s] = s != S_COMMANDSTATS;
    static void (*const fns[S_N])(const tw_resp_ctx *, text *) = {
        info_server, info_clients, info_memory, info_stats, info_replication,
        info_cpu, info_keyspace, info_commandstats,
    };
    text t = {NULL, 0, 0};
    put(&t, "%s", "");
    for (int s = 0; s < S_N; s++)
        if (want[s])
            fns[s](cx, &t);
    /* Redis ends the text with one CRLF, not the blank line after it. */
    if (t.p)
        tw_resp_add_bulk(out, t.p, t.len >= 2 ? t.len - 2 : t.len);
    else
        tw__err(out, TW__ERR_OOM);
    free(t.p);
}

/* ---- CLIENT ---- */

static void client_line(const tw_resp_ctx *cx, const tw_resp_client *c, text *t)
{
    put(t, "id=%" PRIu64 " addr=%s laddr=%s fd=-1 name=%.*s age=%" PRId64
           " idle=%" PRId64 " flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0"
           " qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0"
           " events=r cmd=%s user=default redir=-1 resp=2\n",
        c->id, c->addr, c->laddr, (int)c->name_len, c->name,
        (cx->now - c->created) / TW_NS_PER_SEC, (cx->now - c->last) / TW_NS_PER_SEC,
        c->last_cmd ? c->last_cmd : "NULL");
}

static const char *const client_help[] = {
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME", "    Return the name of the current connection.",
    "ID", "    Return the ID of the current connection.",
    "INFO", "    Return information about the current client connection.",
    "KILL <ip:port>", "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * ID <client-id>", "      Kill connections by client id.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]", "    Return information about client connections.",
    "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
    "SETNAME <name>", "    Assign the name <name> to the current connection.",
    "HELP", "    Prints this help.", NULL,
};

static bool arg_eq(const tw_resp_arg *a, const char *s)
{
    return a->len == strlen(s) && memcmp(a->p, s, a->len) == 0;
}

/* CLIENT KILL ip:port, or KILL [ID id] [ADDR a] [LADDR a] [SKIPME yes|no]. */
static void client_kill(tw_resp_ctx *cx, const tw_resp_arg *a, size_t n,
                        tw_resp_buf *out)
{
    const tw_resp_arg *addr = NULL, *laddr = NULL;
    int64_t id = 0;
    bool skipme = true, old_form = n == 3;
    if (old_form) {
        addr = &a[2];
    } else {
        for (size_t i = 2; i < n; i += 2) {
            if (i + 1 >= n) {
                tw__err(out, TW__ERR_SYNTAX);
                return;
            }
            if (tw__arg_is(&a[i], "id")) {
                if (!tw__arg_int(&a[i + 1], &id) || id <= 0) {
                    tw__err(out, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (tw__arg_is(&a[i], "addr")) {
                addr = &a[i + 1];
            } else if (tw__arg_is(&a[i], "laddr")) {
                laddr = &a[i + 1];
            } else if (tw__arg_is(&a[i], "skipme")) {
                if (tw__arg_is(&a[i + 1], "yes"))
                    skipme = true;
                else if (tw__arg_is(&a[i + 1], "no"))
                    skipme = false;
                else {
                    tw__err(out, TW__ERR_SYNTAX);
                    return;
                }
            } else {
                tw__err(out, TW__ERR_SYNTAX);
                return;
            }
        }
    }
    const tw_resp_info *in = cx->info;
    int64_t killed = 0;
    bool me = false;
    const tw_resp_client *c = in && in->client_next ? in->client_next(in->clients_arg, NULL)
                                                    : cx->client;
    while (c) {
        const tw_resp_client *next = in && in->client_next
                                         ? in->client_next(in->clients_arg, c) : NULL;
        bool hit = (!id || c->id == (uint64_t)id) && (!addr || arg_eq(addr, c->addr)) &&
                   (!laddr || arg_eq(laddr, c->laddr));
        bool self = c->id == cx->client_id;
        if (hit && (!self || !skipme || old_form)) {
            killed++;
            if (self)
                me = true;
            else if (in && in->client_kill)
                in->client_kill(in->clients_arg, c);
        }
        c = next;
    }
    if (me)
        cx->quit = true; /* after this reply */
    if (old_form && !killed)
        tw__err(out, "ERR No such client");
    else if (old_form)
        tw_resp_add_status(out, "OK");
    else
        tw_resp_add_int(out, killed);
}

TW__CMD(client)
{
    tw_resp_client *me = cx->client;
    const tw_resp_info *in = cx->info;
    if (tw__arg_is(&a[1], "id") && n == 2) {
        tw_resp_add_int(out, (int64_t)cx->client_id);
    } else if (tw__arg_is(&a[1], "getname") && n == 2) {
        if (me && me->name_len)
            tw_resp_add_bulk(out, me->name, me->name_len);
        else
            tw_resp_add_nil(out);
    } else if (tw__arg_is(&a[1], "setname") && n == 3) {
        if (tw__resp_name_ok(&a[2], out)) {
            tw__resp_set_name(cx, &a[2]);
            tw_resp_add_status(out, "OK");
        }
    } else if (tw__arg_is(&a[1], "info") && n == 2) {
        text t = {NULL, 0, 0};
        put(&t, "%s", "");
        if (me)
            client_line(cx, me, &t);
        tw_resp_add_bulk(out, t.p ? t.p : "", t.len);
        free(t.p);
    } else if (tw__arg_is(&a[1], "list")) {
        if (n != 2 && !(n == 4 && tw__arg_is(&a[2], "type") && tw__arg_is(&a[3], "normal"))) {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
        text t = {NULL, 0, 0};
        put(&t, "%s", "");
        if (in && in->client_next)
            for (const tw_resp_client *c = in->client_next(in->clients_arg, NULL); c;
                 c = in->client_next(in->clients_arg, c))
                client_line(cx, c, &t);
        else if (me)
            client_line(cx, me, &t);
        tw_resp_add_bulk(out, t.p ? t.p : "", t.len);
        free(t.p);
    } else if (tw__arg_is(&a[1], "kill") && n >= 3) {
        client_kill(cx, a, n, out);
    } else if (tw__arg_is(&a[1], "reply") && n == 3) {
        uint8_t mode = tw__arg_is(&a[2], "on") ? TW_RESP_REPLY_ON
                       : tw__arg_is(&a[2], "off") ? TW_RESP_REPLY_OFF
                       : tw__arg_is(&a[2], "skip") ? TW_RESP_REPLY_SKIP : 255;
        if (mode == 255) {
            tw__err(out, TW__ERR_SYNTAX);
            return;
        }
        if (me && !(mode == TW_RESP_REPLY_SKIP && me->reply == TW_RESP_REPLY_OFF))
            me->reply = mode;
        if (mode == TW_RESP_REPLY_ON)
            tw_resp_add_status(out, "OK");
    } else if (tw__arg_is(&a[1], "help") && n == 2) {
        help(client_help, out);
    } else if (tw__arg_is(&a[1], "id") || tw__arg_is(&a[1], "getname") ||
               tw__arg_is(&a[1], "setname") || tw__arg_is(&a[1], "info") ||
               tw__arg_is(&a[1], "kill") || tw__arg_is(&a[1], "reply")) {
        char sub[16];
        int len = tw__clen(&a[1], sizeof sub - 1);
        for (int i = 0; i < len; i++)
            sub[i] = (char)(a[1].p[i] | 0x20);
        sub[len] = '\0';
        wrong_sub("client", sub, out);
    } else {
        unknown_sub("CLIENT", &a[1], out);
    }
}

/* ---- TIME and WAIT ---- */

/* TIME: Unix seconds and microseconds, the keyspace's clock (the loop's
 * plus the server's epoch: a simulated node's dates replay). */
TW__CMD(time)
{
    (void)a; (void)n;
    int64_t us = cx->now / 1000 + (cx->info ? cx->info->epoch_ms * 1000 : 0);
    char s[24], u[24];
    int sl = snprintf(s, sizeof s, "%" PRId64, us / 1000000);
    int ul = snprintf(u, sizeof u, "%" PRId64, us % 1000000);
    tw_resp_add_array(out, 2);
    tw_resp_add_bulk(out, s, (size_t)sl);
    tw_resp_add_bulk(out, u, (size_t)ul);
}

/* WAIT numreplicas timeout: there are no replicas, so 0 at once. */
TW__CMD(wait)
{
    (void)cx; (void)n;
    int64_t r, ms;
    if (!tw__arg_int(&a[1], &r) || !tw__arg_int(&a[2], &ms)) {
        tw__err(out, TW__ERR_INT);
        return;
    }
    if (ms < 0) {
        tw__err(out, "ERR timeout is negative");
        return;
    }
    tw_resp_add_int(out, 0);
}
