/* twin/simtest.h - a scripted peer for unit tests of protocols.
 *
 * The shortest path from "I wrote a protocol state machine" to a
 * deterministic cmocka test: the protocol under test runs on a simulated
 * node ("test", 10.0.0.1) connected to a peer ("peer", 10.0.0.2) whose side
 * the test scripts: send these bytes at t, expect those bytes by t', half
 * close, close, reset. Stream bytes reach the protocol in chunk sizes drawn
 * from the seed, as everywhere in the simulator.
 *
 *     tw_simtest *st = tw_simtest_new(1, NULL, my_factory, &my, false);
 *     tw_simtest_send_str(st, TW_MS(1), "PING\r\n");
 *     assert_int_equal(tw_simtest_expect_str(st, "+PONG\r\n", TW_MS(50)), 0);
 *     tw_simtest_write_eof(st, TW_MS(60));
 *     assert_int_equal(tw_simtest_expect_closed(st, TW_MS(100)), 0);
 *     tw_simtest_free(st);
 *
 * Times are absolute virtual times of the world (it starts at 0). Actions
 * scheduled before the connection exists run as soon as it does, in order.
 * Errors follow twin/error.h. The protocol is the caller's (made by its
 * factory; released through its release callback as usual).
 *
 * Several connections. The peer serves any number of connections in
 * order, up to a limit (tw_simtest_set_conns_max), each with its own
 * script. tw_simtest_on_conn(st, n) selects connection n (1-based) for the
 * calls that follow: the actions, the expectations and the queries on
 * the peer's end all act on the selected connection (connection 1 until
 * another is selected, so a test of one connection never selects).
 *
 *   - as_server false (the protocol is a client): the peer listens on
 *     TW_SIMTEST_PEER_HOST port TW_SIMTEST_PORT, and numbers the
 *     connections in the order their SYNs reach it. Each is accepted
 *     (the default), refused (tw_simtest_refuse: the connect fails with
 *     -ECONNREFUSED, as at a port nothing listens on) or reset as soon
 *     as it is accepted (tw_simtest_reset_on_connect: the client sees
 *     connection_made, then connection_lost(-ECONNRESET)). A connection
 *     past the limit is refused. A client that reconnects makes its
 *     connections itself: pass factory NULL to tw_simtest_new, and have
 *     the test's code connect from tw_simtest_loop(st) with its own
 *     connect callback, which then hears of every refusal.
 *
 *   - as_server true (the protocol is a server): the peer is the client
 *     and makes connections 1, 2, 3... in order. Connection 1 is made by
 *     tw_simtest_new, at once: its connect starts there, and the factory
 *     runs at the accept, once the world runs, so a server whose state
 *     needs the node's loop (timers, files) makes it from
 *     tw_simtest_loop(st) right after tw_simtest_new, where the factory's
 *     argument finds it. Connection n > 1 is made once it has been
 *     selected (from the world's next step on, so the calls scripting it
 *     come first), and not before connection n-1 was made: at the time
 *     given by tw_simtest_connect_at, or else as soon as connection n-1
 *     has ended (the peer's end closed or reset, or its connect failed;
 *     an EOF from the server is not an end: the script closes).
 *
 * Every byte and every time stays a function of the seed and the script.
 *
 * Both nodes run with the contract checker in strict mode (twin/loop.h),
 * as twin sim's do: a protocol's mistake with its transport (a write
 * after its own close(), any call after connection_lost returned) stops
 * the world, and the expectation (or run_until) that ran into it, and
 * every one after, returns -EPROTO with the checker's sentence in
 * tw_simtest_error(). A handler the test sets on a loop
 * (tw_loop_set_contract_handler) replaces that.
 */
#ifndef TWIN_SIMTEST_H
#define TWIN_SIMTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where each side is: the protocol's node, the peer's node, and the port
 * the listening side listens on. */
#define TW_SIMTEST_TEST_HOST "10.0.0.1"
#define TW_SIMTEST_PEER_HOST "10.0.0.2"
#define TW_SIMTEST_PORT 9

/* Connections the peer scripts and serves, until set otherwise. */
#define TW_SIMTEST_CONNS_DEFAULT 64

typedef struct tw_simtest tw_simtest;

/* A world of seed `seed` (opts NULL: defaults; see twin/sim.h), the
 * protocol made by factory(arg) on node "test": as the client connecting
 * to the peer (as_server false) or as the accepted end of a connection the
 * peer makes (as_server true). As the client, factory NULL makes no
 * connection: the test's code connects itself, from tw_simtest_loop(st)
 * to TW_SIMTEST_PEER_HOST port TW_SIMTEST_PORT. NULL on failure. */
tw_simtest *tw_simtest_new(uint64_t seed, const tw_sim_opts *opts,
                           tw_protocol_factory factory, void *arg,
                           bool as_server);
/* Free the world (the protocol gets release if its connection is open). */
void tw_simtest_free(tw_simtest *st);

tw_sim *tw_simtest_sim(tw_simtest *st);
tw_loop *tw_simtest_loop(tw_simtest *st); /* the protocol's node */
tw_loop *tw_simtest_peer_loop(tw_simtest *st);

/* ---- connections ---- */

/* The most connections the peer scripts and serves (>= 1, and not below
 * the connections already selected or seen): 0, -EINVAL.
 * [TW_SIMTEST_CONNS_DEFAULT] */
int tw_simtest_set_conns_max(tw_simtest *st, unsigned max);
/* Select connection n (1-based) for the calls that follow. 0, -EINVAL
 * (n is 0), -ENOSPC (n is past the limit), -ENOMEM. As the client
 * (as_server true) the peer will make connections 1..n. */
int tw_simtest_on_conn(tw_simtest *st, unsigned n);
/* The peer as the server (as_server false): the selected connection is
 * refused, or reset as soon as it is accepted. 0; -EINVAL when the peer
 * is the client; -EALREADY when the connection has already reached the
 * peer. */
int tw_simtest_refuse(tw_simtest *st);
int tw_simtest_reset_on_connect(tw_simtest *st);
/* The peer as the client (as_server true): make the selected connection
 * at virtual time `at` (or, if connection n-1 is made later than that,
 * right after it) instead of when connection n-1 has ended. 0; -EINVAL
 * when the peer is the server or at < 0; -EALREADY once the connection
 * is made (connection 1 always is). */
int tw_simtest_connect_at(tw_simtest *st, tw_ns at);
/* Connections so far. as_server false: those that reached the peer (each
 * connect of the protocol's side that got there, refused ones included).
 * as_server true: those of the peer the protocol's server accepted (the
 * peer's end connected). */
unsigned tw_simtest_connections(const tw_simtest *st);
/* tw_simtest_connected and tw_simtest_peer_error for connection n,
 * without selecting it (false and 0 for one not seen yet). */
bool tw_simtest_conn_connected(const tw_simtest *st, unsigned n);
int tw_simtest_conn_peer_error(const tw_simtest *st, unsigned n);

/* ---- the selected connection ---- */

/* Peer actions at virtual time `at`. Data is copied. Actions on a
 * connection that never opens (refused) never run. At most 100,000
 * actions in all: then -ENOBUFS. */
int tw_simtest_send(tw_simtest *st, tw_ns at, const void *data, size_t len);
int tw_simtest_send_str(tw_simtest *st, tw_ns at, const char *s);
int tw_simtest_write_eof(tw_simtest *st, tw_ns at);
int tw_simtest_close(tw_simtest *st, tw_ns at);
/* -ECONNRESET both ends; the peer's end ends then even while its
 * reading is paused, so the next connection does not wait on it. */
int tw_simtest_reset(tw_simtest *st, tw_ns at);
/* The peer stops (true) or resumes reading: a slow reader. */
int tw_simtest_pause_reading(tw_simtest *st, tw_ns at, bool paused);

/* Run the world until the peer has received exactly these bytes next
 * (after what earlier expects consumed), or until virtual time `by`.
 * Returns 0 (and consumes them), -ETIMEDOUT if they had not all arrived by
 * then, -EBADMSG if different bytes arrived, the world's failure if it
 * stopped (-EPROTO: a contract violation, above). tw_simtest_error() says
 * what was there. On a connection not open yet, the world runs until it opens
 * and the bytes come (or `by`). */
int tw_simtest_expect(tw_simtest *st, const void *data, size_t len, tw_ns by);
int tw_simtest_expect_str(tw_simtest *st, const char *s, tw_ns by);
/* Until the peer saw the protocol's EOF (write_eof or close): 0, or
 * -ETIMEDOUT. */
int tw_simtest_expect_eof(tw_simtest *st, tw_ns by);
/* Until the peer's connection ended (EOF, closed, reset, or refused or
 * failed to connect): 0 or -ETIMEDOUT. An EOF is enough here, but not
 * for the next connection of a peer that is the client, which waits for
 * the script to close or reset this one (or for its connect_at). */
int tw_simtest_expect_closed(tw_simtest *st, tw_ns by);
/* Run the world to virtual time t. */
int tw_simtest_run_until(tw_simtest *st, tw_ns t);

/* Bytes the peer received and no expect consumed yet (valid until the
 * next call on st; *data NULL while nothing has come). */
size_t tw_simtest_unread(tw_simtest *st, const uint8_t **data);
/* True once the peer's end is connected (and after it has closed). */
bool tw_simtest_connected(const tw_simtest *st);
/* The error the peer's end was lost with (0: clean or still open):
 * -ECONNRESET, -ETIMEDOUT, ...; -ECONNREFUSED for a connection the peer
 * refused, or the error a connect of the peer failed with. */
int tw_simtest_peer_error(const tw_simtest *st);
/* A sentence about the last failed expect ("" if none). */
const char *tw_simtest_error(const tw_simtest *st);

#ifdef __cplusplus
}
#endif
#endif
