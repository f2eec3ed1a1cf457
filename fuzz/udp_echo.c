/* fuzz/udp_echo.c - the UDP echo server and client of proto/udp_echo.c,
 * each chunk of the input one datagram (twin/fuzz.h).
 *
 * Oracles: the server sends back exactly the datagrams it got; the client
 * counts every datagram as an echo or a mismatch, never both, never lost.
 */
#include <stdlib.h>
#include <string.h>

#include "twin/fuzz.h"
#include "twin/udp_echo.h"

typedef struct out {
    uint8_t buf[1 << 16];
    size_t len, datagrams;
    bool over;
} out;

static void collect(void *arg, const uint8_t *d, size_t n)
{
    out *o = arg;
    o->datagrams++;
    if (o->len + n > sizeof o->buf) {
        o->over = true;
        return;
    }
    memcpy(o->buf + o->len, d, n);
    o->len += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static out o;
    memset(&o, 0, sizeof o);
    tw_fuzz_stats st;
    tw_fuzz_opts opts = {.on_output = collect, .output_arg = &o, .stats = &st};
    tw_udp_echo_server_cfg cfg = {0};
    tw_fuzz_protocol(tw_udp_echo_server_factory, &cfg, data, size, &opts);
    if (cfg.datagrams != st.calls_in || o.datagrams != st.calls_in)
        abort();
    if (!o.over && o.len != st.bytes_in)
        abort();

    tw_udp_echo_client_cfg cc = {.message = "ping", .count = 4,
                                 .timeout_ns = TW_MS(300), .retries = 2};
    tw_udp_echo_client *c = tw_udp_echo_client_new(&cc);
    if (!c)
        return 0;
    tw_fuzz_opts copts = {.dgram_connected = true, .stats = &st};
    tw_fuzz_protocol(tw_udp_echo_client_factory, c, data, size, &copts);
    if (tw_udp_echo_client_echoes(c) + tw_udp_echo_client_mismatches(c) >
        st.calls_in)
        abort(); /* counted more datagrams than arrived */
    tw_udp_echo_client_free(c);
    return 0;
}
