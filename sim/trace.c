/* sim/trace.c - the trace: every event the simulator delivers, as a hash
 * and, when asked, as readable lines.
 *
 * Map: hashing, formatting, filtering, the summary.
 *
 * The hash (sim_trace in sim/trace.h) folds each record's fields in as
 * whole 64-bit integer values, never a struct's bytes (whose padding is
 * undefined) and never a pointer, so it is the same for any build of the
 * same program, and costs a few instructions per record: every simulated
 * run pays for it. Lines are only formatted when someone reads them: a
 * sweep of many seeds pays for the hash alone.
 */
#include <inttypes.h>
#include <string.h>

#include "sim/trace.h"
#include "sim/world.h"
#include "twin/parse.h"

/* Callback and event names are short: fold them in 8 bytes at a time,
 * little-endian by construction, then their length. */
uint64_t sim_hash_name(const char *s)
{
    uint64_t h = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        for (size_t j = 0; j < 8 && i + j < n; j++)
            w |= (uint64_t)(uint8_t)s[i + j] << (8 * j);
        h = sim_mix_const(h, w);
    }
    h = sim_mix_const(h, n);
    return h;
}

void sim_trace_out(tw_sim *sim, uint32_t node, uint64_t transport,
                   const char *what, int64_t a, int64_t b)
{
    const char *name = node < sim->nnodes ? sim->nodes[node]->name : "-";
    if (sim->trace_node[0] && strcmp(name, sim->trace_node) != 0)
        return;
    if (!sim->opts.trace_verbose && strcmp(what, "run") == 0)
        return;
    char line[320];
    sim_trace_format(sim, name, transport, what, a, b, sim->opts.trace_json, line,
                     sizeof line);
    if (sim->trace_file)
        fprintf(sim->trace_file, "%s\n", line);
    if (sim->opts.trace_fn) {
        tw_sim_record rec = {.time_ns = sim->now, .node = node, .node_name = name,
                             .transport = transport, .what = what, .a = a, .b = b};
        sim->opts.trace_fn(sim->opts.trace_arg, &rec, line);
    }
}

/* The core tells us of every protocol callback just before it runs: one
 * record each, named after the callback, so the trace shows what the
 * protocols saw and not only what the network did. */
void sim_trace_callback(tw_loop *loop, const tw_transport *t, unsigned ev)
{
    sim_node *n = (sim_node *)loop;
    tw_sim *sim = n->sim;
    assert(ev < TW__EV_COUNT);
    sim_trace_fold(sim, n->id, t->id, sim->callback_hash[ev], 0, 0);
    if (__builtin_expect(sim->tracing, 0))
        sim_trace_out(sim, n->id, t->id, tw__event_name((tw__event)ev), 0, 0);
    /* sim_spin, with the callback's name looked up only for a livelock */
    if (n->spin_at != sim->now) {
        n->spin_at = sim->now;
        n->spin = 0;
    }
    if (__builtin_expect(++n->spin > sim->opts.livelock_callbacks, 0))
        sim_livelock(sim, n, tw__event_name((tw__event)ev), t->id);
}

uint64_t tw_sim_trace_hash(const tw_sim *sim) { return sim->hash; }

void tw_sim_trace_to(tw_sim *sim, FILE *f, const char *node)
{
    sim->trace_file = f;
    sim->tracing = f || sim->opts.trace_fn;
    snprintf(sim->trace_node, sizeof sim->trace_node, "%s", node ? node : "");
}

static const char *dur(tw_ns ns, char buf[40])
{
    return tw_format_duration(ns, buf, 40);
}

static void print_path(FILE *f, const char *what, const tw_sim_path_opts *p)
{
    char a[40], b[40], c[40], d[40], r[40];
    const tw_sim_dist *l = &p->latency;
    fprintf(f, "  %s: latency=%s[%s..%s", what, tw_sim_dist_name(l->kind),
            dur(l->min_ns, a), dur(l->max_ns, b));
    /* Only the kinds that have a mean and a deviation print them: a
     * uniform latency's "mean 0s sd 0s" would read as a zero delay. */
    if (l->kind == TW_SIM_DIST_NORMAL || l->kind == TW_SIM_DIST_EXPONENTIAL)
        fprintf(f, " mean %s sd %s", dur(l->mean_ns, c), dur(l->stddev_ns, d));
    if (p->bandwidth_bytes_per_sec)
        fprintf(f, "] bandwidth=%" PRIu64 "B/s", p->bandwidth_bytes_per_sec);
    else
        fprintf(f, "] bandwidth=unlimited");
    fprintf(f, " rcvbuf=%" PRIu32 " loss=%g rto=%s\n", p->rcvbuf_bytes,
            p->loss_probability, dur(p->rto_ns, r));
    const tw_sim_dgram_opts *g = &p->dgram;
    fprintf(f, "  %s datagrams: enobufs=%g loss=%g refuse=%g duplicate=%g "
               "reorder=%g (<=%s) corrupt=%g (<=%" PRIu32 " bits) "
               "size_max=%" PRIu32 " sndbuf=%" PRIu32 " rcvbuf=%" PRIu32 "\n",
            what, g->enobufs_probability, g->loss_probability,
            g->refuse_probability, g->duplicate_probability,
            g->reorder_probability, dur(g->reorder_delay_ns_max, a),
            g->corrupt_probability, g->corrupt_bits_max, g->size_max_bytes,
            g->sndbuf_bytes, g->rcvbuf_bytes);
}

void tw_sim_print_summary(const tw_sim *sim, FILE *f)
{
    char a[40];
    fprintf(f, "twin sim: SEED=%" PRIu64 " hash=%016" PRIx64 " time=%s events=%" PRIu64
               " records=%" PRIu64 "\n",
            sim->seed, sim->hash, dur(sim->now, a), sim->stats.events, sim->stats.records);
    sim_print_settings(sim, f);
}

void sim_print_settings(const tw_sim *sim, FILE *f)
{
    const tw_sim_opts *o = &sim->opts;
    char b[40], c[40];
    print_path(f, "net", &o->net);
    print_path(f, "loopback", &o->loopback);
    fprintf(f, "  chunk_bytes_max=%" PRIu32 " chunk_split=%g segment_bytes_max=%" PRIu32
               " connect_timeout=%s stall_timeout=%s faults=%" PRIu32 " buggify=%d\n",
            o->chunk_bytes_max, o->chunk_split_probability, o->segment_bytes_max,
            dur(o->connect_timeout_ns, b), dur(o->stall_timeout_ns, c), sim->nfaults,
            o->buggify);
}
