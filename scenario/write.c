/* scenario/write.c - a scenario back to YAML that loads to the same
 * scenario: the form of --dump-schedule and of a shrunk failure.
 *
 * Map: values (strings quoted, durations exact, probabilities to the
 * last bit); the network (only what differs from its base); nodes;
 * faults; quiet, expect, swarm; the file.
 *
 * Exactness is the point: a dumped schedule must replay the run it came
 * from, so durations are written in whole nanoseconds' units and
 * probabilities with 17 significant digits (strtod reads them back to
 * the same double).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/internal.h"
#include "twin/parse.h"

/* ---- values ---- */

static void str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void dur(FILE *f, tw_ns ns)
{
    char buf[40];
    fputs(tw_format_duration(ns, buf, sizeof buf), f);
}

/* The fewest digits that read back as the very same double: "0.2" for
 * a file's 20%, 17 digits only where a drawn value needs them, so a
 * written file reads as written and runs as the one it came from. */
static void shortest(FILE *f, double v)
{
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, f);
}

void sc_write_prob(FILE *f, double p) { shortest(f, p); }

/* ", key: " then the value, for flow mappings. */
static void key(FILE *f, bool *first, const char *k)
{
    fprintf(f, "%s%s: ", *first ? "" : ", ", k);
    *first = false;
}

/* ---- the network ---- */

static bool dist_eq(const tw_sim_dist *a, const tw_sim_dist *b)
{
    return a->kind == b->kind && a->min_ns == b->min_ns && a->max_ns == b->max_ns &&
           a->mean_ns == b->mean_ns && a->stddev_ns == b->stddev_ns &&
           a->alpha == b->alpha && a->slow_probability == b->slow_probability &&
           a->slow_min_ns == b->slow_min_ns && a->slow_max_ns == b->slow_max_ns;
}

static bool model_eq(const tw_sim_loss_model *a, const tw_sim_loss_model *b)
{
    return a->kind == b->kind && a->probability == b->probability &&
           a->correlation == b->correlation && a->p == b->p && a->r == b->r &&
           a->loss_bad == b->loss_bad && a->loss_good == b->loss_good;
}

static void write_dist(FILE *f, const tw_sim_dist *d)
{
    bool first = true;
    fprintf(f, "{dist: %s", tw_sim_dist_name(d->kind));
    first = false;
    static const struct {
        const char *k;
        size_t off;
    } t[] = {
        {"min", offsetof(tw_sim_dist, min_ns)},   {"max", offsetof(tw_sim_dist, max_ns)},
        {"mean", offsetof(tw_sim_dist, mean_ns)}, {"stddev", offsetof(tw_sim_dist, stddev_ns)},
        {"slow_min", offsetof(tw_sim_dist, slow_min_ns)},
        {"slow_max", offsetof(tw_sim_dist, slow_max_ns)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        tw_ns v = *(const tw_ns *)((const char *)d + t[i].off);
        if (v) {
            key(f, &first, t[i].k);
            dur(f, v);
        }
    }
    if (d->alpha) {
        key(f, &first, "alpha");
        shortest(f, d->alpha);
    }
    if (d->slow_probability) {
        key(f, &first, "slow_probability");
        sc_write_prob(f, d->slow_probability);
    }
    fputc('}', f);
}

static void write_ge(FILE *f, const tw_sim_loss_model *m)
{
    fprintf(f, "{p: ");
    sc_write_prob(f, m->p);
    if (m->r) {
        fprintf(f, ", r: ");
        sc_write_prob(f, m->r);
    }
    if (m->loss_bad) {
        fprintf(f, ", loss_bad: ");
        sc_write_prob(f, m->loss_bad);
    }
    if (m->loss_good) {
        fprintf(f, ", loss_good: ");
        sc_write_prob(f, m->loss_good);
    }
    fputc('}', f);
}

/* The keys of *p that differ from *base, as "key: value" items of a flow
 * mapping (first: whether none was written yet). */
static void write_net(FILE *f, bool *first, const tw_sim_path_opts *p,
                      const tw_sim_path_opts *base)
{
    if (!dist_eq(&p->latency, &base->latency) && p->latency.kind) {
        key(f, first, "latency");
        write_dist(f, &p->latency);
    }
    if (p->bandwidth_bytes_per_sec != base->bandwidth_bytes_per_sec) {
        key(f, first, "bandwidth");
        fprintf(f, "%" PRIu64, p->bandwidth_bytes_per_sec);
    }
    bool loss_differs = p->loss_probability != base->loss_probability ||
                        p->dgram.loss_probability != base->dgram.loss_probability ||
                        !model_eq(&p->loss_model, &base->loss_model);
    if (loss_differs && p->loss_model.kind == TW_SIM_LOSS_CORRELATED) {
        key(f, first, "loss");
        sc_write_prob(f, p->loss_model.probability);
        key(f, first, "loss_correlation");
        sc_write_prob(f, p->loss_model.correlation);
    } else if (loss_differs) {
        key(f, first, "loss");
        sc_write_prob(f, p->loss_probability);
        if (p->loss_model.kind == TW_SIM_LOSS_GILBERT_ELLIOTT) {
            key(f, first, "gilbert_elliott");
            write_ge(f, &p->loss_model);
        }
    }
    if (p->rcvbuf_bytes != base->rcvbuf_bytes) {
        key(f, first, "rcvbuf");
        fprintf(f, "%" PRIu32, p->rcvbuf_bytes);
    }
    if (p->rto_ns != base->rto_ns) {
        key(f, first, "rto");
        dur(f, p->rto_ns);
    }
    static const struct {
        const char *k;
        size_t off;
    } probs[] = {
        {"duplicate", offsetof(tw_sim_dgram_opts, duplicate_probability)},
        {"reorder", offsetof(tw_sim_dgram_opts, reorder_probability)},
        {"corrupt", offsetof(tw_sim_dgram_opts, corrupt_probability)},
    };
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++) {
        double v = *(const double *)((const char *)&p->dgram + probs[i].off);
        double b = *(const double *)((const char *)&base->dgram + probs[i].off);
        if (v != b) {
            key(f, first, probs[i].k);
            sc_write_prob(f, v);
        }
    }
    if (p->dgram.reorder_delay_ns_max != base->dgram.reorder_delay_ns_max &&
        p->dgram.reorder_delay_ns_max) {
        key(f, first, "reorder_delay");
        dur(f, p->dgram.reorder_delay_ns_max);
    }
}

static void write_network(FILE *f, const tw_scenario *sc)
{
    static const tw_sim_path_opts zero;
    const sc_world *w = &sc->world;
    bool first = true;
    fprintf(f, "network: {");
    write_net(f, &first, &w->net, &zero);
    if (w->stall_timeout) {
        key(f, &first, "stall_timeout");
        dur(f, w->stall_timeout);
    }
    if (w->connect_timeout) {
        key(f, &first, "connect_timeout");
        dur(f, w->connect_timeout);
    }
    if (w->chunk_max) {
        key(f, &first, "chunk_max");
        fprintf(f, "%" PRIu32, w->chunk_max);
    }
    if (w->chunk_split >= 0) {
        key(f, &first, "chunk_split");
        sc_write_prob(f, w->chunk_split);
    }
    if (w->segment_max) {
        key(f, &first, "segment_max");
        fprintf(f, "%" PRIu32, w->segment_max);
    }
    fprintf(f, "}\n");
    if (!sc->npaths)
        return;
    fprintf(f, "paths:\n");
    for (int i = 0; i < sc->npaths; i++) {
        const sc_path *p = &sc->paths[i];
        fprintf(f, "  - {from: ");
        str(f, sc->nodes[p->from].name);
        fprintf(f, ", to: ");
        str(f, sc->nodes[p->to].name);
        first = false;
        write_net(f, &first, &p->opts, &w->net);
        fprintf(f, "}\n");
    }
}

/* ---- nodes ---- */

static void write_nodes(FILE *f, const tw_scenario *sc)
{
    fprintf(f, "nodes:\n");
    for (int i = 0; i < sc->nnodes; i++) {
        const sc_node *n = &sc->nodes[i];
        fprintf(f, "  - name: ");
        str(f, n->name);
        fprintf(f, "\n    addr: ");
        str(f, n->addr);
        fputc('\n', f);
        if (n->replay[0]) {
            fprintf(f, "    replay: ");
            str(f, n->replay);
            fputc('\n', f);
        }
        if (!n->napps)
            continue;
        fprintf(f, "    apps:\n");
        for (int k = 0; k < n->napps; k++) {
            fprintf(f, "      - app: ");
            str(f, n->apps[k].argv[0]);
            fprintf(f, "\n        args: [");
            for (int a = 1; a < n->apps[k].argc; a++) {
                fputs(a > 1 ? ", " : "", f);
                str(f, n->apps[k].argv[a]);
            }
            fprintf(f, "]\n");
        }
    }
}

/* ---- faults ---- */

static void target(FILE *f, const tw_scenario *sc, const tw_sim_fault *x)
{
    if (x->b < 0) {
        str(f, sc->nodes[x->a].name);
        return;
    }
    fputc('[', f);
    str(f, sc->nodes[x->a].name);
    fprintf(f, ", ");
    str(f, sc->nodes[x->b].name);
    fputc(']', f);
}

static void write_dgram(FILE *f, const tw_sim_dgram_opts *dgram)
{
    tw_sim_dgram_opts o = *dgram;
    for (size_t i = 0; i < SC_DGRAM_PROBS; i++) {
        double p = *sc_dgram_prob_of(&o, i);
        if (p > 0) {
            fprintf(f, ", %s: ", sc_dgram_probs[i].key);
            sc_write_prob(f, p);
        }
    }
}

static void write_fault(FILE *f, const tw_scenario *sc, const sc_fault *e)
{
    const tw_sim_fault *x = &e->f;
    fprintf(f, "  - {at: ");
    dur(f, e->at);
    fprintf(f, ", %s: ", sc_kind_name(x->kind));
    target(f, sc, x);
    if (x->duration_ns) {
        fprintf(f, ", for: ");
        dur(f, x->duration_ns);
    }
    if (x->oneway)
        fprintf(f, ", oneway: true");
    switch (x->kind) {
    case TW_SIM_FAULT_CLOCK:
        fprintf(f, ", skew: ");
        dur(f, x->skew_ns);
        fprintf(f, ", drift_ppm: %d", (int)x->drift_ppm);
        break;
    case TW_SIM_FAULT_LOSS:
        if (x->loss.kind == TW_SIM_LOSS_GILBERT_ELLIOTT) {
            fprintf(f, ", gilbert_elliott: ");
            write_ge(f, &x->loss);
        } else {
            fprintf(f, ", probability: ");
            sc_write_prob(f, x->loss.probability);
            if (x->loss.correlation) {
                fprintf(f, ", correlation: ");
                sc_write_prob(f, x->loss.correlation);
            }
        }
        break;
    case TW_SIM_FAULT_DGRAM:
        write_dgram(f, &x->dgram);
        break;
    case TW_SIM_FAULT_KILL:
        fprintf(f, ", program: ");
        str(f, x->program);
        if (sc_signal_name(x->signal))
            fprintf(f, ", signal: %s", sc_signal_name(x->signal));
        else
            fprintf(f, ", signal: %d", x->signal);
        break;
    case TW_SIM_FAULT_EMFILE:
    case TW_SIM_FAULT_ENOBUFS:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_LOST_WRITE:
        fprintf(f, ", count: %u", (unsigned)x->count);
        break;
    case TW_SIM_FAULT_SLOW:
        fprintf(f, ", cost: ");
        dur(f, x->cost_ns);
        break;
    default:
        break;
    }
    fprintf(f, "}%s\n", e->drawn ? "  # drawn" : "");
}

/* ---- quiet, expect, swarm ---- */

/* A size exactly, in the largest unit that divides it. */
static void bytes(FILE *f, uint64_t n)
{
    static const char *const units[] = {"TiB", "GiB", "MiB", "KiB"};
    for (int u = 0; u < 4 && n; u++) {
        uint64_t unit = UINT64_C(1) << (10 * (4 - u));
        if (n % unit == 0) {
            fprintf(f, "%" PRIu64 "%s", n / unit, units[u]);
            return;
        }
    }
    fprintf(f, "%" PRIu64, n);
}

/* The oracles' bounds that differ from the defaults. */
static void write_oracles(FILE *f, const sc_oracles *o)
{
    const sc_oracles d = SC_ORACLES_DEFAULT;
    if (o->write_buffer_max != d.write_buffer_max) {
        fprintf(f, ", write_buffer_max: ");
        bytes(f, o->write_buffer_max);
    }
    if (o->write_buffer_over_high != d.write_buffer_over_high)
        fprintf(f, ", write_buffer_over_high: %" PRIu32, o->write_buffer_over_high);
    if (o->connects_per_sec_max != d.connects_per_sec_max)
        fprintf(f, ", connects_per_sec_max: %" PRIu32, o->connects_per_sec_max);
    if (o->connections_max != d.connections_max)
        fprintf(f, ", connections_max: %" PRIu32, o->connections_max);
    if (o->node_bytes_max != d.node_bytes_max) {
        fprintf(f, ", node_bytes_max: ");
        bytes(f, o->node_bytes_max);
    }
    if (o->livelock_callbacks != d.livelock_callbacks)
        fprintf(f, ", livelock_callbacks: %" PRIu64, o->livelock_callbacks);
    if (o->linearizable)
        fprintf(f, ", linearizable: true");
    if (o->history_ops_max != d.history_ops_max)
        fprintf(f, ", history_ops_max: %" PRIu32, o->history_ops_max);
}

static void write_tail(FILE *f, const tw_scenario *sc)
{
    if (sc->quiet) {
        fprintf(f, "quiet: {within: ");
        dur(f, sc->quiet);
        fprintf(f, ", until: ");
        if (sc->until_all)
            fprintf(f, "all");
        for (int i = 0; !sc->until_all && i < sc->nuntil; i++) {
            fputs(i ? ", " : "[", f);
            str(f, sc->nodes[sc->until[i]].name);
        }
        fprintf(f, "%s}\n", !sc->until_all ? (sc->nuntil ? "]" : "[]") : "");
    }
    fprintf(f, "expect: {contract: %s, invariants: %s, no_stuck_connections: %s, "
               "stuck_after: ",
            !sc->expect_contract ? "false" : sc->contract_strict ? "true" : "basic",
            sc->expect_invariants ? "true" : "false",
            sc->expect_no_stuck ? "true" : "false");
    dur(f, sc->stuck_after);
    write_oracles(f, &sc->oracles);
    bool any = false;
    for (int i = 0; i < sc->nnodes; i++) {
        if (!sc->nodes[i].exit_given)
            continue;
        fputs(any ? ", " : ", exit: {", f);
        any = true;
        str(f, sc->nodes[i].name);
        if (sc->nodes[i].expect_exit == SC_EXIT_ANY)
            fprintf(f, ": any");
        else
            fprintf(f, ": %d", sc->nodes[i].expect_exit);
    }
    fprintf(f, "%s}\n", any ? "}" : "");
    const sc_swarm *sw = &sc->swarm;
    const tw_sim_swarm_spec *s = &sw->spec;
    if (!sw->on)
        return;
    fprintf(f, "swarm:\n  faults: [");
    bool first = true;
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++)
        if (s->kinds & (1u << k)) {
            fprintf(f, "%s%s", first ? "" : ", ", sc_kind_name(k));
            first = false;
        }
    fprintf(f, "]\n");
    if (s->nnodes) {
        fprintf(f, "  nodes: [");
        for (int i = 0; i < s->nnodes; i++) {
            fputs(i ? ", " : "", f);
            str(f, sc->nodes[s->nodes[i]].name);
        }
        fprintf(f, "]\n");
    }
    fprintf(f, "  window: [");
    dur(f, s->from);
    fprintf(f, ", ");
    dur(f, s->to);
    fprintf(f, "]\n  count: [%u, %u]\n  duration: [", (unsigned)s->count_min,
            (unsigned)s->count_max);
    dur(f, s->dur_min);
    fprintf(f, ", ");
    dur(f, s->dur_max);
    fprintf(f, "]\n  loss_max: ");
    sc_write_prob(f, s->loss_max);
    fprintf(f, "\n  skew_max: ");
    dur(f, s->skew_max);
    fprintf(f, "\n  drift_max: %d\n", (int)s->drift_max);
    if (s->kinds & (1u << TW_SIM_FAULT_DGRAM)) {
        fprintf(f, "  dgram_max: ");
        sc_write_prob(f, s->dgram_max);
        fputc('\n', f);
        if (s->dgram_kinds && s->dgram_kinds != TW_SIM_SWARM_DGRAM_ALL) {
            fprintf(f, "  dgram_kinds: [");
            const char *sep = "";
            for (size_t i = 0; i < SC_DGRAM_PROBS; i++)
                if (s->dgram_kinds & (1u << i)) {
                    fprintf(f, "%s%s", sep, sc_dgram_probs[i].key);
                    sep = ", ";
                }
            fprintf(f, "]\n");
        }
    }
    if (sw->program[0]) {
        fprintf(f, "  program: ");
        str(f, sw->program);
        fputc('\n', f);
    }
}

/* ---- the file ---- */

int tw_scenario_write(const tw_scenario *sc, FILE *f, const char *comment)
{
    for (const char *c = comment; c && *c;) {
        const char *nl = strchr(c, '\n');
        int len = nl ? (int)(nl - c) : (int)strlen(c);
        fprintf(f, "# %.*s\n", len, c);
        c += len + (nl != NULL);
    }
    fprintf(f, "name: ");
    str(f, sc->name);
    fprintf(f, "\nduration: ");
    dur(f, sc->duration);
    fprintf(f, "\ncheck_every: ");
    dur(f, sc->check_every);
    fprintf(f, "\nbuggify: %s\n", sc->world.buggify ? "true" : "false");
    write_nodes(f, sc);
    write_network(f, sc);
    if (sc->nfaults) {
        fprintf(f, "timeline:\n");
        for (int i = 0; i < sc->nfaults; i++)
            write_fault(f, sc, &sc->faults[i]);
    }
    write_tail(f, sc);
    return ferror(f) ? -EIO : 0;
}

tw_scenario *tw_scenario_materialize(const tw_scenario *sc, uint64_t seed)
{
    tw_scenario *m = sc_copy(sc);
    if (!m || sc_swarm_draw(m, seed) < 0) {
        tw_scenario_free(m);
        return NULL;
    }
    m->swarm.on = false;
    return m;
}
