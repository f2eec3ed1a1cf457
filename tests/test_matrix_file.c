/* tests/test_matrix_file.c - files (twin/file.h) on both backends from
 * one body: a temporary directory on the real backend, a directory of
 * the node's own file system in the simulator. */
#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"

static char base[128];

/* A fresh directory for the test's files. */
static void make_base(tw_env *env)
{
    if (strcmp(env->backend, "real") == 0) {
        snprintf(base, sizeof base, "/tmp/twin-file-XXXXXX");
        assert_non_null(mkdtemp(base));
    } else {
        snprintf(base, sizeof base, "/data");
        assert_int_equal(tw_fs_mkdir(env->loop, base), 0);
    }
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    return remove(path);
}

static void drop_base(tw_env *env)
{
    if (strcmp(env->backend, "real") == 0)
        assert_int_equal(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static const char *at(const char *name)
{
    static char buf[4][256];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 256, "%s/%s", base, name);
    return b;
}

static void test_write_read_back(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("state"),
                                  TW_FILE_READ | TW_FILE_WRITE | TW_FILE_CREATE,
                                  &f), 0);
    assert_int_equal(tw_file_pwrite(f, "hello world", 11, 0), 11);
    assert_int_equal(tw_file_pwrite(f, "W", 1, 6), 1);
    assert_int_equal(tw_file_size(f), 11);
    char buf[32] = {0};
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 11);
    assert_string_equal(buf, "hello World");
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 11), 0); /* at the end */
    /* a hole reads as zeros */
    assert_int_equal(tw_file_pwrite(f, "z", 1, 20), 1);
    assert_int_equal(tw_file_size(f), 21);
    assert_int_equal(tw_file_pread(f, buf, 10, 11), 10);
    for (int i = 0; i < 9; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[9], 'z');
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_close(f), 0);
    /* open again, read only: the bytes are there; writing is refused */
    assert_int_equal(tw_file_open(env->loop, at("state"), TW_FILE_READ, &f), 0);
    assert_int_equal(tw_file_pread(f, buf, 5, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(tw_file_pwrite(f, "x", 1, 0), -EBADF);
    assert_int_equal(tw_file_close(f), 0);
    /* truncate */
    assert_int_equal(tw_file_open(env->loop, at("state"),
                                  TW_FILE_WRITE | TW_FILE_TRUNC, &f), 0);
    assert_int_equal(tw_file_size(f), 0);
    assert_int_equal(tw_file_pread(f, buf, 1, 0), -EBADF);
    assert_int_equal(tw_file_close(f), 0);
    drop_base(env);
}

static void test_append(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("log"),
                                  TW_FILE_READ | TW_FILE_WRITE | TW_FILE_CREATE,
                                  &f), 0);
    assert_int_equal(tw_file_append(f, "one,", 4), 4);
    assert_int_equal(tw_file_append(f, "two,", 4), 4);
    assert_int_equal(tw_file_close(f), 0);
    /* opened for append, pwrite's offset goes to the end too */
    assert_int_equal(tw_file_open(env->loop, at("log"),
                                  TW_FILE_READ | TW_FILE_WRITE | TW_FILE_APPEND,
                                  &f), 0);
    assert_int_equal(tw_file_pwrite(f, "three", 5, 0), 5);
    char buf[32] = {0};
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 13);
    assert_string_equal(buf, "one,two,three");
    assert_int_equal(tw_file_close(f), 0);
    drop_base(env);
}

static char listed[256];

static int collect(void *arg, const char *name)
{
    int *n = arg;
    (*n)++;
    strncat(listed, name, sizeof listed - strlen(listed) - 2);
    strcat(listed, ",");
    return 0;
}

static int stop_at_two(void *arg, const char *name)
{
    int *n = arg;
    return ++*n == 2 ? -ECANCELED : 0;
}

static void put(tw_env *env, const char *name, const char *text)
{
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at(name),
                                  TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_TRUNC,
                                  &f), 0);
    assert_int_equal(tw_file_append(f, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_close(f), 0);
}

static void get(tw_env *env, const char *name, char *buf, size_t len)
{
    tw_file *f;
    memset(buf, 0, len);
    assert_int_equal(tw_file_open(env->loop, at(name), TW_FILE_READ, &f), 0);
    assert_true(tw_file_pread(f, buf, len - 1, 0) >= 0);
    assert_int_equal(tw_file_close(f), 0);
}

static void test_rename_unlink_list(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    put(env, "b", "bee");
    put(env, "a", "old");
    put(env, "tmp", "new");
    assert_int_equal(tw_fs_mkdir(env->loop, at("sub")), 0);
    int n = 0;
    listed[0] = 0;
    assert_int_equal(tw_fs_list(env->loop, base, collect, &n), 4);
    assert_string_equal(listed, "a,b,sub,tmp,"); /* byte order, both */
    /* rename over a: a has the new bytes, tmp is gone */
    assert_int_equal(tw_fs_rename(env->loop, at("tmp"), at("a")), 0);
    assert_int_equal(tw_fs_fsync_dir(env->loop, base), 0);
    char buf[16];
    get(env, "a", buf, sizeof buf);
    assert_string_equal(buf, "new");
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("tmp"), TW_FILE_READ, &f), -ENOENT);
    assert_null(f);
    assert_int_equal(tw_fs_unlink(env->loop, at("b")), 0);
    assert_int_equal(tw_fs_unlink(env->loop, at("b")), -ENOENT);
    n = 0;
    listed[0] = 0;
    assert_int_equal(tw_fs_list(env->loop, base, collect, &n), 2);
    assert_string_equal(listed, "a,sub,");
    n = 0;
    assert_int_equal(tw_fs_list(env->loop, at("sub"), collect, &n), 0);
    /* a callback's error stops the listing */
    put(env, "c", "c");
    n = 0;
    assert_int_equal(tw_fs_list(env->loop, base, stop_at_two, &n), -ECANCELED);
    assert_int_equal(n, 2);
    assert_int_equal(tw_fs_unlink(env->loop, at("a")), 0);
    assert_int_equal(tw_fs_unlink(env->loop, at("c")), 0);
    if (strcmp(env->backend, "real") == 0)
        assert_int_equal(rmdir(at("sub")), 0);
    drop_base(env);
}

static void test_errors(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("none"), TW_FILE_READ, &f), -ENOENT);
    assert_int_equal(tw_file_open(env->loop, at("no/such"),
                                  TW_FILE_WRITE | TW_FILE_CREATE, &f), -ENOENT);
    put(env, "x", "x");
    assert_int_equal(tw_file_open(env->loop, at("x"),
                                  TW_FILE_WRITE | TW_FILE_CREATE | TW_FILE_EXCL, &f),
                     -EEXIST);
    assert_int_equal(tw_file_open(env->loop, base, TW_FILE_READ, &f), -EISDIR);
    assert_int_equal(tw_fs_mkdir(env->loop, base), -EEXIST);
    assert_int_equal(tw_fs_rename(env->loop, at("none"), at("y")), -ENOENT);
    assert_int_equal(tw_fs_list(env->loop, at("none"), collect, &(int){0}), -ENOENT);
    assert_int_equal(tw_fs_fsync_dir(env->loop, at("none")), -ENOENT);
    /* the core's checks */
    assert_int_equal(tw_file_open(env->loop, at("x"), 0, &f), -EINVAL);
    assert_int_equal(tw_file_open(env->loop, at("x"), TW_FILE_READ | TW_FILE_TRUNC, &f),
                     -EINVAL);
    assert_int_equal(tw_file_open(env->loop, at("x"), TW_FILE_READ | TW_FILE_EXCL, &f),
                     -EINVAL);
    char longp[400];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    assert_int_equal(tw_file_open(env->loop, longp, TW_FILE_READ, &f), -ENAMETOOLONG);
    assert_int_equal(tw_file_close(NULL), 0);
    assert_int_equal(tw_fs_unlink(env->loop, at("x")), 0);
    drop_base(env);
}

/* A trailing "/" names a directory, as on Linux: a file so named is
 * -ENOTDIR for open, unlink and rename, and an open that may create
 * refuses such a name with -EISDIR. The file itself is untouched. */
static void test_trailing_slash_names_a_directory(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_file *f;
    put(env, "x", "x");
    assert_int_equal(tw_file_open(env->loop, at("x/"), TW_FILE_READ, &f), -ENOTDIR);
    assert_int_equal(tw_file_open(env->loop, at("x/"), TW_FILE_WRITE | TW_FILE_CREATE, &f),
                     -EISDIR);
    assert_int_equal(tw_file_open(env->loop, at("new/"), TW_FILE_WRITE | TW_FILE_CREATE, &f),
                     -EISDIR);
    assert_int_equal(tw_file_open(env->loop, at("new/"), TW_FILE_READ, &f), -ENOENT);
    assert_int_equal(tw_fs_unlink(env->loop, at("x/")), -ENOTDIR);
    assert_int_equal(tw_fs_rename(env->loop, at("x/"), at("y")), -ENOTDIR);
    int n = 0;
    assert_int_equal(tw_fs_list(env->loop, base, collect, &n), 1);
    /* a directory named with a trailing "/" is fine */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/", base);
    assert_int_equal(tw_fs_fsync_dir(env->loop, dir), 0);
    assert_int_equal(tw_file_open(env->loop, at("x"), TW_FILE_READ, &f), 0);
    tw_file_close(f);
    assert_int_equal(tw_fs_unlink(env->loop, at("x")), 0);
    drop_base(env);
}

/* A rename onto a directory fails as on Linux: -ENOTEMPTY when the
 * directory holds the file (its parent, or any directory above it),
 * -EISDIR for any other directory, and -EBUSY for the root. */
static void test_rename_onto_a_directory(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    assert_int_equal(tw_fs_mkdir(env->loop, at("d")), 0);
    put(env, "d/f", "f");
    put(env, "x", "x");
    assert_int_equal(tw_fs_rename(env->loop, at("d/f"), at("d")), -ENOTEMPTY);
    assert_int_equal(tw_fs_rename(env->loop, at("d/f"), base), -ENOTEMPTY);
    assert_int_equal(tw_fs_rename(env->loop, at("x"), at("d")), -EISDIR);
    if (strcmp(env->backend, "sim") == 0) /* not the real machine's root */
        assert_int_equal(tw_fs_rename(env->loop, at("x"), "/"), -EBUSY);
    /* nothing moved */
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("d/f"), TW_FILE_READ, &f), 0);
    tw_file_close(f);
    assert_int_equal(tw_file_open(env->loop, at("x"), TW_FILE_READ, &f), 0);
    tw_file_close(f);
    drop_base(env);
}

/* A file left open is closed with its loop (the teardown frees it:
 * the leak check sees nothing). */
static void test_open_file_closed_with_loop(void **state)
{
    tw_env *env = TW_ENV(state);
    make_base(env);
    tw_file *f;
    assert_int_equal(tw_file_open(env->loop, at("left"),
                                  TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_file_append(f, "x", 1), 1);
    assert_int_equal(tw_loop_alive(env->loop), 0); /* a file keeps no run going */
    drop_base(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_write_read_back),
        TW_MATRIX(test_append),
        TW_MATRIX(test_rename_unlink_list),
        TW_MATRIX(test_errors),
        TW_MATRIX(test_trailing_slash_names_a_directory),
        TW_MATRIX(test_rename_onto_a_directory),
        TW_MATRIX(test_open_file_closed_with_loop),
    };
    return cmocka_run_group_tests_name("files (backend matrix)", tests, NULL, NULL);
}
