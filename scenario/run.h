/* scenario/run.h - one run's state, shared by scenario/run.c (the world,
 * the drive, the verdict) and scenario/nodes.c (apps on nodes). Not a
 * public header.
 */
#ifndef TWIN_SCENARIO_RUN_H
#define TWIN_SCENARIO_RUN_H

#include <stdio.h>

#include "scenario/internal.h"
#include "twin/simprobe.h"

typedef struct sc_runner sc_runner;

/* One app on one node: its state lives from a start to the next crash. */
typedef struct sc_app_rt {
    const sc_app *spec;
    void *state; /* NULL: not running */
} sc_app_rt;

typedef struct sc_node_rt {
    sc_runner *r;
    int idx;
    tw_loop *loop;
    sc_app_rt apps[SC_APPS_MAX];
    FILE *out;      /* the apps' output, "NODE| line" to app_out */
    char line[256]; /* a line of it being gathered */
    size_t line_len;
    struct tw_replay_peers *peers; /* `replay: FILE`, or NULL */
} sc_node_rt;

/* A failure of one class; the first one is kept, it explains the rest. */
typedef struct sc_failure {
    bool set;
    tw_ns at;
    char msg[1024];
} sc_failure;

struct sc_runner {
    const tw_scenario *sc; /* the schedule run (swarm draws included) */
    tw_sim *sim;
    const tw_scenario_run_opts *opts;
    sc_node_rt *nodes;
    int *ids; /* each timeline entry's fault id in the world */
    sc_failure crash, correctness, liveness;
    bool broken; /* the world failed (a livelock): it runs no more */
    tw_ns next_check;
    bool quiet; /* in the quiet phase */
    bool stopped; /* opts->stop said so: the run ends as it is */
    tw_ns converged;
    int64_t history_ops; /* ops the history check looked at; -1: none ran */
};

/* Record a failure of class v ("node: what"), printf-style. */
__attribute__((format(printf, 3, 4)))
void sc_runner_fail(sc_runner *r, tw_scenario_verdict v, const char *fmt, ...);
/* The same for what happened at `when`, found out later (a history
 * checked at the end names the moment it went wrong). */
__attribute__((format(printf, 4, 5)))
void sc_runner_fail_at(sc_runner *r, tw_scenario_verdict v, tw_ns when, const char *fmt, ...);
/* True once the run should stop (a crash or a correctness failure, the
 * caller's stop, or a world that failed). */
bool sc_runner_stopped(const sc_runner *r);

/* oracle.c */
int sc_oracles_setup(sc_runner *r);     /* the world's limits: 0 or error */
void sc_check_node_bytes(sc_runner *r); /* at a check point */
/* The world returned err (< 0): a livelock is liveness, anything else a
 * crash; either way it runs no more. */
void sc_world_failed(sc_runner *r, int err);
/* The apps' history is linearizable (expect: linearizable). */
void sc_check_history(sc_runner *r);

/* nodes.c */
int sc_nodes_setup(sc_runner *r);   /* nodes, hooks, output, contract */
void sc_nodes_fini(sc_runner *r);
void sc_check_invariants(sc_runner *r);
/* True if every app the quiet phase waits for is done. */
bool sc_goals_met(sc_runner *r, char *who, size_t len);
void sc_check_exits(sc_runner *r);
/* The `replay:` nodes' writes against their recordings (nodes.c). */
void sc_check_replays(sc_runner *r);

#endif
