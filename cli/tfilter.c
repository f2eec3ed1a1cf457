/* cli/tfilter.c - `--trace-filter`: narrow the readable trace to some
 * nodes, some events, a transport or a time window.
 *
 *     --trace-filter 'node=client|server,event=connection_lost|reset,from=2s'
 *
 * The simulator writes records as "SECONDS.NANOS NODE tID EVENT A B"
 * (twin/sim.h, section 8), or as JSON lines; this FILE reads them back
 * line by line and passes those that match every term given. An app's
 * line ("NODE| text", or the JSON record "app") is a record named app,
 * of its node, on no transport (t0), at no time a text line gives (it
 * passes any window). Other lines (the summary) always pass.
 */
#define _GNU_SOURCE /* fopencookie */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "twin/parse.h"

#define EVENTS_MAX 16
#define NODES_MAX 16

typedef struct tfilter {
    FILE *to;
    const tw_scenario *sc; /* its nodes: what an app line may start with */
    char nodes[NODES_MAX][64];
    int nnodes;
    char events[EVENTS_MAX][48];
    int nevents;
    uint64_t transport;
    bool want_transport;
    tw_ns from, until;
    char line[2048]; /* a record, or an app's line as JSON (scenario/nodes.c) */
    size_t len;
} tfilter;

static bool node_ok(const tfilter *t, const char *node)
{
    if (!t->nnodes)
        return true;
    for (int i = 0; i < t->nnodes; i++)
        if (strcmp(node, t->nodes[i]) == 0)
            return true;
    return false;
}

static bool event_ok(const tfilter *t, const char *what)
{
    if (!t->nevents)
        return true;
    for (int i = 0; i < t->nevents; i++)
        if (strncmp(what, t->events[i], strlen(t->events[i])) == 0)
            return true;
    return false;
}

/* An app's line of the text trace, "NODE| text": its node into node. */
static bool app_line(const tfilter *t, const char *line, char node[64])
{
    size_t n = strcspn(line, "| ");
    if (n == 0 || n >= 64 || line[n] != '|' || line[n + 1] != ' ')
        return false;
    snprintf(node, 64, "%.*s", (int)n, line);
    return tw_scenario_has_node(t->sc, node);
}

static bool wanted(const tfilter *t, const char *line)
{
    long long sec, nsec;
    char node[64], what[64];
    uint64_t tid;
    if (sscanf(line, " %lld.%9lld %63s t%" SCNu64 " %63s", &sec, &nsec, node,
               &tid, what) == 5)
        ;
    else if (sscanf(line, "{\"t\": %lld.%9lld, \"node\": \"%63[^\"]\", \"transport\": %" SCNu64
                          ", \"what\": \"%63[^\"]\"",
                    &sec, &nsec, node, &tid, what) == 5)
        ; /* a JSON record */
    else if (app_line(t, line, node))
        return node_ok(t, node) && event_ok(t, "app") && !t->want_transport;
    else
        return true; /* not a record */
    tw_ns at = (tw_ns)sec * TW_NS_PER_SEC + nsec;
    return node_ok(t, node) && event_ok(t, what) &&
           (!t->want_transport || tid == t->transport) && at >= t->from &&
           at <= t->until;
}

static void emit(tfilter *t)
{
    t->line[t->len] = '\0';
    if (wanted(t, t->line))
        fprintf(t->to, "%s\n", t->line);
    t->len = 0;
}

static ssize_t tf_write(void *cookie, const char *buf, size_t len)
{
    tfilter *t = cookie;
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n' || t->len == sizeof t->line - 1)
            emit(t);
        if (buf[i] != '\n')
            t->line[t->len++] = buf[i];
    }
    return (ssize_t)len;
}

static int tf_close(void *cookie)
{
    tfilter *t = cookie;
    if (t->len)
        emit(t);
    fflush(t->to);
    free(t);
    return 0;
}

static int term(tfilter *t, const tw_scenario *sc, char *kv, char *err, size_t errlen)
{
    char *eq = strchr(kv, '=');
    if (!eq) {
        snprintf(err, errlen, "'%s' is not KEY=VALUE", kv);
        return -1;
    }
    *eq = '\0';
    const char *k = kv, *v = eq + 1;
    if (strcmp(k, "node") == 0) {
        char copy[NODES_MAX * 64];
        if (strlen(v) >= sizeof copy) {
            snprintf(err, errlen, "node=: at most %zu characters", sizeof copy - 1);
            return -1;
        }
        snprintf(copy, sizeof copy, "%s", v);
        for (char *s, *w = strtok_r(copy, "|", &s); w; w = strtok_r(NULL, "|", &s)) {
            if ((sc && !tw_scenario_has_node(sc, w)) || strlen(w) >= sizeof t->nodes[0]) {
                snprintf(err, errlen, "no node '%s' in the scenario", w);
                return -1;
            }
            if (t->nnodes == NODES_MAX) {
                snprintf(err, errlen, "node=: at most %d nodes (got '%s' after them)",
                         NODES_MAX, w);
                return -1;
            }
            snprintf(t->nodes[t->nnodes++], sizeof t->nodes[0], "%s", w);
        }
    } else if (strcmp(k, "event") == 0) {
        char copy[EVENTS_MAX * 48];
        if (strlen(v) >= sizeof copy) {
            snprintf(err, errlen, "event=: at most %zu characters", sizeof copy - 1);
            return -1;
        }
        snprintf(copy, sizeof copy, "%s", v);
        for (char *s, *w = strtok_r(copy, "|", &s); w; w = strtok_r(NULL, "|", &s)) {
            if (!tw_sim_trace_event_known(w) && strncmp(w, "app", strlen(w)) != 0) {
                snprintf(err, errlen, "no record is named '%s' (or starts so): "
                                      "`%s sim --trace-fields` lists them", w, cli_name());
                return -1;
            }
            if (t->nevents == EVENTS_MAX) {
                snprintf(err, errlen, "event=: at most %d events (got '%s' after them)",
                         EVENTS_MAX, w);
                return -1;
            }
            snprintf(t->events[t->nevents++], sizeof t->events[0], "%s", w);
        }
    } else if (strcmp(k, "t") == 0 || strcmp(k, "transport") == 0) {
        char *end;
        t->transport = strtoull(v[0] == 't' ? v + 1 : v, &end, 10);
        t->want_transport = true;
        if (*end) {
            snprintf(err, errlen, "transport '%s' is not a number", v);
            return -1;
        }
    } else if (strcmp(k, "from") == 0 || strcmp(k, "to") == 0) {
        tw_ns ns;
        if (tw_parse_duration(v, &ns) < 0) {
            snprintf(err, errlen, "'%s' is not a duration", v);
            return -1;
        }
        *(strcmp(k, "from") == 0 ? &t->from : &t->until) = ns;
    } else {
        snprintf(err, errlen, "unknown key '%s' (node, event, t, from, to)", k);
        return -1;
    }
    return 0;
}

FILE *cli_trace_filter(FILE *to, const tw_scenario *sc, const char *expr, char *err,
                       size_t errlen)
{
    tfilter *t = calloc(1, sizeof *t);
    char copy[512];
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->to = to;
    t->sc = sc;
    t->until = INT64_MAX;
    snprintf(copy, sizeof copy, "%s", expr);
    for (char *s, *kv = strtok_r(copy, ",", &s); kv; kv = strtok_r(NULL, ",", &s))
        if (term(t, sc, kv, err, errlen) < 0) {
            free(t);
            return NULL;
        }
    static const cookie_io_functions_t io = {.write = tf_write, .close = tf_close};
    FILE *f = fopencookie(t, "w", io);
    if (!f) {
        free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    return f;
}
