/* twin/error.h - the error convention.
 *
 * Every twin function that can fail returns 0 (or a non-negative count) on
 * success and a negative errno value on failure: -ECONNRESET, -EINVAL, ...
 * connection_lost(p, 0) is the clean case; any other value names the cause.
 *
 * When a function that takes a completion callback returns an error, that
 * callback is never called (the libuv rule).
 */
#ifndef TWIN_ERROR_H
#define TWIN_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A short English text for a twin error value (negative errno) or 0.
 * Never returns NULL; unknown values give "unknown error". The string is
 * static and must not be freed. */
const char *tw_strerror(int err);

/* The symbolic name of an error: "ECONNRESET", "OK" for 0. Static string. */
const char *tw_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
