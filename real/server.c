/* real/server.c - listening sockets and accepting connections.
 *
 * Map:
 *   1. the server: up to TW__SERVER_MAX_LISTEN listeners
 *   2. accepting: backlog per wake-up, back off on EMFILE and friends
 *   3. opening listeners: one address, a list sharing one port, "any"
 *   4. close, and the deferred free that makes it safe in any callback
 *   5. the ops: create_server (numeric, any, or a name), unix server
 *
 * A server never calls user code except the protocol factory (inside
 * tw__transport_open), on_listening and on_accept_error; any may close
 * the server, so the accept loop holds it `busy` and close defers the
 * free to the end.
 */
#include "real/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* 1. the server                                                       */

struct real_server;

struct real_listener {
    struct real_io io;
    struct real_server *srv;
    tw_handle retry; /* re-arm timer after a resource error, or 0 */
};

struct real_server {
    struct tw_server base; /* first: the core casts */
    struct real_loop *l;
    struct real_listener ls[TW__SERVER_MAX_LISTEN];
    int family;
    bool reuse_port;
    void (*on_listening)(void *arg, tw_server *srv, int err);
    tw_handle listening_h;   /* on_listening scheduled, or 0 */
    struct real_resolve *res; /* host name being resolved, or NULL */
    int busy;                 /* accept loops running on this server */
    bool closed;
    /* Unix servers: the socket file, removed on close if still ours. */
    char *path;
    dev_t dev;
    ino_t ino;
};

static const tw__server_ops server_ops;

/* How many times a port-0 server on several addresses retries when the
 * port its first listener got is taken on another address. */
#define SHARED_PORT_TRIES 8

/* ------------------------------------------------------------------ */
/* 2. accepting                                                        */

/* Errors about one incoming connection, not about us: accept(2) says to
 * treat them like EAGAIN and try again. */
static bool accept_transient(int e)
{
    switch (e) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case EPERM: /* a firewall rule refused this one */
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

static void listener_retry(void *arg)
{
    struct real_listener *ls = arg;
    ls->retry = 0;
    /* A failure leaves the listener off: try again after another delay
     * rather than go deaf for good. */
    if (tw__real_io_set(ls->srv->l, &ls->io, EPOLLIN) < 0)
        ls->retry = tw_call_later(&ls->srv->l->base,
                                  ls->srv->l->accept_retry_delay,
                                  listener_retry, ls);
}

/* Out of descriptors or memory: the pending connection stays queued and
 * level-triggered epoll would report it again at once, so stop listening
 * for a while and keep serving the connections we have (asyncio's
 * ACCEPT_RETRY_DELAY). */
static void listener_backoff(struct real_listener *ls)
{
    struct real_loop *l = ls->srv->l;
    tw_handle h = tw_call_later(&l->base, l->accept_retry_delay,
                                listener_retry, ls);
    if (h == 0)
        return; /* no timer to re-arm it: spinning beats going deaf */
    tw__real_io_set(l, &ls->io, 0);
    ls->retry = h;
}

static void server_free(struct real_server *srv)
{
    free(srv->path);
    free(srv);
}

static void accept_ready(struct real_io *io, uint32_t events)
{
    struct real_listener *ls = tw__container_of(io, struct real_listener, io);
    struct real_server *srv = ls->srv;
    struct real_loop *l = srv->l;
    srv->busy++;
    for (int i = 0; i < srv->base.backlog; i++) {
        if (srv->closed || ls->io.mask == 0)
            break;
        int fd = tw_sys.accept4(ls->io.fd, NULL, NULL,
                                SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (accept_transient(errno))
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM, and anything unexpected:
             * backing off is the one answer that cannot spin. */
            int err = -errno;
            listener_backoff(ls);
            tw__server_accept_error(&srv->base, err); /* may close srv */
            break;
        }
        srv->base.accepted++;
        tw_transport *t = tw__real_stream_new(l, fd);
        if (t == NULL) {
            tw_sys.close(fd);
            listener_backoff(ls);
            tw__server_accept_error(&srv->base, -ENOMEM); /* may close srv */
            break;
        }
        /* Calls the factory, which may close this server. */
        tw__transport_open(t, srv->base.factory, srv->base.arg, NULL);
    }
    if (--srv->busy == 0 && srv->closed)
        server_free(srv);
}

/* ------------------------------------------------------------------ */
/* 3. opening listeners                                                */

static int sockopt_on(int fd, int level, int name)
{
    int one = 1;
    return tw_sys.setsockopt(fd, level, name, &one, sizeof one) < 0 ? -errno
                                                                    : 0;
}

/* Make a listening socket for a and add it to srv (not yet armed). */
static int listener_open(struct real_server *srv, const tw_addr *a)
{
    int n = srv->base.nlisten;
    if (n >= TW__SERVER_MAX_LISTEN)
        return 0; /* more addresses than we keep: serve the first ones */
    int family = tw_addr_family(a);
    int fd = tw_sys.socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           0);
    if (fd < 0)
        return -errno;
    int r = 0;
    /* SO_REUSEADDR: a restarted server must not wait out TIME_WAIT. */
    if (family != AF_UNIX)
        r = sockopt_on(fd, SOL_SOCKET, SO_REUSEADDR);
    if (r == 0 && srv->reuse_port)
        r = sockopt_on(fd, SOL_SOCKET, SO_REUSEPORT);
    /* V6ONLY: "::" and "0.0.0.0" are separate listeners, as in asyncio,
     * so the v6 one must not also claim the IPv4 port. */
    if (r == 0 && family == AF_INET6)
        r = sockopt_on(fd, IPPROTO_IPV6, IPV6_V6ONLY);
    if (r == 0 && tw_sys.bind(fd, &a->u.sa, a->len) < 0)
        r = -errno;
    if (r == 0 && tw_sys.listen(fd, srv->base.backlog) < 0)
        r = -errno;
    tw_addr *name = &srv->base.addrs[n];
    socklen_t len = sizeof name->u.ss;
    if (r == 0 && tw_sys.getsockname(fd, &name->u.sa, &len) < 0)
        r = -errno;
    if (r < 0) {
        tw_sys.close(fd);
        return r;
    }
    name->len = len;
    struct real_listener *ls = &srv->ls[n];
    ls->io = (struct real_io){.cb = accept_ready, .fd = fd, .mask = 0};
    ls->srv = srv;
    ls->retry = 0;
    srv->base.nlisten = n + 1;
    return 0;
}

static void listeners_close(struct real_server *srv)
{
    for (int i = 0; i < srv->base.nlisten; i++) {
        struct real_listener *ls = &srv->ls[i];
        if (ls->retry != 0)
            tw_handle_cancel(&srv->l->base, ls->retry);
        ls->retry = 0;
        tw__real_io_set(srv->l, &ls->io, 0);
        tw_sys.close(ls->io.fd);
        ls->io.fd = -1;
    }
    srv->base.nlisten = 0;
}

static int listeners_arm(struct real_server *srv)
{
    for (int i = 0; i < srv->base.nlisten; i++) {
        int r = tw__real_io_set(srv->l, &srv->ls[i].io, EPOLLIN);
        if (r < 0)
            return r;
    }
    return 0;
}

static void addr_set_port(tw_addr *a, uint16_t port)
{
    if (tw_addr_family(a) == AF_INET)
        a->u.in4.sin_port = htons(port);
    else if (tw_addr_family(a) == AF_INET6)
        a->u.in6.sin6_port = htons(port);
}

/* One pass over addrs; port 0 means "the port the first one got".
 * v6_optional: a host without IPv6 just skips the v6 addresses. */
static int listen_pass(struct real_server *srv, const tw_addr *addrs, int n,
                       bool v6_optional)
{
    uint16_t shared = 0;
    for (int i = 0; i < n; i++) {
        tw_addr a = addrs[i];
        if (tw_addr_port(&a) == 0 && shared != 0)
            addr_set_port(&a, shared);
        int r = listener_open(srv, &a);
        if (r < 0 && v6_optional && tw_addr_family(&a) == AF_INET6 &&
            (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL))
            continue;
        if (r < 0)
            return r;
        if (shared == 0 && srv->base.nlisten > 0)
            shared = tw_addr_port(&srv->base.addrs[0]);
    }
    return srv->base.nlisten > 0 ? 0 : -EADDRNOTAVAIL;
}

/* Listen on every address or none, then arm them all together. */
static int listen_all(struct real_server *srv, const tw_addr *addrs, int n,
                      bool v6_optional)
{
    int r = 0;
    for (int tries = 0; tries < SHARED_PORT_TRIES; tries++) {
        r = listen_pass(srv, addrs, n, v6_optional);
        if (r == 0)
            r = listeners_arm(srv);
        if (r == 0)
            return 0;
        /* The shared port was taken on a later address: pick anew. */
        bool port0 = tw_addr_port(&addrs[0]) == 0 && srv->base.nlisten > 0;
        listeners_close(srv);
        if (r != -EADDRINUSE || !port0)
            break;
    }
    return r;
}

/* host NULL or "": 0.0.0.0 and :: (as far as the family allows). */
static int listen_any(struct real_server *srv, uint16_t port)
{
    tw_addr any[2];
    int n = 0;
    if (srv->family != AF_INET6)
        tw_addr_ip(&any[n++], "0.0.0.0", port);
    if (srv->family != AF_INET)
        tw_addr_ip(&any[n++], "::", port);
    return listen_all(srv, any, n, srv->family == AF_UNSPEC);
}

/* ------------------------------------------------------------------ */
/* 4. close                                                            */

/* Remove the socket file if it is still the one we bound: a newer server
 * may have replaced it since, and its file is not ours to delete. */
static void unix_unlink(struct real_server *srv)
{
    struct stat st;
    if (srv->path == NULL)
        return;
    if (tw_sys.lstat(srv->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == srv->dev && st.st_ino == srv->ino)
        tw_sys.unlink(srv->path);
}

static void server_close(tw_server *base)
{
    struct real_server *srv = (struct real_server *)base;
    assert(!srv->closed);
    srv->closed = true;
    listeners_close(srv);
    if (srv->listening_h != 0)
        tw_handle_cancel(&srv->l->base, srv->listening_h);
    srv->listening_h = 0;
    if (srv->res != NULL)
        tw__real_resolve_cancel(srv->res);
    srv->res = NULL;
    unix_unlink(srv);
    tw__server_fini(base);
    if (srv->busy == 0)
        server_free(srv);
}

static const tw__server_ops server_ops = {.close = server_close};

/* ------------------------------------------------------------------ */
/* 5. the ops                                                          */

static struct real_server *server_new(tw_loop *loop,
                                      tw_protocol_factory factory,
                                      void *arg, const tw_server_opts *opts)
{
    struct real_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return NULL;
    srv->l = tw__real_loop(loop);
    tw__server_init(&srv->base, loop, &server_ops, factory, arg, opts);
    if (srv->base.backlog <= 0)
        srv->base.backlog = opts != NULL && opts->backlog > 0
                                ? opts->backlog
                                : TW__BACKLOG_DEFAULT;
    if (opts != NULL) {
        srv->family = opts->family;
        srv->reuse_port = opts->reuse_port;
        srv->on_listening = opts->on_listening;
    }
    return srv;
}

/* Undo server_new for a create that failed: nobody saw the server. */
static void server_discard(struct real_server *srv)
{
    listeners_close(srv);
    tw__server_fini(&srv->base);
    server_free(srv);
}

static void listening_cb(void *arg)
{
    struct real_server *srv = arg;
    srv->listening_h = 0;
    srv->on_listening(srv->base.arg, &srv->base, 0);
}

/* Listening synchronously; on_listening still runs once, from the loop,
 * so a caller can use one code path whatever the host was. */
static int listening_soon(struct real_server *srv)
{
    if (srv->on_listening == NULL)
        return 0;
    srv->listening_h = tw_call_soon(&srv->l->base, listening_cb, srv);
    return srv->listening_h != 0 ? 0 : -ENOMEM;
}

static void server_resolved(void *ctx, int err, const tw_addr *addrs, int n)
{
    struct real_server *srv = ctx;
    srv->res = NULL;
    if (err == 0)
        err = listen_all(srv, addrs, n, false);
    if (srv->on_listening != NULL)
        srv->on_listening(srv->base.arg, &srv->base, err); /* may close */
}

static bool family_ok(const struct real_server *srv, const tw_addr *a)
{
    return srv->family == AF_UNSPEC || srv->family == tw_addr_family(a);
}

int tw__real_create_server(tw_loop *loop, tw_protocol_factory factory,
                           void *arg, const char *host, uint16_t port,
                           const tw_server_opts *opts, tw_server **out)
{
    if (opts != NULL && opts->family != AF_UNSPEC &&
        opts->family != AF_INET && opts->family != AF_INET6)
        return -EAFNOSUPPORT;
    struct real_server *srv = server_new(loop, factory, arg, opts);
    if (srv == NULL)
        return -ENOMEM;
    tw_addr a;
    int r;
    if (host == NULL || host[0] == '\0') {
        r = listen_any(srv, port);
    } else if (tw_addr_ip(&a, host, port) == 0) {
        r = family_ok(srv, &a) ? listen_all(srv, &a, 1, false)
                               : -EAFNOSUPPORT;
    } else {
        r = 0;
        srv->res = tw__real_resolve(srv->l, host, port, srv->family, true,
                                    server_resolved, srv, &r);
    }
    if (r == 0 && srv->res == NULL)
        r = listening_soon(srv);
    if (r < 0) {
        server_discard(srv);
        return r;
    }
    *out = &srv->base;
    return 0;
}

/* What a connect to the socket file says of it: ECONNREFUSED when no
 * socket holds it any more (a file left by a process that died), ENOENT
 * when it went meanwhile; anything else (0, EAGAIN for a full backlog,
 * EPROTOTYPE for a datagram socket, EACCES) means a socket holds it, or
 * may; -errno when no socket could be made to ask. A listener sees a
 * connection that closes at once. */
static int unix_probe(const tw_addr *a)
{
    int fd = tw_sys.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           0);
    if (fd < 0)
        return -errno; /* no socket to ask with: the server would need one too */
    int r = tw_sys.connect(fd, &a->u.sa, a->len);
    int e = r < 0 ? errno : 0;
    tw_sys.close(fd);
    return e;
}

/* A stale socket file from a previous run would make bind fail; remove
 * it, but only if it is a socket and no socket holds it: a live server's
 * path is not ours to take (-EADDRINUSE, as bind says of a path that
 * exists), and anything else at path is somebody's data, for which
 * bind's EADDRINUSE is the right answer too. */
static int unix_clear_stale(const char *path, const tw_addr *a)
{
    struct stat st;
    if (path[0] == '@') /* the abstract namespace has no files */
        return 0;
    if (tw_sys.lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int e = unix_probe(a);
    if (e < 0)
        return e;
    if (e == ENOENT)
        return 0;
    if (e != ECONNREFUSED)
        return -EADDRINUSE;
    if (tw_sys.unlink(path) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int tw__real_create_unix_server(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const char *path,
                                const tw_server_opts *opts, tw_server **out)
{
    tw_addr a;
    int r = tw_addr_unix(&a, path);
    if (r < 0)
        return r;
    struct real_server *srv = server_new(loop, factory, arg, opts);
    if (srv == NULL)
        return -ENOMEM;
    r = unix_clear_stale(path, &a);
    if (r == 0)
        r = listen_all(srv, &a, 1, false);
    struct stat st;
    if (r == 0 && path[0] != '@' && tw_sys.lstat(path, &st) == 0) {
        srv->path = strdup(path);
        if (srv->path == NULL) {
            tw_sys.unlink(path); /* ours for sure: we just bound it */
            r = -ENOMEM;
        }
        srv->dev = st.st_dev;
        srv->ino = st.st_ino;
    }
    if (r == 0)
        r = listening_soon(srv);
    if (r < 0) {
        unix_unlink(srv);
        server_discard(srv);
        return r;
    }
    *out = &srv->base;
    return 0;
}
