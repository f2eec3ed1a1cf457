/* tests/test_matrix_loop.c - the loop API (call_soon, call_later, call_at,
 * cancel, time, run, run_for, stop) on both backends from one body. */
#include <pthread.h>
#include <string.h>

#include "tests/harness.h"

static char order[64];
static size_t order_len;

static void mark(void *c)
{
    if (order_len + 1 < sizeof order) {
        order[order_len++] = (char)(uintptr_t)c;
        order[order_len] = '\0';
    }
}

static void reset_order(void)
{
    order_len = 0;
    order[0] = '\0';
}

static void test_call_soon_is_fifo(void **state)
{
    tw_env *env = TW_ENV(state);
    reset_order();
    for (char c = 'a'; c <= 'e'; c++)
        assert_true(tw_call_soon(env->loop, mark, (void *)(uintptr_t)c) != 0);
    assert_int_equal(order_len, 0); /* nothing runs inside call_soon */
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "abcde");
}

static tw_loop *g_loop;

static void schedule_next(void *arg)
{
    mark(arg);
    tw_call_soon(g_loop, mark, (void *)(uintptr_t)'z');
    tw_loop_stop(g_loop);
}

static void test_call_soon_from_callback_waits_a_turn(void **state)
{
    tw_env *env = TW_ENV(state);
    g_loop = env->loop;
    reset_order();
    tw_call_soon(env->loop, schedule_next, (void *)(uintptr_t)'a');
    tw_call_soon(env->loop, mark, (void *)(uintptr_t)'b');
    /* stop() lets the current iteration finish: a, b run; z waits */
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "ab");
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "abz");
}

/* What the clock read just before and just after a timer was scheduled:
 * its deadline lies between lo and hi. */
struct sched {
    char c;
    tw_ns lo, hi;
};

static void later(tw_env *env, struct sched *s, tw_ns delay, char c)
{
    tw_ns d = delay > 0 ? delay : 0;
    s->c = c;
    s->lo = tw_loop_now(env->loop) + d;
    tw_call_later(env->loop, delay, mark, (void *)(uintptr_t)c);
    s->hi = tw_loop_now(env->loop) + d;
}

static void at(tw_env *env, struct sched *s, tw_ns when, char c)
{
    s->c = c;
    s->lo = s->hi = when;
    tw_call_at(env->loop, when, mark, (void *)(uintptr_t)c);
}

static void test_timers_run_in_time_order(void **state)
{
    tw_env *env = TW_ENV(state);
    reset_order();
    struct sched s[6];
    later(env, &s[0], TW_MS(30), 'c');
    later(env, &s[1], TW_MS(10), 'a');
    later(env, &s[2], TW_MS(20), 'b');
    tw_ns now = tw_loop_now(env->loop);
    /* equal deadlines: scheduling order */
    at(env, &s[3], now + TW_MS(40), 'd');
    at(env, &s[4], now + TW_MS(40), 'e');
    later(env, &s[5], -5, '0'); /* = now */
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_true(tw_loop_now(env->loop) >= now + TW_MS(40));
    if (env->sim) {
        /* virtual time stands still between the calls */
        assert_string_equal(order, "0abcde");
        return;
    }
    /* Real time moves on between the calls, by how much depends on the
     * machine: two timers must run in deadline order whenever their
     * deadlines are known apart (on an idle machine, all of them). */
    assert_int_equal(order_len, 6);
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++) {
            const struct sched *first = NULL, *then = NULL;
            for (int k = 0; k < 6; k++) {
                if (s[k].c == order[i])
                    first = &s[k];
                if (s[k].c == order[j])
                    then = &s[k];
            }
            assert_non_null(first);
            assert_non_null(then);
            if (then->hi < first->lo)
                fail_msg("'%c' ran before '%c', which was due %.3f ms earlier (order %s)",
                         first->c, then->c, (double)(first->lo - then->hi) / 1e6,
                         order);
        }
    assert_non_null(strstr(order, "de")); /* the same deadline: as scheduled */
}

static tw_ns fired_at;
static void note_time(void *loop) { fired_at = tw_loop_now(loop); }

static void test_timer_never_early(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_ns start = tw_loop_now(env->loop);
    tw_call_later(env->loop, TW_MS(50), note_time, env->loop);
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_true(fired_at >= start + TW_MS(50));
    double secs = tw_loop_time(env->loop);
    assert_true(secs >= (double)(start + TW_MS(50)) / 1e9);
}

static void test_cancel(void **state)
{
    tw_env *env = TW_ENV(state);
    reset_order();
    tw_handle a = tw_call_later(env->loop, TW_MS(5), mark, (void *)(uintptr_t)'a');
    tw_handle b = tw_call_later(env->loop, TW_MS(6), mark, (void *)(uintptr_t)'b');
    tw_handle c = tw_call_soon(env->loop, mark, (void *)(uintptr_t)'c');
    tw_handle d = tw_call_soon(env->loop, mark, (void *)(uintptr_t)'d');
    assert_true(tw_handle_pending(env->loop, a));
    assert_int_equal(tw_handle_cancel(env->loop, a), 0);
    assert_int_equal(tw_handle_cancel(env->loop, a), -ENOENT);
    assert_false(tw_handle_pending(env->loop, a));
    assert_int_equal(tw_handle_cancel(env->loop, c), 0);
    assert_int_equal(tw_handle_cancel(env->loop, c), -ENOENT);
    assert_int_equal(tw_handle_cancel(env->loop, 0), -ENOENT);
    assert_int_equal(tw_handle_cancel(env->loop, 0xdeadbeef00000001ull), -ENOENT);
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "db");
    /* handles that ran are stale for good, even when slots are reused */
    assert_int_equal(tw_handle_cancel(env->loop, b), -ENOENT);
    assert_int_equal(tw_handle_cancel(env->loop, d), -ENOENT);
    tw_handle e = tw_call_soon(env->loop, mark, (void *)(uintptr_t)'e');
    assert_true(e != b && e != d && e != a && e != c);
    assert_int_equal(tw_handle_cancel(env->loop, d), -ENOENT);
    assert_true(tw_handle_pending(env->loop, e));
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "dbe");
}

static void test_run_returns_when_idle(void **state)
{
    tw_env *env = TW_ENV(state);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    tw_ns t0 = tw_loop_now(env->loop);
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_int_equal(tw_loop_run_for(env->loop, TW_SEC(3600)), 0);
    /* nothing to wait for: no time passes waiting */
    assert_true(tw_loop_now(env->loop) - t0 < TW_SEC(60));
}

static int ticks;
static tw_handle ticker;
static tw_ns tick_at[64];
static void tick(void *loop)
{
    if (ticks < 64)
        tick_at[ticks] = tw_loop_now(loop);
    ticks++;
    ticker = tw_call_later(loop, TW_MS(10), tick, loop);
}

static void test_run_for_advances_time(void **state)
{
    tw_env *env = TW_ENV(state);
    ticks = 0;
    tw_ns t0 = tw_loop_now(env->loop);
    ticker = tw_call_later(env->loop, TW_MS(10), tick, env->loop);
    assert_int_equal(tw_loop_run_for(env->loop, TW_MS(100)), 0);
    tw_ns t1 = tw_loop_now(env->loop);
    assert_true(t1 - t0 >= TW_MS(100));
    if (env->sim) {
        /* virtual time: ticks at 10, 20, ... 100 ms, the last one due
         * exactly at the end of the run */
        assert_int_equal(ticks, 10);
        for (int i = 0; i < ticks; i++)
            assert_int_equal(tick_at[i] - t0, TW_MS(10) * (i + 1));
    } else {
        /* Real time: how many ticks fit depends on how the machine
         * schedules us; that none is early does not. */
        assert_true(ticks <= 64);
        for (int i = 0; i < ticks; i++)
            assert_true(tick_at[i] - (i ? tick_at[i - 1] : t0) >= TW_MS(10));
        assert_true(t0 + TW_MS(10) * ticks <= t1);
    }
    /* stop() before run(): run does one iteration and returns, even with
     * the ticker still pending */
    int before = ticks;
    tw_loop_stop(env->loop);
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_true(tw_handle_pending(env->loop, ticker));
    assert_int_equal(tw_handle_cancel(env->loop, ticker), 0);
    if (env->sim)
        assert_int_equal(ticks, before); /* no time passed: nothing was due */
}

static void stop_cb(void *loop) { tw_loop_stop(loop); }

static void test_stop_from_callback(void **state)
{
    tw_env *env = TW_ENV(state);
    reset_order();
    tw_call_later(env->loop, TW_MS(1), stop_cb, env->loop);
    tw_handle later = tw_call_later(env->loop, TW_SEC(3600), mark, (void *)(uintptr_t)'x');
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_string_equal(order, "");
    assert_true(tw_handle_pending(env->loop, later));
    assert_int_equal(tw_handle_cancel(env->loop, later), 0);
}

static void test_backend_names(void **state)
{
    tw_env *env = TW_ENV(state);
    assert_string_equal(tw_loop_backend(env->loop), env->backend);
}

static void count_tick(void *loop)
{
    (void)loop;
    ticks++;
}

static void test_many_timers(void **state)
{
    tw_env *env = TW_ENV(state);
    enum { N = 2000 };
    static tw_handle h[N];
    ticks = 0;
    for (int i = 0; i < N; i++)
        h[i] = tw_call_later(env->loop, TW_MS(1 + (i * 7919) % 97), count_tick,
                             env->loop);
    int cancelled = 0;
    for (int i = 0; i < N; i += 3) {
        assert_int_equal(tw_handle_cancel(env->loop, h[i]), 0);
        cancelled++;
    }
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_int_equal(ticks, N - cancelled);
    for (int i = 0; i < N; i++)
        assert_false(tw_handle_pending(env->loop, h[i]));
}

/* Real backend only: a thread hands work to the loop. */
struct ts_arg {
    tw_loop *loop;
    int n;
    int failed; /* the worker's calls that did not return 0 */
};

static void ts_count(void *p)
{
    struct ts_arg *a = p;
    if (++a->n == 100)
        tw_loop_stop(a->loop);
}

static void *ts_thread(void *p)
{
    struct ts_arg *a = p;
    /* No cmocka assert here: those belong to the test's own thread. */
    for (int i = 0; i < 100; i++)
        if (tw_call_soon_threadsafe(a->loop, ts_count, a) != 0)
            a->failed++;
    return NULL;
}

static void test_call_soon_threadsafe_real(void **state)
{
    tw_env *env = TW_ENV(state);
    struct ts_arg a = {env->loop, 0, 0};
    /* a far timer keeps the loop waiting until the thread's calls arrive */
    tw_handle guard = tw_call_later(env->loop, TW_SEC(60), count_tick, env->loop);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, ts_thread, &a), 0);
    assert_int_equal(tw_loop_run(env->loop), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.failed, 0);
    assert_int_equal(a.n, 100);
    assert_int_equal(tw_handle_cancel(env->loop, guard), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_call_soon_is_fifo),
        TW_MATRIX(test_call_soon_from_callback_waits_a_turn),
        TW_MATRIX(test_timers_run_in_time_order),
        TW_MATRIX(test_timer_never_early),
        TW_MATRIX(test_cancel),
        TW_MATRIX(test_run_returns_when_idle),
        TW_MATRIX(test_run_for_advances_time),
        TW_MATRIX(test_stop_from_callback),
        TW_MATRIX(test_backend_names),
        TW_MATRIX(test_many_timers),
        {"test_call_soon_threadsafe[real]", test_call_soon_threadsafe_real,
         tw_env_setup, tw_env_teardown, (void *)tw_backend_real},
    };
    return cmocka_run_group_tests_name("loop (backend matrix)", tests, NULL, NULL);
}
