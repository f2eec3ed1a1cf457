/* tests/tls_files.h - certificate files for TLS tests, written at test
 * time into a fresh temporary directory from twin's test credentials
 * (twin/tls.h, section 3: made in memory with OpenSSL's API, INSECURE,
 * never committed):
 *   ca        the test CA
 *   cert/key  a server certificate for localhost and 127.0.0.1 (test CA)
 *   wrong_*   a certificate for wrong.example (test CA)
 *   self_*    a self-signed certificate for localhost: nobody trusts it
 */
#ifndef TWIN_TEST_TLS_FILES_H
#define TWIN_TEST_TLS_FILES_H

typedef struct tls_files {
    char dir[64];
    char ca[96], cert[96], key[96];
    char wrong_cert[96], wrong_key[96];
    char self_cert[96], self_key[96];
} tls_files;

/* Write them all (fails the test on error). */
void tls_files_make(tls_files *f);
/* Remove the files and the directory. */
void tls_files_remove(tls_files *f);

#endif
