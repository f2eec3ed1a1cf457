/* scenario/swarm.c - a file's swarm section: the limits within which
 * each seed draws its faults.
 *
 * Map: the swarm section (the limits, into the simulator's spec); the
 * draw, which is the simulator's own (sim/swarm.c, twin/simfault.h):
 * from the seed and the spec alone, so the schedule a seed draws is
 * known before it runs and can be written out (tw_scenario_materialize)
 * to replay on its own.
 */
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
    unsigned *kinds = &sc->swarm.spec.kinds;
    if (sc_seq(y, n, "faults", TW_SIM_FAULT_KINDS, &len) < 0)
        return -EINVAL;
    *kinds = 0;
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, n, i);
        int k = tw_sim_fault_kind_parse(sc_text(e));
        if (k < 0 || !tw_sim_fault_kind_info(k)->swarm) {
            char all[200];
            size_t at = 0;
            for (int j = TW_SIM_FAULT_PARTITION; j < TW_SIM_FAULT_KINDS; j++)
                if (tw_sim_fault_kind_info(j)->swarm && at < sizeof all)
                    at += (size_t)snprintf(all + at, sizeof all - at, "%s%s",
                                           at ? ", " : "", sc_kind_name(j));
            return sc_fail(y, e, "swarm faults are %s", all);
        }
        *kinds |= 1u << k;
    }
    if (!*kinds)
        return sc_fail(y, n, "swarm needs at least one kind of fault");
    return 0;
}

/* The impairments the swarm's dgram kind may draw, by the names a
 * timeline's dgram fault gives their probabilities (drop, duplicate,
 * reorder, corrupt, refuse). */
static int parse_dgram_kinds(sc_yaml *y, yaml_node_t *n, unsigned *kinds)
{
    _Static_assert(SC_DGRAM_PROBS == 5 && TW_SIM_SWARM_DGRAM_ALL == 0x1fu,
                   "a bit of dgram_kinds for each of the dgram fault's names");
    int len;
    if (sc_seq(y, n, "dgram_kinds", SC_DGRAM_PROBS, &len) < 0)
        return -EINVAL;
    *kinds = 0;
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, n, i);
        size_t k = 0;
        while (k < SC_DGRAM_PROBS && strcmp(sc_text(e), sc_dgram_probs[k].key) != 0)
            k++;
        if (k == SC_DGRAM_PROBS)
            return sc_fail(y, e, "dgram_kinds are drop, duplicate, reorder, corrupt "
                                 "and refuse");
        *kinds |= 1u << k;
    }
    if (!*kinds)
        return sc_fail(y, n, "dgram_kinds needs at least one impairment");
    return 0;
}

int sc_parse_swarm(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    static const char *const keys[] = {
        "faults", "nodes", "window", "count", "duration", "loss_max",
        "skew_max", "drift_max", "dgram_max", "dgram_kinds", "program", NULL,
    };
    sc_swarm *sw = &sc->swarm;
    tw_sim_swarm_spec *s = &sw->spec;
    yaml_node_t *v;
    if (!n)
        return 0;
    if (sc_map(y, n, "swarm", keys) < 0)
        return -EINVAL;
    *sw = (sc_swarm){.on = true};
    tw_sim_swarm_spec_default(s, sc->duration);
    if ((v = sc_get(y, n, "faults")) && parse_swarm_kinds(y, sc, v) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "nodes")) &&
        sc_parse_node_list(y, sc, v, "nodes", sw->nodes, &s->nnodes) < 0)
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
            if (sc_int(y, v, "count", 0, TW_SIM_SWARM_FAULTS_MAX, &c) < 0)
                return -EINVAL;
            s->count_min = s->count_max = (uint32_t)c;
        } else {
            int len;
            long long a, b;
            if (sc_seq(y, v, "count", 2, &len) < 0)
                return -EINVAL;
            if (len != 2)
                return sc_fail(y, v, "count is a number or [min, max]");
            if (sc_int(y, sc_item(y, v, 0), "count", 0, TW_SIM_SWARM_FAULTS_MAX, &a) < 0 ||
                sc_int(y, sc_item(y, v, 1), "count", a, TW_SIM_SWARM_FAULTS_MAX, &b) < 0)
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
    if ((v = sc_get(y, n, "dgram_max")) && sc_prob(y, v, "dgram_max", &s->dgram_max) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "dgram_kinds")) && parse_dgram_kinds(y, v, &s->dgram_kinds) < 0)
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
        sc_str(y, v, "program", sw->program, sizeof sw->program) < 0)
        return -EINVAL;
    if ((s->kinds & (1u << TW_SIM_FAULT_KILL)) && !sw->program[0])
        return sc_fail(y, n, "a swarm that kills needs program: NAME");
    return 0;
}

/* ---- the draw: the simulator's swarm ---- */

static int add(void *arg, tw_ns at, const tw_sim_fault *f)
{
    return sc_add_fault(arg, &(sc_fault){.f = *f, .at = at, .drawn = true});
}

int sc_swarm_draw(tw_scenario *sc, uint64_t seed)
{
    if (!sc->swarm.on)
        return 0;
    tw_sim_swarm_spec spec = sc->swarm.spec;
    spec.nodes = spec.nnodes ? sc->swarm.nodes : NULL;
    spec.program = sc->swarm.program;
    int rc = tw_sim_swarm_draw(&spec, seed, sc->nnodes, add, sc);
    return rc < 0 ? rc : 0;
}
