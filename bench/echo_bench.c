/* bench/echo_bench.c - one echo exchange, timed: a client sends a message
 * of SIZE bytes, waits for all of it to come back, and repeats N times,
 * against twin's echo server (keep-open), on either backend.
 *
 *   echo_bench --backend real|sim [--messages N] [--size BYTES] [--seed S]
 *              [--chunk-split P]
 *
 * --chunk-split sets the simulator's chance that a delivery is cut short
 * (tw_sim_opts.chunk_split_probability; negative: never) instead of its
 * default.
 *
 * Prints one JSON object: wall seconds, messages per wall second and, on
 * the simulator, the virtual time it took and the network events it
 * processed. The same protocol code runs in both worlds; only the loop
 * differs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twin/echo.h"
#include "twin/real.h"
#include "twin/sim.h"
#include "twin/twin.h"

struct pinger {
    tw_protocol base;
    tw_transport *t;
    uint8_t *msg;
    size_t size, got;
    uint64_t sent, want;
    bool done, bad;
    int err;
    tw_loop *stop_loop;
};

static void ping(struct pinger *p)
{
    /* vary the first byte so a stale echo would be noticed */
    p->msg[0] = (uint8_t)p->sent;
    tw_transport_write(p->t, p->msg, p->size);
}

static void p_made(tw_protocol *pr, tw_transport *t)
{
    struct pinger *p = (struct pinger *)pr;
    p->t = t;
    ping(p);
}

static void p_data(tw_protocol *pr, const uint8_t *d, size_t n)
{
    struct pinger *p = (struct pinger *)pr;
    if (p->got == 0 && n > 0 && d[0] != (uint8_t)p->sent)
        p->bad = true;
    p->got += n;
    if (p->got > p->size)
        p->bad = true;
    if (p->got < p->size)
        return;
    p->got = 0;
    if (++p->sent == p->want)
        tw_transport_close(p->t);
    else
        ping(p);
}

static void p_lost(tw_protocol *pr, int err)
{
    struct pinger *p = (struct pinger *)pr;
    p->err = err;
    p->done = true;
    if (p->stop_loop)
        tw_loop_stop(p->stop_loop);
}

static const tw_protocol_ops pinger_ops = {
    .connection_made = p_made, .data_received = p_data, .connection_lost = p_lost,
};

static tw_protocol *pinger_factory(void *arg) { return arg; }

static void connected(void *arg, tw_transport *t, int err)
{
    (void)t;
    if (err) {
        struct pinger *p = arg;
        fprintf(stderr, "echo_bench: connect failed: %s\n", tw_strerror(err));
        p->err = err;
        p->done = true;
        if (p->stop_loop)
            tw_loop_stop(p->stop_loop);
    }
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *backend = "sim";
    uint64_t n = 100000, seed = 1;
    size_t size = 64;
    double split = 0;
    bool split_set = false;
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'},
        {"messages", required_argument, 0, 'n'},
        {"size", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},
        {"chunk-split", required_argument, 0, 'c'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "b:n:s:S:c:", opts, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoull(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 0); break;
        case 'c':
            split = strtod(optarg, NULL);
            split_set = true;
            break;
        default:
            fprintf(stderr, "usage: echo_bench --backend real|sim [--messages N] "
                            "[--size BYTES] [--seed S] [--chunk-split P]\n");
            return 2;
        }
    }
    if (n == 0 || size == 0) {
        fprintf(stderr, "echo_bench: --messages and --size must be positive\n");
        return 2;
    }
    struct pinger p = {.base.ops = &pinger_ops, .size = size, .want = n};
    p.msg = calloc(1, size);
    tw_echo_server_cfg cfg = {.keep_open = true};
    tw_sim *sim = NULL;
    tw_loop *server_loop, *client_loop;
    const char *server_host;
    if (strcmp(backend, "real") == 0) {
        server_loop = client_loop = tw_loop_new(NULL);
        server_host = "127.0.0.1";
    } else if (strcmp(backend, "sim") == 0) {
        tw_sim_opts so;
        tw_sim_opts_default(&so);
        if (split_set)
            so.chunk_split_probability = split;
        sim = tw_sim_new(seed, &so);
        server_loop = tw_sim_add_node(sim, "server", "10.0.0.2");
        client_loop = tw_sim_add_node(sim, "client", "10.0.0.1");
        server_host = "10.0.0.2";
    } else {
        fprintf(stderr, "echo_bench: unknown backend '%s'\n", backend);
        return 2;
    }
    tw_server *srv;
    int rc = tw_create_server(server_loop, tw_echo_server_factory, &cfg,
                              server_host, 0, NULL, &srv);
    if (rc < 0) {
        fprintf(stderr, "echo_bench: listen: %s\n", tw_strerror(rc));
        return 1;
    }
    p.stop_loop = client_loop;
    double t0 = wall();
    tw_ns v0 = tw_loop_now(client_loop);
    rc = tw_create_connection(client_loop, pinger_factory, &p, server_host,
                              tw_server_port(srv), connected);
    if (rc == 0)
        rc = tw_loop_run(client_loop);
    double secs = wall() - t0;
    tw_ns virt = tw_loop_now(client_loop) - v0;
    uint64_t events = 0;
    if (sim) {
        tw_sim_stats st;
        tw_sim_get_stats(sim, &st);
        events = st.events + st.iterations;
    }
    tw_server_close(srv);
    if (sim) {
        tw_sim_free(sim);
    } else {
        tw_loop_run_for(client_loop, TW_MS(100));
        tw_loop_free(client_loop);
    }
    free(p.msg);
    if (rc < 0 || p.err || p.bad || p.sent != n) {
        fprintf(stderr, "echo_bench: failed: rc=%d err=%s sent=%llu bad=%d\n", rc,
                tw_strerror(p.err), (unsigned long long)p.sent, p.bad);
        return 1;
    }
    printf("{\"backend\": \"%s\", \"messages\": %llu, \"size\": %zu, "
           "\"wall_s\": %.6f, \"msgs_per_s\": %.1f, \"virtual_s\": %.6f, "
           "\"sim_events\": %llu, \"sim_events_per_s\": %.1f}\n",
           backend, (unsigned long long)n, size, secs, (double)n / secs,
           sim ? (double)virt / 1e9 : 0.0, (unsigned long long)events,
           sim ? (double)events / secs : 0.0);
    return 0;
}
