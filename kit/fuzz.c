/* kit/fuzz.c - tw_fuzz_protocol (twin/fuzz.h): a protocol on a simulated
 * node, its peer the fuzzer's input.
 *
 * Map:
 *   the guard      where each chunk is placed (right before an unmapped
 *                  page) and spoiled after the call
 *   the transport  a stream or datagram transport of the core whose
 *                  backend is this file: output goes to the caller, the
 *                  peer reads fast or slowly
 *   feeding        the input's header, one chunk per call, the end
 *   watching       the loop's callback hook counts what the protocol saw;
 *                  the contract handler
 *   the run        world, node, transport; stepping with bounds; the end
 *
 * Why a transport of its own rather than a simulated connection: the
 * simulator draws its own chunk sizes, and here the input must choose
 * them exactly; a fuzzer also wants thousands of runs a second, which a
 * world with one node and no network events gives. Everything above the
 * backend (the core's transport rules, the contract checker, the loop and
 * its virtual clock) is the same code a simulated or real connection
 * runs.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim/trace.h"
#include "sim/world.h"
#include "twin/fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FZ_SLOW_BYTES 512            /* the slow peer reads this per tick */
#define FZ_TICK_NS TW_MS(1)
#define FZ_LINGER_NS TW_SEC(2)
#define FZ_STEPS_MAX (1u << 20)      /* world steps per run, at most */
#define FZ_SPOIL 0xdd

/* ---- the guard ----
 * Two slots, used in turn, each a run of pages followed by a PROT_NONE
 * page: a chunk is copied to end at the guard, so one byte read past it
 * faults. Turns matter for the stale-pointer check: the chunk just
 * delivered is spoiled, and the next one goes to the other slot, so a
 * parser still reading the old pointer finds the spoiled bytes rather
 * than the new chunk. Kept across runs (a fuzzer calls millions of
 * times); per thread, as a run is. */

static __thread uint8_t *guard_base;
static __thread size_t guard_cap, guard_slot_len;
static __thread unsigned guard_turn;

static size_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static int guard_reserve(size_t n)
{
    if (n <= guard_cap && guard_base)
        return 0;
    size_t pg = page_size();
    size_t cap = (n + pg - 1) / pg * pg;
    if (cap < 4 * pg)
        cap = 4 * pg;
    size_t slot = cap + pg;
    uint8_t *b = mmap(NULL, 2 * slot, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        return -ENOMEM;
    if (mprotect(b + cap, pg, PROT_NONE) < 0 ||
        mprotect(b + slot + cap, pg, PROT_NONE) < 0) {
        munmap(b, 2 * slot);
        return -ENOMEM;
    }
    if (guard_base) {
        /* Shadow memory outlives munmap: clear it, or a later mapping at
         * this address would look poisoned. */
        FZ_UNPOISON(guard_base, guard_cap);
        FZ_UNPOISON(guard_base + guard_slot_len, guard_cap);
        munmap(guard_base, 2 * guard_slot_len);
    }
    guard_base = b;
    guard_cap = cap;
    guard_slot_len = slot;
    return 0;
}

/* A copy of src[0..n) ending right before a guard page (n <= guard_cap). */
static uint8_t *guard_place(const uint8_t *src, size_t n)
{
    guard_turn ^= 1;
    uint8_t *end = guard_base + guard_turn * guard_slot_len + guard_cap;
    FZ_UNPOISON(end - guard_cap, guard_cap);
    memcpy(end - n, src, n);
    return end - n;
}

/* After the call: the bytes are no longer the protocol's to read. */
static void guard_spoil(uint8_t *p, size_t n)
{
    memset(p, FZ_SPOIL, n);
    FZ_POISON(p, n);
}

/* ---- one run ---- */

typedef struct fz_run {
    tw_transport t; /* first: the core's transport */
    tw_sim *sim;
    tw_loop *loop;
    const tw_fuzz_opts *o;
    tw_fuzz_stats st;
    tw_protocol *proto; /* made before the transport, handed over by give */
    bool dgram, reset_end, slow;
    tw_ns interval, linger;
    const uint8_t *cuts, *pay;
    size_t ncuts, cut_i, plen, pos, chunk_left;
    bool feed_pending, ended, destroyed, violated;
    /* the peer's reading: what send may take until the next tick */
    size_t budget;
    bool want_write, tick_pending;
    tw_addr from; /* the peer, for datagrams */
    FILE *tr;     /* opts->trace, or stderr under TWIN_FUZZ_TRACE */
    size_t chunks;
    struct fz_out *out; /* check_cuts: every byte written, kept */
} fz_run;

/* What one run wrote, for check_cuts. */
typedef struct fz_out {
    uint8_t *b;
    size_t len, cap;
    bool failed; /* no memory: nothing to compare */
} fz_out;

static void out_add(fz_out *o, const void *data, size_t len)
{
    if (o->failed)
        return;
    if (o->len + len > o->cap) {
        size_t cap = (o->len + len) * 2;
        uint8_t *b = realloc(o->b, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->len, data, len);
    o->len += len;
}

/* ---- the trace of a run (opts->trace) ---- */

/* Up to 64 bytes as a C string literal, then how many more there were. */
static void tr_bytes(FILE *f, const uint8_t *d, size_t n)
{
    size_t show = n < 64 ? n : 64;
    fputc('"', f);
    for (size_t i = 0; i < show; i++) {
        uint8_t c = d[i];
        if (c == '\\' || c == '"')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, f);
        else
            fprintf(f, "\\x%02x", c);
    }
    fputc('"', f);
    if (show < n)
        fprintf(f, " (+%zu more)", n - show);
}

static void tr_head(fz_run *fz, tw_ns at)
{
    fprintf(fz->tr, "fuzz %10.3f ms: ", (double)at / 1e6);
}

static void tr_input(fz_run *fz, const uint8_t *data, size_t size)
{
    FILE *f = fz->tr;
    fprintf(f, "fuzz input: %zu bytes", size);
    if (size == 0) {
        fprintf(f, ": empty (connection_made, EOF, connection_lost)\n");
        return;
    }
    fprintf(f, ", header 0x%02x: %zu cut byte(s)", data[0], fz->ncuts);
    if (fz->ncuts) {
        fprintf(f, ", chunks of");
        for (size_t i = 0; i < fz->ncuts; i++)
            fprintf(f, "%s %u", i ? "," : "", (unsigned)fz->cuts[i] + 1);
        fprintf(f, " bytes, repeating");
    } else {
        fprintf(f, ", the payload in one chunk");
    }
    fprintf(f, "; ends with %s; %s reader; %s between chunks\n",
            fz->reset_end ? (fz->dgram ? "error_received(-ECONNREFUSED)" : "a reset")
                          : (fz->dgram ? "nothing" : "EOF"),
            fz->slow ? "a slow (512 B/ms)" : "a fast",
            fz->interval == TW_SEC(1) ? "1 s" : "1 ms");
    fprintf(f, "fuzz payload: %zu bytes: ", fz->plen);
    tr_bytes(f, fz->pay, fz->plen);
    fputc('\n', f);
}

static void schedule_feed(fz_run *fz, tw_ns delay);

/* ---- the transport ---- */

static void output(fz_run *fz, const void *data, size_t len)
{
    if (!len)
        return;
    if (fz->tr) {
        tr_head(fz, tw_sim_now(fz->sim));
        fprintf(fz->tr, "protocol wrote %zu bytes: ", len);
        tr_bytes(fz->tr, data, len);
        fputc('\n', fz->tr);
    }
    fz->st.bytes_out += len;
    if (fz->out)
        out_add(fz->out, data, len);
    if (fz->o->on_output)
        fz->o->on_output(fz->o->output_arg, data, len);
}

static ssize_t fz_send(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    fz_run *fz = (fz_run *)t;
    size_t room = fz->slow ? fz->budget : SIZE_MAX, took = 0;
    for (int i = 0; i < iovcnt && room > 0; i++) {
        size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
        output(fz, iov[i].iov_base, n);
        took += n;
        room -= n;
    }
    if (fz->slow)
        fz->budget -= took;
    if (took)
        fz->st.writes_out++;
    return (ssize_t)took;
}

/* The slow peer reads its next share: the core may flush again. */
static void tick_cb(void *arg)
{
    fz_run *fz = arg;
    fz->tick_pending = false;
    if (fz->destroyed)
        return;
    fz->budget = FZ_SLOW_BYTES;
    if (fz->want_write)
        tw__transport_writable(&fz->t);
    if (!fz->destroyed && fz->want_write && !fz->tick_pending &&
        tw_call_later(fz->loop, FZ_TICK_NS, tick_cb, fz))
        fz->tick_pending = true;
}

static void fz_want_write(tw_transport *t, bool on)
{
    fz_run *fz = (fz_run *)t;
    fz->want_write = on;
    if (on && !fz->tick_pending &&
        tw_call_later(fz->loop, fz->slow ? FZ_TICK_NS : 0, tick_cb, fz))
        fz->tick_pending = true;
}

static void fz_want_read(tw_transport *t, bool on)
{
    fz_run *fz = (fz_run *)t;
    if (on)
        schedule_feed(fz, 0); /* resumed: the rest comes now */
}

static int fz_shutdown_write(tw_transport *t)
{
    ((fz_run *)t)->st.eof_out = true;
    return 0;
}

static void fz_destroy(tw_transport *t) { ((fz_run *)t)->destroyed = true; }

static int fz_sendto(tw_transport *t, const void *data, size_t len,
                     const tw_addr *addr)
{
    fz_run *fz = (fz_run *)t;
    (void)addr; /* the core checked it against the endpoint's rules */
    output(fz, data, len);
    fz->st.writes_out++;
    return 0;
}

static const tw__transport_ops fz_stream_ops = {
    .send = fz_send,
    .want_write = fz_want_write,
    .want_read = fz_want_read,
    .shutdown_write = fz_shutdown_write,
    .destroy = fz_destroy,
    .can_write_eof = true,
};

static const tw__transport_ops fz_dgram_ops = {
    .send = fz_send,
    .want_write = fz_want_write,
    .want_read = fz_want_read,
    .shutdown_write = fz_shutdown_write,
    .destroy = fz_destroy,
    .sendto = fz_sendto,
};

static tw_protocol *give(void *arg)
{
    fz_run *fz = arg;
    tw_protocol *p = fz->proto;
    fz->proto = NULL;
    return p;
}

/* ---- feeding ---- */

static void feed_cb(void *arg);

static void schedule_feed(fz_run *fz, tw_ns delay)
{
    if (fz->feed_pending || fz->ended || fz->destroyed)
        return;
    if (tw_call_later(fz->loop, delay, feed_cb, fz))
        fz->feed_pending = true;
}

static size_t next_len(fz_run *fz)
{
    size_t left = fz->plen - fz->pos;
    size_t n = fz->chunk_left;
    if (!n)
        n = fz->ncuts ? (size_t)fz->cuts[fz->cut_i++ % fz->ncuts] + 1 : left;
    return n < left ? n : left;
}

static void deliver_one(fz_run *fz)
{
    tw_transport *t = &fz->t;
    size_t n = next_len(fz);
    if (fz->tr) {
        tr_head(fz, tw_sim_now(fz->sim));
        fprintf(fz->tr, "chunk %zu: payload[%zu..%zu) %zu bytes: ", ++fz->chunks,
                fz->pos, fz->pos + n, n);
        tr_bytes(fz->tr, fz->pay + fz->pos, n);
        fputc('\n', fz->tr);
    }
    uint8_t *d = guard_place(fz->pay + fz->pos, n);
    size_t took = n;
    if (fz->dgram)
        tw__transport_datagram(t, d, n, &fz->from);
    else
        took = tw__transport_deliver(t, d, n);
    guard_spoil(d, n);
    if (fz->tr && took < n) {
        tr_head(fz, tw_sim_now(fz->sim));
        fprintf(fz->tr, "chunk %zu: %zu of its bytes taken, the rest wait\n",
                fz->chunks, took);
    }
    fz->pos += took;
    fz->st.bytes_in += took;
    /* A buffered protocol that paused part way gets the rest later, as
     * the remainder of the same chunk. */
    fz->chunk_left = (t->flags & TW__T_CLOSING) ? 0 : n - took;
    if (!fz->dgram && (t->flags & TW__T_LOST) && t->lost_err == -ENOBUFS)
        tw__contract_fail(t, TW__EV_GET_BUFFER,
                          "returned an empty buffer, which the reference "
                          "text calls an error");
}

static void end_input(fz_run *fz)
{
    tw_transport *t = &fz->t;
    fz->ended = true;
    if (fz->tr) {
        tr_head(fz, tw_sim_now(fz->sim));
        fprintf(fz->tr, "input over: %s\n",
                fz->reset_end ? (fz->dgram ? "error_received(-ECONNREFUSED)"
                                           : "reset (-ECONNRESET)")
                              : (fz->dgram ? "no more datagrams" : "EOF"));
    }
    if (fz->dgram) {
        if (fz->reset_end) /* an ICMP port unreachable, as it were */
            tw__transport_error_received(t, -ECONNREFUSED);
        return;
    }
    if (fz->reset_end)
        tw__transport_fatal(t, -ECONNRESET);
    else
        tw__transport_eof(t);
}

static void feed_cb(void *arg)
{
    fz_run *fz = arg;
    fz->feed_pending = false;
    /* Not reading: paused (resume_reading brings us back through
     * want_read) or closing (the rest of the input is never read). */
    if (fz->destroyed || fz->ended || !tw__transport_reading(&fz->t))
        return;
    if (fz->pos < fz->plen) {
        deliver_one(fz);
        schedule_feed(fz, fz->pos < fz->plen ? fz->interval : 0);
        return;
    }
    end_input(fz);
}

/* ---- watching ---- */

static void on_callback(tw_loop *loop, const tw_transport *t, unsigned ev)
{
    sim_trace_callback(loop, t, ev); /* the simulator's own hook first */
    if (t->ops != &fz_stream_ops && t->ops != &fz_dgram_ops)
        return; /* a connection the protocol made itself */
    fz_run *fz = (fz_run *)(uintptr_t)t;
    switch (ev) {
    case TW__EV_MADE:
        fz->st.made = true;
        break;
    case TW__EV_DATA:
    case TW__EV_BUFFER_UPDATED:
    case TW__EV_DATAGRAM:
        fz->st.calls_in++;
        break;
    case TW__EV_EOF:
        fz->st.eof_in = true;
        break;
    case TW__EV_PAUSE:
        fz->st.paused_writing = true;
        break;
    case TW__EV_LOST:
        fz->st.lost = true;
        fz->st.lost_err = t->lost_err;
        break;
    default:
        break;
    }
}

/* A violation: kept as the stats' first (kept: their field, or NULL),
 * then the caller's handler, or without one, an abort. */
static void tell_violation(const tw_fuzz_opts *o, char *kept, size_t cap,
                           const char *violation)
{
    if (kept && !kept[0])
        snprintf(kept, cap, "%s", violation);
    if (!o->on_violation) {
        fprintf(stderr, "%s\n", violation);
        abort(); /* a fuzzer keeps the input that did this */
    }
    o->on_violation(o->violation_arg, violation);
}

static void on_violation(void *arg, const char *violation)
{
    fz_run *fz = arg;
    fz->violated = true;
    tell_violation(fz->o, fz->st.violation, sizeof fz->st.violation, violation);
}

/* ---- the run ---- */

/* Step the world until done() or world time `until` or idle; false if
 * the step budget ran out. */
static bool run_while(fz_run *fz, tw_ns until, size_t *steps,
                      bool (*done)(const fz_run *))
{
    while (!done(fz) && tw_sim_now(fz->sim) < until) {
        if (++*steps > FZ_STEPS_MAX)
            return false;
        if (tw_sim_step(fz->sim) <= 0)
            break; /* idle, or the world failed */
    }
    return true;
}

static bool input_over(const fz_run *fz) { return fz->ended || fz->destroyed; }
static bool gone(const fz_run *fz) { return fz->destroyed; }
static bool never(const fz_run *fz) { (void)fz; return false; }

static void drive(fz_run *fz)
{
    size_t steps = 0;
    tw_ns now = tw_sim_now(fz->sim);
    /* Feeding: every chunk one interval apart; slack for pauses. */
    tw_ns feed_max = (tw_ns)(fz->plen + 2) * fz->interval + fz->linger;
    run_while(fz, now + feed_max, &steps, input_over);
    /* The input is over: the protocol has linger_ns to close. */
    run_while(fz, tw_sim_now(fz->sim) + fz->linger, &steps, gone);
    if (!fz->destroyed) {
        /* The peer gives up (a no-op if connection_lost is under way); a
         * datagram endpoint has no peer to do that: its owner closes it. */
        if (fz->dgram)
            tw_transport_abort(&fz->t);
        else
            tw__transport_fatal(&fz->t, -ECONNRESET);
        size_t left = 0;
        run_while(fz, INT64_MAX, &left, gone);
    }
    /* Whatever the protocol left scheduled runs now, not never: a timer
     * on a released protocol is a use after free the sanitizer sees. */
    run_while(fz, tw_sim_now(fz->sim) + fz->linger, &steps, never);
}

static void parse_input(fz_run *fz, const uint8_t *data, size_t size)
{
    fz->interval = TW_MS(1);
    if (size == 0)
        return;
    uint8_t h = data[0];
    size_t n = h & 0x1f;
    if (n > size - 1)
        n = size - 1;
    fz->reset_end = h & 0x20;
    fz->slow = h & 0x40;
    if (h & 0x80)
        fz->interval = TW_SEC(1);
    fz->cuts = data + 1;
    fz->ncuts = n;
    fz->pay = data + 1 + n;
    fz->plen = size - 1 - n;
}

const uint8_t *tw_fuzz_payload(const uint8_t *data, size_t size, size_t *len)
{
    fz_run fz;
    memset(&fz, 0, sizeof fz);
    parse_input(&fz, data, size);
    *len = fz.plen;
    return fz.plen ? fz.pay : NULL;
}

static bool is_dgram(const tw_protocol *p)
{
    const tw_protocol_ops *ops = p->ops;
    return ops->datagram_received && !ops->data_received && !ops->get_buffer;
}

static tw_sim *new_world(const tw_fuzz_opts *o, FILE *tr)
{
    tw_sim_opts so;
    memset(&so, 0, sizeof so);
    /* Small limits: one node, a handful of connections at most. */
    so.chunk_bytes_max = 16 * 1024;
    so.events_max = 1u << 16;
    so.endpoints_max = 1024;
    so.nodes_max = 4;
    so.buggify = o->buggify;
    so.trace_file = tr; /* a record per protocol callback among them */
    return tw_sim_new(o->seed, &so);
}

/* One run; its output kept in *out when out is not NULL, and whether
 * the protocol was a datagram one in *dgram. */
static int fuzz_run(tw_protocol_factory factory, void *arg, const uint8_t *data,
                    size_t size, const tw_fuzz_opts *opts, fz_out *out, bool *dgram)
{
    fz_run fz;
    memset(&fz, 0, sizeof fz);
    fz.o = opts;
    fz.out = out;
    fz.linger = fz.o->linger_ns > 0 ? fz.o->linger_ns : FZ_LINGER_NS;
    fz.budget = FZ_SLOW_BYTES;
    parse_input(&fz, data, size);
    fz.st.payload = fz.pay;
    fz.st.payload_len = fz.plen;
    fz.tr = fz.o->trace;
    if (!fz.tr) {
        const char *e = getenv("TWIN_FUZZ_TRACE");
        if (e && *e && strcmp(e, "0") != 0)
            fz.tr = stderr;
    }
    size_t chunk_max = fz.ncuts ? 256 : fz.plen;
    int rc = -ENOMEM;
    if (!factory || guard_reserve(chunk_max ? chunk_max : 1) < 0)
        goto out;
    fz.sim = new_world(fz.o, fz.tr);
    fz.loop = fz.sim ? tw_sim_add_node(fz.sim, "fuzz", "10.0.0.1") : NULL;
    if (!fz.loop)
        goto out;
    tw_loop_set_contract_check(fz.loop, true);
    tw_loop_set_contract_handler(fz.loop, on_violation, &fz);
    fz.loop->on_callback = on_callback;
    if (fz.o->on_loop)
        fz.o->on_loop(fz.o->hook_arg, fz.loop);
    fz.proto = factory(arg);
    if (!fz.proto || !fz.proto->ops)
        goto out;
    fz.dgram = is_dgram(fz.proto);
    if (fz.tr)
        tr_input(&fz, data, size);
    tw__transport_init(&fz.t, fz.loop, fz.dgram ? &fz_dgram_ops : &fz_stream_ops,
                       fz.dgram ? TW_TRANSPORT_DATAGRAM : TW_TRANSPORT_STREAM);
    tw_addr local;
    tw_addr_ip(&local, "10.0.0.1", 7);
    (void)tw__taddr_set(&fz.t.local, &local); /* IP: inline, cannot fail */
    tw_addr_ip(&fz.from, "10.0.0.2", 40000);
    if (!fz.dgram || fz.o->dgram_connected)
        (void)tw__taddr_set(&fz.t.peer, &fz.from);
    if (tw__transport_open(&fz.t, give, &fz, NULL) < 0)
        goto out; /* the protocol was released */
    drive(&fz);
    rc = fz.violated ? -EPROTO : 0;
out:
    tw_sim_free(fz.sim); /* anything still open is torn down, released */
    if (fz.loop && fz.o->on_done)
        fz.o->on_done(fz.o->hook_arg);
    if (fz.st.violation[0] && rc == 0)
        rc = -EPROTO;
    if (fz.o->stats)
        *fz.o->stats = fz.st;
    if (dgram)
        *dgram = fz.dgram;
    return rc;
}

/* The first byte where a and b differ (their common length if none). */
static size_t first_difference(const fz_out *a, const fz_out *b)
{
    size_t n = a->len < b->len ? a->len : b->len, i = 0;
    while (i < n && a->b[i] == b->b[i])
        i++;
    return i;
}

/* check_cuts: the payload again in one chunk; a violation if the
 * protocol wrote otherwise. */
static int check_cuts(tw_protocol_factory factory, void *arg, const uint8_t *data,
                      size_t size, const tw_fuzz_opts *o, const fz_out *cut)
{
    size_t ncuts = data[0] & 0x1f;
    if (ncuts > size - 1)
        ncuts = size - 1;
    assert(ncuts > 0);
    uint8_t *one = malloc(size - ncuts);
    if (!one)
        return 0; /* nothing to compare against */
    one[0] = data[0] & 0xe0; /* no cuts; the same end and pacing */
    memcpy(one + 1, data + 1 + ncuts, size - 1 - ncuts);
    tw_fuzz_opts o2 = *o;
    o2.on_output = NULL;
    o2.stats = NULL;
    o2.check_cuts = false;
    fz_out whole = {0};
    int rc = fuzz_run(factory, arg, one, size - ncuts, &o2, &whole, NULL);
    free(one);
    size_t at = first_difference(cut, &whole);
    if (rc == 0 && !whole.failed && (whole.len != cut->len || at < cut->len)) {
        char *text = NULL, msg[256];
        size_t tlen = 0;
        FILE *f = open_memstream(&text, &tlen);
        if (f) {
            fprintf(f, "fuzz: the output depends on the cuts: with the input's %zu cut(s) the "
                       "protocol wrote %zu bytes, with the payload in one chunk %zu; from byte "
                       "%zu: ", ncuts, cut->len, whole.len, at);
            tr_bytes(f, cut->b + at, cut->len - at > 32 ? 32 : cut->len - at);
            fputs(" against ", f);
            tr_bytes(f, whole.b + at, whole.len - at > 32 ? 32 : whole.len - at);
            fclose(f);
        }
        snprintf(msg, sizeof msg, "%s", text ? text : "fuzz: the output depends on the cuts");
        free(text);
        tell_violation(o, o->stats ? o->stats->violation : NULL,
                       o->stats ? sizeof o->stats->violation : 0, msg);
        rc = -EPROTO;
    }
    free(whole.b);
    return rc;
}

int tw_fuzz_protocol(tw_protocol_factory factory, void *arg,
                     const uint8_t *data, size_t size,
                     const tw_fuzz_opts *opts)
{
    static const tw_fuzz_opts defaults;
    const tw_fuzz_opts *o = opts ? opts : &defaults;
    if (!o->check_cuts || size < 2 || (data[0] & 0x1f) == 0)
        return fuzz_run(factory, arg, data, size, o, NULL, NULL);
    fz_out cut = {0};
    bool dgram = false;
    int rc = fuzz_run(factory, arg, data, size, o, &cut, &dgram);
    if (rc == 0 && !dgram && !cut.failed)
        rc = check_cuts(factory, arg, data, size, o, &cut);
    free(cut.b);
    return rc;
}
