/* scenario/model.c - the scenario as data: make, copy, free, ask, print.
 *
 * Map: verdicts; life (new, copy, free); edits (faults); queries;
 * describe (every setting a run uses, defaults spelled out).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/internal.h"
#include "twin/parse.h"

/* ---- verdicts ---- */

const char *tw_scenario_verdict_name(tw_scenario_verdict v)
{
    switch (v) {
    case TW_SCENARIO_PASS: return "pass";
    case TW_SCENARIO_CORRECTNESS: return "correctness";
    case TW_SCENARIO_USAGE: return "usage";
    case TW_SCENARIO_LIVENESS: return "liveness";
    case TW_SCENARIO_CRASH: return "crash";
    case TW_SCENARIO_TIMEOUT: return "timeout";
    }
    return "?";
}

static int severity(tw_scenario_verdict v)
{
    switch (v) {
    case TW_SCENARIO_CRASH: return 5;
    case TW_SCENARIO_USAGE: return 4;
    case TW_SCENARIO_CORRECTNESS: return 3;
    case TW_SCENARIO_LIVENESS: return 2;
    case TW_SCENARIO_TIMEOUT: return 1;
    default: return 0;
    }
}

tw_scenario_verdict tw_scenario_verdict_worst(tw_scenario_verdict a,
                                              tw_scenario_verdict b)
{
    return severity(a) >= severity(b) ? a : b;
}

/* ---- life ---- */

tw_scenario *sc_new(void)
{
    tw_scenario *sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    sc->check_every = TW_MS(100);
    sc->until_all = true;
    sc->expect_contract = sc->expect_invariants = sc->expect_no_stuck = true;
    sc->contract_strict = true;
    sc->stuck_after = TW_SEC(5);
    sc->oracles = SC_ORACLES_DEFAULT;
    sc->world.chunk_split = -1;
    return sc;
}

static void app_fini(sc_app *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
}

void tw_scenario_free(tw_scenario *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->nnodes; i++) {
        for (int k = 0; k < sc->nodes[i].napps; k++)
            app_fini(&sc->nodes[i].apps[k]);
        free(sc->nodes[i].apps);
    }
    free(sc->nodes);
    free(sc->paths);
    free(sc->faults);
    free(sc->path);
    free(sc);
}

static int app_copy(sc_app *dst, const sc_app *src)
{
    *dst = *src;
    dst->argv = calloc((size_t)src->argc + 1, sizeof *dst->argv);
    if (!dst->argv)
        return -ENOMEM;
    for (int i = 0; i < src->argc; i++)
        if (!(dst->argv[i] = strdup(src->argv[i]))) {
            dst->argc = i;
            return -ENOMEM;
        }
    return 0;
}

static void *dup_array(const void *src, size_t n, size_t size)
{
    if (!n)
        return NULL;
    void *p = malloc(n * size);
    if (p)
        memcpy(p, src, n * size);
    return p;
}

tw_scenario *sc_copy(const tw_scenario *sc)
{
    tw_scenario *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *sc;
    c->path = NULL;
    c->nodes = NULL;
    c->nnodes = 0;
    c->paths = dup_array(sc->paths, (size_t)sc->npaths, sizeof *sc->paths);
    c->faults = dup_array(sc->faults, (size_t)sc->nfaults, sizeof *sc->faults);
    c->path = sc->path ? strdup(sc->path) : NULL;
    c->nodes = calloc((size_t)sc->nnodes + 1, sizeof *c->nodes);
    bool ok = c->nodes && (!sc->npaths || c->paths) &&
              (!sc->nfaults || c->faults) && (!sc->path || c->path);
    for (int i = 0; ok && i < sc->nnodes; i++) {
        c->nodes[i] = sc->nodes[i];
        c->nodes[i].napps = 0;
        c->nodes[i].apps = calloc((size_t)sc->nodes[i].napps + 1, sizeof(sc_app));
        c->nnodes = i + 1;
        ok = c->nodes[i].apps != NULL;
        for (int k = 0; ok && k < sc->nodes[i].napps; k++) {
            ok = app_copy(&c->nodes[i].apps[k], &sc->nodes[i].apps[k]) == 0;
            c->nodes[i].napps = k + 1;
        }
    }
    if (!ok) {
        tw_scenario_free(c);
        return NULL;
    }
    return c;
}

/* ---- edits ---- */

int sc_add_fault(tw_scenario *sc, const sc_fault *f)
{
    if (sc->nfaults >= SC_FAULTS_MAX)
        return -E2BIG;
    sc_fault *nf = realloc(sc->faults, ((size_t)sc->nfaults + 1) * sizeof *nf);
    if (!nf)
        return -ENOMEM;
    sc->faults = nf;
    nf[sc->nfaults++] = *f;
    return 0;
}

int sc_set_duration(tw_scenario *sc, tw_ns duration)
{
    tw_sim_swarm_spec *sw = &sc->swarm.spec;
    if (duration <= 0 || sw->from > duration)
        return -EINVAL;
    for (int i = 0; i < sc->nfaults; i++)
        if (sc->faults[i].at > duration)
            return -EINVAL;
    if (sw->to == sc->duration || sw->to > duration)
        sw->to = duration;
    sc->duration = duration;
    return 0;
}

/* ---- queries ---- */

int sc_node_index(const tw_scenario *sc, const char *name)
{
    for (int i = 0; name && i < sc->nnodes; i++)
        if (strcmp(sc->nodes[i].name, name) == 0)
            return i;
    return -1;
}

const char *tw_scenario_path(const tw_scenario *sc) { return sc->path ? sc->path : ""; }
const char *tw_scenario_name(const tw_scenario *sc) { return sc->name; }
size_t tw_scenario_fault_count(const tw_scenario *sc) { return (size_t)sc->nfaults; }
tw_ns tw_scenario_duration(const tw_scenario *sc) { return sc->duration; }
tw_ns tw_scenario_quiet(const tw_scenario *sc) { return sc->quiet; }
bool tw_scenario_has_swarm(const tw_scenario *sc) { return sc->swarm.on; }

bool tw_scenario_contract_strict(const tw_scenario *sc)
{
    return sc->expect_contract && sc->contract_strict;
}

bool tw_scenario_has_node(const tw_scenario *sc, const char *name)
{
    return sc_node_index(sc, name) >= 0;
}

size_t tw_scenario_node_count(const tw_scenario *sc) { return (size_t)sc->nnodes; }

const char *tw_scenario_node_name(const tw_scenario *sc, size_t i)
{
    return i < (size_t)sc->nnodes ? sc->nodes[i].name : NULL;
}

/* ---- describe ---- */

char *sc_format_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(buf, len, "%" PRIu64 " bytes", n);
        return buf;
    }
    int u = 0;
    while (u < 3 && n >= (UINT64_C(1024) << (10 * (u + 1))))
        u++;
    uint64_t unit = UINT64_C(1024) << (10 * u);
    if (n % unit == 0)
        snprintf(buf, len, "%" PRIu64 " %s", n / unit, units[u]);
    else
        snprintf(buf, len, "%.1f %s", (double)n / (double)unit, units[u]);
    return buf;
}

static void describe_oracles(FILE *f, const sc_oracles *o)
{
    char a[32], b[32];
    fprintf(f, "  oracles: write buffer ");
    if (o->write_buffer_max)
        fprintf(f, "<= %s", sc_format_bytes(o->write_buffer_max, a, sizeof a));
    if (o->write_buffer_over_high)
        fprintf(f, "%s%" PRIu32 "x its high mark past pause_writing",
                o->write_buffer_max ? ", <= " : "<= ", o->write_buffer_over_high);
    if (!o->write_buffer_max && !o->write_buffer_over_high)
        fprintf(f, "unbounded");
    fprintf(f, "; per node: ");
    if (o->connects_per_sec_max)
        fprintf(f, "<= %" PRIu32 " connects/s, ", o->connects_per_sec_max);
    if (o->connections_max)
        fprintf(f, "<= %" PRIu32 " connections, ", o->connections_max);
    if (o->node_bytes_max)
        fprintf(f, "<= %s buffered, ", sc_format_bytes(o->node_bytes_max, b, sizeof b));
    if (o->livelock_callbacks)
        fprintf(f, "livelock after %" PRIu64 " callbacks at one instant\n",
                o->livelock_callbacks);
    else
        fprintf(f, "no livelock bound\n");
    if (o->linearizable)
        fprintf(f, "  history: linearizable, at most %" PRIu32 " ops\n",
                o->history_ops_max);
}

static void describe_path(FILE *f, const char *what, const tw_sim_path_opts *p)
{
    char a[32], b[32], c[32], d[32];
    const tw_sim_dist *l = &p->latency;
    fprintf(f, "  %s: latency %s [%s..%s]", what, tw_sim_dist_name(l->kind),
            tw_format_duration(l->min_ns, a, sizeof a),
            tw_format_duration(l->max_ns, b, sizeof b));
    if (l->kind == TW_SIM_DIST_NORMAL || l->kind == TW_SIM_DIST_EXPONENTIAL)
        fprintf(f, " mean %s sd %s", tw_format_duration(l->mean_ns, c, sizeof c),
                tw_format_duration(l->stddev_ns, d, sizeof d));
    if (l->kind == TW_SIM_DIST_PARETO)
        fprintf(f, " alpha %g", l->alpha);
    if (l->kind == TW_SIM_DIST_BIMODAL)
        fprintf(f, " slow %g in [%s..%s]", l->slow_probability,
                tw_format_duration(l->slow_min_ns, a, sizeof a),
                tw_format_duration(l->slow_max_ns, b, sizeof b));
    /* 0 is no limit at all, which "0 B/s" would say the opposite of. */
    if (p->bandwidth_bytes_per_sec)
        fprintf(f, ", bandwidth %" PRIu64 " B/s", p->bandwidth_bytes_per_sec);
    else
        fprintf(f, ", bandwidth unlimited");
    fprintf(f, ", rcvbuf %" PRIu32 " B, loss %g, rto %s\n", p->rcvbuf_bytes,
            p->loss_probability, tw_format_duration(p->rto_ns, a, sizeof a));
    const tw_sim_loss_model *m = &p->loss_model;
    if (m->kind == TW_SIM_LOSS_CORRELATED)
        fprintf(f, "    loss model: correlated, p %g, correlation %g\n",
                m->probability, m->correlation);
    else if (m->kind == TW_SIM_LOSS_GILBERT_ELLIOTT)
        fprintf(f, "    loss model: gilbert-elliott, p %g, r %g, loss_bad %g, "
                   "loss_good %g\n", m->p, m->r ? m->r : 1 - m->p,
                m->loss_bad ? m->loss_bad : 1, m->loss_good);
    const tw_sim_dgram_opts *g = &p->dgram;
    fprintf(f, "    datagrams: loss %g, duplicate %g, reorder %g (<= %s), "
               "corrupt %g\n", g->loss_probability, g->duplicate_probability,
            g->reorder_probability,
            tw_format_duration(g->reorder_delay_ns_max, a, sizeof a),
            g->corrupt_probability);
}

void tw_scenario_describe(const tw_scenario *sc, FILE *f)
{
    char a[32], b[32];
    fprintf(f, "scenario %s (%s): duration %s, invariants checked every %s\n",
            sc->name, tw_scenario_path(sc),
            tw_format_duration(sc->duration, a, sizeof a),
            tw_format_duration(sc->check_every, b, sizeof b));
    for (int i = 0; i < sc->nnodes; i++) {
        const sc_node *n = &sc->nodes[i];
        fprintf(f, "  node %s %s:", n->name, n->addr);
        for (int k = 0; k < n->napps; k++) {
            fprintf(f, " [");
            for (int j = 0; j < n->apps[k].argc; j++)
                fprintf(f, "%s'%s'", j ? " " : "", n->apps[k].argv[j]);
            fprintf(f, "]");
        }
        if (n->expect_exit == SC_EXIT_ANY)
            fprintf(f, " exit any\n");
        else
            fprintf(f, " exit %d\n", n->expect_exit);
    }
    /* The settings as the simulator will see them, defaults filled in. */
    tw_sim_opts full;
    tw_sim_opts_default(&full);
    tw_sim_path_opts net = sc->world.net;
    if (net.latency.kind == TW_SIM_DIST_DEFAULT)
        net.latency = full.net.latency;
    if (!net.rcvbuf_bytes)
        net.rcvbuf_bytes = full.net.rcvbuf_bytes;
    if (!net.rto_ns)
        net.rto_ns = full.net.rto_ns;
    describe_path(f, "network", &net);
    for (int i = 0; i < sc->npaths; i++) {
        char what[80];
        snprintf(what, sizeof what, "path %s->%s", sc->nodes[sc->paths[i].from].name,
                 sc->nodes[sc->paths[i].to].name);
        describe_path(f, what, &sc->paths[i].opts);
    }
    fprintf(f, "  stall_timeout %s, connect_timeout %s, buggify %s\n",
            tw_format_duration(sc->world.stall_timeout ? sc->world.stall_timeout
                                                       : full.stall_timeout_ns, a, sizeof a),
            tw_format_duration(sc->world.connect_timeout ? sc->world.connect_timeout
                                                         : full.connect_timeout_ns, b, sizeof b),
            sc->world.buggify ? "on" : "off");
    /* How deliveries are cut is what a parser's bugs depend on most, so
     * it is printed with the rest (-1 in the file's model: not given). */
    fprintf(f, "  deliveries: chunk_split %g, chunk_max %" PRIu32 " B, segment_max %" PRIu32
               " B\n",
            sc->world.chunk_split >= 0 ? sc->world.chunk_split : full.chunk_split_probability,
            sc->world.chunk_max ? sc->world.chunk_max : full.chunk_bytes_max,
            sc->world.segment_max ? sc->world.segment_max : full.segment_bytes_max);
    for (int i = 0; i < sc->nfaults; i++) {
        char d[160];
        fprintf(f, "  fault #%d: %s%s\n", i,
                sc_fault_describe(sc, &sc->faults[i], d, sizeof d),
                sc->faults[i].drawn ? " (drawn)" : "");
    }
    if (sc->quiet) {
        fprintf(f, "  quiet phase: cuts healed, crashed nodes restarted, then within %s: ",
                tw_format_duration(sc->quiet, a, sizeof a));
        if (sc->until_all)
            fprintf(f, "every app with a goal finishes\n");
        for (int i = 0; !sc->until_all && i < sc->nuntil; i++)
            fprintf(f, "%s%s", sc->nodes[sc->until[i]].name,
                    i + 1 < sc->nuntil ? ", " : " finish(es)\n");
    }
    fprintf(f, "  expect: contract %s, invariants %s, no stuck connections %s "
               "(after %s)\n",
            !sc->expect_contract ? "ignored"
            : sc->contract_strict ? "clean (strict)" : "clean (basic)",
            sc->expect_invariants ? "hold" : "ignored",
            sc->expect_no_stuck ? "yes" : "ignored",
            tw_format_duration(sc->stuck_after, a, sizeof a));
    describe_oracles(f, &sc->oracles);
    if (sc->swarm.on) {
        const tw_sim_swarm_spec *sw = &sc->swarm.spec;
        fprintf(f, "  swarm: kinds");
        for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++)
            if (sw->kinds & (1u << k))
                fprintf(f, " %s", sc_kind_name(k));
        char c[32], d[32], e[32];
        fprintf(f, ", %" PRIu32 "..%" PRIu32 " faults in [%s, %s], lasting %s..%s, "
                   "loss <= %g, skew <= %s, drift <= %" PRId32 " ppm\n",
                sw->count_min, sw->count_max,
                tw_format_duration(sw->from, a, sizeof a),
                tw_format_duration(sw->to, b, sizeof b),
                tw_format_duration(sw->dur_min, c, sizeof c),
                tw_format_duration(sw->dur_max, d, sizeof d), sw->loss_max,
                tw_format_duration(sw->skew_max, e, sizeof e), sw->drift_max);
    }
}
