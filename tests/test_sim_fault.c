/* tests/test_sim_fault.c - every fault, scripted: resets, partitions
 * (symmetric, one-way, with a duration) with stall timeouts and healing,
 * clogging, acks held by clogs and cuts, node crash and restart, connect
 * timeouts; traffic a cut blocked, counted only when it met a packet; and
 * partitions drawn by the swarm. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "twin/twin.h"
#include "twin/sim.h"
#include "twin/simprobe.h"

typedef struct probe {
    tw_protocol base;
    tw_transport *t;
    int made, lost, lost_err, released, eofs;
    tw_ns lost_at, last_data_at;
    size_t len;
} probe;

static void p_made(tw_protocol *p, tw_transport *t)
{
    ((probe *)p)->t = t;
    ((probe *)p)->made++;
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
    (void)d;
    probe *x = (probe *)p;
    x->len += n;
    x->last_data_at = tw_loop_now(tw_transport_loop(x->t));
}

static bool p_eof(tw_protocol *p)
{
    ((probe *)p)->eofs++;
    return true;
}

static void p_release(tw_protocol *p) { ((probe *)p)->released++; }

static const tw_protocol_ops probe_ops = {
    .connection_made = p_made, .connection_lost = p_lost,
    .data_received = p_data,   .eof_received = p_eof,
    .release = p_release,
};

static tw_protocol *probe_factory(void *arg)
{
    probe *x = arg;
    x->base.ops = &probe_ops;
    return &x->base;
}

typedef struct world {
    tw_sim *sim;
    tw_loop *s, *c;
    tw_server *srv;
    probe sp, cp;
    int connect_err, connect_called;
    int starts, stops;
} world;

static void on_connect(void *arg, tw_transport *t, int err);

static tw_protocol *client_factory(void *arg) { return probe_factory(&((world *)arg)->cp); }

static void on_connect(void *arg, tw_transport *t, int err)
{
    world *w = arg;
    (void)t;
    w->connect_called++;
    w->connect_err = err;
}

static int server_start(tw_loop *loop, void *arg)
{
    world *w = arg;
    w->starts++;
    memset(&w->sp, 0, sizeof w->sp);
    return tw_create_server(loop, probe_factory, &w->sp, "", 80, NULL, &w->srv);
}

static void server_stop(tw_loop *loop, void *arg)
{
    (void)loop;
    ((world *)arg)->stops++;
}

/* Server app on s (restartable), client c connected and settled. */
static void world_init(world *w, uint64_t seed, bool connect)
{
    memset(w, 0, sizeof *w);
    tw_sim_opts o = {0};
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)};
    o.stall_timeout_ns = TW_SEC(5);
    o.connect_timeout_ns = TW_SEC(3);
    w->sim = tw_sim_new(seed, &o);
    w->s = tw_sim_add_node(w->sim, "s", "10.0.0.1");
    w->c = tw_sim_add_node(w->sim, "c", "10.0.0.2");
    tw_sim_node_set_stop(w->s, server_stop);
    tw_sim_node_set_start(w->s, server_start, w);
    assert_int_equal(tw_sim_run_until_idle(w->sim), 0);
    assert_int_equal(w->starts, 1);
    if (!connect)
        return;
    assert_int_equal(tw_create_connection(w->c, client_factory, w, "10.0.0.1", 80,
                                          on_connect), 0);
    assert_int_equal(tw_sim_run_until_idle(w->sim), 0);
    assert_int_equal(w->connect_err, 0);
    assert_int_equal(w->sp.made, 1);
}

static void test_reset_both_ends(void **state)
{
    (void)state;
    world w;
    world_init(&w, 1, true);
    assert_int_equal(tw_sim_reset_connections(w.sim, w.c, w.s), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ECONNRESET);
    assert_int_equal(w.sp.lost_err, -ECONNRESET);
    assert_int_equal(w.cp.released, 1);
    tw_sim_free(w.sim);

    world_init(&w, 2, true);
    assert_int_equal(tw_sim_reset_transport(w.sp.t), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ECONNRESET);
    assert_int_equal(w.sp.lost_err, -ECONNRESET);
    tw_sim_free(w.sim);
}

/* As TCP: across a cut, the end with data out retransmits and times out
 * (stall_timeout after it sent); the end that only waits to hear stays
 * open, half-open, for as long as nothing tells it. */
static void test_partition_times_out_the_end_with_data(void **state)
{
    (void)state;
    world w;
    world_init(&w, 3, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
    tw_transport_write(w.cp.t, "lost in the cut", 15);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, t0 + TW_SEC(5));
    assert_int_equal(w.sp.lost, 0); /* half-open */
    assert_non_null(w.sp.t);
    /* a connect across the cut times out too */
    memset(&w.cp, 0, sizeof w.cp);
    tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80, on_connect);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.connect_err, -ETIMEDOUT);
    tw_sim_free(w.sim);
}

/* Cut the client and the server apart now, healed `for_ns` later. */
static void cut_for(world *w, tw_ns for_ns)
{
    tw_sim_fault heal = {.kind = TW_SIM_FAULT_HEAL, .a = tw_sim_node_id(w->c),
                         .b = tw_sim_node_id(w->s)};
    assert_int_equal(tw_sim_partition(w->sim, w->c, w->s, false), 0);
    assert_true(tw_sim_at(w->sim, tw_sim_now(w->sim) + for_ns, &heal) >= 0);
}

static void test_heal_in_time_resumes(void **state)
{
    (void)state;
    world w;
    world_init(&w, 4, true);
    tw_ns t0 = tw_sim_now(w.sim);
    cut_for(&w, TW_SEC(3));
    tw_transport_write(w.cp.t, "held, then delivered", 20);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(10)), 0);
    assert_int_equal(w.sp.len, 20);
    /* retransmitted at the heal: one latency later it is there */
    assert_int_equal(w.sp.last_data_at, t0 + TW_SEC(3) + TW_MS(1));
    assert_int_equal(w.cp.lost, 0);
    assert_int_equal(w.sp.lost, 0);
    tw_transport_write(w.sp.t, "ok", 2);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(1)), 0);
    assert_int_equal(w.cp.len, 2);
    tw_sim_free(w.sim);
}

static void test_oneway_partition(void **state)
{
    (void)state;
    world w;
    world_init(&w, 5, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, true), 0); /* c -> s only */
    tw_transport_write(w.cp.t, "c to s", 6);
    tw_transport_write(w.sp.t, "s to c", 6);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(1)), 0);
    assert_int_equal(w.cp.len, 6); /* the open direction works */
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.sp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, t0 + TW_SEC(5));
    tw_sim_free(w.sim);
}

static void test_clog_delays_without_loss(void **state)
{
    (void)state;
    world w;
    world_init(&w, 6, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_clog(w.sim, w.c, w.s, TW_MS(500), true), 0);
    tw_transport_write(w.cp.t, "slow", 4);
    tw_transport_write(w.sp.t, "fast", 4);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(100)), 0);
    assert_int_equal(w.cp.len, 4);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 4);
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(500));
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    tw_sim_free(w.sim);
}

/* Acknowledgements cross the network too: a clog or a cut on their way
 * back holds a writer whose window is full until it clears. */
static void test_acks_wait_for_clog_and_heal(void **state)
{
    (void)state;
    const size_t n = 256 * 1024, window = 128 * 1024;
    uint8_t *msg = calloc(1, n);
    assert_non_null(msg);
    for (int cut = 0; cut < 2; cut++) {
        world w;
        world_init(&w, 7, true);
        tw_ns t0 = tw_sim_now(w.sim);
        assert_int_equal(tw_transport_write(w.cp.t, msg, n), 0);
        assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), n - window);
        /* the data arrives after 1 ms; its acks are halfway back */
        assert_int_equal(tw_sim_run_for(w.sim, 1500 * TW_NS_PER_US), 0);
        assert_int_equal(w.sp.len, window);
        if (cut)
            assert_int_equal(tw_sim_partition(w.sim, w.s, w.c, true), 0);
        else
            assert_int_equal(tw_sim_clog(w.sim, w.s, w.c, TW_MS(50), true), 0);
        assert_int_equal(tw_sim_run_for(w.sim, TW_MS(40)), 0);
        assert_int_equal(w.sp.len, window); /* the data got through */
        assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), n - window);
        if (cut)
            assert_int_equal(tw_sim_heal(w.sim, w.s, w.c), 0);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(w.sp.len, n);
        assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), 0);
        /* the rest left when the acks landed (the clog's end, or the heal
         * and one latency), and took a latency to arrive */
        tw_ns freed = cut ? t0 + 41500 * TW_NS_PER_US + TW_MS(1) : t0 + 51500 * TW_NS_PER_US;
        assert_true(w.sp.last_data_at >= freed + TW_MS(1));
        assert_int_equal(w.sp.lost + w.cp.lost, 0);
        tw_sim_free(w.sim);
    }
    free(msg);
}

static void test_crash_peer_times_out_and_restart_reruns_start(void **state)
{
    (void)state;
    world w;
    world_init(&w, 7, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_crash(w.s), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1)), 0);
    assert_false(tw_sim_node_up(w.s));
    /* the crashed app's protocol: released, no other callback */
    assert_int_equal(w.sp.released, 1);
    assert_int_equal(w.sp.lost, 0);
    assert_int_equal(w.stops, 1);
    assert_int_equal(tw_loop_alive(w.s), 0);
    /* idle, the client hears nothing: it is still connected */
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(60)), 0);
    assert_int_equal(w.cp.lost, 0);
    /* it sends: the retransmissions give up 5 s later */
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "anyone?", 7), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_SEC(5));
    assert_true(t0 < sent);
    assert_int_equal(tw_sim_restart(w.s), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.starts, 2);
    /* the restarted app serves again */
    memset(&w.cp, 0, sizeof w.cp);
    tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80, on_connect);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.connect_err, 0);
    assert_int_equal(w.sp.made, 1);
    tw_sim_free(w.sim);
    assert_int_equal(w.stops, 2); /* tw_sim_free runs the stop hook too */
}

/* A peer still retransmitting when the crashed host comes back is
 * answered with a reset; an idle one stays half-open across the restart
 * and is reset one round trip after it next sends. */
static void test_crash_then_quick_restart_resets_peer(void **state)
{
    (void)state;
    for (int idle = 0; idle < 2; idle++) {
        world w;
        world_init(&w, 8, true);
        tw_ns t0 = tw_sim_now(w.sim);
        int s = tw_sim_node_id(w.s);
        tw_sim_fault crash = {.kind = TW_SIM_FAULT_CRASH, .a = s, .b = TW_SIM_ALL};
        tw_sim_fault restart = {.kind = TW_SIM_FAULT_RESTART, .a = s, .b = TW_SIM_ALL};
        assert_true(tw_sim_at(w.sim, t0 + TW_SEC(1), &crash) >= 0);
        assert_true(tw_sim_at(w.sim, t0 + TW_SEC(2), &restart) >= 0);
        assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1500)), 0);
        if (!idle)
            assert_int_equal(tw_transport_write(w.cp.t, "into the void", 13), 0);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(w.starts, 2);
        if (!idle) {
            assert_int_equal(w.cp.lost_err, -ECONNRESET);
            assert_int_equal(w.cp.lost_at, t0 + TW_SEC(2) + TW_MS(1));
        } else {
            assert_int_equal(w.cp.lost, 0); /* half-open */
            tw_ns sent = tw_sim_now(w.sim);
            assert_int_equal(tw_transport_write(w.cp.t, "hello?", 6), 0);
            assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
            assert_int_equal(w.cp.lost_err, -ECONNRESET);
            assert_int_equal(w.cp.lost_at, sent + TW_MS(2));
        }
        tw_sim_free(w.sim);
    }
}

/* A crashed host that comes back while the path to it is still cut
 * answers the retransmissions it cannot hear only once the cut heals. */
static void test_restart_behind_a_cut_resets_peer_at_the_heal(void **state)
{
    (void)state;
    world w;
    world_init(&w, 9, true);
    tw_ns t0 = tw_sim_now(w.sim);
    int s = tw_sim_node_id(w.s);
    tw_sim_fault crash = {.kind = TW_SIM_FAULT_CRASH, .a = s, .b = TW_SIM_ALL};
    tw_sim_fault restart = {.kind = TW_SIM_FAULT_RESTART, .a = s, .b = TW_SIM_ALL};
    tw_sim_fault heal = {.kind = TW_SIM_FAULT_HEAL, .a = tw_sim_node_id(w.c), .b = s};
    assert_true(tw_sim_at(w.sim, t0 + TW_SEC(1), &crash) >= 0);
    assert_true(tw_sim_at(w.sim, t0 + TW_SEC(2), &restart) >= 0);
    assert_true(tw_sim_at(w.sim, t0 + TW_SEC(3), &heal) >= 0);
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1500)), 0);
    assert_int_equal(tw_transport_write(w.cp.t, "into the void", 13), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1400)), 0);
    assert_int_equal(w.starts, 2);
    assert_int_equal(w.cp.lost, 0); /* back, but behind the cut */
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ECONNRESET);
    assert_int_equal(w.cp.lost_at, t0 + TW_SEC(3) + TW_MS(2));
    tw_sim_free(w.sim);
}

/* A crash still under way when the fault phase ends is brought back by
 * one restart: its own end queues one, and the phase's end, which
 * restarts every node still down, queues no second (the trace had two
 * restart_fault records at one instant for one restart). */
static void test_crash_across_the_phase_end_restarts_once(void **state)
{
    (void)state;
    world w;
    world_init(&w, 9, false);
    FILE *tr = tmpfile();
    assert_non_null(tr);
    tw_sim_trace_to(w.sim, tr, NULL);
    tw_ns t0 = tw_sim_now(w.sim);
    tw_sim_fault crash = {.kind = TW_SIM_FAULT_CRASH, .a = tw_sim_node_id(w.s),
                          .b = TW_SIM_ALL, .duration_ns = TW_MS(300)};
    assert_true(tw_sim_at(w.sim, t0 + TW_MS(100), &crash) >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(101)), 0);
    assert_false(tw_sim_node_up(w.s));
    assert_int_equal(tw_sim_faults_end(w.sim, true), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_true(tw_sim_node_up(w.s));
    assert_int_equal(w.starts, 2);
    tw_sim_trace_to(w.sim, NULL, NULL);
    rewind(tr);
    char line[512];
    int restarts = 0;
    while (fgets(line, sizeof line, tr))
        restarts += strstr(line, "restart_fault") != NULL;
    fclose(tr);
    assert_int_equal(restarts, 1);
    /* a crash after it is restarted again, as before */
    tw_sim_fault again = {.kind = TW_SIM_FAULT_CRASH, .a = tw_sim_node_id(w.s),
                          .b = TW_SIM_ALL, .duration_ns = TW_MS(50)};
    assert_true(tw_sim_at(w.sim, tw_sim_now(w.sim) + TW_MS(10), &again) >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(100)), 0);
    assert_true(tw_sim_node_up(w.s));
    assert_int_equal(w.starts, 3);
    tw_sim_free(w.sim);
}

/* Keepalive and the user timeout, honoured by the simulator: a probe
 * after idle, one every interval; unanswered `count` times the
 * connection times out, a host that came back answers with a reset. The
 * user timeout bounds how long data may wait for its ack. */
static void test_keepalive_and_user_timeout_find_a_dead_peer(void **state)
{
    (void)state;
    for (int back = 0; back < 2; back++) {
        world w;
        world_init(&w, 16, true);
        assert_int_equal(tw_transport_set_keepalive(w.cp.t, TW_SEC(10), TW_SEC(2), 3), 0);
        /* the last traffic: a write at t0, acknowledged before the crash */
        tw_ns t0 = tw_sim_now(w.sim);
        assert_int_equal(tw_transport_write(w.cp.t, "x", 1), 0);
        assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
        assert_int_equal(w.sp.len, 1);
        assert_int_equal(tw_sim_crash(w.s), 0);
        if (back) {
            assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(1)), 0);
            assert_int_equal(tw_sim_restart(w.s), 0);
        }
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        if (back) { /* the first probe, at 10 s, meets a reset */
            assert_int_equal(w.cp.lost_err, -ECONNRESET);
            assert_int_equal(w.cp.lost_at, t0 + TW_SEC(10) + TW_MS(2));
        } else { /* probes at 10, 12, 14 s, none answered: dead at 16 s */
            assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
            assert_int_equal(w.cp.lost_at, t0 + TW_SEC(16));
        }
        tw_sim_free(w.sim);
    }
    /* A live peer answers the probes: nothing happens for an hour. */
    world w;
    world_init(&w, 17, true);
    assert_int_equal(tw_transport_set_keepalive(w.cp.t, TW_SEC(10), TW_SEC(2), 3), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(3600)), 0);
    assert_int_equal(w.cp.lost + w.sp.lost, 0);
    /* The user timeout: data into a cut gives up after 800 ms, not 5 s. */
    assert_int_equal(tw_transport_set_user_timeout(w.cp.t, TW_MS(800)), 0);
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "late", 4), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_MS(800));
    assert_int_equal(w.sp.lost, 0);
    /* bad values and closed transports */
    tw_sim_free(w.sim);
}

/* Keepalive's times are whole seconds and the user timeout's
 * milliseconds, as Linux takes them (TCP_KEEPIDLE, TCP_KEEPINTVL,
 * TCP_USER_TIMEOUT) and the real backend rounds them up: a simulated
 * peer that vanished is found no sooner than a real one would be. */
static void test_keepalive_rounds_as_linux_does(void **state)
{
    (void)state;
    world w;
    world_init(&w, 19, true);
    /* 1500 ms idle, 500 ms apart: Linux probes at 2 s, then 1 s apart */
    assert_int_equal(tw_transport_set_keepalive(w.cp.t, TW_MS(1500), TW_MS(500), 3), 0);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_crash(w.s), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_true(w.cp.lost_at > t0 + TW_SEC(4) && w.cp.lost_at <= t0 + TW_SEC(5));
    tw_sim_free(w.sim);
    /* a user timeout of 800.1 ms is 801 ms */
    world_init(&w, 20, true);
    assert_int_equal(tw_transport_set_user_timeout(w.cp.t, TW_MS(800) + TW_US(100)), 0);
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "late", 4), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_MS(801));
    tw_sim_free(w.sim);
}

/* An end with data its peer has not acknowledged sends no keepalive
 * probe, as on Linux: a peer that vanished under it is found by the
 * retransmissions, at the stall timeout (5 s here), not by probes that
 * would have found it at 2 s. */
static void test_keepalive_waits_while_data_is_out(void **state)
{
    (void)state;
    world w;
    world_init(&w, 18, true);
    assert_int_equal(tw_transport_set_keepalive(w.cp.t, TW_SEC(1), TW_MS(500), 2), 0);
    assert_int_equal(tw_sim_crash(w.s), 0);
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "lost", 4), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_SEC(5));
    tw_sim_free(w.sim);
}

static void test_connect_to_crashed_node_times_out(void **state)
{
    (void)state;
    world w;
    world_init(&w, 9, false);
    tw_sim_crash(w.s);
    tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80, on_connect);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.connect_err, -ETIMEDOUT);
    assert_int_equal(w.cp.made, 0);
    assert_int_equal(tw_create_server(w.s, probe_factory, &w.sp, "", 81, NULL, &w.srv),
                     -ENETDOWN);
    tw_sim_free(w.sim);
}

static void test_bad_faults(void **state)
{
    (void)state;
    world w;
    world_init(&w, 10, false);
    tw_sim_fault f = {.kind = 99, .a = tw_sim_node_id(w.s), .b = TW_SIM_ALL};
    assert_int_equal(tw_sim_at(w.sim, 0, &f), -EINVAL);
    f = (tw_sim_fault){.kind = TW_SIM_FAULT_CRASH, .a = 7, .b = TW_SIM_ALL};
    assert_int_equal(tw_sim_at(w.sim, 0, &f), -EINVAL); /* no node 7 */
    f = (tw_sim_fault){.kind = TW_SIM_FAULT_CRASH, .a = 0, .b = 1};
    assert_int_equal(tw_sim_at(w.sim, 0, &f), -EINVAL); /* not a pair kind */
    f = (tw_sim_fault){.kind = TW_SIM_FAULT_CLOG, .a = 0, .b = 1};
    assert_int_equal(tw_sim_at(w.sim, 0, &f), -EINVAL); /* a clog needs a window */
    tw_sim *other = tw_sim_new(1, NULL);
    assert_int_equal(tw_sim_partition(other, w.s, w.c, false), -EINVAL);
    tw_sim_free(other);
    tw_sim_free(w.sim);
}

/* The stall timer runs from the first cut of a connection's path: the
 * same partition made again, or the other direction cut later, does not
 * start it over. */
static void test_stall_clock_starts_at_the_first_cut(void **state)
{
    (void)state;
    for (int again = 0; again < 2; again++) {
        world w;
        world_init(&w, 11, true);
        tw_ns t0 = tw_sim_now(w.sim);
        assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, !again), 0);
        assert_int_equal(tw_transport_write(w.cp.t, "stuck", 5), 0);
        assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
        if (again) /* the same cut, both ways, once more */
            assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
        else /* c -> s was cut; now s -> c too */
            assert_int_equal(tw_sim_partition(w.sim, w.s, w.c, true), 0);
        assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
        assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
        assert_int_equal(w.cp.lost_at, t0 + TW_SEC(5));
        assert_int_equal(w.sp.lost, 0); /* it sent nothing: half-open */
        tw_sim_free(w.sim);
    }
}

/* A connection made while one direction of its path is cut (s -> c:
 * the handshake gets through, no ack will): the client's data arrives
 * but is never acknowledged, so the client times out 5 s after it sent;
 * the server, which sent nothing, stays open. */
static void test_made_across_a_cut_stalls_from_the_cut(void **state)
{
    (void)state;
    world w;
    world_init(&w, 12, false);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_partition(w.sim, w.s, w.c, true), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(3)), 0);
    assert_int_equal(tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80,
                                          on_connect), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    assert_int_equal(w.sp.made, 1);
    assert_int_equal(w.connect_err, 0);
    assert_int_equal(w.cp.made, 1);
    tw_ns sent = tw_sim_now(w.sim);
    assert_true(sent > t0);
    assert_int_equal(tw_transport_write(w.cp.t, "one way", 7), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 7);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_SEC(5));
    assert_int_equal(w.sp.lost, 0);
    tw_sim_free(w.sim);
}

/* A write to a peer that has closed and gone is answered by a reset one
 * round trip later (1 ms each way here). The client, half-closed, reads
 * nothing and has nothing buffered: it learns of the reset at its next
 * write, -EPIPE (a reset after the peer's FIN, as Linux says). */
static void test_write_to_a_closed_peer_resets_after_a_round_trip(void **state)
{
    (void)state;
    world w;
    world_init(&w, 15, true);
    tw_transport_close(w.sp.t);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.eofs, 1); /* half-closed: the client stays open */
    assert_int_equal(w.cp.lost, 0);
    tw_ns t1 = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "anyone?", 7), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(2) - 1), 0);
    assert_int_equal(tw_transport_write(w.cp.t, "still?", 6), 0); /* not yet back */
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost, 0); /* back, unseen */
    tw_ns t2 = tw_sim_now(w.sim);
    assert_true(t2 >= t1 + TW_MS(2));
    assert_int_equal(tw_transport_write(w.cp.t, "hello?", 6), -EPIPE);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.lost, 1);
    assert_int_equal(w.cp.lost_err, -EPIPE);
    assert_int_equal(w.cp.lost_at, t2);
    tw_sim_free(w.sim);
}

/* A peer that closed while the path to it is cut (its FIN held in the
 * cut) is no closed socket the writer's data can reach: nothing answers
 * until the cut heals, and then its host resets the next
 * retransmission; a cut that outlasts the stall timeout times out. */
static void test_write_to_a_gone_peer_across_a_cut_waits_for_the_heal(void **state)
{
    (void)state;
    world w;
    world_init(&w, 16, true);
    cut_for(&w, TW_SEC(3));
    tw_transport_abort(w.cp.t); /* its FIN waits for the heal */
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    assert_int_equal(w.cp.lost, 1);
    assert_int_equal(tw_transport_write(w.sp.t, "anyone?", 7), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(w.sp.lost, 0); /* nobody answers across the cut */
    assert_int_equal(w.sp.eofs, 0);
    /* healed: the FIN of its close, then the reset of the retransmission
     * (kept: the end stopped reading at the EOF, and keeps it open) */
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(w.sp.eofs, 1);
    assert_int_equal(w.sp.lost, 0);
    assert_int_equal(tw_transport_write(w.sp.t, "again?", 6), -EPIPE);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1)), 0);
    assert_int_equal(w.sp.lost, 1);
    assert_int_equal(w.sp.lost_err, -EPIPE);
    tw_sim_free(w.sim);

    world_init(&w, 17, true); /* never healed: the retransmissions give up */
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, false), 0);
    tw_transport_abort(w.cp.t);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.sp.t, "anyone?", 7), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(10)), 0);
    assert_int_equal(w.sp.lost, 1);
    assert_int_equal(w.sp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.sp.lost_at, sent + TW_SEC(5));
    tw_sim_free(w.sim);
}

/* ---- freeze, slow, blackhole ---- */

static tw_ns fired_at;
static void note_fire(void *arg)
{
    fired_at = tw_loop_now(arg);
}

/* A frozen node runs nothing for the window: data that arrives waits in
 * its kernel, its timers fire late, and it goes on after as if nothing
 * happened; its peer sees silence, not an error. */
static void test_freeze_holds_a_node_and_its_timers(void **state)
{
    (void)state;
    world w;
    world_init(&w, 18, true);
    tw_ns t0 = tw_sim_now(w.sim);
    fired_at = -1;
    assert_non_null(tw_call_later(w.s, TW_MS(100), note_fire, w.s));
    tw_sim_fault f = {.kind = TW_SIM_FAULT_FREEZE, .a = tw_sim_node_id(w.s),
                      .b = TW_SIM_ALL, .duration_ns = TW_SEC(1)};
    int id = tw_sim_at(w.sim, t0, &f);
    assert_true(id >= 0);
    assert_int_equal(tw_transport_write(w.cp.t, "wait for me", 11), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(900)), 0);
    assert_int_equal(w.sp.len, 0);
    assert_int_equal(fired_at, -1);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 11);
    assert_int_equal(w.sp.last_data_at, t0 + TW_SEC(1));
    assert_true(fired_at >= t0 + TW_SEC(1)); /* 900 ms late */
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    uint64_t held = 0;
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &held), 0);
    assert_true(held >= 2); /* the delivery and the timer */
    tw_sim_free(w.sim);
}

/* The server's bytes when the timer fired. */
static size_t fired_saw;
static size_t *fired_len;
static void note_fire_len(void *arg)
{
    fired_at = tw_loop_now(arg);
    fired_saw = *fired_len;
}

/* A process woken from a stop finds its socket readable and its timer
 * due at once; the epoll backend runs what poll found before the timers
 * due (core/loop.c, run_generic), so the node thawed does the same: the
 * data that waited in its kernel is read first, then the late timer. */
static void test_freeze_thaws_reading_before_late_timers(void **state)
{
    (void)state;
    world w;
    world_init(&w, 18, true);
    tw_ns t0 = tw_sim_now(w.sim);
    fired_at = -1;
    fired_saw = 0;
    fired_len = &w.sp.len;
    assert_non_null(tw_call_later(w.s, TW_MS(10), note_fire_len, w.s));
    tw_sim_fault f = {.kind = TW_SIM_FAULT_FREEZE, .a = tw_sim_node_id(w.s),
                      .b = TW_SIM_ALL, .duration_ns = TW_SEC(1)};
    assert_true(tw_sim_at(w.sim, t0, &f) >= 0);
    /* the timer comes due first, the bytes after it */
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(50)), 0);
    assert_int_equal(fired_at, -1);
    assert_int_equal(tw_transport_write(w.cp.t, "wait for me", 11), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.last_data_at, t0 + TW_SEC(1));
    assert_int_equal(fired_at, t0 + TW_SEC(1));
    assert_int_equal(fired_saw, 11); /* read before the timer ran */
    tw_sim_free(w.sim);
}

static void echo_back(tw_protocol *p, const uint8_t *d, size_t n)
{
    p_data(p, d, n);
    tw_transport_write(((probe *)p)->t, d, n);
}

/* A slow node answers, each turn of it costing `cost`: what reaches it
 * while it pays for the last turn waits. */
static void test_slow_node_pays_for_each_turn(void **state)
{
    (void)state;
    world w;
    world_init(&w, 19, true);
    static tw_protocol_ops echo_ops;
    echo_ops = probe_ops;
    echo_ops.data_received = echo_back;
    w.sp.base.ops = &echo_ops;
    tw_ns t0 = tw_sim_now(w.sim);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_SLOW, .a = tw_sim_node_id(w.s),
                      .b = TW_SIM_ALL, .duration_ns = TW_SEC(10),
                      .cost_ns = TW_MS(50)};
    assert_true(tw_sim_at(w.sim, t0, &f) >= 0);
    assert_int_equal(tw_transport_write(w.cp.t, "a", 1), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(1)); /* read at once */
    assert_int_equal(tw_transport_write(w.cp.t, "b", 1), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.cp.len, 2);
    /* the second waited out the turn the first cost */
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(51));
    tw_sim_free(w.sim);
    /* bad: a slow fault needs a cost */
    world_init(&w, 19, false);
    f.cost_ns = 0;
    assert_int_equal(tw_sim_at(w.sim, 0, &f), -EINVAL);
    tw_sim_free(w.sim);
}

/* The end of the fault phase heals cuts and restarts crashed nodes, but a
 * freeze still under way runs to its end: the node stays held, and what
 * the freeze held after the phase ended is counted for it (the count was
 * closed at the phase's end, and a freeze that then held the node for
 * seconds was reported as having touched nothing). */
static void test_freeze_across_the_phase_end_counts_to_its_end(void **state)
{
    (void)state;
    world w;
    world_init(&w, 21, true);
    tw_ns t0 = tw_sim_now(w.sim);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_FREEZE, .a = tw_sim_node_id(w.s),
                      .b = TW_SIM_ALL, .duration_ns = TW_SEC(2)};
    int id = tw_sim_at(w.sim, t0 + TW_MS(100), &f);
    assert_true(id >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(200)), 0);
    assert_int_equal(tw_sim_faults_end(w.sim, true), 0);
    assert_int_equal(tw_transport_write(w.cp.t, "held", 4), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(1)), 0);
    assert_int_equal(w.sp.len, 0); /* still frozen */
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(w.sp.len, 4);
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(2100));
    uint64_t held = 0;
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &held), 0);
    assert_true(held >= 1);
    tw_sim_free(w.sim);
}

/* A blackhole drops everything silently: a connect times out rather than
 * being refused, data out times out, and no heal (the quiet phase's
 * neither) undoes it; its own window's end does. */
static void test_blackhole_drops_silently_until_its_end(void **state)
{
    (void)state;
    world w;
    world_init(&w, 20, true);
    tw_ns t0 = tw_sim_now(w.sim);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_BLACKHOLE, .a = tw_sim_node_id(w.s),
                      .b = TW_SIM_ALL, .duration_ns = TW_SEC(20)};
    int id = tw_sim_at(w.sim, t0, &f);
    assert_true(id >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, 0), 0);
    assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
    /* heals do not undo it */
    assert_int_equal(tw_sim_heal(w.sim, w.s, NULL), 0);
    assert_int_equal(tw_sim_faults_end(w.sim, true), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1)), 0);
    assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_true(tw_sim_path_is_cut(w.sim, w.s, w.c));
    /* data into it times out; a new connect is never answered */
    tw_ns sent = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, "void", 4), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(6)), 0);
    assert_int_equal(w.cp.lost_err, -ETIMEDOUT);
    assert_int_equal(w.cp.lost_at, sent + TW_SEC(5));
    assert_int_equal(w.sp.lost, 0); /* the server's end never heard */
    memset(&w.cp, 0, sizeof w.cp);
    assert_int_equal(tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80,
                                          on_connect), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(4)), 0);
    assert_int_equal(w.connect_err, -ETIMEDOUT);
    uint64_t cut = 0;
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &cut), 0);
    assert_true(cut >= 2);
    /* ended: a connect gets through */
    tw_sim_free(w.sim);
    world_init(&w, 21, false);
    tw_ns t1 = tw_sim_now(w.sim);
    f.duration_ns = TW_SEC(2);
    assert_true(tw_sim_at(w.sim, t1, &f) >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(3)), 0);
    assert_false(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_int_equal(tw_create_connection(w.c, client_factory, &w, "10.0.0.1", 80,
                                          on_connect), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.connect_err, 0);
    assert_int_equal(w.sp.made, 1);
    tw_sim_free(w.sim);
}

/* A clog on the way back, made before the data is sent, holds the acks
 * of that data: the writer's full window stays shut until it clears. */
static void test_acks_wait_for_a_clog_made_before_the_write(void **state)
{
    (void)state;
    const size_t n = 256 * 1024, window = 128 * 1024;
    uint8_t *msg = calloc(1, n);
    assert_non_null(msg);
    world w;
    world_init(&w, 13, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_sim_clog(w.sim, w.s, w.c, TW_MS(50), true), 0);
    assert_int_equal(tw_transport_write(w.cp.t, msg, n), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(40)), 0);
    assert_int_equal(w.sp.len, window);
    assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), n - window);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, n);
    /* the acks landed when the clog ended; the rest took a latency */
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(51));
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    tw_sim_free(w.sim);
    free(msg);
}

/* Acks that reached a writer across a cut while it had no reason to
 * look at them (its window full, nothing more to send) are held by the
 * cut all the same: they land one latency after the heal. */
static void test_acks_unlooked_at_during_a_cut_wait_for_the_heal(void **state)
{
    (void)state;
    const size_t window = 128 * 1024;
    uint8_t *msg = calloc(1, window);
    assert_non_null(msg);
    world w;
    world_init(&w, 16, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(w.cp.t, msg, window), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), 0);
    /* the data arrives after 1 ms; its ack is halfway back */
    assert_int_equal(tw_sim_run_for(w.sim, 1500 * TW_NS_PER_US), 0);
    assert_int_equal(w.sp.len, window);
    assert_int_equal(tw_sim_partition(w.sim, w.s, w.c, true), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(40) - 1500 * TW_NS_PER_US), 0);
    assert_int_equal(tw_sim_heal(w.sim, w.s, w.c), 0);
    assert_int_equal(tw_sim_run_for(w.sim, 0), 0); /* the heal, now */
    assert_int_equal(tw_transport_write(w.cp.t, "x", 1), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(w.cp.t), 1); /* window shut */
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, window + 1);
    assert_int_equal(w.sp.last_data_at, t0 + TW_MS(42));
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    tw_sim_free(w.sim);
    free(msg);
}

/* A scripted partition with a duration heals that long after it began. */
static void test_partition_with_a_duration_heals_after_it(void **state)
{
    (void)state;
    world w;
    world_init(&w, 14, true);
    tw_ns t0 = tw_sim_now(w.sim);
    assert_true(t0 > 0);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_PARTITION, .a = tw_sim_node_id(w.c),
                      .b = tw_sim_node_id(w.s), .duration_ns = TW_SEC(2)};
    assert_true(tw_sim_at(w.sim, t0 + TW_SEC(1), &f) >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1500)), 0);
    assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_true(tw_sim_path_is_cut(w.sim, w.s, w.c));
    assert_int_equal(tw_transport_write(w.cp.t, "held", 4), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_false(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_int_equal(w.sp.len, 4);
    assert_int_equal(w.sp.last_data_at, t0 + TW_SEC(3) + TW_MS(1));
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    tw_sim_free(w.sim);
}

/* One scheduler: a fault due at t applies once everything else due at t
 * has run, and a run that ends at t returns with it applied. Its window
 * ends as scheduled, and its effect is counted. Ending the fault phase
 * applies the faults of its instant and drops the rest. */
static void test_timeline_applies_counts_and_ends(void **state)
{
    (void)state;
    world w;
    world_init(&w, 15, true);
    tw_ns t0 = tw_sim_now(w.sim);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_PARTITION, .a = tw_sim_node_id(w.c),
                      .b = tw_sim_node_id(w.s), .duration_ns = TW_SEC(1)};
    int id = tw_sim_at(w.sim, t0 + TW_SEC(1), &f);
    assert_true(id >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(1) - 1), 0);
    assert_false(tw_sim_fault_applied(w.sim, id));
    assert_false(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_int_equal(tw_sim_run_for(w.sim, 1), 0);
    assert_int_equal(tw_sim_now(w.sim), t0 + TW_SEC(1));
    assert_true(tw_sim_fault_applied(w.sim, id));
    assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_int_equal(tw_transport_write(w.cp.t, "cut", 3), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(500)), 0);
    uint64_t cut = 0;
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &cut), 0);
    assert_true(cut >= 1); /* the write met the cut (and its retries) */
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(500)), 0);
    assert_false(tw_sim_path_is_cut(w.sim, w.c, w.s)); /* healed at t0 + 2 s */
    uint64_t after = 0;
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &after), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(5)), 0);
    assert_int_equal(tw_sim_fault_effect(w.sim, id, &cut), 0);
    assert_int_equal(cut, after); /* its window closed: the count stays */
    assert_int_equal(w.sp.len, 3);
    assert_int_equal(tw_sim_fault_effect(w.sim, id + 100, &cut), -EINVAL);
    /* The end of the fault phase: a partition queued now applies, a
     * later one never does. */
    assert_int_equal(tw_sim_partition(w.sim, w.c, w.s, true), 0);
    int later = tw_sim_at(w.sim, tw_sim_now(w.sim) + TW_SEC(1), &f);
    assert_true(later >= 0);
    assert_int_equal(tw_sim_faults_end(w.sim, false), 0);
    assert_int_equal(tw_sim_run_for(w.sim, 0), 0);
    assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
    assert_false(tw_sim_path_is_cut(w.sim, w.s, w.c)); /* one way */
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(3)), 0);
    assert_false(tw_sim_fault_applied(w.sim, later));
    assert_false(tw_sim_path_is_cut(w.sim, w.s, w.c));
    /* ...and healing all of it restores the path. */
    assert_int_equal(tw_sim_faults_end(w.sim, true), 0);
    assert_int_equal(tw_sim_run_for(w.sim, 0), 0);
    assert_false(tw_sim_path_is_cut(w.sim, w.c, w.s));
    tw_sim_free(w.sim);
}

/* Asking whether a path is cut counts nothing. A heal anywhere looks at
 * every connection's path; one still cut must not count that look as
 * traffic it blocked: only a packet the cut stops is counted. */
static void test_asking_about_a_cut_counts_nothing(void **state)
{
    (void)state;
    world w;
    world_init(&w, 17, true);
    tw_loop *x = tw_sim_add_node(w.sim, "x", "10.0.0.3");
    assert_non_null(x);
    assert_int_equal(tw_sim_partition(w.sim, w.s, w.c, false), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    tw_sim_path_counters cs0, sc0, cs, sc;
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.c, w.s, &cs0), 0);
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.s, w.c, &sc0), 0);
    for (int i = 0; i < 3; i++) {
        assert_true(tw_sim_path_is_cut(w.sim, w.c, w.s));
        assert_true(tw_sim_path_is_cut(w.sim, w.s, w.c));
        assert_int_equal(tw_sim_heal(w.sim, w.c, x), 0); /* another pair */
        assert_int_equal(tw_sim_run_for(w.sim, TW_MS(1)), 0);
    }
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.c, w.s, &cs), 0);
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.s, w.c, &sc), 0);
    assert_int_equal(cs.blocked, cs0.blocked);
    assert_int_equal(sc.blocked, sc0.blocked);
    assert_int_equal(cs.packets, cs0.packets);
    assert_int_equal(sc.packets, sc0.packets);
    /* A segment the cut stops is counted, once. */
    assert_int_equal(tw_transport_write(w.cp.t, "held", 4), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(10)), 0);
    assert_int_equal(tw_sim_path_counters_get(w.sim, w.c, w.s, &cs), 0);
    assert_int_equal(cs.blocked, cs0.blocked + 1);
    assert_int_equal(tw_sim_heal(w.sim, w.s, w.c), 0);
    assert_int_equal(tw_sim_run_until_idle(w.sim), 0);
    assert_int_equal(w.sp.len, 4);
    assert_int_equal(w.sp.lost + w.cp.lost, 0);
    tw_sim_free(w.sim);
}

/* 60 s of swarm faults of the given kinds between two quiet nodes,
 * looked at every millisecond: how long one direction alone was cut,
 * and how long both were. */
static void swarm_cuts(tw_sim_fault_kind kind, int *one, int *both)
{
    tw_sim *sim = tw_sim_new(21, NULL);
    assert_non_null(sim);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tw_sim_swarm_spec spec;
    tw_sim_swarm_spec_default(&spec, TW_SEC(60));
    spec.kinds = 1u << kind;
    spec.count_min = spec.count_max = 60;
    spec.dur_max = TW_MS(300);
    assert_int_equal(tw_sim_swarm(sim, &spec), 60);
    *one = *both = 0;
    for (int i = 0; i < 60000; i++) {
        assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
        bool ab = tw_sim_path_is_cut(sim, a, b), ba = tw_sim_path_is_cut(sim, b, a);
        *one += ab != ba;
        *both += ab && ba;
    }
    tw_sim_free(sim);
}

/* The swarm's partitions cut one way (30% of them) and both ways. */
static void test_swarm_partitions_one_way_and_both(void **state)
{
    (void)state;
    int one, both;
    swarm_cuts(TW_SIM_FAULT_PARTITION, &one, &both);
    assert_true(one > 300);
    assert_true(both > 1000);
    assert_true(both > 3 * one); /* most of them (70%) cut both ways */
    swarm_cuts(TW_SIM_FAULT_CLOG, &one, &both);
    assert_int_equal(one + both, 0); /* a clog holds, it does not cut */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_reset_both_ends),
        TW_TEST(test_partition_times_out_the_end_with_data),
        TW_TEST(test_heal_in_time_resumes),
        TW_TEST(test_timeline_applies_counts_and_ends),
        TW_TEST(test_oneway_partition),
        TW_TEST(test_clog_delays_without_loss),
        TW_TEST(test_acks_wait_for_clog_and_heal),
        TW_TEST(test_crash_peer_times_out_and_restart_reruns_start),
        TW_TEST(test_crash_then_quick_restart_resets_peer),
        TW_TEST(test_crash_across_the_phase_end_restarts_once),
        TW_TEST(test_freeze_across_the_phase_end_counts_to_its_end),
        TW_TEST(test_keepalive_and_user_timeout_find_a_dead_peer),
        TW_TEST(test_keepalive_waits_while_data_is_out),
        TW_TEST(test_keepalive_rounds_as_linux_does),
        TW_TEST(test_connect_to_crashed_node_times_out),
        TW_TEST(test_bad_faults),
        TW_TEST(test_stall_clock_starts_at_the_first_cut),
        TW_TEST(test_made_across_a_cut_stalls_from_the_cut),
        TW_TEST(test_write_to_a_closed_peer_resets_after_a_round_trip),
        TW_TEST(test_freeze_holds_a_node_and_its_timers),
        TW_TEST(test_freeze_thaws_reading_before_late_timers),
        TW_TEST(test_slow_node_pays_for_each_turn),
        TW_TEST(test_blackhole_drops_silently_until_its_end),
        TW_TEST(test_write_to_a_gone_peer_across_a_cut_waits_for_the_heal),
        TW_TEST(test_restart_behind_a_cut_resets_peer_at_the_heal),
        TW_TEST(test_acks_wait_for_a_clog_made_before_the_write),
        TW_TEST(test_acks_unlooked_at_during_a_cut_wait_for_the_heal),
        TW_TEST(test_partition_with_a_duration_heals_after_it),
        TW_TEST(test_asking_about_a_cut_counts_nothing),
        TW_TEST(test_swarm_partitions_one_way_and_both),
    };
    return cmocka_run_group_tests_name("sim_fault", tests, NULL, NULL);
}
