/* twin/resp.h - a Redis-protocol (RESP2) key-value server, written once
 * for both backends: its parser, keyspace, commands and protocol.
 *
 * Map:
 *   1. limits
 *   2. the request parser (incremental, bounded, non-allocating)
 *   3. the reply parser (for clients and tests)
 *   4. replies: the output buffer commands write to
 *   5. the keyspace (a hash table with expiry on the loop's clock)
 *   6. commands
 *   7. the server protocol (`twin run resp-server`)
 *
 * Errors follow twin/error.h (negative errno values) except where a
 * section says otherwise. Nothing here reads the wall clock: times are
 * handed in by the caller. The keyspace's clock is Redis's, Unix time in
 * milliseconds: the loop's time (tw_loop_now) on the server's epoch
 * (tw_resp_info.epoch_ms, from tw_loop_epoch at each turn of the server:
 * the host's time of day, which a clock step moves, on the real backend
 * and on a simulated node).
 */
#ifndef TWIN_RESP_H
#define TWIN_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. limits. A zero field means its default (Redis's where it has one). */

typedef struct tw_resp_limits {
    size_t bulk_max;    /* longest bulk string: 512 MiB (proto-max-bulk-len) */
    size_t array_max;   /* most elements in one command: 1 Mi */
    size_t inline_max;  /* longest inline command line: 64 KiB */
    size_t pending_max; /* bytes of one unfinished request a server holds
                         * for a client: 1 GiB (client-query-buffer-limit) */
} tw_resp_limits;

#define TW_RESP_BULK_MAX_DEFAULT ((size_t)512 << 20)
#define TW_RESP_ARRAY_MAX_DEFAULT ((size_t)1 << 20)
#define TW_RESP_INLINE_MAX_DEFAULT ((size_t)64 << 10)
#define TW_RESP_PENDING_MAX_DEFAULT ((size_t)1 << 30)

/* Copy *in (NULL: all defaults) with every zero field defaulted. */
tw_resp_limits tw_resp_limits_resolve(const tw_resp_limits *in);

/* ------------------------------------------------------------------ */
/* 2. the request parser.
 *
 * A request is an array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
 * or an inline line ("GET k\r\n", split like redis-cli splits, quotes and
 * escapes included; a NUL byte in one is TW_RESP_EINLINE_NUL, "\x00" in
 * quotes is the way to say it). tw_resp_parse looks at one request at the start of
 * buf and returns:
 *   > 0  its length: argv[0..*argc) hold its arguments (*argc may be 0:
 *        an empty line or "*0\r\n", which Redis ignores too);
 *   0    incomplete: call again with the same bytes at the start of buf
 *        (they may have moved) followed by more;
 *   TW_RESP_NEED_ARGV  complete, but it has *argc arguments and argv has
 *        room for fewer: grow argv and call again with the same bytes;
 *   < 0 otherwise: a protocol error (TW_RESP_E*); tw_resp_error_text
 *        words it as Redis does. The connection cannot go on.
 * Arguments point into buf (zero copy), except inline arguments with
 * quotes, which are unescaped into the parser's scratch space; both stay
 * valid until the next call. Work is linear in the bytes however they are
 * cut: an unfinished request is not scanned again. Nothing allocates;
 * nothing reads past buf[len - 1].
 */

typedef struct tw_resp_arg {
    const uint8_t *p;
    size_t len;
} tw_resp_arg;

enum {
    TW_RESP_NEED_ARGV = -1,
    TW_RESP_EINLINE_TOO_BIG = -2,   /* inline line longer than inline_max */
    TW_RESP_EQUOTES = -3,           /* unbalanced quotes in an inline line */
    TW_RESP_EMBULK_COUNT_TOO_BIG = -4, /* no CRLF within 64 KiB after '*' */
    TW_RESP_EMBULK_LEN = -5,        /* bad or too large array length */
    TW_RESP_EEXPECTED_DOLLAR = -6,  /* an element that is not a bulk */
    TW_RESP_EBULK_COUNT_TOO_BIG = -7, /* no CRLF within 64 KiB after '$' */
    TW_RESP_EBULK_LEN = -8,         /* bad or too large bulk length */
    TW_RESP_EBULK_CRLF = -9,        /* a bulk not followed by CRLF */
    TW_RESP_ESCRATCH = -10,         /* quoted inline text and no scratch */
    TW_RESP_EINLINE_NUL = -11,      /* a NUL byte in an inline line */
};

typedef struct tw_resp_parser {
    tw_resp_limits lim;
    uint8_t *scratch; /* for unescaped inline arguments; inline_max bytes */
    size_t scratch_len;
    /* the unfinished request (private) */
    uint8_t kind, phase, bad;
    size_t pos, scan, nargs, done, bulk;
} tw_resp_parser;

/* lim NULL: defaults. scratch may be NULL (quoted inline arguments are
 * then refused with TW_RESP_ESCRATCH); it must outlive the parser. */
void tw_resp_parser_init(tw_resp_parser *ps, const tw_resp_limits *lim,
                         uint8_t *scratch, size_t scratch_len);
/* Forget an unfinished request. */
void tw_resp_parser_reset(tw_resp_parser *ps);
int tw_resp_parse(tw_resp_parser *ps, const uint8_t *buf, size_t len,
                  tw_resp_arg *argv, size_t argv_cap, size_t *argc);
/* After a 0 return: the least number of bytes the unfinished request
 * needs in all (for reserving room once for a large bulk). */
size_t tw_resp_parser_want(const tw_resp_parser *ps);
/* Redis's text for error `code` ("Protocol error: invalid bulk length"),
 * without the "ERR " prefix, into buf. Returns its length. */
size_t tw_resp_error_text(const tw_resp_parser *ps, int code, char *buf,
                          size_t len);

/* Redis's string2ll: an optional '-', digits, no leading zero ("0" is
 * fine, "-0" and "01" are not), no spaces, fits in int64. */
bool tw_resp_str2ll(const uint8_t *s, size_t len, int64_t *out);

/* ------------------------------------------------------------------ */
/* 3. the reply parser: one complete RESP2 value at the start of buf.
 * Returns its length, 0 while incomplete, -EBADMSG when it is not RESP2
 * (or nests deeper than 16, or breaks lim). Stateless (each call starts
 * again at buf[0]): meant for clients and tests, whose replies are small.
 * For an array, str points at its first element and len covers all of
 * them: parse each in turn from there. */

typedef struct tw_resp_reply {
    char type;          /* '+', '-', ':', '$', '*' */
    bool nil;           /* "$-1" or "*-1" */
    int64_t integer;    /* ':' its value; '*' its element count */
    const uint8_t *str; /* '+' '-' '$': the text; '*': the first element */
    size_t len;
} tw_resp_reply;

int tw_resp_reply_parse(const uint8_t *buf, size_t len, tw_resp_reply *r,
                        const tw_resp_limits *lim);

/* ------------------------------------------------------------------ */
/* 4. replies. A growable buffer with an optional cap and an optional
 * sink: bulk payloads of at least TW_RESP_SINK_MIN bytes are handed to
 * the sink (after everything buffered before them) instead of being
 * copied, so a large GET reaches the transport without a copy. */

#define TW_RESP_SINK_MIN (16 * 1024)

typedef struct tw_resp_buf {
    uint8_t *data;
    size_t len, cap;
    size_t max;     /* 0: no cap; else appends past it are refused */
    bool overflow;  /* an append was refused (past max, or ENOMEM) */
    void (*sink)(void *arg, const void *data, size_t len);
    void *sink_arg;
} tw_resp_buf;

void tw_resp_buf_init(tw_resp_buf *b, size_t max);
void tw_resp_buf_fini(tw_resp_buf *b);
/* Hand what is buffered to the sink (if any) and empty the buffer. */
void tw_resp_buf_flush(tw_resp_buf *b);
void tw_resp_add_raw(tw_resp_buf *b, const void *p, size_t n);
void tw_resp_add_status(tw_resp_buf *b, const char *s);   /* "+s\r\n" */
/* "-text\r\n"; CR and LF inside text become spaces (as Redis does). */
void tw_resp_add_error(tw_resp_buf *b, const char *text, size_t n);
__attribute__((format(printf, 2, 3)))
void tw_resp_add_errorf(tw_resp_buf *b, const char *fmt, ...);
void tw_resp_add_int(tw_resp_buf *b, int64_t v);           /* ":v\r\n" */
void tw_resp_add_bulk(tw_resp_buf *b, const void *p, size_t n);
void tw_resp_add_bulk_str(tw_resp_buf *b, const char *s);
void tw_resp_add_nil(tw_resp_buf *b);                      /* "$-1\r\n" */
void tw_resp_add_array(tw_resp_buf *b, int64_t n);         /* "*n\r\n" */

/* ------------------------------------------------------------------ */
/* 5. the keyspace: binary keys to binary values, each with an optional
 * expiry time in milliseconds (Redis's resolution) on the caller's clock;
 * `now_ms` is passed in by the caller (the server's: Unix ms, above). A key
 * whose expiry is before now is gone: lookups delete it (lazily), and
 * tw_resp_store_expire_step reclaims the rest a bounded bit at a time.
 * Iteration order, and so everything here, depends only on the keys and
 * the hash seed, never on addresses. Values returned stay valid until
 * the next call that changes the store. */

typedef struct tw_resp_store tw_resp_store;

typedef struct tw_resp_store_opts {
    size_t keys_max;    /* 0: no limit; a new key past it is refused */
    size_t bytes_max;   /* 0: no limit; memory of keys, values and their
                         * entries; a write past it is refused (OOM) */
    uint64_t hash_seed;
} tw_resp_store_opts;

#define TW_RESP_NO_EXPIRY INT64_MAX

tw_resp_store *tw_resp_store_new(const tw_resp_store_opts *opts);
void tw_resp_store_free(tw_resp_store *st);

/* The value of key, or false when absent (or expired by now_ms). */
bool tw_resp_store_get(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms, const uint8_t **val, size_t *vlen);
/* Set key to val with an absolute expiry (TW_RESP_NO_EXPIRY: none), or
 * keep the key's current expiry when keep_ttl. 0, or -ENOMEM (out of
 * memory, or past keys_max / bytes_max: the store is unchanged). */
int tw_resp_store_set(tw_resp_store *st, const void *key, size_t klen,
                      const void *val, size_t vlen, int64_t expire_ms,
                      bool keep_ttl, int64_t now_ms);
/* True if key was there (and not expired) and is now gone. */
bool tw_resp_store_del(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms);
/* The expiry of a present key (TW_RESP_NO_EXPIRY: none); false if absent. */
bool tw_resp_store_ttl(tw_resp_store *st, const void *key, size_t klen,
                       int64_t now_ms, int64_t *expire_ms);
/* Change a present key's expiry; false if absent. */
bool tw_resp_store_set_expiry(tw_resp_store *st, const void *key,
                              size_t klen, int64_t expire_ms, int64_t now_ms);
/* Write n bytes at offset off of key's value (APPEND, SETRANGE, SETBIT),
 * the gap before off filled with zero bytes; a key that is absent is
 * made (no expiry); a present key keeps its expiry. The value's room
 * grows by doubling, so appending is amortized linear. 0, or -ENOMEM
 * (as tw_resp_store_set; the store is unchanged). */
int tw_resp_store_write(tw_resp_store *st, const void *key, size_t klen,
                        size_t off, const void *p, size_t n, int64_t now_ms);
/* Move src's value and expiry to dst (dst's old value goes): 0, -ENOENT
 * (src absent), -EEXIST (dst present and !replace), -ENOMEM. With keep,
 * src stays (COPY); else it goes (RENAME). src == dst is the caller's. */
int tw_resp_store_copy(tw_resp_store *st, const void *src, size_t slen,
                       const void *dst, size_t dlen, bool replace, bool keep,
                       int64_t now_ms);
/* One step of a scan (Redis's reverse-binary cursor: a key present from
 * start to end is seen at least once, however the table grows): visit
 * the live keys of the bucket at cursor, and return the next cursor (0:
 * done). The order depends on the keys and the hash seed only. */
typedef void tw_resp_scan_fn(void *arg, const uint8_t *key, size_t klen);
uint64_t tw_resp_store_scan(tw_resp_store *st, uint64_t cursor,
                            int64_t now_ms, tw_resp_scan_fn *fn, void *arg);
/* A live key drawn by the store's own generator (seeded by hash_seed: the
 * same draws for the same seed and history); false when there is none.
 * Expired keys met are reclaimed. */
bool tw_resp_store_random(tw_resp_store *st, int64_t now_ms,
                          const uint8_t **key, size_t *klen);
/* Keys held, expired ones not yet reclaimed included (as Redis's DBSIZE);
 * of which with an expiry; bytes accounted. */
size_t tw_resp_store_count(const tw_resp_store *st);
size_t tw_resp_store_volatile(const tw_resp_store *st);
size_t tw_resp_store_bytes(const tw_resp_store *st);
/* The byte limit (bytes_max) now, and a new one (CONFIG SET maxmemory:
 * keys already held stay; writes are refused until under it). */
size_t tw_resp_store_bytes_max(const tw_resp_store *st);
void tw_resp_store_set_bytes_max(tw_resp_store *st, size_t bytes_max);
void tw_resp_store_flush(tw_resp_store *st);
/* A count that grows with every change made to the store (a set, a
 * delete, an expiry changed, a flush), and not with a refused set or
 * keys reclaimed because their time passed: a caller compares it
 * before and after a command to know whether the command wrote. */
uint64_t tw_resp_store_dirty(const tw_resp_store *st);
/* Call fn for every key not expired by now_ms, in the store's order (the
 * hash seed's, never addresses'), with its value and expiry
 * (TW_RESP_NO_EXPIRY: none). fn must not change the store; a negative
 * return stops the walk and is returned. 0 when every key was seen. */
typedef int tw_resp_store_each_fn(void *arg, const uint8_t *key, size_t klen,
                                  const uint8_t *val, size_t vlen,
                                  int64_t expire_ms);
int tw_resp_store_each(const tw_resp_store *st, int64_t now_ms,
                       tw_resp_store_each_fn *fn, void *arg);
/* Reclaim expired keys: look at no more than `buckets` buckets, going on
 * from where the last step stopped. Returns the keys deleted. */
size_t tw_resp_store_expire_step(tw_resp_store *st, int64_t now_ms,
                                 size_t buckets);

/* ------------------------------------------------------------------ */
/* 6. commands: Redis 7's string and generic keyspace families and the
 * connection and server commands a client needs (COMMAND LIST names
 * them), replying as Redis 7.0 replies, errors worded alike. */

/* One connection as CLIENT sees it: kept by the server, changed by
 * CLIENT SETNAME and CLIENT REPLY. */
#define TW_RESP_NAME_MAX 256 /* a client name's bytes at most */

enum { TW_RESP_REPLY_ON, TW_RESP_REPLY_OFF, TW_RESP_REPLY_SKIP };

typedef struct tw_resp_client {
    uint64_t id;
    char addr[128], laddr[128]; /* "ip:port" (CLIENT LIST), may be "";
                                 * TW_ADDR_STRLEN bytes */
    tw_ns created, last;        /* loop times: connected, last command */
    uint64_t commands;
    const char *last_cmd;       /* lower case; NULL before any */
    uint8_t reply;              /* TW_RESP_REPLY_* */
    size_t name_len;
    char name[TW_RESP_NAME_MAX + 1];
} tw_resp_client;

#define TW_RESP_COMMANDS_MAX 128

/* What a command may want to know about the server it runs in. */
typedef struct tw_resp_info {
    char run_id[41];        /* INFO's run_id: 40 hex digits */
    tw_ns started;          /* loop time the server started (uptime) */
    int64_t epoch_ms;       /* Unix ms at loop time 0: the keyspace's clock
                             * is this plus the loop's (tw_loop_epoch, read
                             * again at each turn of the server) */
    uint64_t clients;       /* connected clients */
    uint64_t maxclients;
    tw_resp_limits limits;  /* CONFIG GET */
    size_t bytes_max;
    uint64_t connections, commands, rejected; /* INFO stats */
    uint64_t hz;            /* expiry cycles a second (INFO, CONFIG) */
    bool real;              /* on the real backend: INFO reports the
                             * process's CPU time (virtual time has none) */
    uint64_t *calls;        /* NULL, or calls of each command (INFO
                             * commandstats), TW_RESP_COMMANDS_MAX of them */
    /* The server's connections, for CLIENT LIST and KILL (NULL: none
     * but the caller's). client_next(arg, NULL) gives the first, then
     * each after prev, NULL at the end; client_kill closes one (never
     * the caller's: that one sets tw_resp_ctx.quit). */
    void *clients_arg;
    const tw_resp_client *(*client_next)(void *arg, const tw_resp_client *prev);
    void (*client_kill)(void *arg, const tw_resp_client *c);
} tw_resp_info;

/* A command that changed the keyspace, as a command that redoes it
 * exactly when run again later (an append-only file replays these):
 * relative times are made absolute (SET k v EX 10 is handed on as SET k
 * v PXAT t, EXPIRE k 10 as PEXPIREAT k t, one whose time has passed as
 * DEL k). argv points into the command's arguments or the executor's
 * scratch: copy what is kept. */
typedef void tw_resp_propagate_fn(void *arg, const tw_resp_arg *argv,
                                  size_t argc);

typedef struct tw_resp_ctx {
    tw_resp_store *store;
    const tw_resp_info *info; /* may be NULL */
    tw_ns now;                /* the loop's clock */
    uint64_t client_id;       /* HELLO's id (client->id when client set) */
    tw_resp_client *client;   /* may be NULL: CLIENT then knows only the id */
    bool quit;                /* out: QUIT ran, close after its reply */
    /* NULL: nobody keeps changes. Else called once per command that
     * changed the store (tw_resp_store_dirty moved), after the change
     * and before its reply is handed on. */
    tw_resp_propagate_fn *propagate;
    void *propagate_arg;
    /* NULL, or the error (without its '-') that commands which write
     * are answered with instead of running (Redis's MISCONF). */
    const char *deny_writes;
    bool propagated;          /* private: the command handed on its own form */
} tw_resp_ctx;

/* Run one command (argc >= 1) and append its reply to out. */
void tw_resp_exec(tw_resp_ctx *cx, const tw_resp_arg *argv, size_t argc,
                  tw_resp_buf *out);
/* Commands known, and the name of the i-th (for COMMAND COUNT, tests). */
size_t tw_resp_command_count(void);
const char *tw_resp_command_name(size_t i);

/* ------------------------------------------------------------------ */
/* 7. the server: one keyspace shared by its connections, each parsing
 * pipelined requests straight from the transport's buffer, replying in
 * one write per read, and stopping reading while its write buffer is
 * over the high-water mark (a client that reads nothing cannot grow the
 * server's memory). Limits passed close the connection after an error
 * reply. Expired keys are reclaimed by a timer on the loop while any key
 * has an expiry. */

typedef struct tw_resp_server tw_resp_server;

/* Redis's default maxclients. */
#define TW_RESP_MAXCLIENTS_DEFAULT 10000

typedef struct tw_resp_server_cfg {
    tw_resp_limits limits;
    tw_resp_store_opts store;
    /* Clients at once; one more is answered "-ERR max number of clients
     * reached" and closed. 0: TW_RESP_MAXCLIENTS_DEFAULT. Taken as given:
     * the resp-server app keeps it within the descriptor limit
     * (tw_loop_fd_limit), and a caller of its own should too. */
    uint64_t maxclients;
    size_t output_max;    /* a client's replies held, past which it is
                           * dropped; 0: 1 GiB */
    uint64_t seed;        /* varies run_id and the hash seed */
    /* Persistence, as Redis's appendonly: NULL for none, else the path
     * of an append-only file (on the loop's backend: a simulated node's
     * own disk) replayed at start and added to by every change; see
     * proto/resp_aof.h for its format, loading and errors. */
    const char *aof_path;
    int appendfsync;      /* TW_RESP_FSYNC_*; 0 is everysec, Redis's default */
    /* The file is made anew from the keyspace once it is at least this
     * big (0: 64 MiB) and has grown by aof_rewrite_percentage since the
     * last time (0: 100; negative: never), as Redis's auto-aof-rewrite
     * does, but synchronously (the loop waits for it). */
    uint64_t aof_rewrite_min_size;
    int aof_rewrite_percentage;
    FILE *log;            /* warnings and errors; NULL: stderr */
} tw_resp_server_cfg;

enum {
    TW_RESP_FSYNC_EVERYSEC = 0, /* fsync once a second at most */
    TW_RESP_FSYNC_ALWAYS,       /* fsync before replying to a change */
    TW_RESP_FSYNC_NO,           /* never fsync */
};

typedef struct tw_resp_server_stats {
    uint64_t connections, clients, commands;
    uint64_t rejected;        /* maxclients */
    uint64_t protocol_errors; /* limits and malformed requests */
    uint64_t dropped;         /* output_max */
    uint64_t pauses;          /* pause_writing calls */
    uint64_t aof_restarts;    /* the append-only file failed with
                               * `always`: the server stopped serving and
                               * started again from the file, as Redis
                               * exits and its supervisor restarts it */
    int aof_error;            /* the last such failure (a negative errno) */
    uint64_t aof_size;        /* bytes of the file now */
    uint64_t aof_rewrites;    /* times it was made anew from the keyspace */
    size_t held_max;          /* most bytes held for one client at once:
                               * unfinished input + replies not yet taken
                               * by the transport + its write buffer */
} tw_resp_server_stats;

/* NULL on ENOMEM. cfg NULL: defaults. */
tw_resp_server *tw_resp_server_new(tw_loop *loop, const tw_resp_server_cfg *cfg);
/* The same, with the error: 0 and *out, or a negative errno (-ENOMEM;
 * with aof_path: -EBADMSG for a damaged file, or the file API's errors,
 * said on cfg->log). */
int tw_resp_server_open(tw_loop *loop, const tw_resp_server_cfg *cfg,
                        tw_resp_server **out);
/* Factory for tw_create_server; arg is the tw_resp_server. */
tw_protocol *tw_resp_server_factory(void *srv);
/* Close every connection (after flushing), stop the expiry timer, and
 * free the server once its last connection is released. */
void tw_resp_server_close(tw_resp_server *srv);
/* The loop under the server is gone (a simulated crash): its
 * connections were released already; free without touching the loop. */
void tw_resp_server_discard(tw_resp_server *srv);
tw_resp_server_stats tw_resp_server_get_stats(const tw_resp_server *srv);
tw_resp_store *tw_resp_server_store(tw_resp_server *srv);
const tw_resp_info *tw_resp_server_info(const tw_resp_server *srv);

#ifdef __cplusplus
}
#endif
#endif
