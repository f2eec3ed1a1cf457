/* tests/test_sim_stream.c - simulated streams: chunking, latency, the
 * receive window's push-back, loss as delay (retransmission timeouts that
 * double, retries that run out), bandwidth, Unix paths, backlog, refusal
 * and EMFILE on accept, a reset for bytes closed on unread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/echo.h"
#include "twin/twin.h"
#include "twin/sim.h"

/* ---- a probe protocol: keeps what it sees ---- */

typedef struct probe {
    tw_protocol base;
    tw_transport *t;
    int made, lost, eofs, chunks, pauses, resumes;
    int lost_err;
    tw_ns made_at, lost_at;
    uint8_t *data;
    size_t len, cap;
    bool pause_on_made;
    bool answer_and_close; /* send the first chunk back, then close */
    size_t answered;
} probe;

static void p_made(tw_protocol *p, tw_transport *t)
{
    probe *x = (probe *)p;
    x->t = t;
    x->made++;
    x->made_at = tw_loop_now(tw_transport_loop(t));
    if (x->pause_on_made)
        tw_transport_pause_reading(t);
}

static void p_lost(tw_protocol *p, int err)
{
    probe *x = (probe *)p;
    x->lost++;
    x->lost_err = err;
    x->lost_at = tw_loop_now(tw_transport_loop(x->t));
    x->t = NULL;
}

static void p_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    probe *x = (probe *)p;
    x->chunks++;
    if (x->len + n > x->cap) {
        x->cap = (x->len + n) * 2;
        x->data = realloc(x->data, x->cap);
    }
    memcpy(x->data + x->len, d, n);
    x->len += n;
    if (x->answer_and_close && !x->answered) {
        assert_int_equal(tw_transport_write(x->t, d, n), 0);
        x->answered = n;
        tw_transport_close(x->t); /* the rest of the request goes unread */
    }
}

static bool p_eof(tw_protocol *p)
{
    ((probe *)p)->eofs++;
    return false;
}

static void p_pause(tw_protocol *p) { ((probe *)p)->pauses++; }
static void p_resume(tw_protocol *p) { ((probe *)p)->resumes++; }

static const tw_protocol_ops probe_ops = {
    .connection_made = p_made, .connection_lost = p_lost,
    .data_received = p_data,   .eof_received = p_eof,
    .pause_writing = p_pause,  .resume_writing = p_resume,
};

static tw_protocol *probe_factory(void *arg)
{
    probe *x = arg;
    x->base.ops = &probe_ops;
    return &x->base;
}

typedef struct result {
    int called, err;
    tw_ns at;
    tw_loop *loop;
} result;

static void on_connect(void *arg, tw_transport *t, int err)
{
    result *r = arg;
    (void)t;
    r->called++;
    r->err = err;
}

/* The client's factory and callback share arg: pair them. */
typedef struct client {
    probe p;
    result r;
} client;

static tw_protocol *client_factory(void *arg) { return probe_factory(&((client *)arg)->p); }

static void client_cb(void *arg, tw_transport *t, int err)
{
    client *c = arg;
    on_connect(&c->r, t, err);
    c->r.at = tw_loop_now(c->r.loop);
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (uint8_t)(seed >> 16);
    }
    return b;
}

/* A two-node world: server s (10.0.0.1:80) with a probe, client c. */
typedef struct world {
    tw_sim *sim;
    tw_loop *s, *c;
    tw_server *srv;
    probe sp;
    client cl;
} world;

static void world_init(world *w, uint64_t seed, const tw_sim_opts *o)
{
    memset(w, 0, sizeof *w);
    w->sim = tw_sim_new(seed, o);
    assert_non_null(w->sim);
    w->s = tw_sim_add_node(w->sim, "s", "10.0.0.1");
    w->c = tw_sim_add_node(w->sim, "c", "10.0.0.2");
    assert_int_equal(tw_create_server(w->s, probe_factory, &w->sp, "10.0.0.1", 80,
                                      NULL, &w->srv), 0);
    w->cl.r.loop = w->c;
}

static void world_connect(world *w)
{
    assert_int_equal(tw_create_connection(w->c, client_factory, &w->cl,
                                          "10.0.0.1", 80, client_cb), 0);
}

static void world_free(world *w)
{
    tw_sim_free(w->sim);
    free(w->sp.data);
    free(w->cl.p.data);
}

static tw_sim_opts constant_latency(tw_ns one_way)
{
    tw_sim_opts o = {0};
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = one_way};
    return o;
}

/* ---- tests ---- */

static void test_connect_latency_and_addresses(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(5));
    world w;
    world_init(&w, 1, &o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cl.r.called, 1);
    assert_int_equal(w.cl.r.err, 0);
    assert_int_equal(w.cl.p.made_at, TW_MS(10)); /* SYN + SYNACK */
    assert_int_equal(w.sp.made_at, TW_MS(5));    /* accepted on the SYN */
    char buf[TW_ADDR_STRLEN];
    tw_addr a;
    assert_int_equal(tw_transport_peername(w.cl.p.t, &a), 0);
    assert_string_equal(tw_addr_format(&a, buf, sizeof buf), "10.0.0.1:80");
    assert_int_equal(tw_transport_sockname(w.sp.t, &a), 0);
    assert_string_equal(tw_addr_format(&a, buf, sizeof buf), "10.0.0.1:80");
    tw_addr cpeer, clocal;
    tw_transport_peername(w.sp.t, &cpeer);
    tw_transport_sockname(w.cl.p.t, &clocal);
    assert_true(tw_addr_equal(&cpeer, &clocal));
    assert_true(tw_addr_port(&clocal) >= 32768);
    assert_int_equal(tw_server_accepted(w.srv), 1);
    tw_transport_close(w.cl.p.t);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.eofs, 1); /* the server saw EOF and closed */
    assert_int_equal(w.sp.lost, 1);
    assert_int_equal(w.cl.p.lost, 1);
    assert_int_equal(w.cl.p.lost_err, 0);
    world_free(&w);
}

static void test_refused_after_one_round_trip(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(7));
    world w;
    world_init(&w, 2, &o);
    assert_int_equal(tw_create_connection(w.c, client_factory, &w.cl, "10.0.0.1", 81,
                                          client_cb), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cl.r.called, 1);
    assert_int_equal(w.cl.r.err, -ECONNREFUSED);
    assert_int_equal(w.cl.r.at, TW_MS(14));
    assert_int_equal(w.cl.p.made, 0);
    /* by node name too */
    client c2 = {.r.loop = w.c};
    assert_int_equal(tw_create_connection(w.c, client_factory, &c2, "s", 80, client_cb), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(100)), 0);
    assert_int_equal(c2.r.err, 0);
    assert_int_equal(c2.r.called, 1);
    world_free(&w);
}

static void test_nobody_at_address_times_out(void **state)
{
    (void)state;
    tw_sim_opts o = {.connect_timeout_ns = TW_SEC(3)};
    world w;
    world_init(&w, 3, &o);
    assert_int_equal(tw_create_connection(w.c, client_factory, &w.cl, "10.9.9.9", 80,
                                          client_cb), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cl.r.err, -ETIMEDOUT);
    assert_int_equal(w.cl.r.at, TW_SEC(3));
    world_free(&w);
}

/* Write 64 KiB and a short message in one world; return the number of
 * data_received calls it took (every byte is checked, in order). */
static int chunks_for(uint64_t seed, const tw_sim_opts *o, const uint8_t *msg,
                      size_t n)
{
    world w;
    world_init(&w, seed, o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(tw_transport_write(w.cl.p.t, msg, n), 0);
    assert_int_equal(tw_transport_write(w.cl.p.t, "hello world", 11), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, n + 11);
    assert_memory_equal(w.sp.data, msg, n);
    assert_memory_equal(w.sp.data + n, "hello world", 11);
    int chunks = w.sp.chunks;
    world_free(&w);
    return chunks;
}

/* Deliveries are cut short as often as chunk_split_probability says:
 * always at 1, never when negative, sometimes by default; every byte
 * arrives in order whatever the cuts. */
static void test_chunking_keeps_order(void **state)
{
    (void)state;
    const size_t n = 64 * 1024;
    uint8_t *msg = pattern(n, 7);
    tw_sim_opts always, never;
    tw_sim_opts_default(&always);
    always.chunk_split_probability = 1;
    tw_sim_opts_default(&never);
    never.chunk_split_probability = -1;
    int min_always = 1 << 30, max_never = 0, max_default = 0, min_default = 1 << 30;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        int a = chunks_for(seed, &always, msg, n);
        int v = chunks_for(seed, &never, msg, n);
        int d = chunks_for(seed, NULL, msg, n);
        min_always = a < min_always ? a : min_always;
        max_never = v > max_never ? v : max_never;
        max_default = d > max_default ? d : max_default;
        min_default = d < min_default ? d : min_default;
    }
    /* each cut leaves a byte for later: 64 KiB + 11 B in 2 arrivals is at
     * least 3 deliveries, and at least 4 when both are cut */
    assert_true(min_always >= 4);
    assert_true(max_never <= 2); /* one per arrival, never more */
    assert_true(min_default >= 1);
    assert_true(max_default > max_never); /* the default does cut */
    /* a small message gets cut too, under some seed, by default */
    bool cut = false;
    for (uint64_t seed = 1; seed <= 40 && !cut; seed++) {
        world w;
        world_init(&w, seed, NULL);
        world_connect(&w);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        tw_transport_write(w.cl.p.t, "GET / HTTP/1.0\r\n\r\n", 18);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(w.sp.len, 18);
        assert_memory_equal(w.sp.data, "GET / HTTP/1.0\r\n\r\n", 18);
        cut = w.sp.chunks > 1;
        world_free(&w);
    }
    assert_true(cut);
    free(msg);
}

/* A paused reader holds the window shut: the writer's buffer grows past
 * its high mark and pause_writing fires; resuming drains it all. */
static void test_window_push_back(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4, NULL);
    w.sp.pause_on_made = true;
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    const size_t n = 1024 * 1024;
    uint8_t *msg = pattern(n, 9);
    assert_int_equal(tw_transport_write(w.cl.p.t, msg, n), 0);
    assert_int_equal(w.cl.p.pauses, 1); /* inside write: the window took 128 KiB */
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(5)), 0);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(tw_transport_get_write_buffer_size(w.cl.p.t), n - 128 * 1024);
    assert_int_equal(w.cl.p.resumes, 0);
    tw_transport_resume_reading(w.sp.t);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cl.p.resumes, 1);
    assert_int_equal(w.sp.len, n);
    assert_memory_equal(w.sp.data, msg, n);
    assert_int_equal(tw_transport_get_write_buffer_size(w.cl.p.t), 0);
    free(msg);
    world_free(&w);
}

/* An echo through a small window: the writer is held by the window and
 * freed by the acknowledgements that come back on the echoed data (the
 * server reads and writes in the same instant, so its acks ride on its
 * segments). Every byte comes back, in order. */
static void test_echo_through_a_small_window(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.rcvbuf_bytes = 16 * 1024;
    tw_sim *sim = tw_sim_new(9, &o);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_loop *c = tw_sim_add_node(sim, "c", "10.0.0.2");
    tw_echo_server_cfg cfg = {.keep_open = true};
    tw_server *srv;
    assert_int_equal(tw_create_server(s, tw_echo_server_factory, &cfg, "10.0.0.1", 7,
                                      NULL, &srv), 0);
    client cl = {.r.loop = c};
    assert_int_equal(tw_create_connection(c, client_factory, &cl, "10.0.0.1", 7,
                                          client_cb), 0);
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_non_null(cl.p.t);
    tw_transport_set_write_buffer_limits(cl.p.t, 64 * 1024, 16 * 1024);
    const size_t n = 1024 * 1024;
    uint8_t *msg = pattern(n, 11);
    assert_int_equal(tw_transport_write(cl.p.t, msg, n), 0);
    assert_int_equal(cl.p.pauses, 1); /* the window took 16 KiB of it */
    assert_int_equal(tw_sim_run_until_idle(sim), 0);
    assert_int_equal(cl.p.len, n);
    assert_memory_equal(cl.p.data, msg, n);
    assert_int_equal(cl.p.resumes, 1);
    assert_int_equal(tw_transport_get_write_buffer_size(cl.p.t), 0);
    assert_int_equal(cl.p.lost, 0);
    free(msg);
    tw_server_close(srv);
    tw_sim_free(sim);
    free(cl.p.data);
}

static tw_ns transfer_time(uint64_t seed, double loss, uint64_t bw, size_t n,
                           uint64_t *losses)
{
    tw_sim_opts o = constant_latency(TW_MS(1));
    o.net.loss_probability = loss;
    o.net.bandwidth_bytes_per_sec = bw;
    o.net.loss_retries_max = 50;
    o.segment_bytes_max = 1460;
    world w;
    world_init(&w, seed, &o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    uint8_t *msg = pattern(n, (uint32_t)seed);
    tw_ns start = tw_sim_now(w.sim);
    tw_transport_write(w.cl.p.t, msg, n);
    while (w.sp.len < n && tw_sim_step(w.sim) > 0)
        ;
    tw_ns took = tw_sim_now(w.sim) - start;
    assert_int_equal(w.sp.len, n);
    assert_memory_equal(w.sp.data, msg, n);
    assert_int_equal(w.cl.p.lost, 0);
    tw_sim_stats st;
    tw_sim_get_stats(w.sim, &st);
    if (losses)
        *losses = st.losses;
    free(msg);
    world_free(&w);
    return took;
}

static void test_loss_is_delay_not_data_loss(void **state)
{
    (void)state;
    uint64_t losses = 0;
    tw_ns clean = transfer_time(5, 0, 0, 200000, NULL);
    tw_ns lossy = transfer_time(5, 0.2, 0, 200000, &losses);
    assert_true(losses > 10);
    assert_true(lossy > clean + TW_MS(200)); /* at least one RTO */
}

static void test_bandwidth(void **state)
{
    (void)state;
    tw_ns took = transfer_time(6, 0, 1000000, 100000, NULL); /* 1 MB/s */
    assert_true(took >= TW_MS(100));
    assert_true(took < TW_MS(150));
}

static void test_unix_paths_are_per_node(void **state)
{
    (void)state;
    world w;
    world_init(&w, 7, NULL);
    tw_server *us;
    probe up = {0};
    assert_int_equal(tw_create_unix_server(w.s, probe_factory, &up, "/run/x.sock", NULL,
                                           &us), 0);
    client local = {.r.loop = w.s};
    assert_int_equal(tw_create_unix_connection(w.s, client_factory, &local,
                                               "/run/x.sock", client_cb), 0);
    /* the other node has no such path */
    assert_int_equal(tw_create_unix_connection(w.c, client_factory, &w.cl,
                                               "/run/x.sock", client_cb), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(local.r.err, 0);
    assert_int_equal(w.cl.r.err, -ECONNREFUSED);
    tw_transport_write(local.p.t, "unix", 4);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(up.len, 4);
    char buf[TW_ADDR_STRLEN];
    tw_addr a;
    tw_transport_peername(local.p.t, &a);
    assert_string_equal(tw_addr_format(&a, buf, sizeof buf), "unix:/run/x.sock");
    tw_server_close(us);
    world_free(&w);
    free(up.data);
    free(local.p.data);
}

static void test_emfile_then_recovery(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(1));
    world w;
    world_init(&w, 8, &o);
    assert_int_equal(tw_sim_emfile(w.s, 2), 0);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    /* the client's handshake completed at once; the app accepted after two
     * failed tries, one accept_retry_delay (1 s) apart */
    assert_int_equal(w.cl.p.made_at, TW_MS(2));
    assert_int_equal(w.sp.made, 1);
    assert_int_equal(w.sp.made_at, TW_MS(1) + TW_SEC(2));
    world_free(&w);
}

static void test_backlog_full_drops_syn(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(1));
    o.connect_timeout_ns = TW_SEC(2);
    tw_sim *sim = tw_sim_new(9, &o);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_loop *c = tw_sim_add_node(sim, "c", "10.0.0.2");
    tw_server *srv;
    probe sp[2];
    memset(sp, 0, sizeof sp);
    tw_server_opts so = {.backlog = 1};
    assert_int_equal(tw_create_server(s, probe_factory, &sp[0], "", 80, &so, &srv), 0);
    tw_sim_emfile(s, 1000); /* the app never gets to accept */
    client a = {.r.loop = c}, b = {.r.loop = c};
    tw_create_connection(c, client_factory, &a, "10.0.0.1", 80, client_cb);
    tw_create_connection(c, client_factory, &b, "10.0.0.1", 80, client_cb);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(3)), 0);
    assert_int_equal(a.r.err, 0);           /* queued in the backlog */
    assert_int_equal(b.r.err, -ETIMEDOUT);  /* its SYNs were dropped */
    tw_sim_free(sim);
}

static void test_port_zero_and_in_use(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(10, NULL);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_server *a, *b;
    probe p = {0};
    assert_int_equal(tw_create_server(s, probe_factory, &p, "10.0.0.1", 0, NULL, &a), 0);
    assert_true(tw_server_port(a) != 0);
    assert_int_equal(tw_create_server(s, probe_factory, &p, "", tw_server_port(a), NULL, &b),
                     -EADDRINUSE);
    assert_int_equal(tw_create_server(s, probe_factory, &p, "10.0.0.7", 80, NULL, &b),
                     -EADDRNOTAVAIL);
    assert_int_equal(tw_create_connection_fd(s, probe_factory, &p, 3, NULL), -ENOTSUP);
    tw_server_close(a);
    assert_int_equal(tw_loop_alive(s), 0);
    tw_sim_free(sim);
}

static void test_path_override(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(1));
    world w;
    world_init(&w, 11, &o);
    tw_sim_path_opts slow = {.latency = {.kind = TW_SIM_DIST_CONSTANT,
                                         .min_ns = TW_MS(40)}};
    assert_int_equal(tw_sim_path_set(w.sim, w.c, w.s, &slow), 0); /* c -> s only */
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cl.p.made_at, TW_MS(41));
    tw_sim_path_opts bad = {.loss_probability = 1.5};
    assert_int_equal(tw_sim_path_set(w.sim, w.c, w.s, &bad), -EINVAL);
    world_free(&w);
}

/* Closing a transport while bytes sent to it are still on their way
 * throws them away unread: the writer gets a reset (as from Linux), one
 * latency later, and no EOF. */
static void test_close_with_bytes_in_flight_resets_the_writer(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(5));
    world w;
    world_init(&w, 12, &o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cl.p.t, "late", 4), 0);
    tw_transport_close(w.sp.t);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(w.cl.p.eofs, 0);
    assert_int_equal(w.cl.p.lost, 1);
    assert_int_equal(w.cl.p.lost_err, -ECONNRESET);
    assert_int_equal(w.cl.p.lost_at, t0 + TW_MS(5));
    world_free(&w);
}

/* A server that answers the first bytes of a request and closes with the
 * rest unread resets the client; the answer, sent before the reset,
 * arrives before it whatever latencies the path draws, as Linux delivers
 * data ahead of a reset. */
static void test_reset_comes_after_the_data_sent_before_it(void **state)
{
    (void)state;
    tw_sim_opts o = {0};
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_UNIFORM,
                                  .min_ns = TW_MS(1), .max_ns = TW_MS(20)};
    int resets = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        world w;
        world_init(&w, seed, &o);
        w.sp.answer_and_close = true;
        world_connect(&w);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(tw_transport_write(w.cl.p.t, "first part;", 11), 0);
        tw_sim_run_for(w.sim, 500 * TW_NS_PER_US);
        assert_int_equal(tw_transport_write(w.cl.p.t, "second part", 11), 0);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_true(w.sp.answered > 0);
        assert_int_equal(w.cl.p.lost, 1);
        /* every answered byte came, then the end */
        assert_int_equal(w.cl.p.len, w.sp.answered);
        assert_memory_equal(w.cl.p.data, "first part;second part", w.sp.answered);
        if (w.cl.p.lost_err == -ECONNRESET)
            resets++;
        else
            assert_int_equal(w.cl.p.lost_err, 0);
        world_free(&w);
    }
    assert_true(resets > 10); /* the case this is about did come up */
}

/* The client's "send" records, and the bytes they took. */
typedef struct sends {
    int n;
    int64_t bytes;
} sends;

static void count_sends(void *arg, const tw_sim_record *rec, const char *line)
{
    sends *s = arg;
    (void)line;
    if (!strcmp(rec->node_name, "c") && !strcmp(rec->what, "send")) {
        s->n++;
        s->bytes += rec->a;
    }
}

/* Bytes written to a connection whose peer has closed go on the wire
 * (the capture has them, and the peer answers with a reset): the trace
 * records their send as it does any other. */
static void test_a_send_to_a_closed_peer_is_traced(void **state)
{
    (void)state;
    sends s = {0};
    tw_sim_opts o = constant_latency(TW_MS(5));
    o.trace_fn = count_sends;
    o.trace_arg = &s;
    world w;
    world_init(&w, 13, &o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    tw_transport_close(w.sp.t);
    tw_sim_run_for(w.sim, TW_MS(1)); /* the FIN is on its way */
    assert_int_equal(w.cl.p.eofs, 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(tw_transport_write(w.cl.p.t, "late", 4), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.bytes, 4);
    assert_int_equal(w.cl.p.lost, 1);
    world_free(&w);
}

/* With chunk_split_probability 1 every delivery is cut short, and a cut
 * chunk leaves at least a byte for the next: two bytes always come as
 * two chunks of one. */
static void test_a_cut_chunk_leaves_a_byte(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.chunk_split_probability = 1;
    world w;
    world_init(&w, 13, &o);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    for (int i = 1; i <= 100; i++) {
        assert_int_equal(tw_transport_write(w.cl.p.t, "ab", 2), 0);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(w.sp.chunks, 2 * i);
    }
    assert_int_equal(w.sp.len, 200);
    world_free(&w);
}

/* Each loss of a segment delays it by one retransmission timeout: the
 * first is rto_ns (200 ms by default, also on a path override that names
 * none), then each doubles up to rto_max_ns (10 s). A byte lost k times
 * arrives 1 ms + 200 ms * (2^k - 1) after it was sent. */
static void test_retransmission_timeouts_double(void **state)
{
    (void)state;
    uint64_t most = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        tw_sim_opts o = constant_latency(TW_MS(1));
        world w;
        world_init(&w, seed, &o);
        tw_sim_path_opts lossy = {.latency = {.kind = TW_SIM_DIST_CONSTANT,
                                              .min_ns = TW_MS(1)},
                                  .loss_probability = 0.5};
        assert_int_equal(tw_sim_path_set(w.sim, w.c, w.s, &lossy), 0);
        world_connect(&w);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        tw_sim_stats before, after;
        tw_sim_get_stats(w.sim, &before);
        tw_ns t0 = tw_sim_now(w.sim);
        assert_int_equal(tw_transport_write(w.cl.p.t, "x", 1), 0);
        while (w.sp.len < 1 && tw_sim_step(w.sim) > 0)
            ;
        assert_int_equal(w.sp.len, 1);
        tw_ns took = tw_sim_now(w.sim) - t0;
        tw_sim_get_stats(w.sim, &after);
        uint64_t k = after.losses - before.losses;
        tw_ns want = TW_MS(1), rto = TW_MS(200);
        for (uint64_t i = 0; i < k; i++) {
            want += rto;
            rto = rto * 2 > TW_SEC(10) ? TW_SEC(10) : rto * 2;
        }
        assert_int_equal(took, want);
        most = k > most ? k : most;
        world_free(&w);
    }
    assert_true(most >= 3);
}

/* A segment lost on every try is retransmitted loss_retries_max times;
 * then the writer's connection times out and the reader's is reset, when
 * the last retransmission would have arrived. */
static void test_retries_run_out(void **state)
{
    (void)state;
    tw_sim_opts o = constant_latency(TW_MS(1));
    world w;
    world_init(&w, 14, &o);
    tw_sim_path_opts dead = {.latency = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)},
                             .loss_probability = 0.999999,
                             .loss_retries_max = 3};
    assert_int_equal(tw_sim_path_set(w.sim, w.c, w.s, &dead), 0);
    world_connect(&w);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    tw_sim_stats before, after;
    tw_sim_get_stats(w.sim, &before);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cl.p.t, "x", 1), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    tw_sim_get_stats(w.sim, &after);
    assert_int_equal(after.losses - before.losses, 3);
    tw_ns end = t0 + TW_MS(1) + TW_MS(200 + 400 + 800);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(w.cl.p.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cl.p.lost_at, end);
    assert_int_equal(w.sp.lost_err, -ECONNRESET);
    assert_int_equal(w.sp.lost_at, end);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_connect_latency_and_addresses),
        TW_TEST(test_refused_after_one_round_trip),
        TW_TEST(test_nobody_at_address_times_out),
        TW_TEST(test_chunking_keeps_order),
        TW_TEST(test_window_push_back),
        TW_TEST(test_echo_through_a_small_window),
        TW_TEST(test_loss_is_delay_not_data_loss),
        TW_TEST(test_bandwidth),
        TW_TEST(test_unix_paths_are_per_node),
        TW_TEST(test_emfile_then_recovery),
        TW_TEST(test_backlog_full_drops_syn),
        TW_TEST(test_port_zero_and_in_use),
        TW_TEST(test_path_override),
        TW_TEST(test_reset_comes_after_the_data_sent_before_it),
        TW_TEST(test_a_send_to_a_closed_peer_is_traced),
        TW_TEST(test_close_with_bytes_in_flight_resets_the_writer),
        TW_TEST(test_a_cut_chunk_leaves_a_byte),
        TW_TEST(test_retransmission_timeouts_double),
        TW_TEST(test_retries_run_out),
    };
    return cmocka_run_group_tests_name("sim_stream", tests, NULL, NULL);
}
