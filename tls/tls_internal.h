/* tls/tls_internal.h - what the files of the TLS layer share.
 *
 * Map:
 *   1. the context behind tw_tls_ctx (tls_ctx.c)
 *   2. randomness scopes: a loop's generator for OpenSSL (tls_rand.c)
 *   3. test credentials and their fixed generator (tls_cred.c)
 *   4. a TLS connection: the outer transport (tls.c), its queries and
 *      errors (tls_info.c), its creation (tls_net.c)
 *
 * Files of tls/ only; OpenSSL's headers come in here and nowhere public.
 * The layer sits on core's streams (core/internal.h: transports, loop
 * ops); core/ knows nothing of it.
 */
#ifndef TWIN_TLS_INTERNAL_H
#define TWIN_TLS_INTERNAL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/internal.h"
#include "twin/tls.h"

/* ------------------------------------------------------------------ */
/* 1. the context */

struct tw_tls_ctx {
    SSL_CTX *ssl;
    tw_tls_role role;
    unsigned refs;          /* atomically: contexts cross threads */
    bool verify;
    bool ca_loaded;         /* a CA was given: the system's are not used */
    bool defaults_loaded;   /* the system's CAs are in the store */
    char *server_name;      /* NULL: the host connected to */
    unsigned char *alpn;    /* wire format: length-prefixed names */
    size_t alpn_len;
    tw_ns handshake_timeout;
    tw_tls_error_cb error_cb;
    void *error_arg;
    uint64_t failures;
    pthread_mutex_t lock;   /* guards err */
    char err[256];
};

void tw__tls_ctx_ref(tw_tls_ctx *ctx);
/* Before a connection: a verifying context given no CA trusts the
 * system's (loaded once). */
void tw__tls_ctx_default_trust(tw_tls_ctx *ctx);
/* Record a failure's reason on ctx (and count a failed handshake when
 * handshake is set, calling the error callback). */
void tw__tls_ctx_fail(tw_tls_ctx *ctx, int err, const char *reason,
                      bool handshake);
/* "what: OpenSSL's reason" from the thread's error queue, which it
 * empties. */
void tw__tls_openssl_reason(char *buf, size_t len, const char *what);

/* ------------------------------------------------------------------ */
/* 2. randomness. Every OpenSSL call made for a connection whose loop
 * lends a generator (tw__loop_ops.rand_stream: a simulated one) runs
 * inside a scope whose source is that generator: OpenSSL's random bytes
 * then come from it. src NULL: a scope that changes nothing (the loop
 * lends none). Scopes nest. */

typedef struct tw__tls_scope {
    tw__rand *prev;
    bool installed;
} tw__tls_scope;

void tw__tls_rand_enter(tw__tls_scope *s, tw__rand *src);
void tw__tls_rand_leave(tw__tls_scope *s);

/* ------------------------------------------------------------------ */
/* 3. test credentials: new references the caller frees (X509_free,
 * EVP_PKEY_free). 0, -EINVAL, -ENOMEM. */

int tw__tls_test_cred(const char *names, bool self_signed, X509 **cert,
                      EVP_PKEY **key);
/* The test CA's certificate, a new reference. */
int tw__tls_test_ca(X509 **cert);

/* The credentials' fixed generator, the same draws on every machine and
 * in every world: xoshiro256** with its state filled by splitmix64 from
 * seed and stream, as twin/sim.h spells out (the draws of
 * tw_sim_prng_seed(p, seed, stream) and tw_sim_prng_next). */
void tw__tls_rand_fixed(tw__rand *r, uint64_t seed, unsigned stream);

/* ------------------------------------------------------------------ */
/* 4. a connection */

typedef enum tls_state {
    TLS_CONNECTING = 0, /* client: the connection under it is being made */
    TLS_HANDSHAKE,      /* SSL_do_handshake until it is done */
    TLS_OPEN,           /* the protocol has it */
    TLS_CLOSING,        /* close_notify sent, the inner is closing */
    TLS_FAILED,         /* the handshake failed; the inner is closing */
} tls_state;

typedef struct tls_link tls_link;

typedef struct tls_conn {
    tw_transport base;     /* the outer transport: first */
    tw_transport *inner;   /* the stream under it; NULL once gone */
    tls_link *link;        /* the inner's protocol; NULL once gone */
    tw_tls_ctx *ctx;       /* a reference */
    SSL *ssl;
    BIO *in;               /* network -> SSL: memory BIO, ssl owns it */
    BIO *out;              /* SSL -> network: our half of a BIO pair */
    tls_state state;
    bool server;
    bool lent;             /* draw OpenSSL's randomness from rng */
    bool blocked;          /* the inner holds records it could not send */
    bool want_write;       /* the core armed writing on the outer */
    bool inner_eof;        /* the peer closed its side of the inner */
    bool close_notify;     /* the peer's close_notify arrived */
    bool linger;           /* the inner is closed, not aborted, at the end */
    bool opening;          /* inside tw__transport_open */
    bool link_given;       /* the inner has the link: it frees it */
    tw_handle drain_h;     /* a deferred read pass */
    tw_handle kick_h;      /* a deferred writable */
    tw_handle timer_h;     /* the handshake's deadline, then the linger */
    /* Until the handshake is done: what makes the protocol. */
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    char *server_name;     /* client: the name checked and sent */
    /* Queries, made on first use. */
    tw_tls_peercert peercert;
    char *peer_subject, *peer_issuer;
    uint8_t *peer_der;
    tw_tls_cipher cipher;
    char *alpn;
    char *reason;          /* why it failed; NULL if it did not */
    tw__rand rng;          /* the loop's generator, if it lends one */
} tls_conn;

/* tls.c: a new connection (server: for an inner being accepted; client:
 * for an inner about to be made), and the protocol to put on its inner
 * (the link). NULL on ENOMEM. The outer transport is not counted yet:
 * tw__tls_conn_start does that (and from then on the loop owns it), or
 * tw__tls_conn_discard undoes the new (a connect that failed at once). */
tls_conn *tw__tls_conn_new(tw_loop *loop, tw_tls_ctx *ctx, bool server,
                           const char *server_name,
                           tw_protocol_factory factory, void *arg,
                           tw_connect_cb cb);
void tw__tls_conn_start(tls_conn *c);
/* OpenSSL's key log callback (every context has it): the line goes to
 * the connection's loop, when its backend keeps secrets. */
void tw__tls_keylog(const SSL *ssl, const char *line);
void tw__tls_conn_discard(tls_conn *c);
tw_protocol *tw__tls_link(tls_conn *c);
/* Factory for the client's inner (arg: the tls_conn): its link. */
tw_protocol *tw__tls_link_factory(void *arg);
/* The client's inner connect completion (arg: the tls_conn). */
void tw__tls_connected(void *arg, tw_transport *inner, int err);
extern const tw__transport_ops tw__tls_ops;

/* tls_info.c: extra info; the reason and error of a failed SSL call
 * (ssl_err from SSL_get_error, the thread's error queue is read and
 * emptied); a failed handshake's summary for the peer that stopped it. */
int tw__tls_extra_info(tw_transport *t, const char *name, tw_extra *out);
int tw__tls_error(tls_conn *c, int ssl_err, char *reason, size_t len);
void tw__tls_info_free(tls_conn *c);

/* A record's plaintext at most, and a TLS record on the wire at most. */
#define TW__TLS_RECORD_MAX 16384
#define TW__TLS_WRITE_CHUNK (4 * TW__TLS_RECORD_MAX)
/* The outgoing ring: a write chunk's records (or a handshake flight; a
 * larger one goes out in parts). */
#define TW__TLS_RING (TW__TLS_WRITE_CHUNK + 4096)
#define TW__TLS_HANDSHAKE_TIMEOUT TW_SEC(60)
/* After a failed handshake, how long the peer has to close after our
 * alert before we close anyway. */
#define TW__TLS_LINGER TW_SEC(1)

#endif
