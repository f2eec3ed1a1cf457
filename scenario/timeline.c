/* scenario/timeline.c - faults: their names, how a timeline entry reads,
 * how a fault is described to people.
 *
 * Map: kinds (names, what their effect counts); signals; parsing one
 * entry; describing one fault.
 *
 * An entry is a mapping with `at`, exactly one kind key whose value is
 * the target, and the modifiers that kind takes:
 *     - {at: 2s, partition: [client, server], for: 1s}
 *     - {at: 2s, crash: server, for: 500ms}
 * A pair target may be one node alone: that node against all others.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"
#include "twin/parse.h"

/* ---- kinds ---- */

static const struct {
    const char *name;
    const char *unit;
    bool pair;           /* target: [a, b] or a alone vs all */
    const char *mods[4]; /* modifiers it takes */
} kinds[SC_KINDS] = {
    [SC_PARTITION] = {"partition", "packets cut", true, {"for", "oneway"}},
    [SC_HEAL] = {"heal", "cut paths healed", true, {0}},
    [SC_CLOG] = {"clog", "packets held", true, {"for", "oneway"}},
    [SC_RESET] = {"reset", "connections reset", true, {0}},
    [SC_CRASH] = {"crash", "transports lost", false, {"for"}},
    [SC_RESTART] = {"restart", "restarts", false, {0}},
    [SC_CLOCK] = {"clock", "timers moved", false, {"skew", "drift_ppm"}},
    [SC_LOSS] = {"loss", "packets lost", true,
                 {"for", "oneway", "probability", "correlation"}},
    [SC_KILL] = {"kill", "processes killed", false, {"program", "signal"}},
    [SC_EMFILE] = {"emfile", "accepts failed", false, {"count"}},
};

const char *sc_kind_name(sc_kind k) { return k < SC_KINDS ? kinds[k].name : "?"; }
const char *sc_kind_unit(sc_kind k) { return k < SC_KINDS ? kinds[k].unit : "?"; }

int sc_kind_parse(const char *name)
{
    for (int k = 0; name && k < SC_KINDS; k++)
        if (strcmp(kinds[k].name, name) == 0)
            return k;
    return -1;
}

static bool takes(sc_kind k, const char *mod)
{
    if (k == SC_LOSS && strcmp(mod, "gilbert_elliott") == 0)
        return true;
    for (int i = 0; i < 4 && kinds[k].mods[i]; i++)
        if (strcmp(kinds[k].mods[i], mod) == 0)
            return true;
    return false;
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

static const char *const entry_keys[] = {
    "at", "for", "oneway", "skew", "drift_ppm", "probability", "correlation",
    "gilbert_elliott", "program", "signal", "count",
    "partition", "heal", "clog", "reset", "crash", "restart", "clock", "loss",
    "kill", "emfile", NULL,
};

static int parse_target(sc_yaml *y, const tw_scenario *sc, yaml_node_t *v,
                        sc_fault *f)
{
    const char *what = kinds[f->kind].name;
    if (!kinds[f->kind].pair || sc_is_scalar(v)) {
        f->b = -1;
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

static int parse_loss(sc_yaml *y, yaml_node_t *n, sc_fault *f)
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

static int parse_mods(sc_yaml *y, yaml_node_t *n, sc_fault *f)
{
    yaml_node_t *v;
    if ((v = sc_get(y, n, "for"))) {
        if (sc_dur(y, v, "for", &f->dur) < 0)
            return -EINVAL;
        if (f->dur <= 0)
            return sc_fail(y, v, "'for' must be longer than 0");
    }
    if ((f->kind == SC_CLOG || f->kind == SC_LOSS) && !f->dur)
        return sc_fail(y, n, "%s needs 'for' (how long it lasts)",
                       kinds[f->kind].name);
    if ((v = sc_get(y, n, "oneway")) && sc_bool(y, v, "oneway", &f->oneway) < 0)
        return -EINVAL;
    if (f->kind == SC_CLOCK) {
        long long drift = 0;
        yaml_node_t *skew = sc_get(y, n, "skew"), *dr = sc_get(y, n, "drift_ppm");
        if (!skew && !dr)
            return sc_fail(y, n, "clock needs skew or drift_ppm");
        if (skew && sc_dur(y, skew, "skew", &f->skew) < 0)
            return -EINVAL;
        if (dr && sc_int(y, dr, "drift_ppm", -999999, 999999, &drift) < 0)
            return -EINVAL;
        f->drift_ppm = (int32_t)drift;
    }
    if (f->kind == SC_LOSS && parse_loss(y, n, f) < 0)
        return -EINVAL;
    if (f->kind == SC_KILL) {
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
    }
    if (f->kind == SC_EMFILE) {
        long long count = 1;
        if ((v = sc_get(y, n, "count")) &&
            sc_int(y, v, "count", 1, 1000000, &count) < 0)
            return -EINVAL;
        f->count = (uint32_t)count;
    }
    return 0;
}

int sc_parse_fault(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
                   sc_fault *f)
{
    *f = (sc_fault){.kind = SC_KINDS, .b = -1, .pos = sc_pos_of(n)};
    if (sc_map(y, n, "a timeline entry", entry_keys) < 0)
        return -EINVAL;
    /* Exactly one kind key. */
    yaml_node_t *target = NULL;
    for (int k = 0; k < SC_KINDS; k++) {
        yaml_node_t *v = sc_get(y, n, kinds[k].name);
        if (!v)
            continue;
        if (target)
            return sc_fail(y, sc_key(y, n, kinds[k].name),
                           "one fault per timeline entry: '%s' and '%s'",
                           kinds[f->kind].name, kinds[k].name);
        target = v;
        f->kind = (sc_kind)k;
    }
    if (!target)
        return sc_fail(y, n, "a timeline entry needs a fault: partition, heal, "
                             "clog, reset, crash, restart, clock, loss, kill "
                             "or emfile");
    /* Modifiers this kind does not take are mistakes, not ignored. */
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        yaml_node_t *k = sc_pair_key(y, n, i);
        const char *name = sc_text(k);
        if (strcmp(name, "at") == 0 || sc_kind_parse(name) >= 0)
            continue;
        if (!takes(f->kind, name))
            return sc_fail(y, k, "'%s' does not apply to %s", name,
                           kinds[f->kind].name);
    }
    yaml_node_t *at = sc_get(y, n, "at");
    if (!at)
        return sc_fail(y, n, "a timeline entry needs 'at' (its virtual time)");
    if (sc_dur(y, at, "at", &f->at) < 0)
        return -EINVAL;
    if (f->at < 0)
        return sc_fail(y, at, "a fault at a negative time (%s)", sc_text(at));
    if (parse_target(y, sc, target, f) < 0 || parse_mods(y, n, f) < 0)
        return -EINVAL;
    if (f->at + f->dur > SC_TIME_MAX)
        return sc_fail(y, at, "the fault ends too late");
    return 0;
}

/* ---- describing ---- */

static void pair(const tw_scenario *sc, const sc_fault *f, char *buf, size_t len)
{
    const char *b = f->b < 0 ? "*" : sc->nodes[f->b].name;
    snprintf(buf, len, "%s%s%s", sc->nodes[f->a].name, f->oneway ? "->" : "<->", b);
}

char *sc_fault_describe(const tw_scenario *sc, const sc_fault *f, char *buf,
                        size_t len)
{
    char who[80], at[32], dur[32], extra[96] = "";
    const char *a = sc->nodes[f->a].name;
    if (kinds[f->kind].pair)
        pair(sc, f, who, sizeof who);
    else
        snprintf(who, sizeof who, "%s", a);
    tw_format_duration(f->at, at, sizeof at);
    switch (f->kind) {
    case SC_CLOCK: {
        char s[32];
        snprintf(extra, sizeof extra, " skew %s drift %dppm",
                 tw_format_duration(f->skew, s, sizeof s), (int)f->drift_ppm);
        break;
    }
    case SC_LOSS:
        if (f->loss.kind == TW_SIM_LOSS_GILBERT_ELLIOTT)
            snprintf(extra, sizeof extra, " gilbert-elliott p %g r %g",
                     f->loss.p, f->loss.r ? f->loss.r : 1 - f->loss.p);
        else
            snprintf(extra, sizeof extra, " %g%%%s", f->loss.probability * 100,
                     f->loss.correlation > 0 ? " correlated" : "");
        break;
    case SC_KILL:
        snprintf(extra, sizeof extra, " program %s signal %s", f->program,
                 sc_signal_name(f->signal) ? sc_signal_name(f->signal) : "?");
        break;
    case SC_EMFILE:
        snprintf(extra, sizeof extra, " x%u", (unsigned)f->count);
        break;
    default:
        break;
    }
    if (f->dur)
        snprintf(buf, len, "%s %s%s at %s for %s", kinds[f->kind].name, who,
                 extra, at, tw_format_duration(f->dur, dur, sizeof dur));
    else
        snprintf(buf, len, "%s %s%s at %s", kinds[f->kind].name, who, extra, at);
    return buf;
}
