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
#include <inttypes.h>
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
    /* The rest of the family: relative times made absolute, a float's
     * result made exact, a past time made a DEL; what changes nothing is
     * not handed on. */
    R(f, "SETEX e 10 v", "+OK\r\n");
    R(f, "PSETEX p 500 v", "+OK\r\n");
    R(f, "GETEX e PX 2000", "$1\r\nv\r\n");
    R(f, "GETEX e", "$1\r\nv\r\n");
    R(f, "GETEX e PERSIST", "$1\r\nv\r\n");
    R(f, "GETEX e PERSIST", "$1\r\nv\r\n");          /* none left: nothing */
    R(f, "GETEX e EXAT 999", "$1\r\nv\r\n");        /* past: DEL */
    R(f, "INCRBYFLOAT x 0.1", "$3\r\n0.1\r\n");
    R(f, "GETDEL x", "$3\r\n0.1\r\n");
    R(f, "GETDEL x", "$-1\r\n");
    R(f, "SETNX p v", ":0\r\n");
    R(f, "MSETNX p v q w", ":0\r\n");
    R(f, "SETRANGE p 0 \"\"", ":1\r\n");
    R(f, "APPEND p \"\"", ":1\r\n");
    R(f, "PERSIST nope", ":0\r\n");
    R(f, "RENAME p p", "+OK\r\n");
    R(f, "COPY p e", ":1\r\n");
    R(f, "COPY p e", ":0\r\n");
    R(f, "SETBIT p 0 1", ":0\r\n");
    static const char want[] =
        "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
        "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1010000\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1000005\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\na\r\n$7\r\n1020000\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\nd\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1000300\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nd\r\n$7\r\n1001000\r\n"
        "*1\r\n$8\r\nFLUSHALL\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\ne\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1010000\r\n"
        "*5\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\nv\r\n$4\r\nPXAT\r\n$7\r\n1000500\r\n"
        "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\ne\r\n$7\r\n1002000\r\n"
        "*2\r\n$7\r\nPERSIST\r\n$1\r\ne\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\ne\r\n"
        "*4\r\n$3\r\nSET\r\n$1\r\nx\r\n$3\r\n0.1\r\n$7\r\nKEEPTTL\r\n"
        "*2\r\n$3\r\nDEL\r\n$1\r\nx\r\n"
        "*3\r\n$4\r\nCOPY\r\n$1\r\np\r\n$1\r\ne\r\n"
        "*4\r\n$6\r\nSETBIT\r\n$1\r\np\r\n$1\r\n0\r\n$1\r\n1\r\n";
    if (log.len != sizeof want - 1 || memcmp(log.data, want, log.len))
        fail_msg("handed on:\n%.*s", (int)log.len, (const char *)log.data);
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

/* ---- INFO, CONFIG, COMMAND, CLIENT, TIME, as a client reads them ---- */

/* Run one inline request; its reply is in f->out. */
static void run_line(fx *f, const char *req)
{
    tw_resp_parser ps;
    tw_resp_parser_init(&ps, NULL, f->scratch, sizeof f->scratch);
    tw_resp_arg argv[16];
    size_t argc;
    char text[256];
    int n = snprintf(text, sizeof text, "%s\r\n", req);
    assert_int_equal(tw_resp_parse(&ps, (const uint8_t *)text, (size_t)n, argv, 16, &argc), n);
    f->out.len = 0;
    tw_resp_exec(&f->cx, argv, argc, &f->out);
}

/* The text of a bulk reply, NUL-terminated. */
static const char *bulk_text(fx *f, const char *req)
{
    run_line(f, req);
    tw_resp_add_raw(&f->out, "", 1);
    assert_int_equal(f->out.data[0], '$');
    return (const char *)f->out.data;
}

/* The element count of an array reply, checked to be one whole reply. */
static int64_t array_len(fx *f, const char *req)
{
    run_line(f, req);
    tw_resp_reply r;
    assert_int_equal(tw_resp_reply_parse(f->out.data, f->out.len, &r, NULL), (int)f->out.len);
    assert_int_equal(r.type, '*');
    return r.integer;
}

static void test_info_sections(void **state)
{
    (void)state;
    uint64_t calls[TW_RESP_COMMANDS_MAX] = {0};
    fx *f = fx_new(NULL);
    f->info.calls = calls;
    f->info.epoch_ms = TW_EPOCH_VIRTUAL / TW_NS_PER_MS;
    R(f, "SET k v EX 100", "+OK\r\n");
    R(f, "GET k", "$1\r\nv\r\n");
    R(f, "GET k", "$1\r\nv\r\n");
    const char *t = bulk_text(f, "INFO");
    static const char *const want[] = {
        "# Server\r\nredis_version:7.0.15\r\ntwin_version:0.1.0\r\n",
        "redis_mode:standalone\r\n", "run_id:0000000000000000000000000000000000000007\r\n",
        "server_time_usec:1704068200000000\r\n", "uptime_in_seconds:1000\r\n",
        "# Clients\r\nconnected_clients:0\r\nmaxclients:10000\r\n",
        "# Memory\r\nused_memory:", "mem_allocator:libc\r\n",
        "maxmemory_policy:noeviction\r\n", "# Stats\r\n", "total_commands_processed:",
        "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n",
        "# CPU\r\nused_cpu_sys:0.000000\r\n",
        "# Keyspace\r\ndb0:keys=1,expires=1,avg_ttl=0",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t, want[i]))
            fail_msg("INFO lacks '%s':\n%s", want[i], t);
    assert_null(strstr(t, "# Commandstats"));
    assert_null(strstr(t, "\r\n\r\n\r\n"));
    t = bulk_text(f, "INFO all");
    assert_non_null(strstr(t, "# Server\r\n"));
    assert_non_null(strstr(t, "# Commandstats\r\ncmdstat_get:calls=2,"));
    assert_non_null(strstr(t, "cmdstat_set:calls=1,"));
    assert_non_null(strstr(bulk_text(f, "INFO everything"), "cmdstat_info:calls=3,"));
    t = bulk_text(f, "INFO keyspace CPU");
    assert_non_null(strstr(t, "# CPU\r\n"));
    assert_non_null(strstr(t, "# Keyspace\r\n"));
    assert_null(strstr(t, "# Server"));
    assert_non_null(strstr(bulk_text(f, "INFO commandstats"), "cmdstat_info:calls=5,"));
    R(f, "INFO nosuch", "$0\r\n\r\n");
    fx_free(f);
}

/* CONFIG GET: globs (case folded, as Redis matches setting names), each
 * setting once however many patterns match it; CONFIG SET maxmemory is
 * what the limits then see. */
static void test_config_get_globs_and_set(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "CONFIG GET max*",
      "*6\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
      "$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
    R(f, "CONFIG GET maxmemory* maxmemor? MAXMEMORY",
      "*4\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n");
    R(f, "CONFIG GET MAXMEMORY maxmemor?",
      "*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n"); /* named as first asked */
    R(f, "CONFIG GET M[A-Z]XCLIENT[^a]", "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
    R(f, "CONFIG GET nope*", "*0\r\n");
    assert_int_equal(array_len(f, "CONFIG GET *"), 18);
    R(f, "CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n");
    R(f, "CONFIG SET maxmemory 100", "+OK\r\n"); /* the empty table is more */
    R(f, "CONFIG GET maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$3\r\n100\r\n");
    R(f, "SET k v", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    R(f, "APPEND k v", "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
    R(f, "GET k", "$-1\r\n");
    R(f, "CONFIG SET maxmemory 0", "+OK\r\n");
    R(f, "SET k v", "+OK\r\n");
    R(f, "CONFIG SET maxclients 5",
      "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - can't set immutable config\r\n");
    R(f, "CONFIG SET maxmemory 1 maxmemory", "-ERR wrong number of arguments for 'config|set' command\r\n");
    fx_free(f);
}

static void test_command_subcommands(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    R(f, "COMMAND COUNT x", "-ERR wrong number of arguments for 'command|count' command\r\n");
    R(f, "COMMAND GETKEYS rename a b", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    R(f, "COMMAND GETKEYS mset a 1 b 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    R(f, "COMMAND GETKEYS ping x", "-ERR The command has no key arguments\r\n");
    R(f, "COMMAND GETKEYS get a b", "-ERR Invalid number of arguments specified for command\r\n");
    R(f, "COMMAND DOCS nosuch", "*0\r\n");
    R(f, "COMMAND LIST FILTERBY x", "-ERR syntax error\r\n");
    fx_free(f);
}

/* COMMAND with no subcommand, INFO with no names, LIST, DOCS with no
 * names: every command of the table, each once. */
static void test_command_lists_every_command(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    int64_t all = (int64_t)tw_resp_command_count();
    assert_int_equal(array_len(f, "COMMAND"), all);
    assert_int_equal(array_len(f, "COMMAND INFO"), all);
    assert_int_equal(array_len(f, "COMMAND LIST"), all);
    assert_int_equal(array_len(f, "COMMAND DOCS"), 2 * all);
    assert_int_equal(array_len(f, "COMMAND INFO get nosuch set"), 3);
    fx_free(f);
}

static void test_client_commands(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    tw_resp_client me = {.id = 5, .addr = "10.0.0.2:4000", .laddr = "10.0.0.1:6379"};
    f->cx.client = &me;
    R(f, "CLIENT ID", ":5\r\n");
    R(f, "CLIENT GETNAME", "$-1\r\n");
    R(f, "CLIENT SETNAME \"two words\"",
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    R(f, "HELLO 2 SETNAME \"two words\"",
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    R(f, "HELLO 2 SETNAME \"\\x01\"",
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    R(f, "CLIENT GETNAME", "$-1\r\n");
    f->out.len = 0;
    R(f, "CLIENT SETNAME app", "+OK\r\n");
    R(f, "CLIENT GETNAME", "$3\r\napp\r\n");
    const char *t = bulk_text(f, "CLIENT INFO");
    assert_non_null(strstr(t, "id=5 addr=10.0.0.2:4000 laddr=10.0.0.1:6379 fd=-1 name=app "));
    assert_non_null(strstr(t, " cmd=client "));
    t = bulk_text(f, "CLIENT LIST");
    assert_non_null(strstr(t, "id=5 addr=10.0.0.2:4000 "));
    /* A name at the limit, and one past it. */
    char req[400];
    char name[TW_RESP_NAME_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[TW_RESP_NAME_MAX] = '\0';
    snprintf(req, sizeof req, "CLIENT SETNAME %s", name);
    R(f, req, "+OK\r\n");
    name[TW_RESP_NAME_MAX] = 'n';
    name[TW_RESP_NAME_MAX + 1] = '\0';
    snprintf(req, sizeof req, "CLIENT SETNAME %s", name);
    R(f, req, "-ERR Client names are limited to 256 bytes\r\n");
    /* Replies off, back on; a skip drops the next reply only. */
    R(f, "CLIENT REPLY OFF", "");
    R(f, "PING", "");
    R(f, "GET", "");
    R(f, "CLIENT REPLY ON", "+OK\r\n");
    R(f, "CLIENT REPLY SKIP", "");
    R(f, "PING", "");
    R(f, "PING", "+PONG\r\n");
    R(f, "RESET", "+RESET\r\n");
    R(f, "CLIENT GETNAME", "$-1\r\n");
    R(f, "CLIENT KILL 10.0.0.2:4000", "+OK\r\n"); /* itself: after the reply */
    assert_true(f->cx.quit);
    R(f, "CLIENT KILL ID 5", ":0\r\n");          /* SKIPME yes by default */
    R(f, "CLIENT KILL ID 5 SKIPME no", ":1\r\n");
    assert_true(f->cx.quit);
    fx_free(f);
}

/* TIME and the absolute expiry times read the keyspace clock: the loop's
 * time on the server's epoch. */
static void test_time_is_the_epoch_plus_the_loop(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    f->info.epoch_ms = TW_EPOCH_VIRTUAL / TW_NS_PER_MS;
    f->cx.now = TW_SEC(1000) + 123456789;
    R(f, "TIME", "*2\r\n$10\r\n1704068200\r\n$6\r\n123456\r\n");
    R(f, "SET k v EX 10", "+OK\r\n");
    R(f, "EXPIRETIME k", ":1704068210\r\n");
    R(f, "PEXPIRETIME k", ":1704068210123\r\n");
    /* The boundary of Redis's overflow check moves with the date. */
    R(f, "EXPIRE k 9223370399119966", "-ERR invalid expire time in 'expire' command\r\n");
    f->info.epoch_ms = 0;
    R(f, "EXPIRE k 9223370399119966", ":1\r\n");
    fx_free(f);
}

/* SCAN sees every key once, in an order that follows the hash seed and
 * nothing else; RANDOMKEY's draws repeat for the same seed. */
static void scan_all(fx *f, int64_t count, char *seen, size_t nkeys, char *order, size_t cap)
{
    char cursor[24] = "0";
    size_t olen = 0;
    do {
        char req[64];
        snprintf(req, sizeof req, "SCAN %s COUNT %" PRId64, cursor, count);
        tw_resp_parser ps;
        tw_resp_parser_init(&ps, NULL, f->scratch, sizeof f->scratch);
        tw_resp_arg argv[8];
        size_t argc;
        char text[80];
        int n = snprintf(text, sizeof text, "%s\r\n", req);
        assert_int_equal(tw_resp_parse(&ps, (const uint8_t *)text, (size_t)n, argv, 8, &argc), n);
        f->out.len = 0;
        tw_resp_exec(&f->cx, argv, argc, &f->out);
        tw_resp_reply top, cur, keys, k;
        assert_true(tw_resp_reply_parse(f->out.data, f->out.len, &top, NULL) > 0);
        int used = tw_resp_reply_parse(top.str, top.len, &cur, NULL);
        snprintf(cursor, sizeof cursor, "%.*s", (int)cur.len, (const char *)cur.str);
        assert_true(tw_resp_reply_parse(top.str + used, top.len - (size_t)used, &keys, NULL) > 0);
        const uint8_t *p = keys.str;
        for (int64_t i = 0; i < keys.integer; i++) {
            int kl = tw_resp_reply_parse(p, keys.len - (size_t)(p - keys.str), &k, NULL);
            assert_true(kl > 0);
            int idx = atoi((const char *)k.str + 1);
            assert_true(idx >= 0 && (size_t)idx < nkeys);
            assert_int_equal(seen[idx], 0);
            seen[idx] = 1;
            olen += (size_t)snprintf(order + olen, cap - olen, "%d,", idx);
            p += kl;
        }
    } while (strcmp(cursor, "0"));
}

static void test_scan_and_randomkey_follow_the_seed(void **state)
{
    (void)state;
    enum { N = 500 };
    static char order[3][N * 8];
    char rnd[3][64];
    for (int run = 0; run < 3; run++) {
        tw_resp_store_opts o = {.hash_seed = run == 2 ? 99 : 7};
        fx *f = fx_new(&o);
        R(f, "RANDOMKEY", "$-1\r\n");
        for (int i = 0; i < N; i++) {
            char req[40];
            snprintf(req, sizeof req, "SET k%d v", i);
            R(f, req, "+OK\r\n");
        }
        char seen[N] = {0};
        scan_all(f, run ? 7 : 1000, seen, N, order[run], sizeof order[run]);
        for (int i = 0; i < N; i++)
            assert_int_equal(seen[i], 1);
        size_t rl = 0;
        for (int i = 0; i < 5; i++) {
            f->out.len = 0;
            tw_resp_arg rk[1] = {{(const uint8_t *)"RANDOMKEY", 9}};
            tw_resp_exec(&f->cx, rk, 1, &f->out);
            rl += (size_t)snprintf(rnd[run] + rl, sizeof rnd[run] - rl, "%.*s",
                                   (int)(f->out.len < 12 ? f->out.len : 12), (const char *)f->out.data);
        }
        fx_free(f);
    }
    assert_string_equal(order[0], order[1]); /* same seed, same order */
    assert_string_not_equal(order[0], order[2]);
    assert_string_not_equal(rnd[0], rnd[2]);
    /* and RANDOMKEY's draws were the same for the same seed */
    assert_string_equal(rnd[0], rnd[1]);
}

/* The longest value is proto-max-bulk-len, as Redis's: APPEND, SETRANGE
 * and SETBIT refuse to build past it with Redis's errors; and what a
 * growing value takes is counted where the byte limit sees it. */
static void test_string_limits_and_accounting(void **state)
{
    (void)state;
    fx *f = fx_new(NULL);
    f->info.limits.bulk_max = 1000;
    R(f, "SETRANGE k 990 0123456789", ":1000\r\n");
    R(f, "SETRANGE k 991 0123456789",
      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    R(f, "APPEND k x", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n");
    R(f, "SETBIT k 7999 1", ":1\r\n"); /* '9' ends in a set bit */
    R(f, "SETBIT k 8000 1", "-ERR bit offset is not an integer or out of range\r\n");
    R(f, "GETBIT k 8000", "-ERR bit offset is not an integer or out of range\r\n");
    R(f, "STRLEN k", ":1000\r\n");
    fx_free(f);

    /* Appending a byte at a time grows the value's room by doubling, and
     * the byte count holds the room, not just the bytes. */
    f = fx_new(NULL);
    size_t before = tw_resp_store_bytes(f->st);
    for (int i = 1; i <= 4096; i++) {
        char want[16];
        int n = snprintf(want, sizeof want, ":%d\r\n", i);
        check(f, "APPEND a x", want, (size_t)n, __LINE__);
    }
    size_t grown = tw_resp_store_bytes(f->st) - before;
    assert_true(grown >= 4096 + 1);        /* the key and its value */
    assert_true(grown <= 2 * 4096 + 256);  /* room at most doubled */
    R(f, "STRLEN a", ":4096\r\n");
    R(f, "GETRANGE a 4090 -1", "$6\r\nxxxxxx\r\n");
    fx_free(f);
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
        TW_TEST(test_info_sections),
        TW_TEST(test_config_get_globs_and_set),
        TW_TEST(test_command_subcommands),
        TW_TEST(test_command_lists_every_command),
        TW_TEST(test_client_commands),
        TW_TEST(test_time_is_the_epoch_plus_the_loop),
        TW_TEST(test_scan_and_randomkey_follow_the_seed),
        TW_TEST(test_string_limits_and_accounting),
        TW_TEST(test_unknown_and_arity),
        TW_TEST(test_store_limits),
        TW_TEST(test_store_expire_step_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
