/* kit/pcap_frame.c - the bytes of a capture file (kit/pcap.h).
 *
 * Map: little-endian blocks; checksums; headers (Ethernet, IPv4, IPv6,
 * TCP, UDP, ICMP); frames of a packet; pcapng blocks (section header,
 * interface description, enhanced packet).
 *
 * pcapng, as its specification lays it out: every block is a type, a
 * total length, a body padded to 32 bits, then the total length again;
 * options are (code, length, value padded to 32 bits), ended by code 0.
 * Blocks are written in this machine's byte order, which the section
 * header's magic number tells the reader. Header fields of the packets
 * themselves are in network order.
 */
#include <errno.h>
#include <string.h>

#include "kit/pcap.h"

/* ---- blocks ---- */

typedef struct blk {
    uint8_t *b;
    size_t n, cap;
    size_t base; /* bytes before the block's 32-bit alignment starts */
} blk;

static void put(blk *k, const void *v, size_t len)
{
    if (len && k->n + len <= k->cap) /* v may be NULL for no bytes */
        memcpy(k->b + k->n, v, len);
    k->n += len;
}

static void put16(blk *k, uint16_t v) { put(k, &v, 2); }
static void put32(blk *k, uint32_t v) { put(k, &v, 4); }

static void pad32(blk *k)
{
    static const uint8_t zero[4];
    put(k, zero, (4 - (k->n - k->base) % 4) % 4);
}

static void opt(blk *k, uint16_t code, const void *v, size_t len)
{
    put16(k, code);
    put16(k, (uint16_t)len);
    put(k, v, len);
    pad32(k);
}

static void opt_str(blk *k, uint16_t code, const char *s)
{
    opt(k, code, s, strlen(s));
}

/* Open a block of type `type`: its length is filled in by blk_end. */
static void blk_begin(blk *k, uint32_t type)
{
    k->n = 0;
    put32(k, type);
    put32(k, 0);
}

static int blk_end(blk *k, FILE *f)
{
    uint32_t total = (uint32_t)(k->n + 4);
    put32(k, total);
    if (k->n > k->cap)
        return -ENOBUFS;
    memcpy(k->b + 4, &total, 4);
    errno = 0;
    if (fwrite(k->b, 1, k->n, f) != k->n)
        return errno ? -errno : -EIO;
    return 0;
}

enum {
    OPT_END = 0,
    OPT_COMMENT = 1,
    SHB_USERAPPL = 4,
    IF_NAME = 2,
    IF_DESCRIPTION = 3,
    IF_TSRESOL = 9,
    EPB_FLAGS = 2,
};

int pc_write_header(FILE *f, const char *node, uint64_t seed)
{
    uint8_t buf[1024];
    blk k = {.b = buf, .cap = sizeof buf};
    char text[300];
    blk_begin(&k, 0x0A0D0D0A); /* section header */
    put32(&k, 0x1A2B3C4D);     /* byte-order magic */
    put16(&k, 1);
    put16(&k, 0);
    put32(&k, UINT32_MAX);     /* section length: not given (-1) */
    put32(&k, UINT32_MAX);
    opt_str(&k, SHB_USERAPPL, "twin sim");
    snprintf(text, sizeof text,
             "node %.64s of a simulated world, seed %llu; time stamps are "
             "virtual time from the world's start", node, (unsigned long long)seed);
    opt_str(&k, OPT_COMMENT, text);
    opt(&k, OPT_END, NULL, 0);
    int rc = blk_end(&k, f);
    static const char *const names[2] = {"eth0", "lo"};
    for (int i = 0; rc == 0 && i < 2; i++) {
        blk_begin(&k, 1); /* interface description */
        put16(&k, 1);     /* LINKTYPE_ETHERNET */
        put16(&k, 0);
        put32(&k, 0);     /* snap length: none */
        opt_str(&k, IF_NAME, names[i]);
        snprintf(text, sizeof text, "%s of node %.64s", i ? "loopback" : "network", node);
        opt_str(&k, IF_DESCRIPTION, text);
        uint8_t nine = 9; /* time stamps in 10^-9 s */
        opt(&k, IF_TSRESOL, &nine, 1);
        opt(&k, OPT_END, NULL, 0);
        rc = blk_end(&k, f);
    }
    return rc;
}

int pc_write_secret(FILE *f, const uint8_t *line, size_t len)
{
    if (len > PC_SECRET_MAX)
        return -E2BIG;
    uint8_t buf[PC_SECRET_MAX + 64];
    blk k = {.b = buf, .cap = sizeof buf};
    blk_begin(&k, 0x0000000A); /* decryption secrets */
    put32(&k, 0x544c534b);     /* "TLSK": a TLS key log */
    put32(&k, (uint32_t)len + 1);
    put(&k, line, len);
    put(&k, "\n", 1);
    pad32(&k);
    return blk_end(&k, f);
}

/* ---- checksums ---- */

static uint32_t sum_add(uint32_t s, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    return s;
}

static uint16_t sum_fold(uint32_t s)
{
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* The pseudo-header's part of a transport checksum. */
static uint32_t pseudo(bool v6, const uint8_t *src, const uint8_t *dst,
                       uint8_t proto, size_t len)
{
    uint32_t s = sum_add(0, src, v6 ? 16 : 4);
    s = sum_add(s, dst, v6 ? 16 : 4);
    return s + proto + (uint32_t)(len & 0xffff) + (uint32_t)(len >> 16);
}

static void be16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static void be32(uint8_t *b, uint32_t v)
{
    be16(b, (uint16_t)(v >> 16));
    be16(b + 2, (uint16_t)v);
}

/* ---- headers ---- */

static void mac_of(uint8_t m[6], uint32_t node)
{
    uint32_t v = node == PC_NOBODY ? 0xffffff : node + 1;
    m[0] = 0x02, m[1] = 0x74, m[2] = 0x77; /* locally administered */
    m[3] = (uint8_t)(v >> 16), m[4] = (uint8_t)(v >> 8), m[5] = (uint8_t)v;
}

static bool ip_broadcast(const pc_pkt *p)
{
    static const uint8_t all[4] = {255, 255, 255, 255};
    return !p->v6 && memcmp(p->dst, all, 4) == 0;
}

static size_t eth(uint8_t *b, const pc_pkt *p, bool lo)
{
    memset(b, 0, 12); /* loopback: zero addresses, as Linux's lo */
    if (!lo) {
        mac_of(b, p->to);
        if (ip_broadcast(p))
            memset(b, 0xff, 6);
        mac_of(b + 6, p->from);
    }
    be16(b + 12, p->v6 ? 0x86DD : 0x0800);
    return 14;
}

/* An IP header for `len` bytes of protocol `proto` from src to dst. */
static size_t ip(uint8_t *b, bool v6, const uint8_t *src, const uint8_t *dst,
                 uint8_t proto, size_t len, uint16_t id)
{
    if (v6) {
        memset(b, 0, 8);
        b[0] = 0x60;
        be16(b + 4, (uint16_t)len);
        b[6] = proto;
        b[7] = 64;
        memcpy(b + 8, src, 16);
        memcpy(b + 24, dst, 16);
        return 40;
    }
    memset(b, 0, 20);
    b[0] = 0x45;
    be16(b + 2, (uint16_t)(20 + len));
    be16(b + 4, id);
    b[6] = 0x40; /* don't fragment */
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    be16(b + 10, sum_fold(sum_add(0, b, 20)));
    return 20;
}

static uint8_t ip_proto(const pc_pkt *p)
{
    return p->proto == PC_TCP ? 6 : p->proto == PC_UDP ? 17 : p->v6 ? 58 : 1;
}

/* One TCP frame: `len` bytes of p's payload from `off`, flags as given. */
static size_t tcp_frame(uint8_t *b, const pc_pkt *p, bool lo, size_t off,
                        size_t len, uint8_t flags)
{
    size_t e = eth(b, p, lo);
    size_t hl = 20 + (flags & PC_SYN ? (p->wscale != PC_NO_WS ? 8 : 4) : 0);
    size_t i = ip(b + e, p->v6, p->src, p->dst, 6, hl + len, p->ipid);
    uint8_t *t = b + e + i;
    memset(t, 0, hl);
    be16(t, p->sport);
    be16(t + 2, p->dport);
    be32(t + 4, p->seq + (uint32_t)off);
    be32(t + 8, flags & PC_ACK ? p->ack : 0);
    t[12] = (uint8_t)(hl / 4 << 4);
    t[13] = flags;
    be16(t + 14, (uint16_t)(p->win > 0xffff ? 0xffff : p->win));
    if (flags & PC_SYN) {
        t[20] = 2, t[21] = 4; /* MSS */
        be16(t + 22, p->mss);
        if (p->wscale != PC_NO_WS)
            t[24] = 1, t[25] = 3, t[26] = 3, t[27] = p->wscale; /* NOP, WS */
    }
    if (len)
        memcpy(t + hl, p->data + off, len);
    uint32_t s = pseudo(p->v6, p->src, p->dst, 6, hl + len);
    be16(t + 16, sum_fold(sum_add(s, t, hl + len)));
    return e + i + hl + len;
}

static void udp_header(uint8_t *u, const pc_pkt *p, size_t len)
{
    be16(u, p->sport);
    be16(u + 2, p->dport);
    be16(u + 4, (uint16_t)(8 + len));
    be16(u + 6, 0);
}

uint16_t pc_udp_sum(const pc_pkt *p, const uint8_t *data, size_t len)
{
    uint8_t u[8];
    udp_header(u, p, len);
    uint32_t s = pseudo(p->v6, p->src, p->dst, 17, 8 + len);
    uint16_t sum = sum_fold(sum_add(sum_add(s, u, 8), data, len));
    return sum ? sum : 0xffff; /* 0 would say "none" */
}

static size_t udp_frame(uint8_t *b, const pc_pkt *p, bool lo)
{
    size_t e = eth(b, p, lo);
    size_t i = ip(b + e, p->v6, p->src, p->dst, 17, 8 + p->len, p->ipid);
    uint8_t *u = b + e + i;
    udp_header(u, p, p->len);
    memcpy(u + 8, p->data, p->len);
    be16(u + 6, p->fixed_sum ? p->sum : pc_udp_sum(p, p->data, p->len));
    return e + i + 8 + p->len;
}

/* Port unreachable from p->src to p->dst, quoting the datagram that went
 * the other way: its IP and UDP headers and the first bytes of its data. */
static size_t icmp_frame(uint8_t *b, const pc_pkt *p, bool lo)
{
    size_t e = eth(b, p, lo);
    size_t ih = p->v6 ? 40 : 20;
    size_t qlen = ih + 8 + p->len;
    size_t i = ip(b + e, p->v6, p->src, p->dst, ip_proto(p), 8 + qlen, p->ipid);
    uint8_t *c = b + e + i;
    memset(c, 0, 8);
    c[0] = p->v6 ? 1 : 3; /* destination unreachable */
    c[1] = p->v6 ? 4 : 3; /* port unreachable */
    uint8_t *q = c + 8;
    ip(q, p->v6, p->dst, p->src, 17, 8 + p->qlen, p->ipid);
    be16(q + ih, p->sport);
    be16(q + ih + 2, p->dport);
    be16(q + ih + 4, (uint16_t)(8 + p->qlen));
    be16(q + ih + 6, p->sum);
    memcpy(q + ih + 8, p->data, p->len);
    uint32_t s = p->v6 ? pseudo(true, p->src, p->dst, 58, 8 + qlen) : 0;
    be16(c + 2, sum_fold(sum_add(s, c, 8 + qlen)));
    return e + i + 8 + qlen;
}

/* ---- enhanced packet blocks ---- */

static int epb(FILE *f, const uint8_t *frame, size_t len, tw_ns t, int iface,
               bool inbound, const char *comment)
{
    uint8_t head[28 + 8 + 8 + 300 + 8];
    blk k = {.b = head, .cap = sizeof head};
    blk_begin(&k, 6);
    put32(&k, (uint32_t)iface);
    uint64_t ts = (uint64_t)(t < 0 ? 0 : t);
    put32(&k, (uint32_t)(ts >> 32));
    put32(&k, (uint32_t)ts);
    put32(&k, (uint32_t)len);
    put32(&k, (uint32_t)len);
    /* The frame goes straight from scratch; its padding and the options
     * follow it in a second piece. */
    size_t pad = (4 - len % 4) % 4;
    uint32_t total = (uint32_t)(28 + len + pad + 4);
    blk o = {.b = head + k.n, .cap = sizeof head - k.n};
    static const uint8_t zero[4];
    put(&o, zero, pad);
    o.base = pad; /* the options start aligned after the padding */
    uint32_t dir = inbound ? 1 : 2; /* epb_flags: inbound, outbound */
    opt(&o, EPB_FLAGS, &dir, 4);
    if (comment)
        opt(&o, OPT_COMMENT, comment, strlen(comment) > 255 ? 255 : strlen(comment));
    opt(&o, OPT_END, NULL, 0);
    if (o.n > o.cap)
        return -ENOBUFS;
    total += (uint32_t)(o.n - pad);
    memcpy(head + 4, &total, 4);
    uint8_t *tail = o.b + o.n;
    memcpy(tail, &total, 4);
    errno = 0;
    if (fwrite(head, 1, k.n, f) != k.n || (len && fwrite(frame, 1, len, f) != len) ||
        fwrite(o.b, 1, o.n + 4, f) != o.n + 4)
        return errno ? -errno : -EIO;
    return 0;
}

int pc_write_pkt(FILE *f, const pc_pkt *p, tw_ns t, int iface, bool inbound,
                 const char *comment, uint8_t *scratch)
{
    bool lo = iface == 1;
    if (p->proto == PC_UDP)
        return epb(f, scratch, udp_frame(scratch, p, lo), t, iface, inbound, comment);
    if (p->proto == PC_ICMP)
        return epb(f, scratch, icmp_frame(scratch, p, lo), t, iface, inbound, comment);
    /* TCP: frames of at most PC_MSS; FIN and PSH on the last. */
    size_t off = 0;
    do {
        size_t n = p->len - off > PC_MSS ? PC_MSS : p->len - off;
        bool last = off + n == p->len;
        uint8_t flags = last ? p->flags : (uint8_t)(p->flags & ~(PC_FIN | PC_PSH));
        int rc = epb(f, scratch, tcp_frame(scratch, p, lo, off, n, flags), t, iface,
                     inbound, comment);
        if (rc < 0)
            return rc;
        off += n;
    } while (off < p->len);
    return 0;
}
