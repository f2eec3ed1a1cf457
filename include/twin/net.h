/* twin/net.h - making connections and servers (loop.create_* of asyncio).
 *
 * All of these return at once. Name resolution never blocks the loop.
 * On both backends addresses are tw_addr values; on the simulated backend
 * hosts are the simulated nodes' addresses, and the fd-based calls
 * (tw_create_connection_fd, tw_connect_accepted_socket) return -ENOTSUP.
 *
 * Client outcome: when connected, the factory makes the protocol, its
 * connection_made runs from the loop, and then cb(arg, transport, 0) runs.
 * On failure cb(arg, NULL, err) runs from the loop and the factory is never
 * called. If the call itself returns an error, cb is never called.
 * factory and cb share `arg`. cb may be NULL.
 */
#ifndef TWIN_NET_H
#define TWIN_NET_H

#include <stdint.h>

#include "twin/addr.h"
#include "twin/loop.h"
#include "twin/protocol.h"
#include "twin/transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_server tw_server;

typedef void (*tw_connect_cb)(void *arg, tw_transport *t, int err);

/* TCP client to host:port. host may be numeric or a name (resolved off the
 * loop thread on the real backend). Tries each resolved address in turn.
 * A name that does not resolve: cb gets one of TW_EAI_* (twin/error.h),
 * TW_EAI_NONAME for a name that is unknown. */
int tw_create_connection(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, const char *host, uint16_t port,
                         tw_connect_cb cb);

/* Client to an address (TCP or Unix). */
int tw_create_connection_addr(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const tw_addr *addr,
                              tw_connect_cb cb);

/* Wrap an already connected stream socket (asyncio's sock=...). The
 * transport owns fd from here on (it is closed with the transport, also on
 * error). Real backend only. */
int tw_create_connection_fd(tw_loop *loop, tw_protocol_factory factory,
                            void *arg, int fd, tw_connect_cb cb);

/* Wrap a socket accepted elsewhere; same ownership as above. */
int tw_connect_accepted_socket(tw_loop *loop, tw_protocol_factory factory,
                               void *arg, int fd, tw_connect_cb cb);

/* Unix-domain client. */
int tw_create_unix_connection(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const char *path, tw_connect_cb cb);

/* ---- servers ---- */

typedef struct tw_server_opts {
    int backlog;      /* listen() backlog and accepts per wake-up; 0: 100 */
    int family;       /* AF_UNSPEC (default), AF_INET or AF_INET6 */
    bool reuse_port;  /* SO_REUSEPORT */
    /* Called once from the loop when a server whose host needed name
     * resolution is listening (err 0) or failed. Optional. */
    void (*on_listening)(void *arg, tw_server *srv, int err);
    /* Called from the loop each time accepting a connection failed for
     * want of a resource: -EMFILE or -ENFILE (no descriptor left),
     * -ENOBUFS or -ENOMEM. The connection waits in the listen backlog,
     * unanswered, and the server stops accepting for a while (the real
     * loop's accept_retry_delay, the simulator's accept_retry_delay_ns)
     * before it tries again; connections already accepted are served
     * meanwhile. At most once per listening socket per delay, so a
     * caller that logs it needs no limit of its own beyond that. May
     * close the server. Optional. */
    void (*on_accept_error)(void *arg, tw_server *srv, int err);
} tw_server_opts;

/* Listen on host:port; each accepted connection gets factory(arg).
 * host NULL or "" listens on all interfaces (IPv4 and IPv6); port 0 picks
 * a free port (see tw_server_sockname). opts may be NULL.
 * With a numeric host the server is listening when this returns 0.
 * *out is owned by the caller until tw_server_close(). */
int tw_create_server(tw_loop *loop, tw_protocol_factory factory, void *arg,
                     const char *host, uint16_t port,
                     const tw_server_opts *opts, tw_server **out);

/* Listen on a Unix path. A socket file at path that no socket holds any
 * more (left by a process that died) is replaced; a path a live socket
 * holds is -EADDRINUSE, as is a file that is not a socket. The real
 * backend tells the two apart with a connect, which a server listening
 * there sees as a connection that closes at once. When the server is
 * closed, its socket file is removed if it is still the one it bound. */
int tw_create_unix_server(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const char *path,
                          const tw_server_opts *opts, tw_server **out);

/* Stop listening and free the server. Connections already accepted are
 * not affected. The pointer is invalid afterwards. Returns 0. */
int tw_server_close(tw_server *srv);

/* Number of listening sockets, and the address of the i-th. */
int tw_server_count(const tw_server *srv);
int tw_server_sockname(const tw_server *srv, int i, tw_addr *out);
/* The port of the first listening socket (0 for Unix or not listening). */
uint16_t tw_server_port(const tw_server *srv);
/* Connections accepted so far. */
uint64_t tw_server_accepted(const tw_server *srv);

#ifdef __cplusplus
}
#endif
#endif
