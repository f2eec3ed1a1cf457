/* proto/resp_server.c - the RESP2 server protocol and the app
 * `resp-server`.
 *
 * Map: the server object (lifetime, run id, expiry timer); a connection
 * (replies, ending it, running requests, input); the protocol callbacks
 * (flow control among them); the app.
 *
 * Input: requests are parsed straight from the buffer data_received
 * hands over; only the unfinished tail of a read is copied, into the
 * connection's own buffer, where the next read is appended to it.
 * Output: replies of one read go out in one write (and early, every
 * 16 KiB, for big pipelines); bulk payloads of 16 KiB and more skip the
 * reply buffer and go to the transport directly.
 * Flow control: when a write pushes the transport's buffer over its
 * high-water mark, pause_writing stops the requests (what is left of the
 * read waits in the input buffer) and pauses reading; resume_writing
 * runs what waited and reads again. So a client that pipelines without
 * reading costs the server at most about one read, the high-water mark
 * and the largest reply, however long it goes on.
 * Ending: after QUIT or an error reply (a limit passed, a malformed
 * request) the write side is shut and what the client still sends is
 * read and dropped until its EOF, so the reply is not lost to a reset.
 *
 * Ownership: the server is reference-counted: its owner holds one
 * reference until tw_resp_server_close or _discard, each connection one
 * until its release. A connection never outlives its server.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp_aof.h"
#include "proto/serving.h"
#include "twin/mix.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/resp.h"
#include "twin/twin.h"

#define FLUSH_BYTES (16 * 1024)
#define ARGV_INLINE 16
#define IN_KEEP_MAX (64 * 1024)   /* an idle input buffer larger is freed */
#define EXPIRE_EVERY TW_MS(100)
#define EXPIRE_BUCKETS 1024
#define EXPIRE_ROUNDS 16
#define LINGER TW_SEC(2)

typedef struct conn conn;

struct tw_resp_server {
    tw_loop *loop;
    tw_resp_server_cfg cfg;
    tw_resp_store *store;
    tw_resp_info info;
    tw_resp_server_stats st;
    uint8_t *scratch; /* inline unescaping: one request runs at a time */
    conn *conns;
    unsigned refs;
    tw_handle expire_timer;
    uint64_t next_id;
    resp_aof *aof;    /* NULL: no persistence */
    char *aof_path;   /* kept for starting again */
    tw_handle aof_restart;
    bool stopped;     /* after a fatal failure of the file, until restart */
    uint64_t calls[TW_RESP_COMMANDS_MAX]; /* INFO commandstats */
    bool closed;
};

struct conn {
    tw_protocol base;
    tw_resp_server *srv;
    tw_transport *t;
    conn *prev, *next;
    tw_resp_parser ps;
    tw_resp_arg *argv;
    size_t argv_cap;
    uint8_t *in;  /* unfinished input, and what waits while paused */
    size_t in_off, in_len, in_cap;
    tw_resp_buf out;
    uint64_t id;
    tw_resp_client cl; /* what CLIENT sees of it */
    tw_handle linger;
    bool paused, closing, eof, linked, draining;
    tw_resp_arg argv0[ARGV_INLINE];
};

/* ---- the server object ---- */

static int aof_start(tw_resp_server *srv);

static void unref(tw_resp_server *srv)
{
    if (--srv->refs)
        return;
    tw_resp_store_free(srv->store);
    free(srv->scratch);
    free(srv->aof_path);
    free(srv);
}

/* CLIENT LIST and KILL walk the connections (tw_resp_info). */
static const tw_resp_client *client_next(void *arg, const tw_resp_client *prev)
{
    tw_resp_server *srv = arg;
    conn *c = prev ? ((conn *)((char *)prev - offsetof(conn, cl)))->next : srv->conns;
    while (c && c->closing)
        c = c->next;
    return c ? &c->cl : NULL;
}

static void client_kill(void *arg, const tw_resp_client *cl)
{
    (void)arg;
    conn *c = (conn *)((char *)cl - offsetof(conn, cl));
    if (c->closing)
        return;
    c->closing = true;
    tw_transport_close(c->t);
}

tw_resp_server *tw_resp_server_new(tw_loop *loop, const tw_resp_server_cfg *cfg)
{
    tw_resp_server *srv;
    return tw_resp_server_open(loop, cfg, &srv) < 0 ? NULL : srv;
}
/* The keyspace's clock on the loop's time of day now: tw_resp_info's
 * epoch_ms, which commands add to the loop's time. */
static void keyspace_clock(tw_resp_server *srv)
{
    srv->info.epoch_ms = tw_loop_epoch(srv->loop) / TW_NS_PER_MS;
}


int tw_resp_server_open(tw_loop *loop, const tw_resp_server_cfg *cfg,
                        tw_resp_server **out)
{
    tw_resp_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return -ENOMEM;
    srv->loop = loop;
    if (cfg)
        srv->cfg = *cfg;
    srv->cfg.limits = tw_resp_limits_resolve(&srv->cfg.limits);
    if (!srv->cfg.maxclients)
        srv->cfg.maxclients = TW_RESP_MAXCLIENTS_DEFAULT;
    if (!srv->cfg.output_max)
        srv->cfg.output_max = (size_t)1 << 30;
    if (!srv->cfg.store.hash_seed)
        srv->cfg.store.hash_seed = tw_mix64(srv->cfg.seed ^ 0x7e5);
    srv->store = tw_resp_store_new(&srv->cfg.store);
    srv->scratch = malloc(srv->cfg.limits.inline_max);
    if (!srv->store || !srv->scratch) {
        tw_resp_store_free(srv->store);
        free(srv->scratch);
        free(srv);
        return -ENOMEM;
    }
    srv->refs = 1;
    srv->next_id = 1;
    /* The run id tells a client that the server restarted (its keys are
     * gone): it differs between starts because the start time does. */
    srv->info.started = tw_loop_now(loop);
    uint64_t h = tw_mix64(srv->cfg.seed ^ (uint64_t)srv->info.started);
    for (int i = 0; i < 40; i++, h = tw_mix64(h))
        srv->info.run_id[i] = "0123456789abcdef"[h & 15];
    srv->info.maxclients = srv->cfg.maxclients;
    srv->info.limits = srv->cfg.limits;
    srv->info.bytes_max = srv->cfg.store.bytes_max;
    /* The keyspace's clock is Unix ms (Redis's): the loop's time of day,
     * read again at each turn (keyspace_clock), so a step of the host's
     * clock (NTP's, or a simulated clock fault) moves it as it moves
     * Redis's. */
    keyspace_clock(srv);
    srv->info.real = !strcmp(tw_loop_backend(loop), "real");
    srv->info.hz = TW_SEC(1) / EXPIRE_EVERY;
    srv->info.calls = srv->calls;
    srv->info.clients_arg = srv;
    srv->info.client_next = client_next;
    srv->info.client_kill = client_kill;
    if (srv->cfg.aof_path) {
        srv->aof_path = strdup(srv->cfg.aof_path);
        srv->cfg.aof_path = NULL; /* the caller's string: not kept */
        int rc = srv->aof_path ? aof_start(srv) : -ENOMEM;
        if (rc < 0) {
            unref(srv);
            return rc;
        }
    }
    *out = srv;
    return 0;
}

static void expire_cb(void *arg)
{
    tw_resp_server *srv = arg;
    srv->expire_timer = 0;
    keyspace_clock(srv);
    int64_t now_ms = tw_loop_now(srv->loop) / TW_NS_PER_MS + srv->info.epoch_ms;
    /* Redis's adaptive rule: go on while a quarter of what was looked at
     * had expired, within a bounded number of rounds. */
    for (int r = 0; r < EXPIRE_ROUNDS; r++)
        if (tw_resp_store_expire_step(srv->store, now_ms, EXPIRE_BUCKETS) <
            EXPIRE_BUCKETS / 4)
            break;
    if (tw_resp_store_volatile(srv->store) && !srv->closed)
        srv->expire_timer = tw_call_later(srv->loop, EXPIRE_EVERY, expire_cb, srv);
}

/* The timer runs only while some key has an expiry: an idle server has
 * nothing scheduled. */
static void arm_expiry(tw_resp_server *srv)
{
    if (!srv->expire_timer && !srv->closed && tw_resp_store_volatile(srv->store))
        srv->expire_timer = tw_call_later(srv->loop, EXPIRE_EVERY, expire_cb, srv);
}

void tw_resp_server_close(tw_resp_server *srv)
{
    srv->closed = true;
    if (srv->expire_timer)
        tw_handle_cancel(srv->loop, srv->expire_timer);
    srv->expire_timer = 0;
    for (conn *c = srv->conns; c; c = c->next) {
        c->closing = true;
        if (c->linger)
            tw_handle_cancel(srv->loop, c->linger);
        c->linger = 0;
        tw_transport_close(c->t);
    }
    if (srv->aof_restart)
        tw_handle_cancel(srv->loop, srv->aof_restart);
    srv->aof_restart = 0;
    resp_aof_close(srv->aof);
    srv->aof = NULL;
    unref(srv);
}

void tw_resp_server_discard(tw_resp_server *srv)
{
    resp_aof_discard(srv->aof); /* its file went with the node */
    srv->aof = NULL;
    srv->aof_restart = 0;       /* and the timer with the loop */
    srv->closed = true;
    srv->expire_timer = 0; /* went with the loop */
    for (conn *c = srv->conns; c; c = c->next)
        c->linked = false; /* must not happen: released with the loop */
    srv->conns = NULL;
    unref(srv);
}

tw_resp_server_stats tw_resp_server_get_stats(const tw_resp_server *srv)
{
    tw_resp_server_stats st = srv->st;
    if (srv->aof) {
        st.aof_size = resp_aof_size(srv->aof);
        st.aof_rewrites = resp_aof_rewrites(srv->aof);
    }
    return st;
}

tw_resp_store *tw_resp_server_store(tw_resp_server *srv) { return srv->store; }
const tw_resp_info *tw_resp_server_info(const tw_resp_server *srv)
{
    return &srv->info;
}

/* ---- persistence ---- */

#define AOF_RESTART_EVERY TW_SEC(1)

static FILE *log_of(const tw_resp_server *srv)
{
    return srv->cfg.log ? srv->cfg.log : stderr;
}

/* Open the file and replay it into the store. */
static int aof_start(tw_resp_server *srv)
{
    tw_resp_ctx cx = {.store = srv->store, .info = &srv->info,
                      .now = tw_loop_now(srv->loop)};
    resp_aof_rewrite rw = {.min_size = srv->cfg.aof_rewrite_min_size,
                           .percentage = srv->cfg.aof_rewrite_percentage};
    return resp_aof_open(srv->loop, srv->aof_path, srv->cfg.appendfsync, &rw, &cx,
                         srv->cfg.log, &srv->aof);
}

static void aof_restart_cb(void *arg)
{
    tw_resp_server *srv = arg;
    srv->aof_restart = 0;
    assert(srv->stopped && !srv->aof);
    tw_resp_store_flush(srv->store);
    int rc = aof_start(srv);
    if (rc < 0) {
        fprintf(log_of(srv), "resp-server: starting again failed (%s): next try "
                             "in 1s\n", tw_strerror(rc));
        srv->aof_restart = tw_call_later(srv->loop, AOF_RESTART_EVERY, aof_restart_cb, srv);
        return;
    }
    srv->stopped = false;
    fprintf(log_of(srv), "resp-server: serving again, %zu keys loaded\n",
            tw_resp_store_count(srv->store));
}

/* The append-only file failed with appendfsync always: the changes just
 * made are not durable and their replies must not go out. Redis exits,
 * and a supervisor starts it again: the server stops serving (every
 * client is cut off unanswered, new ones likewise), forgets its keyspace,
 * and a second later starts again from what the file holds. */
static void aof_stop(tw_resp_server *srv, int err)
{
    fprintf(log_of(srv), "resp-server: cannot go on after the append-only file "
                         "failed with appendfsync always (%s): stopping, as Redis "
                         "exits, and starting again from the file in 1s\n",
            tw_strerror(err));
    fflush(log_of(srv));
    srv->st.aof_restarts++;
    srv->st.aof_error = err;
    srv->stopped = true;
    resp_aof_abandon(srv->aof);
    srv->aof = NULL;
    for (conn *c = srv->conns; c; c = c->next) {
        c->closing = true;
        c->out.len = 0;
        tw_transport_abort(c->t);
    }
    if (!srv->closed)
        srv->aof_restart = tw_call_later(srv->loop, AOF_RESTART_EVERY, aof_restart_cb, srv);
}

/* Before any reply goes out: the changes it answers are written (and,
 * with always, durable). False when the server is stopped. */
static bool aof_ready(tw_resp_server *srv)
{
    if (srv->stopped)
        return false;
    if (!srv->aof)
        return true;
    int rc = resp_aof_flush(srv->aof);
    if (rc < 0)
        aof_stop(srv, rc);
    return rc >= 0;
}

/* ---- a connection: replies ---- */

static void sink(void *arg, const void *data, size_t len)
{
    conn *c = arg;
    if (!c->closing && !aof_ready(c->srv))
        return;
    if (!c->closing && tw_transport_write(c->t, data, len) < 0)
        c->closing = true; /* connection_lost follows from the loop */
}

static void flush(conn *c)
{
    if (!aof_ready(c->srv))
        return;
    tw_resp_buf_flush(&c->out);
    if (tw_transport_is_closing(c->t))
        c->closing = true;
}

static void linger_cb(void *arg)
{
    conn *c = arg;
    c->linger = 0;
    tw_transport_close(c->t);
}

/* The last reply is written: end the connection so that the client
 * reads it. Closing with the client's bytes still unread would make the
 * kernel (and the simulator, which copies it) reset the connection, and
 * the reset can overtake the reply. So shut the write side, read and
 * drop whatever still comes, and close at the client's EOF, or after
 * LINGER if it never sends one. */
static void end_conn(conn *c)
{
    flush(c);
    c->closing = true;
    if (tw_transport_is_closing(c->t))
        return;
    if (tw_transport_write_eof(c->t) < 0) {
        tw_transport_close(c->t);
        return;
    }
    c->draining = true;
    tw_transport_resume_reading(c->t);
    c->linger = tw_call_later(c->srv->loop, LINGER, linger_cb, c);
}

/* Reply with an error, then end the connection. */
static void fail(conn *c, const char *text, size_t len)
{
    c->srv->st.protocol_errors++;
    c->out.overflow = false; /* the error goes out whatever came before */
    tw_resp_add_error(&c->out, text, len);
    end_conn(c);
}

static void fail_parse(conn *c, int code)
{
    char text[128] = "ERR ";
    size_t n = tw_resp_error_text(&c->ps, code, text + 4, sizeof text - 4);
    fail(c, text, n + 4);
}

static void note_held(conn *c)
{
    size_t held = (c->in_len - c->in_off) + c->out.len +
                  tw_transport_get_write_buffer_size(c->t);
    if (held > c->srv->st.held_max)
        c->srv->st.held_max = held;
}

/* ---- a connection: running requests ---- */

static int grow_argv(conn *c, size_t need)
{
    if (need > c->srv->cfg.limits.array_max + 1 || need > SIZE_MAX / sizeof *c->argv)
        return -ENOMEM;
    tw_resp_arg *a = malloc(need * sizeof *a);
    if (!a)
        return -ENOMEM;
    if (c->argv != c->argv0)
        free(c->argv);
    c->argv = a;
    c->argv_cap = need;
    return 0;
}

static void after_command(conn *c, const tw_resp_ctx *cx)
{
    tw_resp_server *srv = c->srv;
    srv->info.commands = ++srv->st.commands;
    if (cx->quit) {
        end_conn(c);
        return;
    }
    if (c->out.overflow ||
        c->out.len + tw_transport_get_write_buffer_size(c->t) > srv->cfg.output_max) {
        /* One reply larger than the client may be owed: like Redis's
         * output buffer limit, the client goes, without a reply. */
        srv->st.dropped++;
        c->closing = true;
        tw_transport_abort(c->t);
        return;
    }
    if (c->out.len >= FLUSH_BYTES)
        flush(c);
}

/* Run the requests in buf[0..len) until the data ends, the transport
 * pauses us, or the connection is closing. Returns the bytes used; an
 * unfinished request's state stays in the parser. */
static size_t run(conn *c, const uint8_t *buf, size_t len, tw_ns now)
{
    tw_resp_server *srv = c->srv;
    keyspace_clock(srv);
    tw_resp_ctx cx = {.store = srv->store, .info = &srv->info, .now = now,
                      .client_id = c->id, .client = &c->cl};
    if (srv->aof) {
        cx.propagate = resp_aof_feed;
        cx.propagate_arg = srv->aof;
        cx.deny_writes = resp_aof_refusal(srv->aof);
    }
    size_t off = 0;
    while (off < len && !c->paused && !c->closing) {
        size_t argc;
        int r = tw_resp_parse(&c->ps, buf + off, len - off, c->argv,
                              c->argv_cap, &argc);
        if (r > 0) {
            off += (size_t)r;
            if (argc) {
                tw_resp_exec(&cx, c->argv, argc, &c->out);
                after_command(c, &cx);
            }
        } else if (r == 0) {
            size_t want = tw_resp_parser_want(&c->ps);
            if (len - off > srv->cfg.limits.pending_max ||
                want > srv->cfg.limits.pending_max) {
                static const char t[] =
                    "ERR Protocol error: request larger than the pending bytes limit";
                fail(c, t, sizeof t - 1);
            }
            break;
        } else if (r == TW_RESP_NEED_ARGV) {
            if (grow_argv(c, argc) < 0) {
                fail_parse(c, TW_RESP_EMBULK_LEN);
                break;
            }
        } else {
            fail_parse(c, r);
            break;
        }
    }
    return off;
}

/* Append to the input buffer (compacting it first). */
static bool keep(conn *c, const uint8_t *d, size_t n)
{
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    size_t need = c->in_len + n;
    size_t want = tw_resp_parser_want(&c->ps); /* a big bulk: once */
    if (need > c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap : 1024;
        while (cap < need)
            cap *= 2;
        if (want > cap && want <= c->srv->cfg.limits.pending_max)
            cap = want;
        uint8_t *p = realloc(c->in, cap);
        if (!p) {
            static const char t[] = "ERR out of memory";
            fail(c, t, sizeof t - 1);
            return false;
        }
        c->in = p;
        c->in_cap = cap;
    }
    memcpy(c->in + c->in_len, d, n);
    c->in_len += n;
    return true;
}

static void drain(conn *c, tw_ns now)
{
    if (c->in_len == c->in_off)
        return;
    c->in_off += run(c, c->in + c->in_off, c->in_len - c->in_off, now);
    if (c->closing) /* what waited will never run */
        c->in_off = c->in_len;
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
        if (c->in_cap > IN_KEEP_MAX) { /* a one-off big value */
            free(c->in);
            c->in = NULL;
            c->in_cap = 0;
        }
    }
}

/* End of a batch: send the replies, note what is held, arm expiry, and
 * close a half-closed connection whose requests have all run. */
static void finish(conn *c)
{
    if (!c->closing)
        flush(c);
    note_held(c);
    arm_expiry(c->srv);
    /* Half-closed and nothing waits for resume_writing: what is left is
     * at most an unfinished request, which can never finish now. */
    if (c->eof && !c->closing && !c->paused) {
        c->closing = true;
        tw_transport_close(c->t);
    }
}

/* ---- the protocol callbacks ---- */

static void c_made(tw_protocol *p, tw_transport *t)
{
    conn *c = (conn *)p;
    tw_resp_server *srv = c->srv;
    c->t = t;
    c->id = srv->next_id++;
    c->out.sink = sink;
    c->out.sink_arg = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    c->linked = true;
    c->cl.id = c->id;
    c->cl.created = c->cl.last = tw_loop_now(srv->loop);
    tw_addr ad;
    if (tw_transport_peername(t, &ad) == 0)
        tw_addr_format(&ad, c->cl.addr, sizeof c->cl.addr);
    if (tw_transport_sockname(t, &ad) == 0)
        tw_addr_format(&ad, c->cl.laddr, sizeof c->cl.laddr);
    srv->info.connections = ++srv->st.connections;
    srv->info.clients = ++srv->st.clients;
    if (srv->stopped) { /* as if nobody listened */
        c->closing = true;
        tw_transport_abort(t);
        return;
    }
    if (srv->st.clients > srv->cfg.maxclients || srv->closed) {
        static const char t_[] = "-ERR max number of clients reached\r\n";
        srv->info.rejected = ++srv->st.rejected;
        tw_transport_write(t, t_, sizeof t_ - 1);
        end_conn(c);
    }
}

static void c_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    conn *c = (conn *)p;
    if (c->closing)
        return; /* draining after the last reply: dropped */
    tw_ns now = tw_loop_now(c->srv->loop);
    if (c->in_len == c->in_off && !c->paused) {
        /* Zero copy: run from the transport's buffer, keep only the tail. */
        size_t used = run(c, d, n, now);
        if (used < n && !c->closing)
            keep(c, d + used, n - used);
    } else if (keep(c, d, n)) {
        drain(c, now);
    }
    finish(c);
}

static bool c_eof(tw_protocol *p)
{
    conn *c = (conn *)p;
    c->eof = true;
    if (c->draining)
        return false; /* the client read our last reply and left */
    /* Requests waiting for resume_writing run before the close (finish
     * closes then); otherwise close now, after flushing what was written. */
    return c->paused && c->in_len != c->in_off && !c->closing;
}

static void c_pause(tw_protocol *p)
{
    conn *c = (conn *)p;
    c->paused = true;
    c->srv->st.pauses++;
    if (!c->draining) /* a draining connection reads to the end */
        tw_transport_pause_reading(c->t);
}

static void c_resume(tw_protocol *p)
{
    conn *c = (conn *)p;
    c->paused = false;
    if (c->closing)
        return;
    drain(c, tw_loop_now(c->srv->loop));
    finish(c);
    if (!c->paused && !c->closing && !c->eof)
        tw_transport_resume_reading(c->t);
}

static void unlink_conn(conn *c)
{
    tw_resp_server *srv = c->srv;
    c->closing = true;
    if (!c->linked)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = false;
    srv->info.clients = --srv->st.clients;
}

static void c_lost(tw_protocol *p, int err)
{
    conn *c = (conn *)p;
    (void)err;
    if (c->linger)
        tw_handle_cancel(c->srv->loop, c->linger);
    c->linger = 0;
    unlink_conn(c);
}

static void c_release(tw_protocol *p)
{
    conn *c = (conn *)p;
    /* Released without connection_lost: its loop is being torn down,
     * timers and all; only our own bookkeeping is left to undo. */
    unlink_conn(c);
    tw_resp_server *srv = c->srv;
    tw_resp_buf_fini(&c->out);
    free(c->in);
    if (c->argv != c->argv0)
        free(c->argv);
    free(c);
    unref(srv);
}

static const tw_protocol_ops conn_ops = {
    .connection_made = c_made,
    .data_received = c_data,
    .eof_received = c_eof,
    .pause_writing = c_pause,
    .resume_writing = c_resume,
    .connection_lost = c_lost,
    .release = c_release,
};

tw_protocol *tw_resp_server_factory(void *arg)
{
    tw_resp_server *srv = arg;
    conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &conn_ops;
    c->srv = srv;
    c->argv = c->argv0;
    c->argv_cap = ARGV_INLINE;
    tw_resp_parser_init(&c->ps, &srv->cfg.limits, srv->scratch,
                        srv->cfg.limits.inline_max);
    tw_resp_buf_init(&c->out, srv->cfg.output_max);
    srv->refs++;
    return &c->base;
}

/* ---- the app ---- */

typedef struct server_app {
    tw_resp_server *rs;
    tw_server *srv;
    tw__serving sv;
    uint64_t held_check; /* --held-max: the invariant's bound, 0: none */
    char violation[160];
} server_app;

/* The listening server's factory and callbacks take the app. */
static tw_protocol *app_factory(void *arg)
{
    return tw_resp_server_factory(((server_app *)arg)->rs);
}

/* A host name resolved (or not): say where we listen, or fail the run. */
static void app_listening(void *arg, tw_server *srv, int err)
{
    server_app *a = arg;
    if (tw__serving_listening(&a->sv, srv, err)) {
        tw_server_close(a->srv);
        a->srv = NULL;
    }
}

/* Out of descriptors: say so (rate limited); the server tries again. */
static void app_accept_error(void *arg, tw_server *srv, int err)
{
    (void)srv;
    tw__serving_accept_failed(&((server_app *)arg)->sv, err);
}

typedef struct server_opts {
    const char *host;
    uint16_t port;
    uint64_t maxclients, bulk_max, array_max, inline_max, pending_max;
    uint64_t output_max, bytes_max, keys_max, seed, held_max;
    bool quiet, appendonly;
    const char *appendfsync, *dir, *appendfilename;
    uint64_t rewrite_min, rewrite_pct;
} server_opts;

/* Descriptors kept for what is not a client: the listening socket, the
 * loop's own, the standard streams, a file or two (Redis keeps 32 too). */
#define FD_RESERVE 32

/* A client past the descriptor limit would wait in the listen backlog,
 * unanswered, while a client past maxclients is told so: keep maxclients
 * within what RLIMIT_NOFILE allows (raised towards what it asks for, if
 * the hard limit lets it), and say so when it had to be lowered. */
static int fit_maxclients(tw_loop *loop, uint64_t *maxclients, FILE *out)
{
    uint64_t want = *maxclients;
    uint64_t need = want > UINT64_MAX - FD_RESERVE ? UINT64_MAX : want + FD_RESERVE;
    uint64_t limit = tw_loop_fd_limit(loop, need);
    if (limit >= need)
        return 0;
    if (limit <= FD_RESERVE) {
        fprintf(out, "resp-server: the open-file limit (ulimit -n) of %llu leaves "
                     "no room for clients; it must be %d at least\n",
                (unsigned long long)limit, FD_RESERVE + 1);
        return -EMFILE;
    }
    *maxclients = limit - FD_RESERVE;
    fprintf(out, "resp-server: maxclients lowered from %llu to %llu: the open-file "
                 "limit (ulimit -n) is %llu, %d of them kept for the server\n",
            (unsigned long long)want, (unsigned long long)*maxclients,
            (unsigned long long)limit, FD_RESERVE);
    fflush(out);
    return 0;
}

/* The limits' zero means the library's default (twin/resp.h); they are
 * size_t, bounded where that is narrower than what the parsers give. */
#define SIZE_BOUND (SIZE_MAX < INT64_MAX ? (int64_t)SIZE_MAX : 0)

static const tw_opt server_table[] = {
    {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, server_opts, host),
     .def = "127.0.0.1", .meta = "HOST",
     .help = "address to listen on (default 127.0.0.1; '' for all)"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, server_opts, port), .def = "6399",
     .help = "port (default 6399; 0 picks a free one)"},
    {.name = "maxclients", TW_OPT_FIELD(TW_OPT_U64, server_opts, maxclients),
     .min = 1, .help = "clients at once (default 10000; lowered to fit the\n"
                       "open-file limit, ulimit -n, less 32)"},
    {.name = "max-bulk", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, bulk_max),
     .max = SIZE_BOUND, .help = "longest bulk string (default 512MiB)"},
    {.name = "max-args", TW_OPT_FIELD(TW_OPT_U64, server_opts, array_max),
     .max = SIZE_BOUND, .help = "most arguments in one request (default 1048576)"},
    {.name = "max-inline", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, inline_max),
     .max = SIZE_BOUND, .help = "longest inline request (default 64KiB)"},
    {.name = "max-pending", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, pending_max),
     .max = SIZE_BOUND, .help = "unfinished request held per client (default 1GiB)"},
    {.name = "max-output", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, output_max),
     .max = SIZE_BOUND,
     .help = "replies held per client before it is dropped (default 1GiB)"},
    {.name = "maxmemory", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, bytes_max),
     .max = SIZE_BOUND,
     .help = "keyspace memory; writes past it get OOM (default: none)"},
    {.name = "max-keys", TW_OPT_FIELD(TW_OPT_U64, server_opts, keys_max),
     .max = SIZE_BOUND, .help = "keys at most (default: none)"},
    {.name = "seed", TW_OPT_FIELD(TW_OPT_U64, server_opts, seed),
     .help = "varies the run id and the hash seed"},
    {.name = "held-max", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, held_max),
     .help = "invariant: never hold more for one client"},
    {.name = "appendonly", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, appendonly),
     .help = "keep every change in an append-only file, replayed at\n"
             "start (as Redis's appendonly yes)"},
    {.name = "appendfsync", TW_OPT_FIELD(TW_OPT_STRING, server_opts, appendfsync),
     .def = "everysec", .meta = "always|everysec|no",
     .help = "when the file is fsynced: before each reply to a change,\n"
             "once a second, or never (default everysec)"},
    {.name = "dir", TW_OPT_FIELD(TW_OPT_STRING, server_opts, dir), .meta = "DIR",
     .help = "directory of the append-only file (default: the current\n"
             "one; on a simulated node its disk's root)"},
    {.name = "appendfilename", TW_OPT_FIELD(TW_OPT_STRING, server_opts, appendfilename),
     .def = "appendonly.aof", .meta = "NAME",
     .help = "the append-only file's name (default appendonly.aof)"},
    {.name = "auto-aof-rewrite-min-size", TW_OPT_FIELD(TW_OPT_BYTES, server_opts, rewrite_min),
     .def = "64MiB", .min = 1,
     .help = "rewrite the file (one SET per key) once it is this big\n"
             "(default 64MiB)..."},
    {.name = "auto-aof-rewrite-percentage", TW_OPT_FIELD(TW_OPT_U64, server_opts, rewrite_pct),
     .def = "100", .max = 1000000, .meta = "PERCENT",
     .help = "...and grew this much since the last rewrite (default\n"
             "100; 0: never rewrite)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, quiet),
     .help = "no output but warnings and errors"},
    {0},
};

TW_OPTS_USAGE_TEXT(server_usage, 4096, server_table)

/* --appendfsync's word as TW_RESP_FSYNC_*, or -1. */
static int fsync_mode(const char *w)
{
    return !strcmp(w, "always") ? TW_RESP_FSYNC_ALWAYS
           : !strcmp(w, "everysec") ? TW_RESP_FSYNC_EVERYSEC
           : !strcmp(w, "no") ? TW_RESP_FSYNC_NO : -1;
}

static int app_start(tw_loop *loop, int argc, char **argv, FILE *out,
                     void **state)
{
    server_opts o = {0};
    int rc = tw_opts_parse(server_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    if (!o.maxclients)
        o.maxclients = TW_RESP_MAXCLIENTS_DEFAULT;
    int mode = fsync_mode(o.appendfsync ? o.appendfsync : "everysec");
    if (mode < 0) {
        fprintf(out, "resp-server: --appendfsync must be always, everysec or no, "
                     "not '%s'\n", o.appendfsync);
        return -EINVAL;
    }
    char aof_path[TW_FS_PATH_MAX + 2];
    if (o.appendonly) {
        const char *name = o.appendfilename ? o.appendfilename : "appendonly.aof";
        int n = o.dir && o.dir[0]
                    ? snprintf(aof_path, sizeof aof_path, "%s%s%s", o.dir,
                               o.dir[strlen(o.dir) - 1] == '/' ? "" : "/", name)
                    : snprintf(aof_path, sizeof aof_path, "%s", name);
        if (!name[0] || strchr(name, '/') || n > TW_FS_PATH_MAX) {
            fprintf(out, "resp-server: --appendfilename must be a file name without "
                         "'/', and with --dir at most %d bytes\n", TW_FS_PATH_MAX);
            return -EINVAL;
        }
    }
    if ((rc = fit_maxclients(loop, &o.maxclients, out)) < 0)
        return rc;
    tw_resp_server_cfg cfg = {
        .limits = {.bulk_max = (size_t)o.bulk_max, .array_max = (size_t)o.array_max,
                   .inline_max = (size_t)o.inline_max,
                   .pending_max = (size_t)o.pending_max},
        .store = {.keys_max = (size_t)o.keys_max, .bytes_max = (size_t)o.bytes_max},
        .maxclients = o.maxclients,
        .output_max = (size_t)o.output_max,
        .seed = o.seed,
        .aof_path = o.appendonly ? aof_path : NULL,
        .appendfsync = mode,
        .aof_rewrite_min_size = o.rewrite_min,
        .aof_rewrite_percentage = o.rewrite_pct ? (int)o.rewrite_pct : -1,
        .log = out,
    };
    const char *host = o.host;
    uint16_t port = o.port;
    uint64_t held = o.held_max;
    bool quiet = o.quiet;
    server_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    if ((rc = tw_resp_server_open(loop, &cfg, &a->rs)) < 0) {
        free(a);
        return rc;
    }
    a->held_check = held;
    tw__serving_init(&a->sv, loop, out, "resp-server", host, port, NULL, quiet);
    /* A deep backlog: redis-benchmark opens its 50 clients at once. */
    tw_server_opts so = {.backlog = 511, .on_listening = app_listening,
                         .on_accept_error = app_accept_error};
    rc = tw_create_server(loop, app_factory, a, host, port, &so, &a->srv);
    if (rc < 0) {
        tw__serving_create_failed(&a->sv, rc);
        tw_resp_server_close(a->rs);
        free(a);
        return rc;
    }
    if (!quiet) {
        /* A simulated node that crashed lost its keyspace with it. */
        unsigned restarts = tw_app_restarts(loop);
        tw_resp_store *st = tw_resp_server_store(a->rs);
        if (o.appendonly)
            fprintf(out, "%s %s: %zu keys\n", restarts ? "Restart: loaded" : "Loaded",
                    aof_path, tw_resp_store_count(st));
        else if (restarts)
            fprintf(out, "Restart %u: the keyspace starts empty\n", restarts);
        fflush(out);
    }
    tw__serving_started(&a->sv, a->srv);
    *state = a;
    return 0;
}

static const char *app_invariant(void *state)
{
    server_app *a = state;
    size_t held = tw_resp_server_get_stats(a->rs).held_max;
    if (a->held_check && held > a->held_check && !a->violation[0])
        snprintf(a->violation, sizeof a->violation,
                 "a client had %zu bytes held for it, more than --held-max %llu",
                 held, (unsigned long long)a->held_check);
    return a->violation[0] ? a->violation : NULL;
}

/* 1: the invariant broke, or the host name could not be listened on. */
static int app_result(void *state)
{
    return app_invariant(state) || ((server_app *)state)->sv.failed ? 1 : 0;
}

static void app_free(void *state)
{
    server_app *a = state;
    tw__serving_fini(&a->sv);
    if (a->srv)
        tw_server_close(a->srv);
    tw_resp_server_close(a->rs);
    free(a);
}

static void app_discard(void *state)
{
    server_app *a = state;
    tw_resp_server_discard(a->rs);
    free(a);
}

const tw_app tw__app_resp_server = {
    .name = "resp-server",
    .summary = "Redis-protocol (RESP2) key-value server: redis-cli and "
               "redis-benchmark speak to it",
    .usage = server_usage,
    .opts = server_table,
    .start = app_start,
    .result = app_result,
    .free = app_free,
    .invariant = app_invariant,
    .discard = app_discard,
};
