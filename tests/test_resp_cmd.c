/* tests/test_resp_cmd.c - every command's replies, byte for byte, as
 * Redis 7 gives them (the texts were checked against redis-server 7.0),
 * the keyspace under them, its expiry on a clock the test moves, and its
 * limits.
 *
 * Map: the fixture (one keyspace, a clock, requests written inline);
 * connection commands; strings; counters; keys and expiry; server
 * commands; errors worded as Redis words them; the keyspace's limits and
 * reclaiming.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/resp.h"

/* ---- the fixture ---- */

typedef struct fx {
    tw_resp_store *st;
    tw_resp_info info;
    tw_resp_ctx cx;
    tw_resp_buf out;
    uint8_t scratch[4096];
} fx;

static fx *fx_new(const tw_resp_store_opts *o)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->st = tw_resp_store_new(o);
    assert_non_null(f->st);
    snprintf(f->info.run_id, sizeof f->info.run_id, "%040d", 7);
    f->info.maxclients = 10000;
    f->info.limits = tw_resp_limits_resolve(NULL);
    f->info.bytes_max = o ? o->bytes_max : 0;
    f->cx = (tw_resp_ctx){.store = f->st, .info = &f->info,
                          .now = TW_SEC(1000), .client_id = 5};
    tw_resp_buf_init(&f->out, 0);
    return f;
}

static void fx_free(fx *f)
{
    tw_resp_buf_fini(&f->out);
    tw_resp_store_free(f->st);
    free(f);
}

/* Run one request given as an inline line (quotes and \xHH escapes as
 * redis-cli reads them) or as RESP, and compare the reply's bytes. */
static void check(fx *f, const char *req, const char *want, size_t wlen, int line)
{
    tw_resp_parser ps;
    tw_resp_parser_init(&ps, NULL, f->scratch, sizeof f->scratch);
    tw_resp_arg argv[64];
    size_t argc;
    char text[4096];
    int n = snprintf(text, sizeof text, "%s%s", req, req[0] == '*' ? "" : "\r\n");
    int rc = tw_resp_parse(&ps, (const uint8_t *)text, (size_t)n, argv, 64, &argc);
    if (rc != n)
        fail_msg("line %d: '%s' did not parse (%d)", line, req, rc);
    f->out.len = 0;
    f->cx.quit = false;
    tw_resp_exec(&f->cx, argv, argc, &f->out);
    if (f->out.len != wlen || memcmp(f->out.data, want, wlen) != 0)
        fail_msg("line %d: %s\n  replied %.*s\n  wanted  %.*s", line, req,
                 (int)f->out.len, (const char *)f->out.data, (int)wlen, want);
}

#define R(f, req, want) check(f, req, want, sizeof want - 1, __LINE__)

static void advance_ms(fx *f, int64_t ms) { f->cx.now += ms * TW_NS_PER_MS; }

/* ---- connection commands ---- */

static void test_connection_commands(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "PING", "+PONG\r\n");
    R(f, "ping hello", "$5\r\nhello\r\n");
    R(f, "ping a b", "-ERR wrong number of arguments for 'ping' command\r\n");
    R(f, "ECHO \"two words\"", "$9\r\ntwo words\r\n");
    R(f, "echo \"\"", "$0\r\n\r\n");
    R(f, "SELECT 0", "+OK\r\n");
    R(f, "SELECT 1", "-ERR DB index is out of range\r\n");
    R(f, "SELECT x", "-ERR value is not an integer or out of range\r\n");
    R(f, "HELLO 2",
      "*14\r\n$6\r\nserver\r\n$4\r\ntwin\r\n$7\r\nversion\r\n$5\r\n0.1.0\r\n"
      "$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n"
      "$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n");
    R(f, "HELLO 3", "-NOPROTO unsupported protocol version\r\n");
    R(f, "HELLO 1", "-NOPROTO unsupported protocol version\r\n");
    R(f, "HELLO x", "-ERR Protocol version is not an integer or out of range\r\n");
    R(f, "HELLO 2 AUTH bob pw", "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    R(f, "HELLO 2 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n");
    R(f, "QUIT", "+OK\r\n");
    assert_true(f->cx.quit);
    fx_free(f);
}

/* ---- strings ---- */

static void test_get_set_and_options(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "GET k", "$-1\r\n");
    R(f, "SET k v", "+OK\r\n");
    R(f, "GET k", "$1\r\nv\r\n");
    R(f, "SET k \"\\x00\\r\\n\"", "+OK\r\n");
    R(f, "GET k", "$3\r\n\x00\r\n\r\n");
    R(f, "SET k v NX", "$-1\r\n");
    R(f, "SET n v XX", "$-1\r\n");
    R(f, "SET n v1 NX", "+OK\r\n");
    R(f, "SET n v2 xx", "+OK\r\n");
    R(f, "SET n v3 GET", "$2\r\nv2\r\n");
    R(f, "SET z v GET", "$-1\r\n");
    R(f, "SET n v4 NX GET", "$2\r\nv3\r\n");
    R(f, "GET n", "$2\r\nv3\r\n");
    R(f, "SET k v NX XX", "-ERR syntax error\r\n");
    R(f, "SET k v EX 1 PX 5", "-ERR syntax error\r\n");
    R(f, "SET k v EX", "-ERR syntax error\r\n");
    R(f, "SET k v foo", "-ERR syntax error\r\n");
    R(f, "SET k v KEEPTTL EX 5", "-ERR syntax error\r\n");
    R(f, "SET k v EX 0", "-ERR invalid expire time in 'set' command\r\n");
    R(f, "SET k v PX -5", "-ERR invalid expire time in 'set' command\r\n");
    R(f, "SET k v EX 99999999999999999", "-ERR invalid expire time in 'set' command\r\n");
    R(f, "SET k v EX x", "-ERR value is not an integer or out of range\r\n");
    R(f, "SET k v EX 1 EX 2", "+OK\r\n"); /* Redis lets EX repeat */
    R(f, "TTL k", ":2\r\n");
    R(f, "SET k v2 KEEPTTL", "+OK\r\n");
    R(f, "TTL k", ":2\r\n");
    R(f, "SET k v3", "+OK\r\n");
    R(f, "TTL k", ":-1\r\n");
    R(f, "MSET a 1 b 2", "+OK\r\n");
    R(f, "MGET a nope b", "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
    R(f, "MSET a", "-ERR wrong number of arguments for 'mset' command\r\n");
    R(f, "MSET a 1 b", "-ERR wrong number of arguments for 'mset' command\r\n");
    fx_free(f);
}

static void test_counters(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "INCR c", ":1\r\n");
    R(f, "INCRBY c 41", ":42\r\n");
    R(f, "DECR c", ":41\r\n");
    R(f, "DECRBY c 50", ":-9\r\n");
    R(f, "GET c", "$2\r\n-9\r\n");
    R(f, "SET s abc", "+OK\r\n");
    R(f, "INCR s", "-ERR value is not an integer or out of range\r\n");
    R(f, "SET s \" 1\"", "+OK\r\n");
    R(f, "INCR s", "-ERR value is not an integer or out of range\r\n");
    R(f, "SET s 01", "+OK\r\n");
    R(f, "INCR s", "-ERR value is not an integer or out of range\r\n");
    R(f, "INCRBY c x", "-ERR value is not an integer or out of range\r\n");
    R(f, "SET m 9223372036854775807", "+OK\r\n");
    R(f, "INCR m", "-ERR increment or decrement would overflow\r\n");
    R(f, "SET m -9223372036854775808", "+OK\r\n");
    R(f, "DECR m", "-ERR increment or decrement would overflow\r\n");
    R(f, "DECRBY q -9223372036854775808", "-ERR decrement would overflow\r\n");
    R(f, "INCRBY q 9223372036854775808", "-ERR value is not an integer or out of range\r\n");
    /* INCR keeps the key's expiry, as Redis's does. */
    R(f, "SET e 1 EX 100", "+OK\r\n");
    R(f, "INCR e", ":2\r\n");
    R(f, "TTL e", ":100\r\n");
    fx_free(f);
}

/* ---- keys and expiry ---- */

static void test_del_exists(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "MSET a 1 b 2", "+OK\r\n");
    R(f, "EXISTS a a b x", ":3\r\n");
    R(f, "DEL a a x", ":1\r\n");
    R(f, "EXISTS a", ":0\r\n");
    R(f, "DBSIZE", ":1\r\n");
    R(f, "FLUSHALL", "+OK\r\n");
    R(f, "DBSIZE", ":0\r\n");
    R(f, "FLUSHALL ASYNC", "+OK\r\n");
    R(f, "FLUSHALL sync", "+OK\r\n");
    R(f, "FLUSHALL foo", "-ERR syntax error\r\n");
    fx_free(f);
}

static void test_expiry_on_the_loop_clock(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "SET k v PX 1500", "+OK\r\n");
    R(f, "PTTL k", ":1500\r\n");
    R(f, "TTL k", ":2\r\n"); /* rounded, as Redis rounds */
    advance_ms(f, 1000);
    R(f, "TTL k", ":1\r\n");
    R(f, "PTTL k", ":500\r\n");
    advance_ms(f, 500);
    R(f, "GET k", "$1\r\nv\r\n"); /* gone only once now > expiry */
    advance_ms(f, 1);
    R(f, "GET k", "$-1\r\n");
    R(f, "TTL k", ":-2\r\n");
    R(f, "PTTL k", ":-2\r\n");
    R(f, "SET k v", "+OK\r\n");
    R(f, "EXPIRE k 10", ":1\r\n");
    R(f, "TTL k", ":10\r\n");
    R(f, "PEXPIRE k 100", ":1\r\n");
    R(f, "PTTL k", ":100\r\n");
    R(f, "EXPIRE nope 10", ":0\r\n");
    R(f, "EXPIRE k x", "-ERR value is not an integer or out of range\r\n");
    R(f, "EXPIRE k 99999999999999999", "-ERR invalid expire time in 'expire' command\r\n");
    R(f, "PEXPIRE k 9223372036854775807", "-ERR invalid expire time in 'pexpire' command\r\n");
    R(f, "EXPIRE k 10 NX", ":0\r\n");
    R(f, "EXPIRE k 10 XX", ":1\r\n");
    R(f, "EXPIRE k 20 GT", ":1\r\n");
    R(f, "EXPIRE k 5 GT", ":0\r\n");
    R(f, "EXPIRE k 5 LT", ":1\r\n");
    R(f, "TTL k", ":5\r\n");
    R(f, "EXPIRE k 10 NX XX", "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
    R(f, "EXPIRE k 10 GT LT", "-ERR GT and LT options at the same time are not compatible\r\n");
    R(f, "EXPIRE k 10 foo", "-ERR Unsupported option foo\r\n");
    R(f, "SET p v", "+OK\r\n");
    R(f, "EXPIRE p 1 GT", ":0\r\n"); /* no expiry counts as infinite */
    R(f, "EXPIRE p 1 LT", ":1\r\n");
    R(f, "EXPIRE k -1", ":1\r\n"); /* in the past: deleted now */
    R(f, "EXISTS k", ":0\r\n");
    fx_free(f);
}

/* What a command hands on for an append-only file to replay: written
 * as RESP into one string, each command on its own. */
static void keep_propagated(void *arg, const tw_resp_arg *argv, size_t argc)
{
    tw_resp_buf *b = arg;
    tw_resp_add_array(b, (int64_t)argc);
    for (size_t i = 0; i < argc; i++)
        tw_resp_add_bulk(b, argv[i].p, argv[i].len);
}

static void test_changes_are_handed_on_replayable(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    tw_resp_buf log;
    tw_resp_buf_init(&log, 0);
    f->cx.propagate = keep_propagated;
    f->cx.propagate_arg = &log;
    /* f's clock reads 1,000,000 ms */
    R(f, "SET a 1", "+OK\r\n");
    R(f, "GET a", "$1\r\n1\r\n");                 /* reads: nothing */
    R(f, "SET a 2 NX", "$-1\r\n");                  /* no change: nothing */
    R(f, "DEL nope", ":0\r\n");
    R(f, "INCR a", ":2\r\n");
    R(f, "SET b v EX 10", "+OK\r\n");                /* as an absolute time */
    R(f, "SET c v PX 5 GET", "$-1\r\n");
    R(f, "EXPIRE a 20", ":1\r\n");
    R(f, "PEXPIRE b -5", ":1\r\n");                  /* in the past: DEL */
    R(f, "SET d v PXAT 1000300", "+OK\r\n");
    R(f, "PTTL d", ":300\r\n");
    R(f, "EXPIREAT d 1001", ":1\r\n");
    R(f, "PTTL d", ":1000\r\n");
    R(f, "PEXPIREAT nope 5", ":0\r\n");
    R(f, "FLUSHALL", "+OK\r\n");
    static const char want[] =
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1010000\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1000005\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\na\r\n$7\r\n1020000\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1000300\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nd\r\n$7\r\n1001000\r\n"
        "*1\r\n$8\r\nFLUSHALL\r\n";
    assert_int_equal(log.len, sizeof want - 1);
    assert_memory_equal(log.data, want, sizeof want - 1);
    tw_resp_buf_fini(&log);
    fx_free(f);
}

/* ---- server commands ---- */

static void test_server_commands(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    char want[64];
    int n = snprintf(want, sizeof want, ":%zu\r\n", tw_resp_command_count());
    check(f, "COMMAND COUNT", want, (size_t)n, __LINE__);
    R(f, "COMMAND INFO get nosuch",
      "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
      "*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n"
      "*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
      "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
      "*2\r\n$5\r\nindex\r\n:1\r\n"
      "$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n"
      "*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n"
      "*0\r\n$-1\r\n");
    R(f, "COMMAND DOCS get",
      "*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n$19\r\nThe value of a key.\r\n"
      "$5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n");
    R(f, "CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
    R(f, "CONFIG GET appendonly nosuch",
      "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
    R(f, "CONFIG SET a b", "-ERR Unknown option or number of arguments for CONFIG SET - 'a'\r\n");
    f->out.len = 0;
    tw_resp_arg info[1] = {{(const uint8_t *)"INFO", 4}};
    tw_resp_exec(&f->cx, info, 1, &f->out);
    tw_resp_add_raw(&f->out, "", 1);
    assert_non_null(strstr((char *)f->out.data,
                           "run_id:0000000000000000000000000000000000000007\r\n"));
    assert_non_null(strstr((char *)f->out.data, "# Keyspace\r\n"));
    fx_free(f);
}

/* ---- errors worded as Redis words them ---- */

static void test_unknown_and_arity(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "foo a b", "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
    R(f, "FOO", "-ERR unknown command 'FOO', with args beginning with: \r\n");
    R(f, "*2\r\n$3\r\nfoo\r\n$4\r\na\r\nb\r\n",
      "-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n");
    /* Arguments are listed while the list is under 128 bytes. */
    char req[400], want[400];
    char x[201];
    memset(x, 'x', 200);
    x[200] = '\0';
    snprintf(req, sizeof req, "foo %s y", x);
    int n = snprintf(want, sizeof want,
                     "-ERR unknown command 'foo', with args beginning with: '%.128s' \r\n", x);
    check(f, req, want, (size_t)n, __LINE__);
    R(f, "get", "-ERR wrong number of arguments for 'get' command\r\n");
    R(f, "GET a b", "-ERR wrong number of arguments for 'get' command\r\n");
    R(f, "Set k", "-ERR wrong number of arguments for 'set' command\r\n");
    /* Every command, one argument short of its arity. */
    for (size_t i = 0; i < tw_resp_command_count(); i++) {
        const char *name = tw_resp_command_name(i);
        f->out.len = 0;
        tw_resp_arg only[1] = {{(const uint8_t *)name, strlen(name)}};
        tw_resp_arg two[3] = {only[0], {(const uint8_t *)"a", 1}, {(const uint8_t *)"b", 1}};
        /* commands taking no argument get two; the others none */
        bool none = !strcmp(name, "dbsize") || !strcmp(name, "randomkey") ||
                    !strcmp(name, "reset") || !strcmp(name, "time");
        tw_resp_exec(&f->cx, none ? two : only, none ? 2 : 1, &f->out);
        char w[128];
        int wl = snprintf(w, sizeof w, "-ERR wrong number of arguments for '%s' command\r\n", name);
        bool fine_alone = !strcmp(name, "ping") || !strcmp(name, "quit") ||
                          !strcmp(name, "flushall") || !strcmp(name, "flushdb") ||
                          !strcmp(name, "hello") ||
                          !strcmp(name, "command") || !strcmp(name, "info");
        if (fine_alone)
            continue;
        if (f->out.len != (size_t)wl || memcmp(f->out.data, w, (size_t)wl))
            fail_msg("%s: %.*s", name, (int)f->out.len, (const char *)f->out.data);
    }
    fx_free(f);
}

/* ---- the keyspace's limits and reclaiming ---- */

static void test_store_limits(void **state)
{
    (void)state;
    tw_resp_store_opts o = {.keys_max = 2};
    fx *f = fx_new(&o);
    R(f, "SET a 1", "+OK\r\n");
    R(f, "SET b 1", "+OK\r\n");
    R(f, "SET c 1", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    R(f, "SET a 2", "+OK\r\n"); /* an existing key may change */
    R(f, "DEL b", ":1\r\n");
    R(f, "SET c 1", "+OK\r\n");
    fx_free(f);

    o = (tw_resp_store_opts){.bytes_max = 2048};
    f = fx_new(&o);
    char big[3000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char req[3100];
    snprintf(req, sizeof req, "SET a %s", big);
    R(f, "SET small 1", "+OK\r\n");
    static const char oom[] = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    check(f, req, oom, sizeof oom - 1, __LINE__);
    R(f, "GET a", "$-1\r\n");
    assert_true(tw_resp_store_bytes(f->st) <= 2048);
    fx_free(f);
}

static void test_store_expire_step_and_growth(void **state)
{
    (void)state;
    tw_resp_store *st = tw_resp_store_new(NULL);
    char k[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(k, sizeof k, "key:%d", i);
        assert_int_equal(tw_resp_store_set(st, k, (size_t)n, k, (size_t)n,
                                           i % 2 ? 100 : TW_RESP_NO_EXPIRY, false, 0), 0);
    }
    assert_int_equal(tw_resp_store_count(st), 10000);
    assert_int_equal(tw_resp_store_volatile(st), 5000);
    const uint8_t *v;
    size_t vlen;
    assert_true(tw_resp_store_get(st, "key:9998", 8, 50, &v, &vlen));
    assert_memory_equal(v, "key:9998", 8);
    /* Nothing expired yet; then half of it, reclaimed a bounded bit at a
     * time without anyone asking. */
    assert_int_equal(tw_resp_store_expire_step(st, 100, 1 << 20), 0);
    size_t gone = 0;
    for (int i = 0; i < 100 && tw_resp_store_volatile(st); i++)
        gone += tw_resp_store_expire_step(st, 101, 1024);
    assert_int_equal(gone, 5000);
    assert_int_equal(tw_resp_store_count(st), 5000);
    assert_false(tw_resp_store_get(st, "key:9999", 8, 101, &v, &vlen));
    /* A value that fits is rewritten in place: the bytes do not change. */
    size_t before = tw_resp_store_bytes(st);
    assert_int_equal(tw_resp_store_set(st, "key:0", 5, "abcde", 5,
                                       TW_RESP_NO_EXPIRY, false, 0), 0);
    assert_int_equal(tw_resp_store_bytes(st), before);
    tw_resp_store_flush(st);
    assert_int_equal(tw_resp_store_count(st), 0);
    tw_resp_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_connection_commands),
        TW_TEST(test_get_set_and_options),
        TW_TEST(test_counters),
        TW_TEST(test_del_exists),
        TW_TEST(test_expiry_on_the_loop_clock),
        TW_TEST(test_changes_are_handed_on_replayable),
        TW_TEST(test_server_commands),
        TW_TEST(test_unknown_and_arity),
        TW_TEST(test_store_limits),
        TW_TEST(test_store_expire_step_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
