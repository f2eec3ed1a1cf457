/* kit/pcap.c - a world's traffic as pcapng files, one per node
 * (twin/simpcap.h), from the packet tap (twin/simprobe.h).
 *
 * Map: files; packets and cookies; connections (sequence numbers);
 * records in time order; paths (what decides a pure ack's landing); the
 * tap's reports; start and finish.
 *
 * Reports come in the world's order, some for later times (a
 * retransmission's timer, a pure ack's landing). Each becomes a record
 * (a packet, a node, a time) in a heap ordered by time, then by order of
 * report; a record is written once the world's clock has passed its
 * time, so every file is in time order. Packet headers are made when the
 * packet is reported sent, from what the writer has seen arrive by then
 * (ack numbers) and what the world says of the sender's buffer
 * (windows); an ack that rides on a segment sent in the same instant
 * updates that segment's header before it is written, and a pure ack
 * followed in its instant by a segment of the same end is not written
 * (the segment carries it). A transmission after the first takes the
 * ack and window of its own time as it is written; a segment the world
 * drops (its connection reset or gone) has no transmission after that.
 *
 * A pure ack has no arrival report: it lands at its time unless its path
 * is cut then (the world holds it), or clogged (it waits for the clog's
 * end). The PATH reports come just before a path changes, so the writer
 * writes everything due before the change first, and judges a landing
 * with the path's state at its time.
 *
 * Limits: PC_PENDING_MAX records waiting, PC_COOKIES_MAX packets kept for
 * their arrival, PC_CONNS_MAX connections; past one the capture stops
 * with -ENOBUFS (the run goes on).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kit/pcap.h"
#include "twin/addr.h"
#include "twin/simpcap.h"
#include "twin/simprobe.h"

#define PC_PENDING_MAX (1u << 22)
#define PC_COOKIES_MAX (1u << 22)
#define PC_CONNS_MAX (1u << 20)
#define PC_NODES_MAX 65536

/* What a record's packet comment says. */
enum {
    NOTE_NONE,
    NOTE_LOST,
    NOTE_AGAIN,   /* sent again after a cut healed */
    NOTE_TWICE,   /* duplicated */
    NOTE_FLIP,    /* corrupted, as sent */
    NOTE_FLIPPED, /* corrupted, as arrived */
    NOTE_LATE,    /* held back (reordered) */
    NOTE_NOBODY,  /* no end takes it */
};

static const char *const notes[] = {
    [NOTE_NONE] = NULL,
    [NOTE_LOST] = "twin: lost on the way",
    [NOTE_AGAIN] = "twin: sent again after a cut healed",
    [NOTE_TWICE] = "twin: the network delivers this twice",
    [NOTE_FLIP] = "twin: bits flip on the way",
    [NOTE_FLIPPED] = "twin: corrupted on the way (the checksum is the sender's)",
    [NOTE_LATE] = "twin: held back on the way; later ones overtake it",
    [NOTE_NOBODY] = "twin: nobody at the other end takes it",
};

typedef struct pc_rec {
    tw_ns t;
    uint64_t order;
    pc_pkt *pkt;
    uint32_t node;
    uint8_t note;
    bool inbound;
    bool landing; /* a pure ack's landing: judged by its path */
    int8_t fixed; /* a landing judged already: 1 lands as due, -1 held */
} pc_rec;

typedef struct pc_side {
    uint32_t isn;
    uint64_t nxt;   /* relative sequence of its next byte (SYN is 0) */
    uint64_t rcvd;  /* relative sequence the other side has received */
    uint64_t wire;  /* relative sequence after what is on the wire */
    uint32_t syn_win;
    uint8_t wscale; /* what its SYN announced (PC_NO_WS: no SYN seen) */
    bool syn;       /* its SYN (or SYN-ACK) was sent */
    uint64_t win;   /* the window its last report gave (unscaled) */
    struct pc_pkt *ack; /* its last pure ack, while it may be merged */
} pc_side;

typedef struct pc_conn {
    struct pc_conn *next;
    uint64_t gen; /* which connection of these ends (they are reused) */
    bool v6;
    uint8_t ip[2][16];  /* [0]: the connecting side */
    uint16_t port[2];
    pc_side side[2];
} pc_conn;

typedef struct pc_path {
    bool cut;
    tw_ns clog_until;
} pc_path;

typedef struct pc_file {
    FILE *f;
    bool tried;
} pc_file;

struct tw_sim_pcap {
    tw_sim *sim;
    char dir[512];
    pc_file *files;
    uint32_t nfiles;
    /* cookies: index + 1 */
    pc_pkt **cookies;
    uint32_t ncookies, capcookies;
    uint32_t *freeids;
    uint32_t nfree;
    /* the records, a min-heap by (t, order) */
    pc_rec *heap;
    size_t len, cap;
    uint64_t order;
    /* connections */
    pc_conn **buckets;
    size_t nbuckets, nconns;
    uint64_t serial;
    /* paths: n x n */
    pc_path *paths;
    uint32_t npaths;
    pc_pkt *last_seg; /* the segment whose transmissions are being told */
    uint16_t ipid;
    int err;
    char errmsg[600];
    uint8_t scratch[PC_FRAME_MAX];
};

static void fail(tw_sim_pcap *pc, int err, const char *what)
{
    if (pc->err)
        return;
    pc->err = err;
    snprintf(pc->errmsg, sizeof pc->errmsg, "%.500s: %s", what, strerror(-err));
}

/* ---- files ---- */

static void file_path(const tw_sim_pcap *pc, uint32_t node, char *buf, size_t len)
{
    const char *name = tw_sim_node_name(tw_sim_node_at(pc->sim, node));
    char clean[64];
    size_t i = 0;
    for (; name && name[i] && i + 1 < sizeof clean; i++)
        clean[i] = name[i] == '/' ? '_' : name[i];
    clean[i] = '\0';
    snprintf(buf, len, "%s/%s.pcapng", pc->dir, i ? clean : "node");
}

/* The file of node, opened (and its header written) the first time. */
static FILE *file_of(tw_sim_pcap *pc, uint32_t node)
{
    if (node >= PC_NODES_MAX || pc->err)
        return NULL;
    if (node >= pc->nfiles) {
        uint32_t n = node + 1 > pc->nfiles * 2 ? node + 1 : pc->nfiles * 2;
        pc_file *nf = realloc(pc->files, n * sizeof *nf);
        if (!nf) {
            fail(pc, -ENOMEM, pc->dir);
            return NULL;
        }
        memset(nf + pc->nfiles, 0, (n - pc->nfiles) * sizeof *nf);
        pc->files = nf;
        pc->nfiles = n;
    }
    pc_file *fl = &pc->files[node];
    if (!fl->tried) {
        fl->tried = true;
        char path[700];
        file_path(pc, node, path, sizeof path);
        const char *name = tw_sim_node_name(tw_sim_node_at(pc->sim, node));
        fl->f = fopen(path, "wb");
        int rc = fl->f ? pc_write_header(fl->f, name ? name : "?", tw_sim_seed(pc->sim))
                       : -errno;
        if (rc < 0)
            fail(pc, rc, path);
    }
    return pc->err ? NULL : fl->f;
}

/* A window as the header has it, shifted by the scale its SYN
 * announced: rounded up, so that a room of a few bytes is not written
 * as none (the sender may fill it, and a reader that saw a zero window
 * would take that for a probe). */
static uint32_t scaled(uint64_t window, uint8_t ws)
{
    uint64_t w = (window + ((UINT64_C(1) << ws) - 1)) >> ws;
    return w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
}

/* A TCP packet leaving now: what its sender has on the wire moves on,
 * and a pure ack takes its sequence number from it (a segment reported
 * before it may wait for a busy wire, and go after it). */
static void on_wire(const pc_rec *r)
{
    pc_pkt *k = r->pkt;
    pc_conn *c = k->conn;
    if (r->inbound || !c || c->gen != k->conn_gen)
        return;
    pc_side *me = &c->side[k->side];
    if (k->rel_end && !k->seq_late && (k->flags & PC_ACK) &&
        !(k->flags & (PC_RST | PC_SYN))) {
        /* A segment's header is that of the moment it goes, as a stack
         * writes it: what has arrived by then, the room left. It may go
         * later than it was reported (a busy wire) and go again (a
         * retransmission). Every report up to this moment has been
         * heard, none after it. */
        pc_side *other = &c->side[1 - k->side];
        uint32_t ack = other->isn + (uint32_t)other->rcvd;
        if ((int32_t)(ack - k->ack) > 0) {
            k->ack = ack;
            uint8_t ws = me->wscale == PC_NO_WS || other->wscale == PC_NO_WS ? 0 : me->wscale;
            k->win = scaled(me->win, ws);
        }
    }
    if (k->seq_late) {
        k->seq = me->isn + (uint32_t)me->wire;
        k->seq_late = false;
    }
    if (me->wire < k->rel_end)
        me->wire = k->rel_end;
}

static void write_rec(tw_sim_pcap *pc, const pc_rec *r)
{
    on_wire(r);
    FILE *f = file_of(pc, r->node);
    if (!f)
        return;
    bool lo = r->pkt->from == r->pkt->to;
    int rc = pc_write_pkt(f, r->pkt, r->t, lo ? 1 : 0, r->inbound, notes[r->note],
                          pc->scratch);
    if (rc < 0) {
        char path[700];
        file_path(pc, r->node, path, sizeof path);
        fail(pc, rc, path);
    }
}

/* ---- packets and cookies ---- */

static pc_pkt *pkt_new(tw_sim_pcap *pc, size_t len)
{
    pc_pkt *p = calloc(1, sizeof *p + len);
    if (!p) {
        fail(pc, -ENOMEM, "capture");
        return NULL;
    }
    p->refs = 1;
    p->len = len;
    p->wscale = PC_NO_WS;
    p->ipid = pc->ipid++;
    return p;
}

static void pkt_unref(pc_pkt *p)
{
    if (p && --p->refs == 0)
        free(p);
}

/* Keep p for `arrivals` arrival reports: the cookie the world keeps. */
static uint32_t cookie_new(tw_sim_pcap *pc, pc_pkt *p, uint8_t arrivals)
{
    uint32_t id;
    if (pc->nfree) {
        id = pc->freeids[--pc->nfree];
    } else {
        if (pc->ncookies == PC_COOKIES_MAX) {
            fail(pc, -ENOBUFS, "capture: too many packets on their way");
            return 0;
        }
        if (pc->ncookies == pc->capcookies) {
            uint32_t n = pc->capcookies ? pc->capcookies * 2 : 1024;
            pc_pkt **nc = realloc(pc->cookies, n * sizeof *nc);
            uint32_t *nf = nc ? realloc(pc->freeids, n * sizeof *nf) : NULL;
            if (nc)
                pc->cookies = nc;
            if (!nf) {
                fail(pc, -ENOMEM, "capture");
                return 0;
            }
            pc->freeids = nf;
            pc->capcookies = n;
        }
        id = pc->ncookies++;
    }
    pc->cookies[id] = p;
    p->refs++;
    p->arrivals = arrivals;
    return id + 1;
}

static pc_pkt *cookie_get(tw_sim_pcap *pc, uint32_t cookie)
{
    return cookie && cookie <= pc->ncookies ? pc->cookies[cookie - 1] : NULL;
}

/* One arrival (or drop) of the packet: the last lets it go. */
static void cookie_done(tw_sim_pcap *pc, uint32_t cookie)
{
    pc_pkt *p = cookie_get(pc, cookie);
    if (!p || --p->arrivals > 0)
        return;
    pc->cookies[cookie - 1] = NULL;
    pc->freeids[pc->nfree++] = cookie - 1;
    pkt_unref(p);
}

/* ---- connections ---- */

static bool addr_ip(const tw_addr *a, bool *v6, uint8_t ip[16], uint16_t *port)
{
    if (!a)
        return false;
    if (tw_addr_family(a) == AF_INET) {
        *v6 = false;
        memset(ip, 0, 16);
        memcpy(ip, &a->u.in4.sin_addr, 4);
    } else if (tw_addr_family(a) == AF_INET6) {
        *v6 = true;
        memcpy(ip, &a->u.in6.sin6_addr, 16);
    } else {
        return false;
    }
    *port = tw_addr_port(a);
    return true;
}

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The same for both orders of the two ends. */
static size_t conn_hash(const uint8_t a[16], uint16_t pa, const uint8_t b[16], uint16_t pb)
{
    uint64_t x = pa, y = pb;
    for (int i = 0; i < 16; i++) {
        x = x * 131 + a[i];
        y = y * 131 + b[i];
    }
    return (size_t)(mix(x) ^ mix(y));
}

/* The connection between src and dst, and which side src is. */
static pc_conn *conn_find(tw_sim_pcap *pc, const uint8_t s[16], uint16_t sp,
                          const uint8_t d[16], uint16_t dp, int *side)
{
    if (!pc->nbuckets)
        return NULL;
    pc_conn *c = pc->buckets[conn_hash(s, sp, d, dp) & (pc->nbuckets - 1)];
    for (; c; c = c->next)
        for (int k = 0; k < 2; k++)
            if (c->port[k] == sp && c->port[1 - k] == dp &&
                memcmp(c->ip[k], s, 16) == 0 && memcmp(c->ip[1 - k], d, 16) == 0) {
                *side = k;
                return c;
            }
    return NULL;
}

static bool conn_grow(tw_sim_pcap *pc)
{
    size_t n = pc->nbuckets ? pc->nbuckets * 2 : 256;
    pc_conn **nb = calloc(n, sizeof *nb);
    if (!nb)
        return false;
    for (size_t i = 0; i < pc->nbuckets; i++)
        while (pc->buckets[i]) {
            pc_conn *c = pc->buckets[i];
            pc->buckets[i] = c->next;
            size_t h = conn_hash(c->ip[0], c->port[0], c->ip[1], c->port[1]) & (n - 1);
            c->next = nb[h];
            nb[h] = c;
        }
    free(pc->buckets);
    pc->buckets = nb;
    pc->nbuckets = n;
    return true;
}

/* A connection starting now from src (its SYN), in place of any before
 * with the same ends; its initial sequence numbers come from the seed. */
static pc_conn *conn_new(tw_sim_pcap *pc, bool v6, const uint8_t s[16], uint16_t sp,
                         const uint8_t d[16], uint16_t dp)
{
    int side;
    pc_conn *c = conn_find(pc, s, sp, d, dp, &side);
    if (!c) {
        if (pc->nconns >= PC_CONNS_MAX) {
            fail(pc, -ENOBUFS, "capture: too many connections");
            return NULL;
        }
        if (pc->nconns >= pc->nbuckets && !conn_grow(pc)) {
            fail(pc, -ENOMEM, "capture");
            return NULL;
        }
        c = calloc(1, sizeof *c);
        if (!c) {
            fail(pc, -ENOMEM, "capture");
            return NULL;
        }
        size_t h = conn_hash(s, sp, d, dp) & (pc->nbuckets - 1);
        c->next = pc->buckets[h];
        pc->buckets[h] = c;
        pc->nconns++;
    }
    struct pc_conn *next = c->next;
    pkt_unref(c->side[0].ack);
    pkt_unref(c->side[1].ack);
    memset(c, 0, sizeof *c);
    c->next = next;
    c->v6 = v6;
    memcpy(c->ip[0], s, 16);
    memcpy(c->ip[1], d, 16);
    c->port[0] = sp;
    c->port[1] = dp;
    uint64_t seed = tw_sim_seed(pc->sim);
    c->gen = pc->serial;
    for (int k = 0; k < 2; k++) {
        c->side[k].isn = (uint32_t)mix(seed ^ mix(++pc->serial));
        c->side[k].wscale = PC_NO_WS;
    }
    return c;
}

/* ---- records in time order ---- */

static bool rec_before(const pc_rec *a, const pc_rec *b)
{
    return a->t < b->t || (a->t == b->t && a->order < b->order);
}

/* Put a record of p on node at t in the heap (it takes a reference). */
static void rec_push(tw_sim_pcap *pc, pc_pkt *p, uint32_t node, tw_ns t,
                     bool inbound, uint8_t note, bool landing)
{
    if (!p || pc->err || node == PC_NOBODY)
        return;
    if (pc->len == PC_PENDING_MAX) {
        fail(pc, -ENOBUFS, "capture: too many packets waiting for their time");
        return;
    }
    if (pc->len == pc->cap) {
        size_t n = pc->cap ? pc->cap * 2 : 1024;
        pc_rec *nh = realloc(pc->heap, n * sizeof *nh);
        if (!nh) {
            fail(pc, -ENOMEM, "capture");
            return;
        }
        pc->heap = nh;
        pc->cap = n;
    }
    pc_rec r = {.t = t, .order = pc->order++, .pkt = p, .node = node,
                .note = note, .inbound = inbound, .landing = landing};
    p->refs++;
    size_t i = pc->len++;
    while (i > 0 && rec_before(&r, &pc->heap[(i - 1) / 2])) {
        pc->heap[i] = pc->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    pc->heap[i] = r;
}

static pc_rec rec_pop(tw_sim_pcap *pc)
{
    pc_rec top = pc->heap[0], last = pc->heap[--pc->len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= pc->len)
            break;
        if (c + 1 < pc->len && rec_before(&pc->heap[c + 1], &pc->heap[c]))
            c++;
        if (!rec_before(&pc->heap[c], &last))
            break;
        pc->heap[i] = pc->heap[c];
        i = c;
    }
    if (pc->len)
        pc->heap[i] = last;
    return top;
}

static pc_path *path_of(tw_sim_pcap *pc, uint32_t from, uint32_t to);

/* Write every record due before t (through t: `through`). */
static void flush(tw_sim_pcap *pc, tw_ns t, bool through)
{
    while (pc->len && (pc->heap[0].t < t || (through && pc->heap[0].t == t))) {
        pc_rec r = rec_pop(pc);
        bool write = !pc->err && !r.pkt->merged &&
                     !(r.pkt->gone && !r.inbound && r.t > r.pkt->gone_at);
        if (write && r.landing && !r.fixed) {
            pc_path *path = path_of(pc, r.pkt->from, r.pkt->to);
            if (path && path->cut) {
                write = false; /* held by the cut, sent again at the heal */
            } else if (path && path->clog_until > r.t) {
                rec_push(pc, r.pkt, r.node, path->clog_until, true, r.note, true);
                write = false; /* waits for the clog's end */
            }
        }
        if (write && r.fixed >= 0)
            write_rec(pc, &r);
        pkt_unref(r.pkt);
    }
}

/* ---- paths ---- */

static pc_path *path_of(tw_sim_pcap *pc, uint32_t from, uint32_t to)
{
    if (from >= pc->npaths || to >= pc->npaths)
        return NULL;
    return &pc->paths[(size_t)from * pc->npaths + to];
}

static pc_path *path_grow(tw_sim_pcap *pc, uint32_t from, uint32_t to)
{
    uint32_t need = (from > to ? from : to) + 1;
    if (need > pc->npaths) {
        if (need > PC_NODES_MAX / 64)
            return NULL; /* judged as never cut */
        pc_path *np = calloc((size_t)need * need, sizeof *np);
        if (!np) {
            fail(pc, -ENOMEM, "capture");
            return NULL;
        }
        for (uint32_t i = 0; i < pc->npaths; i++)
            memcpy(&np[(size_t)i * need], &pc->paths[(size_t)i * pc->npaths],
                   pc->npaths * sizeof *np);
        free(pc->paths);
        pc->paths = np;
        pc->npaths = need;
    }
    return path_of(pc, from, to);
}

/* The path from -> to changes now: what landed before stands. A pure
 * ack landing this very instant is judged as the world judges it: a cut
 * starting now holds it, so does one healing now (the world settles
 * what landed under the cut before the heal), a clog starting now does
 * not move it. */
static void on_path(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    flush(pc, p->time, false);
    pc_path *path = path_grow(pc, p->from, p->to);
    if (!path)
        return;
    for (size_t i = 0; i < pc->len; i++) {
        pc_rec *r = &pc->heap[i];
        if (!r->landing || r->t != p->time || r->pkt->from != p->from ||
            r->pkt->to != p->to)
            continue;
        if (p->until == 0 ? p->cut || path->cut : !r->fixed)
            r->fixed = p->until == 0 || path->cut ? -1 : 1;
    }
    if (p->until) {
        if (path->clog_until < p->until)
            path->clog_until = p->until;
    } else {
        path->cut = p->cut;
    }
}

/* ---- the tap's reports ---- */

/* A packet from the report's addresses (ports, family). */
static pc_pkt *pkt_from(tw_sim_pcap *pc, const tw_sim_packet *p, uint8_t proto,
                        const uint8_t *data, size_t len)
{
    bool v6s, v6d;
    uint8_t s[16], d[16];
    uint16_t sp, dp;
    if (!addr_ip(p->src, &v6s, s, &sp) || !addr_ip(p->dst, &v6d, d, &dp) || v6s != v6d)
        return NULL;
    pc_pkt *k = pkt_new(pc, len);
    if (!k)
        return NULL;
    k->proto = proto;
    k->v6 = v6s;
    k->from = p->from;
    k->to = p->to;
    memcpy(k->src, s, 16);
    memcpy(k->dst, d, 16);
    k->sport = sp;
    k->dport = dp;
    if (len)
        memcpy(k->data, data, len);
    return k;
}

/* A TCP packet of the report's connection: side, sequence and ack from
 * what was sent and received so far, the window the report gives. */
static pc_pkt *tcp_pkt(tw_sim_pcap *pc, const tw_sim_packet *p, pc_conn **cp)
{
    pc_pkt *k = pkt_from(pc, p, PC_TCP, p->data, p->len);
    if (!k)
        return NULL;
    int side = 0;
    pc_conn *c = conn_find(pc, k->src, k->sport, k->dst, k->dport, &side);
    if (!c && p->kind != TW_SIM_PACKET_SYN) /* begun before the capture */
        c = conn_new(pc, k->v6, k->src, k->sport, k->dst, k->dport);
    if (c) {
        pc_side *me = &c->side[side], *other = &c->side[1 - side];
        k->side = (uint8_t)side;
        k->conn = c;
        k->conn_gen = c->gen;
        k->seq = me->isn + (uint32_t)me->nxt;
        k->ack = other->isn + (uint32_t)other->rcvd;
        k->flags = other->rcvd ? PC_ACK : 0;
        uint8_t ws = me->wscale == PC_NO_WS || other->wscale == PC_NO_WS ? 0 : me->wscale;
        k->win = scaled(p->window, ws);
        me->win = p->window;
    }
    k->first_t = p->time;
    *cp = c;
    return k;
}

static uint8_t wscale_for(uint64_t window)
{
    uint8_t s = 0;
    while (s < 14 && (window >> s) > 0xffff)
        s++;
    return s;
}

/* A SYN or SYN-ACK of side `side` as it was sent (for its arrival too). */
static pc_pkt *syn_pkt(tw_sim_pcap *pc, const tw_sim_packet *p, pc_conn *c, int side)
{
    pc_pkt *k = pkt_from(pc, p, PC_TCP, NULL, 0);
    if (!k)
        return NULL;
    pc_side *me = &c->side[side];
    k->side = (uint8_t)side;
    k->conn = c;
    k->conn_gen = c->gen;
    k->seq = me->isn;
    k->flags = side ? PC_SYN | PC_ACK : PC_SYN;
    k->ack = side ? c->side[0].isn + 1 : 0;
    k->win = me->syn_win > 0xffff ? 0xffff : me->syn_win; /* never scaled */
    k->wscale = me->wscale;
    k->mss = PC_MSS;
    k->rel_end = 1;
    return k;
}

static pc_conn *conn_of(tw_sim_pcap *pc, const tw_sim_packet *p, int *side)
{
    bool v6;
    uint8_t s[16], d[16];
    uint16_t sp, dp;
    if (!addr_ip(p->src, &v6, s, &sp) || !addr_ip(p->dst, &v6, d, &dp))
        return NULL;
    return conn_find(pc, s, sp, d, dp, side);
}

static void sent_syn(tw_sim_pcap *pc, const tw_sim_packet *p, uint8_t note)
{
    bool v6;
    uint8_t s[16], d[16];
    uint16_t sp, dp;
    if (!addr_ip(p->src, &v6, s, &sp) || !addr_ip(p->dst, &v6, d, &dp))
        return;
    int side = 0;
    pc_conn *c = conn_find(pc, s, sp, d, dp, &side);
    bool again = c && (p->flags & TW_SIM_PACKET_RETRANSMIT);
    if (p->kind == TW_SIM_PACKET_SYN && !again)
        c = conn_new(pc, v6, s, sp, d, dp), side = 0;
    if (!c)
        return;
    pc_side *me = &c->side[side];
    if (!me->syn) {
        me->syn = true;
        me->nxt = 1;
        me->syn_win = (uint32_t)(p->window > UINT32_MAX ? UINT32_MAX : p->window);
        me->wscale = wscale_for(p->window);
    }
    pc_pkt *k = syn_pkt(pc, p, c, side);
    rec_push(pc, k, p->from, p->time, false, note, false);
    pkt_unref(k);
}

/* A reset from the report's source; a refusal (the other side never
 * answered the SYN) has sequence 0 and acknowledges the SYN. */
static pc_pkt *rst_pkt(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    pc_conn *c;
    pc_pkt *k = tcp_pkt(pc, p, &c);
    if (!k)
        return NULL;
    if (c && !c->side[k->side].syn)
        k->seq = 0;
    k->flags |= PC_RST;
    k->win = 0;
    return k;
}

static uint32_t sent_data(tw_sim_pcap *pc, const tw_sim_packet *p, uint8_t note, bool lost)
{
    pc_pkt *k;
    if (p->flags & TW_SIM_PACKET_RETRANSMIT) {
        /* The same segment again: what the world kept, or the one whose
         * transmissions it is telling now. */
        k = p->cookie ? cookie_get(pc, p->cookie) : pc->last_seg;
        if (!k)
            return 0;
        k->refs++;
    } else {
        pc_conn *c;
        k = tcp_pkt(pc, p, &c);
        if (!k)
            return 0;
        if (c) {
            pc_side *me = &c->side[k->side];
            me->nxt += p->kind == TW_SIM_PACKET_FIN ? 1 : p->len;
            k->rel_end = me->nxt;
            /* A pure ack its sender put out in this same instant says
             * nothing this segment does not: a stack sends the one
             * segment (and the ack, sent alone, could land after it). */
            if (me->ack && me->ack->first_t == p->time && me->ack->conn_gen == c->gen)
                me->ack->merged = true;
            pkt_unref(me->ack);
            me->ack = NULL;
        }
        k->flags |= p->kind == TW_SIM_PACKET_FIN ? PC_FIN | PC_ACK : PC_ACK;
        if (p->len)
            k->flags |= PC_PSH;
        pkt_unref(pc->last_seg);
        pc->last_seg = k;
        k->refs++;
    }
    rec_push(pc, k, p->from, p->time, false, note, false);
    uint32_t cookie = 0;
    if (!lost && !p->cookie)
        cookie = cookie_new(pc, k, 1);
    pkt_unref(k);
    return cookie;
}

static void sent_ack(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    if (p->flags & TW_SIM_PACKET_RIDES) { /* the segment says it */
        pc_pkt *seg = cookie_get(pc, p->cookie);
        int side;
        pc_conn *c = conn_of(pc, p, &side);
        if (seg && c) {
            pc_side *me = &c->side[side], *other = &c->side[1 - side];
            uint8_t ws = me->wscale == PC_NO_WS || other->wscale == PC_NO_WS ? 0 : me->wscale;
            seg->ack = other->isn + (uint32_t)other->rcvd;
            seg->win = scaled(p->window, ws);
        }
        return;
    }
    pc_conn *c;
    pc_pkt *k = tcp_pkt(pc, p, &c);
    if (!k)
        return;
    k->flags |= PC_ACK;
    k->seq_late = k->conn != NULL;
    if (c) {
        pc_side *me = &c->side[k->side];
        pkt_unref(me->ack);
        me->ack = k;
        k->refs++;
    }
    rec_push(pc, k, p->from, p->time, false, NOTE_NONE, false);
    if (p->from != p->to)
        rec_push(pc, k, p->to, p->until, true, NOTE_NONE, true);
    pkt_unref(k);
}

static uint32_t sent_udp(tw_sim_pcap *pc, const tw_sim_packet *p, bool lost)
{
    pc_pkt *k = pkt_from(pc, p, PC_UDP, p->data, p->len);
    if (!k)
        return 0;
    uint8_t note = lost ? NOTE_LOST
                   : p->flags & TW_SIM_PACKET_CORRUPT   ? NOTE_FLIP
                   : p->flags & TW_SIM_PACKET_DUPLICATE ? NOTE_TWICE
                   : p->flags & TW_SIM_PACKET_REORDER   ? NOTE_LATE
                                                        : NOTE_NONE;
    rec_push(pc, k, p->from, p->time, false, note, false);
    uint32_t cookie = lost ? 0 : cookie_new(pc, k,
                                            p->flags & TW_SIM_PACKET_DUPLICATE ? 2 : 1);
    pkt_unref(k);
    return cookie;
}

/* Port unreachable: the report names the datagram it answers. */
static uint32_t sent_icmp(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    size_t q = p->len < PC_ICMP_QUOTE ? p->len : PC_ICMP_QUOTE;
    pc_pkt *k = pkt_from(pc, p, PC_ICMP, p->data, q);
    if (!k)
        return 0;
    k->sum = pc_udp_sum(k, p->data, p->len); /* before the swap below */
    k->qlen = (uint32_t)p->len;
    uint8_t t[16];
    memcpy(t, k->src, 16); /* it goes back: from the datagram's dst */
    memcpy(k->src, k->dst, 16);
    memcpy(k->dst, t, 16);
    rec_push(pc, k, p->from, p->time, false, NOTE_NONE, false);
    uint32_t cookie = cookie_new(pc, k, 1);
    pkt_unref(k);
    return cookie;
}

static uint32_t on_sent(tw_sim_pcap *pc, const tw_sim_packet *p, bool lost)
{
    uint8_t note = lost ? NOTE_LOST : NOTE_NONE;
    switch (p->kind) {
    case TW_SIM_PACKET_SYN:
    case TW_SIM_PACKET_SYNACK:
        sent_syn(pc, p, note);
        return 0;
    case TW_SIM_PACKET_DATA:
    case TW_SIM_PACKET_FIN:
        if (!lost && p->cookie && (p->flags & TW_SIM_PACKET_RETRANSMIT))
            note = NOTE_AGAIN;
        return sent_data(pc, p, note, lost);
    case TW_SIM_PACKET_ACK:
        if (!lost)
            sent_ack(pc, p);
        return 0;
    case TW_SIM_PACKET_RST: {
        pc_pkt *k = rst_pkt(pc, p);
        rec_push(pc, k, p->from, p->time, false, note, false);
        pkt_unref(k);
        return 0;
    }
    case TW_SIM_PACKET_UDP:
        return sent_udp(pc, p, lost);
    case TW_SIM_PACKET_ICMP_UNREACH:
        return lost ? 0 : sent_icmp(pc, p);
    default:
        return 0;
    }
}

/* A segment, SYN or reset reaching its node: what it acknowledges to the
 * receiver moves on, and the receiver's file has it. */
static void arrived_tcp(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    int side;
    pc_conn *c = conn_of(pc, p, &side);
    pc_pkt *k = NULL;
    switch (p->kind) {
    case TW_SIM_PACKET_SYN:
    case TW_SIM_PACKET_SYNACK:
        if (!c || !c->side[side].syn)
            return;
        k = syn_pkt(pc, p, c, side);
        break;
    case TW_SIM_PACKET_RST:
        k = rst_pkt(pc, p);
        break;
    default:
        k = cookie_get(pc, p->cookie);
        if (!k)
            return;
        k->refs++;
        break;
    }
    if (c && k && c->side[side].rcvd < k->rel_end)
        c->side[side].rcvd = k->rel_end;
    if (k && p->from != p->to)
        rec_push(pc, k, p->to, p->time, true, NOTE_NONE, false);
    pkt_unref(k);
    if (p->kind == TW_SIM_PACKET_DATA || p->kind == TW_SIM_PACKET_FIN)
        cookie_done(pc, p->cookie);
}

/* A datagram or ICMP error reaching its node: as it arrived (a corrupted
 * datagram with its sender's checksum). */
static void arrived_dgram(tw_sim_pcap *pc, const tw_sim_packet *p)
{
    pc_pkt *k = cookie_get(pc, p->cookie);
    if (!k)
        return;
    pc_pkt *in = k;
    uint8_t note = NOTE_NONE;
    if (k->proto == PC_UDP && p->len == k->len && p->len &&
        memcmp(p->data, k->data, p->len) != 0 && (in = pkt_new(pc, p->len))) {
        memcpy(in, k, sizeof *in);
        in->refs = 1;
        memcpy(in->data, p->data, p->len);
        in->fixed_sum = true;
        in->sum = pc_udp_sum(k, k->data, k->len);
        note = NOTE_FLIPPED;
    } else {
        k->refs++;
    }
    if (in && p->from != p->to)
        rec_push(pc, in, p->to, p->time, true, note, false);
    pkt_unref(in);
    cookie_done(pc, p->cookie);
}

static uint32_t on_packet(void *arg, const tw_sim_packet *p)
{
    tw_sim_pcap *pc = arg;
    if (pc->err)
        return 0;
    /* What is due before now is final: written in time order. */
    flush(pc, tw_sim_now(pc->sim), false);
    bool tcp = p->kind <= TW_SIM_PACKET_RST;
    switch (p->event) {
    case TW_SIM_PACKET_SENT:
        return on_sent(pc, p, false);
    case TW_SIM_PACKET_LOST:
        on_sent(pc, p, true);
        return 0;
    case TW_SIM_PACKET_ARRIVED:
        if (tcp)
            arrived_tcp(pc, p);
        else
            arrived_dgram(pc, p);
        return 0;
    case TW_SIM_PACKET_DROPPED:
        if (p->kind != TW_SIM_PACKET_SYN) {
            /* What its sender would have sent of it later never goes:
             * the connection is gone (a stack sends no retransmission
             * after a reset), or its node crashed before it left (a
             * datagram, a segment sent after a blocking call). */
            pc_pkt *k = cookie_get(pc, p->cookie);
            if (k && !k->gone) {
                k->gone = true;
                k->gone_at = p->time;
            }
            cookie_done(pc, p->cookie);
        }
        return 0;
    case TW_SIM_PACKET_PATH:
        if (p->from != p->to)
            on_path(pc, p);
        return 0;
    case TW_SIM_PACKET_SECRET: { /* ahead of the packets it decrypts */
        FILE *f = file_of(pc, p->from);
        int rc = f ? pc_write_secret(f, p->data, p->len) : 0;
        if (rc < 0 && rc != -E2BIG) {
            char path[700];
            file_path(pc, p->from, path, sizeof path);
            fail(pc, rc, path);
        }
        return 0;
    }
    case TW_SIM_PACKET_HELD: /* sent again at the heal, with its cookie */
    default:
        return 0;
    }
}

/* ---- start and finish ---- */

/* mkdir -p */
static int make_dir(const char *dir)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *s = buf + 1;; s++) {
        bool end = *s == '\0';
        if (*s != '/' && !end)
            continue;
        *s = '\0';
        struct stat st;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return -errno;
        if (stat(buf, &st) < 0)
            return -errno;
        if (!S_ISDIR(st.st_mode))
            return -ENOTDIR;
        if (end)
            return 0;
        *s = '/';
    }
}

static void release(tw_sim_pcap *pc)
{
    while (pc->len) {
        pc_rec r = rec_pop(pc);
        pkt_unref(r.pkt);
    }
    for (uint32_t i = 0; i < pc->ncookies; i++)
        if (pc->cookies[i]) {
            pc->cookies[i]->arrivals = 1;
            cookie_done(pc, i + 1);
        }
    pkt_unref(pc->last_seg);
    for (size_t i = 0; i < pc->nbuckets; i++)
        while (pc->buckets[i]) {
            pc_conn *c = pc->buckets[i];
            pc->buckets[i] = c->next;
            pkt_unref(c->side[0].ack);
            pkt_unref(c->side[1].ack);
            free(c);
        }
    free(pc->buckets);
    free(pc->heap);
    free(pc->cookies);
    free(pc->freeids);
    free(pc->paths);
    free(pc->files);
    free(pc);
}

int tw_sim_pcap_start(tw_sim *sim, const char *dir, tw_sim_pcap **out,
                      char *err, size_t errlen)
{
    if (!sim || !dir || !*dir || !out) {
        snprintf(err, errlen, "capture: no world or no directory");
        return -EINVAL;
    }
    if (strlen(dir) >= sizeof ((tw_sim_pcap *)0)->dir - 64) {
        snprintf(err, errlen, "%s: name too long", dir);
        return -ENAMETOOLONG;
    }
    int rc = make_dir(dir);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    tw_sim_pcap *pc = calloc(1, sizeof *pc);
    if (!pc) {
        snprintf(err, errlen, "capture: %s", strerror(ENOMEM));
        return -ENOMEM;
    }
    pc->sim = sim;
    snprintf(pc->dir, sizeof pc->dir, "%s", dir);
    for (uint32_t i = 0; tw_sim_node_at(sim, i) && !pc->err; i++)
        file_of(pc, i);
    if (pc->err) {
        rc = pc->err;
        snprintf(err, errlen, "%s", pc->errmsg);
        tw_sim_pcap_finish(pc, NULL, 0);
        return rc;
    }
    tw_sim_set_packet_tap(sim, on_packet, pc);
    *out = pc;
    return 0;
}

int tw_sim_pcap_finish(tw_sim_pcap *pc, char *err, size_t errlen)
{
    if (!pc)
        return 0;
    tw_sim_set_packet_tap(pc->sim, NULL, NULL);
    flush(pc, tw_sim_now(pc->sim), true);
    for (uint32_t i = 0; i < pc->nfiles; i++) {
        FILE *f = pc->files[i].f;
        if (!f)
            continue;
        errno = 0;
        bool ok = fflush(f) == 0 && !ferror(f);
        int e = errno;
        if (fclose(f) != 0 && ok) {
            ok = false;
            e = errno;
        }
        if (!ok) {
            char path[700];
            file_path(pc, i, path, sizeof path);
            fail(pc, e ? -e : -EIO, path);
        }
    }
    int rc = pc->err;
    if (rc && err && errlen)
        snprintf(err, errlen, "%s", pc->errmsg);
    release(pc);
    return rc;
}
