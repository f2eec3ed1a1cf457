/* twin/parse.h - the values people type: durations, byte counts, rates,
 * probabilities, HOST:PORT. Apps' options and scenario files use the same
 * spellings, so "250ms" means one thing everywhere.
 *
 *   duration     "1.5s" "250ms" "20us" "7ns" "2m" "1h"; a bare number is
 *                seconds ("0.25"). Exact: decimals are converted to
 *                integer nanoseconds digit by digit, never through a
 *                double, so "0.1s" is 100,000,000 ns on every machine.
 *   bytes        "512" "64KiB" "1MiB" "2GiB" (powers of 1024) or
 *                "10KB" "1MB" (powers of 1000); "B" allowed.
 *   rate         bytes per second: "10MB/s" "64KiB/s" "100Mbit/s"
 *                "1Gbit/s" "800kbit/s"; a bare number is bytes per second.
 *   probability  "1%" "0.5%" or a number in [0, 1].
 *
 * Every parser returns 0 and sets *out, or -EINVAL (nothing set) for
 * text that is not entirely one value of its kind, or -ERANGE when it
 * does not fit. No allocation, no locale, no errno.
 */
#ifndef TWIN_PARSE_H
#define TWIN_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A duration; may be negative ("-2s", for a clock skew). */
int tw_parse_duration(const char *s, tw_ns *out);
int tw_parse_bytes(const char *s, uint64_t *out);
int tw_parse_rate(const char *s, uint64_t *bytes_per_sec);
int tw_parse_probability(const char *s, double *out);
/* A port number 0..65535 (0: the system or the simulator picks one). */
int tw_parse_port(const char *s, uint16_t *out);
/* "host:port" or "[v6]:port"; host is copied into host[hlen]. The port
 * must be 1..65535. */
int tw_parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port);

/* Write the address a server listens on as people read it: "host:port",
 * "[v6]:port" for an address with a ':', and "*:port" for host NULL or ""
 * (every interface, IPv4 and IPv6). Truncated to len; returns buf.
 * buf should hold TW_HOSTPORT_STRLEN bytes for any host of 255. */
#define TW_HOSTPORT_STRLEN 264
char *tw_format_hostport(const char *host, uint16_t port, char *buf, size_t len);

/* Write ns as an exact duration a person reads at a glance: a whole
 * number of the largest unit that divides it ("1500ms", "2s", "7ns"),
 * else a decimal of the largest of s, ms and us it reaches
 * ("1.859375ms"); tw_parse_duration reads either back to the same ns.
 * Returns buf. buf should hold 32 bytes. */
char *tw_format_duration(tw_ns ns, char *buf, size_t len);

/* How far a mistyped name is from a known one, for "did you mean":
 * the edits (a character put in, left out, changed, or two neighbours
 * swapped) that turn a (its first la bytes) into b, counted up to
 * TW_PARSE_FAR: that many or more, and any name over 64 bytes, give
 * TW_PARSE_FAR. */
#define TW_PARSE_FAR 3u
unsigned tw_parse_distance(const char *a, size_t la, const char *b);

/* The name meant by a mistyped one, among names offered one by one:
 *   tw_parse_guess g = TW_PARSE_GUESS_INIT;
 *   for each known name n: tw_parse_guess_offer(&g, n, distance to n);
 *   tw_parse_guess_best(&g): the nearest, or NULL when none is near
 *   enough (TW_PARSE_FAR or more away, or half of n or more changed) or
 *   two are as near as each other. The names are not copied. */
typedef struct tw_parse_guess {
    const char *best;
    unsigned d;
    bool tie;
} tw_parse_guess;
#define TW_PARSE_GUESS_INIT {NULL, TW_PARSE_FAR, false}
void tw_parse_guess_offer(tw_parse_guess *g, const char *name, unsigned d);
const char *tw_parse_guess_best(const tw_parse_guess *g);

#ifdef __cplusplus
}
#endif
#endif
