/* core/record.c - the recorder (twin/record.h): what a loop's protocols
 * were given, appended to a file; and the reader of such files.
 *
 * Map:
 *   format      the header, a record's head, CRC-32 (docs/recording.md)
 *   writing     the file through a shared mapping, grown a window at a
 *               time; limits and the ring's two segments
 *   hooks       what core/transport.c, datagram.c, subprocess.c and
 *               loop.c call while the loop records
 *   reading     a file, or a ring's two, record by record, stopping
 *               cleanly at a torn or zero-filled tail
 *
 * Why a mapping: a record stored into a MAP_SHARED page is in the kernel's
 * page cache at once, so a process that dies inside the callback the
 * record is about (an assertion, a segfault) still leaves it in the file,
 * without a system call per record. The file is grown with
 * posix_fallocate before it is mapped, so a full disk is an error here
 * rather than a SIGBUS later. The space past the last record is zeros
 * until the recording is closed (then the file is cut to its records): a
 * reader takes a zero length as the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "twin/record.h"

/* ---- format ---- */

static const uint8_t MAGIC[8] = {'T', 'W', 'I', 'N', 'R', 'E', 'C', '\n'};
#define HEADER_LEN 32
#define FRAME_LEN 8  /* u32 body length, u32 CRC-32 of the body */
#define HEAD_LEN 40  /* the fixed part of a body */
/* A body larger than this is not a record (the reader stops). */
#define BODY_MAX (64u << 20)
#define HDR_F_REDACTED 1u
#define HDR_F_RING 2u

/* CRC-32C (Castagnoli, as iSCSI and ext4 use it): the x86-64 crc32
 * instruction computes it 8 bytes at a time where the processor has
 * SSE 4.2, which keeps the check off the cost of a record; elsewhere a
 * table, a byte at a time. Both give the same value. */
#define CRC32C_POLY 0x82F63B78u
static uint32_t crc_table[256];
static bool crc_hw;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? CRC32C_POLY ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t c,
                                                             const uint8_t *p,
                                                             size_t n)
{
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t)c64;
    for (; n; n--, p++)
        c = __builtin_ia32_crc32qi(c, *p);
    return c;
}
#endif

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* crc_once must have run (the recorder's start, the reader's open). */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
#if defined(__x86_64__)
    if (crc_hw)
        return crc_sse42(c, p, n) ^ 0xFFFFFFFFu;
#endif
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Little-endian stores and loads, whole words where the host is. */
static void put16(uint8_t *p, uint16_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap16(v);
#endif
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* ---- writing ---- */

/* The mapping grows by this much (or by a record's size, if larger). */
#define WINDOW (4u << 20)

struct tw__rec {
    tw_record_opts opts; /* path copied below */
    char *path, *path_old;
    int fd;
    uint8_t *map;      /* the window: file bytes [map_off, map_off+map_len) */
    uint64_t map_off;
    size_t map_len;
    uint64_t end;      /* bytes of this segment written */
    uint64_t total;    /* bytes of every segment */
    uint64_t records, segments;
    bool stopped;
    int error;
    tw_ns t0;
    tw_loop *loop;
    const void *rbuf;  /* the buffer get_buffer last gave (buffer_updated) */
};

static long page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? p : 4096;
}

static void unmap(struct tw__rec *r)
{
    if (r->map)
        munmap(r->map, r->map_len);
    r->map = NULL;
    r->map_len = 0;
}

/* Room for n more bytes at r->end, mapped. 0 or -errno. */
static int remap(struct tw__rec *r, size_t n);
static inline int reserve(struct tw__rec *r, size_t n)
{
    if (__builtin_expect(r->map && r->end + n <= r->map_off + r->map_len, 1))
        return 0;
    return remap(r, n);
}

static int remap(struct tw__rec *r, size_t n)
{
    uint64_t pg = (uint64_t)page_size();
    uint64_t off = r->end / pg * pg;
    uint64_t len = (r->end - off) + n;
    len = len < WINDOW ? WINDOW : (len + pg - 1) / pg * pg;
    unmap(r);
    int rc = posix_fallocate(r->fd, (off_t)off, (off_t)len);
    if (rc == EOPNOTSUPP || rc == EINVAL) /* a file system without it */
        rc = ftruncate(r->fd, (off_t)(off + len)) < 0 ? errno : 0;
    if (rc)
        return -rc;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, (off_t)off);
    if (m == MAP_FAILED)
        return -errno;
    r->map = m;
    r->map_off = off;
    r->map_len = len;
    return 0;
}

static uint8_t *at(struct tw__rec *r) { return r->map + (r->end - r->map_off); }

/* Cut the file to what was written and close it. */
static void seal(struct tw__rec *r)
{
    unmap(r);
    if (r->fd >= 0) {
        if (ftruncate(r->fd, (off_t)r->end) < 0 && !r->error)
            r->error = -errno;
        close(r->fd);
    }
    r->fd = -1;
}

static int begin_segment(struct tw__rec *r)
{
    r->fd = open(r->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->fd < 0)
        return -errno;
    r->end = 0;
    int rc = reserve(r, HEADER_LEN);
    if (rc < 0)
        return rc;
    uint8_t *h = at(r);
    memcpy(h, MAGIC, 8);
    put16(h + 8, TW_RECORD_VERSION);
    put16(h + 10, HEADER_LEN);
    put32(h + 12, (r->opts.redact ? HDR_F_REDACTED : 0) |
                      (r->opts.ring_bytes ? HDR_F_RING : 0));
    put64(h + 16, r->segments);
    put64(h + 24, (uint64_t)r->t0);
    r->end += HEADER_LEN;
    r->total += HEADER_LEN;
    r->segments++;
    return 0;
}

static void put_addr(uint8_t **p, const tw_addr *a)
{
    uint16_t n = a ? (uint16_t)a->len : 0;
    put16(*p, n);
    if (n)
        memcpy(*p + 2, &a->u, n);
    *p += 2 + n;
}

static size_t addr_size(const tw_addr *a) { return 2 + (a ? a->len : 0); }

static void write_record(struct tw__rec *r, tw_rec_type type, unsigned kind,
                         unsigned flags, uint64_t tid, int64_t num,
                         const tw_addr *a, const tw_addr *b,
                         const struct iovec *iov, int iovcnt);

/* The ring's turn: this segment becomes path.old, a new one begins with
 * every connection still open. */
static int rotate(struct tw__rec *r, tw_loop *loop)
{
    seal(r);
    if (rename(r->path, r->path_old) < 0)
        return -errno;
    int rc = begin_segment(r);
    if (rc < 0)
        return rc;
    for (tw__list *l = loop->transports.next; l != &loop->transports; l = l->next) {
        tw_transport *t = tw__container_of(l, tw_transport, link);
        if ((t->flags & (TW__T_MADE | TW__T_LOST)) == TW__T_MADE) {
            tw_addr peer, local;
            tw__taddr_get(&t->peer, &peer);
            tw__taddr_get(&t->local, &local);
            write_record(r, TW_REC_OPEN, tw__cls(t)->kind, TW_REC_F_BEFORE, t->id, 0,
                         &peer, &local, NULL, 0);
        }
    }
    return 0;
}

static void fail(struct tw__rec *r, int err)
{
    r->error = err;
    r->stopped = true;
}

static void write_record(struct tw__rec *r, tw_rec_type type, unsigned kind,
                         unsigned flags, uint64_t tid, int64_t num,
                         const tw_addr *a, const tw_addr *b,
                         const struct iovec *iov, int iovcnt)
{
    if (r->stopped)
        return;
    size_t data = 0;
    for (int i = 0; i < iovcnt; i++)
        data += iov[i].iov_len;
    if (r->opts.redact && data) {
        flags |= TW_REC_F_REDACTED;
        num = (int64_t)data;
        data = 0;
        iovcnt = 0;
    }
    size_t body = HEAD_LEN + addr_size(a) + addr_size(b) + data;
    size_t need = FRAME_LEN + body;
    if (body > BODY_MAX) {
        fail(r, -EMSGSIZE);
        return;
    }
    /* The limit: the ring turns; without one, recording stops, and a
     * last record says so. */
    if (r->opts.ring_bytes) {
        if (r->end + need > r->opts.ring_bytes / 2 && r->end > HEADER_LEN &&
            type != TW_REC_OPEN) {
            int rc = rotate(r, r->loop);
            if (rc < 0) {
                fail(r, rc);
                return;
            }
        }
    } else if (type != TW_REC_LIMIT &&
               r->total + need + FRAME_LEN + HEAD_LEN + 4 > r->opts.max_bytes) {
        write_record(r, TW_REC_LIMIT, 0, 0, 0, (int64_t)r->opts.max_bytes,
                     NULL, NULL, NULL, 0);
        r->stopped = true;
        return;
    }
    int rc = reserve(r, need);
    if (rc < 0) {
        fail(r, rc);
        return;
    }
    uint8_t *f = at(r), *p = f + FRAME_LEN;
    p[0] = (uint8_t)type;
    p[1] = (uint8_t)kind;
    put16(p + 2, (uint16_t)flags);
    put32(p + 4, 0);
    put64(p + 8, (uint64_t)(tw_loop_now(r->loop) - r->t0));
    put64(p + 16, tid);
    put64(p + 24, (uint64_t)num);
    put64(p + 32, 0);
    uint8_t *q = p + HEAD_LEN;
    put_addr(&q, a);
    put_addr(&q, b);
    for (int i = 0; i < iovcnt; i++) {
        memcpy(q, iov[i].iov_base, iov[i].iov_len);
        q += iov[i].iov_len;
    }
    assert((size_t)(q - p) == body);
    /* The frame last: a record is whole once its checksum matches. */
    put32(f + 4, crc32_of(p, body));
    put32(f, (uint32_t)body);
    r->end += need;
    r->total += need;
    r->records++;
}

int tw_record_opts_check(const tw_record_opts *o, char *err, size_t errlen)
{
    if (!o || !o->path || !*o->path) {
        snprintf(err, errlen, "record: no file given");
        return -EINVAL;
    }
    if (o->ring_bytes && o->ring_bytes < TW_RECORD_RING_MIN) {
        snprintf(err, errlen, "record ring: %llu bytes is below the least, %llu",
                 (unsigned long long)o->ring_bytes,
                 (unsigned long long)TW_RECORD_RING_MIN);
        return -EINVAL;
    }
    if (o->max_bytes && o->max_bytes < 4096) {
        snprintf(err, errlen, "record max: %llu bytes is below the least, 4096",
                 (unsigned long long)o->max_bytes);
        return -EINVAL;
    }
    return 0;
}

int tw__rec_start(tw_loop *loop, const tw_record_opts *o)
{
    char err[128];
    if (tw_record_opts_check(o, err, sizeof err) < 0)
        return -EINVAL;
    pthread_once(&crc_once, crc_init);
    struct tw__rec *r = calloc(1, sizeof *r);
    size_t n = strlen(o->path);
    if (!r || !(r->path = malloc(n + 1)) || !(r->path_old = malloc(n + 5))) {
        if (r)
            free(r->path);
        free(r);
        return -ENOMEM;
    }
    memcpy(r->path, o->path, n + 1);
    memcpy(r->path_old, o->path, n);
    memcpy(r->path_old + n, ".old", 5);
    r->opts = *o;
    r->opts.path = r->path;
    if (!r->opts.max_bytes)
        r->opts.max_bytes = TW_RECORD_MAX_DEFAULT;
    r->loop = loop;
    r->t0 = tw_loop_now(loop);
    r->fd = -1;
    if (o->ring_bytes)
        unlink(r->path_old); /* a ring from before is not this one's */
    int rc = begin_segment(r);
    if (rc < 0) {
        seal(r);
        free(r->path);
        free(r->path_old);
        free(r);
        return rc;
    }
    loop->rec = r;
    return 0;
}

void tw__rec_stop(tw_loop *loop)
{
    struct tw__rec *r = loop->rec;
    if (!r)
        return;
    loop->rec = NULL;
    seal(r);
    free(r->path);
    free(r->path_old);
    free(r);
}

int tw_loop_record_stats(const tw_loop *loop, tw_record_stats *out)
{
    const struct tw__rec *r = loop ? loop->rec : NULL;
    if (!r)
        return -ENOENT;
    *out = (tw_record_stats){.records = r->records,
                             .bytes = r->total,
                             .segments = r->segments,
                             .stopped = r->stopped && !r->error,
                             .error = r->error};
    return 0;
}

/* ---- hooks ---- */

static bool accepted(const tw_transport *t)
{
    if (tw__cls(t)->kind != TW_TRANSPORT_STREAM || !t->local.len)
        return false;
    tw_addr local;
    tw__taddr_get(&t->local, &local);
    int fam = tw_addr_family(&local);
    for (tw__list *l = t->loop->servers.next; l != &t->loop->servers; l = l->next) {
        const tw_server *s = tw__container_of(l, tw_server, link);
        for (int i = 0; i < s->nlisten; i++) {
            const tw_addr *a = &s->addrs[i];
            if (tw_addr_family(a) != fam)
                continue;
            if (fam == AF_UNIX ? a->len == local.len &&
                                     memcmp(&a->u, &local.u, a->len) == 0
                : fam == AF_INET ? a->u.in4.sin_port == local.u.in4.sin_port
                                 : a->u.in6.sin6_port == local.u.in6.sin6_port)
                return true;
        }
    }
    return false;
}

void tw__rec_event(tw_transport *t, int type, const void *data,
                   size_t len, const tw_addr *a, int64_t num)
{
    struct tw__rec *r = t->loop->rec;
    unsigned flags = 0;
    const tw_addr *b = NULL;
    tw_addr peer, local;
    if (type == TW_REC_OPEN) {
        tw__taddr_get(&t->peer, &peer);
        tw__taddr_get(&t->local, &local);
        a = &peer; /* what connection_made would have told */
        b = &local;
        if (accepted(t))
            flags |= TW_REC_F_ACCEPTED;
        if (t->ops->tls)
            flags |= TW_REC_F_TLS;
    }
    if (type == TW_REC_DATA && !data) { /* buffer_updated(len) */
        data = r->rbuf;
        flags |= TW_REC_F_BUFFERED;
    }
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    write_record(r, (tw_rec_type)type, tw__cls(t)->kind, flags, t->id, num, a, b, &iov,
                 data && len ? 1 : 0);
}

void tw__rec_writev(tw_transport *t, const struct iovec *iov, int iovcnt, unsigned flags)
{
    assert((flags & ~(unsigned)TW_REC_F_SENDFILE) == 0);
    write_record(t->loop->rec, TW_REC_WRITE, tw__cls(t)->kind, flags, t->id, 0, NULL,
                 NULL, iov, iovcnt);
}

void tw__rec_file(tw_transport *t, int fd, off_t off, size_t len)
{
    struct tw__rec *r = t->loop->rec;
    if (r->stopped)
        return;
    if (r->opts.redact) { /* sizes only: nothing to read */
        struct iovec iov = {NULL, len};
        tw__rec_writev(t, &iov, 1, TW_REC_F_SENDFILE);
        return;
    }
    uint8_t buf[16384];
    while (len > 0) {
        ssize_t n = pread(fd, buf, len < sizeof buf ? len : sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The bytes sent are no longer there to read (the file was
             * cut meanwhile): the record would lie, so it stops. */
            fail(r, n < 0 ? -errno : -ENODATA);
            return;
        }
        struct iovec iov = {buf, (size_t)n};
        tw__rec_writev(t, &iov, 1, TW_REC_F_SENDFILE);
        off += n;
        len -= (size_t)n;
    }
}

void tw__rec_buffer(tw_loop *loop, const void *buf) { loop->rec->rbuf = buf; }

void tw__rec_timer(tw_loop *loop, tw_ns when)
{
    struct tw__rec *r = loop->rec;
    write_record(r, TW_REC_TIMER, 0, 0, 0, (int64_t)(when - r->t0), NULL, NULL,
                 NULL, 0);
}

/* ---- reading ---- */

struct tw_recording {
    uint8_t *buf[2]; /* path.old's bytes (or NULL), path's */
    size_t len[2];
    const char *name[2];
    char *path, *path_old;
    int cur;         /* which file is being read */
    size_t off;
    bool redacted, ended;
    uint64_t segment;
    tw_ns clock; /* the recorded loop's, when the recording began */
    char tail[256];
};

static const char *const type_names[] = {
    [TW_REC_OPEN] = "open",     [TW_REC_DATA] = "data",
    [TW_REC_EOF] = "eof",       [TW_REC_LOST] = "lost",
    [TW_REC_DGRAM] = "dgram",   [TW_REC_ERROR] = "error",
    [TW_REC_EXITED] = "exited", [TW_REC_TIMER] = "timer",
    [TW_REC_WRITE] = "write",   [TW_REC_SENDTO] = "sendto",
    [TW_REC_WRITE_EOF] = "write_eof", [TW_REC_CLOSE] = "close",
    [TW_REC_ABORT] = "abort",   [TW_REC_LIMIT] = "limit",
};

const char *tw_rec_type_name(tw_rec_type t)
{
    return t >= TW_REC_OPEN && t <= TW_REC_TYPE_MAX ? type_names[t] : "?";
}

/* The whole file in memory. 0, or -errno with err said. */
static int slurp(const char *path, uint8_t **out, size_t *len, char *err,
                 size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        if (n == cap) {
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (!b || bad) {
        free(b);
        snprintf(err, errlen, "%s: %s", path, b ? "read error" : "out of memory");
        return b ? -EIO : -ENOMEM;
    }
    *out = b;
    *len = n;
    return 0;
}

/* The header of a file: 0, or -EINVAL with err said. */
static int header(const uint8_t *b, size_t n, const char *path, unsigned *flags,
                  uint64_t *segment, char *err, size_t errlen)
{
    if (n < HEADER_LEN || memcmp(b, MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s: not a twin recording (no TWINREC header)", path);
        return -EINVAL;
    }
    if (get16(b + 8) != TW_RECORD_VERSION || get16(b + 10) != HEADER_LEN) {
        snprintf(err, errlen, "%s: recording version %u, this twin reads %u", path,
                 get16(b + 8), TW_RECORD_VERSION);
        return -EINVAL;
    }
    *flags = get32(b + 12);
    *segment = get64(b + 16);
    return 0;
}

tw_recording *tw_recording_open(const char *path, char *err, size_t errlen)
{
    pthread_once(&crc_once, crc_init);
    tw_recording *r = calloc(1, sizeof *r);
    size_t n = strlen(path);
    if (!r || !(r->path = strdup(path)) || !(r->path_old = malloc(n + 5))) {
        snprintf(err, errlen, "%s: out of memory", path);
        if (r)
            free(r->path);
        free(r);
        return NULL;
    }
    memcpy(r->path_old, path, n);
    memcpy(r->path_old + n, ".old", 5);
    unsigned flags;
    if (slurp(path, &r->buf[1], &r->len[1], err, errlen) < 0 ||
        header(r->buf[1], r->len[1], path, &flags, &r->segment, err, errlen) < 0) {
        tw_recording_close(r);
        return NULL;
    }
    r->redacted = flags & HDR_F_REDACTED;
    r->clock = (tw_ns)get64(r->buf[1] + 24);
    r->name[1] = r->path;
    r->cur = 1;
    r->off = HEADER_LEN;
    /* A ring's previous segment, when it is the one just before. */
    char e2[64];
    unsigned f0;
    uint64_t s0;
    if ((flags & HDR_F_RING) && r->segment > 0 &&
        slurp(r->path_old, &r->buf[0], &r->len[0], e2, sizeof e2) == 0) {
        if (header(r->buf[0], r->len[0], r->path_old, &f0, &s0, e2, sizeof e2) == 0 &&
            s0 + 1 == r->segment) {
            r->name[0] = r->path_old;
            r->cur = 0;
        } else {
            free(r->buf[0]);
            r->buf[0] = NULL;
        }
    }
    return r;
}

static bool get_addr(const uint8_t **p, const uint8_t *end, tw_addr *a)
{
    memset(a, 0, sizeof *a);
    if (end - *p < 2)
        return false;
    uint16_t n = get16(*p);
    if (n > sizeof a->u || (size_t)(end - *p - 2) < n)
        return false;
    a->len = n;
    memcpy(&a->u, *p + 2, n);
    *p += 2 + n;
    return true;
}

static int torn(tw_recording *r, const char *why)
{
    snprintf(r->tail, sizeof r->tail, "%s: torn record at offset %zu: %s",
             r->name[r->cur], r->off, why);
    r->ended = true;
    return 0;
}

int tw_recording_next(tw_recording *r, tw_rec_event *ev)
{
    while (!r->ended) {
        const uint8_t *b = r->buf[r->cur];
        size_t n = r->len[r->cur];
        size_t left = n - r->off;
        uint32_t body = left >= FRAME_LEN ? get32(b + r->off) : 0;
        if (left == 0 || (left >= FRAME_LEN && body == 0)) {
            /* The end of this file. Zeros where a record would be: a
             * recording that was not closed (the process died), whose
             * records up to there are whole. The old segment of a ring
             * goes on with the new one. */
            if (left && r->cur == 1)
                snprintf(r->tail, sizeof r->tail,
                         "%s: not closed (zeros from offset %zu): every record "
                         "before them was read",
                         r->name[r->cur], r->off);
            if (r->cur == 0) {
                r->cur = 1;
                r->off = HEADER_LEN;
                continue;
            }
            r->ended = true;
            return 0;
        }
        if (left < FRAME_LEN)
            return torn(r, "a frame cut short");
        if (body < HEAD_LEN + 4 || body > BODY_MAX || body > left - FRAME_LEN)
            return torn(r, body > left - FRAME_LEN ? "the record runs past the end"
                                                   : "a bad length");
        const uint8_t *p = b + r->off + FRAME_LEN;
        if (crc32_of(p, body) != get32(b + r->off + 4))
            return torn(r, "checksum mismatch");
        const uint8_t *q = p + HEAD_LEN, *end = p + body;
        memset(ev, 0, sizeof *ev);
        ev->type = p[0];
        ev->kind = p[1];
        ev->flags = get16(p + 2);
        ev->time_ns = (tw_ns)get64(p + 8);
        ev->transport = get64(p + 16);
        ev->num = (int64_t)get64(p + 24);
        if (!get_addr(&q, end, &ev->a) || !get_addr(&q, end, &ev->b) ||
            ev->type < TW_REC_OPEN || ev->type > TW_REC_TYPE_MAX)
            return torn(r, "a record that does not parse");
        ev->data = q;
        ev->len = (size_t)(end - q);
        r->off += FRAME_LEN + body;
        return 1;
    }
    return 0;
}

const char *tw_recording_tail(const tw_recording *r) { return r->tail; }
bool tw_recording_redacted(const tw_recording *r) { return r->redacted; }
uint64_t tw_recording_segment(const tw_recording *r) { return r->segment; }

tw_ns tw_recording_clock(const tw_recording *r) { return r->clock; }

void tw_recording_close(tw_recording *r)
{
    if (!r)
        return;
    free(r->buf[0]);
    free(r->buf[1]);
    free(r->path);
    free(r->path_old);
    free(r);
}
