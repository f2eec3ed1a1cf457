/* tests/test_sim_dgram.c - what the simulated network does to datagrams,
 * as a protocol sees it: the rates of loss, duplication and reordering
 * (within a binomial bound over 100,000 datagrams), corruption, the size
 * limit, ENOBUFS, refusal, partitions, clogs, crashes, a full receive
 * buffer, what each datagram costs in the socket buffers, bandwidth
 * push-back, faults scripted at a virtual time (one way or both) and
 * drawn by the swarm, the UDP echo apps on two nodes, and the same seed giving
 * the same trace; and Unix datagrams, which no network fault touches:
 * names per node, Linux's queue bounds, a crash, determinism.
 *
 * Map: helpers (a two-node world and its usual pair of endpoints,
 * numbered datagrams, the bound);
 * rates; fates; faults; what a send and an arrival remember (the
 * endpoint and node a sender's datagrams reach, datagrams waiting in
 * their path's order); apps; determinism; Unix datagrams.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/dgram_rec.h"
#include "twin/app.h"
#include "twin/sim.h"
#include "twin/udp_echo.h"

#define N 100000

/* ------------------------------------------------------------------ */
/* helpers                                                             */

typedef struct world {
    tw_env env; /* env.loop is node a; running it drives the world */
    tw_loop *a, *b;
    int violations;
} world;

static void on_violation(void *arg, const char *msg)
{
    world *w = arg;
    w->violations++;
    fprintf(stderr, "%s\n", msg);
}

static void world_new(world *w, uint64_t seed, const tw_sim_opts *o)
{
    memset(w, 0, sizeof *w);
    w->env.backend = tw_backend_sim;
    w->env.sim = tw_sim_new(seed, o);
    assert_non_null(w->env.sim);
    w->a = tw_sim_add_node(w->env.sim, "a", "10.0.0.1");
    w->b = tw_sim_add_node(w->env.sim, "b", "10.0.0.2");
    assert_non_null(w->a);
    assert_non_null(w->b);
    w->env.loop = w->a;
    w->env.host = "10.0.0.1";
    tw_loop *nodes[] = {w->a, w->b};
    for (int i = 0; i < 2; i++) {
        tw_loop_set_contract_check(nodes[i], true);
        tw_loop_set_contract_handler(nodes[i], on_violation, w);
    }
}

static void world_free(world *w)
{
    assert_int_equal(tw_sim_run_for(w->env.sim, TW_SEC(1)), 0);
    assert_int_equal(tw_loop_alive(w->a) + tw_loop_alive(w->b), 0);
    assert_int_equal(w->violations, 0);
    tw_sim_free(w->env.sim);
}

static tw_addr ip(const char *host, uint16_t port)
{
    tw_addr a;
    assert_int_equal(tw_addr_ip(&a, host, port), 0);
    return a;
}

/* An endpoint on `loop` bound to host:port (port 0: any). */
static void open_on(world *w, tw_loop *loop, drec *r, const char *host,
                    uint16_t port, const tw_addr *remote)
{
    tw_env env = w->env;
    env.loop = loop;
    tw_datagram_opts o = {.local = ip(host, port)};
    if (remote)
        o.remote = *remote;
    drec_open(&env, r, &o);
}

/* The pair most tests use: r bound on b (any port), then c on a,
 * connected to r. Returns r's address. */
static tw_addr open_pair(world *w, drec *r, drec *c)
{
    open_on(w, w->b, r, "10.0.0.2", 0, NULL);
    tw_addr to = drec_sockname(r);
    open_on(w, w->a, c, "10.0.0.1", 0, &to);
    return to;
}

static void close_on(world *w, drec *r)
{
    if (!r->done)
        tw_transport_close(r->t);
    TW_WAIT(&w->env, r->done);
    assert_int_equal(r->lost, 1);
    drec_free(r);
}

/* Numbered datagrams: what the receiver saw of them. */
typedef struct seqs {
    uint32_t *count;   /* copies of each number received */
    uint32_t max;      /* highest number so far */
    uint64_t late;     /* arrived after a higher number */
    uint64_t total;
    bool any;
} seqs;

static void seq_seen(drec *r, const uint8_t *d, size_t n, const tw_addr *from)
{
    (void)from;
    seqs *s = r->user;
    assert_true(n >= 4);
    uint32_t v = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 |
                 (uint32_t)d[3] << 24;
    assert_true(v < N);
    s->count[v]++;
    s->total++;
    if (s->any && v < s->max)
        s->late++;
    if (!s->any || v > s->max)
        s->max = v;
    s->any = true;
}

static void put_seq(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

/* Send numbers [0, n) from t in batches of 1,000, 50 us of virtual time
 * apart, then let everything arrive. */
static void send_numbers(world *w, tw_transport *t, uint32_t n)
{
    uint8_t b[4];
    for (uint32_t i = 0; i < n; i++) {
        put_seq(b, i);
        assert_int_equal(tw_transport_sendto(t, b, 4, NULL), 0);
        if (i % 1000 == 999)
            assert_int_equal(tw_sim_run_for(w->env.sim, 50 * TW_NS_PER_US), 0);
    }
    assert_int_equal(tw_sim_run_for(w->env.sim, TW_SEC(1)), 0);
}

/* sqrt by Newton's method (no libm needed for one test bound). */
static double root(double x)
{
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 100; i++)
        r = (r + x / r) / 2;
    return r;
}

/* got must be within 5 standard deviations of Binomial(n, p)'s mean. */
static void assert_binomial(const char *what, uint64_t got, uint64_t n, double p)
{
    double mean = (double)n * p, sd = root((double)n * p * (1 - p));
    double diff = (double)got - mean;
    if (diff < 0)
        diff = -diff;
    if (diff > 5 * sd)
        fail_msg("%s: %llu of %llu, expected %.1f +- %.1f (5 sd)", what,
                 (unsigned long long)got, (unsigned long long)n, mean, 5 * sd);
    print_message("%s: %llu of %llu (expected %.1f, sd %.1f)\n", what,
                  (unsigned long long)got, (unsigned long long)n, mean, sd);
}

/* A world whose a->b path has datagram options *d and a roomy receive
 * buffer; r receives on b (counting numbers), c sends from a. */
static void rate_setup(world *w, uint64_t seed, const tw_sim_dgram_opts *d,
                       bool constant_latency, drec *r, drec *c, seqs *s)
{
    world_new(w, seed, NULL);
    tw_sim_path_opts po = {.dgram = *d};
    po.dgram.rcvbuf_bytes = 64u << 20;
    if (constant_latency) {
        po.latency.kind = TW_SIM_DIST_CONSTANT;
        po.latency.min_ns = 100 * TW_NS_PER_US;
    }
    assert_int_equal(tw_sim_path_set(w->env.sim, w->a, w->b, &po), 0);
    memset(s, 0, sizeof *s);
    s->count = calloc(N, sizeof *s->count);
    assert_non_null(s->count);
    drec_init(r);
    drec_init(c);
    r->count_only = true;
    r->user = s;
    r->on_datagram = seq_seen;
    open_pair(w, r, c);
}

static void rate_teardown(world *w, drec *r, drec *c, seqs *s)
{
    close_on(w, c);
    close_on(w, r);
    free(s->count);
    world_free(w);
}

/* ------------------------------------------------------------------ */
/* rates                                                               */

static void test_sim_dgram_loss_rate(void **state)
{
    (void)state;
    const double ps[] = {0.1, 0.01};
    for (int k = 0; k < 2; k++) {
        world w;
        drec r, c;
        seqs s;
        tw_sim_dgram_opts d = {.loss_probability = ps[k]};
        rate_setup(&w, 11 + (uint64_t)k, &d, false, &r, &c, &s);
        send_numbers(&w, c.t, N);
        assert_binomial("lost", N - s.total, N, ps[k]);
        /* nothing else happened to them: no copies, no reordering */
        for (uint32_t i = 0; i < N; i++)
            assert_true(s.count[i] <= 1);
        assert_int_equal(s.late, 0);
        tw_sim_stats st;
        tw_sim_get_stats(w.env.sim, &st);
        assert_int_equal(st.dgrams_lost, N - s.total);
        assert_int_equal(st.dgrams_sent, N);
        rate_teardown(&w, &r, &c, &s);
    }
}

static void test_sim_dgram_duplicate_rate(void **state)
{
    (void)state;
    world w;
    drec r, c;
    seqs s;
    tw_sim_dgram_opts d = {.duplicate_probability = 0.05};
    rate_setup(&w, 21, &d, false, &r, &c, &s);
    send_numbers(&w, c.t, N);
    uint64_t copies = 0;
    for (uint32_t i = 0; i < N; i++) {
        assert_true(s.count[i] == 1 || s.count[i] == 2); /* none lost */
        copies += s.count[i] - 1;
    }
    assert_binomial("duplicated", copies, N, 0.05);
    rate_teardown(&w, &r, &c, &s);
}

static void test_sim_dgram_reorder_rate(void **state)
{
    (void)state;
    world w;
    drec r, c;
    seqs s;
    /* constant latency: whatever arrives late was held back on purpose */
    tw_sim_dgram_opts d = {.reorder_probability = 0.1,
                           .reorder_delay_ns_max = TW_MS(10)};
    rate_setup(&w, 31, &d, true, &r, &c, &s);
    send_numbers(&w, c.t, N);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(s.count[i], 1); /* reordered, never lost */
    assert_binomial("reordered", s.late, N, 0.1);
    rate_teardown(&w, &r, &c, &s);
}

/* ------------------------------------------------------------------ */
/* fates                                                               */

static void keep_corrupt(drec *r, const uint8_t *d, size_t n, const tw_addr *f)
{
    (void)f;
    static uint8_t sent[64];
    memset(sent, 0xA5, sizeof sent);
    if (n == 0)
        return; /* the empty one: nothing to flip */
    assert_int_equal(n, sizeof sent);
    int bits = 0;
    for (size_t i = 0; i < n; i++)
        bits += __builtin_popcount((unsigned)(d[i] ^ sent[i]));
    assert_true(bits >= 1 && bits <= 3);
    (*(int *)r->user)++;
}

static void test_sim_dgram_corruption_flips_bits(void **state)
{
    (void)state;
    world w;
    world_new(&w, 41, NULL);
    tw_sim_path_opts po = {.dgram = {.corrupt_probability = 1,
                                     .corrupt_bits_max = 3}};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    drec r, c;
    int corrupted = 0;
    drec_init(&r);
    drec_init(&c);
    r.count_only = true;
    r.on_datagram = keep_corrupt;
    r.user = &corrupted;
    open_pair(&w, &r, &c);
    uint8_t msg[64];
    memset(msg, 0xA5, sizeof msg);
    for (int i = 0; i < 200; i++)
        assert_int_equal(tw_transport_sendto(c.t, msg, sizeof msg, NULL), 0);
    /* an empty datagram has nothing to flip */
    assert_int_equal(tw_transport_sendto(c.t, NULL, 0, NULL), 0);
    TW_WAIT(&w.env, r.datagrams == 201);
    assert_int_equal(corrupted, 200);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_corrupted, 200);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

static void test_sim_dgram_size_limit(void **state)
{
    (void)state;
    world w;
    world_new(&w, 42, NULL);
    tw_sim_path_opts po = {.dgram.size_max_bytes = 1000};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    static uint8_t big[1001];
    assert_int_equal(tw_transport_sendto(c.t, big, 1000, NULL), 0);
    assert_int_equal(c.errors, 0);
    assert_int_equal(tw_transport_sendto(c.t, big, 1001, NULL), 0);
    assert_int_equal(c.errors, 1); /* from inside sendto */
    assert_int_equal(c.last_err, -EMSGSIZE);
    TW_WAIT(&w.env, r.datagrams == 1);
    tw_run_slice(&w.env);
    assert_int_equal(r.datagrams, 1);
    assert_int_equal(drec_msg_at(&r, 0)->len, 1000);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

static void test_sim_dgram_full_receive_buffer_drops(void **state)
{
    (void)state;
    world w;
    world_new(&w, 43, NULL);
    tw_sim_path_opts po = {.dgram.rcvbuf_bytes = 300};
    po.latency.kind = TW_SIM_DIST_CONSTANT;
    po.latency.min_ns = TW_MS(1);
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    /* 20 x (92 + 8) bytes arrive at one instant; 300 bytes hold 3 */
    static uint8_t msg[92];
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_transport_sendto(c.t, msg, sizeof msg, NULL), 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    assert_int_equal(r.datagrams, 3);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_dropped, 17);
    assert_int_equal(c.errors + r.errors, 0); /* silently, as UDP does */
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

/* Both socket buffers charge each datagram its length and 8 bytes of
 * overhead, and a datagram that exactly fills one still fits. Receive:
 * 292 bytes hold two (92 + 8) datagrams, not a third. Send: on a 1000
 * B/s link each (100 + 8) byte datagram waits 100 ms for the wire; a
 * 324-byte buffer takes three, and the fourth waits in the transport. */
static void test_sim_dgram_socket_buffers_charge_overhead(void **state)
{
    (void)state;
    world w;
    world_new(&w, 45, NULL);
    tw_sim_path_opts po = {.dgram.rcvbuf_bytes = 292};
    po.latency.kind = TW_SIM_DIST_CONSTANT;
    po.latency.min_ns = TW_MS(1);
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    tw_sim_path_opts back = {.bandwidth_bytes_per_sec = 1000,
                             .dgram.sndbuf_bytes = 324};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.b, w.a, &back), 0);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    static uint8_t msg[100];
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_transport_sendto(c.t, msg, 92, NULL), 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    assert_int_equal(r.datagrams, 2);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_dropped, 18);
    tw_addr from = drec_sockname(&c);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tw_transport_sendto(r.t, msg, 100, &from), 0);
        assert_int_equal(tw_transport_get_write_buffer_size(r.t), 0);
    }
    assert_int_equal(tw_transport_sendto(r.t, msg, 100, &from), 0);
    assert_true(tw_transport_get_write_buffer_size(r.t) > 0);
    TW_WAIT(&w.env, c.datagrams == 4);
    assert_int_equal(tw_transport_get_write_buffer_size(r.t), 0);
    assert_int_equal(c.errors + r.errors, 0);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

/* A slow link fills the sender's socket buffer: the transport queues,
 * pause_writing, and everything arrives in order at the link's pace. */
static void test_sim_dgram_bandwidth_pushes_back(void **state)
{
    (void)state;
    world w;
    world_new(&w, 44, NULL);
    tw_sim_path_opts po = {.bandwidth_bytes_per_sec = 10000,
                           .dgram.sndbuf_bytes = 4096};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    drec r, c;
    seqs s = {.count = calloc(N, sizeof(uint32_t))};
    drec_init(&r);
    drec_init(&c);
    r.count_only = true;
    r.user = &s;
    r.on_datagram = seq_seen;
    open_pair(&w, &r, &c);
    assert_int_equal(tw_transport_set_write_buffer_limits(c.t, 20000, 5000), 0);
    tw_ns t0 = tw_sim_now(w.env.sim);
    static uint8_t msg[1000];
    for (uint32_t i = 0; i < 100; i++) {
        put_seq(msg, i);
        assert_int_equal(tw_transport_sendto(c.t, msg, sizeof msg, NULL), 0);
    }
    assert_int_equal(c.pauses, 1);
    assert_true(tw_transport_get_write_buffer_size(c.t) > 20000);
    TW_WAIT(&w.env, r.datagrams == 100);
    assert_int_equal(c.resumes, 1);
    assert_int_equal(s.late, 0);
    /* 100,000 bytes at 10,000 bytes a second */
    assert_true(tw_sim_now(w.env.sim) - t0 >= TW_MS(9900));
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    free(s.count);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* faults                                                              */

static void test_sim_dgram_enobufs(void **state)
{
    (void)state;
    world w;
    world_new(&w, 51, NULL);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    /* now: the next 2 sends fail */
    assert_int_equal(tw_sim_enobufs(w.a, 2), 0);
    tw_run_slice(&w.env);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tw_transport_sendto(c.t, "x", 1, NULL), 0);
    assert_int_equal(c.errors, 2);
    assert_int_equal(c.last_err, -ENOBUFS);
    assert_false(tw_transport_is_closing(c.t));
    TW_WAIT(&w.env, r.datagrams == 1);
    /* scripted at a virtual time: nothing before it, one after */
    tw_ns at = tw_sim_now(w.env.sim) + TW_SEC(1);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_ENOBUFS, .a = tw_sim_node_id(w.a),
                      .b = TW_SIM_ALL, .count = 1};
    int id = tw_sim_at(w.env.sim, at, &f);
    assert_true(id >= 0);
    assert_int_equal(tw_transport_sendto(c.t, "y", 1, NULL), 0);
    assert_int_equal(c.errors, 2);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(2)), 0);
    assert_int_equal(tw_transport_sendto(c.t, "z", 1, NULL), 0);
    assert_int_equal(c.errors, 3);
    uint64_t used = 0;
    assert_int_equal(tw_sim_fault_effect(w.env.sim, id, &used), 0);
    assert_int_equal(used, 1); /* the fault's effect: one send refused */
    /* and as a probability of the path */
    tw_sim_path_opts po = {.dgram.enobufs_probability = 1};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    assert_int_equal(tw_transport_sendto(c.t, "p", 1, NULL), 0);
    assert_int_equal(c.errors, 4);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

static void test_sim_dgram_scripted_loss_window(void **state)
{
    (void)state;
    world w;
    world_new(&w, 52, NULL);
    drec r, c;
    seqs s = {.count = calloc(N, sizeof(uint32_t))};
    drec_init(&r);
    drec_init(&c);
    r.count_only = true;
    r.user = &s;
    r.on_datagram = seq_seen;
    open_pair(&w, &r, &c);
    /* from 1 s to 2 s, everything a->b is lost */
    tw_ns t0 = tw_sim_now(w.env.sim);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_DGRAM, .a = tw_sim_node_id(w.a),
                      .b = tw_sim_node_id(w.b), .oneway = true,
                      .duration_ns = TW_SEC(1), .dgram.loss_probability = 1};
    int id = tw_sim_at(w.env.sim, t0 + TW_SEC(1), &f);
    assert_true(id >= 0);
    uint8_t b[4];
    for (uint32_t i = 0; i < 30; i++) { /* one every 100 ms for 3 s */
        put_seq(b, i);
        assert_int_equal(tw_transport_sendto(c.t, b, 4, NULL), 0);
        assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    }
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(1)), 0);
    for (uint32_t i = 0; i < 30; i++)
        assert_int_equal(s.count[i], i >= 10 && i < 20 ? 0 : 1);
    uint64_t hit = 0;
    assert_int_equal(tw_sim_fault_effect(w.env.sim, id, &hit), 0);
    assert_int_equal(hit, 10); /* its effect: the ten datagrams it dropped */
    free(s.count);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

/* A one-way impairment holds for a -> b only; a two-way one for both. */
static void test_sim_dgram_impairment_directions(void **state)
{
    (void)state;
    world w;
    world_new(&w, 55, NULL);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    tw_addr from = drec_sockname(&c);
    tw_sim_dgram_opts d = {.loss_probability = 1};
    for (int oneway = 1; oneway >= 0; oneway--) {
        assert_int_equal(tw_sim_dgram_impair(w.env.sim, w.a, w.b, &d, 0, oneway), 0);
        tw_run_slice(&w.env);
        assert_int_equal(tw_transport_sendto(c.t, "ab", 2, NULL), 0);
        assert_int_equal(tw_transport_sendto(r.t, "ba", 2, &from), 0);
        assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
        assert_int_equal(r.datagrams, 0);
        assert_int_equal(c.datagrams, 1); /* b -> a: only the one-way let it by */
    }
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_lost, 3);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

static void test_sim_dgram_refusal_fault(void **state)
{
    (void)state;
    world w;
    world_new(&w, 53, NULL);
    drec r, c, u;
    drec_init(&r);
    drec_init(&c);
    drec_init(&u);
    tw_addr to = open_pair(&w, &r, &c);
    open_on(&w, w.a, &u, "10.0.0.1", 0, NULL);
    tw_sim_dgram_opts d = {.refuse_probability = 1};
    assert_int_equal(tw_sim_dgram_impair(w.env.sim, w.a, w.b, &d, 0, true), 0);
    tw_run_slice(&w.env);
    assert_int_equal(tw_transport_sendto(c.t, "c", 1, NULL), 0);
    assert_int_equal(tw_transport_sendto(u.t, "u", 1, &to), 0);
    TW_WAIT(&w.env, c.errors == 1);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    /* the receiver heard nothing; only the connected sender was told */
    assert_int_equal(r.datagrams, 0);
    assert_int_equal(c.last_err, -ECONNREFUSED);
    assert_int_equal(u.errors, 0);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_refused, 2);
    close_on(&w, &c);
    close_on(&w, &u);
    close_on(&w, &r);
    world_free(&w);
}

/* c sends a datagram into a cut between a and b: r gets nothing. */
static void send_into_a_cut(world *w, drec *r, drec *c)
{
    assert_int_equal(tw_sim_partition(w->env.sim, w->a, w->b, false), 0);
    tw_run_slice(&w->env);
    assert_int_equal(tw_transport_sendto(c->t, "cut", 3, NULL), 0);
    assert_int_equal(tw_sim_run_for(w->env.sim, TW_MS(100)), 0);
    assert_int_equal(r->datagrams, 0);
}

static void test_sim_dgram_partition_loses_clog_holds(void **state)
{
    (void)state;
    world w;
    world_new(&w, 54, NULL);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    send_into_a_cut(&w, &r, &c);
    assert_int_equal(c.errors, 0); /* a partition says nothing */
    assert_int_equal(tw_sim_heal(w.env.sim, w.a, w.b), 0);
    tw_run_slice(&w.env);
    assert_int_equal(tw_transport_sendto(c.t, "healed", 6, NULL), 0);
    TW_WAIT(&w.env, r.datagrams == 1);
    /* a clog holds datagrams back, and loses none */
    assert_int_equal(tw_sim_clog(w.env.sim, w.a, w.b, TW_MS(500), true), 0);
    tw_run_slice(&w.env);
    tw_ns t0 = tw_sim_now(w.env.sim);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tw_transport_sendto(c.t, "held", 4, NULL), 0);
    TW_WAIT(&w.env, r.datagrams == 6);
    assert_true(tw_sim_now(w.env.sim) - t0 >= TW_MS(480));
    assert_int_equal(drec_count_equal(&r, "held", 4), 5);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
}

/* A datagram a cut path drops is traced with why by name, in text and
 * in JSON, as an error is ("why=cut", not a number to look up). */
static void drop_traced(bool json, const char *want)
{
    char *text = NULL;
    size_t len = 0;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.trace_file = open_memstream(&text, &len);
    o.trace_json = json;
    world w;
    world_new(&w, 55, &o);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    send_into_a_cut(&w, &r, &c);
    close_on(&w, &c);
    close_on(&w, &r);
    world_free(&w);
    fclose(o.trace_file);
    if (!strstr(text, want))
        fail_msg("no \"%s\" in the trace:\n%s", want, text);
    free(text);
}

static void test_sim_dgram_drop_says_why_by_name(void **state)
{
    (void)state;
    drop_traced(false, " b t0 dg_drop len=3 why=cut\n");
    drop_traced(true, "\"what\": \"dg_drop\", \"len\": 3, \"why\": \"cut\"}");
}

/* ------------------------------------------------------------------ */
/* what a send and an arrival remember                                 */

/* A sender's datagrams to one address reach the endpoint bound there
 * now: after the one they reached closes, the next finds nobody; once
 * another binds the port, the next one reaches the new one. */
static void test_sim_dgram_reaches_the_endpoint_bound_now(void **state)
{
    (void)state;
    world w;
    world_new(&w, 71, NULL);
    drec r1, r2, c;
    drec_init(&r1);
    drec_init(&r2);
    drec_init(&c);
    open_on(&w, w.b, &r1, "10.0.0.2", 0, NULL);
    tw_addr to = drec_sockname(&r1);
    open_on(&w, w.a, &c, "10.0.0.1", 0, NULL); /* not connected */
    assert_int_equal(tw_transport_sendto(c.t, "one", 3, &to), 0);
    TW_WAIT(&w.env, r1.datagrams == 1);
    close_on(&w, &r1);
    /* nobody there now: refused (an unconnected sender is not told) */
    assert_int_equal(tw_transport_sendto(c.t, "none", 4, &to), 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(10)), 0);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_refused, 1);
    assert_int_equal(c.errors, 0);
    open_on(&w, w.b, &r2, "10.0.0.2", tw_addr_port(&to), NULL);
    assert_int_equal(tw_transport_sendto(c.t, "two", 3, &to), 0);
    TW_WAIT(&w.env, r2.datagrams == 1);
    assert_int_equal(drec_count_equal(&r2, "two", 3), 1);
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_refused, 1);
    close_on(&w, &c);
    close_on(&w, &r2);
    world_free(&w);
}

/* Datagrams to an address no node has are dropped; once a node with
 * that address joins the world, the same sender's next ones reach it. */
static void test_sim_dgram_reaches_a_node_added_later(void **state)
{
    (void)state;
    world w;
    world_new(&w, 72, NULL);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_on(&w, w.a, &c, "10.0.0.1", 0, NULL);
    tw_addr to = ip("10.0.0.3", 7000);
    assert_int_equal(tw_transport_sendto(c.t, "nobody", 6, &to), 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(10)), 0);
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_int_equal(st.dgrams_dropped, 1); /* no route */
    tw_loop *late = tw_sim_add_node(w.env.sim, "late", "10.0.0.3");
    assert_non_null(late);
    open_on(&w, late, &r, "10.0.0.3", 7000, NULL);
    assert_int_equal(tw_transport_sendto(c.t, "somebody", 8, &to), 0);
    TW_WAIT(&w.env, r.datagrams == 1);
    assert_int_equal(drec_count_equal(&r, "somebody", 8), 1);
    close_on(&w, &c);
    close_on(&w, &r);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(1)), 0);
    assert_int_equal(tw_loop_alive(late), 0);
    world_free(&w);
}

/* Datagrams sent at once on one path arrive in the order they were
 * sent, each one latency draw later at the earliest; while they are on
 * their way, the world counts each as an event queued. */
static void test_sim_dgram_arrivals_in_order_and_counted(void **state)
{
    (void)state;
    world w;
    drec r, c;
    seqs s;
    tw_sim_dgram_opts d = {0};
    rate_setup(&w, 73, &d, false, &r, &c, &s);
    tw_sim_stats before, during;
    tw_sim_get_stats(w.env.sim, &before);
    uint8_t b[4];
    for (uint32_t i = 0; i < 200; i++) {
        put_seq(b, i);
        assert_int_equal(tw_transport_sendto(c.t, b, 4, NULL), 0);
    }
    tw_sim_get_stats(w.env.sim, &during);
    if (during.events_queued < before.events_queued + 200)
        fail_msg("200 datagrams on their way, %u events queued (%u before)",
                 during.events_queued, before.events_queued);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(1)), 0);
    assert_int_equal(s.total, 200);
    assert_int_equal(s.late, 0); /* no overtaking on one path */
    for (uint32_t i = 0; i < 200; i++)
        assert_int_equal(s.count[i], 1);
    rate_teardown(&w, &r, &c, &s);
}

static int no_app(tw_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return 0;
}

static void test_sim_dgram_crash_and_restart(void **state)
{
    (void)state;
    world w;
    world_new(&w, 55, NULL);
    assert_int_equal(tw_sim_node_set_start(w.b, no_app, NULL), 0);
    drec r, c;
    drec_init(&r);
    drec_init(&c);
    open_pair(&w, &r, &c);
    assert_int_equal(tw_sim_crash(w.b), 0);
    tw_run_slice(&w.env);
    assert_true(r.released); /* a crash: release only */
    assert_int_equal(r.lost, 0);
    /* a dead host answers nothing */
    assert_int_equal(tw_transport_sendto(c.t, "anyone", 6, NULL), 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    assert_int_equal(c.errors, 0);
    /* back, without the endpoint: the port is closed, refused */
    assert_int_equal(tw_sim_restart(w.b), 0);
    tw_run_slice(&w.env);
    assert_int_equal(tw_transport_sendto(c.t, "again", 5, NULL), 0);
    TW_WAIT(&w.env, c.errors == 1);
    assert_int_equal(c.last_err, -ECONNREFUSED);
    drec_free(&r);
    close_on(&w, &c);
    world_free(&w);
}

/* Ends by a node's name: the simulator resolves it as its stream
 * connects do, from the loop. */
static int drec_factory_calls;

static tw_protocol *counted_drec(void *r)
{
    drec_factory_calls++;
    return drec_factory(r);
}

static void test_sim_dgram_node_names(void **state)
{
    (void)state;
    world w;
    world_new(&w, 57, NULL);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    tw_env eb = w.env;
    eb.loop = w.b;
    tw_datagram_opts so = {.local_host = "b", .local_port = 5353};
    drec_open(&eb, &s, &so);
    tw_addr sa = drec_sockname(&s);
    tw_addr want = ip("10.0.0.2", 5353);
    assert_true(tw_addr_equal(&sa, &want));
    tw_datagram_opts co = {.remote_host = "b", .remote_port = 5353};
    assert_int_equal(tw_create_datagram_endpoint(w.a, drec_factory, &c, &co,
                                                 drec_cb), 0);
    assert_false(c.cb_called);
    TW_WAIT(&w.env, c.cb_called);
    assert_int_equal(c.cb_err, 0);
    tw_addr peer;
    assert_int_equal(tw_transport_peername(c.t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &want));
    assert_int_equal(tw_transport_sendto(c.t, "to b", 4, NULL), 0);
    TW_WAIT(&w.env, c.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&c, 0)->data, "to b", 4);
    tw_addr ca = drec_sockname(&c);
    assert_true(tw_addr_equal(&drec_msg_at(&s, 0)->from, &ca));
    tw_addr a_ip = ip("10.0.0.1", tw_addr_port(&ca));
    assert_true(tw_addr_equal(&ca, &a_ip));
    /* another node's name is no address to bind here */
    drec x;
    drec_init(&x);
    tw_datagram_opts xo = {.local_host = "a"};
    assert_int_equal(tw_create_datagram_endpoint(w.b, drec_factory, &x, &xo,
                                                 drec_cb), 0);
    TW_WAIT(&w.env, x.cb_called);
    assert_int_equal(x.cb_err, -EADDRNOTAVAIL);
    assert_int_equal(x.made, 0);
    drec_free(&x);
    close_on(&w, &c);
    close_on(&w, &s);
    world_free(&w);
}

/* A node that crashes while its endpoint's name is being resolved: the
 * lookup goes with the loop, nothing is called or leaked, and the node
 * works again after a restart. */
static void test_sim_dgram_crash_while_resolving(void **state)
{
    (void)state;
    world w;
    world_new(&w, 58, NULL);
    assert_int_equal(tw_sim_node_set_start(w.b, no_app, NULL), 0);
    drec r, r2;
    drec_init(&r);
    drec_init(&r2);
    drec_factory_calls = 0;
    tw_datagram_opts o = {.local_host = "b", .remote_host = "a",
                          .remote_port = 9};
    tw_run_slice(&w.env); /* b has nothing left to run now */
    /* the crash is due now, before the lookup's answer */
    assert_int_equal(tw_sim_crash(w.b), 0);
    assert_int_equal(tw_create_datagram_endpoint(w.b, counted_drec, &r, &o,
                                                 drec_cb), 0);
    assert_true(tw_loop_alive(w.b) > 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    assert_false(r.cb_called);
    assert_int_equal(drec_factory_calls, 0); /* never called */
    assert_int_equal(r.made, 0);
    assert_int_equal(tw_loop_alive(w.b), 0);
    /* a crashed node makes nothing */
    assert_int_equal(tw_create_datagram_endpoint(w.b, counted_drec, &r2, &o,
                                                 drec_cb), -ENETDOWN);
    assert_int_equal(tw_sim_restart(w.b), 0);
    tw_run_slice(&w.env);
    assert_int_equal(tw_create_datagram_endpoint(w.b, counted_drec, &r2, &o,
                                                 drec_cb), 0);
    TW_WAIT(&w.env, r2.cb_called);
    assert_int_equal(r2.cb_err, 0);
    assert_int_equal(drec_factory_calls, 1);
    assert_false(r.cb_called);
    drec_free(&r);
    close_on(&w, &r2);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* apps                                                                */

struct app_run {
    const tw_app *app;
    void *state;
    FILE *out;
    char *text;
    size_t len;
};

static void app_start(struct app_run *a, tw_loop *loop, const char *name,
                      int argc, char **argv)
{
    a->app = tw_app_find(name);
    assert_non_null(a->app);
    a->out = open_memstream(&a->text, &a->len);
    assert_non_null(a->out);
    assert_int_equal(a->app->start(loop, argc, argv, a->out, &a->state), 0);
}

static void app_end(struct app_run *a)
{
    a->app->free(a->state);
    fclose(a->out);
}

/* The reference text's UDP echo pair on two simulated nodes, over a
 * path that loses a third of the datagrams each way: the client's
 * resends get every echo through. */
static void test_sim_udp_echo_apps(void **state)
{
    (void)state;
    world w;
    world_new(&w, 61, NULL);
    tw_sim_path_opts po = {.dgram.loss_probability = 0.3};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.b, &po), 0);
    assert_int_equal(tw_sim_path_set(w.env.sim, w.b, w.a, &po), 0);
    struct app_run srv, cli;
    char *sargv[] = {"udp-echo-server", "--host", "10.0.0.2", NULL};
    app_start(&srv, w.b, "udp-echo-server", 3, sargv);
    char *cargv[] = {"udp-echo-client", "--connect", "10.0.0.2:9999",
                     "--message", "over the sim", "--count", "20",
                     "--timeout", "100", "--retries", "100", NULL};
    app_start(&cli, w.a, "udp-echo-client", 11, cargv);
    TW_WAIT(&w.env, tw_udp_echo_client_done(cli.state));
    assert_int_equal(cli.app->result(cli.state), 0);
    assert_true(tw_udp_echo_client_sends(cli.state) > 20); /* resent some */
    app_end(&cli);
    app_end(&srv);
    assert_non_null(strstr(srv.text, "Serving on 10.0.0.2:9999"));
    assert_non_null(strstr(srv.text, "Received 'over the sim' from 10.0.0.1:"));
    assert_non_null(strstr(cli.text, "Received: 'over the sim'"));
    assert_non_null(strstr(cli.text, "Connection closed"));
    free(srv.text);
    free(cli.text);
    world_free(&w);
}

/* The same apps given node names: "--host b", "--connect b:9999". */
static void test_sim_udp_echo_apps_by_node_name(void **state)
{
    (void)state;
    world w;
    world_new(&w, 62, NULL);
    struct app_run srv, cli;
    char *sargv[] = {"udp-echo-server", "--host", "b", NULL};
    app_start(&srv, w.b, "udp-echo-server", 3, sargv);
    char *cargv[] = {"udp-echo-client", "--connect", "b:9999", "--bind", "a:0",
                     "--message", "named", "--count", "3", NULL};
    app_start(&cli, w.a, "udp-echo-client", 9, cargv);
    TW_WAIT(&w.env, tw_udp_echo_client_done(cli.state));
    assert_int_equal(cli.app->result(cli.state), 0);
    app_end(&cli);
    app_end(&srv);
    assert_non_null(strstr(srv.text, "Serving on 10.0.0.2:9999"));
    assert_non_null(strstr(srv.text, "Received 'named' from 10.0.0.1:"));
    assert_non_null(strstr(cli.text, "Received: 'named'"));
    free(srv.text);
    free(cli.text);
    /* a name no node has: the server says so, and never serves */
    struct app_run bad;
    char *bargv[] = {"udp-echo-server", "--host", "c", NULL};
    app_start(&bad, w.a, "udp-echo-server", 3, bargv);
    tw_run_slice(&w.env);
    assert_int_equal(bad.app->result(bad.state), 1);
    app_end(&bad);
    assert_non_null(strstr(bad.text, "cannot bind c:9999: name does not resolve: "));
    assert_null(strstr(bad.text, "Serving on"));
    free(bad.text);
    world_free(&w);
}

/* ------------------------------------------------------------------ */
/* determinism                                                         */

/* Every datagram fate on, plus the swarm's datagram faults; returns the
 * trace hash, and the trace text when asked. */
static uint64_t impaired_run(uint64_t seed, char **text, size_t *len)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    FILE *f = text ? open_memstream(text, len) : NULL;
    o.trace_file = f;
    tw_sim_dgram_opts d = {.enobufs_probability = 0.01, .loss_probability = 0.05,
                           .refuse_probability = 0.02,
                           .duplicate_probability = 0.05,
                           .reorder_probability = 0.05,
                           .corrupt_probability = 0.05};
    o.net.dgram = d;
    world w;
    world_new(&w, seed, &o);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    s.count_only = true;
    c.count_only = true;
    open_pair(&w, &s, &c);
    tw_sim_swarm_spec spec;
    tw_ns t0 = tw_sim_now(w.env.sim);
    tw_sim_swarm_spec_default(&spec, t0 + TW_SEC(4));
    spec.from = t0;
    spec.kinds = 1u << TW_SIM_FAULT_DGRAM | 1u << TW_SIM_FAULT_ENOBUFS;
    spec.count_min = spec.count_max = 20;
    spec.dur_max = TW_MS(500);
    assert_int_equal(tw_sim_swarm(w.env.sim, &spec), 20);
    uint8_t b[16] = {0};
    for (uint32_t i = 0; i < 2000; i++) {
        put_seq(b, i);
        assert_int_equal(tw_transport_sendto(c.t, b, sizeof b, NULL), 0);
        assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(2)), 0);
    }
    tw_sim_stats st;
    tw_sim_get_stats(w.env.sim, &st);
    assert_true(st.faults > 0);
    assert_true(c.datagrams > 0 && c.errors > 0);
    close_on(&w, &c);
    close_on(&w, &s);
    uint64_t h = tw_sim_trace_hash(w.env.sim);
    world_free(&w);
    if (f)
        fclose(f);
    return h;
}

/* The impairments a swarm's dgram faults draw, counted over many seeds:
 * one bit each for drop, duplicate, reorder, corrupt, refuse. */
typedef struct drawn_dgram {
    unsigned seen; /* TW_SIM_SWARM_DGRAM_* bits drawn */
    int faults;
} drawn_dgram;

static int count_dgram(void *arg, tw_ns at, const tw_sim_fault *f)
{
    (void)at;
    drawn_dgram *d = arg;
    const tw_sim_dgram_opts *o = &f->dgram;
    d->faults++;
    d->seen |= (o->loss_probability > 0 ? TW_SIM_SWARM_DGRAM_DROP : 0) |
               (o->duplicate_probability > 0 ? TW_SIM_SWARM_DGRAM_DUPLICATE : 0) |
               (o->reorder_probability > 0 ? TW_SIM_SWARM_DGRAM_REORDER : 0) |
               (o->corrupt_probability > 0 ? TW_SIM_SWARM_DGRAM_CORRUPT : 0) |
               (o->refuse_probability > 0 ? TW_SIM_SWARM_DGRAM_REFUSE : 0);
    return 0;
}

/* dgram_kinds picks the impairments the swarm's dgram kind draws: left
 * at 0 it draws all five; without corrupt, no seed's fault corrupts, and
 * the other four still come. A bit that is no impairment is refused. */
static void test_sim_swarm_dgram_kinds(void **state)
{
    (void)state;
    tw_sim_swarm_spec spec;
    tw_sim_swarm_spec_default(&spec, TW_SEC(4));
    spec.kinds = 1u << TW_SIM_FAULT_DGRAM;
    spec.count_min = spec.count_max = 4;
    drawn_dgram all = {0}, some = {0};
    for (uint64_t seed = 1; seed <= 200; seed++)
        assert_int_equal(tw_sim_swarm_draw(&spec, seed, 2, count_dgram, &all), 4);
    assert_int_equal(all.seen, TW_SIM_SWARM_DGRAM_ALL);
    spec.dgram_kinds = TW_SIM_SWARM_DGRAM_ALL & ~TW_SIM_SWARM_DGRAM_CORRUPT;
    for (uint64_t seed = 1; seed <= 200; seed++)
        assert_int_equal(tw_sim_swarm_draw(&spec, seed, 2, count_dgram, &some), 4);
    assert_int_equal(some.faults, 800);
    assert_int_equal(some.seen, TW_SIM_SWARM_DGRAM_ALL & ~TW_SIM_SWARM_DGRAM_CORRUPT);
    spec.dgram_kinds = TW_SIM_SWARM_DGRAM_CORRUPT;
    drawn_dgram only = {0};
    assert_int_equal(tw_sim_swarm_draw(&spec, 7, 2, count_dgram, &only), 4);
    assert_int_equal(only.seen, TW_SIM_SWARM_DGRAM_CORRUPT);
    spec.dgram_kinds = 1u << 5;
    const char *why = NULL;
    assert_int_equal(tw_sim_swarm_spec_check(&spec, 2, &why), -EINVAL);
    assert_non_null(strstr(why, "dgram_kinds"));
}

static void test_sim_dgram_same_seed_same_trace(void **state)
{
    (void)state;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    uint64_t h1 = impaired_run(71, &t1, &l1);
    uint64_t h2 = impaired_run(71, &t2, &l2);
    assert_true(h1 == h2);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    /* every fate is in the trace */
    const char *whats[] = {" dg_send ", " dg_loss ", " dg_dup ", " dg_reorder ",
                           " dg_corrupt ", " dg_refused ", " dg_icmp ",
                           " dg_enobufs ", " dg_arrive ", " datagram_received\n",
                           " error_received\n", " dgram_fault "};
    for (size_t i = 0; i < sizeof whats / sizeof whats[0]; i++)
        if (!strstr(t1, whats[i]))
            fail_msg("no '%s' record in the trace", whats[i]);
    assert_true(impaired_run(72, NULL, NULL) != h1);
    free(t1);
    free(t2);
}

/* ------------------------------------------------------------------ */
/* Unix datagrams                                                      */

static tw_addr ux(const char *path)
{
    tw_addr a;
    assert_int_equal(tw_addr_unix(&a, path), 0);
    return a;
}

/* A Unix endpoint on `loop`: bound to path (NULL: unbound), connected to
 * remote (NULL: not). */
static void open_unix_on(world *w, tw_loop *loop, drec *r, const char *path,
                         const char *remote)
{
    tw_env env = w->env;
    env.loop = loop;
    tw_datagram_opts o = {.family = AF_UNIX};
    if (path)
        o.local = ux(path);
    if (remote)
        o.remote = ux(remote);
    drec_open(&env, r, &o);
}

/* Each node has its own file system and abstract namespace. */
static void test_sim_unix_dgram_paths_are_per_node(void **state)
{
    (void)state;
    world w;
    world_new(&w, 81, NULL);
    drec ra, rb, ua, ub, oa, xa, k;
    drec_init(&ra);
    drec_init(&rb);
    drec_init(&ua);
    drec_init(&ub);
    drec_init(&oa);
    drec_init(&xa);
    drec_init(&k);
    /* the same path on two nodes: two sockets, neither replaces the other */
    open_unix_on(&w, w.a, &ra, "/run/x.sock", NULL);
    open_unix_on(&w, w.b, &rb, "/run/x.sock", NULL);
    open_unix_on(&w, w.a, &ua, NULL, NULL);
    open_unix_on(&w, w.b, &ub, NULL, NULL);
    tw_addr x = ux("/run/x.sock");
    assert_int_equal(tw_transport_sendto(ua.t, "from-a", 6, &x), 0);
    assert_int_equal(tw_transport_sendto(ub.t, "from-b", 6, &x), 0);
    TW_WAIT(&w.env, ra.nmsgs == 1 && rb.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&ra, 0)->data, "from-a", 6);
    assert_memory_equal(drec_msg_at(&rb, 0)->data, "from-b", 6);
    /* a's names mean nothing on b */
    open_unix_on(&w, w.a, &oa, "/run/only-a", NULL);
    open_unix_on(&w, w.a, &xa, "@only-a", NULL);
    tw_addr only = ux("/run/only-a"), abs = ux("@only-a");
    assert_int_equal(tw_transport_sendto(ub.t, "?", 1, &only), 0);
    assert_int_equal(ub.last_err, -ENOENT);
    assert_int_equal(tw_transport_sendto(ub.t, "?", 1, &abs), 0);
    assert_int_equal(ub.last_err, -ECONNREFUSED);
    assert_int_equal(ub.errors, 2);
    tw_datagram_opts ko = {.remote = only};
    assert_int_equal(tw_create_datagram_endpoint(w.b, drec_factory, &k, &ko,
                                                 drec_cb), -ENOENT);
    /* an abstract name may be taken on each node once */
    open_unix_on(&w, w.b, &k, "@only-a", NULL);
    assert_int_equal(tw_transport_sendto(ua.t, "a", 1, &abs), 0);
    assert_int_equal(tw_transport_sendto(ub.t, "b", 1, &abs), 0);
    TW_WAIT(&w.env, xa.nmsgs == 1 && k.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&xa, 0)->data, "a", 1);
    assert_memory_equal(drec_msg_at(&k, 0)->data, "b", 1);
    assert_int_equal(oa.nmsgs + ra.errors + rb.errors + ua.errors, 0);
    drec *all[] = {&ra, &rb, &ua, &ub, &oa, &xa, &k};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        close_on(&w, all[i]);
    world_free(&w);
}

typedef struct unix_seen {
    tw_sim *sim;
    uint32_t next;      /* the number expected next */
    tw_ns last;         /* when the last one was handed over */
    int bad;            /* out of order or damaged */
} unix_seen;

static void unix_numbered(drec *r, const uint8_t *d, size_t n,
                          const tw_addr *from)
{
    (void)from;
    unix_seen *s = r->user;
    uint8_t want[64];
    for (size_t i = 0; i < sizeof want; i++)
        want[i] = tw_pattern(s->next, i);
    if (n != sizeof want || memcmp(d, want, n) != 0)
        s->bad++;
    s->next++;
    s->last = tw_sim_now(s->sim);
}

/* A Unix datagram never leaves its node: every datagram fault of the
 * node's loopback path, a clog of it and a burst of ENOBUFS leave it
 * alone. All arrive once, intact, in order, with no delay. */
static void test_sim_unix_dgram_no_network_faults(void **state)
{
    (void)state;
    world w;
    world_new(&w, 82, NULL);
    tw_sim_path_opts po = {.dgram = {.loss_probability = 0.5,
                                     .refuse_probability = 0.5,
                                     .duplicate_probability = 0.5,
                                     .reorder_probability = 0.5,
                                     .corrupt_probability = 0.5,
                                     .enobufs_probability = 0.5}};
    po.latency.kind = TW_SIM_DIST_CONSTANT;
    po.latency.min_ns = TW_MS(5);
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.a, &po), 0);
    assert_int_equal(tw_sim_clog(w.env.sim, w.a, w.a, TW_SEC(10), true), 0);
    assert_int_equal(tw_sim_enobufs(w.a, 3), 0);
    tw_run_slice(&w.env);
    drec r, c, s, u;
    drec_init(&r);
    drec_init(&c);
    drec_init(&s);
    drec_init(&u);
    unix_seen seen = {.sim = w.env.sim};
    r.count_only = true;
    r.user = &seen;
    r.on_datagram = unix_numbered;
    open_unix_on(&w, w.a, &r, "/run/r", NULL);
    open_unix_on(&w, w.a, &c, NULL, "/run/r");
    tw_sim_stats before, after;
    tw_sim_get_stats(w.env.sim, &before);
    tw_ns t0 = tw_sim_now(w.env.sim);
    uint8_t b[64];
    for (uint32_t i = 0; i < 1000; i++) {
        for (size_t j = 0; j < sizeof b; j++)
            b[j] = tw_pattern(i, j);
        assert_int_equal(tw_transport_sendto(c.t, b, sizeof b, NULL), 0);
    }
    TW_WAIT(&w.env, seen.next == 1000);
    assert_int_equal(seen.bad, 0);
    assert_int_equal(seen.last, t0); /* no latency, the clog ignored */
    assert_int_equal(c.errors + r.errors, 0);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(100)), 0);
    assert_int_equal(r.datagrams, 1000); /* no copies either */
    tw_sim_get_stats(w.env.sim, &after);
    assert_int_equal(after.dgrams_sent - before.dgrams_sent, 1000);
    assert_int_equal(after.dgrams_delivered - before.dgrams_delivered, 1000);
    assert_int_equal(after.dgrams_lost + after.dgrams_duplicated +
                     after.dgrams_reordered + after.dgrams_corrupted +
                     after.dgrams_refused + after.dgrams_dropped, 0);
    /* the faults are on: UDP over the same loopback path meets them */
    open_on(&w, w.a, &s, "127.0.0.1", 0, NULL);
    tw_addr to = drec_sockname(&s);
    open_on(&w, w.a, &u, "127.0.0.1", 0, NULL);
    for (int i = 0; i < 100; i++)
        assert_int_equal(tw_transport_sendto(u.t, "udp", 3, &to), 0);
    assert_true(u.errors >= 3); /* ENOBUFS, scripted and drawn */
    assert_int_equal(u.last_err, -ENOBUFS);
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(1)), 0);
    assert_int_equal(s.datagrams, 0); /* held by the clog */
    assert_int_equal(tw_sim_run_for(w.env.sim, TW_SEC(10)), 0);
    tw_sim_get_stats(w.env.sim, &after);
    assert_true(s.datagrams > 0 && after.dgrams_lost > 0);
    close_on(&w, &c);
    close_on(&w, &r);
    close_on(&w, &s);
    close_on(&w, &u);
    world_free(&w);
}

/* The bounds of Linux: a receiver queues 11 datagrams (more than
 * max_dgram_qlen, 10) before its senders get EAGAIN, unless it is
 * connected to the sender; then only the sender's buffer bounds them. */
static void test_sim_unix_dgram_queue_bounds(void **state)
{
    (void)state;
    world w;
    world_new(&w, 83, NULL);
    tw_sim_path_opts po = {.dgram.sndbuf_bytes = 10000};
    assert_int_equal(tw_sim_path_set(w.env.sim, w.a, w.a, &po), 0);
    drec r, c, p, q;
    drec_init(&r);
    drec_init(&c);
    drec_init(&p);
    drec_init(&q);
    open_unix_on(&w, w.a, &r, "/run/r", NULL);
    open_unix_on(&w, w.a, &c, NULL, "/run/r");
    static uint8_t msg[10000];
    for (int i = 0; i < 11; i++)
        assert_int_equal(tw_transport_sendto(c.t, msg, 100, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    assert_int_equal(tw_transport_sendto(c.t, msg, 100, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 108);
    TW_WAIT(&w.env, r.nmsgs == 12);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    /* p is connected to q: q's datagrams to p fill q's 10,000-byte
     * buffer (1,008 bytes each) instead */
    open_unix_on(&w, w.a, &q, "/run/q", NULL);
    open_unix_on(&w, w.a, &p, "/run/p", "/run/q");
    tw_addr pa = ux("/run/p");
    for (int i = 0; i < 10; i++)
        assert_int_equal(tw_transport_sendto(q.t, msg, 1000, &pa), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(q.t), 0);
    assert_int_equal(tw_transport_sendto(q.t, msg, 1000, &pa), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(q.t), 1008);
    TW_WAIT(&w.env, p.nmsgs == 11);
    assert_int_equal(tw_transport_get_write_buffer_size(q.t), 0);
    /* the largest datagram: the send buffer less 32 bytes */
    assert_int_equal(tw_transport_sendto(c.t, msg, 9968, NULL), 0);
    assert_int_equal(c.errors, 0);
    assert_int_equal(tw_transport_sendto(c.t, msg, 9969, NULL), 0);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.last_err, -EMSGSIZE);
    TW_WAIT(&w.env, r.nmsgs == 13);
    assert_int_equal(drec_msg_at(&r, 12)->len, 9968);
    assert_int_equal(p.errors + q.errors + r.errors, 0);
    close_on(&w, &c);
    close_on(&w, &r);
    close_on(&w, &p);
    close_on(&w, &q);
    world_free(&w);
}

/* A crash kills the node's endpoints (release only). Their socket files
 * stay, stale: a sender is refused (not told ENOENT), and a new bind
 * replaces the file; abstract names go with the endpoints. The other
 * node's namespace is untouched. */
static void test_sim_unix_dgram_crash_and_restart(void **state)
{
    (void)state;
    world w;
    world_new(&w, 84, NULL);
    assert_int_equal(tw_sim_node_set_start(w.b, no_app, NULL), 0);
    drec r, n, k, ra, ua, u, r2, n2;
    drec_init(&r);
    drec_init(&n);
    drec_init(&k);
    drec_init(&ra);
    drec_init(&ua);
    drec_init(&u);
    drec_init(&r2);
    drec_init(&n2);
    open_unix_on(&w, w.b, &r, "/run/b.sock", NULL);
    open_unix_on(&w, w.b, &n, "@b-name", NULL);
    open_unix_on(&w, w.b, &k, NULL, "/run/b.sock");
    open_unix_on(&w, w.a, &ra, "/run/b.sock", NULL);
    open_unix_on(&w, w.a, &ua, NULL, "/run/b.sock");
    /* k fills r's queue and more: some of it waits in k's transport */
    static uint8_t msg[100];
    for (int i = 0; i < 20; i++)
        assert_int_equal(tw_transport_sendto(k.t, msg, sizeof msg, NULL), 0);
    assert_true(tw_transport_get_write_buffer_size(k.t) > 0);
    assert_int_equal(tw_sim_crash(w.b), 0);
    tw_run_slice(&w.env);
    assert_true(r.released && n.released && k.released);
    assert_int_equal(r.lost + n.lost + k.lost, 0);
    tw_env envb = w.env;
    envb.loop = w.b;
    tw_datagram_opts uo = {.family = AF_UNIX};
    assert_int_equal(tw_create_datagram_endpoint(w.b, drec_factory, &u, &uo,
                                                 drec_cb), -ENETDOWN);
    /* node a goes on with its own /run/b.sock */
    assert_int_equal(tw_transport_sendto(ua.t, "a", 1, NULL), 0);
    TW_WAIT(&w.env, ra.nmsgs == 1);
    assert_int_equal(tw_sim_restart(w.b), 0);
    tw_run_slice(&w.env);
    drec_open(&envb, &u, &uo);
    tw_addr path = ux("/run/b.sock"), name = ux("@b-name");
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &path), 0);
    assert_int_equal(u.errors, 1);
    assert_int_equal(u.last_err, -ECONNREFUSED); /* a stale file */
    tw_datagram_opts ko = {.remote = path};
    assert_int_equal(tw_create_datagram_endpoint(w.b, drec_factory, &k, &ko,
                                                 drec_cb), -ECONNREFUSED);
    /* the app of the new life binds both names again */
    open_unix_on(&w, w.b, &r2, "/run/b.sock", NULL);
    open_unix_on(&w, w.b, &n2, "@b-name", NULL);
    assert_int_equal(tw_transport_sendto(u.t, "p", 1, &path), 0);
    assert_int_equal(tw_transport_sendto(u.t, "n", 1, &name), 0);
    TW_WAIT(&w.env, r2.nmsgs == 1 && n2.nmsgs == 1);
    assert_int_equal(u.errors, 1);
    assert_int_equal(ra.nmsgs, 1);
    drec_free(&r);
    drec_free(&n);
    drec_free(&k);
    close_on(&w, &u);
    close_on(&w, &r2);
    close_on(&w, &n2);
    close_on(&w, &ua);
    close_on(&w, &ra);
    world_free(&w);
}

/* When UDP datagrams were sent, and when they arrived. */
typedef struct stamps {
    tw_sim *sim;
    tw_ns sent[20], at[20];
} stamps;

static void stamp(drec *r, const uint8_t *d, size_t n, const tw_addr *from)
{
    (void)d;
    (void)n;
    (void)from;
    stamps *st = r->user;
    if (r->datagrams <= 20)
        st->at[r->datagrams - 1] = tw_sim_now(st->sim);
}

/* Unix endpoints on node a: an echo server, a connected client that
 * sends more than the server's queue holds (and so pushes back), an
 * autobound one, an unbound one sending where nobody is, and a path
 * taken over halfway; along with them, 20 UDP datagrams from a to b.
 * Returns the trace hash, and the trace text when asked; *ip_delays
 * (when given) gets how long each UDP datagram took. */
static uint64_t unix_run(uint64_t seed, bool with_unix, char **text,
                         size_t *len, tw_ns *ip_delays)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    FILE *f = text ? open_memstream(text, len) : NULL;
    o.trace_file = f;
    world w;
    world_new(&w, seed, &o);
    drec s, c, u, a, x, ip_r, ip_c;
    drec *ds[] = {&s, &c, &u, &a, &x, &ip_r, &ip_c};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        drec_init(ds[i]);
    s.echo = true;
    s.count_only = c.count_only = a.count_only = x.count_only = true;
    stamps st = {.sim = w.env.sim};
    ip_r.count_only = true;
    ip_r.user = &st;
    ip_r.on_datagram = stamp;
    open_pair(&w, &ip_r, &ip_c);
    if (with_unix) {
        open_unix_on(&w, w.a, &s, "/run/echo", NULL);
        open_unix_on(&w, w.a, &c, "/run/c", "/run/echo");
        assert_int_equal(tw_transport_set_write_buffer_limits(c.t, 500, 0), 0);
        open_unix_on(&w, w.a, &u, NULL, NULL);
        tw_datagram_opts ao = {.local = {.len = offsetof(struct sockaddr_un, sun_path)}};
        ao.local.u.un.sun_family = AF_UNIX;
        drec_open(&w.env, &a, &ao);
    }
    tw_addr echo = ux("/run/echo"), nobody = ux("/run/nobody");
    uint8_t b[200];
    memset(b, 0x5A, sizeof b);
    for (int i = 0; i < 20; i++) {
        if (with_unix) {
            for (int j = 0; j < 15; j++) /* more than the queue holds */
                assert_int_equal(tw_transport_sendto(c.t, b, sizeof b, NULL), 0);
            assert_int_equal(tw_transport_sendto(a.t, b, 20, &echo), 0);
            assert_int_equal(tw_transport_sendto(u.t, b, 1, &nobody), 0);
        }
        st.sent[i] = tw_sim_now(w.env.sim);
        assert_int_equal(tw_transport_sendto(ip_c.t, b, 4, NULL), 0);
        assert_int_equal(tw_sim_run_for(w.env.sim, TW_MS(10)), 0);
        if (with_unix && i == 10)
            open_unix_on(&w, w.a, &x, "/run/echo", NULL); /* taken over */
    }
    TW_WAIT(&w.env, ip_r.datagrams == 20);
    if (with_unix) {
        /* c is connected to the socket s: echoed throughout; a sends to
         * the path, which is x's from the 12th round on */
        assert_true(c.pauses > 0 && c.resumes == c.pauses);
        assert_int_equal(c.datagrams, 20 * 15);
        assert_int_equal(a.datagrams, 11);
        assert_int_equal(x.datagrams, 9);
        assert_int_equal(u.errors, 20);
        assert_int_equal(u.last_err, -ENOENT);
        assert_int_equal(c.errors + s.errors + a.errors + x.errors, 0);
    }
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        if (ds[i]->t)
            close_on(&w, ds[i]);
    uint64_t h = tw_sim_trace_hash(w.env.sim);
    world_free(&w);
    if (f)
        fclose(f);
    if (ip_delays)
        for (int i = 0; i < 20; i++)
            ip_delays[i] = st.at[i] - st.sent[i];
    return h;
}

static void test_sim_unix_dgram_same_seed_same_trace(void **state)
{
    (void)state;
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    uint64_t h1 = unix_run(91, true, &t1, &l1, NULL);
    uint64_t h2 = unix_run(91, true, &t2, &l2, NULL);
    assert_true(h1 == h2);
    assert_int_equal(l1, l2);
    assert_memory_equal(t1, t2, l1);
    /* what the Unix datagrams did is in the trace */
    const char *whats[] = {" dgu_open ", " dgu_send ", " dgu_arrive ",
                           " dgu_eagain ", " dgu_error ", " dgu_replace ",
                           " dgu_unlink ", " datagram_received\n",
                           " pause_writing\n", " resume_writing\n"};
    for (size_t i = 0; i < sizeof whats / sizeof whats[0]; i++)
        if (!strstr(t1, whats[i]))
            fail_msg("no '%s' record in the trace", whats[i]);
    assert_true(unix_run(92, true, NULL, NULL, NULL) != h1);
    free(t1);
    free(t2);
}

/* Unix datagrams draw nothing from the seed: with them or without, the
 * UDP datagrams of the same seed take the very same times to arrive. */
static void test_sim_unix_dgram_draws_nothing(void **state)
{
    (void)state;
    tw_ns with[20], without[20];
    unix_run(93, true, NULL, NULL, with);
    unix_run(93, false, NULL, NULL, without);
    for (int i = 0; i < 20; i++) {
        assert_true(with[i] > 0);
        assert_int_equal(with[i], without[i]);
    }
    /* and the times are the seed's: another seed, other times */
    unix_run(94, false, NULL, NULL, without);
    int same = 0;
    for (int i = 0; i < 20; i++)
        same += with[i] == without[i];
    assert_true(same < 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_sim_dgram_loss_rate),
        TW_TEST(test_sim_dgram_duplicate_rate),
        TW_TEST(test_sim_dgram_reorder_rate),
        TW_TEST(test_sim_dgram_corruption_flips_bits),
        TW_TEST(test_sim_dgram_size_limit),
        TW_TEST(test_sim_dgram_full_receive_buffer_drops),
        TW_TEST(test_sim_dgram_socket_buffers_charge_overhead),
        TW_TEST(test_sim_dgram_bandwidth_pushes_back),
        TW_TEST(test_sim_dgram_enobufs),
        TW_TEST(test_sim_dgram_scripted_loss_window),
        TW_TEST(test_sim_dgram_impairment_directions),
        TW_TEST(test_sim_dgram_refusal_fault),
        TW_TEST(test_sim_dgram_partition_loses_clog_holds),
        TW_TEST(test_sim_dgram_drop_says_why_by_name),
        TW_TEST(test_sim_dgram_reaches_the_endpoint_bound_now),
        TW_TEST(test_sim_dgram_reaches_a_node_added_later),
        TW_TEST(test_sim_dgram_arrivals_in_order_and_counted),
        TW_TEST(test_sim_dgram_crash_and_restart),
        TW_TEST(test_sim_dgram_node_names),
        TW_TEST(test_sim_dgram_crash_while_resolving),
        TW_TEST(test_sim_udp_echo_apps),
        TW_TEST(test_sim_udp_echo_apps_by_node_name),
        TW_TEST(test_sim_dgram_same_seed_same_trace),
        TW_TEST(test_sim_swarm_dgram_kinds),
        TW_TEST(test_sim_unix_dgram_paths_are_per_node),
        TW_TEST(test_sim_unix_dgram_no_network_faults),
        TW_TEST(test_sim_unix_dgram_queue_bounds),
        TW_TEST(test_sim_unix_dgram_crash_and_restart),
        TW_TEST(test_sim_unix_dgram_same_seed_same_trace),
        TW_TEST(test_sim_unix_dgram_draws_nothing),
    };
    return cmocka_run_group_tests_name("simulated datagrams", tests, NULL, NULL);
}
