/* scenario/shrink.c - from a failing seed to the smallest scenario that
 * still fails the same way under that seed.
 *
 * Map: candidates (copies with one change); the test (same verdict);
 * the passes: faults (delta debugging), fault lengths, the fault phase,
 * the network; the entry point.
 *
 * Faults go first, by Zeller's ddmin on complements: try without all of
 * them, then without each half, quarter, ... down to single faults,
 * keeping every removal after which the seed still fails. Then each
 * remaining fault's "for" is halved while it still fails, then the fault
 * phase is cut by bisection (not below the last fault's time, and not at
 * all for a liveness failure without a quiet phase, where a shorter run
 * would "fail" only because it ended sooner), then network impairments
 * are dropped one by one. A different failure class is not the same
 * failure: a correctness bug does not shrink into a liveness one.
 */
#include <stdlib.h>
#include <string.h>

#include "scenario/internal.h"
#include "twin/parse.h"

typedef struct shrinker {
    uint64_t seed;
    tw_scenario_verdict verdict;
    size_t runs, runs_max;
    FILE *log;
    char message[1024]; /* the failure of the scenario kept so far */
    const tw_scenario_run_opts *run; /* the caller's stop only */
    void (*begin)(void *arg);        /* before each run */
} shrinker;

/* One run of cand under the seed, bounded as the caller asked. */
static int run_once(shrinker *s, const tw_scenario *cand, tw_scenario_result *res)
{
    if (s->begin)
        s->begin(s->run->stop_arg);
    return sc_run(cand, s->seed, s->run, res);
}

/* ---- the test ---- */

/* A failure's message without its leading "at TIME: ". */
static const char *after_time(const char *m)
{
    const char *c = strncmp(m, "at ", 3) == 0 ? strstr(m, ": ") : NULL;
    return c ? c + 2 : m;
}

static bool still_fails(shrinker *s, const tw_scenario *cand)
{
    if (s->runs >= s->runs_max)
        return false;
    s->runs++;
    tw_scenario_result res;
    if (run_once(s, cand, &res) < 0)
        return false;
    bool same = res.verdict == s->verdict;
    if (same) /* kept: its failure is the one the file will show */
        snprintf(s->message, sizeof s->message, "%s", res.message);
    tw_scenario_result_fini(&res);
    return same;
}

/* Keep cand if it still fails (then *base becomes it), else drop it. */
static bool try_keep(shrinker *s, tw_scenario **base, tw_scenario *cand,
                     const char *what)
{
    if (!cand)
        return false;
    if (!still_fails(s, cand)) {
        tw_scenario_free(cand);
        return false;
    }
    if (s->log)
        fprintf(s->log, "  still fails %s (%d fault(s) left)\n", what, cand->nfaults);
    tw_scenario_free(*base);
    *base = cand;
    return true;
}

/* ---- faults ---- */

static tw_scenario *without(const tw_scenario *sc, int from, int n)
{
    tw_scenario *c = sc_copy(sc);
    if (!c)
        return NULL;
    memmove(&c->faults[from], &c->faults[from + n],
            (size_t)(c->nfaults - from - n) * sizeof *c->faults);
    c->nfaults -= n;
    return c;
}

static void shrink_faults(shrinker *s, tw_scenario **base)
{
    int n = 1; /* first: without any fault at all */
    while ((*base)->nfaults > 0) {
        int len = (*base)->nfaults;
        int chunk = (len + n - 1) / n;
        bool removed = false;
        for (int from = 0; from < len && !removed; from += chunk) {
            int k = from + chunk > len ? len - from : chunk;
            char what[64];
            snprintf(what, sizeof what, "without faults #%d..#%d", from, from + k - 1);
            removed = try_keep(s, base, without(*base, from, k), what);
        }
        if (removed)
            n = n > 2 ? n - 1 : 2;
        else if (chunk == 1 || s->runs >= s->runs_max)
            break;
        else
            n = n * 2 > len ? len : n * 2;
    }
}

static void shrink_lengths(shrinker *s, tw_scenario **base)
{
    for (int i = 0; i < (*base)->nfaults; i++)
        while ((*base)->faults[i].f.duration_ns >= 2 * TW_MS(1) && s->runs < s->runs_max) {
            tw_scenario *c = sc_copy(*base);
            if (c)
                c->faults[i].f.duration_ns /= 2;
            char what[64];
            snprintf(what, sizeof what, "with fault #%d half as long", i);
            if (!try_keep(s, base, c, what))
                break;
        }
}

/* ---- the fault phase ---- */

static void shrink_duration(shrinker *s, tw_scenario **base)
{
    if (s->verdict == TW_SCENARIO_LIVENESS && !(*base)->quiet)
        return;
    tw_ns lo = 0, hi = (*base)->duration;
    for (int i = 0; i < (*base)->nfaults; i++)
        if ((*base)->faults[i].at > lo)
            lo = (*base)->faults[i].at;
    if (lo < TW_MS(1))
        lo = TW_MS(1);
    while (hi - lo > TW_MS(1) && s->runs < s->runs_max) {
        tw_ns mid = lo + (hi - lo) / 2;
        mid -= mid % TW_MS(1); /* a round number reads better */
        if (mid <= lo)
            break;
        tw_scenario *c = sc_copy(*base);
        if (c)
            c->duration = mid;
        char what[64], d[32];
        snprintf(what, sizeof what, "with a %s fault phase",
                 tw_format_duration(mid, d, sizeof d));
        if (try_keep(s, base, c, what))
            hi = mid;
        else
            lo = mid;
    }
}

/* ---- the network ---- */

static void shrink_network(shrinker *s, tw_scenario **base)
{
    static const char *const what[] = {
        "without loss", "without duplication", "without reordering",
        "without corruption", "without a bandwidth limit", "with default latency",
    };
    for (int k = 0; k < 6 && s->runs < s->runs_max; k++) {
        tw_scenario *c = sc_copy(*base);
        if (!c)
            return;
        tw_sim_path_opts *p = &c->world.net;
        tw_sim_path_opts before = *p;
        switch (k) {
        case 0:
            p->loss_probability = p->dgram.loss_probability = 0;
            p->loss_model = (tw_sim_loss_model){0};
            break;
        case 1: p->dgram.duplicate_probability = 0; break;
        case 2: p->dgram.reorder_probability = 0; break;
        case 3: p->dgram.corrupt_probability = 0; break;
        case 4: p->bandwidth_bytes_per_sec = 0; break;
        case 5: p->latency = (tw_sim_dist){0}; break;
        }
        if (memcmp(&before, p, sizeof before) == 0) {
            tw_scenario_free(c);
            continue;
        }
        try_keep(s, base, c, what[k]);
    }
}

/* ---- the entry point ---- */

int tw_scenario_shrink(const tw_scenario *sc, uint64_t seed, bool swarm,
                       size_t runs_max, FILE *log, tw_scenario **out,
                       tw_scenario_shrink_stats *stats)
{
    return tw_scenario_shrink_bounded(sc, seed, swarm, runs_max, log, NULL, NULL,
                                      NULL, out, stats);
}

int tw_scenario_shrink_bounded(const tw_scenario *sc, uint64_t seed, bool swarm,
                               size_t runs_max, FILE *log, void (*begin)(void *arg),
                               bool (*stop)(void *arg), void *arg,
                               tw_scenario **out, tw_scenario_shrink_stats *stats)
{
    *out = NULL;
    tw_scenario *base = swarm ? tw_scenario_materialize(sc, seed) : sc_copy(sc);
    if (!base)
        return -ENOMEM;
    base->swarm.on = false;
    tw_scenario_run_opts run = {.stop = stop, .stop_arg = arg};
    shrinker s = {.seed = seed, .runs_max = runs_max ? runs_max : 400, .log = log,
                  .run = &run, .begin = stop ? begin : NULL};
    tw_scenario_result res;
    if (run_once(&s, base, &res) < 0) {
        tw_scenario_free(base);
        return -ENOMEM;
    }
    s.runs = 1;
    s.verdict = res.verdict;
    char first[sizeof s.message];
    snprintf(first, sizeof first, "%s", res.message);
    snprintf(s.message, sizeof s.message, "%s", res.message);
    tw_scenario_result_fini(&res);
    if (s.verdict == TW_SCENARIO_PASS || s.verdict == TW_SCENARIO_TIMEOUT) {
        tw_scenario_free(base);
        return s.verdict == TW_SCENARIO_PASS ? -EAGAIN : -ETIMEDOUT;
    }
    tw_scenario_shrink_stats st = {.faults_before = (size_t)base->nfaults,
                                   .duration_before = base->duration,
                                   .verdict = s.verdict};
    if (log)
        fprintf(log, "  seed %llu fails (%s) with %d fault(s): %s\n  shrinking\n",
                (unsigned long long)seed, tw_scenario_verdict_name(s.verdict),
                base->nfaults, first);
    shrink_faults(&s, &base);
    shrink_lengths(&s, &base);
    shrink_duration(&s, &base);
    shrink_network(&s, &base);
    /* The same class of failure is kept, not the same message: say when
     * the smaller scenario fails otherwise than the seed did. */
    if (log && strcmp(after_time(first), after_time(s.message)) != 0)
        fprintf(log, "  the shrunk scenario fails otherwise than the seed did: %s\n",
                s.message);
    for (int i = 0; i < base->nfaults; i++)
        base->faults[i].drawn = false; /* they are the file's own now */
    st.runs = s.runs;
    st.faults_after = (size_t)base->nfaults;
    st.duration_after = base->duration;
    if (stats)
        *stats = st;
    *out = base;
    return 0;
}
