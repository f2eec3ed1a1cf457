/* fuzz/parse.c - the value parsers every app option and scenario file
 * goes through (twin/parse.h: durations, byte counts, rates,
 * probabilities, HOST:PORT) and numeric addresses (twin/addr.h).
 *
 * Oracles: what parses is in range; a duration printed by
 * tw_format_duration parses back to itself; an address printed by
 * tw_addr_format parses back to an equal address.
 */
#include <stdlib.h>
#include <string.h>

#include "twin/addr.h"
#include "twin/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = 0;

    tw_ns d, d2;
    if (tw_parse_duration(s, &d) == 0) {
        char buf[32];
        tw_format_duration(d, buf, sizeof buf);
        if (tw_parse_duration(buf, &d2) != 0 || d2 != d)
            abort(); /* the shortest exact spelling must mean the same */
    }
    uint64_t u;
    tw_parse_bytes(s, &u);
    tw_parse_rate(s, &u);
    double p;
    if (tw_parse_probability(s, &p) == 0 && !(p >= 0 && p <= 1))
        abort();
    char host[64];
    uint16_t port;
    if (tw_parse_hostport(s, host, sizeof host, &port) == 0 &&
        (port == 0 || strlen(host) >= sizeof host))
        abort();

    tw_addr a, b;
    if (tw_addr_parse(&a, s) == 0) {
        char text[TW_ADDR_STRLEN];
        tw_addr_format(&a, text, sizeof text);
        if (tw_addr_parse(&b, text) != 0 || !tw_addr_equal(&a, &b))
            abort(); /* printed and read back: another address */
    }
    return 0;
}
