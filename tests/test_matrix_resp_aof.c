/* tests/test_matrix_resp_aof.c - the RESP server's append-only file
 * (resp-server --appendonly) on both backends from one body: changes
 * written as replayable commands, replayed at start, a torn tail cut
 * back, a damaged file refused; then, in the simulator, the shipped
 * persistence scenarios: with fsync before every reply no acknowledged
 * write is lost whatever crashes, with no fsync a sweep finds lost ones
 * as a history that is not linearizable, and shrinking keeps one crash.
 *
 * Map: a client that sends and collects; the directory; the tests.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "twin/resp.h"
#include "twin/scenario.h"

/* ---- a client: sends bytes, keeps what comes back ---- */

typedef struct rcli {
    tw_protocol base;
    tw_transport *t;
    char got[4096];
    size_t len;
    bool made, lost;
} rcli;

static void r_made(tw_protocol *p, tw_transport *t)
{
    ((rcli *)p)->t = t;
    ((rcli *)p)->made = true;
}

static void r_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    rcli *c = (rcli *)p;
    assert_true(c->len + n < sizeof c->got);
    memcpy(c->got + c->len, d, n);
    c->len += n;
}

static void r_lost(tw_protocol *p, int err)
{
    (void)err;
    ((rcli *)p)->lost = true;
}

static const tw_protocol_ops rcli_ops = {
    .connection_made = r_made,
    .data_received = r_data,
    .connection_lost = r_lost,
};

static tw_protocol *rcli_factory(void *arg) { return arg; }

/* ---- the directory ---- */

static char base[128], aof[160];

static void make_base(tw_env *env)
{
    if (strcmp(env->backend, "real") == 0) {
        snprintf(base, sizeof base, "/tmp/twin-aof-XXXXXX");
        assert_non_null(mkdtemp(base));
    } else {
        snprintf(base, sizeof base, "/data");
        assert_int_equal(tw_fs_mkdir(env->loop, base), 0);
    }
    snprintf(aof, sizeof aof, "%s/appendonly.aof", base);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void drop_base(tw_env *env)
{
    if (strcmp(env->backend, "real") == 0)
        assert_int_equal(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void put_file(tw_env *env, const char *bytes, size_t n)
{
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, aof, TW_FILE_WRITE | TW_FILE_CREATE |
                                                      TW_FILE_TRUNC, &f), 0);
    assert_int_equal(tw_file_pwrite(f, bytes, n, 0), (ssize_t)n);
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_close(f), 0);
}

static size_t get_file(tw_env *env, char *buf, size_t cap)
{
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, aof, TW_FILE_READ, &f), 0);
    ssize_t n = tw_file_pread(f, buf, cap - 1, 0);
    assert_true(n >= 0);
    buf[n] = '\0';
    assert_int_equal(tw_file_close(f), 0);
    return (size_t)n;
}

/* A server on the file; its messages go to *log. */
static int open_server(tw_env *env, int mode, FILE *log, tw_resp_server **rs)
{
    tw_resp_server_cfg cfg = {.aof_path = aof, .appendfsync = mode, .log = log};
    return tw_resp_server_open(env->loop, &cfg, rs);
}

/* The keyspace's clock: Unix ms, the server's epoch plus loop time. */
static int64_t now_ms(tw_env *env, tw_resp_server *rs)
{
    return tw_resp_server_info(rs)->epoch_ms + tw_loop_now(env->loop) / TW_NS_PER_MS;
}

/* Does the server's keyspace hold key = want (NULL: no key) now? */
static bool has_at(tw_env *env, tw_resp_server *rs, const char *key, const char *want)
{
    const uint8_t *v;
    size_t n;
    if (!tw_resp_store_get(tw_resp_server_store(rs), key, strlen(key),
                           now_ms(env, rs), &v, &n))
        return want == NULL;
    return want && n == strlen(want) && memcmp(v, want, n) == 0;
}

/* Listen with rs and connect c to it. */
static void serve(tw_env *env, tw_resp_server *rs, tw_server **srv, rcli *c)
{
    assert_int_equal(tw_create_server(env->loop, tw_resp_server_factory, rs,
                                      env->host, 0, NULL, srv), 0);
    *c = (rcli){.base.ops = &rcli_ops};
    assert_int_equal(tw_create_connection(env->loop, rcli_factory, c, env->host,
                                          tw_server_port(*srv), NULL), 0);
    TW_WAIT(env, c->made);
}

/* Close all of it, the server's file too, and let the loop finish. */
static void unserve(tw_env *env, tw_resp_server *rs, tw_server *srv, rcli *c)
{
    tw_transport_close(c->t);
    tw_server_close(srv);
    tw_resp_server_close(rs);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

/* ---- the tests ---- */

static void test_changes_are_kept_and_replayed(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    char *logtext = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logtext, &loglen);
    tw_resp_server *rs;
    assert_int_equal(open_server(env, TW_RESP_FSYNC_ALWAYS, log, &rs), 0);
    tw_server *srv;
    rcli c;
    serve(env, rs, &srv, &c);
    static const char req[] = "SET a 1\r\nSET b 2 PX 1000000\r\nGET b\r\nINCR n\r\n"
                              "INCR n\r\nSET c 3\r\nDEL c\r\nDEL nope\r\n";
    static const char rep[] = "+OK\r\n+OK\r\n$1\r\n2\r\n:1\r\n:2\r\n+OK\r\n:1\r\n:0\r\n";
    assert_int_equal(tw_transport_write(c.t, req, sizeof req - 1), 0);
    TW_WAIT(env, c.len >= sizeof rep - 1 || c.lost);
    assert_int_equal(c.len, sizeof rep - 1);
    assert_memory_equal(c.got, rep, sizeof rep - 1);
    /* The file holds every change, and only changes, as RESP arrays; the
     * relative expiry was written as an absolute time. */
    char file[2048];
    get_file(env, file, sizeof file);
    assert_non_null(strstr(file, "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"));
    assert_non_null(strstr(file, "$4\r\nPXAT\r\n"));
    assert_null(strstr(file, "GET"));
    assert_null(strstr(file, "nope"));
    unserve(env, rs, srv, &c);

    /* A new server on the same file has the same keys. */
    assert_int_equal(open_server(env, TW_RESP_FSYNC_ALWAYS, log, &rs), 0);
    assert_true(has_at(env, rs, "a", "1"));
    assert_true(has_at(env, rs, "b", "2"));
    assert_true(has_at(env, rs, "n", "2"));
    assert_true(has_at(env, rs, "c", NULL));
    assert_int_equal(tw_resp_store_count(tw_resp_server_store(rs)), 3);
    tw_resp_server_close(rs);
    fclose(log);
    assert_int_equal(loglen, 0); /* nothing to warn about */
    free(logtext);
    drop_base(env);
}

/* Many changes to a few keys: the file is made anew from the keyspace
 * whenever it has doubled past the minimum size, so it stays small, and
 * a new server on it has the same keys, expiry included. */
static void test_rewrite_keeps_the_file_small(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_resp_server_cfg cfg = {.aof_path = aof, .appendfsync = TW_RESP_FSYNC_EVERYSEC,
                              .aof_rewrite_min_size = 2048, .log = stderr};
    tw_resp_server *rs;
    assert_int_equal(tw_resp_server_open(env->loop, &cfg, &rs), 0);
    tw_server *srv;
    rcli c;
    serve(env, rs, &srv, &c);
    uint64_t size_max = 0;
    for (int i = 0; i < 400; i++) {
        char req[96];
        int n = snprintf(req, sizeof req, "SET key%d value-number-%d%s\r\n", i % 5, i,
                         i % 5 == 4 ? " PX 1000000" : "");
        c.len = 0;
        assert_int_equal(tw_transport_write(c.t, req, (size_t)n), 0);
        TW_WAIT(env, c.len >= 5 || c.lost);
        assert_memory_equal(c.got, "+OK\r\n", 5);
        uint64_t size = tw_resp_server_get_stats(rs).aof_size;
        size_max = size > size_max ? size : size_max;
    }
    tw_resp_server_stats st = tw_resp_server_get_stats(rs);
    if (st.aof_rewrites < 3 || size_max > 4200)
        fail_msg("%s: %llu rewrites, the file reached %llu bytes", env->backend,
                 (unsigned long long)st.aof_rewrites, (unsigned long long)size_max);
    unserve(env, rs, srv, &c);
    assert_int_equal(tw_resp_server_open(env->loop, &cfg, &rs), 0);
    assert_int_equal(tw_resp_store_count(tw_resp_server_store(rs)), 5);
    assert_true(has_at(env, rs, "key0", "value-number-395"));
    assert_true(has_at(env, rs, "key4", "value-number-399"));
    int64_t at;
    assert_true(tw_resp_store_ttl(tw_resp_server_store(rs), "key4", 4,
                                  now_ms(env, rs), &at));
    assert_true(at != TW_RESP_NO_EXPIRY);
    tw_resp_server_close(rs);
    drop_base(env);
}

static void test_torn_tail_is_cut_back(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    static const char whole[] = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
                                "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n";
    char bytes[128];
    int n = snprintf(bytes, sizeof bytes, "%s*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$5\r\nhal", whole);
    put_file(env, bytes, (size_t)n);
    char *logtext = NULL;
    size_t loglen = 0;
    FILE *log = open_memstream(&logtext, &loglen);
    tw_resp_server *rs;
    assert_int_equal(open_server(env, TW_RESP_FSYNC_EVERYSEC, log, &rs), 0);
    fflush(log);
    assert_non_null(strstr(logtext, "ends inside a command"));
    char want[64];
    snprintf(want, sizeof want, "cut back from %d to %zu bytes", n, sizeof whole - 1);
    if (!strstr(logtext, want))
        fail_msg("%s: the log says '%s', not '%s'", env->backend, logtext, want);
    assert_true(has_at(env, rs, "k", "v"));
    assert_true(has_at(env, rs, "n", "1"));
    assert_true(has_at(env, rs, "x", NULL));
    tw_resp_server_close(rs);
    /* The file is its whole commands now: the next start says nothing. */
    char file[256];
    assert_int_equal(get_file(env, file, sizeof file), sizeof whole - 1);
    assert_string_equal(file, whole);
    fclose(log);
    free(logtext);
    drop_base(env);
}

static void test_damaged_file_is_refused(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    static const struct {
        const char *bytes, *says;
    } cases[] = {
        /* a damaged middle: a whole command follows the damage */
        {"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\nXX*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
         "damaged at byte 21: not a RESP array"},
        {"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*2\r\n$4\r\nINCR\r\n$x\r\nn\r\n",
         "damaged at byte 21: Protocol error: invalid bulk length"},
        {"*1\r\n$5\r\nBOGUS\r\n", "damaged at byte 0: an unknown command"},
        {"SET a 1\r\n", "damaged at byte 0: not a RESP array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        put_file(env, cases[i].bytes, strlen(cases[i].bytes));
        char *logtext = NULL;
        size_t loglen = 0;
        FILE *log = open_memstream(&logtext, &loglen);
        tw_resp_server *rs = NULL;
        assert_int_equal(open_server(env, TW_RESP_FSYNC_ALWAYS, log, &rs), -EBADMSG);
        assert_null(rs);
        fclose(log);
        if (!strstr(logtext, cases[i].says) || !strstr(logtext, "appendonly.aof"))
            fail_msg("%s: case %zu: the log says '%s'", env->backend, i, logtext);
        free(logtext);
        /* the file was left as it was, for repair */
        char file[256];
        assert_int_equal(get_file(env, file, sizeof file), strlen(cases[i].bytes));
    }
    drop_base(env);
}

/* ---- the shipped scenarios (simulator) ---- */

static tw_scenario *load(const char *path)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_load(path, &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    return sc;
}

/* fsync before each reply: every seed linearizable, each fault kind
 * (crash, power loss, a failed write, a failed fsync) took effect. */
static void test_always_loses_nothing(void **state)
{
    (void)state;
    tw_scenario *sc = load("scenarios/resp-aof.yaml");
    uint64_t effects[8] = {0};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        tw_scenario_result r;
        assert_int_equal(tw_scenario_run(sc, seed, NULL, &r), 0);
        if (r.verdict != TW_SCENARIO_PASS)
            fail_msg("seed %llu: %s: %s", (unsigned long long)seed,
                     tw_scenario_verdict_name(r.verdict), r.message);
        for (size_t i = 0; i < r.neffects && i < 8; i++)
            effects[i] += r.effects[i].count;
        tw_scenario_result_fini(&r);
    }
    for (size_t i = 0; i < tw_scenario_fault_count(sc); i++)
        if (!effects[i])
            fail_msg("fault #%zu never took effect", i);
    tw_scenario_free(sc);
}

/* No fsync: the seeds find acknowledged writes a crash lost, as a
 * history that is not linearizable; shrinking keeps a single crash or
 * power loss. */
static void test_no_fsync_is_caught_and_shrunk(void **state)
{
    (void)state;
    tw_scenario *sc = load("scenarios/failing/resp-aof-nofsync.yaml");
    int failed = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        tw_scenario_result r;
        assert_int_equal(tw_scenario_run(sc, seed, NULL, &r), 0);
        if (r.verdict == TW_SCENARIO_CORRECTNESS) {
            failed++;
            if (!strstr(r.message, "not linearizable"))
                fail_msg("seed %llu: %s", (unsigned long long)seed, r.message);
        }
        tw_scenario_result_fini(&r);
    }
    assert_true(failed >= 5);
    tw_scenario *small = NULL;
    tw_scenario_shrink_stats st;
    assert_int_equal(tw_scenario_shrink(sc, 1, false, 0, NULL, &small, &st), 0);
    assert_int_equal(st.verdict, TW_SCENARIO_CORRECTNESS);
    assert_int_equal(st.faults_after, 1);
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(small, 1, NULL, &r), 0);
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    assert_int_equal(r.neffects, 1);
    if (strcmp(r.effects[0].kind, "crash") && strcmp(r.effects[0].kind, "power_loss"))
        fail_msg("shrunk to a %s", r.effects[0].kind);
    tw_scenario_result_fini(&r);
    tw_scenario_free(small);
    tw_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_changes_are_kept_and_replayed),
        TW_MATRIX(test_rewrite_keeps_the_file_small),
        TW_MATRIX(test_torn_tail_is_cut_back),
        TW_MATRIX(test_damaged_file_is_refused),
        cmocka_unit_test(test_always_loses_nothing),
        cmocka_unit_test(test_no_fsync_is_caught_and_shrunk),
    };
    return cmocka_run_group_tests_name("RESP append-only file", tests, NULL, NULL);
}
