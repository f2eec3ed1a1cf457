/* sim/fs.c - a simulated node's file system: names, bytes, what a crash
 * keeps (twin/simfs.h).
 *
 * Map:
 *   entries   a path, a kind, the current and the durable bytes
 *   paths     normalising, parents, lookups
 *   journal   name changes waiting for a directory fsync: commit, undo
 *   cost      each call's latency, charged by holding the node
 *   files     open, pread, pwrite, fsync, size, close
 *   names     mkdir, rename, unlink, a directory's fsync, listing
 *   crash     what survives it
 *
 * Lookups are linear over the node's entries (at most files_max, 4096 by
 * default): a protocol's state is a handful of files, and a scan keeps
 * the order, and so the draws of a crash, plain.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/fs.h"
#include "sim/sim.h"

/* ---- entries ---- */

/* SIM_FSYNC_FLY_MAX fsyncs of one file are told apart while they run;
 * one made while that many run is taken to return when the newest of
 * them does. A crash after that return keeps its bytes, though its own
 * return had not come: past the bound the simulator loses less than a
 * disk could, never more. */
#define SIM_FSYNC_FLY_MAX 8

typedef struct sim_fsync {
    uint8_t *before; /* the durable bytes before it */
    size_t len;
    tw_ns at;        /* when it returns */
} sim_fsync;

struct sim_fent {
    char path[TW_FS_PATH_MAX + 1];
    bool dir;
    bool visible;  /* has its name now (else unlinked or replaced) */
    bool dirty;    /* cur may differ from dur */
    uint32_t refs; /* open files and journal records holding it */
    uint8_t *cur;  /* what reads see */
    size_t cur_len, cur_cap;
    uint8_t *dur;  /* what the last fsync made durable */
    size_t dur_len;
    /* The fsyncs of this file that have not returned, oldest first: an
     * fsync is done only when it returns, at `at` (the end of its
     * latency), and a crash before then keeps what was durable before
     * it, `before`. Those that have returned are let go at the next
     * fsync or crash. */
    sim_fsync fly[SIM_FSYNC_FLY_MAX];
    uint32_t nfly;
};

enum { J_CREATE, J_RENAME, J_UNLINK };

#define FS_UNSYNCED INT64_MAX

struct sim_jrec {
    int kind;
    sim_fent *e;
    sim_fent *replaced; /* J_RENAME: the file it replaced, or NULL */
    tw_ns synced_at;    /* when the directory fsync that covers it
                           returns; FS_UNSYNCED before one is called */
    char from[TW_FS_PATH_MAX + 1];
};

typedef struct sim_file {
    tw_file base; /* first */
    sim_fent *e;
} sim_file;

#define SECTOR 512

/* Let go of e's record of running fsyncs. */
static void fly_clear(sim_fent *e)
{
    for (uint32_t i = 0; i < e->nfly; i++)
        free(e->fly[i].before);
    e->nfly = 0;
}

static void fent_free(sim_fent *e)
{
    free(e->cur);
    free(e->dur);
    fly_clear(e);
    free(e);
}

/* Drop e once nothing holds it and it has no name. */
static void release(sim_fs *fs, sim_fent *e)
{
    if (e->visible || e->refs)
        return;
    for (uint32_t i = 0; i < fs->n; i++) {
        if (fs->ents[i] == e) {
            memmove(fs->ents + i, fs->ents + i + 1,
                    (fs->n - i - 1) * sizeof *fs->ents);
            fs->n--;
            break;
        }
    }
    assert(fs->bytes >= e->cur_len);
    fs->bytes -= e->cur_len;
    fent_free(e);
}

static void unref(sim_fs *fs, sim_fent *e)
{
    if (!e)
        return;
    assert(e->refs > 0);
    e->refs--;
    release(fs, e);
}

static int fent_new(sim_fs *fs, const char *path, bool dir, sim_fent **out)
{
    if (fs->n >= fs->opts.files_max)
        return -ENOSPC;
    if (fs->n == fs->cap) {
        uint32_t cap = fs->cap ? fs->cap * 2 : 16;
        sim_fent **ne = realloc(fs->ents, cap * sizeof *ne);
        if (!ne)
            return -ENOMEM;
        fs->ents = ne;
        fs->cap = cap;
    }
    sim_fent *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    strcpy(e->path, path);
    e->dir = dir;
    e->visible = true;
    fs->ents[fs->n++] = e;
    *out = e;
    return 0;
}

/* ---- paths ---- */

/* "/a/b" from in: a leading "/" added, "//" and a trailing "/" taken
 * out (the callers check dir_only on in first); -EINVAL for "." or ".."
 * components, -ENAMETOOLONG. */
static int norm(const char *in, char out[TW_FS_PATH_MAX + 1])
{
    size_t k = 0;
    const char *p = in;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *c = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - c);
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return -EINVAL;
        if (k + 1 + len > TW_FS_PATH_MAX)
            return -ENAMETOOLONG;
        out[k++] = '/';
        memcpy(out + k, c, len);
        k += len;
    }
    if (k == 0)
        out[k++] = '/';
    out[k] = 0;
    return 0;
}

static bool is_root(const char *path) { return strcmp(path, "/") == 0; }

/* Is normalized path dir a directory above normalized path p? */
static bool is_above(const char *dir, const char *p)
{
    size_t n = strlen(dir);
    return strncmp(dir, p, n) == 0 && p[n] == '/';
}

/* A path that ends in "/" names a directory (Linux's rule): a file so
 * named is -ENOTDIR, and creating a file under it -EISDIR. */
static bool dir_only(const char *in)
{
    size_t len = strlen(in);
    return len > 0 && in[len - 1] == '/';
}

static sim_fent *find(sim_fs *fs, const char *path)
{
    for (uint32_t i = 0; i < fs->n; i++)
        if (fs->ents[i]->visible && strcmp(fs->ents[i]->path, path) == 0)
            return fs->ents[i];
    return NULL;
}

/* Is dir the parent of path ("/" for "/a")? */
static bool parent_is(const char *path, const char *dir)
{
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    if (plen == 0)
        return is_root(dir);
    return strlen(dir) == plen && memcmp(path, dir, plen) == 0;
}

/* 0 when path's parent is a directory; -ENOENT, -ENOTDIR. */
static int parent_ok(sim_fs *fs, const char *path)
{
    char parent[TW_FS_PATH_MAX + 1];
    const char *slash = strrchr(path, '/');
    size_t plen = (size_t)(slash - path);
    if (plen == 0)
        return 0;
    memcpy(parent, path, plen);
    parent[plen] = 0;
    sim_fent *p = find(fs, parent);
    if (!p)
        return -ENOENT;
    return p->dir ? 0 : -ENOTDIR;
}

/* ---- journal ---- */

/* Make the first n records durable: they leave the journal. */
static void journal_commit(sim_fs *fs, uint32_t n)
{
    assert(n <= fs->nj);
    for (uint32_t i = 0; i < n; i++) {
        unref(fs, fs->j[i].replaced);
        unref(fs, fs->j[i].e);
    }
    memmove(fs->j, fs->j + n, (fs->nj - n) * sizeof *fs->j);
    fs->nj -= n;
}

/* Commit the records whose directory fsync has returned by now: the
 * journal's oldest, as fsyncs return in the order they are made. */
static void journal_returned(sim_fs *fs, tw_ns now)
{
    uint32_t n = 0;
    while (n < fs->nj && fs->j[n].synced_at <= now)
        n++;
    assert(n == fs->nj || n == 0 || fs->j[n - 1].synced_at <= fs->j[n].synced_at);
    if (n)
        journal_commit(fs, n);
}

static int journal(sim_fs *fs, tw_ns now, int kind, sim_fent *e,
                   sim_fent *replaced, const char *from)
{
    journal_returned(fs, now);
    if (fs->nj == fs->capj) {
        if (fs->capj >= TW_SIM_FS_JOURNAL_MAX) {
            /* full: the file system commits it by itself */
            journal_commit(fs, fs->nj);
        } else {
            uint32_t cap = fs->capj ? fs->capj * 2 : 16;
            sim_jrec *nj = realloc(fs->j, cap * sizeof *nj);
            if (!nj)
                return -ENOMEM;
            fs->j = nj;
            fs->capj = cap;
        }
    }
    sim_jrec *r = &fs->j[fs->nj++];
    r->kind = kind;
    r->e = e;
    r->replaced = replaced;
    r->synced_at = FS_UNSYNCED;
    snprintf(r->from, sizeof r->from, "%s", from ? from : "");
    e->refs++;
    if (replaced)
        replaced->refs++;
    return 0;
}

static void undo(sim_jrec *r)
{
    switch (r->kind) {
    case J_CREATE:
        r->e->visible = false;
        break;
    case J_RENAME:
        strcpy(r->e->path, r->from);
        if (r->replaced)
            r->replaced->visible = true;
        break;
    default:
        r->e->visible = true;
        break;
    }
}

/* Keep the first `kept` records, undo the rest (newest first); empty. */
static void journal_settle(sim_fs *fs, uint32_t kept)
{
    for (uint32_t i = fs->nj; i > kept; i--)
        undo(&fs->j[i - 1]);
    journal_commit(fs, fs->nj);
}

/* ---- cost ---- */

static const char *const T_OPEN = "fs_open", *const T_READ = "fs_read",
                  *const T_WRITE = "fs_write", *const T_FSYNC = "fs_fsync",
                  *const T_CLOSE = "fs_close", *const T_MKDIR = "fs_mkdir",
                  *const T_RENAME = "fs_rename", *const T_UNLINK = "fs_unlink",
                  *const T_FSYNC_DIR = "fs_fsync_dir", *const T_LIST = "fs_list";

static void defaults(tw_sim_fs_opts *o)
{
    if (!o->bytes_max)
        o->bytes_max = UINT64_C(64) << 20;
    if (!o->files_max)
        o->files_max = 4096;
    if (o->latency.kind == TW_SIM_DIST_DEFAULT)
        o->latency = (tw_sim_dist){.kind = TW_SIM_DIST_UNIFORM,
                                   .min_ns = 5 * TW_NS_PER_US,
                                   .max_ns = 50 * TW_NS_PER_US};
    if (o->fsync_latency.kind == TW_SIM_DIST_DEFAULT)
        o->fsync_latency = (tw_sim_dist){.kind = TW_SIM_DIST_UNIFORM,
                                         .min_ns = 500 * TW_NS_PER_US,
                                         .max_ns = 5 * TW_NS_PER_MS};
}

sim_fs *sim_fs_of(sim_node *n)
{
    if (!n->fs) {
        n->fs = calloc(1, sizeof *n->fs);
        if (n->fs)
            defaults(&n->fs->opts);
    }
    return n->fs;
}

/* The call's cost: the node is held for a latency past what it is held
 * for already, so calls made back to back add up. Traced with the call's
 * result. */
static int charge(sim_node *n, const char *what, bool fsync, int64_t a,
                  int64_t rc)
{
    tw_sim *sim = n->sim;
    const tw_sim_fs_opts *o = &n->fs->opts;
    tw_ns d = tw_sim_dist_sample(fsync ? &o->fsync_latency : &o->latency,
                                 &sim->rng_disk);
    tw_ns from = sim_depart(sim, n->id); /* the end of its calls before this one */
    sim_node_hold(sim, n, from + (d > 0 ? d : 0));
    sim_trace(sim, n->id, 0, what, a, rc);
    return (int)rc;
}

static sim_node *node_of(tw_loop *loop) { return (sim_node *)loop; }

/* The node's file system for a call, or NULL (-ENOMEM). */
static sim_fs *fs_for(tw_loop *loop) { return sim_fs_of(node_of(loop)); }

static bool in_window(const sim_node *n, tw_ns until)
{
    return until > n->sim->now;
}

/* ---- files ---- */

static int file_open(tw_loop *loop, const char *path, unsigned flags,
                     tw_file **out)
{
    sim_node *n = node_of(loop);
    sim_fs *fs = fs_for(loop);
    if (!fs)
        return -ENOMEM;
    char p[TW_FS_PATH_MAX + 1];
    int rc = norm(path, p);
    sim_fent *e = rc == 0 ? find(fs, p) : NULL;
    if (rc < 0)
        ;
    else if (is_root(p) || (e && e->dir))
        rc = -EISDIR;
    else if (dir_only(path) && (flags & TW_FILE_CREATE))
        rc = -EISDIR;
    else if (dir_only(path) && e)
        rc = -ENOTDIR;
    else if (e && (flags & TW_FILE_EXCL))
        rc = -EEXIST;
    else if (!e && (rc = parent_ok(fs, p)) == 0 && !(flags & TW_FILE_CREATE))
        rc = -ENOENT;
    else if (!e && rc == 0 && in_window(n, fs->full_until)) {
        fs->full_hits++;
        rc = -ENOSPC;
    } else if (!e && rc == 0 && (rc = fent_new(fs, p, false, &e)) == 0 &&
               (rc = journal(fs, node_of(loop)->sim->now, J_CREATE, e, NULL, NULL)) < 0) {
        e->visible = false;
        release(fs, e);
    }
    sim_file *f = NULL;
    if (rc == 0 && !(f = calloc(1, sizeof *f))) {
        rc = -ENOMEM;
    }
    if (rc == 0) {
        if ((flags & TW_FILE_TRUNC) && e->cur_len) {
            fs->bytes -= e->cur_len;
            e->cur_len = 0;
            e->dirty = true;
        }
        e->refs++;
        f->e = e;
        tw__file_init(&f->base, loop, flags);
        *out = &f->base;
    }
    return charge(n, T_OPEN, false, (int64_t)flags, rc);
}

/* A bad read (disk_corrupt): one bit of one sector of the k bytes read
 * at off, the sector and the bit drawn from the disk's stream. */
static void corrupt_read(sim_node *n, uint8_t *buf, size_t k, uint64_t off)
{
    tw_sim *sim = n->sim;
    uint64_t first = off / SECTOR, last = (off + k - 1) / SECTOR;
    uint64_t sector = first + sim_below(&sim->rng_disk, last - first + 1);
    uint64_t lo = sector * SECTOR > off ? sector * SECTOR - off : 0;
    uint64_t hi = (sector + 1) * SECTOR - off < k ? (sector + 1) * SECTOR - off : k;
    assert(lo < hi && hi <= k);
    uint64_t bit = sim_below(&sim->rng_disk, (hi - lo) * 8);
    buf[lo + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    n->fs->corrupt_hits++;
}

static ssize_t file_pread(tw_file *tf, void *buf, size_t len, uint64_t off)
{
    sim_node *n = node_of(tf->loop);
    sim_fent *e = ((sim_file *)tf)->e;
    ssize_t rc = 0;
    if (in_window(n, n->fs->eio_until)) {
        n->fs->eio_hits++;
        rc = -EIO;
    } else if (off < e->cur_len) {
        size_t k = e->cur_len - (size_t)off < len ? e->cur_len - (size_t)off : len;
        memcpy(buf, e->cur + off, k);
        rc = (ssize_t)k;
        if (in_window(n, n->fs->corrupt_until))
            corrupt_read(n, buf, k, off);
    }
    charge(n, T_READ, false, (int64_t)len, rc);
    return rc;
}

static ssize_t file_pwrite(tw_file *tf, const void *buf, size_t len,
                           uint64_t off)
{
    sim_node *n = node_of(tf->loop);
    sim_fs *fs = n->fs;
    sim_fent *e = ((sim_file *)tf)->e;
    if (off == UINT64_MAX)
        off = e->cur_len;
    uint64_t end = off + len;
    uint64_t grow = end > e->cur_len ? end - e->cur_len : 0;
    ssize_t rc = (ssize_t)len;
    if (in_window(n, fs->eio_until)) {
        fs->eio_hits++;
        rc = -EIO;
    } else if (in_window(n, fs->full_until)) {
        fs->full_hits++;
        rc = -ENOSPC;
    } else if (grow > fs->opts.bytes_max || fs->bytes > fs->opts.bytes_max - grow) {
        rc = -ENOSPC;
    } else if (fs->lost_write_left) { /* reported done, never made */
        fs->lost_write_left--;
        fs->writes_lost++;
        charge(n, T_WRITE, false, (int64_t)len, rc);
        return rc;
    } else if (end > e->cur_cap) {
        size_t cap = e->cur_cap ? e->cur_cap : 256;
        while (cap < end)
            cap *= 2;
        uint8_t *nb = realloc(e->cur, cap);
        if (!nb)
            rc = -ENOMEM;
        else {
            e->cur = nb;
            e->cur_cap = cap;
        }
    }
    if (rc >= 0) {
        if (off > e->cur_len)
            memset(e->cur + e->cur_len, 0, (size_t)off - e->cur_len);
        if (len)
            memcpy(e->cur + off, buf, len);
        if (end > e->cur_len)
            e->cur_len = (size_t)end;
        fs->bytes += grow;
        e->dirty = true;
    }
    charge(n, T_WRITE, false, (int64_t)len, rc);
    return rc;
}

/* Make e's bytes durable: 0 or -ENOMEM. */
static int make_durable(sim_fent *e)
{
    if (!e->dirty)
        return 0;
    uint8_t *d = NULL;
    if (e->cur_len && !(d = malloc(e->cur_len)))
        return -ENOMEM;
    if (e->cur_len)
        memcpy(d, e->cur, e->cur_len);
    free(e->dur);
    e->dur = d;
    e->dur_len = e->cur_len;
    e->dirty = false;
    return 0;
}

/* Let go of the fsyncs of e that have returned by now: the oldest, as
 * fsyncs return in the order they are made. */
static void fly_returned(sim_fent *e, tw_ns now)
{
    uint32_t n = 0;
    while (n < e->nfly && e->fly[n].at <= now)
        free(e->fly[n++].before);
    memmove(e->fly, e->fly + n, (e->nfly - n) * sizeof *e->fly);
    e->nfly -= n;
}

/* make_durable for an fsync: what was durable before is kept for a
 * crash before it returns. 1 when it is recorded as running (its return
 * time is the caller's to set, once charged), 0 when there was nothing
 * to sync or it was taken with the newest running one, or -ENOMEM. */
static int fsync_durable(sim_fent *e, tw_ns now)
{
    if (!e->dirty)
        return 0;
    fly_returned(e, now);
    uint8_t *keep = e->dur;
    size_t keep_len = e->dur_len;
    e->dur = NULL; /* make_durable frees it otherwise */
    int rc = make_durable(e);
    if (rc < 0) {
        e->dur = keep;
        return rc;
    }
    if (e->nfly == SIM_FSYNC_FLY_MAX) {
        /* it returns when the newest running one does
         * (SIM_FSYNC_FLY_MAX) */
        free(keep);
        return 0;
    }
    e->fly[e->nfly++] = (sim_fsync){.before = keep, .len = keep_len, .at = FS_UNSYNCED};
    return 1;
}

static int file_fsync(tw_file *tf)
{
    sim_node *n = node_of(tf->loop);
    sim_fs *fs = n->fs;
    sim_fent *e = ((sim_file *)tf)->e;
    int rc;
    if (in_window(n, fs->eio_until)) {
        fs->eio_hits++;
        rc = -EIO;
    } else if (fs->fsync_fail_left) {
        fs->fsync_fail_left--;
        fs->fsync_failed++;
        rc = -EIO;
    } else {
        rc = fsync_durable(e, n->sim->now);
    }
    bool running = rc == 1;
    rc = charge(n, T_FSYNC, true, 0, running ? 0 : rc);
    if (running) { /* it returns once the node's calls are done, its own too */
        sim_fsync *f = &e->fly[e->nfly - 1];
        assert(f->at == FS_UNSYNCED);
        f->at = sim_depart(n->sim, n->id);
        assert(e->nfly == 1 || e->fly[e->nfly - 2].at <= f->at);
    }
    return rc;
}

static int64_t file_size(tw_file *tf)
{
    sim_node *n = node_of(tf->loop);
    int64_t size = (int64_t)((sim_file *)tf)->e->cur_len;
    charge(n, T_READ, false, 0, size);
    return size;
}

/* Also called for every open file when the node crashes (its loop is
 * torn down): the entry stays, the handle goes. */
static int file_close(tw_file *tf)
{
    sim_node *n = node_of(tf->loop);
    sim_file *f = (sim_file *)tf;
    unref(n->fs, f->e);
    free(f);
    if (n->crashing)
        return 0;
    return charge(n, T_CLOSE, false, 0, 0);
}

/* ---- names ---- */

/* The normalised path for a name call, or a negative errno. */
static sim_fs *name_fs(tw_loop *loop, const char *path,
                       char p[TW_FS_PATH_MAX + 1], int *rc)
{
    sim_fs *fs = fs_for(loop);
    *rc = fs ? norm(path, p) : -ENOMEM;
    return fs;
}

static int fs_mkdir(tw_loop *loop, const char *path)
{
    char p[TW_FS_PATH_MAX + 1];
    int rc;
    sim_fs *fs = name_fs(loop, path, p, &rc);
    if (!fs)
        return rc;
    sim_fent *e = NULL;
    if (rc == 0 && (is_root(p) || find(fs, p)))
        rc = -EEXIST;
    if (rc == 0)
        rc = parent_ok(fs, p);
    if (rc == 0 && in_window(node_of(loop), fs->full_until)) {
        fs->full_hits++;
        rc = -ENOSPC;
    }
    if (rc == 0 && (rc = fent_new(fs, p, true, &e)) == 0 &&
        (rc = journal(fs, node_of(loop)->sim->now, J_CREATE, e, NULL, NULL)) < 0) {
        e->visible = false;
        release(fs, e);
    }
    return charge(node_of(loop), T_MKDIR, false, 0, rc);
}

static int fs_rename(tw_loop *loop, const char *from, const char *to)
{
    char pf[TW_FS_PATH_MAX + 1], pt[TW_FS_PATH_MAX + 1];
    int rc;
    sim_fs *fs = name_fs(loop, from, pf, &rc);
    if (!fs)
        return rc;
    if (rc == 0)
        rc = norm(to, pt);
    sim_fent *e = rc == 0 ? find(fs, pf) : NULL;
    sim_fent *r = rc == 0 ? find(fs, pt) : NULL;
    if (rc < 0)
        ;
    else if (!e)
        rc = is_root(pf) ? -ENOTSUP : -ENOENT;
    else if (e->dir)
        rc = -ENOTSUP; /* files only: a directory's children keep paths */
    else if (is_root(pt))
        rc = -EBUSY; /* the root is never replaced */
    else if (dir_only(from) || dir_only(to))
        rc = -ENOTDIR;
    else if (r && r->dir)
        rc = is_above(pt, pf) ? -ENOTEMPTY : -EISDIR; /* Linux's answers */
    else if (r == e)
        rc = 0;
    else if ((rc = parent_ok(fs, pt)) == 0 &&
             (rc = journal(fs, node_of(loop)->sim->now, J_RENAME, e, r, pf)) == 0) {
        if (r)
            r->visible = false;
        strcpy(e->path, pt);
    }
    return charge(node_of(loop), T_RENAME, false, 0, rc);
}

static int fs_unlink(tw_loop *loop, const char *path)
{
    char p[TW_FS_PATH_MAX + 1];
    int rc;
    sim_fs *fs = name_fs(loop, path, p, &rc);
    if (!fs)
        return rc;
    sim_fent *e = rc == 0 ? find(fs, p) : NULL;
    if (rc < 0)
        ;
    else if (is_root(p) || (e && e->dir))
        rc = -EISDIR;
    else if (!e)
        rc = -ENOENT;
    else if (dir_only(path))
        rc = -ENOTDIR;
    else if ((rc = journal(fs, node_of(loop)->sim->now, J_UNLINK, e, NULL, NULL)) == 0)
        e->visible = false;
    return charge(node_of(loop), T_UNLINK, false, 0, rc);
}

/* 0 when p names a directory. */
static int dir_ok(sim_fs *fs, const char *p)
{
    if (is_root(p))
        return 0;
    sim_fent *d = find(fs, p);
    return !d ? -ENOENT : d->dir ? 0 : -ENOTDIR;
}

static int fs_fsync_dir(tw_loop *loop, const char *path)
{
    char p[TW_FS_PATH_MAX + 1];
    int rc;
    sim_fs *fs = name_fs(loop, path, p, &rc);
    if (!fs)
        return rc;
    if (rc == 0)
        rc = dir_ok(fs, p);
    if (rc == 0 && in_window(node_of(loop), fs->eio_until)) {
        fs->eio_hits++;
        rc = -EIO;
    } else if (rc == 0 && fs->fsync_fail_left) {
        fs->fsync_fail_left--;
        fs->fsync_failed++;
        rc = -EIO;
    }
    rc = charge(node_of(loop), T_FSYNC_DIR, true, 0, rc);
    if (rc == 0) {
        /* one journal: all of it is durable once this returns */
        tw_ns at = sim_depart(node_of(loop)->sim, node_of(loop)->id);
        for (uint32_t i = fs->nj; i > 0 && fs->j[i - 1].synced_at == FS_UNSYNCED; i--)
            fs->j[i - 1].synced_at = at;
    }
    return rc;
}

/* The names of the visible entries in directory path, copied out (the
 * core calls out after this returns, and fn may change the file
 * system); the core sorts them (tw_fs_list). */
static int fs_names(tw_loop *loop, const char *path, char ***out, size_t *count)
{
    char p[TW_FS_PATH_MAX + 1];
    int rc;
    sim_fs *fs = name_fs(loop, path, p, &rc);
    if (!fs)
        return rc;
    if (rc == 0)
        rc = dir_ok(fs, p);
    char **names = NULL;
    size_t k = 0;
    if (rc == 0 && fs->n && !(names = malloc(fs->n * sizeof *names)))
        rc = -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < fs->n; i++) {
        sim_fent *e = fs->ents[i];
        if (!e->visible || !parent_is(e->path, p))
            continue;
        if (!(names[k] = strdup(strrchr(e->path, '/') + 1)))
            rc = -ENOMEM;
        else
            k++;
    }
    charge(node_of(loop), T_LIST, false, (int64_t)k, rc);
    if (rc < 0) {
        tw__fs_names_free(names, k);
        return rc;
    }
    *out = names;
    *count = k;
    return 0;
}

const tw__file_ops sim_file_ops = {
    .open = file_open,
    .pread = file_pread,
    .pwrite = file_pwrite,
    .fsync = file_fsync,
    .size = file_size,
    .close = file_close,
    .mkdir = fs_mkdir,
    .rename = fs_rename,
    .unlink = fs_unlink,
    .fsync_dir = fs_fsync_dir,
    .names = fs_names,
};

/* ---- crash ---- */

enum { LOST, KEPT, TORN };

/* The torn bytes of e: the new ones up to a sector boundary inside what
 * changed, the durable ones after it. False when what changed lies in
 * one sector (nothing to tear). */
static bool tear(sim_fent *e, tw_sim_prng *rng)
{
    size_t max = e->cur_len > e->dur_len ? e->cur_len : e->dur_len;
    size_t lo = 0, hi = max;
    while (lo < max && lo < e->cur_len && lo < e->dur_len &&
           e->cur[lo] == e->dur[lo])
        lo++;
    while (hi > lo && hi <= e->cur_len && hi <= e->dur_len &&
           e->cur[hi - 1] == e->dur[hi - 1])
        hi--;
    size_t first = lo / SECTOR + 1, last = (hi - 1) / SECTOR;
    if (hi <= lo || last < first)
        return false;
    size_t b = SECTOR * (first + (size_t)sim_below(rng, last - first + 1));
    size_t len = e->dur_len;
    if (len < b && e->cur_len > len)
        len = e->cur_len < b ? e->cur_len : b;
    if (len > e->cur_cap) {
        uint8_t *nb = realloc(e->cur, len);
        if (!nb)
            return false;
        e->cur = nb;
        e->cur_cap = len;
    }
    /* below b the new bytes where they reach, the durable ones after */
    for (size_t i = 0; i < len; i++) {
        if (i < b && i < e->cur_len)
            continue;
        e->cur[i] = i < e->dur_len ? e->dur[i] : 0;
    }
    e->cur_len = len;
    return true;
}

/* Set cur to dur. */
static void lose(sim_fs *fs, sim_fent *e)
{
    if (e->dur_len > e->cur_cap) {
        uint8_t *nb = realloc(e->cur, e->dur_len);
        if (!nb) /* keep what is there: the node lost less */
            return;
        e->cur = nb;
        e->cur_cap = e->dur_len;
    }
    if (e->dur_len)
        memcpy(e->cur, e->dur, e->dur_len);
    fs->bytes = fs->bytes - e->cur_len + e->dur_len;
    e->cur_len = e->dur_len;
}

void sim_fs_crash(tw_sim *sim, sim_node *n, bool power)
{
    sim_fs *fs = n->fs;
    if (!fs)
        return;
    uint32_t undone = 0, changed = 0;
    journal_returned(fs, sim->now);
    if (fs->nj) {
        uint32_t kept = power ? 0 : (uint32_t)sim_below(&sim->rng_disk, fs->nj + 1);
        undone = fs->nj - kept;
        journal_settle(fs, kept);
    }
    for (uint32_t i = 0; i < fs->n; i++) {
        sim_fent *e = fs->ents[i];
        fly_returned(e, sim->now);
        if (e->nfly) {
            /* the oldest running fsync had not returned: none of the
             * running ones happened */
            free(e->dur);
            e->dur = e->fly[0].before;
            e->dur_len = e->fly[0].len;
            e->fly[0].before = NULL;
            e->dirty = true;
        }
        fly_clear(e);
        if (!e->dirty)
            continue;
        int fate = power ? LOST : (int)sim_below(&sim->rng_disk, 3);
        if (fate == TORN) {
            size_t before = e->cur_len;
            if (!tear(e, &sim->rng_disk))
                fate = LOST;
            else
                fs->bytes = fs->bytes - before + e->cur_len;
        }
        if (fate == LOST)
            lose(fs, e);
        changed += fate != KEPT;
        e->dirty = true; /* dur follows cur */
        make_durable(e);
    }
    sim_trace(sim, n->id, 0, "fs_crash", changed, undone);
    fs->crash_losses += (uint64_t)changed + undone;
}

uint64_t sim_fs_crash_losses(const sim_node *n)
{
    return n->fs ? n->fs->crash_losses : 0;
}

void sim_fs_free(sim_fs *fs)
{
    if (!fs)
        return;
    for (uint32_t i = 0; i < fs->n; i++)
        fent_free(fs->ents[i]);
    free(fs->ents);
    free(fs->j);
    free(fs);
}

/* ---- options ---- */

int tw_sim_fs_set(tw_loop *node, const tw_sim_fs_opts *opts)
{
    sim_node *n = sim_node_of(node);
    if (!n || !opts)
        return -EINVAL;
    sim_fs *fs = sim_fs_of(n);
    if (!fs)
        return -ENOMEM;
    fs->opts = *opts;
    defaults(&fs->opts);
    return 0;
}

int tw_sim_fs_usage(tw_loop *node, uint64_t *bytes, uint32_t *files)
{
    sim_node *n = sim_node_of(node);
    if (!n)
        return -EINVAL;
    uint32_t k = 0;
    for (uint32_t i = 0; n->fs && i < n->fs->n; i++)
        k += n->fs->ents[i]->visible;
    if (bytes)
        *bytes = n->fs ? n->fs->bytes : 0;
    if (files)
        *files = k;
    return 0;
}
