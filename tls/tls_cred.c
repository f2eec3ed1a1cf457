/* tls/tls_cred.c - twin's test credentials: a CA and the certificates it
 * signs, made in memory from a fixed seed. INSECURE by construction.
 *
 * Map: names; the fixed generator; keys from a seed; building a
 * certificate; the test CA (made once per process); leaves; PEM for
 * files.
 *
 * Why from a seed: a simulated run replays byte for byte, and the
 * certificate's bytes and its signature's length are on the wire. Keys
 * made by OpenSSL from its generator would differ in every process, so
 * every draw here is made inside a randomness scope (tls_rand.c) whose
 * source is the fixed generator seeded by a constant and the names: the same credentials in
 * every process, every machine, every build. Anyone can therefore make
 * the same private keys: these are for tests and simulations only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/tls_internal.h"
#include "twin/mix.h"

#define CRED_SEED UINT64_C(0x7477696e2d746c73) /* "twin-tls" */
#define CRED_STREAM 0x7e57                     /* test */
#define NAMES_MAX 512
#define ORG "twin test (insecure)"

/* ---- names ---- */

static uint64_t fnv(const char *s, uint64_t h)
{
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
    return h;
}

/* "a,10.0.0.1" -> "DNS:a,IP:10.0.0.1" into san; the first name into cn.
 * Names are plain host names or numeric addresses. */
static int parse_names(const char *names, char *san, size_t sanlen, char *cn,
                       size_t cnlen)
{
    if (!names || !*names || strlen(names) >= NAMES_MAX)
        return -EINVAL;
    size_t used = 0;
    cn[0] = '\0';
    for (const char *p = names; *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        char one[256];
        if (k == 0 || k >= sizeof one)
            return -EINVAL;
        memcpy(one, p, k);
        one[k] = '\0';
        for (size_t i = 0; i < k; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-:*_", one[i]))
                return -EINVAL;
        unsigned char a[16];
        bool ip = inet_pton(AF_INET, one, a) == 1 || inet_pton(AF_INET6, one, a) == 1;
        int n = snprintf(san + used, sanlen - used, "%s%s:%s", used ? "," : "",
                         ip ? "IP" : "DNS", one);
        if (n < 0 || (size_t)n >= sanlen - used)
            return -EINVAL;
        used += (size_t)n;
        if (!cn[0]) {
            if (k >= cnlen || k > 64) /* X.509's upper bound for a CN */
                return -EINVAL;
            memcpy(cn, one, k + 1);
        }
        p = end ? end + 1 : p + k;
    }
    return 0;
}

/* ---- the fixed generator ---- */

static uint64_t fixed_next(tw__rand *r) { return tw_xoshiro_next(r->state); }

void tw__tls_rand_fixed(tw__rand *r, uint64_t seed, unsigned stream)
{
    memset(r, 0, sizeof *r);
    tw_xoshiro_seed(r->state, seed, stream);
    r->next = fixed_next;
}

/* ---- keys ---- */

/* An ECDSA P-256 key drawn from seed; NULL on ENOMEM. The caller is in
 * no scope or any: this one decides. */
static EVP_PKEY *keygen(uint64_t seed)
{
    tw__rand rng;
    tw__tls_scope scope;
    tw__tls_rand_fixed(&rng, seed, CRED_STREAM);
    tw__tls_rand_enter(&scope, &rng);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    tw__tls_rand_leave(&scope);
    return k;
}

/* ---- a certificate ---- */

static bool add_ext(X509 *x, X509V3_CTX *v, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v, nid, value);
    bool ok = e && X509_add_ext(x, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok;
}

/* A certificate for key: a CA (san NULL) or a leaf for san, signed by
 * issuer's key (issuer NULL: self-signed). The signature's nonce is drawn
 * from seed. NULL on failure. */
static X509 *build(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                   EVP_PKEY *issuer_key, long serial, uint64_t seed)
{
    X509 *x = X509_new();
    bool ok = x != NULL;
    X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
    ok = ok && X509_set_version(x, 2) == 1 &&
         ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
         ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20200101000000Z") == 1 &&
         ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20491231235959Z") == 1 &&
         X509_set_pubkey(x, key) == 1 &&
         X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                    (const unsigned char *)ORG, -1, -1, 0) == 1 &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)cn, -1, -1, 0) == 1 &&
         X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
    X509V3_CTX v;
    if (ok) {
        X509V3_set_ctx_nodb(&v);
        X509V3_set_ctx(&v, issuer ? issuer : x, x, NULL, NULL, 0);
    }
    bool ca = san == NULL;
    ok = ok &&
         add_ext(x, &v, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
         add_ext(x, &v, NID_key_usage,
                 ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
         add_ext(x, &v, NID_subject_key_identifier, "hash");
    if (ok && !ca)
        ok = add_ext(x, &v, NID_ext_key_usage, "serverAuth,clientAuth") &&
             add_ext(x, &v, NID_subject_alt_name, san);
    if (ok && issuer)
        ok = add_ext(x, &v, NID_authority_key_identifier, "keyid:always");
    if (ok) {
        tw__rand rng;
        tw__tls_scope scope;
        tw__tls_rand_fixed(&rng, seed ^ UINT64_C(0x5167), CRED_STREAM);
        tw__tls_rand_enter(&scope, &rng);
        ok = X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
        tw__tls_rand_leave(&scope);
    }
    ERR_clear_error();
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* ---- the test CA, once per process ---- */

static pthread_once_t ca_once = PTHREAD_ONCE_INIT;
static X509 *ca_cert;
static EVP_PKEY *ca_key;

static void ca_free(void)
{
    X509_free(ca_cert);
    EVP_PKEY_free(ca_key);
    ca_cert = NULL;
    ca_key = NULL;
}

static void ca_make(void)
{
    ca_key = keygen(CRED_SEED);
    ca_cert = ca_key ? build(ca_key, "twin test CA (insecure)", NULL, NULL, NULL,
                             1, CRED_SEED)
                     : NULL;
    if (!ca_cert) {
        EVP_PKEY_free(ca_key);
        ca_key = NULL;
        return;
    }
    atexit(ca_free); /* after OpenSSL's own exit handler was registered */
}

int tw__tls_test_ca(X509 **cert)
{
    pthread_once(&ca_once, ca_make);
    if (!ca_cert)
        return -ENOMEM;
    X509_up_ref(ca_cert);
    *cert = ca_cert;
    return 0;
}

/* ---- leaves ---- */

int tw__tls_test_cred(const char *names, bool self_signed, X509 **cert,
                      EVP_PKEY **key)
{
    char san[NAMES_MAX * 2], cn[128];
    if (parse_names(names, san, sizeof san, cn, sizeof cn) < 0)
        return -EINVAL;
    pthread_once(&ca_once, ca_make);
    if (!ca_cert)
        return -ENOMEM;
    uint64_t seed = fnv(names, CRED_SEED ^ (self_signed ? 0x5e1f : 0));
    EVP_PKEY *k = keygen(seed);
    /* Serials differ by names, as a CA's would. */
    long serial = 2 + (long)(seed % 1000000007u);
    X509 *x = k ? build(k, cn, san, self_signed ? NULL : ca_cert,
                        self_signed ? NULL : ca_key, serial, seed)
                : NULL;
    if (!x) {
        EVP_PKEY_free(k);
        return -ENOMEM;
    }
    *cert = x;
    *key = k;
    return 0;
}

/* ---- PEM ---- */

static char *bio_text(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
    }
    return s;
}

int tw_tls_test_cert_pem(const char *names, bool self_signed, char **cert_pem,
                         char **key_pem)
{
    X509 *x;
    EVP_PKEY *k;
    int rc = tw__tls_test_cred(names, self_signed, &x, &k);
    if (rc < 0)
        return rc;
    BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());
    char *c = NULL, *p = NULL;
    if (bc && bk && PEM_write_bio_X509(bc, x) == 1 &&
        PEM_write_bio_PrivateKey(bk, k, NULL, NULL, 0, NULL, NULL) == 1) {
        c = bio_text(bc);
        p = bio_text(bk);
    }
    BIO_free(bc);
    BIO_free(bk);
    X509_free(x);
    EVP_PKEY_free(k);
    ERR_clear_error();
    if (!c || !p) {
        free(c);
        free(p);
        return -ENOMEM;
    }
    *cert_pem = c;
    *key_pem = p;
    return 0;
}

int tw_tls_test_ca_pem(char **cert_pem)
{
    X509 *x;
    int rc = tw__tls_test_ca(&x);
    if (rc < 0)
        return rc;
    BIO *b = BIO_new(BIO_s_mem());
    char *c = b && PEM_write_bio_X509(b, x) == 1 ? bio_text(b) : NULL;
    BIO_free(b);
    X509_free(x);
    ERR_clear_error();
    if (!c)
        return -ENOMEM;
    *cert_pem = c;
    return 0;
}
