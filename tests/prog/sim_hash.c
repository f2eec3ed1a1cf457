/* tests/prog/sim_hash.c - print a shipped scenario's trace hash for seeds
 * 1..N, one line each, run through the library's scenario runner (with
 * --swarm when the file has a swarm section). Built against an -O0 and an
 * -O2 libtwin, the two outputs must be identical (sim_hash_check.sh). Not
 * a cmocka test: it lives outside the tests folder proper so the Makefile
 * does not link it everywhere.
 *
 * Usage: sim_hash [N [FILE]]          (defaults: 50 seeds of
 *                                      scenarios/demo.yaml)
 *        sim_hash -trace SEED [FILE]  (the readable trace of one seed)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/scenario.h"

static int run(const tw_scenario *sc, uint64_t seed, FILE *trace)
{
    tw_scenario_run_opts o = {.swarm = tw_scenario_has_swarm(sc), .trace = trace};
    tw_scenario_result res;
    if (tw_scenario_run(sc, seed, &o, &res) < 0) {
        fprintf(stderr, "sim_hash: seed %" PRIu64 ": cannot run\n", seed);
        return 1;
    }
    printf("seed=%" PRIu64 " hash=%016" PRIx64 " verdict=%s events=%" PRIu64
           " records=%" PRIu64 " bytes=%" PRIu64 " end=%" PRId64 "\n",
           seed, res.hash, tw_scenario_verdict_name(res.verdict), res.stats.events,
           res.stats.records, res.stats.bytes_delivered, (int64_t)res.end_ns);
    int bad = res.verdict != TW_SCENARIO_PASS;
    tw_scenario_result_fini(&res);
    return bad;
}

int main(int argc, char **argv)
{
    bool trace = argc >= 3 && strcmp(argv[1], "-trace") == 0;
    const char *file = trace ? (argc > 3 ? argv[3] : NULL) : (argc > 2 ? argv[2] : NULL);
    tw_scenario *sc;
    char err[600];
    if (tw_scenario_load(file ? file : "scenarios/demo.yaml", &sc, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int bad = 0;
    if (trace) {
        bad = run(sc, strtoull(argv[2], NULL, 0), stdout);
    } else {
        int n = argc > 1 ? atoi(argv[1]) : 50;
        for (int s = 1; s <= n; s++)
            bad += run(sc, (uint64_t)s, NULL);
    }
    tw_scenario_free(sc);
    return bad ? 1 : 0;
}
