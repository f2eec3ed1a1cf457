/* scenario/netparse.c - the network section and per-path overrides.
 *
 * Map: latency (one value, value and jitter, or a distribution); loss
 * (independent, correlated, Gilbert-Elliott); the datagram impairments;
 * the world-wide settings; the section as a whole.
 *
 * Everything lands in a tw_sim_path_opts, where zero means the
 * simulator's default, so a file says only what it changes. `loss`
 * applies to stream segments (which TCP retransmits) and to datagrams
 * (which are gone); duplicate, reorder and corrupt are datagram-only, as
 * TCP hides them from a stream.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"

/* ---- latency ---- */

static int parse_double(sc_yaml *y, yaml_node_t *n, const char *what,
                        double *out)
{
    const char *s = sc_text(n);
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || !(v >= 0) || v > 1e6)
        return sc_fail(y, n, "%s must be a number from 0 to 1000000", what);
    *out = v;
    return 0;
}

static int parse_dist(sc_yaml *y, yaml_node_t *n, tw_sim_dist *d)
{
    static const char *const keys[] = {
        "dist", "min", "max", "mean", "stddev", "alpha", "slow_probability",
        "slow_min", "slow_max", NULL,
    };
    if (sc_map(y, n, "latency", keys) < 0)
        return -EINVAL;
    yaml_node_t *kind = sc_get(y, n, "dist"), *v;
    const char *name = sc_text(kind);
    if (!kind)
        return sc_fail(y, n, "latency as a mapping needs 'dist' (constant, "
                             "uniform, normal, exponential, pareto, bimodal)");
    int k = tw_sim_dist_parse(name ? name : "");
    if (k <= 0)
        return sc_fail(y, kind, "unknown latency distribution '%.40s' (constant, "
                                "uniform, normal, exponential, pareto, bimodal)",
                       name ? name : "");
    *d = (tw_sim_dist){.kind = (tw_sim_dist_kind)k};
    static const struct {
        const char *key;
        size_t off;
    } times[] = {
        {"min", offsetof(tw_sim_dist, min_ns)},
        {"max", offsetof(tw_sim_dist, max_ns)},
        {"mean", offsetof(tw_sim_dist, mean_ns)},
        {"stddev", offsetof(tw_sim_dist, stddev_ns)},
        {"slow_min", offsetof(tw_sim_dist, slow_min_ns)},
        {"slow_max", offsetof(tw_sim_dist, slow_max_ns)},
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        tw_ns *t = (tw_ns *)((char *)d + times[i].off);
        if ((v = sc_get(y, n, times[i].key))) {
            if (sc_dur(y, v, times[i].key, t) < 0)
                return -EINVAL;
            if (*t < 0)
                return sc_fail(y, v, "%s must not be negative", times[i].key);
        }
    }
    if ((v = sc_get(y, n, "alpha")) && parse_double(y, v, "alpha", &d->alpha) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "slow_probability")) &&
        sc_prob(y, v, "slow_probability", &d->slow_probability) < 0)
        return -EINVAL;
    if (d->kind == TW_SIM_DIST_UNIFORM && d->max_ns < d->min_ns)
        return sc_fail(y, n, "a uniform latency needs max >= min");
    if (d->kind == TW_SIM_DIST_PARETO && d->min_ns <= 0)
        return sc_fail(y, n, "a pareto latency needs min > 0 (its scale)");
    return 0;
}

static int parse_latency(sc_yaml *y, yaml_node_t *map, tw_sim_path_opts *p)
{
    yaml_node_t *lat = sc_get(y, map, "latency"), *jit = sc_get(y, map, "jitter");
    if (!lat && !jit)
        return 0;
    if (jit && (!lat || !sc_is_scalar(lat)))
        return sc_fail(y, jit, "jitter goes with a single latency value "
                               "(latency: 2ms, jitter: 500us)");
    if (!sc_is_scalar(lat))
        return parse_dist(y, lat, &p->latency);
    tw_ns l, j = 0;
    if (sc_dur(y, lat, "latency", &l) < 0 || (jit && sc_dur(y, jit, "jitter", &j) < 0))
        return -EINVAL;
    if (l < 0 || j < 0)
        return sc_fail(y, l < 0 ? lat : jit, "latency and jitter must not be negative");
    if (!j) {
        p->latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = l,
                                   .max_ns = l, .mean_ns = l};
        return 0;
    }
    /* uniform around l; never below 0, and then its mean is above l */
    tw_ns lo = l > j ? l - j : 0;
    p->latency = (tw_sim_dist){.kind = TW_SIM_DIST_UNIFORM, .min_ns = lo, .max_ns = l + j,
                               .mean_ns = lo + (l + j - lo) / 2};
    return 0;
}

/* ---- loss ---- */

int sc_parse_ge(sc_yaml *y, yaml_node_t *n, tw_sim_loss_model *m)
{
    static const char *const keys[] = {"p", "r", "loss_bad", "loss_good", NULL};
    if (sc_map(y, n, "gilbert_elliott", keys) < 0)
        return -EINVAL;
    *m = (tw_sim_loss_model){.kind = TW_SIM_LOSS_GILBERT_ELLIOTT};
    yaml_node_t *v = sc_get(y, n, "p");
    if (!v)
        return sc_fail(y, n, "gilbert_elliott needs p (good -> bad per packet)");
    if (sc_prob(y, v, "p", &m->p) < 0)
        return -EINVAL;
    if (m->p <= 0)
        return sc_fail(y, v, "p must be above 0");
    if ((v = sc_get(y, n, "r")) && sc_prob(y, v, "r", &m->r) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "loss_bad")) && sc_prob(y, v, "loss_bad", &m->loss_bad) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "loss_good")) && sc_prob(y, v, "loss_good", &m->loss_good) < 0)
        return -EINVAL;
    return 0;
}

static int parse_loss(sc_yaml *y, yaml_node_t *map, tw_sim_path_opts *p)
{
    yaml_node_t *loss = sc_get(y, map, "loss"), *cor = sc_get(y, map, "loss_correlation");
    yaml_node_t *ge = sc_get(y, map, "gilbert_elliott");
    double lp = 0, c = 0;
    if (cor && !loss)
        return sc_fail(y, cor, "loss_correlation goes with loss");
    if (cor && ge)
        return sc_fail(y, ge, "gilbert_elliott and loss_correlation are two "
                              "loss models: pick one");
    if (loss && sc_prob(y, loss, "loss", &lp) < 0)
        return -EINVAL;
    if (cor && sc_prob(y, cor, "loss_correlation", &c) < 0)
        return -EINVAL;
    if (lp >= 1)
        return sc_fail(y, loss, "loss must be below 100%% (for a dead link use "
                                "a partition)");
    if (c >= 1)
        return sc_fail(y, cor, "loss_correlation must be below 100%%");
    if (ge && sc_parse_ge(y, ge, &p->loss_model) < 0)
        return -EINVAL;
    if (cor) {
        p->loss_model = (tw_sim_loss_model){.kind = TW_SIM_LOSS_CORRELATED,
                                            .probability = lp, .correlation = c};
        lp = 0; /* the model is the loss */
    }
    if (loss) {
        p->loss_probability = lp;
        p->dgram.loss_probability = lp;
    }
    return 0;
}

/* ---- datagrams and sizes ---- */

static int parse_dgram(sc_yaml *y, yaml_node_t *map, tw_sim_path_opts *p)
{
    static const struct {
        const char *key;
        size_t off;
    } probs[] = {
        {"duplicate", offsetof(tw_sim_dgram_opts, duplicate_probability)},
        {"reorder", offsetof(tw_sim_dgram_opts, reorder_probability)},
        {"corrupt", offsetof(tw_sim_dgram_opts, corrupt_probability)},
    };
    yaml_node_t *v;
    for (size_t i = 0; i < sizeof probs / sizeof probs[0]; i++)
        if ((v = sc_get(y, map, probs[i].key)) &&
            sc_prob(y, v, probs[i].key,
                    (double *)((char *)&p->dgram + probs[i].off)) < 0)
            return -EINVAL;
    if ((v = sc_get(y, map, "reorder_delay"))) {
        if (sc_dur(y, v, "reorder_delay", &p->dgram.reorder_delay_ns_max) < 0)
            return -EINVAL;
        if (p->dgram.reorder_delay_ns_max <= 0)
            return sc_fail(y, v, "reorder_delay must be longer than 0");
    }
    return 0;
}

static int parse_u32(sc_yaml *y, yaml_node_t *v, const char *what, uint32_t *out)
{
    uint64_t b;
    if (sc_bytes(y, v, what, &b) < 0)
        return -EINVAL;
    if (b == 0 || b > UINT32_MAX)
        return sc_fail(y, v, "%s must be from 1 byte to 4GiB", what);
    *out = (uint32_t)b;
    return 0;
}

static int parse_positive(sc_yaml *y, yaml_node_t *v, const char *what, tw_ns *out)
{
    if (sc_dur(y, v, what, out) < 0)
        return -EINVAL;
    return *out > 0 ? 0 : sc_fail(y, v, "%s must be longer than 0", what);
}

/* ---- the section ---- */

static const char *const path_keys[] = {
    "from", "to", "both",
    "latency", "jitter", "bandwidth", "loss", "loss_correlation",
    "gilbert_elliott", "rcvbuf", "rto", "duplicate", "reorder",
    "reorder_delay", "corrupt", NULL,
};

static const char *const world_keys[] = {
    "latency", "jitter", "bandwidth", "loss", "loss_correlation",
    "gilbert_elliott", "rcvbuf", "rto", "duplicate", "reorder",
    "reorder_delay", "corrupt",
    "stall_timeout", "connect_timeout", "chunk_max", "chunk_split", "segment_max", NULL,
};

int sc_parse_net(sc_yaml *y, yaml_node_t *n, const char *what,
                 tw_sim_path_opts *p, sc_world *world)
{
    if (sc_map(y, n, what, world ? world_keys : path_keys) < 0)
        return -EINVAL;
    yaml_node_t *v;
    if (parse_latency(y, n, p) < 0 || parse_loss(y, n, p) < 0 ||
        parse_dgram(y, n, p) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "bandwidth"))) {
        if (sc_rate(y, v, "bandwidth", &p->bandwidth_bytes_per_sec) < 0)
            return -EINVAL;
        if (!p->bandwidth_bytes_per_sec)
            return sc_fail(y, v, "bandwidth must be above 0 (for none, use a partition)");
    }
    if ((v = sc_get(y, n, "rcvbuf")) && parse_u32(y, v, "rcvbuf", &p->rcvbuf_bytes) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "rto")) && parse_positive(y, v, "rto", &p->rto_ns) < 0)
        return -EINVAL;
    if (!world)
        return 0;
    if ((v = sc_get(y, n, "stall_timeout")) &&
        parse_positive(y, v, "stall_timeout", &world->stall_timeout) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "connect_timeout")) &&
        parse_positive(y, v, "connect_timeout", &world->connect_timeout) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "chunk_max")) && parse_u32(y, v, "chunk_max", &world->chunk_max) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "chunk_split")) &&
        sc_prob(y, v, "chunk_split", &world->chunk_split) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "segment_max")) &&
        parse_u32(y, v, "segment_max", &world->segment_max) < 0)
        return -EINVAL;
    return 0;
}
