/* cli/demo.c - `twin demo`: the world of scenarios/demo.yaml, run with
 * --swarm through the scenario runner (twin/scenario.h).
 *
 *   twin demo [--seed N | --seeds A..B] [--seconds S] [--trace]
 *             [--max-wall DURATION]
 *
 * One seed (1 unless given): its trace with --trace, one line of what
 * happened (verdict, virtual time, the faults drawn and how many touched
 * nothing, resets, timeouts, the trace hash), each fault with what it
 * did, then the same seed run again to show it replays to the same hash.
 * A range: one line per seed, then a count. --seconds makes the fault
 * phase S long (default: the file's duration); with the file's duration
 * a seed is the very run of `twin sim scenarios/demo.yaml --swarm --seed
 * N`.
 *
 * The file is read from the current directory, or else from the tree
 * the program was built in (build/twin finds scenarios/ beside build/).
 * Exit status as `twin sim`: the worst verdict; a replay that differs is
 * a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "scenario/internal.h" /* sc_set_duration: --seconds */
#include "twin/parse.h"

#define DEMO_FILE "scenarios/demo.yaml"

typedef struct demo {
    const char *prog;
    const char *path;
    tw_scenario *sc;
    char seconds[48]; /* " --seconds S" as given, or "" */
    tw_ns max_wall;   /* per seed, as twin sim's; 0: none */
} demo;

/* The longest fault phase --seconds sets. */
#define DEMO_SECONDS_MAX 86400

/* --seconds S: seconds ("30", "2.5"), or a duration with its unit
 * ("90s", "2m"). 0, or -1 after saying what is wrong with it. */
static int parse_seconds(const char *v, double *seconds)
{
    char *end = NULL;
    tw_ns ns = 0;
    int rc = 0;
    if (!v || !*v) {
        rc = -EINVAL;
    } else {
        double s = strtod(v, &end);
        if (!*end)
            *seconds = s;
        else if ((rc = tw_parse_duration(v, &ns)) == 0)
            *seconds = (double)ns / 1e9;
    }
    if (rc == -ERANGE || (rc == 0 && *seconds > DEMO_SECONDS_MAX)) {
        fprintf(stderr, "%s demo: --seconds: '%s' is too large (at most %d, a day)\n",
                cli_name(), v, DEMO_SECONDS_MAX);
        return -1;
    }
    if (rc < 0 || !(*seconds > 0)) {
        fprintf(stderr, "%s demo: --seconds: expected a positive number of seconds "
                        "(30, 2.5) or a duration (90s, 2m), got '%s'\n",
                cli_name(), v ? v : "");
        return -1;
    }
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: %s demo [--seed N | --seeds A..B] [--seconds S] [--trace]\n"
                    "       [--max-wall DURATION (per seed; default 60s for --seeds)]\n",
            cli_name());
    return TW_SCENARIO_USAGE;
}

/* DEMO_FILE here, or else in the parent of the program's directory. */
static const char *demo_path(const char *prog, char *buf, size_t len)
{
    const char *slash = strrchr(prog, '/');
    if (access(DEMO_FILE, R_OK) == 0 || !slash)
        return DEMO_FILE;
    snprintf(buf, len, "%.*s/../%s", (int)(slash - prog), prog, DEMO_FILE);
    return access(buf, R_OK) == 0 ? buf : DEMO_FILE;
}

/* The file's opening comment: what the world is. */
static void print_intro(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    while (f && fgets(line, sizeof line, f) && line[0] == '#')
        fputs(line[1] == ' ' ? line + 2 : line + 1, stdout);
    if (f)
        fclose(f);
}

/* Run one seed and print its line (and with effects, each fault). The
 * verdict, or a crash when the run could not be set up. */
static tw_scenario_verdict run_seed(const demo *d, uint64_t seed, FILE *trace,
                                    bool show, bool effects, uint64_t *hash)
{
    tw_scenario_run_opts o = {.swarm = true, .trace = trace,
                              .callback_name = cli_callback_name};
    tw_scenario_result res;
    cli_limit lim;
    cli_limit_start(&lim, d->max_wall, &o);
    double t0 = cli_wall();
    int rc = tw_scenario_run(d->sc, seed, &o, &res);
    if (rc < 0) {
        fprintf(stderr, "%s demo: cannot run seed %" PRIu64 ": %s\n", cli_name(),
                seed, strerror(-rc));
        return TW_SCENARIO_CRASH;
    }
    double wall = cli_wall() - t0;
    if (res.verdict == TW_SCENARIO_TIMEOUT)
        cli_timeout_message(d->max_wall, &res);
    *hash = res.hash;
    size_t inert = 0;
    for (size_t i = 0; i < res.neffects; i++)
        inert += res.effects[i].count == 0;
    char t[32];
    if (show) {
        printf("seed %-6" PRIu64 " %-11s %s virtual in %.3f s wall: %" PRIu64
               " events, %zu faults (%zu inert), %" PRIu64 " resets, %" PRIu64
               " timeouts, hash %016" PRIx64 "\n",
               seed, tw_scenario_verdict_name(res.verdict),
               tw_format_duration(res.end_ns, t, sizeof t), wall, res.stats.events,
               res.neffects, inert, res.stats.resets, res.stats.timeouts, res.hash);
        if (res.message[0])
            printf("    %s\n", res.message);
        char w[48] = "";
        if (res.verdict == TW_SCENARIO_TIMEOUT) /* the limit, and no trace */
            snprintf(w, sizeof w, " --max-wall %s", tw_format_duration(d->max_wall, t,
                                                                        sizeof t));
        if (res.verdict != TW_SCENARIO_PASS && !effects)
            printf("    replay it: %s demo --seed %" PRIu64 "%s%s\n", d->prog, seed,
                   d->seconds, w[0] ? w : " --trace");
    }
    for (size_t i = 0; show && effects && i < res.neffects; i++) {
        const tw_scenario_effect *e = &res.effects[i];
        printf("    %s: %" PRIu64 " %s%s\n", e->what, e->count, e->unit,
               e->count ? "" : " (inert)");
    }
    tw_scenario_verdict v = res.verdict;
    tw_scenario_result_fini(&res);
    return v;
}

static int sweep(const demo *d, uint64_t first, uint64_t last)
{
    uint64_t n[TW_SCENARIO_TIMEOUT + 1] = {0}, hash;
    tw_scenario_verdict worst = TW_SCENARIO_PASS;
    for (uint64_t s = first;; s++) {
        tw_scenario_verdict v = run_seed(d, s, NULL, true, false, &hash);
        n[v]++;
        worst = tw_scenario_verdict_worst(worst, v);
        if (s == last)
            break;
    }
    printf("\n%" PRIu64 " seeds: %" PRIu64 " passed, %" PRIu64 " correctness, %" PRIu64
           " liveness, %" PRIu64 " crash",
           last - first + 1, n[TW_SCENARIO_PASS], n[TW_SCENARIO_CORRECTNESS],
           n[TW_SCENARIO_LIVENESS], n[TW_SCENARIO_CRASH]);
    if (n[TW_SCENARIO_TIMEOUT])
        printf(", %" PRIu64 " timeout", n[TW_SCENARIO_TIMEOUT]);
    printf("\n");
    return (int)worst;
}

static int one(const demo *d, uint64_t seed, bool trace)
{
    uint64_t h1 = 0, h2 = 0;
    tw_scenario_verdict v = run_seed(d, seed, trace ? stdout : NULL, true, true, &h1);
    if (v == TW_SCENARIO_CRASH || v == TW_SCENARIO_TIMEOUT)
        return (int)v; /* no replay to compare */
    run_seed(d, seed, NULL, false, false, &h2);
    printf("replay of seed %" PRIu64 ": hash %016" PRIx64 " (%s)\n", seed, h2,
           h1 == h2 ? "identical" : "DIFFERENT");
    printf("replay it: %s demo --seed %" PRIu64 "%s --trace\n", d->prog, seed,
           d->seconds);
    if (!d->seconds[0])
        printf("       or: %s sim %s --swarm --seed %" PRIu64 "\n", d->prog, d->path,
               seed);
    return h1 == h2 ? (int)v : TW_SCENARIO_CRASH;
}

int tw_cli_demo(const char *prog, int argc, char **argv)
{
    demo d = {.prog = prog};
    uint64_t seed = 1, first = 0, last = 0;
    double seconds = 0;
    bool trace = false, range = false, have_max_wall = false;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--seed") == 0 && cli_parse_u64(v, &seed)) {
            i++;
        } else if (strcmp(argv[i], "--seeds") == 0 && cli_parse_range(v, &first, &last)) {
            range = true;
            i++;
        } else if (strcmp(argv[i], "--seconds") == 0) {
            if (parse_seconds(v, &seconds) < 0)
                return usage();
            snprintf(d.seconds, sizeof d.seconds, " --seconds %g", seconds);
            i++;
        } else if (strcmp(argv[i], "--max-wall") == 0) {
            int rc = v ? tw_parse_duration(v, &d.max_wall) : -EINVAL;
            if (rc < 0 || d.max_wall < 0) {
                fprintf(stderr, "%s demo: --max-wall: %s, got '%s'\n", cli_name(),
                        rc == -ERANGE ? "too large (at most 2562047h)"
                                      : "expected a duration like 60s or 10m (0: no limit)",
                        v ? v : "");
                return usage();
            }
            have_max_wall = true;
            i++;
        } else if (strcmp(argv[i], "--trace") == 0) {
            trace = true;
        } else {
            return usage();
        }
    }
    if (range && !have_max_wall)
        d.max_wall = CLI_MAX_WALL_DEFAULT;
    char buf[4096], err[600];
    d.path = demo_path(prog, buf, sizeof buf);
    if (tw_scenario_load(d.path, &d.sc, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n%s demo: runs %s, from the top of twin's tree\n", err,
                cli_name(), DEMO_FILE);
        return TW_SCENARIO_USAGE;
    }
    if (seconds > 0 && sc_set_duration(d.sc, (tw_ns)(seconds * 1e9)) < 0) {
        fprintf(stderr, "%s demo: --seconds %g ends before a fault of %s\n",
                cli_name(), seconds, d.path);
        tw_scenario_free(d.sc);
        return TW_SCENARIO_USAGE;
    }
    char t[32];
    printf("%s demo: %s with --swarm, a fault phase of %s\n\n", cli_name(), d.path,
           tw_format_duration(tw_scenario_duration(d.sc), t, sizeof t));
    print_intro(d.path);
    printf("\n");
    int rc = range ? sweep(&d, first, last) : one(&d, seed, trace);
    tw_scenario_free(d.sc);
    return rc;
}
