/* apps/echo_load.c - the app `echo-load`: a checked echo workload, the
 * client side of most scenarios (pair it with `echo-server --keep-open`).
 *
 * Map: messages (length and bytes from the index alone); the connection
 * protocol; reconnecting; the watchdog; options; the app.
 *
 * It sends N messages one at a time over one connection and checks every
 * echoed byte against what message i must contain. A connection that
 * fails (reset, timeout, refused, an echo slower than --timeout) is
 * replaced after a delay that doubles up to 2 s, and the message in
 * progress is sent again from its start. Done when all N came back
 * intact; the invariant breaks on the first wrong byte, and on a clock
 * that runs backwards or a timer that fires early by the node's own
 * clock (what a skewed or drifting simulated clock must never cause).
 *
 * Messages need no randomness: message i's length and bytes are a hash
 * of (seed, i), so the same run is the same on both backends.
 *
 * Ownership: the connect in flight is the redialer's (apps/redial.h);
 * a connection's protocol is freed by its release. free() detaches both
 * from the state before freeing it, so a late callback finds no app and
 * does nothing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "apps/pattern.h"
#include "apps/redial.h"
#include "twin/mix.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/tls.h"
#include "twin/twin.h"

typedef struct load {
    tw_loop *loop;
    FILE *out; /* NULL: quiet */
    /* the options */
    tw_opt_hostport connect;
    uint64_t messages, size_max, seed, attempts_max;
    tw_ns timeout, retry;
    bool no_reconnect, quiet;
    tw_tls_app tls_opts; /* --tls...: every connection is TLS */
    tw_tls_ctx *tls;
    /* progress */
    apps_redial dial; /* and the connection: dial.conn */
    uint64_t next;   /* messages verified = index of the one in flight */
    uint64_t got;    /* its bytes echoed so far */
    tw_ns sent_at;
    /* the watchdog and the clock checks */
    tw_handle watchdog;
    tw_ns watchdog_due, last_now;
    bool done;
    char violation[192];
} load;

/* ---- messages ---- */


static uint64_t msg_len(const load *a, uint64_t i)
{
    return 1 + tw_mix64(a->seed * 31 + i) % a->size_max;
}

/* Message i's byte k is byte k % 8 of word k / 8: the word is
 * tw_mix64(base + k / 8), base = tw_mix64(seed ^ (i << 20)). */
static uint64_t msg_base(const load *a, uint64_t i)
{
    return tw_mix64(a->seed ^ (i << 20));
}

static uint64_t msg_word(const void *base, uint64_t index)
{
    return tw_mix64(*(const uint64_t *)base + index);
}

/* Keep the first broken promise: it is the one that explains the rest. */
__attribute__((format(printf, 2, 3)))
static void violate(load *a, const char *fmt, ...)
{
    if (a->violation[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->violation, sizeof a->violation, fmt, ap);
    va_end(ap);
}

static void send_current(load *a)
{
    uint8_t buf[4096];
    uint64_t len = msg_len(a, a->next);
    a->got = 0;
    a->sent_at = tw_loop_now(a->loop);
    uint64_t base = msg_base(a, a->next);
    for (uint64_t off = 0; off < len;) {
        size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
        apps_pattern_fill(buf, off, n, msg_word, &base);
        tw_transport_write(apps_redial_transport(&a->dial), buf, n);
        off += n;
    }
}

/* ---- reconnecting ---- */

static void stop_watchdog(load *a)
{
    if (a->watchdog)
        tw_handle_cancel(a->loop, a->watchdog);
    a->watchdog = 0;
}

/* A connection or a connect failed: tried again later, or given up. */
static void on_failure(void *arg, int err, bool again)
{
    load *a = arg;
    if (a->out)
        fprintf(a->out, "echo-load: connection failed (%s) at message %llu\n",
                tw_strerror(err), (unsigned long long)a->next);
    if (!again)
        stop_watchdog(a);
}

/* ---- the connection protocol ---- */

static void c_made(tw_protocol *p, tw_transport *t)
{
    load *a = apps_redial_made(p, t);
    if (a)
        send_current(a);
}

static void c_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    load *a = apps_redial_app(p);
    if (!a || a->done)
        return;
    uint64_t len = msg_len(a, a->next);
    uint64_t base = msg_base(a, a->next);
    size_t m = len - a->got < n ? (size_t)(len - a->got) : n;
    size_t k = apps_pattern_mismatch(d, a->got, m, msg_word, &base);
    if (k < m) {
        uint8_t want;
        apps_pattern_fill(&want, a->got + k, 1, msg_word, &base);
        violate(a, "message %llu byte %llu: echoed 0x%02x, sent 0x%02x",
                (unsigned long long)a->next, (unsigned long long)(a->got + k),
                d[k], want);
    }
    a->got += m;
    if (m < n)
        violate(a, "message %llu: echo longer than the %llu bytes sent",
                (unsigned long long)a->next, (unsigned long long)len);
    if (a->got < len)
        return;
    a->next++;
    if (a->next < a->messages) {
        send_current(a);
        return;
    }
    a->done = true;
    stop_watchdog(a);
    if (a->out)
        fprintf(a->out, "echo-load: %llu messages echoed intact over %llu "
                        "connection(s)\n",
                (unsigned long long)a->messages, (unsigned long long)a->dial.connects);
    tw_transport_close(apps_redial_transport(&a->dial));
}

static void c_lost(tw_protocol *p, int err)
{
    load *a = apps_redial_lost(p);
    if (a && !a->done)
        apps_redial_failed(&a->dial, err ? err : -ECONNRESET);
}

static const tw_protocol_ops conn_ops = {
    .connection_made = c_made,
    .data_received = c_data,
    .connection_lost = c_lost,
    .release = apps_redial_release,
};

/* ---- the watchdog ---- */

static void watchdog_cb(void *arg)
{
    load *a = arg;
    tw_ns now = tw_loop_now(a->loop);
    a->watchdog = 0;
    if (now < a->last_now)
        violate(a, "the clock went back from %lld to %lld ns",
                (long long)a->last_now, (long long)now);
    if (now < a->watchdog_due)
        violate(a, "a timer due at %lld ns fired at %lld ns",
                (long long)a->watchdog_due, (long long)now);
    a->last_now = now;
    if (a->done || a->dial.gave_up)
        return;
    tw_transport *t = apps_redial_transport(&a->dial);
    if (t && now - a->sent_at > a->timeout)
        tw_transport_abort(t); /* the echo is late: start over */
    tw_ns every = a->timeout / 4 > 0 ? a->timeout / 4 : 1;
    a->watchdog_due = now + every;
    a->watchdog = tw_call_later(a->loop, every, watchdog_cb, a);
}

/* ---- options ---- */

static const tw_opt load_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, load, connect),
     .def = "127.0.0.1:8888",
     .help = "an echo-server --keep-open (default 127.0.0.1:8888)"},
    {.name = "messages", TW_OPT_FIELD(TW_OPT_U64, load, messages), .def = "100",
     .min = 1, .help = "messages to echo, one at a time (default 100)"},
    {.name = "size", TW_OPT_FIELD(TW_OPT_BYTES, load, size_max), .def = "1024",
     .min = 1, .max = 1 << 24,
     .help = "largest message; lengths vary (default 1024)"},
    {.name = "timeout", TW_OPT_FIELD(TW_OPT_DURATION, load, timeout), .def = "2s",
     .min = 1, .help = "an echo slower than this: reconnect (default 2s)"},
    {.name = "retry", TW_OPT_FIELD(TW_OPT_DURATION, load, retry), .def = "100ms",
     .min = 1, .help = "first reconnect delay, doubling to 2s (default 100ms)"},
    {.name = "attempts", TW_OPT_FIELD(TW_OPT_U64, load, attempts_max),
     .help = "give up after N connects (default 0: never)"},
    {.name = "no-reconnect", TW_OPT_FIELD(TW_OPT_FLAG, load, no_reconnect),
     .help = "give up at the first failure"},
    {.name = "seed", TW_OPT_FIELD(TW_OPT_U64, load, seed),
     .help = "varies the messages (default 0)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, load, quiet), .help = "no output"},
    {.kind = TW_OPT_INCLUDE, .sub = tw_tls_client_opts,
     .off = offsetof(load, tls_opts)},
    {0},
};

TW_OPTS_USAGE_TEXT(load_usage, 2048, load_table)

/* ---- the app ---- */

static int load_start(tw_loop *loop, int argc, char **argv, FILE *out,
                      void **state)
{
    load *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    int rc = tw_opts_parse(load_table, a, argc, argv, out);
    bool quiet = a->quiet;
    if (rc == 0)
        a->tls = tw_tls_app_ctx(&a->tls_opts, TW_TLS_CLIENT, "echo-load", out,
                                 quiet, &rc);
    if (rc < 0) {
        free(a);
        return rc;
    }
    a->out = quiet ? NULL : out;
    a->dial = (apps_redial){.loop = loop, .host = a->connect.host,
                           .port = a->connect.port, .tls = a->tls,
                           .retry = a->retry, .attempts_max = a->attempts_max,
                           .once = a->no_reconnect,
                           .ops = &conn_ops, .arg = a, .on_failure = on_failure};
    a->last_now = tw_loop_now(loop);
    a->watchdog_due = a->last_now + a->timeout / 4;
    a->watchdog = tw_call_later(loop, a->timeout / 4, watchdog_cb, a);
    apps_redial_start(&a->dial);
    *state = a;
    return 0;
}

static const char *load_invariant(void *state)
{
    load *a = state;
    return a->violation[0] ? a->violation : NULL;
}

static bool load_done(void *state)
{
    load *a = state;
    return a->done || a->dial.gave_up;
}

static int load_result(void *state)
{
    load *a = state;
    return a->done && !a->violation[0] ? 0 : 1;
}

/* Loop alive: detach what may still call back, close what is open. */
static void load_free(void *state)
{
    load *a = state;
    stop_watchdog(a);
    apps_redial_stop(&a->dial);
    tw_tls_ctx_free(a->tls); /* connections hold their own references */
    free(a);
}

/* After a simulated crash: connections and timers are gone; the pending
 * connect never calls back, so its attempt is ours to free. */
static void load_discard(void *state)
{
    load *a = state;
    apps_redial_discard(&a->dial);
    tw_tls_ctx_free(a->tls);
    free(a);
}

const tw_app tw__app_echo_load = {
    .name = "echo-load",
    .summary = "checked echo workload: N messages, every byte verified, "
               "reconnects after failures",
    .usage = load_usage,
    .opts = load_table,
    .start = load_start,
    .result = load_result,
    .free = load_free,
    .invariant = load_invariant,
    .done = load_done,
    .discard = load_discard,
};
