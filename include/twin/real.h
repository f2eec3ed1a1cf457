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
} tw_real_opts;

/* A new epoll loop. opts may be NULL. NULL on failure (errno is set). */
tw_loop *tw_loop_new(const tw_real_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
