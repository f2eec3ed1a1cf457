/* cli/sweep.c - `twin sim FILE --seeds A..B`: many seeds, one line each
 * on request, a progress line for people, the replay command of every
 * failure, and a warning for faults that never did anything.
 *
 * Map: per-seed output (JSON line, failure line); the progress line;
 * inert-fault bookkeeping; the sweep.
 *
 * --shard I/N runs the seeds A+I, A+I+N, A+I+2N, ... so N machines (GNU
 * parallel, a Slurm job array, a Kubernetes indexed Job) share a range
 * without talking to each other: README.md shows each.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twin/parse.h"

/* Failures printed in full; a broken build fails every seed, and the
 * first few replay commands say all there is to say. */
#define FAIL_LINES_MAX 10

/* ---- per-seed output ---- */

static void json_line(const cli_sim *c, const tw_scenario_result *r, double wall_ms)
{
    char replay[1024];
    cli_replay_verdict(c, r->seed, r->verdict, replay, sizeof replay);
    printf("{\"seed\": %" PRIu64 ", \"verdict\": \"%s\", \"exit\": %d, "
           "\"hash\": \"%016" PRIx64 "\", \"virtual_ns\": %" PRId64
           ", \"converged_ns\": %" PRId64 ", \"events\": %" PRIu64
           ", \"wall_ms\": %.3f, \"message\": ",
           r->seed, tw_scenario_verdict_name(r->verdict), (int)r->verdict, r->hash,
           r->end_ns, r->converged_ns, r->stats.events, wall_ms);
    cli_json_str(stdout, r->message);
    printf(", \"faults\": [");
    for (size_t i = 0; i < r->neffects; i++) {
        const tw_scenario_effect *e = &r->effects[i];
        printf("%s{\"index\": %zu, \"kind\": \"%s\", \"what\": ", i ? ", " : "",
               e->index, e->kind);
        cli_json_str(stdout, e->what);
        printf(", \"effect\": %" PRIu64 ", \"unit\": \"%s\", \"drawn\": %s, "
               "\"reached\": %s}",
               e->count, e->unit, e->drawn ? "true" : "false",
               cli_fault_reached(e, r) ? "true" : "false");
    }
    printf("], \"replay\": ");
    cli_json_str(stdout, replay);
    printf("}\n");
}

static void failure_line(const cli_sim *c, const tw_scenario_result *r)
{
    char replay[1024];
    cli_replay_verdict(c, r->seed, r->verdict, replay, sizeof replay);
    FILE *f = c->json ? stderr : stdout;
    /* A timeout's trace could be as long as the run was: none asked for. */
    fprintf(f, "FAIL seed %" PRIu64 " (%s): %s\n  reproduce with: %s%s\n",
            r->seed, tw_scenario_verdict_name(r->verdict), r->message, replay,
            r->verdict == TW_SCENARIO_TIMEOUT ? "" : " --trace");
}

/* ---- the progress line ---- */

static void progress(uint64_t done, uint64_t total, uint64_t failed, double secs)
{
    double rate = secs > 0 ? (double)done / secs : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r  %" PRIu64 "/%" PRIu64 " seeds, %" PRIu64 " failed, "
                    "%.1f seeds/s, ETA %d:%02d   ",
            done, total, failed, rate, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
}

/* ---- inert faults ---- */

/* A fault counts only in the seeds whose run got to its time: one due
 * after a failure stopped the run had no turn, and is not inert for it. */
typedef struct tally {
    uint64_t *file_hits;              /* per fault of the file */
    uint64_t *file_reached;           /* seeds whose run got to it */
    size_t nfile;
    uint64_t drawn[16], drawn_hits[16]; /* per kind drawn by the swarm */
    const char *kind_name[16];
    uint64_t history_checked, history_empty; /* seeds; none recorded */
} tally;

static int kind_slot(tally *t, const char *kind)
{
    for (int i = 0; i < 16; i++) {
        if (!t->kind_name[i])
            t->kind_name[i] = kind;
        if (strcmp(t->kind_name[i], kind) == 0)
            return i;
    }
    return 15;
}

static void tally_add(tally *t, const tw_scenario_result *r)
{
    t->history_checked += r->history_ops >= 0;
    t->history_empty += r->history_ops == 0;
    for (size_t i = 0; i < r->neffects; i++) {
        const tw_scenario_effect *e = &r->effects[i];
        bool reached = cli_fault_reached(e, r);
        if (!e->drawn && e->index < t->nfile) {
            t->file_hits[e->index] += e->count > 0;
            t->file_reached[e->index] += reached;
        } else if (e->drawn && reached) {
            int k = kind_slot(t, e->kind);
            t->drawn[k]++;
            t->drawn_hits[k] += e->count > 0;
        }
    }
}

static void tally_report(const tally *t, const cli_sim *c, uint64_t seeds,
                         const tw_scenario_result *example)
{
    bool any = false;
    for (size_t i = 0; i < t->nfile; i++) {
        if (t->file_hits[i])
            continue;
        const char *what = example && i < example->neffects ? example->effects[i].what : "?";
        if (!t->file_reached[i]) {
            fprintf(stderr, "note: fault #%zu (%s) was reached in none of the %" PRIu64
                            " seeds: each run ended before its time\n", i, what, seeds);
            continue;
        }
        any = true;
        fprintf(stderr, "warning: fault #%zu (%s) never took effect in any of the "
                        "%" PRIu64 " seeds that reached it\n",
                i, what, t->file_reached[i]);
    }
    for (int k = 0; k < 16 && t->kind_name[k]; k++)
        if (t->drawn[k] && !t->drawn_hits[k]) {
            any = true;
            fprintf(stderr, "warning: the swarm drew %" PRIu64 " %s fault(s); none "
                            "took effect\n", t->drawn[k], t->kind_name[k]);
        }
    if (any)
        fprintf(stderr, "  an inert fault makes a green sweep a lie: aim it at "
                        "live traffic (see %s)\n", c->file);
    if (t->history_checked && t->history_empty == t->history_checked)
        fprintf(stderr, "warning: linearizable: true, but no app recorded an operation "
                        "in any of the %" PRIu64 " seeds checked: the history check "
                        "judged nothing (an app records with twin/history.h)\n",
                t->history_checked);
}

/* ---- the sweep ---- */

int cli_sweep(cli_sim *c)
{
    uint64_t start = c->first + c->shard;
    uint64_t span = c->last - c->first + 1;
    uint64_t total = span > c->shard ? (span - c->shard + c->shards - 1) / c->shards : 0;
    tally t = {.nfile = tw_scenario_fault_count(c->sc)};
    t.file_hits = calloc(t.nfile + 1, sizeof *t.file_hits);
    t.file_reached = calloc(t.nfile + 1, sizeof *t.file_reached);
    if (!t.file_hits || !t.file_reached) {
        free(t.file_hits);
        free(t.file_reached);
        return TW_SCENARIO_CRASH;
    }
    if (!c->quiet)
        fprintf(c->json ? stderr : stdout,
                "%s sim: %s, seeds %" PRIu64 "..%" PRIu64 " shard %" PRIu64 "/%" PRIu64
                " (%" PRIu64 " seeds)%s\n", cli_name(), c->file, c->first, c->last, c->shard,
                c->shards, total, c->swarm ? ", swarm" : "");
    tw_scenario_verdict worst = TW_SCENARIO_PASS;
    uint64_t done = 0, failed = 0, by[TW_SCENARIO_TIMEOUT + 1] = {0};
    double t0 = cli_wall(), last_progress = 0;
    bool pcap_failed = false;
    tw_scenario_result example = {0};
    bool have_example = false;
    for (uint64_t seed = start; done < total; seed += c->shards, done++) {
        char replay[1024];
        cli_replay(c, seed, replay, sizeof replay);
        cli_crash_guard(seed, replay, tw_scenario_contract_strict(c->sc));
        tw_scenario_result r;
        char pcap[600];
        if (c->pcap)
            snprintf(pcap, sizeof pcap, "%s/seed-%" PRIu64, c->pcap, seed);
        tw_scenario_run_opts o = {.swarm = c->swarm, .callback_name = cli_callback_name,
                                  .pcap_dir = c->pcap ? pcap : NULL};
        cli_limit lim;
        double w0 = cli_wall();
        if (c->determinism &&
            tw_scenario_check_determinism(c->sc, seed, c->swarm, stderr) < 0) {
            fprintf(stderr, "FAIL seed %" PRIu64 ": not deterministic\n  reproduce "
                            "with: %s --check-determinism\n", seed, replay);
            worst = TW_SCENARIO_CRASH;
            failed++;
            continue;
        }
        cli_limit_start(&lim, c->max_wall, &o);
        if (tw_scenario_run(c->sc, seed, &o, &r) < 0) {
            if (r.pcap_status) {
                fprintf(stderr, "%s: --pcap: cannot write %s\n", cli_name(), r.pcap_error);
                pcap_failed = true;
            } else {
                fprintf(stderr, "%s: out of memory at seed %" PRIu64 "\n", cli_name(), seed);
                worst = TW_SCENARIO_CRASH;
            }
            break;
        }
        double wall_ms = (cli_wall() - w0) * 1e3;
        if (r.verdict == TW_SCENARIO_TIMEOUT)
            cli_timeout_message(c->max_wall, &r);
        tally_add(&t, &r);
        if (r.verdict != TW_SCENARIO_PASS) {
            failed++;
            by[r.verdict]++;
            worst = tw_scenario_verdict_worst(worst, r.verdict);
            if (c->progress)
                fprintf(stderr, "\r%*s\r", 70, "");
            if (failed <= FAIL_LINES_MAX)
                failure_line(c, &r);
            if (failed == FAIL_LINES_MAX + 1)
                fprintf(c->json ? stderr : stdout, "(more failures: not shown; "
                                                   "--json lists every seed)\n");
        }
        if (c->json)
            json_line(c, &r, wall_ms);
        if (!have_example) {
            example = r; /* kept for the faults' descriptions */
            have_example = true;
        } else {
            tw_scenario_result_fini(&r);
        }
        /* Output that cannot be written (a full disk, a closed pipe):
         * no use running more seeds; tw_main says so and fails. */
        if (r.pcap_status) {
            fprintf(stderr, "%s: --pcap: cannot write %s\n", cli_name(), r.pcap_error);
            pcap_failed = true;
        }
        if (cli_write_failed(stdout) || pcap_failed) {
            done++;
            break;
        }
        if (c->first_failure && failed) {
            done++;
            if (!c->quiet)
                fprintf(c->json ? stderr : stdout,
                        "stopped at the first failure (--first-failure)\n");
            break;
        }
        double now = cli_wall();
        if (c->progress && now - last_progress > 0.2) {
            progress(done + 1, total, failed, now - t0);
            last_progress = now;
        }
    }
    double secs = cli_wall() - t0;
    if (c->progress)
        fprintf(stderr, "\r%*s\r", 70, "");
    char timeouts[48] = "";
    if (by[TW_SCENARIO_TIMEOUT])
        snprintf(timeouts, sizeof timeouts, ", %" PRIu64 " timeout",
                 by[TW_SCENARIO_TIMEOUT]);
    fprintf(c->json ? stderr : stdout,
            "%" PRIu64 " seeds in %.2f s (%.1f seeds/s): %" PRIu64 " passed, %" PRIu64
            " failed (%" PRIu64 " correctness, %" PRIu64 " liveness, %" PRIu64 " crash%s)\n",
            done, secs, secs > 0 ? (double)done / secs : 0.0, done - failed, failed,
            by[TW_SCENARIO_CORRECTNESS], by[TW_SCENARIO_LIVENESS],
            by[TW_SCENARIO_CRASH], timeouts);
    fflush(stdout); /* the summary before the warnings on a terminal */
    if (done)
        tally_report(&t, c, done, have_example ? &example : NULL);
    tw_scenario_result_fini(&example);
    free(t.file_hits);
    free(t.file_reached);
    fflush(stdout);
    if (pcap_failed && worst == TW_SCENARIO_PASS)
        return TW_SCENARIO_USAGE;
    return (int)worst;
}
