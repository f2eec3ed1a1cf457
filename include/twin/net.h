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
 * factory and cb share `arg`. cb may be NULL: a failure is then told to
 * nobody, and the protocol never hears of it either (it was never made).
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
 * TW_EAI_NONAME for a name that is unknown.
 * A connect in flight cannot be cancelled: arg must stay valid until cb
 * has run (or the loop is freed, which drops cb). An object that may go
 * away sooner, a client stopped while it dials, passes a small record of
 * its own as arg, lets go of it when it goes, and has cb free it
 * (examples/kv/kv.c's kv_dial). */
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

/* ---- clients with options: a timeout, Happy Eyeballs ----
 *
 * asyncio's create_connection(happy_eyeballs_delay=, interleave=,
 * local_addr=), with a connect timeout of its own (asyncio's is a
 * wait_for around the call). The host's addresses are tried in the
 * resolver's order, reordered by `interleave`; with a delay, RFC 8305's
 * race (asyncio's staggered start): the first attempt starts at once and
 * each next one when the one before it failed or the delay has passed
 * since it started, while the earlier ones go on. The first to connect
 * wins: every other attempt is cancelled and its socket closed before
 * the factory is called. Without a delay, one attempt at a time, each
 * after the one before failed (asyncio's None).
 *
 * Outcome: as tw_create_connection's (cb after connection_made, or
 * cb(arg, NULL, err) from the loop and the factory never called). When
 * every attempt failed, err is the error of the attempt that failed last
 * (asyncio raises the one error when all are alike, else an OSError with
 * no errno listing them: the report below lists them here). A timeout
 * gives -ETIMEDOUT and leaves nothing open: the lookup and every attempt
 * in flight are cancelled, their sockets closed. A name that does not
 * resolve: one of TW_EAI_*. An attempt that fails at once (no descriptor
 * left, a local address that cannot be bound) is reported the same way,
 * through cb, never by the call. */

/* Most addresses one call tries (more from the resolver are ignored). */
#define TW_CONNECT_ATTEMPTS_MAX 16
/* interleave: keep the resolver's order even with Happy Eyeballs. */
#define TW_INTERLEAVE_OFF (-1)
/* A report's err for an attempt still in flight (seen only before cb). */
#define TW_CONNECT_IN_FLIGHT 1

typedef struct tw_connect_attempt {
    tw_addr addr;
    /* 0: this one won. Else how it ended: its own error, -ECANCELED (it
     * was in flight when another won), -ETIMEDOUT (in flight at the
     * timeout). */
    int err;
} tw_connect_attempt;

/* What each attempt did, in the order they started: asyncio's list of
 * errors, as values. */
typedef struct tw_connect_report {
    int n; /* attempts started */
    tw_connect_attempt attempts[TW_CONNECT_ATTEMPTS_MAX];
} tw_connect_report;

typedef struct tw_connect_opts {
    /* The whole connect, name resolution included, must be done within
     * this (the TLS handshake that may follow has its own timeout);
     * else -ETIMEDOUT. 0: no limit. */
    tw_ns timeout_ns;
    /* Happy Eyeballs: start the next address after this delay while the
     * ones before are still in flight (RFC 8305 suggests 250 ms). 0: off,
     * one attempt at a time. */
    tw_ns happy_eyeballs_delay_ns;
    /* Reorder the addresses by family (asyncio's interleave): N > 0
     * puts the first N - 1 of the first family first, then alternates
     * the families. 0: asyncio's default, 1 with Happy Eyeballs and the
     * resolver's order without; TW_INTERLEAVE_OFF: the resolver's order. */
    int interleave;
    /* Bind each attempt's socket to this numeric address first (port 0:
     * any port). An address of the other family than local_addr's fails
     * at once with -EAFNOSUPPORT. NULL: the system's choice. Copied. */
    const tw_addr *local_addr;
    /* Optional: filled in as the attempts go, complete when cb runs. The
     * caller's memory: it must stay valid until cb has run. */
    tw_connect_report *report;
} tw_connect_opts;

/* tw_create_connection with options (opts NULL: none, which tries the
 * addresses one at a time as tw_create_connection does). Returns 0, or
 * -EINVAL (no host, port 0, a negative timeout or delay, interleave
 * below TW_INTERLEAVE_OFF, local_addr not IPv4 or IPv6), -ENOMEM, or an
 * error starting the lookup; cb is then never called. */
int tw_create_connection_ex(tw_loop *loop, tw_protocol_factory factory,
                            void *arg, const char *host, uint16_t port,
                            const tw_connect_opts *opts, tw_connect_cb cb);

/* The same with the addresses given (n of them, 1 to
 * TW_CONNECT_ATTEMPTS_MAX, IPv4 or IPv6 with their ports), as if a name
 * had resolved to them in that order. Copied. -EINVAL for a bad list. */
int tw_create_connection_addrs(tw_loop *loop, tw_protocol_factory factory,
                               void *arg, const tw_addr *addrs, int n,
                               const tw_connect_opts *opts, tw_connect_cb cb);

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

/* ---- sendfile ----
 *
 * asyncio's loop.sendfile(transport, file, offset, count): send count
 * bytes of the file open at fd, from offset, over a stream transport (TCP
 * or Unix, plain or TLS). count 0 sends to the end of the file (asyncio's
 * None; asyncio refuses 0 on a plain socket). The call returns at once;
 * cb(arg, t, sent, err) runs once, from the loop, with the bytes the
 * transport took (fewer than count when the file ended first) and 0 or
 * an error. Afterwards the file position is offset + sent when sent > 0,
 * as asyncio leaves it, on success and error alike (a file that cannot
 * seek is left as it is).
 *
 * How: what was written before goes first; once the write buffer has
 * drained, a plain socket of the real backend gets the file by
 * sendfile(2), which copies nothing through the process. Elsewhere (TLS,
 * the simulator), or when sendfile(2) fails, asyncio's fallback: the file
 * is read (pread, on the loop's thread: a slow disk stalls the loop) in
 * blocks of TW_SENDFILE_BLOCK and each block is sent as the connection
 * takes it, so no more than one block waits in memory whatever the
 * peer's pace. The file's bytes are not counted by
 * get_write_buffer_size; the protocol may still see pause_writing and
 * resume_writing (a TLS transport's records are counted).
 *
 * While it runs: write, writelines and write_eof return -EBUSY (asyncio:
 * "sendfile is in progress"), and so does a second sendfile. Reading
 * goes on (asyncio pauses it; twin does not, so a peer that answers
 * while the file goes is read and cannot stall it). close() stops it:
 * cb gets -ECANCELED, then what was already taken is flushed and the
 * transport closes as usual. A lost connection (abort included) gives cb
 * the loss's error (-ECANCELED for an abort), before connection_lost.
 * An error reading the file (-EIO, -EISDIR, ...) ends the sendfile with
 * it and leaves the transport open, the peer having had part of it.
 *
 * fd: a file pread(2) can read, a regular file or a block device (a pipe
 * or a socket ends it with -ESPIPE; asyncio too wants a regular file).
 * It stays the caller's, and must stay open until cb has run. Returns 0,
 * or (cb then never called): -EINVAL (no transport, another loop's, a
 * negative offset), -EBADF (fd < 0), -ENOTSUP (not a stream transport:
 * datagram, pipe or subprocess, as asyncio raises), -EPIPE (closing,
 * asyncio's "Transport is closing"), -ESHUTDOWN (after write_eof),
 * -EBUSY (a sendfile in progress), -ENOMEM. */

/* The fallback's read size. */
#define TW_SENDFILE_BLOCK (64 * 1024)

typedef void (*tw_sendfile_cb)(void *arg, tw_transport *t, uint64_t sent,
                               int err);

int tw_loop_sendfile(tw_loop *loop, tw_transport *t, int fd, int64_t offset,
                     uint64_t count, tw_sendfile_cb cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
