/* proto/udp_echo.c - the reference text's UDP echo server and client as
 * DatagramProtocols, written once for both backends, and the two as named
 * apps (`twin run udp-echo-server`, `twin run udp-echo-client`).
 *
 * Map: printing; the server protocol; the client protocol (sends, echo
 * counting, the resend timer, ending); the client's queries; the apps.
 *
 * Ownership across an app's life: an app's state and its protocol can go
 * in either order (`twin run` frees the app and then lets the loop close
 * the transport; a simulated crash releases the protocol first and then
 * frees the app), so each side unlinks itself from the other when it goes.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/opts.h"
#include "twin/parse.h"
#include "twin/twin.h"
#include "twin/udp_echo.h"

/* ---- printing ---- */

static void print_bytes(FILE *f, const char *before, const uint8_t *d,
                        size_t n, const char *after)
{
    if (!f)
        return;
    fprintf(f, "%s'", before);
    for (size_t i = 0; i < n; i++)
        fputc(d[i] >= 32 && d[i] < 127 && d[i] != '\'' ? d[i] : '.', f);
    fprintf(f, "'%s\n", after ? after : "");
    fflush(f);
}

/* ---- server ---- */

struct server_app;

struct udp_echo_server {
    tw_protocol base;
    tw_transport *t;
    tw_udp_echo_server_cfg *cfg;
    struct server_app *app; /* the app that owns the endpoint, or NULL */
    bool close_on_made;     /* the app went away before connection_made */
};

static void server_app_unlink(struct server_app *a);

static void server_app_serving(struct server_app *a, tw_transport *t);

static void srv_made(tw_protocol *p, tw_transport *t)
{
    struct udp_echo_server *s = (struct udp_echo_server *)p;
    s->t = t;
    if (s->close_on_made) /* the app went away before we started */
        tw_transport_close(t);
    else if (s->app)
        server_app_serving(s->app, t);
}

static void srv_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                         const tw_addr *from)
{
    struct udp_echo_server *s = (struct udp_echo_server *)p;
    FILE *log = s->cfg->log;
    s->cfg->datagrams++;
    s->cfg->bytes += n;
    /* The peer's address is formatted only for a log someone reads: a
     * quiet server echoes without any text work. */
    char who[TW_ADDR_STRLEN + 8], tail[TW_ADDR_STRLEN + 16];
    if (log) {
        tw_addr_format(from, who, sizeof who);
        snprintf(tail, sizeof tail, " from %s", who);
        print_bytes(log, "Received ", d, n, tail);
    }
    if (from->len == 0) {
        /* An unbound Unix client: there is nowhere to send it back. */
        if (log) {
            fprintf(log, "No address to reply to\n");
            fflush(log);
        }
        return;
    }
    if (log) {
        snprintf(tail, sizeof tail, " to %s", who);
        print_bytes(log, "Send ", d, n, tail);
    }
    tw_transport_sendto(s->t, d, n, from);
}

static void srv_error(tw_protocol *p, int err)
{
    struct udp_echo_server *s = (struct udp_echo_server *)p;
    if (s->cfg->log) {
        fprintf(s->cfg->log, "Error received: %s\n", tw_strerror(err));
        fflush(s->cfg->log);
    }
}

static void srv_release(tw_protocol *p)
{
    struct udp_echo_server *s = (struct udp_echo_server *)p;
    if (s->app)
        server_app_unlink(s->app);
    free(s);
}

static const tw_protocol_ops udp_echo_server_ops = {
    .connection_made = srv_made,
    .datagram_received = srv_datagram,
    .error_received = srv_error,
    .release = srv_release,
};

static struct udp_echo_server *server_new(tw_udp_echo_server_cfg *cfg)
{
    struct udp_echo_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &udp_echo_server_ops;
    s->cfg = cfg;
    return s;
}

tw_protocol *tw_udp_echo_server_factory(void *cfg)
{
    struct udp_echo_server *s = server_new(cfg);
    return s ? &s->base : NULL;
}

/* ---- client ---- */

struct tw_udp_echo_client {
    tw_protocol base;
    tw_transport *t;
    tw_loop *loop;
    tw_udp_echo_client_cfg cfg;
    uint8_t *msg;
    unsigned echoes, mismatches, sends, resends;
    int err, last_err;
    tw_handle timer;
    bool attached; /* the factory handed it out; release not yet called */
    bool orphan;   /* freed by its owner while attached (free on release)
                      or while its endpoint's names were looked up (free
                      in the completion) */
    bool pending;  /* the app's endpoint is waiting for a name */
    bool done, closing;
};

static void cli_log(tw_udp_echo_client *c, const char *fmt, const char *arg)
{
    if (c->cfg.log) {
        fprintf(c->cfg.log, fmt, arg);
        fputc('\n', c->cfg.log);
        fflush(c->cfg.log);
    }
}

static void cli_close(tw_udp_echo_client *c, int err)
{
    if (c->closing)
        return;
    c->closing = true;
    c->err = err;
    if (c->timer) {
        tw_handle_cancel(c->loop, c->timer);
        c->timer = 0;
    }
    cli_log(c, "%s", "Close the socket");
    tw_transport_close(c->t);
}

static void cli_timeout(void *arg);

/* Send what has not come back yet, and wait for it. */
static void cli_send_missing(tw_udp_echo_client *c)
{
    unsigned missing = c->cfg.count - c->echoes;
    for (unsigned i = 0; i < missing && !c->closing; i++) {
        c->sends++;
        tw_transport_sendto(c->t, c->msg, c->cfg.len, NULL);
    }
    if (!c->closing)
        c->timer = tw_call_later(c->loop, c->cfg.timeout_ns, cli_timeout, c);
}

static void cli_timeout(void *arg)
{
    tw_udp_echo_client *c = arg;
    c->timer = 0;
    if (c->closing)
        return;
    if (c->resends >= c->cfg.retries) {
        if (c->cfg.log) {
            fprintf(c->cfg.log, "No reply after %u tries\n", c->resends + 1);
            fflush(c->cfg.log);
        }
        cli_close(c, -ETIMEDOUT);
        return;
    }
    c->resends++;
    cli_send_missing(c);
}

static void cli_made(tw_protocol *p, tw_transport *t)
{
    tw_udp_echo_client *c = (tw_udp_echo_client *)p;
    c->t = t;
    c->loop = tw_transport_loop(t);
    if (c->orphan) { /* its owner let go before it started */
        tw_transport_abort(t);
        return;
    }
    print_bytes(c->cfg.log, "Send: ", c->msg, c->cfg.len, NULL);
    cli_send_missing(c);
}

static void cli_datagram(tw_protocol *p, const uint8_t *d, size_t n,
                         const tw_addr *from)
{
    tw_udp_echo_client *c = (tw_udp_echo_client *)p;
    (void)from; /* a connected endpoint hears from its remote only */
    if (c->orphan || c->closing)
        return;
    print_bytes(c->cfg.log, "Received: ", d, n, NULL);
    if (n == c->cfg.len && (n == 0 || memcmp(d, c->msg, n) == 0))
        c->echoes++;
    else
        c->mismatches++;
    if (c->echoes >= c->cfg.count)
        cli_close(c, 0);
}

static void cli_error(tw_protocol *p, int err)
{
    tw_udp_echo_client *c = (tw_udp_echo_client *)p;
    c->last_err = err;
    if (!c->orphan && c->cfg.log) /* the error's text only for a reader */
        cli_log(c, "Error received: %s", tw_strerror(err));
}

static void cli_finish(tw_udp_echo_client *c, int err)
{
    if (c->done)
        return;
    c->done = true;
    if (!c->err)
        c->err = err;
    if (c->cfg.on_done)
        c->cfg.on_done(c, c->cfg.done_arg);
}

static void cli_lost(tw_protocol *p, int err)
{
    tw_udp_echo_client *c = (tw_udp_echo_client *)p;
    if (c->timer) {
        tw_handle_cancel(c->loop, c->timer);
        c->timer = 0;
    }
    c->t = NULL;
    if (c->orphan)
        return;
    cli_log(c, "%s", "Connection closed");
    cli_finish(c, err);
}

static void cli_free_now(tw_udp_echo_client *c)
{
    free(c->msg);
    free(c);
}

static void cli_release(tw_protocol *p)
{
    tw_udp_echo_client *c = (tw_udp_echo_client *)p;
    /* A crash gives release without connection_lost: the timer belongs
     * to a loop that is still there, so it must not outlive us. */
    if (c->timer && c->loop)
        tw_handle_cancel(c->loop, c->timer);
    c->timer = 0;
    c->t = NULL;
    c->attached = false;
    if (c->orphan)
        cli_free_now(c);
}

static const tw_protocol_ops udp_echo_client_ops = {
    .connection_made = cli_made,
    .datagram_received = cli_datagram,
    .error_received = cli_error,
    .connection_lost = cli_lost,
    .release = cli_release,
};

tw_udp_echo_client *tw_udp_echo_client_new(const tw_udp_echo_client_cfg *cfg)
{
    tw_udp_echo_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = &udp_echo_client_ops;
    c->cfg = *cfg;
    if (c->cfg.len == 0 && cfg->message)
        c->cfg.len = strlen(cfg->message);
    if (c->cfg.count == 0)
        c->cfg.count = 1;
    if (c->cfg.timeout_ns <= 0)
        c->cfg.timeout_ns = TW_SEC(1);
    c->msg = malloc(c->cfg.len + 1);
    if (!c->msg) {
        free(c);
        return NULL;
    }
    if (c->cfg.len)
        memcpy(c->msg, cfg->message, c->cfg.len);
    c->cfg.message = NULL;
    return c;
}

tw_protocol *tw_udp_echo_client_factory(void *client)
{
    tw_udp_echo_client *c = client;
    if (c->orphan)
        return NULL; /* the completion frees it */
    c->attached = true;
    return &c->base;
}

void tw_udp_echo_client_connected(void *client, tw_transport *t, int err)
{
    tw_udp_echo_client *c = client;
    (void)t;
    c->pending = false;
    if (c->orphan && !c->attached) {
        cli_free_now(c); /* freed while its names were looked up */
        return;
    }
    if (err) {
        cli_log(c, "Endpoint failed: %s", tw_strerror(err));
        cli_finish(c, err);
    }
}

void tw_udp_echo_client_free(tw_udp_echo_client *c)
{
    if (!c)
        return;
    if (!c->attached) {
        if (c->pending)
            c->orphan = true; /* the completion is still to come */
        else
            cli_free_now(c);
        return;
    }
    /* Still in a transport's hands: let go now, free on release. */
    c->orphan = true;
    if (c->t)
        tw_transport_abort(c->t);
}

bool tw_udp_echo_client_done(const tw_udp_echo_client *c) { return c->done; }
int tw_udp_echo_client_error(const tw_udp_echo_client *c) { return c->err; }
unsigned tw_udp_echo_client_echoes(const tw_udp_echo_client *c) { return c->echoes; }
unsigned tw_udp_echo_client_mismatches(const tw_udp_echo_client *c) { return c->mismatches; }
unsigned tw_udp_echo_client_sends(const tw_udp_echo_client *c) { return c->sends; }
int tw_udp_echo_client_last_error(const tw_udp_echo_client *c) { return c->last_err; }

bool tw_udp_echo_client_ok(const tw_udp_echo_client *c)
{
    return c->done && c->err == 0 && c->echoes >= c->cfg.count;
}

/* ---- apps ---- */

struct server_app {
    tw_udp_echo_server_cfg cfg;
    struct udp_echo_server *proto; /* linked until either side goes */
    FILE *out;
    char *host;     /* for messages */
    bool serving;
    bool resolving; /* the endpoint waits for its name: a completion comes */
    bool orphan;    /* freed meanwhile: the completion frees it */
};

static void server_free(void *state);

static void server_app_unlink(struct server_app *a) { a->proto = NULL; }

static void server_app_serving(struct server_app *a, tw_transport *t)
{
    tw_addr addr;
    char buf[TW_ADDR_STRLEN] = "-";
    a->serving = true;
    if (tw_transport_sockname(t, &addr) == 0)
        tw_addr_format(&addr, buf, sizeof buf);
    fprintf(a->out, "Serving on %s\n", buf);
    fflush(a->out);
}

static tw_protocol *server_app_factory(void *arg)
{
    struct server_app *a = arg;
    if (a->orphan)
        return NULL; /* the completion frees it */
    struct udp_echo_server *s = server_new(&a->cfg);
    if (!s)
        return NULL;
    s->app = a;
    a->proto = s;
    return &s->base;
}

/* The completion of an endpoint whose host is a name (one with a
 * numeric host needs none: errors are returned by create). */
static void server_app_done(void *arg, tw_transport *t, int err)
{
    struct server_app *a = arg;
    (void)t;
    a->resolving = false;
    if (a->orphan) {
        server_free(a);
        return;
    }
    if (err < 0) {
        fprintf(a->out, "udp-echo-server: cannot bind %s: %s\n", a->host,
                tw_strerror(err));
        fflush(a->out);
    }
}

/* "HOST:PORT" or "[V6]:PORT" with a port of 0..65535; host copied. */
static int split_hostport(const char *s, char *host, size_t hlen,
                          uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t n;
    if (!colon)
        return -EINVAL;
    n = (size_t)(colon - s);
    if (s[0] == '[') {
        if (n < 2 || s[n - 1] != ']')
            return -EINVAL;
        h = s + 1;
        n -= 2;
    } else if (memchr(s, ':', n)) {
        return -EINVAL; /* a bare IPv6 address needs its brackets */
    }
    if (n == 0 || n >= hlen || tw_parse_port(colon + 1, port) < 0)
        return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    return 0;
}

typedef struct server_opts {
    const char *host, *path;
    uint16_t port;
    bool reuse_port, quiet;
} server_opts;

static const tw_opt server_table[] = {
    {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, server_opts, host),
     .def = "127.0.0.1", .meta = "HOST",
     .help = "address or name to bind (default 127.0.0.1)"},
    {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, server_opts, port), .def = "9999",
     .help = "port (default 9999; 0 picks a free one)"},
    {.name = "unix", TW_OPT_FIELD(TW_OPT_STRING, server_opts, path), .meta = "PATH",
     .help = "bind a Unix datagram socket instead (real backend)"},
    {.name = "reuse-port", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, reuse_port),
     .help = "SO_REUSEPORT: share the port with other servers"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, server_opts, quiet),
     .help = "no per-datagram output"},
    {0},
};

TW_OPTS_USAGE_TEXT(server_usage, 2048, server_table)

static int server_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    server_opts so = {0};
    int rc = tw_opts_parse(server_table, &so, argc, argv, out);
    if (rc < 0)
        return rc;
    const char *host = so.host, *path = so.path;
    uint16_t port = so.port;
    bool quiet = so.quiet;
    tw_datagram_opts o = {.reuse_port = so.reuse_port};
    bool named = false;
    if (path) {
        rc = tw_addr_unix(&o.local, path);
    } else if (!*host) {
        rc = -EINVAL;
    } else {
        /* A name is resolved by create, without blocking the loop. */
        o.local_host = host;
        o.local_port = port;
        named = tw_addr_ip(&o.local, host, port) < 0;
    }
    if (rc < 0) {
        if (path)
            fprintf(out, "udp-echo-server: --unix '%s': want a socket path of at most "
                         "107 bytes, or @NAME\n", path);
        else
            fprintf(out, "udp-echo-server: --host '': want an address or a name "
                         "(0.0.0.0 or :: for every address of the host)\n");
        return -EINVAL;
    }
    struct server_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    char where[TW_HOSTPORT_STRLEN]; /* what messages call it */
    a->host = strdup(path ? path : tw_format_hostport(host, port, where, sizeof where));
    if (!a->host) {
        free(a);
        return -ENOMEM;
    }
    a->out = out;
    a->cfg.log = quiet ? NULL : out;
    fprintf(out, "Starting UDP server\n");
    fflush(out);
    /* The protocol says when it is serving (server_app_serving). A
     * completion only for a name, to say when it cannot be bound: the
     * app may be freed before it comes (server_free leaves it to the
     * completion then), and a crash drops it with the lookup. */
    a->resolving = named;
    rc = tw_create_datagram_endpoint(loop, server_app_factory, a, &o,
                                     named ? server_app_done : NULL);
    if (rc < 0) {
        fprintf(out, "udp-echo-server: cannot bind %s: %s\n", a->host,
                tw_strerror(rc));
        free(a->host);
        free(a);
        return rc;
    }
    *state = a;
    return 0;
}

static int server_result(void *state)
{
    return ((struct server_app *)state)->serving ? 0 : 1;
}

static void server_free(void *state)
{
    struct server_app *a = state;
    if (a->resolving) {
        a->orphan = true; /* the completion frees it */
        return;
    }
    struct udp_echo_server *s = a->proto;
    if (s) {
        /* After close nothing reaches the protocol but connection_lost
         * and release, which do not touch the app or its cfg. */
        s->app = NULL;
        if (s->t)
            tw_transport_close(s->t);
        else
            s->close_on_made = true;
    }
    free(a->host);
    free(a);
}

/* After a crash: a lookup still running went with the loop, and its
 * completion with it. */
static void server_discard(void *state)
{
    struct server_app *a = state;
    a->resolving = false;
    a->orphan = false;
    server_free(a);
}

const tw_app tw__app_udp_echo_server = {
    .name = "udp-echo-server",
    .summary = "UDP echo server: sends every datagram back to its sender",
    .usage = server_usage,
    .opts = server_table,
    .start = server_start,
    .result = server_result,
    .free = server_free,
    .discard = server_discard,
};

typedef struct client_opts {
    const char *target, *path, *bind, *msg;
    unsigned count, timeout_ms, retries;
    bool quiet;
} client_opts;

static const tw_opt client_table[] = {
    {.name = "connect", TW_OPT_FIELD(TW_OPT_STRING, client_opts, target),
     .def = "127.0.0.1:9999", .meta = "HOST:PORT",
     .help = "the server, an address or a name (default 127.0.0.1:9999)"},
    {.name = "unix", TW_OPT_FIELD(TW_OPT_STRING, client_opts, path), .meta = "PATH",
     .help = "a Unix datagram server instead (the client's name: --bind,\n"
             "else an abstract one the system picks)"},
    {.name = "bind", TW_OPT_FIELD(TW_OPT_STRING, client_opts, bind), .meta = "ADDR",
     .help = "own address: HOST:PORT, or a path with --unix"},
    {.name = "message", TW_OPT_FIELD(TW_OPT_STRING, client_opts, msg),
     .def = "Hello World!",
     .help = "what to send (default 'Hello World!'; may be '')"},
    {.name = "count", TW_OPT_FIELD(TW_OPT_UINT, client_opts, count), .def = "1",
     .max = 1000000, .help = "datagrams to send (default 1)"},
    {.name = "timeout", TW_OPT_FIELD(TW_OPT_UINT, client_opts, timeout_ms),
     .def = "1000", .max = 1000000, .meta = "MS",
     .help = "wait for the echoes before resending (default 1000)"},
    {.name = "retries", TW_OPT_FIELD(TW_OPT_UINT, client_opts, retries), .def = "3",
     .max = 1000000, .help = "resends before giving up (default 3)"},
    {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, client_opts, quiet),
     .help = "no output"},
    {0},
};

TW_OPTS_USAGE_TEXT(client_usage, 2048, client_table)

static int client_start(tw_loop *loop, int argc, char **argv, FILE *out,
                        void **state)
{
    client_opts co = {0};
    int rc = tw_opts_parse(client_table, &co, argc, argv, out);
    if (rc < 0)
        return rc;
    const char *target = co.target, *path = co.path, *bind = co.bind;
    const char *msg = co.msg;
    unsigned count = co.count, timeout_ms = co.timeout_ms, retries = co.retries;
    bool quiet = co.quiet;
    tw_datagram_opts o = {0};
    char rhost[256], lhost[256];
    bool named = false;
    /* Which option was wrong, its value, and what it should be. */
    const char *bad = NULL, *bad_value = NULL, *want = NULL;
    if (path) {
        if ((rc = tw_addr_unix(&o.remote, path)) < 0)
            bad = "unix", bad_value = path;
        else if (bind && (rc = tw_addr_unix(&o.local, bind)) < 0)
            bad = "bind", bad_value = bind;
        else if (!bind) {
            /* The family alone: a name the system picks, for the server
             * to answer to (an unnamed client would hear nothing). */
            o.local.u.un.sun_family = AF_UNIX;
            o.local.len = (socklen_t)offsetof(struct sockaddr_un, sun_path);
        }
        want = "a socket path of at most 107 bytes, or @NAME";
    } else {
        /* Hosts may be names: create resolves them off the loop. */
        rc = tw_parse_hostport(target, rhost, sizeof rhost, &o.remote_port);
        o.remote_host = rhost;
        if (rc < 0) {
            bad = "connect", bad_value = target;
            want = "HOST:PORT with a port from 1 to 65535 ([ADDR]:PORT for IPv6)";
        } else if (bind) {
            rc = split_hostport(bind, lhost, sizeof lhost, &o.local_port);
            o.local_host = lhost;
            bad = "bind", bad_value = bind;
            want = "HOST:PORT, port 0 for any ([ADDR]:PORT for IPv6)";
        }
        tw_addr probe;
        named = rc == 0 && (tw_addr_ip(&probe, rhost, 0) < 0 ||
                            (bind && tw_addr_ip(&probe, lhost, 0) < 0));
    }
    if (rc < 0) {
        fprintf(out, "udp-echo-client: --%s '%s': want %s\n", bad, bad_value, want);
        return -EINVAL;
    }
    tw_udp_echo_client_cfg cfg = {
        .message = msg, .len = strlen(msg), .count = count,
        .timeout_ns = (tw_ns)timeout_ms * TW_NS_PER_MS,
        .retries = retries, .log = quiet ? NULL : out,
    };
    tw_udp_echo_client *cl = tw_udp_echo_client_new(&cfg);
    if (!cl)
        return -ENOMEM;
    cl->pending = named;
    rc = tw_create_datagram_endpoint(loop, tw_udp_echo_client_factory, cl, &o,
                                     tw_udp_echo_client_connected);
    if (rc < 0) {
        fprintf(out, "udp-echo-client: cannot open the endpoint: %s\n",
                tw_strerror(rc));
        cl->pending = false;
        tw_udp_echo_client_free(cl);
        return rc;
    }
    *state = cl;
    return 0;
}

static int client_result(void *state)
{
    return tw_udp_echo_client_ok(state) ? 0 : 1;
}

static void client_free(void *state) { tw_udp_echo_client_free(state); }

/* After a crash: a lookup still running went with the loop, and its
 * completion with it. */
static void client_discard(void *state)
{
    tw_udp_echo_client *c = state;
    c->pending = false;
    tw_udp_echo_client_free(c);
}

const tw_app tw__app_udp_echo_client = {
    .name = "udp-echo-client",
    .summary = "UDP echo client: sends a message, waits for its echo",
    .usage = client_usage,
    .opts = client_table,
    .start = client_start,
    .result = client_result,
    .free = client_free,
    .discard = client_discard,
};
