/* core/net.c - the loop's connection makers, checked and dispatched to the
 * backend; the core half of servers; failed-connect completions.
 *
 * Argument checks live here once, so both backends refuse bad input with
 * the same error.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define CHECK_COMMON(loop, factory)        \
    do {                                   \
        if (!(loop) || !(factory))         \
            return -EINVAL;                \
    } while (0)

int tw_create_connection(tw_loop *loop, tw_protocol_factory factory,
                         void *arg, const char *host, uint16_t port,
                         tw_connect_cb cb)
{
    CHECK_COMMON(loop, factory);
    if (!host || !*host || port == 0)
        return -EINVAL;
    if (!loop->ops->connect_host)
        return -ENOTSUP;
    return loop->ops->connect_host(loop, factory, arg, host, port, cb);
}

int tw_create_connection_addr(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const tw_addr *addr,
                              tw_connect_cb cb)
{
    CHECK_COMMON(loop, factory);
    int fam = tw_addr_family(addr);
    if (fam != AF_INET && fam != AF_INET6 && fam != AF_UNIX)
        return -EINVAL;
    if (fam != AF_UNIX && tw_addr_port(addr) == 0)
        return -EINVAL;
    if (!loop->ops->connect_addr)
        return -ENOTSUP;
    return loop->ops->connect_addr(loop, factory, arg, addr, cb);
}

int tw_create_unix_connection(tw_loop *loop, tw_protocol_factory factory,
                              void *arg, const char *path, tw_connect_cb cb)
{
    tw_addr a;
    int rc = tw_addr_unix(&a, path);
    if (rc < 0)
        return rc;
    return tw_create_connection_addr(loop, factory, arg, &a, cb);
}

static int connect_fd(tw_loop *loop, tw_protocol_factory factory, void *arg,
                      int fd, bool accepted, tw_connect_cb cb)
{
    CHECK_COMMON(loop, factory);
    if (fd < 0)
        return -EBADF;
    if (!loop->ops->connect_fd)
        return -ENOTSUP;
    return loop->ops->connect_fd(loop, factory, arg, fd, accepted, cb);
}

int tw_create_connection_fd(tw_loop *loop, tw_protocol_factory factory,
                            void *arg, int fd, tw_connect_cb cb)
{
    return connect_fd(loop, factory, arg, fd, false, cb);
}

int tw_connect_accepted_socket(tw_loop *loop, tw_protocol_factory factory,
                               void *arg, int fd, tw_connect_cb cb)
{
    return connect_fd(loop, factory, arg, fd, true, cb);
}

static int check_opts(const tw_server_opts *opts)
{
    if (!opts)
        return 0;
    if (opts->backlog < 0)
        return -EINVAL;
    if (opts->family != AF_UNSPEC && opts->family != AF_INET &&
        opts->family != AF_INET6)
        return -EAFNOSUPPORT;
    return 0;
}

int tw_create_server(tw_loop *loop, tw_protocol_factory factory, void *arg,
                     const char *host, uint16_t port,
                     const tw_server_opts *opts, tw_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    CHECK_COMMON(loop, factory);
    int rc = check_opts(opts);
    if (rc < 0)
        return rc;
    if (!loop->ops->create_server)
        return -ENOTSUP;
    return loop->ops->create_server(loop, factory, arg, host ? host : "", port,
                                    opts, out);
}

int tw_create_unix_server(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const char *path,
                          const tw_server_opts *opts, tw_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    CHECK_COMMON(loop, factory);
    tw_addr a;
    int rc = tw_addr_unix(&a, path);
    if (rc < 0)
        return rc;
    if ((rc = check_opts(opts)) < 0)
        return rc;
    if (!loop->ops->create_unix_server)
        return -ENOTSUP;
    return loop->ops->create_unix_server(loop, factory, arg, path, opts, out);
}

/* ---- servers ---- */

void tw__server_init(tw_server *srv, tw_loop *loop, const tw__server_ops *ops,
                     tw_protocol_factory factory, void *arg,
                     const tw_server_opts *opts)
{
    assert(ops && ops->close);
    srv->ops = ops;
    srv->loop = loop;
    srv->factory = factory;
    srv->arg = arg;
    srv->on_accept_error = opts ? opts->on_accept_error : NULL;
    srv->backlog = opts && opts->backlog > 0 ? opts->backlog : TW__BACKLOG_DEFAULT;
    srv->accepted = 0;
    srv->nlisten = 0;
    tw__list_push(&loop->servers, &srv->link);
    tw__loop_ref(loop);
}

void tw__server_fini(tw_server *srv)
{
    tw__list_remove(&srv->link);
    tw__loop_unref(srv->loop);
}

void tw__server_accept_error(tw_server *srv, int err)
{
    assert(err < 0);
    if (srv->on_accept_error)
        srv->on_accept_error(srv->arg, srv, err);
}

int tw_server_close(tw_server *srv)
{
    if (!srv)
        return -EINVAL;
    srv->ops->close(srv);
    return 0;
}

int tw_server_count(const tw_server *srv) { return srv ? srv->nlisten : 0; }

int tw_server_sockname(const tw_server *srv, int i, tw_addr *out)
{
    if (!srv || i < 0 || i >= srv->nlisten)
        return -ENOENT;
    *out = srv->addrs[i];
    return 0;
}

uint16_t tw_server_port(const tw_server *srv)
{
    return srv && srv->nlisten ? tw_addr_port(&srv->addrs[0]) : 0;
}

uint64_t tw_server_accepted(const tw_server *srv) { return srv ? srv->accepted : 0; }

/* ---- failed connects ---- */

struct connect_fail {
    tw_loop *loop;
    tw_connect_cb cb;
    void *arg;
    int err;
};

void tw__connect_fail_cb(void *p)
{
    struct connect_fail f = *(struct connect_fail *)p;
    free(p);
    tw__loop_unref(f.loop);
    f.cb(f.arg, NULL, f.err);
}

void tw__connect_fail(tw_loop *loop, tw_connect_cb cb, void *arg, int err)
{
    assert(err < 0);
    if (!cb)
        return;
    struct connect_fail *f = malloc(sizeof *f);
    if (!f)
        abort(); /* the promise of a completion cannot be kept */
    *f = (struct connect_fail){loop, cb, arg, err};
    tw__loop_ref(loop);
    if (!tw_call_soon(loop, tw__connect_fail_cb, f))
        abort();
}
