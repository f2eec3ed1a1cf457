/* tests/test_resp_parse.c - the RESP2 request and reply parsers
 * (twin/resp.h), fed the way picohttpparser's tests feed theirs: every
 * input whole, byte by byte, split at every point, and in random cuts,
 * each time copied to end right before a PROT_NONE guard page, so a read
 * past the end crashes instead of passing.
 *
 * Map: the guard page; the driver (a server's way of keeping an
 * unfinished tail); the message set; chunking; errors and their texts;
 * limits; argv growth; integers; replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/harness.h"
#include "twin/resp.h"

/* ---- the guard page ---- */

static uint8_t *guard_base;
static size_t guard_size;

/* Copy n bytes so that they end at the guard page; returns where. */
static const uint8_t *guarded(const uint8_t *p, size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t need = (n + page - 1) / page * page + page;
    if (need > guard_size) {
        if (guard_base)
            munmap(guard_base, guard_size);
        guard_base = mmap(NULL, need, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        assert_true(guard_base != MAP_FAILED);
        guard_size = need;
        assert_int_equal(mprotect(guard_base + need - page, page, PROT_NONE), 0);
    }
    uint8_t *dst = guard_base + guard_size - page - n;
    if (n)
        memmove(dst, p, n);
    return dst;
}

/* ---- the driver ---- */

/* What a parse saw, as text: "[argc] len:bytes len:bytes\n" per request,
 * then "end" or "error CODE". */
typedef struct seen {
    char *log;
    size_t len, cap;
} seen;

static void put(seen *s, const void *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->log = realloc(s->log, s->cap);
        assert_non_null(s->log);
    }
    memcpy(s->log + s->len, p, n);
    s->len += n;
    s->log[s->len] = '\0';
}

static void putf(seen *s, const char *fmt, size_t v)
{
    char b[64];
    int n = snprintf(b, sizeof b, fmt, v);
    put(s, b, (size_t)n);
}

/* Feed `in` in chunks of the given sizes (cycled; 0 chunks: whole), the
 * way a server does: parse at the start of what is kept, keep the
 * unfinished tail, append the next read. argv starts small and grows. */
static void feed(const uint8_t *in, size_t len, const size_t *cuts,
                 size_t ncuts, const tw_resp_limits *lim, seen *s)
{
    static uint8_t scratch[1 << 17];
    tw_resp_parser ps;
    tw_resp_parser_init(&ps, lim, scratch, sizeof scratch);
    uint8_t *kept = malloc(len + 1);
    assert_non_null(kept);
    size_t klen = 0, fed = 0, k = 0;
    size_t cap = 2;
    tw_resp_arg *argv = malloc(cap * sizeof *argv);
    int rc = 0;
    s->len = 0;
    put(s, "", 0);
    while (fed < len && rc >= 0) {
        size_t n = ncuts ? cuts[k++ % ncuts] : len;
        if (n > len - fed)
            n = len - fed;
        memcpy(kept + klen, in + fed, n);
        klen += n;
        fed += n;
        size_t off = 0;
        for (;;) {
            const uint8_t *buf = guarded(kept + off, klen - off);
            size_t argc;
            rc = tw_resp_parse(&ps, buf, klen - off, argv, cap, &argc);
            if (rc == TW_RESP_NEED_ARGV) {
                assert_true(argc > cap);
                cap = argc;
                argv = realloc(argv, cap * sizeof *argv);
                continue;
            }
            if (rc <= 0)
                break;
            assert_true((size_t)rc <= klen - off);
            putf(s, "[%zu]", argc);
            for (size_t i = 0; i < argc; i++) {
                putf(s, " %zu:", argv[i].len);
                put(s, argv[i].p, argv[i].len);
            }
            put(s, "\n", 1);
            off += (size_t)rc;
        }
        memmove(kept, kept + off, klen - off);
        klen -= off;
    }
    if (rc < 0)
        putf(s, "error %zu", (size_t)-rc);
    else
        putf(s, "end, %zu kept", klen);
    free(kept);
    free(argv);
}

/* Logs hold binary arguments (NUL bytes too): compare them whole. */
static void same_log(const seen *got, const seen *want)
{
    if (got->len != want->len || memcmp(got->log, want->log, got->len) != 0)
        fail_msg("parses differ:\n%s\n---- versus ----\n%s", got->log, want->log);
}

static void log_is(const seen *got, const char *want, size_t wlen)
{
    seen w = {(char *)want, wlen, wlen};
    same_log(got, &w);
}

/* Every way of cutting `in` gives what the whole gives. */
static void check_all_cuts(const uint8_t *in, size_t len,
                           const tw_resp_limits *lim, bool exhaustive)
{
    seen whole = {0}, other = {0};
    feed(in, len, NULL, 0, lim, &whole);
    /* Each step copies what is kept to the guard page: quadratic, so the
     * byte-by-byte and every-split runs are for inputs of test size. */
    bool small = len <= 16384;
    size_t one = 1;
    if (small) {
        feed(in, len, &one, 1, lim, &other);
        same_log(&other, &whole);
    }
    if (exhaustive && small)
        for (size_t at = 1; at < len; at++) {
            size_t cuts[2] = {at, len};
            feed(in, len, cuts, 2, lim, &other);
            same_log(&other, &whole);
        }
    uint64_t x = 0x9e3779b97f4a7c15ull ^ len;
    for (int round = 0; round < 50; round++) {
        size_t cuts[16];
        for (int i = 0; i < 16; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            cuts[i] = 1 + x % (!small ? 4096 : round < 25 ? 7 : 300);
        }
        feed(in, len, cuts, 16, lim, &other);
        same_log(&other, &whole);
    }
    free(whole.log);
    free(other.log);
}

static void expect_log(const char *in, const char *want)
{
    seen s = {0};
    feed((const uint8_t *)in, strlen(in), NULL, 0, NULL, &s);
    log_is(&s, want, strlen(want));
    free(s.log);
    check_all_cuts((const uint8_t *)in, strlen(in), NULL, true);
}

/* ---- the message set ---- */

static const char messages[] =
    "*1\r\n$4\r\nPING\r\n"
    "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
    "*2\r\n$3\r\nGET\r\n$0\r\n\r\n"
    "*0\r\n"
    "*-1\r\n"
    "PING\r\n"
    "\r\n"
    "   \n"
    "set  k1   \"a b\\r\\n\\x41\\\"\"  'it\\'s'\r\n"
    "echo foo\"bar\"\n"
    "*2\r\n$4\r\nECHO\r\n$6\r\na\r\nb\r\n\r\n"
    "*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$11\r\n\x00\x01\x02\r\n\xff*$:+-\r\n"
    "GET k1\r\n";

static void test_message_set_every_chunking(void **state)
{
    (void)state;
    seen s = {0};
    feed((const uint8_t *)messages, sizeof messages - 1, NULL, 0, NULL, &s);
    static const char want[] =
        "[1] 4:PING\n"
        "[3] 3:SET 3:key 5:value\n"
        "[2] 3:GET 0:\n"
        "[0]\n"
        "[0]\n"
        "[1] 4:PING\n"
        "[0]\n"
        "[0]\n"
        "[4] 3:set 2:k1 7:a b\r\nA\" 4:it's\n"
        "[2] 4:echo 6:foobar\n"
        "[2] 4:ECHO 6:a\r\nb\r\n\n"
        "[4] 4:MSET 1:a 1:1 11:\x00\x01\x02\r\n\xff*$:+-\n"
        "[2] 3:GET 2:k1\n"
        "end, 0 kept";
    log_is(&s, want, sizeof want - 1);
    free(s.log);
    check_all_cuts((const uint8_t *)messages, sizeof messages - 1, NULL, true);
}

/* An unfinished request keeps its bytes; nothing is consumed early. */
static void test_unfinished_requests_wait(void **state)
{
    (void)state;
    expect_log("*2\r\n$3\r\nGET\r\n$1\r\nk", "end, 18 kept");
    expect_log("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPI",
               "[1] 4:PING\nend, 10 kept");
    expect_log("PING", "end, 4 kept");
    expect_log("*1\r", "end, 3 kept");
}

/* A large bulk arriving in small pieces: linear, and the same. */
static void test_large_bulk_in_pieces(void **state)
{
    (void)state;
    size_t n = 300 * 1024;
    char head[64];
    int h = snprintf(head, sizeof head, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", n);
    uint8_t *in = malloc((size_t)h + n + 2 + 14);
    memcpy(in, head, (size_t)h);
    for (size_t i = 0; i < n; i++)
        in[h + i] = (uint8_t)(i * 31);
    memcpy(in + h + n, "\r\n*1\r\n$4\r\nPING\r\n", 16);
    size_t len = (size_t)h + n + 16;
    seen whole = {0}, cut = {0};
    feed(in, len, NULL, 0, NULL, &whole);
    size_t cuts[] = {1, 1000, 4096, 65536, 7};
    feed(in, len, cuts, 5, NULL, &cut);
    same_log(&cut, &whole);
    static const char tail[] = "[1] 4:PING\nend, 0 kept";
    assert_true(whole.len > n);
    assert_memory_equal(whole.log + whole.len - (sizeof tail - 1), tail, sizeof tail - 1);
    free(whole.log);
    free(cut.log);
    free(in);
}

/* ---- errors ---- */

static void expect_error(const char *in, size_t len, int code, const char *text,
                         const tw_resp_limits *lim)
{
    tw_resp_parser ps;
    uint8_t scratch[4096];
    tw_resp_parser_init(&ps, lim, scratch, sizeof scratch);
    tw_resp_arg argv[8];
    size_t argc, off = 0;
    int rc;
    while ((rc = tw_resp_parse(&ps, guarded((const uint8_t *)in + off, len - off),
                               len - off, argv, 8, &argc)) > 0)
        off += (size_t)rc;
    assert_int_equal(rc, code);
    char buf[128];
    size_t n = tw_resp_error_text(&ps, rc, buf, sizeof buf);
    assert_int_equal(n, strlen(text));
    assert_string_equal(buf, text);
    check_all_cuts((const uint8_t *)in, len, lim, true);
}

#define ERR(in, code, text) expect_error(in, sizeof in - 1, code, text, NULL)

static void test_errors_and_redis_texts(void **state)
{
    (void)state;
    ERR("*x\r\n", TW_RESP_EMBULK_LEN, "Protocol error: invalid multibulk length");
    ERR("*01\r\n", TW_RESP_EMBULK_LEN, "Protocol error: invalid multibulk length");
    ERR("*3000000000\r\n", TW_RESP_EMBULK_LEN, "Protocol error: invalid multibulk length");
    ERR("*1\r\n$-1\r\n", TW_RESP_EBULK_LEN, "Protocol error: invalid bulk length");
    ERR("*1\r\n$600000000\r\n", TW_RESP_EBULK_LEN, "Protocol error: invalid bulk length");
    ERR("*1\r\n$4x\r\n", TW_RESP_EBULK_LEN, "Protocol error: invalid bulk length");
    ERR("*1\r\nx\r\n", TW_RESP_EEXPECTED_DOLLAR, "Protocol error: expected '$', got 'x'");
    ERR("*1\r\n\r\n", TW_RESP_EEXPECTED_DOLLAR, "Protocol error: expected '$', got ' '");
    ERR("*1\r\n$4\r\nPINGxx", TW_RESP_EBULK_CRLF,
        "Protocol error: expected CRLF after a bulk string");
    /* either byte of the CRLF wrong is enough */
    ERR("*1\r\n$4\r\nPINGx\n", TW_RESP_EBULK_CRLF,
        "Protocol error: expected CRLF after a bulk string");
    ERR("*1\r\n$4\r\nPING\rx", TW_RESP_EBULK_CRLF,
        "Protocol error: expected CRLF after a bulk string");
    ERR("*1\rx", TW_RESP_EMBULK_LEN, "Protocol error: invalid multibulk length");
    ERR("PING \"a\r\n", TW_RESP_EQUOTES, "Protocol error: unbalanced quotes in request");
    ERR("PING \"a\"b\r\n", TW_RESP_EQUOTES, "Protocol error: unbalanced quotes in request");
    ERR("PING 'a\r\n", TW_RESP_EQUOTES, "Protocol error: unbalanced quotes in request");
    /* Good requests before a bad one are returned first. */
    ERR("PING\r\n*1\r\n$x\r\n", TW_RESP_EBULK_LEN, "Protocol error: invalid bulk length");
    /* A NUL in an inline line is refused, not read as the line's end (the
     * value would be cut short without a word); wherever it is, quoted
     * or not, and before the line's end has come. */
    ERR("SET k2 v\0w\r\n", TW_RESP_EINLINE_NUL,
        "Protocol error: NUL byte in inline request");
    ERR("PING\r\nSET k \"a\0b\"\r\n", TW_RESP_EINLINE_NUL,
        "Protocol error: NUL byte in inline request");
    ERR("\0", TW_RESP_EINLINE_NUL, "Protocol error: NUL byte in inline request");
    ERR("GET k\0", TW_RESP_EINLINE_NUL, "Protocol error: NUL byte in inline request");
}

/* Count lines and inline lines end within fixed windows: the same error
 * however much is buffered. */
static void test_windows(void **state)
{
    (void)state;
    size_t n = 70 * 1024;
    char *in = malloc(n);
    memset(in, '1', n);
    in[0] = '*';
    expect_error(in, n, TW_RESP_EMBULK_COUNT_TOO_BIG,
                 "Protocol error: too big mbulk count string", NULL);
    memcpy(in, "*1\r\n$", 5);
    expect_error(in, n, TW_RESP_EBULK_COUNT_TOO_BIG,
                 "Protocol error: too big bulk count string", NULL);
    memset(in, 'a', n);
    tw_resp_limits lim = {.inline_max = 100};
    expect_error(in, 101, TW_RESP_EINLINE_TOO_BIG,
                 "Protocol error: too big inline request", &lim);
    /* A NUL inside the window is one; past it, the line was too long. */
    in[99] = '\0';
    expect_error(in, 101, TW_RESP_EINLINE_NUL,
                 "Protocol error: NUL byte in inline request", &lim);
    in[99] = 'a';
    in[100] = '\0';
    expect_error(in, 101, TW_RESP_EINLINE_TOO_BIG,
                 "Protocol error: too big inline request", &lim);
    free(in);
    /* 99 bytes and a newline fit in 100. */
    seen s = {0};
    char line[101];
    memset(line, 'b', 99);
    line[99] = '\n';
    feed((const uint8_t *)line, 100, NULL, 0, &lim, &s);
    assert_non_null(strstr(s.log, "[1] 99:"));
    free(s.log);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
    (void)state;
    tw_resp_limits lim = {.bulk_max = 5, .array_max = 3};
    expect_error("*1\r\n$6\r\n", 8, TW_RESP_EBULK_LEN,
                 "Protocol error: invalid bulk length", &lim);
    expect_error("*4\r\n", 4, TW_RESP_EMBULK_LEN,
                 "Protocol error: invalid multibulk length", &lim);
    seen s = {0};
    const char ok[] = "*3\r\n$1\r\na\r\n$5\r\n12345\r\n$0\r\n\r\n";
    feed((const uint8_t *)ok, sizeof ok - 1, NULL, 0, &lim, &s);
    static const char want[] = "[3] 1:a 5:12345 0:\nend, 0 kept";
    log_is(&s, want, sizeof want - 1);
    free(s.log);
    /* The defaults are Redis's. */
    tw_resp_limits d = tw_resp_limits_resolve(NULL);
    assert_int_equal(d.bulk_max, 512u << 20);
    assert_int_equal(d.inline_max, 64u << 10);
}

/* A request with more arguments than argv holds asks for room and is
 * returned whole once it has it. */
static void test_need_argv(void **state)
{
    (void)state;
    tw_resp_parser ps;
    tw_resp_parser_init(&ps, NULL, NULL, 0);
    const char in[] = "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n";
    tw_resp_arg argv[3];
    size_t argc;
    const uint8_t *b = guarded((const uint8_t *)in, sizeof in - 1);
    assert_int_equal(tw_resp_parse(&ps, b, sizeof in - 1, argv, 2, &argc),
                     TW_RESP_NEED_ARGV);
    assert_int_equal(argc, 3);
    assert_int_equal(tw_resp_parse(&ps, b, sizeof in - 1, argv, 3, &argc),
                     (int)sizeof in - 1);
    assert_int_equal(argc, 3);
    assert_memory_equal(argv[2].p, "c", 1);
    /* Without scratch space, quoted inline text cannot be unescaped. */
    const char q[] = "SET k \"v\"\r\n";
    assert_int_equal(tw_resp_parse(&ps, (const uint8_t *)q, sizeof q - 1, argv, 3, &argc),
                     TW_RESP_ESCRATCH);
}

/* ---- integers ---- */

static void test_str2ll(void **state)
{
    (void)state;
    static const struct { const char *s; bool ok; int64_t v; } cases[] = {
        {"0", true, 0}, {"1", true, 1}, {"-1", true, -1},
        {"9223372036854775807", true, INT64_MAX},
        {"-9223372036854775808", true, INT64_MIN},
        {"9223372036854775808", false, 0}, {"-9223372036854775809", false, 0},
        {"01", false, 0}, {"-0", false, 0}, {"+1", false, 0}, {" 1", false, 0},
        {"1 ", false, 0}, {"", false, 0}, {"-", false, 0}, {"1a", false, 0},
        {"99999999999999999999", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = 42;
        bool ok = tw_resp_str2ll((const uint8_t *)cases[i].s, strlen(cases[i].s), &v);
        if (ok != cases[i].ok)
            fail_msg("'%s': %d, wanted %d", cases[i].s, ok, cases[i].ok);
        if (ok)
            assert_true(v == cases[i].v);
    }
}

/* ---- replies ---- */

static void test_replies(void **state)
{
    (void)state;
    const char in[] = "+OK\r\n-ERR bad\r\n:-42\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n"
                      "*3\r\n:1\r\n*2\r\n$1\r\nx\r\n$0\r\n\r\n+s\r\n";
    char types[16] = "";
    size_t off = 0, len = sizeof in - 1, nt = 0;
    tw_resp_reply r;
    int rc;
    while ((rc = tw_resp_reply_parse(guarded((const uint8_t *)in + off, len - off),
                                     len - off, &r, NULL)) > 0) {
        types[nt++] = r.nil ? 'n' : r.type;
        if (r.type == ':')
            assert_int_equal(r.integer, -42);
        if (r.type == '*' && !r.nil)
            assert_int_equal(r.integer, 3);
        off += (size_t)rc;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(off, len);
    assert_string_equal(types, "+-:$nn*");
    /* Every prefix is incomplete, never an error or a longer value. */
    for (size_t n = 0; n < len; n++) {
        off = 0;
        while ((rc = tw_resp_reply_parse(guarded((const uint8_t *)in + off, n - off),
                                         n - off, &r, NULL)) > 0)
            off += (size_t)rc;
        assert_int_equal(rc, 0);
    }
    assert_int_equal(tw_resp_reply_parse((const uint8_t *)"?x\r\n", 4, &r, NULL), -EBADMSG);
    assert_int_equal(tw_resp_reply_parse((const uint8_t *)"$2\r\nabc\r\n", 9, &r, NULL), -EBADMSG);
    /* Nesting is bounded. */
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "*1\r\n");
    strcat(deep, ":1\r\n");
    assert_int_equal(tw_resp_reply_parse((const uint8_t *)deep, strlen(deep), &r, NULL),
                     -EBADMSG);
}

static int teardown_guard(void **state)
{
    (void)state;
    if (guard_base)
        munmap(guard_base, guard_size);
    guard_base = NULL;
    guard_size = 0;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_message_set_every_chunking),
        TW_TEST(test_unfinished_requests_wait),
        TW_TEST(test_large_bulk_in_pieces),
        TW_TEST(test_errors_and_redis_texts),
        TW_TEST(test_windows),
        TW_TEST(test_limits),
        TW_TEST(test_need_argv),
        TW_TEST(test_str2ll),
        TW_TEST(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, teardown_guard);
}
