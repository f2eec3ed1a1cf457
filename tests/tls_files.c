/* tests/tls_files.c - certificate files for TLS tests (see tls_files.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/tls_files.h"
#include "twin/tls.h"

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void pair(const tls_files *f, char *cert, char *key, const char *stem,
                 const char *names, bool self_signed)
{
    char *c, *k;
    assert_int_equal(tw_tls_test_cert_pem(names, self_signed, &c, &k), 0);
    snprintf(cert, sizeof f->cert, "%s/%s.pem", f->dir, stem);
    snprintf(key, sizeof f->key, "%s/%s.key", f->dir, stem);
    put(cert, c);
    put(key, k);
    free(c);
    free(k);
}

void tls_files_make(tls_files *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/twin-tls-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *ca;
    assert_int_equal(tw_tls_test_ca_pem(&ca), 0);
    snprintf(f->ca, sizeof f->ca, "%s/ca.pem", f->dir);
    put(f->ca, ca);
    free(ca);
    pair(f, f->cert, f->key, "server", "localhost,127.0.0.1", false);
    pair(f, f->wrong_cert, f->wrong_key, "wrong", "wrong.example", false);
    pair(f, f->self_cert, f->self_key, "self", "localhost,127.0.0.1", true);
}

void tls_files_remove(tls_files *f)
{
    const char *paths[] = {f->ca, f->cert, f->key, f->wrong_cert,
                           f->wrong_key, f->self_cert, f->self_key};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (paths[i][0])
            unlink(paths[i]);
    if (f->dir[0])
        rmdir(f->dir);
}
