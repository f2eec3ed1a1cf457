/* real/file.c - files on the real backend: the system's calls, each
 * through the syscall table (real/sys.h) where tests inject faults.
 *
 * Map: a file (open, pread, pwrite, fsync, size, close); names (mkdir,
 * rename, unlink, a directory's fsync, listing).
 *
 * Every call blocks the loop's thread for as long as the kernel takes:
 * what twin/file.h promises is a synchronous call, and a protocol that
 * keeps a little state pays little. EINTR is retried a bounded number
 * of times; a short pwrite is carried on from where it stopped, so a
 * write is all or nothing as the header says (a failure part way leaves
 * the bytes written so far, as the kernel would).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "real/internal.h"
#include "real/sys.h"

typedef struct real_file {
    tw_file base; /* first */
    int fd;
} real_file;

static int neg_errno(void) { return errno ? -errno : -EIO; }

static int file_open(tw_loop *loop, const char *path, unsigned flags,
                     tw_file **out)
{
    int o = O_CLOEXEC;
    if ((flags & TW_FILE_READ) && (flags & TW_FILE_WRITE))
        o |= O_RDWR;
    else
        o |= flags & TW_FILE_WRITE ? O_WRONLY : O_RDONLY;
    o |= flags & TW_FILE_CREATE ? O_CREAT : 0;
    o |= flags & TW_FILE_EXCL ? O_EXCL : 0;
    o |= flags & TW_FILE_TRUNC ? O_TRUNC : 0;
    o |= flags & TW_FILE_APPEND ? O_APPEND : 0;
    real_file *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    int fd, tries = 0;
    do
        fd = tw_sys.open(path, o, 0666);
    while (fd < 0 && errno == EINTR && ++tries < TW__REAL_EINTR_MAX);
    if (fd < 0) {
        int err = neg_errno();
        free(f);
        return err;
    }
    struct stat st;
    if (tw_sys.fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* Linux opens a directory for reading; twin's files are files. */
        tw_sys.close(fd);
        free(f);
        return -EISDIR;
    }
    f->fd = fd;
    tw__file_init(&f->base, loop, flags);
    *out = &f->base;
    return 0;
}

static ssize_t file_pread(tw_file *tf, void *buf, size_t len, uint64_t off)
{
    real_file *f = (real_file *)tf;
    ssize_t n;
    int tries = 0;
    do
        n = tw_sys.pread(f->fd, buf, len, (off_t)off);
    while (n < 0 && errno == EINTR && ++tries < TW__REAL_EINTR_MAX);
    return n < 0 ? neg_errno() : n;
}

static int64_t file_size(tw_file *tf)
{
    struct stat st;
    if (tw_sys.fstat(((real_file *)tf)->fd, &st) < 0)
        return neg_errno();
    return (int64_t)st.st_size;
}

static ssize_t file_pwrite(tw_file *tf, const void *buf, size_t len,
                           uint64_t off)
{
    real_file *f = (real_file *)tf;
    if (off == UINT64_MAX) { /* at the end; O_APPEND puts it there anyway */
        int64_t size = file_size(tf);
        if (size < 0)
            return size;
        off = (uint64_t)size;
    }
    size_t done = 0;
    int tries = 0;
    while (done < len) {
        ssize_t n = tw_sys.pwrite(f->fd, (const char *)buf + done, len - done,
                                  (off_t)(off + done));
        if (n < 0 && errno == EINTR && ++tries < TW__REAL_EINTR_MAX)
            continue;
        if (n < 0)
            return neg_errno();
        if (n == 0)
            return -EIO; /* cannot happen for a regular file; never spin */
        done += (size_t)n;
    }
    return (ssize_t)len;
}

static int file_fsync(tw_file *tf)
{
    return tw_sys.fsync(((real_file *)tf)->fd) < 0 ? neg_errno() : 0;
}

static int file_close(tw_file *tf)
{
    real_file *f = (real_file *)tf;
    int rc = tw_sys.close(f->fd) < 0 ? neg_errno() : 0;
    free(f);
    return rc;
}

/* ---- names ---- */

static int fs_mkdir(tw_loop *loop, const char *path)
{
    return tw_sys.mkdir(path, 0777) < 0 ? neg_errno() : 0;
}

static int fs_rename(tw_loop *loop, const char *from, const char *to)
{
    return tw_sys.rename(from, to) < 0 ? neg_errno() : 0;
}

static int fs_unlink(tw_loop *loop, const char *path)
{
    return tw_sys.unlink(path) < 0 ? neg_errno() : 0;
}

static int fs_fsync_dir(tw_loop *loop, const char *path)
{
    int fd = tw_sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0)
        return neg_errno();
    int rc = tw_sys.fsync(fd) < 0 ? neg_errno() : 0;
    tw_sys.close(fd);
    return rc;
}

/* Every name read; the core sorts them (tw_fs_list). Reading stops one
 * past the bound, which the core then refuses. */
static int fs_names(tw_loop *loop, const char *path, char ***out, size_t *count)
{
    (void)loop;
    DIR *d = tw_sys.opendir(path);
    if (!d)
        return neg_errno();
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while (rc == 0 && n <= TW_FS_LIST_MAX && (e = tw_sys.readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name)))
            rc = -ENOMEM;
        else
            n++;
    }
    if (rc == 0 && errno)
        rc = -errno;
    tw_sys.closedir(d);
    if (rc < 0) {
        tw__fs_names_free(names, n);
        return rc;
    }
    *out = names;
    *count = n;
    return 0;
}

const tw__file_ops tw__real_file_ops = {
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
