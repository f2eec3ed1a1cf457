/* scenario/internal.h - the scenario model, shared by the files of scenario/.
 *
 * Map:
 *   the model   nodes and their apps, the network, per-path overrides,
 *               faults, the quiet phase, expectations, swarm limits
 *   the files   who does what:
 *                 yaml.c      libyaml documents: positions, typed scalars,
 *                             mappings with known keys, errors
 *                 load.c      the file's sections into the model
 *                 appcheck.c  the apps' arguments, checked at load
 *                 netparse.c  network settings (default and per path)
 *                 timeline.c  faults: parsing, describing (the kinds
 *                             are the simulator's: twin/simfault.h)
 *                 model.c     copy, free, queries, describe
 *                 run.c       one seed: the world, the drive, the verdict
 *                 nodes.c     apps on nodes: start, stop, output, checks
 *                 oracle.c    the runner's own oracles: the world's
 *                             limits, buffered bytes, livelocks
 *                 swarm.c     the swarm section; faults drawn from the seed
 *                 write.c     a model back to YAML
 *                 shrink.c    delta debugging of a failure
 *                 determ.c    two runs, record by record
 *
 * A model is plain data: arrays owned by the scenario, node references
 * as indices, times in ns, zero meaning "the simulator's default" in the
 * network settings (as in tw_sim_path_opts).
 */
#ifndef TWIN_SCENARIO_INTERNAL_H
#define TWIN_SCENARIO_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin/app.h"
#include "twin/history.h"
#include "twin/scenario.h"
#include "twin/sim.h"

/* Limits: every list has one, so a hostile file cannot ask for much. */
#define SC_NODES_MAX 256
#define SC_APPS_MAX 8      /* per node */
#define SC_ARGS_MAX 64     /* per app */
#define SC_FAULTS_MAX 4096
#define SC_PATHS_MAX 4096
#define SC_STR_MAX 256     /* any string value */
#define SC_NAME_MAX 32     /* node names, as the simulator's */
#define SC_TIME_MAX (TW_SEC(86400) * 365) /* a year of virtual time */

typedef struct sc_pos {
    int line, col; /* 1-based; 0: not from a file */
} sc_pos;

typedef struct sc_app {
    const tw_app *app;
    int argc;
    char **argv; /* argv[0] is the app's name; all owned */
    sc_pos pos;
} sc_app;

/* Expected exit status of a node's apps. */
#define SC_EXIT_ANY (-1)

typedef struct sc_node {
    char name[SC_NAME_MAX];
    char addr[48];
    sc_app *apps;
    int napps;
    int expect_exit; /* SC_EXIT_ANY or 0..255 */
    /* `replay: FILE`: the node's peers are played from this recording
     * (twin/replay.h) against its one app; "" none. */
    char replay[SC_STR_MAX];
    bool exit_given; /* listed in expect.exit */
    sc_pos pos;
} sc_node;

/* One timeline entry: the simulator's fault (twin/simfault.h: its kind,
 * nodes as indices here, which are the world's node ids) and when. */
typedef struct sc_fault {
    tw_sim_fault f;
    tw_ns at;
    bool drawn;       /* by swarm */
    sc_pos pos;
} sc_fault;

typedef struct sc_path {
    int from, to;
    tw_sim_path_opts opts; /* the network's, with this path's on top */
    sc_pos pos;
} sc_path;

/* The swarm section: the simulator's spec (twin/simfault.h), with the
 * arrays it points into. */
typedef struct sc_swarm {
    bool on;                  /* the file has a swarm section */
    tw_sim_swarm_spec spec;   /* its nodes and program NULL: the draw
                                 points them at the arrays below */
    int nodes[SC_NODES_MAX];  /* eligible targets; spec.nnodes 0: every node */
    char program[64];         /* what kill hits */
} sc_swarm;

/* The runner's own oracles (expect:, scenario/oracle.c), for mistakes
 * any protocol can make; 0 turns one off. */
typedef struct sc_oracles {
    uint64_t write_buffer_max;      /* bytes, any transport */
    uint32_t write_buffer_over_high; /* after pause_writing, in high marks */
    uint32_t connects_per_sec_max;  /* per node */
    uint32_t connections_max;       /* per node */
    uint64_t node_bytes_max;        /* buffered for writing, per node */
    uint64_t livelock_callbacks;    /* per node, while time stays put */
    bool linearizable;              /* the apps' history (twin/history.h) */
    uint32_t history_ops_max;       /* ops it may hold */
} sc_oracles;

#define SC_ORACLES_DEFAULT                                                   \
    ((sc_oracles){                                                           \
        .write_buffer_max = UINT64_C(64) << 20,                              \
        .write_buffer_over_high = 64,                                        \
        .connects_per_sec_max = 1000,                                        \
        .connections_max = 10000,                                            \
        .node_bytes_max = UINT64_C(256) << 20,                               \
        .livelock_callbacks = 1000000,                                       \
        .history_ops_max = TW_HISTORY_OPS_MAX,                               \
    })

/* World-wide settings besides the default path. */
typedef struct sc_world {
    tw_sim_path_opts net; /* zero fields: the simulator's defaults */
    tw_ns stall_timeout, connect_timeout;
    uint32_t chunk_max, segment_max;
    double chunk_split; /* -1: not set */
    bool buggify;
} sc_world;

struct tw_scenario {
    char *path;
    char name[64];
    tw_ns duration;
    tw_ns check_every;
    sc_world world;
    sc_node *nodes;
    int nnodes;
    sc_path *paths;
    int npaths;
    sc_fault *faults;
    int nfaults;
    /* quiet phase */
    tw_ns quiet;   /* its bound; 0: none */
    bool until_all;
    int until[SC_NODES_MAX];
    int nuntil;
    /* expectations */
    bool expect_contract, expect_invariants, expect_no_stuck;
    /* the checker also watches the protocols' own calls (strict mode,
     * twin/loop.h); `contract: basic` turns it off */
    bool contract_strict;
    tw_ns stuck_after;
    sc_oracles oracles;
    sc_swarm swarm;
};

/* ---- model.c ---- */
tw_scenario *sc_new(void);
tw_scenario *sc_copy(const tw_scenario *sc);
int sc_add_fault(tw_scenario *sc, const sc_fault *f); /* 0 or -ENOMEM/-E2BIG */
/* Make the fault phase `duration` long (`twin demo --seconds`): a swarm
 * window that ended with the phase still does, one that ends after the
 * new end is cut there. -EINVAL if a fault of the timeline or the
 * window's start falls after the new end (nothing changed then). */
int sc_set_duration(tw_scenario *sc, tw_ns duration);
int sc_node_index(const tw_scenario *sc, const char *name); /* -1: none */
/* "512 bytes", "64 KiB", "9.1 MiB" (powers of 1024); returns buf. */
char *sc_format_bytes(uint64_t n, char *buf, size_t len);

/* ---- timeline.c ---- */
/* A kind's name in files ("partition"), "?" for none. */
const char *sc_kind_name(tw_sim_fault_kind k);
/* "partition client<->server at 2s for 1s" */
char *sc_fault_describe(const tw_scenario *sc, const sc_fault *f, char *buf,
                        size_t len);
/* The signal of a name ("KILL", "SIGTERM", "9"), -1 if none. */
int sc_signal_parse(const char *s);
const char *sc_signal_name(int sig);

/* A datagram fault's probabilities by their timeline keys. */
#define SC_DGRAM_PROBS 5
typedef struct sc_dgram_prob {
    const char *key;
    size_t off; /* in tw_sim_dgram_opts */
} sc_dgram_prob;
extern const sc_dgram_prob sc_dgram_probs[SC_DGRAM_PROBS];
static inline double *sc_dgram_prob_of(tw_sim_dgram_opts *o, size_t i)
{
    return (double *)((char *)o + sc_dgram_probs[i].off);
}

/* ---- swarm.c ---- */
/* Append what the swarm draws for seed to sc's timeline (marked drawn). */
int sc_swarm_draw(tw_scenario *sc, uint64_t seed);

/* ---- run.c ---- */
/* Run with an extra trace sink (determ.c); see tw_scenario_run. */
int sc_run(const tw_scenario *sc, uint64_t seed,
           const tw_scenario_run_opts *opts, tw_scenario_result *res);

/* ---- write.c ---- */
void sc_write_prob(FILE *f, double p);

#endif
