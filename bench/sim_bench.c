/* bench/sim_bench.c - how fast and how small the simulator is.
 *
 *   sim_bench [CONNECTIONS [SECONDS]]   (defaults: 100000 connections, 10 s)
 *
 * One server node, four client nodes; CONNECTIONS connections stay open at
 * once, each sending a 100-byte request every second of virtual time and
 * getting it echoed. Prints simulated events per wall second, virtual
 * seconds per wall second, and the peak resident memory (the requirement:
 * 100,000 connections in 1 GiB). Reads the wall clock: it is a benchmark,
 * not part of the simulator.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "twin/sim.h"
#include "twin/twin.h"

typedef struct conn {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    uint64_t echoed;
    bool server;
} conn;

static uint64_t echoes;

static void tick(void *arg);

static void made(tw_protocol *p, tw_transport *t)
{
    conn *c = (conn *)p;
    c->t = t;
    if (!c->server)
        tw_call_later(c->loop, TW_SEC(1), tick, c);
}

static void data(tw_protocol *p, const uint8_t *d, size_t n)
{
    conn *c = (conn *)p;
    if (c->server)
        tw_transport_write(c->t, d, n);
    else
        echoes += n;
}

static void release(tw_protocol *p) { free(p); }

static const tw_protocol_ops ops = {.connection_made = made, .data_received = data,
                                    .release = release};

static void tick(void *arg)
{
    conn *c = arg;
    static const char req[100] = "request";
    if (!c->t || tw_transport_is_closing(c->t))
        return;
    tw_transport_write(c->t, req, sizeof req);
    tw_call_later(c->loop, TW_SEC(1), tick, c);
}

static tw_protocol *server_factory(void *arg)
{
    conn *c = calloc(1, sizeof *c);
    c->base.ops = &ops;
    c->server = true;
    c->loop = arg;
    return &c->base;
}

static tw_protocol *client_factory(void *arg)
{
    conn *c = calloc(1, sizeof *c);
    c->base.ops = &ops;
    c->loop = arg;
    return &c->base;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int secs = argc > 2 ? atoi(argv[2]) : 10;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.rcvbuf_bytes = 16 * 1024;
    tw_sim *sim = tw_sim_new(1, &o);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_loop *cl[4];
    for (int i = 0; i < 4; i++) {
        char name[8], addr[16];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(addr, sizeof addr, "10.0.1.%d", i + 1);
        cl[i] = tw_sim_add_node(sim, name, addr);
    }
    tw_server *srv;
    tw_server_opts so = {.backlog = 4096};
    if (tw_create_server(s, server_factory, s, "", 80, &so, &srv) < 0)
        return 1;
    double t0 = wall();
    for (int i = 0; i < n; i++)
        tw_create_connection(cl[i % 4], client_factory, cl[i % 4], "10.0.0.1", 80, NULL);
    tw_sim_run_for(sim, TW_SEC(secs));
    double t1 = wall();
    tw_sim_stats st;
    tw_sim_get_stats(sim, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("connections=%d endpoints=%" PRIu32 " virtual=%ds wall=%.2fs "
           "events=%" PRIu64 " events/s=%.0f iterations=%" PRIu64
           " echoed=%" PRIu64 " maxrss=%ldMiB\n",
           n, st.endpoints, secs, t1 - t0, st.events,
           (double)st.events / (t1 - t0), st.iterations, echoes,
           ru.ru_maxrss / 1024);
    tw_sim_free(sim);
    return st.endpoints >= (uint32_t)(2 * n) && ru.ru_maxrss < 1024 * 1024 ? 0 : 2;
}
