/* twin/real.h - the real backend: Linux epoll.
 *
 * Only the program's setup code includes this (a main(), a test fixture);
 * protocol code never does.
 */
#ifndef TWIN_REAL_H
#define TWIN_REAL_H

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_real_opts {
    /* Largest read handed to one data_received; 0: 256 KiB. */
    size_t read_size;
    /* Wait before accepting again after EMFILE/ENFILE; 0: 1 s (asyncio's). */
    tw_ns accept_retry_delay;
    /* Busy polling: before sleeping in epoll_wait, poll without sleeping
     * for up to this long; 0 (the default): never. Waking a sleeping
     * thread costs the thread that wakes it too (a client sending to a
     * server on the same machine; on a virtual machine, an interrupt
     * through the hypervisor, often more than the request itself). A
     * server still polling when the next request comes saves both sides
     * that cost, and spends the window's CPU time instead. Polling stops
     * while fewer than about a quarter of the loop's recent idle gaps fit
     * in the window, so a quiet loop sleeps as before. For a loop with a
     * core to itself under steady load; 10-20 us is typical. */
    tw_ns busy_poll;
    /* Record what the loop's protocols are given (twin/record.h); NULL
     * (the default): no recording. Copied; the path must be writable or
     * tw_loop_new fails with its errno. */
    const struct tw_record_opts *record;
} tw_real_opts;

/* A new epoll loop. opts may be NULL. NULL on failure (errno is set). */
tw_loop *tw_loop_new(const tw_real_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
