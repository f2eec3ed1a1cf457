/* proto/resp_aof.c - the RESP server's append-only file (resp_aof.h).
 *
 * Map: the object; loading (read, parse, replay, cut a torn tail);
 * feeding and flushing; the everysec timer; closing.
 *
 * Ownership: the resp_aof owns its file, its buffer and its timer. On a
 * simulated crash the node took the file and the timer with it, so
 * resp_aof_discard frees only memory.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "proto/resp_aof.h"
#include "twin/twin.h"

#define READ_CHUNK (64 * 1024)
#define ARGV_INLINE 16
#define SYNC_EVERY TW_SEC(1)
/* Fed bytes that wait for a write that keeps failing: past this, the
 * server refuses writes anyway, so the buffer stops growing. */
#define PENDING_MAX ((size_t)64 << 20)

struct resp_aof {
    tw_loop *loop;
    tw_file *f;
    char path[TW_FS_PATH_MAX + 1];
    int mode;           /* TW_RESP_FSYNC_* */
    FILE *log;
    tw_resp_store *store;   /* what a rewrite writes out */
    uint64_t rewrite_min;   /* no rewrite below this size */
    int rewrite_pct;        /* growth over base_size that rewrites; < 0: never */
    uint64_t base_size;     /* the size after the last rewrite, or at start */
    tw_resp_buf buf;    /* fed, not yet written */
    uint64_t size;      /* bytes written to the file */
    bool unsynced;      /* written since the last fsync */
    int write_err;      /* the last write failed */
    int sync_err;       /* the last fsync failed */
    char refusal[160];
    tw_handle timer;
    uint64_t rewrites;
};

/* ---- loading ---- */

typedef struct loader {
    resp_aof *a;
    tw_resp_ctx cx;
    tw_resp_parser ps;
    tw_resp_arg argv0[ARGV_INLINE], *argv;
    size_t argv_cap;
    uint8_t *data;      /* read, not yet parsed: data[0..len) */
    size_t len, cap;
    uint64_t at;        /* file offset of data[0] */
    uint64_t commands;
    tw_resp_buf reply;  /* each command's reply, looked at and dropped */
} loader;

static int grow_argv(loader *l, size_t need)
{
    if (need > SIZE_MAX / sizeof *l->argv)
        return -ENOMEM;
    tw_resp_arg *p = malloc(need * sizeof *p);
    if (!p)
        return -ENOMEM;
    if (l->argv != l->argv0)
        free(l->argv);
    l->argv = p;
    l->argv_cap = need;
    return 0;
}

/* Room for `more` bytes after data[0..len). */
static int reserve(loader *l, size_t more)
{
    if (l->len + more <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : READ_CHUNK;
    while (cap < l->len + more)
        cap *= 2;
    uint8_t *p = realloc(l->data, cap);
    if (!p)
        return -ENOMEM;
    l->data = p;
    l->cap = cap;
    return 0;
}

static int damaged(loader *l, uint64_t off, const char *what)
{
    fprintf(l->a->log, "resp-server: %s is damaged at byte %" PRIu64 ": %s; "
                       "it must be repaired (redis-check-aof --fix) or moved away\n",
            l->a->path, off, what);
    return -EBADMSG;
}

/* Run the whole commands in data; keep an unfinished one. Returns 0, or
 * a negative errno for a damaged file. */
static int replay(loader *l)
{
    size_t off = 0;
    while (off < l->len) {
        size_t argc = 0;
        if (l->data[off] != '*') /* the file holds arrays only */
            return damaged(l, l->at + off, "not a RESP array");
        int r = tw_resp_parse(&l->ps, l->data + off, l->len - off, l->argv,
                              l->argv_cap, &argc);
        if (r == TW_RESP_NEED_ARGV) {
            if (grow_argv(l, argc) < 0)
                return -ENOMEM;
            continue;
        }
        if (r == 0)
            break;
        if (r < 0) {
            char text[128];
            tw_resp_error_text(&l->ps, r, text, sizeof text);
            return damaged(l, l->at + off, text);
        }
        if (argc) {
            l->reply.len = 0;
            tw_resp_exec(&l->cx, l->argv, argc, &l->reply);
            /* Only commands the server ran and changed the keyspace with
             * are in the file: one it does not know means damage. */
            if (l->reply.len >= 12 && !memcmp(l->reply.data, "-ERR unknown", 12))
                return damaged(l, l->at + off, "an unknown command");
            l->commands++;
        }
        off += (size_t)r;
    }
    /* The next read goes after what is left. */
    memmove(l->data, l->data + off, l->len - off);
    l->len -= off;
    l->at += off;
    tw_resp_parser_reset(&l->ps);
    return 0;
}

/* Make the file's name durable: fsync the directory it is in. */
static int sync_dir(resp_aof *a)
{
    char dir[TW_FS_PATH_MAX + 1];
    snprintf(dir, sizeof dir, "%s", a->path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else /* the current directory: "." on the real backend, the root of a
          * simulated node's disk (which takes no "." component) */
        snprintf(dir, sizeof dir, "%s", strcmp(tw_loop_backend(a->loop), "sim") ? "." : "/");
    int rc = tw_fs_fsync_dir(a->loop, dir);
    if (rc < 0)
        fprintf(a->log, "resp-server: fsync of the directory of %s failed: %s\n",
                a->path, tw_strerror(rc));
    return rc;
}

/* Cut the file back to its first `keep` bytes: copy them to a new file,
 * make it durable, and rename it over the old one. (The file API has no
 * truncate; a rename is as safe, and a torn tail is rare.) */
static int cut(resp_aof *a, uint64_t keep)
{
    char tmp[TW_FS_PATH_MAX + 1];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.cut", a->path) >= sizeof tmp)
        return -ENAMETOOLONG;
    tw_file *out;
    int rc = tw_file_open(a->loop, tmp, TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_TRUNC, &out);
    if (rc < 0)
        return rc;
    uint8_t *chunk = malloc(READ_CHUNK);
    if (!chunk) {
        tw_file_close(out);
        return -ENOMEM;
    }
    for (uint64_t off = 0; off < keep && rc >= 0;) {
        size_t want = keep - off < READ_CHUNK ? (size_t)(keep - off) : READ_CHUNK;
        ssize_t n = tw_file_pread(a->f, chunk, want, off);
        if (n <= 0) {
            rc = n < 0 ? (int)n : -EIO;
            break;
        }
        ssize_t w = tw_file_pwrite(out, chunk, (size_t)n, off);
        rc = w < 0 ? (int)w : 0;
        off += (uint64_t)n;
    }
    free(chunk);
    if (rc >= 0)
        rc = tw_file_fsync(out);
    tw_file_close(out);
    if (rc >= 0)
        rc = tw_fs_rename(a->loop, tmp, a->path);
    if (rc < 0) {
        tw_fs_unlink(a->loop, tmp);
        return rc;
    }
    if ((rc = sync_dir(a)) < 0)
        return rc;
    tw_file_close(a->f);
    a->f = NULL;
    return tw_file_open(a->loop, a->path, TW_FILE_READ | TW_FILE_WRITE | TW_FILE_APPEND, &a->f);
}

static int load(resp_aof *a, const tw_resp_ctx *cx_proto)
{
    loader l = {.a = a, .cx = *cx_proto, .argv_cap = ARGV_INLINE};
    l.argv = l.argv0;
    l.cx.propagate = NULL;
    l.cx.propagate_arg = NULL;
    tw_resp_parser_init(&l.ps, NULL, NULL, 0);
    tw_resp_buf_init(&l.reply, 0);
    int64_t size = tw_file_size(a->f);
    int rc = size < 0 ? (int)size : 0;
    uint64_t pos = 0;
    while (rc == 0 && pos < (uint64_t)size) {
        size_t want = tw_resp_parser_want(&l.ps);
        size_t more = want > l.len && want - l.len > READ_CHUNK ? want - l.len : READ_CHUNK;
        if ((rc = reserve(&l, more)) < 0)
            break;
        ssize_t n = tw_file_pread(a->f, l.data + l.len, more, pos);
        if (n < 0) {
            rc = (int)n;
            fprintf(a->log, "resp-server: reading %s failed at byte %" PRIu64 ": %s\n",
                    a->path, pos, tw_strerror(rc));
            break;
        }
        if (n == 0)
            break; /* shorter than its size said: what was read is all */
        pos += (uint64_t)n;
        l.len += (size_t)n;
        rc = replay(&l);
    }
    if (rc == 0 && l.len) {
        uint64_t whole = l.at;
        fprintf(a->log, "resp-server: %s ends inside a command (a short or torn "
                        "write): cut back from %" PRIu64 " to %" PRIu64 " bytes, "
                        "the last whole command\n", a->path, pos, whole);
        rc = cut(a, whole);
        if (rc < 0)
            fprintf(a->log, "resp-server: cutting %s back failed: %s\n", a->path,
                    tw_strerror(rc));
        pos = whole;
    }
    a->size = pos;
    tw_resp_buf_fini(&l.reply);
    free(l.data);
    if (l.argv != l.argv0)
        free(l.argv);
    return rc;
}

int resp_aof_open(tw_loop *loop, const char *path, int fsync_mode,
                  const resp_aof_rewrite *rw, const tw_resp_ctx *cx_proto,
                  FILE *log, resp_aof **out)
{
    if (!path || !path[0] || strlen(path) > TW_FS_PATH_MAX)
        return -ENAMETOOLONG;
    if (fsync_mode < TW_RESP_FSYNC_EVERYSEC || fsync_mode > TW_RESP_FSYNC_NO)
        return -EINVAL;
    resp_aof *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->loop = loop;
    a->mode = fsync_mode;
    a->store = cx_proto->store;
    a->rewrite_min = rw && rw->min_size ? rw->min_size : RESP_AOF_REWRITE_MIN;
    a->rewrite_pct = rw && rw->percentage ? rw->percentage : 100;
    a->log = log ? log : stderr;
    snprintf(a->path, sizeof a->path, "%s", path);
    tw_resp_buf_init(&a->buf, 0);
    int rc = tw_file_open(loop, path, TW_FILE_READ | TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_APPEND,
                          &a->f);
    if (rc < 0)
        fprintf(a->log, "resp-server: cannot open the append-only file %s: %s\n",
                path, tw_strerror(rc));
    /* A new file's name is durable before anything is written to it:
     * else a crash could undo the name, and the fsynced bytes with it. */
    if (rc >= 0)
        rc = sync_dir(a);
    if (rc >= 0)
        rc = load(a, cx_proto);
    if (rc < 0) {
        tw_file_close(a->f);
        tw_resp_buf_fini(&a->buf);
        free(a);
        return rc;
    }
    a->base_size = a->size;
    *out = a;
    return 0;
}

/* ---- rewriting ---- */

typedef struct rewriter {
    resp_aof *a;
    tw_file *f;
    tw_resp_buf buf;
    uint64_t off;
} rewriter;

static int rw_flush(rewriter *w)
{
    if (w->buf.overflow)
        return -ENOMEM;
    if (!w->buf.len)
        return 0;
    ssize_t n = tw_file_pwrite(w->f, w->buf.data, w->buf.len, w->off);
    if (n < 0)
        return (int)n;
    w->off += (uint64_t)n;
    w->buf.len = 0;
    return 0;
}

/* One key as the command that makes it: SET k v [PXAT t]. */
static int rw_key(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                  size_t vlen, int64_t expire_ms)
{
    rewriter *w = arg;
    bool px = expire_ms != TW_RESP_NO_EXPIRY;
    tw_resp_add_array(&w->buf, px ? 5 : 3);
    tw_resp_add_bulk(&w->buf, "SET", 3);
    tw_resp_add_bulk(&w->buf, key, klen);
    tw_resp_add_bulk(&w->buf, val, vlen);
    if (px) {
        char t[24];
        int n = snprintf(t, sizeof t, "%" PRId64, expire_ms);
        tw_resp_add_bulk(&w->buf, "PXAT", 4);
        tw_resp_add_bulk(&w->buf, t, (size_t)n);
    }
    return w->buf.len >= READ_CHUNK ? rw_flush(w) : 0;
}

/* Replace the file by the shortest one that makes the same keyspace (as
 * Redis's rewrite, but synchronously): write it beside, make it
 * durable, rename it over, make the name durable. A failure leaves the
 * old file, which is still whole, and is said; the next try waits until
 * the file has grown as much again. */
static int rewrite(resp_aof *a)
{
    assert(!a->buf.len); /* everything fed is in the file */
    char tmp[TW_FS_PATH_MAX + 1];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.rewrite", a->path) >= sizeof tmp)
        return -ENAMETOOLONG;
    rewriter w = {.a = a};
    tw_resp_buf_init(&w.buf, 0);
    int rc = tw_file_open(a->loop, tmp, TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_TRUNC, &w.f);
    if (rc >= 0) {
        rc = tw_resp_store_each(a->store,
                                (tw_loop_now(a->loop) + tw_loop_epoch(a->loop)) / TW_NS_PER_MS,
                                rw_key, &w);
        if (rc >= 0)
            rc = rw_flush(&w);
        if (rc >= 0)
            rc = tw_file_fsync(w.f);
        tw_file_close(w.f);
    }
    tw_resp_buf_fini(&w.buf);
    if (rc >= 0)
        rc = tw_fs_rename(a->loop, tmp, a->path);
    tw_file *nf = NULL;
    if (rc >= 0 && (rc = sync_dir(a)) >= 0)
        rc = tw_file_open(a->loop, a->path, TW_FILE_READ | TW_FILE_WRITE | TW_FILE_APPEND, &nf);
    if (rc < 0) {
        fprintf(a->log, "resp-server: rewriting %s failed (%s): the file stays as "
                        "it was\n", a->path, tw_strerror(rc));
        tw_fs_unlink(a->loop, tmp);
        a->base_size = a->size;
        return rc;
    }
    tw_file_close(a->f);
    a->f = nf;
    a->size = a->base_size = w.off;
    a->unsynced = false;
    a->rewrites++;
    return 0;
}

static bool rewrite_due(const resp_aof *a)
{
    return a->rewrite_pct > 0 && a->size >= a->rewrite_min &&
           a->size - a->base_size >= a->base_size / 100 * (uint64_t)a->rewrite_pct;
}

/* ---- feeding and flushing ---- */

void resp_aof_feed(void *arg, const tw_resp_arg *argv, size_t argc)
{
    resp_aof *a = arg;
    tw_resp_add_array(&a->buf, (int64_t)argc);
    for (size_t i = 0; i < argc; i++)
        tw_resp_add_bulk(&a->buf, argv[i].p, argv[i].len);
}

static void sync_cb(void *arg);

/* Note a failure in *slot (the write's or the fsync's), saying it once. */
static void set_error(resp_aof *a, int *slot, int err, const char *what)
{
    if (!a->write_err && !a->sync_err)
        fprintf(a->log, "resp-server: %s of %s failed: %s; write commands are "
                        "refused until it works again\n", what, a->path, tw_strerror(err));
    *slot = err;
    snprintf(a->refusal, sizeof a->refusal,
             "MISCONF Errors writing to the AOF file: %s", tw_strerror(err));
}

static void clear_error(resp_aof *a, int *slot)
{
    bool was = a->write_err || a->sync_err;
    *slot = 0;
    if (was && !a->write_err && !a->sync_err)
        fprintf(a->log, "resp-server: writing %s works again\n", a->path);
}

static int do_fsync(resp_aof *a)
{
    int rc = tw_file_fsync(a->f);
    if (rc < 0) {
        set_error(a, &a->sync_err, rc, "an fsync");
        return rc;
    }
    a->unsynced = false;
    clear_error(a, &a->sync_err);
    return 0;
}

static void arm(resp_aof *a)
{
    if (a->mode != TW_RESP_FSYNC_ALWAYS && !a->timer &&
        ((a->unsynced && a->mode == TW_RESP_FSYNC_EVERYSEC) || a->buf.len))
        a->timer = tw_call_later(a->loop, SYNC_EVERY, sync_cb, a);
}

/* everysec: make the last second's writes durable; every mode: try a
 * write that failed again. */
static void sync_cb(void *arg)
{
    resp_aof *a = arg;
    a->timer = 0;
    resp_aof_flush(a);
    if (a->unsynced && a->mode == TW_RESP_FSYNC_EVERYSEC)
        do_fsync(a);
    arm(a);
}

int resp_aof_flush(resp_aof *a)
{
    if (!a->buf.len)
        return 0;
    if (a->buf.overflow) { /* no memory for what was fed: it is lost */
        set_error(a, &a->write_err, -ENOMEM, "buffering a change");
        a->buf.len = 0;
        a->buf.overflow = false;
        return a->mode == TW_RESP_FSYNC_ALWAYS ? -ENOMEM : 0;
    }
    ssize_t n = tw_file_append(a->f, a->buf.data, a->buf.len);
    if (n < 0) { /* kept, to try again */
        set_error(a, &a->write_err, (int)n, "a write");
        if (a->mode == TW_RESP_FSYNC_ALWAYS)
            return (int)n;
        arm(a);
        return 0;
    }
    assert((size_t)n == a->buf.len); /* the file API writes all or nothing */
    a->size += (uint64_t)n;
    a->buf.len = 0;
    a->unsynced = true;
    clear_error(a, &a->write_err);
    if (a->mode == TW_RESP_FSYNC_ALWAYS) {
        int rc = do_fsync(a);
        if (rc < 0)
            return rc;
    }
    if (rewrite_due(a))
        rewrite(a); /* a failure leaves the old file: not fatal */
    arm(a);
    return 0;
}

const char *resp_aof_refusal(const resp_aof *a)
{
    if (a->write_err || a->sync_err || a->buf.len > PENDING_MAX)
        return a->refusal[0] ? a->refusal : "MISCONF Errors writing to the AOF file";
    return NULL;
}

uint64_t resp_aof_size(const resp_aof *a) { return a->size + a->buf.len; }
uint64_t resp_aof_rewrites(const resp_aof *a) { return a->rewrites; }

/* ---- closing ---- */

void resp_aof_close(resp_aof *a)
{
    if (!a)
        return;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    resp_aof_flush(a);
    if (a->unsynced && a->mode != TW_RESP_FSYNC_NO)
        do_fsync(a);
    tw_file_close(a->f);
    tw_resp_buf_fini(&a->buf);
    free(a);
}

void resp_aof_abandon(resp_aof *a)
{
    if (!a)
        return;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    tw_file_close(a->f);
    tw_resp_buf_fini(&a->buf);
    free(a);
}

void resp_aof_discard(resp_aof *a)
{
    if (!a)
        return;
    tw_resp_buf_fini(&a->buf);
    free(a);
}
