/* core/wbuf.c - the write buffer: a chain of chunks.
 *
 * Appends copy (the caller's buffer is free when write returns); small
 * writes fill the tail chunk so a stream of tiny writes costs one writev
 * segment, not one each; a write bigger than a chunk gets a chunk of its
 * own size. Draining fills an iovec array for one writev.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

void tw__wbuf_init(tw__wbuf *b) { memset(b, 0, sizeof *b); }

#ifndef NDEBUG
/* The bytes the chain holds, counted chunk by chunk: what b->size must
 * say. For assertions only (it walks the whole chain). */
static size_t chain_bytes(const tw__wbuf *b)
{
    size_t n = 0;
    for (const tw__chunk *c = tw__wbuf_head(b); c; c = tw__wbuf_next(b, c)) {
        assert(c->start <= c->end && c->end <= c->cap);
        n += c->end - c->start;
    }
    return n;
}
#endif

int tw__wbuf_append(tw__wbuf *b, const void *data, size_t len)
{
    assert(len == 0 || data);
    assert(!b->tail || b->tail->next); /* a ring */
    const size_t size_before = b->size, len_all = len;
    (void)size_before; /* read by assertions only */
    (void)len_all;
    const uint8_t *p = data;
    tw__chunk *c = b->tail;
    if (c && c->cap - c->end > 0) {
        size_t n = c->cap - c->end < len ? c->cap - c->end : len;
        memcpy(c->data + c->end, p, n);
        c->end += n;
        b->size += n;
        p += n;
        len -= n;
    }
    if (len == 0) {
        assert(b->size == size_before + len_all);
        return 0;
    }
    size_t cap = len > TW__CHUNK_MIN ? len : TW__CHUNK_MIN;
    c = malloc(sizeof *c + cap);
    if (!c)
        return -ENOMEM;
    c->start = 0;
    c->end = len;
    c->cap = cap;
    memcpy(c->data, p, len);
    if (b->tail) { /* after the tail, before the head */
        c->next = b->tail->next;
        b->tail->next = c;
    } else {
        c->next = c;
    }
    b->tail = c;
    b->size += len;
    assert(b->size == size_before + len_all);
    assert(b->tail->end <= b->tail->cap && b->tail->next);
    return 0;
}

int tw__wbuf_iov(const tw__wbuf *b, struct iovec *iov, int max)
{
    assert(max > 0);
    int n = 0;
    for (tw__chunk *c = tw__wbuf_head(b); c && n < max; c = tw__wbuf_next(b, c)) {
        if (c->end == c->start)
            continue;
        iov[n].iov_base = c->data + c->start;
        iov[n].iov_len = c->end - c->start;
        n++;
    }
    /* Bytes buffered are in some chunk: a flush always has one to send. */
    assert(n > 0 || b->size == 0);
    return n;
}

void tw__wbuf_consume(tw__wbuf *b, size_t n)
{
    assert(n <= b->size);
    b->size -= n;
    while (n > 0) {
        tw__chunk *c = tw__wbuf_head(b);
        assert(c);
        size_t have = c->end - c->start;
        if (n < have) {
            c->start += n;
            return;
        }
        n -= have;
        if (c == b->tail)
            b->tail = NULL;
        else
            b->tail->next = c->next;
        free(c);
    }
    /* An emptied tail chunk is reused from its start. */
    tw__chunk *t = b->tail;
    if (t && t->next == t && t->start == t->end)
        t->start = t->end = 0;
    assert(!b->tail || b->tail->next);
    assert(chain_bytes(b) == b->size);
}

void tw__wbuf_clear(tw__wbuf *b)
{
    tw__chunk *c = tw__wbuf_head(b);
    while (c) {
        tw__chunk *next = tw__wbuf_next(b, c);
        free(c);
        c = next;
    }
    tw__wbuf_init(b);
}
