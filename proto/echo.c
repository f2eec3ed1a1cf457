/* proto/echo.c - echo server and client protocols (the reference text's
 * first two examples), written once for both backends.
 *
 * Map: server protocol; client protocol; the two as named apps.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "proto/serving.h"
#include "twin/app.h"
#include "twin/echo.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/tls.h"
#include "twin/twin.h"

/* ---- server ---- */

struct echo_server {
    tw_protocol base;
    tw_transport *t;
    tw_echo_server_cfg *cfg;
};

static void log_bytes(FILE *f, const char *what, const uint8_t *d, size_t n)
{
    fprintf(f, "%s: '", what);
    for (size_t i = 0; i < n; i++)
        fputc(d[i] >= 32 && d[i] < 127 && d[i] != '\'' ? d[i] : '.', f);
    fprintf(f, "'\n");
    fflush(f);
}

static void srv_made(tw_protocol *p, tw_transport *t)
{
    struct echo_server *s = (struct echo_server *)p;
    s->t = t;
    s->cfg->connections++;
    if (s->cfg->log) {
        tw_addr peer;
        char buf[TW_ADDR_STRLEN] = "-";
        if (tw_transport_peername(t, &peer) == 0)
            tw_addr_format(&peer, buf, sizeof buf);
        fprintf(s->cfg->log, "Connection from %s\n", buf);
        fflush(s->cfg->log);
    }
}

static void srv_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    struct echo_server *s = (struct echo_server *)p;
    s->cfg->bytes += n;
    if (s->cfg->log) {
        log_bytes(s->cfg->log, "Data received", d, n);
        log_bytes(s->cfg->log, "Send", d, n);
    }
    tw_transport_write(s->t, d, n);
    if (!s->cfg->keep_open) {
        if (s->cfg->log) {
            fprintf(s->cfg->log, "Close the client socket\n");
            fflush(s->cfg->log);
        }
        tw_transport_close(s->t);
    }
}

/* Flow control: a peer that sends faster than it reads would otherwise
 * grow the write buffer without bound. Reading waits while the buffer is
 * over its high-water mark, and resumes when it has drained to the low
 * one, so an echo never holds more than about 64 KiB plus one read. */
static void srv_pause_writing(tw_protocol *p)
{
    tw_transport_pause_reading(((struct echo_server *)p)->t);
}

static void srv_resume_writing(tw_protocol *p)
{
    tw_transport_resume_reading(((struct echo_server *)p)->t);
}

static void srv_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops echo_server_ops = {
    .connection_made = srv_made,
    .data_received = srv_data,
    .pause_writing = srv_pause_writing,
    .resume_writing = srv_resume_writing,
    .release = srv_release,
};

tw_protocol *tw_echo_server_factory(void *cfg)
{
    struct echo_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &echo_server_ops;
    s->cfg = cfg;
    return &s->base;
}

/* ---- client ---- */

struct tw_echo_client {
    tw_protocol base;
    tw_transport *t;
    tw_echo_client_cfg cfg;
    uint8_t *msg;
    uint8_t *got;
    size_t got_len, want;
    int err;
    bool done;
};

static void cli_finish(tw_echo_client *c, int err)
{
    c->err = err;
    c->done = true;
    if (c->cfg.on_done)
        c->cfg.on_done(c, c->cfg.done_arg);
}

static void cli_made(tw_protocol *p, tw_transport *t)
{
    tw_echo_client *c = (tw_echo_client *)p;
    c->t = t;
    for (unsigned i = 0; i < c->cfg.count; i++)
        tw_transport_write(t, c->msg, c->cfg.len);
    if (c->cfg.log)
        log_bytes(c->cfg.log, "Data sent", c->msg, c->cfg.len);
}

static void cli_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    tw_echo_client *c = (tw_echo_client *)p;
    if (c->cfg.log)
        log_bytes(c->cfg.log, "Data received", d, n);
    size_t room = c->want - c->got_len;
    size_t take = n < room ? n : room;
    memcpy(c->got + c->got_len, d, take);
    c->got_len += take;
    if (take < n || c->got_len == c->want)
        tw_transport_close(c->t); /* all came back (or more than sent) */
}

static void cli_lost(tw_protocol *p, int err)
{
    tw_echo_client *c = (tw_echo_client *)p;
    if (c->cfg.log) {
        if (err)
            fprintf(c->cfg.log, "Connection lost: %s\n", tw_strerror(err));
        else
            fprintf(c->cfg.log, "The server closed the connection\n");
        fflush(c->cfg.log);
    }
    c->t = NULL;
    cli_finish(c, err);
}

static const tw_protocol_ops echo_client_ops = {
    .connection_made = cli_made,
    .data_received = cli_data,
    .connection_lost = cli_lost,
};

tw_echo_client *tw_echo_client_new(const tw_echo_client_cfg *cfg)
{
    tw_echo_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &echo_client_ops;
    c->cfg = *cfg;
    if (c->cfg.len == 0 && cfg->message)
        c->cfg.len = strlen(cfg->message);
    if (c->cfg.count == 0)
        c->cfg.count = 1;
    c->want = c->cfg.len * c->cfg.count;
    c->msg = malloc(c->cfg.len + 1);
    c->got = malloc(c->want + 1);
    if (!c->msg || !c->got) {
        tw_echo_client_free(c);
        return NULL;
    }
    if (c->cfg.len)
        memcpy(c->msg, cfg->message, c->cfg.len);
    c->cfg.message = NULL;
    return c;
}

tw_protocol *tw_echo_client_factory(void *client) { return client; }

void tw_echo_client_connected(void *client, tw_transport *t, int err)
{
    tw_echo_client *c = client;
    if (err) {
        if (c->cfg.log) {
            fprintf(c->cfg.log, "Connect failed: %s\n", tw_strerror(err));
            fflush(c->cfg.log);
        }
        cli_finish(c, err);
    }
    (void)t;
}

void tw_echo_client_free(tw_echo_client *c)
{
    if (!c)
        return;
    free(c->msg);
    free(c->got);
    free(c);
}

const uint8_t *tw_echo_client_received(const tw_echo_client *c, size_t *len)
{
    if (len)
        *len = c->got_len;
    return c->got;
}

bool tw_echo_client_done(const tw_echo_client *c) { return c->done; }
int tw_echo_client_error(const tw_echo_client *c) { return c->err; }

bool tw_echo_client_ok(const tw_echo_client *c)
{
    if (c->err || c->got_len != c->want)
        return false;
    for (unsigned i = 0; i < c->cfg.count; i++)
        if (memcmp(c->got + i * c->cfg.len, c->msg, c->cfg.len) != 0)
            return false;
    return true;
}

/* ---- apps ---- */

struct server_app {
    tw_echo_server_cfg cfg; /* the factory's argument */
    tw_server *srv;
    tw__serving sv;
};

static struct server_app *server_app_of(void *cfg)
{
    return (struct server_app *)((char *)cfg - offsetof(struct server_app, cfg));
}

/* A host name resolved (or not): say where we listen, or fail the run. */
static void server_listening(void *cfg, tw_server *srv, int err)
{
    struct server_app *a = server_app_of(cfg);
    if (tw__serving_listening(&a->sv, srv, err)) {
        tw_server_close(a->srv);
        a->srv = NULL;
    }
}

/* Out of descriptors: say so (rate limited); the server tries again. */
static void server_accept_error(void *cfg, tw_server *srv, int err)
{
    (void)srv;
    tw__serving_accept_failed(&server_app_of(cfg)->sv, err);
}

typedef struct server_opts {
    const char *host, *path;
    uint16_t port;
    bool keep, quiet;
    tw_tls_app tls;
} server_opts;

static const tw_opt server_table[] = {
    {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, server_opts, host),
     .def = "127.0.0.1", .meta = "HOST",
     .help = "address to listen on (default 127.0.0.1; '' for all)"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, server_opts, port), .def = "8888",
     .help = "port (default 8888; 0 picks a free one)"},
    {.name = "unix", TW_OPT_FIELD(TW_OPT_STRING, server_opts, path), .meta = "PATH",
     .help = "listen on a Unix socket instead"},
    {.name = "keep-open", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, keep),
     .help = "keep echoing instead of closing after one echo"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, quiet),
     .help = "no per-connection output"},
    {.kind = TW_OPT_INCLUDE, .sub = tw_tls_server_opts,
     .off = offsetof(server_opts, tls)},
    {0},
};

TW_OPTS_USAGE_TEXT(server_usage, 2048, server_table)

static int server_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    server_opts o = {0};
    int rc = tw_opts_parse(server_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    bool tls_on = tw_tls_app_on(&o.tls);
    if (o.path && tls_on) {
        fprintf(out, "echo-server: no TLS over --unix '%s'\n", o.path);
        return -EINVAL;
    }
    const char *host = o.host, *path = o.path;
    tw_tls_ctx *ctx = tw_tls_app_ctx(&o.tls, TW_TLS_SERVER, "echo-server", out,
                                      o.quiet, &rc);
    if (rc < 0)
        return rc;
    struct server_app *a = calloc(1, sizeof *a);
    if (!a) {
        tw_tls_ctx_free(ctx);
        return -ENOMEM;
    }
    a->cfg.keep_open = o.keep;
    a->cfg.log = o.quiet ? NULL : out;
    /* "Serving on" is said even when quiet: it names the port 0 chose. */
    tw__serving_init(&a->sv, loop, out, "echo-server", host, o.port, path, false);
    tw_server_opts so = {.on_listening = server_listening,
                         .on_accept_error = server_accept_error};
    if (path)
        rc = tw_create_unix_server(loop, tw_echo_server_factory, &a->cfg, path,
                                   &so, &a->srv);
    else if (ctx)
        rc = tw_create_server_tls(loop, tw_echo_server_factory, &a->cfg, host,
                                  o.port, &so, ctx, &a->srv);
    else
        rc = tw_create_server(loop, tw_echo_server_factory, &a->cfg, host, o.port,
                              &so, &a->srv);
    tw_tls_ctx_free(ctx); /* the server holds its own reference */
    if (rc < 0) {
        tw__serving_create_failed(&a->sv, rc);
        free(a);
        return rc;
    }
    tw__serving_started(&a->sv, a->srv);
    *state = a;
    return 0;
}

/* 1: the host name could not be listened on. */
static int server_result(void *state)
{
    return ((struct server_app *)state)->sv.failed ? 1 : 0;
}

static void server_free(void *state)
{
    struct server_app *a = state;
    tw__serving_fini(&a->sv);
    if (a->srv)
        tw_server_close(a->srv);
    free(a);
}

/* After a simulated crash the server went with the loop: memory only. */
static void server_discard(void *state) { free(state); }

const tw_app tw__app_echo_server = {
    .name = "echo-server",
    .summary = "TCP or TLS echo server (closes after one echo unless --keep-open)",
    .usage = server_usage,
    .opts = server_table,
    .start = server_start,
    .result = server_result,
    .free = server_free,
    .discard = server_discard,
};

typedef struct client_opts {
    tw_opt_hostport connect;
    const char *path, *msg;
    unsigned count;
    bool quiet;
    tw_tls_app tls;
} client_opts;

static const tw_opt client_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_HOSTPORT, client_opts, connect),
     .def = "127.0.0.1:8888", .help = "server (default 127.0.0.1:8888)"},
    {.name = "unix", TW_OPT_FIELD(TW_OPT_STRING, client_opts, path), .meta = "PATH",
     .help = "connect to a Unix socket instead"},
    {.name = "message", TW_OPT_FIELD(TW_OPT_STRING, client_opts, msg),
     .def = "Hello World!", .help = "what to send (default 'Hello World!')"},
    {.name = "count", TW_OPT_FIELD(TW_OPT_UINT, client_opts, count), .def = "1",
     .help = "send it N times (default 1)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, quiet),
     .help = "no output"},
    {.kind = TW_OPT_INCLUDE, .sub = tw_tls_client_opts,
     .off = offsetof(client_opts, tls)},
    {0},
};

TW_OPTS_USAGE_TEXT(client_usage, 2048, client_table)

static int client_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    client_opts o = {0};
    int rc = tw_opts_parse(client_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    if (!*o.msg || (o.path && tw_tls_app_on(&o.tls))) {
        fprintf(out, "echo-client: %s\n",
                *o.msg ? "no TLS over --unix" : "empty message");
        return -EINVAL;
    }
    const char *path = o.path, *host = o.connect.host;
    uint16_t port = o.connect.port;
    bool quiet = o.quiet;
    tw_echo_client_cfg cfg = {.message = o.msg, .count = o.count,
                              .log = quiet ? NULL : out};
    tw_tls_ctx *ctx = tw_tls_app_ctx(&o.tls, TW_TLS_CLIENT, "echo-client", out,
                                      quiet, &rc);
    if (rc < 0)
        return rc;
    tw_echo_client *cl = tw_echo_client_new(&cfg);
    if (!cl) {
        tw_tls_ctx_free(ctx);
        return -ENOMEM;
    }
    if (path)
        rc = tw_create_unix_connection(loop, tw_echo_client_factory, cl, path,
                                       tw_echo_client_connected);
    else if (ctx)
        rc = tw_create_connection_tls(loop, tw_echo_client_factory, cl, host,
                                      port, ctx, tw_echo_client_connected);
    else
        rc = tw_create_connection(loop, tw_echo_client_factory, cl, host, port,
                                  tw_echo_client_connected);
    tw_tls_ctx_free(ctx); /* the connection holds its own reference */
    if (rc < 0) {
        fprintf(out, "echo-client: cannot connect: %s\n", tw_strerror(rc));
        tw_echo_client_free(cl);
        return rc;
    }
    *state = cl;
    return 0;
}

static int client_result(void *state)
{
    return tw_echo_client_ok(state) ? 0 : 1;
}

static void client_free(void *state) { tw_echo_client_free(state); }

const tw_app tw__app_echo_client = {
    .name = "echo-client",
    .summary = "TCP or TLS echo client: sends a message, checks the echo",
    .usage = client_usage,
    .opts = client_table,
    .start = client_start,
    .result = client_result,
    .free = client_free,
};
