/* tests/test_app_opts.c - apps' option tables (twin/opts.h) and the
 * restart count an app's start reads (tw_app_restarts).
 *
 * Map: helpers (argv from words, a parse whose message is captured);
 * every kind's good and bad values with their exact messages; the
 * command line's forms and mistakes; integer range edges; defaults; two
 * parses in a row; operands; --help; the usage text; the built-in apps'
 * tables, usage and messages; restarts on a simulated node, directly and
 * in a scenario, and on the real backend.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/opts.h"
#include "twin/real.h"
#include "twin/scenario.h"
#include "twin/sim.h"
#include "twin/tls.h"

/* ---- helpers ---- */

#define WORDS_MAX 32

/* argv from words separated by spaces; "~" stands for an empty word. */
typedef struct words {
    char buf[512];
    char *argv[WORDS_MAX + 1];
    int argc;
} words;

static void split(words *w, const char *line)
{
    snprintf(w->buf, sizeof w->buf, "%s", line);
    w->argc = 0;
    for (char *save = NULL, *p = strtok_r(w->buf, " ", &save); p;
         p = strtok_r(NULL, " ", &save)) {
        assert_true(w->argc < WORDS_MAX);
        w->argv[w->argc++] = strcmp(p, "~") == 0 ? p + strlen(p) : p;
    }
    w->argv[w->argc] = NULL;
}

/* Parse line with table into dst; the message (one line, newline
 * stripped) into msg. Returns what tw_opts_parse returned. */
static int parse_line(const tw_opt *table, void *dst, words *w, const char *line,
                      char *msg, size_t msglen)
{
    split(w, line);
    char *text = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&text, &len);
    assert_non_null(err);
    int rc = tw_opts_parse(table, dst, w->argc, w->argv, err);
    fclose(err);
    snprintf(msg, msglen, "%s", text ? text : "");
    free(text);
    size_t n = strlen(msg);
    if (n && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    return rc;
}

/* ---- a table with every kind ---- */

typedef struct all {
    bool flag;
    const char *str, *name;
    int i;
    unsigned u;
    uint64_t u64, few;
    uint16_t port;
    tw_ns dur, pos;
    uint64_t bytes, rate;
    tw_opt_hostport hp;
    double p;
} all;

static const tw_opt all_table[] = {
    {.name = "flag", TW_OPT_FIELD(TW_OPT_FLAG, all, flag), .help = "a flag"},
    {.name = "str", TW_OPT_FIELD(TW_OPT_STRING, all, str), .def = "dflt",
     .help = "a string"},
    {.name = "name", TW_OPT_FIELD(TW_OPT_STRING, all, name), .min = 1, .max = 4,
     .help = "1..4 characters"},
    {.name = "int", TW_OPT_FIELD(TW_OPT_INT, all, i), .def = "-3", .min = -5,
     .max = 5, .help = "an int"},
    {.name = "uint", TW_OPT_FIELD(TW_OPT_UINT, all, u), .def = "7", .help = "a uint"},
    {.name = "u64", TW_OPT_FIELD(TW_OPT_U64, all, u64), .help = "a u64"},
    {.name = "few", TW_OPT_FIELD(TW_OPT_U64, all, few), .def = "2", .min = 1,
     .max = 10, .help = "1..10"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, all, port), .def = "8888",
     .help = "a port"},
    {.name = "dur", TW_OPT_FIELD(TW_OPT_DURATION, all, dur), .def = "1.5s",
     .help = "any duration"},
    {.name = "pos", TW_OPT_FIELD(TW_OPT_DURATION, all, pos), .def = "100ms",
     .min = 1, .help = "a positive duration"},
    {.name = "bytes", TW_OPT_FIELD(TW_OPT_BYTES, all, bytes), .def = "64KiB",
     .min = 8, .max = 1 << 20, .help = "8..1MiB"},
    {.name = "rate", TW_OPT_FIELD(TW_OPT_RATE, all, rate), .help = "a rate"},
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, all, hp),
     .def = "127.0.0.1:8888", .help = "where"},
    {.name = "loss", TW_OPT_FIELD(TW_OPT_PROBABILITY, all, p), .def = "1%",
     .help = "a probability"},
    {0},
};

static void expect_ok(all *a, words *w, const char *line)
{
    char msg[256];
    int rc = parse_line(all_table, a, w, line, msg, sizeof msg);
    if (rc != 0)
        fail_msg("'%s': %d, '%s'", line, rc, msg);
    assert_string_equal(msg, "");
}

static void expect_msg(const char *line, const char *want)
{
    all a;
    words w;
    char msg[256];
    int rc = parse_line(all_table, &a, &w, line, msg, sizeof msg);
    if (rc != -EINVAL || strcmp(msg, want) != 0)
        fail_msg("'%s': %d, '%s'; want '%s'", line, rc, msg, want);
}

static void test_defaults(void **state)
{
    (void)state;
    all a;
    memset(&a, 0x5a, sizeof a); /* whatever was there before goes */
    words w;
    expect_ok(&a, &w, "app");
    assert_false(a.flag);
    assert_string_equal(a.str, "dflt");
    assert_null(a.name);
    assert_int_equal(a.i, -3);
    assert_int_equal(a.u, 7);
    assert_int_equal(a.u64, 0);
    assert_int_equal(a.few, 2);
    assert_int_equal(a.port, 8888);
    assert_int_equal(a.dur, TW_MS(1500));
    assert_int_equal(a.pos, TW_MS(100));
    assert_int_equal(a.bytes, 65536);
    assert_int_equal(a.rate, 0);
    assert_string_equal(a.hp.host, "127.0.0.1");
    assert_int_equal(a.hp.port, 8888);
    assert_true(a.p == 0.01);
}

static void test_good_values(void **state)
{
    (void)state;
    all a;
    words w;
    expect_ok(&a, &w, "app --flag --str hello --name abcd --int -5 --uint 0 "
                      "--u64 18446744073709551615 --few 10 --port 0 --dur -2s "
                      "--pos 1ns --bytes 1MiB --rate 100Mbit/s --connect [::1]:6379 "
                      "--loss 0.25");
    assert_true(a.flag);
    assert_string_equal(a.str, "hello");
    assert_string_equal(a.name, "abcd");
    assert_int_equal(a.i, -5);
    assert_int_equal(a.u, 0);
    assert_true(a.u64 == UINT64_MAX);
    assert_int_equal(a.few, 10);
    assert_int_equal(a.port, 0);
    assert_int_equal(a.dur, -TW_SEC(2));
    assert_int_equal(a.pos, 1);
    assert_int_equal(a.bytes, 1 << 20);
    assert_int_equal(a.rate, 12500000);
    assert_string_equal(a.hp.host, "::1");
    assert_int_equal(a.hp.port, 6379);
    assert_true(a.p == 0.25);
    /* --name=value, an empty value, a value that looks like an option,
     * the last of two wins */
    expect_ok(&a, &w, "app --str=x=y --int=5 --uint 4294967295 --str= --port=65535 "
                      "--connect host:1 --bytes 8 --loss 100% --few 1");
    assert_string_equal(a.str, "");
    assert_int_equal(a.i, 5);
    assert_int_equal(a.u, 4294967295u);
    assert_int_equal(a.port, 65535);
    assert_string_equal(a.hp.host, "host");
    assert_int_equal(a.hp.port, 1);
    assert_int_equal(a.bytes, 8);
    assert_true(a.p == 1.0);
    assert_int_equal(a.few, 1);
    expect_ok(&a, &w, "app --str --flag --str ~");
    assert_string_equal(a.str, "");
    assert_false(a.flag); /* "--flag" was --str's value, then replaced */
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_msg("app --name ~", "app: --name: expected 1..4 characters, got ''");
    expect_msg("app --name abcde", "app: --name: expected 1..4 characters, got 'abcde'");
    expect_msg("app --int x", "app: --int: expected an integer -5..5, got 'x'");
    expect_msg("app --int 1.0", "app: --int: expected an integer -5..5, got '1.0'");
    expect_msg("app --uint -1", "app: --uint: expected a non-negative integer, got '-1'");
    expect_msg("app --uint +1", "app: --uint: expected a non-negative integer, got '+1'");
    expect_msg("app --uint 1k", "app: --uint: expected a non-negative integer, got '1k'");
    expect_msg("app --u64 ~", "app: --u64: expected a non-negative integer, got ''");
    expect_msg("app --few zero", "app: --few: expected an integer 1..10, got 'zero'");
    expect_msg("app --port abc", "app: --port: expected an integer 0..65535, got 'abc'");
    expect_msg("app --dur soon",
               "app: --dur: expected a duration (e.g. 250ms, 2s), got 'soon'");
    expect_msg("app --pos 0",
               "app: --pos: expected a positive duration (e.g. 250ms, 2s), got '0'");
    expect_msg("app --bytes 1KB/s",
               "app: --bytes: expected a byte count 8..1048576 (e.g. 512, 64KiB, 1MB), "
               "got '1KB/s'");
    expect_msg("app --rate fast",
               "app: --rate: expected a rate (e.g. 10MB/s, 100Mbit/s), got 'fast'");
    expect_msg("app --connect nonsense",
               "app: --connect: expected HOST:PORT (or [V6]:PORT) with a port 1..65535, "
               "got 'nonsense'");
    expect_msg("app --connect host:0",
               "app: --connect: expected HOST:PORT (or [V6]:PORT) with a port 1..65535, "
               "got 'host:0'");
    expect_msg("app --loss 2",
               "app: --loss: expected a probability (e.g. 1%, 0.01), got '2'");
}

static void test_range_edges(void **state)
{
    (void)state;
    all a;
    words w;
    expect_ok(&a, &w, "app --int -5 --few 1 --bytes 8 --port 0");
    expect_ok(&a, &w, "app --int 5 --few 10 --bytes 1048576 --port 65535");
    assert_int_equal(a.i, 5);
    expect_msg("app --int -6", "app: --int: expected an integer -5..5, got '-6'");
    expect_msg("app --int 6", "app: --int: expected an integer -5..5, got '6'");
    expect_msg("app --int -99999999999999999999",
               "app: --int: expected an integer -5..5, got '-99999999999999999999'");
    expect_msg("app --few 0", "app: --few: expected an integer 1..10, got '0'");
    expect_msg("app --few 11", "app: --few: expected an integer 1..10, got '11'");
    expect_msg("app --bytes 7",
               "app: --bytes: expected a byte count 8..1048576 (e.g. 512, 64KiB, 1MB), "
               "got '7'");
    expect_msg("app --bytes 1048577",
               "app: --bytes: expected a byte count 8..1048576 (e.g. 512, 64KiB, 1MB), "
               "got '1048577'");
    expect_msg("app --port 65536", "app: --port: expected an integer 0..65535, got '65536'");
    expect_msg("app --uint 4294967296",
               "app: --uint: expected a non-negative integer, got '4294967296'");
    expect_msg("app --u64 18446744073709551616",
               "app: --u64: expected a non-negative integer, got '18446744073709551616'");
    expect_msg("app --pos -1ns",
               "app: --pos: expected a positive duration (e.g. 250ms, 2s), got '-1ns'");
}

static void test_command_line_mistakes(void **state)
{
    (void)state;
    expect_msg("app --prot 5", "app: unknown option --prot (did you mean --port?)");
    expect_msg("app --conect x", "app: unknown option --conect (did you mean --connect?)");
    expect_msg("app --fla", "app: unknown option --fla (did you mean --flag?)");
    expect_msg("app --frobnicate", "app: unknown option --frobnicate");
    expect_msg("app --u", "app: unknown option --u");
    expect_msg("app -p 5", "app: unknown option -p");
}

static void test_missing_and_extra_values(void **state)
{
    (void)state;
    expect_msg("app --str", "app: --str needs a value");
    expect_msg("app --flag --connect", "app: --connect needs a value");
    expect_msg("app --flag=yes", "app: --flag takes no value");
    expect_msg("app --flag=", "app: --flag takes no value");
    expect_msg("app x", "app: unexpected argument 'x'");
    expect_msg("app --flag - ", "app: unexpected argument '-'");
    expect_msg("app -- --flag", "app: unexpected argument '--flag'");
    all a;
    words w;
    expect_ok(&a, &w, "app --flag --"); /* "--" alone ends nothing much */
    assert_true(a.flag);
}

/* No state survives a parse: the second sees only its own argv. */
static void test_two_parses_are_independent(void **state)
{
    (void)state;
    all a, b;
    words w1, w2;
    expect_ok(&a, &w1, "app --flag --str one --few 3 --connect h:1");
    expect_ok(&b, &w2, "app --uint 9");
    assert_true(a.flag);
    assert_string_equal(a.str, "one");
    assert_int_equal(a.few, 3);
    assert_false(b.flag);
    assert_string_equal(b.str, "dflt");
    assert_int_equal(b.few, 2);
    assert_int_equal(b.u, 9);
    assert_string_equal(b.hp.host, "127.0.0.1");
    /* the same struct again: back to the defaults where not given */
    expect_ok(&a, &w1, "app --few 4");
    assert_false(a.flag);
    assert_string_equal(a.str, "dflt");
    assert_int_equal(a.few, 4);
    assert_string_equal(a.hp.host, "127.0.0.1");
    /* a failed parse in between leaves nothing behind either */
    expect_msg("app --few 99", "app: --few: expected an integer 1..10, got '99'");
    expect_ok(&a, &w1, "app");
    assert_int_equal(a.few, 2);
}

/* ---- operands, included tables, --help ---- */

typedef struct sub {
    bool verbose;
    const char *file;
} sub;

typedef struct runner {
    uint64_t times;
    sub s;
    tw_opt_args prog;
} runner;

static const tw_opt sub_table[] = {
    {.name = "verbose", TW_OPT_FIELD(TW_OPT_FLAG, sub, verbose), .help = "say more"},
    {.name = "file", TW_OPT_FIELD(TW_OPT_STRING, sub, file), .meta = "FILE",
     .help = "read this"},
    {0},
};

static const tw_opt runner_table[] = {
    {.name = "times", TW_OPT_FIELD(TW_OPT_U64, runner, times), .def = "1",
     .help = "how often"},
    {.kind = TW_OPT_INCLUDE, .sub = sub_table, .off = offsetof(runner, s)},
    {TW_OPT_FIELD(TW_OPT_ARGS, runner, prog), .min = 1, .max = 3,
     .meta = "PROGRAM ARG...", .help = "what to run"},
    {0},
};

static const tw_opt anywhere_table[] = {
    {.name = "times", TW_OPT_FIELD(TW_OPT_U64, runner, times), .def = "1",
     .help = "how often"},
    {TW_OPT_FIELD(TW_OPT_ARGS, runner, prog), .flags = TW_OPT_ARGS_ANYWHERE,
     .help = "its arguments"},
    {0},
};

static void test_operands(void **state)
{
    (void)state;
    runner r;
    words w;
    char msg[256];
    /* the first operand ends the options: the program's own stay its own */
    assert_int_equal(parse_line(runner_table, &r, &w, "run --times 2 --verbose sh -c x --times",
                                msg, sizeof msg), -EINVAL);
    assert_string_equal(msg, "run: expected PROGRAM ARG...: 1..3 arguments, got 4");
    assert_int_equal(parse_line(runner_table, &r, &w, "run --times 2 --file f sh --x",
                                msg, sizeof msg), 0);
    assert_int_equal(r.times, 2);
    assert_string_equal(r.s.file, "f");
    assert_false(r.s.verbose);
    assert_int_equal(r.prog.argc, 2);
    assert_string_equal(r.prog.argv[0], "sh");
    assert_string_equal(r.prog.argv[1], "--x");
    assert_null(r.prog.argv[2]);
    assert_int_equal(parse_line(runner_table, &r, &w, "run --verbose -- --times", msg,
                                sizeof msg), 0);
    assert_true(r.s.verbose);
    assert_int_equal(r.times, 1);
    assert_int_equal(r.prog.argc, 1);
    assert_string_equal(r.prog.argv[0], "--times");
    assert_int_equal(parse_line(runner_table, &r, &w, "run --verbose", msg, sizeof msg),
                     -EINVAL);
    assert_string_equal(msg, "run: expected PROGRAM ARG...: 1..3 arguments, got 0");
    /* anywhere: options and operands mixed, operands moved last in order */
    assert_int_equal(parse_line(anywhere_table, &r, &w, "date -u --times 3 +%s x -- --y",
                                msg, sizeof msg), 0);
    assert_int_equal(r.times, 3);
    assert_int_equal(r.prog.argc, 4);
    assert_string_equal(r.prog.argv[0], "-u");
    assert_string_equal(r.prog.argv[1], "+%s");
    assert_string_equal(r.prog.argv[2], "x");
    assert_string_equal(r.prog.argv[3], "--y");
    assert_null(r.prog.argv[4]);
    assert_string_equal(w.argv[1], "--times");
    assert_string_equal(w.argv[2], "3");
    assert_int_equal(parse_line(anywhere_table, &r, &w, "date", msg, sizeof msg), 0);
    assert_int_equal(r.prog.argc, 0);
    assert_null(r.prog.argv[0]);
}

static void test_help(void **state)
{
    (void)state;
    runner r;
    words w;
    char *text = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&text, &len);
    split(&w, "run --times 2 --help --nonsense");
    assert_int_equal(tw_opts_parse(runner_table, &r, w.argc, w.argv, err), -ECANCELED);
    fclose(err);
    assert_string_equal(text, "usage: run [OPTIONS] PROGRAM ARG...\n"
                              "  --times N       how often\n"
                              "  --verbose       say more\n"
                              "  --file FILE     read this\n"
                              "  PROGRAM ARG...  what to run\n");
    free(text);
    char msg[256];
    assert_int_equal(parse_line(runner_table, &r, &w, "run --help=x", msg, sizeof msg),
                     -EINVAL);
    assert_string_equal(msg, "run: unknown option --help");
    /* a table's own --help is an option like any other */
    static const tw_opt own[] = {
        {.name = "help", TW_OPT_FIELD(TW_OPT_FLAG, sub, verbose), .help = "mine"},
        {0},
    };
    sub s;
    assert_int_equal(parse_line(own, &s, &w, "x --help", msg, sizeof msg), 0);
    assert_true(s.verbose);
}

/* ---- the usage text ---- */

static void test_usage_text(void **state)
{
    (void)state;
    static const tw_opt t[] = {
        {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, all, hp),
         .help = "the server"},
        {.name = "flag", TW_OPT_FIELD(TW_OPT_FLAG, all, flag),
         .help = "two lines\nof help"},
        {.name = "a-very-long-option-name", TW_OPT_FIELD(TW_OPT_DURATION, all, dur),
         .help = "below its name\nand on"},
        {.name = "rate", TW_OPT_FIELD(TW_OPT_RATE, all, rate)},
        {.kind = TW_OPT_INCLUDE, .sub = sub_table, .off = 0},
        {0},
    };
    const char *want = "  --connect HOST:PORT  the server\n"
                       "  --flag               two lines\n"
                       "                       of help\n"
                       "  --a-very-long-option-name DURATION\n"
                       "                       below its name\n"
                       "                       and on\n"
                       "  --rate RATE\n"
                       "  --verbose            say more\n"
                       "  --file FILE          read this\n";
    char buf[1024];
    size_t n = tw_opts_format_usage(t, buf, sizeof buf);
    assert_int_equal(n, strlen(want));
    assert_string_equal(buf, want);
    /* cut as snprintf cuts, the whole length still returned */
    char small[16];
    assert_int_equal(tw_opts_format_usage(t, small, sizeof small), strlen(want));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, want, sizeof small - 1);
    assert_int_equal(tw_opts_format_usage(t, NULL, 0), strlen(want));
    /* the FILE form writes the same text */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_int_equal(tw_opts_usage(t, f), 0);
    fclose(f);
    assert_string_equal(text, want);
    free(text);
}

/* ---- the built-in apps ---- */

static const char *const builtins[] = {
    "echo-server", "echo-client", "date", "udp-echo-server", "udp-echo-client",
    "echo-load", "bulk-send", "bulk-recv", "supervise", "udp-load",
    "resp-server", "resp-client",
};

/* Every built-in app has a table, its usage is that table's whole text,
 * and its defaults parse. */
static void test_builtin_tables(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const tw_app *app = tw_app_find(builtins[i]);
        assert_non_null(app);
        if (!app->opts)
            fail_msg("%s has no option table", app->name);
        char buf[4096];
        size_t n = tw_opts_format_usage(app->opts, buf, sizeof buf);
        assert_true(n < sizeof buf);
        if (strcmp(app->usage, buf) != 0)
            fail_msg("%s: usage differs from its table's:\n%s---\n%s", app->name,
                     app->usage, buf);
        assert_true(n > 0 && buf[n - 1] == '\n');
        /* the defaults, into a zeroed buffer as large as any app's struct */
        static union {
            max_align_t align;
            char bytes[1 << 16];
        } dst;
        memset(&dst, 0, sizeof dst);
        char *argv[] = {(char *)app->name, NULL};
        char *text = NULL;
        size_t len = 0;
        FILE *err = open_memstream(&text, &len);
        int rc = tw_opts_parse(app->opts, &dst, 1, argv, err);
        fclose(err);
        if (rc != 0 && !strstr(text, "expected PROGRAM")) /* supervise needs one */
            fail_msg("%s: defaults: %s", app->name, text);
        free(text);
    }
}

/* An app's start says what was wrong, in the app's name. */
static void expect_start_msg(tw_loop *loop, const char *line, const char *want)
{
    words w;
    split(&w, line);
    const tw_app *app = tw_app_find(w.argv[0]);
    assert_non_null(app);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    void *st = NULL;
    int rc = app->start(loop, w.argc, w.argv, out, &st);
    fclose(out);
    if (rc != -EINVAL || !text || strcmp(text, want) != 0)
        fail_msg("'%s': %d, '%s'; want '%s'", line, rc, text ? text : "", want);
    free(text);
}

static void test_builtin_messages(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    expect_start_msg(loop, "echo-server --port 99999",
                     "echo-server: --port: expected an integer 0..65535, got '99999'\n");
    expect_start_msg(loop, "echo-client --count abc",
                     "echo-client: --count: expected a non-negative integer, got 'abc'\n");
    expect_start_msg(loop, "echo-client --connect",
                     "echo-client: --connect needs a value\n");
    expect_start_msg(loop, "echo-server --prot 1",
                     "echo-server: unknown option --prot (did you mean --port?)\n");
    expect_start_msg(loop, "echo-server --keep-open=1",
                     "echo-server: --keep-open takes no value\n");
    expect_start_msg(loop, "echo-load --tls-nam x",
                     "echo-load: unknown option --tls-nam (did you mean --tls-name?)\n");
    expect_start_msg(loop, "echo-load --messages zero",
                     "echo-load: --messages: expected a positive integer, got 'zero'\n");
    expect_start_msg(loop, "udp-echo-client --timeout 1000001",
                     "udp-echo-client: --timeout: expected an integer 0..1000000, "
                     "got '1000001'\n");
    expect_start_msg(loop, "udp-load --datagrams 16777217",
                     "udp-load: --datagrams: expected an integer 1..16777216, "
                     "got '16777217'\n");
    expect_start_msg(loop, "bulk-send --retry 0s",
                     "bulk-send: --retry: expected a positive duration (e.g. 250ms, 2s), "
                     "got '0s'\n");
    expect_start_msg(loop, "resp-server --maxclients 0",
                     "resp-server: --maxclients: expected a positive integer, got '0'\n");
    expect_start_msg(loop, "resp-client --size 23",
                     "resp-client: --size: expected a byte count 24..4096 "
                     "(e.g. 512, 64KiB, 1MB), got '23'\n");
    expect_start_msg(loop, "resp-client --name ~",
                     "resp-client: --name: expected 1..64 characters, got ''\n");
    expect_start_msg(loop, "supervise --quiet",
                     "supervise: expected PROGRAM ARG...: 1..32 arguments, got 0\n");
    expect_start_msg(loop, "date --program", "date: --program needs a value\n");
    expect_start_msg(loop, "bulk-recv extra", "bulk-recv: unexpected argument 'extra'\n");
    tw_loop_free(loop);
}

/* ---- restarts ---- */

typedef struct seen {
    unsigned n;
    unsigned restarts[8];
} seen;

static int record_start(tw_loop *loop, void *arg)
{
    seen *s = arg;
    if (s->n < 8)
        s->restarts[s->n++] = tw_app_restarts(loop);
    return 0;
}

/* ---- an app's own --tls options (twin/tls.h) ---- */

typedef struct tls_user {
    uint16_t port;
    tw_tls_app tls;
} tls_user;

static const tw_opt tls_server_table[] = {
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, tls_user, port), .def = "80"},
    {.kind = TW_OPT_INCLUDE, .sub = tw_tls_server_opts, .off = offsetof(tls_user, tls)},
    {0},
};

static const tw_opt tls_client_table[] = {
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, tls_user, port), .def = "80"},
    {.kind = TW_OPT_INCLUDE, .sub = tw_tls_client_opts, .off = offsetof(tls_user, tls)},
    {0},
};

/* A table of one's own takes the built-in apps' TLS options, and the
 * context comes from them with the built-in apps' messages. */
static void test_tls_options_in_an_own_table(void **state)
{
    (void)state;
    words w;
    char msg[512];
    tls_user u;
    memset(&u, 0, sizeof u);
    assert_int_equal(parse_line(tls_server_table, &u, &w, "my-server --port 443 "
                                "--tls-test-cert localhost", msg, sizeof msg), 0);
    assert_int_equal(u.port, 443);
    assert_string_equal(u.tls.opts.test_cert, "localhost");
    assert_true(tw_tls_app_on(&u.tls));
    int err = 1;
    tw_tls_ctx *ctx = tw_tls_app_ctx(&u.tls, TW_TLS_SERVER, "my-server", stderr, true, &err);
    assert_non_null(ctx);
    assert_int_equal(err, 0);
    assert_int_equal(tw_tls_ctx_role(ctx), TW_TLS_SERVER);
    tw_tls_ctx_free(ctx);
    /* none given: no context, no error */
    memset(&u, 0, sizeof u);
    assert_int_equal(parse_line(tls_server_table, &u, &w, "my-server", msg, sizeof msg), 0);
    assert_false(tw_tls_app_on(&u.tls));
    assert_null(tw_tls_app_ctx(&u.tls, TW_TLS_SERVER, "my-server", stderr, true, &err));
    assert_int_equal(err, 0);
    /* a key without its certificate: said, a bad option */
    memset(&u, 0, sizeof u);
    assert_int_equal(parse_line(tls_server_table, &u, &w, "my-server --tls-key k.pem", msg,
                                sizeof msg), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_null(tw_tls_app_ctx(&u.tls, TW_TLS_SERVER, "my-server", out, true, &err));
    fclose(out);
    assert_int_equal(err, -EINVAL);
    assert_string_equal(text, "my-server: --tls-key needs --tls-cert\n");
    free(text);
    /* the client's side, its options named in the usage */
    memset(&u, 0, sizeof u);
    assert_int_equal(parse_line(tls_client_table, &u, &w, "my-client --tls-test-ca "
                                "--tls-name svc", msg, sizeof msg), 0);
    assert_true(u.tls.opts.test_ca);
    assert_string_equal(u.tls.opts.server_name, "svc");
    ctx = tw_tls_app_ctx(&u.tls, TW_TLS_CLIENT, "my-client", stderr, true, &err);
    assert_non_null(ctx);
    tw_tls_ctx_free(ctx);
    char usage[2048];
    tw_opts_format_usage(tls_client_table, usage, sizeof usage);
    assert_non_null(strstr(usage, "  --tls-test-ca "));
    assert_non_null(strstr(usage, "  --tls-no-verify "));
}

static void test_restarts_in_a_world(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(1, NULL);
    assert_non_null(sim);
    tw_loop *a = tw_sim_add_node(sim, "a", "10.0.0.1");
    tw_loop *b = tw_sim_add_node(sim, "b", "10.0.0.2");
    seen sa = {0}, sb = {0};
    assert_int_equal(tw_sim_node_set_start(a, record_start, &sa), 0);
    assert_int_equal(tw_sim_node_set_start(b, record_start, &sb), 0);
    const tw_sim_fault crash = {.kind = TW_SIM_FAULT_CRASH,
                                .a = tw_sim_node_id(a), .b = TW_SIM_ALL};
    const tw_sim_fault back = {.kind = TW_SIM_FAULT_RESTART,
                               .a = tw_sim_node_id(a), .b = TW_SIM_ALL};
    assert_true(tw_sim_at(sim, TW_MS(100), &crash) >= 0);
    assert_true(tw_sim_at(sim, TW_MS(200), &back) >= 0);
    assert_true(tw_sim_at(sim, TW_MS(300), &crash) >= 0);
    assert_true(tw_sim_at(sim, TW_MS(400), &back) >= 0);
    int id = tw_sim_at(sim, TW_MS(450), &back); /* up: no restart */
    assert_true(id >= 0);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0);
    assert_int_equal(sa.n, 3);
    assert_int_equal(sa.restarts[0], 0);
    assert_int_equal(sa.restarts[1], 1);
    assert_int_equal(sa.restarts[2], 2);
    assert_int_equal(tw_app_restarts(a), 2);
    uint64_t count = 9;
    assert_int_equal(tw_sim_fault_effect(sim, id, &count), 0);
    assert_int_equal(count, 0); /* the node was up: nothing to restart */
    assert_int_equal(tw_sim_fault_effect(sim, id - 1, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(sb.n, 1);
    assert_int_equal(sb.restarts[0], 0);
    assert_int_equal(tw_app_restarts(b), 0);
    tw_sim_free(sim);
    /* the real backend never restarts an app */
    tw_loop *real = tw_loop_new(NULL);
    assert_non_null(real);
    assert_int_equal(tw_app_restarts(real), 0);
    tw_loop_free(real);
    assert_int_equal(tw_app_restarts(NULL), 0);
}

/* A registered app that says at each start how many restarts came
 * before it; resp-server says so too. */
static seen scenario_seen;

static int counter_start(tw_loop *loop, int argc, char **argv, FILE *out, void **st)
{
    (void)argc, (void)argv;
    unsigned n = tw_app_restarts(loop);
    if (scenario_seen.n < 8)
        scenario_seen.restarts[scenario_seen.n++] = n;
    fprintf(out, "start after %u restart(s)\n", n);
    *st = &scenario_seen;
    return 0;
}
static int counter_result(void *st) { (void)st; return 0; }
static void counter_free(void *st) { (void)st; }
static const tw_app counter = {
    .name = "test-restart-counter", .summary = "", .usage = "",
    .start = counter_start, .result = counter_result, .free = counter_free,
};

static void test_restarts_in_a_scenario(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&counter), 0);
    static const char text[] =
        "duration: 2s\n"
        "nodes:\n"
        "  - {name: n, addr: 10.0.0.1, app: test-restart-counter}\n"
        "  - {name: kv, addr: 10.0.0.2, app: resp-server, args: [--port, '6379']}\n"
        "timeline:\n"
        "  - {at: 300ms, crash: n, for: 200ms}\n"
        "  - {at: 1s, crash: n, for: 100ms}\n"
        "  - {at: 400ms, crash: kv, for: 100ms}\n"
        "  - {at: 1200ms, crash: kv, for: 100ms}\n";
    tw_scenario *sc = NULL;
    char err[256];
    if (tw_scenario_parse("restarts.yaml", text, strlen(text), &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    scenario_seen = (seen){0}; /* loading started it once, to check it */
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    tw_scenario_run_opts o = {.app_out = f};
    tw_scenario_result r;
    assert_int_equal(tw_scenario_run(sc, 1, &o, &r), 0);
    fclose(f);
    if (r.verdict != TW_SCENARIO_PASS)
        fail_msg("%s\n%s", r.message, out);
    assert_int_equal(scenario_seen.n, 3);
    assert_int_equal(scenario_seen.restarts[0], 0);
    assert_int_equal(scenario_seen.restarts[1], 1);
    assert_int_equal(scenario_seen.restarts[2], 2);
    char *s0 = strstr(out, "n| start after 0 restart(s)\n");
    char *s1 = strstr(out, "n| start after 1 restart(s)\n");
    char *s2 = strstr(out, "n| start after 2 restart(s)\n");
    assert_true(s0 && s1 && s2 && s0 < s1 && s1 < s2);
    char *r1 = strstr(out, "kv| Restart 1: the keyspace starts empty\n");
    char *r2 = strstr(out, "kv| Restart 2: the keyspace starts empty\n");
    assert_non_null(r1);
    assert_non_null(r2);
    assert_true(r1 < r2);
    assert_null(strstr(out, "kv| Restart 0"));
    free(out);
    tw_scenario_result_fini(&r);
    tw_scenario_free(sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_defaults),
        TW_TEST(test_good_values),
        TW_TEST(test_bad_values),
        TW_TEST(test_range_edges),
        TW_TEST(test_command_line_mistakes),
        TW_TEST(test_missing_and_extra_values),
        TW_TEST(test_two_parses_are_independent),
        TW_TEST(test_operands),
        TW_TEST(test_help),
        TW_TEST(test_usage_text),
        TW_TEST(test_builtin_tables),
        TW_TEST(test_builtin_messages),
        TW_TEST(test_tls_options_in_an_own_table),
        TW_TEST(test_restarts_in_a_world),
        TW_TEST(test_restarts_in_a_scenario),
    };
    return cmocka_run_group_tests_name("app_opts", tests, NULL, NULL);
}
