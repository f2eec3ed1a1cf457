/* twin/fuzz.h - fuzzing a protocol through data_received.
 *
 * A libFuzzer target for a parser is a few lines: the helper builds a
 * simulated world, gives the protocol a transport whose peer is the
 * fuzzer's input, and delivers that input in chunk sizes the input
 * itself chooses, then EOF (or a reset) and connection_lost, with the
 * contract checker on.
 *
 *     #include "twin/fuzz.h"
 *     static tw_protocol *make(void *arg) { return my_parser_new(arg); }
 *     int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
 *     {
 *         tw_fuzz_protocol(make, NULL, data, size, NULL);
 *         return 0;
 *     }
 *
 * The input, byte by byte:
 *
 *     h          bits 0-4: n, the number of cut bytes that follow (0-31)
 *                bit 5: end with a reset (connection_lost(-ECONNRESET))
 *                       instead of EOF (datagrams: error_received
 *                       (-ECONNREFUSED) after the last one)
 *                bit 6: the peer reads slowly, 512 bytes per ms of
 *                       virtual time, so a protocol that writes a lot
 *                       meets pause_writing and a close that must flush
 *                bit 7: 1 s of virtual time between two chunks instead
 *                       of 1 ms, so the protocol's timers fire in between
 *     c1 .. cn   cut k delivers c_k + 1 bytes (1..256); the cuts repeat
 *                in order until the payload is used up. n = 0: the whole
 *                payload in one data_received.
 *     payload    the rest: the bytes the protocol receives, in order
 *
 * An empty input is connection_made, EOF, connection_lost. The same input
 * and options always give the same run, so a crash replays. A run is
 * bounded (2^20 steps of the world; a protocol busy with timers past
 * that gets the reset early).
 *
 * What the protocol sees is what a simulated connection delivers:
 * connection_made from the loop; data_received with exactly the chunk
 * (for a BufferedProtocol, as many get_buffer / buffer_updated pairs as
 * its buffers take); pause_reading holds the rest until resume_reading;
 * EOF after the last byte; then, if the protocol neither closes nor is
 * closed, the peer resets the connection once linger_ns has passed; then
 * connection_lost and release. A protocol with datagram_received and
 * neither data_received nor get_buffer gets each chunk as one datagram
 * and is closed after linger_ns.
 *
 * Catching bugs: each chunk is copied to end right before an unmapped
 * guard page, so reading past `len` faults even without a sanitizer; after
 * the call the bytes are overwritten (and poisoned under AddressSanitizer),
 * so a parser that keeps the data pointer past the call reads garbage.
 * Protocol timers still pending after release run for linger_ns, so a
 * timer on freed memory shows (under ASan). A contract violation (the
 * transport's callback sequence, or a get_buffer that returns an empty
 * buffer, which the reference text calls an error) is printed and aborts,
 * unless opts->on_violation is set.
 *
 * Threads: one call at a time per thread.
 */
#ifndef TWIN_FUZZ_H
#define TWIN_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"
#include "twin/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What happened in one run (filled when opts->stats is set). */
typedef struct tw_fuzz_stats {
    size_t bytes_in;    /* payload bytes the protocol took */
    size_t calls_in;    /* data_received, buffer_updated, datagram_received */
    size_t bytes_out;   /* bytes (or datagram bytes) the protocol wrote */
    size_t writes_out;  /* send operations that took bytes */
    bool made;          /* connection_made was delivered */
    bool eof_in;        /* eof_received was delivered */
    bool eof_out;       /* the protocol called write_eof (and it went out) */
    bool lost;          /* connection_lost was delivered */
    int lost_err;       /* its argument */
    bool paused_writing; /* pause_writing was delivered at least once */
    /* The first contract violation, "" if none. */
    char violation[256];
    /* The payload of the input (the bytes after its header): a pointer
     * into the caller's data, valid as long as that is. */
    const uint8_t *payload;
    size_t payload_len;
} tw_fuzz_stats;

typedef struct tw_fuzz_opts {
    /* The world's seed (twin/sim.h); protocol code that draws from
     * tw_sim_rand or has TW_BUGGIFY sites replays with it. [0] */
    uint64_t seed;
    /* Turn the protocol's TW_BUGGIFY sites on (twin/buggify.h). */
    bool buggify;
    /* Datagram protocols: the endpoint is connected to the peer (sendto
     * with no address goes there) rather than bound and unconnected. */
    bool dgram_connected;
    /* After the input's end, how long the peer waits for the protocol to
     * close before it resets the connection; also how long pending
     * timers may run after release. [2 s of virtual time] */
    tw_ns linger_ns;
    /* Every byte the protocol writes, in order, as it leaves (each
     * datagram in one call). NULL: discarded. */
    void (*on_output)(void *arg, const uint8_t *data, size_t len);
    void *output_arg;
    /* A contract violation: NULL prints the sentence and aborts (what a
     * fuzzer wants: a crash, with the input saved); otherwise called
     * with it, the run goes on, and tw_fuzz_protocol returns -EPROTO. */
    void (*on_violation)(void *arg, const char *violation);
    void *violation_arg;
    /* Filled with what happened, may be NULL. */
    tw_fuzz_stats *stats;
    /* For protocols that need state on the loop (a server object their
     * factory hands out connections of): on_loop runs with the node's
     * loop before the factory is called; on_done after the world is
     * freed, so it must drop that state without touching the loop.
     * Either may be NULL. */
    void (*on_loop)(void *arg, tw_loop *loop);
    void (*on_done)(void *arg);
    void *hook_arg;
    /* Print how the input was read (its header decoded: the cuts, the
     * end, the pacing; then each chunk as it is delivered, with its
     * bytes), the world's trace with one record per protocol callback,
     * and every byte the protocol writes. NULL: the environment variable
     * TWIN_FUZZ_TRACE set (to anything but "0") traces to stderr, so a
     * crash input of any target can be replayed with its story:
     *     TWIN_FUZZ_TRACE=1 ./my_fuzz crash-1234 */
    FILE *trace;
    /* Run the payload a second time, in one chunk (the same end and
     * pacing, on a world of its own), and compare what the protocol wrote
     * in the two runs: a stream protocol's output must not depend on
     * where its input was cut. A parser that looks for a delimiter only
     * in the bytes just arrived misses one split across two chunks; it
     * crashes nothing, and this finds it. A difference is a violation
     * (as the contract checker's: on_violation, else printed and abort)
     * that names the first byte where the outputs part. Only for inputs
     * with cuts, and not for datagram protocols (a chunk is a datagram
     * there) nor for a protocol whose output depends on time (a timer
     * that writes: the chunks take 1 ms or 1 s each). on_output and
     * stats are the first run's; the trace shows both runs; on_loop and
     * on_done run for both. */
    bool check_cuts;
} tw_fuzz_opts;

/* Run one protocol made by factory(arg) on data[0..size) as described
 * above (opts NULL: defaults). The protocol is released through its
 * release callback as with any transport; data is not kept. Returns 0,
 * -EPROTO if a violation was reported to opts->on_violation, -ENOMEM if
 * the world could not be built or the factory returned NULL. */
int tw_fuzz_protocol(tw_protocol_factory factory, void *arg,
                     const uint8_t *data, size_t size,
                     const tw_fuzz_opts *opts);

/* The payload of an input as tw_fuzz_protocol reads it (the bytes after
 * the header and its cuts), for an oracle that compares what the protocol
 * wrote with what it was given: a pointer into data, *len its length
 * (an empty input: NULL, 0). */
const uint8_t *tw_fuzz_payload(const uint8_t *data, size_t size, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
