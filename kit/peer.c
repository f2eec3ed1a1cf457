/* kit/peer.c - the scripted peer of twin/simtest.h.
 *
 * Map:
 *   connections         numbered 1, 2, 3... in the order they reach the
 *                       peer (the peer as server: a hook on its listener
 *                       sees each SYN, and refuses the ones scripted so)
 *                       or the order the peer makes them (as client)
 *   the peer protocol   one per connection: records what arrives, runs
 *                       due actions
 *   actions             a list in (time, order added) order, each for one
 *                       connection and also a timer on the peer's loop so
 *                       the world wakes for it
 *   expectations        drive the world step by step until the bytes are
 *                       there, wrong, or the deadline has passed
 *
 * The peer is an ordinary simulated endpoint on its own node, so the
 * protocol under test sees exactly what a real remote would produce in
 * the simulator: chunked bytes, latency, EOF, resets, refused connects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/stream.h"
#include "sim/world.h"
#include "twin/simtest.h"

enum { ACT_SEND, ACT_EOF, ACT_CLOSE, ACT_RESET, ACT_PAUSE, ACT_RESUME };

/* What the peer as server does with a connection that reaches it. */
enum { CONN_ACCEPT, CONN_REFUSE, CONN_RESET };

typedef struct conn conn;

typedef struct peer_proto {
    tw_protocol base;
    conn *c;
} peer_proto;

struct conn {
    tw_simtest *st;
    peer_proto pp;
    unsigned n;      /* 1-based */
    int kind;        /* CONN_*, the peer as server */
    tw_ns connect_at; /* the peer as client; -1: when n-1 has ended */
    tw_handle at_timer; /* the peer's loop wakes at connect_at */
    bool begun;      /* reached the peer / made by the peer */
    tw_transport *pt;
    bool connected, eof, lost;
    int lost_err;
    uint8_t *rx;
    size_t rx_len, rx_cap, cursor;
};

typedef struct act {
    tw_ns at;
    int kind;
    bool done;
    conn *c;
    uint8_t *data;
    size_t len;
} act;

struct tw_simtest {
    tw_sim *sim;
    tw_loop *test, *peer;
    tw_server *srv;
    bool as_server, freeing;
    bool start_pending; /* start_soon is queued on the peer's loop */
    conn **conns; /* 1..nconns at [0..nconns-1]; each allocated once */
    unsigned nconns, capconns, conns_max;
    unsigned sel;       /* the selected connection */
    unsigned begun;     /* connections that reached the peer / it made */
    unsigned accepted;  /* the peer as server: handed to the listener */
    unsigned connected; /* the peer as client: its ends connected */
    act *acts;
    size_t nacts, capacts;
    char err[512];
};

#define SIMTEST_ACTS_MAX 100000

/* A contract violation on either node: the world stops with it, and the
 * expectation running it (or the next) returns -EPROTO saying it. */
static void on_violation(void *arg, const char *what)
{
    tw_simtest *st = arg;
    if (st->freeing) { /* a release's mistake: nothing will ask */
        fprintf(stderr, "%s\n", what);
        return;
    }
    sim_fail(st->sim, -EPROTO, what);
}

/* After running the world: 0, or its failure (a contract violation, out
 * of memory) as the error of the call, in tw_simtest_error. */
static int world_failed(tw_simtest *st)
{
    const char *why = tw_sim_failure(st->sim);
    if (!why)
        return 0;
    snprintf(st->err, sizeof st->err, "the world stopped at t=%lld ns: %s",
             (long long)tw_sim_now(st->sim), why);
    return st->sim->err;
}

/* ---- connections ---- */

static const tw_protocol_ops pp_ops;

/* Connection n (1 <= n <= conns_max), made with those before it if
 * needed. NULL: out of memory. */
static conn *conn_get(tw_simtest *st, unsigned n)
{
    while (st->nconns < n) {
        if (st->nconns == st->capconns) {
            unsigned cap = st->capconns ? st->capconns * 2 : 4;
            conn **a = realloc(st->conns, cap * sizeof *a);
            if (!a)
                return NULL;
            st->conns = a;
            st->capconns = cap;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c)
            return NULL;
        c->st = st;
        c->n = st->nconns + 1;
        c->pp.base.ops = &pp_ops;
        c->pp.c = c;
        c->connect_at = -1;
        st->conns[st->nconns++] = c;
    }
    return st->conns[n - 1];
}

static conn *conn_at(const tw_simtest *st, unsigned n)
{
    return st && n >= 1 && n <= st->nconns ? st->conns[n - 1] : NULL;
}

static conn *selected(const tw_simtest *st) { return st->conns[st->sel - 1]; }

static void pp_connected(void *arg, tw_transport *t, int err);

static tw_protocol *pp_client_factory(void *arg)
{
    return &((conn *)arg)->pp.base;
}

/* The peer as client: make every connection that is due, in order. */
static void start_due(tw_simtest *st)
{
    tw_ns now = tw_sim_now(st->sim);
    while (!st->freeing && st->begun < st->nconns) {
        conn *c = st->conns[st->begun];
        bool due = c->connect_at >= 0 ? c->connect_at <= now
                                      : st->begun == 0 || st->conns[st->begun - 1]->lost;
        if (!due)
            return;
        st->begun++;
        c->begun = true;
        int rc = tw_create_connection(st->peer, pp_client_factory, c,
                                      TW_SIMTEST_TEST_HOST, TW_SIMTEST_PORT,
                                      pp_connected);
        if (rc < 0) {
            c->lost = true;
            c->lost_err = rc;
        }
    }
}

static void start_due_cb(void *arg) { start_due(arg); }

static void start_soon_cb(void *arg)
{
    tw_simtest *st = arg;
    st->start_pending = false;
    start_due(st);
}

/* Look for due connections once the world runs next: the script calls
 * around this one (connect_at, actions) are made by then. */
static int start_soon(tw_simtest *st)
{
    if (st->start_pending || st->begun >= st->nconns)
        return 0;
    if (!tw_call_soon(st->peer, start_soon_cb, st))
        return -ENOMEM;
    st->start_pending = true;
    return 0;
}

/* The peer as server: each SYN its listener takes is the next connection;
 * true refuses it. */
static bool refuse_syn(void *arg)
{
    tw_simtest *st = arg;
    if (st->begun >= st->conns_max)
        return true;
    conn *c = conn_get(st, st->begun + 1);
    if (!c) {
        sim_fail(st->sim, -ENOMEM, "scripted peer out of memory");
        return true;
    }
    st->begun++;
    c->begun = true;
    if (c->kind != CONN_REFUSE)
        return false;
    c->lost = true;
    c->lost_err = -ECONNREFUSED;
    return true;
}

/* The listener accepts in the order the SYNs came: the next connection
 * that was not refused. */
static tw_protocol *pp_server_factory(void *arg)
{
    tw_simtest *st = arg;
    while (st->accepted < st->begun) {
        conn *c = st->conns[st->accepted++];
        if (c->kind != CONN_REFUSE)
            return &c->pp.base;
    }
    return NULL;
}

/* ---- actions ---- */

static void run_one(act *a)
{
    tw_transport *t = a->c->pt;
    a->done = true;
    switch (a->kind) {
    case ACT_SEND:
        tw_transport_write(t, a->data, a->len);
        break;
    case ACT_EOF:
        tw_transport_write_eof(t);
        break;
    case ACT_CLOSE:
        tw_transport_close(t);
        break;
    case ACT_RESET:
        /* The script's own end ends with its reset, reading or not (a
         * socket that sends a reset is closed): a paused end reads again
         * to meet it, which comes first, before what it had not read. */
        tw_sim_reset_transport(t);
        if (!tw_transport_is_reading(t))
            tw_transport_resume_reading(t);
        break;
    case ACT_PAUSE:
        tw_transport_pause_reading(t);
        break;
    case ACT_RESUME:
        tw_transport_resume_reading(t);
        break;
    }
}

/* Every due action of an open connection, earliest first, ties in the
 * order they were added. */
static void run_actions(void *arg)
{
    tw_simtest *st = arg;
    tw_ns now = tw_sim_now(st->sim);
    for (;;) {
        act *best = NULL;
        for (size_t i = 0; i < st->nacts; i++) {
            act *a = &st->acts[i];
            if (!a->done && a->at <= now && a->c->pt && (!best || a->at < best->at))
                best = a;
        }
        if (!best)
            return;
        run_one(best);
    }
}

static int add_act(tw_simtest *st, tw_ns at, int kind, const void *data,
                   size_t len)
{
    if (!st || at < 0)
        return -EINVAL;
    if (st->nacts == st->capacts) {
        if (st->capacts >= SIMTEST_ACTS_MAX)
            return -ENOBUFS;
        size_t cap = st->capacts ? st->capacts * 2 : 16;
        if (cap > SIMTEST_ACTS_MAX)
            cap = SIMTEST_ACTS_MAX;
        act *a = realloc(st->acts, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        st->acts = a;
        st->capacts = cap;
    }
    act *a = &st->acts[st->nacts];
    *a = (act){.at = at, .kind = kind, .c = selected(st)};
    if (len) {
        a->data = malloc(len);
        if (!a->data)
            return -ENOMEM;
        memcpy(a->data, data, len);
        a->len = len;
    }
    st->nacts++;
    /* The peer node's clock is the world's (it is never skewed). */
    if (!tw_call_at(st->peer, at, run_actions, st))
        return -ENOMEM;
    return 0;
}

int tw_simtest_send(tw_simtest *st, tw_ns at, const void *data, size_t len)
{
    if (len && !data)
        return -EINVAL;
    return add_act(st, at, ACT_SEND, data, len);
}

int tw_simtest_send_str(tw_simtest *st, tw_ns at, const char *s)
{
    return tw_simtest_send(st, at, s, s ? strlen(s) : 0);
}

int tw_simtest_write_eof(tw_simtest *st, tw_ns at) { return add_act(st, at, ACT_EOF, NULL, 0); }
int tw_simtest_close(tw_simtest *st, tw_ns at) { return add_act(st, at, ACT_CLOSE, NULL, 0); }
int tw_simtest_reset(tw_simtest *st, tw_ns at) { return add_act(st, at, ACT_RESET, NULL, 0); }

int tw_simtest_pause_reading(tw_simtest *st, tw_ns at, bool paused)
{
    return add_act(st, at, paused ? ACT_PAUSE : ACT_RESUME, NULL, 0);
}

/* ---- the peer protocol ---- */

static conn *conn_of(tw_protocol *p) { return ((peer_proto *)p)->c; }

static void pp_made(tw_protocol *p, tw_transport *t)
{
    conn *c = conn_of(p);
    tw_simtest *st = c->st;
    c->connected = true;
    if (st->as_server)
        st->connected++;
    if (c->kind == CONN_RESET) {
        tw_sim_reset_transport(t); /* no action of its script runs */
        return;
    }
    c->pt = t;
    run_actions(st);
}

static void pp_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    conn *c = conn_of(p);
    if (c->rx_len + n > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + n)
            cap *= 2;
        uint8_t *rx = realloc(c->rx, cap);
        if (!rx) {
            sim_fail(c->st->sim, -ENOMEM, "scripted peer out of memory");
            return;
        }
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, d, n);
    c->rx_len += n;
}

static bool pp_eof(tw_protocol *p)
{
    conn_of(p)->eof = true;
    return true; /* stay half-open: the script decides when to close */
}

static void pp_lost(tw_protocol *p, int err)
{
    conn *c = conn_of(p);
    c->lost = true;
    c->lost_err = err;
    c->pt = NULL;
    if (c->st->as_server)
        start_due(c->st);
}

static const tw_protocol_ops pp_ops = {
    .connection_made = pp_made,
    .connection_lost = pp_lost,
    .data_received = pp_data,
    .eof_received = pp_eof,
};

/* The peer as client: a connect that failed ends its connection. */
static void pp_connected(void *arg, tw_transport *t, int err)
{
    conn *c = arg;
    (void)t;
    if (err >= 0)
        return;
    c->lost = true;
    c->lost_err = err;
    start_due(c->st);
}

/* ---- life ---- */

tw_simtest *tw_simtest_new(uint64_t seed, const tw_sim_opts *opts,
                           tw_protocol_factory factory, void *arg,
                           bool as_server)
{
    tw_simtest *st = calloc(1, sizeof *st);
    if (!st || (!factory && as_server))
        goto fail;
    st->as_server = as_server;
    st->conns_max = TW_SIMTEST_CONNS_DEFAULT;
    st->sel = 1;
    if (!conn_get(st, 1))
        goto fail;
    st->sim = tw_sim_new(seed, opts);
    if (!st->sim)
        goto fail;
    st->test = tw_sim_add_node(st->sim, "test", TW_SIMTEST_TEST_HOST);
    st->peer = tw_sim_add_node(st->sim, "peer", TW_SIMTEST_PEER_HOST);
    if (!st->test || !st->peer)
        goto fail;
    /* Strict, as twin sim's nodes: a protocol's call on a transport after
     * its connection_lost is reported, not sent down whatever connection
     * took the freed transport's place; and reported as the test's
     * failure (the world stops, the next expect says why), not by an
     * abort of the test program. */
    tw_loop_set_contract_strict(st->test, true);
    tw_loop_set_contract_strict(st->peer, true);
    tw_loop_set_contract_handler(st->test, on_violation, st);
    tw_loop_set_contract_handler(st->peer, on_violation, st);
    int rc;
    if (as_server) {
        rc = tw_create_server(st->test, factory, arg, TW_SIMTEST_TEST_HOST,
                              TW_SIMTEST_PORT, NULL, &st->srv);
        if (rc == 0) {
            start_due(st); /* connection 1, now */
            rc = st->conns[0]->lost_err;
        }
    } else {
        rc = tw_create_server(st->peer, pp_server_factory, st,
                              TW_SIMTEST_PEER_HOST, TW_SIMTEST_PORT, NULL,
                              &st->srv);
        if (rc == 0) {
            sim_listener *l = (sim_listener *)st->srv;
            l->refuse_syn = refuse_syn;
            l->refuse_arg = st;
        }
        if (rc == 0 && factory)
            rc = tw_create_connection(st->test, factory, arg,
                                      TW_SIMTEST_PEER_HOST, TW_SIMTEST_PORT, NULL);
    }
    if (rc < 0)
        goto fail;
    return st;
fail:
    tw_simtest_free(st);
    return NULL;
}

void tw_simtest_free(tw_simtest *st)
{
    if (!st)
        return;
    st->freeing = true;
    tw_sim_free(st->sim);
    for (size_t i = 0; i < st->nacts; i++)
        free(st->acts[i].data);
    free(st->acts);
    for (unsigned i = 0; i < st->nconns; i++) {
        free(st->conns[i]->rx);
        free(st->conns[i]);
    }
    free(st->conns);
    free(st);
}

tw_sim *tw_simtest_sim(tw_simtest *st) { return st->sim; }
tw_loop *tw_simtest_loop(tw_simtest *st) { return st->test; }
tw_loop *tw_simtest_peer_loop(tw_simtest *st) { return st->peer; }
bool tw_simtest_connected(const tw_simtest *st) { return selected(st)->connected; }
int tw_simtest_peer_error(const tw_simtest *st) { return selected(st)->lost_err; }
const char *tw_simtest_error(const tw_simtest *st) { return st->err; }

size_t tw_simtest_unread(tw_simtest *st, const uint8_t **data)
{
    conn *c = selected(st);
    if (data) /* nothing came yet: no buffer to point into */
        *data = c->rx ? c->rx + c->cursor : NULL;
    return c->rx_len - c->cursor;
}

/* ---- selecting and scripting connections ---- */

int tw_simtest_set_conns_max(tw_simtest *st, unsigned max)
{
    if (!st || max == 0 || max < st->nconns)
        return -EINVAL;
    st->conns_max = max;
    return 0;
}

int tw_simtest_on_conn(tw_simtest *st, unsigned n)
{
    if (!st || n == 0)
        return -EINVAL;
    if (n > st->conns_max)
        return -ENOSPC;
    if (!conn_get(st, n))
        return -ENOMEM;
    st->sel = n;
    return st->as_server ? start_soon(st) : 0;
}

static int set_kind(tw_simtest *st, int kind)
{
    if (!st || st->as_server)
        return -EINVAL;
    conn *c = selected(st);
    if (c->begun)
        return -EALREADY;
    c->kind = kind;
    return 0;
}

int tw_simtest_refuse(tw_simtest *st) { return set_kind(st, CONN_REFUSE); }
int tw_simtest_reset_on_connect(tw_simtest *st) { return set_kind(st, CONN_RESET); }

int tw_simtest_connect_at(tw_simtest *st, tw_ns at)
{
    if (!st || !st->as_server || at < 0)
        return -EINVAL;
    conn *c = selected(st);
    if (c->begun)
        return -EALREADY;
    c->connect_at = at;
    if (c->at_timer) {
        tw_handle_cancel(st->peer, c->at_timer);
        c->at_timer = 0;
    }
    if (at <= tw_sim_now(st->sim))
        return start_soon(st);
    c->at_timer = tw_call_at(st->peer, at, start_due_cb, st);
    return c->at_timer ? 0 : -ENOMEM;
}

unsigned tw_simtest_connections(const tw_simtest *st)
{
    return st->as_server ? st->connected : st->begun;
}

bool tw_simtest_conn_connected(const tw_simtest *st, unsigned n)
{
    conn *c = conn_at(st, n);
    return c && c->connected;
}

int tw_simtest_conn_peer_error(const tw_simtest *st, unsigned n)
{
    conn *c = conn_at(st, n);
    return c ? c->lost_err : 0;
}

/* ---- expectations ---- */

/* Run until cond(c) or world time `by`. True if cond holds. */
static bool run_until(tw_simtest *st, conn *c,
                      bool (*cond)(const conn *, const void *),
                      const void *arg, tw_ns by)
{
    for (;;) {
        if (cond && cond(c, arg))
            return true;
        if (tw_sim_now(st->sim) >= by || st->sim->err)
            return false;
        sim_step_bounded(st->sim, by);
    }
}

typedef struct want {
    const uint8_t *data;
    size_t len;
} want;

static bool have_bytes(const conn *c, const void *arg)
{
    const want *w = arg;
    size_t avail = c->rx_len - c->cursor;
    size_t n = avail < w->len ? avail : w->len;
    return avail >= w->len || (n && memcmp(c->rx + c->cursor, w->data, n) != 0);
}

/* After a failed expectation on a connection the peer (as client) never
 * made, say why it is waiting: that is the mistake, not the bytes. */
static void never_made(tw_simtest *st, const conn *c)
{
    if (!st->as_server || c->begun || c->n < 2)
        return;
    size_t n = strlen(st->err);
    if (c->connect_at >= 0)
        snprintf(st->err + n, sizeof st->err - n,
                 " (connection %u was never made: its connect_at is %lld ns)", c->n,
                 (long long)c->connect_at);
    else
        snprintf(st->err + n, sizeof st->err - n,
                 " (connection %u was never made: it waits for connection %u to end, "
                 "and the server's EOF is no end: tw_simtest_close or "
                 "tw_simtest_reset it, or give %u a tw_simtest_connect_at)",
                 c->n, c->n - 1, c->n);
}

static void describe(tw_simtest *st, const conn *c, const char *what, size_t len)
{
    size_t avail = c->rx_len - c->cursor;
    size_t show = avail < 40 ? avail : 40;
    char got[41];
    for (size_t i = 0; i < show; i++) {
        uint8_t ch = c->rx[c->cursor + i];
        got[i] = ch >= 32 && ch < 127 ? (char)ch : '.';
    }
    got[show] = '\0';
    snprintf(st->err, sizeof st->err,
             "connection %u: %s: wanted %zu bytes at offset %zu by t=%lld ns; "
             "have %zu: \"%s\"",
             c->n, what, len, c->cursor, (long long)tw_sim_now(st->sim), avail, got);
    never_made(st, c);
}

int tw_simtest_expect(tw_simtest *st, const void *data, size_t len, tw_ns by)
{
    if (!st || (len && !data))
        return -EINVAL;
    conn *c = selected(st);
    want w = {data, len};
    run_until(st, c, have_bytes, &w, by);
    int rc = world_failed(st);
    if (rc < 0)
        return rc;
    size_t avail = c->rx_len - c->cursor;
    size_t n = avail < len ? avail : len;
    if (n && memcmp(c->rx + c->cursor, data, n) != 0) {
        describe(st, c, "different bytes", len);
        return -EBADMSG;
    }
    if (avail < len) {
        describe(st, c, "too few bytes", len);
        return -ETIMEDOUT;
    }
    c->cursor += len;
    st->err[0] = '\0';
    return 0;
}

int tw_simtest_expect_str(tw_simtest *st, const char *s, tw_ns by)
{
    return tw_simtest_expect(st, s, s ? strlen(s) : 0, by);
}

static bool saw_eof(const conn *c, const void *arg)
{
    (void)arg;
    return c->eof;
}

static bool saw_end(const conn *c, const void *arg)
{
    (void)arg;
    return c->eof || c->lost;
}

int tw_simtest_expect_eof(tw_simtest *st, tw_ns by)
{
    if (!st)
        return -EINVAL;
    conn *c = selected(st);
    bool seen = run_until(st, c, saw_eof, NULL, by);
    int rc = world_failed(st);
    if (rc < 0 || seen)
        return rc;
    snprintf(st->err, sizeof st->err, "connection %u: no EOF by t=%lld ns",
             c->n, (long long)by);
    never_made(st, c);
    return -ETIMEDOUT;
}

int tw_simtest_expect_closed(tw_simtest *st, tw_ns by)
{
    if (!st)
        return -EINVAL;
    conn *c = selected(st);
    bool ended = run_until(st, c, saw_end, NULL, by);
    int rc = world_failed(st);
    if (rc < 0 || ended)
        return rc;
    snprintf(st->err, sizeof st->err,
             "connection %u: still open at t=%lld ns", c->n, (long long)by);
    never_made(st, c);
    return -ETIMEDOUT;
}

int tw_simtest_run_until(tw_simtest *st, tw_ns t)
{
    run_until(st, NULL, NULL, NULL, t);
    return world_failed(st);
}
