/* tests/test_record.c - recording on the real backend (twin/record.h)
 * and replay in the simulator (twin/replay.h), from a program's side:
 *
 *   - a parser that fails when its header comes in two chunks: the real
 *     run that hit it, recorded, fails the same way in the replay and in
 *     tw_fuzz_protocol fed the seed `twin recording --to-fuzz-seed` made
 *     of the recording;
 *   - a process that dies in a callback leaves every record up to it;
 *   - a torn tail (a record cut short, a flipped byte) ends the reading
 *     cleanly after the last whole record, and says where;
 *   - ring mode keeps the newest records in two files of bounded size;
 *   - max_bytes stops the recording with a record that says so;
 *   - redaction keeps sizes and times and no payload byte, and the
 *     replay says what it filled in and what it compared;
 *   - what tw_loop_sendfile sent is recorded as writes, by sendfile(2)
 *     and by its fallback, and replays; cut by a reset, it replays with
 *     a note of where each side stopped;
 *   - a replay against a protocol that answers otherwise names the
 *     transport, the offset, and both bytes;
 *   - the replayed node's clock reads what the recorded loop's did;
 *   - the replayed node's file calls take no time (the recorded times
 *     hold what they took), so an app that fsyncs before it answers
 *     reads its input in the chunks it read it in, under `twin replay`
 *     and on a replay node of a scenario file.
 *
 * Clients are threads with blocking sockets on loopback, so that what
 * the recorded loop owns is the server's side alone.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"
#include "tests/tls_files.h"
#include "real/sys.h"
#include "twin/app.h"
#include "twin/file.h"
#include "twin/fuzz.h"
#include "twin/main.h"
#include "twin/tls.h"
#include "twin/real.h"
#include "twin/record.h"
#include "twin/replay.h"
#include "twin/scenario.h"

static char dir[64];

static void path_in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* ---- the protocol under test: "LEN n\n" then n bytes, answered
 * "OK <bytes>\n". Its bug: a header must come whole in one chunk; when a
 * chunk begins a header and has no newline, it answers "ERR split\n",
 * counts a failure and aborts. ---- */

/* tw_replay of the recording at path against app, given `--port port`;
 * what it prints goes to *text (the caller frees it). Returns tw_replay's
 * result. */
static int replay_port(const char *path, const tw_app *app, uint16_t port,
                       tw_replay_result *res, char **text, char *err, size_t errlen)
{
    char p[16];
    snprintf(p, sizeof p, "%u", port);
    char *argv[] = {(char *)app->name, "--port", p, NULL};
    size_t tlen = 0;
    *text = NULL;
    FILE *out = open_memstream(text, &tlen);
    assert_non_null(out);
    tw_replay_opts ro = {.out = out};
    int rc = tw_replay(path, app, 3, argv, &ro, res, err, errlen);
    fclose(out);
    return rc;
}

static atomic_int split_failures;

typedef struct hdr {
    tw_protocol base;
    tw_transport *t;
    size_t want, have;
    char body[64];
} hdr;

static void h_made(tw_protocol *p, tw_transport *t) { ((hdr *)p)->t = t; }

static void h_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    hdr *h = (hdr *)p;
    while (n) {
        if (h->want == 0) {
            const uint8_t *nl = memchr(d, '\n', n);
            unsigned len;
            if (!nl) { /* the bug: a header is never kept for later */
                split_failures++;
                tw_transport_write(h->t, "ERR split\n", 10);
                tw_transport_abort(h->t);
                return;
            }
            len = 0; /* "LEN " and digits, read no further than the line */
            bool ok = nl - d > 4 && memcmp(d, "LEN ", 4) == 0;
            for (const uint8_t *q = d + 4; ok && q < nl; q++) {
                ok = *q >= '0' && *q <= '9' && len < 1000;
                len = len * 10 + (unsigned)(*q - '0');
            }
            if (!ok || len == 0 || len > sizeof h->body) {
                tw_transport_close(h->t);
                return;
            }
            h->want = len;
            h->have = 0;
            n -= (size_t)(nl + 1 - d);
            d = nl + 1;
            continue;
        }
        size_t take = n < h->want - h->have ? n : h->want - h->have;
        memcpy(h->body + h->have, d, take);
        h->have += take;
        d += take;
        n -= take;
        if (h->have == h->want) {
            tw_transport_write(h->t, "OK ", 3);
            tw_transport_write(h->t, h->body, h->want);
            tw_transport_write(h->t, "\n", 1);
            h->want = 0;
        }
    }
}

static void h_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops hdr_ops = {
    .connection_made = h_made, .data_received = h_data, .release = h_release};

static tw_protocol *hdr_new(void *arg)
{
    (void)arg;
    hdr *h = calloc(1, sizeof *h);
    if (h)
        h->base.ops = &hdr_ops;
    return h ? &h->base : NULL;
}

/* An app's start for "NAME --port N": a server of `factory`'s protocol
 * on 127.0.0.1:N, the server its state. */
static int serve_port(tw_loop *loop, int argc, char **argv, tw_protocol_factory factory,
                      void **state)
{
    if (argc != 3 || strcmp(argv[1], "--port") != 0)
        return -EINVAL;
    tw_server *srv;
    int rc = tw_create_server(loop, factory, NULL, "127.0.0.1",
                              (uint16_t)atoi(argv[2]), NULL, &srv);
    *state = rc == 0 ? srv : NULL;
    return rc;
}

/* As an app, for tw_replay: "hdr-server --port N". */
static int hdr_start(tw_loop *loop, int argc, char **argv, FILE *out, void **state)
{
    return serve_port(loop, argc, argv, hdr_new, state);
}
static int hdr_result(void *state) { return split_failures ? 1 : 0; }
static void hdr_free(void *state)
{
    if (state)
        tw_server_close(state);
}
static void hdr_discard(void *state) {}

static const tw_app hdr_app = {
    .name = "hdr-server", .summary = "test", .usage = "  --port N\n",
    .start = hdr_start, .result = hdr_result, .free = hdr_free,
    .discard = hdr_discard,
};

/* ---- a client thread: connect, send the pieces with a pause between
 * them (so that each is its own read), read until the end ---- */

typedef struct client {
    uint16_t port;
    const char *pieces[4];
    char got[256];
    size_t got_len;
    /* > 0: read this many bytes with a small receive buffer, then reset
     * the connection while the server is still sending */
    size_t reset_after;
    atomic_int done;
} client;

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int small = 4096;
    if (fd >= 0 && c->reset_after)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        for (int i = 0; i < 4 && c->pieces[i]; i++) {
            if (write(fd, c->pieces[i], strlen(c->pieces[i])) < 0)
                break;
            usleep(50000);
        }
        if (c->reset_after) {
            ssize_t n;
            while (c->got_len < c->reset_after &&
                   (n = read(fd, c->got + c->got_len, c->reset_after - c->got_len)) > 0)
                c->got_len += (size_t)n;
            usleep(100000); /* the server's sendfile fills what it can */
            struct linger l = {.l_onoff = 1, .l_linger = 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close(fd); /* a reset */
            c->done = 1;
            return NULL;
        }
        shutdown(fd, SHUT_WR);
        ssize_t n;
        while (c->got_len < sizeof c->got &&
               (n = read(fd, c->got + c->got_len, sizeof c->got - c->got_len)) > 0)
            c->got_len += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    c->done = 1;
    return NULL;
}

/* Run a real loop recording to path with opts (path set here) while a
 * client thread talks to a server of factory. */
static void record_run(const char *path, tw_record_opts ro, tw_protocol_factory f,
                       client *c)
{
    ro.path = path;
    tw_real_opts o = {.record = &ro};
    tw_loop *loop = tw_loop_new(&o);
    assert_non_null(loop);
    c->port = tw_cli_free_port(SOCK_STREAM);
    tw_server *srv;
    assert_int_equal(tw_create_server(loop, f, NULL, "127.0.0.1", c->port, NULL, &srv), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_main, c), 0);
    for (int i = 0; i < 1000 && !c->done; i++)
        tw_loop_run_for(loop, TW_MS(10));
    tw_loop_run_for(loop, TW_MS(20));
    pthread_join(th, NULL);
    assert_true(c->done);
    tw_server_close(srv);
    tw_loop_run_for(loop, TW_MS(10));
    tw_loop_free(loop);
}

static int count_type(const char *path, tw_rec_type type, char *tail, size_t tlen)
{
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    tw_rec_event ev;
    int n = 0;
    while (tw_recording_next(r, &ev) > 0)
        n += ev.type == type;
    if (tail)
        snprintf(tail, tlen, "%s", tw_recording_tail(r));
    tw_recording_close(r);
    return n;
}

/* ---- the parser crash, recorded, replayed, fuzzed ---- */

static void test_split_header_reproduces_in_replay_and_fuzz(void **state)
{
    (void)state;
    char path[128], seed[128], port[16];
    path_in_dir(path, sizeof path, "split.rec");
    path_in_dir(seed, sizeof seed, "split.seed");
    split_failures = 0;
    /* "LEN 3\nabc" whole is fine; "LE" + "N 3\nxyz" is the bug. */
    client c = {.pieces = {"LEN 3\nabc", "LE", "N 3\nxyz"}};
    record_run(path, (tw_record_opts){0}, hdr_new, &c);
    assert_int_equal(split_failures, 1);
    assert_memory_equal(c.got, "OK abc\nERR split\n", 17);

    /* The replay: the same failure, the same writes. */
    split_failures = 0;
    assert_int_equal(tw_app_register(&hdr_app), 0);
    snprintf(port, sizeof port, "%u", c.port);
    char *argv[] = {"hdr-server", "--port", port, NULL};
    char *text = NULL, err[512];
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    tw_replay_opts ro = {.out = out};
    tw_replay_result res;
    int rc = tw_replay(path, &hdr_app, 3, argv, &ro, &res, err, sizeof err);
    fclose(out);
    if (rc != 0)
        fail_msg("replay: %d %s\n%s", rc, err, text);
    assert_int_equal(split_failures, 1);
    assert_int_equal(res.app_status, 1);
    assert_int_equal(res.transports, 1);
    assert_true(res.bytes_expected == 17 && res.bytes_got == 17);
    assert_non_null(strstr(text, "replay: SAME"));
    free(text);
    assert_int_equal(tw_app_unregister("hdr-server"), 0);

    /* The fuzz seed of that connection: its chunks as the cuts. */
    char *av[] = {"twin", "recording", path, "--to-fuzz-seed", seed, NULL};
    assert_int_equal(tw_main(5, av), 0);
    FILE *f = fopen(seed, "rb");
    assert_non_null(f);
    uint8_t in[256];
    size_t n = fread(in, 1, sizeof in, f);
    fclose(f);
    /* two cuts (9 and 2 bytes: the abort came after "LE"), then the
     * payload */
    assert_int_equal(in[0], 2);
    assert_true(in[1] == 8 && in[2] == 1);
    assert_int_equal(n, 3 + 11);
    assert_memory_equal(in + 3, "LEN 3\nabcLE", 11);
    split_failures = 0;
    tw_fuzz_stats st;
    tw_fuzz_opts fo = {.stats = &st};
    assert_int_equal(tw_fuzz_protocol(hdr_new, NULL, in, n, &fo), 0);
    assert_int_equal(split_failures, 1);
    /* The same requests in one chunk: no failure. */
    uint8_t whole[] = {0, 'L', 'E', 'N', ' ', '3', '\n', 'a', 'b', 'c',
                       'L', 'E', 'N', ' ', '3', '\n', 'x', 'y', 'z'};
    split_failures = 0;
    assert_int_equal(tw_fuzz_protocol(hdr_new, NULL, whole, sizeof whole, &fo), 0);
    assert_int_equal(split_failures, 0);
}

/* ---- a crash in a callback ---- */

static void b_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    if (memmem(d, n, "BOOM", 4))
        abort(); /* the process dies inside the callback */
}

static const tw_protocol_ops boom_ops = {.data_received = b_data};
static tw_protocol boom_proto = {.ops = &boom_ops};
static tw_protocol *boom_new(void *arg) { return &boom_proto; }

static void test_a_crash_leaves_every_record_before_it(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "crash.rec");
    client c = {.pieces = {"hello ", "BOOM"}};
    c.port = tw_cli_free_port(SOCK_STREAM);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        tw_record_opts ro = {.path = path};
        tw_real_opts o = {.record = &ro};
        tw_loop *loop = tw_loop_new(&o);
        tw_server *srv;
        if (!loop || tw_create_server(loop, boom_new, NULL, "127.0.0.1", c.port, NULL,
                                      &srv) < 0)
            _exit(3);
        tw_loop_run_for(loop, TW_SEC(20));
        _exit(4);
    }
    tw_cli_wait_bound(SOCK_STREAM, c.port, "the recording child");
    client_main(&c);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    /* Every record up to the fatal chunk is there, whole. */
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    tw_rec_event ev;
    char got[64] = "";
    int opens = 0;
    while (tw_recording_next(r, &ev) > 0) {
        opens += ev.type == TW_REC_OPEN;
        if (ev.type == TW_REC_DATA && strlen(got) + ev.len < sizeof got)
            strncat(got, (const char *)ev.data, ev.len);
    }
    assert_int_equal(opens, 1);
    assert_string_equal(got, "hello BOOM");
    assert_non_null(strstr(tw_recording_tail(r), "not closed"));
    tw_recording_close(r);
}

/* ---- torn tails ---- */

static void echo_data(tw_protocol *p, const uint8_t *d, size_t n);
typedef struct echo { tw_protocol base; tw_transport *t; } echo;
static void echo_made(tw_protocol *p, tw_transport *t) { ((echo *)p)->t = t; }
static void echo_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    tw_transport_write(((echo *)p)->t, d, n);
}
static void echo_release(tw_protocol *p) { free(p); }
static const tw_protocol_ops echo_ops = {
    .connection_made = echo_made, .data_received = echo_data, .release = echo_release};
static tw_protocol *echo_new(void *arg)
{
    echo *e = calloc(1, sizeof *e);
    if (e)
        e->base.ops = &echo_ops;
    return e ? &e->base : NULL;
}

/* As an app: "echo-all --port N". */
static int echo_start(tw_loop *loop, int argc, char **argv, FILE *out, void **state)
{
    return serve_port(loop, argc, argv, echo_new, state);
}
static int echo_result(void *state) { return 0; }

static const tw_app echo_app = {
    .name = "echo-all", .summary = "test", .usage = "  --port N\n",
    .start = echo_start, .result = echo_result, .free = hdr_free,
    .discard = hdr_discard,
};

static void test_a_torn_tail_ends_reading_cleanly(void **state)
{
    (void)state;
    char path[128], tail[256];
    path_in_dir(path, sizeof path, "torn.rec");
    client c = {.pieces = {"one", "two", "three"}};
    record_run(path, (tw_record_opts){0}, echo_new, &c);
    assert_int_equal(count_type(path, TW_REC_DATA, tail, sizeof tail), 3);
    assert_string_equal(tail, "");
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    /* Cut 3 bytes off the last record: it goes, the rest stays. */
    int writes = count_type(path, TW_REC_WRITE, NULL, 0);
    int lost = count_type(path, TW_REC_LOST, NULL, 0);
    assert_true(writes == 3 && lost == 1);
    assert_int_equal(truncate(path, sb.st_size - 3), 0);
    assert_int_equal(count_type(path, TW_REC_DATA, tail, sizeof tail), 3);
    assert_int_equal(count_type(path, TW_REC_LOST, NULL, 0), 0);
    assert_non_null(strstr(tail, "torn record at offset"));
    assert_non_null(strstr(tail, "runs past the end"));
    /* A flipped byte in the second record's body: only the first is read. */
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t frame[8];
    assert_int_equal(pread(fd, frame, 8, 32), 8);
    uint32_t first = (uint32_t)(frame[0] | frame[1] << 8 | frame[2] << 16 |
                                (uint32_t)frame[3] << 24);
    off_t at = 32 + 8 + (off_t)first + 8 + 20;
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
    assert_int_equal(count_type(path, TW_REC_OPEN, tail, sizeof tail), 1);
    assert_int_equal(count_type(path, TW_REC_DATA, NULL, 0), 0);
    assert_non_null(strstr(tail, "checksum mismatch"));
    /* Not a recording at all. */
    char err[256];
    assert_int_equal(truncate(path, 10), 0);
    assert_null(tw_recording_open(path, err, sizeof err));
    assert_non_null(strstr(err, "not a twin recording"));
}

/* ---- ring mode and the limit ---- */

static int ticks;
static void tick(void *arg)
{
    tw_loop *loop = arg;
    if (++ticks < 4000)
        tw_call_later(loop, 0, tick, loop); /* due at once: no sleep between */
}

static void test_ring_keeps_the_newest_records(void **state)
{
    (void)state;
    char path[128], old[140];
    path_in_dir(path, sizeof path, "ring.rec");
    snprintf(old, sizeof old, "%s.old", path);
    tw_record_opts ro = {.path = path, .ring_bytes = TW_RECORD_RING_MIN};
    tw_real_opts o = {.record = &ro};
    tw_loop *loop = tw_loop_new(&o);
    assert_non_null(loop);
    ticks = 0;
    tw_call_later(loop, 0, tick, loop);
    for (int i = 0; i < 6000 && ticks < 4000; i++)
        tw_loop_run_for(loop, TW_MS(5));
    tw_record_stats st;
    assert_int_equal(tw_loop_record_stats(loop, &st), 0);
    assert_true(st.segments >= 3); /* the ring turned more than once */
    assert_int_equal(st.records, 4000);
    tw_loop_free(loop);
    /* Two files, each within half the ring. */
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    assert_int_equal(stat(old, &b), 0);
    assert_true(a.st_size <= (off_t)TW_RECORD_RING_MIN / 2);
    assert_true(b.st_size <= (off_t)TW_RECORD_RING_MIN / 2);
    assert_true(a.st_size + b.st_size > (off_t)TW_RECORD_RING_MIN / 2);
    /* Read as one: old then new, in time order, ending with the last. */
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    assert_non_null(r);
    tw_rec_event ev;
    int n = 0;
    tw_ns prev = 0, first = -1;
    while (tw_recording_next(r, &ev) > 0) {
        assert_int_equal(ev.type, TW_REC_TIMER);
        assert_true(ev.time_ns >= prev);
        prev = ev.time_ns;
        if (first < 0)
            first = ev.time_ns;
        n++;
    }
    assert_string_equal(tw_recording_tail(r), "");
    tw_recording_close(r);
    assert_true(n > 0 && n < 4000); /* the oldest are gone */
    assert_true((uint64_t)n * 60 > TW_RECORD_RING_MIN / 2);
    /* A ring too small, named. */
    tw_record_opts bad = {.path = path, .ring_bytes = 1000};
    assert_int_equal(tw_record_opts_check(&bad, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "ring"));
}

static void test_max_bytes_stops_with_a_record_saying_so(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "max.rec");
    tw_record_opts ro = {.path = path, .max_bytes = 8192};
    tw_real_opts o = {.record = &ro};
    tw_loop *loop = tw_loop_new(&o);
    assert_non_null(loop);
    ticks = 0;
    tw_call_later(loop, 0, tick, loop);
    for (int i = 0; i < 6000 && ticks < 4000; i++)
        tw_loop_run_for(loop, TW_MS(5));
    tw_record_stats st;
    assert_int_equal(tw_loop_record_stats(loop, &st), 0);
    assert_true(st.stopped);
    assert_true(st.bytes <= 8192);
    tw_loop_free(loop);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size <= 8192);
    assert_int_equal(count_type(path, TW_REC_LIMIT, NULL, 0), 1);
    /* A loop without a recording says so. */
    tw_loop *plain = tw_loop_new(NULL);
    assert_int_equal(tw_loop_record_stats(plain, &st), -ENOENT);
    tw_loop_free(plain);
    /* A file that cannot be made fails the loop, with its errno. */
    tw_record_opts nowhere = {.path = "/nonexistent-dir/x.rec"};
    tw_real_opts o2 = {.record = &nowhere};
    errno = 0;
    assert_null(tw_loop_new(&o2));
    assert_int_equal(errno, ENOENT);
}

/* ---- redaction ---- */

static void test_redacted_recording_keeps_sizes_only(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "redact.rec");
    client c = {.pieces = {"secret-one", "secret-two"}};
    record_run(path, (tw_record_opts){.redact = true}, echo_new, &c);
    assert_memory_equal(c.got, "secret-onesecret-two", 20);
    /* No payload byte in the file; the sizes are there. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_null(memmem(buf, n, "secret", 6));
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    assert_non_null(r);
    assert_true(tw_recording_redacted(r));
    tw_rec_event ev;
    int64_t sizes = 0;
    while (tw_recording_next(r, &ev) > 0)
        if (ev.type == TW_REC_DATA) {
            assert_true(ev.flags & TW_REC_F_REDACTED);
            assert_int_equal(ev.len, 0);
            sizes += ev.num;
        }
    tw_recording_close(r);
    assert_int_equal(sizes, 20);
    /* The replay fills the bytes from its seed and compares sizes. */
    const tw_app *app = &echo_app;
    char port[16], *text = NULL;
    size_t tlen = 0;
    snprintf(port, sizeof port, "%u", c.port);
    char *argv[] = {"echo-all", "--port", port, NULL};
    FILE *out = open_memstream(&text, &tlen);
    tw_replay_opts ro = {.out = out, .seed = 7};
    tw_replay_result res;
    assert_int_equal(tw_replay(path, app, 3, argv, &ro, &res, err, sizeof err), 0);
    fclose(out);
    assert_true(res.redacted);
    assert_int_equal(res.bytes_sent, 20);
    assert_non_null(strstr(text, "redacted: the bytes sent were drawn from seed 7"));
    assert_non_null(strstr(text, "only the sizes of the writes are compared"));
    free(text);
    /* An app that writes other sizes differs, and the verdict says the
     * sizes: the recording's is there, only its bytes are not. */
    text = NULL;
    out = open_memstream(&text, &tlen);
    ro.out = out;
    argv[0] = "hdr-server";
    assert_int_equal(tw_replay(path, &hdr_app, 3, argv, &ro, &res, err, sizeof err), 1);
    fclose(out);
    split_failures = 0;
    assert_true(res.differ);
    if (!strstr(res.diff, "the writes differ at byte (sizes only) 10: expected 10 bytes "
                          "(redacted), got nothing (the replay wrote no more)"))
        fail_msg("%s", res.diff); /* it wrote "ERR split\n" of the 20 */
    free(text);
}

/* ---- sendfile: the file's bytes are writes of the recording ---- */

static int sf_fd = -1;

static void sf_done(void *arg, tw_transport *t, uint64_t sent, int err)
{
    (void)arg;
    (void)sent;
    (void)err;
    tw_transport_close(t);
}

/* On its first bytes: "HDR\n", then the file sf_fd by tw_loop_sendfile. */
static void sf_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)d;
    (void)n;
    hdr *h = (hdr *)p;
    if (h->want++)
        return;
    tw_transport_write(h->t, "HDR\n", 4);
    tw_loop_sendfile(tw_transport_loop(h->t), h->t, sf_fd, 0, 0, sf_done, NULL);
}

static const tw_protocol_ops sf_ops = {
    .connection_made = h_made, .data_received = sf_data, .release = h_release};

static tw_protocol *sf_new(void *arg)
{
    (void)arg;
    hdr *h = calloc(1, sizeof *h);
    if (h)
        h->base.ops = &sf_ops;
    return h ? &h->base : NULL;
}

static int sf_start(tw_loop *loop, int argc, char **argv, FILE *out, void **state)
{
    return serve_port(loop, argc, argv, sf_new, state);
}

static const tw_app sf_app = {
    .name = "sf-server", .summary = "test", .usage = "  --port N\n",
    .start = sf_start, .free = hdr_free, .discard = hdr_discard,
};

/* The bytes of every write record of the recording at path, in order. */
static size_t written(const char *path, char *out, size_t cap)
{
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    if (!r)
        fail_msg("%s", err);
    tw_rec_event ev;
    size_t n = 0;
    while (tw_recording_next(r, &ev) > 0)
        if (ev.type == TW_REC_WRITE) {
            assert_true(n + ev.len <= cap);
            memcpy(out + n, ev.data, ev.len);
            n += ev.len;
        }
    tw_recording_close(r);
    return n;
}

/* What tw_loop_sendfile sent is in the recording as the transport's
 * writes, by sendfile(2) and by the fallback (sendfile(2) failing), so the
 * replay, where the simulator reads the file itself, finds the same
 * bytes; redacted, their sizes. */
static void test_sendfile_bytes_are_recorded(void **state)
{
    (void)state;
    char path[128], file[128], want[4 + 200];
    path_in_dir(file, sizeof file, "sent.dat");
    memcpy(want, "HDR\n", 4);
    for (int i = 0; i < 200; i++)
        want[4 + i] = (char)('a' + i % 26);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(want + 4, 1, 200, f), 200);
    fclose(f);
    uint16_t port = 0;
    for (int round = 0; round < 3; round++) {
        sf_fd = open(file, O_RDONLY);
        assert_true(sf_fd >= 0);
        path_in_dir(path, sizeof path, "sendfile.rec");
        unsigned long native = tw_sys_calls(TW_SYS_SENDFILE);
        if (round == 1)
            tw_sys_fail(TW_SYS_SENDFILE, 1, 1, EINVAL); /* the fallback */
        client c = {.pieces = {"GET\n"}};
        record_run(path, (tw_record_opts){.redact = round == 2}, sf_new, &c);
        assert_true(tw_sys_calls(TW_SYS_SENDFILE) > native);
        tw_sys_reset();
        assert_int_equal(c.got_len, sizeof want);
        assert_memory_equal(c.got, want, sizeof want);
        char rec[512];
        if (round < 2) {
            size_t n = written(path, rec, sizeof rec);
            assert_int_equal(n, sizeof want);
            assert_memory_equal(rec, want, sizeof want);
        }
        char *text, err[512];
        tw_replay_result res;
        port = c.port;
        int rc = replay_port(path, &sf_app, port, &res, &text, err, sizeof err);
        if (rc != 0)
            fail_msg("round %d: %s%s", round, err, text);
        free(text);
        close(sf_fd);
        sf_fd = -1;
    }
    /* The file grew since: with no reset to cut it short, the longer
     * sendfile is a difference (of sizes: the last recording is
     * redacted). */
    f = fopen(file, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(want + 4, 1, 100, f), 100);
    fclose(f);
    sf_fd = open(file, O_RDONLY);
    assert_true(sf_fd >= 0);
    char *text, err[512];
    tw_replay_result res;
    assert_int_equal(replay_port(path, &sf_app, port, &res, &text, err, sizeof err), 1);
    free(text);
    assert_true(res.differ);
    assert_int_equal(res.diff_offset, sizeof want);
    close(sf_fd);
    sf_fd = -1;
}

/* A client that resets while the server's sendfile runs: how far the
 * file got is the peer's reading speed, which the replay does not play.
 * The writes are marked as sendfile's, and the replay says where each
 * side stopped instead of a difference; a file whose bytes changed since
 * is still one. */
static void test_sendfile_cut_by_a_reset_replays(void **state)
{
    (void)state;
    char path[128], file[128];
    path_in_dir(file, sizeof file, "big.dat");
    enum { BIG = 16 << 20 };
    uint8_t *data = malloc(BIG);
    assert_non_null(data);
    for (size_t i = 0; i < BIG; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 12));
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, BIG, f), BIG);
    fclose(f);
    sf_fd = open(file, O_RDONLY);
    assert_true(sf_fd >= 0);
    path_in_dir(path, sizeof path, "sfcut.rec");
    client c = {.pieces = {"GET\n"}, .reset_after = 100};
    record_run(path, (tw_record_opts){0}, sf_new, &c);
    close(sf_fd);
    /* The recording: HDR, then sendfile's bytes, marked, fewer than the
     * file's; the connection lost to an error. */
    char err[512];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    assert_non_null(r);
    tw_rec_event ev;
    size_t plain = 0, sent = 0;
    int64_t lost = 0;
    while (tw_recording_next(r, &ev) > 0) {
        if (ev.type == TW_REC_WRITE && (ev.flags & TW_REC_F_SENDFILE)) {
            assert_memory_equal(ev.data, data + sent, ev.len);
            sent += ev.len;
        } else if (ev.type == TW_REC_WRITE) {
            assert_int_equal(sent, 0); /* HDR, before the file */
            plain += ev.len;
        } else if (ev.type == TW_REC_LOST) {
            lost = ev.num;
        }
    }
    tw_recording_close(r);
    assert_int_equal(plain, 4);
    assert_true(sent > 0 && sent < BIG);
    assert_true(lost < 0);
    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* the file is not what was sent any more */
            data[sent / 2] ^= 0xFF;
            f = fopen(file, "wb");
            assert_non_null(f);
            assert_int_equal(fwrite(data, 1, BIG, f), BIG);
            fclose(f);
        }
        sf_fd = open(file, O_RDONLY);
        assert_true(sf_fd >= 0);
        char *text;
        tw_replay_result res;
        int rc = replay_port(path, &sf_app, c.port, &res, &text, err, sizeof err);
        close(sf_fd);
        sf_fd = -1;
        if (round == 0) {
            if (rc != 0)
                fail_msg("%s%s", err, text);
            assert_non_null(strstr(text, "while a sendfile ran"));
            assert_false(res.differ);
        } else {
            assert_int_equal(rc, 1);
            assert_true(res.differ);
            assert_int_equal(res.diff_offset, 4 + sent / 2);
        }
        free(text);
    }
    free(data);
}

/* ---- a difference, reported ---- */

static void test_replay_names_the_first_difference(void **state)
{
    (void)state;
    char path[128];
    path_in_dir(path, sizeof path, "diff.rec");
    split_failures = 0;
    client c = {.pieces = {"LEN 3\nabc", "LEN 2\nhi"}};
    record_run(path, (tw_record_opts){0}, hdr_new, &c);
    assert_memory_equal(c.got, "OK abc\nOK hi\n", 13);
    /* The same input to an echo server: it writes what it got. */
    const tw_app *app = tw_app_find("echo-server");
    char *text, err[512];
    tw_replay_result res;
    assert_int_equal(replay_port(path, app, c.port, &res, &text, err, sizeof err), 1);
    assert_true(res.differ);
    assert_int_equal(res.diff_offset, 0);
    assert_non_null(strstr(res.diff, "the writes differ at byte 0: expected "
                                     "\"OK abc\\nOK hi\\n\", got \"LEN 3\\nabc\""));
    assert_non_null(strstr(text, "replay: DIFFER t1 (127.0.0.1:"));
    free(text);
}

/* ---- TLS: recorded, marked, not replayed ---- */

typedef struct tls_cli {
    tw_protocol base;
    tw_transport *t;
    bool done;
} tls_cli;

static void tc_made(tw_protocol *p, tw_transport *t)
{
    ((tls_cli *)p)->t = t;
    tw_transport_write(t, "LEN 2\nhi", 8);
}

static void tc_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)d;
    (void)n;
    tls_cli *c = (tls_cli *)p;
    c->done = true;
    tw_transport_close(c->t);
}

static const tw_protocol_ops tc_ops = {.connection_made = tc_made, .data_received = tc_data};

static tw_protocol *tc_new(void *arg) { return arg; }

static void tc_connected(void *arg, tw_transport *t, int err)
{
    (void)arg;
    (void)t;
    assert_int_equal(err, 0);
}

/* A TLS connection's records are marked as one (`tls` in the listing),
 * and twin replay leaves it and the TCP connection under it out, saying
 * so, where it replayed the plaintext into the app and reported that
 * the writes differ. */
static void test_tls_is_marked_and_not_replayed(void **state)
{
    (void)state;
    tls_files tf;
    tls_files_make(&tf);
    char path[128];
    path_in_dir(path, sizeof path, "tls.rec");
    tw_record_opts ro = {.path = path};
    tw_real_opts o = {.record = &ro};
    tw_loop *loop = tw_loop_new(&o);
    assert_non_null(loop);
    tw_tls_ctx *sctx = tw_tls_ctx_new(TW_TLS_SERVER), *cctx = tw_tls_ctx_new(TW_TLS_CLIENT);
    assert_int_equal(tw_tls_ctx_load_cert_chain(sctx, tf.cert, tf.key), 0);
    assert_int_equal(tw_tls_ctx_load_verify_file(cctx, tf.ca), 0);
    uint16_t port = tw_cli_free_port(SOCK_STREAM);
    tw_server *srv;
    assert_int_equal(tw_create_server_tls(loop, hdr_new, NULL, "127.0.0.1", port, NULL, sctx,
                                          &srv), 0);
    tls_cli c = {.base.ops = &tc_ops};
    assert_int_equal(tw_create_connection_tls(loop, tc_new, &c, "127.0.0.1", port, cctx,
                                              tc_connected), 0);
    for (int i = 0; i < 500 && !c.done; i++)
        tw_loop_run_for(loop, TW_MS(10));
    assert_true(c.done);
    tw_server_close(srv);
    tw_loop_run_for(loop, TW_MS(20));
    tw_loop_free(loop);
    tw_tls_ctx_free(sctx);
    tw_tls_ctx_free(cctx);
    tls_files_remove(&tf);
    /* two TLS connections (the client's, the server's), each over TCP */
    char err[256];
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    assert_non_null(r);
    tw_rec_event ev;
    int opens = 0, tls = 0;
    while (tw_recording_next(r, &ev) > 0) {
        opens += ev.type == TW_REC_OPEN;
        tls += ev.type == TW_REC_OPEN && (ev.flags & TW_REC_F_TLS);
    }
    tw_recording_close(r);
    assert_int_equal(opens, 4);
    assert_int_equal(tls, 2);
    const tw_app *app = tw_app_find("echo-server");
    char portarg[16], *text = NULL;
    size_t tlen = 0;
    snprintf(portarg, sizeof portarg, "%u", port);
    char *argv[] = {"echo-server", "--port", portarg, NULL};
    FILE *out = open_memstream(&text, &tlen);
    tw_replay_opts rpo = {.out = out};
    tw_replay_result res;
    assert_int_equal(tw_replay(path, app, 3, argv, &rpo, &res, err, sizeof err), 0);
    fclose(out);
    assert_false(res.differ);
    assert_int_equal(res.skipped, 4);
    assert_int_equal(res.transports, 0);
    assert_non_null(strstr(text, "not replayed: a TLS connection (TLS is not replayed)"));
    assert_non_null(strstr(text, "not replayed: the TCP connection under a TLS one"));
    free(text);
}

/* ---- the clock, replayed ---- */

/* Answers each chunk with what its loop's clock reads: "late" from 1 s
 * on (a real loop's monotonic clock, long after boot), else "early". */
static void clk_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)d;
    (void)n;
    tw_transport *t = ((hdr *)p)->t;
    if (tw_loop_now(tw_transport_loop(t)) >= TW_SEC(1))
        tw_transport_write(t, "late\n", 5);
    else
        tw_transport_write(t, "early\n", 6);
}

static const tw_protocol_ops clk_ops = {
    .connection_made = h_made, .data_received = clk_data, .release = h_release};

static tw_protocol *clk_new(void *arg)
{
    (void)arg;
    hdr *h = calloc(1, sizeof *h);
    if (h)
        h->base.ops = &clk_ops;
    return h ? &h->base : NULL;
}

static int clk_start(tw_loop *loop, int argc, char **argv, FILE *out, void **state)
{
    return serve_port(loop, argc, argv, clk_new, state);
}

static const tw_app clk_app = {
    .name = "clk-server", .summary = "test", .usage = "  --port N\n",
    .start = clk_start, .free = hdr_free, .discard = hdr_discard,
};

/* The replayed node's clock starts where the recorded loop's did, so an
 * app that reads its clock sees in the replay what it saw (it started
 * at 0, and such an app differed from its own recording). */
static void test_replay_starts_the_clock_where_the_recording_did(void **state)
{
    (void)state;
    char path[128], err[512], *text;
    path_in_dir(path, sizeof path, "clock.rec");
    client c = {.pieces = {"tick"}};
    record_run(path, (tw_record_opts){0}, clk_new, &c);
    assert_memory_equal(c.got, "late\n", 5);
    tw_recording *r = tw_recording_open(path, err, sizeof err);
    assert_non_null(r);
    assert_true(tw_recording_clock(r) >= TW_SEC(1));
    tw_recording_close(r);

    assert_int_equal(tw_app_register(&clk_app), 0);
    tw_replay_result res;
    int rc = replay_port(path, &clk_app, c.port, &res, &text, err, sizeof err);
    assert_int_equal(tw_app_unregister("clk-server"), 0);
    if (rc != 0)
        fail_msg("replay: %d %s\n%s", rc, err, text);
    assert_non_null(strstr(text, "replay: SAME"));
    free(text);
}

/* ---- file calls, replayed ---- */

/* Appends each chunk to its file, fsyncs it FSYNCS times (a log that
 * syncs each record), then answers the chunk's length: a chunk that
 * came in while it was busy with the disk is read with the next one. */
#define FSYNCS 40
static char fsync_path[128];

typedef struct syncer {
    tw_protocol base;
    tw_transport *t;
    tw_file *f;
} syncer;

static void sy_made(tw_protocol *p, tw_transport *t)
{
    syncer *s = (syncer *)p;
    s->t = t;
    if (tw_file_open(tw_transport_loop(t), fsync_path,
                     TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_APPEND, &s->f) < 0)
        s->f = NULL;
}

static void sy_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    syncer *s = (syncer *)p;
    for (int i = 0; i < FSYNCS && s->f; i++)
        if (tw_file_append(s->f, d, n) < 0 || tw_file_fsync(s->f) < 0)
            tw_transport_abort(s->t);
    char line[32];
    int len = snprintf(line, sizeof line, "%zu\n", n);
    tw_transport_write(s->t, line, (size_t)len);
}

static void sy_release(tw_protocol *p)
{
    tw_file_close(((syncer *)p)->f);
    free(p);
}

static const tw_protocol_ops sy_ops = {
    .connection_made = sy_made, .data_received = sy_data, .release = sy_release};

static tw_protocol *sy_new(void *arg)
{
    (void)arg;
    syncer *s = calloc(1, sizeof *s);
    if (s)
        s->base.ops = &sy_ops;
    return s ? &s->base : NULL;
}

static int sy_start(tw_loop *loop, int argc, char **argv, FILE *out, void **state)
{
    return serve_port(loop, argc, argv, sy_new, state);
}

static const tw_app sy_app = {
    .name = "fsync-server", .summary = "test", .usage = "  --port N\n",
    .start = sy_start, .free = hdr_free, .discard = hdr_discard,
};

/* The recorded times already hold what the app's fsyncs took: in the
 * replay they take no time. With the simulated disk's latencies (0.5 to
 * 5 ms an fsync, 40 of them a chunk) the app was busy when the next
 * chunk came, read two chunks as one, and differed from its recording. */
static void test_replay_file_calls_take_no_time(void **state)
{
    (void)state;
    char path[128], err[512], port[16], *text = NULL;
    path_in_dir(path, sizeof path, "fsync.rec");
    /* in memory (tmpfs), where an fsync takes no time either, so the
     * recorded app reads each piece on its own */
    snprintf(fsync_path, sizeof fsync_path, "/dev/shm/%s.log", dir + strlen("/tmp/"));
    client c = {.pieces = {"a", "bb", "ccc", "dddd"}};
    record_run(path, (tw_record_opts){0}, sy_new, &c);
    unlink(fsync_path);
    assert_memory_equal(c.got, "1\n2\n3\n4\n", 8);

    snprintf(fsync_path, sizeof fsync_path, "/log"); /* on the node's disk */
    assert_int_equal(tw_app_register(&sy_app), 0);
    snprintf(port, sizeof port, "%u", c.port);
    char *argv[] = {"fsync-server", "--port", port, NULL};
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    tw_replay_opts ro = {.out = out};
    tw_replay_result res;
    int rc = tw_replay(path, &sy_app, 3, argv, &ro, &res, err, sizeof err);
    fclose(out);
    if (rc != 0)
        fail_msg("replay: %d %s\n%s", rc, err, text);
    assert_non_null(strstr(text, "replay: SAME"));
    free(text);

    /* and so on a replay node of a scenario file */
    char yaml[512];
    int n = snprintf(yaml, sizeof yaml,
                     "name: fsync-replay\nduration: 1s\nnodes:\n"
                     "  - {name: server, addr: 10.0.0.1, app: fsync-server,\n"
                     "     args: [--port, \"%u\"], replay: %s}\n"
                     "network: {chunk_split: 0}\n",
                     c.port, path);
    tw_scenario *sc;
    assert_int_equal(tw_scenario_parse("fsync.yaml", yaml, (size_t)n, &sc, err, sizeof err), 0);
    tw_scenario_result sr;
    assert_int_equal(tw_scenario_run(sc, 1, NULL, &sr), 0);
    if (sr.verdict != TW_SCENARIO_PASS)
        fail_msg("scenario: %s", sr.message);
    tw_scenario_result_fini(&sr);
    tw_scenario_free(sc);
    assert_int_equal(tw_app_unregister("fsync-server"), 0);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/twin-record-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        TW_TEST(test_split_header_reproduces_in_replay_and_fuzz),
        TW_TEST(test_a_crash_leaves_every_record_before_it),
        TW_TEST(test_a_torn_tail_ends_reading_cleanly),
        TW_TEST(test_ring_keeps_the_newest_records),
        TW_TEST(test_max_bytes_stops_with_a_record_saying_so),
        TW_TEST(test_redacted_recording_keeps_sizes_only),
        TW_TEST(test_sendfile_bytes_are_recorded),
        TW_TEST(test_sendfile_cut_by_a_reset_replays),
        TW_TEST(test_replay_names_the_first_difference),
        TW_TEST(test_tls_is_marked_and_not_replayed),
        TW_TEST(test_replay_starts_the_clock_where_the_recording_did),
        TW_TEST(test_replay_file_calls_take_no_time),
    };
    return cmocka_run_group_tests_name("recording and replay", tests, setup, teardown);
}
