/* sim/peer.c - the scripted peer of twin/simtest.h.
 *
 * Map:
 *   the peer protocol   records what arrives, runs due actions
 *   actions             a list in (time, order added) order, each also a
 *                       timer on the peer's loop so the world wakes for it
 *   expectations        drive the world step by step until the bytes are
 *                       there, wrong, or the deadline has passed
 *
 * The peer is an ordinary simulated endpoint on its own node, so the
 * protocol under test sees exactly what a real remote would produce in
 * the simulator: chunked bytes, latency, EOF, resets.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "twin/simtest.h"

enum { ACT_SEND, ACT_EOF, ACT_CLOSE, ACT_RESET, ACT_PAUSE, ACT_RESUME };

typedef struct act {
    tw_ns at;
    int kind;
    bool done;
    uint8_t *data;
    size_t len;
} act;

typedef struct peer_proto {
    tw_protocol base;
    tw_simtest *st;
} peer_proto;

struct tw_simtest {
    tw_sim *sim;
    tw_loop *test, *peer;
    tw_server *srv;
    peer_proto pp;
    bool pp_used;
    tw_transport *pt;
    bool connected, eof, lost;
    int lost_err;
    uint8_t *rx;
    size_t rx_len, rx_cap, cursor;
    act *acts;
    size_t nacts, capacts;
    char err[256];
};

#define SIMTEST_ACTS_MAX 100000

/* ---- actions ---- */

static void run_one(tw_simtest *st, act *a)
{
    a->done = true;
    switch (a->kind) {
    case ACT_SEND:
        tw_transport_write(st->pt, a->data, a->len);
        break;
    case ACT_EOF:
        tw_transport_write_eof(st->pt);
        break;
    case ACT_CLOSE:
        tw_transport_close(st->pt);
        break;
    case ACT_RESET:
        tw_sim_reset_transport(st->pt);
        break;
    case ACT_PAUSE:
        tw_transport_pause_reading(st->pt);
        break;
    case ACT_RESUME:
        tw_transport_resume_reading(st->pt);
        break;
    }
}

/* Every due action, earliest first, ties in the order they were added. */
static void run_actions(void *arg)
{
    tw_simtest *st = arg;
    tw_ns now = tw_sim_now(st->sim);
    for (;;) {
        act *best = NULL;
        for (size_t i = 0; i < st->nacts; i++) {
            act *a = &st->acts[i];
            if (!a->done && a->at <= now && (!best || a->at < best->at))
                best = a;
        }
        if (!best || !st->pt)
            return;
        run_one(st, best);
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
        act *a = realloc(st->acts, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        st->acts = a;
        st->capacts = cap;
    }
    act *a = &st->acts[st->nacts];
    *a = (act){.at = at, .kind = kind};
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

static tw_simtest *st_of(tw_protocol *p) { return ((peer_proto *)p)->st; }

static void pp_made(tw_protocol *p, tw_transport *t)
{
    tw_simtest *st = st_of(p);
    st->pt = t;
    st->connected = true;
    run_actions(st);
}

static void pp_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    tw_simtest *st = st_of(p);
    if (st->rx_len + n > st->rx_cap) {
        size_t cap = st->rx_cap ? st->rx_cap : 4096;
        while (cap < st->rx_len + n)
            cap *= 2;
        uint8_t *rx = realloc(st->rx, cap);
        if (!rx) {
            sim_fail(st->sim, -ENOMEM, "scripted peer out of memory");
            return;
        }
        st->rx = rx;
        st->rx_cap = cap;
    }
    memcpy(st->rx + st->rx_len, d, n);
    st->rx_len += n;
}

static bool pp_eof(tw_protocol *p)
{
    st_of(p)->eof = true;
    return true; /* stay half-open: the script decides when to close */
}

static void pp_lost(tw_protocol *p, int err)
{
    tw_simtest *st = st_of(p);
    st->lost = true;
    st->lost_err = err;
    st->pt = NULL;
}

static const tw_protocol_ops pp_ops = {
    .connection_made = pp_made,
    .connection_lost = pp_lost,
    .data_received = pp_data,
    .eof_received = pp_eof,
};

static tw_protocol *pp_factory(void *arg)
{
    tw_simtest *st = arg;
    if (st->pp_used)
        return NULL; /* one connection per test */
    st->pp_used = true;
    st->pp.base.ops = &pp_ops;
    st->pp.st = st;
    return &st->pp.base;
}

/* ---- life ---- */

tw_simtest *tw_simtest_new(uint64_t seed, const tw_sim_opts *opts,
                           tw_protocol_factory factory, void *arg,
                           bool as_server)
{
    tw_simtest *st = calloc(1, sizeof *st);
    if (!st || !factory)
        goto fail;
    st->sim = tw_sim_new(seed, opts);
    if (!st->sim)
        goto fail;
    st->test = tw_sim_add_node(st->sim, "test", "10.0.0.1");
    st->peer = tw_sim_add_node(st->sim, "peer", "10.0.0.2");
    if (!st->test || !st->peer)
        goto fail;
    int rc;
    if (as_server) {
        rc = tw_create_server(st->test, factory, arg, "10.0.0.1", 9, NULL, &st->srv);
        if (rc == 0)
            rc = tw_create_connection(st->peer, pp_factory, st, "10.0.0.1", 9, NULL);
    } else {
        rc = tw_create_server(st->peer, pp_factory, st, "10.0.0.2", 9, NULL, &st->srv);
        if (rc == 0)
            rc = tw_create_connection(st->test, factory, arg, "10.0.0.2", 9, NULL);
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
    tw_sim_free(st->sim);
    for (size_t i = 0; i < st->nacts; i++)
        free(st->acts[i].data);
    free(st->acts);
    free(st->rx);
    free(st);
}

tw_sim *tw_simtest_sim(tw_simtest *st) { return st->sim; }
tw_loop *tw_simtest_loop(tw_simtest *st) { return st->test; }
tw_loop *tw_simtest_peer_loop(tw_simtest *st) { return st->peer; }
bool tw_simtest_connected(const tw_simtest *st) { return st->connected; }
int tw_simtest_peer_error(const tw_simtest *st) { return st->lost_err; }
const char *tw_simtest_error(const tw_simtest *st) { return st->err; }

size_t tw_simtest_unread(tw_simtest *st, const uint8_t **data)
{
    if (data)
        *data = st->rx + st->cursor;
    return st->rx_len - st->cursor;
}

/* ---- expectations ---- */

/* Run until cond(st) or world time `by`. True if cond holds. */
static bool run_until(tw_simtest *st, bool (*cond)(tw_simtest *, const void *),
                      const void *arg, tw_ns by)
{
    for (;;) {
        if (cond(st, arg))
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

static bool have_bytes(tw_simtest *st, const void *arg)
{
    const want *w = arg;
    size_t avail = st->rx_len - st->cursor;
    size_t n = avail < w->len ? avail : w->len;
    return avail >= w->len || (n && memcmp(st->rx + st->cursor, w->data, n) != 0);
}

static void describe(tw_simtest *st, const char *what, size_t len)
{
    size_t avail = st->rx_len - st->cursor;
    size_t show = avail < 40 ? avail : 40;
    char got[41];
    for (size_t i = 0; i < show; i++) {
        uint8_t c = st->rx[st->cursor + i];
        got[i] = c >= 32 && c < 127 ? (char)c : '.';
    }
    got[show] = '\0';
    snprintf(st->err, sizeof st->err,
             "%s: wanted %zu bytes at offset %zu by t=%lld ns; have %zu: \"%s\"",
             what, len, st->cursor, (long long)tw_sim_now(st->sim), avail, got);
}

int tw_simtest_expect(tw_simtest *st, const void *data, size_t len, tw_ns by)
{
    if (!st || (len && !data))
        return -EINVAL;
    want w = {data, len};
    run_until(st, have_bytes, &w, by);
    size_t avail = st->rx_len - st->cursor;
    size_t n = avail < len ? avail : len;
    if (n && memcmp(st->rx + st->cursor, data, n) != 0) {
        describe(st, "different bytes", len);
        return -EBADMSG;
    }
    if (avail < len) {
        describe(st, "too few bytes", len);
        return -ETIMEDOUT;
    }
    st->cursor += len;
    st->err[0] = '\0';
    return 0;
}

int tw_simtest_expect_str(tw_simtest *st, const char *s, tw_ns by)
{
    return tw_simtest_expect(st, s, s ? strlen(s) : 0, by);
}

static bool saw_eof(tw_simtest *st, const void *arg)
{
    (void)arg;
    return st->eof;
}

static bool saw_end(tw_simtest *st, const void *arg)
{
    (void)arg;
    return st->eof || st->lost;
}

int tw_simtest_expect_eof(tw_simtest *st, tw_ns by)
{
    if (run_until(st, saw_eof, NULL, by))
        return 0;
    snprintf(st->err, sizeof st->err, "no EOF by t=%lld ns", (long long)by);
    return -ETIMEDOUT;
}

int tw_simtest_expect_closed(tw_simtest *st, tw_ns by)
{
    if (run_until(st, saw_end, NULL, by))
        return 0;
    snprintf(st->err, sizeof st->err, "connection still open at t=%lld ns",
             (long long)by);
    return -ETIMEDOUT;
}

static bool never(tw_simtest *st, const void *arg)
{
    (void)st;
    (void)arg;
    return false;
}

int tw_simtest_run_until(tw_simtest *st, tw_ns t)
{
    run_until(st, never, NULL, t);
    return st->sim->err;
}
