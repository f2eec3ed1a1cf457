/* tls/tls_info.c - what a TLS transport tells: its errors and extra info.
 *
 * Map: errors (an SSL call's failure as a negative errno and a sentence);
 * extra info (the reference text's SSL names and twin's own); freeing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "tls/tls_internal.h"

/* ---- errors ---- */

/* Alerts by which a peer says it refused our certificate (or wanted one). */
static bool cert_alert(int reason)
{
    switch (reason) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return true;
    default:
        return false;
    }
}

int tw__tls_error(tls_conn *c, int ssl_err, char *reason, size_t len)
{
    int code = -EPROTO;
    unsigned long e = ERR_peek_error(); /* the oldest: the cause */
    int lib = ERR_GET_LIB(e), r = ERR_GET_REASON(e);
    const char *text = e ? ERR_reason_error_string(e) : NULL;
    if (!text)
        text = "unknown";
    if (ssl_err == SSL_ERROR_ZERO_RETURN) {
        snprintf(reason, len, "the peer ended TLS (close_notify) during the handshake");
        code = -ECONNRESET;
    } else if (ssl_err != SSL_ERROR_SSL) {
        /* Memory BIOs never report a system error or an EOF themselves. */
        snprintf(reason, len, "TLS failure (SSL error %d: %s)", ssl_err, text);
    } else if (lib == ERR_LIB_SSL && r == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(c->ssl);
        snprintf(reason, len, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        code = -EKEYREJECTED;
    } else if (lib == ERR_LIB_SSL && cert_alert(r)) {
        snprintf(reason, len, "the peer refused the certificate: %s", text);
        code = -EKEYREJECTED;
    } else if (lib == ERR_LIB_SSL && r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        snprintf(reason, len, "the peer sent no certificate, and one is required");
        code = -EKEYREJECTED;
    } else {
        snprintf(reason, len, "TLS protocol error: %s", text);
    }
    ERR_clear_error();
    return code;
}

/* ---- extra info ---- */

static char *name_text(const X509_NAME *n)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s = NULL, *data;
    if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) >= 0) {
        long len = BIO_get_mem_data(b, &data);
        if (len >= 0 && (s = malloc((size_t)len + 1))) {
            memcpy(s, data, (size_t)len);
            s[len] = '\0';
        }
    }
    BIO_free(b);
    return s;
}

/* Made once, on the first question: most protocols never ask. */
static int peercert(tls_conn *c, tw_extra *out)
{
    if (!c->peer_der) {
        X509 *x = SSL_get0_peer_certificate(c->ssl);
        if (!x)
            return -ENOENT;
        unsigned char *der = NULL;
        int n = i2d_X509(x, &der);
        char *subject = name_text(X509_get_subject_name(x));
        char *issuer = name_text(X509_get_issuer_name(x));
        ERR_clear_error();
        if (n <= 0 || !subject || !issuer) {
            OPENSSL_free(der);
            free(subject);
            free(issuer);
            return -ENOMEM;
        }
        c->peer_der = der;
        c->peer_subject = subject;
        c->peer_issuer = issuer;
        c->peercert = (tw_tls_peercert){
            .subject = subject,
            .issuer = issuer,
            .der = der,
            .der_len = (size_t)n,
            .verified = c->ctx->verify && SSL_get_verify_result(c->ssl) == X509_V_OK,
        };
    }
    out->type = TW_EXTRA_PTR;
    out->v.ptr = &c->peercert;
    return 0;
}

static int cipher(tls_conn *c, tw_extra *out)
{
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    if (!ci)
        return -ENOENT;
    c->cipher = (tw_tls_cipher){
        .name = SSL_CIPHER_get_name(ci),
        .version = SSL_CIPHER_get_version(ci),
        .secret_bits = SSL_CIPHER_get_bits(ci, NULL),
    };
    out->type = TW_EXTRA_PTR;
    out->v.ptr = &c->cipher;
    return 0;
}

static int alpn(tls_conn *c, tw_extra *out)
{
    const unsigned char *p;
    unsigned len;
    SSL_get0_alpn_selected(c->ssl, &p, &len);
    if (!len)
        return -ENOENT;
    if (!c->alpn) {
        if (!(c->alpn = malloc(len + 1)))
            return -ENOMEM;
        memcpy(c->alpn, p, len);
        c->alpn[len] = '\0';
    }
    out->type = TW_EXTRA_STR;
    out->v.str = c->alpn;
    return 0;
}

int tw__tls_extra_info(tw_transport *t, const char *name, tw_extra *out)
{
    tls_conn *c = (tls_conn *)t;
    if (strcmp(name, "sslcontext") == 0) {
        out->type = TW_EXTRA_PTR;
        out->v.ptr = c->ctx;
        return 0;
    }
    if (strcmp(name, "ssl_error") == 0) {
        if (!c->reason)
            return -ENOENT;
        out->type = TW_EXTRA_STR;
        out->v.str = c->reason;
        return 0;
    }
    if (strcmp(name, "close_notify") == 0) {
        out->type = TW_EXTRA_INT;
        out->v.i = c->close_notify;
        return 0;
    }
    bool ssl_name = strcmp(name, "ssl_object") == 0 || strcmp(name, "peercert") == 0 ||
                    strcmp(name, "cipher") == 0 || strcmp(name, "compression") == 0 ||
                    strcmp(name, "alpn") == 0;
    if (ssl_name && !c->ssl)
        return -ENOENT;
    if (strcmp(name, "ssl_object") == 0) {
        out->type = TW_EXTRA_PTR;
        out->v.ptr = c->ssl;
        return 0;
    }
    if (strcmp(name, "peercert") == 0)
        return peercert(c, out);
    if (strcmp(name, "cipher") == 0)
        return cipher(c, out);
    if (strcmp(name, "compression") == 0) {
        out->type = TW_EXTRA_NONE; /* asyncio's None: never compressed */
        return 0;
    }
    if (strcmp(name, "alpn") == 0)
        return alpn(c, out);
    /* "socket" and the like: the connection under it. */
    return c->inner ? tw_transport_get_extra_info(c->inner, name, out) : -ENOENT;
}

void tw__tls_info_free(tls_conn *c)
{
    OPENSSL_free(c->peer_der);
    free(c->peer_subject);
    free(c->peer_issuer);
    free(c->alpn);
    c->peer_der = NULL;
    c->peer_subject = c->peer_issuer = c->alpn = NULL;
}
