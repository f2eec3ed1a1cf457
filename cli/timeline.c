/* cli/timeline.c - `twin sim FILE --seed N --timeline OUT.html`: one run
 * drawn as a sequence chart in one self-contained HTML page.
 *
 * Map: the sink (the run's JSON trace lines gathered in memory); JSON
 * strings; the run's facts; the page.
 *
 * The run writes its trace as JSON lines (twin/sim.h, section 8) into a
 * FILE of ours that keeps the records (the lines that are JSON objects;
 * the summary lines around them are not records) and passes every line
 * on to --trace-json's output when both are asked for. The page is the
 * template of cli/timeline/ (page.html with page.css and page.js put in
 * its place, carried in the library by tools/embed.sh) with the records
 * as one JSON array and the run's facts (nodes, faults with their effect
 * counts, the verdict) as one JSON object, each in a
 * <script type="application/json">. Nothing in the page is fetched: it
 * is read from a file:// URL with no network.
 */
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twin/parse.h"
#include "twin/twin.h"

#include "timeline_page.h" /* tl_html, tl_css, tl_js: tools/embed.sh */

/* What the page keeps of a long run: its first records. A browser draws
 * this many in well under a second (the page culls and bins what it
 * draws); past it the page says how many records it left out. */
#define TL_RECORDS_MAX 300000
#define TL_LINE_MAX 2048 /* a record is at most 320 bytes (sim/trace.c), an
                            app's line under 2 KiB (scenario/nodes.c) */

/* ---- the sink ---- */

struct cli_timeline {
    FILE *page;       /* the output, opened before the run */
    const char *path;
    FILE *trace;      /* the run's trace goes here (a cookie FILE) */
    FILE *tee;        /* and on to --trace-json's output, or NULL */
    char *recs;       /* the records, ",\n" between them, '<' escaped */
    size_t len, cap;
    size_t kept, dropped;
    bool nomem;
    char line[TL_LINE_MAX];
    size_t line_len;
    bool line_long; /* the line being gathered outgrew line: not a record */
};

static bool grow(cli_timeline *tl, size_t more)
{
    if (tl->len + more <= tl->cap)
        return true;
    size_t cap = tl->cap ? tl->cap : 1 << 16;
    while (cap < tl->len + more)
        cap *= 2;
    char *p = realloc(tl->recs, cap);
    if (!p) {
        tl->nomem = true;
        return false;
    }
    tl->recs = p;
    tl->cap = cap;
    return true;
}

/* One whole line of the trace: a record if it is a JSON object. */
static void take_line(cli_timeline *tl)
{
    const char *s = tl->line;
    size_t n = tl->line_len;
    if (tl->line_long || n < 2 || s[0] != '{' || s[n - 1] != '}')
        return;
    if (tl->kept >= TL_RECORDS_MAX || tl->nomem) {
        tl->dropped++;
        return;
    }
    size_t lt = 0; /* "<" becomes "\u003c": nothing closes the <script> early */
    for (size_t i = 0; i < n; i++)
        lt += s[i] == '<';
    if (!grow(tl, n + 5 * lt + 2)) {
        tl->dropped++;
        return;
    }
    if (tl->kept) {
        tl->recs[tl->len++] = ',';
        tl->recs[tl->len++] = '\n';
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '<') {
            memcpy(tl->recs + tl->len, "\\u003c", 6);
            tl->len += 6;
        } else {
            tl->recs[tl->len++] = s[i];
        }
    }
    tl->kept++;
}

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
    cli_timeline *tl = cookie;
    if (tl->tee && fwrite(buf, 1, len, tl->tee) != len)
        cli_write_failed(tl->tee);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            take_line(tl);
            tl->line_len = 0;
            tl->line_long = false;
        } else if (tl->line_len < sizeof tl->line) {
            tl->line[tl->line_len++] = buf[i];
        } else {
            tl->line_long = true;
        }
    }
    return (ssize_t)len;
}

cli_timeline *cli_timeline_open(const char *path, FILE *tee)
{
    cli_timeline *tl = calloc(1, sizeof *tl);
    if (!tl) {
        fprintf(stderr, "%s: --timeline: out of memory\n", cli_name());
        return NULL;
    }
    tl->path = path;
    tl->tee = tee;
    tl->page = fopen(path, "w");
    if (!tl->page) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_name(), path, strerror(errno));
        free(tl);
        return NULL;
    }
    static const cookie_io_functions_t io = {.write = sink_write};
    tl->trace = fopencookie(tl, "w", io);
    if (!tl->trace) {
        fprintf(stderr, "%s: --timeline: out of memory\n", cli_name());
        fclose(tl->page);
        free(tl);
        return NULL;
    }
    return tl;
}

FILE *cli_timeline_trace(cli_timeline *tl) { return tl->trace; }

void cli_timeline_free(cli_timeline *tl)
{
    if (!tl)
        return;
    if (tl->trace)
        fclose(tl->trace);
    if (tl->page)
        fclose(tl->page);
    free(tl->recs);
    free(tl);
}

/* ---- JSON strings ---- */

/* s as a JSON string that may stand inside a <script> element: '<' is
 * written as \u003c. */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20 || ch == '<')
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_key_str(FILE *f, const char *key, const char *s)
{
    fprintf(f, ", \"%s\": ", key);
    json_str(f, s);
}

/* ---- the run's facts ---- */

static const char *node_name(const tw_scenario *sc, int i)
{
    if (i == TW_SIM_ALL)
        return "*";
    const char *s = i >= 0 ? tw_scenario_node_name(sc, (size_t)i) : NULL;
    return s ? s : "?";
}

static void write_fault(FILE *f, const tw_scenario *sc, const tw_scenario_effect *e)
{
    fprintf(f, "    {\"index\": %zu", e->index);
    json_key_str(f, "kind", e->kind);
    json_key_str(f, "what", e->what);
    json_key_str(f, "unit", e->unit);
    fprintf(f, ", \"count\": %" PRIu64 ", \"drawn\": %s, \"at_ns\": %" PRId64
               ", \"for_ns\": %" PRId64 ", \"pair\": %s",
            e->count, e->drawn ? "true" : "false", e->at_ns, e->for_ns,
            e->pair ? "true" : "false");
    json_key_str(f, "a", node_name(sc, e->a));
    json_key_str(f, "b", e->pair ? node_name(sc, e->b) : "");
    fputc('}', f);
}

static void write_run(FILE *f, const cli_sim *c, const cli_timeline *tl,
                      const tw_scenario_result *res)
{
    char replay[1024];
    cli_replay_verdict(c, res->seed, res->verdict, replay, sizeof replay);
    fprintf(f, "{\"scenario\": ");
    json_str(f, tw_scenario_name(c->sc));
    json_key_str(f, "file", c->file);
    fprintf(f, ", \"seed\": %" PRIu64 ", \"swarm\": %s", res->seed,
            c->swarm ? "true" : "false");
    json_key_str(f, "replay", replay);
    json_key_str(f, "verdict", tw_scenario_verdict_name(res->verdict));
    fprintf(f, ", \"exit\": %d", (int)res->verdict);
    json_key_str(f, "message", res->message);
    fprintf(f, ", \"failed_ns\": %" PRId64 ", \"end_ns\": %" PRId64
               ", \"converged_ns\": %" PRId64 ", \"duration_ns\": %" PRId64
               ", \"quiet_ns\": %" PRId64 ", \"hash\": \"%016" PRIx64 "\""
               ", \"events\": %" PRIu64 ", \"records\": %zu, \"dropped\": %zu",
            res->failed_ns, res->end_ns, res->converged_ns,
            tw_scenario_duration(c->sc), tw_scenario_quiet(c->sc), res->hash,
            res->stats.events, tl->kept, tl->dropped);
    json_key_str(f, "version", TWIN_VERSION);
    fprintf(f, ",\n  \"nodes\": [");
    for (size_t i = 0; i < tw_scenario_node_count(c->sc); i++) {
        fputs(i ? ", " : "", f);
        json_str(f, tw_scenario_node_name(c->sc, i));
    }
    fprintf(f, "],\n  \"faults\": [%s", res->neffects ? "\n" : "");
    for (size_t i = 0; i < res->neffects; i++) {
        write_fault(f, c->sc, &res->effects[i]);
        fputs(i + 1 < res->neffects ? ",\n" : "\n  ", f);
    }
    fprintf(f, "]}");
}

/* ---- the page ---- */

/* Write tpl up to the marker (a line of its own), step past it. */
static const char *upto(FILE *f, const char *tpl, const char *marker)
{
    const char *m = strstr(tpl, marker);
    if (!m)
        abort(); /* the template is ours: a missing marker is a build bug */
    fwrite(tpl, 1, (size_t)(m - tpl), f);
    m += strlen(marker);
    return *m == '\n' ? m + 1 : m;
}

bool cli_timeline_finish(cli_timeline *tl, const cli_sim *c, const tw_scenario_result *res)
{
    fflush(tl->trace);
    if (tl->line_len) /* a last line without its newline */
        take_line(tl);
    FILE *f = tl->page;
    char title[300];
    snprintf(title, sizeof title, "%s seed %" PRIu64, tw_scenario_name(c->sc), res->seed);
    const char *t = upto(f, tl_html, "@TITLE@");
    fprintf(f, "twin: ");
    for (const char *s = title; *s; s++) /* text of <title>: no markup */
        if (*s == '<' || *s == '&')
            fprintf(f, "&#%d;", *s);
        else
            fputc(*s, f);
    t = upto(f, t, "@STYLE@");
    fprintf(f, "<style>\n%s</style>\n", tl_css);
    t = upto(f, t, "@DATA@");
    fprintf(f, "<script type=\"application/json\" id=\"twin-run\">");
    write_run(f, c, tl, res);
    fprintf(f, "</script>\n<script type=\"application/json\" id=\"twin-records\">[\n");
    if (tl->len)
        fwrite(tl->recs, 1, tl->len, f);
    fprintf(f, "\n]</script>\n");
    t = upto(f, t, "@SCRIPT@");
    fprintf(f, "<script>\n%s</script>\n", tl_js);
    fputs(t, f);
    if (tl->nomem)
        fprintf(stderr, "%s: --timeline: out of memory: the page has the first %zu "
                        "records only\n", cli_name(), tl->kept);
    else if (tl->dropped)
        fprintf(stderr, "%s: --timeline: the page has the first %zu records; %zu "
                        "more left out\n", cli_name(), tl->kept, tl->dropped);
    bool ok = cli_output_ok(f, tl->path, true);
    tl->page = NULL;
    if (ok)
        fprintf(stderr, "%s sim: timeline of seed %" PRIu64 " written to %s (%zu records)\n",
                cli_name(), res->seed, tl->path, tl->kept);
    cli_timeline_free(tl);
    return ok;
}
