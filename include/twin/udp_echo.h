/* twin/udp_echo.h - the reference text's UDP echo server and client, in C.
 *
 * Server: one protocol for the whole endpoint; every datagram goes back to
 * the address it came from, as the reference example does.
 * Client: sends its message `count` times on connection_made, counts the
 * echoes that come back, and closes once all came back. UDP may lose a
 * datagram (the simulator does on purpose): unlike the reference example,
 * which would wait forever, the client resends what is missing after
 * timeout_ns, at most `retries` times, and then gives up with -ETIMEDOUT.
 */
#ifndef TWIN_UDP_ECHO_H
#define TWIN_UDP_ECHO_H

#include <stdbool.h>
#include <stdio.h>

#include "twin/datagram.h"
#include "twin/loop.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_udp_echo_server_cfg {
    FILE *log; /* the reference example's prints, or NULL for silence */
    unsigned long long datagrams, bytes; /* counters, updated live */
} tw_udp_echo_server_cfg;

/* Factory for tw_create_datagram_endpoint: arg is a tw_udp_echo_server_cfg
 * that must outlive the endpoint. The protocol frees itself on release. */
tw_protocol *tw_udp_echo_server_factory(void *cfg);

typedef struct tw_udp_echo_client tw_udp_echo_client;
typedef void (*tw_udp_echo_done_cb)(tw_udp_echo_client *c, void *arg);

typedef struct tw_udp_echo_client_cfg {
    const char *message; /* copied; may be empty (zero-length datagrams) */
    size_t len;          /* bytes of message (strlen if 0) */
    unsigned count;      /* datagrams to send; 0 counts as 1 */
    tw_ns timeout_ns;    /* wait for the echoes before resending [1 s] */
    unsigned retries;    /* resends at most (0: none) */
    FILE *log;
    tw_udp_echo_done_cb on_done; /* after connection_lost, may be NULL */
    void *done_arg;
} tw_udp_echo_client_cfg;

/* A client owned by the caller (not freed on release): open it with
 * tw_create_datagram_endpoint(loop, tw_udp_echo_client_factory, c, &opts,
 * tw_udp_echo_client_connected) with opts.remote the server, then free it
 * with tw_udp_echo_client_free after on_done (or, if it never started,
 * at any time). NULL on ENOMEM. */
tw_udp_echo_client *tw_udp_echo_client_new(const tw_udp_echo_client_cfg *cfg);
tw_protocol *tw_udp_echo_client_factory(void *client);
void tw_udp_echo_client_connected(void *client, tw_transport *t, int err);
void tw_udp_echo_client_free(tw_udp_echo_client *c);

bool tw_udp_echo_client_done(const tw_udp_echo_client *c);
/* 0, -ETIMEDOUT (retries exhausted) or the endpoint's error. */
int tw_udp_echo_client_error(const tw_udp_echo_client *c);
/* Echoes equal to the message / other datagrams received; sends made
 * (retries included); the last error_received (0: none). */
unsigned tw_udp_echo_client_echoes(const tw_udp_echo_client *c);
unsigned tw_udp_echo_client_mismatches(const tw_udp_echo_client *c);
unsigned tw_udp_echo_client_sends(const tw_udp_echo_client *c);
int tw_udp_echo_client_last_error(const tw_udp_echo_client *c);
/* True if every echo came back intact and nothing failed. */
bool tw_udp_echo_client_ok(const tw_udp_echo_client *c);

#ifdef __cplusplus
}
#endif
#endif
