/* tls/tls_ctx.c - tw_tls_ctx: a thin wrapper over OpenSSL's SSL_CTX.
 *
 * Map: life (new, references, free); errors and their reasons;
 * certificates and trust; verification, server name, ALPN, timeout;
 * apps' options; configurations shared by the runs of a process.
 *
 * Defaults are chosen for twin's two worlds: no session tickets and no
 * session cache (a resumed session's bytes depend on earlier runs and on
 * the wall clock, which a replayed simulation must not), no
 * renegotiation (it would make a write wait for a read), TLS 1.2 at
 * least. A client trusts the system's CAs unless it is given its own
 * (asyncio's create_default_context does the same); those are loaded at
 * the first connection, so that a CA file given later replaces them.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tls/tls_internal.h"

/* ---- life ---- */

tw_tls_ctx *tw_tls_ctx_new(tw_tls_role role)
{
    if (role != TW_TLS_CLIENT && role != TW_TLS_SERVER) {
        errno = EINVAL;
        return NULL;
    }
    tw_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    ctx->ssl = SSL_CTX_new(TLS_method());
    if (!ctx->ssl) {
        ERR_clear_error();
        free(ctx);
        errno = ENOMEM;
        return NULL;
    }
    SSL_CTX *s = ctx->ssl;
    SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
    SSL_CTX_set_options(s, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_num_tickets(s, 0);
    SSL_CTX_set_keylog_callback(s, tw__tls_keylog);
    SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
    /* The core hands send() whatever its buffer holds, from any address. */
    SSL_CTX_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    ctx->role = role;
    ctx->refs = 1;
    ctx->handshake_timeout = TW__TLS_HANDSHAKE_TIMEOUT;
    pthread_mutex_init(&ctx->lock, NULL);
    tw_tls_ctx_set_verify(ctx, role == TW_TLS_CLIENT);
    return ctx;
}

void tw__tls_ctx_ref(tw_tls_ctx *ctx)
{
    __atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
}

void tw_tls_ctx_free(tw_tls_ctx *ctx)
{
    if (!ctx || __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    SSL_CTX_free(ctx->ssl);
    free(ctx->server_name);
    free(ctx->alpn);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

tw_tls_role tw_tls_ctx_role(const tw_tls_ctx *ctx) { return ctx->role; }

void *tw_tls_ctx_ssl_ctx(tw_tls_ctx *ctx) { return ctx->ssl; }

/* ---- errors ---- */

void tw__tls_openssl_reason(char *buf, size_t len, const char *what)
{
    /* The oldest entry is the cause ("no start line"); the later ones
     * only say which function gave up. */
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (e && ERR_GET_LIB(e) == ERR_LIB_SYS)
        r = strerror(ERR_GET_REASON(e));
    snprintf(buf, len, "%s%s%s", what, r ? ": " : "", r ? r : "");
    ERR_clear_error();
}

__attribute__((format(printf, 3, 4)))
static int fail(tw_tls_ctx *ctx, int err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tw__tls_ctx_fail(ctx, err, msg, false);
    return err;
}

void tw__tls_ctx_fail(tw_tls_ctx *ctx, int err, const char *reason,
                      bool handshake)
{
    pthread_mutex_lock(&ctx->lock);
    snprintf(ctx->err, sizeof ctx->err, "%s", reason);
    tw_tls_error_cb cb = handshake ? ctx->error_cb : NULL;
    void *arg = ctx->error_arg;
    if (handshake)
        ctx->failures++;
    pthread_mutex_unlock(&ctx->lock);
    if (cb)
        cb(arg, err, reason);
}

const char *tw_tls_ctx_error(const tw_tls_ctx *ctx) { return ctx->err; }

void tw_tls_ctx_set_error_cb(tw_tls_ctx *ctx, tw_tls_error_cb cb, void *arg)
{
    ctx->error_cb = cb;
    ctx->error_arg = arg;
}

uint64_t tw_tls_ctx_failures(const tw_tls_ctx *ctx) { return ctx->failures; }

/* ---- certificates and trust ---- */

static int readable(tw_tls_ctx *ctx, const char *path)
{
    if (!path || !*path)
        return fail(ctx, -EINVAL, "no file name given");
    if (access(path, R_OK) < 0) {
        int e = errno;
        return fail(ctx, -e, "cannot read %s: %s", path, strerror(e));
    }
    return 0;
}

int tw_tls_ctx_load_cert_chain(tw_tls_ctx *ctx, const char *cert_file,
                               const char *key_file)
{
    char why[200];
    const char *key = key_file ? key_file : cert_file;
    int rc = readable(ctx, cert_file);
    if (rc == 0)
        rc = readable(ctx, key);
    if (rc < 0)
        return rc;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx->ssl, cert_file) != 1) {
        tw__tls_openssl_reason(why, sizeof why, "cannot use the certificate");
        return fail(ctx, -EINVAL, "%s: %s", cert_file, why);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx->ssl, key, SSL_FILETYPE_PEM) != 1) {
        tw__tls_openssl_reason(why, sizeof why, "cannot use the private key");
        return fail(ctx, -EINVAL, "%s: %s", key, why);
    }
    if (SSL_CTX_check_private_key(ctx->ssl) != 1) {
        tw__tls_openssl_reason(why, sizeof why, "the key does not match");
        return fail(ctx, -EINVAL, "%s: %s", key, why);
    }
    return 0;
}

int tw_tls_ctx_load_verify_file(tw_tls_ctx *ctx, const char *ca_file)
{
    char why[200];
    int rc = readable(ctx, ca_file);
    if (rc < 0)
        return rc;
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx->ssl, ca_file, NULL) != 1) {
        tw__tls_openssl_reason(why, sizeof why, "cannot use the CA certificates");
        return fail(ctx, -EINVAL, "%s: %s", ca_file, why);
    }
    ctx->ca_loaded = true;
    return 0;
}

int tw_tls_ctx_use_test_cert(tw_tls_ctx *ctx, const char *names)
{
    X509 *cert;
    EVP_PKEY *key;
    int rc = tw__tls_test_cred(names, false, &cert, &key);
    if (rc < 0)
        return fail(ctx, rc, "cannot make the test certificate for '%s'",
                    names ? names : "");
    bool ok = SSL_CTX_use_certificate(ctx->ssl, cert) == 1 &&
              SSL_CTX_use_PrivateKey(ctx->ssl, key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok) {
        char why[200];
        tw__tls_openssl_reason(why, sizeof why, "test certificate");
        return fail(ctx, -ENOMEM, "%s", why);
    }
    return 0;
}

int tw_tls_ctx_trust_test_ca(tw_tls_ctx *ctx)
{
    X509 *ca;
    int rc = tw__tls_test_ca(&ca);
    if (rc < 0)
        return fail(ctx, rc, "cannot make the test CA");
    /* Adding it twice is no error (X509_STORE ignores duplicates). */
    rc = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx->ssl), ca) == 1 ? 0
                                                                       : -ENOMEM;
    X509_free(ca);
    ERR_clear_error();
    if (rc < 0)
        return fail(ctx, rc, "cannot trust the test CA");
    ctx->ca_loaded = true;
    return 0;
}

void tw__tls_ctx_default_trust(tw_tls_ctx *ctx)
{
    pthread_mutex_lock(&ctx->lock);
    if (ctx->verify && !ctx->ca_loaded && !ctx->defaults_loaded) {
        /* A system without a CA bundle simply trusts nothing. */
        SSL_CTX_set_default_verify_paths(ctx->ssl);
        ERR_clear_error();
        ctx->defaults_loaded = true;
    }
    pthread_mutex_unlock(&ctx->lock);
}

/* ---- verification, names, ALPN, timeout ---- */

int tw_tls_ctx_set_verify(tw_tls_ctx *ctx, bool on)
{
    int mode = SSL_VERIFY_NONE;
    if (on)
        mode = ctx->role == TW_TLS_SERVER
                   ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                   : SSL_VERIFY_PEER;
    SSL_CTX_set_verify(ctx->ssl, mode, NULL);
    ctx->verify = on;
    return 0;
}

int tw_tls_ctx_set_server_name(tw_tls_ctx *ctx, const char *name)
{
    char *copy = NULL;
    if (name && *name && !(copy = strdup(name)))
        return -ENOMEM;
    free(ctx->server_name);
    ctx->server_name = copy;
    return 0;
}

/* A server's choice: its own first preference that the client offers. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    tw_tls_ctx *ctx = arg;
    (void)ssl;
    unsigned char *pick;
    if (SSL_select_next_proto(&pick, outlen, ctx->alpn,
                              (unsigned)ctx->alpn_len, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = pick;
    return SSL_TLSEXT_ERR_OK;
}

int tw_tls_ctx_set_alpn(tw_tls_ctx *ctx, const char *protocols)
{
    size_t n = protocols ? strlen(protocols) : 0;
    unsigned char *wire = NULL;
    size_t len = 0;
    if (n) {
        /* "a,bc" -> "\1a\2bc": one length byte replaces each comma. */
        if (!(wire = malloc(n + 1)))
            return -ENOMEM;
        for (const char *p = protocols;;) {
            const char *end = strchr(p, ',');
            size_t k = end ? (size_t)(end - p) : strlen(p);
            if (k == 0 || k > 255) { /* "a,,b", "a,", over 255 */
                free(wire);
                return fail(ctx, -EINVAL, "bad ALPN list '%s'", protocols);
            }
            wire[len++] = (unsigned char)k;
            memcpy(wire + len, p, k);
            len += k;
            if (!end)
                break;
            p = end + 1;
        }
    }
    free(ctx->alpn);
    ctx->alpn = wire;
    ctx->alpn_len = len;
    if (ctx->role == TW_TLS_CLIENT) {
        /* 0 is success here, unlike the rest of OpenSSL. */
        if (SSL_CTX_set_alpn_protos(ctx->ssl, wire, (unsigned)len) != 0) {
            ERR_clear_error();
            return fail(ctx, -ENOMEM, "cannot set ALPN");
        }
    } else {
        SSL_CTX_set_alpn_select_cb(ctx->ssl, wire ? alpn_select : NULL, ctx);
    }
    return 0;
}

int tw_tls_ctx_set_handshake_timeout(tw_tls_ctx *ctx, tw_ns timeout)
{
    if (timeout <= 0)
        return -EINVAL;
    ctx->handshake_timeout = timeout;
    return 0;
}

/* ---- apps' options ---- */

int tw_tls_ctx_configure(tw_tls_ctx *ctx, const tw_tls_opts *o)
{
    int rc = 0;
    if (!ctx || !o)
        return -EINVAL;
    if (rc == 0 && o->test_cert)
        rc = tw_tls_ctx_use_test_cert(ctx, o->test_cert);
    if (rc == 0 && (o->cert_file || o->key_file))
        rc = tw_tls_ctx_load_cert_chain(ctx, o->cert_file, o->key_file);
    if (rc == 0 && o->ca_file)
        rc = tw_tls_ctx_load_verify_file(ctx, o->ca_file);
    if (rc == 0 && o->test_ca)
        rc = tw_tls_ctx_trust_test_ca(ctx);
    if (rc == 0 && o->server_name)
        rc = tw_tls_ctx_set_server_name(ctx, o->server_name);
    if (rc == 0 && o->alpn)
        rc = tw_tls_ctx_set_alpn(ctx, o->alpn);
    if (rc == 0 && o->no_verify)
        rc = tw_tls_ctx_set_verify(ctx, false);
    return rc;
}

/* ---- configurations shared by the runs of a process ----
 *
 * A sweep makes a world per seed and every world's apps their contexts:
 * an SSL_CTX, a certificate signed for the names, the trust store. None
 * of that depends on the seed (test credentials come from a fixed
 * generator, files are files), so the first context of a configuration
 * is kept as a template and later ones share its SSL_CTX. A template's
 * alpn_select callback points at the template, which is never freed
 * before exit, so the callback stays valid for every sharer. */

#define SHARED_MAX 16

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *key;
    tw_tls_ctx *tmpl;
} shared[SHARED_MAX];
static unsigned shared_n;

static void shared_free(void)
{
    for (unsigned i = 0; i < shared_n; i++) {
        free(shared[i].key);
        tw_tls_ctx_free(shared[i].tmpl);
    }
    shared_n = 0;
}

/* A file's identity for the key, "-" when not given; false when it cannot
 * be seen (then nothing is shared and configuring reports why). */
static bool file_id(const char *path, char *buf, size_t len)
{
    struct stat st;
    if (!path) {
        snprintf(buf, len, "-");
        return true;
    }
    if (stat(path, &st) < 0)
        return false;
    snprintf(buf, len, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    return true;
}

/* Every option as one string (malloc'd), NULL when not to be shared. */
static char *shared_key(tw_tls_role role, const tw_tls_opts *o)
{
    char cert[96], key[96], ca[96];
    if (!file_id(o->cert_file, cert, sizeof cert) ||
        !file_id(o->key_file, key, sizeof key) || !file_id(o->ca_file, ca, sizeof ca))
        return NULL;
    const char *f[] = {o->cert_file, o->key_file, o->ca_file, o->server_name,
                       o->alpn, o->test_cert};
    /* Each string with its length first, so no choice of bytes in one
     * can pass for another's. */
    size_t len = 64 + sizeof cert + sizeof key + sizeof ca;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        len += 24 + (f[i] ? strlen(f[i]) : 0);
    char *k = malloc(len);
    if (!k)
        return NULL;
    int n = snprintf(k, len, "%d %d %d %s %s %s", (int)role, o->no_verify,
                     o->test_ca, cert, key, ca);
    for (size_t i = 0; i < sizeof f / sizeof f[0] && n >= 0 && (size_t)n < len; i++)
        n += f[i] ? snprintf(k + n, len - (size_t)n, " %zu:%s", strlen(f[i]), f[i])
                  : snprintf(k + n, len - (size_t)n, " -");
    if (n < 0 || (size_t)n >= len) {
        free(k);
        return NULL;
    }
    return k;
}

/* A new context over tmpl's SSL_CTX and settings; NULL on ENOMEM. */
static tw_tls_ctx *share(tw_tls_ctx *tmpl)
{
    tw_tls_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (tmpl->server_name && !(c->server_name = strdup(tmpl->server_name))) {
        free(c);
        return NULL;
    }
    if (tmpl->alpn_len) {
        if (!(c->alpn = malloc(tmpl->alpn_len))) {
            free(c->server_name);
            free(c);
            return NULL;
        }
        memcpy(c->alpn, tmpl->alpn, tmpl->alpn_len);
        c->alpn_len = tmpl->alpn_len;
    }
    SSL_CTX_up_ref(tmpl->ssl);
    c->ssl = tmpl->ssl;
    c->role = tmpl->role;
    c->refs = 1;
    c->verify = tmpl->verify;
    c->ca_loaded = tmpl->ca_loaded;
    c->defaults_loaded = tmpl->defaults_loaded;
    c->handshake_timeout = tmpl->handshake_timeout;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

int tw_tls_ctx_new_shared(tw_tls_role role, const tw_tls_opts *opts,
                          tw_tls_ctx **out)
{
    *out = NULL;
    if (!opts)
        return -EINVAL;
    char *key = shared_key(role, opts);
    pthread_mutex_lock(&shared_lock);
    for (unsigned i = 0; key && i < shared_n; i++) {
        if (shared[i].tmpl->role == role && strcmp(shared[i].key, key) == 0) {
            *out = share(shared[i].tmpl);
            pthread_mutex_unlock(&shared_lock);
            free(key);
            return *out ? 0 : -ENOMEM;
        }
    }
    pthread_mutex_unlock(&shared_lock);
    tw_tls_ctx *ctx = tw_tls_ctx_new(role);
    if (!ctx) {
        free(key);
        return -ENOMEM;
    }
    int rc = tw_tls_ctx_configure(ctx, opts);
    if (rc < 0 || !key) {
        free(key);
        *out = ctx;
        return rc;
    }
    /* The system's CAs now rather than at the first connection: sharers
     * may connect from several threads, and the template is not changed
     * once shared. */
    tw__tls_ctx_default_trust(ctx);
    tw_tls_ctx *mine = share(ctx);
    if (!mine) {
        free(key);
        tw_tls_ctx_free(ctx);
        return -ENOMEM;
    }
    pthread_mutex_lock(&shared_lock);
    bool kept = false;
    for (unsigned i = 0; i < shared_n; i++)
        if (strcmp(shared[i].key, key) == 0)
            kept = true; /* another thread kept one meanwhile */
    if (!kept && shared_n < SHARED_MAX) {
        if (shared_n == 0)
            atexit(shared_free); /* after OpenSSL's own exit handler */
        shared[shared_n].key = key;
        shared[shared_n++].tmpl = ctx;
        key = NULL;
        ctx = NULL;
    }
    pthread_mutex_unlock(&shared_lock);
    free(key);
    tw_tls_ctx_free(ctx);
    *out = mine;
    return 0;
}
