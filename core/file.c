/* core/file.c - the file calls of twin/file.h: checks, then the
 * backend's file ops (tw__loop_ops.file).
 *
 * Map: checks shared by every call; files; names; closing a loop's files.
 *
 * The core knows no file system: it checks what the caller passed (a
 * loop, a path that fits, flags that make sense, a file opened for the
 * call) and keeps the loop's list of open files, so that a loop freed
 * (or a simulated node crashed) with files open closes them.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define READ_WRITE (TW_FILE_READ | TW_FILE_WRITE)
#define ALL_FLAGS                                                      \
    (TW_FILE_READ | TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_EXCL |    \
     TW_FILE_TRUNC | TW_FILE_APPEND)

static const tw__file_ops *ops_of(tw_loop *loop)
{
    return loop && loop->ops ? loop->ops->file : NULL;
}

/* -EINVAL, -ENAMETOOLONG or 0. */
static int path_check(const char *path)
{
    if (!path || !*path)
        return -EINVAL;
    return strlen(path) > TW_FS_PATH_MAX ? -ENAMETOOLONG : 0;
}

static bool flags_ok(unsigned flags)
{
    if (flags & ~(unsigned)ALL_FLAGS || !(flags & READ_WRITE))
        return false;
    if ((flags & TW_FILE_EXCL) && !(flags & TW_FILE_CREATE))
        return false;
    if ((flags & (TW_FILE_TRUNC | TW_FILE_APPEND)) && !(flags & TW_FILE_WRITE))
        return false;
    return true;
}

/* ---- files ---- */

void tw__file_init(tw_file *f, tw_loop *loop, unsigned flags)
{
    assert(f && loop);
    f->loop = loop;
    f->flags = flags;
    tw__list_push(&loop->files, &f->link);
}

int tw_file_open(tw_loop *loop, const char *path, unsigned flags,
                 tw_file **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    const tw__file_ops *ops = ops_of(loop);
    int rc = path_check(path);
    if (rc < 0 || !flags_ok(flags))
        return rc < 0 ? rc : -EINVAL;
    if (!ops)
        return -ENOTSUP;
    rc = ops->open(loop, path, flags, out);
    assert(rc < 0 ? *out == NULL : *out != NULL);
    return rc;
}

ssize_t tw_file_pread(tw_file *f, void *buf, size_t len, uint64_t offset)
{
    if (!f || (!buf && len))
        return -EINVAL;
    if (!(f->flags & TW_FILE_READ))
        return -EBADF;
    if (offset > (uint64_t)INT64_MAX)
        return -EINVAL;
    return f->loop->ops->file->pread(f, buf, len, offset);
}

static ssize_t write_at(tw_file *f, const void *buf, size_t len,
                        uint64_t offset)
{
    if (!f || (!buf && len) || len > (size_t)SSIZE_MAX)
        return -EINVAL;
    if (!(f->flags & TW_FILE_WRITE))
        return -EBADF;
    if (f->flags & TW_FILE_APPEND)
        offset = UINT64_MAX;
    else if (offset != UINT64_MAX && offset > (uint64_t)INT64_MAX - len)
        return -EFBIG;
    return f->loop->ops->file->pwrite(f, buf, len, offset);
}

ssize_t tw_file_pwrite(tw_file *f, const void *buf, size_t len,
                       uint64_t offset)
{
    if (offset == UINT64_MAX)
        return -EINVAL;
    return write_at(f, buf, len, offset);
}

ssize_t tw_file_append(tw_file *f, const void *buf, size_t len)
{
    return write_at(f, buf, len, UINT64_MAX);
}

int tw_file_fsync(tw_file *f)
{
    return f ? f->loop->ops->file->fsync(f) : -EINVAL;
}

int64_t tw_file_size(tw_file *f)
{
    return f ? f->loop->ops->file->size(f) : -EINVAL;
}

int tw_file_close(tw_file *f)
{
    if (!f)
        return 0;
    tw__list_remove(&f->link);
    return f->loop->ops->file->close(f);
}

void tw__files_close_all(tw_loop *loop)
{
    while (!tw__list_empty(&loop->files))
        tw_file_close(tw__container_of(loop->files.next, tw_file, link));
}

/* ---- names ---- */

/* The ops of loop for a call on path, or NULL with *rc set. */
static const tw__file_ops *name_call(tw_loop *loop, const char *path, int *rc)
{
    *rc = loop ? path_check(path) : -EINVAL;
    if (*rc < 0)
        return NULL;
    const tw__file_ops *ops = ops_of(loop);
    if (!ops)
        *rc = -ENOTSUP;
    return ops;
}

int tw_fs_mkdir(tw_loop *loop, const char *path)
{
    int rc;
    const tw__file_ops *ops = name_call(loop, path, &rc);
    return ops ? ops->mkdir(loop, path) : rc;
}

int tw_fs_rename(tw_loop *loop, const char *from, const char *to)
{
    int rc;
    const tw__file_ops *ops = name_call(loop, from, &rc);
    if (ops && (rc = path_check(to)) < 0)
        return rc;
    return ops ? ops->rename(loop, from, to) : rc;
}

int tw_fs_unlink(tw_loop *loop, const char *path)
{
    int rc;
    const tw__file_ops *ops = name_call(loop, path, &rc);
    return ops ? ops->unlink(loop, path) : rc;
}

int tw_fs_fsync_dir(tw_loop *loop, const char *path)
{
    int rc;
    const tw__file_ops *ops = name_call(loop, path, &rc);
    return ops ? ops->fsync_dir(loop, path) : rc;
}

void tw__fs_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The backend lists, the core keeps the rules both share: the bound, byte
 * order (readdir's order is the file system's), and calls out only after
 * the backend is done (fn may change the directory). */
int tw_fs_list(tw_loop *loop, const char *path, tw_fs_list_cb fn, void *arg)
{
    int rc;
    if (!fn)
        return -EINVAL;
    const tw__file_ops *ops = name_call(loop, path, &rc);
    if (!ops)
        return rc;
    char **names = NULL;
    size_t n = 0;
    if ((rc = ops->names(loop, path, &names, &n)) < 0)
        return rc;
    if (n > TW_FS_LIST_MAX) {
        tw__fs_names_free(names, n);
        return -EFBIG;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    size_t listed = 0;
    for (; rc == 0 && listed < n; listed++) {
        int r = fn(arg, names[listed]);
        if (r < 0)
            rc = r;
    }
    tw__fs_names_free(names, n);
    return rc < 0 ? rc : (int)listed;
}
