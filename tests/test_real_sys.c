/* tests/test_real_sys.c - what only the epoll backend does, proven with the
 * system-call override table (real/sys.h): interrupted and short system
 * calls, descriptor exhaustion, resets, refusals, name resolution off the
 * loop thread, existing sockets, and listening-socket housekeeping.
 *
 * Map:
 *   1. fixture: a fresh loop per test; nothing alive, no fd leaked, no
 *      contract violation at the end
 *   2. a counting protocol (stats per role, static, checked at the end)
 *   3. the loop: creation failures, EINTR, timer rounding, wakeups,
 *      busy polling
 *   4. reading: EINTR, EAGAIN, ECONNRESET (injected and real)
 *   5. writing: short writes, EINTR, EAGAIN, a vanished peer (no SIGPIPE)
 *   6. accepting: EMFILE back-off, transient errors, backlog per wake-up,
 *      the descriptor limit
 *   7. connecting: refused, names, each address in turn, existing sockets
 *   8. servers: all interfaces, names and on_listening, Unix socket files
 *   9. teardown with work in flight, epoll_ctl failure
 *
 * The backend-independent stream rules (watermarks, close flush, eof,
 * BufferedProtocol) are the matrix tests' job; here each test puts a
 * fault exactly where the backend must cope, and asserts what a user sees.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/internal.h"
#include "real/sys.h"
#include "twin/twin.h"
#include "twin/real.h"

/* ------------------------------------------------------------------ */
/* 1. fixture                                                          */

#define RETRY_DELAY TW_MS(50)

static struct {
    tw_loop *loop;
    int fds_before;
    int violations;
    char violation[256];
} fx;

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void on_violation(void *arg, const char *msg)
{
    if (fx.violations++ == 0)
        snprintf(fx.violation, sizeof fx.violation, "%s", msg);
}

static int setup(void **state)
{
    tw_sys_reset();
    memset(&fx, 0, sizeof fx);
    fx.fds_before = count_fds();
    tw_real_opts o = {.accept_retry_delay = RETRY_DELAY};
    fx.loop = tw_loop_new(&o);
    if (fx.loop == NULL)
        return -1;
    tw_loop_set_contract_check(fx.loop, true);
    tw_loop_set_contract_handler(fx.loop, on_violation, NULL);
    return 0;
}

static int teardown(void **state)
{
    int rc = 0;
    tw_sys_reset();
    if (fx.loop != NULL) {
        if (tw_loop_alive(fx.loop) != 0) {
            fprintf(stderr, "teardown: %u still alive on the loop\n",
                    tw_loop_alive(fx.loop));
            rc = -1;
        }
        tw_loop_free(fx.loop);
        fx.loop = NULL;
    }
    if (fx.violations != 0) {
        fprintf(stderr, "contract violation: %s\n", fx.violation);
        rc = -1;
    }
    int fds = count_fds();
    if (fds != fx.fds_before) {
        fprintf(stderr, "teardown: %d fds open, %d before the test\n", fds,
                fx.fds_before);
        rc = -1;
    }
    return rc;
}

static void noop(void *arg) { (void)arg; }

/* Run a short slice of loop time; a timer keeps an idle loop turning. */
static void slice(void)
{
    tw_handle h = tw_call_later(fx.loop, TW_MS(5), noop, NULL);
    tw_loop_run_for(fx.loop, TW_MS(5));
    tw_handle_cancel(fx.loop, h);
}

static void run_for(tw_ns d)
{
    tw_ns end = tw_loop_now(fx.loop) + d;
    while (tw_loop_now(fx.loop) < end)
        slice();
}

/* A hang detector, not a speed test. */
#define RUN_UNTIL(cond)                                                     \
    do {                                                                    \
        tw_ns end_ = tw_loop_now(fx.loop) + TW_SEC(10);                     \
        while (!(cond)) {                                                   \
            if (tw_loop_now(fx.loop) >= end_)                               \
                fail_msg("'%s' not reached in 10 s (line %d)", #cond,       \
                         __LINE__);                                         \
            slice();                                                        \
        }                                                                   \
    } while (0)

#define ASSERT_NOTHING_ALIVE()                                              \
    do {                                                                    \
        RUN_UNTIL(tw_loop_alive(fx.loop) == 0);                             \
        assert_int_equal(tw_loop_alive(fx.loop), 0);                        \
    } while (0)

/* ------------------------------------------------------------------ */
/* 2. a counting protocol                                              */

/* What all connections of one role (a server's, a client's) saw. The
 * factory and the connect callback share it as their `arg`. */
typedef struct stats {
    /* behaviour */
    bool echo, close_on_data, keep_on_eof, verify, refuse, rst_on_made;
    tw_server *close_server_on_data;
    /* what happened */
    int factory, made, lost, eofs, data_calls, released, pauses, resumes;
    int last_err;
    int cb_calls, cb_err;
    int listening, listen_err;
    size_t bytes;
    bool mismatch;
    char data[512];
    size_t dlen;
    tw_transport *t; /* the latest made; NULL once it is lost */
} stats;

typedef struct peer {
    tw_protocol base;
    stats *st;
    tw_transport *t;
    size_t seen;
} peer;

static uint8_t pat(size_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

static void p_made(tw_protocol *p, tw_transport *t)
{
    peer *x = (peer *)p;
    x->t = t;
    x->st->made++;
    x->st->t = t;
    if (x->st->rst_on_made) {
        /* Linger 0: closing sends a reset instead of a FIN. */
        tw_extra e;
        assert_int_equal(tw_transport_get_extra_info(t, "socket", &e), 0);
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        assert_int_equal(setsockopt(e.v.fd, SOL_SOCKET, SO_LINGER, &lg,
                                    sizeof lg), 0);
        tw_transport_abort(t);
    }
}

static void p_lost(tw_protocol *p, int err)
{
    peer *x = (peer *)p;
    x->st->lost++;
    x->st->last_err = err;
    if (x->st->t == x->t)
        x->st->t = NULL;
}

static void p_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    peer *x = (peer *)p;
    stats *st = x->st;
    st->data_calls++;
    for (size_t i = 0; i < n; i++) {
        if (st->verify && d[i] != pat(x->seen + i))
            st->mismatch = true;
        if (!st->verify && st->dlen < sizeof st->data)
            st->data[st->dlen++] = (char)d[i];
    }
    x->seen += n;
    st->bytes += n;
    if (st->echo)
        tw_transport_write(x->t, d, n);
    if (st->close_on_data)
        tw_transport_close(x->t);
    if (st->close_server_on_data != NULL) {
        tw_server_close(st->close_server_on_data);
        st->close_server_on_data = NULL;
    }
}

static bool p_eof(tw_protocol *p)
{
    peer *x = (peer *)p;
    x->st->eofs++;
    return x->st->keep_on_eof;
}

static void p_pause(tw_protocol *p) { ((peer *)p)->st->pauses++; }
static void p_resume(tw_protocol *p) { ((peer *)p)->st->resumes++; }

static void p_release(tw_protocol *p)
{
    peer *x = (peer *)p;
    x->st->released++;
    free(x);
}

static const tw_protocol_ops peer_ops = {
    .connection_made = p_made,
    .connection_lost = p_lost,
    .data_received = p_data,
    .eof_received = p_eof,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .release = p_release,
};

static tw_protocol *factory(void *arg)
{
    stats *st = arg;
    st->factory++;
    if (st->refuse)
        return NULL;
    peer *x = calloc(1, sizeof *x);
    assert_non_null(x);
    x->base.ops = &peer_ops;
    x->st = st;
    return &x->base;
}

static void conn_cb(void *arg, tw_transport *t, int err)
{
    stats *st = arg;
    st->cb_calls++;
    st->cb_err = err;
    if (err == 0)
        assert_ptr_equal(t, st->t); /* after connection_made */
    else
        assert_null(t);
}

static void on_listening(void *arg, tw_server *srv, int err)
{
    stats *st = arg;
    st->listening++;
    st->listen_err = err;
}

/* A listening server on 127.0.0.1 and its port. */
static tw_server *serve(stats *st, const tw_server_opts *o, uint16_t *port)
{
    tw_server *srv = NULL;
    assert_int_equal(tw_create_server(fx.loop, factory, st, "127.0.0.1", 0,
                                      o, &srv), 0);
    assert_non_null(srv);
    *port = tw_server_port(srv);
    assert_true(*port > 0);
    return srv;
}

static void sockpair(int sp[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp),
                     0);
}

/* A port on 127.0.0.1 where nothing listens: bound, so nobody else takes
 * it while the test runs, but not listening, so connects are refused. */
static int refusing_port(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* ------------------------------------------------------------------ */
/* 3. the loop                                                         */

static void test_loop_new_failure_leaks_nothing(void **state)
{
    int before = count_fds();
    tw_sys_fail(TW_SYS_EPOLL_CREATE1, 1, 1, EMFILE);
    errno = 0;
    assert_null(tw_loop_new(NULL));
    assert_int_equal(errno, EMFILE);
    tw_sys_fail(TW_SYS_EVENTFD, 1, 1, ENFILE);
    assert_null(tw_loop_new(NULL));
    assert_int_equal(errno, ENFILE);
    tw_sys_fail(TW_SYS_EPOLL_CTL, 1, 1, ENOMEM);
    assert_null(tw_loop_new(NULL));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(count_fds(), before);
    assert_string_equal(tw_loop_backend(fx.loop), "real");
}

static void count_cb(void *arg) { (*(int *)arg)++; }

static void test_poll_eintr_is_not_an_error(void **state)
{
    int fired = 0;
    tw_ns t0 = tw_loop_now(fx.loop);
    assert_true(tw_call_later(fx.loop, TW_MS(20), count_cb, &fired) != 0);
    tw_sys_fail(TW_SYS_EPOLL_WAIT, 1, 3, EINTR);
    unsigned long w0 = tw_sys_calls(TW_SYS_EPOLL_WAIT);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    assert_int_equal(fired, 1);
    assert_true(tw_loop_now(fx.loop) - t0 >= TW_MS(20));
    assert_true(tw_sys_calls(TW_SYS_EPOLL_WAIT) - w0 >= 4);
}

static void test_poll_failure_ends_run_with_error(void **state)
{
    int fired = 0;
    assert_true(tw_call_later(fx.loop, TW_MS(5), count_cb, &fired) != 0);
    tw_sys_fail(TW_SYS_EPOLL_WAIT, 1, 1, EBADF);
    assert_int_equal(tw_loop_run(fx.loop), -EBADF);
    assert_int_equal(fired, 0);
    assert_int_equal(tw_loop_run(fx.loop), 0); /* the fault was once */
    assert_int_equal(fired, 1);
}

/* A 0.3 ms timer must cost one or two epoll_waits, not hundreds: the
 * timeout is rounded up to a whole millisecond, never down to 0. */
static void test_sub_millisecond_timer_does_not_spin(void **state)
{
    int fired = 0;
    assert_true(tw_call_later(fx.loop, 300 * TW_NS_PER_US, count_cb,
                              &fired) != 0);
    unsigned long w0 = tw_sys_calls(TW_SYS_EPOLL_WAIT);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    assert_int_equal(fired, 1);
    assert_true(tw_sys_calls(TW_SYS_EPOLL_WAIT) - w0 <= 3);
}

/* epoll_wait as the loop calls it, counted: a call with a zero timeout
 * is busy polling unless the loop had no reason to wait (a timer already
 * due, a callback ready), then it is `due`; any other is a sleep. Counted
 * atomically: a second thread watches them. A sleep is counted as it
 * starts, a poll once it returned. */
static struct {
    unsigned long polls, due, sleeps;
} bp;

static unsigned long bp_get(unsigned long *n)
{
    return __atomic_load_n(n, __ATOMIC_SEQ_CST);
}

static bool loop_has_cause(void)
{
    if (tw__loop_has_ready(fx.loop))
        return true;
    tw_ns next = tw__loop_next_timer(fx.loop);
    struct timespec ts; /* the loop's clock, read past tw_sys */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return next >= 0 && next <= (tw_ns)ts.tv_sec * TW_NS_PER_SEC + ts.tv_nsec;
}

static int counting_epoll_wait(int epfd, struct epoll_event *evs, int max,
                               int timeout_ms)
{
    if (timeout_ms != 0) {
        __atomic_add_fetch(&bp.sleeps, 1, __ATOMIC_SEQ_CST);
        return tw_sys_default.epoll_wait(epfd, evs, max, timeout_ms);
    }
    bool due = loop_has_cause();
    int n = tw_sys_default.epoll_wait(epfd, evs, max, 0);
    __atomic_add_fetch(due ? &bp.due : &bp.polls, 1, __ATOMIC_SEQ_CST);
    return n;
}

static void count_epoll_waits(void)
{
    memset(&bp, 0, sizeof bp);
    tw_sys.epoll_wait = counting_epoll_wait;
}

/* Replace the fixture's loop with one that busy-polls for `window`. */
static void busy_poll_loop(tw_ns window)
{
    tw_loop_free(fx.loop);
    tw_real_opts o = {.accept_retry_delay = RETRY_DELAY, .busy_poll = window};
    fx.loop = tw_loop_new(&o);
    assert_non_null(fx.loop);
    tw_loop_set_contract_check(fx.loop, true);
    tw_loop_set_contract_handler(fx.loop, on_violation, NULL);
    count_epoll_waits();
}

/* A timer that keeps the loop waiting until another thread's call comes;
 * a loop woken only by it took this long. */
#define KEEPALIVE TW_SEC(60)

struct wake {
    tw_handle keepalive;
    int ran;
};

static void wake_cb(void *arg)
{
    struct wake *w = arg;
    w->ran++;
    tw_handle_cancel(fx.loop, w->keepalive);
}

/* Once the loop has begun to wait (a sleep begun, or a poll that found
 * nothing), hand it wake_cb. */
static void *wake_thread(void *arg)
{
    /* Not a cmocka assert: those belong to the test's own thread. A loop
     * that never waits is the test's to report; give it a minute. */
    for (int i = 0; i < 600000; i++) {
        if (bp_get(&bp.sleeps) + bp_get(&bp.polls) + bp_get(&bp.due) > 0)
            break;
        usleep(100);
    }
    if (tw_call_soon_threadsafe(fx.loop, wake_cb, arg) != 0)
        abort();
    return NULL;
}

/* The loop sleeps in epoll_wait with a far timer pending; another
 * thread's call must wake it at once (the eventfd), not when the timer
 * is due. */
static void test_threadsafe_call_wakes_epoll_wait(void **state)
{
    count_epoll_waits();
    struct wake w = {0};
    w.keepalive = tw_call_later(fx.loop, KEEPALIVE, noop, NULL);
    tw_ns t0 = tw_loop_now(fx.loop);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, wake_thread, &w), 0);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    pthread_join(tid, NULL);
    assert_int_equal(w.ran, 1);
    assert_true(tw_loop_now(fx.loop) - t0 < KEEPALIVE);
    /* one wait, for the timer, cut short */
    assert_int_equal(bp.sleeps, 1);
    assert_int_equal(bp.polls, 0);
}

/* Busy polling (tw_real_opts.busy_poll). Within the window, an event is
 * found by polling: the loop never sleeps, and the other thread's call
 * (made once the loop's first poll found nothing) runs all the same. */
static void test_busy_poll_finds_event_without_sleeping(void **state)
{
    busy_poll_loop(KEEPALIVE / 2);
    struct wake w = {0};
    w.keepalive = tw_call_later(fx.loop, KEEPALIVE, noop, NULL);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, wake_thread, &w), 0);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    pthread_join(tid, NULL);
    assert_int_equal(w.ran, 1);
    assert_int_equal(bp.sleeps, 0);
    assert_true(bp.polls > 1);
}

/* A window longer than the wait for a timer polls until the timer is
 * due, not until the window ends; without busy polling the loop sleeps
 * in one or two calls. */
static void test_busy_poll_keeps_timers_on_time(void **state)
{
    const tw_ns window = TW_SEC(20);
    busy_poll_loop(window);
    int fired = 0;
    tw_ns t0 = tw_loop_now(fx.loop);
    assert_true(tw_call_later(fx.loop, TW_MS(5), count_cb, &fired) != 0);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    tw_ns took = tw_loop_now(fx.loop) - t0;
    assert_int_equal(fired, 1);
    assert_true(took >= TW_MS(5) && took < window);
    /* polled (or found the timer due already), never slept */
    assert_true(bp.polls + bp.due >= 1);
    assert_int_equal(bp.sleeps, 0);

    busy_poll_loop(0);
    assert_true(tw_call_later(fx.loop, TW_MS(5), count_cb, &fired) != 0);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    assert_int_equal(fired, 2);
    assert_int_equal(bp.polls, 0);
    assert_true(bp.sleeps + bp.due >= 1 && bp.sleeps + bp.due <= 3);
}

/* A clock that fails cannot end the window: the loop sleeps instead
 * of polling on and on. */
static void test_busy_poll_without_clock_sleeps(void **state)
{
    busy_poll_loop(TW_SEC(5));
    struct wake w = {0};
    w.keepalive = tw_call_later(fx.loop, KEEPALIVE, noop, NULL);
    tw_sys_fail(TW_SYS_CLOCK_GETTIME, 1, -1, EINVAL);
    pthread_t tid;
    assert_int_equal(pthread_create(&tid, NULL, wake_thread, &w), 0);
    assert_int_equal(tw_loop_run(fx.loop), 0);
    pthread_join(tid, NULL);
    tw_sys_clear(TW_SYS_CLOCK_GETTIME);
    assert_int_equal(w.ran, 1);
    assert_true(bp.sleeps >= 1);
    assert_true(bp.polls <= 2); /* the first, then the one that woke */
}

/* Gaps longer than the window make polling a waste: after a few of
 * them the loop sleeps at once. */
static void test_busy_poll_stops_when_gaps_are_longer(void **state)
{
    busy_poll_loop(100 * TW_NS_PER_US);
    int fired = 0;
    for (int i = 0; i < 20; i++) { /* 2 ms gaps, a 100 us window */
        assert_true(tw_call_later(fx.loop, TW_MS(2), count_cb, &fired) != 0);
        assert_int_equal(tw_loop_run(fx.loop), 0);
    }
    assert_int_equal(fired, 20);
    assert_true(bp.polls > 0);
    memset(&bp, 0, sizeof bp);
    for (int i = 0; i < 20; i++) {
        assert_true(tw_call_later(fx.loop, TW_MS(2), count_cb, &fired) != 0);
        assert_int_equal(tw_loop_run(fx.loop), 0);
    }
    assert_int_equal(fired, 40);
    /* No polling at all: each gap is one sleep (or, where the timer came
     * due before the loop could wait, one zero timeout, not a poll). */
    assert_int_equal(bp.polls, 0);
    assert_true(bp.sleeps + bp.due >= 20);
}

/* ------------------------------------------------------------------ */
/* 4. reading                                                          */

static void test_read_eintr_and_eagain_lose_nothing(void **state)
{
    int sp[2];
    sockpair(sp);
    stats c = {0};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &c, sp[0],
                                             conn_cb), 0);
    RUN_UNTIL(c.made == 1 && c.cb_calls == 1);

    unsigned long r0 = tw_sys_calls(TW_SYS_READ);
    tw_sys_fail(TW_SYS_READ, 1, 3, EINTR);
    assert_int_equal(write(sp[1], "hello", 5), 5);
    RUN_UNTIL(c.bytes == 5);
    assert_true(tw_sys_calls(TW_SYS_READ) - r0 >= 4);

    /* Spurious wake-ups: readiness reported, nothing there yet. */
    r0 = tw_sys_calls(TW_SYS_READ);
    tw_sys_fail(TW_SYS_READ, 1, 2, EAGAIN);
    assert_int_equal(write(sp[1], "world", 5), 5);
    RUN_UNTIL(c.bytes == 10);
    assert_true(tw_sys_calls(TW_SYS_READ) - r0 >= 3);
    assert_memory_equal(c.data, "helloworld", 10);
    assert_int_equal(c.lost, 0);

    close(sp[1]);
    RUN_UNTIL(c.lost == 1);
    assert_int_equal(c.eofs, 1);
    assert_int_equal(c.last_err, 0);
    ASSERT_NOTHING_ALIVE();
}

static void test_read_econnreset_reaches_connection_lost(void **state)
{
    int sp[2];
    sockpair(sp);
    stats c = {0};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &c, sp[0],
                                             NULL), 0);
    RUN_UNTIL(c.made == 1);
    tw_sys_fail(TW_SYS_READ, 1, 1, ECONNRESET);
    assert_int_equal(write(sp[1], "data", 4), 4);
    RUN_UNTIL(c.lost == 1);
    assert_int_equal(c.last_err, -ECONNRESET);
    assert_int_equal(c.data_calls, 0);
    assert_int_equal(c.eofs, 0);
    assert_int_equal(c.released, 1);
    close(sp[1]);
    ASSERT_NOTHING_ALIVE();
}

/* A real reset on TCP: the server aborts with SO_LINGER 0. */
static void test_peer_reset_over_tcp(void **state)
{
    stats s = {.rst_on_made = true}, c = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(c.lost == 1 || (c.cb_calls == 1 && c.cb_err != 0));
    /* Usually seen by the read; if the reset beat the connect's own
     * completion, the connect reports it instead. Same error either way. */
    if (c.lost == 1)
        assert_int_equal(c.last_err, -ECONNRESET);
    else
        assert_int_equal(c.cb_err, -ECONNRESET);
    RUN_UNTIL(s.lost == 1);
    assert_int_equal(s.last_err, 0); /* abort() is a clean close for us */
    tw_server_close(srv);
    ASSERT_NOTHING_ALIVE();
}

/* ------------------------------------------------------------------ */
/* 5. writing                                                          */

#define BIG 300000

/* Write BIG bytes in uneven pieces from w to r over a socketpair while
 * the fault of the test is armed; r checks every byte. */
static void stream_big(stats *w, stats *r, int sp[2])
{
    uint8_t *buf = malloc(BIG);
    assert_non_null(buf);
    for (size_t i = 0; i < BIG; i++)
        buf[i] = pat(i);
    size_t cuts[] = {1, 4096, 65537, BIG - 1 - 4096 - 65537};
    size_t off = 0;
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        assert_int_equal(tw_transport_write(w->t, buf + off, cuts[i]), 0);
        off += cuts[i];
    }
    assert_int_equal(off, BIG);
    free(buf); /* write copied what the kernel did not take */
    assert_int_equal(tw_transport_close(w->t), 0);
    RUN_UNTIL(r->lost == 1 && w->lost == 1);
    assert_int_equal(r->bytes, BIG);
    assert_false(r->mismatch);
    assert_int_equal(r->eofs, 1);
    assert_int_equal(r->last_err, 0);
    assert_int_equal(w->last_err, 0);
}

static void open_pair(stats *a, stats *b, int sp[2])
{
    sockpair(sp);
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, a, sp[0],
                                             NULL), 0);
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, b, sp[1],
                                             NULL), 0);
    RUN_UNTIL(a->made == 1 && b->made == 1);
}

static void test_short_writes_and_eintr_arrive_byte_exact(void **state)
{
    stats w = {0}, r = {.verify = true};
    int sp[2];
    open_pair(&w, &r, sp);
    unsigned long s0 = tw_sys_calls(TW_SYS_SENDMSG);
    tw_sys_short_write(997);
    tw_sys_fail(TW_SYS_SENDMSG, 2, 40, EINTR);
    stream_big(&w, &r, sp);
    /* Every send was cut to 997 bytes at most. */
    assert_true(tw_sys_calls(TW_SYS_SENDMSG) - s0 >= BIG / 997 + 40);
    ASSERT_NOTHING_ALIVE();
}

/* write() of one buffer goes to the kernel as one send, counted and cut
 * short as sendmsg: what the kernel did not take, and only that, is
 * buffered, and arrives in order after the part it took. */
static void test_one_buffer_write_keeps_the_untaken_rest(void **state)
{
    stats w = {0}, r = {.verify = true};
    int sp[2];
    open_pair(&w, &r, sp);
    uint8_t buf[5010];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = pat(i);
    unsigned long s0 = tw_sys_calls(TW_SYS_SENDMSG);
    tw_sys_short_write(1000);
    assert_int_equal(tw_transport_write(w.t, buf, 5000), 0);
    assert_int_equal(tw_sys_calls(TW_SYS_SENDMSG) - s0, 1);
    assert_int_equal(tw_transport_get_write_buffer_size(w.t), 4000);
    RUN_UNTIL(r.bytes == 5000);
    assert_false(r.mismatch);
    assert_int_equal(tw_transport_get_write_buffer_size(w.t), 0);
    /* A fault armed on sendmsg fails the one-buffer send too. */
    tw_sys_fail(TW_SYS_SENDMSG, 1, 1, EAGAIN);
    assert_int_equal(tw_transport_write(w.t, buf + 5000, 10), 0);
    assert_int_equal(tw_transport_get_write_buffer_size(w.t), 10);
    RUN_UNTIL(r.bytes == sizeof buf);
    assert_false(r.mismatch);
    tw_transport_close(w.t);
    RUN_UNTIL(w.lost == 1 && r.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

static void test_eagain_on_first_write_buffers_everything(void **state)
{
    stats w = {0}, r = {.verify = true};
    int sp[2];
    open_pair(&w, &r, sp);
    tw_sys_fail(TW_SYS_SENDMSG, 1, 3, EAGAIN);
    uint8_t *buf = malloc(100000);
    assert_non_null(buf);
    for (size_t i = 0; i < 100000; i++)
        buf[i] = pat(i);
    assert_int_equal(tw_transport_write(w.t, buf, 100000), 0);
    free(buf);
    /* The kernel took nothing: all of it is buffered, over the high
     * mark, so pause_writing came from inside write(). */
    assert_int_equal(tw_transport_get_write_buffer_size(w.t), 100000);
    assert_int_equal(w.pauses, 1);
    RUN_UNTIL(r.bytes == 100000);
    assert_false(r.mismatch);
    assert_int_equal(w.resumes, 1);
    assert_int_equal(tw_transport_get_write_buffer_size(w.t), 0);
    tw_transport_close(w.t);
    RUN_UNTIL(w.lost == 1 && r.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* Writing to a socket whose peer is gone must give -EPIPE, not kill the
 * process with SIGPIPE (MSG_NOSIGNAL; nothing global is changed). */
static void test_write_to_vanished_peer_is_epipe_not_sigpipe(void **state)
{
    int sp[2];
    sockpair(sp);
    stats c = {0};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &c, sp[0],
                                             NULL), 0);
    RUN_UNTIL(c.made == 1);
    assert_int_equal(tw_transport_pause_reading(c.t), 0);
    close(sp[1]);
    assert_int_equal(tw_transport_write(c.t, "x", 1), -EPIPE);
    RUN_UNTIL(c.lost == 1);
    assert_int_equal(c.last_err, -EPIPE);
    ASSERT_NOTHING_ALIVE();
}

/* ------------------------------------------------------------------ */
/* 6. accepting                                                        */

static void test_accept_emfile_backs_off_and_recovers(void **state)
{
    stats s = {.echo = true}, c1 = {0}, c2 = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c1, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(c1.made == 1 && s.made == 1);

    tw_sys_fail(TW_SYS_ACCEPT4, 1, -1, EMFILE);
    unsigned long a0 = tw_sys_calls(TW_SYS_ACCEPT4);
    tw_ns t0 = tw_loop_now(fx.loop);
    /* The kernel completes the handshake from the listen queue, so the
     * client is connected even though the server cannot accept it. */
    assert_int_equal(tw_create_connection(fx.loop, factory, &c2, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(c2.cb_calls == 1);
    assert_int_equal(c2.cb_err, 0);

    /* The existing connection is served while the listener rests. */
    assert_int_equal(tw_transport_write(c1.t, "ping", 4), 0);
    RUN_UNTIL(c1.bytes == 4);
    /* It does retry... */
    RUN_UNTIL(tw_sys_calls(TW_SYS_ACCEPT4) - a0 >= 4);
    run_for(TW_MS(200));
    /* ...once per delay, never in a spin: the first try came with the
     * client (after t0), each other one a delay after the one before. */
    unsigned long tries = tw_sys_calls(TW_SYS_ACCEPT4) - a0;
    tw_ns took = tw_loop_now(fx.loop) - t0;
    if (tries > 1 + (unsigned long)(took / RETRY_DELAY))
        fail_msg("%lu accept tries in %.1f ms", tries, (double)took / 1e6);
    assert_int_equal(s.made, 1);
    assert_int_equal(tw_server_accepted(srv), 1);

    tw_sys_clear(TW_SYS_ACCEPT4);
    RUN_UNTIL(s.made == 2);
    assert_int_equal(tw_transport_write(c2.t, "pong", 4), 0);
    RUN_UNTIL(c2.bytes == 4);
    assert_memory_equal(c2.data, "pong", 4);

    tw_transport_close(c1.t);
    tw_transport_close(c2.t);
    tw_server_close(srv);
    RUN_UNTIL(s.lost == 2 && c1.lost == 1 && c2.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* tw_loop_fd_limit: RLIMIT_NOFILE, its soft limit raised towards what is
 * wanted, never past the hard one. */
static struct rlimit fake_rl;
static int fake_sets;

static int fake_getrlimit(int res, struct rlimit *rl)
{
    assert_int_equal(res, RLIMIT_NOFILE);
    *rl = fake_rl;
    return 0;
}

static int fake_setrlimit(int res, const struct rlimit *rl)
{
    assert_int_equal(res, RLIMIT_NOFILE);
    assert_true(rl->rlim_max == fake_rl.rlim_max); /* the hard limit stays */
    assert_true(rl->rlim_cur <= rl->rlim_max);
    fake_sets++;
    fake_rl = *rl;
    return 0;
}

static void test_fd_limit_raised_within_the_hard_limit(void **state)
{
    (void)state;
    struct rlimit real_rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &real_rl), 0);
    uint64_t want = real_rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX
                                                      : (uint64_t)real_rl.rlim_cur;
    assert_true(tw_loop_fd_limit(fx.loop, 0) == want); /* only read */

    tw_sys.getrlimit = fake_getrlimit;
    tw_sys.setrlimit = fake_setrlimit;
    fake_rl = (struct rlimit){100, 200};
    fake_sets = 0;
    assert_int_equal(tw_loop_fd_limit(fx.loop, 0), 100);
    assert_int_equal(tw_loop_fd_limit(fx.loop, 50), 100);
    assert_int_equal(fake_sets, 0);
    assert_int_equal(tw_loop_fd_limit(fx.loop, 150), 150);
    assert_int_equal(tw_loop_fd_limit(fx.loop, 1000), 200);
    assert_int_equal(fake_sets, 2);
    assert_int_equal(tw_loop_fd_limit(fx.loop, 1000), 200); /* at the hard one */
    assert_int_equal(fake_sets, 2);
    fake_rl = (struct rlimit){100, RLIM_INFINITY};
    assert_int_equal(tw_loop_fd_limit(fx.loop, 5000), 5000);
    fake_rl = (struct rlimit){RLIM_INFINITY, RLIM_INFINITY};
    assert_true(tw_loop_fd_limit(fx.loop, 5000) == UINT64_MAX);
    /* a raise refused leaves the limit as it was */
    tw_sys.setrlimit = tw_sys_default.setrlimit;
    tw_sys_fail(TW_SYS_SETRLIMIT, 1, 1, EPERM);
    fake_rl = (struct rlimit){100, 200};
    assert_int_equal(tw_loop_fd_limit(fx.loop, 150), 100);
    /* and an unreadable one is no known limit */
    tw_sys.getrlimit = tw_sys_default.getrlimit;
    tw_sys_fail(TW_SYS_GETRLIMIT, 1, 1, EPERM);
    assert_true(tw_loop_fd_limit(fx.loop, 150) == UINT64_MAX);
    ASSERT_NOTHING_ALIVE();
}

static int count_names(void *arg, const char *name)
{
    (void)arg;
    (void)name;
    return 0;
}

/* Files through the table: an EINTR or a short pwrite is carried on
 * (the write is all or nothing), the kernel's errors come back as they
 * are, and each call is one the table counts. */
static void test_file_calls_go_through_the_table(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-sys-file-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/f", dir);
    tw_file *f;
    tw_sys_fail(TW_SYS_OPEN, 1, 1, EINTR); /* retried */
    assert_int_equal(tw_file_open(fx.loop, path,
                                  TW_FILE_READ | TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_sys_calls(TW_SYS_OPEN), 2);
    tw_sys_short_write(3);
    tw_sys_fail(TW_SYS_PWRITE, 2, 1, EINTR);
    assert_int_equal(tw_file_pwrite(f, "0123456789", 10, 0), 10);
    tw_sys_short_write(0);
    char buf[16] = {0};
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 10);
    assert_string_equal(buf, "0123456789");
    tw_sys_fail(TW_SYS_PWRITE, 1, 1, ENOSPC);
    assert_int_equal(tw_file_append(f, "x", 1), -ENOSPC);
    tw_sys_fail(TW_SYS_PREAD, 1, 1, EIO);
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), -EIO);
    tw_sys_fail(TW_SYS_FSYNC, 1, 1, EIO);
    assert_int_equal(tw_file_fsync(f), -EIO);
    assert_int_equal(tw_file_fsync(f), 0);
    tw_sys_fail(TW_SYS_FSTAT, 1, 1, EIO);
    assert_int_equal(tw_file_size(f), -EIO);
    assert_int_equal(tw_file_close(f), 0);
    tw_sys_fail(TW_SYS_RENAME, 1, 1, EXDEV);
    assert_int_equal(tw_fs_rename(fx.loop, path, "/tmp/elsewhere"), -EXDEV);
    tw_sys_fail(TW_SYS_MKDIR, 1, 1, EROFS);
    assert_int_equal(tw_fs_mkdir(fx.loop, "/tmp/twin-never"), -EROFS);
    tw_sys_fail(TW_SYS_OPENDIR, 1, 1, EMFILE);
    assert_int_equal(tw_fs_list(fx.loop, dir, count_names, NULL), -EMFILE);
    tw_sys_fail(TW_SYS_UNLINK, 1, 1, EBUSY);
    assert_int_equal(tw_fs_unlink(fx.loop, path), -EBUSY);
    assert_int_equal(tw_fs_unlink(fx.loop, path), 0);
    assert_int_equal(rmdir(dir), 0);
    ASSERT_NOTHING_ALIVE();
}

static void test_accept_econnaborted_is_skipped(void **state)
{
    stats s = {0}, c = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    tw_sys_fail(TW_SYS_ACCEPT4, 1, 1, ECONNABORTED);
    unsigned long a0 = tw_sys_calls(TW_SYS_ACCEPT4);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(s.made == 1 && c.made == 1);
    assert_true(tw_sys_calls(TW_SYS_ACCEPT4) - a0 >= 2);
    tw_transport_close(c.t);
    tw_server_close(srv);
    RUN_UNTIL(s.lost == 1 && c.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* The listening socket of ours on 127.0.0.1:port. */
static int listener_fd(uint16_t port)
{
    for (int fd = 0; fd < 4096; fd++) {
        int on = 0;
        socklen_t len = sizeof on;
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on &&
            getsockname(fd, (struct sockaddr *)&a, &alen) == 0 &&
            a.sin_family == AF_INET && ntohs(a.sin_port) == port)
            return fd;
    }
    fail_msg("no listening socket of ours on port %u", port);
    return -1;
}

/* Wait until n finished handshakes wait in the accept queue of the
 * listener on port (Linux reports its length for a listening socket as
 * tcpi_unacked); nothing of ours runs meanwhile. */
static void wait_accept_queue(uint16_t port, unsigned n)
{
    int fd = listener_fd(port);
    for (int i = 0;; i++) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
        if (ti.tcpi_unacked >= n)
            return;
        if (i == 10000)
            fail_msg("%u handshakes not queued on port %u in 10 s (%u are)", n,
                     port, ti.tcpi_unacked);
        usleep(1000);
    }
}

/* A server accepts at most `backlog` connections per readiness event, so
 * a flood cannot starve the connections it already has. */
static void test_accepts_at_most_backlog_per_wakeup(void **state)
{
    stats s = {0};
    tw_server_opts o = {.backlog = 2};
    uint16_t port;
    tw_server *srv = serve(&s, &o, &port);
    /* Three clients: Linux queues backlog + 1 finished handshakes. They
     * connect without blocking, so a full queue could not hang the test. */
    enum { N = 3 };
    int cl[N];
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < N; i++) {
        cl[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       0);
        assert_true(cl[i] >= 0);
        int r = connect(cl[i], (struct sockaddr *)&a, sizeof a);
        assert_true(r == 0 || errno == EINPROGRESS);
    }
    wait_accept_queue(port, N); /* all three handshakes finished */
    unsigned long a0 = tw_sys_calls(TW_SYS_ACCEPT4);
    /* One poll: the listener's one readiness event. */
    assert_int_equal(fx.loop->ops->poll(fx.loop, TW_SEC(1)), 0);
    assert_int_equal(tw_server_accepted(srv), 2);
    assert_int_equal(tw_sys_calls(TW_SYS_ACCEPT4) - a0, 2);
    RUN_UNTIL(s.made == N);
    assert_int_equal(tw_server_accepted(srv), N);
    for (int i = 0; i < N; i++)
        close(cl[i]);
    tw_server_close(srv);
    RUN_UNTIL(s.lost == N);
    ASSERT_NOTHING_ALIVE();
}

/* A callback closes (and so frees) a server whose listener is ready
 * later in the same epoll batch: the stale event must be dropped, not
 * dispatched to freed memory (ASan would see it). */
static void test_server_closed_by_callback_earlier_in_batch(void **state)
{
    stats s = {0}, u = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    int sp[2];
    sockpair(sp);
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &u, sp[0],
                                             NULL), 0);
    RUN_UNTIL(u.made == 1);
    u.close_server_on_data = srv;
    /* First the socketpair becomes readable (Unix sockets deliver inside
     * write), then the listener: epoll reports them in that order, in
     * one batch. */
    assert_int_equal(write(sp[1], "x", 1), 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    assert_true(r == 0 || errno == EINPROGRESS);
    wait_accept_queue(port, 1); /* the listener is ready too */
    unsigned long a0 = tw_sys_calls(TW_SYS_ACCEPT4);
    assert_int_equal(fx.loop->ops->poll(fx.loop, TW_SEC(1)), 0);
    assert_int_equal(u.bytes, 1);
    assert_null(u.close_server_on_data); /* closed from data_received */
    assert_int_equal(tw_sys_calls(TW_SYS_ACCEPT4) - a0, 0);
    assert_int_equal(s.made, 0);
    close(fd);
    close(sp[1]);
    RUN_UNTIL(u.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* ------------------------------------------------------------------ */
/* 7. connecting                                                       */

static void test_connect_refused_reaches_callback_only(void **state)
{
    uint16_t port;
    int fd = refusing_port(&port);
    stats c = {0};
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "127.0.0.1",
                                          port, conn_cb), 0);
    assert_int_equal(c.cb_calls, 0); /* never from inside the call */
    RUN_UNTIL(c.cb_calls == 1);
    assert_int_equal(c.cb_err, -ECONNREFUSED);
    assert_int_equal(c.factory, 0);
    assert_int_equal(c.made, 0);

    /* The same, injected at the connect() call itself. */
    stats c2 = {0};
    tw_sys_fail(TW_SYS_CONNECT, 1, 1, ECONNREFUSED);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c2, "127.0.0.1",
                                          port, conn_cb), 0);
    assert_int_equal(c2.cb_calls, 0);
    RUN_UNTIL(c2.cb_calls == 1);
    assert_int_equal(c2.cb_err, -ECONNREFUSED);
    assert_int_equal(c2.factory, 0);
    close(fd);
    ASSERT_NOTHING_ALIVE();
}

static void test_connect_without_descriptors_fails_the_call(void **state)
{
    stats c = {0};
    tw_sys_fail(TW_SYS_SOCKET, 1, 1, EMFILE);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "127.0.0.1",
                                          9, conn_cb), -EMFILE);
    run_for(TW_MS(20));
    assert_int_equal(c.cb_calls, 0); /* the call failed: no callback */
    assert_int_equal(tw_loop_alive(fx.loop), 0);
}

static void test_connect_localhost_resolves_off_loop(void **state)
{
    stats s = {0}, c = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    unsigned long g0 = tw_sys_calls(TW_SYS_GETADDRINFO);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "localhost",
                                          port, conn_cb), 0);
    assert_int_equal(tw_loop_alive(fx.loop), 2); /* server + the connect */
    RUN_UNTIL(c.cb_calls == 1);
    assert_int_equal(c.cb_err, 0);
    assert_int_equal(c.made, 1);
    assert_int_equal(tw_sys_calls(TW_SYS_GETADDRINFO) - g0, 1);
    RUN_UNTIL(s.made == 1);
    tw_addr pa;
    assert_int_equal(tw_transport_peername(c.t, &pa), 0);
    assert_int_equal(tw_addr_port(&pa), port);
    tw_transport_close(c.t);
    tw_server_close(srv);
    RUN_UNTIL(c.lost == 1 && s.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* A fake resolver answering from fake_addrs (port from the service). */
static const char *fake_addrs[4];
static int fake_n;

static int fake_gai(const char *host, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo *head = NULL, **tail = &head;
    /* Runs on the resolver's thread: plain checks, no cmocka asserts. */
    for (int i = 0; i < fake_n; i++) {
        struct addrinfo *ai = calloc(1, sizeof *ai + sizeof(tw_addr));
        if (ai == NULL)
            abort();
        tw_addr *a = (tw_addr *)(ai + 1);
        if (tw_addr_ip(a, fake_addrs[i], (uint16_t)atoi(service)) != 0)
            abort();
        ai->ai_family = tw_addr_family(a);
        ai->ai_socktype = SOCK_STREAM;
        ai->ai_addr = &a->u.sa;
        ai->ai_addrlen = a->len;
        *tail = ai;
        tail = &ai->ai_next;
    }
    *res = head;
    return head != NULL ? 0 : EAI_NONAME;
}

static void fake_free(struct addrinfo *ai)
{
    while (ai != NULL) {
        struct addrinfo *next = ai->ai_next;
        free(ai);
        ai = next;
    }
}

static void test_connect_tries_each_address_in_turn(void **state)
{
    stats s = {0}, c = {0}, c2 = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    tw_sys.getaddrinfo = fake_gai;
    tw_sys.freeaddrinfo = fake_free;

    /* 127.0.0.2 is loopback too, but the server listens on .1 only. */
    fake_addrs[0] = "127.0.0.2";
    fake_addrs[1] = "127.0.0.1";
    fake_n = 2;
    unsigned long k0 = tw_sys_calls(TW_SYS_CONNECT);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "twin.test",
                                          port, conn_cb), 0);
    RUN_UNTIL(c.cb_calls == 1);
    assert_int_equal(c.cb_err, 0);
    assert_int_equal(tw_sys_calls(TW_SYS_CONNECT) - k0, 2);
    RUN_UNTIL(s.made == 1);

    /* All refused: the last error is the one reported. */
    fake_addrs[0] = "127.0.0.2";
    fake_addrs[1] = "127.0.0.3";
    assert_int_equal(tw_create_connection(fx.loop, factory, &c2, "twin.test",
                                          port, conn_cb), 0);
    RUN_UNTIL(c2.cb_calls == 1);
    assert_int_equal(c2.cb_err, -ECONNREFUSED);
    assert_int_equal(c2.factory, 0);

    tw_transport_close(c.t);
    tw_server_close(srv);
    RUN_UNTIL(c.lost == 1 && s.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

static void test_connect_unknown_name_and_no_thread(void **state)
{
    stats c = {0}, c2 = {0};
    tw_sys_fail(TW_SYS_GETADDRINFO, 1, 1, EAI_NONAME);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "no.such.host",
                                          80, conn_cb), 0);
    RUN_UNTIL(c.cb_calls == 1);
    assert_int_equal(c.cb_err, TW_EAI_NONAME);
    assert_string_equal(tw_strerror(c.cb_err),
                        "name does not resolve: Name or service not known");
    assert_int_equal(c.factory, 0);

    tw_sys_fail(TW_SYS_PTHREAD_CREATE, 1, 1, EAGAIN);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c2, "twin.test",
                                          80, conn_cb), -EAGAIN);
    run_for(TW_MS(20));
    assert_int_equal(c2.cb_calls, 0);
    ASSERT_NOTHING_ALIVE();
}

static void send_abc(void *arg)
{
    int fd = *(int *)arg;
    assert_int_equal(write(fd, "abc", 3), 3);
}

/* The reference text's "Connecting Existing Sockets" example. */
static void test_existing_socketpair_example(void **state)
{
    int sp[2];
    sockpair(sp);
    int rsock = sp[0], wsock = sp[1];
    stats m = {.close_on_data = true};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &m, rsock,
                                             conn_cb), 0);
    /* Simulate the reception of data from the network. */
    assert_true(tw_call_soon(fx.loop, send_abc, &wsock) != 0);
    RUN_UNTIL(m.lost == 1);
    assert_int_equal(m.cb_calls, 1);
    assert_int_equal(m.cb_err, 0);
    assert_int_equal(m.data_calls, 1);
    assert_memory_equal(m.data, "abc", 3);
    assert_int_equal(m.last_err, 0);
    close(wsock);
    ASSERT_NOTHING_ALIVE();
}

static bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) >= 0; }

static void test_existing_socket_checks_and_ownership(void **state)
{
    stats c = {0};
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &c, p[0],
                                             conn_cb), -ENOTSOCK);
    assert_false(fd_is_open(p[0])); /* handed over, so closed on error */
    close(p[1]);

    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(tw_connect_accepted_socket(fx.loop, factory, &c, u,
                                                conn_cb), -EINVAL);
    assert_false(fd_is_open(u));

    /* A refusing factory: the call succeeded, the callback says no. */
    int sp[2];
    sockpair(sp);
    stats r = {.refuse = true};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &r, sp[0],
                                             conn_cb), 0);
    assert_false(fd_is_open(sp[0]));
    RUN_UNTIL(r.cb_calls == 1);
    assert_int_equal(r.cb_err, -ENOMEM);
    assert_int_equal(r.made, 0);
    close(sp[1]);
    assert_int_equal(c.cb_calls, 0);
    ASSERT_NOTHING_ALIVE();
}

static void check_socket_fd(tw_transport *t, bool tcp)
{
    tw_extra e;
    assert_int_equal(tw_transport_get_extra_info(t, "socket", &e), 0);
    assert_int_equal(e.type, TW_EXTRA_FD);
    int fd = e.v.fd, v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len), 0);
    assert_int_equal(v, SOCK_STREAM);
    assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
    if (tcp) {
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        len = sizeof v;
        assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len),
                         0);
        assert_int_equal(v, 1);
    }
    assert_int_equal(tw_transport_get_extra_info(t, "no-such-info", &e),
                     -ENOENT);
}

static void test_extra_info_socket(void **state)
{
    stats s = {0}, c = {0};
    uint16_t port;
    tw_server *srv = serve(&s, NULL, &port);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(c.made == 1 && s.made == 1);
    check_socket_fd(c.t, true);
    check_socket_fd(s.t, true);
    tw_extra e;
    assert_int_equal(tw_transport_get_extra_info(c.t, "peername", &e), 0);
    assert_int_equal(e.type, TW_EXTRA_ADDR);
    assert_int_equal(tw_addr_port(&e.v.addr), port);
    tw_addr cs, sp;
    assert_int_equal(tw_transport_sockname(c.t, &cs), 0);
    assert_int_equal(tw_transport_peername(s.t, &sp), 0);
    assert_true(tw_addr_equal(&cs, &sp));

    int pair[2];
    sockpair(pair);
    stats u = {0};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &u, pair[0],
                                             NULL), 0);
    RUN_UNTIL(u.made == 1);
    check_socket_fd(u.t, false);
    tw_transport_close(u.t);
    close(pair[1]);

    tw_transport_close(c.t);
    tw_server_close(srv);
    RUN_UNTIL(c.lost == 1 && s.lost == 1 && u.lost == 1);
    ASSERT_NOTHING_ALIVE();
}

/* ------------------------------------------------------------------ */
/* 8. servers                                                          */

static void test_server_on_all_interfaces_shares_one_port(void **state)
{
    stats s = {0}, c4 = {0}, c6 = {0};
    tw_server *srv = NULL;
    assert_int_equal(tw_create_server(fx.loop, factory, &s, NULL, 0, NULL,
                                      &srv), 0);
    int n = tw_server_count(srv);
    assert_true(n == 1 || n == 2); /* 2 unless the host has no IPv6 */
    uint16_t port = tw_server_port(srv);
    assert_true(port > 0);
    for (int i = 0; i < n; i++) {
        tw_addr a;
        assert_int_equal(tw_server_sockname(srv, i, &a), 0);
        assert_int_equal(tw_addr_port(&a), port);
        assert_int_equal(tw_addr_family(&a), i == 0 ? AF_INET : AF_INET6);
    }
    assert_int_equal(tw_create_connection(fx.loop, factory, &c4, "127.0.0.1",
                                          port, conn_cb), 0);
    RUN_UNTIL(c4.made == 1 && s.made == 1);
    int expect = 1;
    if (n == 2) {
        assert_int_equal(tw_create_connection(fx.loop, factory, &c6, "::1",
                                              port, conn_cb), 0);
        RUN_UNTIL(c6.cb_calls == 1);
        if (c6.cb_err == 0) { /* ::1 may be missing even with IPv6 */
            expect = 2;
            RUN_UNTIL(s.made == 2);
            tw_transport_close(c6.t);
        }
    }
    tw_transport_close(c4.t);
    tw_server_close(srv);
    RUN_UNTIL(s.lost == expect);
    ASSERT_NOTHING_ALIVE();
}

static void test_server_on_a_name_reports_listening(void **state)
{
    stats s = {0}, c = {0};
    tw_server_opts o = {.on_listening = on_listening};
    tw_server *srv = NULL;
    assert_int_equal(tw_create_server(fx.loop, factory, &s, "localhost", 0,
                                      &o, &srv), 0);
    assert_non_null(srv);
    assert_int_equal(s.listening, 0);
    RUN_UNTIL(s.listening == 1);
    assert_int_equal(s.listen_err, 0);
    assert_true(tw_server_count(srv) >= 1);
    uint16_t port = tw_server_port(srv);
    for (int i = 0; i < tw_server_count(srv); i++) {
        tw_addr a;
        assert_int_equal(tw_server_sockname(srv, i, &a), 0);
        assert_int_equal(tw_addr_port(&a), port);
    }
    tw_addr a;
    assert_int_equal(tw_server_sockname(srv, 0, &a), 0);
    assert_int_equal(tw_create_connection_addr(fx.loop, factory, &c, &a,
                                               conn_cb), 0);
    RUN_UNTIL(c.made == 1 && s.made == 1);
    tw_transport_close(c.t);
    tw_server_close(srv);
    RUN_UNTIL(c.lost == 1 && s.lost == 1);
    assert_int_equal(s.listening, 1);
    ASSERT_NOTHING_ALIVE();
}

static void test_server_listening_callback_rules(void **state)
{
    tw_server_opts o = {.on_listening = on_listening};
    /* Numeric host: listening at once, yet reported from the loop. */
    stats s = {0};
    tw_server *srv = NULL;
    assert_int_equal(tw_create_server(fx.loop, factory, &s, "127.0.0.1", 0,
                                      &o, &srv), 0);
    assert_int_equal(tw_server_count(srv), 1);
    assert_int_equal(s.listening, 0);
    RUN_UNTIL(s.listening == 1);
    assert_int_equal(s.listen_err, 0);
    tw_server_close(srv);

    /* Closed before the loop ran: never called. */
    stats s2 = {0};
    assert_int_equal(tw_create_server(fx.loop, factory, &s2, "127.0.0.1", 0,
                                      &o, &srv), 0);
    tw_server_close(srv);
    run_for(TW_MS(20));
    assert_int_equal(s2.listening, 0);

    /* A name that does not resolve: the error comes through the callback
     * and the server, listening nowhere, is still the caller's to close. */
    stats s3 = {0};
    tw_sys_fail(TW_SYS_GETADDRINFO, 1, 1, EAI_NONAME);
    assert_int_equal(tw_create_server(fx.loop, factory, &s3, "no.such.host",
                                      0, &o, &srv), 0);
    RUN_UNTIL(s3.listening == 1);
    assert_int_equal(s3.listen_err, TW_EAI_NONAME);
    assert_int_equal(tw_server_count(srv), 0);
    tw_server_close(srv);

    /* A port in use: the call fails, nothing is left behind (the fd
     * count is checked by the teardown). */
    stats s4 = {0};
    uint16_t port;
    tw_server *busy = serve(&s4, NULL, &port);
    srv = NULL;
    assert_int_equal(tw_create_server(fx.loop, factory, &s4, "127.0.0.1",
                                      port, &o, &srv), -EADDRINUSE);
    assert_null(srv);
    tw_server_close(busy);
    run_for(TW_MS(20));
    assert_int_equal(s4.listening, 0);
    ASSERT_NOTHING_ALIVE();
}

static void unix_bind_and_close(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    close(fd); /* leaves the socket file behind, as a crash would */
}

static void test_unix_server_socket_file_life(void **state)
{
    char dir[] = "/tmp/twin-real-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    struct stat st;

    /* A stale socket file from an earlier run is replaced. */
    unix_bind_and_close(path);
    stats s = {.echo = true}, c = {0};
    tw_server *srv = NULL;
    assert_int_equal(tw_create_unix_server(fx.loop, factory, &s, path, NULL,
                                           &srv), 0);
    assert_int_equal(tw_create_unix_connection(fx.loop, factory, &c, path,
                                               conn_cb), 0);
    RUN_UNTIL(c.made == 1 && s.made == 1);
    assert_int_equal(tw_transport_write(c.t, "hi", 2), 0);
    RUN_UNTIL(c.bytes == 2);
    assert_memory_equal(c.data, "hi", 2);
    /* Closing the server removes its file. */
    tw_server_close(srv);
    assert_int_equal(lstat(path, &st), -1);
    tw_transport_close(c.t);
    RUN_UNTIL(c.lost == 1 && s.lost == 1);

    /* ...but not a newer file that replaced it meanwhile. */
    stats s2 = {0};
    assert_int_equal(tw_create_unix_server(fx.loop, factory, &s2, path, NULL,
                                           &srv), 0);
    assert_int_equal(unlink(path), 0);
    unix_bind_and_close(path);
    tw_server_close(srv);
    assert_int_equal(lstat(path, &st), 0);
    assert_int_equal(unlink(path), 0);

    /* Connecting where nobody listens: through the callback. */
    stats c2 = {0};
    assert_int_equal(tw_create_unix_connection(fx.loop, factory, &c2, path,
                                               conn_cb), 0);
    RUN_UNTIL(c2.cb_calls == 1);
    assert_int_equal(c2.cb_err, -ENOENT);

    /* Anything but a socket at path is somebody's data: left alone. */
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tw_create_unix_server(fx.loop, factory, &s2, path, NULL,
                                           &srv), -EADDRINUSE);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    unlink(path);
    rmdir(dir);
    ASSERT_NOTHING_ALIVE();
}

/* ------------------------------------------------------------------ */
/* 9. teardown with work in flight, epoll_ctl failure                  */

/* A resolver that blocks until the test lets it go. */
static sem_t gate, returned;

/* Threads of this process, ours and the loop's resolver workers. */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Wait until the resolver's workers are gone (they free their own
 * requests before they end): this process runs no other thread but the
 * test's own. */
static void wait_workers_gone(void)
{
    for (int i = 0; count_threads() > 1; i++) {
        if (i == 10000)
            fail_msg("resolver threads still running after 10 s");
        usleep(1000);
    }
}

static int slow_gai(const char *host, const char *service,
                    const struct addrinfo *hints, struct addrinfo **res)
{
    sem_wait(&gate);
    sem_post(&returned);
    return EAI_NONAME;
}

static void test_loop_free_with_work_in_flight(void **state)
{
    assert_int_equal(sem_init(&gate, 0, 0), 0);
    assert_int_equal(sem_init(&returned, 0, 0), 0);
    tw_sys.getaddrinfo = slow_gai;
    stats s = {0}, c1 = {0}, c2 = {0}, s2 = {0};
    uint16_t port;
    serve(&s, NULL, &port);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c1, "slow.test",
                                          port, conn_cb), 0);
    assert_int_equal(tw_create_connection(fx.loop, factory, &c2, "127.0.0.1",
                                          port, conn_cb), 0);
    tw_server *srv2 = NULL;
    tw_server_opts o = {.on_listening = on_listening};
    assert_int_equal(tw_create_server(fx.loop, factory, &s2, "slow.test", 0,
                                      &o, &srv2), 0);
    assert_int_equal(tw_loop_alive(fx.loop), 4);

    /* Free with two lookups blocked in their threads, a connect in
     * progress and two servers open: no callback, nothing leaked. */
    tw_loop_free(fx.loop);
    fx.loop = NULL;
    sem_post(&gate);
    sem_post(&gate);
    sem_wait(&returned);
    sem_wait(&returned);
    wait_workers_gone(); /* the orphaned workers freed their requests */
    assert_int_equal(c1.cb_calls, 0);
    assert_int_equal(c1.factory, 0);
    assert_int_equal(c2.cb_calls, 0);
    assert_int_equal(s2.listening, 0);
    assert_int_equal(s.made, 0);
    sem_destroy(&gate);
    sem_destroy(&returned);
}

/* A datagram endpoint by name keeps the loop alive while its lookup
 * runs; freeing the loop then drops it: no callback, nothing leaked
 * (a local and a remote name, so two lookups are in flight). */
static void test_loop_free_with_dgram_lookup_in_flight(void **state)
{
    assert_int_equal(sem_init(&gate, 0, 0), 0);
    assert_int_equal(sem_init(&returned, 0, 0), 0);
    tw_sys.getaddrinfo = slow_gai;
    stats c = {0};
    tw_datagram_opts o = {.local_host = "slow.test", .remote_host = "slow.test",
                          .remote_port = 9};
    assert_int_equal(tw_create_datagram_endpoint(fx.loop, factory, &c, &o,
                                                 conn_cb), 0);
    assert_int_equal(tw_loop_alive(fx.loop), 1);
    /* the loop keeps running while the names are looked up */
    run_for(TW_MS(20));
    assert_int_equal(tw_loop_alive(fx.loop), 1);
    assert_int_equal(c.cb_calls, 0);
    tw_loop_free(fx.loop);
    fx.loop = NULL;
    sem_post(&gate);
    sem_post(&gate);
    sem_wait(&returned);
    sem_wait(&returned);
    wait_workers_gone(); /* the orphaned workers freed their requests */
    assert_int_equal(c.cb_calls, 0);
    assert_int_equal(c.factory, 0);
    sem_destroy(&gate);
    sem_destroy(&returned);
}

/* A server closed while its name is being resolved never hears back. */
static void test_server_closed_while_resolving(void **state)
{
    assert_int_equal(sem_init(&gate, 0, 0), 0);
    assert_int_equal(sem_init(&returned, 0, 0), 0);
    tw_sys.getaddrinfo = slow_gai;
    stats s = {0};
    tw_server *srv = NULL;
    tw_server_opts o = {.on_listening = on_listening};
    assert_int_equal(tw_create_server(fx.loop, factory, &s, "slow.test", 0,
                                      &o, &srv), 0);
    tw_server_close(srv);
    assert_int_equal(tw_loop_alive(fx.loop), 0);
    sem_post(&gate);
    sem_wait(&returned);
    /* The worker posted its result and woke the loop before it ended:
     * one poll takes the result in, and drops it. */
    wait_workers_gone();
    assert_int_equal(fx.loop->ops->poll(fx.loop, TW_SEC(1)), 0);
    run_for(TW_MS(20));
    assert_int_equal(s.listening, 0);
    sem_destroy(&gate);
    sem_destroy(&returned);
}

/* If epoll cannot watch a socket, the connection cannot work: it is lost
 * with the reason rather than left hanging. */
static void test_epoll_ctl_failure_loses_the_connection(void **state)
{
    int sp[2];
    sockpair(sp);
    stats c = {0};
    assert_int_equal(tw_create_connection_fd(fx.loop, factory, &c, sp[0],
                                             NULL), 0);
    /* The next epoll_ctl arms reading, after connection_made. */
    tw_sys_fail(TW_SYS_EPOLL_CTL, 1, 1, ENOMEM);
    RUN_UNTIL(c.lost == 1);
    assert_int_equal(c.made, 1);
    assert_int_equal(c.last_err, -ENOMEM);
    close(sp[1]);
    ASSERT_NOTHING_ALIVE();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_loop_new_failure_leaks_nothing),
        T(test_poll_eintr_is_not_an_error),
        T(test_poll_failure_ends_run_with_error),
        T(test_sub_millisecond_timer_does_not_spin),
        T(test_threadsafe_call_wakes_epoll_wait),
        T(test_busy_poll_finds_event_without_sleeping),
        T(test_busy_poll_keeps_timers_on_time),
        T(test_busy_poll_stops_when_gaps_are_longer),
        T(test_busy_poll_without_clock_sleeps),
        T(test_read_eintr_and_eagain_lose_nothing),
        T(test_read_econnreset_reaches_connection_lost),
        T(test_peer_reset_over_tcp),
        T(test_short_writes_and_eintr_arrive_byte_exact),
        T(test_eagain_on_first_write_buffers_everything),
        T(test_one_buffer_write_keeps_the_untaken_rest),
        T(test_write_to_vanished_peer_is_epipe_not_sigpipe),
        T(test_accept_emfile_backs_off_and_recovers),
        T(test_fd_limit_raised_within_the_hard_limit),
        T(test_file_calls_go_through_the_table),
        T(test_accept_econnaborted_is_skipped),
        T(test_accepts_at_most_backlog_per_wakeup),
        T(test_server_closed_by_callback_earlier_in_batch),
        T(test_connect_refused_reaches_callback_only),
        T(test_connect_without_descriptors_fails_the_call),
        T(test_connect_localhost_resolves_off_loop),
        T(test_connect_tries_each_address_in_turn),
        T(test_connect_unknown_name_and_no_thread),
        T(test_existing_socketpair_example),
        T(test_existing_socket_checks_and_ownership),
        T(test_extra_info_socket),
        T(test_server_on_all_interfaces_shares_one_port),
        T(test_server_on_a_name_reports_listening),
        T(test_server_listening_callback_rules),
        T(test_unix_server_socket_file_life),
        T(test_loop_free_with_work_in_flight),
        T(test_loop_free_with_dgram_lookup_in_flight),
        T(test_server_closed_while_resolving),
        T(test_epoll_ctl_failure_loses_the_connection),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
