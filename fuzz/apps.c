/* fuzz/apps.c - every app of proto/ and apps/ against a peer that lies:
 * the apps' own protocols (echo-load's checker, bulk-send's reply
 * parser, udp-load's datagram decoder, resp-client's reply parser, date's
 * and supervise's readers of a child's output, the servers) get the input
 * instead of what an honest peer would send.
 *
 * The input: one byte choosing the app, then twin/fuzz.h's layout (a
 * header, cuts, the payload). The app runs on node 10.0.0.1; the peer,
 * 10.0.0.2, listens on ports 7, 9000, 6399 and UDP 9999, connects to the
 * app's, and on every connection writes the payload in the input's cuts,
 * 1 ms apart, then EOF (or a reset, header bit 5). For date and
 * supervise the child program `liar` writes it to stdout instead and
 * exits (or dies of SIGSEGV). Oracles: no crash, the contract checker.
 * The apps' invariants are called but not judged: a lying peer is
 * exactly what breaks them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/datagram.h"
#include "twin/programs.h"
#include "twin/simproc.h"
#include "twin/twin.h"

static const char *const configs[][16] = {
    {"echo-server", "--host", "", "--port", "7", "--keep-open", "--quiet"},
    {"echo-server", "--host", "", "--port", "7", "--quiet"},
    {"bulk-recv", "--host", "", "--port", "9000", "--rate", "64KiB/s", "--quiet"},
    {"udp-echo-server", "--host", "10.0.0.1", "--port", "9999", "--quiet"},
    {"echo-load", "--connect", "10.0.0.2:7", "--messages", "4", "--size", "64",
     "--timeout", "200ms", "--quiet"},
    {"echo-client", "--connect", "10.0.0.2:7", "--message", "hi", "--count", "2",
     "--quiet"},
    {"bulk-send", "--connect", "10.0.0.2:9000", "--bytes", "16KiB", "--chunk",
     "4KiB", "--quiet"},
    {"udp-load", "--connect", "10.0.0.2:9999", "--datagrams", "8", "--window", "4",
     "--timeout", "100ms", "--quiet"},
    {"udp-echo-client", "--connect", "10.0.0.2:9999", "--count", "3", "--timeout",
     "100", "--retries", "1", "--quiet"},
    {"date", "--program", "liar"},
    {"supervise", "--restarts", "2", "--backoff", "10ms", "--quiet", "--", "liar"},
    {"resp-server", "--host", "", "--port", "6399", "--max-bulk", "64KiB",
     "--max-pending", "128KiB", "--max-output", "256KiB", "--max-keys", "100"},
    {"resp-client", "--connect", "10.0.0.2:6399", "--ops", "20", "--timeout",
     "300ms", "--quiet"},
};
#define NCONFIGS (sizeof configs / sizeof configs[0])

/* ---- the input: twin/fuzz.h's layout ---- */

static struct {
    const uint8_t *cuts, *pay;
    size_t ncuts, plen;
    bool reset;
} in;

static void parse(const uint8_t *d, size_t n)
{
    static const uint8_t none[1];
    memset(&in, 0, sizeof in);
    in.cuts = in.pay = none; /* never NULL: pointer arithmetic on it is fine */
    if (!n)
        return;
    size_t c = d[0] & 0x1f;
    c = c < n - 1 ? c : n - 1;
    in.reset = d[0] & 0x20;
    in.cuts = d + 1;
    in.ncuts = c;
    in.pay = d + 1 + c;
    in.plen = n - 1 - c;
}

/* The k-th chunk, as [*off, *off + *len); false past the end. */
static bool chunk(size_t *k, size_t *off, size_t *len)
{
    if (*off >= in.plen)
        return false;
    size_t n = in.ncuts ? (size_t)in.cuts[(*k)++ % in.ncuts] + 1 : in.plen;
    *len = n < in.plen - *off ? n : in.plen - *off;
    return true;
}

/* ---- the lying peer: streams ---- */

typedef struct liar {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    tw_handle timer;
    size_t k, off;
    bool dgram;
} liar;

static void liar_next(void *arg)
{
    liar *l = arg;
    size_t len;
    l->timer = 0;
    if (!l->t)
        return;
    if (!chunk(&l->k, &l->off, &len)) {
        if (l->dgram)
            return;
        if (in.reset)
            tw_transport_abort(l->t);
        else
            tw_transport_write_eof(l->t);
        return;
    }
    if (l->dgram)
        tw_transport_sendto(l->t, in.pay + l->off, len, NULL);
    else
        tw_transport_write(l->t, in.pay + l->off, len);
    l->off += len;
    l->timer = tw_call_later(l->loop, TW_MS(1), liar_next, l);
}

static void liar_made(tw_protocol *p, tw_transport *t)
{
    liar *l = (liar *)p;
    l->t = t;
    l->loop = tw_transport_loop(t);
    l->timer = tw_call_later(l->loop, TW_MS(1), liar_next, l);
}

static void liar_data(tw_protocol *p, const uint8_t *d, size_t n) {}

static void liar_lost(tw_protocol *p, int err)
{
    liar *l = (liar *)p;
    if (l->timer)
        tw_handle_cancel(l->loop, l->timer);
    l->timer = 0;
    l->t = NULL;
}

static void liar_release(tw_protocol *p)
{
    liar *l = (liar *)p;
    if (l->timer && l->loop)
        tw_handle_cancel(l->loop, l->timer);
    free(l);
}

static const tw_protocol_ops liar_ops = {
    .connection_made = liar_made,
    .data_received = liar_data,
    .connection_lost = liar_lost,
    .release = liar_release,
};

static tw_protocol *liar_factory(void *arg)
{
    liar *l = calloc(1, sizeof *l);
    if (l)
        l->base.ops = &liar_ops;
    return l ? &l->base : NULL;
}

/* ---- the lying peer: datagrams ---- */

/* A bound endpoint answers each datagram with the next chunk. */
typedef struct udp_liar {
    tw_protocol base;
    tw_transport *t;
    size_t k, off;
} udp_liar;

static void udp_made(tw_protocol *p, tw_transport *t) { ((udp_liar *)p)->t = t; }

static void udp_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                         const tw_addr *from)
{
    udp_liar *u = (udp_liar *)p;
    size_t len;
    if (!chunk(&u->k, &u->off, &len)) {
        u->k = u->off = 0; /* round again: the client keeps asking */
        if (!chunk(&u->k, &u->off, &len))
            return;
    }
    tw_transport_sendto(u->t, in.pay + u->off, len, from);
    u->off += len;
}

static const tw_protocol_ops udp_liar_ops = {
    .connection_made = udp_made,
    .datagram_received = udp_datagram,
};

static tw_protocol *udp_liar_factory(void *arg) { return arg; }

/* A connected endpoint pushes the chunks, 1 ms apart. */
static const tw_protocol_ops udp_pusher_ops = {
    .connection_made = liar_made,
    .connection_lost = liar_lost,
    .release = liar_release,
};

static tw_protocol *udp_pusher_factory(void *arg)
{
    liar *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->base.ops = &udp_pusher_ops;
    l->dgram = true;
    return &l->base;
}

/* ---- the lying child program ---- */

static void liar_prog_tick(tw_sim_proc *p)
{
    size_t *st = tw_sim_proc_data(p); /* [k, off] */
    size_t len;
    if (!chunk(&st[0], &st[1], &len)) {
        if (in.reset)
            tw_sim_proc_die(p, SIGSEGV);
        else
            tw_sim_proc_exit(p, in.plen & 1);
        return;
    }
    tw_sim_proc_write(p, 1, in.pay + st[1], len);
    st[1] += len;
    tw_sim_proc_timer(p, TW_MS(1), liar_prog_tick);
}

static void liar_prog_start(tw_sim_proc *p, int argc, char **argv)
{
    size_t *st = calloc(2, sizeof *st);
    if (!st) {
        tw_sim_proc_exit(p, 1);
        return;
    }
    tw_sim_proc_set_data(p, st);
    liar_prog_tick(p);
}

static void liar_prog_free(tw_sim_proc *p) { free(tw_sim_proc_data(p)); }

static const tw_sim_program liar_prog = {
    .start = liar_prog_start,
    .free = liar_prog_free,
};

/* ---- the run ---- */

static void violation(void *arg, const char *msg)
{
    fprintf(stderr, "apps: %s\n", msg);
    abort();
}

static void peer_setup(tw_loop *peer, udp_liar *u)
{
    tw_server *srv;
    tw_create_server(peer, liar_factory, NULL, "10.0.0.2", 7, NULL, &srv);
    tw_create_server(peer, liar_factory, NULL, "10.0.0.2", 9000, NULL, &srv);
    tw_create_server(peer, liar_factory, NULL, "10.0.0.2", 6399, NULL, &srv);
    tw_datagram_opts bound = {0};
    tw_addr_ip(&bound.local, "10.0.0.2", 9999);
    tw_create_datagram_endpoint(peer, udp_liar_factory, u, &bound, NULL);
    tw_create_connection(peer, liar_factory, NULL, "10.0.0.1", 7, NULL);
    tw_create_connection(peer, liar_factory, NULL, "10.0.0.1", 9000, NULL);
    tw_create_connection(peer, liar_factory, NULL, "10.0.0.1", 6399, NULL);
    tw_datagram_opts to = {0};
    tw_addr_ip(&to.remote, "10.0.0.1", 9999);
    tw_create_datagram_endpoint(peer, udp_pusher_factory, NULL, &to, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!size || (!devnull && !(devnull = fopen("/dev/null", "w"))))
        return 0;
    const char *const *cfg = configs[data[0] % NCONFIGS];
    parse(data + 1, size - 1);

    tw_sim_opts so;
    tw_sim_opts_default(&so);
    so.chunk_bytes_max = 4096;
    so.connect_timeout_ns = TW_MS(200);
    so.stall_timeout_ns = TW_MS(500);
    tw_sim *sim = tw_sim_new(0, &so);
    tw_loop *app = sim ? tw_sim_add_node(sim, "app", "10.0.0.1") : NULL;
    tw_loop *peer = app ? tw_sim_add_node(sim, "peer", "10.0.0.2") : NULL;
    if (!peer || tw_programs_register(sim) < 0 ||
        tw_sim_register_program(sim, "liar", &liar_prog) < 0) {
        tw_sim_free(sim);
        return 0;
    }
    tw_loop_set_contract_check(app, true);
    tw_loop_set_contract_handler(app, violation, NULL);
    udp_liar u = {.base.ops = &udp_liar_ops};

    char *argv[17];
    int argc = 0;
    while (argc < 15 && cfg[argc])
        argv[argc] = (char *)cfg[argc], argc++;
    argv[argc] = NULL;
    const tw_app *a = tw_app_find(argv[0]);
    void *state = NULL;
    if (!a || a->start(app, argc, argv, devnull, &state) < 0)
        abort(); /* fixed arguments: a refusal is a bug */
    peer_setup(peer, &u);
    for (int i = 0; i < 40; i++) {
        if (tw_sim_run_for(sim, TW_MS(50)) < 0)
            break;
        if (a->invariant)
            a->invariant(state);
        if (a->done)
            a->done(state);
    }
    if (a->result)
        a->result(state);
    tw_sim_free(sim); /* as a crash: the app's protocols are released */
    tw_app_discard(a, state);
    return 0;
}
