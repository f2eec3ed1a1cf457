/* fuzz/resp.c - the RESP key-value server (twin/resp.h): its request
 * parser, its reply parser, string2ll, and the server protocol through
 * data_received (twin/fuzz.h gives the input its chunking).
 *
 * Oracles:
 *   - the request parser finds the same requests (and the same error)
 *     in the payload whether it gets it whole or cut as the input says:
 *     an incremental parser must not depend on where reads end;
 *   - string2ll accepts exactly what printing its value gives back;
 *   - what the server writes is a sequence of whole RESP2 replies,
 *     unless the connection was cut (reset, or its output dropped);
 *   - no crash, no over-read (the helper's guard page), the contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/fuzz.h"
#include "twin/resp.h"

#define ARGS_MAX 64
#define LOG_MAX 4096

/* twin/fuzz.h's layout: the cuts and the payload. */
typedef struct input {
    const uint8_t *cuts, *pay;
    size_t ncuts, plen;
} input;

static input split(const uint8_t *d, size_t n)
{
    static const uint8_t none[1];
    input in = {.pay = none, .cuts = none};
    if (!n)
        return in;
    size_t c = d[0] & 0x1f;
    c = c < n - 1 ? c : n - 1;
    in.cuts = d + 1;
    in.ncuts = c;
    in.pay = d + 1 + c;
    in.plen = n - 1 - c;
    return in;
}

/* What a parse found, as bytes to compare: per request its argc and
 * arguments, then the final status. */
typedef struct found {
    uint8_t log[LOG_MAX];
    size_t len;
    bool over;
} found;

static void note(found *f, const void *p, size_t n)
{
    if (f->len + n > LOG_MAX) {
        f->over = true;
        return;
    }
    memcpy(f->log + f->len, p, n);
    f->len += n;
}

/* Parse buf[0..len) from *pos as far as it goes; returns the last code
 * (0: wants more). */
static int drain(tw_resp_parser *ps, const uint8_t *buf, size_t len,
                 size_t *pos, found *f)
{
    static tw_resp_arg argv[ARGS_MAX];
    for (;;) {
        size_t argc = 0;
        int rc = tw_resp_parse(ps, buf + *pos, len - *pos, argv, ARGS_MAX, &argc);
        if (rc <= 0 && rc != TW_RESP_NEED_ARGV)
            return rc;
        if (rc == TW_RESP_NEED_ARGV) {
            note(f, "big", 3); /* same in both: too many to keep */
            return rc;
        }
        if ((size_t)rc > len - *pos)
            abort(); /* claimed more than it was given */
        note(f, &argc, sizeof argc);
        for (size_t i = 0; i < argc; i++) {
            note(f, &argv[i].len, sizeof argv[i].len);
            note(f, argv[i].p, argv[i].len);
        }
        *pos += (size_t)rc;
    }
}

static void parse_whole_and_cut(const input *in)
{
    static uint8_t scratch[1024], scratch2[1024];
    static found a, b;
    tw_resp_limits lim = {.bulk_max = 4096, .array_max = 256, .inline_max = 1024};
    tw_resp_parser ps;
    a.len = b.len = 0;
    a.over = b.over = false;

    tw_resp_parser_init(&ps, &lim, scratch, sizeof scratch);
    size_t pos = 0;
    int ra = drain(&ps, in->pay, in->plen, &pos, &a);
    note(&a, &ra, sizeof ra);

    /* Cut: the bytes arrive chunk by chunk; what is unparsed stays at the
     * start of the buffer, as a server keeps it. */
    tw_resp_parser_init(&ps, &lim, scratch2, sizeof scratch2);
    size_t have = 0, k = 0, start = 0;
    int rb = 0;
    pos = 0;
    while (have < in->plen) {
        size_t n = in->ncuts ? (size_t)in->cuts[k++ % in->ncuts] + 1 : in->plen;
        have += n < in->plen - have ? n : in->plen - have;
        rb = drain(&ps, in->pay + start, have - start, &pos, &b);
        start += pos;
        pos = 0;
        if (rb < 0)
            break;
    }
    note(&b, &rb, sizeof rb);
    if (!a.over && !b.over && (a.len != b.len || memcmp(a.log, b.log, a.len))) {
        fprintf(stderr, "resp: the cuts changed what was parsed (%d vs %d)\n", ra, rb);
        abort();
    }
}

static void str2ll(const input *in)
{
    int64_t v;
    size_t n = in->plen < 24 ? in->plen : 24;
    if (tw_resp_str2ll(in->pay, n, &v)) {
        char buf[32];
        int m = snprintf(buf, sizeof buf, "%lld", (long long)v);
        if ((size_t)m != n || memcmp(buf, in->pay, n) != 0)
            abort(); /* accepted a spelling Redis would not */
    }
}

static void replies(const input *in)
{
    tw_resp_reply r;
    const uint8_t *p = in->pay;
    size_t left = in->plen;
    for (int i = 0; i < 64 && left; i++) {
        int rc = tw_resp_reply_parse(p, left, &r, NULL);
        if (rc <= 0)
            break;
        if ((size_t)rc > left)
            abort();
        p += rc;
        left -= (size_t)rc;
    }
}

/* ---- the server ---- */

typedef struct server_run {
    tw_resp_server *srv;
    uint8_t out[1 << 16];
    size_t len;
    bool over;
} server_run;

static void on_loop(void *arg, tw_loop *loop)
{
    server_run *s = arg;
    tw_resp_server_cfg cfg = {
        .limits = {.bulk_max = 1 << 16, .array_max = 1024, .inline_max = 4096,
                   .pending_max = 1 << 17},
        .store = {.keys_max = 256, .bytes_max = 1 << 20},
        .output_max = 1 << 18,
    };
    s->srv = tw_resp_server_new(loop, &cfg);
}

static void on_done(void *arg)
{
    server_run *s = arg;
    if (s->srv)
        tw_resp_server_discard(s->srv);
    s->srv = NULL;
}

static tw_protocol *factory(void *arg)
{
    server_run *s = arg;
    return s->srv ? tw_resp_server_factory(s->srv) : NULL;
}

static void collect(void *arg, const uint8_t *d, size_t n)
{
    server_run *s = arg;
    if (s->len + n > sizeof s->out) {
        s->over = true;
        return;
    }
    memcpy(s->out + s->len, d, n);
    s->len += n;
}

static void check_replies(const server_run *s)
{
    const uint8_t *p = s->out;
    size_t left = s->len;
    tw_resp_limits lim = {.bulk_max = 1 << 16, .array_max = 1 << 16};
    while (left) {
        tw_resp_reply r;
        int rc = tw_resp_reply_parse(p, left, &r, &lim);
        if (rc <= 0) {
            fprintf(stderr, "resp: server wrote a bad reply (%d) at byte %zu\n",
                    rc, s->len - left);
            abort();
        }
        p += rc;
        left -= (size_t)rc;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = split(data, size);
    parse_whole_and_cut(&in);
    str2ll(&in);
    replies(&in);

    static server_run s;
    s.len = 0;
    s.over = false;
    s.srv = NULL;
    tw_fuzz_stats st;
    tw_fuzz_opts o = {.on_output = collect, .output_arg = &s, .stats = &st,
                      .on_loop = on_loop, .on_done = on_done, .hook_arg = &s};
    tw_fuzz_protocol(factory, &s, data, size, &o);
    /* A reset or a slow peer may cut the last reply short; a clean end
     * leaves only whole replies. */
    if (!s.over && size && !(data[0] & 0x60))
        check_replies(&s);
    return 0;
}
