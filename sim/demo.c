/* sim/demo.c - a small world that exercises everything at once, for the
 * determinism tests, the -O0/-O2 comparison and benchmarks.
 *
 * Map:
 *   echo server app   on s1 and s2: echo every byte (a buggify point
 *                     splits some echoes in two writes)
 *   client app        on c1..c3: four connection slots each; a slot sends
 *                     a message of a drawn size, checks the echo byte by
 *                     byte, sends the next; after any failure it
 *                     reconnects after a drawn delay
 *   the run           swarm faults and buggify on; every random choice
 *                     comes from the seed (tw_sim_rand for the apps)
 *
 * The apps follow the crash rules: protocols free themselves in release,
 * app state is freed by the stop hook, nothing else runs after a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "twin/buggify.h"

#define SLOTS 4
#define MSG_MAX 4096

typedef struct demo {
    tw_sim *sim;
    uint64_t mismatches, echoes;
} demo;

/* ---- echo server ---- */

typedef struct echo {
    tw_protocol base;
    tw_transport *t;
} echo;

static void echo_made(tw_protocol *p, tw_transport *t) { ((echo *)p)->t = t; }

static void echo_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    echo *e = (echo *)p;
    if (n > 1 && TW_BUGGIFY(tw_transport_loop(e->t))) {
        tw_transport_write(e->t, d, n / 2);
        tw_transport_write(e->t, d + n / 2, n - n / 2);
        return;
    }
    tw_transport_write(e->t, d, n);
}

static void echo_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops echo_ops = {
    .connection_made = echo_made,
    .data_received = echo_data,
    .release = echo_release,
};

static tw_protocol *echo_factory(void *arg)
{
    (void)arg;
    echo *e = calloc(1, sizeof *e);
    if (e)
        e->base.ops = &echo_ops;
    return e ? &e->base : NULL;
}

static int server_start(tw_loop *loop, void *arg)
{
    (void)arg;
    tw_server *srv;
    return tw_create_server(loop, echo_factory, NULL, "", 7, NULL, &srv);
}

/* ---- client ---- */

typedef struct client_app client_app;

typedef struct client {
    tw_protocol base;
    client_app *app;
    int slot;
    tw_transport *t;
    uint64_t msg_seed;
    size_t msg_len, got;
    tw_ns sent_at;
} client;

typedef struct slot_ref {
    client_app *app;
    int slot;
} slot_ref;

struct client_app {
    demo *d;
    tw_loop *loop;
    client *conn[SLOTS];    /* protocol made (freed by its release) */
    client *pending[SLOTS]; /* connect in flight (freed here) */
    slot_ref refs[SLOTS];
    uint8_t buf[MSG_MAX];
};

/* The app's own timeout: an echo that takes more than 3 s (a server that
 * stopped accepting, a peer that vanished) is given up on. */
static void watchdog(void *arg)
{
    client_app *app = arg;
    tw_ns now = tw_loop_now(app->loop);
    for (int i = 0; i < SLOTS; i++) {
        client *c = app->conn[i];
        if (c && c->t && now - c->sent_at > TW_SEC(3))
            tw_transport_abort(c->t);
    }
    tw_call_later(app->loop, TW_SEC(1), watchdog, app);
}

static uint64_t pattern_word(uint64_t seed, size_t w)
{
    uint64_t z = seed + w * UINT64_C(0x9e3779b97f4a7c15);
    z = (z ^ (z >> 31)) * UINT64_C(0xbf58476d1ce4e5b9);
    return z ^ (z >> 29);
}


static void send_message(client *c)
{
    client_app *app = c->app;
    tw_sim *sim = app->d->sim;
    c->msg_seed = tw_sim_rand(sim);
    c->msg_len = 1 + tw_sim_rand(sim) % MSG_MAX;
    c->got = 0;
    c->sent_at = tw_loop_now(app->loop);
    for (size_t i = 0; i < c->msg_len; i += 8) {
        uint64_t word = pattern_word(c->msg_seed, i / 8);
        for (size_t k = 0; k < 8 && i + k < c->msg_len; k++)
            app->buf[i + k] = (uint8_t)(word >> (8 * k));
    }
    tw_transport_write(c->t, app->buf, c->msg_len);
}

static void client_made(tw_protocol *p, tw_transport *t)
{
    client *c = (client *)p;
    c->t = t;
    send_message(c);
}

static void client_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    client *c = (client *)p;
    if (c->got + n > c->msg_len) {
        c->app->d->mismatches++;
        n = c->msg_len - c->got;
    }
    uint64_t word = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = c->got + i;
        if (i == 0 || at % 8 == 0)
            word = pattern_word(c->msg_seed, at / 8);
        if (d[i] != (uint8_t)(word >> (8 * (at % 8))))
            c->app->d->mismatches++;
    }
    c->got += n;
    if (c->got < c->msg_len)
        return;
    c->app->d->echoes++;
    if (TW_BUGGIFY(tw_transport_loop(c->t)))
        tw_transport_close(c->t);
    else
        send_message(c);
}

static void connect_slot(client_app *app, int slot);

static void reconnect_cb(void *arg)
{
    slot_ref *r = arg;
    connect_slot(r->app, r->slot);
}

static void reconnect_later(client_app *app, int slot)
{
    tw_ns delay = TW_MS(100) + (tw_ns)(tw_sim_rand(app->d->sim) % TW_MS(400));
    tw_call_later(app->loop, delay, reconnect_cb, &app->refs[slot]);
}

static void client_lost(tw_protocol *p, int err)
{
    (void)err;
    client *c = (client *)p;
    reconnect_later(c->app, c->slot);
}

static void client_release(tw_protocol *p)
{
    client *c = (client *)p;
    if (c->app->conn[c->slot] == c)
        c->app->conn[c->slot] = NULL;
    free(c);
}

static const tw_protocol_ops client_ops = {
    .connection_made = client_made,
    .connection_lost = client_lost,
    .data_received = client_data,
    .release = client_release,
};

static tw_protocol *client_factory(void *arg)
{
    client *c = arg;
    /* From here the transport owns c: release frees it. */
    c->app->pending[c->slot] = NULL;
    c->app->conn[c->slot] = c;
    return &c->base;
}

static void client_connected(void *arg, tw_transport *t, int err)
{
    client *c = arg;
    if (t)
        return;
    (void)err; /* refused or timed out: the factory never ran */
    client_app *app = c->app;
    app->pending[c->slot] = NULL;
    reconnect_later(app, c->slot);
    free(c);
}

static void connect_slot(client_app *app, int slot)
{
    client *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->base.ops = &client_ops;
    c->app = app;
    c->slot = slot;
    const char *host = tw_sim_rand(app->d->sim) % 2 ? "s1" : "s2";
    app->pending[slot] = c;
    if (tw_create_connection(app->loop, client_factory, c, host, 7,
                             client_connected) < 0) {
        app->pending[slot] = NULL;
        free(c);
        reconnect_later(app, slot);
    }
}

/* What a client node's start and stop share: the app lives from one
 * start to the next crash. */
typedef struct client_node {
    demo *d;
    client_app *app;
} client_node;

static int client_start(tw_loop *loop, void *arg)
{
    client_node *cn = arg;
    client_app *app = calloc(1, sizeof *app);
    if (!app)
        return -ENOMEM;
    app->d = cn->d;
    app->loop = loop;
    cn->app = app;
    for (int i = 0; i < SLOTS; i++) {
        app->refs[i] = (slot_ref){app, i};
        connect_slot(app, i);
    }
    tw_call_later(loop, TW_SEC(1), watchdog, app);
    return 0;
}

/* After a crash (or at the end): protocols were released already; what
 * is left is the app and its connects that never completed. */
static void client_stop(tw_loop *loop, void *arg)
{
    (void)loop;
    client_node *cn = arg;
    if (!cn->app)
        return;
    for (int i = 0; i < SLOTS; i++)
        free(cn->app->pending[i]);
    free(cn->app);
    cn->app = NULL;
}

/* ---- the run ---- */

uint64_t tw_sim_demo(uint64_t seed, tw_ns duration_ns, FILE *trace,
                     uint64_t *mismatches, tw_sim_stats *stats)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.swarm = true;
    o.swarm_interval_ns = TW_MS(700);
    o.swarm_duration_ns_max = TW_SEC(2);
    o.buggify = true;
    o.stall_timeout_ns = TW_SEC(3);
    o.connect_timeout_ns = TW_SEC(2);
    o.net.loss_probability = 0.01;
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_BIMODAL,
                                  .min_ns = 200 * TW_NS_PER_US,
                                  .max_ns = TW_MS(2),
                                  .slow_probability = 0.02,
                                  .slow_min_ns = TW_MS(20),
                                  .slow_max_ns = TW_MS(200)};
    o.net.rcvbuf_bytes = 16 * 1024;
    o.trace_file = trace;
    demo d = {0};
    client_node cn[3] = {{&d, NULL}, {&d, NULL}, {&d, NULL}};
    d.sim = tw_sim_new(seed, &o);
    if (!d.sim)
        return 0;
    static const char *const names[] = {"s1", "s2", "c1", "c2", "c3"};
    static const char *const addrs[] = {"10.0.0.1", "10.0.0.2", "10.0.1.1",
                                        "10.0.1.2", "10.0.1.3"};
    for (int i = 0; i < 5; i++) {
        tw_loop *l = tw_sim_add_node(d.sim, names[i], addrs[i]);
        assert(l);
        if (i < 2) {
            tw_sim_node_set_start(l, server_start, NULL);
        } else {
            tw_sim_node_set_stop(l, client_stop);
            tw_sim_node_set_start(l, client_start, &cn[i - 2]);
        }
    }
    tw_sim_run_for(d.sim, duration_ns);
    uint64_t h = tw_sim_trace_hash(d.sim);
    if (stats)
        tw_sim_get_stats(d.sim, stats);
    if (mismatches)
        *mismatches = d.mismatches;
    tw_sim_free(d.sim);
    return h;
}
