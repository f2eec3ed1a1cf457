/* kv_app.c - lkv as two named apps, kv-server and kv-client: what
 * `twin run`, scenario files, sweeps and shrinking start by name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <twin/app.h>
#include <twin/parse.h>

#include "kv.h"

/* ---- kv-server ---- */

typedef struct kv_server_app {
    kv_store *store;
    tw_server *srv;
} kv_server_app;

static int server_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    const char *host = "127.0.0.1";
    uint16_t port = 7070;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--host") == 0 && v) {
            host = v;
            i++;
        } else if (strcmp(argv[i], "--port") == 0 && v &&
                   tw_parse_port(v, &port) == 0) {
            i++;
        } else {
            fprintf(out, "kv-server: bad option '%s'\n", argv[i]);
            return -EINVAL;
        }
    }
    kv_server_app *a = calloc(1, sizeof *a);
    if (!a || !(a->store = kv_store_new())) {
        free(a);
        return -ENOMEM;
    }
    int rc = tw_create_server(loop, kv_server_factory, a->store,
                              *host ? host : NULL, port, NULL, &a->srv);
    if (rc < 0) {
        fprintf(out, "kv-server: cannot listen on %s:%u: %s\n", host,
                (unsigned)port, tw_strerror(rc));
        kv_store_free(a->store);
        free(a);
        return rc;
    }
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
    .usage = "  --host HOST   address to listen on (default 127.0.0.1; '' for all)\n"
             "  --port PORT   (default 7070)\n",
    .start = server_start,
    .result = server_result,
    .free = server_free,
    .discard = server_discard,
};

/* ---- kv-client ---- */

static int client_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    char host[256] = "127.0.0.1";
    kv_client_cfg cfg = {.host = host, .port = 7070, .ops = 100,
                         .reply_timeout = TW_MS(500), .retry = TW_MS(50)};
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t n;
        if (strcmp(argv[i], "--connect") == 0 && v &&
            tw_parse_hostport(v, host, sizeof host, &cfg.port) == 0) {
            i++;
        } else if (strcmp(argv[i], "--ops") == 0 && v &&
                   tw_parse_bytes(v, &n) == 0 && n <= 1000000) {
            cfg.ops = (unsigned)n;
            i++;
        } else if (strcmp(argv[i], "--timeout") == 0 && v &&
                   tw_parse_duration(v, &cfg.reply_timeout) == 0 &&
                   cfg.reply_timeout >= 0) {
            i++;
        } else if (strcmp(argv[i], "--retry") == 0 && v &&
                   tw_parse_duration(v, &cfg.retry) == 0 && cfg.retry > 0) {
            i++;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            cfg.log = out;
        } else {
            fprintf(out, "kv-client: bad option '%s'\n", argv[i]);
            return -EINVAL;
        }
    }
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
    .usage = "  --connect HOST:PORT  server (default 127.0.0.1:7070)\n"
             "  --ops N              rounds of SET+GET (default 100)\n"
             "  --timeout DURATION   reply timeout, 0 for none (default 500ms)\n"
             "  --retry DURATION     first delay before reconnecting (default 50ms)\n"
             "  --verbose            say what happens\n",
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
