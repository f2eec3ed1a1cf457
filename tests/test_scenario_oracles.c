/* tests/test_scenario_oracles.c - the runner's own oracles: a protocol
 * with a common mistake fails a small scenario with the right verdict and
 * a message naming the node, the transport and the virtual time, with no
 * invariant of its own; the same protocol corrected passes.
 *
 *   a writer that ignores pause_writing against a slow reader
 *       correctness (write_buffer_over_high, write_buffer_max); many
 *       well-behaved connections over node_bytes_max or connections_max
 *   a client that reconnects in a tight loop
 *       correctness (connects_per_sec_max)
 *   a protocol that reschedules itself with tw_call_soon for ever
 *       liveness (livelock_callbacks), naming the callback; `twin sim
 *       FILE` exits 3 in bounded wall time
 *   a reader that pauses for good with bytes unread
 *       liveness (a stuck connection); one that pauses a moment after
 *       each read, in step with the probes, is not stuck
 *
 * The apps below are this file's, registered in setup: a writer, a slow
 * reader, a redialer, a spinner and a pinger, each with a flag that
 * makes the mistake.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/cli_util.h"
#include "tests/harness.h"
#include "twin/app.h"
#include "twin/main.h"
#include "twin/parse.h"
#include "twin/scenario.h"
#include "twin/twin.h"

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

/* The number after flag, or def. */
static long flag_value(int argc, char **argv, const char *flag, long def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return atol(argv[i + 1]);
    return def;
}

static int ok_result(void *st) { (void)st; return 0; }

/* ---- the slow reader: one delivery every 10 ms ---- */

typedef struct sink {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    tw_handle resume;
} sink;

static void sink_resume(void *arg)
{
    sink *s = arg;
    s->resume = 0;
    tw_transport_resume_reading(s->t);
}

static void sink_made(tw_protocol *p, tw_transport *t) { ((sink *)p)->t = t; }

static void sink_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    sink *s = (sink *)p;
    (void)d, (void)n;
    tw_transport_pause_reading(s->t);
    if (!s->resume)
        s->resume = tw_call_later(s->loop, TW_MS(10), sink_resume, s);
}

static void sink_lost(tw_protocol *p, int err)
{
    sink *s = (sink *)p;
    (void)err;
    if (s->resume)
        tw_handle_cancel(s->loop, s->resume);
    s->resume = 0;
}

static void sink_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops sink_ops = {
    .connection_made = sink_made, .data_received = sink_data,
    .connection_lost = sink_lost, .release = sink_release,
};

static tw_protocol *sink_new(void *arg)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &sink_ops;
    s->loop = arg;
    return &s->base;
}

/* Its state is its loop: the server goes with the world. */
static int reader_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)argc, (void)argv, (void)out;
    tw_server *srv;
    int rc = tw_create_server(l, sink_new, l, "", 9000, NULL, &srv);
    *st = l;
    return rc;
}
static void nothing_to_free(void *st) { (void)st; }

static const tw_app reader_app = {
    .name = "test-slow-reader", .summary = "", .usage = "", .start = reader_start,
    .result = ok_result, .free = nothing_to_free,
};

/* ---- the writer: --bytes per connection, one --chunk a millisecond,
 * over --conns connections; it stops at pause_writing unless
 * --ignore-pause ---- */

typedef struct writer_app {
    tw_loop *loop;
    bool ignore_pause;
    size_t chunk, bytes;
    int conns, finished;
    uint8_t *block;
} writer_app;

typedef struct writer {
    tw_protocol base;
    writer_app *app;
    tw_transport *t;
    size_t written;
    bool paused;
    tw_handle tick;
} writer;

static void writer_tick(void *arg)
{
    writer *w = arg;
    w->tick = 0;
    size_t n = w->app->bytes - w->written < w->app->chunk ? w->app->bytes - w->written
                                                         : w->app->chunk;
    tw_transport_write(w->t, w->app->block, n);
    w->written += n;
    if (w->written == w->app->bytes)
        tw_transport_close(w->t); /* flushes first */
    else if (!w->paused || w->app->ignore_pause)
        w->tick = tw_call_later(w->app->loop, TW_MS(1), writer_tick, w);
}

static void writer_made(tw_protocol *p, tw_transport *t)
{
    writer *w = (writer *)p;
    w->t = t;
    w->tick = tw_call_soon(w->app->loop, writer_tick, w);
}

static void writer_pause(tw_protocol *p) { ((writer *)p)->paused = true; }

static void writer_resume(tw_protocol *p)
{
    writer *w = (writer *)p;
    w->paused = false;
    if (!w->tick && w->written < w->app->bytes)
        w->tick = tw_call_soon(w->app->loop, writer_tick, w);
}

static void writer_lost(tw_protocol *p, int err)
{
    writer *w = (writer *)p;
    (void)err;
    if (w->tick)
        tw_handle_cancel(w->app->loop, w->tick);
    w->tick = 0;
    w->app->finished++;
}

static void writer_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops writer_ops = {
    .connection_made = writer_made, .pause_writing = writer_pause,
    .resume_writing = writer_resume, .connection_lost = writer_lost,
    .release = writer_release,
};

static tw_protocol *writer_new(void *arg)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->base.ops = &writer_ops;
    w->app = arg;
    return &w->base;
}

static int writer_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    writer_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = l;
    a->ignore_pause = has_flag(argc, argv, "--ignore-pause");
    a->chunk = (size_t)flag_value(argc, argv, "--chunk", 65536);
    a->bytes = (size_t)flag_value(argc, argv, "--bytes", 2 << 20);
    a->conns = (int)flag_value(argc, argv, "--conns", 1);
    a->block = calloc(1, a->chunk);
    for (int i = 0; a->block && i < a->conns; i++)
        tw_create_connection(l, writer_new, a, "reader", 9000, NULL);
    *st = a;
    return a->block ? 0 : -ENOMEM;
}
static bool writer_done(void *st)
{
    writer_app *a = st;
    return a->finished == a->conns;
}
static void writer_free(void *st)
{
    writer_app *a = st;
    free(a->block);
    free(a);
}

static const tw_app writer_app_def = {
    .name = "test-writer", .summary = "", .usage = "", .start = writer_start,
    .result = ok_result, .free = writer_free, .done = writer_done,
};

/* ---- the redialer: connects to a port nobody listens on, again as soon
 * as it is refused, or --backoff MS later ---- */

typedef struct redial {
    tw_loop *loop;
    tw_ns backoff;
    tw_handle h;
} redial;

static void redial_go(void *arg);

static tw_protocol *redial_never(void *arg)
{
    (void)arg;
    return NULL; /* nobody answers: never called */
}

static void redial_failed(void *arg, tw_transport *t, int err)
{
    redial *r = arg;
    (void)t, (void)err;
    if (r->backoff)
        r->h = tw_call_later(r->loop, r->backoff, redial_go, r);
    else
        redial_go(r); /* the mistake: at once */
}

static void redial_go(void *arg)
{
    redial *r = arg;
    r->h = 0;
    tw_create_connection(r->loop, redial_never, r, "reader", 9001, redial_failed);
}

static int redial_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    redial *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->loop = l;
    r->backoff = TW_MS(flag_value(argc, argv, "--backoff", 0));
    redial_go(r);
    *st = r;
    return 0;
}
static void plain_free(void *st) { free(st); }

static const tw_app redial_app = {
    .name = "test-redial", .summary = "", .usage = "", .start = redial_start,
    .result = ok_result, .free = plain_free,
};

/* ---- the spinner: polls a flag with tw_call_soon (the mistake), or with
 * a timer of 1 ms (--timer) ---- */

typedef struct spinner {
    tw_loop *loop;
    bool timer;
    uint64_t polls;
} spinner;

/* Not static: `twin sim` names it through dladdr (tests link with
 * -rdynamic). */
void tw_test_spin(void *arg);
void tw_test_spin(void *arg)
{
    spinner *s = arg;
    s->polls++;
    if (s->timer)
        tw_call_later(s->loop, TW_MS(1), tw_test_spin, s);
    else
        tw_call_soon(s->loop, tw_test_spin, s);
}

static int spin_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    spinner *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->loop = l;
    s->timer = has_flag(argc, argv, "--timer");
    tw_call_soon(l, tw_test_spin, s);
    *st = s;
    return 0;
}

static const tw_app spin_app = {
    .name = "test-spin", .summary = "", .usage = "", .start = spin_start,
    .result = ok_result, .free = plain_free,
};

/* ---- the pinger: each second (from 940 ms on) two bytes to an echo
 * server 20 ms apart; after each read it stops reading for 100 ms, so
 * the second echo waits unread across every whole second. With --stop it
 * stops reading for good after the first read, and sends no more. ---- */

typedef struct pinger {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    tw_handle tick, resume;
    bool stop, stopped;
} pinger;

/* Not static: a callback twin sim may name. */
void tw_test_ping(void *arg);

static void pinger_second(void *arg)
{
    pinger *g = arg;
    g->tick = tw_call_later(g->loop, TW_SEC(1) - TW_MS(20), tw_test_ping, g);
    tw_transport_write(g->t, "b", 1);
}

void tw_test_ping(void *arg)
{
    pinger *g = arg;
    g->tick = g->stopped ? 0 : tw_call_later(g->loop, TW_MS(20), pinger_second, g);
    if (!g->stopped)
        tw_transport_write(g->t, "a", 1);
}

static void pinger_resume(void *arg)
{
    pinger *g = arg;
    g->resume = 0;
    tw_transport_resume_reading(g->t);
}

static void pinger_made(tw_protocol *p, tw_transport *t)
{
    pinger *g = (pinger *)p;
    g->t = t;
    g->tick = tw_call_at(g->loop, TW_MS(940), tw_test_ping, g);
}

static void pinger_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    pinger *g = (pinger *)p;
    (void)d, (void)n;
    tw_transport_pause_reading(g->t);
    if (g->stop)
        g->stopped = true; /* its "b" still goes: the last bytes */
    else if (!g->resume) {
        g->resume = tw_call_later(g->loop, TW_MS(100), pinger_resume, g);
    }
}

static void pinger_lost(tw_protocol *p, int err)
{
    pinger *g = (pinger *)p;
    (void)err;
    if (g->tick)
        tw_handle_cancel(g->loop, g->tick);
    if (g->resume)
        tw_handle_cancel(g->loop, g->resume);
    g->tick = g->resume = 0;
}

static void pinger_release(tw_protocol *p) { (void)p; } /* the app's */

static const tw_protocol_ops pinger_ops = {
    .connection_made = pinger_made, .data_received = pinger_data,
    .connection_lost = pinger_lost, .release = pinger_release,
};

static tw_protocol *pinger_same(void *arg) { return arg; }

static int pinger_start(tw_loop *l, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    pinger *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->base.ops = &pinger_ops;
    g->loop = l;
    g->stop = has_flag(argc, argv, "--stop");
    int rc = tw_create_connection(l, pinger_same, g, "server", 7, NULL);
    if (rc < 0) {
        free(g);
        return rc;
    }
    *st = g;
    return 0;
}

/* The world goes first (a crash, the end of the run): nothing of the
 * connection is left to call back. */
static const tw_app pinger_app = {
    .name = "test-pinger", .summary = "", .usage = "", .start = pinger_start,
    .result = ok_result, .free = plain_free,
};

/* ---- running ---- */

static tw_scenario *parse(const char *text)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("t.yaml", text, strlen(text), &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    return sc;
}

static tw_scenario_result run_text(const char *text, uint64_t seed)
{
    tw_scenario *sc = parse(text);
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(sc, seed, NULL, &r), 0);
    tw_scenario_free(sc);
    return r;
}

/* The message has what (and is shown, as a user sees it). */
static void expect_message(const tw_scenario_result *r, const char *what)
{
    if (!strstr(r->message, what))
        fail_msg("message '%s' lacks '%s'", r->message, what);
    static char shown[sizeof r->message];
    if (strcmp(shown, r->message) != 0)
        print_message("%s: %s\n", tw_scenario_verdict_name(r->verdict), r->message);
    snprintf(shown, sizeof shown, "%s", r->message);
}

/* "at T: " with T within [lo, hi]. */
static void expect_time(const tw_scenario_result *r, tw_ns lo, tw_ns hi)
{
    char at[64];
    tw_ns t;
    assert_int_equal(sscanf(r->message, "at %63[^:]:", at), 1);
    assert_int_equal(tw_parse_duration(at, &t), 0);
    assert_in_range(t, lo, hi);
    assert_int_equal(r->end_ns, t); /* the world stopped there */
}

/* The writer against the slow reader: 1 s of faults-free traffic, then
 * the writer must finish (and close) within 10 s. */
static const char writer_file[] =
    "duration: 1s\n"
    "nodes:\n"
    "  - {name: reader, addr: 10.0.0.1, app: test-slow-reader}\n"
    "  - {name: writer, addr: 10.0.0.2, app: test-writer, args: [%s]}\n"
    "network: {latency: 1ms, rcvbuf: 64KiB}\n"
    "quiet: {within: 10s}\n"
    "%s";

static tw_scenario_result run_writer(const char *args, const char *expect)
{
    char text[1024];
    snprintf(text, sizeof text, writer_file, args, expect);
    return run_text(text, 1);
}

static void test_writer_ignoring_pause_fails(void **state)
{
    (void)state;
    /* The mistake: 64 KiB a millisecond whatever pause_writing said, 64
     * MiB in all. */
    tw_scenario_result r = run_writer("--ignore-pause, --bytes, \"67108864\"", "");
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    expect_message(&r, ": node writer t1: ");
    expect_message(&r, "MiB buffered for writing, 64x its high-water mark 64 KiB more "
                       "than at pause_writing: the protocol does not stop at "
                       "pause_writing");
    /* 4 MiB past the pause at 64 KiB a millisecond: some 70 ms in. */
    expect_time(&r, TW_MS(60), TW_MS(90));
    tw_scenario_result_fini(&r);

    /* The absolute bound, alone. */
    r = run_writer("--ignore-pause",
                   "expect: {write_buffer_max: 1MiB, write_buffer_over_high: 0}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    expect_message(&r, ": node writer t1: ");
    expect_message(&r, "buffered for writing, over write_buffer_max 1 MiB "
                       "(high-water mark 64 KiB, paused)");
    expect_time(&r, TW_MS(10), TW_MS(30));
    tw_scenario_result_fini(&r);

    /* Both off: it gets away with it (2 MiB in all, which drains). */
    r = run_writer("--ignore-pause",
                   "expect: {write_buffer_max: 0, write_buffer_over_high: 0}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_PASS);
    tw_scenario_result_fini(&r);
}

static void test_writer_that_stops_at_pause_passes(void **state)
{
    (void)state;
    tw_scenario_result r = run_writer("", "");
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    tw_scenario_result_fini(&r);
    /* One write of 16 times the high mark goes over it at once: no
     * mistake, and no alarm (it stops there). */
    r = run_writer("--chunk, \"1048576\", --bytes, \"4194304\"", "");
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    tw_scenario_result_fini(&r);
    /* The same writers over many seeds. */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        char text[1024];
        snprintf(text, sizeof text, writer_file, "--conns, \"3\"", "");
        r = run_text(text, seed);
        if (r.verdict != TW_SCENARIO_PASS)
            fail_msg("seed %llu: %s", (unsigned long long)seed, r.message);
        tw_scenario_result_fini(&r);
    }
}

/* Well-behaved writers, too many of them for the node's bounds. */
static void test_node_bounds(void **state)
{
    (void)state;
    /* Eight connections, each holding between its low mark and its high
     * mark and a write (16..128 KiB), looked at every check point. */
    tw_scenario_result r = run_writer("--conns, \"8\"", "expect: {node_bytes_max: 512KiB}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    expect_message(&r, ": node writer: ");
    expect_message(&r, "buffered for writing over its 8 transports, over "
                       "node_bytes_max 512 KiB");
    expect_time(&r, TW_MS(100), TW_SEC(1));
    assert_int_equal(r.end_ns % TW_MS(100), 0); /* at a check point */
    tw_scenario_result_fini(&r);

    /* The fifth connection the reader accepts. */
    r = run_writer("--conns, \"8\"", "expect: {connections_max: 4}\n");
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    expect_message(&r, ": node reader t5: 5 connections open, over connections_max 4");
    expect_time(&r, TW_MS(1), TW_MS(5)); /* one latency in */
    tw_scenario_result_fini(&r);

    r = run_writer("--conns, \"8\"", "");
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    tw_scenario_result_fini(&r);
}

/* A client that connects again the moment it is refused, on a fast
 * network: thousands of attempts a second. */
static const char redial_file[] =
    "duration: 2s\n"
    "nodes:\n"
    "  - {name: reader, addr: 10.0.0.1}\n"
    "  - {name: client, addr: 10.0.0.2, app: test-redial, args: [%s]}\n"
    "network: {latency: 100us}\n";

static void test_tight_reconnect_loop_fails(void **state)
{
    (void)state;
    char text[512];
    snprintf(text, sizeof text, redial_file, "");
    tw_scenario_result r = run_text(text, 1);
    assert_int_equal(r.verdict, TW_SCENARIO_CORRECTNESS);
    expect_message(&r, ": node client: 1001 connection attempts in the second from 0s, "
                       "over connects_per_sec_max 1000: it connects again without a pause");
    /* 200 us a round: the 1001st attempt some 200 ms in. */
    expect_time(&r, TW_MS(150), TW_MS(250));
    tw_scenario_result_fini(&r);

    /* Corrected: 10 ms between attempts. */
    snprintf(text, sizeof text, redial_file, "--backoff, \"10\"");
    r = run_text(text, 1);
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    assert_int_equal(r.end_ns, TW_SEC(2));
    assert_true(r.stats.connects > 150); /* it did keep trying */
    tw_scenario_result_fini(&r);
}

/* A protocol that polls with tw_call_soon: time never moves, and today's
 * run would never return. */
static const char spin_file[] =
    "duration: 1s\n"
    "nodes:\n"
    "  - {name: idle, addr: 10.0.0.1}\n"
    "  - {name: spinner, addr: 10.0.0.2, app: test-spin, args: [%s]}\n"
    "%s";

static void test_spinner_is_a_livelock(void **state)
{
    (void)state;
    char text[512], want[160];
    snprintf(text, sizeof text, spin_file, "", "");
    tw_scenario_result r = run_text(text, 1);
    assert_int_equal(r.verdict, TW_SCENARIO_LIVENESS);
    /* The callback by its address: the library has no names. */
    snprintf(want, sizeof want, "at 0s: node spinner ran 1000001 callbacks without "
                                "virtual time advancing (livelock_callbacks); next "
                                "to run: callback %p",
             (void *)tw_test_spin);
    assert_string_equal(r.message, want);
    tw_scenario_result_fini(&r);

    /* A bound of the file's own. */
    snprintf(text, sizeof text, spin_file, "", "expect: {livelock_callbacks: 5000}\n");
    r = run_text(text, 1);
    assert_int_equal(r.verdict, TW_SCENARIO_LIVENESS);
    expect_message(&r, "node spinner ran 5001 callbacks");
    tw_scenario_result_fini(&r);

    /* Corrected: it polls every millisecond, and time goes on. */
    snprintf(text, sizeof text, spin_file, "--timer", "");
    r = run_text(text, 1);
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    assert_int_equal(r.end_ns, TW_SEC(1));
    tw_scenario_result_fini(&r);
}

/* `twin sim FILE` on the spinner: exit status 3 (liveness), the callback
 * named, in bounded wall time. tw_main runs in a child of this test (so
 * it has this file's apps), under the deadline of tests/cli_util.h. */
static void test_twin_sim_spinner_exits_3(void **state)
{
    (void)state;
    char dir[] = "/tmp/twin-oracles-XXXXXX", path[64], outp[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spin.yaml", dir);
    snprintf(outp, sizeof outp, "%s/out.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, spin_file, "", "");
    fclose(f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = tw_cli_fork();
    if (pid == 0) {
        int fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(100);
        char *argv[] = {"twin", "sim", path, "--seed", "1", NULL};
        int rc = tw_main(5, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    int status = tw_cli_wait(pid, "twin sim spin.yaml");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char out[8192] = "";
    f = fopen(outp, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    unlink(outp);
    unlink(path);
    rmdir(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != TW_SCENARIO_LIVENESS)
        fail_msg("exit status %d:\n%s", WEXITSTATUS(status), out);
    if (!strstr(out, "FAIL (liveness)") ||
        !strstr(out, "node spinner ran 1000001 callbacks without virtual time advancing "
                     "(livelock_callbacks); next to run: callback tw_test_spin"))
        fail_msg("output:\n%s", out);
    print_message("twin sim on the spinner: exit 3 after %.2f s of wall time\n", wall);
    assert_true(wall < 60);
}

/* ---- the file's keys ---- */

static void test_oracle_keys(void **state)
{
    (void)state;
    tw_scenario *sc = parse("duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1}\n"
                            "expect: {write_buffer_max: 8MiB, write_buffer_over_high: 16,\n"
                            "  connects_per_sec_max: 50, connections_max: 0,\n"
                            "  node_bytes_max: 32MiB, livelock_callbacks: 2000}\n");
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(tw_scenario_write(sc, f, NULL), 0);
    fclose(f);
    assert_non_null(strstr(text, "write_buffer_max: 8MiB, write_buffer_over_high: 16, "
                                 "connects_per_sec_max: 50, connections_max: 0, "
                                 "node_bytes_max: 32MiB, livelock_callbacks: 2000"));
    tw_scenario *again = parse(text);
    free(text);
    text = NULL;
    f = open_memstream(&text, &len);
    tw_scenario_describe(again, f);
    fclose(f);
    assert_non_null(strstr(text, "oracles: write buffer <= 8 MiB, <= 16x its high mark "
                                 "past pause_writing; per node: <= 50 connects/s, "
                                 "<= 32 MiB buffered, livelock after 2000 callbacks"));
    free(text);
    tw_scenario_free(again);
    tw_scenario_free(sc);

    char err[300];
    static const char bad[] = "duration: 1s\nnodes:\n  - {name: a, addr: 10.0.0.1}\n"
                              "expect: {connections_max: -1}\n";
    assert_int_equal(tw_scenario_parse("t.yaml", bad, strlen(bad), &sc, err, sizeof err),
                     -EINVAL);
    assert_non_null(strstr(err, "t.yaml:4:27: connections_max must be a whole number "
                                "from 0 to 4294967295, not '-1'"));
}

/* A connection is stuck when what arrived stays unread however long the
 * runner waits: a reader that stopped for good is found, naming its end.
 * A reader that only pauses a moment after each read, and happens to be
 * paused with a byte unread at both probes (1 s and 6 s, its pings being
 * a second apart), is not: it read in between. */
static const char pinger_file[] =
    "duration: 1s\n"
    "nodes:\n"
    "  - {name: server, addr: 10.0.0.1, app: echo-server, args: [--host, \"\", "
    "--port, \"7\", --keep-open, --quiet]}\n"
    "  - {name: client, addr: 10.0.0.2, app: test-pinger, args: [%s]}\n"
    "network: {latency: 5ms}\n"
    "expect: {no_stuck_connections: true, stuck_after: 5s}\n";

static void test_stuck_reader(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, pinger_file, "--stop");
    tw_scenario_result r = run_text(text, 1);
    assert_int_equal(r.verdict, TW_SCENARIO_LIVENESS);
    expect_message(&r, "connection client t1 -> server stuck for 5s: 1 bytes arrived "
                       "unread (reading paused), 0 buffered");
    tw_scenario_result_fini(&r);
    snprintf(text, sizeof text, pinger_file, "");
    r = run_text(text, 1);
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s", r.message);
    tw_scenario_result_fini(&r);
}

static int setup(void **state)
{
    tw_test_setup(state);
    const tw_app *apps[] = {&reader_app, &writer_app_def, &redial_app, &spin_app,
                            &pinger_app};
    for (size_t i = 0; i < sizeof apps / sizeof apps[0]; i++)
        if (tw_app_register(apps[i]) != 0)
            return -1;
    return 0;
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_writer_ignoring_pause_fails, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_writer_that_stops_at_pause_passes, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_node_bounds, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_tight_reconnect_loop_fails, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_spinner_is_a_livelock, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_twin_sim_spinner_exits_3, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_stuck_reader, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_oracle_keys, setup, tw_test_teardown),
    };
    return cmocka_run_group_tests_name("scenario_oracles", tests, NULL, NULL);
}
