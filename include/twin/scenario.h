/* twin/scenario.h - scenario files: a simulated world, the apps it runs,
 * its network and a timeline of faults, replayed under a seed.
 *
 * Map:
 *   1. verdicts and exit statuses
 *   2. loading a file (errors as file:line:column)
 *   3. running one seed: the result, per-fault proof of effect
 *   4. schedules: what --swarm drew, written back as a file
 *   5. shrinking a failure; checking determinism
 *
 * The file format is described in README.md ("twin sim") and by the
 * files in scenarios/. In short: nodes with addresses and the apps they
 * run (twin/app.h, the same apps `twin run` starts on the real backend),
 * the network (latency and its distribution, jitter, bandwidth, loss and
 * its model, duplication, reordering, corruption; per path or default), a
 * timeline of faults at virtual times, a duration, an optional quiet
 * phase (every fault healed; stated apps must finish within a bound),
 * and what must hold at the end.
 *
 * Oracles: besides the apps' own checks, every run watches for mistakes
 * any protocol can make, each bounded by a key of `expect:` (0 turns it
 * off), each failure naming the node, the transport (t3, as in the
 * trace) and the virtual time:
 *   write_buffer_max [64MiB]      bytes a transport holds for writing
 *   write_buffer_over_high [64]   past pause_writing, a transport may
 *                                 buffer this many times its high-water
 *                                 mark more (a protocol that does not
 *                                 stop at pause_writing)
 *   connects_per_sec_max [1000]   connect attempts of a node in one
 *                                 second of virtual time (a fixed window)
 *   connections_max [10000]       connections open on a node
 *   node_bytes_max [256MiB]       bytes a node's transports hold for
 *                                 writing, together (at check points)
 *   livelock_callbacks [1000000]  callbacks a node runs while virtual
 *                                 time stands still
 * The first five are correctness failures and stop the world the moment
 * they are passed (the simulator's limits, twin/simprobe.h, section 4;
 * node_bytes_max at the next check point); a livelock is a liveness
 * failure naming the callback (tw_scenario_run_opts.callback_name). They
 * only watch: a run that passes none of them has the trace it has without
 * them.
 *
 * Randomness: a run draws only from its seed: the world's PRNG streams
 * (twin/sim.h) and, for --swarm, stream TW_SCENARIO_STREAM_SWARM of the
 * same generator, so the faults a seed draws depend on the seed and the
 * file alone. The same file, seed and build give the same trace hash.
 *
 * Ownership: a tw_scenario is immutable once loaded; every function that
 * makes one (load, materialize, shrink) hands the caller a new one to
 * tw_scenario_free. Results own their arrays until tw_scenario_result_fini.
 * Threads: each run builds its own world, and the built-in apps parse
 * their options without globals (twin/opts.h); twin itself runs one
 * scenario at a time, and runs in several threads at once also need every
 * app they name to keep no state outside its own object.
 * Errors follow twin/error.h.
 */
#ifndef TWIN_SCENARIO_H
#define TWIN_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_scenario tw_scenario;

/* ------------------------------------------------------------------ */
/* 1. verdicts. A verdict's value is the exit status of `twin sim` for
 * one seed; a sweep exits with the worst one it saw. */

typedef enum tw_scenario_verdict {
    TW_SCENARIO_PASS = 0,
    /* Something was wrong: an app's invariant broke, an app exited with
     * another status than expected, the contract checker objected, an
     * oracle's bound was passed (a write buffer, connects, connections). */
    TW_SCENARIO_CORRECTNESS = 1,
    /* Not a verdict: a bad scenario file or command line. */
    TW_SCENARIO_USAGE = 2,
    /* Something never happened: an app did not finish within the quiet
     * phase's bound (or by the end), a connection stayed stuck, a node
     * livelocked (virtual time stood still). */
    TW_SCENARIO_LIVENESS = 3,
    /* The run itself broke: the simulator hit a limit or failed, or the
     * process died of a signal (the sweep's handler reports the seed). */
    TW_SCENARIO_CRASH = 4,
    /* Not a verdict on the code: the caller stopped the run before its
     * end (tw_scenario_run_opts.stop; `twin sim --max-wall`: it took
     * longer than that in wall-clock time). */
    TW_SCENARIO_TIMEOUT = 5,
} tw_scenario_verdict;

/* "pass", "correctness", "usage", "liveness", "crash", "timeout". */
const char *tw_scenario_verdict_name(tw_scenario_verdict v);
/* Which of two verdicts is worse: crash, correctness, liveness, timeout,
 * pass. */
tw_scenario_verdict tw_scenario_verdict_worst(tw_scenario_verdict a,
                                              tw_scenario_verdict b);

/* The PRNG stream (twin/sim.h, section 1) --swarm draws faults from. */
#define TW_SCENARIO_STREAM_SWARM TW_SIM_STREAM_SWARM

/* ------------------------------------------------------------------ */
/* 2. loading */

/* Load and check the file at path: the YAML, every key and type, app
 * names and their arguments (each app is started once on a throwaway
 * world to check them), node names, times. On success *out is the
 * caller's and 0 is returned. On failure a one-line message
 * "path:line:column: what is wrong" is written to err (errlen bytes) and
 * -EINVAL is returned (-ENOENT and friends if the file cannot be read,
 * with "path: reason"); nothing is allocated. */
int tw_scenario_load(const char *path, tw_scenario **out, char *err,
                     size_t errlen);
/* The same from text in memory; name stands for the path in messages. */
int tw_scenario_parse(const char *name, const char *text, size_t len,
                      tw_scenario **out, char *err, size_t errlen);
void tw_scenario_free(tw_scenario *sc);

/* The path it was loaded from (or the name given to parse). */
const char *tw_scenario_path(const tw_scenario *sc);
const char *tw_scenario_name(const tw_scenario *sc);
/* Faults in the timeline (the file's; --swarm adds more per seed). */
size_t tw_scenario_fault_count(const tw_scenario *sc);
/* The fault phase's length; the quiet phase's bound (0: no quiet phase). */
tw_ns tw_scenario_duration(const tw_scenario *sc);
tw_ns tw_scenario_quiet(const tw_scenario *sc);
/* True if the file has a swarm section. */
bool tw_scenario_has_swarm(const tw_scenario *sc);
/* True if its nodes run the contract checker in strict mode (the
 * default; `expect: {contract: basic}` or `false` turns it off). */
bool tw_scenario_contract_strict(const tw_scenario *sc);
/* True if the file names a node `name`. */
bool tw_scenario_has_node(const tw_scenario *sc, const char *name);
/* The nodes, in the file's order: that order is their ids in the world
 * (a fault's a and b). The name of node i, NULL past the last. */
size_t tw_scenario_node_count(const tw_scenario *sc);
const char *tw_scenario_node_name(const tw_scenario *sc, size_t i);
/* Print every setting a run uses, defaults spelled out (the TigerBeetle
 * habit: what was printed is what replays). */
void tw_scenario_describe(const tw_scenario *sc, FILE *f);

/* ------------------------------------------------------------------ */
/* 3. running one seed */

typedef struct tw_scenario_run_opts {
    /* Also draw faults from the seed, within the file's swarm limits. */
    bool swarm;
    /* The readable trace (twin/sim.h, section 8), or NULL; as JSON lines
     * with trace_json. */
    FILE *trace;
    bool trace_json;
    /* The apps' history of operations (twin/history.h) as JSON lines, or
     * NULL; written at the end of the run. */
    FILE *history;
    /* The apps' own output, each line as "NODE| line", or NULL. */
    FILE *app_out;
    /* Asked at every check point and every TW_SCENARIO_STOP_STEPS steps
     * of the world (tw_sim_run_for_steps) whether to stop: true ends the
     * run there with the verdict TW_SCENARIO_TIMEOUT. NULL: never. Where
     * a wall-clock limit goes: the runner itself reads no clock, and a
     * run never stopped is the very run it would be without stop (the
     * same trace hash). */
    bool (*stop)(void *stop_arg);
    void *stop_arg;
    /* Names a callback by its address, for the message of a livelock:
     * writes the name into buf (len bytes) and returns buf, or returns
     * NULL when it knows none. NULL, or none known: the address is
     * printed. `twin sim` names them with dladdr (a function the program
     * exports; others as file+offset, for addr2line). */
    const char *(*callback_name)(tw_callback fn, char *buf, size_t len);
    /* Write the run's traffic as capture files into this directory (made
     * if missing), one per node, DIR/NODE.pcapng (twin/simpcap.h), or
     * NULL. Capturing changes nothing in the run (the same trace hash). */
    const char *pcap_dir;
} tw_scenario_run_opts;

#define TW_SCENARIO_STOP_STEPS 4096

/* What one fault of the schedule did. */
typedef struct tw_scenario_effect {
    char what[96];    /* "partition client<->server at 2s for 1s" */
    const char *kind; /* "partition", "clog", ... (static) */
    const char *unit; /* what count counts: "packets cut", ... (static) */
    uint64_t count;   /* how often it took effect; 0: it was inert */
    bool drawn;       /* drawn by --swarm, not written in the file */
    size_t index;     /* in the file's timeline (drawn: after them) */
    tw_ns at_ns;      /* when it applies */
    tw_ns for_ns;     /* its window; 0: none */
    bool pair;        /* its kind targets a pair of nodes, a and b */
    int a, b;         /* its nodes (tw_scenario_node_name); b TW_SIM_ALL:
                         every other node */
} tw_scenario_effect;

typedef struct tw_scenario_result {
    uint64_t seed;
    uint64_t hash; /* the trace hash */
    tw_scenario_verdict verdict;
    char message[1024]; /* why it failed, "" on pass */
    tw_ns failed_ns;   /* when the failure message names happened; -1 */
    tw_ns end_ns;      /* virtual time at which the run ended */
    /* Quiet phase: when its conditions all held (-1: never, or none). */
    tw_ns converged_ns;
    size_t neffects;
    tw_scenario_effect *effects; /* one per fault of the schedule */
    tw_sim_stats stats;
    /* The capture (pcap_dir): 0, or the error that stopped it, with
     * "path: reason" in pcap_error (a full disk, a directory that cannot
     * be made). The verdict is the run's, whatever became of the files. */
    int pcap_status;
    char pcap_error[600];
    /* expect: {linearizable: true}: the operations the apps recorded, all
     * of them checked (0: none recorded, so the check had nothing to
     * judge); -1 when no check ran (not asked for, or the run failed
     * before its end). */
    int64_t history_ops;
} tw_scenario_result;

/* Run sc under seed (opts NULL: defaults) and fill *res (the caller
 * calls tw_scenario_result_fini after). Returns 0 when the run happened,
 * whatever its verdict; a negative errno only when it could not be set
 * up (out of memory; the capture directory or files could not be made:
 * then res->pcap_status and pcap_error say so). */
int tw_scenario_run(const tw_scenario *sc, uint64_t seed,
                    const tw_scenario_run_opts *opts, tw_scenario_result *res);
void tw_scenario_result_fini(tw_scenario_result *res);

/* ------------------------------------------------------------------ */
/* 4. schedules */

/* A new scenario: sc with what --swarm draws for seed written into its
 * timeline as ordinary faults (after the file's own, in the same order a
 * swarm run applies them) and no swarm section, so that running it
 * without --swarm replays the swarm run of seed exactly (same trace
 * hash), and keeps replaying those faults after the code changes. NULL
 * on ENOMEM. */
tw_scenario *tw_scenario_materialize(const tw_scenario *sc, uint64_t seed);

/* Write sc as a scenario file that loads back to the same scenario.
 * comment: lines put first as "# ..." (may be NULL). 0 or -EIO. */
int tw_scenario_write(const tw_scenario *sc, FILE *f, const char *comment);

/* ------------------------------------------------------------------ */
/* 5. shrinking and determinism */

typedef struct tw_scenario_shrink_stats {
    size_t runs;                 /* seeds run while shrinking */
    size_t faults_before, faults_after;
    tw_ns duration_before, duration_after;
    tw_scenario_verdict verdict; /* the failure kept throughout */
} tw_scenario_shrink_stats;

/* For a seed that fails sc (with --swarm if swarm), find a smaller
 * scenario that still fails the same way under the same seed: faults
 * are removed (in halves, then one by one), the remaining faults'
 * durations halved, the fault phase shortened (never when that would
 * only make a liveness bound easier to miss). At most runs_max runs
 * (0: 400). Progress lines go to log (may be NULL). On success *out is a
 * new scenario without swarm section that replays alone. Returns 0,
 * -EAGAIN if the seed does not fail, -ENOMEM. */
int tw_scenario_shrink(const tw_scenario *sc, uint64_t seed, bool swarm,
                       size_t runs_max, FILE *log, tw_scenario **out,
                       tw_scenario_shrink_stats *stats);

/* tw_scenario_shrink with a bound on each run: begin(arg) is called
 * before each run (where the caller arms a wall-clock limit; may be
 * NULL), and the run asks stop(arg) as tw_scenario_run_opts.stop. A run
 * stopped is not the same failure; when the seed's first run is stopped
 * nothing is shrunk and -ETIMEDOUT is returned. stop NULL: no bound. */
int tw_scenario_shrink_bounded(const tw_scenario *sc, uint64_t seed, bool swarm,
                               size_t runs_max, FILE *log, void (*begin)(void *arg),
                               bool (*stop)(void *arg), void *arg,
                               tw_scenario **out, tw_scenario_shrink_stats *stats);

/* Run seed twice, recording both traces. Returns 0 if they are the same
 * record for record; otherwise -EPROTO after printing to report the
 * first diverging record of each run (with the records before it). */
int tw_scenario_check_determinism(const tw_scenario *sc, uint64_t seed,
                                  bool swarm, FILE *report);

#ifdef __cplusplus
}
#endif
#endif
