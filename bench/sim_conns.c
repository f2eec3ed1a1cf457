/* bench/sim_conns.c - how much memory N concurrent simulated connections
 * take: one server node, client nodes each opening their share, all
 * connected at once, then the resident set size is read.
 *
 *   sim_conns [--connections N]      (default 100000)
 *
 * Prints one JSON object with the RSS before and after and per connection.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/sim.h"
#include "twin/twin.h"

static uint64_t made, lost;

static void c_made(tw_protocol *p, tw_transport *t) { (void)p; (void)t; made++; }
static void c_lost(tw_protocol *p, int err) { (void)p; (void)err; lost++; }

/* One stateless protocol serves every connection: the figure is twin's
 * memory per connection, not an application's. */
static const tw_protocol_ops idle_ops = {.connection_made = c_made,
                                         .connection_lost = c_lost};
static tw_protocol idle = {.ops = &idle_ops};
static tw_protocol *idle_factory(void *arg) { (void)arg; return &idle; }

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    uint64_t n = 100000;
    int c;
    static const struct option opts[] = {{"connections", required_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
        if (c != 'n') {
            fprintf(stderr, "usage: sim_conns [--connections N]\n");
            return 2;
        }
        n = strtoull(optarg, NULL, 10);
    }
    long before = rss_kib();
    tw_sim *sim = tw_sim_new(1, NULL);
    tw_loop *server = tw_sim_add_node(sim, "server", "10.1.0.1");
    tw_server *srv;
    tw_server_opts so = {.backlog = 4096};
    if (tw_create_server(server, idle_factory, NULL, "10.1.0.1", 7000, &so, &srv) < 0)
        return 1;
    enum { PER_NODE = 50000 };
    uint64_t nodes = (n + PER_NODE - 1) / PER_NODE;
    uint64_t opened = 0;
    for (uint64_t k = 0; k < nodes; k++) {
        char name[32], addr[32];
        snprintf(name, sizeof name, "c%llu", (unsigned long long)k);
        snprintf(addr, sizeof addr, "10.2.%llu.%llu", (unsigned long long)(k / 250),
                 (unsigned long long)(k % 250 + 1));
        tw_loop *cl = tw_sim_add_node(sim, name, addr);
        for (uint64_t i = 0; i < PER_NODE && opened < n; i++, opened++) {
            int rc = tw_create_connection(cl, idle_factory, NULL, "10.1.0.1", 7000, NULL);
            if (rc < 0) {
                fprintf(stderr, "sim_conns: connect %llu: %s\n",
                        (unsigned long long)opened, tw_strerror(rc));
                return 1;
            }
        }
    }
    /* Run until every connection is made on both ends. */
    for (int i = 0; i < 600 && made < 2 * n; i++)
        tw_sim_run_for(sim, TW_SEC(1));
    long after = rss_kib();
    tw_sim_stats st;
    tw_sim_get_stats(sim, &st);
    printf("{\"connections\": %llu, \"made\": %llu, \"endpoints\": %u, "
           "\"rss_before_kib\": %ld, \"rss_after_kib\": %ld, "
           "\"bytes_per_connection\": %.0f}\n",
           (unsigned long long)n, (unsigned long long)made, st.endpoints, before,
           after, (double)(after - before) * 1024.0 / (double)n);
    tw_server_close(srv);
    tw_sim_free(sim);
    return made == 2 * n ? 0 : 1;
}
