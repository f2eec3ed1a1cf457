/* tls/tls_net.c - TLS clients and servers: twin/net.h's calls with a
 * context.
 *
 * Map: clients (by host, with options, over a Unix socket, over a socket
 * of the caller's); servers (a tw_server wrapping a plain one, TCP or
 * Unix, whose every accepted connection gets a TLS layer).
 *
 * All are made of the plain calls, so every backend that makes streams
 * makes TLS streams, and argument checks and errors are the plain ones.
 */
#include <stdlib.h>
#include <string.h>

#include "tls/tls_internal.h"

/* ---- the client ---- */

static int connect_host(tw_loop *loop, tw_protocol_factory factory,
                        void *arg, const char *host, uint16_t port,
                        const tw_connect_opts *opts, tw_tls_ctx *ctx,
                        tw_connect_cb cb)
{
    if (!loop || !factory || !ctx || !host || !*host || port == 0)
        return -EINVAL;
    if (ctx->role != TW_TLS_CLIENT)
        return -EINVAL;
    const char *name = ctx->server_name ? ctx->server_name : host;
    tls_conn *c = tw__tls_conn_new(loop, ctx, false, name, factory, arg, cb);
    if (!c)
        return -ENOMEM;
    int rc = opts ? tw_create_connection_ex(loop, tw__tls_link_factory, c, host,
                                            port, opts, tw__tls_connected)
                  : tw_create_connection(loop, tw__tls_link_factory, c, host,
                                         port, tw__tls_connected);
    if (rc < 0) {
        tw__tls_conn_discard(c); /* cb is never called: nothing to undo */
        return rc;
    }
    /* From here the loop owns it; the inner's factory and completion are
     * never called before this returns. */
    tw__tls_conn_start(c);
    return 0;
}

int tw_create_connection_tls(tw_loop *loop, tw_protocol_factory factory,
                             void *arg, const char *host, uint16_t port,
                             tw_tls_ctx *ctx, tw_connect_cb cb)
{
    return connect_host(loop, factory, arg, host, port, NULL, ctx, cb);
}

int tw_create_connection_tls_ex(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const char *host, uint16_t port,
                                const tw_connect_opts *opts, tw_tls_ctx *ctx,
                                tw_connect_cb cb)
{
    static const tw_connect_opts none;
    return connect_host(loop, factory, arg, host, port, opts ? opts : &none,
                        ctx, cb);
}

/* With no host to check the certificate against, a verifying client
 * needs its name (asyncio: "you have to pass server_hostname"). */
static int check_named(tw_loop *loop, tw_protocol_factory factory,
                       tw_tls_ctx *ctx, tw_tls_role role)
{
    if (!loop || !factory || !ctx || ctx->role != role)
        return -EINVAL;
    if (role == TW_TLS_CLIENT && ctx->verify && !ctx->server_name)
        return -EINVAL;
    return 0;
}

int tw_create_unix_connection_tls(tw_loop *loop, tw_protocol_factory factory,
                                  void *arg, const char *path,
                                  tw_tls_ctx *ctx, tw_connect_cb cb)
{
    int rc = check_named(loop, factory, ctx, TW_TLS_CLIENT);
    if (rc < 0)
        return rc;
    tls_conn *c = tw__tls_conn_new(loop, ctx, false, ctx->server_name,
                                   factory, arg, cb);
    if (!c)
        return -ENOMEM;
    rc = tw_create_unix_connection(loop, tw__tls_link_factory, c, path,
                                   tw__tls_connected);
    if (rc < 0) {
        tw__tls_conn_discard(c);
        return rc;
    }
    tw__tls_conn_start(c); /* as above: nothing was called yet */
    return 0;
}

/* Over a connected socket: the plain call wraps it at once, calling the
 * link's factory inside, so the connection is the loop's first. */
static int connect_fd(tw_loop *loop, tw_protocol_factory factory, void *arg,
                      int fd, tw_tls_ctx *ctx, bool server, tw_connect_cb cb)
{
    int rc = check_named(loop, factory, ctx,
                         server ? TW_TLS_SERVER : TW_TLS_CLIENT);
    if (rc < 0)
        return rc;
    tls_conn *c = tw__tls_conn_new(loop, ctx, server,
                                   server ? NULL : ctx->server_name, factory,
                                   arg, cb);
    if (!c)
        return -ENOMEM;
    tw__tls_conn_start(c);
    rc = server ? tw_connect_accepted_socket(loop, tw__tls_link_factory, c, fd,
                                             tw__tls_connected)
                : tw_create_connection_fd(loop, tw__tls_link_factory, c, fd,
                                          tw__tls_connected);
    if (rc < 0) {
        /* No link was made: the connection ends unseen, cb never called. */
        c->cb = NULL;
        tw__tls_connected(c, NULL, rc);
        return rc;
    }
    return 0;
}

int tw_create_connection_fd_tls(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, int fd, tw_tls_ctx *ctx,
                                tw_connect_cb cb)
{
    return connect_fd(loop, factory, arg, fd, ctx, false, cb);
}

int tw_connect_accepted_socket_tls(tw_loop *loop, tw_protocol_factory factory,
                                   void *arg, int fd, tw_tls_ctx *ctx,
                                   tw_connect_cb cb)
{
    return connect_fd(loop, factory, arg, fd, ctx, true, cb);
}

/* ---- the server ---- */

typedef struct tls_server {
    tw_server base;   /* what the user holds: factory, arg, addresses */
    tw_server *inner; /* the plain server */
    tw_tls_ctx *ctx;  /* a reference */
    void (*on_listening)(void *arg, tw_server *srv, int err);
} tls_server;

static void copy_addrs(tls_server *s)
{
    s->base.nlisten = s->inner->nlisten;
    memcpy(s->base.addrs, s->inner->addrs, sizeof s->base.addrs);
}

/* The plain server accepted: its protocol is a TLS layer's link. */
static tw_protocol *accept_factory(void *arg)
{
    tls_server *s = arg;
    tls_conn *c = tw__tls_conn_new(s->base.loop, s->ctx, true, NULL,
                                   s->base.factory, s->base.arg, NULL);
    if (!c)
        return NULL;
    s->base.accepted++;
    tw__tls_conn_start(c);
    return tw__tls_link(c);
}

static void listening(void *arg, tw_server *inner, int err)
{
    tls_server *s = arg;
    (void)inner;
    copy_addrs(s);
    if (s->on_listening)
        s->on_listening(s->base.arg, &s->base, err);
}

/* The plain server could not accept: the user's server could not. */
static void accept_error(void *arg, tw_server *inner, int err)
{
    tls_server *s = arg;
    (void)inner;
    tw__server_accept_error(&s->base, err);
}

static void tls_server_close(tw_server *srv)
{
    tls_server *s = (tls_server *)srv;
    if (s->inner)
        tw_server_close(s->inner);
    tw__server_fini(&s->base);
    tw_tls_ctx_free(s->ctx);
    free(s);
}

static const tw__server_ops tls_server_ops = {.close = tls_server_close};

/* A TCP server (path NULL) or a Unix one. */
static int server_tls(tw_loop *loop, tw_protocol_factory factory, void *arg,
                      const char *host, uint16_t port, const char *path,
                      const tw_server_opts *opts, tw_tls_ctx *ctx,
                      tw_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!loop || !factory || !ctx || ctx->role != TW_TLS_SERVER)
        return -EINVAL;
    tls_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    /* Listed before the plain one, so a loop torn down closes this first
     * (and this closes that). */
    tw__server_init(&s->base, loop, &tls_server_ops, factory, arg, opts);
    s->ctx = ctx;
    tw__tls_ctx_ref(ctx);
    tw_server_opts o = opts ? *opts : (tw_server_opts){0};
    s->on_listening = o.on_listening;
    o.on_listening = listening;
    o.on_accept_error = o.on_accept_error ? accept_error : NULL;
    int rc = path ? tw_create_unix_server(loop, accept_factory, s, path, &o,
                                          &s->inner)
                  : tw_create_server(loop, accept_factory, s, host, port, &o,
                                     &s->inner);
    if (rc < 0) {
        s->inner = NULL;
        tls_server_close(&s->base);
        return rc;
    }
    copy_addrs(s);
    *out = &s->base;
    return 0;
}

int tw_create_server_tls(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, const char *host, uint16_t port,
                         const tw_server_opts *opts, tw_tls_ctx *ctx,
                         tw_server **out)
{
    return server_tls(loop, factory, arg, host, port, NULL, opts, ctx, out);
}

int tw_create_unix_server_tls(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const char *path,
                              const tw_server_opts *opts, tw_tls_ctx *ctx,
                              tw_server **out)
{
    if (!path) {
        if (out)
            *out = NULL;
        return -EINVAL;
    }
    return server_tls(loop, factory, arg, NULL, 0, path, opts, ctx, out);
}
