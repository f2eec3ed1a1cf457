/* fuzz/tls.c - twin's TLS layer (tls/, over OpenSSL) against a
 * peer that sends whatever the input says, on a simulated network.
 *
 * The input, byte by byte:
 *
 *     h        bit 0: twin is the TLS client (else the server) and the
 *                     input plays the server (else the client)
 *              bit 1: the input's side ends with a reset (else with EOF,
 *                     then a close once twin's side has gone)
 *     c        each write of the input's side is c + 1 bytes (1..256),
 *              one every millisecond of virtual time
 *     payload  the rest: the bytes the input's side writes, in order
 *
 * twin's side is a TLS echo server (proto/echo.c, kept open) or a TLS
 * client that writes "ping" once it is connected. The world is seeded
 * alike for every run, so the client's first flight is the same bytes
 * each time: a recorded answer to it, mutated, takes the fuzzer through
 * a whole handshake and into the records after it (the seeds in
 * fuzz/corpus/tls are such recordings; TWIN_FUZZ_TLS_RECORD=DIR writes
 * them again). With TWIN_FUZZ_TRACE=1 a run's trace goes to stderr.
 *
 * Oracles beyond no crash: the contract checker on every node; the TLS
 * client's connect callback runs exactly once; a connection that fails
 * its handshake never reaches the protocol (no factory call, no
 * connection_made); and once the input's side has ended, twin's side
 * ends too: no TLS transport is left open when the world goes idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/echo.h"
#include "twin/sim.h"
#include "twin/simprobe.h"
#include "twin/tls.h"
#include "twin/twin.h"

#define PORT 4433

/* ---- the input's side: a plain TCP peer that writes the payload ---- */

typedef struct feeder {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    const uint8_t *data;
    size_t len, off, cut;
    bool reset, ended, lost;
    bool hold; /* recording: write nothing, end nothing */
    /* recording mode: what arrived from twin's side */
    uint8_t *rx;
    size_t rx_len, rx_cap;
} feeder;

static void feed(void *arg)
{
    feeder *f = arg;
    if (!f->t || f->lost)
        return;
    if (f->off < f->len) {
        size_t n = f->len - f->off < f->cut ? f->len - f->off : f->cut;
        tw_transport_write(f->t, f->data + f->off, n);
        f->off += n;
        tw_call_later(f->loop, TW_MS(1), feed, f);
        return;
    }
    f->ended = true;
    if (f->reset)
        tw_transport_abort(f->t);
    else
        tw_transport_write_eof(f->t);
}

static void f_made(tw_protocol *p, tw_transport *t)
{
    feeder *f = (feeder *)p;
    f->t = t;
    if (!f->hold)
        tw_call_soon(f->loop, feed, f);
}

static void f_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    feeder *f = (feeder *)p;
    if (!f->rx)
        return;
    if (f->rx_len + n > f->rx_cap) {
        size_t cap = (f->rx_len + n) * 2;
        uint8_t *b = realloc(f->rx, cap);
        if (!b)
            abort();
        f->rx = b;
        f->rx_cap = cap;
    }
    memcpy(f->rx + f->rx_len, d, n);
    f->rx_len += n;
}

static bool f_eof(tw_protocol *p)
{
    (void)p;
    return false; /* twin's side is done: close */
}

static void f_lost(tw_protocol *p, int err)
{
    (void)err;
    feeder *f = (feeder *)p;
    f->lost = true;
    f->t = NULL;
}

static const tw_protocol_ops feeder_ops = {
    .connection_made = f_made, .data_received = f_data,
    .eof_received = f_eof, .connection_lost = f_lost,
};

static tw_protocol *feeder_factory(void *arg)
{
    feeder *f = arg;
    f->base.ops = &feeder_ops;
    return &f->base;
}

/* ---- twin's client side: write "ping" once connected ---- */

typedef struct pinger {
    tw_protocol base;
    int made, factory_calls, cb_calls, cb_err;
} pinger;

static void p_made(tw_protocol *p, tw_transport *t)
{
    ((pinger *)p)->made++;
    tw_transport_write(t, "ping", 4);
}

static const tw_protocol_ops pinger_ops = {.connection_made = p_made};

static tw_protocol *pinger_factory(void *arg)
{
    pinger *p = arg;
    p->factory_calls++;
    p->base.ops = &pinger_ops;
    return &p->base;
}

static void pinger_cb(void *arg, tw_transport *t, int err)
{
    (void)t;
    pinger *p = arg;
    p->cb_calls++;
    p->cb_err = err;
}

/* ---- the world ---- */

static void violation(void *arg, const char *msg)
{
    fprintf(stderr, "tls: %s: %s\n", (const char *)arg, msg);
    abort();
}

static tw_tls_ctx *server_ctx, *client_ctx;

static void contexts(void)
{
    if (server_ctx)
        return;
    server_ctx = tw_tls_ctx_new(TW_TLS_SERVER);
    client_ctx = tw_tls_ctx_new(TW_TLS_CLIENT);
    if (!server_ctx || !client_ctx ||
        tw_tls_ctx_use_test_cert(server_ctx, "server,10.0.0.1") < 0 ||
        tw_tls_ctx_trust_test_ca(client_ctx) < 0 ||
        tw_tls_ctx_set_server_name(client_ctx, "server") < 0)
        abort(); /* fixed setup: a failure is a bug, not the input */
}

typedef struct run {
    tw_sim *sim;
    tw_loop *server, *client;
    tw_server *srv;
    feeder f;
    pinger p;
    unsigned echo_made;
} run;

/* The echo server's factory, counted: a handshake that fails must never
 * get this far. */
static tw_protocol *counted_echo(void *arg)
{
    run *r = arg;
    r->echo_made++;
    static tw_echo_server_cfg cfg = {.keep_open = true};
    return tw_echo_server_factory(&cfg);
}

static void world(run *r, bool twin_client, const uint8_t *data, size_t len,
                  size_t cut, bool reset)
{
    memset(r, 0, sizeof *r);
    contexts();
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)};
    if (getenv("TWIN_FUZZ_TRACE"))
        o.trace_file = stderr;
    r->sim = tw_sim_new(1, &o);
    if (!r->sim)
        abort();
    r->server = tw_sim_add_node(r->sim, "server", "10.0.0.1");
    r->client = tw_sim_add_node(r->sim, "client", "10.0.0.2");
    tw_loop_set_contract_check(r->server, true);
    tw_loop_set_contract_handler(r->server, violation, "server");
    tw_loop_set_contract_check(r->client, true);
    tw_loop_set_contract_handler(r->client, violation, "client");
    r->f = (feeder){.data = data, .len = len, .cut = cut, .reset = reset};
    if (twin_client) {
        r->f.loop = r->server;
        if (tw_create_server(r->server, feeder_factory, &r->f, "", PORT, NULL,
                             &r->srv) < 0 ||
            tw_create_connection_tls(r->client, pinger_factory, &r->p, "10.0.0.1",
                                     PORT, client_ctx, pinger_cb) < 0)
            abort();
    } else {
        r->f.loop = r->client;
        if (tw_create_server_tls(r->server, counted_echo, r, "", PORT, NULL,
                                 server_ctx, &r->srv) < 0 ||
            tw_create_connection(r->client, feeder_factory, &r->f, "10.0.0.1",
                                 PORT, NULL) < 0)
            abort();
    }
}

/* Open stream ends left on node n. */
static size_t open_ends(tw_sim *sim, tw_loop *n)
{
    tw_sim_stream_probe pr[16];
    size_t k = tw_sim_streams(sim, pr, 16), left = 0;
    for (size_t i = 0; i < k && i < 16; i++)
        if (pr[i].node == (uint32_t)tw_sim_node_id(n))
            left++;
    return left;
}

static void finish(run *r)
{
    if (r->srv)
        tw_server_close(r->srv);
    tw_sim_free(r->sim);
    free(r->f.rx);
}

/* ---- recording the seeds ---- */

static void write_file(const char *dir, const char *name, uint8_t h,
                       const uint8_t *d, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint8_t head[2] = {h, 255}; /* writes of 256 bytes */
    fwrite(head, 1, 2, f);
    fwrite(d, 1, n, f);
    fclose(f);
}

/* Record what twin's client sends first (a seed for the server role),
 * then what twin's server answers to it (one for the client role: the
 * client sends the same bytes in every run). */
static void record(const char *dir)
{
    run r;
    world(&r, true, NULL, 0, 256, false);
    r.f.rx = malloc(1);
    r.f.rx_cap = 1;
    r.f.hold = true; /* no answer: the client's first flight only */
    tw_sim_run_for(r.sim, TW_MS(50));
    size_t hello_len = r.f.rx_len;
    uint8_t *hello = malloc(hello_len ? hello_len : 1);
    memcpy(hello, r.f.rx, hello_len);
    finish(&r);
    write_file(dir, "client-first-flight", 0, hello, hello_len);

    world(&r, false, hello, hello_len, 256, false);
    r.f.rx = malloc(1);
    r.f.rx_cap = 1;
    tw_sim_run_for(r.sim, TW_MS(50));
    write_file(dir, "server-answer", 1, r.f.rx, r.f.rx_len);
    fprintf(stderr, "tls: recorded %zu and %zu bytes in %s\n", hello_len,
            r.f.rx_len, dir);
    free(hello);
    finish(&r);
}

/* ---- the target ---- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool recorded;
    const char *dir = getenv("TWIN_FUZZ_TLS_RECORD");
    if (dir && !recorded) {
        recorded = true;
        record(dir);
    }
    uint8_t h = size > 0 ? data[0] : 0;
    size_t cut = size > 1 ? (size_t)data[1] + 1 : 256;
    const uint8_t *pay = size > 2 ? data + 2 : data + size;
    size_t plen = size > 2 ? size - 2 : 0;
    bool twin_client = h & 1;
    run r;
    world(&r, twin_client, pay, plen, cut, h & 2);
    /* Long enough for every timeout of the TLS layer to run out. */
    if (tw_sim_run_for(r.sim, TW_SEC(120)) < 0)
        abort();
    if (twin_client) {
        if (r.p.cb_calls != 1)
            abort(); /* the connect callback runs once, always */
        if (r.p.cb_err != 0 && (r.p.factory_calls || r.p.made))
            abort(); /* a failed handshake reached the protocol */
        if (open_ends(r.sim, r.client) != 0)
            abort(); /* the server went, the TLS client stayed */
    } else {
        if (r.echo_made == 0 && r.f.ended && open_ends(r.sim, r.server) != 0)
            abort(); /* the client went, the TLS server end stayed */
    }
    finish(&r);
    return 0;
}
