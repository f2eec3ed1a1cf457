/* tests/test_matrix_dgram.c - DatagramTransport and DatagramProtocol
 * behaviours of the reference text, each body run on BOTH backends (UDP
 * on real loopback and the simulated network; Unix datagram sockets on
 * the real file system and a simulated node's), then what only the real
 * backend has (files on the disk, injected system-call faults).
 *
 * Map:
 *   helpers      addresses, endpoints, resending until seen, blocking the
 *                sender's link
 *   life         made then the completion, close/abort, lost exactly once
 *   addresses    local, remote, both, neither; IPv6; extra info
 *   arguments    what create and sendto refuse, alike on both backends
 *   datagrams    round trips, zero length, many senders, close inside
 *                datagram_received
 *   errors       refused (connected only), too big, broadcast
 *   queue        buffer size with headers, watermarks, close flushes,
 *                abort drops
 *   options      reuse_port
 *   apps         the UDP echo protocols
 *   Unix         names (paths, abstract, autobound, none), what nobody
 *                there means, a taken path, connected endpoints, push-back,
 *                sizes, stream servers' paths; real only: files on disk
 *   real only    system-call faults
 *
 * Real loopback may drop a datagram (rarely, under memory pressure): a
 * test never depends on one datagram arriving. SEND_UNTIL resends until
 * what is awaited is seen (on the simulator, which loses nothing unless
 * told, the first send always does), and assertions on counts say "at
 * least" where a resend could add one. Unix datagrams are not lost (on
 * either backend): their tests wait for each one.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/dgram_rec.h"
#include "twin/real.h"
#include "twin/sim.h"
#include "twin/udp_echo.h"

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static tw_addr ip(const char *host, uint16_t port)
{
    tw_addr a;
    assert_int_equal(tw_addr_ip(&a, host, port), 0);
    return a;
}

/* An endpoint bound to env->host, any port. */
static void open_local(tw_env *env, drec *r)
{
    tw_datagram_opts o = {.local = ip(env->host, 0)};
    drec_open(env, r, &o);
}

/* An endpoint connected to `to`. */
static void open_remote(tw_env *env, drec *r, tw_addr to)
{
    tw_datagram_opts o = {.remote = to};
    drec_open(env, r, &o);
}

/* Send, then wait up to 100 ms for cond; again while it does not hold
 * (at most 100 times: a hang detector, not a speed limit). */
#define SEND_UNTIL(env, send_stmt, cond)                                    \
    do {                                                                    \
        int tries_ = 0;                                                     \
        while (!(cond)) {                                                   \
            if (tries_++ == 100)                                            \
                fail_msg("%s backend: '%s' not reached (line %d)",          \
                         (env)->backend, #cond, __LINE__);                  \
            send_stmt;                                                      \
            tw_ns end_ = tw_loop_now((env)->loop) + TW_MS(100);             \
            while (!(cond) && tw_loop_now((env)->loop) < end_)              \
                tw_run_slice(env);                                          \
        }                                                                   \
    } while (0)

static void close_all(tw_env *env, drec **rs, int n)
{
    for (int i = 0; i < n; i++)
        if (rs[i]->t && !rs[i]->done)
            assert_int_equal(tw_transport_close(rs[i]->t), 0);
    for (int i = 0; i < n; i++) {
        TW_WAIT(env, rs[i]->done);
        assert_int_equal(rs[i]->lost, 1);
        assert_true(rs[i]->released);
    }
    for (int i = 0; i < n; i++)
        drec_free(rs[i]);
}

/* Make the link of t push back, the way each world can: on real loopback
 * (which never pushes back on UDP) sendto is made to fail with EAGAIN;
 * on the simulator the sender's link is clogged for a virtual second with
 * a one-byte send buffer. A "plug" datagram goes first on both, so the
 * datagrams sent after it are queued by the transport on both. */
static const char plug[] = "plug";

static void link_block(tw_env *env, tw_transport *t, const tw_addr *to)
{
    if (env->sim) {
        tw_sim_path_opts o = {.dgram.sndbuf_bytes = 1};
        assert_int_equal(tw_sim_path_set(env->sim, env->loop, env->loop, &o), 0);
        assert_int_equal(tw_sim_clog(env->sim, env->loop, env->loop, TW_SEC(1),
                                     true), 0);
        tw_run_slice(env); /* the clog takes effect from the world */
        assert_int_equal(tw_transport_sendto(t, plug, 4, to), 0);
    } else {
        assert_int_equal(tw_transport_sendto(t, plug, 4, to), 0);
        tw_sys_fail(TW_SYS_SENDTO, 1, -1, EAGAIN);
    }
    assert_int_equal(tw_transport_get_write_buffer_size(t), 0);
}

/* Let the link go again (the simulator's clog ends by itself). */
static void link_unblock(tw_env *env)
{
    if (!env->sim)
        tw_sys_clear(TW_SYS_SENDTO);
}

/* ------------------------------------------------------------------ */
/* life                                                                */

static void test_dgram_echo_roundtrip(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    open_local(env, &s);
    tw_addr sa = drec_sockname(&s);
    assert_int_equal(tw_addr_family(&sa), AF_INET);
    assert_true(tw_addr_port(&sa) > 0);
    open_remote(env, &c, sa);
    assert_int_equal(tw_transport_kind_of(c.t), TW_TRANSPORT_DATAGRAM);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "hello", 5, NULL), c.nmsgs >= 1);
    /* the server saw the client's address, the client the server's */
    tw_addr ca = drec_sockname(&c);
    assert_memory_equal(drec_msg_at(&s, 0)->data, "hello", 5);
    assert_true(tw_addr_equal(&drec_msg_at(&s, 0)->from, &ca));
    assert_int_equal(drec_msg_at(&c, 0)->len, 5);
    assert_memory_equal(drec_msg_at(&c, 0)->data, "hello", 5);
    assert_true(tw_addr_equal(&drec_msg_at(&c, 0)->from, &sa));
    drec *all[] = {&c, &s};
    tw_transport_close(c.t);
    /* connection_lost never runs inside close() */
    assert_int_equal(c.lost, 0);
    assert_true(tw_transport_is_closing(c.t));
    close_all(env, all, 2);
    assert_int_equal(c.lost_err, 0);
    assert_int_equal(s.lost_err, 0);
    assert_int_equal(c.log[0], 'M');
    assert_int_equal(c.log[c.loglen - 1], 'L');
    assert_null(strchr(c.log, 'X'));
}

static void close_in_made(drec *r) { tw_transport_close(r->t); }

static void test_dgram_close_in_connection_made(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    r.on_made = close_in_made;
    tw_datagram_opts o = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), 0);
    TW_WAIT(env, r.done);
    /* the completion still follows connection_made, with the transport */
    assert_true(r.cb_called);
    assert_int_equal(r.cb_err, 0);
    assert_string_equal(r.log, "ML");
    assert_true(r.released);
    drec_free(&r);
}

static void test_dgram_close_and_abort_lose_once(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r, a;
    drec_init(&r);
    drec_init(&a);
    open_local(env, &r);
    open_local(env, &a);
    tw_addr to = drec_sockname(&a);
    assert_int_equal(tw_transport_close(r.t), 0);
    assert_int_equal(tw_transport_close(r.t), 0); /* idempotent */
    assert_int_equal(tw_transport_abort(r.t), 0); /* after close: no-op */
    assert_int_equal(tw_transport_sendto(r.t, "x", 1, &to), -EPIPE);
    assert_int_equal(tw_transport_abort(a.t), 0);
    assert_int_equal(tw_transport_abort(a.t), 0);
    assert_int_equal(tw_transport_close(a.t), 0);
    assert_int_equal(r.lost + a.lost, 0);
    TW_WAIT(env, r.done && a.done);
    tw_run_slice(env);
    assert_string_equal(r.log, "ML");
    assert_string_equal(a.log, "ML");
    assert_int_equal(r.lost_err, 0);
    assert_int_equal(a.lost_err, 0);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    drec_free(&r);
    drec_free(&a);
}

static tw_protocol *null_factory(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_dgram_factory_failure(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    tw_datagram_opts o = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, null_factory, &r,
                                                 &o, drec_cb), 0);
    assert_false(r.cb_called); /* from the loop, never inside create */
    TW_WAIT(env, r.cb_called);
    assert_int_equal(r.cb_err, -ENOMEM);
    assert_null(r.cb_t);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

/* ------------------------------------------------------------------ */
/* addresses                                                           */

static void test_dgram_local_only(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    open_local(env, &r);
    tw_addr a = drec_sockname(&r), tmp;
    char buf[TW_ADDR_STRLEN], want[TW_ADDR_STRLEN];
    snprintf(want, sizeof want, "%s:%u", env->host, tw_addr_port(&a));
    assert_string_equal(tw_addr_format(&a, buf, sizeof buf), want);
    /* not connected: no peer, and sendto needs an address */
    assert_int_equal(tw_transport_peername(r.t, &tmp), -ENOENT);
    tw_extra ex;
    assert_int_equal(tw_transport_get_extra_info(r.t, "peername", &ex), -ENOENT);
    assert_int_equal(tw_transport_get_extra_info(r.t, "sockname", &ex), 0);
    assert_int_equal(ex.type, TW_EXTRA_ADDR);
    assert_true(tw_addr_equal(&ex.v.addr, &a));
    int rc = tw_transport_get_extra_info(r.t, "socket", &ex);
    if (env->sim) {
        assert_int_equal(rc, -ENOENT);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(ex.type, TW_EXTRA_FD);
        assert_true(ex.v.fd >= 0);
    }
    assert_int_equal(tw_transport_sendto(r.t, "x", 1, NULL), -EDESTADDRREQ);
    drec *all[] = {&r};
    close_all(env, all, 1);
}

static void test_dgram_remote_only(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(env, &s);
    tw_addr sa = drec_sockname(&s);
    open_remote(env, &c, sa);
    tw_addr peer, ca = drec_sockname(&c), other = ip(env->host, 9);
    assert_int_equal(tw_transport_peername(c.t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &sa));
    /* bound to a port the system picked, on the address towards remote */
    assert_true(tw_addr_port(&ca) > 0);
    assert_int_equal(tw_addr_family(&ca), AF_INET);
    /* only the remote address (or none) is allowed */
    assert_int_equal(tw_transport_sendto(c.t, "x", 1, &other), -EINVAL);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "a", 1, &sa),
               drec_count_equal(&s, "a", 1) >= 1);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "b", 1, NULL),
               drec_count_equal(&s, "b", 1) >= 1);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_dgram_local_and_remote(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c, x;
    drec_init(&s);
    drec_init(&c);
    drec_init(&x);
    open_local(env, &s);
    open_local(env, &x);
    tw_addr sa = drec_sockname(&s);
    /* take a free port for c, then bind c to it and connect it to s */
    tw_addr ca = drec_sockname(&x);
    drec *first[] = {&x};
    close_all(env, first, 1);
    tw_datagram_opts o = {.local = ca, .remote = sa};
    drec_open(env, &c, &o);
    tw_addr got = drec_sockname(&c);
    assert_true(tw_addr_equal(&got, &ca));
    SEND_UNTIL(env, tw_transport_sendto(c.t, "both", 4, NULL), s.nmsgs >= 1);
    assert_true(tw_addr_equal(&drec_msg_at(&s, 0)->from, &ca));
    /* a connected endpoint hears from its remote only */
    drec y;
    drec_init(&y);
    open_local(env, &y);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tw_transport_sendto(y.t, "stranger", 8, &ca), 0);
    SEND_UNTIL(env, tw_transport_sendto(s.t, "reply", 5, &ca), c.nmsgs >= 1);
    assert_int_equal(drec_count_equal(&c, "stranger", 8), 0);
    drec *all[] = {&c, &s, &y};
    close_all(env, all, 3);
}

static void test_dgram_family_only_binds_wildcard(void **state)
{
    tw_env *env = TW_ENV(state);
    drec w, c;
    drec_init(&w);
    drec_init(&c);
    tw_datagram_opts o = {.family = AF_INET};
    drec_open(env, &w, &o);
    tw_addr wa = drec_sockname(&w);
    char buf[TW_ADDR_STRLEN], want[TW_ADDR_STRLEN];
    snprintf(want, sizeof want, "0.0.0.0:%u", tw_addr_port(&wa));
    assert_string_equal(tw_addr_format(&wa, buf, sizeof buf), want);
    /* the wildcard hears datagrams to the host's own address */
    open_remote(env, &c, ip(env->host, tw_addr_port(&wa)));
    SEND_UNTIL(env, tw_transport_sendto(c.t, "any", 3, NULL), w.nmsgs >= 1);
    drec *all[] = {&c, &w};
    close_all(env, all, 2);
}

static void test_dgram_ipv6(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    tw_datagram_opts o = {.local = ip("::1", 0)};
    int rc = tw_create_datagram_endpoint(env->loop, drec_factory, &s, &o, drec_cb);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        skip(); /* a host without IPv6 */
    assert_int_equal(rc, 0);
    TW_WAIT(env, s.cb_called);
    tw_addr sa = drec_sockname(&s);
    char buf[TW_ADDR_STRLEN], want[TW_ADDR_STRLEN];
    snprintf(want, sizeof want, "[::1]:%u", tw_addr_port(&sa));
    assert_string_equal(tw_addr_format(&sa, buf, sizeof buf), want);
    open_remote(env, &c, sa);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "six", 3, NULL), c.nmsgs >= 1);
    assert_memory_equal(drec_msg_at(&c, 0)->data, "six", 3);
    assert_int_equal(tw_addr_family(&drec_msg_at(&s, 0)->from), AF_INET6);
    /* an IPv4 address on an IPv6 endpoint is the caller's mistake */
    tw_addr v4 = ip("127.0.0.1", 9);
    assert_int_equal(tw_transport_sendto(s.t, "x", 1, &v4), -EAFNOSUPPORT);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

/* ------------------------------------------------------------------ */
/* arguments                                                           */

static void test_dgram_bad_arguments(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    tw_datagram_opts o = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(NULL, drec_factory, &r, &o, drec_cb), -EINVAL);
    assert_int_equal(tw_create_datagram_endpoint(env->loop, NULL, &r, &o, drec_cb), -EINVAL);
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, NULL, drec_cb), -EINVAL);
    tw_datagram_opts none = {0};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &none, drec_cb), -EINVAL);
    tw_datagram_opts mixed = {.local = ip(env->host, 0), .remote = ip("::1", 5)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &mixed, drec_cb), -EINVAL);
    tw_datagram_opts fam = {.local = ip(env->host, 0), .family = AF_INET6};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &fam, drec_cb), -EINVAL);
    tw_datagram_opts port0 = {.remote = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &port0, drec_cb), -EINVAL);
    tw_datagram_opts weird = {.family = 12345};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &weird, drec_cb), -EAFNOSUPPORT);
    /* not an address of this host */
    tw_datagram_opts far = {.local = ip("10.255.255.1", 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &far, drec_cb), -EADDRNOTAVAIL);
    /* a Unix family with an IP address */
    tw_datagram_opts unix_ip = {.family = AF_UNIX, .local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r, &unix_ip, drec_cb), -EINVAL);
    /* none of them calls back */
    tw_run_slice(env);
    assert_false(r.cb_called);
    assert_int_equal(r.made, 0);
    assert_int_equal(tw_loop_alive(env->loop), 0);

    /* sendto's own mistakes, and calls that make no sense for datagrams */
    open_local(env, &r);
    tw_addr six = ip("::1", 5), zero = ip(env->host, 0), ok = ip(env->host, 9);
    assert_int_equal(tw_transport_sendto(r.t, "x", 1, &six), -EAFNOSUPPORT);
    assert_int_equal(tw_transport_sendto(r.t, "x", 1, &zero), -EINVAL);
    assert_int_equal(tw_transport_sendto(r.t, NULL, 1, &ok), -EINVAL);
    assert_int_equal(tw_transport_write(r.t, "x", 1), -ENOTSUP);
    struct iovec iov = {.iov_base = "x", .iov_len = 1};
    assert_int_equal(tw_transport_writelines(r.t, &iov, 1), -ENOTSUP);
    assert_int_equal(tw_transport_write_eof(r.t), -ENOTSUP);
    assert_false(tw_transport_can_write_eof(r.t));
    assert_int_equal(tw_transport_pause_reading(r.t), -ENOTSUP);
    assert_int_equal(tw_transport_resume_reading(r.t), -ENOTSUP);
    assert_int_equal(r.errors, 0);
    drec *all[] = {&r};
    close_all(env, all, 1);
}

/* ------------------------------------------------------------------ */
/* datagrams                                                           */

static void test_dgram_zero_length(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    /* the 3.13 change: an empty datagram is sent, and received as one */
    SEND_UNTIL(env, tw_transport_sendto(c.t, NULL, 0, NULL), c.nmsgs >= 1);
    assert_int_equal(drec_msg_at(&s, 0)->len, 0);
    assert_int_equal(drec_msg_at(&c, 0)->len, 0);
    assert_int_equal(c.errors + s.errors, 0);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_dgram_many_senders(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c[3];
    drec_init(&s);
    s.echo = true;
    open_local(env, &s);
    tw_addr sa = drec_sockname(&s);
    char msg[3][8];
    for (int i = 0; i < 3; i++) {
        drec_init(&c[i]);
        open_remote(env, &c[i], sa);
        snprintf(msg[i], sizeof msg[i], "from-%d", i);
    }
    for (int i = 0; i < 3; i++)
        SEND_UNTIL(env, tw_transport_sendto(c[i].t, msg[i], 6, NULL),
                   c[i].nmsgs >= 1);
    /* each got its own echo back, and nothing else */
    for (int i = 0; i < 3; i++)
        assert_int_equal(drec_count_equal(&c[i], msg[i], 6), c[i].nmsgs);
    drec *all[] = {&c[0], &c[1], &c[2], &s};
    close_all(env, all, 4);
}

static void test_dgram_close_in_datagram_received(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.close_on_datagram = true;
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    SEND_UNTIL(env,
               for (int i = 0; i < 3; i++)
                   tw_transport_sendto(c.t, "one-of-three", 12, NULL),
               s.done);
    /* nothing after close: the other datagrams are not delivered */
    assert_int_equal(s.datagrams, 1);
    assert_string_equal(s.log, "MGL");
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

/* An address where nobody listens (bound a moment ago, then closed). */
static tw_addr dead_address(tw_env *env)
{
    drec d;
    drec_init(&d);
    open_local(env, &d);
    tw_addr a = drec_sockname(&d);
    drec *all[] = {&d};
    close_all(env, all, 1);
    return a;
}

static void test_dgram_refused_goes_to_error_received(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr dead = dead_address(env);
    drec c;
    drec_init(&c);
    open_remote(env, &c, dead);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "anyone?", 7, NULL), c.errors > 0);
    assert_int_equal(c.last_err, -ECONNREFUSED);
    /* an error about a datagram is not the end of the endpoint */
    assert_false(tw_transport_is_closing(c.t));
    assert_int_equal(c.lost, 0);
    assert_int_equal(tw_transport_sendto(c.t, "still", 5, NULL), 0);
    drec *all[] = {&c};
    close_all(env, all, 1);
    assert_int_equal(c.lost_err, 0);
}

static void test_dgram_unconnected_hears_no_refusal(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr dead = dead_address(env);
    drec u;
    drec_init(&u);
    open_local(env, &u);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tw_transport_sendto(u.t, "x", 1, &dead), 0);
        tw_run_slice(env);
    }
    for (int i = 0; i < 10; i++)
        tw_run_slice(env);
    /* as Linux does: ICMP errors reach connected sockets only */
    assert_int_equal(u.errors, 0);
    drec *all[] = {&u};
    close_all(env, all, 1);
}

static void test_dgram_too_big_is_emsgsize(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    size_t big = 70000; /* over UDP's 65,507 bytes */
    uint8_t *b = calloc(1, big);
    assert_non_null(b);
    assert_int_equal(tw_transport_sendto(c.t, b, big, NULL), 0);
    free(b);
    /* reported from inside sendto, as asyncio does; still open */
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.last_err, -EMSGSIZE);
    assert_false(tw_transport_is_closing(c.t));
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "small", 5, NULL), s.nmsgs >= 1);
    assert_int_equal(drec_count_equal(&s, "small", 5), s.nmsgs);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_dgram_broadcast_needs_allow(void **state)
{
    tw_env *env = TW_ENV(state);
    drec w, b, nb;
    drec_init(&w);
    drec_init(&b);
    drec_init(&nb);
    tw_datagram_opts wo = {.family = AF_INET};
    drec_open(env, &w, &wo);
    tw_addr wa = drec_sockname(&w);
    tw_addr bcast = ip("255.255.255.255", tw_addr_port(&wa));
    open_local(env, &nb);
    assert_int_equal(tw_transport_sendto(nb.t, "no", 2, &bcast), 0);
    assert_int_equal(nb.errors, 1);
    assert_int_equal(nb.last_err, -EACCES);
    tw_datagram_opts bo = {.local = ip(env->host, 0), .allow_broadcast = true};
    drec_open(env, &b, &bo);
    SEND_UNTIL(env, tw_transport_sendto(b.t, "all", 3, &bcast),
               w.nmsgs >= 1 || b.errors > 0);
    if (b.errors == 0) {
        tw_addr ba = drec_sockname(&b);
        assert_true(tw_addr_equal(&drec_msg_at(&w, 0)->from, &ba));
    } else {
        /* a host with no broadcast route: anything but the permission */
        assert_int_not_equal(b.last_err, -EACCES);
    }
    drec *all[] = {&w, &b, &nb};
    close_all(env, all, 3);
}

/* ------------------------------------------------------------------ */
/* queue                                                               */

static void test_dgram_buffer_size_and_watermarks(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    assert_int_equal(tw_transport_set_write_buffer_limits(c.t, 100, 20), 0);
    size_t lo, hi;
    tw_transport_get_write_buffer_limits(c.t, &lo, &hi);
    assert_int_equal(lo, 20);
    assert_int_equal(hi, 100);
    link_block(env, c.t, NULL);
    static uint8_t hundred[100];
    assert_int_equal(tw_transport_sendto(c.t, "0123456789", 10, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 10 + 8);
    assert_int_equal(tw_transport_sendto(c.t, NULL, 0, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 18 + 8);
    assert_int_equal(c.pauses, 0);
    /* 134 > 100: pause_writing inside the sendto that crossed high */
    assert_int_equal(tw_transport_sendto(c.t, hundred, 100, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 134);
    assert_int_equal(c.pauses, 1);
    assert_int_equal(tw_transport_sendto(c.t, "z", 1, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 143);
    assert_int_equal(c.pauses, 1);
    assert_int_equal(c.resumes, 0);
    link_unblock(env);
    TW_WAIT(env, c.resumes == 1);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    assert_string_equal(c.log, "MPR");
    /* everything queued went out, in order, after the plug */
    TW_WAIT(env, s.nmsgs >= 5);
    assert_memory_equal(drec_msg_at(&s, 0)->data, plug, 4);
    assert_int_equal(drec_msg_at(&s, 1)->len, 10);
    assert_int_equal(drec_msg_at(&s, 2)->len, 0);
    assert_int_equal(drec_msg_at(&s, 3)->len, 100);
    assert_int_equal(drec_msg_at(&s, 4)->len, 1);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_dgram_close_flushes_queue(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(env, &s);
    tw_addr sa = drec_sockname(&s);
    open_local(env, &c); /* unconnected: queued datagrams keep their address */
    link_block(env, c.t, &sa);
    assert_int_equal(tw_transport_sendto(c.t, "a", 1, &sa), 0);
    assert_int_equal(tw_transport_sendto(c.t, "bb", 2, &sa), 0);
    assert_int_equal(tw_transport_sendto(c.t, "ccc", 3, &sa), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 6 + 3 * 8);
    assert_int_equal(tw_transport_close(c.t), 0);
    assert_true(tw_transport_is_closing(c.t));
    assert_int_equal(tw_transport_sendto(c.t, "late", 4, &sa), -EPIPE);
    tw_run_slice(env);
    assert_int_equal(c.lost, 0); /* waits for the queue */
    link_unblock(env);
    TW_WAIT(env, c.done);
    assert_int_equal(c.lost_err, 0);
    TW_WAIT(env, s.nmsgs >= 4);
    assert_memory_equal(drec_msg_at(&s, 1)->data, "a", 1);
    assert_memory_equal(drec_msg_at(&s, 2)->data, "bb", 2);
    assert_memory_equal(drec_msg_at(&s, 3)->data, "ccc", 3);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_dgram_abort_drops_queue(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    link_block(env, c.t, NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tw_transport_sendto(c.t, "lost!", 5, NULL), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 3 * 13);
    assert_int_equal(tw_transport_abort(c.t), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    assert_int_equal(c.lost, 0);
    link_unblock(env);
    TW_WAIT(env, c.done);
    assert_int_equal(c.lost_err, 0);
    for (int i = 0; i < 120; i++) /* past the simulator's clog */
        tw_run_slice(env);
    assert_int_equal(drec_count_equal(&s, "lost!", 5), 0);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

/* ------------------------------------------------------------------ */
/* options                                                             */

static void test_dgram_reuse_port(void **state)
{
    tw_env *env = TW_ENV(state);
    drec a, b, c, x;
    drec_init(&a);
    drec_init(&b);
    drec_init(&c);
    drec_init(&x);
    tw_datagram_opts o = {.local = ip(env->host, 0), .reuse_port = true};
    drec_open(env, &a, &o);
    o.local = drec_sockname(&a);
    drec_open(env, &b, &o); /* both asked for it: both bound */
    tw_datagram_opts plain = {.local = o.local};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &x,
                                                 &plain, drec_cb), -EADDRINUSE);
    open_remote(env, &c, o.local);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "one", 3, NULL),
               a.nmsgs + b.nmsgs >= 1);
    /* each datagram goes to one of them */
    assert_int_equal(drec_count_equal(&a, "one", 3), a.nmsgs);
    assert_int_equal(drec_count_equal(&b, "one", 3), b.nmsgs);
    /* without the option a taken port stays taken */
    drec *ab[] = {&a, &b};
    close_all(env, ab, 2);
    drec_init(&a);
    drec_init(&b);
    tw_datagram_opts p = {.local = ip(env->host, 0)};
    drec_open(env, &a, &p);
    p.local = drec_sockname(&a);
    p.reuse_port = true;
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &b,
                                                 &p, drec_cb), -EADDRINUSE);
    drec *all[] = {&a, &c};
    close_all(env, all, 2);
}

/* ------------------------------------------------------------------ */
/* apps                                                                */

struct echo_srv {
    tw_udp_echo_server_cfg cfg; /* first: the factory's arg */
    tw_transport *t;
};

static void echo_srv_cb(void *arg, tw_transport *t, int err)
{
    assert_int_equal(err, 0);
    ((struct echo_srv *)arg)->t = t;
}

static void test_dgram_udp_echo_protocols(void **state)
{
    tw_env *env = TW_ENV(state);
    struct echo_srv srv;
    memset(&srv, 0, sizeof srv);
    tw_datagram_opts so = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, tw_udp_echo_server_factory,
                                                 &srv, &so, echo_srv_cb), 0);
    TW_WAIT(env, srv.t != NULL);
    tw_udp_echo_client_cfg cc = {.message = "ping", .count = 5,
                                 .timeout_ns = TW_MS(200), .retries = 50};
    tw_udp_echo_client *cl = tw_udp_echo_client_new(&cc);
    assert_non_null(cl);
    tw_datagram_opts co = {0};
    assert_int_equal(tw_transport_sockname(srv.t, &co.remote), 0);
    assert_int_equal(tw_create_datagram_endpoint(env->loop, tw_udp_echo_client_factory,
                                                 cl, &co, tw_udp_echo_client_connected), 0);
    TW_WAIT(env, tw_udp_echo_client_done(cl));
    assert_true(tw_udp_echo_client_ok(cl));
    assert_int_equal(tw_udp_echo_client_mismatches(cl), 0);
    unsigned sends = tw_udp_echo_client_sends(cl);
    if (env->sim) {
        /* no loss, latency far under the timeout: nothing resent */
        assert_int_equal(sends, 5);
        assert_int_equal(tw_udp_echo_client_echoes(cl), 5);
        assert_int_equal(srv.cfg.datagrams, 5);
    } else {
        /* a busy machine may make the client resend (and a late echo of
         * a resend may come after it is done) */
        assert_true(tw_udp_echo_client_echoes(cl) >= 5);
        assert_true(tw_udp_echo_client_echoes(cl) <= sends);
        assert_true(srv.cfg.datagrams >= 5 && srv.cfg.datagrams <= sends);
    }
    assert_int_equal(srv.cfg.bytes, 4 * srv.cfg.datagrams);
    tw_udp_echo_client_free(cl);
    tw_transport_close(srv.t);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

static void test_dgram_udp_echo_client_gives_up(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_udp_echo_client_cfg cc = {.message = "hello?", .timeout_ns = TW_MS(50),
                                 .retries = 2};
    tw_udp_echo_client *cl = tw_udp_echo_client_new(&cc);
    tw_datagram_opts co = {.remote = dead_address(env)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, tw_udp_echo_client_factory,
                                                 cl, &co, tw_udp_echo_client_connected), 0);
    TW_WAIT(env, tw_udp_echo_client_done(cl));
    assert_false(tw_udp_echo_client_ok(cl));
    assert_int_equal(tw_udp_echo_client_error(cl), -ETIMEDOUT);
    assert_int_equal(tw_udp_echo_client_sends(cl), 3);
    assert_int_equal(tw_udp_echo_client_last_error(cl), -ECONNREFUSED);
    tw_udp_echo_client_free(cl);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

/* ------------------------------------------------------------------ */
/* ends by host name                                                   */

static tw_addr ux(const char *path);

/* Counts the factory's calls (drec_factory does not). */
static int factory_calls;

static tw_protocol *counting_factory(void *r)
{
    factory_calls++;
    return drec_factory(r);
}

/* A stream connect's outcome, to compare what a name does to each. */
struct conn_outcome {
    bool called;
    int err;
};

static void conn_outcome_cb(void *arg, tw_transport *t, int err)
{
    struct conn_outcome *o = arg;
    o->called = true;
    o->err = err;
    if (t)
        tw_transport_abort(t);
}

/* Both ends by name: the server binds "localhost", the client binds and
 * connects to "localhost". Nothing is made inside the call; then it
 * works as with numeric addresses. */
static void test_dgram_by_name_echo_roundtrip(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    factory_calls = 0;
    tw_datagram_opts so = {.local_host = "localhost", .local_port = 0};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &s, &so, drec_cb), 0);
    /* resolved from the loop, never inside the call; the loop is alive */
    assert_int_equal(factory_calls, 0);
    assert_false(s.cb_called);
    assert_true(tw_loop_alive(env->loop) > 0);
    TW_WAIT(env, s.cb_called);
    assert_int_equal(s.cb_err, 0);
    assert_int_equal(s.made, 1);
    assert_int_equal(factory_calls, 1);
    tw_addr sa = drec_sockname(&s);
    tw_addr lo = ip("127.0.0.1", tw_addr_port(&sa));
    assert_true(tw_addr_equal(&sa, &lo));

    char host[16];
    snprintf(host, sizeof host, "%s", "localhost");
    tw_datagram_opts co = {.local_host = host, .remote_host = host,
                           .remote_port = tw_addr_port(&sa)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &c, &co, drec_cb), 0);
    host[0] = 'X'; /* the call copied the names */
    assert_false(c.cb_called);
    TW_WAIT(env, c.cb_called);
    assert_int_equal(c.cb_err, 0);
    assert_ptr_equal(c.cb_t, c.t);
    tw_addr peer;
    assert_int_equal(tw_transport_peername(c.t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &sa));
    SEND_UNTIL(env, tw_transport_sendto(c.t, "by name", 7, NULL), c.nmsgs >= 1);
    assert_int_equal(drec_msg_at(&c, 0)->len, 7);
    assert_memory_equal(drec_msg_at(&c, 0)->data, "by name", 7);
    tw_addr ca = drec_sockname(&c);
    assert_true(tw_addr_equal(&drec_msg_at(&s, 0)->from, &ca));
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

/* A name that does not resolve: the call returns 0, cb gets what a
 * stream connect to that name gets, and the factory is never called. */
static void test_dgram_by_name_not_found(void **state)
{
    tw_env *env = TW_ENV(state);
    /* an empty label: no resolver finds it (glibc refuses it without
     * asking DNS), and no simulated node has that name */
    const char *bad = "no..such.host";
    struct conn_outcome stream = {0};
    assert_int_equal(tw_create_connection(env->loop, null_factory, &stream,
                                          bad, 9, conn_outcome_cb), 0);
    TW_WAIT(env, stream.called);
    /* the same error on both backends: the name does not resolve */
    assert_int_equal(stream.err, TW_EAI_NONAME);
    assert_non_null(strstr(tw_strerror(stream.err), "name does not resolve: "));
    drec r, l;
    drec_init(&r);
    drec_init(&l);
    factory_calls = 0;
    tw_datagram_opts o = {.remote_host = bad, .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &r, &o, drec_cb), 0);
    assert_false(r.cb_called);
    assert_true(tw_loop_alive(env->loop) > 0);
    TW_WAIT(env, r.cb_called);
    assert_int_equal(r.cb_err, stream.err);
    assert_null(r.cb_t);
    /* a local name fails alike, with a numeric remote */
    tw_datagram_opts lo = {.local_host = bad, .remote_host = "127.0.0.1",
                           .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &l, &lo, drec_cb), 0);
    TW_WAIT(env, l.cb_called);
    assert_int_equal(l.cb_err, TW_EAI_NONAME);
    tw_run_slice(env);
    assert_int_equal(factory_calls, 0);
    assert_int_equal(r.made + l.made, 0);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    drec_free(&r);
    drec_free(&l);
}

/* The real backend's resolver answers "localhost" with 127.0.0.1 only
 * here, as the simulator does (a host's /etc/hosts may add ::1). */
static int v4_localhost_gai(const char *host, const char *service,
                            const struct addrinfo *hints,
                            struct addrinfo **res)
{
    if (strcmp(host, "localhost") != 0)
        return getaddrinfo(host, service, hints, res);
    struct addrinfo h = *hints;
    h.ai_family = AF_INET;
    return getaddrinfo("127.0.0.1", service, &h, res);
}

/* Names whose addresses are not of the family wanted: -EAFNOSUPPORT
 * through cb, after a call that returned 0. */
static void test_dgram_by_name_family_mismatch(void **state)
{
    tw_env *env = TW_ENV(state);
    if (!env->sim)
        tw_sys.getaddrinfo = v4_localhost_gai;
    drec a, b, c;
    drec_init(&a);
    drec_init(&b);
    drec_init(&c);
    factory_calls = 0;
    /* the family asked for */
    tw_datagram_opts o = {.family = AF_INET6, .remote_host = "localhost",
                          .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &a, &o, drec_cb), 0);
    /* the family of the numeric other end */
    tw_datagram_opts o2 = {.local = ip("::1", 0), .remote_host = "localhost",
                           .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &b, &o2, drec_cb), 0);
    /* the same by name with a name of the right family works */
    tw_datagram_opts o3 = {.family = AF_INET, .remote_host = "localhost",
                           .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, counting_factory,
                                                 &c, &o3, drec_cb), 0);
    TW_WAIT(env, a.cb_called && b.cb_called && c.cb_called);
    assert_int_equal(a.cb_err, -EAFNOSUPPORT);
    assert_int_equal(b.cb_err, -EAFNOSUPPORT);
    assert_int_equal(a.made + b.made, 0);
    assert_int_equal(c.cb_err, 0);
    assert_int_equal(c.made, 1);
    assert_int_equal(factory_calls, 1);
    tw_sys_reset();
    drec_free(&a);
    drec_free(&b);
    drec *all[] = {&c};
    close_all(env, all, 1);
}

/* What a call with a host can tell at once is returned, as ever. */
static void test_dgram_by_name_call_errors(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    tw_datagram_opts o = {.remote_host = "localhost"}; /* port 0 */
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EINVAL);
    o = (tw_datagram_opts){.remote_host = "", .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EINVAL);
    o = (tw_datagram_opts){.family = AF_UNIX, .local_host = "localhost"};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EINVAL);
    o = (tw_datagram_opts){.local = ux(env->unix_path), .remote_host = "localhost",
                           .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EINVAL);
    /* a numeric host is an address: its errors are the call's */
    o = (tw_datagram_opts){.family = AF_INET, .remote_host = "::1",
                           .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EINVAL);
    o = (tw_datagram_opts){.local_host = "192.0.2.7"};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -EADDRNOTAVAIL);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    tw_run_slice(env);
    assert_false(r.cb_called);
    drec_free(&r);
}

/* A numeric host is made at once, as a tw_addr is; a host replaces the
 * tw_addr of its end. */
static void test_dgram_numeric_host_at_once(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    s.echo = true;
    tw_datagram_opts so = {.local = ip("192.0.2.7", 1), /* replaced */
                           .local_host = env->host};
    drec_open(env, &s, &so);
    tw_addr sa = drec_sockname(&s);
    assert_int_equal(tw_addr_family(&sa), AF_INET);
    tw_datagram_opts co = {.remote_host = env->host,
                           .remote_port = tw_addr_port(&sa)};
    drec_open(env, &c, &co);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "n", 1, NULL), c.nmsgs >= 1);
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

/* ------------------------------------------------------------------ */
/* Unix datagram sockets                                               */

#define REAL_ONLY(fn) \
    {#fn "[real]", fn, tw_env_setup, tw_env_teardown, (void *)tw_backend_real}

static tw_addr ux(const char *path)
{
    tw_addr a;
    assert_int_equal(tw_addr_unix(&a, path), 0);
    return a;
}

/* Another fresh name of this test: env->unix_path with a suffix, or an
 * abstract name made from it (suffix starting with '@'). */
static tw_addr ux_name(tw_env *env, const char *suffix)
{
    char path[128];
    if (suffix[0] == '@')
        snprintf(path, sizeof path, "@%s%s", env->unix_path, suffix + 1);
    else
        snprintf(path, sizeof path, "%s%s", env->unix_path, suffix);
    return ux(path);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void open_unix(tw_env *env, drec *r, tw_addr local)
{
    tw_datagram_opts o = {.local = local};
    drec_open(env, r, &o);
}

/* No local address, no remote: an unnamed socket that can only send. */
static void open_unbound(tw_env *env, drec *r)
{
    tw_datagram_opts o = {.family = AF_UNIX};
    drec_open(env, r, &o);
}

static void test_unix_dgram_roundtrip(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr sa = ux(env->unix_path), ca = ux_name(env, ".client");
    drec s, c, x;
    drec_init(&s);
    drec_init(&c);
    drec_init(&x);
    s.echo = true;
    open_unix(env, &s, sa);
    tw_datagram_opts co = {.local = ca, .remote = sa};
    drec_open(env, &c, &co);
    tw_addr peer, got = drec_sockname(&c);
    assert_true(tw_addr_equal(&got, &ca));
    got = drec_sockname(&s);
    assert_true(tw_addr_equal(&got, &sa));
    char buf[TW_ADDR_STRLEN], want[TW_ADDR_STRLEN];
    snprintf(want, sizeof want, "unix:%s", env->unix_path);
    assert_string_equal(tw_addr_format(&got, buf, sizeof buf), want);
    assert_int_equal(tw_transport_peername(c.t, &peer), 0);
    assert_true(tw_addr_equal(&peer, &sa));
    assert_int_equal(tw_transport_peername(s.t, &peer), -ENOENT);
    assert_int_equal(tw_transport_sendto(c.t, "unix", 4, NULL), 0);
    TW_WAIT(env, c.nmsgs == 1); /* Unix datagrams are not lost */
    /* the server saw the client's name, and its echo came from the path */
    assert_true(tw_addr_equal(&drec_msg_at(&s, 0)->from, &ca));
    assert_memory_equal(drec_msg_at(&c, 0)->data, "unix", 4);
    assert_true(tw_addr_equal(&drec_msg_at(&c, 0)->from, &sa));
    assert_int_equal(c.errors + s.errors, 0);
    if (!env->sim) /* a socket file on the disk for each */
        assert_true(file_exists(ca.u.un.sun_path) && file_exists(env->unix_path));
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
    assert_string_equal(c.log, "MGL");
    if (!env->sim) {
        assert_false(file_exists(ca.u.un.sun_path));
        assert_false(file_exists(env->unix_path));
    }
    /* each endpoint removed its own name: nobody is there any more */
    open_unbound(env, &x);
    assert_int_equal(tw_transport_sendto(x.t, "gone", 4, &sa), 0);
    assert_int_equal(x.errors, 1); /* from inside sendto */
    assert_int_equal(x.last_err, -ENOENT);
    assert_int_equal(tw_transport_sendto(x.t, "gone", 4, &ca), 0);
    assert_int_equal(x.errors, 2);
    assert_int_equal(x.last_err, -ENOENT);
    drec *last[] = {&x};
    close_all(env, last, 1);
}

static void test_unix_dgram_unbound_sender(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr sa = ux(env->unix_path), tmp;
    drec s, c, u, a;
    drec_init(&s);
    drec_init(&c);
    drec_init(&u);
    drec_init(&a);
    open_unix(env, &s, sa);
    /* connected, with no name of its own */
    open_remote(env, &c, sa);
    assert_int_equal(tw_transport_sockname(c.t, &tmp), -ENOENT);
    assert_int_equal(tw_transport_sendto(c.t, "anon", 4, NULL), 0);
    TW_WAIT(env, s.nmsgs == 1);
    /* a sender with no name: an empty address, nowhere to answer */
    assert_int_equal(drec_msg_at(&s, 0)->from.len, 0);
    assert_int_equal(tw_addr_family(&drec_msg_at(&s, 0)->from), AF_UNSPEC);
    assert_int_equal(tw_transport_sendto(s.t, "re", 2, &drec_msg_at(&s, 0)->from),
                     -EDESTADDRREQ);
    /* neither bound nor connected: sendto names the receiver each time */
    open_unbound(env, &u);
    assert_int_equal(tw_transport_sockname(u.t, &tmp), -ENOENT);
    assert_int_equal(tw_transport_peername(u.t, &tmp), -ENOENT);
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, NULL), -EDESTADDRREQ);
    tw_addr v4 = ip("127.0.0.1", 9);
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &v4), -EAFNOSUPPORT);
    assert_int_equal(tw_transport_sendto(u.t, "free", 4, &sa), 0);
    TW_WAIT(env, s.nmsgs == 2);
    assert_memory_equal(drec_msg_at(&s, 1)->data, "free", 4);
    assert_int_equal(drec_msg_at(&s, 1)->from.len, 0);
    /* the family alone as the local address: the system picks an
     * abstract name (autobind), which the receiver sees and answers */
    tw_datagram_opts ao = {.local = {.len = offsetof(struct sockaddr_un, sun_path)}};
    ao.local.u.un.sun_family = AF_UNIX;
    drec_open(env, &a, &ao);
    tw_addr an = drec_sockname(&a);
    char buf[TW_ADDR_STRLEN];
    tw_addr_format(&an, buf, sizeof buf);
    assert_int_equal(strlen(buf), strlen("unix:@") + 5);
    assert_memory_equal(buf, "unix:@", 6);
    assert_int_equal(tw_transport_sendto(a.t, "auto", 4, &sa), 0);
    TW_WAIT(env, s.nmsgs == 3);
    assert_true(tw_addr_equal(&drec_msg_at(&s, 2)->from, &an));
    assert_int_equal(tw_transport_sendto(s.t, "back", 4, &an), 0);
    TW_WAIT(env, a.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&a, 0)->data, "back", 4);
    assert_int_equal(c.errors + s.errors + u.errors + a.errors, 0);
    drec *all[] = {&c, &s, &u, &a};
    close_all(env, all, 4);
}

/* What sendto and connect say when nobody is at a name. */
static void test_unix_dgram_nobody_there(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr missing = ux(env->unix_path), abs = ux_name(env, "@.nobody");
    drec u, r;
    drec_init(&u);
    drec_init(&r);
    open_unbound(env, &u);
    /* no file at the path: ENOENT, reported from inside sendto */
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &missing), 0);
    assert_int_equal(u.errors, 1);
    assert_int_equal(u.last_err, -ENOENT);
    /* nobody has the abstract name: ECONNREFUSED */
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &abs), 0);
    assert_int_equal(u.errors, 2);
    assert_int_equal(u.last_err, -ECONNREFUSED);
    /* an address with no name at all */
    tw_addr empty = {.len = offsetof(struct sockaddr_un, sun_path)};
    empty.u.un.sun_family = AF_UNIX;
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &empty), 0);
    assert_int_equal(u.errors, 3);
    assert_int_equal(u.last_err, -EINVAL);
    /* an error about a datagram is not the end of the endpoint */
    assert_false(tw_transport_is_closing(u.t));
    assert_int_equal(tw_transport_get_write_buffer_size(u.t), 0);
    /* connecting fails the same ways, returned by create */
    tw_datagram_opts o = {.remote = missing};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -ENOENT);
    o.remote = abs;
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -ECONNREFUSED);
    /* bound first (replacing the file of an endpoint that had the
     * path), then the connect failed: the file it bound goes with it, so
     * nothing is left at the path and a sender finds no file */
    tw_addr left = ux_name(env, ".left");
    drec had;
    drec_init(&had);
    open_unix(env, &had, left);
    o.local = left;
    o.remote = missing;
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &r,
                                                 &o, drec_cb), -ENOENT);
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &left), 0);
    assert_int_equal(u.errors, 4);
    assert_int_equal(u.last_err, -ENOENT);
    if (!env->sim) {
        struct stat st;
        assert_int_equal(lstat(left.u.un.sun_path, &st), -1);
    }
    /* the path is free for the next one */
    drec again;
    drec_init(&again);
    open_unix(env, &again, left);
    assert_int_equal(tw_transport_sendto(u.t, "y", 1, &left), 0);
    TW_WAIT(env, again.nmsgs == 1);
    assert_int_equal(had.nmsgs, 0);
    tw_run_slice(env);
    assert_false(r.cb_called);
    assert_int_equal(r.made, 0);
    drec *all[] = {&u, &had, &again};
    close_all(env, all, 3);
    assert_string_equal(u.log, "MXXXXL");
}

/* Binding a path that is taken replaces the socket file there (as
 * asyncio does); a connected endpoint stays with the socket it found. */
static void test_unix_dgram_path_taken_is_replaced(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr p = ux(env->unix_path);
    drec a, b, k, u;
    drec_init(&a);
    drec_init(&b);
    drec_init(&k);
    drec_init(&u);
    open_unix(env, &a, p);
    open_remote(env, &k, p); /* k is connected to a */
    open_unix(env, &b, p);   /* the path is b's now */
    open_unbound(env, &u);
    assert_int_equal(tw_transport_sendto(u.t, "to-path", 7, &p), 0);
    assert_int_equal(tw_transport_sendto(k.t, "to-socket", 9, NULL), 0);
    TW_WAIT(env, a.nmsgs == 1 && b.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&b, 0)->data, "to-path", 7);
    assert_memory_equal(drec_msg_at(&a, 0)->data, "to-socket", 9);
    /* a's close leaves b's file alone */
    drec *first[] = {&a};
    close_all(env, first, 1);
    assert_int_equal(tw_transport_sendto(u.t, "still", 5, &p), 0);
    TW_WAIT(env, b.nmsgs == 2);
    assert_memory_equal(drec_msg_at(&b, 1)->data, "still", 5);
    /* the socket k is connected to is gone: refused once, and then k is
     * no longer connected at all */
    assert_int_equal(tw_transport_sendto(k.t, "a?", 2, NULL), 0);
    assert_int_equal(k.errors, 1);
    assert_int_equal(k.last_err, -ECONNREFUSED);
    assert_int_equal(tw_transport_sendto(k.t, "a?", 2, NULL), 0);
    assert_int_equal(k.errors, 2);
    assert_int_equal(k.last_err, -ENOTCONN);
    assert_false(tw_transport_is_closing(k.t));
    assert_int_equal(b.nmsgs, 2);
    /* b's close removes the file */
    drec *second[] = {&b};
    close_all(env, second, 1);
    assert_int_equal(tw_transport_sendto(u.t, "none", 4, &p), 0);
    assert_int_equal(u.errors, 1);
    assert_int_equal(u.last_err, -ENOENT);
    drec *all[] = {&k, &u};
    close_all(env, all, 2);
}

/* An abstract name ("@...") is no file: it is not replaced, and it is
 * free again when its endpoint closes. */
static void test_unix_dgram_abstract_name(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr n = ux_name(env, "@.abstract");
    drec a, b, u;
    drec_init(&a);
    drec_init(&b);
    drec_init(&u);
    open_unix(env, &a, n);
    tw_addr got = drec_sockname(&a);
    assert_true(tw_addr_equal(&got, &n));
    char buf[TW_ADDR_STRLEN], want[TW_ADDR_STRLEN];
    snprintf(want, sizeof want, "unix:@%s.abstract", env->unix_path);
    assert_string_equal(tw_addr_format(&got, buf, sizeof buf), want);
    tw_datagram_opts o = {.local = n};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &b,
                                                 &o, drec_cb), -EADDRINUSE);
    open_unbound(env, &u);
    assert_int_equal(tw_transport_sendto(u.t, "abs", 3, &n), 0);
    TW_WAIT(env, a.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&a, 0)->data, "abs", 3);
    drec *first[] = {&a};
    close_all(env, first, 1);
    assert_false(b.cb_called);
    open_unix(env, &b, n);
    assert_int_equal(tw_transport_sendto(u.t, "again", 5, &n), 0);
    TW_WAIT(env, b.nmsgs == 1);
    assert_int_equal(u.errors, 0);
    drec *all[] = {&b, &u};
    close_all(env, all, 2);
}

/* A connected endpoint hears from its peer only: anyone else's sendto
 * (or connect) to it is refused with EPERM. */
static void test_unix_dgram_connected_hears_its_peer_only(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr pr = ux(env->unix_path), pq = ux_name(env, ".peer");
    drec q, r, x, k;
    drec_init(&q);
    drec_init(&r);
    drec_init(&x);
    drec_init(&k);
    open_unix(env, &q, pq);
    tw_datagram_opts ro = {.local = pr, .remote = pq};
    drec_open(env, &r, &ro);
    open_unbound(env, &x);
    assert_int_equal(tw_transport_sendto(x.t, "intruder", 8, &pr), 0);
    assert_int_equal(x.errors, 1);
    assert_int_equal(x.last_err, -EPERM);
    tw_datagram_opts ko = {.remote = pr};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &k,
                                                 &ko, drec_cb), -EPERM);
    assert_int_equal(tw_transport_sendto(q.t, "peer", 4, &pr), 0);
    assert_int_equal(tw_transport_sendto(r.t, "hi q", 4, NULL), 0);
    TW_WAIT(env, r.nmsgs == 1 && q.nmsgs == 1);
    assert_memory_equal(drec_msg_at(&r, 0)->data, "peer", 4);
    assert_true(tw_addr_equal(&drec_msg_at(&r, 0)->from, &pq));
    assert_true(tw_addr_equal(&drec_msg_at(&q, 0)->from, &pr));
    tw_run_slice(env);
    assert_int_equal(r.nmsgs, 1);
    assert_false(k.cb_called);
    drec *all[] = {&q, &r, &x};
    close_all(env, all, 3);
}

/* Unix datagram sockets push back for real: a receiver's queue is
 * bounded, and a sender that fills it gets EAGAIN from the system; the
 * transport queues and pauses; when the receiver reads, the queue flows,
 * in order, and writing resumes. Connected, and naming the receiver in
 * each sendto. */
static void count_in_order(drec *r, const uint8_t *d, size_t n,
                           const tw_addr *from)
{
    (void)from;
    uint64_t *next = r->user;
    assert_int_equal(n, 1000);
    assert_int_equal(d[0], (uint8_t)*next);
    assert_int_equal(d[999], (uint8_t)*next);
    (*next)++;
}

static void test_unix_dgram_pushback(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr ra = ux(env->unix_path);
    for (int connected = 1; connected >= 0; connected--) {
        drec s, c;
        uint64_t got = 0;
        drec_init(&s);
        drec_init(&c);
        s.count_only = true;
        s.user = &got;
        s.on_datagram = count_in_order;
        open_unix(env, &s, ra);
        if (connected)
            open_remote(env, &c, ra);
        else
            open_unbound(env, &c);
        const tw_addr *to = connected ? NULL : &ra;
        assert_int_equal(tw_transport_set_write_buffer_limits(c.t, 8 * 1008, 0), 0);
        static uint8_t msg[1000];
        uint64_t sent = 0;
        while (c.pauses == 0) {
            assert_true(sent < 100000);
            memset(msg, (uint8_t)sent, sizeof msg);
            assert_int_equal(tw_transport_sendto(c.t, msg, sizeof msg, to), 0);
            sent++;
        }
        assert_true(tw_transport_get_write_buffer_size(c.t) > 8 * 1008);
        assert_int_equal(s.datagrams, 0); /* the loop has not run yet */
        TW_WAIT(env, got == sent && c.resumes == 1);
        assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
        assert_string_equal(c.log, "MPR");
        assert_int_equal(c.errors + s.errors, 0);
        drec *all[] = {&c, &s};
        close_all(env, all, 2);
    }
}

static void first_error(drec *r, int err)
{
    int *first = r->user;
    if (*first == 0)
        *first = err;
}

/* The receiver closes without reading while a sender waits for room in
 * its queue: what was queued there is dropped, the sender wakes up and
 * each of its queued datagrams fails (the socket it is connected to is
 * gone; or, naming the path, nobody is there), and writing resumes. */
static void test_unix_dgram_receiver_closes_on_waiting_sender(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr ra = ux(env->unix_path);
    for (int connected = 1; connected >= 0; connected--) {
        drec s, c;
        int first = 0;
        drec_init(&s);
        drec_init(&c);
        c.user = &first;
        c.on_error = first_error;
        open_unix(env, &s, ra);
        if (connected)
            open_remote(env, &c, ra);
        else
            open_unbound(env, &c);
        const tw_addr *to = connected ? NULL : &ra;
        assert_int_equal(tw_transport_set_write_buffer_limits(c.t, 4 * 1008, 0), 0);
        static uint8_t msg[1000];
        for (int sent = 0; c.pauses == 0; sent++) {
            assert_true(sent < 100000);
            assert_int_equal(tw_transport_sendto(c.t, msg, sizeof msg, to), 0);
        }
        size_t queued = tw_transport_get_write_buffer_size(c.t) / 1008;
        assert_true(queued > 4);
        assert_int_equal(tw_transport_close(s.t), 0);
        TW_WAIT(env, s.done && c.resumes == 1);
        assert_int_equal(s.datagrams, 0);
        assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
        assert_int_equal(c.errors, (int)queued);
        assert_int_equal(first, connected ? -ECONNREFUSED : -ENOENT);
        assert_int_equal(c.last_err, connected ? -ENOTCONN : -ENOENT);
        assert_false(tw_transport_is_closing(c.t));
        assert_int_equal(c.log[0], 'M');
        assert_int_equal(c.log[1], 'P');
        assert_int_equal(c.log[c.loglen - 1], 'R');
        drec *all[] = {&c};
        close_all(env, all, 1);
        drec_free(&s);
    }
}

/* A Unix datagram may be larger than a UDP one: up to the send buffer
 * (Linux's default: 212,992 bytes less 32). */
static void test_unix_dgram_sizes(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr sa = ux(env->unix_path);
    drec s, u;
    drec_init(&s);
    drec_init(&u);
    open_unix(env, &s, sa);
    open_unbound(env, &u);
    size_t big = 100000, huge = 1u << 20;
    uint8_t *b = malloc(huge);
    assert_non_null(b);
    for (size_t i = 0; i < huge; i++)
        b[i] = tw_pattern(7, i);
    assert_int_equal(tw_transport_sendto(u.t, b, big, &sa), 0);
    assert_int_equal(tw_transport_sendto(u.t, b, huge, &sa), 0);
    assert_int_equal(u.errors, 1); /* from inside sendto; still open */
    assert_int_equal(u.last_err, -EMSGSIZE);
    assert_int_equal(tw_transport_get_write_buffer_size(u.t), 0);
    assert_int_equal(tw_transport_sendto(u.t, NULL, 0, &sa), 0);
    TW_WAIT(env, s.nmsgs == 2);
    assert_int_equal(drec_msg_at(&s, 0)->len, big);
    assert_memory_equal(drec_msg_at(&s, 0)->data, b, big);
    assert_int_equal(drec_msg_at(&s, 1)->len, 0);
    free(b);
    drec *all[] = {&s, &u};
    close_all(env, all, 2);
}

/* A Unix stream server's path is no datagram socket's: EPROTOTYPE. The
 * two kinds share the names: a datagram endpoint's bind replaces a
 * stream server's file (as it replaces any socket file), while a stream
 * server refuses a path a live socket holds, of either kind. */
static void test_unix_dgram_stream_server_path(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_addr p = ux(env->unix_path), p2 = ux_name(env, ".second");
    drec u, d, e, k;
    drec_init(&u);
    drec_init(&d);
    drec_init(&e);
    drec_init(&k);
    tw_server *srv, *srv2;
    assert_int_equal(tw_create_unix_server(env->loop, null_factory, NULL,
                                           env->unix_path, NULL, &srv), 0);
    open_unbound(env, &u);
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &p), 0);
    assert_int_equal(u.errors, 1);
    assert_int_equal(u.last_err, -EPROTOTYPE);
    tw_datagram_opts ko = {.remote = p};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &k,
                                                 &ko, drec_cb), -EPROTOTYPE);
    /* a datagram endpoint takes the path over */
    open_unix(env, &d, p);
    assert_int_equal(tw_transport_sendto(u.t, "dg", 2, &p), 0);
    TW_WAIT(env, d.nmsgs == 1);
    /* closing the server leaves the endpoint's file alone */
    tw_server_close(srv);
    tw_run_slice(env);
    assert_int_equal(tw_transport_sendto(u.t, "dg2", 3, &p), 0);
    TW_WAIT(env, d.nmsgs == 2);
    /* but a stream server leaves a live datagram endpoint its path */
    open_unix(env, &e, p2);
    srv2 = NULL;
    assert_int_equal(tw_create_unix_server(env->loop, null_factory, NULL,
                                           p2.u.un.sun_path, NULL, &srv2),
                     -EADDRINUSE);
    assert_null(srv2);
    assert_int_equal(tw_transport_sendto(u.t, "e!", 2, &p2), 0);
    TW_WAIT(env, e.nmsgs == 1);
    assert_int_equal(u.errors, 1);
    assert_false(k.cb_called);
    drec *all[] = {&u, &d, &e};
    close_all(env, all, 3);
}

/* And the other way: a Unix stream connect to a datagram endpoint's path
 * is told EPROTOTYPE through its callback, not ECONNREFUSED. */
static void test_unix_stream_connect_to_dgram_path(void **state)
{
    tw_env *env = TW_ENV(state);
    drec d;
    drec_init(&d);
    open_unix(env, &d, ux(env->unix_path));
    struct conn_outcome c = {0};
    factory_calls = 0;
    assert_int_equal(tw_create_unix_connection(env->loop, counting_factory, &c,
                                               env->unix_path, conn_outcome_cb),
                     0);
    assert_false(c.called);
    TW_WAIT(env, c.called);
    assert_int_equal(c.err, -EPROTOTYPE);
    assert_int_equal(factory_calls, 0);
    /* the endpoint is untouched */
    assert_false(tw_transport_is_closing(d.t));
    assert_int_equal(d.errors, 0);
    drec *all[] = {&d};
    close_all(env, all, 1);
}

/* Files on the disk that no endpoint made (the simulator's stale files
 * come from a crash: tests/test_sim_dgram.c). */
static void test_real_unix_dgram_stale_file(void **state)
{
    tw_env *env = TW_ENV(state);
    /* a socket file left by a dead process: refused, then replaced */
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    tw_addr a = ux(env->unix_path);
    assert_int_equal(bind(fd, &a.u.sa, a.len), 0);
    close(fd);
    drec s, u;
    drec_init(&s);
    drec_init(&u);
    open_unbound(env, &u);
    assert_int_equal(tw_transport_sendto(u.t, "x", 1, &a), 0);
    assert_int_equal(u.errors, 1);
    assert_int_equal(u.last_err, -ECONNREFUSED);
    tw_datagram_opts so = {.local = a};
    drec_open(env, &s, &so);
    assert_int_equal(tw_transport_sendto(u.t, "y", 1, &a), 0);
    TW_WAIT(env, s.nmsgs == 1);
    drec *all[] = {&s};
    close_all(env, all, 1);
    /* anything else at the path is somebody's data: left alone, and no
     * socket to send to */
    FILE *f = fopen(env->unix_path, "w");
    assert_non_null(f);
    fclose(f);
    drec_init(&s);
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &s,
                                                 &so, drec_cb), -EADDRINUSE);
    assert_true(file_exists(env->unix_path));
    assert_int_equal(tw_transport_sendto(u.t, "z", 1, &a), 0);
    assert_int_equal(u.errors, 2);
    assert_int_equal(u.last_err, -ECONNREFUSED);
    unlink(env->unix_path);
    drec *last[] = {&u};
    close_all(env, last, 1);
}

/* ------------------------------------------------------------------ */
/* real only: system-call faults                                       */

static void test_real_dgram_syscall_faults(void **state)
{
    tw_env *env = TW_ENV(state);
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    /* creation failures are returned, the callback never called */
    tw_sys_fail(TW_SYS_SOCKET, 1, 1, EMFILE);
    tw_datagram_opts so = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &s,
                                                 &so, drec_cb), -EMFILE);
    tw_sys_fail(TW_SYS_BIND, 1, 1, EACCES);
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, &s,
                                                 &so, drec_cb), -EACCES);
    tw_run_slice(env);
    assert_false(s.cb_called);
    assert_int_equal(tw_loop_alive(env->loop), 0);
    open_local(env, &s);
    open_remote(env, &c, drec_sockname(&s));
    /* EINTR on both sides is retried, invisibly */
    tw_sys_fail(TW_SYS_SENDTO, 1, 1, EINTR);
    tw_sys_fail(TW_SYS_RECVFROM, 1, 1, EINTR);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "eintr", 5, NULL), s.nmsgs >= 1);
    assert_int_equal(c.errors + s.errors, 0);
    /* ENOBUFS: reported to error_received, the datagram dropped, the
     * endpoint goes on (the reference text's rule) */
    tw_sys_fail(TW_SYS_SENDTO, 1, 1, ENOBUFS);
    assert_int_equal(tw_transport_sendto(c.t, "nobufs", 6, NULL), 0);
    assert_int_equal(c.errors, 1);
    assert_int_equal(c.last_err, -ENOBUFS);
    assert_int_equal(tw_transport_get_write_buffer_size(c.t), 0);
    /* a receive error goes to error_received too */
    tw_sys_fail(TW_SYS_RECVFROM, 1, 1, ENOMEM);
    SEND_UNTIL(env, tw_transport_sendto(c.t, "after", 5, NULL),
               drec_count_equal(&s, "after", 5) >= 1);
    assert_int_equal(s.errors, 1);
    assert_int_equal(s.last_err, -ENOMEM);
    assert_false(tw_transport_is_closing(s.t));
    tw_sys_reset();
    drec *all[] = {&c, &s};
    close_all(env, all, 2);
}

static void test_real_dgram_socket_options(void **state)
{
    tw_env *env = TW_ENV(state);
    drec r;
    drec_init(&r);
    tw_datagram_opts o = {.local = ip(env->host, 0), .reuse_port = true,
                          .allow_broadcast = true};
    drec_open(env, &r, &o);
    tw_extra ex;
    assert_int_equal(tw_transport_get_extra_info(r.t, "socket", &ex), 0);
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(ex.v.fd, SOL_SOCKET, SO_REUSEPORT, &v, &len), 0);
    assert_int_not_equal(v, 0);
    assert_int_equal(getsockopt(ex.v.fd, SOL_SOCKET, SO_BROADCAST, &v, &len), 0);
    assert_int_not_equal(v, 0);
    assert_int_equal(getsockopt(ex.v.fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
    assert_int_equal(v, SOCK_DGRAM);
    drec *all[] = {&r};
    close_all(env, all, 1);
}

/* A datagram larger than the loop's read buffer is reported, not cut. */
static void test_real_dgram_truncated_is_emsgsize(void **state)
{
    (void)state;
    tw_real_opts ro = {.read_size = 1024};
    tw_loop *loop = tw_loop_new(&ro);
    assert_non_null(loop);
    tw_env env = {.backend = tw_backend_real, .loop = loop, .host = "127.0.0.1"};
    drec s, c;
    drec_init(&s);
    drec_init(&c);
    open_local(&env, &s);
    open_remote(&env, &c, drec_sockname(&s));
    static uint8_t big[2000];
    SEND_UNTIL(&env, tw_transport_sendto(c.t, big, sizeof big, NULL), s.errors >= 1);
    assert_int_equal(s.last_err, -EMSGSIZE);
    assert_int_equal(s.nmsgs, 0);
    SEND_UNTIL(&env, tw_transport_sendto(c.t, "fits", 4, NULL), s.nmsgs >= 1);
    drec *all[] = {&c, &s};
    close_all(&env, all, 2);
    tw_loop_free(loop);
}

static int reset_sys(void **state)
{
    (void)state;
    tw_sys_reset();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_dgram_echo_roundtrip),
        TW_MATRIX(test_dgram_close_in_connection_made),
        TW_MATRIX(test_dgram_close_and_abort_lose_once),
        TW_MATRIX(test_dgram_factory_failure),
        TW_MATRIX(test_dgram_local_only),
        TW_MATRIX(test_dgram_remote_only),
        TW_MATRIX(test_dgram_local_and_remote),
        TW_MATRIX(test_dgram_family_only_binds_wildcard),
        TW_MATRIX(test_dgram_ipv6),
        TW_MATRIX(test_dgram_bad_arguments),
        TW_MATRIX(test_dgram_zero_length),
        TW_MATRIX(test_dgram_many_senders),
        TW_MATRIX(test_dgram_close_in_datagram_received),
        TW_MATRIX(test_dgram_refused_goes_to_error_received),
        TW_MATRIX(test_dgram_unconnected_hears_no_refusal),
        TW_MATRIX(test_dgram_too_big_is_emsgsize),
        TW_MATRIX(test_dgram_broadcast_needs_allow),
        TW_MATRIX(test_dgram_buffer_size_and_watermarks),
        TW_MATRIX(test_dgram_close_flushes_queue),
        TW_MATRIX(test_dgram_abort_drops_queue),
        TW_MATRIX(test_dgram_reuse_port),
        TW_MATRIX(test_dgram_udp_echo_protocols),
        TW_MATRIX(test_dgram_udp_echo_client_gives_up),
        TW_MATRIX(test_dgram_by_name_echo_roundtrip),
        TW_MATRIX(test_dgram_by_name_not_found),
        TW_MATRIX(test_dgram_by_name_family_mismatch),
        TW_MATRIX(test_dgram_by_name_call_errors),
        TW_MATRIX(test_dgram_numeric_host_at_once),
        TW_MATRIX(test_unix_dgram_roundtrip),
        TW_MATRIX(test_unix_dgram_unbound_sender),
        TW_MATRIX(test_unix_dgram_nobody_there),
        TW_MATRIX(test_unix_dgram_path_taken_is_replaced),
        TW_MATRIX(test_unix_dgram_abstract_name),
        TW_MATRIX(test_unix_dgram_connected_hears_its_peer_only),
        TW_MATRIX(test_unix_dgram_pushback),
        TW_MATRIX(test_unix_dgram_receiver_closes_on_waiting_sender),
        TW_MATRIX(test_unix_dgram_sizes),
        TW_MATRIX(test_unix_dgram_stream_server_path),
        TW_MATRIX(test_unix_stream_connect_to_dgram_path),
        REAL_ONLY(test_real_unix_dgram_stale_file),
        REAL_ONLY(test_real_dgram_syscall_faults),
        REAL_ONLY(test_real_dgram_socket_options),
        TW_TEST(test_real_dgram_truncated_is_emsgsize),
    };
    return cmocka_run_group_tests_name("datagrams on both backends", tests,
                                       NULL, reset_sys);
}
