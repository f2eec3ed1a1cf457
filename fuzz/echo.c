/* fuzz/echo.c - the echo server (both modes) and client of proto/echo.c,
 * through data_received (twin/fuzz.h gives the input its chunking).
 *
 * Oracles beyond "does not crash": a --keep-open server writes back
 * exactly the bytes it was given, in order; a server that closes after
 * its first data echoes at most what it got; a client that says "ok"
 * received its message count times and nothing else.
 */
#include <stdlib.h>
#include <string.h>

#include "twin/echo.h"
#include "twin/fuzz.h"

typedef struct out {
    uint8_t buf[1 << 16];
    size_t len;
    bool over;
} out;

static void collect(void *arg, const uint8_t *d, size_t n)
{
    out *o = arg;
    if (o->len + n > sizeof o->buf) {
        o->over = true;
        return;
    }
    memcpy(o->buf + o->len, d, n);
    o->len += n;
}

/* The payload of an input (twin/fuzz.h's layout). */
static const uint8_t *payload(const uint8_t *data, size_t size, size_t *len)
{
    size_t skip = size ? 1 + (size_t)(data[0] & 0x1f) : 0;
    skip = skip < size ? skip : size;
    *len = size - skip;
    return data + skip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static out o;
    size_t plen;
    const uint8_t *pay = payload(data, size, &plen);
    tw_fuzz_stats st;
    tw_fuzz_opts opts = {.on_output = collect, .output_arg = &o, .stats = &st};

    for (int keep = 0; keep < 2; keep++) {
        tw_echo_server_cfg cfg = {.keep_open = keep};
        o.len = 0;
        o.over = false;
        tw_fuzz_protocol(tw_echo_server_factory, &cfg, data, size, &opts);
        if (o.over)
            continue;
        if (o.len > st.bytes_in || memcmp(o.buf, pay, o.len) != 0)
            abort(); /* wrote what it was not sent */
        if (keep && size && !(data[0] & 0x20) && o.len != st.bytes_in)
            abort(); /* kept open, ended by EOF: everything comes back */
    }

    static const char msg[] = "hello, echo";
    tw_echo_client_cfg cc = {.message = msg, .count = 3};
    tw_echo_client *c = tw_echo_client_new(&cc);
    if (!c)
        return 0;
    tw_fuzz_protocol(tw_echo_client_factory, c, data, size, NULL);
    size_t got;
    const uint8_t *g = tw_echo_client_received(c, &got);
    if (tw_echo_client_ok(c)) {
        if (got != 3 * (sizeof msg - 1))
            abort();
        for (int i = 0; i < 3; i++)
            if (memcmp(g + i * (sizeof msg - 1), msg, sizeof msg - 1) != 0)
                abort();
    }
    tw_echo_client_free(c);
    return 0;
}
