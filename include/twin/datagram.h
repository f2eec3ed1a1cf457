/* twin/datagram.h - datagram endpoints: asyncio's
 * loop.create_datagram_endpoint(), DatagramTransport and DatagramProtocol.
 *
 * Map:
 *   1. the options: local and/or remote address, family, socket options
 *   2. making an endpoint
 *   3. what the transport and the protocol do (summary; the declarations
 *      are tw_transport_sendto in twin/transport.h and the datagram
 *      callbacks of twin/protocol.h)
 *   4. Unix datagram sockets: names, errors, push-back, the simulator
 *
 * Works the same on both backends: UDP over IPv4 and IPv6, and Unix
 * datagram sockets. On the simulated backend the IP addresses are the
 * simulated nodes' and the network's datagram faults (loss, duplication,
 * reordering, corruption, size limits, refusal) apply; see twin/sim.h.
 * Unix datagram sockets in the simulator live on one node: each node has
 * its own file system and abstract namespace, a datagram is queued at the
 * receiver in the instant it is sent, no network fault applies and
 * nothing is drawn from the seed (see 4.).
 */
#ifndef TWIN_DATAGRAM_H
#define TWIN_DATAGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "twin/addr.h"
#include "twin/loop.h"
#include "twin/net.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* 1. options
 *
 * Addresses are numeric tw_addr values (tw_addr_ip, tw_addr_parse,
 * tw_addr_unix); an address with len 0 means "not given". At least one of
 * local, remote, family or a host below must say which family the
 * endpoint is.
 *
 * Either end may instead be given as a host and a port (asyncio's
 * local_addr=(host, port) and remote_addr=(host, port)): local_host or
 * remote_host, when not NULL, replaces that end's tw_addr. A host is a
 * numeric IPv4 or IPv6 address or a name; the string is copied by the
 * call, not kept. How names are resolved is in 2.
 *
 *   local only    bound to local: receives from anyone, sendto needs an
 *                 address (asyncio's local_addr=...). Port 0 picks one.
 *   remote only   connected to remote, bound to a port the system picks:
 *                 sendto(NULL) goes to remote, only remote's datagrams are
 *                 received, and a datagram refused by the remote host
 *                 comes back as error_received(-ECONNREFUSED).
 *   both          bound to local, connected to remote.
 *   neither       bound to the wildcard address of `family`, any port;
 *                 AF_UNIX: not bound at all (see 4.).
 */
typedef struct tw_datagram_opts {
    tw_addr local;
    tw_addr remote;
    /* AF_UNSPEC (take it from the addresses), AF_INET, AF_INET6, or
     * AF_UNIX. Must agree with the addresses. */
    int family;
    /* SO_REUSEPORT: several endpoints that all set it may bind the same
     * address and port; each datagram goes to one of them. */
    bool reuse_port;
    /* SO_BROADCAST: without it a datagram to a broadcast address fails
     * with -EACCES (reported to error_received). */
    bool allow_broadcast;
    /* An end by host and port (IP only): NULL means "use the tw_addr". */
    const char *local_host;
    uint16_t local_port;  /* 0 picks a free port */
    const char *remote_host;
    uint16_t remote_port; /* must not be 0 */
} tw_datagram_opts;

/* ------------------------------------------------------------------ */
/* 2. making an endpoint
 *
 * Creates the endpoint at once (binding and connecting a datagram socket
 * need no network round trip), calls factory(arg) for its protocol, and
 * then, from the loop, the protocol's connection_made followed by
 * cb(arg, transport, 0). cb may be NULL; a failure after the call
 * returned (a host name below that does not resolve, a bind to its
 * address that fails) is then told to nobody: an endpoint with a host by
 * name wants a cb.
 *
 * Errors about the call are returned and cb is never called: -EINVAL (NULL
 * loop, factory or opts; no family could be told; the addresses' families
 * disagree; an IP remote with port 0), -EAFNOSUPPORT (a family the backend
 * lacks), -EADDRINUSE (local taken, and not by reuse_port endpoints all),
 * -EADDRNOTAVAIL (local is no address of this host), -ENETUNREACH (remote
 * of a family the host has no address of), -ENETDOWN (a crashed simulated
 * node), a Unix remote's errors (4.), -EMFILE/-ENOMEM/... from the
 * system. If the factory returns NULL
 * the call still returns 0 and cb(arg, NULL, -ENOMEM) follows from the
 * loop (twin/net.h's rule).
 *
 * Hosts by name (local_host / remote_host that are not numeric): the
 * names are resolved without blocking the loop (the real backend runs
 * getaddrinfo on a worker thread; the simulator knows "localhost", which
 * is 127.0.0.1, and its nodes' names, as its stream connects do), and
 * the endpoint is made from the loop once every name is known, never
 * inside the call. Each end takes the first address the resolver gives
 * of the family wanted: opts.family if given, else the family of the
 * other end when that one is numeric; with both ends by name and no
 * family, the first local address that has a remote address of its
 * family, and that remote address. The call returns 0, or an error about
 * the call (the ones above that can be told without the names, -EINVAL
 * for an empty host, a host with family AF_UNIX or with a Unix other
 * end, or a remote_host with remote_port 0; -ENOMEM; -ENOTSUP); whatever
 * fails after it goes to cb(arg, NULL, err) from the loop and the
 * factory is never called (twin/net.h's rule): TW_EAI_NONAME for a name
 * that does not resolve (as tw_create_connection reports it; the real
 * backend may also report the other TW_EAI_* of twin/error.h, such as
 * TW_EAI_AGAIN for a resolver that could not answer now),
 * -EAFNOSUPPORT when no address of the family wanted was found, and
 * every error listed above for making the endpoint (-EADDRINUSE,
 * -EADDRNOTAVAIL, ...). While a name is being resolved the loop is alive
 * (tw_loop_run keeps running); freeing the loop, or a crash of the
 * simulated node, meanwhile drops the lookup and calls nothing. With
 * numeric hosts only, the endpoint is made at once, as with tw_addr
 * values.
 *
 * A Unix endpoint bound to a path replaces a stale socket file there (as
 * asyncio does) and removes its own file when it is closed, if the file is
 * still the one it bound. When create fails after binding (the remote
 * cannot be connected to), the file it bound is removed too; the one that
 * was at the path before is gone all the same (it was replaced). */
int tw_create_datagram_endpoint(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const tw_datagram_opts *opts,
                                tw_connect_cb cb);

/* ------------------------------------------------------------------ */
/* 3. the transport and the protocol (kind TW_TRANSPORT_DATAGRAM)
 *
 * tw_transport_sendto(t, data, len, addr) sends one datagram; len 0 sends
 * an empty one. addr NULL means the remote address; on a connected
 * endpoint addr must be NULL or equal to it (-EINVAL). The datagram is
 * tried at once when nothing is queued; when the system (or the simulated
 * link) cannot take it now it is copied into a queue and sent, in order,
 * when it can. Either way data is free when sendto returns. Returns 0, or
 * an error about the call: -EPIPE once closing, -EDESTADDRREQ (no address
 * and not connected), -EAFNOSUPPORT (addr of another family), -EINVAL,
 * -ENOMEM. What the network says about a datagram (-ECONNREFUSED,
 * -EMSGSIZE, -ENOBUFS, -EACCES, -EHOSTUNREACH, ...) is not returned: it goes
 * to the protocol's error_received (asyncio's rule), called from inside
 * sendto when the send itself failed, or from the loop when it is learnt
 * later; the transport stays open.
 *
 * Flow control: get_write_buffer_size counts each queued datagram as its
 * length plus an 8-byte header; pause_writing runs inside the sendto that
 * pushes it over the high mark, resume_writing from the loop when the
 * queue drains to the low mark (twin/transport.h's rules).
 *
 * close: reading stops, the queue is flushed, then connection_lost(0).
 * abort: the queue is dropped, then connection_lost(0). Both from the
 * loop. pause_reading/resume_reading, write and write_eof return -ENOTSUP.
 * get_extra_info: "sockname", "peername" (connected endpoints), "socket"
 * (real backend).
 *
 * The protocol: datagram_received(p, data, len, from) for each datagram,
 * len may be 0, data and *from valid during the call only (from->len is 0
 * when the sender has no address, as an unbound Unix socket); and
 * error_received(p, err) as above. connection_made and connection_lost run
 * exactly once each. */

/* ------------------------------------------------------------------ */
/* 4. Unix datagram sockets (family AF_UNIX), as Linux has them
 *
 * Names: a path ("/run/app.sock"), an abstract name ("@app", no file), or
 * none. A local address of the family alone (len offsetof(struct
 * sockaddr_un, sun_path)) has the system pick an abstract name of five hex
 * digits. With no local address the endpoint has no name: sockname is
 * -ENOENT and its receivers see from->len 0, so they cannot answer it.
 * Binding a path replaces the socket file there, even one another open
 * endpoint (or Unix stream server) bound: that one keeps running with no
 * name. An abstract name in use is -EADDRINUSE. reuse_port: -EOPNOTSUPP
 * (as recent Linux kernels say).
 *
 * What the system says to a send, through error_received from inside
 * sendto (or returned by create, for a remote):
 *   -ENOENT        no file at the path
 *   -ECONNREFUSED  a file with no socket (stale) or an abstract name
 *                  nobody has; for a connected endpoint, the socket it is
 *                  connected to is gone: it is then connected no more, and
 *                  what it had received and not yet read is dropped
 *   -ENOTCONN      every send after that
 *   -EPROTOTYPE    the name is a Unix stream server's (and a Unix stream
 *                  connect to a datagram endpoint's name fails with it)
 *   -EPERM         the receiver is connected to another socket
 *   -EMSGSIZE      larger than the send buffer less 32 bytes (Linux's
 *                  default: 212,960 bytes)
 * A connected endpoint is connected to the socket, not the path: it keeps
 * reaching that socket when the path is bound again by another.
 *
 * Datagrams are not lost: a receiver that does not keep up pushes back.
 * Its queue holds one more datagram than net.unix.max_dgram_qlen (10 by
 * default: 11; not counted when the receiver is connected to the
 * sender), and a
 * sender's datagrams still queued at receivers fill its send buffer;
 * then sendto says EAGAIN to the transport, which queues (and pauses the
 * protocol over the high mark) until a read makes room.
 *
 * On the simulated backend: each node has its own file system and
 * abstract namespace (a path is a name as given: no directories, no
 * working directory); the queue and buffer bounds above hold, the send
 * buffer being the node's loopback path's dgram.sndbuf_bytes
 * (twin/sim.h); the datagram is queued at the receiver in the instant it
 * is sent, in order, and no network fault (latency, loss, duplication,
 * reordering, corruption, partition, clog, ENOBUFS) applies. A crashed
 * node's socket files stay, stale, as a dead process's do (a later bind
 * replaces them); its abstract names go. Traced as dgu_* records. */

#ifdef __cplusplus
}
#endif
#endif
