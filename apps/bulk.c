/* apps/bulk.c - the apps `bulk-send` and `bulk-recv`: a writer that
 * sends as fast as flow control lets it, and a reader that can be slow.
 *
 * Map: the byte pattern; the receiver (protocol, app); the sender
 * (protocol, reconnecting, app); options.
 *
 * What they show: a slow reader pushes back. The receiver reads at most
 * --rate bytes per second (it pauses reading and resumes on a timer);
 * its receive window fills, the sender's transport buffers, and asyncio's
 * flow control calls pause_writing on the sender, which stops writing
 * until resume_writing. The sender's invariant is that rule: its buffer
 * never grows past the high-water mark by more than one write. At the
 * end the receiver answers "OK <bytes>\n" to the sender's EOF, after
 * checking every byte against the pattern.
 *
 * Ownership: protocols are freed by release; app states by free/discard;
 * a pending connect's attempt is owned by the sender's state (as in
 * echo_load.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "apps/pattern.h"
#include "proto/serving.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/twin.h"

#define REPLY_MAX 64

/* ---- the pattern: byte k of every stream is byte k % 8 of word k / 8 ---- */

static uint64_t pattern_word(const void *ctx, uint64_t index)
{
    (void)ctx;
    uint64_t z = index * UINT64_C(0x9e3779b97f4a7c15) + 0x5eed;
    z = (z ^ (z >> 31)) * UINT64_C(0xbf58476d1ce4e5b9);
    return z ^ (z >> 29);
}

__attribute__((format(printf, 3, 4)))
static void note(char *dst, size_t len, const char *fmt, ...)
{
    if (dst[0])
        return; /* the first broken promise explains the rest */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

/* ---- the receiver ---- */

typedef struct recv_app {
    tw_loop *loop;
    tw_server *srv;
    tw__serving sv;
    FILE *out;
    uint64_t rate; /* bytes per second read at most; 0: no limit */
    uint64_t streams, bytes;
    char violation[160];
} recv_app;

typedef struct sink {
    tw_protocol base;
    recv_app *app;
    tw_transport *t;
    uint64_t off;
    tw_handle resume;
} sink;

static void sink_made(tw_protocol *p, tw_transport *t) { ((sink *)p)->t = t; }

static void sink_resume(void *arg)
{
    sink *s = arg;
    s->resume = 0;
    tw_transport_resume_reading(s->t);
}

static void sink_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    sink *s = (sink *)p;
    recv_app *a = s->app;
    size_t k = apps_pattern_mismatch(d, s->off, n, pattern_word, NULL);
    if (k < n)
        note(a->violation, sizeof a->violation, "stream %llu byte %llu is wrong",
             (unsigned long long)a->streams, (unsigned long long)(s->off + k));
    s->off += n;
    a->bytes += n;
    if (!a->rate)
        return;
    /* Slow: take the time these bytes would take at the rate. */
    tw_ns pause = (tw_ns)((__int128)n * TW_NS_PER_SEC / a->rate);
    tw_transport_pause_reading(s->t);
    s->resume = tw_call_later(a->loop, pause, sink_resume, s);
}

static bool sink_eof(tw_protocol *p)
{
    sink *s = (sink *)p;
    char reply[REPLY_MAX];
    int len = snprintf(reply, sizeof reply, "OK %llu\n", (unsigned long long)s->off);
    s->app->streams++;
    tw_transport_write(s->t, reply, (size_t)len);
    return false; /* close once the reply is flushed */
}

static void sink_lost(tw_protocol *p, int err)
{
    sink *s = (sink *)p;
    (void)err;
    if (s->resume)
        tw_handle_cancel(s->app->loop, s->resume);
    s->resume = 0;
}

static void sink_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops sink_ops = {
    .connection_made = sink_made,
    .data_received = sink_data,
    .eof_received = sink_eof,
    .connection_lost = sink_lost,
    .release = sink_release,
};

static tw_protocol *sink_factory(void *arg)
{
    sink *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &sink_ops;
    s->app = arg;
    return &s->base;
}

typedef struct recv_opts {
    const char *host;
    uint16_t port;
    uint64_t rate;
    bool quiet;
} recv_opts;

static const tw_opt recv_table[] = {
    {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, recv_opts, host),
     .def = "127.0.0.1", .meta = "HOST",
     .help = "address to listen on (default 127.0.0.1; '' for all)"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, recv_opts, port), .def = "9000",
     .help = "port (default 9000)"},
    {.name = "rate", TW_OPT_FIELD(TW_OPT_RATE, recv_opts, rate),
     .help = "read at most this fast, e.g. 256KiB/s (default: no limit)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, recv_opts, quiet),
     .help = "no output"},
    {0},
};

TW_OPTS_USAGE_TEXT(recv_usage, 2048, recv_table)

/* A host name resolved (or not): say where we listen, or fail the run. */
static void recv_listening(void *arg, tw_server *srv, int err)
{
    recv_app *a = arg;
    if (tw__serving_listening(&a->sv, srv, err)) {
        tw_server_close(a->srv);
        a->srv = NULL;
    }
}

/* Out of descriptors: say so (rate limited); the server tries again. */
static void recv_accept_error(void *arg, tw_server *srv, int err)
{
    (void)srv;
    tw__serving_accept_failed(&((recv_app *)arg)->sv, err);
}

static int recv_start(tw_loop *loop, int argc, char **argv, FILE *out,
                      void **state)
{
    recv_opts o = {0};
    int rc = tw_opts_parse(recv_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    const char *host = o.host;
    uint16_t port = o.port;
    uint64_t rate = o.rate;
    bool quiet = o.quiet;
    recv_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    a->rate = rate;
    a->out = quiet ? NULL : out;
    tw__serving_init(&a->sv, loop, out, "bulk-recv", host, port, NULL, quiet);
    tw_server_opts so = {.on_listening = recv_listening,
                         .on_accept_error = recv_accept_error};
    rc = tw_create_server(loop, sink_factory, a, host, port, &so, &a->srv);
    if (rc < 0) {
        tw__serving_create_failed(&a->sv, rc);
        free(a);
        return rc;
    }
    tw__serving_started(&a->sv, a->srv);
    *state = a;
    return 0;
}

static const char *recv_invariant(void *state)
{
    recv_app *a = state;
    return a->violation[0] ? a->violation : NULL;
}

/* 1: the invariant broke, or the host name could not be listened on. */
static int recv_result(void *state)
{
    return recv_invariant(state) || ((recv_app *)state)->sv.failed ? 1 : 0;
}

static void recv_free(void *state)
{
    recv_app *a = state;
    if (a->out)
        fprintf(a->out, "bulk-recv: %llu stream(s), %llu bytes\n",
                (unsigned long long)a->streams, (unsigned long long)a->bytes);
    tw__serving_fini(&a->sv);
    if (a->srv)
        tw_server_close(a->srv);
    free(a);
}

static void recv_discard(void *state) { free(state); }

const tw_app tw__app_bulk_recv = {
    .name = "bulk-recv",
    .summary = "reads streams (slowly with --rate), checks every byte, "
               "answers OK <bytes> at EOF",
    .usage = recv_usage,
    .opts = recv_table,
    .start = recv_start,
    .result = recv_result,
    .free = recv_free,
    .invariant = recv_invariant,
    .discard = recv_discard,
};

/* ---- the sender ---- */

typedef struct send_app send_app;

typedef struct source {
    tw_protocol base;
    send_app *app; /* NULL once the app is gone */
    tw_transport *t;
    uint64_t sent;
    bool paused, eof_sent;
    char reply[REPLY_MAX];
    size_t reply_len;
} source;

typedef struct send_attempt {
    send_app *app;
} send_attempt;

struct send_app {
    tw_loop *loop;
    FILE *out;
    tw_opt_hostport connect;
    uint64_t total, chunk, min_pauses;
    tw_ns retry;
    source *c;
    send_attempt *pending;
    tw_handle retry_timer;
    uint64_t pauses, connects;
    size_t peak; /* largest write buffer seen */
    bool done;
    char violation[160];
};

static void pump(source *s)
{
    send_app *a = s->app;
    uint8_t buf[16384];
    size_t high = 0, low = 0;
    tw_transport_get_write_buffer_limits(s->t, &low, &high);
    while (!s->paused && s->sent < a->total && !tw_transport_is_closing(s->t)) {
        uint64_t n = a->total - s->sent;
        if (n > a->chunk)
            n = a->chunk;
        if (n > sizeof buf)
            n = sizeof buf;
        apps_pattern_fill(buf, s->sent, (size_t)n, pattern_word, NULL);
        tw_transport_write(s->t, buf, (size_t)n);
        s->sent += n;
        size_t size = tw_transport_get_write_buffer_size(s->t);
        if (size > a->peak)
            a->peak = size;
        /* asyncio's promise: pause_writing came inside the write that
         * went over high, so one write is the most it can overshoot. */
        if (size > high + n)
            note(a->violation, sizeof a->violation,
                 "write buffer at %zu bytes, over high (%zu) by more than "
                 "one write", size, high);
    }
    if (s->sent == a->total && !s->paused && !s->eof_sent &&
        tw_transport_can_write_eof(s->t)) {
        s->eof_sent = true;
        tw_transport_write_eof(s->t);
    }
}

static void src_made(tw_protocol *p, tw_transport *t)
{
    source *s = (source *)p;
    s->t = t;
    if (!s->app) {
        tw_transport_close(t);
        return;
    }
    s->app->connects++;
    pump(s);
}

static void src_pause(tw_protocol *p)
{
    source *s = (source *)p;
    s->paused = true;
    if (s->app)
        s->app->pauses++;
}

static void src_resume(tw_protocol *p)
{
    source *s = (source *)p;
    s->paused = false;
    if (s->app)
        pump(s);
}

static void src_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    source *s = (source *)p;
    send_app *a = s->app;
    size_t room = sizeof s->reply - 1 - s->reply_len;
    memcpy(s->reply + s->reply_len, d, n < room ? n : room);
    s->reply_len += n < room ? n : room;
    s->reply[s->reply_len] = '\0';
    if (!a || !strchr(s->reply, '\n'))
        return;
    unsigned long long got = 0;
    if (sscanf(s->reply, "OK %llu", &got) != 1 || got != a->total)
        note(a->violation, sizeof a->violation,
             "the receiver answered '%.40s' to %llu bytes", s->reply,
             (unsigned long long)a->total);
    a->done = true;
    if (a->out)
        fprintf(a->out, "bulk-send: %llu bytes delivered, %llu pause(s), "
                        "peak buffer %zu bytes\n",
                (unsigned long long)a->total, (unsigned long long)a->pauses,
                a->peak);
    tw_transport_close(s->t); /* the answer is all we waited for */
}

static void send_connect(send_app *a);

static void retry_cb(void *arg)
{
    send_app *a = arg;
    a->retry_timer = 0;
    send_connect(a);
}

static void src_lost(tw_protocol *p, int err)
{
    source *s = (source *)p;
    send_app *a = s->app;
    (void)err;
    if (!a)
        return;
    a->c = NULL;
    s->app = NULL;
    if (!a->done) /* start over on a new connection */
        a->retry_timer = tw_call_later(a->loop, a->retry, retry_cb, a);
}

static void src_release(tw_protocol *p)
{
    source *s = (source *)p;
    if (s->app && s->app->c == s)
        s->app->c = NULL;
    free(s);
}

static const tw_protocol_ops source_ops = {
    .connection_made = src_made,
    .pause_writing = src_pause,
    .resume_writing = src_resume,
    .data_received = src_data,
    .connection_lost = src_lost,
    .release = src_release,
};

static tw_protocol *src_factory(void *arg)
{
    send_attempt *at = arg;
    if (!at->app)
        return NULL;
    source *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &source_ops;
    s->app = at->app;
    at->app->c = s;
    return &s->base;
}

static void src_connected(void *arg, tw_transport *t, int err)
{
    send_attempt *at = arg;
    send_app *a = at->app;
    (void)err;
    free(at);
    if (!a)
        return;
    a->pending = NULL;
    if (!t)
        a->retry_timer = tw_call_later(a->loop, a->retry, retry_cb, a);
}

static void send_connect(send_app *a)
{
    send_attempt *at = calloc(1, sizeof *at);
    int rc = at ? 0 : -ENOMEM;
    if (at) {
        at->app = a;
        rc = tw_create_connection(a->loop, src_factory, at, a->connect.host,
                                  a->connect.port, src_connected);
    }
    if (rc < 0) {
        free(at);
        a->retry_timer = tw_call_later(a->loop, a->retry, retry_cb, a);
        return;
    }
    a->pending = at;
}

typedef struct send_opts {
    tw_opt_hostport connect;
    uint64_t total, chunk, min_pauses;
    tw_ns retry;
    bool quiet;
} send_opts;

static const tw_opt send_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, send_opts, connect),
     .def = "127.0.0.1:9000", .help = "a bulk-recv (default 127.0.0.1:9000)"},
    {.name = "bytes", TW_OPT_FIELD(TW_OPT_BYTES, send_opts, total), .def = "1MiB",
     .min = 1, .meta = "N", .help = "stream length (default 1MiB)"},
    {.name = "chunk", TW_OPT_FIELD(TW_OPT_BYTES, send_opts, chunk), .def = "16384",
     .min = 1, .meta = "N", .help = "bytes per write (default 16384)"},
    {.name = "min-pauses", TW_OPT_FIELD(TW_OPT_U64, send_opts, min_pauses),
     .help = "fail unless pause_writing came N times (default 0)"},
    {.name = "retry", TW_OPT_FIELD(TW_OPT_DURATION, send_opts, retry),
     .def = "200ms", .min = 1,
     .help = "reconnect delay after a failure (default 200ms)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, send_opts, quiet),
     .help = "no output"},
    {0},
};

TW_OPTS_USAGE_TEXT(send_usage, 2048, send_table)

static int send_start(tw_loop *loop, int argc, char **argv, FILE *out,
                      void **state)
{
    send_opts o = {0};
    int rc = tw_opts_parse(send_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    send_app a0 = {.loop = loop, .connect = o.connect, .total = o.total,
                   .chunk = o.chunk, .min_pauses = o.min_pauses,
                   .retry = o.retry};
    bool quiet = o.quiet;
    send_app *a = malloc(sizeof *a);
    if (!a)
        return -ENOMEM;
    *a = a0;
    a->out = quiet ? NULL : out;
    send_connect(a);
    *state = a;
    return 0;
}

static const char *send_invariant(void *state)
{
    send_app *a = state;
    return a->violation[0] ? a->violation : NULL;
}

static bool send_done(void *state) { return ((send_app *)state)->done; }

static int send_result(void *state)
{
    send_app *a = state;
    return a->done && !a->violation[0] && a->pauses >= a->min_pauses ? 0 : 1;
}

static void send_free(void *state)
{
    send_app *a = state;
    if (a->retry_timer)
        tw_handle_cancel(a->loop, a->retry_timer);
    if (a->pending)
        a->pending->app = NULL;
    if (a->c) {
        a->c->app = NULL;
        tw_transport_close(a->c->t);
    }
    free(a);
}

static void send_discard(void *state)
{
    send_app *a = state;
    free(a->pending);
    free(a);
}

const tw_app tw__app_bulk_send = {
    .name = "bulk-send",
    .summary = "writes a stream as fast as flow control allows; checks "
               "the receiver's count",
    .usage = send_usage,
    .opts = send_table,
    .start = send_start,
    .result = send_result,
    .free = send_free,
    .invariant = send_invariant,
    .done = send_done,
    .discard = send_discard,
};
