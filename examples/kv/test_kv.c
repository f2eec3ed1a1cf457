/* test_kv.c - unit tests of the lkv protocol against a scripted peer
 * (twin/simtest.h): the server's answers, its state across connections,
 * and the client's retries (refused, reset, silent and closing servers),
 * each run deterministic from its seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <twin/simtest.h>
#include <twin/twin.h>

#include "kv.h"

static tw_ns now(tw_simtest *st) { return tw_sim_now(tw_simtest_sim(st)); }

/* ---- the server ---- */

static void test_server_answers(void **state)
{
    (void)state;
    kv_store *store = kv_store_new();
    tw_simtest *st = tw_simtest_new(1, NULL, kv_server_factory, store, true);
    assert_non_null(st);
    tw_simtest_send_str(st, TW_MS(1), "SET a 1\nGET a\nGE");
    tw_simtest_send_str(st, TW_MS(2), "T b\nBAD\nSET a\n");
    assert_int_equal(tw_simtest_expect_str(st,
                                           "OK\nVALUE 1\nNIL\n"
                                           "ERR unknown request\nERR unknown request\n",
                                           TW_MS(100)),
                     0);
    assert_int_equal(kv_store_size(store), 1);
    tw_simtest_close(st, now(st));
    assert_int_equal(tw_simtest_expect_closed(st, now(st) + TW_MS(100)), 0);
    tw_simtest_free(st);
    kv_store_free(store);
}

static void test_server_refuses_long_lines(void **state)
{
    (void)state;
    kv_store *store = kv_store_new();
    tw_simtest *st = tw_simtest_new(2, NULL, kv_server_factory, store, true);
    char line[KV_LINE_MAX + 10];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\0';
    tw_simtest_send_str(st, TW_MS(1), line);
    assert_int_equal(tw_simtest_expect_str(st, "ERR line too long\n", TW_MS(100)), 0);
    /* and the server hangs up */
    assert_int_equal(tw_simtest_expect_closed(st, TW_MS(200)), 0);
    tw_simtest_free(st);
    kv_store_free(store);
}

/* What one connection stored, the next one reads. */
static void test_server_state_across_connections(void **state)
{
    (void)state;
    kv_store *store = kv_store_new();
    tw_simtest *st = tw_simtest_new(3, NULL, kv_server_factory, store, true);
    tw_simtest_send_str(st, TW_MS(1), "SET color blue\n");
    assert_int_equal(tw_simtest_expect_str(st, "OK\n", TW_MS(100)), 0);
    tw_simtest_close(st, now(st));
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    tw_simtest_send_str(st, TW_MS(300), "GET color\n");
    assert_int_equal(tw_simtest_expect_str(st, "VALUE blue\n", TW_MS(400)), 0);
    assert_int_equal(tw_simtest_connections(st), 2);
    tw_simtest_close(st, now(st));
    assert_int_equal(tw_simtest_expect_closed(st, now(st) + TW_MS(100)), 0);
    tw_simtest_free(st);
    kv_store_free(store);
}

/* ---- the client ---- */

static kv_client *client(tw_simtest *st, unsigned ops)
{
    kv_client_cfg cfg = {.host = TW_SIMTEST_PEER_HOST, .port = TW_SIMTEST_PORT,
                         .ops = ops, .reply_timeout = TW_MS(100),
                         .retry = TW_MS(50)};
    kv_client *c = kv_client_start(tw_simtest_loop(st), &cfg);
    assert_non_null(c);
    return c;
}

/* Answer one round (SET then GET) on the selected connection. */
static void serve_round(tw_simtest *st, unsigned i)
{
    char want[64], reply[64];
    snprintf(want, sizeof want, "SET k%u v%u\n", i, i);
    assert_int_equal(tw_simtest_expect_str(st, want, now(st) + TW_SEC(2)), 0);
    tw_simtest_send_str(st, now(st), "OK\n");
    snprintf(want, sizeof want, "GET k%u\n", i);
    assert_int_equal(tw_simtest_expect_str(st, want, now(st) + TW_MS(100)), 0);
    snprintf(reply, sizeof reply, "VALUE v%u\n", i);
    tw_simtest_send_str(st, now(st), reply);
}

/* Refused, then reset at once, then a server that answers one round and
 * goes away in the middle of the next: the client comes back each time
 * and does that round again from its SET. */
static void test_client_retries(void **state)
{
    (void)state;
    tw_simtest *st = tw_simtest_new(4, NULL, NULL, NULL, false);
    assert_non_null(st);
    assert_int_equal(tw_simtest_refuse(st), 0);          /* connection 1 */
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    assert_int_equal(tw_simtest_reset_on_connect(st), 0); /* connection 2 */
    kv_client *c = client(st, 2);
    assert_int_equal(tw_simtest_on_conn(st, 3), 0);
    serve_round(st, 0);
    char want[] = "SET k1 v1\n";
    assert_int_equal(tw_simtest_expect_str(st, want, now(st) + TW_MS(100)), 0);
    tw_simtest_close(st, now(st)); /* before answering round 1 */
    assert_int_equal(tw_simtest_on_conn(st, 4), 0);
    serve_round(st, 1);             /* round 1 again, from its SET */
    assert_int_equal(tw_simtest_expect_closed(st, now(st) + TW_MS(100)), 0);
    assert_true(kv_client_done(c));
    assert_null(kv_client_violation(c));
    assert_int_equal(tw_simtest_connections(st), 4);
    assert_int_equal(tw_simtest_conn_peer_error(st, 1), -ECONNREFUSED);
    assert_int_equal(tw_simtest_conn_peer_error(st, 2), -ECONNRESET);
    assert_int_equal(kv_client_connections(c), 3); /* 2 (reset), 3, 4 */
    assert_int_equal(kv_client_failures(c), 3);    /* 1, 2, 3 */
    kv_client_free(c);
    tw_simtest_free(st);
}

/* A server that never answers: the reply timeout drops the connection
 * and the next one is made a retry delay later. */
static void test_client_reply_timeout(void **state)
{
    (void)state;
    tw_simtest *st = tw_simtest_new(5, NULL, NULL, NULL, false);
    kv_client *c = client(st, 1);
    assert_int_equal(tw_simtest_expect_str(st, "SET k0 v0\n", TW_MS(100)), 0);
    tw_ns asked = now(st);
    /* silence: the client gives up on this connection */
    assert_int_equal(tw_simtest_expect_closed(st, asked + TW_MS(300)), 0);
    /* the client hung up (an abort with nothing unsent is a plain close) */
    assert_int_equal(tw_simtest_conn_peer_error(st, 1), 0);
    assert_true(now(st) >= asked + TW_MS(100));
    assert_int_equal(tw_simtest_on_conn(st, 2), 0);
    serve_round(st, 0);
    assert_int_equal(tw_simtest_expect_closed(st, now(st) + TW_MS(100)), 0);
    assert_true(kv_client_done(c));
    assert_int_equal(kv_client_connections(c), 2);
    assert_int_equal(kv_client_failures(c), 1);
    kv_client_free(c);
    tw_simtest_free(st);
}

/* A GET that does not return what the SET stored is a violation, final. */
static void test_client_catches_a_wrong_value(void **state)
{
    (void)state;
    tw_simtest *st = tw_simtest_new(6, NULL, NULL, NULL, false);
    kv_client *c = client(st, 3);
    assert_int_equal(tw_simtest_expect_str(st, "SET k0 v0\n", TW_MS(100)), 0);
    tw_simtest_send_str(st, now(st), "OK\n");
    assert_int_equal(tw_simtest_expect_str(st, "GET k0\n", now(st) + TW_MS(100)), 0);
    tw_simtest_send_str(st, now(st), "VALUE stale\n");
    assert_int_equal(tw_simtest_expect_closed(st, now(st) + TW_MS(100)), 0);
    assert_false(kv_client_done(c));
    assert_non_null(kv_client_violation(c));
    assert_string_equal(kv_client_violation(c),
                        "GET k0 after its SET was acknowledged returned 'VALUE stale'");
    /* no reconnect after a wrong answer */
    tw_simtest_run_until(st, now(st) + TW_SEC(2));
    assert_int_equal(tw_simtest_connections(st), 1);
    kv_client_free(c);
    tw_simtest_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_answers),
        cmocka_unit_test(test_server_refuses_long_lines),
        cmocka_unit_test(test_server_state_across_connections),
        cmocka_unit_test(test_client_retries),
        cmocka_unit_test(test_client_reply_timeout),
        cmocka_unit_test(test_client_catches_a_wrong_value),
    };
    return cmocka_run_group_tests_name("kv", tests, NULL, NULL);
}
