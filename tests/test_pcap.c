/* tests/test_pcap.c - a simulated run as capture files (twin/simpcap.h,
 * `twin sim --pcap`), read back by tshark as a user would read them:
 * each TCP stream reassembles to exactly the bytes the apps wrote, over
 * loss, a partition and the loopback, on IPv4 and IPv6; each datagram is
 * in the sender's file as sent and in the receiver's as it arrived
 * (duplicated, late, corrupted, with the sender's checksum), refusals as
 * ICMP port unreachable; tshark's expert finds no malformed packet and
 * no bad checksum other than the corrupted datagrams'; a RESP scenario
 * decodes as RESP; capturing leaves the run's trace hash alone; and the
 * command reports a capture it could not write. Read without tshark:
 * each end sends as a stack does (acks that never go back, a lone ack
 * merged into the segment of its instant), within the window its peer
 * advertised, and nothing of a connection after its reset; a datagram
 * whose node crashed before it left is in no file.
 *
 * Tests that read files with tshark skip, saying so, when it is absent
 * (Debian package tshark). */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "tests/cli_util.h"
#include "twin/datagram.h"
#include "twin/file.h"
#include "twin/scenario.h"
#include "twin/sim.h"
#include "twin/simfault.h"
#include "twin/simfs.h"
#include "twin/simpcap.h"
#include "twin/simprobe.h"
#include "twin/twin.h"

static char tmpdir[128];
static char out[16 << 20];

/* ---- helpers ---- */

static bool tshark_here(void)
{
    if (tw_cli_have("tshark"))
        return true;
    print_message("tshark not found: these checks need it (apt-get install tshark)\n");
    return false;
}

/* Run a shell command; its stdout into out. Returns the exit status. */
__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return tw_cli_run(cmd, out, sizeof out);
}

typedef struct bytes {
    uint8_t *b;
    size_t n, cap;
} bytes;

static void bytes_add(bytes *x, const void *p, size_t n)
{
    if (x->n + n > x->cap) {
        x->cap = (x->n + n) * 2 + 64;
        x->b = realloc(x->b, x->cap);
        assert_non_null(x->b);
    }
    if (n)
        memcpy(x->b + x->n, p, n);
    x->n += n;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void bytes_hex(bytes *x, const char *s, const char *end)
{
    for (; s + 1 < end && hexval(s[0]) >= 0 && hexval(s[1]) >= 0; s += 2) {
        uint8_t v = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
        bytes_add(x, &v, 1);
    }
}

static bool bytes_eq(const bytes *a, const bytes *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->b, b->b, a->n) == 0);
}

/* A TCP stream of a capture as tshark reassembles it: node 0 (the end
 * that sent its first packet: the connecting one) and its address. */
typedef struct stream {
    char node0[80];
    bytes to_server, to_client;
} stream;

static void follow(const char *file, int n, stream *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(sh("tshark -r %s -q -z follow,tcp,raw,%d 2>/dev/null", file, n), 0);
    char *p = strstr(out, "Node 0: ");
    assert_non_null(p);
    sscanf(p + 8, "%79s", s->node0);
    p = strstr(p, "Node 1: ");
    assert_non_null(p);
    p = strchr(p, '\n');
    while (p && *++p && strncmp(p, "=====", 5) != 0) {
        char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        if (*p == '\t')
            bytes_hex(&s->to_client, p + 1, end);
        else
            bytes_hex(&s->to_server, p, end);
        p = *end ? end : NULL;
    }
}

static void stream_fini(stream *s)
{
    free(s->to_server.b);
    free(s->to_client.b);
}

/* How many lines tshark prints for a display filter (-Y). */
__attribute__((format(printf, 2, 3)))
static int count(const char *file, const char *fmt, ...)
{
    char filter[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(filter, sizeof filter, fmt, ap);
    va_end(ap);
    assert_int_equal(sh("tshark -r %s -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE "
                        "-o ip.check_checksum:TRUE -d udp.port==9999,data -Y '%s' "
                        "2>/dev/null | wc -l", file, filter), 0);
    return atoi(out);
}

/* tshark's expert finds nothing of severity error: no malformed packet,
 * no bad checksum (validation on). */
static void expert_clean(const char *file)
{
    assert_int_equal(sh("tshark -r %s -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE "
                        "-o ip.check_checksum:TRUE -d udp.port==9999,data -q -z expert,error "
                        "2>/dev/null", file), 0);
    if (strstr(out, "Errors ("))
        fail_msg("%s: tshark's expert found errors:\n%s", file, out);
    assert_int_equal(count(file, "_ws.malformed || _ws.expert.severity == error"), 0);
}

/* ---- the frames of a file, read without tshark ---- */

/* One TCP frame as a reader of the file finds it. */
typedef struct tcp_frame {
    tw_ns t;
    bool inbound;
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags; /* FIN 1, SYN 2, RST 4, PSH 8, ACK 16 */
    uint16_t win;
    int ws;        /* a SYN's window scale option, -1 without */
    size_t len;    /* payload bytes */
} tcp_frame;

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The TCP frames of a pcapng file in file order (Ethernet, IPv4 or
 * IPv6), into *out (malloc'd); returns how many. */
static size_t read_tcp(const char *path, tcp_frame **out_frames)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = 0, cap = 0;
    tcp_frame *v = NULL;
    uint8_t head[8];
    while (fread(head, 1, 8, f) == 8) {
        uint32_t type, total;
        memcpy(&type, head, 4); /* the writer's (host) byte order */
        memcpy(&total, head + 4, 4);
        assert_true(total >= 12 && total % 4 == 0 && total < (1u << 20));
        uint8_t *b = malloc(total - 8);
        assert_non_null(b);
        assert_int_equal(fread(b, 1, total - 8, f), total - 8);
        if (type == 6) { /* enhanced packet block */
            uint32_t hi, lo, caplen;
            memcpy(&hi, b + 4, 4);
            memcpy(&lo, b + 8, 4);
            memcpy(&caplen, b + 12, 4);
            const uint8_t *fr = b + 20;
            bool inbound = false;
            for (const uint8_t *o = fr + caplen + (4 - caplen % 4) % 4; o + 4 <= b + total - 12;) {
                uint16_t code, olen;
                memcpy(&code, o, 2);
                memcpy(&olen, o + 2, 2);
                if (code == 0)
                    break;
                if (code == 2) { /* epb_flags: direction in bits 0-1 */
                    uint32_t fl;
                    memcpy(&fl, o + 4, 4);
                    inbound = (fl & 3) == 1;
                }
                o += 4 + olen + (4 - olen % 4) % 4;
            }
            uint16_t et = rd16(fr + 12);
            const uint8_t *ip = fr + 14, *t = NULL;
            tcp_frame x = {.t = (tw_ns)((uint64_t)hi << 32 | lo), .inbound = inbound};
            size_t iplen = 0;
            if (et == 0x0800 && ip[9] == 6) {
                memcpy(x.src, ip + 12, 4);
                memcpy(x.dst, ip + 16, 4);
                t = ip + (ip[0] & 15) * 4;
                iplen = rd16(ip + 2) - (size_t)(t - ip);
            } else if (et == 0x86dd && ip[6] == 6) {
                memcpy(x.src, ip + 8, 16);
                memcpy(x.dst, ip + 24, 16);
                t = ip + 40;
                iplen = rd16(ip + 4);
            }
            if (t) {
                x.sport = rd16(t);
                x.dport = rd16(t + 2);
                x.seq = rd32(t + 4);
                x.ack = rd32(t + 8);
                x.flags = t[13];
                x.win = rd16(t + 14);
                x.len = iplen - (size_t)(t[12] >> 4) * 4;
                x.ws = -1;
                for (size_t o = 20; (x.flags & 2) && o < (size_t)(t[12] >> 4) * 4;)
                    if (t[o] == 0)
                        break;
                    else if (t[o] == 1)
                        o++;
                    else {
                        if (t[o] == 3)
                            x.ws = t[o + 2];
                        o += t[o + 1] ? t[o + 1] : 1;
                    }
                if (n == cap) {
                    cap = cap ? cap * 2 : 1024;
                    v = realloc(v, cap * sizeof *v);
                    assert_non_null(v);
                }
                v[n++] = x;
            }
        }
        free(b);
    }
    fclose(f);
    *out_frames = v;
    return n;
}

static bool same_dir(const tcp_frame *a, const tcp_frame *b)
{
    return a->sport == b->sport && a->dport == b->dport && !memcmp(a->src, b->src, 16) &&
           !memcmp(a->dst, b->dst, 16);
}

/* What the file's node sent, as a stack sends it: on each connection
 * its ack numbers never go back (a segment sent again carries the ack
 * of the moment it goes, not of its first transmission), and a pure ack
 * is never followed in the same instant by a segment of its own that
 * carries it (a stack sends the one segment; the lone ack could land
 * after the segment, which Wireshark then reads as a keep-alive or a
 * gap). Returns how many frames were checked. */
static size_t sends_like_a_stack(const char *path)
{
    tcp_frame *v;
    size_t n = read_tcp(path, &v), checked = 0;
    for (size_t i = 0; i < n; i++) {
        const tcp_frame *a = &v[i];
        if (a->inbound || !(a->flags & 16) || (a->flags & 4))
            continue;
        checked++;
        for (size_t j = i + 1; j < n; j++) {
            const tcp_frame *b = &v[j];
            if (b->inbound || !same_dir(a, b) || (b->flags & 2))
                continue;
            if ((b->flags & 16) && !(b->flags & 4) && (int32_t)(b->ack - a->ack) < 0)
                fail_msg("%s: frame %zu acks %u after frame %zu acked %u", path, j + 1,
                         b->ack, i + 1, a->ack);
            if (a->len == 0 && !(a->flags & 3) && b->t == a->t && (b->len || (b->flags & 1)))
                fail_msg("%s: frame %zu, a pure ack, and frame %zu, a segment of the "
                         "same end, go in the same instant", path, i + 1, j + 1);
            break; /* the next frame of this direction */
        }
    }
    free(v);
    return checked;
}

/* What the file's node sent stays within the window its peer last
 * advertised to it there (the ack plus the window, scaled as the SYNs
 * said): a segment beyond it is what Wireshark reads as a zero window
 * probe or a segment it missed. Returns how many segments were checked. */
static size_t within_windows(const char *path)
{
    tcp_frame *v;
    size_t n = read_tcp(path, &v), checked = 0;
    typedef struct dir_state {
        int ws[2];            /* [0] this node's SYN, [1] the peer's */
        bool acked;
        uint32_t ack, win;
    } dir_state;
    dir_state *d = calloc(n + 1, sizeof *d);
    assert_non_null(d);
    tcp_frame *keys = calloc(n + 1, sizeof *keys);
    assert_non_null(keys);
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        const tcp_frame *f = &v[i];
        if (!memcmp(f->src, f->dst, 16))
            continue;
        tcp_frame key = *f;
        if (f->inbound) {
            memcpy(key.src, f->dst, 16);
            memcpy(key.dst, f->src, 16);
            key.sport = f->dport;
            key.dport = f->sport;
        }
        dir_state *s = NULL;
        for (size_t k = nd; k-- > 0 && !s;)
            if (same_dir(&keys[k], &key))
                s = &d[k];
        if (!s || ((f->flags & 2) && !(f->flags & 16))) { /* a connection begins */
            keys[nd] = key;
            s = &d[nd++];
            *s = (dir_state){.ws = {-1, -1}};
        }
        if (f->flags & 2)
            s->ws[f->inbound ? 1 : 0] = f->ws;
        /* an older ack (overtaken by a newer one) moves nothing, as in a
         * stack */
        if (f->inbound && (f->flags & 16) && !(f->flags & 4) &&
            (!s->acked || (int32_t)(f->ack - s->ack) >= 0)) {
            s->acked = true;
            s->ack = f->ack;
            bool scaled = s->ws[0] >= 0 && s->ws[1] >= 0 && !(f->flags & 2);
            s->win = (uint32_t)f->win << (scaled ? s->ws[1] : 0);
        }
        if (!f->inbound && s->acked && f->len) {
            checked++;
            uint32_t end = f->seq + (uint32_t)f->len;
            if ((int32_t)(end - (s->ack + s->win)) > 0)
                fail_msg("%s: frame %zu ends %u bytes beyond the window the peer "
                         "advertised (ack %u, window %u)", path, i + 1,
                         end - (s->ack + s->win), s->ack, s->win);
        }
    }
    free(keys);
    free(d);
    free(v);
    return checked;
}

/* ---- an echo world: a client on b, one on a over the loopback ---- */

typedef struct conn {
    tw_protocol base;
    tw_transport *t;
    bytes wrote, got;
} conn;

typedef struct echo_world {
    tw_sim *sim;
    tw_loop *a, *b;
    conn *srv[4]; /* the server's connections, in order */
    int nsrv;
} echo_world;

static echo_world *the_world;

static void srv_made(tw_protocol *p, tw_transport *t) { ((conn *)p)->t = t; }

static void srv_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    conn *c = (conn *)p;
    bytes_add(&c->got, d, n);
    if (tw_transport_write(c->t, d, n) == 0)
        bytes_add(&c->wrote, d, n);
}

static const tw_protocol_ops srv_ops = {.connection_made = srv_made,
                                        .data_received = srv_data};

static tw_protocol *srv_factory(void *arg)
{
    (void)arg;
    conn *c = calloc(1, sizeof *c);
    c->base.ops = &srv_ops;
    assert_true(the_world->nsrv < 4);
    the_world->srv[the_world->nsrv++] = c;
    return &c->base;
}

typedef struct client {
    conn c;
    tw_loop *loop;
    uint32_t seed;
    int chunks;
} client;

static void cli_tick(void *arg)
{
    client *k = arg;
    if (!k->c.t)
        return;
    if (k->chunks == 40) {
        tw_transport_write_eof(k->c.t);
        return;
    }
    uint8_t buf[9000];
    size_t n = 1 + (k->seed * 2654435761u + (uint32_t)k->chunks * 977u) % sizeof buf;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)((k->seed + i * 31 + (size_t)k->chunks * 7) ^ (i >> 3));
    if (tw_transport_write(k->c.t, buf, n) == 0)
        bytes_add(&k->c.wrote, buf, n);
    k->chunks++;
    tw_call_later(k->loop, TW_MS(10), cli_tick, k);
}

static void cli_made(tw_protocol *p, tw_transport *t)
{
    client *k = (client *)p;
    k->c.t = t;
    tw_call_later(k->loop, 0, cli_tick, k);
}

static void cli_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    bytes_add(&((client *)p)->c.got, d, n);
}

static void cli_lost(tw_protocol *p, int err)
{
    (void)err;
    ((client *)p)->c.t = NULL;
}

static const tw_protocol_ops cli_ops = {.connection_made = cli_made,
                                        .data_received = cli_data,
                                        .connection_lost = cli_lost};

static tw_protocol *cli_factory(void *arg) { return arg; }

/* Nodes a (addr_a), serving port 7777, and b (addr_b) in a world of
 * seed and options o (NULL: defaults), captured into pcap_dir when it
 * is given: its capture, or NULL. */
static tw_sim_pcap *world_open(echo_world *w, uint64_t seed, const tw_sim_opts *o,
                               const char *addr_a, const char *addr_b, const char *pcap_dir)
{
    memset(w, 0, sizeof *w);
    the_world = w;
    w->sim = tw_sim_new(seed, o);
    assert_non_null(w->sim);
    w->a = tw_sim_add_node(w->sim, "a", addr_a);
    w->b = tw_sim_add_node(w->sim, "b", addr_b);
    assert_non_null(w->a);
    assert_non_null(w->b);
    tw_sim_pcap *pc = NULL;
    char err[700] = "";
    if (pcap_dir && tw_sim_pcap_start(w->sim, pcap_dir, &pc, err, sizeof err) != 0)
        fail_msg("capture into %s: %s", pcap_dir, err);
    tw_server *srv;
    assert_int_equal(tw_create_server(w->a, srv_factory, NULL, "", 7777, NULL, &srv), 0);
    return pc;
}

/* The world: a on addr_a serves port 7777; b's client connects over a
 * network that loses 5% of the segments and is cut for 200 ms; a's own
 * client connects to its loopback. With pcap_dir, captured. */
static uint64_t echo_run(const char *addr_a, const char *addr_b, const char *lo,
                         const char *pcap_dir, client *kb, client *ka, echo_world *w)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.loss_probability = 0.05;
    o.net.rto_ns = TW_MS(20);
    o.segment_bytes_max = 3000;
    tw_sim_pcap *pc = world_open(w, 11, &o, addr_a, addr_b, pcap_dir);
    char err[700] = "";
    *kb = (client){.c.base.ops = &cli_ops, .loop = w->b, .seed = 1};
    *ka = (client){.c.base.ops = &cli_ops, .loop = w->a, .seed = 2};
    assert_int_equal(tw_create_connection(w->b, cli_factory, kb, addr_a, 7777, NULL), 0);
    assert_int_equal(tw_create_connection(w->a, cli_factory, ka, lo, 7777, NULL), 0);
    tw_sim_fault cut = {.kind = TW_SIM_FAULT_PARTITION, .a = 0, .b = 1,
                        .duration_ns = TW_MS(200)};
    assert_int_equal(tw_sim_at(w->sim, TW_MS(100), &cut), 0);
    assert_int_equal(tw_sim_run_for(w->sim, TW_SEC(20)), 0);
    if (pc)
        assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    return tw_sim_trace_hash(w->sim);
}

static void echo_fini(echo_world *w, client *kb, client *ka)
{
    tw_sim_free(w->sim);
    for (int i = 0; i < w->nsrv; i++) {
        free(w->srv[i]->wrote.b);
        free(w->srv[i]->got.b);
        free(w->srv[i]);
    }
    client *ks[2] = {kb, ka};
    for (int i = 0; i < 2; i++) {
        free(ks[i]->c.wrote.b);
        free(ks[i]->c.got.b);
    }
}

/* The server's connection that echoed k's bytes. */
static conn *served(echo_world *w, client *k)
{
    for (int i = 0; i < w->nsrv; i++)
        if (bytes_eq(&w->srv[i]->got, &k->c.wrote))
            return w->srv[i];
    fail_msg("no server connection got the client's %zu bytes", k->c.wrote.n);
    return NULL;
}

/* Every stream in file: client -> server is what the client wrote,
 * server -> client what the server wrote back. */
/* The capture directory sub of the test's own, and its nodes' files
 * (nodes a and b): dir[256], fa[300], fb[300]. */
static void capture_paths(const char *sub, char *dir, char *fa, char *fb)
{
    snprintf(dir, 256, "%s/%s", tmpdir, sub);
    snprintf(fa, 300, "%s/a.pcapng", dir);
    snprintf(fb, 300, "%s/b.pcapng", dir);
}

static void check_streams(const char *file, int nstreams, echo_world *w, client *kb,
                          client *ka, const char *addr_b, const char *lo)
{
    assert_int_equal(sh("tshark -r %s -T fields -e tcp.stream 2>/dev/null | sort -un | wc -l",
                        file), 0);
    assert_int_equal(atoi(out), nstreams);
    /* Wireshark counts each conversation complete: SYN, SYN-ACK, the
     * ACK after them, data and a FIN (1+2+4+8+16, its completeness bits;
     * 32, a reset, may come too). */
    assert_int_equal(sh("tshark -2 -r %s -T fields -e tcp.stream -e tcp.completeness "
                        "2>/dev/null | sort -u | awk '$2 %% 32 == 31' | wc -l", file), 0);
    assert_int_equal(atoi(out), nstreams);
    for (int n = 0; n < nstreams; n++) {
        stream s;
        follow(file, n, &s);
        client *k = strncmp(s.node0, addr_b, strlen(addr_b)) == 0 ||
                            strncmp(s.node0 + 1, addr_b, strlen(addr_b)) == 0
                        ? kb
                        : ka;
        if (k == ka)
            assert_non_null(strstr(s.node0, lo));
        conn *sc = served(w, k);
        if (!bytes_eq(&s.to_server, &k->c.wrote) || !bytes_eq(&s.to_client, &sc->wrote))
            fail_msg("%s stream %d (%s): %zu/%zu bytes to the server, %zu/%zu back", file,
                     n, s.node0, s.to_server.n, k->c.wrote.n, s.to_client.n, sc->wrote.n);
        stream_fini(&s);
    }
}

static void echo_family(const char *addr_a, const char *addr_b, const char *lo,
                        const char *sub)
{
    char dir[256], fa[300], fb[300];
    capture_paths(sub, dir, fa, fb);
    client kb, ka;
    echo_world w;
    uint64_t plain = echo_run(addr_a, addr_b, lo, NULL, &kb, &ka, &w);
    echo_fini(&w, &kb, &ka);
    uint64_t captured = echo_run(addr_a, addr_b, lo, dir, &kb, &ka, &w);
    /* Capturing is listening only: the same run to the last record. */
    assert_int_equal(plain, captured);
    /* The run did what the test needs: both echoed in full. */
    assert_true(kb.c.wrote.n > 100000);
    assert_true(bytes_eq(&kb.c.wrote, &kb.c.got));
    assert_true(bytes_eq(&ka.c.wrote, &ka.c.got));
    assert_true(sends_like_a_stack(fa) > 100);
    assert_true(sends_like_a_stack(fb) > 100);
    if (!tshark_here()) {
        echo_fini(&w, &kb, &ka);
        skip();
    }
    check_streams(fa, 2, &w, &kb, &ka, addr_b, lo); /* b's and the loopback's */
    check_streams(fb, 1, &w, &kb, &ka, addr_b, lo);
    /* Loss: transmissions lost in the sender's file, their
     * retransmissions with the same sequence number after them. */
    assert_true(count(fb, "frame.comment contains \"lost on the way\"") > 0);
    assert_true(count(fb, "tcp.analysis.retransmission || tcp.analysis.fast_retransmission"
                          " || tcp.analysis.out_of_order") > 0);
    /* The partition: what it held is sent again at the heal. */
    assert_true(count(fb, "frame.comment contains \"after a cut healed\"") +
                count(fa, "frame.comment contains \"after a cut healed\"") > 0);
    /* A lost transmission never reaches the other file. */
    assert_int_equal(count(fa, "frame.comment contains \"lost\" && frame.packet_flags_direction == 1"), 0);
    /* The loopback is one interface of a's, each packet once. */
    assert_true(count(fa, "frame.interface_name == \"lo\"") > 0);
    assert_int_equal(count(fb, "frame.interface_name == \"lo\""), 0);
    expert_clean(fa);
    expert_clean(fb);
    echo_fini(&w, &kb, &ka);
}

static void test_tcp_streams_are_what_the_apps_wrote(void **state)
{
    (void)state;
    echo_family("10.0.0.1", "10.0.0.2", "127.0.0.1", "tcp4");
}

static void test_tcp_streams_over_ipv6(void **state)
{
    (void)state;
    echo_family("fd00::1", "fd00::2", "::1", "tcp6");
}

/* A connection reset while its segments wait for their retransmission:
 * its ends send nothing of it after the reset, in either file (a stack
 * retransmits nothing of a connection that is gone). */
static void test_nothing_sent_after_a_reset(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.loss_probability = 0.3;
    o.net.rto_ns = TW_MS(100);
    echo_world w;
    char dir[256], fa[300], fb[300], err[700] = "";
    capture_paths("reset", dir, fa, fb);
    tw_sim_pcap *pc = world_open(&w, 5, &o, "10.0.0.1", "10.0.0.2", dir);
    client kb = {.c.base.ops = &cli_ops, .loop = w.b, .seed = 3}, ka = {0};
    assert_int_equal(tw_create_connection(w.b, cli_factory, &kb, "10.0.0.1", 7777, NULL), 0);
    tw_sim_fault rst = {.kind = TW_SIM_FAULT_RESET, .a = 0, .b = 1};
    assert_int_equal(tw_sim_at(w.sim, TW_MS(150), &rst), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(5)), 0);
    assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    assert_null(kb.c.t); /* the reset took it */
    const char *files[2] = {fa, fb};
    for (int k = 0; k < 2; k++) {
        tcp_frame *v;
        size_t n = read_tcp(files[k], &v);
        tw_ns reset = -1;
        size_t sent_before = 0;
        for (size_t i = 0; i < n; i++) {
            if ((v[i].flags & 4) && reset < 0)
                reset = v[i].t;
            else if (!v[i].inbound && reset >= 0 && v[i].t > reset)
                fail_msg("%s: frame %zu (seq %u, %zu bytes) sent %.6f s after the reset",
                         files[k], i + 1, v[i].seq, v[i].len, (double)(v[i].t - reset) / 1e9);
            else if (!v[i].inbound && v[i].len)
                sent_before++;
        }
        assert_int_equal(reset, TW_MS(150));
        assert_true(sent_before > 0);
        free(v);
    }
    echo_fini(&w, &kb, &ka);
}

static bool keep_open(tw_protocol *p)
{
    (void)p;
    return true;
}

/* The RST that answers a write to a closed peer reaches the writer's
 * host a round trip later, and its capture has it then, as tcpdump
 * would, even while the writer's process is stopped (frozen): the
 * kernel takes the packet, only the process waits. */
static void test_rst_to_a_frozen_writer_captured_when_it_arrives(void **state)
{
    (void)state;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(5)};
    echo_world w;
    char dir[256], fa[300], fb[300], err[700] = "";
    capture_paths("frozen-rst", dir, fa, fb);
    tw_sim_pcap *pc = world_open(&w, 7, &o, "10.0.0.1", "10.0.0.2", dir);
    static tw_protocol_ops ops;
    ops = srv_ops;
    ops.eof_received = keep_open; /* the writer stays half-open */
    conn kc = {.base.ops = &ops};
    assert_int_equal(tw_create_connection(w.b, cli_factory, &kc, "10.0.0.1", 7777, NULL), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(50)), 0);
    assert_int_equal(w.nsrv, 1);
    tw_transport_close(w.srv[0]->t);
    assert_int_equal(tw_sim_run_for(w.sim, TW_MS(50)), 0);
    assert_non_null(kc.t);
    tw_ns t1 = tw_sim_now(w.sim);
    assert_int_equal(tw_transport_write(kc.t, "late", 4), 0);
    tw_sim_fault f = {.kind = TW_SIM_FAULT_FREEZE, .a = 1, .b = TW_SIM_ALL,
                      .duration_ns = TW_SEC(1)};
    assert_true(tw_sim_at(w.sim, t1, &f) >= 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    tcp_frame *v;
    size_t n = read_tcp(fb, &v);
    tw_ns rst = -1;
    for (size_t i = 0; i < n && rst < 0; i++)
        if ((v[i].flags & 4) && v[i].inbound)
            rst = v[i].t;
    if (rst != t1 + TW_MS(10))
        fail_msg("the RST is in the writer's file at %lld ns, want %lld ns", (long long)rst,
                 (long long)(t1 + TW_MS(10)));
    free(v);
    client none = {0};
    echo_fini(&w, &none, &none);
    free(kc.got.b);
    free(kc.wrote.b);
}

/* A client that asks once and closes as the whole answer arrives: the
 * ack of the answer and its FIN leave in the same instant, as one
 * segment. */
typedef struct asker {
    tw_protocol base;
    tw_transport *t;
    size_t want, got;
} asker;

static void ask_made(tw_protocol *p, tw_transport *t)
{
    asker *k = (asker *)p;
    k->t = t;
    uint8_t q[3000];
    memset(q, 'q', sizeof q);
    k->want = sizeof q;
    assert_int_equal(tw_transport_write(t, q, sizeof q), 0);
}

static void ask_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    asker *k = (asker *)p;
    (void)d;
    k->got += n;
    if (k->got == k->want)
        tw_transport_close(k->t);
}

static const tw_protocol_ops ask_ops = {.connection_made = ask_made,
                                        .data_received = ask_data};

static void test_an_ack_rides_on_the_fin_of_its_instant(void **state)
{
    (void)state;
    echo_world w;
    char dir[256], fa[300], fb[300], err[700] = "";
    capture_paths("close", dir, fa, fb);
    tw_sim_pcap *pc = world_open(&w, 9, NULL, "10.0.0.1", "10.0.0.2", dir);
    asker k = {.base.ops = &ask_ops};
    assert_int_equal(tw_create_connection(w.b, cli_factory, &k, "10.0.0.1", 7777, NULL), 0);
    assert_int_equal(tw_sim_run_for(w.sim, TW_SEC(2)), 0);
    assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    assert_int_equal(k.got, k.want);
    assert_true(sends_like_a_stack(fa) > 0);
    assert_true(sends_like_a_stack(fb) > 0);
    /* b's FIN goes with the ack of all it was answered. */
    tcp_frame *v;
    size_t n = read_tcp(fb, &v), fins = 0;
    for (size_t i = 0; i < n; i++)
        if (!v[i].inbound && (v[i].flags & 1)) {
            fins++;
            assert_true(v[i].flags & 16);
        }
    assert_int_equal(fins, 1);
    free(v);
    client none = {0};
    echo_fini(&w, &none, &none);
}

/* ---- datagrams ---- */

typedef struct dg {
    tw_protocol base;
    tw_transport *t;
    bytes got[400];
    int ngot, errors;
} dg;

static void dg_made(tw_protocol *p, tw_transport *t) { ((dg *)p)->t = t; }

static void dg_received(tw_protocol *p, const uint8_t *d, size_t n, const tw_addr *from)
{
    (void)from;
    dg *x = (dg *)p;
    if (x->ngot < 400)
        bytes_add(&x->got[x->ngot++], d, n);
}

static void dg_error(tw_protocol *p, int err)
{
    assert_int_equal(err, -ECONNREFUSED);
    ((dg *)p)->errors++;
}

static const tw_protocol_ops dg_ops = {.connection_made = dg_made,
                                       .datagram_received = dg_received,
                                       .error_received = dg_error};

static tw_protocol *dg_factory(void *arg) { return arg; }

typedef struct dg_sender {
    dg *to_server, *to_nobody;
    int sent;
    tw_loop *loop;
    bytes wrote[200];
} dg_sender;

static void dg_tick(void *arg)
{
    dg_sender *s = arg;
    if (s->sent == 200 || !s->to_server->t)
        return;
    uint8_t buf[700];
    size_t n = 8 + (size_t)(s->sent * 37) % 600;
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(s->sent + i * 13);
    memcpy(buf, &s->sent, sizeof s->sent);
    assert_int_equal(tw_transport_sendto(s->to_server->t, buf, n, NULL), 0);
    bytes_add(&s->wrote[s->sent], buf, n);
    if (s->sent % 40 == 0 && s->to_nobody->t)
        assert_int_equal(tw_transport_sendto(s->to_nobody->t, buf, n, NULL), 0);
    s->sent++;
    tw_call_later(s->loop, TW_MS(2), dg_tick, s);
}

static void test_datagrams_as_sent_and_as_arrived(void **state)
{
    (void)state;
    char dir[256], fa[300], fb[300];
    capture_paths("udp", dir, fa, fb);
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.dgram.loss_probability = 0.05;
    o.net.dgram.duplicate_probability = 0.2;
    o.net.dgram.reorder_probability = 0.2;
    o.net.dgram.corrupt_probability = 0.1;
    tw_sim *sim = tw_sim_new(3, &o);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    tw_sim_pcap *pc;
    char err[700];
    assert_int_equal(tw_sim_pcap_start(sim, dir, &pc, err, sizeof err), 0);
    static dg server, to_server, to_nobody;
    static dg_sender s;
    memset(&server, 0, sizeof server);
    memset(&to_server, 0, sizeof to_server);
    memset(&to_nobody, 0, sizeof to_nobody);
    memset(&s, 0, sizeof s);
    server.base.ops = to_server.base.ops = to_nobody.base.ops = &dg_ops;
    tw_datagram_opts so = {.local_host = "10.0.0.1", .local_port = 9999};
    assert_int_equal(tw_create_datagram_endpoint(a, dg_factory, &server, &so, NULL), 0);
    tw_datagram_opts co = {.remote_host = "10.0.0.1", .remote_port = 9999};
    assert_int_equal(tw_create_datagram_endpoint(b, dg_factory, &to_server, &co, NULL), 0);
    tw_datagram_opts no = {.remote_host = "10.0.0.1", .remote_port = 9998};
    assert_int_equal(tw_create_datagram_endpoint(b, dg_factory, &to_nobody, &no, NULL), 0);
    s = (dg_sender){.to_server = &to_server, .to_nobody = &to_nobody, .loop = b};
    tw_call_later(b, TW_MS(1), dg_tick, &s);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(2)), 0);
    assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    assert_int_equal(s.sent, 200);
    assert_true(to_nobody.errors > 0);
    if (!tshark_here()) {
        tw_sim_free(sim);
        skip();
    }
    /* The sender's file: every datagram as the app sent it, lost ones too. */
    assert_int_equal(sh("tshark -r %s -d udp.port==9999,data -Y 'udp.dstport==9999 && "
                        "!icmp' -T fields -e data.data 2>/dev/null", fb), 0);
    char *line = out;
    for (int i = 0; i < 200; i++) {
        char *end = strchr(line, '\n');
        assert_non_null(end);
        bytes x = {0};
        bytes_hex(&x, line, end);
        if (!bytes_eq(&x, &s.wrote[i]))
            fail_msg("datagram %d in b.pcapng is not what b sent", i);
        free(x.b);
        line = end + 1;
    }
    assert_int_equal(*line, '\0');
    /* The receiver's file: what reached the server, in order, as it
     * arrived; the corrupted ones with their sender's checksum. */
    assert_int_equal(sh("tshark -r %s -o udp.check_checksum:TRUE -d udp.port==9999,data "
                        "-Y 'udp.dstport==9999 && !icmp' -T fields -e udp.checksum.status "
                        "-e data.data 2>/dev/null", fa), 0);
    line = out;
    int i = 0, bad = 0, flipped = 0;
    for (char *end; (end = strchr(line, '\n')); line = end + 1, i++) {
        assert_true(i < server.ngot);
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        bytes x = {0};
        bytes_hex(&x, tab + 1, end);
        assert_true(bytes_eq(&x, &server.got[i]));
        free(x.b);
        bool sent = false;
        for (int k = 0; k < 200 && !sent; k++)
            sent = bytes_eq(&server.got[i], &s.wrote[k]);
        flipped += !sent;
        bad += atoi(line) == 0; /* 0: Bad, 1: Good */
    }
    assert_int_equal(i, server.ngot);
    assert_true(flipped > 0);
    assert_int_equal(bad, flipped);
    assert_int_equal(count(fa, "frame.comment contains \"corrupted on the way\""), flipped);
    /* More arrived than were sent and not lost: the duplicates. */
    assert_true(count(fb, "frame.comment contains \"delivers this twice\"") > 0);
    /* Those to the port nobody has: each that arrived is answered with
     * an ICMP port unreachable quoting it, in both files; each reached
     * the sender's connected endpoint as error_received. */
    int refused = count(fa, "!icmp && udp.dstport == 9998");
    assert_true(refused > 0);
    assert_int_equal(count(fa, "icmp.type == 3 && icmp.code == 3 && udp.dstport == 9998"),
                     refused);
    assert_int_equal(count(fb, "icmp.type == 3 && icmp.code == 3 && udp.dstport == 9998"),
                     to_nobody.errors);
    assert_int_equal(to_nobody.errors, refused);
    /* Nothing else wrong: only the corrupted datagrams' checksums. */
    assert_int_equal(count(fa, "_ws.malformed || ip.checksum.status == 0 || "
                               "icmp.checksum.status == 0"), 0);
    expert_clean(fb);
    tw_sim_free(sim);
    for (int k = 0; k < 200; k++)
        free(s.wrote[k].b);
    for (int k = 0; k < server.ngot; k++)
        free(server.got[k].b);
}

/* A datagram sent after an fsync, from the callback that made it, leaves
 * when the fsync returns (twin/file.h): its node crashing before then
 * keeps it from leaving at all. It is in no file, its sender's
 * included, where it would show a packet leaving a node that was down;
 * the one sent before the fsync is in both. */
typedef struct syncing_sender {
    dg *d;
    tw_loop *loop;
} syncing_sender;

static void send_around_fsync(void *arg)
{
    syncing_sender *s = arg;
    tw_file *f;
    assert_int_equal(tw_file_open(s->loop, "/log", TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_file_append(f, "x", 1), 1);
    assert_int_equal(tw_transport_sendto(s->d->t, "before", 6, NULL), 0);
    assert_int_equal(tw_file_fsync(f), 0); /* returns at 11 ms */
    assert_int_equal(tw_transport_sendto(s->d->t, "after!", 6, NULL), 0);
}

static void test_no_datagram_leaves_a_crashed_node(void **state)
{
    (void)state;
    char dir[256], fa[300], fb[300];
    capture_paths("unsent", dir, fa, fb);
    tw_sim *sim = tw_sim_new(5, NULL);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    const tw_sim_dist ten = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(10),
                             .max_ns = TW_MS(10), .mean_ns = TW_MS(10)};
    assert_int_equal(tw_sim_fs_set(b, &(tw_sim_fs_opts){.fsync_latency = ten}), 0);
    tw_sim_pcap *pc;
    char err[700];
    assert_int_equal(tw_sim_pcap_start(sim, dir, &pc, err, sizeof err), 0);
    static dg server, sender;
    memset(&server, 0, sizeof server);
    memset(&sender, 0, sizeof sender);
    server.base.ops = sender.base.ops = &dg_ops;
    tw_datagram_opts so = {.local_host = "10.0.0.1", .local_port = 9999};
    assert_int_equal(tw_create_datagram_endpoint(a, dg_factory, &server, &so, NULL), 0);
    tw_datagram_opts co = {.remote_host = "10.0.0.1", .remote_port = 9999};
    assert_int_equal(tw_create_datagram_endpoint(b, dg_factory, &sender, &co, NULL), 0);
    syncing_sender s = {.d = &sender, .loop = b};
    tw_call_later(b, TW_MS(1), send_around_fsync, &s);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(5)), 0);
    assert_int_equal(tw_sim_crash(b), 0); /* during the fsync */
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0);
    assert_int_equal(tw_sim_pcap_finish(pc, err, sizeof err), 0);
    assert_int_equal(server.ngot, 1);
    assert_true(server.got[0].n == 6 && memcmp(server.got[0].b, "before", 6) == 0);
    free(server.got[0].b);
    tw_sim_free(sim);
    if (!tshark_here())
        skip();
    assert_int_equal(count(fb, "udp.dstport == 9999"), 1);
    assert_int_equal(count(fb, "data.data == 62:65:66:6f:72:65"), 1); /* "before" */
    assert_int_equal(count(fa, "udp.dstport == 9999"), 1);
}

/* ---- the command, on shipped scenarios ---- */

/* The "send" records' bytes per node of a --trace output. */
static uint64_t traced_sends(const char *trace, const char *node, const char *what)
{
    uint64_t total = 0;
    char pat[64];
    snprintf(pat, sizeof pat, " %s t", node);
    for (const char *l = trace; (l = strstr(l, pat)); l++) {
        const char *w = strchr(l + strlen(pat), ' ');
        if (w && strncmp(w + 1, what, strlen(what)) == 0 && w[1 + strlen(what)] == ' ') {
            const char *v = w + 2 + strlen(what); /* "len=N ..." */
            if (strncmp(v, "len=", 4) == 0)
                v += 4;
            total += strtoull(v, NULL, 10);
        }
    }
    return total;
}

static void test_cli_echo_loss(void **state)
{
    (void)state;
    char dir[256], fc[300], fs[300];
    snprintf(dir, sizeof dir, "%s/echo_loss", tmpdir);
    snprintf(fc, sizeof fc, "%s/client.pcapng", dir);
    snprintf(fs, sizeof fs, "%s/server.pcapng", dir);
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seed 7 -q 2>&1", tw_cli_twin), 0);
    const char *h = strstr(out, "trace hash ");
    assert_non_null(h);
    char hash[40];
    snprintf(hash, sizeof hash, "%.27s", h);
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seed 7 --trace --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    assert_non_null(strstr(out, hash)); /* the very run */
    assert_non_null(strstr(out, "capture: "));
    char *trace = strdup(out);
    assert_int_equal(access(fc, R_OK), 0);
    assert_int_equal(access(fs, R_OK), 0);
    if (!tshark_here()) {
        free(trace);
        skip();
    }
    assert_int_equal(sh("tshark -r %s -T fields -e tcp.stream 2>/dev/null | sort -un | wc -l",
                        fc), 0);
    int n = atoi(out);
    assert_true(n >= 1);
    uint64_t up = 0, down = 0;
    for (int i = 0; i < n; i++) {
        stream c, s;
        follow(fc, i, &c);
        follow(fs, i, &s);
        /* Both hosts saw the same streams; the server echoed them. */
        assert_true(bytes_eq(&c.to_server, &s.to_server));
        assert_true(bytes_eq(&c.to_client, &s.to_client));
        assert_true(bytes_eq(&c.to_server, &c.to_client));
        up += c.to_server.n;
        down += c.to_client.n;
        stream_fini(&c);
        stream_fini(&s);
    }
    /* Exactly the bytes each app's writes gave the network. */
    assert_true(up > 100000);
    assert_int_equal(up, traced_sends(trace, "client", "send"));
    assert_int_equal(down, traced_sends(trace, "server", "send"));
    free(trace);
    assert_true(count(fc, "tcp.analysis.retransmission") > 0);
    assert_true(count(fs, "tcp.analysis.retransmission") > 0);
    expert_clean(fc);
    expert_clean(fs);
}

/* A slow reader's windows: every segment the server and the clients
 * send fits the window last advertised to them, also where a reader
 * made room of a single byte (a scaled window rounded down to zero would
 * make that byte a zero window probe). */
static void test_cli_windows_of_a_slow_reader(void **state)
{
    (void)state;
    char dir[256], f[300];
    snprintf(dir, sizeof dir, "%s/slow", tmpdir);
    assert_int_equal(sh("%s sim scenarios/resp-slow-reader.yaml --seed 3 --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    size_t checked = 0;
    const char *nodes[] = {"server", "c1", "c2"};
    for (int i = 0; i < 3; i++) {
        snprintf(f, sizeof f, "%s/%s.pcapng", dir, nodes[i]);
        checked += within_windows(f);
        sends_like_a_stack(f);
    }
    assert_true(checked > 1000);
    if (!tshark_here())
        skip();
    snprintf(f, sizeof f, "%s/server.pcapng", dir);
    assert_int_equal(count(f, "tcp.analysis.zero_window_probe || tcp.analysis.ack_lost_segment"), 0);
}

static void test_cli_datagrams(void **state)
{
    (void)state;
    char dir[256], fc[300], fs[300];
    snprintf(dir, sizeof dir, "%s/datagrams", tmpdir);
    snprintf(fc, sizeof fc, "%s/client.pcapng", dir);
    snprintf(fs, sizeof fs, "%s/server.pcapng", dir);
    assert_int_equal(sh("%s sim scenarios/datagrams.yaml --seed 5 --trace --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    char *trace = strdup(out);
    if (!tshark_here()) {
        free(trace);
        skip();
    }
    /* The client's datagrams, in the order its sends gave them: their
     * lengths are the trace's dg_send records', one for one. */
    assert_int_equal(sh("tshark -r %s -d udp.port==9999,data -Y 'udp.dstport==9999 && "
                        "frame.packet_flags_direction == 2' -T fields -e udp.length "
                        "2>/dev/null", fc), 0);
    char *lens = strdup(out);
    const char *l = lens;
    int k = 0;
    char pat[] = " client t1 dg_send len=";
    for (const char *t = trace; (t = strstr(t, pat)); t++, k++) {
        unsigned long want = strtoul(t + strlen(pat), NULL, 10);
        assert_int_equal(strtoul(l, NULL, 10), want + 8);
        l = strchr(l, '\n');
        assert_non_null(l);
        l++;
    }
    assert_int_equal(k, count(fc, "frame.packet_flags_direction == 2 && udp.dstport == 9999"));
    assert_true(k >= 1000); /* and the resends after a timeout */
    free(lens);
    free(trace);
    /* The server echoes what reaches it: each datagram it sends is one
     * its file shows arriving. */
    assert_int_equal(sh("tshark -r %s -d udp.port==9999,data -Y 'udp' -T fields "
                        "-e frame.packet_flags_direction -e data.data 2>/dev/null | "
                        "awk '$1 == \"0x00000001\" { in_[$2] = 1 } "
                        "$1 == \"0x00000002\" && !($2 in in_) { bad++ } "
                        "END { print bad + 0 }'", fs), 0);
    assert_int_equal(atoi(out), 0);
    expert_clean(fc);
    expert_clean(fs);
}

static void test_cli_resp_decodes(void **state)
{
    (void)state;
    char dir[256], fs[300];
    snprintf(dir, sizeof dir, "%s/resp", tmpdir);
    snprintf(fs, sizeof fs, "%s/server.pcapng", dir);
    assert_int_equal(sh("%s sim scenarios/resp-loss.yaml --seed 2 -q --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    if (!tshark_here())
        skip();
    assert_int_equal(sh("tshark -G protocols 2>/dev/null | cut -f3 | grep -cx resp"), 0);
    if (atoi(out) == 0) {
        print_message("tshark has no RESP dissector: RESP decoding not checked\n");
        skip();
    }
    /* Commands the clients sent, as Wireshark's RESP dissector reads
     * them (bulk strings come out in hex: SET, GET, MGET, INCR, DEL). */
    assert_int_equal(sh("tshark -r %s -d tcp.port==6379,resp -Y resp -T fields "
                        "-e resp.bulk_string.value 2>/dev/null | tr ',' '\\n' | "
                        "grep -ciE '^(534554|474554|4d474554|494e4352|44454c)$'", fs), 0);
    assert_true(atoi(out) > 100);
    assert_int_equal(sh("tshark -r %s -d tcp.port==6379,resp -Y 'resp.malformed_length || "
                        "_ws.malformed' 2>/dev/null | wc -l", fs), 0);
    assert_int_equal(atoi(out), 0);
    expert_clean(fs);
}

/* A TLS connection's secrets go into its node's capture (decryption
 * secrets blocks, the key log's lines), so that Wireshark shows what
 * the protocol sent, not only the records that carried it. */
static void test_cli_tls_decrypts(void **state)
{
    (void)state;
    char dir[256], fc[300];
    snprintf(dir, sizeof dir, "%s/tls", tmpdir);
    snprintf(fc, sizeof fc, "%s/c1.pcapng", dir);
    assert_int_equal(sh("%s sim scenarios/tls_echo.yaml --seed 1 -q --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    /* The file holds the key log: a block of type 10, "TLSK", its lines. */
    assert_int_equal(sh("grep -c CLIENT_TRAFFIC_SECRET_0 %s", fc), 0);
    assert_true(atoi(out) >= 1);
    if (!tshark_here())
        skip();
    /* Decrypted: the echoed bytes show as data inside TLS records. */
    assert_int_equal(sh("tshark -r %s -Y 'tls && data' 2>/dev/null | wc -l", fc), 0);
    assert_true(atoi(out) > 10);
    expert_clean(fc);
}

/* ---- the command's option and its errors ---- */

static void test_cli_seeds_and_errors(void **state)
{
    (void)state;
    char dir[256], path[400];
    snprintf(dir, sizeof dir, "%s/sweep", tmpdir);
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seeds 1..2 -q --pcap %s 2>&1",
                        tw_cli_twin, dir), 0);
    for (int seed = 1; seed <= 2; seed++) {
        snprintf(path, sizeof path, "%s/seed-%d/client.pcapng", dir, seed);
        assert_int_equal(access(path, R_OK), 0);
        snprintf(path, sizeof path, "%s/seed-%d/server.pcapng", dir, seed);
        assert_int_equal(access(path, R_OK), 0);
    }
    /* A directory that cannot be made: named, status 2, nothing run. */
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seed 1 --pcap /dev/null/x 2>&1",
                        tw_cli_twin), 2);
    assert_non_null(strstr(out, "--pcap: cannot write /dev/null/x: Not a directory"));
    assert_null(strstr(out, "result:"));
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seeds 1..3 --pcap /dev/null/x 2>&1",
                        tw_cli_twin), 2);
    assert_non_null(strstr(out, "cannot write /dev/null/x/seed-1: Not a directory"));
    /* Two files, one directory: refused. */
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml scenarios/datagrams.yaml --seed 1 "
                        "--pcap %s 2>&1", tw_cli_twin, dir), 2);
    assert_non_null(strstr(out, "--pcap: one scenario file at a time"));
    /* A full disk: the file that could not be written, status 2, though
     * the run itself passed. */
    if (access("/dev/full", W_OK) != 0)
        skip();
    snprintf(dir, sizeof dir, "%s/full", tmpdir);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/client.pcapng", dir);
    assert_int_equal(symlink("/dev/full", path), 0);
    assert_int_equal(sh("%s sim scenarios/echo_loss.yaml --seed 1 --pcap %s 2>&1",
                        tw_cli_twin, dir), 2);
    char want[500];
    snprintf(want, sizeof want, "--pcap: cannot write %s: No space left on device", path);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "result: PASS"));
}

int main(void)
{
    tw_cli_init();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/twin-pcap-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        TW_TEST(test_tcp_streams_are_what_the_apps_wrote),
        TW_TEST(test_tcp_streams_over_ipv6),
        TW_TEST(test_nothing_sent_after_a_reset),
        TW_TEST(test_rst_to_a_frozen_writer_captured_when_it_arrives),
        TW_TEST(test_an_ack_rides_on_the_fin_of_its_instant),
        TW_TEST(test_datagrams_as_sent_and_as_arrived),
        TW_TEST(test_no_datagram_leaves_a_crashed_node),
        TW_TEST(test_cli_echo_loss),
        TW_TEST(test_cli_windows_of_a_slow_reader),
        TW_TEST(test_cli_datagrams),
        TW_TEST(test_cli_resp_decodes),
        TW_TEST(test_cli_tls_decrypts),
        TW_TEST(test_cli_seeds_and_errors),
    };
    int rc = cmocka_run_group_tests_name("pcap", tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (tw_cli_run(cmd, out, sizeof out) != 0)
        rc = rc ? rc : 1;
    return rc;
}
