/* kit/replay.c - a recording played back on a simulated node
 * (twin/replay.h).
 *
 * Map:
 *   the script   the recording read into one entry per transport: its
 *                kind, its addresses, what the app was given (the peer's
 *                actions, each at its time) and what it wrote
 *   peers        the protocols that play the other ends: a connection
 *                made to the app, one the app made (accepted by a peer
 *                server), a datagram endpoint per source
 *   the run      the actions as timers on the node's loop; tw_replay's
 *                world of one node, the app's start and end
 *   the verdict  per transport, the first byte (or datagram) that
 *                differs from the recording
 *
 * The peers live on the app's own node and talk over its loopback, so
 * the app's addresses and ports are those it asked for, whatever host
 * the recording was made on. Latency is constant and chunks are never
 * cut, so each recorded chunk arrives as one read, at its time plus the
 * latency.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/datagram.h"
#include "twin/record.h"
#include "twin/replay.h"
#include "twin/sim.h"
#include "twin/simfault.h"
#include "twin/simfs.h"
#include "twin/simpcap.h"
#include "twin/twin.h"

/* ---- the script ---- */

/* Most transports one replay plays, and most bytes one transport's
 * writes may collect beyond what was recorded. */
#define RP_TRANSPORTS_MAX 65536
#define RP_EXTRA_MAX (64u << 10)
#define RP_LATENCY_NS 1000

typedef struct rp_buf {
    uint8_t *p;
    size_t len, cap;
} rp_buf;

/* One datagram, kept with its length. */
typedef struct rp_dgram {
    tw_addr addr;
    size_t len;
    uint8_t *data;
} rp_dgram;

typedef struct rp_dlist {
    rp_dgram *v;
    size_t n, cap;
} rp_dlist;

typedef struct tw_replay_peers rp;
struct rp_tr;

/* A peer: one end the replay plays. For a stream, the other end of
 * transport tr; for datagrams, the endpoint standing for one source. */
typedef struct rp_peer {
    tw_protocol base;
    rp *rp;
    struct rp_tr *tr;
    tw_transport *t;     /* once made */
    tw_addr src;         /* datagrams: the recorded address it stands for */
    tw_addr app;         /* datagrams: where the app's last one came from */
    bool eof_pending, abort_pending, gone;
    rp_buf pending;      /* stream bytes due before it was made */
} rp_peer;

/* One recorded transport. */
typedef struct rp_tr {
    uint64_t id;
    unsigned kind, flags;
    tw_addr peer, local;
    bool opened;         /* its OPEN is in the file */
    bool skip;           /* not replayed */
    const char *why;     /* why not */
    rp_buf expected, got; /* streams: the app's writes */
    rp_dlist dexp, dgot; /* datagrams: sendto's, and what peers received */
    size_t got_extra;    /* bytes past RP_EXTRA_MAX, not kept */
    /* Where the writes' last run of tw_loop_sendfile bytes begins in
     * expected (SIZE_MAX: the writes do not end with one), and the
     * error the connection was lost with (0: none, or not lost). */
    size_t sf_from;
    int64_t lost_err;
    rp_peer peer_end;    /* streams */
} rp_tr;

/* One action of a peer, due at a time. */
typedef struct rp_act {
    rp *rp;
    tw_ns when;
    int type;            /* TW_REC_OPEN, DATA, EOF, LOST, DGRAM */
    rp_tr *tr;
    int64_t num;
    tw_addr addr;
    uint8_t *data;
    size_t len;
} rp_act;

struct tw_replay_peers {
    FILE *out;           /* notes and the report */
    uint64_t seed, rng;  /* redacted payloads are drawn from it */
    tw_loop *loop;       /* once started */
    bool redacted;
    rp_tr **trs;
    size_t ntr, captr;
    rp_act *acts;
    size_t nact, capact;
    rp_peer **dpeers;    /* datagram peers, one per source */
    size_t ndp, capdp;
    tw_server **servers; /* peer servers for the app's connections */
    size_t nsrv, capsrv;
    uint64_t timers;
    uint64_t bytes_sent;
    size_t chunk_max;
    tw_ns last, base;
    tw_ns clock;           /* the recorded loop's when recording began */
    tw_replay_result *res; /* while checking */
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *nv = realloc(*v, n * size);
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = n;
    return 0;
}

static int buf_add(rp_buf *b, const void *p, size_t n)
{
    if (grow((void **)&b->p, &b->cap, b->len + n, 1) < 0)
        return -ENOMEM;
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

static int dl_add(rp_dlist *l, const tw_addr *a, const void *p, size_t n)
{
    if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) < 0)
        return -ENOMEM;
    rp_dgram *d = &l->v[l->n];
    d->data = malloc(n ? n : 1);
    if (!d->data)
        return -ENOMEM;
    if (n)
        memcpy(d->data, p, n);
    d->len = n;
    d->addr = a ? *a : (tw_addr){0};
    l->n++;
    return 0;
}

static rp_tr *tr_find(rp *r, uint64_t id, bool make)
{
    for (size_t i = r->ntr; i-- > 0;)
        if (r->trs[i]->id == id)
            return r->trs[i];
    if (!make || r->ntr >= RP_TRANSPORTS_MAX ||
        grow((void **)&r->trs, &r->captr, r->ntr + 1, sizeof *r->trs) < 0)
        return NULL;
    rp_tr *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->id = id;
    t->sf_from = SIZE_MAX;
    r->trs[r->ntr++] = t;
    return t;
}

static uint16_t port_of(const tw_addr *a)
{
    int f = tw_addr_family(a);
    return f == AF_INET ? ntohs(a->u.in4.sin_port)
           : f == AF_INET6 ? ntohs(a->u.in6.sin6_port) : 0;
}

static bool same_addr(const tw_addr *a, const tw_addr *b)
{
    return a->len == b->len && memcmp(&a->u, &b->u, a->len) == 0;
}

/* Bytes for a redacted payload, drawn from the seed (splitmix64): the
 * same seed fills the same bytes, whatever world they go to. */
static uint8_t *fill(rp *r, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; p && i < n; i++) {
        uint64_t z = (r->rng += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        p[i] = (uint8_t)((z ^ (z >> 31)) >> 56);
    }
    return p;
}

static int add_act(rp *r, const tw_rec_event *ev, rp_tr *tr)
{
    if (grow((void **)&r->acts, &r->capact, r->nact + 1, sizeof *r->acts) < 0)
        return -ENOMEM;
    rp_act *a = &r->acts[r->nact];
    *a = (rp_act){.rp = r, .when = ev->time_ns, .type = ev->type, .tr = tr,
                  .num = ev->num, .addr = ev->a};
    size_t n = ev->flags & TW_REC_F_REDACTED ? (size_t)ev->num : ev->len;
    if (n > r->chunk_max)
        r->chunk_max = n;
    if (ev->type == TW_REC_DATA || ev->type == TW_REC_DGRAM) {
        a->data = ev->flags & TW_REC_F_REDACTED ? fill(r, n) : malloc(n ? n : 1);
        if (!a->data)
            return -ENOMEM;
        if (!(ev->flags & TW_REC_F_REDACTED) && n)
            memcpy(a->data, ev->data, n);
        a->len = n;
    }
    r->nact++;
    return 0;
}

/* Is stream tr the connection a recorded TLS one runs over (the same
 * two ends)? Its bytes are records whose keys this run cannot have. */
static bool under_tls(const rp *r, const rp_tr *tr)
{
    if (tr->kind != TW_TRANSPORT_STREAM || (tr->flags & TW_REC_F_TLS))
        return false;
    for (size_t i = 0; i < r->ntr; i++) {
        const rp_tr *t = r->trs[i];
        if ((t->flags & TW_REC_F_TLS) && tw_addr_equal(&t->peer, &tr->peer) &&
            tw_addr_equal(&t->local, &tr->local))
            return true;
    }
    return false;
}

/* Read the file into the script. */
static int load(rp *r, const char *path, char *err, size_t errlen)
{
    tw_recording *f = tw_recording_open(path, err, errlen);
    if (!f)
        return -ENOENT;
    r->redacted = tw_recording_redacted(f);
    r->clock = tw_recording_clock(f);
    tw_rec_event ev;
    int rc = 0;
    size_t tls = 0; /* TLS connections: only then is any stream under one */
    while (rc == 0 && tw_recording_next(f, &ev) > 0) {
        r->last = ev.time_ns > r->last ? ev.time_ns : r->last;
        if (ev.type == TW_REC_TIMER) {
            r->timers++;
            continue;
        }
        if (ev.type == TW_REC_LIMIT || ev.transport == 0)
            continue;
        rp_tr *tr = tr_find(r, ev.transport, true);
        if (!tr) {
            snprintf(err, errlen, "%s: more than %d transports, or out of memory",
                     path, RP_TRANSPORTS_MAX);
            rc = -ENOMEM;
            break;
        }
        size_t n = ev.flags & TW_REC_F_REDACTED ? (size_t)ev.num : ev.len;
        switch (ev.type) {
        case TW_REC_OPEN:
            tr->opened = !(ev.flags & TW_REC_F_BEFORE);
            tr->kind = ev.kind;
            tr->flags = ev.flags;
            tr->peer = ev.a;
            tr->local = ev.b;
            if (ev.flags & TW_REC_F_BEFORE) {
                tr->skip = true;
                tr->why = "it began before the ring's oldest record";
            } else if (ev.kind == TW_TRANSPORT_STREAM && tw_addr_family(&ev.a) != AF_INET &&
                       tw_addr_family(&ev.a) != AF_INET6) {
                tr->skip = true;
                tr->why = "a Unix socket (only TCP and UDP are replayed)";
            } else if (ev.kind != TW_TRANSPORT_STREAM && ev.kind != TW_TRANSPORT_DATAGRAM) {
                tr->skip = true;
                tr->why = "a pipe or a process (not replayed)";
            } else if (ev.flags & TW_REC_F_TLS) {
                tls++;
                tr->skip = true;
                tr->why = "a TLS connection (TLS is not replayed)";
            } else if (ev.kind == TW_TRANSPORT_STREAM || (ev.flags & TW_REC_F_ACCEPTED))
                rc = add_act(r, &ev, tr);
            break;
        case TW_REC_DATA:
        case TW_REC_EOF:
        case TW_REC_LOST:
        case TW_REC_DGRAM:
            if (ev.type == TW_REC_LOST)
                tr->lost_err = ev.num;
            if (!tr->skip)
                rc = add_act(r, &ev, tr);
            break;
        case TW_REC_WRITE:
            if (!(ev.flags & TW_REC_F_SENDFILE))
                tr->sf_from = SIZE_MAX;
            else if (tr->sf_from == SIZE_MAX)
                tr->sf_from = tr->expected.len;
            if (!(ev.flags & TW_REC_F_REDACTED))
                rc = buf_add(&tr->expected, ev.data, n);
            else
                tr->expected.len += n; /* sizes only */
            break;
        case TW_REC_SENDTO:
            rc = dl_add(&tr->dexp, &ev.a, ev.data, ev.flags & TW_REC_F_REDACTED ? 0 : n);
            if (rc == 0)
                tr->dexp.v[tr->dexp.n - 1].len = n;
            break;
        default:
            break;
        }
    }
    if (rc == 0 && *tw_recording_tail(f))
        fprintf(r->out, "replay: %s\n", tw_recording_tail(f));
    tw_recording_close(f);
    if (rc == 0)
        for (size_t i = 0; i < r->ntr; i++) {
            rp_tr *tr = r->trs[i];
            if (!tr->opened && !tr->skip) {
                tr->skip = true;
                tr->why = "its start is not in the file";
            }
            if (tls && !tr->skip && under_tls(r, tr)) {
                tr->skip = true;
                tr->why = "the TCP connection under a TLS one (TLS is not replayed)";
            }
        }
    return rc;
}

/* ---- peers ---- */

static void peer_made(tw_protocol *p, tw_transport *t)
{
    rp_peer *pe = (rp_peer *)p;
    pe->t = t;
    if (pe->pending.len) {
        tw_transport_write(t, pe->pending.p, pe->pending.len);
        pe->pending.len = 0;
    }
    if (pe->abort_pending)
        tw_transport_abort(t);
    else if (pe->eof_pending)
        tw_transport_write_eof(t);
}

static void keep(rp_tr *tr, const uint8_t *d, size_t n)
{
    size_t room = tr->expected.len + RP_EXTRA_MAX;
    size_t take = tr->got.len >= room ? 0 : room - tr->got.len < n ? room - tr->got.len : n;
    if (take && buf_add(&tr->got, d, take) < 0)
        take = 0;
    tr->got_extra += n - take;
}

static void peer_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    rp_peer *pe = (rp_peer *)p;
    keep(pe->tr, d, n);
}

static bool peer_eof(tw_protocol *p) { return true; } /* the app closes */

static void peer_lost(tw_protocol *p, int err)
{
    rp_peer *pe = (rp_peer *)p;
    pe->t = NULL;
    pe->gone = true;
}

static void peer_dgram(tw_protocol *p, const uint8_t *d, size_t n, const tw_addr *from)
{
    rp_peer *pe = (rp_peer *)p;
    rp_tr *tr = pe->tr;
    if (from->len)
        pe->app = *from;
    if (tr && tr->dgot.n < tr->dexp.n + 1024)
        dl_add(&tr->dgot, &pe->src, d, n);
}

static const tw_protocol_ops peer_ops = {
    .connection_made = peer_made,
    .data_received = peer_data,
    .eof_received = peer_eof,
    .connection_lost = peer_lost,
    .datagram_received = peer_dgram,
};

static tw_protocol *peer_self(void *arg) { return arg; }

/* A peer server's connection: the next recorded one the app made to
 * that port, in the order they were made. */
static tw_protocol *peer_accept(void *arg)
{
    rp *r = arg;
    for (size_t i = 0; i < r->ntr; i++) {
        rp_tr *tr = r->trs[i];
        if (!tr->skip && tr->kind == TW_TRANSPORT_STREAM &&
            !(tr->flags & TW_REC_F_ACCEPTED) && !tr->peer_end.base.ops) {
            tr->peer_end = (rp_peer){.base.ops = &peer_ops, .rp = r, .tr = tr};
            return &tr->peer_end.base;
        }
    }
    return NULL; /* a connection the recording has not: refused */
}

/* The peer standing for address src of transport tr, made if need be.
 * It binds src's port on the loopback when that port is free, so that
 * the app reaches it where it sent in the recording, and its datagrams
 * come from the address the app heard them from: an app's endpoint
 * connected to src takes no datagram from any other. Otherwise any port. */
static rp_peer *dgram_peer(rp *r, rp_tr *tr, const tw_addr *src)
{
    for (size_t i = 0; i < r->ndp; i++)
        if (r->dpeers[i]->tr == tr && same_addr(&r->dpeers[i]->src, src))
            return r->dpeers[i];
    if (grow((void **)&r->dpeers, &r->capdp, r->ndp + 1, sizeof *r->dpeers) < 0)
        return NULL;
    rp_peer *pe = calloc(1, sizeof *pe);
    if (!pe)
        return NULL;
    *pe = (rp_peer){.base.ops = &peer_ops, .rp = r, .tr = tr, .src = *src};
    tw_datagram_opts o = {.local_host = "127.0.0.1", .local_port = port_of(src)};
    if (tw_create_datagram_endpoint(r->loop, peer_self, pe, &o, NULL) < 0 &&
        (o.local_port = 0,
         tw_create_datagram_endpoint(r->loop, peer_self, pe, &o, NULL) < 0)) {
        free(pe);
        return NULL;
    }
    r->dpeers[r->ndp++] = pe;
    return pe;
}

/* ---- the run ---- */

static void act_cb(void *arg)
{
    rp_act *a = arg;
    rp *r = a->rp;
    rp_tr *tr = a->tr;
    if (tr->skip) /* found out after its actions were read (under_tls) */
        return;
    rp_peer *pe = &tr->peer_end;
    if (tr->kind == TW_TRANSPORT_DATAGRAM) {
        if (a->type != TW_REC_DGRAM)
            return;
        rp_peer *dp = dgram_peer(r, tr, &a->addr);
        /* To the app's port in this run once the peer heard from it
         * (a client's port is the system's pick, run by run), else to
         * the recorded one (a server's, given on its command line). */
        tw_addr to = dp ? dp->app : (tw_addr){0};
        if (dp && (to.len || tw_addr_ip(&to, "127.0.0.1", port_of(&tr->local)) == 0) &&
            dp->t) {
            tw_transport_sendto(dp->t, a->data, a->len, &to);
            r->bytes_sent += a->len;
        } else if (dp) { /* made on the next turn: send from there */
            tw_call_soon(r->loop, act_cb, a);
        }
        return;
    }
    switch (a->type) {
    case TW_REC_OPEN:
        if (tr->flags & TW_REC_F_ACCEPTED) {
            *pe = (rp_peer){.base.ops = &peer_ops, .rp = r, .tr = tr};
            if (tw_create_connection(r->loop, peer_self, pe, "127.0.0.1",
                                     port_of(&tr->local), NULL) < 0)
                pe->gone = true;
        }
        break;
    case TW_REC_DATA:
        r->bytes_sent += a->len;
        if (pe->t)
            tw_transport_write(pe->t, a->data, a->len);
        else if (!pe->gone)
            buf_add(&pe->pending, a->data, a->len);
        break;
    case TW_REC_EOF:
        if (pe->t)
            tw_transport_write_eof(pe->t);
        else
            pe->eof_pending = true;
        break;
    case TW_REC_LOST:
        /* The app heard of a reset or a failure: the peer's abort is
         * the reset it heard. A clean end needs nothing of the peer. */
        if (a->num != 0) {
            if (pe->t)
                tw_transport_abort(pe->t);
            else
                pe->abort_pending = true;
        }
        break;
    default:
        break;
    }
}

/* A peer server for each port the app's own connections went to. */
static int listen_for_app(rp *r)
{
    for (size_t i = 0; i < r->ntr; i++) {
        rp_tr *tr = r->trs[i];
        if (tr->skip || tr->kind != TW_TRANSPORT_STREAM || (tr->flags & TW_REC_F_ACCEPTED))
            continue;
        uint16_t port = port_of(&tr->peer);
        bool have = false;
        for (size_t k = 0; k < i; k++)
            if (!r->trs[k]->skip && r->trs[k]->kind == TW_TRANSPORT_STREAM &&
                !(r->trs[k]->flags & TW_REC_F_ACCEPTED) && port_of(&r->trs[k]->peer) == port)
                have = true;
        if (have)
            continue;
        if (grow((void **)&r->servers, &r->capsrv, r->nsrv + 1, sizeof *r->servers) < 0)
            return -ENOMEM;
        int rc = tw_create_server(r->loop, peer_accept, r, "127.0.0.1", port, NULL,
                                  &r->servers[r->nsrv]);
        if (rc < 0)
            return rc;
        r->nsrv++;
    }
    return 0;
}

/* A datagram peer for each address the app's datagram transports sent
 * to or heard from, bound before the app's first send: a client sends
 * first, to its server's address. One that cannot be made now is tried
 * again at its first datagram. */
static void bind_for_app(rp *r)
{
    for (size_t i = 0; i < r->ntr; i++) {
        rp_tr *tr = r->trs[i];
        if (tr->skip || tr->kind != TW_TRANSPORT_DATAGRAM)
            continue;
        if (tr->peer.len)
            dgram_peer(r, tr, &tr->peer);
        for (size_t k = 0; k < tr->dexp.n; k++)
            if (tr->dexp.v[k].addr.len)
                dgram_peer(r, tr, &tr->dexp.v[k].addr);
    }
    for (size_t i = 0; i < r->nact; i++)
        if (r->acts[i].type == TW_REC_DGRAM)
            dgram_peer(r, r->acts[i].tr, &r->acts[i].addr);
}

int tw_replay_peers_start(tw_replay_peers *r, tw_loop *loop)
{
    if (r->loop)
        return -EALREADY;
    r->loop = loop;
    r->base = tw_loop_now(loop);
    int rc = listen_for_app(r);
    if (rc == 0)
        bind_for_app(r);
    for (size_t i = 0; rc == 0 && i < r->nact; i++)
        if (!tw_call_at(loop, r->base + r->acts[i].when, act_cb, &r->acts[i]))
            rc = -ENOMEM;
    return rc;
}

/* ---- the verdict ---- */

/* Up to 24 bytes from p, escaped, quoted. */
static void show(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    if (cap < 8)
        return;
    out[k++] = '"';
    for (size_t i = 0; i < n && i < 24 && k + 6 < cap; i++) {
        uint8_t c = p[i];
        if (c == '\r')
            k += (size_t)snprintf(out + k, cap - k, "\\r");
        else if (c == '\n')
            k += (size_t)snprintf(out + k, cap - k, "\\n");
        else if (c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, cap - k, "\\%c", c);
        else if (c >= 32 && c < 127)
            out[k++] = (char)c;
        else
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
    }
    out[k++] = '"';
    if (n > 24 && k + 4 < cap)
        k += (size_t)snprintf(out + k, cap - k, "...");
    out[k] = '\0';
}

static void name_tr(char *out, size_t cap, const rp_tr *tr)
{
    char a[TW_ADDR_STRLEN], b[TW_ADDR_STRLEN];
    bool dgram = tr->kind == TW_TRANSPORT_DATAGRAM;
    /* A datagram endpoint: "udp", and where it was connected to, if it was. */
    snprintf(out, cap, "t%llu (%s %s%s%s)", (unsigned long long)tr->id,
             tw_addr_format(&tr->local, a, sizeof a),
             dgram ? "udp" : tr->flags & TW_REC_F_ACCEPTED ? "<-" : "->",
             !dgram ? " " : tr->peer.len ? " -> " : "",
             !dgram || tr->peer.len ? tw_addr_format(&tr->peer, b, sizeof b) : "");
}

static void differ(rp *r, const rp_tr *tr, uint64_t off, const char *what,
                   const uint8_t *e, size_t en, const uint8_t *g, size_t gn)
{
    tw_replay_result *res = r->res;
    if (res->differ)
        return;
    char name[2 * TW_ADDR_STRLEN + 40], es[160], gs[160];
    name_tr(name, sizeof name, tr);
    if (r->redacted) /* the recording has the size alone */
        snprintf(es, sizeof es, "%zu bytes (redacted)", en);
    else
        show(es, sizeof es, e, en);
    if (!g) /* the size alone, beside a redacted one */
        snprintf(gs, sizeof gs, "%zu bytes", gn);
    else
        show(gs, sizeof gs, g, gn);
    res->differ = true;
    res->diff_transport = tr->id;
    res->diff_offset = off;
    snprintf(res->diff, sizeof res->diff, "%s: the writes differ at %s %llu: "
             "expected %s, got %s", name, what, (unsigned long long)off,
             en ? es : "nothing (the recording ends here)",
             gn ? gs : "nothing (the replay wrote no more)");
}

/* A connection lost to an error while tw_loop_sendfile sent: how far
 * the file got before the reset depends on how fast the peer read, which
 * the replay does not play (its peer reads at once). The writes agree if
 * they do up to where the shorter side stops, and that is inside the
 * file's bytes on both sides; said, not a difference. */
static bool sendfile_cut(rp *r, const rp_tr *tr)
{
    if (tr->lost_err == 0 || tr->sf_from == SIZE_MAX)
        return false;
    size_t got = tr->got.len + tr->got_extra;
    if (got == tr->expected.len || got < tr->sf_from)
        return false;
    assert(tr->sf_from <= tr->expected.len);
    /* The bytes both sides have are the same (sizes only: nothing to
     * compare). */
    size_t both = got < tr->expected.len ? got : tr->expected.len;
    if (!r->redacted &&
        (tr->got.len < both || memcmp(tr->expected.p, tr->got.p, both) != 0))
        return false;
    char name[2 * TW_ADDR_STRLEN + 40];
    name_tr(name, sizeof name, tr);
    fprintf(r->out, "replay: %s: lost (%s) while a sendfile ran; it had sent %zu "
            "bytes when recorded, %zu here (the peer's reading speed decides)\n",
            name, tw_strerror((int)tr->lost_err), tr->expected.len, got);
    return true;
}

static void compare(rp *r, const rp_tr *tr)
{
    if (tr->kind == TW_TRANSPORT_DATAGRAM) {
        size_t n = tr->dexp.n > tr->dgot.n ? tr->dexp.n : tr->dgot.n;
        for (size_t i = 0; i < n; i++) {
            const rp_dgram *e = i < tr->dexp.n ? &tr->dexp.v[i] : NULL;
            const rp_dgram *g = i < tr->dgot.n ? &tr->dgot.v[i] : NULL;
            if (e)
                r->res->bytes_expected += e->len;
            if (g)
                r->res->bytes_got += g->len;
            bool same = e && g && e->len == g->len &&
                        (r->redacted || memcmp(e->data, g->data, e->len) == 0);
            if (!same)
                differ(r, tr, i, "datagram", e ? e->data : NULL, e ? e->len : 0,
                       g ? g->data : NULL, g ? g->len : 0);
        }
        return;
    }
    r->res->bytes_expected += tr->expected.len;
    r->res->bytes_got += tr->got.len + tr->got_extra;
    if (sendfile_cut(r, tr))
        return;
    if (r->redacted) {
        size_t got = tr->got.len + tr->got_extra;
        size_t off = tr->expected.len < got ? tr->expected.len : got;
        if (tr->expected.len != got)
            differ(r, tr, off, "byte (sizes only)", NULL, tr->expected.len - off, NULL,
                   got - off);
        return;
    }
    size_t n = tr->expected.len < tr->got.len ? tr->expected.len : tr->got.len;
    size_t i = 0;
    while (i < n && tr->expected.p[i] == tr->got.p[i])
        i++;
    if (i < n || tr->expected.len != tr->got.len + tr->got_extra)
        differ(r, tr, i, "byte", tr->expected.p + i, tr->expected.len - i,
               tr->got.p ? tr->got.p + i : NULL, tr->got.len - i);
}

void tw_replay_peers_free(tw_replay_peers *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntr; i++) {
        rp_tr *tr = r->trs[i];
        free(tr->expected.p);
        free(tr->got.p);
        free(tr->peer_end.pending.p);
        for (size_t k = 0; k < tr->dexp.n; k++)
            free(tr->dexp.v[k].data);
        for (size_t k = 0; k < tr->dgot.n; k++)
            free(tr->dgot.v[k].data);
        free(tr->dexp.v);
        free(tr->dgot.v);
        free(tr);
    }
    for (size_t i = 0; i < r->nact; i++)
        free(r->acts[i].data);
    for (size_t i = 0; i < r->ndp; i++) {
        free(r->dpeers[i]->pending.p);
        free(r->dpeers[i]);
    }
    free(r->trs);
    free(r->acts);
    free(r->dpeers);
    free(r->servers);
    free(r);
}

int tw_replay_peers_load(const char *path, uint64_t seed, FILE *out,
                         tw_replay_peers **pp, char *err, size_t errlen)
{
    rp *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "replay: out of memory");
        return -ENOMEM;
    }
    r->out = out ? out : stdout;
    r->seed = r->rng = seed;
    int rc = load(r, path, err, errlen);
    if (rc < 0) {
        tw_replay_peers_free(r);
        return rc;
    }
    *pp = r;
    return 0;
}

size_t tw_replay_peers_chunk_max(const tw_replay_peers *r) { return r->chunk_max; }
tw_ns tw_replay_peers_last(const tw_replay_peers *r) { return r->last; }

int tw_replay_peers_check(tw_replay_peers *r, tw_replay_result *res)
{
    tw_replay_result scratch;
    r->res = res ? res : &scratch;
    uint64_t hash = r->res->trace_hash;
    int status = r->res->app_status;
    memset(r->res, 0, sizeof *r->res);
    r->res->trace_hash = hash;
    r->res->app_status = status;
    r->res->redacted = r->redacted;
    r->res->bytes_sent = r->bytes_sent;
    for (size_t i = 0; i < r->ntr; i++) {
        rp_tr *tr = r->trs[i];
        if (tr->skip) {
            char name[2 * TW_ADDR_STRLEN + 40];
            name_tr(name, sizeof name, tr);
            fprintf(r->out, "replay: %s not replayed: %s\n", name, tr->why);
            r->res->skipped++;
            continue;
        }
        r->res->transports++;
        compare(r, tr);
    }
    if (r->redacted)
        fprintf(r->out, "replay: the recording is redacted: the bytes sent were drawn "
                        "from seed %llu, and only the sizes of the writes are "
                        "compared\n",
                (unsigned long long)r->seed);
    if (r->timers)
        fprintf(r->out, "replay: %llu timer firings recorded; the app's timers run "
                        "in virtual time\n",
                (unsigned long long)r->timers);
    if (r->res->differ)
        fprintf(r->out, "replay: DIFFER %s\n", r->res->diff);
    else
        fprintf(r->out, "replay: SAME: %llu transports wrote what was recorded "
                        "(%llu bytes); %llu bytes sent to the app\n",
                (unsigned long long)r->res->transports,
                (unsigned long long)r->res->bytes_expected,
                (unsigned long long)r->res->bytes_sent);
    bool differ = r->res->differ;
    r->res = NULL;
    return differ ? 1 : 0;
}

/* ---- tw_replay: a world of one node, the app and its peers ---- */

typedef struct rp_run {
    rp *peers;
    const tw_app *app;
    int argc;
    char **argv;
    FILE *out;
    void *state;
    int start_rc;
} rp_run;

static int node_start(tw_loop *loop, void *arg)
{
    rp_run *x = arg;
    x->start_rc = x->app->start(loop, x->argc, x->argv, x->out, &x->state);
    if (x->start_rc < 0)
        return x->start_rc;
    return tw_replay_peers_start(x->peers, loop);
}

static void node_stop(tw_loop *loop, void *arg)
{
    rp_run *x = arg;
    if (x->state)
        tw_app_discard(x->app, x->state);
    x->state = NULL;
}

int tw_replay(const char *path, const tw_app *app, int argc, char **argv,
              const tw_replay_opts *opts, tw_replay_result *res, char *err,
              size_t errlen)
{
    static const tw_replay_opts none;
    const tw_replay_opts *o = opts ? opts : &none;
    tw_replay_result scratch;
    res = res ? res : &scratch;
    memset(res, 0, sizeof *res);
    rp_run x = {.app = app, .argc = argc, .argv = argv,
                .out = o->out ? o->out : stdout};
    int rc = tw_replay_peers_load(path, o->seed, x.out, &x.peers, err, errlen);
    if (rc < 0)
        return rc;
    size_t big = x.peers->chunk_max;
    tw_sim_opts so;
    tw_sim_opts_default(&so);
    so.chunk_split_probability = -1;
    if (big > so.chunk_bytes_max)
        so.chunk_bytes_max = (uint32_t)big;
    if (big > so.segment_bytes_max)
        so.segment_bytes_max = (uint32_t)big;
    so.loopback.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT,
                                        .min_ns = RP_LATENCY_NS,
                                        .max_ns = RP_LATENCY_NS,
                                        .mean_ns = RP_LATENCY_NS};
    if (so.loopback.rcvbuf_bytes < 2 * big)
        so.loopback.rcvbuf_bytes = (uint32_t)(2 * big);
    so.trace_file = o->trace;
    tw_sim *sim = tw_sim_new(o->seed, &so);
    if (!sim) {
        snprintf(err, errlen, "replay: cannot make the world: %s", strerror(errno));
        tw_replay_peers_free(x.peers);
        return -ENOMEM;
    }
    tw_loop *loop = tw_sim_add_node(sim, "app", "10.0.0.1");
    /* The node's clock starts where the recorded loop's did: an app that
     * sends its loop's times, or compares them with times it was sent,
     * sees the values it saw. */
    if (loop && x.peers->clock > 0)
        tw_sim_set_uptime(loop, x.peers->clock); /* before the app starts */
    /* The recorded times hold what the app's file calls took where it
     * was recorded: here they take none, so the app meets its peers'
     * records and its timers in the order it met them (the simulated
     * disk's latencies, milliseconds an fsync, would move its writes
     * past records that came after them). */
    const tw_sim_dist no_time = {.kind = TW_SIM_DIST_CONSTANT};
    const tw_sim_fs_opts fo = {.latency = no_time, .fsync_latency = no_time};
    if (loop && (rc = tw_sim_fs_set(loop, &fo)) < 0) {
        snprintf(err, errlen, "replay: cannot make the node's disk: %s", tw_strerror(rc));
        tw_sim_free(sim);
        tw_replay_peers_free(x.peers);
        return rc;
    }
    tw_sim_pcap *pc = NULL;
    if (o->pcap_dir && (rc = tw_sim_pcap_start(sim, o->pcap_dir, &pc, err, errlen)) < 0) {
        tw_sim_free(sim);
        tw_replay_peers_free(x.peers);
        return rc;
    }
    tw_sim_node_set_start(loop, node_start, &x);
    tw_sim_node_set_stop(loop, node_stop);
    rc = tw_sim_run_for(sim, x.peers->last + (o->tail_ns ? o->tail_ns : TW_SEC(1)));
    if (x.start_rc < 0) {
        snprintf(err, errlen, "replay: the app %s did not start: %s", app->name,
                 tw_strerror(x.start_rc));
        rc = x.start_rc;
    } else if (rc < 0) {
        snprintf(err, errlen, "replay: the world stopped: %s", tw_strerror(rc));
    }
    if (x.state)
        res->app_status = app->result ? app->result(x.state) : 0;
    res->trace_hash = tw_sim_trace_hash(sim);
    if (pc) {
        char perr[256];
        if (tw_sim_pcap_finish(pc, perr, sizeof perr) < 0 && rc == 0) {
            snprintf(err, errlen, "replay: --pcap: %s", perr);
            rc = -EIO;
        }
    }
    tw_sim_free(sim); /* the app's stop hook frees its state */
    if (rc == 0) {
        rc = tw_replay_peers_check(x.peers, res);
        fprintf(x.out, "replay: seed=%llu hash=%016llx\n", (unsigned long long)o->seed,
                (unsigned long long)res->trace_hash);
    }
    tw_replay_peers_free(x.peers);
    return rc;
}
