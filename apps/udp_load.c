/* apps/udp_load.c - the app `udp-load`: a checked datagram workload for
 * a `udp-echo-server`, that counts what UDP does to datagrams.
 *
 * Map: datagrams (a sequence number, then bytes that depend on it); the
 * endpoint's protocol; sending, resending, reopening; options; the app.
 *
 * It keeps --window datagrams outstanding out of N, each "seq (8 bytes,
 * little-endian) + payload", the payload's length and bytes a hash of
 * seq. Every echo is checked: a payload that does not match its seq is
 * counted as corrupt and ignored (a real stack's checksum would have
 * dropped it), a seq seen before is a duplicate, a seq lower than the
 * highest seen is reordered. Datagrams not echoed within --timeout are
 * sent again. Done when every seq came back once. The invariant: never an
 * echo of a datagram that was not sent (that would be the network making
 * data up, not losing or repeating it).
 *
 * Ownership: the endpoint's protocol is its own object, freed by
 * release; free/discard detach or drop the app state (echo_load.c's rule).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/mix.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/datagram.h"
#include "twin/parse.h"
#include "twin/twin.h"

#define SIZE_MAX_BYTES 8192
#define HEADER 8

typedef struct uload uload;

typedef struct uep {
    tw_protocol base;
    uload *app;
    tw_transport *t;
} uep;

struct uload {
    tw_loop *loop;
    FILE *out;
    tw_addr remote;
    uint64_t n, size_max, window;
    tw_ns timeout;
    uep *ep;
    uint8_t *got;       /* echoes seen per seq (saturating) */
    uint64_t base, next, echoed, max_seen;
    uint64_t dups, reordered, corrupt, sends, reopens;
    tw_handle timer;
    bool done;
    char violation[160];
};

/* ---- datagrams ---- */


static size_t payload_len(const uload *a, uint64_t seq)
{
    return 8 + (size_t)(tw_mix64(seq) % (a->size_max - 8 + 1));
}

static uint8_t payload_byte(uint64_t seq, size_t i)
{
    return (uint8_t)(tw_mix64(seq * 131 + i / 8) >> (8 * (i % 8)));
}

static void send_seq(uload *a, uint64_t seq)
{
    uint8_t buf[HEADER + SIZE_MAX_BYTES];
    size_t len = payload_len(a, seq);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(seq >> (8 * i));
    for (size_t i = 0; i < len; i++)
        buf[HEADER + i] = payload_byte(seq, i);
    a->sends++;
    tw_transport_sendto(a->ep->t, buf, HEADER + len, NULL);
}

/* Keep the window full. */
static void fill(uload *a)
{
    while (a->ep && a->ep->t && a->next < a->n && a->next - a->base < a->window)
        send_seq(a, a->next++);
}

/* ---- the protocol ---- */

static void open_ep(uload *a);

static void finish(uload *a)
{
    a->done = true;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    a->timer = 0;
    if (a->out)
        fprintf(a->out, "udp-load: %llu datagrams echoed (%llu sends, %llu "
                        "duplicates, %llu reordered, %llu corrupt)\n",
                (unsigned long long)a->n, (unsigned long long)a->sends,
                (unsigned long long)a->dups, (unsigned long long)a->reordered,
                (unsigned long long)a->corrupt);
    if (a->ep && a->ep->t)
        tw_transport_close(a->ep->t);
}

static void ep_made(tw_protocol *p, tw_transport *t)
{
    uep *e = (uep *)p;
    e->t = t;
    if (e->app)
        fill(e->app);
    else
        tw_transport_close(t);
}

static void ep_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                        const tw_addr *from)
{
    uep *e = (uep *)p;
    uload *a = e->app;
    (void)from;
    if (!a || a->done)
        return;
    uint64_t seq = 0;
    bool ok = n >= HEADER + 8;
    for (int i = 0; ok && i < 8; i++)
        seq |= (uint64_t)d[i] << (8 * i);
    ok = ok && seq < a->n && n == HEADER + payload_len(a, seq);
    for (size_t i = 0; ok && i < n - HEADER; i++)
        ok = d[HEADER + i] == payload_byte(seq, i);
    if (!ok) {
        a->corrupt++;
        return;
    }
    if (seq >= a->next) {
        if (!a->violation[0])
            snprintf(a->violation, sizeof a->violation,
                     "an echo of datagram %llu, which was never sent",
                     (unsigned long long)seq);
        return;
    }
    if (a->got[seq]) {
        a->dups++;
        return;
    }
    a->got[seq] = 1;
    a->echoed++;
    if (seq < a->max_seen)
        a->reordered++;
    else
        a->max_seen = seq;
    while (a->base < a->next && a->got[a->base])
        a->base++;
    if (a->echoed == a->n)
        finish(a);
    else
        fill(a);
}

static void ep_lost(tw_protocol *p, int err)
{
    uep *e = (uep *)p;
    uload *a = e->app;
    (void)err;
    if (!a)
        return;
    a->ep = NULL;
    e->app = NULL;
    if (!a->done) { /* the endpoint went away (a crash of its path?): again */
        a->reopens++;
        open_ep(a);
    }
}

static void ep_release(tw_protocol *p)
{
    uep *e = (uep *)p;
    if (e->app && e->app->ep == e)
        e->app->ep = NULL;
    free(e);
}

static const tw_protocol_ops uep_ops = {
    .connection_made = ep_made,
    .datagram_received = ep_datagram,
    .connection_lost = ep_lost,
    .release = ep_release,
};

static tw_protocol *ep_factory(void *arg)
{
    uload *a = arg;
    uep *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->base.ops = &uep_ops;
    e->app = a;
    a->ep = e;
    return &e->base;
}

/* ---- resending, reopening ---- */

static void tick(void *arg)
{
    uload *a = arg;
    a->timer = 0;
    if (a->done)
        return;
    if (!a->ep) {
        open_ep(a);
    } else if (a->ep->t) {
        for (uint64_t s = a->base; s < a->next; s++)
            if (!a->got[s])
                send_seq(a, s);
    }
    a->timer = tw_call_later(a->loop, a->timeout, tick, a);
}

static void open_ep(uload *a)
{
    tw_datagram_opts o = {.remote = a->remote};
    if (tw_create_datagram_endpoint(a->loop, ep_factory, a, &o, NULL) < 0)
        a->ep = NULL; /* the next tick tries again */
}

/* ---- options and the app ---- */

typedef struct ul_opts {
    const char *target;
    uint64_t n, size_max, window;
    tw_ns timeout;
    bool quiet;
} ul_opts;

static const tw_opt ul_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_STRING, ul_opts, target),
     .def = "127.0.0.1:9999", .meta = "HOST:PORT",
     .help = "the server, numeric (default 127.0.0.1:9999)"},
    {.name = "datagrams", TW_OPT_FIELD(TW_OPT_U64, ul_opts, n), .def = "200",
     .min = 1, .max = 1 << 24, .help = "datagrams to get echoed (default 200)"},
    {.name = "size", TW_OPT_FIELD(TW_OPT_BYTES, ul_opts, size_max), .def = "512",
     .min = 8, .max = SIZE_MAX_BYTES,
     .help = "largest payload, 8..8192 (default 512)"},
    {.name = "window", TW_OPT_FIELD(TW_OPT_U64, ul_opts, window), .def = "8",
     .min = 1, .help = "datagrams outstanding at once (default 8)"},
    {.name = "timeout", TW_OPT_FIELD(TW_OPT_DURATION, ul_opts, timeout),
     .def = "200ms", .min = 1,
     .help = "resend what is not echoed after it (default 200ms)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, ul_opts, quiet), .help = "no output"},
    {0},
};

TW_OPTS_USAGE_TEXT(ul_usage, 2048, ul_table)

static int ul_start(tw_loop *loop, int argc, char **argv, FILE *out,
                    void **state)
{
    ul_opts o = {0};
    int rc = tw_opts_parse(ul_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    uload a0 = {.loop = loop, .n = o.n, .size_max = o.size_max,
                .window = o.window, .timeout = o.timeout};
    const char *target = o.target;
    bool quiet = o.quiet;
    if (tw_addr_parse(&a0.remote, target) < 0) {
        fprintf(out, "udp-load: --connect: expected a numeric HOST:PORT, got '%s'\n",
                target);
        return -EINVAL;
    }
    uload *a = malloc(sizeof *a);
    if (!a)
        return -ENOMEM;
    *a = a0;
    a->out = quiet ? NULL : out;
    a->got = calloc(a->n, 1);
    if (!a->got) {
        free(a);
        return -ENOMEM;
    }
    tw_datagram_opts dopts = {.remote = a->remote};
    rc = tw_create_datagram_endpoint(loop, ep_factory, a, &dopts, NULL);
    if (rc < 0) {
        fprintf(out, "udp-load: cannot open an endpoint to %s: %s\n", target,
                tw_strerror(rc));
        free(a->got);
        free(a);
        return rc;
    }
    a->timer = tw_call_later(loop, a->timeout, tick, a);
    *state = a;
    return 0;
}

static const char *ul_invariant(void *state)
{
    uload *a = state;
    return a->violation[0] ? a->violation : NULL;
}

static bool ul_done(void *state) { return ((uload *)state)->done; }

static int ul_result(void *state)
{
    uload *a = state;
    return a->done && !a->violation[0] ? 0 : 1;
}

static void ul_free(void *state)
{
    uload *a = state;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    if (a->ep) {
        a->ep->app = NULL;
        if (a->ep->t)
            tw_transport_close(a->ep->t);
    }
    free(a->got);
    free(a);
}

static void ul_discard(void *state)
{
    uload *a = state;
    free(a->got);
    free(a);
}

const tw_app tw__app_udp_load = {
    .name = "udp-load",
    .summary = "checked datagram workload for a udp-echo-server: counts "
               "loss, duplicates, reordering, corruption",
    .usage = ul_usage,
    .opts = ul_table,
    .start = ul_start,
    .result = ul_result,
    .free = ul_free,
    .invariant = ul_invariant,
    .done = ul_done,
    .discard = ul_discard,
};
