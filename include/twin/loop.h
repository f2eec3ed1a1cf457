/* twin/loop.h - the event loop: callbacks, timers, time, run and stop.
 *
 * A tw_loop is created by a backend: tw_loop_new() (real/epoll, twin/real.h)
 * or tw_sim_add_node() (simulated, twin/sim.h). Everything here behaves the
 * same on both; on a simulated node time is virtual and running the loop
 * drives the whole simulated world.
 *
 * Time is integer nanoseconds (tw_ns) on a monotonic clock; tw_loop_time()
 * gives asyncio's float seconds for convenience.
 *
 * Threads: a loop and everything on it belongs to one thread. The single
 * exception is tw_call_soon_threadsafe().
 */
#ifndef TWIN_LOOP_H
#define TWIN_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_loop tw_loop;
typedef int64_t tw_ns;

#define TW_NS_PER_US INT64_C(1000)
#define TW_NS_PER_MS INT64_C(1000000)
#define TW_NS_PER_SEC INT64_C(1000000000)
#define TW_US(x) ((tw_ns)(x) * TW_NS_PER_US)
#define TW_MS(x) ((tw_ns)(x) * TW_NS_PER_MS)
#define TW_SEC(x) ((tw_ns)(x) * TW_NS_PER_SEC)

typedef void (*tw_callback)(void *arg);

/* A scheduled callback. 0 is never a valid handle. A handle stays safe to
 * pass to tw_handle_cancel() forever: once its callback has run or it was
 * cancelled, cancelling again returns -ENOENT (handles are not reused). */
typedef uint64_t tw_handle;

/* Schedule cb(arg) for the next loop iteration, after the callbacks already
 * scheduled (FIFO). Returns 0 only when out of memory. */
tw_handle tw_call_soon(tw_loop *loop, tw_callback cb, void *arg);

/* Schedule cb(arg) to run `delay` ns from now (negative counts as 0).
 * Timers due at the same time run in the order they were scheduled. */
tw_handle tw_call_later(tw_loop *loop, tw_ns delay, tw_callback cb, void *arg);

/* Schedule cb(arg) at absolute loop time `when` (see tw_loop_now). */
tw_handle tw_call_at(tw_loop *loop, tw_ns when, tw_callback cb, void *arg);

/* From any thread: schedule cb(arg) on the loop's thread and wake it.
 * Returns 0 or -ENOMEM. Not cancellable. The loop must outlive the call.
 * A call accepted here can still be lost if the loop runs out of memory
 * when it moves the call to its ready queue: it is then dropped without
 * running, and counted by tw_loop_dropped_calls (the library prints
 * nothing). */
int tw_call_soon_threadsafe(tw_loop *loop, tw_callback cb, void *arg);

/* Calls accepted by tw_call_soon_threadsafe that were dropped without
 * running because the loop ran out of memory; 0 unless that happened.
 * Read it from the loop's thread. */
uint64_t tw_loop_dropped_calls(const tw_loop *loop);

/* Cancel a pending callback or timer: it will not run. Returns 0, or
 * -ENOENT if it already ran, was cancelled, or never existed. */
int tw_handle_cancel(tw_loop *loop, tw_handle h);

/* True while the handle's callback is still pending. */
bool tw_handle_pending(tw_loop *loop, tw_handle h);

/* How many descriptors (connections, listeners, files) the loop's
 * process may hold open at once: on the real backend RLIMIT_NOFILE,
 * whose soft limit is first raised towards `want` when it is lower, but
 * never past the hard limit (what `ulimit -n` could do, no privilege
 * used); want 0 only reads it. Returns the limit then in force, or
 * UINT64_MAX where there is none: no limit set, or a simulated node,
 * which has no descriptors to run out of (tw_sim_emfile fails accepts
 * instead). A server sizes what it admits by this (resp-server's
 * maxclients). Loop thread. */
uint64_t tw_loop_fd_limit(tw_loop *loop, uint64_t want);

/* The loop's clock in ns (monotonic; virtual on a simulated node). */
tw_ns tw_loop_now(tw_loop *loop);

/* Unix time (ns since 1970) at loop time 0, so that tw_loop_now() plus
 * this is the time of day: on the real backend from the wall clock
 * (read at each call), on a simulated node TW_EPOCH_VIRTUAL until a clock
 * fault steps its time of day (twin/simfault.h), so a seed replays the
 * same dates. For what must show a date (Redis's TIME and
 * its absolute expiry times); intervals belong to tw_loop_now. */
#define TW_EPOCH_VIRTUAL ((tw_ns)1704067200 * TW_NS_PER_SEC) /* 2024-01-01 */
tw_ns tw_loop_epoch(tw_loop *loop);

/* The same clock in seconds, as asyncio's loop.time(). */
double tw_loop_time(tw_loop *loop);

/* Run until tw_loop_stop() is called or nothing is left to do: no pending
 * callback or timer, no open transport, server or pending operation.
 * Returns 0, or a negative error if the backend failed. */
int tw_loop_run(tw_loop *loop);

/* Run for `duration` ns of loop time (or until stopped / out of work). */
int tw_loop_run_for(tw_loop *loop, tw_ns duration);

/* Make tw_loop_run return once the current iteration's callbacks are done.
 * Safe to call from a callback; calling it outside run makes the next run
 * do one iteration and return (asyncio's stop() semantics). */
void tw_loop_stop(tw_loop *loop);

/* Close the loop and free it. Transports and servers still open are
 * aborted first, without their callbacks (a leak check's worst case):
 * close everything and run the loop to the end for a clean shutdown.
 * Simulated node loops are freed by tw_sim_free(), not by this. */
void tw_loop_free(tw_loop *loop);

/* "real" or "sim". */
const char *tw_loop_backend(const tw_loop *loop);

/* Number of open transports, servers and pending operations. */
unsigned tw_loop_alive(const tw_loop *loop);

/* ---- the contract checker ----
 * When on, every protocol callback is checked against the state machines of
 * the reference text (connection_made first, data only between it and
 * eof_received, get_buffer/buffer_updated pairing, pause/resume alternating,
 * nothing after connection_lost). A violation calls the handler with a
 * sentence naming the transport, the callback and the rule; the default
 * handler prints it to stderr and aborts. On by default unless NDEBUG.
 * Turning it off turns strict mode off too. */
typedef void (*tw_contract_handler)(void *arg, const char *violation);
void tw_loop_set_contract_check(tw_loop *loop, bool on);
void tw_loop_set_contract_handler(tw_loop *loop, tw_contract_handler h, void *arg);

/* Strict mode: the checker also watches what each PROTOCOL does with its
 * transports, and reports through the same handler a sentence naming the
 * loop (a simulated node by its name), the transport, the call and the
 * callback the protocol was in when it made it, e.g.
 *   twin contract violation: node c1 (sim backend): transport #4: write()
 *   after close(): refused, its 5 bytes dropped (in data_received of
 *   transport #4)
 * What it reports (what asyncio raises on, or silently drops):
 *   - write() / writelines() after write_eof() (asyncio: RuntimeError);
 *   - write() / writelines() of some bytes refused after the protocol's
 *     own close() or abort() (asyncio drops them; a write taken while
 *     close() still flushes is fine: twin/transport.h), and write_eof()
 *     after close() or abort();
 *   - set_write_buffer_limits() refused (low > high, or negative:
 *     asyncio's ValueError);
 *   - any call on a transport after its connection_lost returned.
 * Not reported, as asyncio takes them without a word: pause_reading or
 * resume_reading twice or out of order, close() or abort() twice, a
 * second write_eof(), a write after the NETWORK lost the connection
 * (the protocol has not heard yet).
 *
 * A call after connection_lost can only be seen while the transport's
 * memory is still there: in strict mode a transport is not freed when its
 * connection_lost and release are done but quarantined, marked dead,
 * until the loop is freed; each loop keeps its last 1024 dead transports
 * and frees older ones (a stale pointer to one of those is undefined
 * behaviour again). The cost is that memory: a loop that has ended 1024
 * connections keeps 1024 transports (the backend's struct, 424 to about
 * 700 bytes: at most about 0.7 MB a loop; their sockets, buffers and
 * protocols are released as usual), and a flag test in every call.
 * Strict mode applies to the transports that end while it is on.
 * Turning it on turns the checker on. Off by default; `twin sim` runs
 * scenarios with it on (the scenario key `expect: {contract: basic}`
 * turns it off). */
void tw_loop_set_contract_strict(tw_loop *loop, bool on);
bool tw_loop_contract_strict(const tw_loop *loop);

#ifdef __cplusplus
}
#endif
#endif
