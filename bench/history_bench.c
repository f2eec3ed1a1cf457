/* bench/history_bench.c - the linearizability checker (twin/history.h)
 * on long histories: the time tw_history_check takes.
 *
 *   history_bench --keys K --ops N --processes P [--seed S] [--lose]
 *
 * Builds a history of N operations on each of K keys (puts of unique
 * values and gets, half each), P processes per key with one operation
 * in flight each, every operation overlapping others: each takes effect
 * at a random instant between its invocation and its completion, and a
 * get returns what the key held at that instant, so the history is
 * linearizable. With --lose one get of each key, past the middle, reads
 * the value of 63 puts before (what a lost acknowledged write looks
 * like), so none is. Prints one JSON
 * line: the verdict, the ops, and the wall time of the check.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "twin/history.h"
#include "twin/mix.h"

typedef struct op {
    uint64_t inv, lin, ret; /* ns */
    uint32_t process;
    bool put;
    int value;  /* put: the value written; get: the value read (-1: nil) */
    int64_t id;
} op;

typedef struct ev {
    uint64_t t;
    op *o;
    bool complete;
} ev;

static uint64_t rng;
static uint64_t draw(uint64_t below) { return (rng = tw_mix64(rng + 1)) % below; }

static int by_lin(const void *a, const void *b)
{
    const op *x = a, *y = b;
    return x->lin < y->lin ? -1 : x->lin > y->lin;
}

static int by_time(const void *a, const void *b)
{
    const ev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (int)x->complete - (int)y->complete; /* invocations first */
}

int main(int argc, char **argv)
{
    long keys = 1, n = 10000, procs = 8;
    bool lose = false;
    rng = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keys") && i + 1 < argc)
            keys = atol(argv[++i]);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--processes") && i + 1 < argc)
            procs = atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            rng = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--lose"))
            lose = true;
        else {
            fprintf(stderr, "usage: %s [--keys K] [--ops N] [--processes P] "
                            "[--seed S] [--lose]\n", argv[0]);
            return 2;
        }
    }
    if (keys < 1 || n < 2 || procs < 1 || keys * n > TW_HISTORY_OPS_MAX) {
        fprintf(stderr, "history_bench: keys x ops must be within 1..%d\n",
                TW_HISTORY_OPS_MAX);
        return 2;
    }
    tw_history *h = tw_history_new();
    op *ops = calloc((size_t)(keys * n), sizeof *ops);
    ev *evs = calloc((size_t)(keys * n) * 2, sizeof *evs);
    if (!h || !ops || !evs)
        return 1;
    size_t ne = 0;
    for (long k = 0; k < keys; k++) {
        op *ko = ops + k * n;
        /* each process runs its ops back to back */
        uint64_t *t = calloc((size_t)procs, sizeof *t);
        for (long i = 0; i < n; i++) {
            uint32_t p = (uint32_t)(i % procs);
            op *o = &ko[i];
            o->process = (uint32_t)(k * procs + p);
            o->inv = t[p] + 1 + draw(1000);
            o->lin = o->inv + 1 + draw(5000);
            o->ret = o->lin + 1 + draw(5000);
            t[p] = o->ret;
            o->put = draw(2) == 0;
            o->value = o->put ? (int)i : -1;
        }
        free(t);
        /* the key's value at each op's instant */
        qsort(ko, (size_t)n, sizeof *ko, by_lin);
        int cur = -1;
        long puts = 0, stale_at = -1;
        int *recent = calloc(64, sizeof *recent); /* the last 64 values put */
        for (long i = 0; i < n; i++) {
            op *o = &ko[i];
            if (o->put) {
                cur = o->value;
                recent[puts++ % 64] = cur;
            } else if (lose && stale_at < 0 && i > n / 2 && puts > 64) {
                /* a read of a value overwritten 63 puts ago: an
                 * acknowledged write lost, as a restart can lose one */
                o->value = recent[puts % 64];
                stale_at = i;
            } else {
                o->value = cur;
            }
        }
        free(recent);
        for (long i = 0; i < n; i++) {
            evs[ne++] = (ev){ko[i].inv, &ko[i], false};
            evs[ne++] = (ev){ko[i].ret, &ko[i], true};
        }
    }
    qsort(evs, ne, sizeof *evs, by_time);
    char key[32], val[32];
    for (size_t i = 0; i < ne; i++) {
        op *o = evs[i].o;
        long k = (long)(o - ops) / n;
        snprintf(key, sizeof key, "k%ld", k);
        if (!evs[i].complete) {
            int len = o->put ? snprintf(val, sizeof val, "v%d", o->value) : 0;
            o->id = tw_history_add_invoke(h, evs[i].t, o->process,
                                          o->put ? TW_HISTORY_PUT : TW_HISTORY_GET,
                                          key, o->put ? val : NULL, (size_t)len);
            if (o->id <= 0)
                return 1;
        } else if (o->put || o->value < 0) {
            tw_history_add_complete(h, o->id, evs[i].t, TW_HISTORY_OK, NULL, 0);
        } else {
            int len = snprintf(val, sizeof val, "v%d", o->value);
            tw_history_add_complete(h, o->id, evs[i].t, TW_HISTORY_OK, val, (size_t)len);
        }
    }
    struct timespec a, b;
    tw_history_verdict v;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = tw_history_check(h, NULL, &v);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("{\"keys\": %ld, \"ops\": %zu, \"processes\": %ld, \"verdict\": %d, "
           "\"check_s\": %.6f, \"ops_per_s\": %.0f}\n",
           keys, v.ops, procs, rc, s, s > 0 ? (double)v.ops / s : 0.0);
    tw_history_free(h);
    free(ops);
    free(evs);
    /* what was asked must be what came: linearizable unless --lose */
    return rc == (lose ? 0 : 1) ? 0 : 1;
}
