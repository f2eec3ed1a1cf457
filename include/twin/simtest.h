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
 */
#ifndef TWIN_SIMTEST_H
#define TWIN_SIMTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_simtest tw_simtest;

/* A world of seed `seed` (opts NULL: defaults; see twin/sim.h), the
 * protocol made by factory(arg) on node "test": as the client connecting
 * to the peer (as_server false) or as the accepted end of a connection the
 * peer makes (as_server true). NULL on failure. */
tw_simtest *tw_simtest_new(uint64_t seed, const tw_sim_opts *opts,
                           tw_protocol_factory factory, void *arg,
                           bool as_server);
/* Free the world (the protocol gets release if its connection is open). */
void tw_simtest_free(tw_simtest *st);

tw_sim *tw_simtest_sim(tw_simtest *st);
tw_loop *tw_simtest_loop(tw_simtest *st); /* the protocol's node */
tw_loop *tw_simtest_peer_loop(tw_simtest *st);

/* Peer actions at virtual time `at`. Data is copied. */
int tw_simtest_send(tw_simtest *st, tw_ns at, const void *data, size_t len);
int tw_simtest_send_str(tw_simtest *st, tw_ns at, const char *s);
int tw_simtest_write_eof(tw_simtest *st, tw_ns at);
int tw_simtest_close(tw_simtest *st, tw_ns at);
int tw_simtest_reset(tw_simtest *st, tw_ns at); /* -ECONNRESET both ends */
/* The peer stops (true) or resumes reading: a slow reader. */
int tw_simtest_pause_reading(tw_simtest *st, tw_ns at, bool paused);

/* Run the world until the peer has received exactly these bytes next
 * (after what earlier expects consumed), or until virtual time `by`.
 * Returns 0 (and consumes them), -ETIMEDOUT if they had not all arrived by
 * then, -EBADMSG if different bytes arrived. tw_simtest_error() says what
 * was there. */
int tw_simtest_expect(tw_simtest *st, const void *data, size_t len, tw_ns by);
int tw_simtest_expect_str(tw_simtest *st, const char *s, tw_ns by);
/* Until the peer saw the protocol's EOF (write_eof or close): 0, or
 * -ETIMEDOUT. */
int tw_simtest_expect_eof(tw_simtest *st, tw_ns by);
/* Until the peer's connection ended (EOF then closed, or reset): 0 or
 * -ETIMEDOUT. */
int tw_simtest_expect_closed(tw_simtest *st, tw_ns by);
/* Run the world to virtual time t. */
int tw_simtest_run_until(tw_simtest *st, tw_ns t);

/* Bytes the peer received and no expect consumed yet (valid until the
 * next call on st). */
size_t tw_simtest_unread(tw_simtest *st, const uint8_t **data);
/* True once the peer's end is connected. */
bool tw_simtest_connected(const tw_simtest *st);
/* The error the peer's end was lost with (0: clean or still open). */
int tw_simtest_peer_error(const tw_simtest *st);
/* A sentence about the last failed expect ("" if none). */
const char *tw_simtest_error(const tw_simtest *st);

#ifdef __cplusplus
}
#endif
#endif
