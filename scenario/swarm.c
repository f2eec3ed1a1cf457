/* scenario/swarm.c - swarm testing: each seed draws which kinds of fault
 * are on and how hard they hit, within the limits the file sets.
 *
 * Map: the swarm section of a file (the limits); the generator; the
 * kinds a seed turns on; one fault; the draw.
 *
 * Swarm testing (Groce et al., 2012) turns each kind on or off per seed
 * (a coin each, at least one on): a seed that never partitions can
 * crash a node a dozen times, and a bug that one kind of fault masks is
 * found by the seeds that leave that kind out. Everything comes from
 * stream TW_SCENARIO_STREAM_SWARM of the seed and from the file, never
 * from the run, so the schedule a seed draws is known before it runs and
 * can be written out (tw_scenario_materialize) to replay on its own.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"

/* ---- the swarm section: limits for the draws ---- */

/* A value or a [min, max] pair of durations. */
static int parse_dur_range(sc_yaml *y, yaml_node_t *n, const char *what,
                           tw_ns *lo, tw_ns *hi)
{
    int len;
    if (sc_is_scalar(n)) {
        if (sc_dur(y, n, what, hi) < 0)
            return -EINVAL;
    } else {
        if (sc_seq(y, n, what, 2, &len) < 0)
            return -EINVAL;
        if (len != 2)
            return sc_fail(y, n, "%s is a duration or [min, max]", what);
        if (sc_dur(y, sc_item(y, n, 0), what, lo) < 0 ||
            sc_dur(y, sc_item(y, n, 1), what, hi) < 0)
            return -EINVAL;
    }
    if (*lo < 0 || *hi < *lo)
        return sc_fail(y, n, "%s needs 0 <= min <= max", what);
    return 0;
}

static int parse_swarm_kinds(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    int len;
    if (sc_seq(y, n, "faults", SC_KINDS, &len) < 0)
        return -EINVAL;
    sc->swarm.kinds = 0;
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, n, i);
        int k = sc_kind_parse(sc_text(e));
        if (k < 0 || k == SC_HEAL || k == SC_RESTART)
            return sc_fail(y, e, "swarm faults are partition, clog, reset, crash, "
                                 "clock, loss, kill, emfile");
        sc->swarm.kinds |= 1u << k;
    }
    if (!sc->swarm.kinds)
        return sc_fail(y, n, "swarm needs at least one kind of fault");
    return 0;
}

int sc_parse_swarm(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    static const char *const keys[] = {
        "faults", "nodes", "window", "count", "duration", "loss_max",
        "skew_max", "drift_max", "program", NULL,
    };
    sc_swarm *s = &sc->swarm;
    yaml_node_t *v;
    if (!n)
        return 0;
    if (sc_map(y, n, "swarm", keys) < 0)
        return -EINVAL;
    *s = (sc_swarm){.on = true, .to = sc->duration, .count_min = 1,
                    .count_max = 4, .dur_min = TW_MS(1), .dur_max = TW_SEC(1),
                    .loss_max = 0.5, .skew_max = TW_SEC(1)};
    s->kinds = 1u << SC_PARTITION | 1u << SC_CLOG | 1u << SC_RESET |
               1u << SC_CRASH | 1u << SC_CLOCK | 1u << SC_LOSS;
    if ((v = sc_get(y, n, "faults")) && parse_swarm_kinds(y, sc, v) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "nodes")) &&
        sc_parse_node_list(y, sc, v, "nodes", s->nodes, &s->nnodes) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "window"))) {
        if (parse_dur_range(y, v, "window", &s->from, &s->to) < 0)
            return -EINVAL;
        if (s->to > sc->duration)
            return sc_fail(y, v, "the swarm window ends after the fault phase");
    }
    if ((v = sc_get(y, n, "count"))) {
        long long c;
        if (sc_is_scalar(v)) {
            if (sc_int(y, v, "count", 0, 256, &c) < 0)
                return -EINVAL;
            s->count_min = s->count_max = (uint32_t)c;
        } else {
            int len;
            long long a, b;
            if (sc_seq(y, v, "count", 2, &len) < 0)
                return -EINVAL;
            if (len != 2)
                return sc_fail(y, v, "count is a number or [min, max]");
            if (sc_int(y, sc_item(y, v, 0), "count", 0, 256, &a) < 0 ||
                sc_int(y, sc_item(y, v, 1), "count", a, 256, &b) < 0)
                return -EINVAL;
            s->count_min = (uint32_t)a;
            s->count_max = (uint32_t)b;
        }
    }
    if ((v = sc_get(y, n, "duration")) &&
        parse_dur_range(y, v, "duration", &s->dur_min, &s->dur_max) < 0)
        return -EINVAL;
    if (s->dur_max <= 0)
        return sc_fail(y, v, "the swarm's fault duration must be above 0");
    if (s->dur_min <= 0)
        s->dur_min = 1;
    if ((v = sc_get(y, n, "loss_max")) && sc_prob(y, v, "loss_max", &s->loss_max) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "skew_max")) && sc_dur(y, v, "skew_max", &s->skew_max) < 0)
        return -EINVAL;
    if (s->skew_max < 0)
        return sc_fail(y, v, "skew_max must not be negative");
    long long d;
    if ((v = sc_get(y, n, "drift_max"))) {
        if (sc_int(y, v, "drift_max", 0, 999999, &d) < 0)
            return -EINVAL;
        s->drift_max = (int32_t)d;
    }
    if ((v = sc_get(y, n, "program")) &&
        sc_str(y, v, "program", s->program, sizeof s->program) < 0)
        return -EINVAL;
    if ((s->kinds & (1u << SC_KILL)) && !s->program[0])
        return sc_fail(y, n, "a swarm that kills needs program: NAME");
    return 0;
}

/* ---- helpers on the generator ---- */

static uint64_t between(tw_sim_prng *r, uint64_t lo, uint64_t hi)
{
    return lo + tw_sim_prng_below(r, hi - lo + 1);
}

/* A time in [lo, hi] on the millisecond grid when the range allows it. */
static tw_ns ms(tw_sim_prng *r, tw_ns lo, tw_ns hi)
{
    const tw_ns unit = TW_MS(1);
    tw_ns first = (lo + unit - 1) / unit, last = hi / unit;
    if (last < first)
        return (tw_ns)between(r, (uint64_t)lo, (uint64_t)hi);
    return (tw_ns)between(r, (uint64_t)first, (uint64_t)last) * unit;
}

static bool pair_kind(sc_kind k)
{
    return k == SC_PARTITION || k == SC_CLOG || k == SC_RESET || k == SC_LOSS;
}

/* ---- the kinds a seed turns on ---- */

static int kinds_on(tw_sim_prng *r, unsigned eligible, sc_kind *out)
{
    int n = 0, all = 0;
    sc_kind every[SC_KINDS];
    for (int k = 0; k < SC_KINDS; k++) {
        if (!(eligible & (1u << k)))
            continue;
        every[all++] = (sc_kind)k;
        if (tw_sim_prng_chance(r, 0.5))
            out[n++] = (sc_kind)k;
    }
    if (!n && all)
        out[n++] = every[tw_sim_prng_below(r, (uint64_t)all)];
    return n;
}

/* ---- one fault ---- */

static void draw_loss(tw_sim_prng *r, const sc_swarm *s, tw_sim_loss_model *m)
{
    if (tw_sim_prng_chance(r, 0.5)) {
        /* Independent (or lightly correlated) loss up to loss_max. */
        *m = (tw_sim_loss_model){.kind = TW_SIM_LOSS_CORRELATED,
                                 .probability = s->loss_max * (0.05 + 0.95 * tw_sim_prng_double(r)),
                                 .correlation = tw_sim_prng_chance(r, 0.5)
                                                    ? 0.5 * tw_sim_prng_double(r)
                                                    : 0};
    } else {
        /* Bursts: enter the bad state every ~4..20 packets, stay ~1..10,
         * losing loss_max of the packets while bad. */
        *m = (tw_sim_loss_model){.kind = TW_SIM_LOSS_GILBERT_ELLIOTT,
                                 .p = 0.05 + 0.2 * tw_sim_prng_double(r),
                                 .r = 0.1 + 0.9 * tw_sim_prng_double(r),
                                 .loss_bad = s->loss_max > 0 ? s->loss_max : 1};
    }
}

static void draw_one(tw_sim_prng *r, const tw_scenario *sc, sc_kind kind,
                     const int *nodes, int nn, sc_fault *f)
{
    const sc_swarm *s = &sc->swarm;
    *f = (sc_fault){.kind = kind, .b = -1, .drawn = true};
    /* Times in whole milliseconds: a dumped schedule reads "at: 1234ms". */
    f->at = ms(r, s->from, s->to);
    f->a = nodes[tw_sim_prng_below(r, (uint64_t)nn)];
    if (pair_kind(kind) && nn >= 2 && !tw_sim_prng_chance(r, 0.25)) {
        /* Another eligible node; otherwise a against all of them. */
        int k = (int)tw_sim_prng_below(r, (uint64_t)nn - 1);
        f->b = nodes[k] == f->a ? nodes[nn - 1] : nodes[k];
    }
    tw_ns dur = ms(r, s->dur_min, s->dur_max);
    switch (kind) {
    case SC_PARTITION:
    case SC_CLOG:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->dur = dur;
        break;
    case SC_CRASH:
        f->dur = dur;
        break;
    case SC_CLOCK:
        f->skew = ms(r, 0, s->skew_max * 2) - s->skew_max;
        f->drift_ppm = s->drift_max
                           ? (int32_t)between(r, 0, (uint64_t)s->drift_max * 2) - s->drift_max
                           : 0;
        break;
    case SC_LOSS:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->dur = dur;
        draw_loss(r, s, &f->loss);
        break;
    case SC_KILL:
        snprintf(f->program, sizeof f->program, "%s", s->program);
        f->signal = tw_sim_prng_chance(r, 0.3) ? SIGTERM : SIGKILL;
        break;
    case SC_EMFILE:
        f->count = (uint32_t)between(r, 1, 3);
        break;
    default:
        break;
    }
}

/* ---- the draw ---- */

static int by_time(const void *pa, const void *pb)
{
    const sc_fault *a = pa, *b = pb;
    return a->at < b->at ? -1 : a->at > b->at;
}

int sc_swarm_draw(tw_scenario *sc, uint64_t seed)
{
    const sc_swarm *s = &sc->swarm;
    if (!s->on)
        return 0;
    tw_sim_prng r;
    tw_sim_prng_seed(&r, seed, TW_SCENARIO_STREAM_SWARM);
    sc_kind on[SC_KINDS];
    int non = kinds_on(&r, s->kinds, on);
    int nodes[SC_NODES_MAX], nn = s->nnodes;
    if (nn)
        memcpy(nodes, s->nodes, (size_t)nn * sizeof *nodes);
    for (int i = 0; !s->nnodes && i < sc->nnodes; i++)
        nodes[nn++] = i;
    uint32_t count = (uint32_t)between(&r, s->count_min, s->count_max);
    if (!non || !nn || !count)
        return 0;
    sc_fault *drawn = calloc(count, sizeof *drawn);
    if (!drawn)
        return -ENOMEM;
    for (uint32_t i = 0; i < count; i++)
        draw_one(&r, sc, on[tw_sim_prng_below(&r, (uint64_t)non)], nodes, nn, &drawn[i]);
    /* In time order (an insertion sort: ties stay in draw order), so the
     * schedule reads well when written out. */
    for (uint32_t i = 1; i < count; i++)
        for (uint32_t k = i; k > 0 && by_time(&drawn[k - 1], &drawn[k]) > 0; k--) {
            sc_fault t = drawn[k];
            drawn[k] = drawn[k - 1];
            drawn[k - 1] = t;
        }
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = sc_add_fault(sc, &drawn[i]);
    free(drawn);
    return rc;
}
