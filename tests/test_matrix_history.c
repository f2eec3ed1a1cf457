/* tests/test_matrix_history.c - recording a history from an app's loop
 * (twin/history.h, section 1), one body on both backends: in the
 * simulator each record lands in the world's history at the world's
 * time and the checker judges it; on the real backend every call is a
 * no-op that returns 0, so the same app code runs in production. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/history.h"

static bool simulated(const tw_env *env) { return strcmp(env->backend, "sim") == 0; }

/* The check of what was recorded: 1 linearizable, 0 not (message in v). */
static int judged(tw_env *env, size_t *ops, tw_history_verdict *v)
{
    tw_history *h = tw_history_of(env->loop);
    assert_non_null(h);
    *ops = tw_history_count(h);
    return tw_history_check(h, NULL, v);
}

/* A register written, then compare-and-set from what it holds, then a
 * compare-and-set that fails (it certainly did not happen), then read:
 * the read sees the first cas's value. */
static void test_cas_and_fail_recorded(void **state)
{
    tw_env *env = TW_ENV(state);
    int64_t w = tw_history_invoke(env->loop, 1, TW_HISTORY_WRITE, NULL, "a", 1);
    assert_int_equal(tw_history_ok(env->loop, w, NULL, 0), 0);
    tw_run_slice(env);
    int64_t c1 = tw_history_invoke_cas(env->loop, 1, NULL, "a", 1, "b", 1);
    tw_run_slice(env);
    assert_int_equal(tw_history_ok(env->loop, c1, NULL, 0), 0);
    int64_t c2 = tw_history_invoke_cas(env->loop, 2, NULL, "a", 1, "z", 1);
    assert_int_equal(tw_history_fail(env->loop, c2), 0);
    int64_t r = tw_history_invoke(env->loop, 2, TW_HISTORY_READ, NULL, NULL, 0);
    tw_run_slice(env);
    assert_int_equal(tw_history_ok(env->loop, r, "b", 1), 0);
    if (!simulated(env)) { /* nothing recorded, nothing kept */
        assert_true(w == 0 && c1 == 0 && c2 == 0 && r == 0);
        assert_null(tw_history_of(env->loop));
        return;
    }
    assert_true(w > 0 && c1 > w && c2 > c1 && r > c2);
    size_t ops;
    tw_history_verdict v;
    assert_int_equal(judged(env, &ops, &v), 1);
    assert_int_equal(ops, 4);
    /* as written for other checkers: the cas's values, its failure */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(tw_history_write_jsonl(tw_history_of(env->loop), f,
                                            tw_loop_now(env->loop)), 0);
    fclose(f);
    if (!strstr(text, "\"process\":2,\"type\":\"fail\",\"f\":\"cas\",\"value\":[\"a\",\"z\"]"))
        fail_msg("%s", text);
    free(text);
    /* a completion for an op that is not pending: named, not recorded */
    assert_int_equal(tw_history_ok(env->loop, c1, NULL, 0), -ENOENT);
    assert_int_equal(tw_history_fail(env->loop, 999999), -ENOENT);
}

/* A cas reported ok although the register held something else: no
 * order explains it, and the checker says so, dated when it completed. */
static void test_cas_against_the_wrong_value_is_caught(void **state)
{
    tw_env *env = TW_ENV(state);
    int64_t w = tw_history_invoke(env->loop, 1, TW_HISTORY_WRITE, NULL, "a", 1);
    assert_int_equal(tw_history_ok(env->loop, w, NULL, 0), 0);
    tw_run_slice(env);
    int64_t c = tw_history_invoke_cas(env->loop, 2, NULL, "x", 1, "y", 1);
    tw_run_slice(env);
    tw_ns done = tw_loop_now(env->loop);
    assert_int_equal(tw_history_ok(env->loop, c, NULL, 0), 0);
    if (!simulated(env)) {
        assert_true(w == 0 && c == 0);
        return;
    }
    size_t ops;
    tw_history_verdict v;
    assert_int_equal(judged(env, &ops, &v), 0);
    assert_int_equal(ops, 2);
    assert_true(v.at_ns >= done);
    if (!strstr(v.message, "cas"))
        fail_msg("the verdict does not name the cas: %s", v.message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_cas_and_fail_recorded),
        TW_MATRIX(test_cas_against_the_wrong_value_is_caught),
    };
    return cmocka_run_group_tests_name("history recording (backend matrix)", tests, NULL,
                                       NULL);
}
