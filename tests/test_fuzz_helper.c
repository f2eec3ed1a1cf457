/* tests/test_fuzz_helper.c - tw_fuzz_protocol (twin/fuzz.h) and the
 * simulator's schedule-fuzzing feed (twin/sim.h, tw_sim_opts.prng_bytes).
 *
 * Map: a recording protocol; delivery (order, cuts, buffered, datagrams,
 * pauses, timing, the end); what the peer sees of the output; what the
 * helper catches (contract, over-reads, stale pointers, crashes, in a
 * child process); the feed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/harness.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "twin/echo.h"
#include "twin/fuzz.h"
#include "twin/sim.h"
#include "twin/twin.h"
#include "twin/udp_echo.h"

/* ---- a protocol that records what it is handed ---- */

#define REC_MAX 4096
#define CALLS_MAX 1024

typedef struct rec {
    tw_protocol base;
    tw_transport *t;
    uint8_t got[REC_MAX];
    size_t len;
    size_t sizes[CALLS_MAX];
    tw_ns times[CALLS_MAX];
    size_t calls;
    int made, eof, lost, released, lost_err;
    /* buffered protocols: the buffer handed out, its size */
    uint8_t buf[64];
    size_t buf_len;
    bool empty_buffer; /* get_buffer returns a zero-size buffer */
    bool pause_ms;     /* pause reading after each call, resume 10 ms later */
    bool keep_half_open;
    bool paused;
    size_t write_on_made; /* bytes written from connection_made */
} rec;

static void note(rec *r, const uint8_t *d, size_t n)
{
    assert_true(r->made == 1 && r->eof == 0 && r->lost == 0);
    assert_false(r->paused);
    assert_true(r->len + n <= REC_MAX);
    memcpy(r->got + r->len, d, n);
    r->len += n;
    if (r->calls < CALLS_MAX) {
        r->sizes[r->calls] = n;
        r->times[r->calls] = tw_loop_now(tw_transport_loop(r->t));
    }
    r->calls++;
}

static void resume_cb(void *arg)
{
    rec *r = arg;
    r->paused = false;
    tw_transport_resume_reading(r->t);
}

static void after_call(rec *r)
{
    if (!r->pause_ms)
        return;
    r->paused = true;
    tw_transport_pause_reading(r->t);
    tw_call_later(tw_transport_loop(r->t), TW_MS(10), resume_cb, r);
}

static void rec_made(tw_protocol *p, tw_transport *t)
{
    rec *r = (rec *)p;
    r->t = t;
    r->made++;
    if (r->write_on_made) {
        uint8_t *big = malloc(r->write_on_made);
        for (size_t i = 0; i < r->write_on_made; i++)
            big[i] = (uint8_t)(i * 7);
        assert_int_equal(tw_transport_write(t, big, r->write_on_made), 0);
        free(big);
        tw_transport_close(t); /* the flush must still happen */
    }
}

static void rec_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    note((rec *)p, d, n);
    after_call((rec *)p);
}

static bool rec_eof(tw_protocol *p)
{
    rec *r = (rec *)p;
    r->eof++;
    return r->keep_half_open;
}

static void rec_lost(tw_protocol *p, int err)
{
    rec *r = (rec *)p;
    r->lost++;
    r->lost_err = err;
}

static void rec_release(tw_protocol *p) { ((rec *)p)->released++; }

static void *rec_get_buffer(tw_protocol *p, ssize_t hint, size_t *len)
{
    rec *r = (rec *)p;
    *len = r->empty_buffer ? 0 : r->buf_len;
    return r->buf;
}

static void rec_updated(tw_protocol *p, size_t n)
{
    rec *r = (rec *)p;
    assert_true(n <= r->buf_len);
    note(r, r->buf, n);
    after_call(r);
}

static void rec_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                         const tw_addr *from)
{
    assert_non_null(from);
    note((rec *)p, d, n);
}

static const tw_protocol_ops rec_ops = {
    .connection_made = rec_made,
    .data_received = rec_data,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .release = rec_release,
};

static const tw_protocol_ops rec_buffered_ops = {
    .connection_made = rec_made,
    .get_buffer = rec_get_buffer,
    .buffer_updated = rec_updated,
    .eof_received = rec_eof,
    .connection_lost = rec_lost,
    .release = rec_release,
};

static const tw_protocol_ops rec_dgram_ops = {
    .connection_made = rec_made,
    .datagram_received = rec_datagram,
    .connection_lost = rec_lost,
    .release = rec_release,
};

static tw_protocol *rec_factory(void *arg) { return &((rec *)arg)->base; }

/* An input: header byte h, the cuts, then the payload. */
static size_t input(uint8_t *out, uint8_t flags, const uint8_t *cuts,
                    size_t ncuts, const void *payload, size_t plen)
{
    out[0] = (uint8_t)(flags | ncuts);
    if (ncuts)
        memcpy(out + 1, cuts, ncuts);
    if (plen)
        memcpy(out + 1 + ncuts, payload, plen);
    return 1 + ncuts + plen;
}

static const char text[] = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";

/* ---- delivery ---- */

static void test_fuzz_cuts_chosen_by_input_every_byte_in_order(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    uint8_t in[128];
    const uint8_t cuts[] = {0, 2, 9}; /* 1, 3, 10 bytes, repeating */
    size_t plen = strlen(text);       /* 37 */
    size_t n = input(in, 0, cuts, 3, text, plen);
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.stats = &st};
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(r.len, plen);
    assert_memory_equal(r.got, text, plen);
    const size_t want[] = {1, 3, 10, 1, 3, 10, 1, 3, 5};
    assert_int_equal(r.calls, 9);
    for (size_t i = 0; i < 9; i++)
        assert_int_equal(r.sizes[i], want[i]);
    /* 1 ms of virtual time between chunks */
    for (size_t i = 1; i < 9; i++)
        assert_int_equal(r.times[i] - r.times[i - 1], TW_MS(1));
    assert_int_equal(r.made, 1);
    assert_int_equal(r.eof, 1);
    assert_int_equal(r.lost, 1);
    assert_int_equal(r.lost_err, 0);
    assert_int_equal(r.released, 1);
    assert_true(st.made && st.eof_in && st.lost);
    assert_int_equal(st.bytes_in, plen);
    assert_int_equal(st.calls_in, 9);
    assert_string_equal(st.violation, "");
}

static void test_fuzz_no_cuts_is_one_call(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    uint8_t in[128];
    size_t n = input(in, 0, NULL, 0, text, strlen(text));
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, NULL), 0);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.sizes[0], strlen(text));
    /* more cut bytes announced than there are: the payload is empty */
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    uint8_t short_in[] = {0x1f, 1, 2};
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, short_in, 3, NULL), 0);
    assert_int_equal(r.calls, 0);
    assert_int_equal(r.eof, 1);
    /* and the empty input: made, EOF, lost */
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, NULL, 0, NULL), 0);
    assert_true(r.made == 1 && r.eof == 1 && r.lost == 1 && r.released == 1);
}

static void test_fuzz_buffered_protocol_gets_buffer_pairs(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_buffered_ops;
    r.buf_len = 5;
    uint8_t in[128];
    const uint8_t cuts[] = {11}; /* 12-byte chunks into 5-byte buffers */
    size_t plen = strlen(text);
    size_t n = input(in, 0, cuts, 1, text, plen);
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.stats = &st};
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(r.len, plen);
    assert_memory_equal(r.got, text, plen);
    /* 12 = 5+5+2, three times, then 1 */
    const size_t want[] = {5, 5, 2, 5, 5, 2, 5, 5, 2, 1};
    assert_int_equal(r.calls, 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(r.sizes[i], want[i]);
    assert_int_equal(st.calls_in, 10);
    assert_true(r.eof == 1 && r.lost == 1 && r.released == 1);
}

static void test_fuzz_pause_reading_holds_the_rest(void **state)
{
    (void)state;
    static rec r;
    for (int buffered = 0; buffered < 2; buffered++) {
        memset(&r, 0, sizeof r);
        r.base.ops = buffered ? &rec_buffered_ops : &rec_ops;
        r.buf_len = 4;
        r.pause_ms = true; /* note() asserts nothing arrives while paused */
        uint8_t in[128];
        const uint8_t cuts[] = {6};
        size_t plen = strlen(text);
        size_t n = input(in, 0, cuts, 1, text, plen);
        assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, NULL), 0);
        assert_int_equal(r.len, plen);
        assert_memory_equal(r.got, text, plen);
        assert_int_equal(r.eof, 1);
        assert_int_equal(r.lost_err, 0);
    }
}

static void test_fuzz_slow_chunks_let_timers_run(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    uint8_t in[16];
    const uint8_t cuts[] = {1};
    size_t n = input(in, 0x80, cuts, 1, "abcdef", 6);
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, NULL), 0);
    assert_int_equal(r.calls, 3);
    assert_int_equal(r.times[1] - r.times[0], TW_SEC(1));
    assert_int_equal(r.times[2] - r.times[1], TW_SEC(1));
}

static void test_fuzz_reset_end_and_half_open(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    uint8_t in[16];
    size_t n = input(in, 0x20, NULL, 0, "xyz", 3);
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, NULL), 0);
    assert_int_equal(r.len, 3);
    assert_int_equal(r.eof, 0);
    assert_int_equal(r.lost_err, -ECONNRESET);
    assert_int_equal(r.released, 1);
    /* half-open after EOF and never closing: the peer resets it after
     * linger_ns */
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    r.keep_half_open = true;
    n = input(in, 0, NULL, 0, "xyz", 3);
    tw_fuzz_opts o = {.linger_ns = TW_MS(300)};
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(r.eof, 1);
    assert_int_equal(r.lost_err, -ECONNRESET);
}

static void test_fuzz_datagram_protocol_one_chunk_per_datagram(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_dgram_ops;
    uint8_t in[64];
    const uint8_t cuts[] = {3, 0};
    size_t n = input(in, 0, cuts, 2, "abcdefghij", 10);
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.stats = &st};
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    const size_t want[] = {4, 1, 4, 1};
    assert_int_equal(r.calls, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(r.sizes[i], want[i]);
    assert_memory_equal(r.got, "abcdefghij", 10);
    assert_true(r.lost == 1 && r.released == 1 && r.lost_err == 0);
}

/* ---- what the peer sees ---- */

typedef struct sink {
    uint8_t *data;
    size_t len, cap, calls;
} sink;

static void sink_out(void *arg, const uint8_t *d, size_t n)
{
    sink *s = arg;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
        assert_non_null(s->data);
    }
    memcpy(s->data + s->len, d, n);
    s->len += n;
    s->calls++;
}

static void test_fuzz_echo_server_output_is_the_input(void **state)
{
    (void)state;
    tw_echo_server_cfg cfg = {.keep_open = true};
    uint8_t in[128];
    const uint8_t cuts[] = {4, 0, 17};
    size_t plen = strlen(text);
    size_t n = input(in, 0, cuts, 3, text, plen);
    sink s = {0};
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.on_output = sink_out, .output_arg = &s, .stats = &st};
    assert_int_equal(tw_fuzz_protocol(tw_echo_server_factory, &cfg, in, n, &o), 0);
    assert_int_equal(s.len, plen);
    assert_memory_equal(s.data, text, plen);
    assert_int_equal(st.bytes_out, plen);
    assert_int_equal(cfg.connections, 1);
    free(s.data);
    /* the datagram echo server answers each datagram */
    tw_udp_echo_server_cfg ucfg = {0};
    memset(&s, 0, sizeof s);
    assert_int_equal(tw_fuzz_protocol(tw_udp_echo_server_factory, &ucfg, in, n, &o), 0);
    assert_int_equal(s.len, plen);
    assert_memory_equal(s.data, text, plen);
    assert_int_equal(ucfg.datagrams, s.calls);
    free(s.data);
}

static void test_fuzz_slow_peer_makes_the_writer_pause(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    r.write_on_made = 200 * 1024;
    sink s = {0};
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.on_output = sink_out, .output_arg = &s, .stats = &st};
    uint8_t fast = 0, slow = 0x40;
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, &fast, 1, &o), 0);
    assert_false(st.paused_writing); /* a fast peer takes it all at once */
    assert_int_equal(s.len, r.write_on_made);
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_ops;
    r.write_on_made = 200 * 1024;
    s.len = 0;
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, &slow, 1, &o), 0);
    assert_true(st.paused_writing);
    /* the close flushed everything, in order, before connection_lost */
    assert_int_equal(s.len, r.write_on_made);
    for (size_t i = 0; i < s.len; i++)
        if (s.data[i] != (uint8_t)(i * 7))
            fail_msg("output byte %zu is %u", i, s.data[i]);
    assert_int_equal(r.lost_err, 0);
    free(s.data);
}

static void test_fuzz_same_input_same_run(void **state)
{
    (void)state;
    tw_echo_server_cfg cfg = {.keep_open = true};
    uint8_t in[128];
    const uint8_t cuts[] = {2, 200};
    size_t n = input(in, 0xc0, cuts, 2, text, strlen(text));
    tw_fuzz_stats a, b;
    tw_fuzz_opts o = {.stats = &a};
    assert_int_equal(tw_fuzz_protocol(tw_echo_server_factory, &cfg, in, n, &o), 0);
    o.stats = &b;
    assert_int_equal(tw_fuzz_protocol(tw_echo_server_factory, &cfg, in, n, &o), 0);
    assert_int_equal(a.bytes_in, b.bytes_in);
    assert_int_equal(a.calls_in, b.calls_in);
    assert_int_equal(a.bytes_out, b.bytes_out);
    assert_int_equal(a.writes_out, b.writes_out);
    assert_int_equal(a.lost_err, b.lost_err);
    assert_int_equal(a.eof_in, b.eof_in);
}

/* ---- what it catches ---- */

typedef struct seen {
    int count;
    char first[256];
} seen;

static void seen_violation(void *arg, const char *v)
{
    seen *s = arg;
    if (!s->count++)
        snprintf(s->first, sizeof s->first, "%s", v);
}

static void test_fuzz_contract_catches_empty_buffer(void **state)
{
    (void)state;
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_buffered_ops;
    r.buf_len = 8;
    r.empty_buffer = true; /* the broken part */
    seen v = {0};
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.on_violation = seen_violation, .violation_arg = &v,
                      .stats = &st};
    uint8_t in[16];
    size_t n = input(in, 0, NULL, 0, "data", 4);
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), -EPROTO);
    assert_int_equal(v.count, 1);
    assert_non_null(strstr(v.first, "get_buffer"));
    assert_non_null(strstr(v.first, "empty buffer"));
    assert_string_equal(st.violation, v.first);
    assert_int_equal(r.lost_err, -ENOBUFS);
    assert_int_equal(r.released, 1);
    /* the same protocol, not broken: no violation */
    memset(&r, 0, sizeof r);
    r.base.ops = &rec_buffered_ops;
    r.buf_len = 8;
    memset(&v, 0, sizeof v);
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(v.count, 0);
}

/* Parsers with the classic bugs. Each is run in a child process: the
 * helper must make the bug crash it. */

typedef struct buggy {
    tw_protocol base;
    int kind;
    const uint8_t *kept; /* kind 2: a pointer kept past the call */
    uint8_t kept_byte;
    size_t seen;
} buggy;

enum { BUG_NONE, BUG_READ_PAST_END, BUG_KEEPS_POINTER, BUG_ASSERTS };

static void buggy_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    buggy *b = (buggy *)p;
    volatile uint8_t sink_byte = 0;
    switch (b->kind) {
    case BUG_READ_PAST_END:
        /* "the buffer is NUL-terminated": it is not */
        for (size_t i = 0; d[i] != 0; i++)
            sink_byte ^= d[i];
        break;
    case BUG_KEEPS_POINTER:
        if (b->kept && b->kept[0] != b->kept_byte)
            abort(); /* what the parser saw changed under it */
        b->kept = d;
        b->kept_byte = d[0];
        break;
    case BUG_ASSERTS:
        /* a state machine that trips on "!!" split across two chunks */
        if (b->seen && d[0] == '!' && b->kept_byte == '!')
            abort();
        b->kept_byte = d[n - 1];
        break;
    default:
        for (size_t i = 0; i < n; i++)
            sink_byte ^= d[i];
        break;
    }
    b->seen += n;
    (void)sink_byte;
}

static const tw_protocol_ops buggy_ops = {.data_received = buggy_data};

static tw_protocol *buggy_factory(void *arg) { return &((buggy *)arg)->base; }

/* Run the helper on a buggy parser in a child; true if the child died or
 * failed (a signal, a sanitizer's exit status). */
static bool crashes(int kind, const uint8_t *in, size_t n)
{
    pid_t pid = tw_cli_fork();
    if (pid == 0) {
        /* The crash report is expected: keep it out of the test log. */
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        dup2(null, 1);
        signal(SIGABRT, SIG_DFL);
        buggy b = {.base.ops = &buggy_ops, .kind = kind};
        tw_fuzz_protocol(buggy_factory, &b, in, n, NULL);
        _exit(0);
    }
    int status = tw_cli_wait(pid, "the fuzz helper's child");
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_fuzz_catches_read_past_the_chunk(void **state)
{
    (void)state;
    uint8_t in[64];
    const uint8_t cuts[] = {2};
    size_t n = input(in, 0, cuts, 1, "no terminator here", 18);
    assert_false(crashes(BUG_NONE, in, n));
    assert_true(crashes(BUG_READ_PAST_END, in, n));
}

static void test_fuzz_catches_pointer_kept_past_the_call(void **state)
{
    (void)state;
    uint8_t in[64];
    const uint8_t cuts[] = {0};
    size_t n = input(in, 0, cuts, 1, "aaaaaaaa", 8); /* same bytes each call */
    assert_false(crashes(BUG_NONE, in, n));
    assert_true(crashes(BUG_KEEPS_POINTER, in, n));
}

static void test_fuzz_crash_depends_on_cuts_and_default_aborts(void **state)
{
    (void)state;
    uint8_t in[64];
    /* whole: "!!" inside one chunk, fine; cut between: the bug shows */
    size_t whole = input(in, 0, NULL, 0, "ab!!cd", 6);
    assert_false(crashes(BUG_ASSERTS, in, whole));
    const uint8_t cuts[] = {2};
    size_t cut = input(in, 0, cuts, 1, "ab!!cd", 6);
    assert_true(crashes(BUG_ASSERTS, in, cut));
    /* no on_violation: a violation aborts the run (a fuzzer's crash) */
    pid_t pid = tw_cli_fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2);
        static rec r;
        r.base.ops = &rec_buffered_ops;
        r.buf_len = 8;
        r.empty_buffer = true;
        uint8_t one[] = {0, 'x'};
        tw_fuzz_protocol(rec_factory, &r, one, 2, NULL);
        _exit(0);
    }
    int status = tw_cli_wait(pid, "the fuzz helper's child");
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- check_cuts: the output must not depend on the cuts ---- */

/* Writes one '.' per data_received: its output is the number of chunks. */
static void dots_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)d;
    (void)n;
    tw_transport_write(((rec *)p)->t, ".", 1);
}

static void dots_made(tw_protocol *p, tw_transport *t) { ((rec *)p)->t = t; }

static const tw_protocol_ops dots_ops = {.connection_made = dots_made,
                                         .data_received = dots_data};

static int loops_made;
static void count_loop(void *arg, tw_loop *loop)
{
    (void)arg;
    (void)loop;
    loops_made++;
}

static void test_fuzz_check_cuts_finds_output_that_depends_on_cuts(void **state)
{
    (void)state;
    uint8_t in[128];
    const uint8_t cuts[] = {2};
    size_t n = input(in, 0, cuts, 1, "abcdefgh", 8); /* chunks of 3 bytes: 3 calls */
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &dots_ops;
    seen v = {0};
    sink s = {0};
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.on_violation = seen_violation, .violation_arg = &v,
                      .on_output = sink_out, .output_arg = &s, .stats = &st,
                      .on_loop = count_loop, .check_cuts = true};
    loops_made = 0;
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), -EPROTO);
    assert_int_equal(v.count, 1);
    if (!strstr(v.first, "fuzz: the output depends on the cuts: with the input's 1 cut(s) "
                         "the protocol wrote 3 bytes, with the payload in one chunk 1; "
                         "from byte 1: \"..\" against \"\""))
        fail_msg("%s", v.first);
    assert_string_equal(st.violation, v.first);
    assert_int_equal(loops_made, 2); /* the second run, a world of its own */
    assert_int_equal(s.len, 3);      /* on_output heard the first run only */
    free(s.data);
    /* without check_cuts, nothing is said */
    memset(&r, 0, sizeof r);
    r.base.ops = &dots_ops;
    o.check_cuts = false;
    memset(&v, 0, sizeof v);
    memset(&s, 0, sizeof s);
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(v.count, 0);
    free(s.data);
}

static void test_fuzz_check_cuts_passes_what_does_not_depend_on_them(void **state)
{
    (void)state;
    uint8_t in[128];
    const uint8_t cuts[] = {4, 0, 17};
    size_t plen = strlen(text);
    size_t n = input(in, 0, cuts, 3, text, plen);
    tw_echo_server_cfg cfg = {.keep_open = true};
    seen v = {0};
    tw_fuzz_opts o = {.on_violation = seen_violation, .violation_arg = &v,
                      .on_loop = count_loop, .check_cuts = true};
    loops_made = 0;
    assert_int_equal(tw_fuzz_protocol(tw_echo_server_factory, &cfg, in, n, &o), 0);
    assert_int_equal(v.count, 0);
    assert_int_equal(loops_made, 2);
    /* a datagram protocol: a chunk is a datagram, no second run */
    tw_udp_echo_server_cfg ucfg = {0};
    loops_made = 0;
    assert_int_equal(tw_fuzz_protocol(tw_udp_echo_server_factory, &ucfg, in, n, &o), 0);
    assert_int_equal(loops_made, 1);
    /* an input with no cuts has nothing to compare */
    static rec r;
    memset(&r, 0, sizeof r);
    r.base.ops = &dots_ops;
    n = input(in, 0, NULL, 0, "abcdefgh", 8);
    loops_made = 0;
    assert_int_equal(tw_fuzz_protocol(rec_factory, &r, in, n, &o), 0);
    assert_int_equal(loops_made, 1);
    assert_int_equal(v.count, 0);
}

/* ---- the schedule feed ---- */

static void test_prng_feed_steers_each_draw_then_falls_back(void **state)
{
    (void)state;
    const uint8_t bytes[] = {0x00, 0xff, 0x80, 0x40};
    tw_sim_prng p, plain;
    tw_sim_prng_seed(&p, 5, TW_SIM_STREAM_NET);
    tw_sim_prng_seed(&plain, 5, TW_SIM_STREAM_NET);
    assert_null(p.feed); /* seeding leaves no feed behind */
    tw_sim_prng_feed f = {.data = bytes, .len = sizeof bytes};
    p.feed = &f;
    /* each byte picks the 256th of the range the draw lands in */
    assert_true(tw_sim_prng_below(&p, 1000) < 4);
    assert_true(tw_sim_prng_below(&p, 1000) >= 996);
    uint64_t mid = tw_sim_prng_below(&p, 1000);
    assert_true(mid >= 500 && mid < 504);
    double d = tw_sim_prng_double(&p);
    assert_true(d >= 0.25 && d < 0.25 + 1.0 / 256);
    assert_int_equal(f.pos, 4);
    /* used up: the plain generator, in step with an unfed one */
    for (int i = 0; i < 4; i++)
        tw_sim_prng_next(&plain);
    for (int i = 0; i < 8; i++)
        assert_true(tw_sim_prng_next(&p) == tw_sim_prng_next(&plain));
    assert_int_equal(f.pos, 4);
}

/* The demo-like world of a few echo exchanges, its hash for a feed. */
static uint64_t fed_world_hash(const uint8_t *bytes, size_t len, size_t *used)
{
    tw_sim_opts so;
    tw_sim_opts_default(&so);
    so.prng_bytes = bytes;
    so.prng_bytes_len = len;
    so.net.loss_probability = 0.2;
    tw_sim *sim = tw_sim_new(9, &so);
    assert_non_null(sim);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tw_echo_server_cfg cfg = {.keep_open = true};
    tw_server *srv;
    assert_int_equal(tw_create_server(a, tw_echo_server_factory, &cfg, "10.0.0.1",
                                      7, NULL, &srv), 0);
    tw_echo_client_cfg cc = {.message = text, .count = 20};
    tw_echo_client *c = tw_echo_client_new(&cc);
    assert_int_equal(tw_create_connection(b, tw_echo_client_factory, c,
                                          "10.0.0.1", 7,
                                          tw_echo_client_connected), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(30)), 0);
    assert_true(tw_echo_client_ok(c)); /* any schedule: the echo is intact */
    uint64_t h = tw_sim_trace_hash(sim);
    *used = tw_sim_prng_bytes_used(sim);
    tw_server_close(srv);
    tw_sim_free(sim);
    tw_echo_client_free(c);
    return h;
}

static void test_sim_prng_bytes_choose_the_schedule(void **state)
{
    (void)state;
    uint8_t x[64], y[64];
    for (size_t i = 0; i < sizeof x; i++) {
        x[i] = (uint8_t)(i * 37 + 11);
        y[i] = (uint8_t)(i * 91 + 3);
    }
    size_t ux, ux2, uy, u0;
    uint64_t hx = fed_world_hash(x, sizeof x, &ux);
    uint64_t hx2 = fed_world_hash(x, sizeof x, &ux2);
    uint64_t hy = fed_world_hash(y, sizeof y, &uy);
    uint64_t h0 = fed_world_hash(NULL, 0, &u0);
    assert_true(hx == hx2); /* same bytes, same run */
    assert_int_equal(ux, ux2);
    assert_true(hx != hy);  /* other bytes, another schedule */
    assert_true(hx != h0);
    assert_int_equal(ux, sizeof x); /* the run drew more than it was fed */
    assert_int_equal(u0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_fuzz_cuts_chosen_by_input_every_byte_in_order),
        TW_TEST(test_fuzz_no_cuts_is_one_call),
        TW_TEST(test_fuzz_buffered_protocol_gets_buffer_pairs),
        TW_TEST(test_fuzz_pause_reading_holds_the_rest),
        TW_TEST(test_fuzz_slow_chunks_let_timers_run),
        TW_TEST(test_fuzz_reset_end_and_half_open),
        TW_TEST(test_fuzz_datagram_protocol_one_chunk_per_datagram),
        TW_TEST(test_fuzz_echo_server_output_is_the_input),
        TW_TEST(test_fuzz_slow_peer_makes_the_writer_pause),
        TW_TEST(test_fuzz_same_input_same_run),
        TW_TEST(test_fuzz_contract_catches_empty_buffer),
        TW_TEST(test_fuzz_catches_read_past_the_chunk),
        TW_TEST(test_fuzz_catches_pointer_kept_past_the_call),
        TW_TEST(test_fuzz_crash_depends_on_cuts_and_default_aborts),
        TW_TEST(test_fuzz_check_cuts_finds_output_that_depends_on_cuts),
        TW_TEST(test_fuzz_check_cuts_passes_what_does_not_depend_on_them),
        TW_TEST(test_prng_feed_steers_each_draw_then_falls_back),
        TW_TEST(test_sim_prng_bytes_choose_the_schedule),
    };
    return cmocka_run_group_tests_name("fuzz_helper", tests, NULL, NULL);
}
