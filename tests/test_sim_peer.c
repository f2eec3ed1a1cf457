/* tests/test_sim_peer.c - the scripted peer (twin/simtest.h) on a small
 * line protocol, over several connections (a client that reconnects, a
 * server with state across connections), and buggify (twin/buggify.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/buggify.h"
#include "twin/real.h"
#include "twin/simtest.h"
#include "twin/twin.h"

/* ---- the protocol under test: "PING\r\n" -> "+PONG\r\n" ---- */

typedef struct pinger {
    tw_protocol base;
    tw_transport *t;
    char line[64];
    size_t len;
    bool naive; /* assumes one data_received per message: wrong */
    int lost, lost_err, released;
} pinger;

static void pg_made(tw_protocol *p, tw_transport *t) { ((pinger *)p)->t = t; }

static void pg_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    pinger *x = (pinger *)p;
    if (x->naive) {
        if (n == 6 && memcmp(d, "PING\r\n", 6) == 0)
            tw_transport_write(x->t, "+PONG\r\n", 7);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (x->len < sizeof x->line)
            x->line[x->len++] = (char)d[i];
        if (d[i] != '\n')
            continue;
        if (x->len == 6 && memcmp(x->line, "PING\r\n", 6) == 0)
            tw_transport_write(x->t, "+PONG\r\n", 7);
        else
            tw_transport_write(x->t, "-ERR\r\n", 6);
        x->len = 0;
    }
}

static void pg_lost(tw_protocol *p, int err)
{
    ((pinger *)p)->lost++;
    ((pinger *)p)->lost_err = err;
}

static void pg_release(tw_protocol *p) { ((pinger *)p)->released++; }

static const tw_protocol_ops pinger_ops = {
    .connection_made = pg_made,
    .data_received = pg_data,
    .connection_lost = pg_lost,
    .release = pg_release,
};

static tw_protocol *pinger_factory(void *arg)
{
    pinger *x = arg;
    x->base.ops = &pinger_ops;
    return &x->base;
}

static void test_ping_pong_script(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(1, NULL, pinger_factory, &pg, false);
    assert_non_null(st);
    tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), 0);
    /* a command cut anywhere still works */
    tw_simtest_send_str(st, TW_MS(60), "PI");
    tw_simtest_send_str(st, TW_MS(70), "NG\r\nPING\r\nHELLO\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n+PONG\r\n-ERR\r\n", TW_MS(100)),
                     0);
    /* the peer half-closes: eof_received's default closes the protocol */
    tw_simtest_write_eof(st, TW_MS(110));
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(200)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_MS(300)), 0);
    assert_int_equal(pg.lost, 1);
    assert_int_equal(pg.lost_err, 0);
    assert_int_equal(pg.released, 1);
    tw_simtest_free(st);
}

/* A server whose state needs the node's loop (timers, files) makes it
 * after tw_simtest_new, from tw_simtest_loop: the factory first runs
 * when the world does, at the accept, and finds the state through its
 * argument. */
typedef struct on_loop_server {
    pinger pg;
    tw_loop *loop; /* set after tw_simtest_new */
    int made;
} on_loop_server;

static tw_protocol *on_loop_factory(void *arg)
{
    on_loop_server *s = arg;
    assert_non_null(s->loop); /* the state was there in time */
    s->made++;
    return pinger_factory(&s->pg);
}

static void test_server_state_made_after_new(void **state)
{
    (void)state;
    on_loop_server s = {0};
    tw_simtest *st = tw_simtest_new(3, NULL, on_loop_factory, &s, true);
    assert_non_null(st);
    assert_int_equal(s.made, 0);
    s.loop = tw_simtest_loop(st);
    tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), 0);
    assert_int_equal(s.made, 1);
    tw_simtest_free(st);
}

static void test_expect_reports_what_arrived(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(2, NULL, pinger_factory, &pg, true);
    assert_non_null(st);
    tw_simtest_send_str(st, TW_MS(1), "PONG\r\n");
    assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), -EBADMSG);
    assert_non_null(strstr(tw_simtest_error(st), "-ERR"));
    const uint8_t *d;
    assert_int_equal(tw_simtest_unread(st, &d), 6);
    /* nothing more comes: a timeout, at exactly the deadline */
    assert_int_equal(tw_simtest_expect_str(st, "-ERR\r\nmore", TW_MS(80)), -ETIMEDOUT);
    assert_int_equal(tw_sim_now(tw_simtest_sim(st)), TW_MS(80));
    tw_simtest_free(st);
    assert_int_equal(pg.released, 1);
}

static void test_peer_reset(void **state)
{
    (void)state;
    pinger pg = {0};
    tw_simtest *st = tw_simtest_new(3, NULL, pinger_factory, &pg, false);
    tw_simtest_reset(st, TW_MS(5));
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(50)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_MS(60)), 0);
    assert_int_equal(pg.lost_err, -ECONNRESET);
    assert_int_equal(tw_simtest_peer_error(st), -ECONNRESET);
    tw_simtest_free(st);
}

/* The simulator's chunking catches a parser that assumes boundaries. */
static void test_naive_parser_fails_under_some_seed(void **state)
{
    (void)state;
    int failures = 0;
    for (uint64_t seed = 1; seed <= 30; seed++) {
        pinger pg = {.naive = true};
        tw_simtest *st = tw_simtest_new(seed, NULL, pinger_factory, &pg, false);
        tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
        failures += tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)) != 0;
        tw_simtest_free(st);
    }
    assert_true(failures > 0);
    assert_true(failures < 30);
}

/* A slow reader: the peer stops reading and the protocol's writes back
 * up into its buffer. */
typedef struct blaster {
    tw_protocol base;
    tw_transport *t;
    int pauses;
} blaster;

static void bl_made(tw_protocol *p, tw_transport *t)
{
    static uint8_t chunk[65536];
    ((blaster *)p)->t = t;
    for (int i = 0; i < 8; i++)
        tw_transport_write(t, chunk, sizeof chunk);
}

static void bl_pause(tw_protocol *p) { ((blaster *)p)->pauses++; }

static const tw_protocol_ops blaster_ops = {.connection_made = bl_made,
                                            .pause_writing = bl_pause};

static tw_protocol *blaster_factory(void *arg)
{
    blaster *b = arg;
    b->base.ops = &blaster_ops;
    return &b->base;
}

static void test_slow_peer_pushes_back(void **state)
{
    (void)state;
    blaster b = {0};
    tw_simtest *st = tw_simtest_new(4, NULL, blaster_factory, &b, false);
    tw_simtest_pause_reading(st, 0, true);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(1)), 0);
    assert_int_equal(b.pauses, 1);
    assert_true(tw_transport_get_write_buffer_size(b.t) > 64 * 1024);
    tw_simtest_pause_reading(st, TW_SEC(2), false);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(3)), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(b.t), 0);
    assert_int_equal(tw_simtest_unread(st, NULL), 8 * 65536);
    tw_simtest_free(st);
}

/* ---- several connections: a client that reconnects ---- */

/* Connects to the peer; on a refusal or a lost connection it tries again
 * after a backoff (100 ms, doubling); once connected it says HELLO and
 * closes after the one-line reply. One connection at a time, so one
 * protocol struct serves them all. Every event goes to `log` with the
 * client's virtual time in ms. */
typedef struct redialer {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    tw_ns backoff;
    int attempts;
    tw_ns attempt_at[8];
    char line[64];
    size_t len;
    bool done;
    char log[512];
} redialer;

static void rd_log(redialer *d, const char *what, const char *detail)
{
    size_t used = strlen(d->log);
    snprintf(d->log + used, sizeof d->log - used, "%lld %s%s%s\n",
             (long long)(tw_loop_now(d->loop) / TW_NS_PER_MS), what,
             detail ? " " : "", detail ? detail : "");
}

static void rd_dial(void *arg);

static void rd_retry(redialer *d)
{
    tw_call_later(d->loop, d->backoff, rd_dial, d);
    d->backoff *= 2;
}

static void rd_connected(void *arg, tw_transport *t, int err)
{
    redialer *d = arg;
    (void)t;
    if (err == 0)
        return;
    rd_log(d, "connect_failed", tw_errname(err));
    rd_retry(d);
}

static tw_protocol *rd_factory(void *arg) { return &((redialer *)arg)->base; }

static void rd_dial(void *arg)
{
    redialer *d = arg;
    if (d->attempts < 8)
        d->attempt_at[d->attempts] = tw_loop_now(d->loop);
    d->attempts++;
    rd_log(d, "connect", NULL);
    assert_int_equal(tw_create_connection(d->loop, rd_factory, d, TW_SIMTEST_PEER_HOST,
                                          TW_SIMTEST_PORT, rd_connected),
                     0);
}

static void rd_made(tw_protocol *p, tw_transport *t)
{
    redialer *d = (redialer *)p;
    d->t = t;
    d->len = 0;
    rd_log(d, "made", NULL);
    tw_transport_write(t, "HELLO\r\n", 7);
}

static void rd_data(tw_protocol *p, const uint8_t *b, size_t n)
{
    redialer *d = (redialer *)p;
    for (size_t i = 0; i < n && !d->done; i++) {
        if (d->len < sizeof d->line - 1)
            d->line[d->len++] = (char)b[i];
        if (b[i] != '\n')
            continue;
        d->line[d->len >= 2 ? d->len - 2 : 0] = '\0'; /* no CRLF */
        rd_log(d, "reply", d->line);
        d->done = true;
        tw_transport_close(d->t);
    }
}

static void rd_lost(tw_protocol *p, int err)
{
    redialer *d = (redialer *)p;
    d->t = NULL;
    rd_log(d, "lost", err ? tw_errname(err) : "0");
    if (!d->done)
        rd_retry(d);
}

static const tw_protocol_ops redialer_ops = {
    .connection_made = rd_made,
    .data_received = rd_data,
    .connection_lost = rd_lost,
};

/* The peer refuses connection 1, resets connection 2 as soon as it is
 * accepted, and answers connection 3. Returns the world (run to 1 s). */
static tw_simtest *run_redialer(uint64_t seed, const tw_sim_opts *o, redialer *d)
{
    tw_simtest *st = tw_simtest_new(seed, o, NULL, NULL, false);
    assert_non_null(st);
    *d = (redialer){.base.ops = &redialer_ops, .loop = tw_simtest_loop(st),
                    .backoff = TW_MS(100)};
    assert_int_equal(tw_simtest_refuse(st), 0); /* connection 1 */
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_reset_on_connect(st), 0);
    assert_int_equal(tw_simtest_on_conn(st, 3), 0);
    rd_dial(d);
    /* connection 3 does not exist yet: the world runs until it does */
    assert_int_equal(tw_simtest_expect_str(st, "HELLO\r\n", TW_SEC(1)), 0);
    tw_ns hello_at = tw_sim_now(tw_simtest_sim(st));
    assert_int_equal(tw_simtest_send_str(st, hello_at + TW_MS(10), "+WELCOME\r\n"), 0);
    assert_int_equal(tw_simtest_expect_closed(st, TW_SEC(1)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(1)), 0);
    return st;
}

static void test_client_reconnects(void **state)
{
    (void)state;
    /* every hop 1 ms, so the times below are exact */
    tw_sim_opts o = {.net.latency = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)}};
    redialer d;
    tw_simtest *st = run_redialer(5, &o, &d);
    assert_string_equal(d.log,
                        "0 connect\n"
                        "2 connect_failed ECONNREFUSED\n" /* SYN 1 ms, RST 1 ms */
                        "102 connect\n"                   /* + 100 ms backoff */
                        "104 made\n"
                        "104 lost ECONNRESET\n"
                        "304 connect\n"                   /* + 200 ms */
                        "306 made\n"
                        "318 reply +WELCOME\n" /* HELLO in at 307, sent 10 ms on */
                        "318 lost 0\n");
    assert_int_equal(d.attempts, 3);
    assert_int_equal(d.attempt_at[0], 0);
    assert_int_equal(d.attempt_at[1], TW_MS(102));
    assert_int_equal(d.attempt_at[2], TW_MS(304));
    /* what the peer saw of each */
    assert_int_equal(tw_simtest_connections(st), 3);
    assert_false(tw_simtest_conn_connected(st, 1));
    assert_int_equal(tw_simtest_conn_peer_error(st, 1), -ECONNREFUSED);
    assert_true(tw_simtest_conn_connected(st, 2));
    assert_int_equal(tw_simtest_conn_peer_error(st, 2), -ECONNRESET);
    assert_true(tw_simtest_conn_connected(st, 3));
    assert_int_equal(tw_simtest_conn_peer_error(st, 3), 0);
    assert_true(tw_simtest_connected(st)); /* the selected one: 3 */
    assert_false(tw_simtest_conn_connected(st, 4));
    tw_simtest_free(st);
}

/* With the default random latencies: the same seed, the same events at
 * the same times and the same trace; the backoff shows in the gaps. */
static void test_client_reconnects_replays(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        redialer a, b;
        tw_simtest *sa = run_redialer(seed, NULL, &a);
        tw_simtest *sb = run_redialer(seed, NULL, &b);
        assert_string_equal(a.log, b.log);
        assert_true(tw_sim_trace_hash(tw_simtest_sim(sa)) ==
                    tw_sim_trace_hash(tw_simtest_sim(sb)));
        assert_int_equal(a.attempts, 3);
        assert_true(a.attempt_at[1] > TW_MS(100) && a.attempt_at[1] < TW_MS(103));
        assert_true(a.attempt_at[2] > a.attempt_at[1] + TW_MS(200) &&
                    a.attempt_at[2] < a.attempt_at[1] + TW_MS(203));
        assert_non_null(strstr(a.log, "reply +WELCOME\n"));
        tw_simtest_free(sa);
        tw_simtest_free(sb);
    }
}

/* ---- several connections: a server driven by the peer as client ---- */

/* A counter: "INCR" adds one, "GET" reads it, "QUIT" says goodbye and
 * closes. The count lives in the server, across connections. */
typedef struct counter_srv {
    int count;
    int accepted, lost, released;
    tw_ns made_at[4];
    tw_loop *loop;
} counter_srv;

typedef struct counter_conn {
    tw_protocol base;
    counter_srv *srv;
    tw_transport *t;
    char line[32];
    size_t len;
} counter_conn;

static void cc_made(tw_protocol *p, tw_transport *t)
{
    counter_conn *c = (counter_conn *)p;
    c->t = t;
    if (c->srv->accepted < 4)
        c->srv->made_at[c->srv->accepted] = tw_loop_now(c->srv->loop);
    c->srv->accepted++;
}

static void cc_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    counter_conn *c = (counter_conn *)p;
    for (size_t i = 0; i < n; i++) {
        if (c->len < sizeof c->line)
            c->line[c->len++] = (char)d[i];
        if (d[i] != '\n')
            continue;
        char out[32];
        if (c->len == 6 && memcmp(c->line, "INCR\r\n", 6) == 0) {
            snprintf(out, sizeof out, ":%d\r\n", ++c->srv->count);
            tw_transport_write(c->t, out, strlen(out));
        } else if (c->len == 5 && memcmp(c->line, "GET\r\n", 5) == 0) {
            snprintf(out, sizeof out, ":%d\r\n", c->srv->count);
            tw_transport_write(c->t, out, strlen(out));
        } else if (c->len == 6 && memcmp(c->line, "QUIT\r\n", 6) == 0) {
            tw_transport_write(c->t, "+BYE\r\n", 6);
            tw_transport_close(c->t);
        } else {
            tw_transport_write(c->t, "-ERR\r\n", 6);
        }
        c->len = 0;
    }
}

static void cc_lost(tw_protocol *p, int err)
{
    (void)err;
    ((counter_conn *)p)->srv->lost++;
}

static void cc_release(tw_protocol *p)
{
    ((counter_conn *)p)->srv->released++;
    free(p);
}

static const tw_protocol_ops counter_ops = {
    .connection_made = cc_made,
    .data_received = cc_data,
    .connection_lost = cc_lost,
    .release = cc_release,
};

static tw_protocol *counter_factory(void *arg)
{
    counter_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &counter_ops;
    c->srv = arg;
    return &c->base;
}

static void test_server_three_connections(void **state)
{
    (void)state;
    counter_srv srv = {0};
    tw_simtest *st = tw_simtest_new(9, NULL, counter_factory, &srv, true);
    assert_non_null(st);
    srv.loop = tw_simtest_loop(st);
    /* connection 1, made at once: two INCRs, then the peer closes */
    tw_simtest_send_str(st, TW_MS(1), "INCR\r\nINCR\r\n");
    tw_simtest_close(st, TW_MS(60));
    /* connection 2 at 200 ms: INCR, QUIT; the server closes, then the
     * peer's end too (which lets connection 3 start) */
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_connect_at(st, TW_MS(200)), 0);
    tw_simtest_send_str(st, TW_MS(200), "INCR\r\n"); /* runs once it opens */
    tw_simtest_send_str(st, TW_MS(250), "QUIT\r\n");
    tw_simtest_close(st, TW_MS(300));
    /* connection 3, once 2 has ended: GET, then a half close */
    assert_int_equal(tw_simtest_on_conn(st, 3), 0);
    tw_simtest_send_str(st, 0, "GET\r\n");
    tw_simtest_write_eof(st, 0);

    assert_int_equal(tw_simtest_on_conn(st, 1), 0);
    assert_int_equal(tw_simtest_expect_str(st, ":1\r\n:2\r\n", TW_MS(50)), 0);
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(100)), 0);
    assert_int_equal(tw_simtest_connections(st), 1);
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_false(tw_simtest_connected(st)); /* not before 200 ms */
    assert_int_equal(tw_simtest_expect_str(st, ":3\r\n+BYE\r\n", TW_MS(290)), 0);
    assert_int_equal(tw_simtest_expect_eof(st, TW_MS(295)), 0);
    assert_true(tw_simtest_connected(st));
    assert_int_equal(tw_simtest_on_conn(st, 3), 0);
    /* the state survived the connections: still 3 */
    assert_int_equal(tw_simtest_expect_str(st, ":3\r\n", TW_SEC(1)), 0);
    assert_int_equal(tw_simtest_expect_eof(st, TW_SEC(1)), 0);
    assert_int_equal(tw_simtest_unread(st, NULL), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(2)), 0);

    assert_int_equal(tw_simtest_connections(st), 3);
    assert_int_equal(srv.accepted, 3);
    assert_int_equal(srv.lost, 3);
    assert_int_equal(srv.count, 3);
    assert_true(srv.made_at[0] < TW_MS(2));
    assert_true(srv.made_at[1] >= TW_MS(200) && srv.made_at[1] < TW_MS(202));
    assert_true(srv.made_at[2] > TW_MS(300) && srv.made_at[2] < TW_MS(302));
    for (unsigned n = 1; n <= 3; n++) {
        assert_true(tw_simtest_conn_connected(st, n));
        assert_int_equal(tw_simtest_conn_peer_error(st, n), 0);
    }
    tw_simtest_free(st);
    assert_int_equal(srv.released, 3);
}

/* A connection scripted after the one before it ended still waits for
 * its connect_at; one without waits for the previous one's end (here a
 * reset). */
static void test_server_conn_scripted_late(void **state)
{
    (void)state;
    counter_srv srv = {0};
    tw_simtest *st = tw_simtest_new(10, NULL, counter_factory, &srv, true);
    assert_non_null(st);
    srv.loop = tw_simtest_loop(st);
    tw_simtest_send_str(st, TW_MS(1), "INCR\r\n");
    tw_simtest_close(st, TW_MS(10));
    assert_int_equal(tw_simtest_expect_str(st, ":1\r\n", TW_MS(10)), 0);
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(20)), 0);
    /* connection 1 has ended: selecting 2 does not make it yet */
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_connect_at(st, TW_MS(100)), 0);
    tw_simtest_send_str(st, 0, "INCR\r\n");
    tw_simtest_reset(st, TW_MS(150));
    assert_int_equal(tw_simtest_on_conn(st, 3), 0);
    tw_simtest_send_str(st, 0, "GET\r\n");
    assert_int_equal(tw_simtest_run_until(st, TW_MS(99)), 0);
    assert_int_equal(srv.accepted, 1);
    assert_int_equal(tw_simtest_expect_str(st, ":2\r\n", TW_SEC(1)), 0);
    assert_int_equal(srv.accepted, 3);
    assert_true(srv.made_at[1] >= TW_MS(100) && srv.made_at[1] < TW_MS(102));
    assert_true(srv.made_at[2] >= TW_MS(150) && srv.made_at[2] < TW_MS(152));
    assert_int_equal(tw_simtest_conn_peer_error(st, 2), -ECONNRESET);
    assert_int_equal(tw_simtest_connections(st), 3);
    tw_simtest_free(st);
}

/* A reset the script makes while its end is paused ends that end at
 * once, dropping what it had not read, so the next connection is made. */
static void test_server_conn_reset_while_paused(void **state)
{
    (void)state;
    counter_srv srv = {0};
    tw_simtest *st = tw_simtest_new(11, NULL, counter_factory, &srv, true);
    assert_non_null(st);
    srv.loop = tw_simtest_loop(st);
    tw_simtest_pause_reading(st, TW_MS(1), true);
    tw_simtest_send_str(st, TW_MS(2), "INCR\r\n"); /* ":1" stays unread */
    tw_simtest_reset(st, TW_MS(50));
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    tw_simtest_send_str(st, 0, "GET\r\n");
    if (tw_simtest_expect_str(st, ":1\r\n", TW_SEC(1)) != 0)
        fail_msg("%s", tw_simtest_error(st));
    assert_true(srv.made_at[1] >= TW_MS(50) && srv.made_at[1] < TW_MS(52));
    assert_int_equal(tw_simtest_on_conn(st, 1), 0);
    assert_int_equal(tw_simtest_conn_peer_error(st, 1), -ECONNRESET);
    assert_int_equal(tw_simtest_unread(st, NULL), 0);
    tw_simtest_free(st);
}

/* The server closes after QUIT and the peer sees the end, but its own end
 * stays open until the script closes it, so connection 2, with no time
 * of its own, is never made: the failed expectation says so and why. */
static void test_server_conn_never_made_says_why(void **state)
{
    (void)state;
    counter_srv srv = {0};
    tw_simtest *st = tw_simtest_new(12, NULL, counter_factory, &srv, true);
    assert_non_null(st);
    srv.loop = tw_simtest_loop(st);
    tw_simtest_send_str(st, TW_MS(1), "INCR\r\nQUIT\r\n");
    assert_int_equal(tw_simtest_expect_str(st, ":1\r\n+BYE\r\n", TW_MS(50)), 0);
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(100)), 0);
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    tw_simtest_send_str(st, TW_MS(200), "GET\r\n");
    assert_int_equal(tw_simtest_expect_str(st, ":1\r\n", TW_MS(400)), -ETIMEDOUT);
    assert_int_equal(srv.accepted, 1);
    const char *why = "(connection 2 was never made: it waits for connection 1 to "
                      "end, and the server's EOF is no end: tw_simtest_close or "
                      "tw_simtest_reset it, or give 2 a tw_simtest_connect_at)";
    if (!strstr(tw_simtest_error(st), why))
        fail_msg("no reason in: %s", tw_simtest_error(st));
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(450)), -ETIMEDOUT);
    assert_non_null(strstr(tw_simtest_error(st), why));
    /* the script's close of connection 1 lets connection 2 come */
    assert_int_equal(tw_simtest_on_conn(st, 1), 0);
    tw_simtest_close(st, TW_MS(500));
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_expect_str(st, ":1\r\n", TW_SEC(1)), 0);
    assert_int_equal(srv.accepted, 2);
    tw_simtest_free(st);
}

/* Script errors, the limit, and a wrong reply named by its connection. */
static void test_conn_errors(void **state)
{
    (void)state;
    /* the peer as server */
    tw_simtest *st = tw_simtest_new(11, NULL, NULL, NULL, false);
    assert_non_null(st);
    assert_int_equal(tw_simtest_on_conn(st, 0), -EINVAL);
    assert_int_equal(tw_simtest_connect_at(st, TW_MS(1)), -EINVAL);
    assert_int_equal(tw_simtest_set_conns_max(st, 0), -EINVAL);
    assert_int_equal(tw_simtest_on_conn(st, TW_SIMTEST_CONNS_DEFAULT), 0);
    assert_int_equal(tw_simtest_on_conn(st, TW_SIMTEST_CONNS_DEFAULT + 1), -ENOSPC);
    assert_int_equal(tw_simtest_set_conns_max(st, 2), -EINVAL); /* 64 selected */
    tw_simtest_free(st);

    st = tw_simtest_new(11, NULL, NULL, NULL, false);
    assert_int_equal(tw_simtest_set_conns_max(st, 2), 0);
    assert_int_equal(tw_simtest_on_conn(st, 3), -ENOSPC);
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    tw_simtest_send_str(st, 0, "-NO\r\n");
    /* three connects: the third is past the limit, and refused */
    redialer d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = (redialer){.base.ops = &redialer_ops, .loop = tw_simtest_loop(st),
                          .backoff = TW_SEC(100), .done = true};
        rd_dial(&d[i]);
    }
    assert_int_equal(tw_simtest_expect_str(st, "HELLO\r\n", TW_SEC(1)), 0);
    assert_int_equal(tw_simtest_run_until(st, TW_SEC(1)), 0);
    assert_int_equal(tw_simtest_connections(st), 2);
    assert_int_equal(tw_simtest_refuse(st), -EALREADY);
    int refused = 0;
    for (int i = 0; i < 3; i++)
        refused += strstr(d[i].log, "connect_failed ECONNREFUSED") != NULL;
    assert_int_equal(refused, 1);
    /* a wrong expectation names its connection */
    assert_int_equal(tw_simtest_on_conn(st, 1), 0);
    assert_int_equal(tw_simtest_expect_str(st, "BYE", TW_SEC(2)), -EBADMSG);
    assert_non_null(strstr(tw_simtest_error(st), "connection 1:"));
    assert_non_null(strstr(tw_simtest_error(st), "HELLO"));
    tw_simtest_free(st);

    /* the peer as client */
    pinger pg = {0};
    assert_null(tw_simtest_new(11, NULL, NULL, NULL, true));
    st = tw_simtest_new(11, NULL, pinger_factory, &pg, true);
    assert_non_null(st);
    assert_int_equal(tw_simtest_refuse(st), -EINVAL);
    assert_int_equal(tw_simtest_reset_on_connect(st), -EINVAL);
    assert_int_equal(tw_simtest_connect_at(st, TW_MS(5)), -EALREADY); /* 1 is made */
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_connect_at(st, -1), -EINVAL);
    assert_int_equal(tw_simtest_set_conns_max(st, 1), -EINVAL);
    assert_int_equal(tw_simtest_set_conns_max(st, 2), 0);
    assert_int_equal(tw_simtest_on_conn(st, 3), -ENOSPC);
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    tw_simtest_free(st);
}

/* ---- buggify ---- */

static int fires(tw_loop *loop, int calls, int *sites)
{
    int n = 0;
    bool hit[4] = {false};
    for (int i = 0; i < calls; i++) {
        /* four distinct call sites */
        if (TW_BUGGIFY(loop)) { n++; hit[0] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[1] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[2] = true; }
        if (TW_BUGGIFY(loop)) { n++; hit[3] = true; }
    }
    *sites = hit[0] + hit[1] + hit[2] + hit[3];
    return n;
}

/* ---- strict mode ---- */

/* A server that keeps an ended connection's transport and writes to it
 * later: the scripted peer's world runs in strict mode, as twin sim's
 * does, so the write is reported, and never reaches the connection that
 * took the ended one's place (it used to, silently). */
typedef struct keeper {
    tw_protocol base;
} keeper;

static tw_transport *kept_t;
static int keeper_made, violations;
static char violation[400];

static void kp_made(tw_protocol *p, tw_transport *t)
{
    (void)p;
    if (++keeper_made == 2)
        kept_t = t;
}

static void kp_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)p;
    if (n > 0 && d[0] == '!' && kept_t)
        tw_transport_write(kept_t, "stale\n", 6);
}

static void kp_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops keeper_ops = {
    .connection_made = kp_made, .data_received = kp_data, .release = kp_release,
};

static tw_protocol *keeper_factory(void *arg)
{
    (void)arg;
    keeper *k = calloc(1, sizeof *k);
    if (k)
        k->base.ops = &keeper_ops;
    return k ? &k->base : NULL;
}

static void on_violation(void *arg, const char *what)
{
    (void)arg;
    violations++;
    snprintf(violation, sizeof violation, "%s", what);
}

static void test_write_through_a_stale_transport_reported(void **state)
{
    (void)state;
    keeper_made = violations = 0;
    kept_t = NULL;
    tw_simtest *st = tw_simtest_new(5, NULL, keeper_factory, NULL, true);
    assert_non_null(st);
    assert_true(tw_loop_contract_strict(tw_simtest_loop(st)));
    tw_loop_set_contract_handler(tw_simtest_loop(st), on_violation, NULL);
    tw_loop_set_contract_handler(tw_simtest_peer_loop(st), on_violation, NULL);
    tw_simtest_on_conn(st, 2);
    tw_simtest_connect_at(st, TW_MS(10));
    tw_simtest_reset(st, TW_MS(20));
    tw_simtest_on_conn(st, 3);
    tw_simtest_connect_at(st, TW_MS(50));
    tw_simtest_on_conn(st, 1);
    tw_simtest_send_str(st, TW_MS(100), "!");
    assert_int_equal(tw_simtest_run_until(st, TW_MS(200)), 0);
    assert_int_equal(keeper_made, 3);
    if (violations != 1 || !strstr(violation, "write() after connection_lost returned"))
        fail_msg("%d violations: %s", violations, violation);
    const uint8_t *got;
    for (unsigned c = 1; c <= 3; c++) {
        tw_simtest_on_conn(st, c);
        assert_int_equal(tw_simtest_unread(st, &got), 0);
    }
    tw_simtest_free(st);
}

/* With no handler of the test's own, a violation stops the world and
 * is the failure of the expectation that ran into it, with the
 * violation's sentence (it used to abort the test program). */
static void test_violation_fails_the_expect(void **state)
{
    (void)state;
    keeper_made = 0;
    kept_t = NULL;
    tw_simtest *st = tw_simtest_new(5, NULL, keeper_factory, NULL, true);
    assert_non_null(st);
    tw_simtest_on_conn(st, 2);
    tw_simtest_connect_at(st, TW_MS(10));
    tw_simtest_reset(st, TW_MS(20));
    tw_simtest_on_conn(st, 1);
    tw_simtest_send_str(st, TW_MS(100), "!");
    assert_int_equal(tw_simtest_expect_str(st, "never", TW_MS(200)), -EPROTO);
    if (!strstr(tw_simtest_error(st), "write() after connection_lost returned"))
        fail_msg("%s", tw_simtest_error(st));
    assert_true(tw_sim_now(tw_simtest_sim(st)) < TW_MS(200)); /* stopped there */
    assert_int_equal(tw_simtest_run_until(st, TW_MS(300)), -EPROTO);
    tw_simtest_free(st);
}

static void test_buggify(void **state)
{
    (void)state;
    int sites;
    /* off: never */
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n", "10.0.0.1");
    assert_int_equal(fires(loop, 1000, &sites), 0);
    /* a real loop: never, even while a buggify world exists */
    tw_sim_opts o = {.buggify = true, .buggify_site_probability = 0.5,
                     .buggify_fire_probability = 0.1};
    tw_sim *bsim = tw_sim_new(7, &o);
    tw_loop *bloop = tw_sim_add_node(bsim, "n", "10.0.0.1");
    tw_loop *real = tw_loop_new(NULL);
    assert_non_null(real);
    assert_int_equal(fires(real, 1000, &sites), 0);
    assert_int_equal(fires(loop, 1000, &sites), 0);
    tw_loop_free(real);
    /* on: enabled sites fire about 10% of calls, replayed by the seed */
    int total_sites = 0, any = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tw_sim *a = tw_sim_new(seed, &o), *b = tw_sim_new(seed, &o);
        tw_loop *la = tw_sim_add_node(a, "n", "10.0.0.1");
        tw_loop *lb = tw_sim_add_node(b, "n", "10.0.0.1");
        int sa, sb;
        int fa = fires(la, 1000, &sa), fb = fires(lb, 1000, &sb);
        assert_int_equal(fa, fb);
        assert_int_equal(sa, sb);
        assert_true(tw_sim_trace_hash(a) == tw_sim_trace_hash(b));
        if (sa)
            assert_true(fa > sa * 50 && fa < sa * 150);
        total_sites += sa;
        any += fa > 0;
        tw_sim_free(a);
        tw_sim_free(b);
    }
    assert_true(total_sites > 20 && total_sites < 60); /* ~half of 80 */
    assert_true(any > 10);
    (void)bloop;
    tw_sim_free(bsim);
    tw_sim_free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_ping_pong_script),
        TW_TEST(test_server_state_made_after_new),
        TW_TEST(test_expect_reports_what_arrived),
        TW_TEST(test_peer_reset),
        TW_TEST(test_naive_parser_fails_under_some_seed),
        TW_TEST(test_slow_peer_pushes_back),
        TW_TEST(test_client_reconnects),
        TW_TEST(test_client_reconnects_replays),
        TW_TEST(test_server_three_connections),
        TW_TEST(test_server_conn_scripted_late),
        TW_TEST(test_server_conn_reset_while_paused),
        TW_TEST(test_server_conn_never_made_says_why),
        TW_TEST(test_conn_errors),
        TW_TEST(test_write_through_a_stale_transport_reported),
        TW_TEST(test_violation_fails_the_expect),
        TW_TEST(test_buggify),
    };
    return cmocka_run_group_tests_name("sim_peer", tests, NULL, NULL);
}
