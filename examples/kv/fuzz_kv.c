/* fuzz_kv.c - the lkv server's request parser under libFuzzer, fed
 * through data_received by twin's fuzz helper (twin/fuzz.h), with an
 * oracle: every complete request line gets exactly one well-formed reply.
 *
 *     make fuzz                       # FUZZ_SECONDS of it
 *     TWIN_FUZZ_TRACE=1 ./fuzz_kv crash-...   # the story of one input
 */
#include <stdlib.h>
#include <string.h>

#include <twin/fuzz.h>

#include "kv.h"

typedef struct oracle {
    kv_store *store;
    char line[KV_LINE_MAX + 16];
    size_t n;
    size_t replies;
} oracle;

static void on_loop(void *arg, tw_loop *loop)
{
    (void)loop;
    oracle *o = arg;
    o->store = kv_store_new();
    if (!o->store)
        abort();
}

static void on_done(void *arg) { kv_store_free(((oracle *)arg)->store); }

static tw_protocol *make(void *arg) { return kv_server_factory(((oracle *)arg)->store); }

static bool well_formed(const char *l)
{
    return strcmp(l, "OK") == 0 || strcmp(l, "NIL") == 0 ||
           strncmp(l, "VALUE ", 6) == 0 || strncmp(l, "ERR ", 4) == 0;
}

/* Each reply line the server writes must be one of the four forms. */
static void on_output(void *arg, const uint8_t *d, size_t len)
{
    oracle *o = arg;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == '\n') {
            o->line[o->n] = '\0';
            if (!well_formed(o->line))
                abort();
            o->n = 0;
            o->replies++;
        } else if (o->n < sizeof o->line - 1) {
            o->line[o->n++] = (char)d[i];
        } else {
            abort(); /* a reply longer than any the server makes */
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oracle o;
    memset(&o, 0, sizeof o);
    tw_fuzz_stats st;
    tw_fuzz_opts opts = {.on_output = on_output, .output_arg = &o,
                         .on_loop = on_loop, .on_done = on_done,
                         .hook_arg = &o, .stats = &st};
    tw_fuzz_protocol(make, &o, data, size, &opts);
    /* Count the complete request lines the payload holds, up to the first
     * one too long (which is answered, then the connection closes). */
    size_t plen;
    const uint8_t *p = tw_fuzz_payload(data, size, &plen);
    size_t lines = 0, cur = 0;
    bool too_long = false;
    for (size_t i = 0; i < plen && !too_long; i++) {
        if (p[i] == '\n') {
            lines++;
            cur = 0;
        } else if (++cur == KV_LINE_MAX) {
            too_long = true;
            lines++; /* its "ERR line too long" */
        }
    }
    bool reset_end = size > 0 && (data[0] & 0x20);
    if (o.replies > lines || (!reset_end && o.replies != lines))
        abort();
    return 0;
}
