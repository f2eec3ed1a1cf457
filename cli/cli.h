/* cli/cli.h - what the files of cli/ share. Not installed.
 *
 *   command.c tw_main (twin/main.h): the dispatch, --load, `run`, `apps`
 *   twin.c    the `twin` program: tw_main over the built-in apps (not in
 *             the library)
 *   sim.c     `twin sim FILE` (one seed, a sweep) and `twin shrink FILE`
 *   sweep.c   the sweep: shards, progress line, JSON lines, inert faults
 *   tfilter.c `--trace-filter`: a FILE that passes the trace lines asked for
 *   replay.c  `twin replay` and `twin recording`: a recording (twin/record.h)
 *             on a simulated node, as a fuzz seed, as a test
 *   demo.c    `twin demo`: scenarios/demo.yaml with --swarm, seed by seed
 *   timeline.c `--timeline OUT.html`: one run as a self-contained page
 *             (its template in cli/timeline/, embedded at build time)
 */
#ifndef TWIN_CLI_H
#define TWIN_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/scenario.h"

/* A seed (decimal or 0x hex, nothing after it), and a range "A..B" with
 * A <= B. */
bool cli_parse_u64(const char *s, uint64_t *out);
bool cli_parse_range(const char *s, uint64_t *a, uint64_t *b);

/* Whether the run of result r got to fault e's time: it took effect, or
 * the run went on past its time. One due after a failure stopped the run
 * had no turn: "not reached", not inert. */
static inline bool cli_fault_reached(const tw_scenario_effect *e, const tw_scenario_result *r)
{
    return e->count > 0 || e->at_ns < r->end_ns;
}

/* The program's name (the last part of its argv[0]), for messages. */
const char *cli_name(void);
/* The shared objects --load loaded, as given, in order (*n of them): a
 * replay command needs them to know the apps again. */
const char *const *cli_loaded(size_t *n);

/* `twin sim ARGS` and `twin shrink ARGS` (argv[0] is the first argument
 * after the command word); prog is how twin was invoked, for the replay
 * commands printed. They return the exit status. */
int tw_cli_sim(const char *prog, int argc, char **argv);
int tw_cli_shrink(const char *prog, int argc, char **argv);
/* `twin demo ARGS` (cli/demo.c), the same way. */
int tw_cli_demo(const char *prog, int argc, char **argv);
/* cli/report.c: `twin report FILE...` */
int tw_cli_report(int argc, char **argv);
/* cli/replay.c: `twin replay FILE ... APP ...`, `twin recording FILE ...` */
int tw_cli_replay(int argc, char **argv);
int tw_cli_recording(int argc, char **argv);

/* Shared by sim.c and sweep.c. */
typedef struct cli_sim {
    const char *prog;
    const char *file;
    tw_scenario *sc;
    bool swarm, json, quiet, progress, determinism;
    bool first_failure; /* stop the sweep at the first seed that fails */
    uint64_t first, last; /* seeds, inclusive */
    uint64_t shard, shards;
    tw_ns max_wall; /* wall-clock limit per seed (--max-wall), 0: none */
    const char *pcap; /* --pcap DIR: capture files (per seed: DIR/seed-N) */
} cli_sim;

/* --max-wall's default for what runs many seeds (a sweep, a shrink): a
 * seed slower than this in wall-clock time is stopped and reported as a
 * timeout; a single seed has no limit unless one is given. */
#define CLI_MAX_WALL_DEFAULT TW_SEC(60)

/* A wall-clock limit for one run: o->stop asks it from the runner. */
typedef struct cli_limit {
    double until; /* cli_wall() seconds */
} cli_limit;
/* Arm lim for max_wall from now and hook it into o (max_wall 0: none). */
void cli_limit_start(cli_limit *lim, tw_ns max_wall, tw_scenario_run_opts *o);
/* A timeout's message, in place of the runner's: what the limit was and
 * where in virtual time the run stopped. */
void cli_timeout_message(tw_ns max_wall, tw_scenario_result *res);

/* The command that replays seed, quoted for a POSIX shell. */
void cli_replay(const cli_sim *c, uint64_t seed, char *buf, size_t len);
/* The same for a seed whose verdict was v: a timeout's replay keeps the
 * --max-wall it ran over. */
void cli_replay_verdict(const cli_sim *c, uint64_t seed, tw_scenario_verdict v,
                        char *buf, size_t len);
/* Wall-clock seconds (monotonic): progress and seeds per second only. */
double cli_wall(void);
/* Whether everything written to f, an output the command promised (its
 * standard output, a file it names), reached it: f flushed with no error,
 * and with close, closed with no error. Otherwise "PROG: cannot write
 * WHAT: reason" goes to stderr and false is returned; the command then
 * exits with TW_SCENARIO_USAGE (2) unless it already failed. */
bool cli_output_ok(FILE *f, const char *what, bool close);
/* ferror(f), checked right after writing to it: errno then still says
 * why, and is kept for cli_output_ok's message. */
bool cli_write_failed(FILE *f);
/* Print a string as a JSON string literal. */
void cli_json_str(FILE *f, const char *s);
/* Catch the signals of a crash and report the seed before dying: the
 * replay command for the seed being run is kept ready in *replay. */
void cli_crash_guard(uint64_t seed, const char *replay, bool strict);

int cli_sweep(cli_sim *c);

/* tw_scenario_run_opts.callback_name for the command: dladdr's name of
 * a callback (sim.c). */
const char *cli_callback_name(tw_callback fn, char *buf, size_t len);

/* A FILE that passes to `to` the trace lines matching expr ("node=NAME,
 * event=WORD|WORD, t=ID, from=DUR, to=DUR"), and every line that is not
 * a trace record. NULL with a message in err on a bad expression. */
/* sc: the scenario whose node names a node= term must be (NULL: any). */
FILE *cli_trace_filter(FILE *to, const tw_scenario *sc, const char *expr, char *err,
                       size_t errlen);

/* `--timeline PATH`: open PATH for writing (before the run, so that a
 * path that cannot be written fails at once) and a FILE that gathers the
 * run's JSON trace lines (tw_scenario_run_opts.trace with trace_json),
 * passing every line on to tee unless it is NULL. NULL, with the message
 * printed, if PATH cannot be opened. */
typedef struct cli_timeline cli_timeline;
cli_timeline *cli_timeline_open(const char *path, FILE *tee);
FILE *cli_timeline_trace(cli_timeline *tl);
/* After the run: write the page (c->sc, c->file and res describe the
 * run), close everything and free tl. False, with the message printed,
 * if the page could not be written whole. */
bool cli_timeline_finish(cli_timeline *tl, const cli_sim *c, const tw_scenario_result *res);
/* Close and free without writing (a run that could not be made). */
void cli_timeline_free(cli_timeline *tl);

#endif
