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
     * for up to this long; 0: never. Waking a sleeping thread is costly,
     * for the thread that wakes it too (on a virtual machine, often more
     * than the request it carries); a busy server that is never asleep
     * when the next request comes saves both sides that cost, and spends
     * CPU time polling instead. The window adapts: it grows while the
     * loop's idle gaps fit in it and shrinks when they are longer, so an
     * idle loop hardly polls. Suited to a loop that has a core to itself;
     * 20-50 us is typical. */
    tw_ns busy_poll;
} tw_real_opts;

/* A new epoll loop. opts may be NULL. NULL on failure (errno is set). */
tw_loop *tw_loop_new(const tw_real_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
