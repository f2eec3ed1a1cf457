/* apps/pattern.h - byte streams defined a 64-bit word at a time.
 *
 * The checking apps send streams whose byte k is byte k % 8 (least
 * significant first) of word k / 8, each word a hash of its index. Making
 * and checking such a stream byte by byte costs a hash per byte; these
 * helpers hash once per word and move whole words, so the bytes are the
 * same and the cost is an eighth or less.
 *
 * A word function maps (ctx, word index) to the word. Both helpers are
 * inline so that a constant word function is inlined into its caller.
 */
#ifndef APPS_PATTERN_H
#define APPS_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t (*apps_word_fn)(const void *ctx, uint64_t index);

/* Word w as the stream's eight bytes, least significant first. */
static inline void apps_pattern_put(uint8_t *dst, uint64_t w)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, &w, 8);
#else
    for (unsigned j = 0; j < 8; j++)
        dst[j] = (uint8_t)(w >> (8 * j));
#endif
}

/* dst[0..n) = the stream's bytes at offsets off..off+n. */
static inline void apps_pattern_fill(uint8_t *dst, uint64_t off, size_t n,
                                     apps_word_fn word, const void *ctx)
{
    size_t i = 0;
    unsigned from = (unsigned)(off % 8);
    if (from && n) { /* the head, up to the next word */
        uint64_t w = word(ctx, off / 8);
        for (unsigned j = from; j < 8 && i < n; j++, i++)
            dst[i] = (uint8_t)(w >> (8 * j));
    }
    uint64_t index = (off + i) / 8;
    for (; n - i >= 8; i += 8)
        apps_pattern_put(dst + i, word(ctx, index++));
    if (i < n) { /* the tail, a word's beginning */
        uint64_t w = word(ctx, index);
        for (unsigned j = 0; i < n; j++, i++)
            dst[i] = (uint8_t)(w >> (8 * j));
    }
}

/* The index in d[0..n) of the first byte that is not the stream's byte at
 * its offset (d[0] is at offset off), or n if all are. */
static inline size_t apps_pattern_mismatch(const uint8_t *d, uint64_t off, size_t n,
                                           apps_word_fn word, const void *ctx)
{
    uint8_t want[512];
    for (size_t i = 0; i < n;) {
        size_t m = n - i < sizeof want ? n - i : sizeof want;
        apps_pattern_fill(want, off + i, m, word, ctx);
        if (memcmp(d + i, want, m) != 0) {
            for (size_t j = 0; j < m; j++)
                if (d[i + j] != want[j])
                    return i + j;
        }
        i += m;
    }
    return n;
}

#endif
