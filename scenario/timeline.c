/* scenario/timeline.c - faults: their names, how a timeline entry reads,
 * how a fault is described to people.
 *
 * Map: kinds; signals; parsing one entry; describing one fault.
 *
 * The kinds, their targets and modifiers are the simulator's table
 * (twin/simfault.h); a timeline entry is a mapping with `at`, exactly
 * one kind key whose value is the target, and the modifiers that kind
 * takes:
 *     - {at: 2s, partition: [client, server], for: 1s}
 *     - {at: 2s, crash: server, for: 500ms}
 * A pair target may be one node alone: that node against all others.
 */
#include <assert.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"
#include "twin/parse.h"

/* ---- kinds: the simulator's table (twin/simfault.h) ---- */

const char *sc_kind_name(tw_sim_fault_kind k)
{
    const tw_sim_fault_info *in = tw_sim_fault_kind_info(k);
    return in ? in->name : "?";
}

/* "partition, heal, ... or enobufs" */
static void kind_list(char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%s",
                               k == TW_SIM_FAULT_PARTITION      ? ""
                               : k == TW_SIM_FAULT_KINDS - 1 ? " or "
                                                               : ", ",
                               sc_kind_name(k));
}

/* ---- signals ---- */

static const struct {
    const char *name;
    int sig;
} sigs[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},
    {"KILL", SIGKILL}, {"SEGV", SIGSEGV}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"BUS", SIGBUS},
};

int sc_signal_parse(const char *s)
{
    if (!s)
        return -1;
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strcmp(sigs[i].name, s) == 0)
            return sigs[i].sig;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 1 && v <= 64 ? (int)v : -1;
}

const char *sc_signal_name(int sig)
{
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigs[i].sig == sig)
            return sigs[i].name;
    return NULL;
}

/* ---- parsing one entry ---- */

/* Every key an entry may have: at, for, each kind, each modifier. */
enum { ENTRY_KEYS_MAX = 2 + TW_SIM_FAULT_KINDS * 7 + 1 };

static void entry_keys(const char *keys[ENTRY_KEYS_MAX])
{
    int n = 0;
    keys[n++] = "at";
    keys[n++] = "for";
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
        const tw_sim_fault_info *in = tw_sim_fault_kind_info(k);
        keys[n++] = in->name;
        for (int m = 0; m < 6 && in->mods[m]; m++) {
            bool seen = false;
            for (int i = 0; i < n && !seen; i++)
                seen = strcmp(keys[i], in->mods[m]) == 0;
            if (!seen)
                keys[n++] = in->mods[m];
        }
    }
    assert(n < ENTRY_KEYS_MAX);
    keys[n] = NULL;
}

static int parse_target(sc_yaml *y, const tw_scenario *sc, yaml_node_t *v,
                        tw_sim_fault *f)
{
    const char *what = sc_kind_name(f->kind);
    if (!tw_sim_fault_kind_info(f->kind)->pair || sc_is_scalar(v)) {
        f->b = TW_SIM_ALL;
        return sc_noderef(y, sc, v, what, &f->a);
    }
    int len;
    if (v->type != YAML_SEQUENCE_NODE)
        return sc_fail(y, v, "%s takes a node, or a list of two nodes", what);
    if (sc_seq(y, v, what, 2, &len) < 0)
        return -EINVAL;
    if (len != 2)
        return sc_fail(y, v, "%s takes a node, or a list of two nodes", what);
    if (sc_noderef(y, sc, sc_item(y, v, 0), what, &f->a) < 0 ||
        sc_noderef(y, sc, sc_item(y, v, 1), what, &f->b) < 0)
        return -EINVAL;
    if (f->a == f->b)
        return sc_fail(y, v, "%s between a node and itself", what);
    return 0;
}

static int parse_loss(sc_yaml *y, yaml_node_t *n, tw_sim_fault *f)
{
    yaml_node_t *p = sc_get(y, n, "probability"), *c = sc_get(y, n, "correlation");
    yaml_node_t *ge = sc_get(y, n, "gilbert_elliott");
    if (ge && (p || c))
        return sc_fail(y, ge, "a loss burst takes gilbert_elliott or "
                              "probability, not both");
    if (ge)
        return sc_parse_ge(y, ge, &f->loss);
    if (!p)
        return sc_fail(y, n, "a loss burst needs probability (or gilbert_elliott)");
    f->loss.kind = TW_SIM_LOSS_CORRELATED;
    if (sc_prob(y, p, "probability", &f->loss.probability) < 0 ||
        (c && sc_prob(y, c, "correlation", &f->loss.correlation) < 0))
        return -EINVAL;
    if (f->loss.correlation >= 1)
        return sc_fail(y, c, "correlation must be below 100%%");
    return 0;
}

/* A datagram fault's probabilities, spelled as the network section's
 * datagram settings are, but for loss: `drop` (`loss` is a fault of its
 * own). */
const sc_dgram_prob sc_dgram_probs[SC_DGRAM_PROBS] = {
    {"drop", offsetof(tw_sim_dgram_opts, loss_probability)},
    {"duplicate", offsetof(tw_sim_dgram_opts, duplicate_probability)},
    {"reorder", offsetof(tw_sim_dgram_opts, reorder_probability)},
    {"corrupt", offsetof(tw_sim_dgram_opts, corrupt_probability)},
    {"refuse", offsetof(tw_sim_dgram_opts, refuse_probability)},
};

static int parse_dgram(sc_yaml *y, yaml_node_t *n, tw_sim_fault *f)
{
    bool any = false;
    for (size_t i = 0; i < SC_DGRAM_PROBS; i++) {
        yaml_node_t *v = sc_get(y, n, sc_dgram_probs[i].key);
        if (v && sc_prob(y, v, sc_dgram_probs[i].key,
                         sc_dgram_prob_of(&f->dgram, i)) < 0)
            return -EINVAL;
        any |= v != NULL;
    }
    if (!any)
        return sc_fail(y, n, "dgram needs one of drop, duplicate, reorder, "
                             "corrupt or refuse (a probability)");
    return 0;
}

static int parse_count(sc_yaml *y, yaml_node_t *n, tw_sim_fault *f)
{
    long long count = 1;
    yaml_node_t *v = sc_get(y, n, "count");
    if (v && sc_int(y, v, "count", 1, 1000000, &count) < 0)
        return -EINVAL;
    f->count = (uint32_t)count;
    return 0;
}

static int parse_mods(sc_yaml *y, yaml_node_t *n, tw_sim_fault *f)
{
    const tw_sim_fault_info *in = tw_sim_fault_kind_info(f->kind);
    yaml_node_t *v;
    if ((v = sc_get(y, n, "for"))) {
        if (sc_dur(y, v, "for", &f->duration_ns) < 0)
            return -EINVAL;
        if (f->duration_ns <= 0)
            return sc_fail(y, v, "'for' must be longer than 0");
    }
    if (in->needs_window && !f->duration_ns)
        return sc_fail(y, n, "%s needs 'for' (how long it lasts)", in->name);
    if ((v = sc_get(y, n, "oneway")) && sc_bool(y, v, "oneway", &f->oneway) < 0)
        return -EINVAL;
    switch (f->kind) {
    case TW_SIM_FAULT_CLOCK: {
        long long drift = 0;
        yaml_node_t *skew = sc_get(y, n, "skew"), *dr = sc_get(y, n, "drift_ppm");
        if (!skew && !dr)
            return sc_fail(y, n, "clock needs skew or drift_ppm");
        if (skew && sc_dur(y, skew, "skew", &f->skew_ns) < 0)
            return -EINVAL;
        if (dr && sc_int(y, dr, "drift_ppm", -999999, 999999, &drift) < 0)
            return -EINVAL;
        f->drift_ppm = (int32_t)drift;
        return 0;
    }
    case TW_SIM_FAULT_LOSS:
        return parse_loss(y, n, f);
    case TW_SIM_FAULT_DGRAM:
        return parse_dgram(y, n, f);
    case TW_SIM_FAULT_KILL: {
        yaml_node_t *pr = sc_get(y, n, "program"), *sg = sc_get(y, n, "signal");
        if (!pr)
            return sc_fail(y, n, "kill needs 'program' (the simulated program's name)");
        if (sc_str(y, pr, "program", f->program, sizeof f->program) < 0)
            return -EINVAL;
        if (!f->program[0])
            return sc_fail(y, pr, "program must not be empty");
        f->signal = SIGKILL;
        if (sg && (f->signal = sc_signal_parse(sc_text(sg))) < 0)
            return sc_fail(y, sg, "signal must be a name like KILL or TERM, or "
                                  "a number from 1 to 64");
        return 0;
    }
    case TW_SIM_FAULT_EMFILE:
    case TW_SIM_FAULT_ENOBUFS:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_LOST_WRITE:
        return parse_count(y, n, f);
    case TW_SIM_FAULT_SLOW: {
        yaml_node_t *c = sc_get(y, n, "cost");
        if (!c)
            return sc_fail(y, n, "slow needs 'cost' (virtual time each turn "
                                 "of the node's loop takes)");
        if (sc_dur(y, c, "cost", &f->cost_ns) < 0)
            return -EINVAL;
        if (f->cost_ns <= 0)
            return sc_fail(y, c, "'cost' must be longer than 0");
        return 0;
    }
    default:
        return 0;
    }
}

int sc_parse_fault(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
                   sc_fault *e)
{
    *e = (sc_fault){.f = {.kind = TW_SIM_FAULT_KINDS, .b = TW_SIM_ALL},
                    .pos = sc_pos_of(n)};
    tw_sim_fault *f = &e->f;
    const char *keys[ENTRY_KEYS_MAX];
    entry_keys(keys);
    if (sc_map(y, n, "a timeline entry", keys) < 0)
        return -EINVAL;
    /* Exactly one kind key. */
    yaml_node_t *target = NULL;
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
        yaml_node_t *v = sc_get(y, n, sc_kind_name(k));
        if (!v)
            continue;
        if (target)
            return sc_fail(y, sc_key(y, n, sc_kind_name(k)),
                           "one fault per timeline entry: '%s' and '%s'",
                           sc_kind_name(f->kind), sc_kind_name(k));
        target = v;
        f->kind = (tw_sim_fault_kind)k;
    }
    if (!target) {
        char all[256];
        kind_list(all, sizeof all);
        return sc_fail(y, n, "a timeline entry needs a fault: %s", all);
    }
    /* Modifiers this kind does not take are mistakes, not ignored. */
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        yaml_node_t *k = sc_pair_key(y, n, i);
        const char *name = sc_text(k);
        if (strcmp(name, "at") == 0 || tw_sim_fault_kind_parse(name) >= 0)
            continue;
        if (!tw_sim_fault_kind_takes(f->kind, name))
            return sc_fail(y, k, "'%s' does not apply to %s", name,
                           sc_kind_name(f->kind));
    }
    yaml_node_t *at = sc_get(y, n, "at");
    if (!at)
        return sc_fail(y, n, "a timeline entry needs 'at' (its virtual time)");
    if (sc_dur(y, at, "at", &e->at) < 0)
        return -EINVAL;
    if (e->at < 0)
        return sc_fail(y, at, "a fault at a negative time (%s)", sc_text(at));
    if (parse_target(y, sc, target, f) < 0 || parse_mods(y, n, f) < 0)
        return -EINVAL;
    if (e->at + f->duration_ns > SC_TIME_MAX)
        return sc_fail(y, at, "the fault ends too late");
    assert(tw_sim_fault_ok(f));
    return 0;
}

/* ---- describing ---- */

static void pair(const tw_scenario *sc, const tw_sim_fault *f, char *buf, size_t len)
{
    const char *b = f->b < 0 ? "*" : sc->nodes[f->b].name;
    snprintf(buf, len, "%s%s%s", sc->nodes[f->a].name, f->oneway ? "->" : "<->", b);
}

static void dgram_extra(tw_sim_dgram_opts *o, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < SC_DGRAM_PROBS && at < len; i++) {
        double p = *sc_dgram_prob_of(o, i);
        if (p > 0)
            at += (size_t)snprintf(buf + at, len - at, " %s %g%%",
                                   sc_dgram_probs[i].key, p * 100);
    }
}

char *sc_fault_describe(const tw_scenario *sc, const sc_fault *e, char *buf,
                        size_t len)
{
    const tw_sim_fault *f = &e->f;
    char who[80], at[32], dur[32], extra[96] = "";
    const char *a = sc->nodes[f->a].name;
    if (tw_sim_fault_kind_info(f->kind)->pair)
        pair(sc, f, who, sizeof who);
    else
        snprintf(who, sizeof who, "%s", a);
    tw_format_duration(e->at, at, sizeof at);
    switch (f->kind) {
    case TW_SIM_FAULT_CLOCK: {
        char s[32];
        snprintf(extra, sizeof extra, " skew %s drift %dppm",
                 tw_format_duration(f->skew_ns, s, sizeof s), (int)f->drift_ppm);
        break;
    }
    case TW_SIM_FAULT_LOSS:
        if (f->loss.kind == TW_SIM_LOSS_GILBERT_ELLIOTT)
            snprintf(extra, sizeof extra, " gilbert-elliott p %g r %g",
                     f->loss.p, f->loss.r ? f->loss.r : 1 - f->loss.p);
        else
            snprintf(extra, sizeof extra, " %g%%%s", f->loss.probability * 100,
                     f->loss.correlation > 0 ? " correlated" : "");
        break;
    case TW_SIM_FAULT_DGRAM: {
        tw_sim_dgram_opts o = f->dgram;
        dgram_extra(&o, extra, sizeof extra);
        break;
    }
    case TW_SIM_FAULT_KILL:
        snprintf(extra, sizeof extra, " program %s signal %s", f->program,
                 sc_signal_name(f->signal) ? sc_signal_name(f->signal) : "?");
        break;
    case TW_SIM_FAULT_EMFILE:
    case TW_SIM_FAULT_ENOBUFS:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_LOST_WRITE:
        snprintf(extra, sizeof extra, " x%u", (unsigned)f->count);
        break;
    case TW_SIM_FAULT_SLOW: {
        char c[32];
        snprintf(extra, sizeof extra, " cost %s per turn",
                 tw_format_duration(f->cost_ns, c, sizeof c));
        break;
    }
    default:
        break;
    }
    if (f->duration_ns)
        snprintf(buf, len, "%s %s%s at %s for %s", sc_kind_name(f->kind), who,
                 extra, at, tw_format_duration(f->duration_ns, dur, sizeof dur));
    else
        snprintf(buf, len, "%s %s%s at %s", sc_kind_name(f->kind), who, extra, at);
    return buf;
}
