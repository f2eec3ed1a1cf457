/* twin/tls.h - TLS transports (the reference text's SSL transports), on
 * both backends, with OpenSSL.
 *
 * Map:
 *   1. the context: a thin wrapper over OpenSSL's SSL_CTX
 *   2. apps' options in one struct
 *   3. test credentials (in memory, deterministic, INSECURE)
 *   4. connections and servers
 *   5. what a TLS transport tells: extra info, its error
 *
 * A protocol asks for TLS by connecting (or listening) with a context;
 * it gets the same Transport and Protocol callbacks, encrypted. The TLS
 * layer sits between a plain stream transport of either backend and the
 * protocol, moving records through memory BIOs, so the same layer runs on
 * epoll and on the simulated network (whose faults the handshake and the
 * records then cross).
 *
 * What differs from a plain stream, as the reference text says for SSL:
 * - connection_made comes after the handshake; a client's connect
 *   completion after it. The factory is called only then, so a failed
 *   handshake never makes a protocol: a client learns it from its connect
 *   completion, cb(arg, NULL, err) (asyncio raises it from
 *   create_connection), a server from the context's error callback. A
 *   failure after connection_made (a TLS 1.3 server rejecting the
 *   client's certificate, a bad record, an alert) arrives as
 *   connection_lost(err). Every failure leaves a reason string: the
 *   transport's (tw_transport_tls_error, valid until connection_lost
 *   returns) and the context's last one (tw_tls_ctx_error). A failed
 *   handshake sends its alert, then EOF, and closes once the peer has
 *   closed too (at most 1 s later), so the alert is not lost to a reset.
 * - write_eof returns -ENOTSUP and can_write_eof is false: TLS has no
 *   half-close. eof_received returning true still closes the transport.
 * - close() flushes, sends close_notify, then closes the connection
 *   under it after that flush; connection_lost(0) follows once it is
 *   closed. abort() sends nothing. An EOF from the peer without
 *   close_notify is an EOF (asyncio's rule), and extra info
 *   "close_notify" says which it was.
 * - data_received gets whole records (one or several, never a part of
 *   one), as asyncio's SSL transport does: a simulated world's cut
 *   deliveries (tw_sim_opts.chunk_split_probability) cut the encrypted
 *   stream under them, so the plaintext is cut where the peer's writes
 *   were (and every 16 KiB within a long one).
 * - Flow control is the plain stream's: the write buffer size counts the
 *   plaintext not yet encrypted plus the records not yet taken by the
 *   connection under it; pause_writing and resume_writing follow the same
 *   marks. pause_reading stops reading the connection under it too.
 *
 * Errors (negative errno, twin/error.h):
 *   -EKEYREJECTED  a certificate was refused: the peer's failed
 *                  verification (untrusted, expired, wrong name), or the
 *                  peer refused ours (its alert), or none was given
 *   -EPROTO        not TLS or a broken exchange (a plain-text peer, an
 *                  unexpected message, a bad record, any other alert)
 *   -ECONNRESET    the peer closed the connection during the handshake
 *   -ETIMEDOUT     the handshake did not finish in time
 *   and the errors of the connection under it.
 *
 * Determinism: on a simulated loop every random byte OpenSSL draws for a
 * connection comes from a generator seeded by the world's seed, the node
 * and the connection, and session tickets are off; the same seed gives
 * the same handshake bytes and the same trace hash. Real loops use
 * OpenSSL's own randomness. (The simulated draws are made through a
 * process-wide RAND_METHOD that is installed only while a simulated
 * connection is inside OpenSSL; a real loop's TLS on another thread at
 * that moment draws from OpenSSL's public generator instead of its
 * private one.)
 *
 * Threads: a context may be shared by loops of several threads once it
 * is configured; its error string is then the last one of any thread.
 */
#ifndef TWIN_TLS_H
#define TWIN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"
#include "twin/net.h"
#include "twin/opts.h"
#include "twin/protocol.h"
#include "twin/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. the context */

typedef struct tw_tls_ctx tw_tls_ctx;

typedef enum tw_tls_role {
    TW_TLS_CLIENT = 1, /* verifies the server against the system's CAs */
    TW_TLS_SERVER = 2, /* asks no certificate of clients */
} tw_tls_role;

/* A new context (TLS 1.2 and 1.3, no compression, no renegotiation, no
 * session tickets). NULL on ENOMEM.
 * Ownership: reference counted. The caller holds one reference and drops
 * it with tw_tls_ctx_free; every server and connection made with the
 * context holds its own, so the caller may free it as soon as it has
 * started them. Configure it before its first use. */
tw_tls_ctx *tw_tls_ctx_new(tw_tls_role role);
void tw_tls_ctx_free(tw_tls_ctx *ctx); /* NULL is ignored */
tw_tls_role tw_tls_ctx_role(const tw_tls_ctx *ctx);

/* Certificate chain (PEM, leaf first) and its private key (PEM; NULL:
 * in cert_file). A server needs one; a client may present one.
 * 0, -ENOENT (a file is missing), -EINVAL (not PEM, key and certificate
 * do not match), -ENOMEM. tw_tls_ctx_error says which and why. */
int tw_tls_ctx_load_cert_chain(tw_tls_ctx *ctx, const char *cert_file,
                               const char *key_file);
/* Trust the CA certificates in ca_file (PEM) instead of the system's.
 * 0, -ENOENT, -EINVAL. May be called more than once: all are trusted. */
int tw_tls_ctx_load_verify_file(tw_tls_ctx *ctx, const char *ca_file);
/* Verify the peer (default: on for a client, off for a server; on for a
 * server means a client certificate is required). 0. */
int tw_tls_ctx_set_verify(tw_tls_ctx *ctx, bool on);
/* The name a client sends (SNI) and checks the server's certificate
 * against (a DNS name, or an IP address, which is checked but not
 * sent). NULL (default): the host given to tw_create_connection_tls.
 * Copied. 0 or -ENOMEM. */
int tw_tls_ctx_set_server_name(tw_tls_ctx *ctx, const char *name);
/* ALPN protocols in order of preference, comma separated ("h2,http/1.1").
 * A server picks its first one the client offers; no overlap: no ALPN.
 * NULL or "": none. 0, -EINVAL (a name empty or over 255 bytes), -ENOMEM. */
int tw_tls_ctx_set_alpn(tw_tls_ctx *ctx, const char *protocols);
/* A handshake not done within timeout ns fails with -ETIMEDOUT [60 s,
 * asyncio's]. 0, or -EINVAL for timeout <= 0. */
int tw_tls_ctx_set_handshake_timeout(tw_tls_ctx *ctx, tw_ns timeout);

/* The reason of the last failure of a call on ctx or of a handshake made
 * with it ("certificate verify failed: Hostname mismatch"); "" if none.
 * Valid until the next failure. */
const char *tw_tls_ctx_error(const tw_tls_ctx *ctx);
/* Called from the loop for every failed handshake of a connection made
 * with ctx, client or server side, with its error and reason (valid
 * during the call). NULL: none. */
typedef void (*tw_tls_error_cb)(void *arg, int err, const char *reason);
void tw_tls_ctx_set_error_cb(tw_tls_ctx *ctx, tw_tls_error_cb cb, void *arg);
/* Failed handshakes so far. */
uint64_t tw_tls_ctx_failures(const tw_tls_ctx *ctx);

/* The SSL_CTX *, for settings twin does not wrap (cast it). Changing it
 * after the first connection is the caller's risk, as in OpenSSL. */
void *tw_tls_ctx_ssl_ctx(tw_tls_ctx *ctx);

/* ------------------------------------------------------------------ */
/* 2. apps' options: what `twin run` and scenario files give. Zero in a
 * field means "not given". */

typedef struct tw_tls_opts {
    const char *cert_file;  /* --tls-cert */
    const char *key_file;   /* --tls-key (NULL: in cert_file) */
    const char *ca_file;    /* --tls-ca: trust these instead of the system */
    const char *server_name;/* --tls-name */
    const char *alpn;       /* --tls-alpn */
    bool no_verify;         /* --tls-no-verify */
    /* --tls-test-cert NAMES: use twin's test certificate for these names
     * (section 3; INSECURE). */
    const char *test_cert;
    /* --tls-test-ca: trust twin's test CA (section 3; INSECURE). */
    bool test_ca;
} tw_tls_opts;

/* Apply every given field to ctx. 0, or the first error (the reason in
 * tw_tls_ctx_error). */
int tw_tls_ctx_configure(tw_tls_ctx *ctx, const tw_tls_opts *opts);

/* A new context for role configured as opts says, whose OpenSSL context,
 * certificates, keys and trust are made once per process: the first call
 * with the same role and options (files: the same path, inode, size and
 * modification time) makes them, later calls share them. What is the
 * caller's own: the error callback, the failure count, the last error,
 * the handshake timeout. A shared context's settings (the setters above)
 * are not to be changed: the other sharers would see it. For apps that
 * make a context per run, as every simulated world does (making an
 * OpenSSL context and a test certificate costs far more than a world).
 * Up to 16 configurations are kept; past that each call makes its own.
 * 0 and *ctx; or a negative errno with *ctx a context whose
 * tw_tls_ctx_error says why (the caller frees it), NULL on -ENOMEM. */
int tw_tls_ctx_new_shared(tw_tls_role role, const tw_tls_opts *opts,
                          tw_tls_ctx **ctx);

/* The same options on an app's command line (twin/app.h, twin/opts.h),
 * as the built-in apps take them: keep a tw_tls_app in the app's options
 * struct and include one of the tables below at its offset,
 *
 *     typedef struct srv_opts { uint16_t port; tw_tls_app tls; } srv_opts;
 *     static const tw_opt srv_table[] = {
 *         {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, srv_opts, port)},
 *         {.kind = TW_OPT_INCLUDE, .sub = tw_tls_server_opts,
 *          .off = offsetof(srv_opts, tls)},
 *         {0},
 *     };
 *
 * then ask tw_tls_app_ctx for the context once the options are parsed. */
typedef struct tw_tls_app {
    tw_tls_opts opts;
    bool tls; /* --tls: TLS with nothing else to say (clients) */
} tw_tls_app;

/* --tls-cert, --tls-key, --tls-test-cert (servers); --tls, --tls-ca,
 * --tls-no-verify, --tls-name, --tls-test-ca (clients): offsets into a
 * tw_tls_app. */
extern const tw_opt tw_tls_server_opts[];
extern const tw_opt tw_tls_client_opts[];

/* True when some TLS option was given. */
bool tw_tls_app_on(const tw_tls_app *a);

/* The context the options ask for (the caller frees it; made once per
 * process for the same options, as tw_tls_ctx_new_shared does, so each
 * world of a sweep does not make its own), or NULL: with *err 0 when no
 * TLS option was given, else with a negative *err after a message
 * "APP: ..." to out (-EINVAL: --tls-key without --tls-cert, a bad option
 * for which `twin run` prints the usage; -EBADMSG: files that are not a
 * certificate and its key; -ENOENT; -ENOMEM). Unless quiet, every failed
 * handshake is reported to out as "TLS handshake failed: REASON" (out
 * must outlive the context: an app's output does). */
tw_tls_ctx *tw_tls_app_ctx(const tw_tls_app *a, tw_tls_role role, const char *app,
                           FILE *out, bool quiet, int *err);

/* ------------------------------------------------------------------ */
/* 3. test credentials
 *
 * twin carries a test CA and makes certificates it signs, in memory, from
 * a fixed seed: the same keys and bytes in every process and on every
 * machine, so simulated runs replay exactly and tests need no files.
 * INSECURE by construction: anyone can make the same private keys. For
 * tests and simulations only; never for a service.
 *
 * names: comma separated DNS names and IP addresses, the first is also
 * the subject's CN ("localhost,127.0.0.1"). ECDSA P-256 keys, valid from
 * 2020 to 2049. */

/* Use the test certificate for names (signed by the test CA) and its key.
 * 0, -EINVAL (no names), -ENOMEM. */
int tw_tls_ctx_use_test_cert(tw_tls_ctx *ctx, const char *names);
/* Trust the test CA. 0 or -ENOMEM. */
int tw_tls_ctx_trust_test_ca(tw_tls_ctx *ctx);

/* The same as PEM text, to write to files: the test certificate for
 * names and its private key (self_signed: not issued by the test CA, so
 * nobody trusts it), and the test CA's certificate. The strings are
 * malloc'd: the caller frees them. 0, -EINVAL, -ENOMEM. */
int tw_tls_test_cert_pem(const char *names, bool self_signed, char **cert_pem,
                         char **key_pem);
int tw_tls_test_ca_pem(char **cert_pem);

/* ------------------------------------------------------------------ */
/* 4. connections and servers: twin/net.h's calls with a context (a
 * reference is taken). Everything else is theirs: the outcome of a
 * client (cb after connection_made, or cb(arg, NULL, err) and the factory
 * never called: a refused connection or a failed handshake alike), the
 * server's opts, ownership and tw_server_* queries. */

int tw_create_connection_tls(tw_loop *loop, tw_protocol_factory factory,
                             void *arg, const char *host, uint16_t port,
                             tw_tls_ctx *ctx, tw_connect_cb cb);

/* With tw_create_connection_ex's options (opts NULL: none): a connect
 * timeout, Happy Eyeballs, a local address, the report of the attempts.
 * The timeout ends with the TCP connect; the handshake after it has the
 * context's own (tw_tls_ctx_set_handshake_timeout). */
int tw_create_connection_tls_ex(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const char *host, uint16_t port,
                                const tw_connect_opts *opts, tw_tls_ctx *ctx,
                                tw_connect_cb cb);

/* TLS over a Unix socket (asyncio's create_unix_connection(ssl=...)),
 * on both backends. There is no host name to check the certificate
 * against: a verifying context needs one given with
 * tw_tls_ctx_set_server_name, else -EINVAL (asyncio: "you have to pass
 * server_hostname"); without verification none is needed. */
int tw_create_unix_connection_tls(tw_loop *loop, tw_protocol_factory factory,
                                  void *arg, const char *path,
                                  tw_tls_ctx *ctx, tw_connect_cb cb);

/* TLS over a stream socket the caller connected or accepted (asyncio's
 * create_connection(sock=..., ssl=...), and connect_accepted_socket(...,
 * ssl=...), the server's side of the handshake, ctx a TW_TLS_SERVER
 * one). fd's ownership and the errors are tw_create_connection_fd's
 * (real backend only: -ENOTSUP on a simulated node); the client's name
 * rule is the Unix client's. For the server side, cb runs after the
 * handshake, as for a client (cb(arg, NULL, err) if it failed). */
int tw_create_connection_fd_tls(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, int fd, tw_tls_ctx *ctx,
                                tw_connect_cb cb);
int tw_connect_accepted_socket_tls(tw_loop *loop, tw_protocol_factory factory,
                                   void *arg, int fd, tw_tls_ctx *ctx,
                                   tw_connect_cb cb);

/* tw_server_accepted counts TCP connections accepted (handshakes that
 * fail included). */
int tw_create_server_tls(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, const char *host, uint16_t port,
                         const tw_server_opts *opts, tw_tls_ctx *ctx,
                         tw_server **out);

/* A TLS server on a Unix path (asyncio's create_unix_server(ssl=...));
 * the path's rules are tw_create_unix_server's. */
int tw_create_unix_server_tls(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const char *path,
                              const tw_server_opts *opts, tw_tls_ctx *ctx,
                              tw_server **out);

/* ------------------------------------------------------------------ */
/* 5. what a TLS transport tells
 *
 * tw_transport_get_extra_info names (values valid while the transport
 * is), besides "peername", "sockname" and "socket" of the connection
 * under it:
 *   "sslcontext"   PTR  the tw_tls_ctx *
 *   "ssl_object"   PTR  the SSL * (OpenSSL's)
 *   "peercert"     PTR  a const tw_tls_peercert *; -ENOENT if the peer
 *                       sent none (a client, unless asked)
 *   "cipher"       PTR  a const tw_tls_cipher *
 *   "compression"  NONE (0 returned: asyncio's None, no compression)
 *   "alpn"         STR  the protocol agreed; -ENOENT if none
 *   "close_notify" INT  1 once the peer's close_notify arrived, else 0
 *   "ssl_error"    STR  the reason of the failure; -ENOENT if none
 */

typedef struct tw_tls_peercert {
    const char *subject; /* RFC 2253 text: "CN=localhost,O=twin test" */
    const char *issuer;
    const uint8_t *der;  /* the certificate, DER */
    size_t der_len;
    bool verified;       /* verification was on and it passed */
} tw_tls_peercert;

typedef struct tw_tls_cipher {
    const char *name;    /* "TLS_AES_256_GCM_SHA384" */
    const char *version; /* the protocol that defines it: "TLSv1.3" */
    int secret_bits;
} tw_tls_cipher;

/* True for a TLS transport. */
bool tw_transport_is_tls(const tw_transport *t);
/* The reason a TLS transport failed ("tlsv13 alert certificate
 * required"), NULL if it did not (or t is not TLS). */
const char *tw_transport_tls_error(const tw_transport *t);

#ifdef __cplusplus
}
#endif
#endif
