/* fuzz/schedule.c - the schedule fuzzer: the input's bytes are the
 * simulator's randomness (tw_sim_opts.prng_bytes, twin/sim.h), so every
 * choice of a small world (latencies, chunk sizes, losses, duplicates,
 * reorderings, which swarm fault strikes whom and when, buggify fires)
 * comes from the fuzzer, and coverage guidance explores schedules.
 *
 * The world: a server node running echo-server, udp-echo-server and
 * bulk-recv, a resp-server, and clients checking every byte they get back
 * (echo-load, resp-client, udp-load, bulk-send), under swarm faults for
 * 1.5 s of virtual time. Oracles: the apps' invariants (checked every 50 ms), the
 * contract checker, and no crash. Liveness is not judged: a schedule may
 * keep a client from finishing in time, and that is no bug.
 *
 * A crash input replays exactly: run the target on it; with
 * TWIN_FUZZ_TRACE=1 the trace goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/sim.h"

#define APPS_MAX 3
#define ARGS_MAX 16

typedef struct node_spec {
    const char *name, *addr;
    const char *const *apps[APPS_MAX];
} node_spec;

static const char *const echo_server[] = {
    "echo-server", "--host", "", "--port", "7", "--keep-open", "--quiet", NULL};
static const char *const udp_server[] = {
    "udp-echo-server", "--host", "10.0.0.1", "--port", "9999", "--quiet", NULL};
static const char *const bulk_recv[] = {
    "bulk-recv", "--host", "", "--port", "9000", "--rate", "256KiB/s", "--quiet", NULL};
static const char *const echo_load[] = {
    "echo-load", "--connect", "10.0.0.1:7", "--messages", "12", "--size", "3KiB",
    "--timeout", "300ms", "--quiet", NULL};
static const char *const udp_load[] = {
    "udp-load", "--connect", "10.0.0.1:9999", "--datagrams", "40", "--window", "4",
    "--timeout", "100ms", "--quiet", NULL};
static const char *const bulk_send[] = {
    "bulk-send", "--connect", "10.0.0.1:9000", "--bytes", "96KiB", "--chunk", "8KiB",
    "--quiet", NULL};

static const char *const resp_server[] = {
    "resp-server", "--host", "", "--port", "6399", NULL};
/* A swarm clock fault here sets a node's clock to world time +-200 ms
 * (skew_max below), so between two readings a clock may jump
 * ahead or stand still by up to 400 ms; the client's and the server's
 * together, plus 1000 ppm of drift over the run: the slack the client's
 * expiry judgements must allow. */
static const char *const resp_client[] = {
    "resp-client", "--connect", "10.0.0.2:6399", "--ops", "60", "--keys", "8",
    "--timeout", "300ms", "--clock-slack", "802ms", "--quiet", NULL};

static const node_spec nodes[] = {
    {"server", "10.0.0.1", {echo_server, udp_server, bulk_recv}},
    {"kv", "10.0.0.2", {resp_server}},
    {"c1", "10.0.1.1", {echo_load, resp_client}},
    {"c2", "10.0.1.2", {udp_load}},
    {"c3", "10.0.1.3", {bulk_send}},
};
#define NODES (sizeof nodes / sizeof nodes[0])

typedef struct node_rt {
    const node_spec *spec;
    const tw_app *app[APPS_MAX];
    void *state[APPS_MAX];
} node_rt;

static FILE *devnull;

static int node_start(tw_loop *loop, void *arg)
{
    node_rt *n = arg;
    for (int k = 0; k < APPS_MAX && n->spec->apps[k]; k++) {
        char *argv[ARGS_MAX + 1];
        int argc = 0;
        while (n->spec->apps[k][argc])
            argv[argc] = (char *)n->spec->apps[k][argc], argc++;
        argv[argc] = NULL;
        n->app[k] = tw_app_find(argv[0]);
        n->state[k] = NULL;
        if (!n->app[k] || n->app[k]->start(loop, argc, argv, devnull, &n->state[k]) < 0) {
            fprintf(stderr, "schedule: %s: %s does not start\n", n->spec->name, argv[0]);
            abort(); /* the world is fixed: this is a bug, not the input */
        }
    }
    return 0;
}

static void node_stop(tw_loop *loop, void *arg)
{
    node_rt *n = arg;
    for (int k = 0; k < APPS_MAX; k++) {
        if (!n->state[k])
            continue;
        tw_app_discard(n->app[k], n->state[k]);
        n->state[k] = NULL;
    }
}

static void check_invariants(node_rt *rt, tw_sim *sim)
{
    for (size_t i = 0; i < NODES; i++)
        for (int k = 0; k < APPS_MAX; k++) {
            const char *msg;
            if (rt[i].state[k] && rt[i].app[k]->invariant &&
                (msg = rt[i].app[k]->invariant(rt[i].state[k]))) {
                fprintf(stderr, "schedule: at %lld ns: %s (%s): %s\n",
                        (long long)tw_sim_now(sim), rt[i].spec->name,
                        rt[i].app[k]->name, msg);
                abort();
            }
        }
}

static void violation(void *arg, const char *msg)
{
    fprintf(stderr, "schedule: %s: %s\n", (const char *)arg, msg);
    abort();
}

static void set_opts(tw_sim_opts *o, const uint8_t *data, size_t size)
{
    tw_sim_opts_default(o);
    o->prng_bytes = data;
    o->prng_bytes_len = size;
    o->stall_timeout_ns = TW_MS(800);
    o->connect_timeout_ns = TW_MS(300);
    o->buggify = true;
    o->chunk_bytes_max = 16 * 1024;
    o->net.loss_probability = 0.02;
    o->net.rto_ns = TW_MS(50);
    o->net.rcvbuf_bytes = 32 * 1024;
    o->net.dgram.loss_probability = 0.02;
    o->net.dgram.duplicate_probability = 0.02;
    o->net.dgram.reorder_probability = 0.05;
    o->net.dgram.corrupt_probability = 0.01;
    if (getenv("TWIN_FUZZ_TRACE"))
        o->trace_file = stderr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        return 0;
    tw_sim_opts o;
    set_opts(&o, data, size);
    tw_sim *sim = tw_sim_new(1, &o);
    if (!sim)
        return 0;
    node_rt rt[NODES];
    memset(rt, 0, sizeof rt);
    for (size_t i = 0; i < NODES; i++) {
        tw_loop *loop = tw_sim_add_node(sim, nodes[i].name, nodes[i].addr);
        if (!loop)
            abort();
        rt[i].spec = &nodes[i];
        tw_loop_set_contract_check(loop, true);
        tw_loop_set_contract_handler(loop, violation, (void *)nodes[i].name);
        tw_sim_node_set_stop(loop, node_stop);
        tw_sim_node_set_start(loop, node_start, &rt[i]);
    }
    /* Swarm faults over the run, drawn first: the input's first bytes
     * choose them (and every choice after them). */
    tw_sim_swarm_spec spec;
    tw_sim_swarm_spec_default(&spec, TW_MS(1500));
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++)
        if (tw_sim_fault_kind_info(k)->swarm && k != TW_SIM_FAULT_KILL &&
            k < TW_SIM_FAULT_DISK_EIO) /* its apps keep no files */
            spec.kinds |= 1u << k;
    spec.count_min = 3;
    spec.count_max = 8;
    spec.dur_max = TW_MS(400);
    spec.skew_max = TW_MS(200);
    spec.drift_max = 1000;
    if (tw_sim_swarm(sim, &spec) < 0)
        abort();
    for (int step = 0; step < 30; step++) {
        if (tw_sim_run_for(sim, TW_MS(50)) < 0)
            break; /* a limit of the world: not this input's bug */
        check_invariants(rt, sim);
    }
    tw_sim_free(sim); /* crashes every node: stop hooks free the apps */
    for (size_t i = 0; i < NODES; i++)
        node_stop(NULL, &rt[i]);
    return 0;
}
