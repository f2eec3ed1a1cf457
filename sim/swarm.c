/* sim/swarm.c - swarm testing: each seed draws which kinds of fault are
 * on and how hard they hit, within the limits of a spec.
 *
 * Map: the spec (defaults, checks); the generator; the kinds a seed turns
 * on; one fault; the draw; scheduling a draw in a world.
 *
 * Swarm testing (Groce et al., 2012) turns each kind on or off per seed
 * (a coin each, at least one on): a seed that never partitions can crash
 * a node a dozen times, and a bug that one kind of fault masks is found
 * by the seeds that leave that kind out. Everything comes from stream
 * TW_SIM_STREAM_SWARM of the seed and from the spec, never from a run, so
 * the schedule a seed draws is known before it runs and can be written
 * out to replay on its own (a scenario's --dump-schedule).
 */
#include <assert.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* ---- the spec ---- */

void tw_sim_swarm_spec_default(tw_sim_swarm_spec *s, tw_ns to)
{
    *s = (tw_sim_swarm_spec){.to = to, .count_min = 1, .count_max = 4,
                             .dur_min = TW_MS(1), .dur_max = TW_SEC(1),
                             .loss_max = 0.5, .skew_max = TW_SEC(1),
                             .dgram_max = 0.5};
    s->kinds = 1u << TW_SIM_FAULT_PARTITION | 1u << TW_SIM_FAULT_CLOG |
               1u << TW_SIM_FAULT_RESET | 1u << TW_SIM_FAULT_CRASH |
               1u << TW_SIM_FAULT_CLOCK | 1u << TW_SIM_FAULT_LOSS;
}

int tw_sim_swarm_spec_check(const tw_sim_swarm_spec *s, int nnodes,
                            const char **why)
{
    static const char *dummy;
    why = why ? why : &dummy;
    *why = NULL;
    if (!s)
        *why = "no spec";
    for (int k = TW_SIM_FAULT_PARTITION; !*why && k < TW_SIM_FAULT_KINDS; k++)
        if ((s->kinds & (1u << k)) && !tw_sim_fault_kind_info(k)->swarm)
            *why = "a kind the swarm does not draw (heal and restart are "
                   "the undoing of others)";
    if (*why)
        return -EINVAL;
    if (s->kinds & ~((1u << TW_SIM_FAULT_KINDS) - 2u))
        *why = "no such kind";
    else if (!s->kinds)
        *why = "no kind of fault";
    else if (s->from < 0 || s->to < s->from)
        *why = "the window needs 0 <= from <= to";
    else if (s->count_min > s->count_max || s->count_max > TW_SIM_SWARM_FAULTS_MAX)
        *why = "count needs min <= max <= 256";
    else if (s->dur_min < 1 || s->dur_max < s->dur_min)
        *why = "fault durations need 1 <= min <= max";
    else if (!(s->loss_max >= 0 && s->loss_max <= 1) ||
             !(s->dgram_max >= 0 && s->dgram_max <= 1))
        *why = "probabilities are in [0, 1]";
    else if (s->dgram_kinds & ~TW_SIM_SWARM_DGRAM_ALL)
        *why = "dgram_kinds has bits that are no impairment";
    else if (s->skew_max < 0 || s->drift_max < 0 || s->drift_max > 999999)
        *why = "skew_max >= 0 and drift_max in [0, 999999]";
    else if ((s->kinds & (1u << TW_SIM_FAULT_KILL)) &&
             (!s->program || !s->program[0] || strlen(s->program) >= 64))
        *why = "a swarm that kills needs a program name (under 64 bytes)";
    else if (s->nnodes < 0 || (s->nnodes && !s->nodes))
        *why = "bad node list";
    for (int i = 0; !*why && i < s->nnodes; i++)
        if (s->nodes[i] < 0 || s->nodes[i] >= nnodes)
            *why = "a node the world does not have";
    return *why ? -EINVAL : 0;
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

/* ---- the kinds a seed turns on ---- */

static int kinds_on(tw_sim_prng *r, unsigned eligible, tw_sim_fault_kind *out)
{
    int n = 0, all = 0;
    tw_sim_fault_kind every[TW_SIM_FAULT_KINDS];
    for (int k = TW_SIM_FAULT_PARTITION; k < TW_SIM_FAULT_KINDS; k++) {
        if (!(eligible & (1u << k)))
            continue;
        every[all++] = (tw_sim_fault_kind)k;
        if (tw_sim_prng_chance(r, 0.5))
            out[n++] = (tw_sim_fault_kind)k;
    }
    if (!n && all)
        out[n++] = every[tw_sim_prng_below(r, (uint64_t)all)];
    return n;
}

/* ---- one fault ---- */

static void draw_loss(tw_sim_prng *r, const tw_sim_swarm_spec *s,
                      tw_sim_loss_model *m)
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

/* One impairment of those dgram_kinds allows (one draw among them: with
 * all five, the k-th is kind k), its probability up to dgram_max. */
static void draw_dgram(tw_sim_prng *r, const tw_sim_swarm_spec *s,
                       tw_sim_dgram_opts *o)
{
    unsigned allowed = s->dgram_kinds ? s->dgram_kinds : TW_SIM_SWARM_DGRAM_ALL;
    assert(allowed && !(allowed & ~TW_SIM_SWARM_DGRAM_ALL)); /* spec_check */
    uint64_t k = tw_sim_prng_below(r, (uint64_t)__builtin_popcount(allowed));
    unsigned which = 0;
    for (;; which++)
        if ((allowed >> which & 1u) && k-- == 0)
            break;
    double p = s->dgram_max * (0.1 + 0.9 * tw_sim_prng_double(r));
    memset(o, 0, sizeof *o);
    switch (which) {
    case 0: o->loss_probability = p; break;
    case 1: o->duplicate_probability = p; break;
    case 2: o->reorder_probability = p; break;
    case 3: o->corrupt_probability = p; break;
    default: o->refuse_probability = p; break;
    }
}

static void draw_one(tw_sim_prng *r, const tw_sim_swarm_spec *s,
                     tw_sim_fault_kind kind, const int *nodes, int nn,
                     tw_ns *at, tw_sim_fault *f)
{
    *f = (tw_sim_fault){.kind = kind, .b = TW_SIM_ALL};
    /* Times in whole milliseconds: a written schedule reads "at: 1234ms". */
    *at = ms(r, s->from, s->to);
    f->a = nodes[tw_sim_prng_below(r, (uint64_t)nn)];
    if (tw_sim_fault_kind_info(kind)->pair && nn >= 2 && !tw_sim_prng_chance(r, 0.25)) {
        /* Another eligible node; otherwise a against all of them. */
        int k = (int)tw_sim_prng_below(r, (uint64_t)nn - 1);
        f->b = nodes[k] == f->a ? nodes[nn - 1] : nodes[k];
    }
    tw_ns dur = ms(r, s->dur_min, s->dur_max);
    switch (kind) {
    case TW_SIM_FAULT_PARTITION:
    case TW_SIM_FAULT_CLOG:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->duration_ns = dur;
        break;
    case TW_SIM_FAULT_CRASH:
        f->duration_ns = dur;
        break;
    case TW_SIM_FAULT_CLOCK:
        f->skew_ns = ms(r, 0, s->skew_max * 2) - s->skew_max;
        f->drift_ppm = s->drift_max
                           ? (int32_t)between(r, 0, (uint64_t)s->drift_max * 2) - s->drift_max
                           : 0;
        break;
    case TW_SIM_FAULT_LOSS:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->duration_ns = dur;
        draw_loss(r, s, &f->loss);
        break;
    case TW_SIM_FAULT_KILL:
        snprintf(f->program, sizeof f->program, "%s", s->program);
        f->signal = tw_sim_prng_chance(r, 0.3) ? SIGTERM : SIGKILL;
        break;
    case TW_SIM_FAULT_EMFILE:
    case TW_SIM_FAULT_ENOBUFS:
    case TW_SIM_FAULT_FSYNC_FAIL:
    case TW_SIM_FAULT_LOST_WRITE:
        f->count = (uint32_t)between(r, 1, 3);
        break;
    case TW_SIM_FAULT_DISK_EIO:
    case TW_SIM_FAULT_DISK_FULL:
    case TW_SIM_FAULT_DISK_CORRUPT:
    case TW_SIM_FAULT_POWER_LOSS:
        f->duration_ns = dur;
        break;
    case TW_SIM_FAULT_DGRAM:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->duration_ns = dur;
        draw_dgram(r, s, &f->dgram);
        break;
    case TW_SIM_FAULT_FREEZE:
        f->duration_ns = dur;
        break;
    case TW_SIM_FAULT_SLOW:
        /* each turn costs up to a tenth of the window (1 us at least) */
        f->duration_ns = dur;
        f->cost_ns = 1000 + (tw_ns)tw_sim_prng_below(r, (uint64_t)(dur / 10) + 1);
        break;
    case TW_SIM_FAULT_BLACKHOLE:
        f->oneway = tw_sim_prng_chance(r, 0.3);
        f->duration_ns = dur;
        break;
    default:
        break;
    }
}

/* ---- the draw ---- */

/* The draw; feed: a world's schedule-fuzzing bytes, or NULL. */
static int draw(const tw_sim_swarm_spec *s, uint64_t seed, int nnodes,
                tw_sim_prng_feed *feed,
                int (*add)(void *arg, tw_ns at, const tw_sim_fault *f), void *arg)
{
    if (!add || tw_sim_swarm_spec_check(s, nnodes, NULL) < 0)
        return -EINVAL;
    tw_sim_prng r;
    tw_sim_prng_seed(&r, seed, TW_SIM_STREAM_SWARM);
    r.feed = feed;
    tw_sim_fault_kind on[TW_SIM_FAULT_KINDS];
    int non = kinds_on(&r, s->kinds, on);
    int nn = s->nnodes ? s->nnodes : nnodes;
    uint32_t count = (uint32_t)between(&r, s->count_min, s->count_max);
    if (!non || !nn || !count)
        return 0;
    assert(count <= TW_SIM_SWARM_FAULTS_MAX);
    int *nodes = malloc((size_t)nn * sizeof *nodes);
    struct drawn {
        tw_ns at;
        tw_sim_fault f;
    } *d = calloc(count, sizeof *d);
    if (!d || !nodes) {
        free(d);
        free(nodes);
        return -ENOMEM;
    }
    for (int i = 0; i < nn; i++)
        nodes[i] = s->nnodes ? s->nodes[i] : i;
    for (uint32_t i = 0; i < count; i++)
        draw_one(&r, s, on[tw_sim_prng_below(&r, (uint64_t)non)], nodes, nn,
                 &d[i].at, &d[i].f);
    /* In time order (an insertion sort: ties stay in draw order), so the
     * schedule reads well when written out. */
    for (uint32_t i = 1; i < count; i++)
        for (uint32_t k = i; k > 0 && d[k - 1].at > d[k].at; k--) {
            struct drawn t = d[k];
            d[k] = d[k - 1];
            d[k - 1] = t;
        }
    int rc = 0;
    for (uint32_t i = 0; i < count && rc >= 0; i++)
        rc = add(arg, d[i].at, &d[i].f);
    free(d);
    free(nodes);
    return rc < 0 ? rc : (int)count;
}

int tw_sim_swarm_draw(const tw_sim_swarm_spec *s, uint64_t seed, int nnodes,
                      int (*add)(void *arg, tw_ns at, const tw_sim_fault *f),
                      void *arg)
{
    return draw(s, seed, nnodes, NULL, add, arg);
}

/* ---- scheduling a draw ---- */

static int schedule(void *arg, tw_ns at, const tw_sim_fault *f)
{
    return tw_sim_at(arg, at, f);
}

int tw_sim_swarm(tw_sim *sim, const tw_sim_swarm_spec *spec)
{
    if (!sim)
        return -EINVAL;
    /* With schedule fuzzing the fuzzer's bytes steer the draw too. */
    return draw(spec, sim->seed, (int)sim->nnodes,
                sim->opts.prng_bytes ? &sim->feed : NULL, schedule, sim);
}
