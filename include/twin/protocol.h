/* twin/protocol.h - protocols: the callbacks a transport calls.
 *
 * A protocol is a struct of the user's whose FIRST member is a tw_protocol,
 * i.e. a pointer to a const table of callbacks:
 *
 *     struct echo { tw_protocol base; tw_transport *t; size_t seen; };
 *     static const tw_protocol_ops echo_ops = { .connection_made = ..., };
 *
 * A NULL callback means asyncio's default: do nothing, except eof_received
 * whose default returns false (the transport closes itself).
 *
 * Kinds (the reference text's classes) follow from which callbacks are set:
 *   Protocol          data_received (and eof_received)
 *   BufferedProtocol  get_buffer + buffer_updated (takes precedence)
 *   DatagramProtocol  datagram_received, error_received
 *   SubprocessProtocol pipe_data_received, pipe_connection_lost,
 *                     process_exited
 *
 * Ownership: the protocol belongs to the user. A transport holds it from
 * connection_made until connection_lost has returned; then it calls
 * release (if set) exactly once and never touches the protocol again, so
 * release is where a factory-made protocol is freed. A protocol replaced by
 * tw_transport_set_protocol() is not released by the transport.
 *
 * State machines the transports guarantee (and the contract checker
 * verifies):
 *   stream:   connection_made -> data_received* -> eof_received? ->
 *             connection_lost
 *   buffered: connection_made -> (get_buffer -> buffer_updated?)* ->
 *             eof_received? -> connection_lost
 *   pause_writing and resume_writing alternate, pause first, and only
 *   between connection_made and connection_lost.
 */
#ifndef TWIN_PROTOCOL_H
#define TWIN_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twin/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_transport tw_transport;
typedef struct tw_protocol_ops tw_protocol_ops;

typedef struct tw_protocol {
    const tw_protocol_ops *ops;
} tw_protocol;

struct tw_protocol_ops {
    /* BaseProtocol. The transport pointer stays valid until connection_lost
     * returns. err is 0 for a clean close (EOF, close(), abort()) or the
     * negative errno that ended the connection. */
    void (*connection_made)(tw_protocol *p, tw_transport *t);
    void (*connection_lost)(tw_protocol *p, int err);
    void (*pause_writing)(tw_protocol *p);
    void (*resume_writing)(tw_protocol *p);

    /* Protocol. data is non-empty and only valid during the call. */
    void (*data_received)(tw_protocol *p, const uint8_t *data, size_t len);
    /* Return true to keep the transport open for writing (half-open);
     * false (or NULL callback) closes it. */
    bool (*eof_received)(tw_protocol *p);

    /* BufferedProtocol. Return a buffer of *len bytes (*len > 0) that stays
     * valid until buffer_updated or the next get_buffer. sizehint is the
     * recommended minimum, -1 for "any". A zero-size or NULL buffer is an
     * error: the connection is lost with -ENOBUFS. */
    void *(*get_buffer)(tw_protocol *p, ssize_t sizehint, size_t *len);
    void (*buffer_updated)(tw_protocol *p, size_t nbytes);

    /* DatagramProtocol. */
    void (*datagram_received)(tw_protocol *p, const uint8_t *data, size_t len,
                              const tw_addr *from);
    void (*error_received)(tw_protocol *p, int err);

    /* SubprocessProtocol. */
    void (*pipe_data_received)(tw_protocol *p, int fd, const uint8_t *data,
                               size_t len);
    void (*pipe_connection_lost)(tw_protocol *p, int fd, int err);
    void (*process_exited)(tw_protocol *p);

    /* The transport is done with the protocol (after connection_lost). */
    void (*release)(tw_protocol *p);
};

/* Makes one protocol per connection. Returning NULL refuses it: the
 * connection is closed, and for a client the connect fails with -ENOMEM. */
typedef tw_protocol *(*tw_protocol_factory)(void *arg);

#ifdef __cplusplus
}
#endif
#endif
