/* cli/sim.c - `twin sim FILE` and `twin shrink FILE`.
 *
 * Map: helpers (replay command, wall clock, JSON strings, the crash
 * guard); options; one seed (summary, trace, schedule dump, determinism
 * check, the timeline page); `twin shrink`.
 *
 *   twin sim FILE [--seed N | --seeds A..B [--shard I/N] [--json]]
 *                 [--swarm] [--trace] [--trace-filter EXPR] [--verbose]
 *                 [--dump-schedule OUT] [--check-determinism] [--quiet]
 *                 [--max-wall DURATION] [--pcap DIR] [--timeline OUT.html]
 *   twin shrink FILE --seed N [--swarm] [--out OUT] [--runs N]
 *                 [--max-wall DURATION]
 *
 * Exit status (twin/scenario.h): 0 pass, 1 correctness, 2 bad file or
 * command line or an output that could not be written, 3 liveness, 4
 * crash, 5 timeout (a seed ran longer than --max-wall); a sweep exits
 * with the worst seed's. The wall clock is read here only, for seeds per
 * second, the seed picked when none is given and --max-wall, which runs
 * see only as their stop callback.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "twin/parse.h"

/* ---- helpers ---- */

double cli_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool past_limit(void *arg)
{
    return cli_wall() >= ((const cli_limit *)arg)->until;
}

void cli_limit_start(cli_limit *lim, tw_ns max_wall, tw_scenario_run_opts *o)
{
    if (max_wall <= 0)
        return;
    lim->until = cli_wall() + (double)max_wall / 1e9;
    o->stop = past_limit;
    o->stop_arg = lim;
}

void cli_timeout_message(tw_ns max_wall, tw_scenario_result *res)
{
    char w[32], v[32];
    snprintf(res->message, sizeof res->message,
             "ran longer than --max-wall %s of wall-clock time; stopped at virtual "
             "time %s", tw_format_duration(max_wall, w, sizeof w),
             tw_format_duration(res->end_ns, v, sizeof v));
}

/* Quote s for a POSIX shell unless it is plain. */
static void shell_word(char *buf, size_t len, const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789-_./:=+,", *p))
            plain = false;
    size_t n = strlen(buf);
    if (plain) {
        snprintf(buf + n, len - n, "%s", s);
        return;
    }
    snprintf(buf + n, len - n, "'");
    for (const char *p = s; *p; p++) {
        n = strlen(buf);
        if (*p == '\'')
            snprintf(buf + n, len - n, "'\\''");
        else
            snprintf(buf + n, len - n, "%c", *p);
    }
    n = strlen(buf);
    snprintf(buf + n, len - n, "'");
}

void cli_replay(const cli_sim *c, uint64_t seed, char *buf, size_t len)
{
    buf[0] = '\0';
    shell_word(buf, len, c->prog);
    size_t n = strlen(buf);
    snprintf(buf + n, len - n, " sim ");
    size_t nloads;
    const char *const *loads = cli_loaded(&nloads);
    for (size_t i = 0; i < nloads; i++) {
        n = strlen(buf);
        snprintf(buf + n, len - n, "--load ");
        shell_word(buf, len, loads[i]);
        n = strlen(buf);
        snprintf(buf + n, len - n, " ");
    }
    shell_word(buf, len, c->file);
    n = strlen(buf);
    snprintf(buf + n, len - n, " --seed %" PRIu64 "%s", seed,
             c->swarm ? " --swarm" : "");
}

static int write_errno; /* why the write cli_write_failed saw failed */

bool cli_write_failed(FILE *f)
{
    if (!ferror(f))
        return false;
    if (!write_errno)
        write_errno = errno;
    return true;
}

bool cli_output_ok(FILE *f, const char *what, bool close)
{
    errno = 0;
    bool ok = fflush(f) == 0 && !ferror(f);
    int e = errno ? errno : write_errno;
    if (close && fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    /* A write that failed earlier left the error flag and no errno. */
    if (!ok)
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_name(), what,
                e ? strerror(e) : "a write failed");
    return ok;
}

void cli_replay_verdict(const cli_sim *c, uint64_t seed, tw_scenario_verdict v,
                        char *buf, size_t len)
{
    cli_replay(c, seed, buf, len);
    char w[32];
    size_t n = strlen(buf);
    if (v == TW_SCENARIO_TIMEOUT && c->max_wall > 0)
        snprintf(buf + n, len - n, " --max-wall %s",
                 tw_format_duration(c->max_wall, w, sizeof w));
}

void cli_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* A callback by its address, for a livelock's message: the symbol dladdr
 * finds at exactly that address (a function the program or a library
 * exports), else the object and the offset in it, which addr2line turns
 * into a function and line. NULL if the address is in no object. */
const char *cli_callback_name(tw_callback fn, char *buf, size_t len)
{
    Dl_info info;
    void *addr; /* a function's address as data, for dladdr */
    _Static_assert(sizeof addr == sizeof fn, "function and data pointers alike");
    memcpy(&addr, &fn, sizeof addr);
    if (!dladdr(addr, &info) || !info.dli_fname)
        return NULL;
    if (info.dli_sname && info.dli_saddr == addr) {
        snprintf(buf, len, "%s", info.dli_sname);
    } else {
        const char *base = strrchr(info.dli_fname, '/');
        snprintf(buf, len, "%p (%s+0x%lx)", addr, base ? base + 1 : info.dli_fname,
                 (unsigned long)((char *)addr - (char *)info.dli_fbase));
    }
    return buf;
}

/* The crash guard: a seed that kills the process (an assertion, a
 * segfault) still gets its replay command printed, and the exit status
 * says "crash". Only async-signal-safe calls in the handler. */
static char guard_msg[1600];
static size_t guard_len;

static void on_fatal(int sig)
{
    (void)sig;
    if (guard_len && write(2, guard_msg, guard_len) < 0)
        _exit(TW_SCENARIO_CRASH);
    _exit(TW_SCENARIO_CRASH);
}

/* Installed again each time: a program of the user's (or a test) may
 * have put handlers of its own in place since. */
static void guard_install(void)
{
    if (!getenv("TWIN_NO_CRASH_GUARD")) {
        struct sigaction sa = {.sa_handler = on_fatal};
        sigemptyset(&sa.sa_mask);
        int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
            sigaction(sigs[i], &sa, NULL);
    }
}

void cli_crash_guard(uint64_t seed, const char *replay, bool strict)
{
    guard_install();
    /* Without strict mode a protocol's call on a transport after its
     * connection_lost touches freed memory: a likely cause, and the
     * way to have it named. */
    int n = snprintf(guard_msg, sizeof guard_msg,
                     "\n%s sim: seed %" PRIu64 " crashed the process (CRASH)\n"
                     "%sreproduce with: %s\n", cli_name(), seed,
                     strict ? ""
                            : "the file turns strict contract mode off: a call on a "
                              "transport after its connection_lost, which strict mode "
                              "reports, is a use of freed memory without it "
                              "(expect: {contract: true})\n",
                     replay);
    guard_len = n > 0 && (size_t)n < sizeof guard_msg ? (size_t)n : 0;
}

/* ---- options ---- */

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s sim FILE [--seed N] [--swarm] [--trace] [--trace-filter EXPR]\n"
            "                   [--verbose] [--dump-schedule OUT] [--check-determinism]\n"
            "                   [--history FILE] [--pcap DIR] [--timeline OUT.html]\n"
            "       %s sim FILE --seeds A..B [--shard I/N] [--swarm] [--json] [--quiet]\n"
            "                   [--pcap DIR]\n"
            "       %s shrink FILE --seed N [--swarm] [--out OUT] [--runs N]\n"
            "\n"
            "One seed (--seed N; none: one picked at random, and printed):\n"
            "  --swarm               also draw the file's swarm faults from the seed\n"
            "  --trace               every record of the run, one labelled line each\n"
            "                        (and the apps' output, as NODE| line)\n"
            "  --trace-json          the records as JSON lines instead, the apps'\n"
            "                        output among them (what \"app\", field line)\n"
            "  --trace-filter EXPR   only matching records (implies --trace); EXPR is\n"
            "                        node=NAME[|NAME...], event=WHAT[|WHAT...],\n"
            "                        t=TRANSPORT, from=TIME, to=TIME, joined by ','\n"
            "  --trace-fields        what each record's fields mean, then exit\n"
            "  --verbose, -v         the apps' output\n"
            "  --dump-schedule OUT   the run's faults, swarm draws included, as a\n"
            "                        scenario file that replays alone ('-': stdout)\n"
            "  --check-determinism   run twice and compare the traces record by record\n"
            "  --pcap DIR            the run's traffic as pcapng files for Wireshark,\n"
            "                        one per node (DIR/NODE.pcapng; with --seeds,\n"
            "                        DIR/seed-N/NODE.pcapng)\n"
            "  --history FILE        the apps' history of operations as JSON lines\n"
            "                        (one op event a line; format: twin/history.h;\n"
            "                        '-': stdout)\n"
            "  --timeline OUT.html   the run drawn as a sequence chart, one page that\n"
            "                        needs no network (with --trace-json, which prints\n"
            "                        the records too; at most 300000 records)\n"
            "A sweep (--seeds A..B):\n"
            "  --shard I/N           only the seeds s with s %% N == I\n"
            "  --json                one JSON line per seed (verdict, hash, replay)\n"
            "  --first-failure       stop at the first seed that fails\n"
            "  --quiet, -q           only the failures and the summary\n"
            "Both, and shrink:\n"
            "  --max-wall DURATION   stop a seed that runs longer than that in\n"
            "                        wall-clock time, verdict timeout (exit 5); 0: no\n"
            "                        limit. Default: none for one seed, 60s per seed\n"
            "                        for --seeds and per run for shrink\n"
            "shrink:\n"
            "  --out OUT             where the smaller scenario goes\n"
            "  --runs N              at most N runs (default 400)\n"
            "Exit: 0 pass, 1 correctness, 2 usage, 3 liveness, 4 crash, 5 timeout.\n",
            prog, prog, prog);
    return TW_SCENARIO_USAGE;
}

bool cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    *out = strtoull(s, &end, 0);
    return !*end && !errno;
}

bool cli_parse_range(const char *s, uint64_t *a, uint64_t *b)
{
    const char *dots = s ? strstr(s, "..") : NULL;
    char left[32];
    if (!dots || (size_t)(dots - s) >= sizeof left)
        return false;
    memcpy(left, s, (size_t)(dots - s));
    left[dots - s] = '\0';
    return cli_parse_u64(left, a) && cli_parse_u64(dots + 2, b) && *a <= *b;
}

static bool parse_shard(const char *s, uint64_t *i, uint64_t *n)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    char left[32];
    if (!slash || (size_t)(slash - s) >= sizeof left)
        return false;
    memcpy(left, s, (size_t)(slash - s));
    left[slash - s] = '\0';
    return cli_parse_u64(left, i) && cli_parse_u64(slash + 1, n) && *n > 0 && *i < *n;
}

/* `twin sim a.yaml b.yaml ...` runs each file in turn, as a shell glob
 * (scenarios/resp-*.yaml) gives them. */
#define SIM_FILES_MAX 64

typedef struct sim_args {
    cli_sim c;
    const char *files[SIM_FILES_MAX];
    int nfiles;
    bool have_seed, have_seeds, trace, verbose, have_max_wall;
    uint64_t seed;
    const char *filter, *dump, *out, *history, *timeline;
    bool trace_json;
    uint64_t runs;
} sim_args;

/* --timeline draws one run of one file, from its JSON trace. */
static int timeline_args(const sim_args *a)
{
    const char *why = a->have_seeds ? "draws one run: give it --seed N, not a sweep (--seeds)"
                      : a->nfiles > 1 ? "draws one run of one scenario file"
                      : a->c.determinism ? "and --check-determinism: pick one"
                      : a->filter ? "embeds every record: it takes no --trace-filter"
                      : a->trace && !a->trace_json
                          ? "embeds the records as JSON: with it, --trace-json (not "
                            "--trace) prints them too"
                          : NULL;
    if (why)
        fprintf(stderr, "%s: --timeline %s\n", cli_name(), why);
    return why ? -1 : 0;
}

static int parse_args(sim_args *a, const char *prog, int argc, char **argv)
{
    a->c.prog = prog;
    a->c.shards = 1;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool used = true; /* v consumed */
        if (strcmp(o, "--seed") == 0 && cli_parse_u64(v, &a->seed))
            a->have_seed = true;
        else if (strcmp(o, "--seeds") == 0 && cli_parse_range(v, &a->c.first, &a->c.last))
            a->have_seeds = true;
        else if (strcmp(o, "--seeds") == 0) {
            uint64_t x, y;
            const char *dots = v ? strstr(v, "..") : NULL;
            char left[32] = "";
            if (dots && (size_t)(dots - v) < sizeof left)
                memcpy(left, v, (size_t)(dots - v));
            if (dots && cli_parse_u64(left, &x) && cli_parse_u64(dots + 2, &y) && x > y)
                fprintf(stderr, "%s: --seeds %s: the first seed is after the last "
                                "(write %s..%s)\n", cli_name(), v, dots + 2, left);
            else
                fprintf(stderr, "%s: --seeds wants A..B, two seeds with A <= B "
                                "(got '%s')\n", cli_name(), v ? v : "");
            return usage(prog);
        }
        else if (strcmp(o, "--shard") == 0 && parse_shard(v, &a->c.shard, &a->c.shards))
            ;
        else if (strcmp(o, "--trace-filter") == 0 && v)
            a->filter = v, a->trace = true;
        else if (strcmp(o, "--dump-schedule") == 0 && v)
            a->dump = v;
        else if (strcmp(o, "--out") == 0 && v)
            a->out = v;
        else if (strcmp(o, "--history") == 0 && v)
            a->history = v;
        else if (strcmp(o, "--pcap") == 0 && v && *v)
            a->c.pcap = v;
        else if (strcmp(o, "--timeline") == 0 && v)
            a->timeline = v;
        else if (strcmp(o, "--runs") == 0 && cli_parse_u64(v, &a->runs))
            ;
        else if (strcmp(o, "--max-wall") == 0) {
            int rc = v ? tw_parse_duration(v, &a->c.max_wall) : -EINVAL;
            if (rc < 0 || a->c.max_wall < 0) {
                fprintf(stderr, "%s: --max-wall: %s, got '%s'\n", cli_name(),
                        rc == -ERANGE ? "too large (at most 2562047h)"
                                      : "expected a duration like 60s or 10m (0: no limit)",
                        v ? v : "");
                return usage(prog);
            }
            a->have_max_wall = true;
        }
        else {
            used = false;
            if (strcmp(o, "--swarm") == 0)
                a->c.swarm = true;
            else if (strcmp(o, "--json") == 0)
                a->c.json = true;
            else if (strcmp(o, "--first-failure") == 0)
                a->c.first_failure = true;
            else if (strcmp(o, "--trace") == 0)
                a->trace = true;
            else if (strcmp(o, "--trace-json") == 0)
                a->trace = a->trace_json = true;
            else if (strcmp(o, "--trace-fields") == 0) {
                tw_sim_trace_fields(stdout);
                return -1; /* asked for: exit 0 */
            }
            else if (strcmp(o, "--verbose") == 0 || strcmp(o, "-v") == 0)
                a->verbose = true;
            else if (strcmp(o, "--quiet") == 0 || strcmp(o, "-q") == 0)
                a->c.quiet = true;
            else if (strcmp(o, "--check-determinism") == 0)
                a->c.determinism = true;
            else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
                usage(prog);
                return -1; /* asked for: exit 0 */
            }
            else if (o[0] != '-' && a->nfiles < SIM_FILES_MAX) {
                if (!a->c.file)
                    a->c.file = o;
                a->files[a->nfiles++] = o;
            }
            else {
                fprintf(stderr, "%s: bad option or value: '%s'%s%s\n", cli_name(), o,
                        v && o[0] == '-' ? " " : "", v && o[0] == '-' ? v : "");
                return usage(prog);
            }
        }
        if (used)
            i++;
    }
    if (!a->c.file) {
        fprintf(stderr, "%s: no scenario file given\n", cli_name());
        return usage(prog);
    }
    if (a->have_seed && a->have_seeds) {
        fprintf(stderr, "%s: --seed and --seeds: pick one\n", cli_name());
        return usage(prog);
    }
    if (a->timeline && timeline_args(a) != 0)
        return usage(prog);
    if (!a->have_max_wall && a->have_seeds)
        a->c.max_wall = CLI_MAX_WALL_DEFAULT;
    if (a->c.pcap && a->nfiles > 1) {
        fprintf(stderr, "%s: --pcap: one scenario file at a time (each run's "
                        "files are named after its nodes)\n", cli_name());
        return usage(prog);
    }
    if (a->c.pcap && a->c.determinism) {
        fprintf(stderr, "%s: --pcap and --check-determinism: pick one\n", cli_name());
        return usage(prog);
    }
    return 0;
}

static int load(sim_args *a)
{
    char err[600];
    /* Loading starts every app once, on a world torn down at once: an
     * app that dies there most likely touches its gone loop when it is
     * let go (twin/app.h: discard). Say so rather than die unexplained. */
    guard_install();
    int n = snprintf(guard_msg, sizeof guard_msg,
                     "\n%s sim: %s: the process crashed while the file's apps were "
                     "started once to check their options (CRASH); an app whose free "
                     "closes a server or transport or cancels a timer needs a discard "
                     "(twin/app.h)\n", cli_name(), a->c.file);
    guard_len = n > 0 && (size_t)n < sizeof guard_msg ? (size_t)n : 0;
    int rc = tw_scenario_load(a->c.file, &a->c.sc, err, sizeof err);
    guard_len = 0;
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return TW_SCENARIO_USAGE;
    }
    if (a->c.swarm && !tw_scenario_has_swarm(a->c.sc)) {
        fprintf(stderr, "%s: --swarm needs a swarm section in the file\n", a->c.file);
        return TW_SCENARIO_USAGE;
    }
    return 0;
}

/* ---- one seed ---- */

static uint64_t pick_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t z = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    z = (z ^ (z >> 33)) * UINT64_C(0xff51afd7ed558ccd);
    return (z ^ (z >> 33)) % 1000000000;
}

static void print_result(const cli_sim *c, const tw_scenario_result *res)
{
    char a[32], b[32], replay[1024];
    const tw_scenario_verdict v = res->verdict;
    printf("\nresult: %s%s%s\n", v == TW_SCENARIO_PASS ? "PASS" : "FAIL (",
           v == TW_SCENARIO_PASS ? "" : tw_scenario_verdict_name(v),
           v == TW_SCENARIO_PASS ? "" : ")");
    if (res->message[0])
        printf("  %s\n", res->message);
    printf("  virtual time %s", tw_format_duration(res->end_ns, a, sizeof a));
    if (res->converged_ns >= 0)
        printf(" (quiet phase goals met at %s)",
               tw_format_duration(res->converged_ns, b, sizeof b));
    printf(", %" PRIu64 " events, %" PRIu64 " trace records\n", res->stats.events,
           res->stats.records);
    if (res->neffects)
        printf("  faults, and how often each took effect:\n");
    for (size_t i = 0; i < res->neffects; i++) {
        const tw_scenario_effect *e = &res->effects[i];
        const char *mark = e->count                     ? ""
                           : !cli_fault_reached(e, res) ? "  <- not reached: the run ended first"
                                                        : "  <- INERT: it touched nothing";
        printf("    #%zu %s%s: %" PRIu64 " %s%s\n", e->index, e->what,
               e->drawn ? " (drawn)" : "", e->count, e->unit, mark);
    }
    if (res->history_ops == 0)
        printf("  history: no app recorded an operation, so linearizable: true "
               "checked nothing (an app records with twin/history.h)\n");
    else if (res->history_ops > 0)
        printf("  history: %" PRId64 " operations checked\n", res->history_ops);
    printf("  trace hash %016" PRIx64 "\n", res->hash);
    cli_replay_verdict(c, res->seed, v, replay, sizeof replay);
    printf("reproduce with: %s%s\n", replay,
           v == TW_SCENARIO_PASS || v == TW_SCENARIO_TIMEOUT ? "" : " --trace");
}

static int dump_schedule(sim_args *a)
{
    /* Without --swarm the schedule is the file's own timeline. */
    tw_scenario *m = a->c.swarm ? tw_scenario_materialize(a->c.sc, a->seed) : NULL;
    if (a->c.swarm && !m)
        return TW_SCENARIO_CRASH;
    FILE *f = strcmp(a->dump, "-") == 0 ? stdout : fopen(a->dump, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_name(), a->dump, strerror(errno));
        tw_scenario_free(m);
        return TW_SCENARIO_USAGE;
    }
    char comment[700];
    snprintf(comment, sizeof comment,
             "The schedule of seed %" PRIu64 " of %s%s, written by %s sim\n"
             "--dump-schedule: it replays that run without --swarm, and keeps\n"
             "replaying these faults after the code changes.",
             a->seed, a->c.file, a->c.swarm ? " --swarm" : "", cli_name());
    int rc = tw_scenario_write(m ? m : a->c.sc, f, comment);
    tw_scenario_free(m);
    /* Checked whole (written, flushed, closed): the file is what replays. */
    bool ok = cli_output_ok(f, f == stdout ? "the schedule to standard output" : a->dump,
                            f != stdout);
    if (rc < 0 || !ok)
        return TW_SCENARIO_USAGE;
    /* The replay of the dumped file: no --swarm, whatever loaded the apps. */
    cli_sim dumped = a->c;
    dumped.file = a->dump;
    dumped.swarm = false;
    char replay[1024];
    cli_replay(&dumped, a->seed, replay, sizeof replay);
    fprintf(stderr, "%s sim: schedule of seed %" PRIu64 " written to %s (replay: %s)\n",
            cli_name(), a->seed, a->dump, replay);
    return 0;
}

static int one_seed(sim_args *a)
{
    cli_sim *c = &a->c;
    if (!a->have_seed)
        a->seed = pick_seed();
    char replay[1024];
    cli_replay(c, a->seed, replay, sizeof replay);
    if (a->dump) {
        int rc = dump_schedule(a);
        if (rc)
            return rc;
    }
    if (c->determinism) {
        printf("%s sim: checking seed %" PRIu64 " of %s for determinism\n",
               cli_name(), a->seed, c->file);
        int rc = tw_scenario_check_determinism(c->sc, a->seed, c->swarm, stdout);
        printf("%s\n", rc == 0 ? "deterministic: both runs agree record for record"
                               : "NOT deterministic");
        return rc == 0 ? 0 : TW_SCENARIO_CRASH;
    }
    /* The page's file before anything runs: a path that cannot be
     * written fails at once. Its records go to the page, and on to
     * stdout with --trace-json. */
    cli_timeline *tl = NULL;
    if (a->timeline && !(tl = cli_timeline_open(a->timeline, a->trace ? stdout : NULL)))
        return TW_SCENARIO_USAGE;
    /* A bad --trace-filter or --history path is refused before the
     * run's description, so the error is not lost after a screenful. */
    char err[200];
    FILE *trace = NULL;
    if (tl) {
        trace = cli_timeline_trace(tl);
    } else if (a->trace) {
        trace = a->filter ? cli_trace_filter(stdout, c->sc, a->filter, err, sizeof err) : stdout;
        if (!trace) {
            fprintf(stderr, "%s: --trace-filter: %s\n", cli_name(), err);
            return TW_SCENARIO_USAGE;
        }
    }
    FILE *history = NULL;
    if (a->history) {
        history = strcmp(a->history, "-") == 0 ? stdout : fopen(a->history, "w");
        if (!history) {
            fprintf(stderr, "%s: --history %s: %s\n", cli_name(), a->history,
                    strerror(errno));
            if (trace && trace != stdout)
                fclose(trace);
            return TW_SCENARIO_USAGE;
        }
    }
    printf("%s sim: %s SEED=%" PRIu64 "%s%s\n", cli_name(), c->file, a->seed,
           c->swarm ? " (swarm)" : "", a->have_seed ? "" : " (picked at random)");
    if (!c->quiet)
        tw_scenario_describe(c->sc, stdout);
    fflush(stdout);
    tw_scenario_run_opts o = {.swarm = c->swarm, .trace = trace,
                              .trace_json = a->trace_json || tl, .history = history,
                              /* through the filter, when there is one */
                              .app_out = (a->trace && !a->trace_json) || a->verbose
                                             ? (a->filter && trace ? trace : stdout)
                                             : NULL,
                              .callback_name = cli_callback_name, .pcap_dir = c->pcap};
    tw_scenario_result res;
    cli_limit lim;
    cli_limit_start(&lim, c->max_wall, &o);
    cli_crash_guard(a->seed, replay, tw_scenario_contract_strict(c->sc));
    int rc = tw_scenario_run(c->sc, a->seed, &o, &res);
    if (trace && trace != stdout && !tl)
        fclose(trace);
    if (history && history != stdout && fclose(history) != 0 && rc >= 0)
        fprintf(stderr, "%s: --history %s: %s\n", cli_name(), a->history, strerror(errno));
    if (rc < 0 && res.pcap_status) {
        fprintf(stderr, "%s: --pcap: cannot write %s\n", cli_name(), res.pcap_error);
        return TW_SCENARIO_USAGE;
    }
    if (rc < 0) {
        cli_timeline_free(tl);
        fprintf(stderr, "%s: cannot run: %s\n", cli_name(), strerror(-rc));
        return TW_SCENARIO_CRASH;
    }
    if (res.verdict == TW_SCENARIO_TIMEOUT)
        cli_timeout_message(c->max_wall, &res);
    /* The page before the summary: the records it passes on to stdout
     * come first there, as they do without it. */
    bool page_ok = !tl || cli_timeline_finish(tl, c, &res);
    print_result(c, &res);
    int status = (int)res.verdict;
    if (res.pcap_status) {
        /* The files are an output promised: not written is a failure. */
        fprintf(stderr, "%s: --pcap: cannot write %s\n", cli_name(), res.pcap_error);
        if (status == TW_SCENARIO_PASS)
            status = TW_SCENARIO_USAGE;
    } else if (c->pcap) {
        printf("capture: %s/NODE.pcapng, one file per node (wireshark or tshark -r)\n",
               c->pcap);
    }
    if (!page_ok && status == TW_SCENARIO_PASS)
        status = TW_SCENARIO_USAGE;
    tw_scenario_result_fini(&res);
    return status;
}

static int sim_file(sim_args *a)
{
    int rc = load(a);
    if (rc == 0) {
        if (a->have_seeds) {
            a->c.progress = !a->c.quiet && isatty(2);
            rc = cli_sweep(&a->c);
        } else {
            rc = one_seed(a);
        }
    }
    tw_scenario_free(a->c.sc);
    a->c.sc = NULL;
    return rc;
}

/* Several files: each in turn; the exit status is the worst verdict (a
 * bad file stops at once). */
int tw_cli_sim(const char *prog, int argc, char **argv)
{
    sim_args a = {0};
    int rc = parse_args(&a, prog, argc, argv);
    if (rc < 0)
        return 0; /* --help */
    if (rc)
        return rc;
    int worst = TW_SCENARIO_PASS;
    for (int i = 0; i < a.nfiles; i++) {
        a.c.file = a.files[i];
        rc = sim_file(&a);
        if (rc == TW_SCENARIO_USAGE)
            return rc;
        worst = (int)tw_scenario_verdict_worst((tw_scenario_verdict)worst,
                                               (tw_scenario_verdict)rc);
    }
    return worst;
}

/* ---- twin shrink ---- */

static void default_out(const sim_args *a, char *buf, size_t len)
{
    const char *base = strrchr(a->c.file, '/');
    base = base ? base + 1 : a->c.file;
    char stem[200];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    snprintf(buf, len, "%s.seed%" PRIu64 ".shrunk.yaml", stem, a->seed);
}

/* --max-wall for each run of a shrink. */
typedef struct shrink_limit {
    tw_ns max_wall;
    cli_limit lim;
} shrink_limit;

static void shrink_begin(void *arg)
{
    shrink_limit *s = arg;
    tw_scenario_run_opts o = {0};
    cli_limit_start(&s->lim, s->max_wall, &o);
}

static bool shrink_stop(void *arg)
{
    return cli_wall() >= ((shrink_limit *)arg)->lim.until;
}

int tw_cli_shrink(const char *prog, int argc, char **argv)
{
    sim_args a = {0};
    int rc = parse_args(&a, prog, argc, argv);
    if (rc < 0)
        return 0; /* --help */
    if (rc == 0 && !a.have_seed) {
        fprintf(stderr, "%s shrink: which failing seed? (--seed N)\n", cli_name());
        rc = usage(prog);
    }
    if (rc == 0 && a.timeline) {
        fprintf(stderr, "%s shrink: --timeline draws a run of `%s sim`: give it the "
                        "shrunk file\n", cli_name(), cli_name());
        rc = usage(prog);
    }
    if (rc == 0 && !a.have_max_wall)
        a.c.max_wall = CLI_MAX_WALL_DEFAULT;
    if (rc == 0 && a.nfiles > 1) {
        fprintf(stderr, "%s shrink: one scenario file at a time\n", cli_name());
        rc = usage(prog);
    }
    if (rc == 0 && a.c.pcap) {
        fprintf(stderr, "%s shrink: --pcap is %s sim's: capture the shrunk file's "
                        "run with it\n", cli_name(), cli_name());
        rc = usage(prog);
    }
    if (rc == 0)
        rc = load(&a);
    if (rc) {
        tw_scenario_free(a.c.sc);
        return rc;
    }
    char out[512], replay[1024];
    if (a.out)
        snprintf(out, sizeof out, "%s", a.out);
    else
        default_out(&a, out, sizeof out);
    tw_scenario *small = NULL;
    tw_scenario_shrink_stats st;
    printf("%s shrink: %s seed %" PRIu64 "%s\n", cli_name(), a.c.file, a.seed,
           a.c.swarm ? " (swarm)" : "");
    /* Each run gets the whole --max-wall, armed as it begins. */
    shrink_limit lim = {.max_wall = a.c.max_wall};
    rc = tw_scenario_shrink_bounded(a.c.sc, a.seed, a.c.swarm, (size_t)a.runs,
                                    a.c.quiet ? NULL : stdout, shrink_begin,
                                    a.c.max_wall > 0 ? shrink_stop : NULL, &lim,
                                    &small, &st);
    bool file_swarm = tw_scenario_has_swarm(a.c.sc);
    tw_scenario_free(a.c.sc);
    if (rc == -EAGAIN) {
        /* A seed copied from a --swarm sweep fails only with its draws. */
        bool hint = !a.c.swarm && file_swarm;
        printf("seed %" PRIu64 " passes%s: nothing to shrink%s\n", a.seed,
               hint ? " without --swarm" : "",
               hint ? " (the file has a swarm section: a seed that failed in a "
                      "--swarm sweep needs --swarm here too)"
                    : "");
        return 1;
    }
    if (rc == -ETIMEDOUT) {
        char w[32];
        cli_sim c = {.prog = prog, .file = a.c.file, .swarm = a.c.swarm,
                     .max_wall = a.c.max_wall};
        cli_replay_verdict(&c, a.seed, TW_SCENARIO_TIMEOUT, replay, sizeof replay);
        printf("seed %" PRIu64 " ran longer than --max-wall %s of wall-clock time "
               "(TIMEOUT): nothing to shrink\nreproduce with: %s\n", a.seed,
               tw_format_duration(a.c.max_wall, w, sizeof w), replay);
        return TW_SCENARIO_TIMEOUT;
    }
    if (rc < 0) {
        fprintf(stderr, "%s shrink: %s\n", cli_name(), strerror(-rc));
        return TW_SCENARIO_CRASH;
    }
    FILE *f = fopen(out, "w");
    char comment[900], d0[32], d1[32];
    snprintf(comment, sizeof comment,
             "Shrunk by %s shrink from %s, seed %" PRIu64 "%s: %zu fault(s) to\n"
             "%zu, fault phase %s to %s, in %zu runs. It still fails (%s)\n"
             "under seed %" PRIu64 " on its own.",
             cli_name(), a.c.file, a.seed, a.c.swarm ? " --swarm" : "", st.faults_before,
             st.faults_after, tw_format_duration(st.duration_before, d0, sizeof d0),
             tw_format_duration(st.duration_after, d1, sizeof d1), st.runs,
             tw_scenario_verdict_name(st.verdict), a.seed);
    if (!f) {
        fprintf(stderr, "%s shrink: cannot write %s: %s\n", cli_name(), out, strerror(errno));
        tw_scenario_free(small);
        return TW_SCENARIO_USAGE;
    }
    int wrc = tw_scenario_write(small, f, comment);
    tw_scenario_free(small);
    if (!cli_output_ok(f, out, true) || wrc < 0)
        return TW_SCENARIO_USAGE;
    cli_sim c = {.prog = prog, .file = out};
    cli_replay(&c, a.seed, replay, sizeof replay);
    printf("shrunk: %zu fault(s) -> %zu, fault phase %s -> %s, %zu runs; "
           "still fails (%s)\nwritten to %s\nreproduce with: %s --trace\n",
           st.faults_before, st.faults_after, d0, d1, st.runs,
           tw_scenario_verdict_name(st.verdict), out, replay);
    return 0;
}
