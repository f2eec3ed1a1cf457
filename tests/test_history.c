/* tests/test_history.c - histories of operations and their
 * linearizability check (twin/history.h).
 *
 *   registers: the classic histories, linearizable and not (concurrent
 *       writes read in either order, a stale read after a completed
 *       write, a read that un-sees a value), cas and incr
 *   a process's ops take effect in the order it invoked them (a
 *       pipeline): 2000 of them in flight together are checked at once
 *   expire: a key may vanish within a window, or not at all
 *   unknown ops: one may take effect late or never, but not before its
 *       invocation; failed ops never take effect
 *   maps: keys checked independently; the verdict names the key
 *   a long random history from a real register (10k ops over 4 keys) is
 *       judged linearizable in well under a second; one stale read in it
 *       is found
 *   limits, the JSON-lines form, recording on both backends
 *   a scenario with `expect: {linearizable: true}`: a key-value server
 *       that sometimes answers a read with the value before the last is
 *       a correctness failure naming the key; the correct one passes
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kit/history.h"
#include "tests/cli_util.h"
#include "tests/harness.h"
#include "twin/app.h"
#include "twin/history.h"
#include "twin/mix.h"
#include "twin/parse.h"
#include "twin/scenario.h"
#include "twin/sim.h"
#include "twin/twin.h"

/* ---- building histories ---- */

static int64_t inv(tw_history *h, tw_ns t, uint32_t p, tw_history_f f, const char *key,
                   const char *v)
{
    int64_t id = tw_history_add_invoke(h, t, p, f, key, v, v ? strlen(v) : 0);
    assert_true(id > 0);
    return id;
}

static void ok(tw_history *h, int64_t id, tw_ns t, const char *v)
{
    assert_int_equal(tw_history_add_complete(h, id, t, TW_HISTORY_OK, v, v ? strlen(v) : 0), 0);
}

static void done(tw_history *h, int64_t id, tw_ns t, tw_history_type type)
{
    assert_int_equal(tw_history_add_complete(h, id, t, type, NULL, 0), 0);
}

/* A write of v over [a, b], ok. */
static void w(tw_history *h, uint32_t p, const char *key, const char *v, tw_ns a, tw_ns b)
{
    ok(h, inv(h, a, p, key ? TW_HISTORY_PUT : TW_HISTORY_WRITE, key, v), b, NULL);
}

/* A read that saw v (NULL: nil) over [a, b]. */
static void r(tw_history *h, uint32_t p, const char *key, const char *v, tw_ns a, tw_ns b)
{
    ok(h, inv(h, a, p, key ? TW_HISTORY_GET : TW_HISTORY_READ, key, NULL), b, v);
}

static int check(tw_history *h, tw_history_verdict *v)
{
    int rc = tw_history_check(h, NULL, v);
    if (rc == 0)
        print_message("    %s\n", v->message);
    return rc;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- registers ---- */

static void test_register_sequential_and_stale(void **state)
{
    (void)state;
    tw_history *h = tw_history_new();
    tw_history_verdict v;
    r(h, 0, NULL, NULL, 0, 5); /* nothing written yet: nil */
    w(h, 0, NULL, "1", 10, 20);
    r(h, 1, NULL, "1", 30, 40);
    w(h, 0, NULL, "2", 50, 60);
    r(h, 1, NULL, "2", 70, 80);
    assert_int_equal(check(h, &v), 1);
    assert_int_equal(v.ops, 5);
    assert_int_equal(v.at_ns, -1);
    r(h, 2, NULL, "1", 90, 100); /* stale: 2 was acknowledged before it began */
    assert_int_equal(check(h, &v), 0);
    assert_int_equal(v.at_ns, 100); /* the stale read's return: where it went wrong */
    assert_non_null(strstr(v.message, "op 6 (process 2 read -> \"1\""));
    assert_non_null(strstr(v.message, "where the key holds \"2\""));
    /* and where the stale value came from */
    assert_non_null(strstr(v.message, "; it read the value of op 2 (process 0 write \"1\", 10ns..20ns)"));
    tw_history_free(h);
}

/* The longest order is found on a branch tried after an undo: the
 * message names that order's ops, none of the branch undone. Writes of 1
 * and 2 overlap; reads after both see 1, so 2 went first, but the search
 * tries 1 first, and is stopped after two ops; then 2, 1 and two reads,
 * until a read of 9 that nothing wrote. */
static void test_violation_names_the_longest_order(void **state)
{
    (void)state;
    tw_history *h = tw_history_new();
    tw_history_verdict v;
    w(h, 0, NULL, "1", 0, 10);
    w(h, 1, NULL, "2", 1, 11);
    r(h, 0, NULL, "1", 20, 21);
    r(h, 0, NULL, "1", 22, 23);
    r(h, 0, NULL, "9", 24, 25);
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 5 (process 0 read -> \"9\""));
    assert_non_null(strstr(v.message, "; no write that may have taken effect wrote the value it read"));
    const char *order = strstr(v.message, "order found (4 ops");
    assert_non_null(order);
    const char *two = strstr(order, "write \"2\""), *one = strstr(order, "write \"1\"");
    assert_non_null(two);
    assert_non_null(one);
    assert_true(two < one); /* 2, then 1: the order that went furthest */
    assert_non_null(strstr(v.message, "where the key holds \"1\""));
    tw_history_free(h);
}

/* Porcupine's two register examples: a write overlapping two reads. */
static void test_register_concurrent_reads(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 9, NULL, "0", 0, 1);
    w(h, 0, NULL, "100", 10, 100);
    r(h, 1, NULL, "100", 25, 75);
    r(h, 2, NULL, "0", 30, 60); /* before the write took effect */
    assert_int_equal(check(h, &v), 1);
    tw_history_free(h);

    h = tw_history_new();
    w(h, 9, NULL, "0", 0, 1);
    w(h, 0, NULL, "200", 10, 100);
    r(h, 1, NULL, "200", 10, 30);
    r(h, 2, NULL, "0", 40, 90); /* 200 was seen and done with: no going back */
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 4 (process 2 read -> \"0\", 40ns..90ns)"));
    assert_non_null(strstr(v.message, "cannot take effect"));
    tw_history_free(h);
}

/* Two concurrent writes may land in either order, but one order for all. */
static void test_register_concurrent_writes(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, NULL, "a", 0, 100);
    w(h, 1, NULL, "b", 10, 90);
    r(h, 2, NULL, "a", 110, 120); /* b, then a */
    r(h, 3, NULL, "a", 130, 140);
    assert_int_equal(check(h, &v), 1);
    tw_history_free(h);

    h = tw_history_new();
    w(h, 0, NULL, "a", 0, 100);
    w(h, 1, NULL, "b", 10, 90);
    r(h, 2, NULL, "a", 20, 40);  /* a first ... */
    r(h, 3, NULL, "b", 50, 60);  /* ... then b ... */
    r(h, 2, NULL, "a", 110, 120); /* ... then a again: no write left to do it */
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 5"));
    tw_history_free(h);
}

static void test_register_cas(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, NULL, "1", 0, 10);
    ok(h, tw_history_add_cas(h, 20, 1, NULL, "1", 1, "2", 1), 30, NULL);
    r(h, 0, NULL, "2", 40, 50);
    /* a cas from nil to x over the same time as a write: one order works */
    assert_int_equal(check(h, &v), 1);
    ok(h, tw_history_add_cas(h, 60, 2, NULL, "1", 1, "3", 1), 70, NULL); /* 1 is gone */
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 4 (process 2 cas \"1\"->\"3\""));
    tw_history_free(h);
}

/* incr: nil counts as 0; each reply one more than the value before. */
static void test_incr(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    ok(h, inv(h, 0, 0, TW_HISTORY_INCR, "n", NULL), 10, "1");
    ok(h, inv(h, 5, 1, TW_HISTORY_INCR, "n", NULL), 15, "2");
    int64_t lost = inv(h, 20, 0, TW_HISTORY_INCR, "n", NULL);
    done(h, lost, 30, TW_HISTORY_INFO);
    ok(h, inv(h, 40, 1, TW_HISTORY_INCR, "n", NULL), 50, "4"); /* the lost one ran */
    assert_int_equal(check(h, &v), 1);
    ok(h, inv(h, 60, 1, TW_HISTORY_INCR, "n", NULL), 70, "4"); /* counted twice */
    assert_int_equal(check(h, &v), 0);
    assert_string_equal(v.key, "n");
    tw_history_free(h);
}

/* expire: the key may vanish within the op's span, or not at all */
static void test_expire_window(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, "k", "1", 0, 10);
    int64_t ttl = inv(h, 0, 0, TW_HISTORY_EXPIRE, "k", NULL);
    r(h, 1, "k", "1", 20, 30);
    r(h, 1, "k", NULL, 40, 50); /* it expired */
    w(h, 0, "k", "2", 60, 70);
    ok(h, ttl, 70, NULL); /* the write cleared the time to live */
    r(h, 1, "k", "2", 80, 90);
    assert_int_equal(check(h, &v), 1);
    tw_history_free(h);

    h = tw_history_new(); /* or it did not expire at all */
    w(h, 0, "k", "1", 0, 10);
    ttl = inv(h, 0, 0, TW_HISTORY_EXPIRE, "k", NULL);
    r(h, 1, "k", "1", 20, 30);
    w(h, 0, "k", "2", 60, 70);
    ok(h, ttl, 70, NULL);
    r(h, 1, "k", "2", 80, 90);
    assert_int_equal(check(h, &v), 1);
    r(h, 1, "k", NULL, 100, 110); /* past its window: nothing can remove 2 */
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 6 (process 1 get -> nil, 100ns..110ns)"));
    tw_history_free(h);
}

/* A process's ops take effect in the order it invoked them, even when
 * they overlap (a pipeline on one connection). */
static void test_process_order(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 5, NULL, "1", 0, 100);
    w(h, 5, NULL, "2", 10, 100);
    r(h, 6, NULL, "1", 200, 210);
    assert_int_equal(check(h, &v), 0); /* 2 came after 1 */
    tw_history_free(h);
    h = tw_history_new();
    w(h, 5, NULL, "1", 0, 100);
    w(h, 7, NULL, "2", 10, 100);
    r(h, 6, NULL, "1", 200, 210);
    assert_int_equal(check(h, &v), 1); /* two processes: either order */
    tw_history_free(h);

    /* 2000 pipelined ops of one process, all in flight together: in
     * order, the search is a straight line */
    h = tw_history_new();
    char val[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(val, sizeof val, "v%d", i);
        w(h, 1, "k", val, 0, 1000);
        r(h, 1, "k", val, 0, 1000);
    }
    /* a straight line: a memo state an op, well within 3 an op */
    tw_history_check_opts line = {.states_max = 3 * 2000};
    assert_int_equal(tw_history_check(h, &line, &v), 1);
    r(h, 1, "k", "v3", 0, 1000); /* last in the pipeline, it saw an old value */
    assert_int_equal(tw_history_check(h, &line, &v), 0);
    tw_history_free(h);
}

/* ---- unknown and failed ops ---- */

static void test_unknown_write_late_or_never(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, NULL, "1", 0, 10);
    done(h, inv(h, 20, 1, TW_HISTORY_WRITE, NULL, "2"), 30, TW_HISTORY_INFO);
    r(h, 0, NULL, "1", 40, 50);  /* not yet */
    r(h, 2, NULL, "2", 60, 70);  /* it landed long after its timeout */
    assert_int_equal(check(h, &v), 1);
    tw_history_free(h);

    h = tw_history_new(); /* never took effect at all */
    w(h, 0, NULL, "1", 0, 10);
    inv(h, 20, 1, TW_HISTORY_WRITE, NULL, "2"); /* still pending at the end */
    r(h, 0, NULL, "1", 40, 50);
    assert_int_equal(check(h, &v), 1);
    tw_history_free(h);
}

static void test_unknown_write_not_before_invoke_nor_undone(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    r(h, 0, NULL, "2", 0, 10); /* seen before anyone asked to write it */
    done(h, inv(h, 20, 1, TW_HISTORY_WRITE, NULL, "2"), 30, TW_HISTORY_INFO);
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 1 (process 0 read -> \"2\""));
    tw_history_free(h);

    h = tw_history_new(); /* once seen, it happened: it cannot un-happen */
    w(h, 0, NULL, "1", 0, 10);
    done(h, inv(h, 20, 1, TW_HISTORY_WRITE, NULL, "2"), 30, TW_HISTORY_INFO);
    r(h, 0, NULL, "2", 40, 50);
    r(h, 2, NULL, "1", 60, 70);
    assert_int_equal(check(h, &v), 0);
    assert_non_null(strstr(v.message, "op 4"));
    tw_history_free(h);
}

static void test_failed_write_never_happened(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, NULL, "1", 0, 10);
    done(h, inv(h, 20, 1, TW_HISTORY_WRITE, NULL, "2"), 30, TW_HISTORY_FAIL);
    done(h, inv(h, 35, 1, TW_HISTORY_READ, NULL, NULL), 38, TW_HISTORY_INFO);
    r(h, 0, NULL, "1", 40, 50);
    assert_int_equal(check(h, &v), 1);
    assert_int_equal(v.ops, 2); /* the failed write and the unknown read left out */
    r(h, 0, NULL, "2", 60, 70);
    assert_int_equal(check(h, &v), 0);
    tw_history_free(h);
}

/* ---- maps ---- */

static void test_map_keys_are_independent(void **state)
{
    (void)state;
    tw_history_verdict v;
    tw_history *h = tw_history_new();
    w(h, 0, "a", "1", 0, 10);
    w(h, 1, "b", "x", 5, 15);
    r(h, 0, "a", "1", 20, 30);
    r(h, 1, "b", "x", 20, 30);
    ok(h, inv(h, 40, 0, TW_HISTORY_DEL, "a", NULL), 50, NULL);
    r(h, 0, "a", NULL, 60, 70);
    w(h, 1, "b", "y", 60, 70);
    assert_int_equal(check(h, &v), 1);
    assert_int_equal(v.keys, 2);
    r(h, 2, "b", "x", 80, 90); /* stale on b only */
    r(h, 2, "a", NULL, 80, 90);
    assert_int_equal(check(h, &v), 0);
    assert_string_equal(v.key, "b");
    assert_non_null(strstr(v.message, "key \"b\" is not linearizable: op 8 (process 2 "
                                      "get -> \"x\", 80ns..90ns)"));
    tw_history_free(h);
}

/* ---- a long random history from a real register ---- */

typedef struct sim_proc {
    int64_t id;
    int stage; /* 0 idle, 1 invoked, 2 applied */
    tw_history_f f;
    char key[8];
    char val[24];
    bool lose; /* ends as info */
} sim_proc;

/* n ops by `procs` processes over `keys` keys: each op invoked, applied to
 * the real map at one instant later, completed later still; a tenth of
 * the writes are lost (info), half of those before they applied. */
static tw_history *random_history(size_t n, int procs, int keys, uint64_t seed)
{
    tw_history *h = tw_history_new();
    char store[16][24];
    bool set[16] = {0};
    sim_proc p[16] = {{0}};
    size_t started = 0, busy = 0;
    tw_ns t = 0;
    for (uint64_t i = 0; started < n || busy; i++) {
        uint64_t x = tw_mix64(seed * 7919 + i);
        sim_proc *q = &p[x % (uint64_t)procs];
        t += 1 + (tw_ns)((x >> 8) % 3);
        if (q->stage == 0) {
            if (started == n)
                continue;
            int k = (int)((x >> 16) % (uint64_t)keys);
            snprintf(q->key, sizeof q->key, "k%d", k);
            q->f = (x >> 24) % 2 ? TW_HISTORY_PUT : TW_HISTORY_GET;
            snprintf(q->val, sizeof q->val, "v%zu", started);
            q->lose = q->f == TW_HISTORY_PUT && (x >> 32) % 10 == 0;
            q->id = inv(h, t, (uint32_t)(q - p), q->f, q->key,
                        q->f == TW_HISTORY_PUT ? q->val : NULL);
            q->stage = 1;
            started++, busy++;
        } else if (q->stage == 1) {
            int k = q->key[1] - '0';
            if (q->lose && (x >> 40) % 2)
                q->stage = 2; /* lost before it landed: never applies */
            else if (q->f == TW_HISTORY_PUT) {
                snprintf(store[k], sizeof store[k], "%s", q->val);
                set[k] = true;
            } else {
                snprintf(q->val, sizeof q->val, "%s", set[k] ? store[k] : "");
                q->lose = !set[k]; /* (reused: the read saw nil) */
            }
            q->stage = 2;
        } else {
            if (q->f == TW_HISTORY_PUT && q->lose)
                done(h, q->id, t, TW_HISTORY_INFO);
            else if (q->f == TW_HISTORY_PUT)
                ok(h, q->id, t, NULL);
            else
                ok(h, q->id, t, q->lose ? NULL : q->val);
            q->stage = 0;
            busy--;
        }
    }
    return h;
}

static void test_long_random_history(void **state)
{
    (void)state;
    tw_history *h = random_history(10000, 6, 4, 42);
    assert_int_equal(tw_history_count(h), 10000);
    tw_history_verdict v;
    double t0 = seconds();
    int rc = tw_history_check(h, NULL, &v);
    double took = seconds() - t0;
    print_message("    10000 ops over %zu keys checked in %.3f s\n", v.keys, took);
    assert_int_equal(rc, 1);
    assert_int_equal(v.keys, 4);

    /* one read in the middle made to see a value from its future: the
     * value of a write of its key invoked after the read completed */
    tw_history_rec *rd = NULL, *later = NULL;
    for (size_t i = 5000; i < h->n && !rd; i++)
        if (h->ops[i].f == TW_HISTORY_GET && h->ops[i].type == TW_HISTORY_OK)
            rd = &h->ops[i];
    for (size_t i = 0; rd && i < h->n && !later; i++)
        if (h->ops[i].f == TW_HISTORY_PUT && h->ops[i].invoked > rd->done &&
            strcmp(h->ops[i].key, rd->key) == 0)
            later = &h->ops[i];
    assert_non_null(later);
    free(rd->out);
    rd->out = strdup(later->value);
    rd->out_len = later->value_len;
    rd->out_nil = false;
    t0 = seconds();
    rc = tw_history_check(h, NULL, &v);
    took = seconds() - t0;
    print_message("    with one read from the future: found in %.3f s\n", took);
    assert_int_equal(rc, 0);
    assert_string_equal(v.key, rd->key);
    char want[64];
    snprintf(want, sizeof want, "get -> \"%s\"", later->value);
    assert_non_null(strstr(v.message, want));
    tw_history_free(h);
}

/* One key's long history, eight processes at once, within 32 MiB of
 * memo: each state keeps the set of ops placed in a few words, not a bit
 * per op of the key (2.5 KB a state at 20,000 ops: it took 512 MiB). */
static void test_long_key_history_in_bounded_memory(void **state)
{
    (void)state;
    tw_history *h = random_history(20000, 8, 1, 7);
    tw_history_check_opts o = {.bytes_max = UINT64_C(32) << 20};
    tw_history_verdict v;
    assert_int_equal(tw_history_check(h, &o, &v), 1);
    assert_int_equal(v.keys, 1);
    assert_true(v.ops > 15000); /* (lost puts that nobody saw are left out) */
    tw_history_free(h);
}

/* ---- limits, the JSON-lines form, recording on both backends ---- */

static void test_limits(void **state)
{
    (void)state;
    tw_history *h = tw_history_new();
    assert_int_equal(tw_history_set_ops_max(h, 0), -EINVAL);
    assert_int_equal(tw_history_set_ops_max(h, 2), 0);
    w(h, 0, NULL, "1", 0, 1);
    w(h, 0, NULL, "2", 2, 3);
    assert_int_equal(tw_history_add_invoke(h, 4, 0, TW_HISTORY_WRITE, NULL, "3", 1), -ENOBUFS);
    assert_int_equal(tw_history_set_ops_max(h, 1), -EBUSY);
    tw_history_verdict v;
    assert_int_equal(tw_history_check(h, NULL, &v), -ENOBUFS);
    assert_non_null(strstr(v.message, "overflowed"));
    static char big[TW_HISTORY_VALUE_MAX + 1];
    assert_int_equal(tw_history_add_invoke(h, 4, 0, TW_HISTORY_WRITE, NULL, big, sizeof big),
                     -EINVAL);
    assert_int_equal(tw_history_add_complete(h, 1, 5, TW_HISTORY_OK, NULL, 0), -ENOENT);
    assert_int_equal(tw_history_add_complete(h, 7, 5, TW_HISTORY_OK, NULL, 0), -ENOENT);
    tw_history_free(h);
}

static void test_jsonl(void **state)
{
    (void)state;
    tw_history *h = tw_history_new();
    int64_t a = inv(h, 10, 1, TW_HISTORY_PUT, "k\"1", "x\ny");
    int64_t b = inv(h, 12, 2, TW_HISTORY_GET, "k\"1", NULL);
    ok(h, b, 15, NULL);
    ok(h, a, 20, NULL);
    tw_history_add_cas(h, 30, 3, NULL, NULL, 0, "z", 1); /* pending at the end */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tw_history_write_jsonl(h, f, 99), 0);
    fclose(f);
    assert_string_equal(buf,
        "{\"index\":0,\"op\":1,\"process\":1,\"type\":\"invoke\",\"f\":\"put\","
        "\"key\":\"k\\\"1\",\"value\":\"x\\u000ay\",\"time\":10}\n"
        "{\"index\":1,\"op\":2,\"process\":2,\"type\":\"invoke\",\"f\":\"get\","
        "\"key\":\"k\\\"1\",\"value\":null,\"time\":12}\n"
        "{\"index\":2,\"op\":2,\"process\":2,\"type\":\"ok\",\"f\":\"get\","
        "\"key\":\"k\\\"1\",\"value\":null,\"time\":15}\n"
        "{\"index\":3,\"op\":1,\"process\":1,\"type\":\"ok\",\"f\":\"put\","
        "\"key\":\"k\\\"1\",\"value\":\"x\\u000ay\",\"time\":20}\n"
        "{\"index\":4,\"op\":3,\"process\":3,\"type\":\"invoke\",\"f\":\"cas\","
        "\"value\":[null,\"z\"],\"time\":30}\n"
        "{\"index\":5,\"op\":3,\"process\":3,\"type\":\"info\",\"f\":\"cas\","
        "\"value\":[null,\"z\"],\"time\":99}\n");
    free(buf);
    tw_history_free(h);
}

/* Both backends: the simulator keeps what is recorded, at world time;
 * the real backend records nothing and completing op 0 is a no-op. */
static void test_record_on_both_backends(void **state)
{
    tw_env *env = TW_ENV(state);
    int64_t id = tw_history_invoke(env->loop, 7, TW_HISTORY_PUT, "k", "v", 1);
    assert_int_equal(tw_history_ok(env->loop, id, NULL, 0), 0);
    if (!env->sim) {
        assert_int_equal(id, 0);
        assert_null(tw_history_of(env->loop));
        return;
    }
    assert_int_equal(id, 1);
    tw_history *h = tw_history_of(env->loop);
    assert_non_null(h);
    assert_int_equal(tw_history_count(h), 1);
    assert_int_equal(tw_history_ok(env->loop, id, NULL, 0), -ENOENT); /* done once */
    int64_t rd = tw_history_invoke(env->loop, 7, TW_HISTORY_GET, "k", NULL, 0);
    tw_run_slice(env);
    assert_int_equal(tw_history_ok(env->loop, rd, "v", 1), 0);
    tw_history_verdict v;
    assert_int_equal(tw_history_check(h, NULL, &v), 1);
}

/* ---- a scenario: a key-value server, right and wrong ---- */

/* The protocol, one line each way: "S key value" answers "+", "G key"
 * answers "=value" or "_" (nothing). The server keeps each key's value
 * and the one before; with --stale N every Nth GET of a key written
 * twice or more answers the one before. */

#define KV_KEYS 4

typedef struct kv_store {
    tw_loop *loop;
    long stale_every, gets;
    char cur[KV_KEYS][32], prev[KV_KEYS][32];
    int writes[KV_KEYS];
} kv_store;

typedef struct kv_conn {
    tw_protocol base;
    kv_store *st;
    tw_transport *t;
    char line[96];
    size_t len;
} kv_conn;

static void kv_made(tw_protocol *p, tw_transport *t) { ((kv_conn *)p)->t = t; }

static void kv_line(kv_conn *c)
{
    kv_store *st = c->st;
    char key[16] = "", val[32] = "";
    char out[48];
    int n = 0;
    if (sscanf(c->line, "S k%15s %31s", key, val) == 2) {
        int k = atoi(key) % KV_KEYS;
        memcpy(st->prev[k], st->cur[k], sizeof st->prev[k]);
        snprintf(st->cur[k], sizeof st->cur[k], "%s", val);
        st->writes[k]++;
        n = snprintf(out, sizeof out, "+\n");
    } else if (sscanf(c->line, "G k%15s", key) == 1) {
        int k = atoi(key) % KV_KEYS;
        const char *v = st->cur[k];
        if (st->stale_every && st->writes[k] >= 2 && ++st->gets % st->stale_every == 0)
            v = st->prev[k];
        n = st->writes[k] ? snprintf(out, sizeof out, "=%s\n", v)
                          : snprintf(out, sizeof out, "_\n");
    }
    if (n > 0)
        tw_transport_write(c->t, out, (size_t)n);
}

static void kv_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    kv_conn *c = (kv_conn *)p;
    for (size_t i = 0; i < n; i++) {
        if (d[i] != '\n') {
            if (c->len + 1 < sizeof c->line)
                c->line[c->len++] = (char)d[i];
            continue;
        }
        c->line[c->len] = 0;
        c->len = 0;
        kv_line(c);
    }
}

static void kv_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops kv_ops = {
    .connection_made = kv_made, .data_received = kv_data, .release = kv_release,
};

static tw_protocol *kv_new(void *arg)
{
    kv_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &kv_ops;
    c->st = arg;
    return &c->base;
}

static long flag_value(int argc, char **argv, const char *flag, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return atol(argv[i + 1]);
    return def;
}

static int kv_server_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    kv_store *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = l;
    s->stale_every = flag_value(argc, argv, "--stale", 0);
    tw_server *srv;
    int rc = tw_create_server(l, kv_new, s, "", 7000, NULL, &srv);
    if (rc < 0)
        free(s);
    else
        *st = s;
    return rc;
}

static int zero_result(void *st) { (void)st; return 0; }
static void plain_free(void *st) { free(st); }

static const tw_app kv_server_app = {
    .name = "test-kv-server", .summary = "", .usage = "", .start = kv_server_start,
    .result = zero_result, .free = plain_free,
};

/* The client: --ops N sequential ops on one connection, each a SET of a
 * fresh value or a GET, on one of KV_KEYS keys; every op recorded. */
typedef struct kv_client {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    long id, ops, next;
    int64_t pending;
    bool get, done, released;
    char line[64];
    size_t len;
} kv_client;

static void kvc_send(kv_client *c)
{
    if (c->next == c->ops) {
        c->done = true;
        tw_transport_close(c->t);
        return;
    }
    uint64_t x = tw_mix64((uint64_t)c->id * 100003 + (uint64_t)c->next);
    char key[8], val[32], out[64];
    snprintf(key, sizeof key, "k%d", (int)(x % KV_KEYS));
    c->get = (x >> 8) % 2;
    uint32_t proc = (uint32_t)c->id;
    int n;
    if (c->get) {
        c->pending = tw_history_invoke(c->loop, proc, TW_HISTORY_GET, key, NULL, 0);
        n = snprintf(out, sizeof out, "G %s\n", key);
    } else {
        int vl = snprintf(val, sizeof val, "c%ld-%ld", c->id, c->next);
        c->pending = tw_history_invoke(c->loop, proc, TW_HISTORY_PUT, key, val, (size_t)vl);
        n = snprintf(out, sizeof out, "S %s %s\n", key, val);
    }
    c->next++;
    tw_transport_write(c->t, out, (size_t)n);
}

static void kvc_made(tw_protocol *p, tw_transport *t)
{
    kv_client *c = (kv_client *)p;
    c->t = t;
    kvc_send(c);
}

static void kvc_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    kv_client *c = (kv_client *)p;
    for (size_t i = 0; i < n && !c->done; i++) {
        if (d[i] != '\n') {
            if (c->len + 1 < sizeof c->line)
                c->line[c->len++] = (char)d[i];
            continue;
        }
        c->line[c->len] = 0;
        c->len = 0;
        if (c->line[0] == '=')
            tw_history_ok(c->loop, c->pending, c->line + 1, strlen(c->line + 1));
        else
            tw_history_ok(c->loop, c->pending, NULL, 0);
        c->pending = 0;
        kvc_send(c);
    }
}

static void kvc_lost(tw_protocol *p, int err)
{
    kv_client *c = (kv_client *)p;
    (void)err;
    tw_history_info(c->loop, c->pending);
    c->pending = 0;
    c->done = true;
    c->t = NULL;
}

static void kvc_release(tw_protocol *p) { ((kv_client *)p)->released = true; }

static const tw_protocol_ops kvc_ops = {
    .connection_made = kvc_made, .data_received = kvc_data,
    .connection_lost = kvc_lost, .release = kvc_release,
};

static tw_protocol *kvc_new(void *arg) { return &((kv_client *)arg)->base; }

static int kv_client_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    kv_client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->base.ops = &kvc_ops;
    c->loop = l;
    c->id = flag_value(argc, argv, "--id", 1);
    c->ops = flag_value(argc, argv, "--ops", 100);
    c->released = true; /* until a connection holds it */
    tw_create_connection(l, kvc_new, c, "server", 7000, NULL);
    c->released = false;
    *st = c;
    return 0;
}

static bool kv_client_done(void *st) { return ((kv_client *)st)->done; }

static const tw_app kv_client_app = {
    .name = "test-kv-client", .summary = "", .usage = "", .start = kv_client_start,
    .result = zero_result, .free = plain_free, .done = kv_client_done,
};

static const char kv_scenario[] =
    "name: kv\n"
    "duration: 2s\n"
    "nodes:\n"
    "  - {name: server, addr: 10.0.0.1, app: test-kv-server, args: [%s]}\n"
    "  - {name: c1, addr: 10.0.1.1, app: test-kv-client, args: [--id, '1', --ops, '300']}\n"
    "  - {name: c2, addr: 10.0.1.2, app: test-kv-client, args: [--id, '2', --ops, '300']}\n"
    "  - {name: c3, addr: 10.0.1.3, app: test-kv-client, args: [--id, '3', --ops, '300']}\n"
    "quiet: {within: 2s, until: all}\n"
    "expect: {linearizable: %s}\n";

static tw_scenario_result run_kv(const char *server_args, const char *lin, uint64_t seed,
                                 FILE *history)
{
    char text[sizeof kv_scenario + 64], err[600];
    snprintf(text, sizeof text, kv_scenario, server_args, lin);
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("kv.yaml", text, strlen(text), &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    tw_scenario_result r;
    tw_scenario_run_opts o = {.history = history};
    assert_int_equal(tw_scenario_run(sc, seed, &o, &r), 0);
    tw_scenario_free(sc);
    return r;
}

static void test_scenario_stale_server_caught(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        tw_scenario_result r = run_kv("", "true", seed, NULL);
        if (r.verdict != TW_SCENARIO_PASS)
            fail_msg("seed %llu, the correct server: %s", (unsigned long long)seed,
                     r.message);
        tw_scenario_result_fini(&r);
    }
    tw_scenario_result r = run_kv("--stale, '7'", "true", 1, NULL);
    print_message("    %s\n", r.message);
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    assert_non_null(strstr(r.message, "history not linearizable"));
    assert_non_null(strstr(r.message, "key \"k"));
    assert_non_null(strstr(r.message, " get -> \"c"));
    assert_non_null(strstr(r.message, "cannot take effect"));
    /* Found at the end, it is placed where it went wrong: the failure's
     * time (the timeline's red line) is the read that could not be
     * placed, before the run's end. */
    assert_non_null(strstr(r.message, "(checked at the end of the run)"));
    assert_true(r.failed_ns >= 0 && r.failed_ns < r.end_ns);
    char d[32], at[64];
    snprintf(at, sizeof at, "at %s: history", tw_format_duration(r.failed_ns, d, sizeof d));
    assert_non_null(strstr(r.message, at));
    tw_scenario_result_fini(&r);
    /* without the expectation the same run passes: nothing else sees it */
    r = run_kv("--stale, '7'", "false", 1, NULL);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    tw_scenario_result_fini(&r);
}

/* The history a run writes out: every op's invoke and completion. */
static void test_scenario_history_written(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tw_scenario_result r = run_kv("", "false", 3, f);
    fclose(f);
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    size_t lines = 0, invokes = 0, oks = 0;
    for (char *p = buf; (p = strchr(p, '\n')); p++)
        lines++;
    for (char *p = buf; (p = strstr(p, "\"type\":\"invoke\"")); p++)
        invokes++;
    for (char *p = buf; (p = strstr(p, "\"type\":\"ok\"")); p++)
        oks++;
    assert_int_equal(lines, 2 * 900);
    assert_int_equal(invokes, 900);
    assert_int_equal(oks, 900);
    assert_non_null(strstr(buf, "{\"index\":0,\"op\":"));
    tw_scenario_result_fini(&r);
    free(buf);
}

/* The keys: errors name file:line:col; a history over its cap fails the
 * run rather than pass half-checked; a written scenario keeps them. */
static void test_scenario_keys(void **state)
{
    (void)state;
    char err[600];
    tw_scenario *sc = NULL;
    const char *bad = "name: x\nduration: 1s\nnodes:\n"
                      "  - {name: s, addr: 10.0.0.1, app: test-kv-server}\n"
                      "expect: {linearizable: maybe}\n";
    assert_int_not_equal(tw_scenario_parse("t.yaml", bad, strlen(bad), &sc, err, sizeof err), 0);
    assert_non_null(strstr(err, "t.yaml:5:24: linearizable must be true or false"));
    const char *zero = "name: x\nduration: 1s\nnodes:\n"
                       "  - {name: s, addr: 10.0.0.1, app: test-kv-server}\n"
                       "expect: {linearizable: true, history_ops_max: 0}\n";
    assert_int_not_equal(tw_scenario_parse("t.yaml", zero, strlen(zero), &sc, err, sizeof err), 0);
    assert_non_null(strstr(err, "t.yaml:5:47: history_ops_max must be at least 1"));

    char text[sizeof kv_scenario + 64];
    snprintf(text, sizeof text, kv_scenario, "", "true, history_ops_max: 50");
    assert_int_equal(tw_scenario_parse("kv.yaml", text, strlen(text), &sc, err, sizeof err), 0);
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(sc, 1, NULL, &r), 0);
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    assert_non_null(strstr(r.message, "over history_ops_max 50"));
    tw_scenario_result_fini(&r);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(tw_scenario_write(sc, f, NULL), 0);
    fclose(f);
    assert_non_null(strstr(buf, ", linearizable: true, history_ops_max: 50"));
    free(buf);
    tw_scenario_free(sc);
}

/* `twin sim FILE --seed N --history FILE` writes the run's history; a
 * file it cannot write is a usage error naming the option. */
static void test_cli_history_option(void **state)
{
    (void)state;
    char path[] = "/tmp/twin-history-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char *files[] = {path, "/nonexistent-dir/h.jsonl"};
    for (int i = 0; i < 2; i++) {
        pid_t pid = tw_cli_fork();
        if (pid == 0) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl(tw_cli_twin, "twin", "sim", "scenarios/resp-loss.yaml", "--seed", "1",
                  "--history", files[i], (char *)NULL);
            _exit(127);
        }
        int st = tw_cli_wait(pid, "twin sim --history");
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), i == 0 ? 0 : TW_SCENARIO_USAGE);
    }
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    size_t lines = 0;
    bool first_ok = false;
    while (fgets(line, sizeof line, f)) {
        if (lines++ == 0)
            first_ok = strncmp(line, "{\"index\":0,\"op\":1,", 18) == 0;
    }
    fclose(f);
    unlink(path);
    print_message("    resp-loss seed 1: %zu history lines\n", lines);
    assert_true(first_ok);
    assert_true(lines > 1000);
}

static int setup_apps(void **state)
{
    tw_test_setup(state);
    if (tw_app_register(&kv_server_app) != 0 || tw_app_register(&kv_client_app) != 0)
        return -1;
    return 0;
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        TW_TEST(test_register_sequential_and_stale),
        TW_TEST(test_violation_names_the_longest_order),
        TW_TEST(test_register_concurrent_reads),
        TW_TEST(test_register_concurrent_writes),
        TW_TEST(test_register_cas),
        TW_TEST(test_incr),
        TW_TEST(test_expire_window),
        TW_TEST(test_process_order),
        TW_TEST(test_unknown_write_late_or_never),
        TW_TEST(test_unknown_write_not_before_invoke_nor_undone),
        TW_TEST(test_failed_write_never_happened),
        TW_TEST(test_map_keys_are_independent),
        TW_TEST(test_long_random_history),
        TW_TEST(test_long_key_history_in_bounded_memory),
        TW_TEST(test_limits),
        TW_TEST(test_jsonl),
        TW_MATRIX(test_record_on_both_backends),
        cmocka_unit_test_setup_teardown(test_scenario_stale_server_caught, setup_apps,
                                        tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_scenario_history_written, setup_apps,
                                        tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_scenario_keys, setup_apps, tw_test_teardown),
        TW_TEST(test_cli_history_option),
    };
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}
