/* tests/test_fuzz_trace.c - the fuzz helper tells the story of a run: how
 * the input's header cut the payload, each chunk as delivered, a record
 * per protocol callback, and every byte the protocol wrote; and it hands
 * an oracle the payload without re-reading the header. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/echo.h"
#include "twin/fuzz.h"

static tw_protocol *make_echo(void *arg)
{
    static tw_echo_server_cfg cfg = {.keep_open = true};
    (void)arg;
    return tw_echo_server_factory(&cfg);
}

/* header 0x42: 2 cut bytes, a slow reader; cuts 3 and 1: chunks of 4, 2 */
static const uint8_t input[] = {0x42, 3, 1, 'h', 'e', 'l', 'l', 'o', '\n',
                                'w', 'o', 'r', 'l', 'd', 0x01};

typedef struct sink {
    uint8_t out[64];
    size_t n;
} sink;

static void keep(void *arg, const uint8_t *d, size_t len)
{
    sink *s = arg;
    assert_true(s->n + len <= sizeof s->out);
    memcpy(s->out + s->n, d, len);
    s->n += len;
}

static char *run_traced(sink *s, tw_fuzz_stats *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    tw_fuzz_opts o = {.trace = f, .on_output = keep, .output_arg = s, .stats = st};
    assert_int_equal(tw_fuzz_protocol(make_echo, NULL, input, sizeof input, &o), 0);
    fclose(f);
    return text;
}

static void test_trace_tells_the_run(void **state)
{
    (void)state;
    sink s = {0};
    tw_fuzz_stats st;
    char *text = run_traced(&s, &st);
    /* the header, decoded */
    assert_non_null(strstr(text, "fuzz input: 15 bytes, header 0x42: 2 cut byte(s), "
                                 "chunks of 4, 2 bytes, repeating; ends with EOF; "
                                 "a slow (512 B/ms) reader; 1 ms between chunks\n"));
    assert_non_null(strstr(text, "fuzz payload: 12 bytes: \"hello\\nworld\\x01\"\n"));
    /* the world's settings: a uniform latency has no mean to print, and
     * no bandwidth limit is no limit, not 0 B/s */
    if (!strstr(text, "  net: latency=uniform[100us..1ms] bandwidth=unlimited rcvbuf="))
        fail_msg("the network's settings misread:\n%s", text);
    /* the chunks, in the cut sizes, in order */
    const char *c1 = strstr(text, "chunk 1: payload[0..4) 4 bytes: \"hell\"");
    const char *c2 = strstr(text, "chunk 2: payload[4..6) 2 bytes: \"o\\n\"");
    const char *c3 = strstr(text, "chunk 3: payload[6..10) 4 bytes: \"worl\"");
    const char *c4 = strstr(text, "chunk 4: payload[10..12) 2 bytes: \"d\\x01\"");
    assert_non_null(c1);
    assert_non_null(c2);
    assert_non_null(c3);
    assert_non_null(c4);
    assert_true(c1 < c2 && c2 < c3 && c3 < c4);
    assert_null(strstr(text, "chunk 5:"));
    /* each chunk, then its data_received, then what the echo wrote */
    const char *w1 = strstr(text, "protocol wrote 4 bytes: \"hell\"");
    assert_non_null(w1);
    const char *d1 = strstr(c1, "data_received");
    assert_true(d1 && d1 < w1 && w1 < c2);
    const char *over = strstr(text, "input over: EOF");
    assert_non_null(over);
    assert_true(over > c4);
    /* one record per protocol callback, from the world's trace */
    assert_non_null(strstr(text, "connection_made"));
    assert_non_null(strstr(text, "data_received"));
    assert_non_null(strstr(text, "eof_received"));
    assert_non_null(strstr(text, "connection_lost"));
    /* the oracle's view agrees with the trace */
    assert_int_equal(s.n, 12);
    assert_memory_equal(s.out, input + 3, 12);
    assert_ptr_equal(st.payload, input + 3);
    assert_int_equal(st.payload_len, 12);
    size_t plen = 0;
    assert_ptr_equal(tw_fuzz_payload(input, sizeof input, &plen), input + 3);
    assert_int_equal(plen, 12);
    free(text);
}

static void test_payload_edges(void **state)
{
    (void)state;
    size_t len = 99;
    assert_null(tw_fuzz_payload(NULL, 0, &len));
    assert_int_equal(len, 0);
    /* a header that asks for more cuts than there are bytes: all cuts */
    const uint8_t short_in[] = {0x1f, 1, 2};
    assert_null(tw_fuzz_payload(short_in, sizeof short_in, &len));
    assert_int_equal(len, 0);
    const uint8_t no_cuts[] = {0x00, 'a', 'b'};
    assert_ptr_equal(tw_fuzz_payload(no_cuts, sizeof no_cuts, &len), no_cuts + 1);
    assert_int_equal(len, 2);
}

/* The same run traced twice is the same text: the trace is part of the
 * deterministic run, and tracing changes nothing the protocol sees. */
static void test_trace_is_deterministic(void **state)
{
    (void)state;
    sink a = {0}, b = {0}, c = {0};
    tw_fuzz_stats sa, sb, sc;
    char *t1 = run_traced(&a, &sa);
    char *t2 = run_traced(&b, &sb);
    assert_string_equal(t1, t2);
    tw_fuzz_opts o = {.on_output = keep, .output_arg = &c, .stats = &sc};
    assert_int_equal(tw_fuzz_protocol(make_echo, NULL, input, sizeof input, &o), 0);
    assert_int_equal(c.n, a.n);
    assert_memory_equal(c.out, a.out, a.n);
    assert_int_equal(sc.calls_in, sa.calls_in);
    free(t1);
    free(t2);
}

int main(void)
{
    /* this binary's traces go to memory, not stderr */
    unsetenv("TWIN_FUZZ_TRACE");
    const struct CMUnitTest tests[] = {
        TW_TEST(test_trace_tells_the_run),
        TW_TEST(test_payload_edges),
        TW_TEST(test_trace_is_deterministic),
    };
    return cmocka_run_group_tests_name("fuzz_trace", tests, NULL, NULL);
}
