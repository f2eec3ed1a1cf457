/* tests/test_scenario_timeline.c - `twin sim FILE --seed N --timeline
 * OUT.html` as a user runs it: the page needs nothing from a network,
 * embeds every record of the run exactly as --trace-json prints them,
 * and the run's facts (nodes, faults with their effect counts, verdict,
 * the failure's time); what the page cannot do is refused, and an output
 * that cannot be written is an error. Then the page in a headless
 * Chromium, where there is one: it loads from a file:// URL with no
 * console message, and draws what the trace holds (one lane per node,
 * an arrow per send, per connect and per datagram that arrived, a band
 * per fault, crashes, restarts, freezes, the failure), fewer of them
 * when zoomed in or narrowed to one node. Without chromium that test
 * says SKIP and is counted as skipped. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tests/harness.h"

#include "tests/cli_util.h"

static char tmpdir[128];
static char out[1 << 21];

/* Run a shell command (stderr too); its output into out. */
__attribute__((format(printf, 1, 2)))
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    return tw_cli_run(cmd, out, sizeof out);
}

/* A whole file, NUL-terminated (the caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Write the page of FILE under seed into tmpdir/NAME.html; the exit
 * status of twin sim. */
static int page(const char *file, int seed, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s.html", tmpdir, name);
    return sh("%s sim %s --seed %d --timeline %s", tw_cli_twin, file, seed, path);
}

/* The embedded records: what stands between the array's brackets. */
static char *records(const char *html)
{
    const char *open = "<script type=\"application/json\" id=\"twin-records\">[\n";
    const char *a = strstr(html, open);
    assert_non_null(a);
    a += strlen(open);
    const char *b = strstr(a, "\n]</script>");
    assert_non_null(b);
    return strndup(a, (size_t)(b - a));
}

/* How many records named what the block holds. */
static int count_what(const char *block, const char *what)
{
    char pat[80];
    int n = 0;
    snprintf(pat, sizeof pat, "\"what\": \"%s\"", what);
    for (const char *p = block; (p = strstr(p, pat)); p += strlen(pat))
        n += p[strlen(pat)] == ',' || p[strlen(pat)] == '}';
    return n;
}

static int count_str(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The page fetches nothing: no address, no external script, style,
 * font or image; its three scripts are inline. */
static void assert_self_contained(const char *html)
{
    static const char *const banned[] = {"http://", "https://", "src=", "<link",
                                         "@import", "url(", "<iframe", "@font-face"};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        if (strcasestr(html, banned[i]))
            fail_msg("the page holds '%s': %.80s", banned[i], strcasestr(html, banned[i]));
    assert_int_equal(count_str(html, "<script"), 3);
    assert_int_equal(count_str(html, "<script type=\"application/json\" id=\"twin-run\">"), 1);
    assert_int_equal(count_str(html, "<script type=\"application/json\" id=\"twin-records\">"), 1);
    assert_int_equal(count_str(html, "<script>\n"), 1);
    assert_int_equal(count_str(html, "</script>"), 3);
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_non_null(strstr(html, "</html>"));
}

/* The page of partition_heal seed 3 has exactly the records --trace-json
 * prints for that seed, in order, and the run's facts. */
static void test_page_embeds_the_run(void **state)
{
    (void)state;
    char path[256];
    assert_int_equal(page("scenarios/partition_heal.yaml", 3, "ph", path, sizeof path), 0);
    char want[400];
    snprintf(want, sizeof want, "timeline of seed 3 written to %s (", path);
    assert_non_null(strstr(out, want));
    char *html = slurp(path);
    assert_self_contained(html);
    assert_non_null(strstr(html, "<title>twin: partition-heal seed 3</title>"));

    /* the records: the JSON lines of --trace-json, "," between them */
    assert_int_equal(sh("%s sim scenarios/partition_heal.yaml --seed 3 --trace-json",
                        tw_cli_twin), 0);
    size_t cap = 2 * strlen(out) + 1, len = 0; /* "\n" becomes ",\n" */
    char *joined = calloc(1, cap);
    assert_non_null(joined);
    int n = 0;
    for (char *save, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{')
            continue;
        len += (size_t)snprintf(joined + len, cap - len, "%s%s", n++ ? ",\n" : "", line);
    }
    assert_true(n > 6000);
    char *block = records(html);
    assert_string_equal(block, joined);
    char cnt[64];
    snprintf(cnt, sizeof cnt, "\"records\": %d, \"dropped\": 0", n);
    assert_non_null(strstr(html, cnt));

    /* the facts: nodes, verdict, each fault with its count */
    assert_non_null(strstr(html, "\"scenario\": \"partition-heal\", "
                                 "\"file\": \"scenarios/partition_heal.yaml\", \"seed\": 3"));
    assert_non_null(strstr(html, "\"verdict\": \"pass\", \"exit\": 0, \"message\": \"\", "
                                 "\"failed_ns\": -1, \"end_ns\": 5100000000"));
    assert_non_null(strstr(html, "\"nodes\": [\"server\", \"c1\", \"c2\"]"));
    assert_non_null(strstr(html, "{\"index\": 0, \"kind\": \"partition\", \"what\": \"partition "
                                 "c1\\u003c->server at 1s for 2s\", \"unit\": \"packets cut\", "
                                 "\"count\": 3, \"drawn\": false, \"at_ns\": 1000000000, "
                                 "\"for_ns\": 2000000000, \"pair\": true, \"a\": \"c1\", "
                                 "\"b\": \"server\"}"));
    assert_non_null(strstr(html, "\"what\": \"heal c2\\u003c->* at 2500ms\", \"unit\": \"cut "
                                 "paths healed\", \"count\": 4"));
    /* "<" nowhere inside the data: nothing in it can close its script */
    const char *data = strstr(html, "id=\"twin-run\">");
    const char *end = strstr(html, "<script>\n");
    assert_true(data && end && data < end);
    for (const char *p = data + strlen("id=\"twin-run\">"); p < end; p++)
        if (*p == '<')
            assert_true(strncmp(p, "</script>", 9) == 0 ||
                        strncmp(p, "<script type=\"application/json\"", 31) == 0);
    free(block);
    free(joined);
    free(html);
}

/* A scenario of one node whose app prints a line with quotes, a
 * backslash and a tab; its path into path. */
static void app_lines_file(char *path, size_t len)
{
    snprintf(path, len, "%s/app-lines.yaml", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("name: app-lines\nduration: 1s\nnodes:\n"
          "  - {name: host, addr: 10.0.0.1, app: supervise, "
          "args: [--, echo, \"say \\\"hi\\\" \\\\ then\\ttab\"]}\n", f);
    assert_int_equal(fclose(f), 0);
}

/* What the apps print is in the JSON trace, each line a record "app" in
 * its place (and so on the page, in its node's lane), but not in the
 * trace hash and not a record of the text trace, which prints the lines
 * as "NODE| line". */
static void test_app_lines_are_records(void **state)
{
    (void)state;
    char file[256], path[256];
    app_lines_file(file, sizeof file);
    assert_int_equal(sh("%s sim %s --seed 1 --trace-json", tw_cli_twin, file), 0);
    const char *line = "{\"t\": 0.000075536, \"node\": \"host\", \"transport\": 0, "
                       "\"what\": \"app\", \"line\": \"say \\\"hi\\\" \\\\ then\\u0009tab\"}\n";
    if (!strstr(out, line))
        fail_msg("no line\n%swas in\n%s", line, out);
    assert_non_null(strstr(out, "\"what\": \"app\", \"line\": \"supervise: run 1 of echo "
                                "exited 0\"}\n"));
    const char *h = strstr(out, "hash ");
    assert_non_null(h);
    char hash[17];
    snprintf(hash, sizeof hash, "%.16s", h + 5);
    /* the text trace: the same hash, the line as the app printed it */
    assert_int_equal(sh("%s sim %s --seed 1 --trace", tw_cli_twin, file), 0);
    assert_non_null(strstr(out, "host| say \"hi\" \\ then\ttab\n"));
    assert_null(strstr(out, " app "));
    assert_non_null(strstr(out, hash));
    /* the page holds them as records */
    assert_int_equal(page(file, 1, "app-lines", path, sizeof path), 0);
    char *html = slurp(path);
    char *block = records(html);
    assert_int_equal(count_what(block, "app"), 2);
    free(block);
    free(html);
}

/* A crash scenario: its crashes and restarts are records of the page,
 * its faults carry their windows; --trace-json alongside prints the
 * same records as without --timeline. */
static void test_page_of_crashes(void **state)
{
    (void)state;
    char path[256];
    assert_int_equal(page("scenarios/crash_restart.yaml", 3, "crash", path, sizeof path), 0);
    char *html = slurp(path);
    assert_self_contained(html);
    char *block = records(html);
    assert_int_equal(count_what(block, "crash"), 2);
    assert_int_equal(count_what(block, "restart"), 2);
    assert_non_null(strstr(html, "\"kind\": \"crash\", \"what\": \"crash server at 800ms for "
                                 "700ms\", \"unit\": \"transports and unsynced files lost\", "
                                 "\"count\": 2, "
                                 "\"drawn\": false, \"at_ns\": 800000000, \"for_ns\": "
                                 "700000000, \"pair\": false, \"a\": \"server\", \"b\": \"\"}"));
    free(block);
    free(html);

    char *plain = NULL;
    assert_int_equal(sh("%s sim scenarios/crash_restart.yaml --seed 3 --trace-json",
                        tw_cli_twin), 0);
    plain = strdup(out);
    assert_int_equal(sh("(%s sim scenarios/crash_restart.yaml --seed 3 --trace-json "
                        "--timeline %s/both.html 2>/dev/null)", tw_cli_twin, tmpdir), 0);
    assert_string_equal(out, plain);
    free(plain);
}

/* A run that fails: the page carries the verdict, the message and when
 * the failure happened; twin sim still exits with the verdict. */
static void test_page_of_a_failure(void **state)
{
    (void)state;
    char path[256];
    assert_int_equal(page("tests/data/timeline.yaml", 1, "fail", path, sizeof path), 1);
    assert_non_null(strstr(out, "result: FAIL (correctness)"));
    char *html = slurp(path);
    assert_self_contained(html);
    assert_non_null(strstr(html, "\"verdict\": \"correctness\", \"exit\": 1, \"message\": "
                                 "\"at 1500ms: client (echo-load) exited with status 1, "
                                 "expected 0\", \"failed_ns\": 1500000000"));
    assert_int_equal(count_str(html, "{\"index\": "), 5);
    assert_null(strstr(html, "\"count\": 0,")); /* every fault took effect */
    free(html);
}

/* What the page cannot draw is refused before anything runs. */
static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *args, *says;
    } cases[] = {
        {"scenarios/partition_heal.yaml --seeds 1..3",
         "--timeline draws one run: give it --seed N, not a sweep (--seeds)"},
        {"scenarios/partition_heal.yaml scenarios/crash_restart.yaml --seed 1",
         "--timeline draws one run of one scenario file"},
        {"scenarios/partition_heal.yaml --seed 1 --trace",
         "--timeline embeds the records as JSON: with it, --trace-json (not --trace)"},
        {"scenarios/partition_heal.yaml --seed 1 --trace-filter node=c1",
         "--timeline embeds every record: it takes no --trace-filter"},
        {"scenarios/partition_heal.yaml --seed 1 --check-determinism",
         "--timeline and --check-determinism: pick one"},
    };
    char path[256];
    snprintf(path, sizeof path, "%s/refused.html", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(sh("%s sim %s --timeline %s", tw_cli_twin, cases[i].args, path), 2);
        if (!strstr(out, cases[i].says))
            fail_msg("twin sim %s --timeline: no '%s' in:\n%s", cases[i].args, cases[i].says, out);
        assert_int_equal(access(path, F_OK), -1);
    }
    assert_int_equal(sh("%s shrink tests/data/flaky.yaml --seed 8 --timeline %s", tw_cli_twin,
                        path), 2);
    assert_non_null(strstr(out, "shrink: --timeline draws a run of `twin sim`"));
    assert_int_equal(access(path, F_OK), -1);
}

/* A page that cannot be written is an error that says where and why: at
 * once for a path that cannot be opened, after the run for a full disk
 * (whose verdict, when it failed, stays the exit status). */
static void test_output_errors(void **state)
{
    (void)state;
    assert_int_equal(sh("%s sim scenarios/partition_heal.yaml --seed 1 --timeline "
                        "%s/no/such/dir/x.html", tw_cli_twin, tmpdir), 2);
    char want[300];
    snprintf(want, sizeof want, "twin: cannot write %s/no/such/dir/x.html: No such file "
                                "or directory", tmpdir);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "SEED="));
    assert_int_equal(sh("%s sim scenarios/partition_heal.yaml --seed 1 --timeline /dev/full",
                        tw_cli_twin), 2);
    assert_non_null(strstr(out, "twin: cannot write /dev/full: No space left on device"));
    assert_null(strstr(out, "written to"));
    assert_int_equal(sh("%s sim tests/data/timeline.yaml --seed 1 --timeline /dev/full",
                        tw_cli_twin), 1);
    assert_non_null(strstr(out, "twin: cannot write /dev/full: No space left on device"));
}

/* ---- the page in a browser ---- */

/* The value of the <body>'s data-NAME in a dumped DOM, -1 if none. */
static long body_data(const char *dom, const char *name)
{
    const char *body = strstr(dom, "<body ");
    const char *close = body ? strchr(body, '>') : NULL;
    char pat[64];
    snprintf(pat, sizeof pat, " data-%s=\"", name);
    const char *p = body ? strstr(body, pat) : NULL;
    if (!p || p > close)
        return -1;
    return strtol(p + strlen(pat), NULL, 10);
}

static bool body_has(const char *dom, const char *attr)
{
    const char *body = strstr(dom, "<body ");
    const char *close = body ? strchr(body, '>') : NULL;
    const char *p = body ? strstr(body, attr) : NULL;
    return p && p < close;
}

/* Load path#hash in headless Chromium and dump its DOM once its script
 * ran (the page draws at once, on load). No console message at all may
 * appear: the page logs nothing, so any is an error. The DOM into out. */
static void load(const char *path, const char *hash)
{
    char err[300];
    snprintf(err, sizeof err, "%s/chromium.err", tmpdir);
    int rc = sh("timeout 120 chromium --headless=new --no-sandbox --disable-gpu --disable-quic "
                "--no-first-run --disable-background-networking --disable-component-update "
                "--disable-sync --user-data-dir=%s/chromium-profile --window-size=1400,900 "
                "--enable-logging=stderr --v=0 --dump-dom 'file://%s%s' 2>%s",
                tmpdir, path, hash, err);
    if (rc != 0)
        fail_msg("chromium could not load %s%s (status %d)", path, hash, rc);
    char *dom = strdup(out);
    assert_non_null(dom);
    assert_int_equal(sh("grep ':CONSOLE' %s", err), 1); /* grep found none */
    snprintf(out, sizeof out, "%s", dom);
    free(dom);
    if (!body_has(out, "data-ready=\"1\""))
        fail_msg("%s%s: the page did not finish drawing: %.400s", path, hash,
                 strstr(out, "<body") ? strstr(out, "<body") : out);
    assert_int_equal(body_data(out, "errors"), 0);
}

#define ASSERT_DATA(name, want)                                                  \
    do {                                                                         \
        long got_ = body_data(out, name), want_ = (long)(want);                  \
        if (got_ != want_)                                                       \
            fail_msg("%s: data-%s is %ld, the trace says %ld", what, name, got_, \
                     want_);                                                     \
    } while (0)

/* What the page drew, against the records it embeds. */
static void check_drawn(const char *what, const char *path, int nodes, int faults,
                        bool failed)
{
    char *html = slurp(path);
    char *block = records(html);
    int nrec = *block ? count_str(block, ",\n{") + 1 : 0;
    load(path, "");
    ASSERT_DATA("records", nrec);
    ASSERT_DATA("marks", nrec); /* every record, in the whole run's view */
    ASSERT_DATA("lanes", nodes);
    ASSERT_DATA("bands", faults);
    ASSERT_DATA("arrows-stream", count_what(block, "send"));
    ASSERT_DATA("arrows-connect", count_what(block, "connect"));
    ASSERT_DATA("arrows-handshake", count_what(block, "connected"));
    ASSERT_DATA("arrived-dgram", count_what(block, "dg_arrive"));
    ASSERT_DATA("crashes", count_what(block, "crash"));
    ASSERT_DATA("restarts", count_what(block, "restart"));
    ASSERT_DATA("freezes", count_what(block, "freeze"));
    ASSERT_DATA("failure", failed);
    /* nearly every send arrived: those lost went into the cuts and
     * crashes of a few connections */
    long sends = count_what(block, "send"), arrived = body_data(out, "arrived-stream");
    if (arrived > sends || arrived < sends * 9 / 10)
        fail_msg("%s: %ld of %ld sends drawn as arrived", what, arrived, sends);
    free(block);
    free(html);
}

static void test_page_in_a_browser(void **state)
{
    (void)state;
    if (!tw_cli_have("chromium")) {
        printf("SKIP: chromium not found: the timeline page is not checked in a browser "
               "(apt-get install chromium)\n");
        skip();
    }
    char ph[256], fail[256], dg[256];
    assert_int_equal(page("scenarios/partition_heal.yaml", 3, "b-ph", ph, sizeof ph), 0);
    assert_int_equal(page("tests/data/timeline.yaml", 1, "b-fail", fail, sizeof fail), 1);
    assert_int_equal(page("scenarios/datagrams.yaml", 3, "b-dg", dg, sizeof dg), 0);
    check_drawn("partition_heal", ph, 3, 3, false);
    long arrows = body_data(out, "arrows"), marks = body_data(out, "marks");
    check_drawn("timeline.yaml", fail, 4, 5, true);
    assert_true(body_data(out, "lost") >= 4); /* the partition cut 4 datagrams */
    check_drawn("datagrams", dg, 2, 1, false);
    char appf[256], app[256];
    app_lines_file(appf, sizeof appf);
    assert_int_equal(page(appf, 1, "b-app", app, sizeof app), 0);
    check_drawn("app lines", app, 1, 0, false);

    /* zoomed in, fewer arrows and records are drawn; one node alone has
     * no arrow to another */
    load(ph, "#view=1,1.1");
    assert_true(body_data(out, "arrows") > 0 && body_data(out, "arrows") < arrows / 10);
    assert_true(body_data(out, "marks") > 0 && body_data(out, "marks") < marks / 10);
    assert_true(body_has(out, "data-view=\"1.000000000,1.100000000\""));
    load(ph, "#nodes=server");
    const char *what = "partition_heal, server alone";
    ASSERT_DATA("lanes", 1);
    ASSERT_DATA("arrows", 0);
}

int main(void)
{
    tw_cli_init();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/twin-timeline-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        TW_TEST(test_page_embeds_the_run),
        TW_TEST(test_app_lines_are_records),
        TW_TEST(test_page_of_crashes),
        TW_TEST(test_page_of_a_failure),
        TW_TEST(test_refused),
        TW_TEST(test_output_errors),
        TW_TEST(test_page_in_a_browser),
    };
    int rc = cmocka_run_group_tests_name("scenario_timeline", tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (tw_cli_run(cmd, out, sizeof out) != 0)
        rc = rc ? rc : 1;
    return rc;
}
