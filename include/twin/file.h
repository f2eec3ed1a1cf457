/* twin/file.h - durable state: files and directories a protocol keeps.
 *
 * Map:
 *   1. files: open, pread, pwrite, append, fsync, size, close
 *   2. names: mkdir, rename, unlink, a directory's fsync, listing
 *
 * The calls are synchronous: each returns when its work is done, with
 * 0 (or a byte count) or a negative errno (twin/error.h). They are
 * meant for what a protocol keeps across restarts (a log, a snapshot,
 * a term and vote), not for bulk data.
 *
 * On the real backend each call is the system call (through the
 * backend's syscall table) and blocks the loop's thread for as long as
 * the disk takes. On a simulated node each call works on the node's own
 * in-memory file system (twin/simfs.h) and costs virtual time: the call
 * returns at once, but the node is held for the call's latency (drawn
 * from the node's distribution), so nothing else of the node runs until
 * it has passed; the loop's clock does not move inside the callback that
 * made the call. What that callback sends (on a stream or as a
 * datagram) after the call leaves the node when the call returns. A
 * crash of the node keeps what was made durable:
 *   - a file's bytes are durable once tw_file_fsync returned 0 and its
 *     latency has passed (a crash during it keeps what was durable
 *     before, and what the callback wrote after it never leaves);
 *   - a name (a create, a rename, an unlink, a mkdir) once the directory
 *     it is in was fsynced (tw_fs_fsync_dir) afterwards;
 * what is not durable may be lost, kept, or (a file's bytes) torn at a
 * 512-byte sector, as the world's seed decides (twin/simfs.h).
 *
 * Paths are the system's on the real backend; on a simulated node they
 * are absolute within the node's file system ("/data/log"; a relative
 * path is taken from "/"), at most TW_FS_PATH_MAX bytes, without "." or
 * ".." components. On both, a path ending in "/" names a directory: a
 * file so named is -ENOTDIR, and an open with CREATE refuses it with
 * -EISDIR.
 *
 * Threads: a file belongs to its loop's thread, as a transport does.
 */
#ifndef TWIN_FILE_H
#define TWIN_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. files */

typedef struct tw_file tw_file;

/* Open flags. At least one of READ and WRITE. */
enum {
    TW_FILE_READ = 1u << 0,
    TW_FILE_WRITE = 1u << 1,
    TW_FILE_CREATE = 1u << 2, /* create it if it does not exist */
    TW_FILE_EXCL = 1u << 3,   /* with CREATE: -EEXIST if it exists */
    TW_FILE_TRUNC = 1u << 4,  /* with WRITE: cut it to 0 bytes */
    TW_FILE_APPEND = 1u << 5, /* with WRITE: every write goes to the end,
                                 whatever offset pwrite names (as
                                 O_APPEND does on Linux) */
};

#define TW_FS_PATH_MAX 255

/* Open path on loop's backend; *out is the file, to close with
 * tw_file_close. -EINVAL for bad flags, -ENOENT (no such file, no
 * CREATE), -EEXIST (CREATE|EXCL and it exists), -EISDIR, -ENOTDIR,
 * -ENAMETOOLONG, -ENOSPC (the simulated disk's files are at their
 * bound), or another errno. A file still open when its loop is freed,
 * or when its simulated node crashes, is closed then: its pointer is
 * gone (a node's stop hook must not close it again). */
int tw_file_open(tw_loop *loop, const char *path, unsigned flags,
                 tw_file **out);

/* Read up to len bytes at offset into buf. Returns the bytes read (0 at
 * or past the end) or a negative errno (-EBADF: not opened for READ). */
ssize_t tw_file_pread(tw_file *f, void *buf, size_t len, uint64_t offset);

/* Write len bytes of buf at offset (a hole before it reads as zeros).
 * All or nothing: returns len, or a negative errno (-EBADF: not opened
 * for WRITE; -ENOSPC; -EIO). buf is copied. */
ssize_t tw_file_pwrite(tw_file *f, const void *buf, size_t len,
                       uint64_t offset);

/* Write len bytes at the file's end; as pwrite otherwise. */
ssize_t tw_file_append(tw_file *f, const void *buf, size_t len);

/* Make what was written to f durable. 0 or a negative errno (-EIO:
 * nothing written since the last fsync that succeeded is known to be
 * durable). */
int tw_file_fsync(tw_file *f);

/* The file's size in bytes, or a negative errno. */
int64_t tw_file_size(tw_file *f);

/* Close f and free it (NULL is ignored). Closing does not fsync. 0 or a
 * negative errno; f is gone either way. */
int tw_file_close(tw_file *f);

/* ------------------------------------------------------------------ */
/* 2. names */

/* Make directory path (its parent must exist). 0, -EEXIST, -ENOENT, ... */
int tw_fs_mkdir(tw_loop *loop, const char *path);

/* Rename file from to to, replacing a file at to. 0 or a negative errno
 * (-ENOENT: no from; -EISDIR: to is a directory; -ENOTEMPTY: to is a
 * directory that holds from, its parent or one above; -EBUSY: to is the
 * root). A simulated node renames files only (-ENOTSUP for a
 * directory). */
int tw_fs_rename(tw_loop *loop, const char *from, const char *to);

/* Remove the file path (an open file lives on until closed). 0,
 * -ENOENT, -EISDIR, ... */
int tw_fs_unlink(tw_loop *loop, const char *path);

/* Make the names in directory path durable (creates, renames, unlinks
 * in it). 0 or a negative errno. */
int tw_fs_fsync_dir(tw_loop *loop, const char *path);

/* Call fn(arg, name) for each entry of directory path except "." and
 * "..", in byte order of their names (the same on both backends). A
 * negative return from fn stops the listing and is returned. At most
 * TW_FS_LIST_MAX entries are listed (-EFBIG past them). Returns the
 * count of entries listed, or a negative errno. */
typedef int (*tw_fs_list_cb)(void *arg, const char *name);
int tw_fs_list(tw_loop *loop, const char *path, tw_fs_list_cb fn, void *arg);
#define TW_FS_LIST_MAX 65536

#ifdef __cplusplus
}
#endif
#endif
