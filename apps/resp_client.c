/* apps/resp_client.c - the app `resp-client`: a checked key-value
 * workload for scenarios (and for any RESP server on the real backend).
 *
 * Map: the schedule (ops and values from the seed and the op's index);
 * the model (what each key may hold); checking replies; the connection
 * (INFO first, then a pipeline of ops); failures and reconnecting; the
 * watchdog; options; the app.
 *
 * What it checks: every reply against a model of this client's own keys
 * (no other client writes them, so the model is exact): a read sees the
 * last acknowledged write of its key, or a write whose acknowledgement
 * was lost with its connection (it may have landed, even later), or
 * nothing when the key's expiry may have passed or the server restarted.
 * A restart is seen as a new run_id in INFO, asked first on every
 * connection: the store went with the old process, so every key is
 * empty (with --durable the server kept it on disk: nothing changes). Expiry windows come from when the SET was sent and acknowledged
 * and when the read was, on the client's clock: a key whose expiry must
 * have passed must be gone, one whose expiry cannot have passed must be
 * there (give or take the 2 ms of Redis's millisecond rounding, and the
 * --clock-slack a world with clock faults must allow: the server expires
 * keys on its own clock, which may stand still or drift against ours).
 * Counters: an INCR's reply lies between the last acknowledged value
 * plus one and that plus the INCRs whose replies were lost.
 *
 * --extended adds ops on keys whose values the model knows byte for
 * byte (section "the --extended ops"): the reply each wants is fixed
 * when it is sent, since the server runs a connection's requests in
 * order; a lost reply gives the op's keys up for fresh ones.
 *
 * Nothing here draws from a clock or libc's rand: op i is a hash of
 * (seed, i), so a scenario seed replays it exactly.
 *
 * The history (twin/history.h; in the simulator, for `expect:
 * {linearizable: true}`): SET is a put, GET a get, DEL a del, MGET three
 * gets over the same span, INCR an incr; EXISTS and ECHO are left out.
 * A reply ends an op ok (an error reply: fail), a lost connection info.
 * A SET with PX opens an expire of its key at its invocation, closed
 * when a later write of the key is acknowledged (it clears the time to
 * live); one whose SET was lost is never closed (it may land late).
 * A process is a connection (seed * 1024 + its number mod 1024): the
 * server runs a connection's requests in order.
 *
 * Ownership: as echo_load.c: the connect in flight is the redialer's
 * (apps/redial.h); a connection's protocol is freed by its release and detached
 * from the state first when the state goes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "apps/redial.h"
#include "twin/history.h"
#include "twin/mix.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/resp.h"
#include "twin/twin.h"

#define MAYBE_MAX 16
#define VCACHE_SLOTS 256
#define VALUE_MAX 4096
#define TOL_NS TW_MS(2)
#define NAME_MAX_LEN 64

enum { OP_SET, OP_GET, OP_INCR, OP_DEL, OP_MGET, OP_EXISTS, OP_ECHO, OP_INFO,
       OP_X /* --extended: one of the X_ below */ };

/* The --extended ops: on keys of their own ("x" keys), whose values the
 * model knows exactly, and on pairs of keys ("r" keys) for RENAME and
 * COPY, which stay out of the history. */
enum { X_SET, X_GET, X_APPEND, X_GETSET, X_SETGET, X_GETDEL, X_INCRBYFLOAT,
       X_SETRANGE, X_EXPIRE, X_PERSIST, X_TTL, X_PTTL, X_PSET, X_PGET,
       X_RENAME, X_RENAMENX, X_COPY };

#define XKEYS 8      /* x keys */
#define XPAIRS 2     /* pairs of r keys, after the x keys in the model */
#define XVAL_MAX 256 /* an x or r value at most: past it, a SET anew */
#define XPIPELINE_MAX 4096

typedef struct op {
    uint64_t index;
    uint8_t kind;
    uint32_t key[3];
    uint64_t version; /* SET: the version written (index + 1) */
    int64_t px_ms;    /* SET: its expiry, 0: none */
    tw_ns sent;
    int64_t hist[3];  /* its ops in the history (MGET: one a key), 0: none */
    int64_t expire;   /* SET with PX: the expire it opened */
    /* OP_X: which, its draw, its keys (model slots: the source first)
     * and the reply the model wants: '+' OK, ':' xint, '-' an error,
     * '$' a bulk (nil, or want_len bytes in the client's xwant at ring),
     * 't' / 'T' a time to live in ms / s, set xint ms long at xbase */
    uint8_t xk, xslot[2];
    char want;
    bool want_nil;
    uint16_t want_len;
    uint32_t ring;
    uint64_t xr;
    int64_t xint;
    tw_ns xbase;
} op;

/* An x or r key as the model sees it once every op sent has run (the
 * server runs one connection's requests in order). An op lost with its
 * connection may land at any time, even later: its keys are given up
 * for new ones (gen), which start empty. */
typedef struct xkey {
    uint32_t gen;
    bool present;
    uint16_t len;
    int64_t ttl_ms;  /* 0: none */
    tw_ns ttl_sent;  /* when the op that set it was sent */
    uint8_t val[XVAL_MAX];
} xkey;

#define EXPIRES_MAX 16

/* A key's expires still open in the history (not reset with the model). */
typedef struct keyx {
    int64_t id[EXPIRES_MAX];
    uint64_t index[EXPIRES_MAX]; /* of the SET that opened it */
    unsigned n;
} keyx;

typedef struct keym {
    uint64_t ver;               /* last acknowledged write, 0: absent */
    int64_t px_ms;              /* its expiry, 0: none */
    tw_ns set_sent, set_acked;
    uint64_t maybe[MAYBE_MAX];  /* versions written, never acknowledged */
    unsigned nmaybe;
    bool maybe_absent;          /* an unacknowledged DEL or PX write */
    bool unknown;               /* too many of those to follow */
} keym;


typedef struct client {
    tw_loop *loop;
    FILE *out;
    char host[256];
    uint16_t port;
    char prefix[NAME_MAX_LEN + 24];
    uint64_t ops, keys, pipeline, size_max, seed, px_pct;
    tw_ns px_max, timeout, retry;
    uint64_t attempts_max; /* connects at most, 0: no limit */
    tw_ns clock_slack; /* how far the server's clock may be off ours */
    uint64_t read_rate;
    /* the model */
    keym *km;
    keyx *kx;
    int64_t ctr;
    uint64_t ctr_unsure;
    char run_id[48];
    uint64_t restarts;
    bool durable;     /* --durable: a restart keeps acknowledged writes */
    bool history_only; /* --history-only: the model judges nothing */
    bool extended;     /* --extended: OP_X ops too */
    xkey *xm;          /* XKEYS + 2 * XPAIRS (--extended) */
    uint8_t *xwant;    /* (pipeline + 1) * XVAL_MAX: the bulk replies wanted */
    /* the connection */
    apps_redial dial; /* and the connection: dial.conn */
    bool ready, wpaused;
    op *q;                 /* in flight, oldest first: a ring */
    size_t q_head, q_len;
    tw_resp_buf wb;        /* the request being written */
    uint8_t *rbuf;         /* a reply's beginning, until the rest comes */
    size_t r_len, r_cap;
    tw_handle read_timer;
    /* progress */
    uint64_t next;         /* index of the next op to send */
    uint64_t acked;
    tw_handle watchdog;
    bool done;
    char violation[256];
    /* values made lately, version v in slot v % VCACHE_SLOTS: a read of
     * one compares with it instead of making it again (at most
     * VCACHE_SLOTS * --size bytes: 1 MiB for 4 KiB values) */
    uint8_t *vc_bytes;     /* VCACHE_SLOTS * vc_stride, made at the first SET */
    size_t vc_stride;
    uint64_t vc_version[VCACHE_SLOTS]; /* 0: empty */
    uint16_t vc_len[VCACHE_SLOTS];
} client;

/* ---- the schedule ---- */


static op make_op(const client *a, uint64_t i)
{
    uint64_t r = tw_mix64(a->seed * 1000003 + i), r2 = tw_mix64(r);
    unsigned pick = (unsigned)(r % 100);
    op o = {.index = i};
    for (int k = 0; k < 3; k++)
        o.key[k] = (uint32_t)((r2 >> (16 * k)) % a->keys);
    o.kind = pick < 35 ? OP_SET : pick < 62 ? OP_GET : pick < 72 ? OP_INCR
           : pick < 78 ? OP_DEL : pick < 88 ? OP_MGET : pick < 95 ? OP_EXISTS
           : OP_ECHO;
    if (o.kind == OP_SET) {
        o.version = i + 1;
        if (a->px_pct && (r >> 8) % 100 < a->px_pct && a->px_max >= TW_MS(1))
            o.px_ms = 1 + (int64_t)((r >> 20) % (uint64_t)(a->px_max / TW_MS(1)));
    }
    if (a->extended) {
        uint64_t r3 = tw_mix64(r2 ^ UINT64_C(0x5851f42d4c957f2d));
        if (r3 % 100 < 40) {
            static const uint8_t cut[] = {
                [X_SET] = 10, [X_GET] = 20, [X_APPEND] = 30, [X_GETSET] = 35,
                [X_SETGET] = 40, [X_GETDEL] = 45, [X_INCRBYFLOAT] = 53,
                [X_SETRANGE] = 60, [X_EXPIRE] = 70, [X_PERSIST] = 74,
                [X_TTL] = 78, [X_PTTL] = 82, [X_PSET] = 88, [X_PGET] = 92,
                [X_RENAME] = 95, [X_RENAMENX] = 97, [X_COPY] = 100};
            unsigned x = (unsigned)((r3 >> 8) % 100), k = 0;
            while (x >= cut[k])
                k++;
            o = (op){.index = i, .kind = OP_X, .xk = (uint8_t)k,
                     .xr = tw_mix64(r3 + i)};
        }
    }
    return o;
}

/* The decimal digits of v at dst (at most 20), and their count. */
static size_t put_u64(char *dst, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* The value of version v: "v<v>:" and then letters, its length a hash.
 * cap is at least VALUE_HEAD_MAX. */
#define VALUE_HEAD_MAX 22
static size_t value_of(const client *a, uint64_t v, uint8_t *buf, size_t cap)
{
    size_t len = 1 + tw_mix64(a->seed ^ (v << 1)) % a->size_max;
    buf[0] = 'v';
    size_t n = 1 + put_u64((char *)buf + 1, v);
    buf[n++] = ':';
    if (len < n)
        len = n;
    /* Byte j is 'a' + tw_mix64(v * 7919 + j / 8) % 26: one letter per
     * run of eight, so one hash per run, and whole runs stored as words. */
    size_t end = len < cap ? len : cap;
    uint64_t base = v * 7919;
    uint64_t q = n / 8;
    size_t head = (size_t)(q + 1) * 8 < end ? (size_t)(q + 1) * 8 : end;
    if (n < head)
        memset(buf + n, 'a' + (int)(tw_mix64(base + q) % 26), head - n);
    for (q++; (q + 1) * 8 <= end; q++) {
        uint64_t w = ('a' + tw_mix64(base + q) % 26) * UINT64_C(0x0101010101010101);
        memcpy(buf + q * 8, &w, 8);
    }
    if (q * 8 < end)
        memset(buf + q * 8, 'a' + (int)(tw_mix64(base + q) % 26), end - q * 8);
    return end;
}

/* Keep the value of version v for later reads of it. */
static void vcache_put(client *a, uint64_t v, const uint8_t *val, size_t len)
{
    if (!a->vc_bytes) {
        size_t stride = a->size_max < VALUE_HEAD_MAX ? VALUE_HEAD_MAX
                        : a->size_max > VALUE_MAX ? VALUE_MAX : (size_t)a->size_max;
        a->vc_bytes = malloc(VCACHE_SLOTS * stride);
        if (!a->vc_bytes)
            return; /* no cache: reads make values again */
        a->vc_stride = stride;
    }
    unsigned slot = (unsigned)(v % VCACHE_SLOTS);
    if (len > a->vc_stride) {
        a->vc_version[slot] = 0;
        return;
    }
    memcpy(a->vc_bytes + slot * a->vc_stride, val, len);
    a->vc_version[slot] = v;
    a->vc_len[slot] = (uint16_t)len;
}

/* Is r..r+len the value of version v? */
static bool value_is(client *a, uint64_t v, const uint8_t *r, size_t len)
{
    unsigned slot = (unsigned)(v % VCACHE_SLOTS);
    if (a->vc_bytes && a->vc_version[slot] == v)
        return len == a->vc_len[slot] &&
               memcmp(r, a->vc_bytes + slot * a->vc_stride, len) == 0;
    uint8_t want[VALUE_MAX];
    size_t wlen = value_of(a, v, want, sizeof want);
    vcache_put(a, v, want, wlen);
    return len == wlen && memcmp(r, want, wlen) == 0;
}

/* "<prefix>:k<k>" into buf, which holds NAME_MAX_LEN + 40 bytes. */
static int key_name(const client *a, uint32_t k, char *buf, size_t cap)
{
    size_t p = strlen(a->prefix);
    if (p + 2 + 10 + 1 > cap)
        return snprintf(buf, cap, "%s:k%u", a->prefix, (unsigned)k);
    memcpy(buf, a->prefix, p);
    buf[p++] = ':';
    buf[p++] = 'k';
    p += put_u64(buf + p, k);
    buf[p] = '\0';
    return (int)p;
}

/* ---- the model ---- */

__attribute__((format(printf, 2, 3)))
static void violate(client *a, const char *fmt, ...)
{
    if (a->violation[0])
        return; /* the first broken promise explains the rest */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->violation, sizeof a->violation, fmt, ap);
    va_end(ap);
}

static void reset_model(client *a)
{
    memset(a->km, 0, a->keys * sizeof *a->km);
    a->ctr = 0;
    a->ctr_unsure = 0;
}

/* Could the acknowledged write have expired when the read `o`, answered
 * at `now`, was served? Must it have? */
static bool may_have_expired(const client *a, const keym *m, tw_ns now)
{
    return m->px_ms &&
           now - m->set_sent > TW_MS(m->px_ms) - TOL_NS - a->clock_slack;
}

static bool must_have_expired(const client *a, const keym *m, const op *o)
{
    return m->px_ms &&
           o->sent - m->set_acked > TW_MS(m->px_ms) + TOL_NS + a->clock_slack;
}

static bool can_be_absent(const client *a, const keym *m, tw_ns now)
{
    return m->unknown || m->ver == 0 || m->maybe_absent ||
           may_have_expired(a, m, now);
}

static bool can_be(const client *a, const keym *m, uint64_t v, const op *o)
{
    if (m->unknown)
        return true;
    for (unsigned i = 0; i < m->nmaybe; i++)
        if (m->maybe[i] == v)
            return true;
    return v == m->ver && v && !must_have_expired(a, m, o);
}

static bool can_be_present(const client *a, const keym *m, const op *o)
{
    return m->unknown || m->nmaybe || (m->ver && !must_have_expired(a, m, o));
}

static void add_maybe(keym *m, uint64_t v)
{
    if (m->nmaybe == MAYBE_MAX)
        m->unknown = true;
    else
        m->maybe[m->nmaybe++] = v;
}

/* ---- checking replies ---- */

/* A reply the model of this client's keys rules out: a violation,
 * unless only the history (the scenario's linearizability check) is to
 * judge what the server answered. */
#define model_violate(a, ...)                                                  \
    do {                                                                       \
        if (!(a)->history_only)                                                \
            violate(a, __VA_ARGS__);                                           \
    } while (0)

static void check_value(client *a, const op *o, uint32_t k,
                        const tw_resp_reply *r, tw_ns now)
{
    keym *m = &a->km[k];
    if (r->type != '$') {
        violate(a, "op %llu: GET k%u replied type '%c'",
                (unsigned long long)o->index, k, r->type);
        return;
    }
    if (r->nil) {
        if (!can_be_absent(a, m, now))
            model_violate(a, "op %llu: GET k%u found nothing; it holds version %llu "
                       "(acknowledged, not expired)",
                    (unsigned long long)o->index, k, (unsigned long long)m->ver);
        return;
    }
    unsigned long long v = 0;
    size_t i = 1;
    while (i < r->len && i < 21 && r->str[i] >= '0' && r->str[i] <= '9')
        v = v * 10 + (unsigned long long)(r->str[i++] - '0');
    if (r->len < 3 || r->str[0] != 'v' || i == 1 || i >= r->len ||
        r->str[i] != ':') {
        violate(a, "op %llu: GET k%u: a value this client never wrote",
                (unsigned long long)o->index, k);
        return;
    }
    if (!value_is(a, v, r->str, r->len)) {
        violate(a, "op %llu: GET k%u: version %llu came back altered",
                (unsigned long long)o->index, k, v);
        return;
    }
    if (!can_be(a, m, v, o))
        model_violate(a, "op %llu: GET k%u saw version %llu; the last acknowledged "
                   "write is %llu%s",
                (unsigned long long)o->index, k, v, (unsigned long long)m->ver,
                must_have_expired(a, m, o) ? " and its expiry had passed" : "");
}

static void check_int(client *a, const op *o, const tw_resp_reply *r)
{
    if (r->type != ':')
        violate(a, "op %llu: wanted an integer, got type '%c' (%.*s)",
                (unsigned long long)o->index, r->type,
                (int)(r->len < 80 ? r->len : 80), r->str ? (const char *)r->str : "");
}

/* ---- the --extended ops: x keys and r pairs ---- */

static const char *const x_names[] = {
    [X_SET] = "SET", [X_GET] = "GET", [X_APPEND] = "APPEND",
    [X_GETSET] = "GETSET", [X_SETGET] = "SET GET", [X_GETDEL] = "GETDEL",
    [X_INCRBYFLOAT] = "INCRBYFLOAT", [X_SETRANGE] = "SETRANGE",
    [X_EXPIRE] = "EXPIRE", [X_PERSIST] = "PERSIST", [X_TTL] = "TTL",
    [X_PTTL] = "PTTL", [X_PSET] = "SET", [X_PGET] = "GET",
    [X_RENAME] = "RENAME", [X_RENAMENX] = "RENAMENX", [X_COPY] = "COPY"};

/* The name of model slot s: "<prefix>:x<j>g<gen>" for an x key,
 * "<prefix>:r<j>g<gen>a" (or b) for a pair's. buf: NAME_MAX_LEN + 40. */
static int xkey_name(const client *a, unsigned s, char *buf, size_t cap)
{
    if (s < XKEYS)
        return snprintf(buf, cap, "%s:x%ug%u", a->prefix, s, (unsigned)a->xm[s].gen);
    unsigned j = (s - XKEYS) / 2;
    return snprintf(buf, cap, "%s:r%ug%u%c", a->prefix, j,
                    (unsigned)a->xm[XKEYS + 2 * j].gen, (s - XKEYS) % 2 ? 'b' : 'a');
}

/* Slot s's keys lost an op: new keys (a pair's both), empty. */
static void xkey_give_up(client *a, unsigned s)
{
    unsigned first = s < XKEYS ? s : XKEYS + (s - XKEYS) / 2 * 2;
    unsigned n = s < XKEYS ? 1 : 2;
    a->xm[first].gen++;
    for (unsigned i = first; i < first + n; i++) {
        a->xm[i].present = false;
        a->xm[i].len = 0;
        a->xm[i].ttl_ms = 0;
    }
}

/* A fresh value for op i: "s<i>:" and a few letters. */
static size_t xvalue(uint64_t i, uint8_t *buf)
{
    size_t n = (size_t)snprintf((char *)buf, 32, "s%llu:", (unsigned long long)i);
    size_t len = n + tw_mix64(i * 31 + 7) % 40;
    for (size_t j = n; j < len; j++)
        buf[j] = (uint8_t)('a' + tw_mix64(i * 131 + j) % 26);
    return len;
}

/* The value as a count of halves, if it is one INCRBYFLOAT wrote
 * ("<digits>" or "<digits>.5", no leading zero): false otherwise. */
static bool x_halves(const xkey *m, uint64_t *h)
{
    if (!m->present) {
        *h = 0;
        return true;
    }
    size_t i = 0;
    uint64_t v = 0;
    while (i < m->len && m->val[i] >= '0' && m->val[i] <= '9' && i < 15)
        v = v * 10 + (uint64_t)(m->val[i++] - '0');
    if (i == 0 || (m->val[0] == '0' && i > 1))
        return false;
    if (i == m->len) {
        *h = 2 * v;
        return true;
    }
    if (i + 2 == m->len && m->val[i] == '.' && m->val[i + 1] == '5') {
        *h = 2 * v + 1;
        return true;
    }
    return false;
}

static void x_set_val(xkey *m, const uint8_t *v, size_t len)
{
    memcpy(m->val, v, len);
    m->len = (uint16_t)len;
    m->present = true;
}

/* The reply op o wants is the value of slot s now (nil if absent). */
static void x_want_value(client *a, op *o, const xkey *m)
{
    o->want = '$';
    o->want_nil = !m->present;
    o->want_len = m->len;
    if (m->present)
        memcpy(a->xwant + (size_t)o->ring * XVAL_MAX, m->val, m->len);
}

/* Op o into b: what it sends, the reply it wants, and the model after
 * it. */
static void x_prepare(client *a, op *o, tw_resp_buf *b)
{
    char k[2][NAME_MAX_LEN + 40], num[48];
    uint64_t r = o->xr;
    tw_ns now = tw_loop_now(a->loop);
    bool pair = o->xk >= X_PSET;
    unsigned s = pair ? XKEYS + (unsigned)(r % XPAIRS) * 2 + (unsigned)((r >> 8) & 1)
                      : (unsigned)(r % XKEYS);
    unsigned d = pair ? (s ^ 1u) : s; /* a pair's other key */
    o->xslot[0] = (uint8_t)s;
    o->xslot[1] = (uint8_t)d;
    xkey *m = &a->xm[s], *md = &a->xm[d];
    xkey_name(a, s, k[0], sizeof k[0]);
    xkey_name(a, d, k[1], sizeof k[1]);
    uint8_t v[XVAL_MAX];
    size_t vlen;
    if (o->xk == X_APPEND && m->len + 24 > XVAL_MAX)
        o->xk = X_SET; /* long enough: begin again */
    switch (o->xk) {
    case X_SET:
    case X_PSET:
    case X_GETSET:
    case X_SETGET:
        vlen = xvalue(o->index, v);
        if (o->xk == X_SETGET) {
            tw_resp_add_array(b, 4);
            tw_resp_add_bulk_str(b, "SET");
        } else {
            tw_resp_add_array(b, 3);
            tw_resp_add_bulk_str(b, o->xk == X_GETSET ? "GETSET" : "SET");
        }
        tw_resp_add_bulk_str(b, k[0]);
        tw_resp_add_bulk(b, v, vlen);
        if (o->xk == X_SETGET)
            tw_resp_add_bulk_str(b, "GET");
        if (o->xk == X_GETSET || o->xk == X_SETGET)
            x_want_value(a, o, m);
        else
            o->want = '+';
        x_set_val(m, v, vlen);
        m->ttl_ms = 0;
        return;
    case X_GET:
    case X_PGET:
    case X_GETDEL:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, o->xk == X_GETDEL ? "GETDEL" : "GET");
        tw_resp_add_bulk_str(b, k[0]);
        x_want_value(a, o, m);
        if (o->xk == X_GETDEL)
            *m = (xkey){.gen = m->gen};
        return;
    case X_APPEND:
        vlen = (size_t)snprintf((char *)v, 24, "a%llu,", (unsigned long long)o->index);
        tw_resp_add_array(b, 3);
        tw_resp_add_bulk_str(b, "APPEND");
        tw_resp_add_bulk_str(b, k[0]);
        tw_resp_add_bulk(b, v, vlen);
        memcpy(m->val + m->len, v, vlen);
        m->len = (uint16_t)(m->len + vlen);
        m->present = true;
        o->want = ':';
        o->xint = m->len;
        return;
    case X_SETRANGE: {
        vlen = (size_t)snprintf((char *)v, 24, "R%llu", (unsigned long long)o->index);
        size_t off = (size_t)(r >> 16) % ((size_t)m->len + 4);
        if (off + vlen > XVAL_MAX)
            off = 0;
        tw_resp_add_array(b, 4);
        tw_resp_add_bulk_str(b, "SETRANGE");
        tw_resp_add_bulk_str(b, k[0]);
        snprintf(num, sizeof num, "%zu", off);
        tw_resp_add_bulk_str(b, num);
        tw_resp_add_bulk(b, v, vlen);
        if (off > m->len)
            memset(m->val + m->len, 0, off - m->len); /* Redis pads with zeros */
        memcpy(m->val + off, v, vlen);
        if (off + vlen > m->len)
            m->len = (uint16_t)(off + vlen);
        m->present = true;
        o->want = ':';
        o->xint = m->len;
        return;
    }
    case X_INCRBYFLOAT: {
        uint64_t h, by = 1 + (r >> 16) % 6; /* halves */
        snprintf(num, sizeof num, by % 2 ? "%llu.5" : "%llu", (unsigned long long)(by / 2));
        tw_resp_add_array(b, 3);
        tw_resp_add_bulk_str(b, "INCRBYFLOAT");
        tw_resp_add_bulk_str(b, k[0]);
        tw_resp_add_bulk_str(b, num);
        if (!x_halves(m, &h)) {
            o->want = '-'; /* not a number: nothing changes */
            return;
        }
        h += by;
        vlen = (size_t)snprintf((char *)v, 24, h % 2 ? "%llu.5" : "%llu",
                                (unsigned long long)(h / 2));
        x_set_val(m, v, vlen); /* the time to live stays */
        x_want_value(a, o, m);
        return;
    }
    case X_EXPIRE: {
        static const char *const flags[] = {NULL, "NX", "XX", "GT", "LT"};
        unsigned f = (unsigned)((r >> 16) % 5);
        bool ms = (r >> 24) & 1;
        /* A thousand seconds and more: nothing expires in a run, and
         * two times to live a thousand seconds apart compare the same
         * on any clocks. */
        int64_t ttl = 1000000 * (int64_t)(1 + (r >> 32) % 4);
        if (ttl == m->ttl_ms)
            ttl += 1000000;
        tw_resp_add_array(b, flags[f] ? 4 : 3);
        tw_resp_add_bulk_str(b, ms ? "PEXPIRE" : "EXPIRE");
        tw_resp_add_bulk_str(b, k[0]);
        snprintf(num, sizeof num, "%lld", (long long)(ms ? ttl : ttl / 1000));
        tw_resp_add_bulk_str(b, num);
        if (flags[f])
            tw_resp_add_bulk_str(b, flags[f]);
        bool has = m->ttl_ms != 0;
        /* No time to live counts as an infinite one for GT and LT. */
        bool set = m->present &&
                   (f == 0 || (f == 1 && !has) || (f == 2 && has) ||
                    (f == 3 && has && ttl > m->ttl_ms) ||
                    (f == 4 && (!has || ttl < m->ttl_ms)));
        o->want = ':';
        o->xint = set;
        if (set) {
            m->ttl_ms = ttl;
            m->ttl_sent = now;
        }
        return;
    }
    case X_PERSIST:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, "PERSIST");
        tw_resp_add_bulk_str(b, k[0]);
        o->want = ':';
        o->xint = m->present && m->ttl_ms;
        m->ttl_ms = 0;
        return;
    case X_TTL:
    case X_PTTL:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, o->xk == X_TTL ? "TTL" : "PTTL");
        tw_resp_add_bulk_str(b, k[0]);
        o->want = ':';
        o->xint = !m->present ? -2 : -1;
        if (m->present && m->ttl_ms) {
            o->want = o->xk == X_TTL ? 'T' : 't';
            o->xint = m->ttl_ms;
            o->xbase = m->ttl_sent;
        }
        return;
    case X_RENAME:
    case X_RENAMENX:
        tw_resp_add_array(b, 3);
        tw_resp_add_bulk_str(b, o->xk == X_RENAME ? "RENAME" : "RENAMENX");
        tw_resp_add_bulk_str(b, k[0]);
        tw_resp_add_bulk_str(b, k[1]);
        if (!m->present) {
            o->want = '-'; /* no such key */
            return;
        }
        o->want = o->xk == X_RENAME ? '+' : ':';
        o->xint = !md->present;
        if (o->xk == X_RENAMENX && md->present)
            return;
        x_set_val(md, m->val, m->len);
        md->ttl_ms = m->ttl_ms;
        md->ttl_sent = m->ttl_sent;
        m->present = false;
        m->len = 0;
        m->ttl_ms = 0;
        return;
    default: { /* X_COPY */
        bool replace = (r >> 16) & 1;
        tw_resp_add_array(b, replace ? 4 : 3);
        tw_resp_add_bulk_str(b, "COPY");
        tw_resp_add_bulk_str(b, k[0]);
        tw_resp_add_bulk_str(b, k[1]);
        if (replace)
            tw_resp_add_bulk_str(b, "REPLACE");
        o->want = ':';
        o->xint = m->present && (replace || !md->present);
        if (o->xint) {
            x_set_val(md, m->val, m->len);
            md->ttl_ms = m->ttl_ms;
            md->ttl_sent = m->ttl_sent;
        }
        return;
    }
    }
}

/* Up to 40 bytes of a reply, for a message. */
static void x_show(const tw_resp_reply *r, char *buf, size_t cap)
{
    if (r->type == ':') {
        snprintf(buf, cap, "%lld", (long long)r->integer);
        return;
    }
    if (r->nil) {
        snprintf(buf, cap, "nil");
        return;
    }
    size_t n = 0;
    buf[n++] = r->type;
    for (size_t i = 0; r->str && i < r->len && i < 40 && n + 2 < cap; i++)
        buf[n++] = r->str[i] >= ' ' && r->str[i] < 127 ? (char)r->str[i] : '.';
    buf[n] = '\0';
}

static void check_x(client *a, const op *o, const tw_resp_reply *r, tw_ns now)
{
    char got[64], k[NAME_MAX_LEN + 40];
    const uint8_t *w = a->xwant + (size_t)o->ring * XVAL_MAX;
    x_show(r, got, sizeof got);
    snprintf(k, sizeof k, "%c%u", o->xslot[0] < XKEYS ? 'x' : 'r',
             o->xslot[0] < XKEYS ? o->xslot[0] : o->xslot[0] - XKEYS);
    char want_type = o->want == 't' || o->want == 'T' ? ':' : o->want;
    if (r->type != want_type) {
        violate(a, "op %llu: %s %s replied %s; wanted type '%c'",
                (unsigned long long)o->index, x_names[o->xk], k, got, want_type);
        return;
    }
    switch (o->want) {
    case '+':
        if (r->len != 2 || memcmp(r->str, "OK", 2) != 0)
            violate(a, "op %llu: %s %s replied %s", (unsigned long long)o->index,
                    x_names[o->xk], k, got);
        return;
    case ':':
        if (r->integer != o->xint)
            model_violate(a, "op %llu: %s %s replied %s; the model wants %lld",
                          (unsigned long long)o->index, x_names[o->xk], k, got,
                          (long long)o->xint);
        return;
    case '$':
        if (r->nil != o->want_nil ||
            (!r->nil && (r->len != o->want_len || memcmp(r->str, w, r->len) != 0)))
            model_violate(a, "op %llu: %s %s replied %s; the model wants %s%.*s",
                          (unsigned long long)o->index, x_names[o->xk], k, got,
                          o->want_nil ? "nil" : "$",
                          o->want_nil ? 0 : (int)(o->want_len < 40 ? o->want_len : 40),
                          (const char *)w);
        return;
    case 't':
    case 'T': {
        /* Set between xbase and now on the server's clock, which may be
         * off ours by --clock-slack. */
        int64_t slack = a->clock_slack / TW_MS(1) + 2;
        int64_t hi = o->xint + slack, lo = o->xint - (now - o->xbase) / TW_MS(1) - slack;
        if (o->want == 'T') {
            hi = hi / 1000 + 1;
            lo = lo / 1000 - 1;
        }
        if (r->integer < lo || r->integer > hi)
            model_violate(a, "op %llu: %s %s replied %lld; the model wants %lld..%lld",
                          (unsigned long long)o->index, x_names[o->xk], k,
                          (long long)r->integer, (long long)lo, (long long)hi);
        return;
    }
    default: /* '-': the type was all */
        return;
    }
}

static void on_reply(client *a, const op *o, const tw_resp_reply *r, tw_ns now)
{
    keym *m = &a->km[o->key[0]];
    switch (o->kind) {
    case OP_SET:
        if (r->type != '+' || r->len != 2 || memcmp(r->str, "OK", 2) != 0) {
            violate(a, "op %llu: SET replied '%.*s'", (unsigned long long)o->index,
                    (int)(r->len < 80 ? r->len : 80), r->str ? (const char *)r->str : "");
            return;
        }
        m->ver = o->version;
        m->px_ms = o->px_ms;
        m->set_sent = o->sent;
        m->set_acked = now;
        return;
    case OP_GET:
        check_value(a, o, o->key[0], r, now);
        return;
    case OP_MGET: {
        if (r->type != '*' || r->integer != 3) {
            violate(a, "op %llu: MGET did not reply an array of 3",
                    (unsigned long long)o->index);
            return;
        }
        const uint8_t *p = r->str, *end = r->str + r->len;
        for (int k = 0; k < 3; k++) {
            tw_resp_reply e;
            int n = tw_resp_reply_parse(p, (size_t)(end - p), &e, NULL);
            if (n <= 0) {
                violate(a, "op %llu: MGET element %d unreadable",
                        (unsigned long long)o->index, k);
                return;
            }
            check_value(a, o, o->key[k], &e, now);
            p += n;
        }
        return;
    }
    case OP_DEL:
    case OP_EXISTS:
        check_int(a, o, r);
        if (r->integer == 1 && !can_be_present(a, m, o))
            model_violate(a, "op %llu: %s k%u found a key that cannot be there",
                    (unsigned long long)o->index, o->kind == OP_DEL ? "DEL" : "EXISTS",
                    o->key[0]);
        if (r->integer == 0 && !can_be_absent(a, m, now))
            model_violate(a, "op %llu: %s k%u missed a key that must be there",
                    (unsigned long long)o->index, o->kind == OP_DEL ? "DEL" : "EXISTS",
                    o->key[0]);
        if (o->kind == OP_DEL) {
            m->ver = 0;
            m->px_ms = 0;
        }
        return;
    case OP_INCR:
        check_int(a, o, r);
        if (r->integer < a->ctr + 1 || r->integer > a->ctr + 1 + (int64_t)a->ctr_unsure) {
            model_violate(a, "op %llu: INCR gave %lld; acknowledged value %lld, %llu "
                       "unacknowledged INCRs",
                    (unsigned long long)o->index, (long long)r->integer,
                    (long long)a->ctr, (unsigned long long)a->ctr_unsure);
            a->ctr = r->integer; /* --history-only: go on from what came */
            a->ctr_unsure = 0;
            return;
        }
        a->ctr_unsure -= (uint64_t)(r->integer - a->ctr - 1); /* those landed */
        a->ctr = r->integer;
        return;
    case OP_ECHO: {
        char want[32];
        int n = snprintf(want, sizeof want, "echo-%llu", (unsigned long long)o->index);
        if (r->type != '$' || r->len != (size_t)n || memcmp(r->str, want, (size_t)n))
            violate(a, "op %llu: ECHO came back wrong", (unsigned long long)o->index);
        return;
    }
    case OP_X:
        check_x(a, o, r, now);
        return;
    default:
        return;
    }
}

/* INFO: a new run_id means a restarted server, whose keys are gone
 * (unless it keeps them on disk: --durable). */
static void on_info(client *a, const tw_resp_reply *r)
{
    const char *tag = "run_id:";
    const uint8_t *p = r->type == '$' && !r->nil ? r->str : NULL;
    const uint8_t *hit = NULL;
    for (size_t i = 0; p && i + 7 <= r->len && !hit; i++)
        if (memcmp(p + i, tag, 7) == 0)
            hit = p + i + 7;
    if (!hit) {
        violate(a, "INFO had no run_id");
        return;
    }
    size_t n = 0;
    while (hit + n < p + r->len && hit[n] != '\r' && n < sizeof a->run_id - 1)
        n++;
    if (a->run_id[0] && (strlen(a->run_id) != n || memcmp(a->run_id, hit, n))) {
        a->restarts++;
        if (!a->durable) {
            reset_model(a);
            for (unsigned i = 0; a->xm && i < XKEYS + 2 * XPAIRS; i++)
                a->xm[i] = (xkey){.gen = a->xm[i].gen};
        }
    }
    memcpy(a->run_id, hit, n);
    a->run_id[n] = '\0';
    a->ready = true;
}

/* ---- the connection ---- */

/* ---- the history ---- */

static uint32_t process_of(const client *a, const op *o)
{
    (void)o;
    return (uint32_t)((a->seed & 0x3fffff) * 1024 + a->dial.connects % 1024);
}

/* An op on an x key, the model already past it: a read is a get, a
 * write a put of the value it leaves (which the model knows), GETSET
 * and GETDEL a get and then a put or del over the same span. Times to
 * live are a thousand seconds and more, never reached in a run: no
 * expire. The r pairs stay out (a per-key history cannot hold an op
 * on two keys). */
static void record_invoke_x(client *a, op *o, uint32_t p)
{
    char k[NAME_MAX_LEN + 40];
    if (o->xslot[0] >= XKEYS)
        return;
    const xkey *m = &a->xm[o->xslot[0]];
    xkey_name(a, o->xslot[0], k, sizeof k);
    switch (o->xk) {
    case X_GET:
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_GET, k, NULL, 0);
        return;
    case X_GETSET:
    case X_SETGET:
    case X_GETDEL:
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_GET, k, NULL, 0);
        o->hist[1] = o->xk == X_GETDEL
                         ? tw_history_invoke(a->loop, p, TW_HISTORY_DEL, k, NULL, 0)
                         : tw_history_invoke(a->loop, p, TW_HISTORY_PUT, k, m->val, m->len);
        return;
    case X_SET:
    case X_APPEND:
    case X_SETRANGE:
    case X_INCRBYFLOAT:
        if (o->want != '-')
            o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_PUT, k, m->val, m->len);
        return;
    default:
        return;
    }
}

/* val: the value a SET writes (len bytes), made by the caller. */
static void record_invoke(client *a, op *o, const uint8_t *val, size_t len)
{
    char k[NAME_MAX_LEN + 40];
    /* Keys are written out for a history someone reads (the
     * simulator's); the real backend keeps none, so none is formatted. */
    if (!tw_history_of(a->loop))
        return;
    uint32_t p = process_of(a, o);
    key_name(a, o->key[0], k, sizeof k);
    switch (o->kind) {
    case OP_SET: {
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_PUT, k, val, len);
        keyx *x = &a->kx[o->key[0]];
        if (o->px_ms && x->n < EXPIRES_MAX &&
            (o->expire = tw_history_invoke(a->loop, p, TW_HISTORY_EXPIRE, k, NULL, 0)) > 0) {
            x->id[x->n] = o->expire;
            x->index[x->n++] = o->index;
        }
        break;
    }
    case OP_GET:
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_GET, k, NULL, 0);
        break;
    case OP_DEL:
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_DEL, k, NULL, 0);
        break;
    case OP_MGET:
        for (int i = 0; i < 3; i++) {
            key_name(a, o->key[i], k, sizeof k);
            o->hist[i] = tw_history_invoke(a->loop, p, TW_HISTORY_GET, k, NULL, 0);
        }
        break;
    case OP_INCR:
        snprintf(k, sizeof k, "%s:n", a->prefix);
        o->hist[0] = tw_history_invoke(a->loop, p, TW_HISTORY_INCR, k, NULL, 0);
        break;
    case OP_X:
        record_invoke_x(a, o, p);
        break;
    default:
        break;
    }
}

/* A write of key k acknowledged: it cleared the time to live of the
 * SETs before it, whose expires close now. */
static void close_expires(client *a, uint32_t k, uint64_t index)
{
    keyx *x = &a->kx[k];
    unsigned kept = 0;
    for (unsigned i = 0; i < x->n; i++) {
        if (x->index[i] < index) {
            tw_history_ok(a->loop, x->id[i], NULL, 0);
        } else {
            x->id[kept] = x->id[i];
            x->index[kept++] = x->index[i];
        }
    }
    x->n = kept;
}

/* A SET with PX lost: its expire stays open for ever (it may land late). */
static void keep_expire_open(client *a, const op *o)
{
    keyx *x = &a->kx[o->key[0]];
    unsigned kept = 0;
    for (unsigned i = 0; i < x->n; i++)
        if (x->id[i] != o->expire) {
            x->id[kept] = x->id[i];
            x->index[kept++] = x->index[i];
        }
    x->n = kept;
}

static void record_get(client *a, int64_t id, const tw_resp_reply *r)
{
    if (r->type != '$')
        tw_history_info(a->loop, id);
    else
        tw_history_ok(a->loop, id, r->nil ? NULL : r->str, r->nil ? 0 : r->len);
}

static void record_reply(client *a, const op *o, const tw_resp_reply *r)
{
    switch (o->kind) {
    case OP_SET:
    case OP_DEL:
        if (r->type == '-') {
            tw_history_fail(a->loop, o->hist[0]);
        } else if (r->type == '+' || r->type == ':') {
            tw_history_ok(a->loop, o->hist[0], NULL, 0);
            close_expires(a, o->key[0], o->index);
        } else {
            tw_history_info(a->loop, o->hist[0]);
        }
        return;
    case OP_GET:
        record_get(a, o->hist[0], r);
        return;
    case OP_MGET: {
        const uint8_t *p = r->str, *end = r->str ? r->str + r->len : NULL;
        for (int k = 0; k < 3; k++) {
            tw_resp_reply e;
            int n = r->type == '*' && !r->nil && r->integer == 3
                        ? tw_resp_reply_parse(p, (size_t)(end - p), &e, NULL) : -1;
            if (n <= 0) {
                tw_history_info(a->loop, o->hist[k]);
                continue;
            }
            record_get(a, o->hist[k], &e);
            p += n;
        }
        return;
    }
    case OP_INCR: {
        char num[24];
        if (o->hist[0] == 0)
            return; /* not recorded: nothing to complete */
        int n = snprintf(num, sizeof num, "%lld", (long long)r->integer);
        if (r->type == ':')
            tw_history_ok(a->loop, o->hist[0], num, (size_t)n);
        else if (r->type == '-')
            tw_history_fail(a->loop, o->hist[0]);
        else
            tw_history_info(a->loop, o->hist[0]);
        return;
    }
    case OP_X:
        if (o->hist[0] == 0)
            return;
        if (o->xk == X_GET || o->xk == X_GETSET || o->xk == X_SETGET ||
            o->xk == X_GETDEL)
            record_get(a, o->hist[0], r);
        else if (r->type == '-')
            tw_history_fail(a->loop, o->hist[0]);
        else
            tw_history_ok(a->loop, o->hist[0], NULL, 0);
        if (o->hist[1] > 0) {
            if (r->type == '$')
                tw_history_ok(a->loop, o->hist[1], NULL, 0);
            else
                tw_history_info(a->loop, o->hist[1]);
        }
        return;
    default:
        return;
    }
}

static void record_lost(client *a, const op *o)
{
    for (int k = 0; k < 3; k++)
        tw_history_info(a->loop, o->hist[k]);
    if (o->expire > 0)
        keep_expire_open(a, o);
}

static op *q_at(client *a, size_t i) { return &a->q[(a->q_head + i) % (a->pipeline + 1)]; }

static void send_op(client *a, op *o)
{
    tw_resp_buf *b = &a->wb; /* one buffer for every request, kept */
    b->len = 0;
    b->overflow = false;
    char k[3][NAME_MAX_LEN + 40];
    int kl[3];
    for (int i = 0; i < (o->kind == OP_MGET ? 3 : 1); i++)
        kl[i] = key_name(a, o->key[i], k[i], sizeof k[i]);
    char num[NAME_MAX_LEN + 40];
    uint8_t val[VALUE_MAX];
    size_t vlen = 0;
    switch (o->kind) {
    case OP_INFO:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, "INFO");
        tw_resp_add_bulk_str(b, "server");
        break;
    case OP_SET:
        tw_resp_add_array(b, o->px_ms ? 5 : 3);
        tw_resp_add_bulk_str(b, "SET");
        tw_resp_add_bulk(b, k[0], (size_t)kl[0]);
        vlen = value_of(a, o->version, val, sizeof val);
        vcache_put(a, o->version, val, vlen);
        tw_resp_add_bulk(b, val, vlen);
        if (o->px_ms) {
            tw_resp_add_bulk_str(b, "PX");
            snprintf(num, sizeof num, "%lld", (long long)o->px_ms);
            tw_resp_add_bulk_str(b, num);
        }
        break;
    case OP_GET:
    case OP_DEL:
    case OP_EXISTS:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, o->kind == OP_GET ? "GET" : o->kind == OP_DEL ? "DEL" : "EXISTS");
        tw_resp_add_bulk(b, k[0], (size_t)kl[0]);
        break;
    case OP_MGET:
        tw_resp_add_array(b, 4);
        tw_resp_add_bulk_str(b, "MGET");
        for (int i = 0; i < 3; i++)
            tw_resp_add_bulk(b, k[i], (size_t)kl[i]);
        break;
    case OP_INCR:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, "INCR");
        snprintf(num, sizeof num, "%s:n", a->prefix);
        tw_resp_add_bulk_str(b, num);
        break;
    case OP_X:
        o->ring = (uint32_t)((a->q_head + a->q_len) % (a->pipeline + 1));
        x_prepare(a, o, b);
        break;
    default:
        tw_resp_add_array(b, 2);
        tw_resp_add_bulk_str(b, "ECHO");
        snprintf(num, sizeof num, "echo-%llu", (unsigned long long)o->index);
        tw_resp_add_bulk_str(b, num);
        break;
    }
    o->sent = tw_loop_now(a->loop);
    record_invoke(a, o, val, vlen);
    *q_at(a, a->q_len++) = *o;
    tw_transport *t = apps_redial_transport(&a->dial);
    /* A write refused (no memory for the buffer) leaves the connection
     * out of step with the queue: it goes, and the op counts as in
     * flight on a lost connection (it may or may not have run). */
    if ((b->overflow || tw_transport_write(t, b->data, b->len) < 0) &&
        !tw_transport_is_closing(t))
        tw_transport_abort(t);
}

/* Keep the pipeline full, unless the transport asked us to wait. */
static void fill(client *a)
{
    while (a->dial.conn && a->ready && !a->wpaused && !a->done &&
           a->q_len < a->pipeline && a->acked + a->q_len < a->ops) {
        op o = make_op(a, a->next++);
        send_op(a, &o);
    }
}

static void finish_run(client *a)
{
    a->done = true;
    if (a->watchdog)
        tw_handle_cancel(a->loop, a->watchdog);
    a->watchdog = 0;
    if (a->out)
        fprintf(a->out, "resp-client: %llu ops checked over %llu connection(s), "
                        "%llu server restart(s) seen\n",
                (unsigned long long)a->acked, (unsigned long long)a->dial.connects,
                (unsigned long long)a->restarts);
    tw_transport *t = apps_redial_transport(&a->dial);
    if (t)
        tw_transport_close(t);
}

/* Check the replies whole in buf[0..len): how many bytes they took, or
 * SIZE_MAX after an unreadable one (the connection is aborted). */
static size_t take_replies(client *a, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    tw_ns now = tw_loop_now(a->loop);
    while (a->q_len && off < len) {
        tw_resp_reply r;
        int n = tw_resp_reply_parse(buf + off, len - off, &r, NULL);
        if (n == 0)
            break;
        if (n < 0) {
            violate(a, "an unreadable reply");
            tw_transport_abort(apps_redial_transport(&a->dial));
            return SIZE_MAX;
        }
        op o = *q_at(a, 0);
        a->q_head = (a->q_head + 1) % (a->pipeline + 1);
        a->q_len--;
        off += (size_t)n;
        if (o.kind == OP_INFO) {
            on_info(a, &r);
        } else {
            on_reply(a, &o, &r, now);
            record_reply(a, &o, &r);
            a->acked++;
        }
    }
    return off;
}

/* Keep n bytes of a reply's beginning for the rest. False: no memory
 * (the connection is aborted). */
static bool keep_bytes(client *a, const uint8_t *d, size_t n)
{
    if (n == 0)
        return true; /* nothing left over (and maybe no buffer yet) */
    if (a->r_len + n > a->r_cap) {
        size_t cap = a->r_cap ? a->r_cap : 4096;
        while (cap < a->r_len + n)
            cap *= 2;
        uint8_t *b = realloc(a->rbuf, cap);
        if (!b) {
            tw_transport_abort(apps_redial_transport(&a->dial));
            return false;
        }
        a->rbuf = b;
        a->r_cap = cap;
    }
    memcpy(a->rbuf + a->r_len, d, n);
    a->r_len += n;
    return true;
}

/* Replies arrived: checked where they lie, except a reply begun in an
 * earlier delivery. That one is completed from the kept bytes plus as
 * many new ones as it takes (added in doubling steps, so a delivery of
 * many replies is not all copied for the sake of its first); what is
 * left unfinished is kept. Then the next requests. */
static void consume(client *a, const uint8_t *d, size_t n)
{
    size_t step = 512;
    while (a->r_len > 0 && n > 0) {
        size_t k = n < step ? n : step;
        size_t old = a->r_len;
        if (!keep_bytes(a, d, k))
            return;
        d += k;
        n -= k;
        size_t off = take_replies(a, a->rbuf, a->r_len);
        if (off == SIZE_MAX)
            return;
        if (off >= old) {
            /* The kept beginning is done; what follows it of the new
             * bytes is read where it lies. */
            size_t back = a->r_len - off;
            d -= back;
            n += back;
            a->r_len = 0;
        } else {
            memmove(a->rbuf, a->rbuf + off, a->r_len - off);
            a->r_len -= off;
            step *= 2;
        }
    }
    if (n > 0) {
        size_t off = take_replies(a, d, n);
        if (off == SIZE_MAX || !keep_bytes(a, d + off, n - off))
            return;
    }
    if (a->acked >= a->ops && !a->done)
        finish_run(a);
    else
        fill(a);
}

static void read_resume(void *arg)
{
    client *a = arg;
    a->read_timer = 0;
    tw_transport *t = apps_redial_transport(&a->dial);
    if (t)
        tw_transport_resume_reading(t);
}

static void c_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    client *a = apps_redial_app(p);
    if (!a || a->done)
        return;
    tw_transport *t = apps_redial_transport(&a->dial);
    consume(a, d, n);
    if (a->read_rate && a->dial.conn && !a->done) {
        /* A slow reader: take the time these bytes take at the rate. */
        tw_transport_pause_reading(t);
        if (a->read_timer)
            tw_handle_cancel(a->loop, a->read_timer);
        a->read_timer = tw_call_later(a->loop,
                                      (tw_ns)((__int128)n * TW_NS_PER_SEC / a->read_rate),
                                      read_resume, a);
    }
}

/* ---- failures and reconnecting ---- */

/* The connection is gone: what was in flight may or may not have run,
 * even later (its bytes may still be on their way to the server). */
static void lost_in_flight(client *a)
{
    for (size_t i = 0; i < a->q_len; i++) {
        op *o = q_at(a, i);
        keym *m = &a->km[o->key[0]];
        record_lost(a, o);
        if (o->kind == OP_SET) {
            add_maybe(m, o->version);
            m->maybe_absent |= o->px_ms != 0; /* it may land, then expire */
        } else if (o->kind == OP_DEL) {
            m->maybe_absent = true;
        } else if (o->kind == OP_INCR) {
            a->ctr_unsure++;
        } else if (o->kind == OP_X) {
            xkey_give_up(a, o->xslot[0]);
        }
    }
    a->q_len = a->q_head = 0;
    a->r_len = 0;
    a->ready = a->wpaused = false;
    if (a->read_timer)
        tw_handle_cancel(a->loop, a->read_timer);
    a->read_timer = 0;
}

/* A connection or a connect failed: tried again later, or, once
 * --attempts connects have been made, given up. */
static void on_failure(void *arg, int err, bool again)
{
    client *a = arg;
    if (a->out)
        fprintf(a->out, "resp-client: connection failed (%s) after %llu ops\n",
                tw_strerror(err), (unsigned long long)a->acked);
    if (again)
        return;
    /* Nothing is left to watch: the loop may end. */
    if (a->watchdog)
        tw_handle_cancel(a->loop, a->watchdog);
    a->watchdog = 0;
}

static void c_made(tw_protocol *p, tw_transport *t)
{
    client *a = apps_redial_made(p, t);
    if (!a)
        return;
    op info = {.kind = OP_INFO, .index = UINT64_MAX};
    send_op(a, &info); /* first: which server process is this? */
}

static void c_lost(tw_protocol *p, int err)
{
    client *a = apps_redial_lost(p);
    if (!a)
        return;
    lost_in_flight(a);
    if (!a->done)
        apps_redial_failed(&a->dial, err ? err : -ECONNRESET);
}

static void c_pause(tw_protocol *p)
{
    client *a = apps_redial_app(p);
    if (a)
        a->wpaused = true;
}

static void c_resume(tw_protocol *p)
{
    client *a = apps_redial_app(p);
    if (a) {
        a->wpaused = false;
        fill(a);
    }
}

static const tw_protocol_ops conn_ops = {
    .connection_made = c_made,
    .data_received = c_data,
    .connection_lost = c_lost,
    .pause_writing = c_pause,
    .resume_writing = c_resume,
    .release = apps_redial_release,
};

/* ---- the watchdog: a reply later than --timeout ends the connection ---- */

static void watchdog_cb(void *arg)
{
    client *a = arg;
    a->watchdog = 0;
    if (a->done || a->dial.gave_up)
        return;
    tw_ns now = tw_loop_now(a->loop);
    tw_transport *t = apps_redial_transport(&a->dial);
    if (t && a->q_len && now - q_at(a, 0)->sent > a->timeout)
        tw_transport_abort(t);
    a->watchdog = tw_call_later(a->loop, a->timeout / 4, watchdog_cb, a);
}

/* ---- options ---- */

typedef struct client_opts {
    tw_opt_hostport connect;
    uint64_t ops, keys, pipeline, size_max, px_pct, seed, read_rate, attempts_max;
    tw_ns px_max, timeout, retry, clock_slack;
    const char *name;
    bool quiet, durable, history_only, extended;
} client_opts;

static const tw_opt client_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, client_opts, connect),
     .def = "127.0.0.1:6399", .help = "the server (default 127.0.0.1:6399)"},
    {.name = "ops", TW_OPT_FIELD(TW_OPT_U64, client_opts, ops), .def = "1000",
     .min = 1, .help = "replies to check (default 1000)"},
    {.name = "keys", TW_OPT_FIELD(TW_OPT_U64, client_opts, keys), .def = "16",
     .min = 1, .max = 1000000, .help = "keys of this client (default 16)"},
    {.name = "pipeline", TW_OPT_FIELD(TW_OPT_U64, client_opts, pipeline), .def = "4",
     .min = 1, .max = 1000000, .help = "requests in flight (default 4)"},
    {.name = "size", TW_OPT_FIELD(TW_OPT_BYTES, client_opts, size_max), .def = "64",
     .min = 24, .max = 4096, .help = "largest value, 24..4096 (default 64)"},
    {.name = "px", TW_OPT_FIELD(TW_OPT_U64, client_opts, px_pct), .def = "10",
     .max = 100, .meta = "PERCENT", .help = "SETs with an expiry (default 10)"},
    {.name = "px-max", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, px_max),
     .def = "500ms", .min = TW_MS(1), .help = "longest such expiry (default 500ms)"},
    {.name = "timeout", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, timeout),
     .def = "2s", .min = 4,
     .help = "a reply slower than this: reconnect (default 2s)"},
    {.name = "retry", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, retry),
     .def = "100ms", .min = 1,
     .help = "first reconnect delay, doubling to 2s (default 100ms)"},
    {.name = "attempts", TW_OPT_FIELD(TW_OPT_U64, client_opts, attempts_max),
     .help = "give up after N connects (default 0: never)"},
    {.name = "read-rate", TW_OPT_FIELD(TW_OPT_RATE, client_opts, read_rate),
     .help = "read replies at most this fast (default: no limit)"},
    {.name = "clock-slack", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, clock_slack),
     .help = "how far the server's clock may be off this\n"
             "client's over an expiry (clock faults; default 0)"},
    {.name = "name", TW_OPT_FIELD(TW_OPT_STRING, client_opts, name), .def = "c",
     .min = 1, .max = NAME_MAX_LEN, .meta = "NAME", .help = "key prefix (default c)"},
    {.name = "seed", TW_OPT_FIELD(TW_OPT_U64, client_opts, seed),
     .help = "varies the ops (default 0)"},
    {.name = "durable", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, durable),
     .help = "the server keeps acknowledged writes across its\n"
             "restarts (resp-server --appendonly): check that it does"},
    {.name = "history-only", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, history_only),
     .help = "check replies only through the history (a scenario's\n"
             "linearizable: true), not against this client's model"},
    {.name = "extended", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, extended),
     .help = "add APPEND, GETSET, SET GET, GETDEL, INCRBYFLOAT,\n"
             "SETRANGE, EXPIRE/PEXPIRE NX|XX|GT|LT, PERSIST, TTL,\n"
             "PTTL, RENAME, RENAMENX and COPY on keys of their own"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, quiet),
     .help = "no output"},
    {0},
};

TW_OPTS_USAGE_TEXT(client_usage, 3072, client_table)

/* ---- the app ---- */

static void client_free_mem(client *a)
{
    free(a->km);
    free(a->kx);
    free(a->q);
    free(a->rbuf);
    tw_resp_buf_fini(&a->wb);
    free(a->vc_bytes);
    free(a->xm);
    free(a->xwant);
    free(a);
}

static int client_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    client *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    client_opts o = {0};
    int rc = tw_opts_parse(client_table, &o, argc, argv, out);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *a = (client){.loop = loop, .port = o.connect.port, .ops = o.ops,
                  .keys = o.keys, .pipeline = o.pipeline, .size_max = o.size_max,
                  .seed = o.seed, .px_pct = o.px_pct, .px_max = o.px_max,
                  .timeout = o.timeout, .retry = o.retry,
                  .attempts_max = o.attempts_max,
                  .clock_slack = o.clock_slack, .read_rate = o.read_rate,
                  .durable = o.durable, .history_only = o.history_only,
                  .extended = o.extended};
    snprintf(a->host, sizeof a->host, "%s", o.connect.host);
    bool quiet = o.quiet;
    const char *name = o.name;
    a->km = calloc(a->keys, sizeof *a->km);
    a->kx = calloc(a->keys, sizeof *a->kx);
    a->q = calloc(a->pipeline + 1, sizeof *a->q); /* + the INFO */
    if (a->extended && a->pipeline > XPIPELINE_MAX) {
        if (out)
            fprintf(out, "resp-client: --extended takes --pipeline up to %d\n",
                    XPIPELINE_MAX);
        client_free_mem(a);
        return -EINVAL;
    }
    if (a->extended) {
        a->xm = calloc(XKEYS + 2 * XPAIRS, sizeof *a->xm);
        a->xwant = malloc((a->pipeline + 1) * XVAL_MAX);
    }
    if (!a->km || !a->kx || !a->q || (a->extended && (!a->xm || !a->xwant))) {
        client_free_mem(a);
        return -ENOMEM;
    }
    /* Keys of this run only: the start time differs between runs (and a
     * restarted node's run), so old keys on the server are never seen. */
    snprintf(a->prefix, sizeof a->prefix, "%s:%08llx", name,
             (unsigned long long)(tw_mix64(a->seed ^ (uint64_t)tw_loop_now(loop)) &
                                  0xffffffffu));
    a->out = quiet ? NULL : out;
    a->dial = (apps_redial){.loop = loop, .host = a->host, .port = a->port,
                           .retry = a->retry, .attempts_max = a->attempts_max,
                           .ops = &conn_ops, .arg = a, .on_failure = on_failure};
    a->watchdog = tw_call_later(loop, a->timeout / 4, watchdog_cb, a);
    apps_redial_start(&a->dial);
    *state = a;
    return 0;
}

static const char *client_invariant(void *state)
{
    client *a = state;
    return a->violation[0] ? a->violation : NULL;
}

/* Finished, or gave up (--attempts): either way it has nothing more to do. */
static bool client_done(void *state)
{
    client *a = state;
    return a->done || a->dial.gave_up;
}

static int client_result(void *state)
{
    client *a = state;
    return a->done && !a->violation[0] ? 0 : 1;
}

static void client_free(void *state)
{
    client *a = state;
    if (a->watchdog)
        tw_handle_cancel(a->loop, a->watchdog);
    apps_redial_stop(&a->dial);
    if (a->read_timer)
        tw_handle_cancel(a->loop, a->read_timer);
    client_free_mem(a);
}

/* After a simulated crash: the pending connect never calls back. */
static void client_discard(void *state)
{
    client *a = state;
    apps_redial_discard(&a->dial);
    client_free_mem(a);
}

const tw_app tw__app_resp_client = {
    .name = "resp-client",
    .summary = "checked key-value workload against a RESP server: every "
               "reply verified, reconnects after failures",
    .usage = client_usage,
    .opts = client_table,
    .start = client_start,
    .result = client_result,
    .free = client_free,
    .invariant = client_invariant,
    .done = client_done,
    .discard = client_discard,
};
