/* proto/resp_parse.c - RESP2 parsing: requests (arrays of bulk strings
 * and inline lines) for the server, replies for clients and tests.
 *
 * Map: limits; integers; finding a line; arrays of bulks; inline lines;
 * the request entry point; error texts; replies.
 *
 * The request parser keeps how far it has validated an unfinished
 * request (phase, offset, elements done, how far a line end was looked
 * for), so bytes arriving one at a time are each looked at once. The
 * arguments are located only when the request is complete, by walking
 * its already-validated headers again: the buffer may have moved between
 * calls (the server copies an unfinished tail into its own), and a walk
 * over known-good headers is cheap next to keeping pointers that rot.
 *
 * Every limit is checked against a fixed window, never against how much
 * happens to be buffered, so the same bytes give the same result however
 * the network cut them: a property the tests check for every split.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "twin/resp.h"

/* Redis's PROTO_INLINE_MAX_SIZE: a count line ("*3", "$5") must end
 * within this many bytes of its start. */
#define COUNT_LINE_MAX (64 * 1024)
#define REPLY_DEPTH_MAX 16

enum { K_NONE, K_MBULK, K_INLINE };
enum { P_COUNT, P_ELEM_LINE, P_ELEM_BODY, P_DONE };

/* ---- limits ---- */

tw_resp_limits tw_resp_limits_resolve(const tw_resp_limits *in)
{
    tw_resp_limits l = in ? *in : (tw_resp_limits){0};
    if (!l.bulk_max)
        l.bulk_max = TW_RESP_BULK_MAX_DEFAULT;
    if (!l.array_max)
        l.array_max = TW_RESP_ARRAY_MAX_DEFAULT;
    if (!l.inline_max)
        l.inline_max = TW_RESP_INLINE_MAX_DEFAULT;
    if (!l.pending_max)
        l.pending_max = TW_RESP_PENDING_MAX_DEFAULT;
    return l;
}

void tw_resp_parser_init(tw_resp_parser *ps, const tw_resp_limits *lim,
                         uint8_t *scratch, size_t scratch_len)
{
    memset(ps, 0, sizeof *ps);
    ps->lim = tw_resp_limits_resolve(lim);
    ps->scratch = scratch;
    ps->scratch_len = scratch ? scratch_len : 0;
}

void tw_resp_parser_reset(tw_resp_parser *ps)
{
    ps->kind = K_NONE;
    ps->phase = P_COUNT;
    ps->pos = ps->scan = ps->nargs = ps->done = ps->bulk = 0;
}

/* ---- integers ---- */

bool tw_resp_str2ll(const uint8_t *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    bool neg = s[0] == '-';
    size_t i = neg;
    if (i == len)
        return false;
    if (s[i] == '0') {
        if (len != 1)
            return false; /* "01" and "-0" are not Redis integers */
        *out = 0;
        return true;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = (int64_t)(0 - v); /* two's complement: INT64_MIN fits */
        return true;
    }
    if (v > (uint64_t)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/* ---- finding a line ---- */

/* The line starting at `start` must have its '\r' within `window` bytes.
 * Returns 1 with *cr set, 0 when more bytes are needed, -1 when the
 * window is all there and holds no '\r'. ps->scan remembers how far the
 * search got, so an unfinished line is never searched twice. */
static int find_cr(tw_resp_parser *ps, const uint8_t *buf, size_t len,
                   size_t start, size_t window, size_t *cr)
{
    size_t end = len - start < window ? len : start + window;
    size_t from = ps->scan > start ? ps->scan : start;
    if (from < end) {
        const uint8_t *p = memchr(buf + from, '\r', end - from);
        if (p) {
            *cr = (size_t)(p - buf);
            ps->scan = *cr; /* found again at once if '\n' is missing */
            return 1;
        }
        ps->scan = end;
    }
    return len - start >= window ? -1 : 0;
}

/* The count after the type byte of the line [start, cr), which must be
 * followed by '\n' at cr + 1 (the caller made sure cr + 1 < len). */
static bool count_of(const uint8_t *buf, size_t start, size_t cr, int64_t *n)
{
    return buf[cr + 1] == '\n' &&
           tw_resp_str2ll(buf + start + 1, cr - start - 1, n);
}

/* ---- arrays of bulks ---- */

static int mbulk_step(tw_resp_parser *ps, const uint8_t *buf, size_t len)
{
    for (;;) {
        size_t cr;
        int64_t n;
        int r;
        switch (ps->phase) {
        case P_COUNT:
            r = find_cr(ps, buf, len, ps->pos, COUNT_LINE_MAX, &cr);
            if (r < 0)
                return TW_RESP_EMBULK_COUNT_TOO_BIG;
            if (r == 0 || cr + 1 >= len)
                return 0;
            if (!count_of(buf, ps->pos, cr, &n) ||
                (n > 0 && (uint64_t)n > ps->lim.array_max))
                return TW_RESP_EMBULK_LEN;
            ps->pos = ps->scan = cr + 2;
            /* Redis ignores "*0" and negative counts: an empty request. */
            ps->nargs = n > 0 ? (size_t)n : 0;
            ps->done = 0;
            ps->phase = ps->nargs ? P_ELEM_LINE : P_DONE;
            break;
        case P_ELEM_LINE:
            if (ps->pos >= len)
                return 0;
            r = find_cr(ps, buf, len, ps->pos, COUNT_LINE_MAX, &cr);
            if (r < 0)
                return TW_RESP_EBULK_COUNT_TOO_BIG;
            if (r == 0 || cr + 1 >= len)
                return 0;
            /* Redis looks at the type byte only once the line is whole. */
            if (buf[ps->pos] != '$') {
                ps->bad = buf[ps->pos];
                return TW_RESP_EEXPECTED_DOLLAR;
            }
            if (!count_of(buf, ps->pos, cr, &n) || n < 0 ||
                (uint64_t)n > ps->lim.bulk_max)
                return TW_RESP_EBULK_LEN;
            ps->bulk = (size_t)n;
            ps->pos = ps->scan = cr + 2;
            ps->phase = P_ELEM_BODY;
            break;
        case P_ELEM_BODY:
            if (len - ps->pos < ps->bulk + 2)
                return 0;
            if (buf[ps->pos + ps->bulk] != '\r' ||
                buf[ps->pos + ps->bulk + 1] != '\n')
                return TW_RESP_EBULK_CRLF;
            ps->pos = ps->scan = ps->pos + ps->bulk + 2;
            ps->phase = ++ps->done == ps->nargs ? P_DONE : P_ELEM_LINE;
            break;
        default:
            return 1;
        }
    }
}

/* Digits of a validated count line starting at buf[p] (after its type
 * byte); *p moves past its CRLF. */
static size_t walk_count(const uint8_t *buf, size_t *p)
{
    size_t v = 0, i = *p;
    for (; buf[i] != '\r'; i++)
        v = v * 10 + (size_t)(buf[i] - '0');
    *p = i + 2;
    return v;
}

static void mbulk_fill(const uint8_t *buf, tw_resp_arg *argv, size_t nargs)
{
    size_t p = 1;
    walk_count(buf, &p); /* the element count, known already */
    for (size_t i = 0; i < nargs; i++) {
        p++; /* '$' */
        size_t n = walk_count(buf, &p);
        argv[i].p = buf + p;
        argv[i].len = n;
        p += n + 2;
    }
}

/* ---- inline lines ---- */

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
           c == '\f';
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One token with quotes, unescaped into dst the way redis-cli and
 * Redis's sdssplitargs read it: "..." with \n \r \t \b \a \xHH and \c,
 * '...' with \' only; a closing quote must be followed by a space or the
 * end. Returns the end of the token, or NULL for unbalanced quotes. */
static const uint8_t *quoted_token(const uint8_t *p, const uint8_t *end,
                                   uint8_t *dst, size_t *n)
{
    size_t k = 0;
    int q = 0; /* 0, '"' or '\'' */
    for (;;) {
        if (!q) {
            if (p == end || is_space(*p))
                break;
            if (*p == '"' || *p == '\'')
                q = *p++;
            else
                dst[k++] = *p++;
            continue;
        }
        if (p == end)
            return NULL; /* unterminated */
        if (*p == q) {
            p++;
            if (p < end && !is_space(*p))
                return NULL;
            break;
        }
        if (q == '"' && *p == '\\' && end - p >= 4 && p[1] == 'x' &&
            hex_val(p[2]) >= 0 && hex_val(p[3]) >= 0) {
            dst[k++] = (uint8_t)(hex_val(p[2]) * 16 + hex_val(p[3]));
            p += 4;
        } else if (q == '"' && *p == '\\' && end - p >= 2) {
            uint8_t c = p[1];
            dst[k++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t'
                     : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
            p += 2;
        } else if (q == '\'' && *p == '\\' && end - p >= 2 && p[1] == '\'') {
            dst[k++] = '\'';
            p += 2;
        } else {
            dst[k++] = *p++;
        }
    }
    *n = k;
    return p;
}

/* Split [p, end) into argv (up to cap; *argc counts them all). The line
 * holds no NUL: inline_step refused it. */
static int inline_split(tw_resp_parser *ps, const uint8_t *p,
                        const uint8_t *end, tw_resp_arg *argv, size_t cap,
                        size_t *argc)
{
    size_t n = 0, used = 0;
    for (;;) {
        while (p < end && is_space(*p))
            p++;
        if (p == end)
            break;
        const uint8_t *q = p;
        while (q < end && !is_space(*q) && *q != '"' && *q != '\'')
            q++;
        tw_resp_arg a = {p, (size_t)(q - p)};
        if (q < end && (*q == '"' || *q == '\'')) {
            /* Unescaped text is never longer than the line it came from. */
            if ((size_t)(end - p) > ps->scratch_len - used)
                return TW_RESP_ESCRATCH;
            q = quoted_token(p, end, ps->scratch + used, &a.len);
            if (!q)
                return TW_RESP_EQUOTES;
            a.p = ps->scratch + used;
            used += a.len;
        }
        if (n < cap)
            argv[n] = a;
        n++;
        p = q;
    }
    *argc = n;
    return n > cap ? TW_RESP_NEED_ARGV : 0;
}

/* An inline line with a NUL byte in it is refused. Splitting it as a C
 * string would end it at the NUL and run what came before, so "SET k
 * v\0w" would store "v" and answer +OK; Redis, whose search for the line
 * end also stops at a NUL, never finds the end and finally refuses the
 * request as too big. Refusing at once is that answer without the wait.
 * The NUL is looked for in the bytes the line end is looked for in, each
 * once, so where the reads were cut cannot change the verdict. */
static int inline_step(tw_resp_parser *ps, const uint8_t *buf, size_t len,
                       tw_resp_arg *argv, size_t cap, size_t *argc)
{
    size_t window = ps->lim.inline_max;
    size_t end = len < window ? len : window;
    size_t from = ps->scan;
    const uint8_t *nl = from < end ? memchr(buf + from, '\n', end - from) : NULL;
    size_t upto = nl ? (size_t)(nl - buf) : end;
    if (upto > from && memchr(buf + from, '\0', upto - from))
        return TW_RESP_EINLINE_NUL;
    if (!nl) {
        ps->scan = end > ps->scan ? end : ps->scan;
        return len >= window ? TW_RESP_EINLINE_TOO_BIG : 0;
    }
    ps->scan = (size_t)(nl - buf);
    const uint8_t *line_end = nl;
    if (line_end > buf && line_end[-1] == '\r')
        line_end--;
    int r = inline_split(ps, buf, line_end, argv, cap, argc);
    if (r < 0)
        return r;
    return (int)1; /* complete; the caller returns the length */
}

/* ---- the fast path ---- */

/* Canonical digits ("0", or no leading zero), at most 15 of them, then
 * CRLF, all within [p, end): the value, and *p past the CRLF. Anything
 * else (a sign, an odd spelling, a line not all there) returns -1 and
 * leaves the verdict to the incremental path. */
static int64_t quick_count(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *p = *pp, *start = p;
    uint64_t v = 0;
    while (p < end && (unsigned)(*p - '0') < 10 && p - start < 15)
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p == start || end - p < 2 || p[0] != '\r' || p[1] != '\n' ||
        (*start == '0' && p - start > 1))
        return -1;
    *pp = p + 2;
    return (int64_t)v;
}

/* A whole, well-formed array of bulks in one pass, argv filled as it
 * goes: what nearly every request a benchmark or a client library sends
 * looks like. Returns its length, or 0 when it is not that (incomplete,
 * unusual, an error, too many arguments): the incremental path then
 * starts over and gives the exact answer, so the two never disagree. */
static size_t quick_mbulk(const tw_resp_parser *ps, const uint8_t *buf,
                          size_t len, tw_resp_arg *argv, size_t cap,
                          size_t *argc)
{
    const uint8_t *p = buf + 1, *end = buf + len;
    int64_t n = quick_count(&p, end);
    if (n <= 0 || (uint64_t)n > cap || (uint64_t)n > ps->lim.array_max)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        if (p == end || *p != '$')
            return 0;
        p++;
        int64_t b = quick_count(&p, end);
        if (b < 0 || (uint64_t)b > ps->lim.bulk_max || end - p < b + 2 ||
            p[b] != '\r' || p[b + 1] != '\n')
            return 0;
        argv[i].p = p;
        argv[i].len = (size_t)b;
        p += b + 2;
    }
    *argc = (size_t)n;
    return (size_t)(p - buf);
}

/* ---- requests ---- */

int tw_resp_parse(tw_resp_parser *ps, const uint8_t *buf, size_t len,
                  tw_resp_arg *argv, size_t argv_cap, size_t *argc)
{
    *argc = 0;
    if (len == 0)
        return 0;
    if (ps->kind == K_NONE && buf[0] == '*') {
        size_t n = quick_mbulk(ps, buf, len, argv, argv_cap, argc);
        if (n && n <= INT32_MAX)
            return (int)n;
        *argc = 0;
    }
    if (ps->kind == K_NONE)
        ps->kind = buf[0] == '*' ? K_MBULK : K_INLINE;
    if (ps->kind == K_INLINE) {
        int r = inline_step(ps, buf, len, argv, argv_cap, argc);
        if (r <= 0)
            return r;
        size_t used = ps->scan + 1;
        tw_resp_parser_reset(ps);
        return used > INT32_MAX ? TW_RESP_EINLINE_TOO_BIG : (int)used;
    }
    int r = mbulk_step(ps, buf, len);
    if (r <= 0)
        return r;
    *argc = ps->nargs;
    if (ps->nargs > argv_cap)
        return TW_RESP_NEED_ARGV;
    mbulk_fill(buf, argv, ps->nargs);
    size_t used = ps->pos;
    tw_resp_parser_reset(ps);
    /* A request longer than INT_MAX cannot pass the limits' defaults; a
     * caller who raised them that far gets an error, not a wrap. */
    return used > INT32_MAX ? TW_RESP_EBULK_LEN : (int)used;
}

size_t tw_resp_parser_want(const tw_resp_parser *ps)
{
    if (ps->kind == K_MBULK && ps->phase == P_ELEM_BODY)
        return ps->pos + ps->bulk + 2;
    return ps->scan + 1;
}

/* ---- error texts ---- */

size_t tw_resp_error_text(const tw_resp_parser *ps, int code, char *buf,
                          size_t len)
{
    const char *t;
    switch (code) {
    case TW_RESP_EINLINE_TOO_BIG: t = "too big inline request"; break;
    case TW_RESP_EQUOTES: t = "unbalanced quotes in request"; break;
    case TW_RESP_EMBULK_COUNT_TOO_BIG: t = "too big mbulk count string"; break;
    case TW_RESP_EMBULK_LEN: t = "invalid multibulk length"; break;
    case TW_RESP_EBULK_COUNT_TOO_BIG: t = "too big bulk count string"; break;
    case TW_RESP_EBULK_LEN: t = "invalid bulk length"; break;
    case TW_RESP_EBULK_CRLF: t = "expected CRLF after a bulk string"; break;
    case TW_RESP_ESCRATCH: t = "no room to unescape an inline request"; break;
    case TW_RESP_EINLINE_NUL: t = "NUL byte in inline request"; break;
    case TW_RESP_EEXPECTED_DOLLAR: {
        /* Redis prints the byte as it is, then blanks CR and LF. */
        char c = (char)ps->bad;
        if (c == '\r' || c == '\n')
            c = ' ';
        int n = snprintf(buf, len, "Protocol error: expected '$', got '%c'", c);
        return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
    }
    default: t = "unknown error"; break;
    }
    int n = snprintf(buf, len, "Protocol error: %s", t);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len ? len - 1 : 0;
}

/* ---- replies ---- */

static int reply_at(const uint8_t *buf, size_t len, tw_resp_reply *r,
                    const tw_resp_limits *lim, int depth)
{
    if (len == 0)
        return 0;
    size_t window = COUNT_LINE_MAX;
    size_t end = len < window ? len : window;
    const uint8_t *crp = memchr(buf, '\r', end);
    if (!crp)
        return len >= window ? -EBADMSG : 0;
    size_t cr = (size_t)(crp - buf);
    if (cr + 1 >= len)
        return 0;
    if (buf[cr + 1] != '\n')
        return -EBADMSG;
    memset(r, 0, sizeof *r);
    r->type = (char)buf[0];
    int64_t n = 0;
    switch (buf[0]) {
    case '+':
    case '-':
        r->str = buf + 1;
        r->len = cr - 1;
        return (int)(cr + 2);
    case ':':
        if (!tw_resp_str2ll(buf + 1, cr - 1, &r->integer))
            return -EBADMSG;
        return (int)(cr + 2);
    case '$':
        if (!tw_resp_str2ll(buf + 1, cr - 1, &n) || n < -1 ||
            (n > 0 && (uint64_t)n > lim->bulk_max))
            return -EBADMSG;
        r->integer = n;
        if (n == -1) {
            r->nil = true;
            return (int)(cr + 2);
        }
        if (len - (cr + 2) < (size_t)n + 2)
            return 0;
        if (buf[cr + 2 + (size_t)n] != '\r' || buf[cr + 3 + (size_t)n] != '\n')
            return -EBADMSG;
        r->str = buf + cr + 2;
        r->len = (size_t)n;
        return (size_t)n + cr + 4 > INT32_MAX ? -EBADMSG : (int)(cr + 4 + (size_t)n);
    case '*': {
        if (!tw_resp_str2ll(buf + 1, cr - 1, &n) || n < -1 ||
            (n > 0 && (uint64_t)n > lim->array_max) || depth >= REPLY_DEPTH_MAX)
            return -EBADMSG;
        r->integer = n;
        size_t p = cr + 2;
        r->str = buf + p;
        if (n == -1) {
            r->nil = true;
            return (int)p;
        }
        for (int64_t i = 0; i < n; i++) {
            tw_resp_reply sub;
            int k = reply_at(buf + p, len - p, &sub, lim, depth + 1);
            if (k <= 0)
                return k;
            p += (size_t)k;
            if (p > INT32_MAX)
                return -EBADMSG;
        }
        r->len = p - (cr + 2);
        return (int)p;
    }
    default:
        return -EBADMSG;
    }
}

int tw_resp_reply_parse(const uint8_t *buf, size_t len, tw_resp_reply *r,
                        const tw_resp_limits *lim)
{
    tw_resp_limits l = tw_resp_limits_resolve(lim);
    return reply_at(buf, len, r, &l, 0);
}
