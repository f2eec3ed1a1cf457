/* proto/resp_buf.c - building RESP2 replies.
 *
 * Map: growing; the sink; the reply kinds.
 *
 * Commands append to one buffer per connection; the server writes it out
 * once per read, so a pipeline of sixteen GETs costs one write. A cap
 * (max) bounds what one reply can make the server hold: an append past
 * it is refused and marked, and the server drops that client.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/resp.h"

#define BUF_MIN 4096

void tw_resp_buf_init(tw_resp_buf *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

void tw_resp_buf_fini(tw_resp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* Room for n more bytes, or false (and overflow marked). */
static bool reserve(tw_resp_buf *b, size_t n)
{
    if (b->overflow)
        return false;
    if (b->max && n > b->max - b->len) {
        b->overflow = true;
        return false;
    }
    if (n <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : BUF_MIN;
    while (cap - b->len < n)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        b->overflow = true;
        return false;
    }
    b->data = d;
    b->cap = cap;
    return true;
}

void tw_resp_add_raw(tw_resp_buf *b, const void *p, size_t n)
{
    if (n && reserve(b, n)) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
    }
}

void tw_resp_buf_flush(tw_resp_buf *b)
{
    if (b->sink && b->len) {
        size_t n = b->len;
        b->len = 0; /* before the call: the sink may append (it must not) */
        b->sink(b->sink_arg, b->data, n);
    }
}

/* "<prefix><v>\r\n" without printf: this is on every reply's path. */
static void add_prefixed(tw_resp_buf *b, char prefix, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    tmp[--i] = prefix;
    tw_resp_add_raw(b, tmp + i, sizeof tmp - i);
}

void tw_resp_add_status(tw_resp_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!reserve(b, n + 3))
        return;
    b->data[b->len++] = '+';
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void tw_resp_add_error(tw_resp_buf *b, const char *text, size_t n)
{
    if (!reserve(b, n + 3))
        return;
    b->data[b->len++] = '-';
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        b->data[b->len++] = (uint8_t)(c == '\r' || c == '\n' ? ' ' : c);
    }
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void tw_resp_add_errorf(tw_resp_buf *b, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    tw_resp_add_error(b, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

void tw_resp_add_int(tw_resp_buf *b, int64_t v) { add_prefixed(b, ':', v); }
void tw_resp_add_array(tw_resp_buf *b, int64_t n) { add_prefixed(b, '*', n); }
void tw_resp_add_nil(tw_resp_buf *b) { tw_resp_add_raw(b, "$-1\r\n", 5); }

void tw_resp_add_bulk(tw_resp_buf *b, const void *p, size_t n)
{
    add_prefixed(b, '$', (int64_t)n);
    if (b->sink && n >= TW_RESP_SINK_MIN && !b->overflow) {
        /* Big payload: straight to the sink after what came before it;
         * the transport copies only what the kernel does not take. */
        tw_resp_buf_flush(b);
        b->sink(b->sink_arg, p, n);
    } else {
        tw_resp_add_raw(b, p, n);
    }
    tw_resp_add_raw(b, "\r\n", 2);
}

void tw_resp_add_bulk_str(tw_resp_buf *b, const char *s)
{
    tw_resp_add_bulk(b, s, strlen(s));
}
