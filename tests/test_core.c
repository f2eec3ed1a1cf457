/* tests/test_core.c - backend-independent pieces: the contract checker (on
 * its own, and catching a misbehaving fake backend), strict mode's bounded
 * quarantine of ended transports, the threadsafe
 * inbox's dropped calls, addresses, error names, the write buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "core/internal.h"
#include "sim/sim.h"
#include "tests/harness.h"
#include "tests/rec.h"
#include "twin/parse.h"

/* ---- the contract checker, pure ---- */

static void test_contract_accepts_the_state_machines(void **state)
{
    (void)state;
    tw__contract c = {0};
    const tw__event stream[] = {TW__EV_MADE, TW__EV_DATA, TW__EV_PAUSE,
                                TW__EV_DATA, TW__EV_RESUME, TW__EV_EOF,
                                TW__EV_PAUSE, TW__EV_LOST};
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++)
        assert_null(tw__contract_step(&c, stream[i]));
    memset(&c, 0, sizeof c);
    const tw__event buffered[] = {TW__EV_MADE, TW__EV_GET_BUFFER,
                                  TW__EV_BUFFER_UPDATED, TW__EV_GET_BUFFER,
                                  TW__EV_GET_BUFFER, TW__EV_BUFFER_UPDATED,
                                  TW__EV_LOST};
    for (size_t i = 0; i < sizeof buffered / sizeof buffered[0]; i++)
        assert_null(tw__contract_step(&c, buffered[i]));
    memset(&c, 0, sizeof c);
    /* a subprocess: the exit may come before the pipes' last data */
    const tw__event process[] = {TW__EV_MADE, TW__EV_PIPE_DATA, TW__EV_EXITED,
                                 TW__EV_PIPE_DATA, TW__EV_PAUSE,
                                 TW__EV_PIPE_LOST, TW__EV_LOST};
    for (size_t i = 0; i < sizeof process / sizeof process[0]; i++)
        assert_null(tw__contract_step(&c, process[i]));
}

struct bad_case {
    tw__event seq[6];
    int n;
    const char *rule;
};

static void test_contract_names_each_violation(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {{TW__EV_DATA}, 1, "called before connection_made"},
        {{TW__EV_MADE, TW__EV_MADE}, 2, "connection_made called twice"},
        {{TW__EV_MADE, TW__EV_EOF, TW__EV_DATA}, 3, "called after eof_received"},
        {{TW__EV_MADE, TW__EV_EOF, TW__EV_EOF}, 3, "eof_received called twice"},
        {{TW__EV_MADE, TW__EV_LOST, TW__EV_DATA}, 3, "called after connection_lost"},
        {{TW__EV_MADE, TW__EV_LOST, TW__EV_LOST}, 3, "connection_lost called twice"},
        {{TW__EV_LOST}, 1, "connection_lost without connection_made"},
        {{TW__EV_MADE, TW__EV_BUFFER_UPDATED}, 2,
         "buffer_updated without a get_buffer before it"},
        {{TW__EV_MADE, TW__EV_GET_BUFFER, TW__EV_BUFFER_UPDATED,
          TW__EV_BUFFER_UPDATED}, 4, "buffer_updated without a get_buffer before it"},
        {{TW__EV_MADE, TW__EV_EOF, TW__EV_GET_BUFFER}, 3, "called after eof_received"},
        {{TW__EV_MADE, TW__EV_PAUSE, TW__EV_PAUSE}, 3,
         "pause_writing twice without resume_writing between"},
        {{TW__EV_MADE, TW__EV_RESUME}, 2,
         "resume_writing without pause_writing before it"},
        {{TW__EV_MADE, TW__EV_LOST, TW__EV_MADE}, 3,
         "connection_made after connection_lost"},
        {{TW__EV_PAUSE}, 1, "called before connection_made"},
        {{TW__EV_MADE, TW__EV_EXITED, TW__EV_PIPE_DATA, TW__EV_EXITED}, 4,
         "process_exited called twice"},
        {{TW__EV_EXITED}, 1, "called before connection_made"},
        {{TW__EV_MADE, TW__EV_LOST, TW__EV_PIPE_LOST}, 3,
         "called after connection_lost"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tw__contract c = {0};
        for (int i = 0; i < cases[k].n - 1; i++)
            assert_null(tw__contract_step(&c, cases[k].seq[i]));
        const char *r = tw__contract_step(&c, cases[k].seq[cases[k].n - 1]);
        assert_non_null(r);
        assert_string_equal(r, cases[k].rule);
    }
}

/* ---- a fake backend, to show the checker catches a backend's mistake ---- */

struct fake_loop {
    tw_loop loop;
    tw_ns now;
};

static tw_ns fake_now(tw_loop *l) { return ((struct fake_loop *)l)->now; }
static void fake_loop_destroy(tw_loop *l) { tw__loop_fini(l); }

static int fake_run(tw_loop *l, tw_ns deadline)
{
    (void)deadline;
    while (tw__loop_has_ready(l) && !l->stopping)
        tw__loop_run_ready(l);
    l->stopping = false;
    return 0;
}

static const tw__loop_ops fake_loop_ops = {
    .name = "fake", .now = fake_now, .run = fake_run, .destroy = fake_loop_destroy,
};

static size_t fake_taken;
static ssize_t fake_send(tw_transport *t, const struct iovec *iov, int n)
{
    (void)t;
    size_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += iov[i].iov_len;
    fake_taken += sum;
    return (ssize_t)sum;
}
static void fake_want(tw_transport *t, bool on) { (void)t; (void)on; }
static int fake_shutdown(tw_transport *t) { (void)t; return 0; }
static void fake_destroy(tw_transport *t) { free(t); }

static const tw__transport_ops fake_ops = {
    .send = fake_send, .want_write = fake_want, .want_read = fake_want,
    .shutdown_write = fake_shutdown, .destroy = fake_destroy, .can_write_eof = true,
};

static char seen[256];
static int nseen;
static void capture(void *arg, const char *msg)
{
    (void)arg;
    nseen++;
    snprintf(seen, sizeof seen, "%s", msg);
}

static void test_contract_catches_a_bad_backend(void **state)
{
    (void)state;
    struct fake_loop fl;
    assert_int_equal(tw__loop_init(&fl.loop, &fake_loop_ops, 0), 0);
    fl.now = 0;
    tw_loop_set_contract_check(&fl.loop, true);
    tw_loop_set_contract_handler(&fl.loop, capture, NULL);
    nseen = 0;
    rec r;
    rec_init(&r, 0);
    tw_transport *t = calloc(1, sizeof *t);
    tw__transport_init(t, &fl.loop, &fake_ops, TW_TRANSPORT_STREAM);
    assert_int_equal(tw__transport_open(t, rec_factory, &r, NULL), 0);
    /* a backend delivering EOF before connection_made ran */
    tw__transport_eof(t);
    assert_int_equal(nseen, 1);
    assert_non_null(strstr(seen, "transport #1"));
    assert_non_null(strstr(seen, "eof_received"));
    assert_non_null(strstr(seen, "called before connection_made"));
    assert_non_null(strstr(seen, "fake backend"));
    tw_loop_run(&fl.loop);
    assert_true(r.done);
    rec_free(&r);
    tw_loop_free(&fl.loop);
}

static void test_fake_backend_writes_go_straight_through(void **state)
{
    (void)state;
    struct fake_loop fl;
    assert_int_equal(tw__loop_init(&fl.loop, &fake_loop_ops, 0), 0);
    tw_loop_set_contract_handler(&fl.loop, capture, NULL);
    nseen = 0;
    rec r;
    rec_init(&r, 0);
    tw_transport *t = calloc(1, sizeof *t);
    tw__transport_init(t, &fl.loop, &fake_ops, TW_TRANSPORT_STREAM);
    assert_int_equal(tw__transport_open(t, rec_factory, &r, NULL), 0);
    tw_loop_run(&fl.loop);
    assert_int_equal(r.made, 1);
    fake_taken = 0;
    assert_int_equal(tw_transport_write(t, "hello", 5), 0);
    assert_int_equal(fake_taken, 5);
    assert_int_equal(tw_transport_get_write_buffer_size(t), 0);
    /* delivered bytes reach data_received in order */
    assert_int_equal(tw__transport_deliver(t, (const uint8_t *)"abc", 3), 3);
    assert_int_equal(r.len, 3);
    tw_transport_close(t);
    tw_loop_run(&fl.loop);
    assert_string_equal(r.log, "MDL");
    assert_int_equal(nseen, 0);
    assert_int_equal(tw_loop_alive(&fl.loop), 0);
    rec_free(&r);
    tw_loop_free(&fl.loop);
}

/* ---- strict mode's quarantine ---- */

static void fake_free(tw_transport *t) { tw__transport_free(t); }

static const tw__transport_ops fake_quarantined_ops = {
    .send = fake_send, .want_write = fake_want, .want_read = fake_want,
    .shutdown_write = fake_shutdown, .destroy = fake_free, .can_write_eof = true,
};

/* Open a transport with ops on the fake loop, close it, and run it to
 * its end. */
static tw_transport *open_and_end_with(struct fake_loop *fl, rec *r,
                                       const tw__transport_ops *ops)
{
    rec_init(r, 0);
    tw_transport *t = calloc(1, sizeof *t);
    assert_non_null(t);
    tw__transport_init(t, &fl->loop, ops, TW_TRANSPORT_STREAM);
    assert_int_equal(tw__transport_open(t, rec_factory, r, NULL), 0);
    tw_loop_run(&fl->loop);
    assert_int_equal(tw_transport_close(t), 0);
    tw_loop_run(&fl->loop);
    assert_true(r->done && r->released);
    rec_free(r);
    return t;
}

static tw_transport *open_and_end(struct fake_loop *fl, rec *r)
{
    return open_and_end_with(fl, r, &fake_quarantined_ops);
}

static void test_quarantine_is_bounded(void **state)
{
    (void)state;
    struct fake_loop fl;
    assert_int_equal(tw__loop_init(&fl.loop, &fake_loop_ops, 0), 0);
    fl.now = 0;
    tw_loop_set_contract_handler(&fl.loop, capture, NULL);
    nseen = 0;
    rec r;
    /* strict off: an ended transport is freed at once */
    tw_loop_set_contract_strict(&fl.loop, false);
    open_and_end(&fl, &r);
    assert_int_equal(fl.loop.nquarantine, 0);
    /* strict on: the last TW__QUARANTINE_MAX are kept, older ones freed
     * (ASan and LSan check both halves) */
    tw_loop_set_contract_strict(&fl.loop, true);
    tw_transport *last = NULL;
    for (int i = 0; i < TW__QUARANTINE_MAX + 3; i++) {
        last = open_and_end(&fl, &r);
        assert_int_equal(fl.loop.nquarantine,
                         i < TW__QUARANTINE_MAX ? i + 1 : TW__QUARANTINE_MAX);
    }
    assert_int_equal(nseen, 0);
    /* the newest is still there to say it is gone */
    assert_int_equal(tw_transport_write(last, "x", 1), -EPIPE);
    assert_int_equal(nseen, 1);
    assert_non_null(strstr(seen, "loop (fake backend): transport #"));
    assert_non_null(strstr(seen, "write() after connection_lost returned"));
    /* turning the checker off turns strict mode off */
    tw_loop_set_contract_check(&fl.loop, false);
    assert_false(tw_loop_contract_strict(&fl.loop));
    tw_loop_free(&fl.loop); /* frees the quarantine */
}

/* A backend's release op gets the memory back, when the quarantine lets
 * it go and not before. */
static int nreleased;
static void fake_release(tw_transport *t)
{
    nreleased++;
    free(t);
}

static const tw__transport_ops fake_released_ops = {
    .send = fake_send, .want_write = fake_want, .want_read = fake_want,
    .shutdown_write = fake_shutdown, .destroy = fake_free, .can_write_eof = true,
    .release = fake_release,
};

static void open_and_end_released(struct fake_loop *fl, rec *r)
{
    open_and_end_with(fl, r, &fake_released_ops);
}

static void test_release_op_gets_the_memory_back(void **state)
{
    (void)state;
    struct fake_loop fl;
    assert_int_equal(tw__loop_init(&fl.loop, &fake_loop_ops, 0), 0);
    fl.now = 0;
    rec r;
    nreleased = 0;
    tw_loop_set_contract_strict(&fl.loop, false);
    open_and_end_released(&fl, &r);
    assert_int_equal(nreleased, 1); /* at once */
    tw_loop_set_contract_strict(&fl.loop, true);
    open_and_end_released(&fl, &r);
    open_and_end_released(&fl, &r);
    assert_int_equal(nreleased, 1); /* kept by the quarantine */
    assert_int_equal(fl.loop.nquarantine, 2);
    tw_loop_free(&fl.loop);
    assert_int_equal(nreleased, 3); /* given back with the loop */
}

/* ---- the simulator's pool ---- */

static void test_sim_pool_reuses_and_counts(void **state)
{
    (void)state;
    sim_pool p;
    sim_pool_init(&p, 24, 4);
    void *o[6];
    for (int i = 0; i < 6; i++) {
        o[i] = sim_pool_get(&p);
        assert_non_null(o[i]);
        memset(o[i], i, 24); /* every byte is the caller's */
        for (int k = 0; k < i; k++)
            assert_ptr_not_equal(o[i], o[k]);
    }
    assert_int_equal(p.live, 6);
    if (!SIM_POOL_MALLOC) {
        assert_int_equal(p.nblocks, 2); /* 4 to a block */
        assert_ptr_equal((uint8_t *)o[1], (uint8_t *)o[0] + 24); /* no header */
    }
    sim_pool_put(&p, o[2]);
    sim_pool_put(&p, o[4]);
    assert_int_equal(p.live, 4);
    void *a = sim_pool_get(&p), *b = sim_pool_get(&p);
    if (!SIM_POOL_MALLOC) { /* the last freed first */
        assert_ptr_equal(a, o[4]);
        assert_ptr_equal(b, o[2]);
        assert_int_equal(p.nblocks, 2);
    }
    sim_pool_put(&p, a);
    sim_pool_put(&p, b);
    for (int i = 0; i < 6; i++)
        if (i != 2 && i != 4)
            sim_pool_put(&p, o[i]);
    assert_int_equal(p.live, 0);
    sim_pool_fini(&p);
    assert_int_equal(p.nblocks, 0);
}

/* ---- the threadsafe inbox ---- */

static int ran;
static void count_run(void *arg)
{
    (void)arg;
    ran++;
}

static void test_dropped_threadsafe_calls_are_counted(void **state)
{
    (void)state;
    struct fake_loop fl;
    assert_int_equal(tw__loop_init(&fl.loop, &fake_loop_ops, 0), 0);
    fl.now = 0;
    ran = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(tw_call_soon_threadsafe(&fl.loop, count_run, NULL), 0);
    assert_int_equal(tw_loop_dropped_calls(&fl.loop), 0);
    /* The slot table made to look full at its limit (and no free slot):
     * tw_call_soon then fails as it does out of memory, so draining the
     * inbox cannot move the calls to the ready queue. */
    assert_int_equal(fl.loop.nslots, 0);
    assert_int_equal(fl.loop.free_head, UINT32_MAX);
    fl.loop.nslots = fl.loop.capslots = UINT32_C(1) << 30;
    assert_int_equal(tw_call_soon(&fl.loop, count_run, NULL), 0);
    /* stderr to a file meanwhile: the library prints nothing */
    fflush(stderr);
    FILE *err = tmpfile();
    assert_non_null(err);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(err), 2) >= 0);
    tw_loop_run(&fl.loop);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fl.loop.nslots = fl.loop.capslots = 0;
    assert_int_equal(ran, 0);
    assert_int_equal(tw_loop_dropped_calls(&fl.loop), 3);
    assert_int_equal(fseek(err, 0, SEEK_END), 0);
    assert_int_equal(ftell(err), 0);
    fclose(err);
    /* With room again, calls run and nothing more is counted. */
    assert_int_equal(tw_call_soon_threadsafe(&fl.loop, count_run, NULL), 0);
    tw_loop_run(&fl.loop);
    assert_int_equal(ran, 1);
    assert_int_equal(tw_loop_dropped_calls(&fl.loop), 3);
    tw_loop_free(&fl.loop);
}

/* ---- addresses ---- */

static void roundtrip(const char *text)
{
    tw_addr a;
    char buf[TW_ADDR_STRLEN];
    assert_int_equal(tw_addr_parse(&a, text), 0);
    assert_string_equal(tw_addr_format(&a, buf, sizeof buf), text);
    tw_addr b;
    assert_int_equal(tw_addr_parse(&b, buf), 0);
    assert_true(tw_addr_equal(&a, &b));
}

static void test_addr_parse_format(void **state)
{
    (void)state;
    roundtrip("127.0.0.1:8888");
    roundtrip("[::1]:443");
    roundtrip("10.0.0.7:1");
    roundtrip("unix:/tmp/twin.sock");
    roundtrip("unix:@abstract-name");
    tw_addr a;
    assert_int_equal(tw_addr_parse(&a, "1.2.3.4"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, "1.2.3.4:70000"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, ":80"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, "[::1]80"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, "example.com:80"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, "1.2.3.4:"), -EINVAL);
    assert_int_equal(tw_addr_parse(&a, NULL), -EINVAL);
    assert_int_equal(tw_addr_ip(&a, "::ffff:1.2.3.4", 5), 0);
    assert_int_equal(tw_addr_family(&a), AF_INET6);
    assert_int_equal(tw_addr_port(&a), 5);
    char longp[200];
    memset(longp, 'x', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(tw_addr_unix(&a, longp), -ENAMETOOLONG);
    tw_addr x, y;
    tw_addr_ip(&x, "127.0.0.1", 1);
    tw_addr_ip(&y, "127.0.0.1", 2);
    assert_false(tw_addr_equal(&x, &y));
    memset(&x, 0, sizeof x);
    assert_int_equal(tw_addr_family(&x), AF_UNSPEC);
    char buf[8];
    assert_string_equal(tw_addr_format(&x, buf, sizeof buf), "-");
}

static void test_parse_port(void **state)
{
    (void)state;
    uint16_t p = 1;
    assert_int_equal(tw_parse_port("0", &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(tw_parse_port("65535", &p), 0);
    assert_int_equal(p, 65535);
    const char *bad[] = {"65536", "-1", " 80", "80 ", "", "8x", "1.5", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(tw_parse_port(bad[i], &p), -EINVAL);
    assert_int_equal(tw_parse_port(NULL, &p), -EINVAL);
    assert_int_equal(p, 65535); /* untouched on error */
    char host[16];
    assert_int_equal(tw_parse_hostport("localhost:0", host, sizeof host, &p), -EINVAL);
    assert_int_equal(tw_parse_hostport("[::1]:443", host, sizeof host, &p), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(p, 443);
}

static void test_errors_have_names(void **state)
{
    (void)state;
    assert_string_equal(tw_errname(-ECONNRESET), "ECONNRESET");
    assert_string_equal(tw_errname(0), "OK");
    assert_string_equal(tw_strerror(0), "success");
    assert_non_null(strstr(tw_strerror(-ECONNREFUSED), "refused"));
    assert_non_null(strstr(tw_strerror(-ENOTSUP), "not supported"));
    assert_string_equal(tw_strerror(-99999), "unknown error");
    assert_string_equal(tw_errname(-99999), "E?");
}

/* ---- the write buffer ---- */

/* ---- what a transport costs ---- */

/* Each connection pays for one transport (and a simulated one for its
 * endpoint): their size is part of the memory per connection. Addresses
 * round-trip exactly through their compact form, a long Unix path
 * included (kept apart, released with the address). */
static void test_transport_memory_budget(void **state)
{
    (void)state;
    assert_true(sizeof(struct tw_transport) <= 152);
    assert_true(sizeof(sim_ep) <= 296); /* in the world's pool: no more */
    /* a hundred thousand short messages in flight: 40 + 104 bytes each */
    assert_true(sizeof(sim_seg) <= 40);
    /* 200,000 loop slots (a burst of connection_made) stay under 8 MiB. */
    assert_true(sizeof(tw__slot) <= 40);
}

/* apart: kept in an allocation of its own rather than inline. */
static void taddr_roundtrip_as(const tw_addr *a, bool apart)
{
    tw__taddr t, c;
    memset(&t, 0, sizeof t);
    memset(&c, 0, sizeof c);
    assert_int_equal(tw__taddr_set(&t, a), 0);
    assert_int_equal(t.len > TW__TADDR_INLINE && t.len != TW__TADDR_LEN_IN6, apart);
    assert_int_equal(tw__taddr_copy(&c, &t), 0);
    tw__taddr_clear(&t); /* the copy stands on its own */
    tw_addr back;
    tw__taddr_get(&c, &back);
    assert_int_equal(back.len, a->len);
    assert_memory_equal(&back.u, &a->u, a->len);
    assert_int_equal(tw__taddr_family(&c), tw_addr_family(a));
    assert_true(tw_addr_equal(&back, a));
    tw__taddr_clear(&c);
    assert_int_equal(c.len, 0);
    assert_int_equal(tw__taddr_family(&c), AF_UNSPEC);
}

static void taddr_roundtrip(const tw_addr *a) { taddr_roundtrip_as(a, false); }

static void test_transport_addresses_round_trip(void **state)
{
    (void)state;
    tw_addr a;
    assert_int_equal(tw_addr_ip(&a, "10.1.2.3", 4567), 0);
    taddr_roundtrip(&a);
    assert_int_equal(tw_addr_ip(&a, "2001:db8::1:2:3:4", 65535), 0);
    taddr_roundtrip(&a); /* kept short: port and address */
    assert_int_equal(tw_addr_ip(&a, "fe80::1:2:3:4", 65535), 0);
    a.u.in6.sin6_flowinfo = htonl(0x12345);
    a.u.in6.sin6_scope_id = 7;
    taddr_roundtrip_as(&a, true); /* a flow label and a scope id */
    assert_int_equal(tw_addr_ip(&a, "fe80::1", 80), 0);
    a.u.in6.sin6_scope_id = 2;
    taddr_roundtrip_as(&a, true); /* a scope id alone */
    assert_int_equal(tw_addr_unix(&a, "/tmp/s"), 0);
    taddr_roundtrip(&a);
    assert_int_equal(tw_addr_unix(&a, "/tmp/0123456789ab"), 0); /* 17 bytes */
    taddr_roundtrip(&a);
    assert_int_equal(tw_addr_unix(&a, "/tmp/0123456789abc"), 0); /* 18 */
    taddr_roundtrip_as(&a, true);
    char path[100];
    memset(path, 'p', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    assert_int_equal(tw_addr_unix(&a, path), 0);
    taddr_roundtrip_as(&a, true);
    memset(&a, 0, sizeof a); /* an unnamed Unix socket: the family alone */
    a.u.un.sun_family = AF_UNIX;
    a.len = sizeof a.u.un.sun_family;
    taddr_roundtrip(&a);
}

static void test_wbuf(void **state)
{
    (void)state;
    tw__wbuf b;
    tw__wbuf_init(&b);
    /* many small appends share a chunk */
    for (int i = 0; i < 100; i++)
        assert_int_equal(tw__wbuf_append(&b, "0123456789", 10), 0);
    struct iovec iov[8];
    assert_int_equal(tw__wbuf_iov(&b, iov, 8), 1);
    assert_int_equal(b.size, 1000);
    /* a big one gets its own */
    static uint8_t big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    assert_int_equal(tw__wbuf_append(&b, big, sizeof big), 0);
    int n = tw__wbuf_iov(&b, iov, 8);
    assert_true(n >= 2);
    size_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += iov[i].iov_len;
    assert_int_equal(sum, b.size);
    tw__wbuf_consume(&b, 995);
    assert_int_equal(b.size, 100005);
    n = tw__wbuf_iov(&b, iov, 8);
    assert_memory_equal(iov[0].iov_base, "56789", 5);
    tw__wbuf_consume(&b, 5 + 50000);
    n = tw__wbuf_iov(&b, iov, 8);
    assert_int_equal(((uint8_t *)iov[0].iov_base)[0], (uint8_t)50000);
    tw__wbuf_consume(&b, b.size);
    assert_int_equal(b.size, 0);
    assert_int_equal(tw__wbuf_iov(&b, iov, 8), 0);
    assert_int_equal(tw__wbuf_append(&b, "x", 1), 0);
    tw__wbuf_clear(&b);
    assert_int_equal(b.size, 0);
    assert_null(b.tail);
    /* Three chunks come out oldest first, and go in that order: a full
     * chunk of its own (big), then two (a spill of TW__CHUNK_MIN). */
    assert_int_equal(tw__wbuf_append(&b, big, sizeof big), 0);
    static uint8_t fill[TW__CHUNK_MIN + 1];
    memset(fill, 'f', sizeof fill);
    assert_int_equal(tw__wbuf_append(&b, fill, TW__CHUNK_MIN), 0);
    assert_int_equal(tw__wbuf_append(&b, "z", 1), 0);
    assert_int_equal(tw__wbuf_iov(&b, iov, 8), 3);
    assert_int_equal(iov[0].iov_len, sizeof big);
    assert_int_equal(iov[1].iov_len, TW__CHUNK_MIN);
    assert_memory_equal(iov[2].iov_base, "z", 1);
    tw__wbuf_consume(&b, sizeof big + 1); /* the first, and a byte of the next */
    assert_int_equal(tw__wbuf_iov(&b, iov, 8), 2);
    assert_int_equal(iov[0].iov_len, TW__CHUNK_MIN - 1);
    tw__wbuf_consume(&b, TW__CHUNK_MIN - 1);
    assert_int_equal(tw__wbuf_iov(&b, iov, 8), 1);
    assert_memory_equal(iov[0].iov_base, "z", 1);
    tw__wbuf_clear(&b); /* frees what is left */
    assert_null(b.tail);
}

/* The trace names its per-message records with literals hashed at compile
 * time (SIM_LIT_HASH): each must be the hash of its text, as every other
 * record's name is (sim_hash_name), or traces would depend on which way a
 * record was named. Lengths 0 to 16, across the 8-byte word boundary. */
static void test_trace_literal_names_hash_as_text(void **state)
{
    (void)state;
    assert_true(SIM_LIT_HASH("") == sim_hash_name(""));
    assert_true(SIM_LIT_HASH("send") == sim_hash_name("send"));
    assert_true(SIM_LIT_HASH("arrive") == sim_hash_name("arrive"));
    assert_true(SIM_LIT_HASH("deliver") == sim_hash_name("deliver"));
    assert_true(SIM_LIT_HASH("abcdefgh") == sim_hash_name("abcdefgh"));
    assert_true(SIM_LIT_HASH("abcdefghi") == sim_hash_name("abcdefghi"));
    assert_true(SIM_LIT_HASH("abcdefghijklmnop") == sim_hash_name("abcdefghijklmnop"));
    assert_true(SIM_LIT_HASH("send") != SIM_LIT_HASH("sent"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_contract_accepts_the_state_machines),
        TW_TEST(test_trace_literal_names_hash_as_text),
        TW_TEST(test_contract_names_each_violation),
        TW_TEST(test_contract_catches_a_bad_backend),
        TW_TEST(test_fake_backend_writes_go_straight_through),
        TW_TEST(test_quarantine_is_bounded),
        TW_TEST(test_release_op_gets_the_memory_back),
        TW_TEST(test_sim_pool_reuses_and_counts),
        TW_TEST(test_dropped_threadsafe_calls_are_counted),
        TW_TEST(test_addr_parse_format),
        TW_TEST(test_errors_have_names),
        TW_TEST(test_parse_port),
        TW_TEST(test_wbuf),
        TW_TEST(test_transport_memory_budget),
        TW_TEST(test_transport_addresses_round_trip),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
