/* twin/error.h - the error convention.
 *
 * Every twin function that can fail returns 0 (or a non-negative count) on
 * success and a negative errno value on failure: -ECONNRESET, -EINVAL, ...
 * connection_lost(p, 0) is the clean case; any other value names the cause.
 *
 * When a function that takes a completion callback returns an error, that
 * callback is never called (the libuv rule).
 *
 * A name that does not resolve is not a network error, and errno has no
 * value for it: the resolver's failures have values of their own, below
 * every errno value (as libuv's UV_EAI_*):
 *   TW_EAI_NONAME  no such name (getaddrinfo's EAI_NONAME; the
 *                  simulator's answer for a name that is no node's)
 *   TW_EAI_NODATA  the name has no address, or none of IPv4 or IPv6
 *   TW_EAI_AGAIN   the resolver could not answer now; try again later
 *   TW_EAI_FAIL    the resolver failed for good
 * tw_strerror says which name problem it is in the resolver's own words.
 */
#ifndef TWIN_ERROR_H
#define TWIN_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TW_EAI_NONAME (-3001)
#define TW_EAI_NODATA (-3002)
#define TW_EAI_AGAIN (-3003)
#define TW_EAI_FAIL (-3004)

/* A short English text for a twin error value (negative errno, or
 * TW_EAI_*: "name does not resolve: " and the resolver's text) or 0.
 * Never returns NULL; unknown values give "unknown error". The string is
 * static and must not be freed. */
const char *tw_strerror(int err);

/* The symbolic name of an error: "ECONNRESET", "OK" for 0. Static string. */
const char *tw_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
