/* tests/test_matrix_resp.c - the RESP server (twin/resp.h) on both
 * backends, one body each: pipelining, flow control against a client
 * that does not read, limits closing the connection after an error
 * reply, expiry on the loop's clock (virtual in the simulator), CLIENT
 * and TIME, QUIT and half-closing.
 *
 * Map: a raw client protocol; the server fixture; the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/resp.h"
#include "twin/simfault.h"

/* ---- a raw client: sends bytes, keeps every byte that comes back ---- */

typedef struct rcli {
    tw_protocol base;
    tw_transport *t;
    uint8_t *got;
    size_t len, cap;
    bool made, eof, lost;
    int err;
} rcli;

static void r_made(tw_protocol *p, tw_transport *t)
{
    rcli *c = (rcli *)p;
    c->t = t;
    c->made = true;
}

static void r_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    rcli *c = (rcli *)p;
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->got = realloc(c->got, c->cap);
        assert_non_null(c->got);
    }
    memcpy(c->got + c->len, d, n);
    c->len += n;
}

static bool r_eof(tw_protocol *p)
{
    ((rcli *)p)->eof = true;
    return false;
}

static void r_lost(tw_protocol *p, int err)
{
    rcli *c = (rcli *)p;
    c->lost = true;
    c->err = err;
}

static const tw_protocol_ops rcli_ops = {
    .connection_made = r_made,
    .data_received = r_data,
    .eof_received = r_eof,
    .connection_lost = r_lost,
};

static tw_protocol *rcli_factory(void *arg) { return arg; }

/* ---- the server fixture ---- */

typedef struct fx {
    tw_resp_server *rs;
    tw_server *srv;
    uint16_t port;
} fx;

static void fx_open(tw_env *env, fx *f, const tw_resp_server_cfg *cfg)
{
    f->rs = tw_resp_server_new(env->loop, cfg);
    assert_non_null(f->rs);
    assert_int_equal(tw_create_server(env->loop, tw_resp_server_factory, f->rs,
                                      env->host, 0, NULL, &f->srv), 0);
    f->port = tw_server_port(f->srv);
}

static void connect_cli(tw_env *env, fx *f, rcli *c)
{
    memset(c, 0, sizeof *c);
    c->base.ops = &rcli_ops;
    assert_int_equal(tw_create_connection(env->loop, rcli_factory, c, env->host,
                                          f->port, NULL), 0);
    TW_WAIT(env, c->made);
}

static void fx_close(tw_env *env, fx *f, rcli *clients, int n)
{
    for (int i = 0; i < n; i++)
        if (!clients[i].lost)
            tw_transport_close(clients[i].t);
    tw_server_close(f->srv);
    tw_resp_server_close(f->rs);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    for (int i = 0; i < n; i++)
        free(clients[i].got);
}

static void send_str(rcli *c, const char *s)
{
    assert_int_equal(tw_transport_write(c->t, s, strlen(s)), 0);
}

/* Wait for exactly these bytes (binary-safe), failing with both. */
static void expect(tw_env *env, rcli *c, const void *want, size_t n)
{
    TW_WAIT(env, c->len >= n || c->lost);
    if (c->len != n || memcmp(c->got, want, n) != 0)
        fail_msg("%s: got %zu bytes '%.*s', wanted %zu '%.*s'", env->backend,
                 c->len, (int)(c->len < 200 ? c->len : 200), (const char *)c->got,
                 n, (int)(n < 200 ? n : 200), (const char *)want);
}

#define EXPECT(env, c, s) expect(env, c, s, sizeof s - 1)

/* ---- pipelining ---- */

static void test_resp_pipelining(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c;
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c);
    size_t cap = 1 << 20, rl = 0, ql = 0;
    char *req = malloc(cap), *want = malloc(cap);
    for (int i = 0; i < 1000; i++) {
        ql += (size_t)snprintf(req + ql, cap - ql,
                               "*3\r\n$3\r\nSET\r\n$5\r\nk%04d\r\n$5\r\nv%04d\r\n"
                               "*2\r\n$3\r\nGET\r\n$5\r\nk%04d\r\nINCR n\r\n", i, i, i);
        rl += (size_t)snprintf(want + rl, cap - rl, "+OK\r\n$5\r\nv%04d\r\n:%d\r\n",
                               i, i + 1);
    }
    /* One write of 3000 requests; the server reads it in whatever pieces. */
    assert_int_equal(tw_transport_write(c.t, req, ql), 0);
    expect(env, &c, want, rl);
    tw_resp_server_stats st = tw_resp_server_get_stats(f.rs);
    assert_int_equal(st.commands, 3000);
    assert_int_equal(tw_resp_store_count(tw_resp_server_store(f.rs)), 1001);
    free(req);
    free(want);
    fx_close(env, &f, &c, 1);
}

/* ---- flow control ---- */

static void test_resp_flow_control_against_a_client_that_never_reads(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c;
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c);
    size_t vlen = 16 * 1024;
    char *v = malloc(vlen);
    for (size_t i = 0; i < vlen; i++)
        v[i] = (char)('a' + i % 26);
    char head[64];
    int h = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%zu\r\n", vlen);
    tw_transport_write(c.t, head, (size_t)h);
    tw_transport_write(c.t, v, vlen);
    send_str(&c, "\r\n");
    EXPECT(env, &c, "+OK\r\n");
    c.len = 0;
    /* Stop reading, then ask for 16 MiB of replies. */
    tw_transport_pause_reading(c.t);
    static const char get[] = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
    int n = 1000;
    for (int i = 0; i < n; i++)
        tw_transport_write(c.t, get, sizeof get - 1);
    /* QUIT waits its turn behind them; what follows it never runs. */
    send_str(&c, "QUIT\r\nPING\r\n");
    TW_WAIT(env, tw_resp_server_get_stats(f.rs).pauses > 0);
    /* Give it time to misbehave: it must stay paused, holding little. */
    tw_ns until = tw_loop_now(env->loop) + TW_MS(500);
    TW_WAIT(env, tw_loop_now(env->loop) >= until);
    tw_resp_server_stats st = tw_resp_server_get_stats(f.rs);
    assert_true(st.commands < 1 + (uint64_t)n);
    /* the high-water mark, one read and a reply, roughly: not 16 MiB */
    if (st.held_max > 1024 * 1024)
        fail_msg("%s: the server held %zu bytes for one client", env->backend,
                 st.held_max);
    /* Read again: every reply arrives, intact. */
    tw_transport_resume_reading(c.t);
    char rh[32];
    int rhl = snprintf(rh, sizeof rh, "$%zu\r\n", vlen);
    size_t one = (size_t)rhl + vlen + 2;
    TW_WAIT(env, c.lost);
    assert_int_equal(c.len, one * (size_t)n + 5);
    assert_memory_equal(c.got + one * (size_t)n, "+OK\r\n", 5);
    assert_true(c.eof);
    for (int i = 0; i < n; i += 97) {
        assert_memory_equal(c.got + one * (size_t)i, rh, (size_t)rhl);
        assert_memory_equal(c.got + one * (size_t)i + rhl, v, vlen);
    }
    st = tw_resp_server_get_stats(f.rs);
    assert_int_equal(st.commands, 2 + (uint64_t)n);
    assert_true(st.held_max <= 1024 * 1024);
    free(v);
    fx_close(env, &f, &c, 1);
}

/* ---- limits ---- */

static void test_resp_limits_close_with_an_error_reply(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c[4];
    tw_resp_server_cfg cfg = {
        .limits = {.bulk_max = 10, .inline_max = 32},
        .maxclients = 5, .output_max = 1000,
    };
    fx_open(env, &f, &cfg);
    /* A bulk longer than --max-bulk; the request before it is answered. */
    connect_cli(env, &f, &c[0]);
    send_str(&c[0], "PING\r\n*2\r\n$3\r\nGET\r\n$11\r\n");
    EXPECT(env, &c[0], "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
    TW_WAIT(env, c[0].lost);
    /* A bulk not followed by CRLF. */
    connect_cli(env, &f, &c[1]);
    send_str(&c[1], "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$9\r\n");
    for (int i = 0; i < 30; i++)
        send_str(&c[1], "*1\r\n$4\r\n"); /* a bulk's header repeated: nonsense */
    EXPECT(env, &c[1], "-ERR Protocol error: expected CRLF after a bulk string\r\n");
    TW_WAIT(env, c[1].lost);
    /* An inline line past --max-inline. */
    connect_cli(env, &f, &c[2]);
    send_str(&c[2], "PING                                        ");
    EXPECT(env, &c[2], "-ERR Protocol error: too big inline request\r\n");
    TW_WAIT(env, c[2].lost);
    /* A reply past --max-output: the client is dropped, no reply. */
    connect_cli(env, &f, &c[3]);
    send_str(&c[3], "SET a 0123456789\r\n*101\r\n$4\r\nMGET\r\n");
    for (int i = 0; i < 100; i++)
        send_str(&c[3], "$1\r\na\r\n");
    EXPECT(env, &c[3], "+OK\r\n");
    TW_WAIT(env, c[3].lost);
    assert_int_equal(c[3].len, 5);
    tw_resp_server_stats st = tw_resp_server_get_stats(f.rs);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.protocol_errors, 3); /* c[0..2]; c[3] was dropped */
    fx_close(env, &f, c, 4);
}

/* The pending limit, and --maxclients. */
static void test_resp_pending_limit(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c[2];
    tw_resp_server_cfg cfg = {.limits = {.pending_max = 100}, .maxclients = 1};
    fx_open(env, &f, &cfg);
    connect_cli(env, &f, &c[0]);
    /* A 200-byte bulk can never fit in 100 pending bytes: refused at
     * once, before its bytes come. */
    send_str(&c[0], "PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200\r\n");
    EXPECT(env, &c[0],
           "+PONG\r\n-ERR Protocol error: request larger than the pending bytes limit\r\n");
    TW_WAIT(env, c[0].lost);
    /* --maxclients 1: a second client at once is turned away. */
    free(c[0].got);
    connect_cli(env, &f, &c[0]);
    connect_cli(env, &f, &c[1]);
    EXPECT(env, &c[1], "-ERR max number of clients reached\r\n");
    TW_WAIT(env, c[1].lost);
    send_str(&c[0], "PING\r\n");
    EXPECT(env, &c[0], "+PONG\r\n");
    assert_int_equal(tw_resp_server_get_stats(f.rs).rejected, 1);
    fx_close(env, &f, c, 2);
}

/* ---- expiry on the loop's clock ---- */

static void test_resp_expiry_in_loop_time(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c;
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c);
    send_str(&c, "SET k v PX 300\r\nGET k\r\n");
    EXPECT(env, &c, "+OK\r\n$1\r\nv\r\n");
    tw_ns until = tw_loop_now(env->loop) + TW_MS(400);
    TW_WAIT(env, tw_loop_now(env->loop) >= until);
    c.len = 0;
    send_str(&c, "GET k\r\nEXISTS k\r\n");
    EXPECT(env, &c, "$-1\r\n:0\r\n");
    c.len = 0;
    /* Keys nobody asks for again are reclaimed by the server's timer. */
    for (int i = 0; i < 100; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "SET e%d x PX 50\r\n", i);
        send_str(&c, cmd);
    }
    send_str(&c, "SET keep x\r\n");
    c.len = 0;
    TW_WAIT(env, c.len >= 101 * 5);
    assert_int_equal(c.len, 101 * 5);
    for (int i = 0; i < 101; i++)
        assert_memory_equal(c.got + 5 * i, "+OK\r\n", 5);
    tw_resp_store *st = tw_resp_server_store(f.rs);
    size_t n = tw_resp_store_count(st);
    if (env->sim)
        assert_int_equal(n, 101); /* the replies took less than 50 ms */
    else /* the server's timer may have reclaimed some by now */
        assert_true(n >= 1 && n <= 101);
    TW_WAIT(env, tw_resp_store_count(st) == 1);
    assert_int_equal(tw_resp_store_volatile(st), 0);
    fx_close(env, &f, &c, 1);
}

/* The keyspace's clock is the host's time of day, read at each turn, as
 * Redis's: a step of it (NTP's; here a clock fault, the simulator's
 * alone) expires a key whose time has come on the new clock. The loop's
 * monotonic clock does not step. */
static void test_resp_keyspace_follows_a_step_of_the_time_of_day(void **state)
{
    tw_env *env = TW_ENV(state);
    assert_non_null(env->sim);
    fx f;
    rcli c;
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c);
    send_str(&c, "SET k v EX 10\r\nGET k\r\n");
    EXPECT(env, &c, "+OK\r\n$1\r\nv\r\n");
    tw_ns mono = tw_loop_now(env->loop);
    assert_int_equal(tw_sim_set_clock(env->loop, TW_SEC(20), 0), 0);
    tw_run_slice(env);
    assert_true(tw_loop_now(env->loop) - mono < TW_SEC(1));
    c.len = 0;
    send_str(&c, "GET k\r\n");
    EXPECT(env, &c, "$-1\r\n");
    fx_close(env, &f, &c, 1);
}

/* ---- CLIENT and the server's clock, over a connection ---- */

/* Every client is listed with its name; one client can end another; the
 * reply modes drop what they say; TIME is the loop's clock plus the
 * loop's epoch (the wall clock's date on the real backend, a fixed date
 * in the simulator). */
static void test_resp_clients_reply_modes_and_time(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c[2];
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c[0]);
    connect_cli(env, &f, &c[1]);
    send_str(&c[0], "CLIENT SETNAME first\r\nCLIENT ID\r\n");
    EXPECT(env, &c[0], "+OK\r\n:1\r\n");
    c[0].len = 0;
    send_str(&c[1], "CLIENT LIST\r\n");
    TW_WAIT(env, c[1].len > 0 && c[1].got[c[1].len - 1] == '\n');
    c[1].got[c[1].len - 1] = '\0';
    assert_non_null(strstr((char *)c[1].got, "id=1 "));
    assert_non_null(strstr((char *)c[1].got, " name=first "));
    assert_non_null(strstr((char *)c[1].got, "id=2 "));
    assert_non_null(strstr((char *)c[1].got, " cmd=client "));
    c[1].len = 0;
    send_str(&c[1], "CLIENT REPLY OFF\r\nPING\r\nGET nokey\r\nCLIENT REPLY ON\r\n"
                    "PING\r\nCLIENT REPLY SKIP\r\nPING\r\nECHO back\r\n");
    EXPECT(env, &c[1], "+OK\r\n+PONG\r\n$4\r\nback\r\n");
    c[1].len = 0;
    /* A value long enough to bypass the reply buffer is dropped too. */
    static char big[40000];
    int bl = snprintf(big, sizeof big, "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$30000\r\n");
    memset(big + bl, 'b', 30000);
    memcpy(big + bl + 30000, "\r\n", 2);
    assert_int_equal(tw_transport_write(c[1].t, big, (size_t)bl + 30002), 0);
    send_str(&c[1], "CLIENT REPLY OFF\r\nGET big\r\nCLIENT REPLY ON\r\n");
    EXPECT(env, &c[1], "+OK\r\n+OK\r\n");
    c[1].len = 0;
    send_str(&c[0], "CLIENT KILL ID 2\r\n");
    EXPECT(env, &c[0], ":1\r\n");
    TW_WAIT(env, c[1].lost);
    c[0].len = 0;
    send_str(&c[0], "TIME\r\n");
    tw_resp_reply r, sec;
    TW_WAIT(env, tw_resp_reply_parse(c[0].got, c[0].len, &r, NULL) > 0);
    assert_int_equal(r.type, '*');
    assert_int_equal(r.integer, 2);
    assert_true(tw_resp_reply_parse(r.str, r.len, &sec, NULL) > 0);
    int64_t s_got;
    assert_true(tw_resp_str2ll(sec.str, sec.len, &s_got));
    int64_t s_want = (tw_loop_epoch(env->loop) + tw_loop_now(env->loop)) / TW_NS_PER_SEC;
    if (env->sim) /* no time passes in the simulator but what the net takes */
        assert_true(s_got == s_want || s_got + 1 == s_want);
    else
        assert_true(s_got >= s_want - 2 && s_got <= s_want + 2);
    assert_true(s_got > 1700000000); /* a date, not an uptime */
    fx_close(env, &f, c, 2);
}

/* ---- QUIT and half-closing ---- */

static void test_resp_quit_and_half_close(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c[2];
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c[0]);
    send_str(&c[0], "PING\r\nQUIT\r\nPING\r\n");
    EXPECT(env, &c[0], "+PONG\r\n+OK\r\n");
    TW_WAIT(env, c[0].lost);
    assert_true(c[0].eof);
    /* Pipelined requests, then EOF: every reply comes, then the close. */
    connect_cli(env, &f, &c[1]);
    for (int i = 0; i < 200; i++)
        send_str(&c[1], "*1\r\n$4\r\nPING\r\n");
    assert_int_equal(tw_transport_write_eof(c[1].t), 0);
    TW_WAIT(env, c[1].lost);
    assert_int_equal(c[1].len, 200 * 7);
    assert_true(c[1].eof);
    fx_close(env, &f, c, 2);
}

/* An inline request with a NUL byte: a protocol error, and nothing of
 * it runs (it used to store what came before the NUL and answer +OK). */
static void test_resp_inline_nul_is_a_protocol_error(void **state)
{
    tw_env *env = TW_ENV(state);
    fx f;
    rcli c[2];
    fx_open(env, &f, NULL);
    connect_cli(env, &f, &c[0]);
    static const char req[] = "PING\r\nSET k2 v\0w\r\nPING\r\n";
    assert_int_equal(tw_transport_write(c[0].t, req, sizeof req - 1), 0);
    EXPECT(env, &c[0], "+PONG\r\n-ERR Protocol error: NUL byte in inline request\r\n");
    TW_WAIT(env, c[0].lost);
    assert_true(c[0].eof);
    connect_cli(env, &f, &c[1]);
    send_str(&c[1], "EXISTS k2\r\n");
    EXPECT(env, &c[1], ":0\r\n");
    assert_int_equal(tw_resp_server_get_stats(f.rs).protocol_errors, 1);
    fx_close(env, &f, c, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_resp_pipelining),
        TW_MATRIX(test_resp_flow_control_against_a_client_that_never_reads),
        TW_MATRIX(test_resp_limits_close_with_an_error_reply),
        TW_MATRIX(test_resp_pending_limit),
        TW_MATRIX(test_resp_expiry_in_loop_time),
        {"test_resp_keyspace_follows_a_step_of_the_time_of_day[sim]",
         test_resp_keyspace_follows_a_step_of_the_time_of_day, tw_env_setup,
         tw_env_teardown, (void *)tw_backend_sim},
        TW_MATRIX(test_resp_clients_reply_modes_and_time),
        TW_MATRIX(test_resp_quit_and_half_close),
        TW_MATRIX(test_resp_inline_nul_is_a_protocol_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
