/* kv.h - lkv, a line key-value protocol, written once against twin's
 * Transport/Protocol API and run unchanged on the epoll backend and on a
 * simulated network.
 *
 * The wire: one request per line, one reply per line.
 *
 *     SET key value\n   ->  OK\n
 *     GET key\n         ->  VALUE value\n   or   NIL\n
 *     anything else     ->  ERR what\n
 *
 * Keys and values are words (no spaces), a line is at most KV_LINE_MAX
 * bytes; a longer line gets "ERR line too long" and the connection closes.
 *
 * The client does `ops` rounds of "SET k<i> v<i>, then GET k<i>" and
 * checks each GET. A connection that fails, or a reply later than the
 * reply timeout, is dropped; the client connects again after a delay that
 * doubles up to 1 s and starts the round in progress again from its SET.
 */
#ifndef KV_H
#define KV_H

#include <stdbool.h>
#include <stdint.h>

#include <twin/twin.h>

#define KV_LINE_MAX 256
#define KV_KEYS_MAX 1024

/* ---- the server ---- */

typedef struct kv_store kv_store;

/* A store of at most KV_KEYS_MAX keys; NULL if out of memory. Each
 * connection holds it too: kv_store_free lets go of the caller's hold, and
 * the store goes when the last connection has been released. */
kv_store *kv_store_new(void);
void kv_store_free(kv_store *s);
size_t kv_store_size(const kv_store *s);

/* Server factory for tw_create_server: arg is the kv_store. Each
 * protocol holds the store and frees itself on release. */
tw_protocol *kv_server_factory(void *store);

/* ---- the client ---- */

typedef struct kv_client kv_client;

typedef struct kv_client_cfg {
    const char *host;      /* copied */
    uint16_t port;
    unsigned ops;          /* SET+GET rounds to complete */
    tw_ns reply_timeout;   /* 0: wait for a reply for ever */
    tw_ns retry;           /* first delay before connecting again */
    FILE *log;             /* what happens, or NULL */
} kv_client_cfg;

/* Start connecting; NULL if out of memory. */
kv_client *kv_client_start(tw_loop *loop, const kv_client_cfg *cfg);
/* True once every round was checked. */
bool kv_client_done(const kv_client *c);
/* NULL while every GET returned what the round's SET stored, else a
 * sentence saying what came back instead. */
const char *kv_client_violation(const kv_client *c);
/* Connections made and attempts failed so far. */
unsigned kv_client_connections(const kv_client *c);
unsigned kv_client_failures(const kv_client *c);
/* Stop (the loop still runs): close the connection, cancel the timers. */
void kv_client_free(kv_client *c);
/* Free after a simulated crash tore the loop down: touch nothing on it. */
void kv_client_discard(kv_client *c);

/* Register the apps kv-server and kv-client (kv_app.c). */
int kv_register_apps(void);

#endif
