/* twin/echo.h - the reference text's TCP echo server and client, in C.
 *
 * Server: echoes what it receives, then closes the connection (as the
 * reference example does) unless keep_open is set, in which case it keeps
 * echoing until the peer closes (what benchmarks need). It stops reading
 * while its write buffer is over the high-water mark (pause_writing) and
 * reads again once it drains (resume_writing), so a peer that does not
 * read cannot make it buffer without bound.
 * Client: sends its message `count` times on connect, collects the echo,
 * closes once everything came back (or when the server closes first), and
 * reports through on_done.
 */
#ifndef TWIN_ECHO_H
#define TWIN_ECHO_H

#include <stdbool.h>
#include <stdio.h>

#include "twin/net.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_echo_server_cfg {
    bool keep_open;
    FILE *log; /* the reference example's prints, or NULL for silence */
    unsigned long long connections, bytes; /* counters, updated live */
} tw_echo_server_cfg;

/* Factory for tw_create_server: arg is a tw_echo_server_cfg that must
 * outlive every connection. Each protocol frees itself on release. */
tw_protocol *tw_echo_server_factory(void *cfg);

typedef struct tw_echo_client tw_echo_client;
typedef void (*tw_echo_done_cb)(tw_echo_client *c, void *arg);

typedef struct tw_echo_client_cfg {
    const char *message; /* copied */
    size_t len;          /* bytes of message (strlen if 0) */
    unsigned count;      /* sends of message; 0 counts as 1 */
    FILE *log;
    tw_echo_done_cb on_done; /* after connection_lost, may be NULL */
    void *done_arg;
} tw_echo_client_cfg;

/* A client protocol owned by the caller (not freed on release): connect it
 * with tw_create_connection(loop, tw_echo_client_factory, c, ...), then
 * free it with tw_echo_client_free after on_done. NULL on ENOMEM. */
tw_echo_client *tw_echo_client_new(const tw_echo_client_cfg *cfg);
tw_protocol *tw_echo_client_factory(void *client);
void tw_echo_client_free(tw_echo_client *c);

/* What came back, how it ended. */
const uint8_t *tw_echo_client_received(const tw_echo_client *c, size_t *len);
bool tw_echo_client_done(const tw_echo_client *c);
int tw_echo_client_error(const tw_echo_client *c); /* connection_lost's err
                                                     or the connect error */
/* True if every byte sent came back, in order. */
bool tw_echo_client_ok(const tw_echo_client *c);
/* The connect completion to pass to tw_create_connection with the client
 * as arg: records a connect failure and fires on_done. */
void tw_echo_client_connected(void *client, tw_transport *t, int err);

#ifdef __cplusplus
}
#endif
#endif
