/* bench/tls_bench.c - echo throughput over TLS or plain TCP, the same
 * exchange both ways, so that their ratio is the cost of TLS on twin.
 *
 *   tls_bench [--tls] [--backend real|sim] [--size BYTES] [--bytes TOTAL]
 *             [--window N]
 *
 * A client keeps N messages of SIZE bytes in flight (default 8) to twin's
 * echo server (keep-open) until TOTAL bytes came back, every byte checked.
 * Both ends run on one loop, so the figure is the CPU cost of both ends of
 * the connection in one thread. With --tls both use twin's test
 * certificate (twin/tls.h), the handshake included in the time (once).
 * Prints one JSON object.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twin/echo.h"
#include "twin/real.h"
#include "twin/sim.h"
#include "twin/tls.h"
#include "twin/twin.h"

/* Bytes repeat every PERIOD: message and check are a pointer into one
 * table, so the benchmark itself costs next to nothing per byte. */
#define PERIOD 251
#define READ_MAX (256 * 1024) /* the most one data_received brings */

struct client {
    tw_protocol base;
    tw_transport *t;
    uint8_t *pattern; /* PERIOD + max(size, READ_MAX) bytes */
    size_t size, window;
    uint64_t sent, back, total; /* bytes */
    bool bad, done;
    int err;
    tw_loop *stop_loop;
};

static void fill(struct client *c)
{
    while (c->sent < c->total && c->sent - c->back < c->window * c->size) {
        size_t n = c->size;
        if (c->total - c->sent < n)
            n = (size_t)(c->total - c->sent);
        tw_transport_write(c->t, c->pattern + c->sent % PERIOD, n);
        c->sent += n;
    }
}

static void c_made(tw_protocol *p, tw_transport *t)
{
    struct client *c = (struct client *)p;
    c->t = t;
    fill(c);
}

static void c_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    struct client *c = (struct client *)p;
    if (n > READ_MAX || memcmp(d, c->pattern + c->back % PERIOD, n) != 0)
        c->bad = true;
    c->back += n;
    if (c->back >= c->total)
        tw_transport_close(c->t);
    else
        fill(c);
}

static void c_lost(tw_protocol *p, int err)
{
    struct client *c = (struct client *)p;
    c->err = err;
    c->done = true;
    tw_loop_stop(c->stop_loop);
}

static const tw_protocol_ops client_ops = {
    .connection_made = c_made, .data_received = c_data, .connection_lost = c_lost,
};

static tw_protocol *client_factory(void *arg) { return arg; }

static void connected(void *arg, tw_transport *t, int err)
{
    struct client *c = arg;
    (void)t;
    if (err) {
        fprintf(stderr, "tls_bench: connect failed: %s\n", tw_strerror(err));
        c->err = err;
        c->done = true;
        tw_loop_stop(c->stop_loop);
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
    const char *backend = "real";
    bool tls = false;
    size_t size = 1024, window = 8;
    uint64_t total = 64u << 20;
    static const struct option opts[] = {
        {"tls", no_argument, 0, 't'},
        {"backend", required_argument, 0, 'b'},
        {"size", required_argument, 0, 's'},
        {"bytes", required_argument, 0, 'n'},
        {"window", required_argument, 0, 'w'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "tb:s:n:w:", opts, NULL)) != -1) {
        switch (ch) {
        case 't': tls = true; break;
        case 'b': backend = optarg; break;
        case 's': size = strtoull(optarg, NULL, 10); break;
        case 'n': total = strtoull(optarg, NULL, 10); break;
        case 'w': window = strtoull(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: tls_bench [--tls] [--backend real|sim] "
                            "[--size BYTES] [--bytes TOTAL] [--window N]\n");
            return 2;
        }
    }
    if (!size || !total || !window) {
        fprintf(stderr, "tls_bench: --size, --bytes and --window must be positive\n");
        return 2;
    }
    tw_sim *sim = NULL;
    tw_loop *sloop, *cloop;
    const char *host;
    if (strcmp(backend, "real") == 0) {
        sloop = cloop = tw_loop_new(NULL);
        host = "127.0.0.1";
    } else if (strcmp(backend, "sim") == 0) {
        sim = tw_sim_new(1, NULL);
        sloop = tw_sim_add_node(sim, "server", "10.0.0.2");
        cloop = tw_sim_add_node(sim, "client", "10.0.0.1");
        host = "10.0.0.2";
    } else {
        fprintf(stderr, "tls_bench: unknown backend '%s'\n", backend);
        return 2;
    }
    tw_tls_ctx *sctx = NULL, *cctx = NULL;
    if (tls) {
        sctx = tw_tls_ctx_new(TW_TLS_SERVER);
        cctx = tw_tls_ctx_new(TW_TLS_CLIENT);
        if (!sctx || !cctx || tw_tls_ctx_use_test_cert(sctx, host) < 0 ||
            tw_tls_ctx_trust_test_ca(cctx) < 0) {
            fprintf(stderr, "tls_bench: TLS setup failed\n");
            return 1;
        }
    }
    tw_echo_server_cfg cfg = {.keep_open = true};
    tw_server *srv;
    int rc = tls ? tw_create_server_tls(sloop, tw_echo_server_factory, &cfg, host, 0,
                                        NULL, sctx, &srv)
                 : tw_create_server(sloop, tw_echo_server_factory, &cfg, host, 0,
                                    NULL, &srv);
    if (rc < 0) {
        fprintf(stderr, "tls_bench: listen: %s\n", tw_strerror(rc));
        return 1;
    }
    struct client c = {.base.ops = &client_ops, .size = size, .window = window,
                       .total = total, .stop_loop = cloop};
    size_t plen = PERIOD + (size > READ_MAX ? size : READ_MAX);
    c.pattern = malloc(plen);
    for (size_t i = 0; c.pattern && i < plen; i++)
        c.pattern[i] = (uint8_t)((i % PERIOD) * 131 + 7);
    double t0 = wall();
    rc = tls ? tw_create_connection_tls(cloop, client_factory, &c, host,
                                        tw_server_port(srv), cctx, connected)
             : tw_create_connection(cloop, client_factory, &c, host,
                                    tw_server_port(srv), connected);
    while (rc == 0 && !c.done && (rc = tw_loop_run(cloop)) == 0)
        ;
    double secs = wall() - t0;
    tw_server_close(srv);
    if (sim) {
        tw_sim_free(sim);
    } else {
        tw_loop_run_for(cloop, TW_MS(100));
        tw_loop_free(cloop);
    }
    tw_tls_ctx_free(sctx);
    tw_tls_ctx_free(cctx);
    free(c.pattern);
    if (rc < 0 || c.err || c.bad || c.back != total) {
        fprintf(stderr, "tls_bench: failed: rc=%d err=%s back=%llu bad=%d\n", rc,
                tw_strerror(c.err), (unsigned long long)c.back, c.bad);
        return 1;
    }
    printf("{\"mode\": \"%s\", \"backend\": \"%s\", \"size\": %zu, \"bytes\": %llu, "
           "\"window\": %zu, \"wall_s\": %.6f, \"msgs_per_s\": %.1f, "
           "\"mib_per_s\": %.2f}\n",
           tls ? "tls" : "tcp", backend, size, (unsigned long long)total, window,
           secs, (double)total / (double)size / secs,
           (double)total / secs / (1024.0 * 1024.0));
    return 0;
}
