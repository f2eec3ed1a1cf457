/* twin/transport.h - transports: what a protocol calls to send and steer.
 *
 * Transports are made by the loop (twin/net.h) and handed to the protocol in
 * connection_made. The pointer is valid until the protocol's
 * connection_lost returns; after that it is freed and must not be used
 * (strict contract mode, twin/loop.h, keeps it to report such a use).
 * Between close()/abort() and connection_lost every call is safe and
 * returns an error value where it makes no sense (use after close is an
 * error, not undefined behaviour). A call that makes no sense for the
 * transport's kind returns -ENOTSUP.
 *
 * Timing (as CPython's asyncio): connection_made and connection_lost always
 * run from the loop, never inside the call that caused them;
 * pause_writing runs inside the write() that pushed the buffer strictly
 * over the high mark; resume_writing from the loop when it drains to the
 * low mark or below.
 */
#ifndef TWIN_TRANSPORT_H
#define TWIN_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "twin/addr.h"
#include "twin/loop.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Transport kinds, the reference text's classes. */
typedef enum tw_transport_kind {
    TW_TRANSPORT_STREAM = 1,  /* Transport (TCP, Unix, socketpair) */
    TW_TRANSPORT_READ,        /* ReadTransport (read pipe) */
    TW_TRANSPORT_WRITE,       /* WriteTransport (write pipe) */
    TW_TRANSPORT_DATAGRAM,    /* DatagramTransport */
    TW_TRANSPORT_SUBPROCESS,  /* SubprocessTransport */
} tw_transport_kind;

/* Default high water mark; low defaults to high / 4. */
#define TW_WRITE_BUFFER_HIGH_DEFAULT (64 * 1024)
/* Pass for "None" (use the default rule) in set_write_buffer_limits. */
#define TW_LIMIT_DEFAULT ((ssize_t)-1)

tw_transport_kind tw_transport_kind_of(const tw_transport *t);
tw_loop *tw_transport_loop(const tw_transport *t);

/* ---- BaseTransport ---- */

/* Close: stop reading, flush what is buffered, then connection_lost(0).
 * Idempotent. Returns 0. */
int tw_transport_close(tw_transport *t);

/* True once close/abort was called or the connection was lost. */
bool tw_transport_is_closing(const tw_transport *t);

/* get_extra_info. Names: "peername", "sockname" (addr), "socket" (fd, real
 * backend only), "pipe" (fd), "subprocess" (pid). Returns 0 and fills *out,
 * or -ENOENT when the transport has no such information (the caller's
 * default applies). */
typedef enum tw_extra_type {
    TW_EXTRA_NONE = 0,
    TW_EXTRA_ADDR,
    TW_EXTRA_FD,
    TW_EXTRA_INT,
    TW_EXTRA_STR,
    TW_EXTRA_PTR,
} tw_extra_type;

typedef struct tw_extra {
    tw_extra_type type;
    union {
        tw_addr addr;
        int fd;
        int64_t i;
        const char *str; /* valid while the transport is */
        void *ptr;
    } v;
} tw_extra;

int tw_transport_get_extra_info(tw_transport *t, const char *name,
                                tw_extra *out);

/* Convenience: peername / sockname into *out. 0 or -ENOENT. */
int tw_transport_peername(tw_transport *t, tw_addr *out);
int tw_transport_sockname(tw_transport *t, tw_addr *out);

/* Swap the protocol. The old one is not released; the new one receives
 * the callbacks from now on (and is released at the end). -EINVAL on NULL. */
int tw_transport_set_protocol(tw_transport *t, tw_protocol *p);
tw_protocol *tw_transport_get_protocol(const tw_transport *t);

/* ---- ReadTransport ---- (idempotent; no effect once closing) */
int tw_transport_pause_reading(tw_transport *t);
int tw_transport_resume_reading(tw_transport *t);
bool tw_transport_is_reading(const tw_transport *t);

/* ---- WriteTransport ---- */

/* Send len bytes. Tried at once when nothing is buffered; whatever is not
 * taken is copied, so data is free when write returns.
 * Returns 0; -EPIPE once closing or lost; -ESHUTDOWN after write_eof;
 * -ENOMEM; -ENOTSUP on a read-only transport. A socket error found here
 * is returned and the connection is lost with it (connection_lost(err)
 * follows from the loop). len 0 does nothing.
 *
 * After close(), as asyncio's transports do: a stream socket (TCP, Unix,
 * socketpair) takes writes for as long as close() is still flushing what
 * was buffered, resume_writing included (asyncio's selector transport
 * refuses a write only after write_eof or once the connection is lost),
 * and sends them before its EOF and connection_lost(0); once nothing was
 * left to flush, or after abort() or an error, write is -EPIPE (asyncio
 * drops the bytes). A write pipe and a TLS transport refuse writes from
 * close() on (-EPIPE), as asyncio's write pipe and SSL transports drop
 * them. */
int tw_transport_write(tw_transport *t, const void *data, size_t len);

/* Functionally write() of each buffer in turn, done as one writev. */
int tw_transport_writelines(tw_transport *t, const struct iovec *iov,
                            int iovcnt);

/* Close the write side after flushing (shutdown(SHUT_WR)). Reading goes on.
 * Idempotent; 0 when already closing. -ENOTSUP where unsupported (TLS). */
int tw_transport_write_eof(tw_transport *t);
bool tw_transport_can_write_eof(const tw_transport *t);

/* Close at once: buffered data is dropped, connection_lost(0) follows. */
int tw_transport_abort(tw_transport *t);

size_t tw_transport_get_write_buffer_size(const tw_transport *t);
void tw_transport_get_write_buffer_limits(const tw_transport *t, size_t *low,
                                          size_t *high);
/* asyncio's rules: high and low TW_LIMIT_DEFAULT -> 64 KiB / 16 KiB; only
 * low given -> high = 4 * low; only high given -> low = high / 4.
 * -EINVAL if low > high or either is negative (other than DEFAULT). May
 * call pause_writing at once; never resume_writing. */
int tw_transport_set_write_buffer_limits(tw_transport *t, ssize_t high,
                                         ssize_t low);

/* ---- how a TCP connection learns that its peer is gone ----
 * A peer that vanished without a word (power lost, a cable pulled, a
 * frozen host, a firewall dropping packets) leaves the connection open
 * until this end sends and its retransmissions give up, or the peer's
 * host comes back and answers with a reset. Two settings bound that
 * wait, on both backends (the real one sets the socket options, the
 * simulator honours them). Stream transports over TCP only, TLS over TCP
 * included (the connection under its records gets them): -ENOTSUP for
 * others (Unix sockets, pipes, datagrams), -EINVAL for bad values,
 * -EPIPE once closing, -ENOMEM if the simulator has no memory to keep
 * them.
 *
 * Keepalive (SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
 * after idle_ns without traffic, a probe every interval_ns; `count`
 * unanswered probes lose the connection with -ETIMEDOUT, a reset in
 * answer with -ECONNRESET. idle_ns 0 turns it off. Both backends count
 * whole seconds, as Linux does (each value rounded up, at least 1 s). */
int tw_transport_set_keepalive(tw_transport *t, tw_ns idle_ns,
                               tw_ns interval_ns, unsigned count);
/* TCP_USER_TIMEOUT: data left unacknowledged this long loses the
 * connection with -ETIMEDOUT. 0: the system's own retransmission limit
 * (the simulator's stall_timeout_ns). Whole milliseconds (rounded up) on
 * both backends. */
int tw_transport_set_user_timeout(tw_transport *t, tw_ns timeout_ns);

/* ---- DatagramTransport ---- */
/* Send one datagram to addr (NULL: the connected remote address).
 * len 0 sends an empty datagram. */
int tw_transport_sendto(tw_transport *t, const void *data, size_t len,
                        const tw_addr *addr);

#ifdef __cplusplus
}
#endif
#endif
