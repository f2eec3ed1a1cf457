/* tls/tls_net.c - TLS clients and servers: twin/net.h's calls with a
 * context.
 *
 * Map: the client; the server (a tw_server wrapping a plain one, whose
 * every accepted connection gets a TLS layer).
 *
 * Both are made of the plain calls, so every backend that makes streams
 * makes TLS streams, and argument checks and errors are the plain ones.
 */
#include <stdlib.h>
#include <string.h>

#include "tls/tls_internal.h"

/* ---- the client ---- */

int tw_create_connection_tls(tw_loop *loop, tw_protocol_factory factory,
                             void *arg, const char *host, uint16_t port,
                             tw_tls_ctx *ctx, tw_connect_cb cb)
{
    if (!loop || !factory || !ctx || !host || !*host || port == 0)
        return -EINVAL;
    if (ctx->role != TW_TLS_CLIENT)
        return -EINVAL;
    const char *name = ctx->server_name ? ctx->server_name : host;
    tls_conn *c = tw__tls_conn_new(loop, ctx, false, name, factory, arg, cb);
    if (!c)
        return -ENOMEM;
    int rc = tw_create_connection(loop, tw__tls_link_factory, c, host, port,
                                  tw__tls_connected);
    if (rc < 0) {
        tw__tls_conn_discard(c); /* cb is never called: nothing to undo */
        return rc;
    }
    /* From here the loop owns it; the inner's factory and completion are
     * never called before this returns. */
    tw__tls_conn_start(c);
    return 0;
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

int tw_create_server_tls(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, const char *host, uint16_t port,
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
    int rc = tw_create_server(loop, accept_factory, s, host, port, &o, &s->inner);
    if (rc < 0) {
        s->inner = NULL;
        tls_server_close(&s->base);
        return rc;
    }
    copy_addrs(s);
    *out = &s->base;
    return 0;
}
