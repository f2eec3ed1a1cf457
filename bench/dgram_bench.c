/* bench/dgram_bench.c - datagrams per second: a client keeps WINDOW
 * datagrams of SIZE bytes in flight to the UDP echo server (twin's, from
 * proto/udp_echo.c) until N echoes came back, on either backend.
 *
 *   dgram_bench --backend real|sim [--datagrams N] [--size BYTES]
 *               [--window W] [--seed S]
 *
 * Prints one JSON object: wall seconds, datagrams moved per wall second
 * (each echo is two: there and back), round trips per second and, on the
 * simulator, the virtual time it took. Loopback UDP may drop a datagram
 * when the machine is busy; a 50 ms tick refills the window when nothing
 * came back in between, and the refills are counted.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twin/real.h"
#include "twin/sim.h"
#include "twin/twin.h"
#include "twin/udp_echo.h"

struct blaster {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    uint8_t *msg;
    size_t size;
    uint64_t want, sent, got, got_at_tick, refills;
    unsigned window;
    tw_handle tick;
    bool done;
    int err;
};

static void send_more(struct blaster *b)
{
    while (b->sent - b->got < b->window && b->sent < b->want + b->window) {
        b->sent++;
        tw_transport_sendto(b->t, b->msg, b->size, NULL);
    }
}

static void tick(void *arg)
{
    struct blaster *b = arg;
    b->tick = 0;
    if (b->done)
        return;
    if (b->got == b->got_at_tick) { /* nothing came back: refill */
        b->refills++;
        b->sent = b->got;
        send_more(b);
    }
    b->got_at_tick = b->got;
    b->tick = tw_call_later(b->loop, TW_MS(50), tick, b);
}

static void b_made(tw_protocol *p, tw_transport *t)
{
    struct blaster *b = (struct blaster *)p;
    b->t = t;
    b->loop = tw_transport_loop(t);
    send_more(b);
    b->tick = tw_call_later(b->loop, TW_MS(50), tick, b);
}

static void b_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                       const tw_addr *from)
{
    struct blaster *b = (struct blaster *)p;
    (void)d;
    (void)from;
    if (b->done || n != b->size)
        return;
    if (++b->got >= b->want) {
        b->done = true;
        if (b->tick)
            tw_handle_cancel(b->loop, b->tick);
        b->tick = 0;
        tw_transport_close(b->t);
        tw_loop_stop(b->loop);
        return;
    }
    send_more(b);
}

static void b_error(tw_protocol *p, int err) { ((struct blaster *)p)->err = err; }

static const tw_protocol_ops blaster_ops = {
    .connection_made = b_made,
    .datagram_received = b_datagram,
    .error_received = b_error,
};

static tw_protocol *blaster_factory(void *arg) { return arg; }

struct server {
    tw_udp_echo_server_cfg cfg; /* first: the factory's arg */
    tw_transport *t;
};

static void server_ready(void *arg, tw_transport *t, int err)
{
    struct server *s = arg;
    if (err)
        fprintf(stderr, "dgram_bench: server: %s\n", tw_strerror(err));
    s->t = t;
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
    unsigned window = 32;
    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'},
        {"datagrams", required_argument, 0, 'n'},
        {"size", required_argument, 0, 's'},
        {"window", required_argument, 0, 'w'},
        {"seed", required_argument, 0, 'S'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "b:n:s:w:S:", opts, NULL)) != -1) {
        switch (c) {
        case 'b': backend = optarg; break;
        case 'n': n = strtoull(optarg, NULL, 10); break;
        case 's': size = strtoull(optarg, NULL, 10); break;
        case 'w': window = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'S': seed = strtoull(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: dgram_bench --backend real|sim [--datagrams N] "
                            "[--size BYTES] [--window W] [--seed S]\n");
            return 2;
        }
    }
    if (n == 0 || size == 0 || size > 65507 || window == 0) {
        fprintf(stderr, "dgram_bench: --datagrams, --size (<= 65507) and "
                        "--window must be positive\n");
        return 2;
    }
    struct blaster b = {.base.ops = &blaster_ops, .size = size, .want = n,
                        .window = window};
    b.msg = calloc(1, size);
    struct server srv = {{0}, NULL};
    tw_sim *sim = NULL;
    tw_loop *server_loop, *client_loop;
    const char *host;
    if (strcmp(backend, "real") == 0) {
        server_loop = client_loop = tw_loop_new(NULL);
        host = "127.0.0.1";
    } else if (strcmp(backend, "sim") == 0) {
        sim = tw_sim_new(seed, NULL);
        server_loop = sim ? tw_sim_add_node(sim, "server", "10.0.0.2") : NULL;
        client_loop = sim ? tw_sim_add_node(sim, "client", "10.0.0.1") : NULL;
        host = "10.0.0.2";
    } else {
        fprintf(stderr, "dgram_bench: unknown backend '%s'\n", backend);
        return 2;
    }
    if (!b.msg || !server_loop || !client_loop) {
        fprintf(stderr, "dgram_bench: out of memory\n");
        return 1;
    }
    tw_datagram_opts so = {0};
    tw_addr_ip(&so.local, host, 0);
    int rc = tw_create_datagram_endpoint(server_loop, tw_udp_echo_server_factory,
                                         &srv, &so, server_ready);
    if (rc == 0)
        rc = tw_loop_run_for(server_loop, TW_MS(10));
    if (rc < 0 || !srv.t) {
        fprintf(stderr, "dgram_bench: server endpoint: %s\n", tw_strerror(rc));
        return 1;
    }
    tw_datagram_opts co = {0};
    tw_transport_sockname(srv.t, &co.remote);
    double t0 = wall();
    tw_ns v0 = tw_loop_now(client_loop);
    rc = tw_create_datagram_endpoint(client_loop, blaster_factory, &b, &co, NULL);
    if (rc == 0)
        rc = tw_loop_run(client_loop);
    double secs = wall() - t0;
    tw_ns virt = tw_loop_now(client_loop) - v0;
    tw_transport_close(srv.t);
    if (sim) {
        tw_sim_run_for(sim, TW_MS(100));
        tw_sim_free(sim);
    } else {
        tw_loop_run_for(client_loop, TW_MS(100));
        tw_loop_free(client_loop);
    }
    free(b.msg);
    if (rc < 0 || b.got < n) {
        fprintf(stderr, "dgram_bench: failed: rc=%d got=%llu of %llu err=%s\n", rc,
                (unsigned long long)b.got, (unsigned long long)n,
                tw_strerror(b.err));
        return 1;
    }
    printf("{\"backend\": \"%s\", \"datagrams\": %llu, \"size\": %zu, "
           "\"window\": %u, \"wall_s\": %.6f, \"dgrams_per_s\": %.1f, "
           "\"round_trips_per_s\": %.1f, \"virtual_s\": %.6f, \"refills\": %llu}\n",
           backend, (unsigned long long)n, size, window, secs,
           2.0 * (double)n / secs, (double)n / secs,
           sim ? (double)virt / 1e9 : 0.0, (unsigned long long)b.refills);
    return 0;
}
