/* kv_app.c - lkv as two named apps, kv-server and kv-client: what
 * `twin run`, scenario files, sweeps and shrinking start by name. Their
 * options are tables (twin/opts.h): parsed, checked and described from
 * the same entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twin/app.h>
#include <twin/opts.h>
#include <twin/parse.h>

#include "kv.h"

/* ---- kv-server ---- */

typedef struct server_opts {
    const char *host;
    uint16_t port;
} server_opts;

static const tw_opt server_table[] = {
    {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, server_opts, host),
     .def = "127.0.0.1", .meta = "HOST",
     .help = "address to listen on (default 127.0.0.1; '' for all)"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, server_opts, port),
     .def = "7070", .help = "(default 7070)"},
    {0},
};
TW_OPTS_USAGE_TEXT(server_usage, 512, server_table)

typedef struct kv_server_app {
    kv_store *store;
    tw_server *srv;
} kv_server_app;

static int server_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    server_opts o = {0};
    int rc = tw_opts_parse(server_table, &o, argc, argv, out);
    if (rc < 0)
        return rc; /* -EINVAL, or -ECANCELED after --help's usage */
    kv_server_app *a = calloc(1, sizeof *a);
    if (!a || !(a->store = kv_store_new())) {
        free(a);
        return -ENOMEM;
    }
    rc = tw_create_server(loop, kv_server_factory, a->store,
                          *o.host ? o.host : NULL, o.port, NULL, &a->srv);
    if (rc < 0) {
        char where[TW_HOSTPORT_STRLEN];
        fprintf(out, "kv-server: cannot listen on %s: %s\n",
                tw_format_hostport(o.host, o.port, where, sizeof where),
                tw_strerror(rc));
        kv_store_free(a->store);
        free(a);
        return rc;
    }
    if (tw_app_restarts(loop) > 0)
        fprintf(out, "kv-server: restart %u, the store starts empty\n",
                tw_app_restarts(loop));
    *state = a;
    return 0;
}

static int server_result(void *state) { (void)state; return 0; }

static void server_free(void *state)
{
    kv_server_app *a = state;
    if (a->srv)
        tw_server_close(a->srv);
    kv_store_free(a->store); /* open connections still hold it */
    free(a);
}

static void server_discard(void *state)
{
    /* After a crash the server and its connections are gone (each
     * connection let go of the store in its release). */
    kv_server_app *a = state;
    kv_store_free(a->store);
    free(a);
}

static const tw_app kv_server_app_def = {
    .name = "kv-server",
    .summary = "lkv server: SET and GET over lines, kept in memory",
    .usage = server_usage,
    .opts = server_table,
    .start = server_start,
    .result = server_result,
    .free = server_free,
    .discard = server_discard,
};

/* ---- kv-client ---- */

typedef struct client_opts {
    tw_opt_hostport connect;
    unsigned ops;
    tw_ns timeout, retry;
    bool verbose;
} client_opts;

static const tw_opt client_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, client_opts, connect),
     .def = "127.0.0.1:7070", .help = "server (default 127.0.0.1:7070)"},
    {.name = "ops", TW_OPT_FIELD(TW_OPT_UINT, client_opts, ops), .def = "100",
     .max = 1000000, .help = "rounds of SET+GET (default 100)"},
    {.name = "timeout", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, timeout),
     .def = "500ms", .min = 0, .max = TW_SEC(3600),
     .help = "reply timeout, 0 for none (default 500ms)"},
    {.name = "retry", TW_OPT_FIELD(TW_OPT_DURATION, client_opts, retry),
     .def = "50ms", .min = 1, .max = TW_SEC(60),
     .help = "first delay before reconnecting (default 50ms)"},
    {.name = "verbose", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, verbose),
     .help = "say what happens"},
    {0},
};
TW_OPTS_USAGE_TEXT(client_usage, 1024, client_table)

static int client_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    client_opts o = {0};
    int rc = tw_opts_parse(client_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    kv_client_cfg cfg = {.host = o.connect.host, .port = o.connect.port,
                         .ops = o.ops, .reply_timeout = o.timeout,
                         .retry = o.retry, .log = o.verbose ? out : NULL};
    kv_client *c = kv_client_start(loop, &cfg);
    if (!c)
        return -ENOMEM;
    *state = c;
    return 0;
}

static int client_result(void *state)
{
    return kv_client_done(state) && !kv_client_violation(state) ? 0 : 1;
}

static void client_free(void *state) { kv_client_free(state); }
static void client_discard(void *state) { kv_client_discard(state); }
static bool client_done(void *state) { return kv_client_done(state); }
static const char *client_invariant(void *state) { return kv_client_violation(state); }

static const tw_app kv_client_app_def = {
    .name = "kv-client",
    .summary = "lkv client: SET then GET, checked, reconnecting after failures",
    .usage = client_usage,
    .opts = client_table,
    .start = client_start,
    .result = client_result,
    .free = client_free,
    .discard = client_discard,
    .done = client_done,
    .invariant = client_invariant,
};

int kv_register_apps(void)
{
    int rc = tw_app_register(&kv_server_app_def);
    if (rc == 0)
        rc = tw_app_register(&kv_client_app_def);
    return rc;
}
