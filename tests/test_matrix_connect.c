/* tests/test_matrix_connect.c - clients with options (twin/net.h's
 * tw_create_connection_ex and _addrs): the connect timeout, Happy
 * Eyeballs, interleaving, the local address and the report, each body run
 * on BOTH backends; then what only one backend can show (a name with
 * several addresses in the simulator; localhost, a slow resolver and a
 * loop freed mid-race on epoll).
 *
 * Map: helpers (a black hole, refusing ports, a timed completion); the
 * timeout; the race; the order; the local address; the report and the
 * errors; the simulator's names; the real backend's resolver; teardown.
 *
 * A black hole is an address whose SYN nobody answers: in the simulator
 * an address no node has; on epoll a listener with a backlog of 0 whose
 * queue one connection already fills (Linux drops a SYN for a full
 * queue, and the connect hangs, retrying).
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/harness.h"
#include "tests/rec.h"
#include "twin/real.h"
#include "twin/sim.h"

/* ---- helpers ---- */

typedef struct hole {
    int lfd, cfd; /* the real backend's listener and the connection filling it */
    tw_addr addr;
    char host[64];
    uint16_t port;
} hole;

static void hole_open(tw_env *env, hole *h)
{
    memset(h, 0, sizeof *h);
    h->lfd = h->cfd = -1;
    if (env->sim) {
        snprintf(h->host, sizeof h->host, "10.0.0.99"); /* no node has it */
        h->port = 9;
    } else {
        tw_addr a;
        assert_int_equal(tw_addr_ip(&a, "127.0.0.1", 0), 0);
        h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(h->lfd >= 0);
        assert_int_equal(bind(h->lfd, &a.u.sa, a.len), 0);
        assert_int_equal(listen(h->lfd, 0), 0);
        socklen_t len = sizeof a.u.ss;
        assert_int_equal(getsockname(h->lfd, &a.u.sa, &len), 0);
        h->port = tw_addr_port(&a);
        /* One connection fills the queue: the next SYN is dropped. */
        h->cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(h->cfd >= 0);
        int r = connect(h->cfd, &a.u.sa, a.len);
        assert_true(r == 0 || errno == EINPROGRESS);
        struct pollfd p = {.fd = h->cfd, .events = POLLOUT};
        assert_int_equal(poll(&p, 1, 5000), 1);
        snprintf(h->host, sizeof h->host, "127.0.0.1");
    }
    assert_int_equal(tw_addr_ip(&h->addr, h->host, h->port), 0);
}

static void hole_close(hole *h)
{
    if (h->cfd >= 0)
        close(h->cfd);
    if (h->lfd >= 0)
        close(h->lfd);
}

/* A port of `ip` where a connect is refused at once: a socket bound but
 * not listening on epoll (so each is distinct and stays refused), a port
 * nobody listens on in the simulator. */
typedef struct refuser {
    int fds[8];
    int n;
} refuser;

static tw_addr refused_addr(tw_env *env, refuser *r, const char *ip)
{
    tw_addr a;
    assert_int_equal(tw_addr_ip(&a, ip, 0), 0);
    if (env->sim) {
        assert_int_equal(tw_addr_ip(&a, ip, (uint16_t)(40001 + r->n++)), 0);
        return a;
    }
    assert_true(r->n < 8);
    int fd = socket(tw_addr_family(&a), SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
    socklen_t len = sizeof a.u.ss;
    assert_int_equal(getsockname(fd, &a.u.sa, &len), 0);
    r->fds[r->n++] = fd;
    return a;
}

static void refuser_close(refuser *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->fds[i] > 0)
            close(r->fds[i]);
    r->n = 0;
}

/* Descriptors open in this process (the real backend's sockets). */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A completion that notes when it ran. */
static tw_ns done_at;
static tw_loop *done_loop;
static int factory_calls;

static void timed_cb(void *client, tw_transport *t, int err)
{
    done_at = tw_loop_now(done_loop);
    rec_client_cb(client, t, err);
}

static tw_protocol *counting_factory(void *client)
{
    factory_calls++;
    return rec_client_factory(client);
}

static tw_protocol *refusing_factory(void *client)
{
    (void)client;
    factory_calls++;
    return NULL;
}

typedef struct server_end {
    rec_pool pool;
    tw_server *srv;
    tw_addr addr; /* 127.0.0.1:its port */
} server_end;

static void srv_open(tw_env *env, server_end *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &s->pool,
                                      env->host, 0, NULL, &s->srv), 0);
    assert_int_equal(tw_addr_ip(&s->addr, env->host, tw_server_port(s->srv)), 0);
}

static void srv_close(tw_env *env, server_end *s)
{
    if (s->srv)
        tw_server_close(s->srv);
    s->srv = NULL;
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&s->pool);
}

/* Start a connect to addrs and wait for its completion; returns how long
 * it took. */
static tw_ns dial(tw_env *env, rec_client *c, const tw_addr *addrs, int n,
                  const tw_connect_opts *o)
{
    rec_client_init(c, 0);
    factory_calls = 0;
    done_loop = env->loop;
    tw_ns t0 = tw_loop_now(env->loop);
    assert_int_equal(tw_create_connection_addrs(env->loop, counting_factory, c,
                                                addrs, n, o, timed_cb), 0);
    assert_false(c->res.called); /* nothing is called from inside the call */
    TW_WAIT(env, c->res.called);
    return done_at - t0;
}

static void close_client(tw_env *env, rec_client *c)
{
    if (c->res.t)
        tw_transport_close(c->res.t);
    TW_WAIT(env, !c->res.t || c->r.done);
    rec_free(&c->r);
}

/* ---- the timeout ---- */

static void test_connect_timeout_leaves_nothing_open(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    int fds = env->sim ? 0 : open_fds();
    rec_client c;
    tw_connect_report rep;
    memset(&rep, 0x55, sizeof rep);
    tw_connect_opts o = {.timeout_ns = TW_MS(200), .report = &rep};
    rec_client_init(&c, 0);
    factory_calls = 0;
    done_loop = env->loop;
    tw_ns t0 = tw_loop_now(env->loop);
    /* by host and port: a numeric host needs no lookup */
    assert_int_equal(tw_create_connection_ex(env->loop, counting_factory, &c,
                                             h.host, h.port, &o, timed_cb), 0);
    assert_int_equal(rep.n, 1); /* the attempt is under way */
    assert_int_equal(rep.attempts[0].err, TW_CONNECT_IN_FLIGHT);
    TW_WAIT(env, c.res.called);
    assert_int_equal(c.res.err, -ETIMEDOUT);
    assert_null(c.res.t);
    assert_int_equal(factory_calls, 0);
    assert_true(done_at - t0 >= TW_MS(200));
    assert_true(done_at - t0 < TW_SEC(2));
    assert_int_equal(rep.n, 1);
    assert_true(tw_addr_equal(&rep.attempts[0].addr, &h.addr));
    assert_int_equal(rep.attempts[0].err, -ETIMEDOUT);
    /* nothing open: no transport, no pending connect, no socket */
    assert_int_equal(tw_loop_alive(env->loop), 0);
    if (!env->sim)
        assert_int_equal(open_fds(), fds);
    rec_free(&c.r);
    hole_close(&h);
}

/* A connect that succeeds first never hears of its timeout. */
static void test_connect_timeout_not_reached(void **state)
{
    tw_env *env = TW_ENV(state);
    server_end s;
    srv_open(env, &s);
    rec_client c;
    tw_connect_opts o = {.timeout_ns = TW_MS(300)};
    dial(env, &c, &s.addr, 1, &o);
    assert_int_equal(c.res.err, 0);
    assert_string_equal(c.r.log, "M");
    tw_loop_run_for(env->loop, TW_MS(500)); /* past the timeout */
    assert_string_equal(c.r.log, "M");
    assert_false(tw_transport_is_closing(c.res.t));
    close_client(env, &c);
    srv_close(env, &s);
}

/* ---- the race ---- */

/* The first address hangs; the second starts after the delay, while the
 * first is still in flight, and wins; the first is cancelled and closed. */
static void test_happy_eyeballs_second_address_wins(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    server_end s;
    srv_open(env, &s);
    int fds = env->sim ? 0 : open_fds();
    tw_addr addrs[2] = {h.addr, s.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_MS(100), .report = &rep};
    rec_client c;
    tw_ns took = dial(env, &c, addrs, 2, &o);
    assert_int_equal(c.res.err, 0);
    assert_int_equal(factory_calls, 1);
    assert_true(took >= TW_MS(100)); /* not before the delay */
    assert_true(took < TW_SEC(2));
    tw_addr peer;
    assert_int_equal(tw_transport_peername(c.res.t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &s.addr));
    assert_int_equal(rep.n, 2);
    assert_true(tw_addr_equal(&rep.attempts[0].addr, &h.addr));
    assert_int_equal(rep.attempts[0].err, -ECANCELED);
    assert_true(tw_addr_equal(&rep.attempts[1].addr, &s.addr));
    assert_int_equal(rep.attempts[1].err, 0);
    /* the loser's socket is gone: only the two ends of the winner are
     * new (the client's and the server's accepted one) */
    TW_WAIT(env, s.pool.n == 1 && s.pool.recs[0].made);
    if (!env->sim)
        assert_int_equal(open_fds(), fds + 2);
    close_client(env, &c);
    srv_close(env, &s);
    hole_close(&h);
}

/* A failure of the attempt started last starts the next at once, long
 * before the delay. */
static void test_happy_eyeballs_refusal_starts_next_at_once(void **state)
{
    tw_env *env = TW_ENV(state);
    refuser r = {0};
    server_end s;
    srv_open(env, &s);
    tw_addr addrs[2] = {refused_addr(env, &r, "127.0.0.1"), s.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_SEC(30), .report = &rep};
    rec_client c;
    tw_ns took = dial(env, &c, addrs, 2, &o);
    assert_int_equal(c.res.err, 0);
    assert_true(took < TW_SEC(5));
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.attempts[0].err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[1].err, 0);
    close_client(env, &c);
    srv_close(env, &s);
    refuser_close(&r);
}

/* Only the failure of the attempt started last starts the next at once
 * (asyncio's staggered race): a hanging first one goes on, a second one
 * refused at the delay hands over to the third there and then, not a
 * delay later. */
static void test_happy_eyeballs_failure_of_latest_starts_next(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    refuser r = {0};
    server_end s;
    srv_open(env, &s);
    tw_addr addrs[3] = {h.addr, refused_addr(env, &r, "127.0.0.1"), s.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_SEC(2), .report = &rep};
    rec_client c;
    tw_ns took = dial(env, &c, addrs, 3, &o);
    assert_int_equal(c.res.err, 0);
    assert_true(took >= TW_SEC(2));
    assert_true(took < TW_MS(3500)); /* not at the next delay, 4 s */
    assert_int_equal(rep.n, 3);
    assert_int_equal(rep.attempts[0].err, -ECANCELED);
    assert_int_equal(rep.attempts[1].err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[2].err, 0);
    close_client(env, &c);
    srv_close(env, &s);
    refuser_close(&r);
    hole_close(&h);
}

/* Both hang: the second starts after the delay, the timeout ends both. */
static void test_happy_eyeballs_timeout_cancels_every_attempt(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    int fds = env->sim ? 0 : open_fds();
    tw_addr addrs[3] = {h.addr, h.addr, h.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.timeout_ns = TW_MS(250),
                         .happy_eyeballs_delay_ns = TW_MS(100),
                         .report = &rep};
    rec_client c;
    tw_ns took = dial(env, &c, addrs, 3, &o);
    assert_int_equal(c.res.err, -ETIMEDOUT);
    assert_true(took >= TW_MS(250) && took < TW_SEC(2));
    assert_int_equal(factory_calls, 0);
    assert_int_equal(rep.n, 3); /* at 0, 100 and 200 ms */
    for (int i = 0; i < 3; i++)
        assert_int_equal(rep.attempts[i].err, -ETIMEDOUT);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    if (!env->sim)
        assert_int_equal(open_fds(), fds);
    rec_free(&c.r);
    hole_close(&h);
}

/* No delay: one at a time (asyncio's None). A hanging first address holds
 * the second back until the timeout; a refused one hands over to it. */
static void test_no_delay_tries_one_at_a_time(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    refuser r = {0};
    server_end s;
    srv_open(env, &s);
    tw_addr hang[2] = {h.addr, s.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.timeout_ns = TW_MS(300), .report = &rep};
    rec_client c;
    dial(env, &c, hang, 2, &o);
    assert_int_equal(c.res.err, -ETIMEDOUT);
    assert_int_equal(rep.n, 1); /* the second never started */
    rec_free(&c.r);

    tw_addr refused[2] = {refused_addr(env, &r, "127.0.0.1"), s.addr};
    dial(env, &c, refused, 2, &o);
    assert_int_equal(c.res.err, 0);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.attempts[0].err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[1].err, 0);
    close_client(env, &c);
    srv_close(env, &s);
    refuser_close(&r);
    hole_close(&h);
}

/* The winner's factory refuses: the connect fails with -ENOMEM, and the
 * others were cancelled before it was asked. */
static void test_winner_factory_refuses(void **state)
{
    tw_env *env = TW_ENV(state);
    hole h;
    hole_open(env, &h);
    server_end s;
    srv_open(env, &s);
    tw_addr addrs[2] = {h.addr, s.addr};
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_MS(50), .report = &rep};
    rec_client c;
    rec_client_init(&c, 0);
    factory_calls = 0;
    assert_int_equal(tw_create_connection_addrs(env->loop, refusing_factory, &c,
                                                addrs, 2, &o, rec_client_cb), 0);
    TW_WAIT(env, c.res.called);
    assert_int_equal(c.res.err, -ENOMEM);
    assert_int_equal(factory_calls, 1);
    assert_int_equal(rep.attempts[0].err, -ECANCELED);
    assert_int_equal(rep.attempts[1].err, 0);
    assert_int_equal(c.r.made, 0);
    srv_close(env, &s);
    rec_free(&c.r);
    hole_close(&h);
}

/* ---- the order ---- */

static void expect_order(const tw_connect_report *rep, const tw_addr *a,
                         const int *order, int n)
{
    assert_int_equal(rep->n, n);
    for (int i = 0; i < n; i++) {
        char want[TW_ADDR_STRLEN], got[TW_ADDR_STRLEN];
        tw_addr_format(&a[order[i]], want, sizeof want);
        tw_addr_format(&rep->attempts[i].addr, got, sizeof got);
        if (strcmp(want, got) != 0)
            fail_msg("attempt %d: %s, expected %s", i, got, want);
        assert_true(rep->attempts[i].err < 0);
    }
}

static void test_interleave_orders_the_families(void **state)
{
    tw_env *env = TW_ENV(state);
    refuser r = {0};
    tw_addr a[5] = {refused_addr(env, &r, "::1"), refused_addr(env, &r, "::1"),
                    refused_addr(env, &r, "::1"),
                    refused_addr(env, &r, "127.0.0.1"),
                    refused_addr(env, &r, "127.0.0.1")};
    tw_connect_report rep;
    rec_client c;
    /* interleave 1: one of each family in turn */
    tw_connect_opts o = {.interleave = 1, .report = &rep};
    dial(env, &c, a, 5, &o);
    assert_true(c.res.err < 0);
    expect_order(&rep, a, (const int[]){0, 3, 1, 4, 2}, 5);
    rec_free(&c.r);
    /* interleave 2: the first family's first address, then in turn */
    o.interleave = 2;
    dial(env, &c, a, 5, &o);
    expect_order(&rep, a, (const int[]){0, 1, 3, 2, 4}, 5);
    rec_free(&c.r);
    /* Happy Eyeballs interleaves by default (asyncio: interleave 1) */
    o = (tw_connect_opts){.happy_eyeballs_delay_ns = TW_MS(50), .report = &rep};
    dial(env, &c, a, 5, &o);
    expect_order(&rep, a, (const int[]){0, 3, 1, 4, 2}, 5);
    rec_free(&c.r);
    /* ... unless told not to; without a delay nothing is reordered */
    o.interleave = TW_INTERLEAVE_OFF;
    dial(env, &c, a, 5, &o);
    expect_order(&rep, a, (const int[]){0, 1, 2, 3, 4}, 5);
    rec_free(&c.r);
    o = (tw_connect_opts){.report = &rep};
    dial(env, &c, a, 5, &o);
    expect_order(&rep, a, (const int[]){0, 1, 2, 3, 4}, 5);
    rec_free(&c.r);
    refuser_close(&r);
}

/* ---- the local address ---- */

static void test_local_address(void **state)
{
    tw_env *env = TW_ENV(state);
    server_end s;
    srv_open(env, &s);
    tw_addr local;
    assert_int_equal(tw_addr_ip(&local, "127.0.0.2", 0), 0);
    tw_connect_opts o = {.local_addr = &local};
    rec_client c;
    dial(env, &c, &s.addr, 1, &o);
    assert_int_equal(c.res.err, 0);
    tw_addr me, peer;
    assert_int_equal(tw_transport_sockname(c.res.t, &me), 0);
    char buf[TW_ADDR_STRLEN];
    tw_addr_format(&me, buf, sizeof buf);
    assert_true(strncmp(buf, "127.0.0.2:", 10) == 0);
    TW_WAIT(env, s.pool.n == 1 && s.pool.recs[0].made);
    /* the server sees it come from there */
    assert_int_equal(tw_transport_peername(s.pool.recs[0].t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &me));
    close_client(env, &c);

    /* an address that is not this host's cannot be bound */
    tw_connect_report rep;
    assert_int_equal(tw_addr_ip(&local, "10.9.9.9", 0), 0);
    o = (tw_connect_opts){.local_addr = &local, .report = &rep};
    dial(env, &c, &s.addr, 1, &o);
    assert_int_equal(c.res.err, -EADDRNOTAVAIL);
    assert_int_equal(factory_calls, 0);
    assert_int_equal(rep.n, 1);
    assert_int_equal(rep.attempts[0].err, -EADDRNOTAVAIL);
    rec_free(&c.r);
    srv_close(env, &s);
}

/* ---- the report and the errors ---- */

/* Every attempt failed: cb gets the error of the one that failed last
 * (asyncio raises the one error when all agree); the report has each. */
static void test_all_attempts_fail_last_error_wins(void **state)
{
    tw_env *env = TW_ENV(state);
    refuser r = {0};
    tw_addr v4 = refused_addr(env, &r, "127.0.0.1");
    tw_addr v4b = refused_addr(env, &r, "127.0.0.1");
    tw_addr v6 = refused_addr(env, &r, "::1");
    tw_addr local;
    assert_int_equal(tw_addr_ip(&local, "127.0.0.1", 0), 0);
    tw_connect_report rep;
    rec_client c;
    /* all alike */
    tw_connect_opts o = {.report = &rep};
    dial(env, &c, (tw_addr[]){v4, v4b}, 2, &o);
    assert_int_equal(c.res.err, -ECONNREFUSED);
    assert_int_equal(rep.n, 2);
    assert_int_equal(rep.attempts[0].err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[1].err, -ECONNREFUSED);
    rec_free(&c.r);
    /* an IPv4 local address: the IPv6 attempt fails at once */
    o.local_addr = &local;
    dial(env, &c, (tw_addr[]){v6, v4}, 2, &o);
    assert_int_equal(c.res.err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[0].err, -EAFNOSUPPORT);
    assert_int_equal(rep.attempts[1].err, -ECONNREFUSED);
    rec_free(&c.r);
    dial(env, &c, (tw_addr[]){v4, v6}, 2, &o);
    assert_int_equal(c.res.err, -EAFNOSUPPORT);
    assert_int_equal(rep.attempts[0].err, -ECONNREFUSED);
    assert_int_equal(rep.attempts[1].err, -EAFNOSUPPORT);
    rec_free(&c.r);
    /* every attempt failing at once still reports from the loop */
    dial(env, &c, (tw_addr[]){v6}, 1, &o);
    assert_int_equal(c.res.err, -EAFNOSUPPORT);
    rec_free(&c.r);
    refuser_close(&r);
}

static int cb_calls;
static void counting_cb(void *arg, tw_transport *t, int err)
{
    (void)arg;
    (void)t;
    (void)err;
    cb_calls++;
}

static void test_bad_arguments(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_loop *l = env->loop;
    rec_client c;
    rec_client_init(&c, 0);
    tw_addr a, u;
    assert_int_equal(tw_addr_ip(&a, "127.0.0.1", 9), 0);
    assert_int_equal(tw_addr_unix(&u, "/tmp/x"), 0);
    cb_calls = 0;
    const tw_connect_opts bad[] = {
        {.timeout_ns = -1},
        {.happy_eyeballs_delay_ns = -1},
        {.interleave = TW_INTERLEAVE_OFF - 1},
        {.local_addr = &u},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tw_create_connection_ex(l, rec_client_factory, &c,
                                                 "127.0.0.1", 9, &bad[i],
                                                 counting_cb), -EINVAL);
        assert_int_equal(tw_create_connection_addrs(l, rec_client_factory, &c,
                                                    &a, 1, &bad[i], counting_cb),
                         -EINVAL);
    }
    assert_int_equal(tw_create_connection_ex(l, rec_client_factory, &c, NULL, 9,
                                             NULL, counting_cb), -EINVAL);
    assert_int_equal(tw_create_connection_ex(l, rec_client_factory, &c, "", 9,
                                             NULL, counting_cb), -EINVAL);
    assert_int_equal(tw_create_connection_ex(l, rec_client_factory, &c,
                                             "127.0.0.1", 0, NULL, counting_cb),
                     -EINVAL);
    assert_int_equal(tw_create_connection_ex(l, NULL, &c, "127.0.0.1", 9, NULL,
                                             counting_cb), -EINVAL);
    tw_addr many[TW_CONNECT_ATTEMPTS_MAX + 1];
    for (int i = 0; i <= TW_CONNECT_ATTEMPTS_MAX; i++)
        many[i] = a;
    assert_int_equal(tw_create_connection_addrs(l, rec_client_factory, &c, many,
                                                0, NULL, counting_cb), -EINVAL);
    assert_int_equal(tw_create_connection_addrs(l, rec_client_factory, &c, many,
                                                TW_CONNECT_ATTEMPTS_MAX + 1,
                                                NULL, counting_cb), -EINVAL);
    assert_int_equal(tw_create_connection_addrs(l, rec_client_factory, &c, &u, 1,
                                                NULL, counting_cb), -EINVAL);
    tw_addr zero;
    assert_int_equal(tw_addr_ip(&zero, "127.0.0.1", 0), 0);
    assert_int_equal(tw_create_connection_addrs(l, rec_client_factory, &c, &zero,
                                                1, NULL, counting_cb), -EINVAL);
    tw_loop_run_for(l, TW_MS(50));
    assert_int_equal(cb_calls, 0);
    assert_int_equal(tw_loop_alive(l), 0);
    rec_free(&c.r);
}

/* ---- the simulator: a name with several addresses ---- */

static void test_sim_name_with_several_addresses(void **state)
{
    (void)state;
    tw_sim_opts so;
    tw_sim_opts_default(&so);
    so.connect_timeout_ns = TW_SEC(3);
    tw_sim *sim = tw_sim_new(7, &so);
    assert_non_null(sim);
    tw_loop *cl = tw_sim_add_node(sim, "client", "10.0.0.1");
    tw_loop *sl = tw_sim_add_node(sim, "server", "10.0.0.2");
    assert_non_null(cl);
    assert_non_null(sl);
    rec_pool pool = {0};
    tw_server *srv;
    assert_int_equal(tw_create_server(sl, rec_pool_factory, &pool, "", 7070,
                                      NULL, &srv), 0);
    /* a black hole first, the server second */
    assert_int_equal(tw_sim_set_host(sim, "svc", "10.0.0.99,10.0.0.2"), 0);

    /* Happy Eyeballs: the server wins after the delay */
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_MS(250), .report = &rep};
    rec_client c;
    rec_client_init(&c, 0);
    done_loop = cl;
    tw_ns t0 = tw_loop_now(cl);
    assert_int_equal(tw_create_connection_ex(cl, rec_client_factory, &c, "svc",
                                             7070, &o, timed_cb), 0);
    while (!c.res.called)
        assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
    assert_int_equal(c.res.err, 0);
    assert_true(done_at - t0 >= TW_MS(250) && done_at - t0 < TW_SEC(1));
    assert_int_equal(rep.n, 2);
    char buf[TW_ADDR_STRLEN];
    assert_string_equal(tw_addr_format(&rep.attempts[0].addr, buf, sizeof buf),
                        "10.0.0.99:7070");
    assert_int_equal(rep.attempts[0].err, -ECANCELED);
    assert_string_equal(tw_addr_format(&rep.attempts[1].addr, buf, sizeof buf),
                        "10.0.0.2:7070");
    tw_transport_close(c.res.t);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(100)), 0);
    rec_free(&c.r);

    /* the plain call tries them in turn: the hole until the world's
     * connect timeout, then the server */
    rec_client_init(&c, 0);
    t0 = tw_loop_now(cl);
    assert_int_equal(tw_create_connection(cl, rec_client_factory, &c, "svc",
                                          7070, timed_cb), 0);
    while (!c.res.called)
        assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
    assert_int_equal(c.res.err, 0);
    assert_true(done_at - t0 >= TW_SEC(3) && done_at - t0 < TW_SEC(4));
    tw_transport_close(c.res.t);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(100)), 0);
    rec_free(&c.r);

    /* removed: the name is unknown again */
    assert_int_equal(tw_sim_set_host(sim, "svc", NULL), 0);
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_connection_ex(cl, rec_client_factory, &c, "svc",
                                             7070, &o, rec_client_cb), 0);
    while (!c.res.called)
        assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
    assert_int_equal(c.res.err, TW_EAI_NONAME);
    rec_free(&c.r);
    tw_server_close(srv);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(100)), 0);
    assert_int_equal(tw_loop_alive(cl), 0);
    rec_pool_free(&pool);
    tw_sim_free(sim);
}

static void test_sim_set_host_checks(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(1, NULL);
    assert_non_null(sim);
    assert_int_equal(tw_sim_set_host(sim, "a", "10.0.0.1,::1"), 0);
    assert_int_equal(tw_sim_set_host(sim, "a", "10.0.0.2"), 0); /* replaced */
    assert_int_equal(tw_sim_set_host(sim, "10.0.0.1", "10.0.0.2"), -EINVAL);
    assert_int_equal(tw_sim_set_host(sim, "", "10.0.0.2"), -EINVAL);
    assert_int_equal(tw_sim_set_host(sim, "b", "bogus"), -EINVAL);
    assert_int_equal(tw_sim_set_host(sim, "b", ""), -EINVAL);
    assert_int_equal(tw_sim_set_host(sim, "b", "10.0.0.1,,10.0.0.2"), -EINVAL);
    assert_int_equal(tw_sim_set_host(sim, "b", "10.0.0.1,"), -EINVAL);
    char many[1024] = "";
    for (int i = 0; i <= TW_SIM_HOST_ADDRS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.1.%d",
                 i ? "," : "", i);
    assert_int_equal(tw_sim_set_host(sim, "b", many), -EINVAL);
    char longname[TW_SIM_HOST_NAME_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(tw_sim_set_host(sim, longname, "10.0.0.1"), -EINVAL);
    longname[TW_SIM_HOST_NAME_MAX] = '\0';
    assert_int_equal(tw_sim_set_host(sim, longname, "10.0.0.1"), 0);
    for (int i = 2; i < TW_SIM_HOSTS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(tw_sim_set_host(sim, name, "10.0.0.1"), 0);
    }
    assert_int_equal(tw_sim_set_host(sim, "one-more", "10.0.0.1"), -ENOSPC);
    assert_int_equal(tw_sim_set_host(sim, "a", NULL), 0);
    assert_int_equal(tw_sim_set_host(sim, "one-more", "10.0.0.1"), 0);
    assert_int_equal(tw_sim_set_host(sim, "never-set", NULL), 0);
    tw_sim_free(sim);
}

/* ---- the real backend ---- */

/* localhost resolves to 127.0.0.1, and ::1 too where the system says so:
 * raced, the connect reaches a server listening on both. */
static void test_real_localhost_happy_eyeballs(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    rec_pool pool = {0};
    tw_server *srv;
    assert_int_equal(tw_create_server(loop, rec_pool_factory, &pool, NULL, 0,
                                      NULL, &srv), 0);
    tw_connect_report rep;
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_MS(250),
                         .timeout_ns = TW_SEC(10), .report = &rep};
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_connection_ex(loop, rec_client_factory, &c,
                                             "localhost", tw_server_port(srv), &o,
                                             rec_client_cb), 0);
    for (int i = 0; i < 1000 && !c.res.called; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_true(c.res.called);
    assert_int_equal(c.res.err, 0);
    assert_true(rep.n >= 1);
    int winners = 0;
    for (int i = 0; i < rep.n; i++) {
        int f = tw_addr_family(&rep.attempts[i].addr);
        assert_true(f == AF_INET || f == AF_INET6);
        winners += rep.attempts[i].err == 0;
    }
    assert_int_equal(winners, 1);
    tw_transport_close(c.res.t);
    tw_server_close(srv);
    for (int i = 0; i < 100 && tw_loop_alive(loop); i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(tw_loop_alive(loop), 0);
    rec_free(&c.r);
    rec_pool_free(&pool);
    tw_loop_free(loop);
}

static int slow_getaddrinfo(const char *host, const char *service,
                            const struct addrinfo *hints, struct addrinfo **res)
{
    usleep(1000 * 1000);
    return tw_sys_default.getaddrinfo(host, service, hints, res);
}

/* The timeout covers the lookup: a resolver slower than it is given up
 * (its answer, when it comes, is dropped). A name that does not resolve
 * is the resolver's error, from the loop. */
static void test_real_timeout_during_lookup(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    tw_sys.getaddrinfo = slow_getaddrinfo;
    rec_client c;
    rec_client_init(&c, 0);
    done_loop = loop;
    tw_connect_opts o = {.timeout_ns = TW_MS(50)};
    tw_ns t0 = tw_loop_now(loop);
    assert_int_equal(tw_create_connection_ex(loop, rec_client_factory, &c,
                                             "localhost", 9, &o, timed_cb), 0);
    for (int i = 0; i < 100 && !c.res.called; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(c.res.err, -ETIMEDOUT);
    assert_true(done_at - t0 >= TW_MS(50) && done_at - t0 < TW_MS(900));
    assert_int_equal(tw_loop_alive(loop), 0);
    usleep(1200 * 1000); /* the worker is done before the table changes */
    tw_loop_run_for(loop, TW_MS(10));
    tw_sys.getaddrinfo = tw_sys_default.getaddrinfo;
    rec_free(&c.r);

    tw_sys_fail(TW_SYS_GETADDRINFO, 1, 1, EAI_NONAME);
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_connection_ex(loop, rec_client_factory, &c,
                                             "nowhere.invalid", 9, &o,
                                             rec_client_cb), 0);
    for (int i = 0; i < 100 && !c.res.called; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_int_equal(c.res.err, TW_EAI_NONAME);
    rec_free(&c.r);
    tw_loop_free(loop);
}

/* A loop freed mid-race: attempts in flight, a lookup in flight; nothing
 * is called and nothing leaks (ASan's leak check runs in make test). */
static void test_loop_freed_mid_race(void **state)
{
    (void)state;
    tw_env real_env = {.backend = tw_backend_real};
    hole h;
    hole_open(&real_env, &h);
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    tw_addr addrs[2] = {h.addr, h.addr};
    tw_connect_opts o = {.happy_eyeballs_delay_ns = TW_MS(10),
                         .timeout_ns = TW_SEC(5)};
    cb_calls = 0;
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_create_connection_addrs(loop, rec_client_factory, &c,
                                                addrs, 2, &o, counting_cb), 0);
    tw_sys.getaddrinfo = slow_getaddrinfo;
    assert_int_equal(tw_create_connection_ex(loop, rec_client_factory, &c,
                                             "localhost", 9, &o, counting_cb), 0);
    tw_loop_run_for(loop, TW_MS(50));
    tw_loop_free(loop);
    usleep(1200 * 1000); /* the orphaned worker is done */
    tw_sys.getaddrinfo = tw_sys_default.getaddrinfo;
    assert_int_equal(cb_calls, 0);
    hole_close(&h);

    /* the same in a simulated world, freed with its node's dials */
    tw_sim *sim = tw_sim_new(3, NULL);
    tw_loop *n1 = tw_sim_add_node(sim, "n1", "10.0.0.1");
    tw_addr far[2];
    tw_addr_ip(&far[0], "10.0.0.98", 80);
    tw_addr_ip(&far[1], "10.0.0.99", 80);
    assert_int_equal(tw_create_connection_addrs(n1, rec_client_factory, &c,
                                                far, 2, &o, counting_cb), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0);
    tw_sim_free(sim);
    assert_int_equal(cb_calls, 0);
    rec_free(&c.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_connect_timeout_leaves_nothing_open),
        TW_MATRIX(test_connect_timeout_not_reached),
        TW_MATRIX(test_happy_eyeballs_second_address_wins),
        TW_MATRIX(test_happy_eyeballs_refusal_starts_next_at_once),
        TW_MATRIX(test_happy_eyeballs_failure_of_latest_starts_next),
        TW_MATRIX(test_happy_eyeballs_timeout_cancels_every_attempt),
        TW_MATRIX(test_no_delay_tries_one_at_a_time),
        TW_MATRIX(test_winner_factory_refuses),
        TW_MATRIX(test_interleave_orders_the_families),
        TW_MATRIX(test_local_address),
        TW_MATRIX(test_all_attempts_fail_last_error_wins),
        TW_MATRIX(test_bad_arguments),
        TW_TEST(test_sim_name_with_several_addresses),
        TW_TEST(test_sim_set_host_checks),
        TW_TEST(test_real_localhost_happy_eyeballs),
        TW_TEST(test_real_timeout_during_lookup),
        TW_TEST(test_loop_freed_mid_race),
    };
    return cmocka_run_group_tests_name("clients with options (backend matrix)",
                                       tests, NULL, NULL);
}
