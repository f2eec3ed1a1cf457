/* cli/report.c - `twin report FILE...`: the JSON lines of sharded sweeps
 * (`twin sim FILE --seeds A..B --shard I/N --json > shardI.jsonl`) merged
 * into one summary.
 *
 * Map: one line (libyaml reads JSON: a line is a flow mapping); the
 * tally; the summary; the command.
 *
 * The summary: seeds and verdict counts; every failing seed with its
 * message and replay command, in seed order; and the file's faults (not
 * the swarm's draws, which differ per seed) that took effect in no seed
 * of any shard: an inert fault makes a green sweep a lie. A seed met
 * twice (overlapping shards) is counted once and said so. Exit status:
 * the worst verdict, as a sweep's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cli/cli.h"

#define REPORT_SEEDS_MAX (1u << 24)
#define REPORT_FAULTS_MAX 4096
#define REPORT_LINE_MAX (1u << 20)

typedef struct seed_row {
    uint64_t seed;
    tw_scenario_verdict verdict;
    char *message, *replay;
} seed_row;

typedef struct fault_row {
    char *what; /* the file's fault #index, as described */
    uint64_t took;   /* seeds in which it took effect */
    uint64_t seen;
    uint64_t reached; /* seeds that ran until its time (a line without
                         at_ns, from an older twin, counts as one) */
} fault_row;

typedef struct tally {
    seed_row *seeds;
    size_t nseeds, cap;
    fault_row faults[REPORT_FAULTS_MAX];
    size_t nfaults;
    uint64_t duplicates;
} tally;

/* ---- one line ---- */

static const char *scalar(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        yaml_node_t *v = yaml_document_get_node(d, p->value);
        if (k && v && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
    }
    return NULL;
}

static yaml_node_t *child(yaml_document_t *d, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(d, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, p->value);
    }
    return NULL;
}

static int verdict_of(const char *name)
{
    for (int v = TW_SCENARIO_PASS; v <= TW_SCENARIO_TIMEOUT; v++)
        if (name && strcmp(tw_scenario_verdict_name((tw_scenario_verdict)v), name) == 0)
            return v;
    return -1;
}

static void faults_of(tally *t, yaml_document_t *d, yaml_node_t *list,
                      const char *end_ns)
{
    if (!list || list->type != YAML_SEQUENCE_NODE)
        return;
    for (yaml_node_item_t *i = list->data.sequence.items.start;
         i < list->data.sequence.items.top; i++) {
        yaml_node_t *f = yaml_document_get_node(d, *i);
        if (!f || f->type != YAML_MAPPING_NODE)
            continue;
        const char *drawn = scalar(d, f, "drawn"), *idx = scalar(d, f, "index");
        const char *what = scalar(d, f, "what"), *eff = scalar(d, f, "effect");
        if (!idx || !what || !eff || (drawn && strcmp(drawn, "true") == 0))
            continue;
        size_t k = strtoull(idx, NULL, 10);
        if (k >= REPORT_FAULTS_MAX)
            continue;
        fault_row *r = &t->faults[k];
        if (!r->what)
            r->what = strdup(what);
        r->seen++;
        bool took = strtoull(eff, NULL, 10) > 0;
        const char *at = scalar(d, f, "at_ns");
        r->took += took;
        r->reached += took || !at || !end_ns ||
                      strtoll(at, NULL, 10) <= strtoll(end_ns, NULL, 10);
        if (k + 1 > t->nfaults)
            t->nfaults = k + 1;
    }
}

/* 0, or -EINVAL for a line that is no sweep's JSON line. */
static int add_line(tally *t, const char *line, size_t len)
{
    yaml_parser_t p;
    yaml_document_t d;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)line, len);
    int rc = -EINVAL;
    if (!yaml_parser_load(&p, &d)) {
        yaml_parser_delete(&p);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&d);
    const char *seed = root && root->type == YAML_MAPPING_NODE ? scalar(&d, root, "seed") : NULL;
    int v = seed ? verdict_of(scalar(&d, root, "verdict")) : -1;
    if (seed && v >= 0) {
        rc = 0;
        uint64_t s = strtoull(seed, NULL, 10);
        if (t->nseeds == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 1024;
            seed_row *n = cap <= REPORT_SEEDS_MAX ? realloc(t->seeds, cap * sizeof *n) : NULL;
            if (!n)
                rc = -ENOMEM;
            else
                t->seeds = n, t->cap = cap;
        }
        if (rc == 0) {
            const char *m = scalar(&d, root, "message"), *r = scalar(&d, root, "replay");
            t->seeds[t->nseeds++] = (seed_row){s, (tw_scenario_verdict)v,
                                               strdup(m ? m : ""), strdup(r ? r : "")};
            faults_of(t, &d, child(&d, root, "faults"), scalar(&d, root, "virtual_ns"));
        }
    }
    yaml_document_delete(&d);
    yaml_parser_delete(&p);
    return rc;
}

static int read_file(tally *t, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s report: cannot read %s: %s\n", cli_name(), path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (n <= 1 || line[0] != '{')
            continue; /* a sweep's summary lines go to stderr; blank lines pass */
        if ((size_t)n > REPORT_LINE_MAX || add_line(t, line, (size_t)n) < 0) {
            fprintf(stderr, "%s report: %s:%d: not a line of `twin sim --seeds ... "
                            "--json`\n", cli_name(), path, lineno);
            rc = -1;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    return rc;
}

/* ---- the summary ---- */

static int by_seed(const void *a, const void *b)
{
    const seed_row *x = a, *y = b;
    return x->seed < y->seed ? -1 : x->seed > y->seed;
}

static int summary(tally *t, int nfiles)
{
    uint64_t by[TW_SCENARIO_TIMEOUT + 1] = {0};
    tw_scenario_verdict worst = TW_SCENARIO_PASS;
    qsort(t->seeds, t->nseeds, sizeof *t->seeds, by_seed);
    size_t kept = 0; /* a seed met twice (overlapping shards) counts once */
    for (size_t i = 0; i < t->nseeds; i++) {
        if (kept && t->seeds[kept - 1].seed == t->seeds[i].seed) {
            t->duplicates++;
            free(t->seeds[i].message);
            free(t->seeds[i].replay);
            continue;
        }
        t->seeds[kept++] = t->seeds[i];
    }
    t->nseeds = kept;
    for (size_t i = 0; i < t->nseeds; i++) {
        by[t->seeds[i].verdict]++;
        worst = tw_scenario_verdict_worst(worst, t->seeds[i].verdict);
    }
    printf("%s report: %d file(s), %zu seeds", cli_name(), nfiles, t->nseeds);
    if (t->nseeds)
        printf(" (%" PRIu64 "..%" PRIu64 ")", t->seeds[0].seed, t->seeds[t->nseeds - 1].seed);
    printf("\n ");
    for (int v = TW_SCENARIO_PASS; v <= TW_SCENARIO_TIMEOUT; v++)
        if (by[v] || v == TW_SCENARIO_PASS)
            printf(" %s %" PRIu64, tw_scenario_verdict_name((tw_scenario_verdict)v), by[v]);
    printf("\n");
    if (t->duplicates)
        printf("  %" PRIu64 " seed(s) met more than once (shards overlap): counted once\n",
               t->duplicates);
    for (size_t i = 0; i < t->nseeds; i++) {
        const seed_row *r = &t->seeds[i];
        if (r->verdict == TW_SCENARIO_PASS)
            continue;
        printf("FAIL seed %" PRIu64 " (%s): %s\n  reproduce with: %s\n", r->seed,
               tw_scenario_verdict_name(r->verdict), r->message, r->replay);
    }
    /* Inert: no effect in any seed that got to its time. One no seed got
     * to (each failed, and stopped, before it) is not called inert. */
    bool inert = false, unreached = false;
    for (size_t k = 0; k < t->nfaults; k++) {
        const fault_row *f = &t->faults[k];
        if (!f->what || f->took || !f->reached)
            continue;
        if (!inert)
            printf("faults that took effect in no seed of any shard:\n");
        inert = true;
        printf("  #%zu %s (in %" PRIu64 " runs that got to it)\n", k, f->what, f->reached);
    }
    for (size_t k = 0; k < t->nfaults; k++) {
        const fault_row *f = &t->faults[k];
        if (!f->what || f->reached)
            continue;
        if (!unreached)
            printf("faults no seed got to (each ended before their time):\n");
        unreached = true;
        printf("  #%zu %s (%" PRIu64 " runs)\n", k, f->what, f->seen);
    }
    return worst;
}

/* ---- the command ---- */

int tw_cli_report(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fprintf(argc < 1 ? stderr : stdout,
                "usage: %s report FILE...   merge the JSON lines of sweeps\n"
                "  (twin sim F --seeds A..B [--shard I/N] --json > FILE; '-': stdin)\n"
                "  into one summary: verdict counts, failing seeds with their replay\n"
                "  commands, the file's faults that never took effect.\n"
                "  Exit: the worst verdict (0 all passed), 2 for a bad file.\n",
                cli_name());
        return argc < 1 ? TW_SCENARIO_USAGE : 0;
    }
    tally *t = calloc(1, sizeof *t);
    if (!t)
        return TW_SCENARIO_CRASH;
    int rc = 0;
    for (int i = 0; i < argc && rc == 0; i++)
        if (read_file(t, argv[i]) < 0)
            rc = TW_SCENARIO_USAGE;
    if (rc == 0 && !t->nseeds) {
        fprintf(stderr, "%s report: no seed in the files given\n", cli_name());
        rc = TW_SCENARIO_USAGE;
    }
    if (rc == 0)
        rc = summary(t, argc);
    for (size_t i = 0; i < t->nseeds; i++) {
        free(t->seeds[i].message);
        free(t->seeds[i].replay);
    }
    for (size_t k = 0; k < t->nfaults; k++)
        free(t->faults[k].what);
    free(t->seeds);
    free(t);
    return rc;
}
