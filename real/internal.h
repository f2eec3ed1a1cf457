/* real/internal.h - what the epoll backend's files share.
 *
 * Map:
 *   1. watchers and the loop (real/loop.c)
 *   2. pending operations: connects that the loop must cancel when freed
 *   3. stream transports (real/stream.c)
 *   4. name resolution off the loop thread (real/resolve.c)
 *   5. the loop ops this backend implements (real/connect.c, server.c,
 *      udp.c, pipe.c, process.c)
 *
 * Internal names are tw__real_*: both backends link into one binary, so
 * every external symbol carries the backend's name.
 */
#ifndef TWIN_REAL_INTERNAL_H
#define TWIN_REAL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "core/internal.h"
#include "real/sys.h"
#include "twin/real.h"

/* ------------------------------------------------------------------ */
/* 1. watchers and the loop                                            */

/* One fd the loop watches. `mask` is the epoll interest currently
 * registered (0: not in the epoll set), so changing interest costs one
 * epoll_ctl and not changing it costs none. */
struct real_io;
typedef void (*real_io_cb)(struct real_io *io, uint32_t events);

struct real_io {
    real_io_cb cb;
    int fd;
    uint32_t mask;
    /* Linked in real_loop.again while asked to be called again (see
     * tw__real_io_again); else next is NULL (never linked) or itself. */
    tw__list again;
};

struct real_resolve;

struct real_loop {
    struct tw_loop base; /* first: the core casts */
    int epfd;
    struct real_io wake; /* the eventfd: wakeups and resolver results */
    tw_ns accept_retry_delay;
    tw_ns last_now;      /* kept in case clock_gettime ever fails */
    /* Busy polling (tw_real_opts.busy_poll): the window (0: off), and
     * how often recent idle gaps fitted in it (fixed point, see loop.c). */
    tw_ns spin_max;
    int spin_rate;

    /* The batch epoll_wait returned, while it is being dispatched, so a
     * watcher stopped by an earlier callback of the batch is skipped. */
    struct epoll_event *events;
    int events_cap;
    int batch_i, batch_n;

    tw__list pending;   /* struct real_pending: cancelled by destroy */
    tw__list resolving; /* struct real_resolve: loop thread only */
    tw__list again;     /* struct real_io.again: call after the batch */
    struct real_resolve *done; /* finished by workers; resolve lock */
};

static inline struct real_loop *tw__real_loop(tw_loop *loop)
{
    return (struct real_loop *)loop;
}

/* Set io's epoll interest to mask (EPOLLIN/EPOLLOUT, level-triggered
 * unless EPOLLET is in it; 0 removes it from the epoll set, drops its
 * events still queued in the current batch and cancels an again).
 * Returns 0 or -errno (the interest is then unchanged); removing never
 * fails. */
int tw__real_io_set(struct real_loop *l, struct real_io *io, uint32_t mask);

/* Edge-triggered watchers: epoll will not report again what io has not
 * consumed yet, so ask for cb(io, EPOLLIN) after the next batch instead
 * (poll does not wait while any is asked for). Once per ask. */
void tw__real_io_again(struct real_loop *l, struct real_io *io);

/* Have epoll report io's current readiness again, as if it had just
 * changed (EPOLL_CTL_MOD with the same interest): for an edge-triggered
 * watcher that cannot tell whether an edge is still to come. 0 or
 * -errno. */
int tw__real_io_rearm(struct real_loop *l, struct real_io *io);

/* Wake epoll_wait from any thread (writes the eventfd). */
void tw__real_wakeup(struct real_loop *l);

/* ------------------------------------------------------------------ */
/* 2. pending operations                                               */

/* Something in flight that is not a transport or a server (a connect).
 * It holds a loop ref while listed; the loop's destroy calls cancel,
 * which must unlist, unref and free it without calling back. */
struct real_pending {
    tw__list link; /* in real_loop.pending */
    void (*cancel)(struct real_pending *p);
};

/* ------------------------------------------------------------------ */
/* 3. stream transports                                                */

/* Make a stream transport for a connected, non-blocking socket: core
 * part initialised (it counts as alive), addresses filled, TCP_NODELAY
 * on for TCP. The caller then calls tw__transport_open(). On success the
 * transport owns fd; NULL means out of memory and fd is untouched. */
tw_transport *tw__real_stream_new(struct real_loop *l, int fd);

/* ------------------------------------------------------------------ */
/* 4. name resolution                                                  */

/* Most addresses kept from one lookup; more are rarely useful and a
 * limit keeps a hostile resolver answer from costing unbounded work. */
#define TW__REAL_ADDRS_MAX 16

/* The outcome, on the loop thread: err 0 and n >= 1 addresses, or a
 * negative errno (a name that does not resolve is one of TW_EAI_*, see
 * resolve.c for the whole EAI_* mapping). addrs is valid during the
 * call only. */
typedef tw__resolve_cb real_resolve_cb;

/* Resolve host:port on a detached worker thread (getaddrinfo blocks).
 * family: AF_UNSPEC/AF_INET/AF_INET6; passive: for a listening socket.
 * cb(ctx, ...) runs later from the loop unless cancelled. Holds no loop
 * ref: the caller does, for what it is waiting for. Returns the request
 * or NULL with *err set (cb is then never called). */
struct real_resolve *tw__real_resolve(struct real_loop *l, const char *host,
                                      uint16_t port, int family,
                                      bool passive, real_resolve_cb cb,
                                      void *ctx, int *err);

/* cb will not be called. The request itself lives on until its worker
 * finishes; nothing of the caller's is touched again. Loop thread. */
void tw__real_resolve_cancel(struct real_resolve *r);

/* The loop ops for the core's lookups (datagram endpoints by name):
 * tw__real_resolve with AF_UNSPEC, and its cancel. */
void *tw__real_resolve_op(tw_loop *loop, const char *host, uint16_t port,
                          bool passive, tw__resolve_cb cb, void *ctx,
                          int *err);
void tw__real_resolve_cancel_op(tw_loop *loop, void *req);

/* Deliver the results workers have posted (the wake watcher calls it). */
void tw__real_resolve_drain(struct real_loop *l);

/* The loop is going away: free what is finished, and leave what is still
 * running to its worker (destroy calls it, after cancelling). */
void tw__real_resolve_orphan_all(struct real_loop *l);

/* ------------------------------------------------------------------ */
/* 5. loop ops                                                         */

int tw__real_connect_host(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const char *host, uint16_t port,
                          tw_connect_cb cb);
int tw__real_connect_addr(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, const tw_addr *addr, tw_connect_cb cb);
int tw__real_connect_fd(tw_loop *loop, tw_protocol_factory factory,
                        void *arg, int fd, bool accepted, tw_connect_cb cb);
/* The dial and dial_cancel ops (core/internal.h). */
void *tw__real_dial(tw_loop *loop, const tw_addr *addr, const tw_addr *local,
                    tw__dial_cb cb, void *ctx, int *err);
void tw__real_dial_cancel(tw_loop *loop, void *req);
int tw__real_create_server(tw_loop *loop, tw_protocol_factory factory,
                           void *arg, const char *host, uint16_t port,
                           const tw_server_opts *opts, tw_server **out);
int tw__real_create_unix_server(tw_loop *loop, tw_protocol_factory factory,
                                void *arg, const char *path,
                                const tw_server_opts *opts, tw_server **out);
/* real/udp.c. The core has checked opts and set opts->family. */
int tw__real_create_datagram_endpoint(tw_loop *loop,
                                      tw_protocol_factory factory, void *arg,
                                      const struct tw_datagram_opts *opts,
                                      tw_connect_cb cb);

/* Pipes and subprocesses (real/pipe.c, real/process.c). */
int tw__real_connect_pipe(tw_loop *loop, tw_protocol_factory factory,
                          void *arg, int fd, bool write, tw_connect_cb cb);
int tw__real_subprocess(tw_loop *loop, tw_protocol_factory factory, void *arg,
                        const struct tw_subprocess_spec *spec,
                        tw_connect_cb cb);

/* A pipe transport. Its memory may be allocated ahead (a subprocess
 * allocates everything before it starts the child, so nothing can fail
 * after); tw__real_pipe_init then makes it a transport (counted alive,
 * not opened) that owns fd, non-blocking already. */
struct real_pipe {
    struct tw_transport base; /* first: the core casts */
    struct real_io io;
    struct real_loop *l;
    bool write;               /* a WriteTransport, else a ReadTransport */
    bool want_rd, want_wr;
    bool hup;                 /* a write pipe's reader is gone */
    int io_err;               /* a failed epoll_ctl, reported from the loop */
    tw_handle io_err_h;
};
void tw__real_pipe_init(struct real_pipe *p, struct real_loop *l, int fd,
                        bool write);

/* SIGPIPE held back for the calling thread around a call that cannot
 * take MSG_NOSIGNAL (write on a pipe, sendfile), and one it raised
 * consumed afterwards (err: the call's errno, 0 if it succeeded): the
 * process is never killed by it, and no signal disposition of the host
 * program is touched (real/pipe.c). */
struct real_sigpipe {
    sigset_t set, old;
    bool masked, was_pending;
};
void tw__real_sigpipe_hold(struct real_sigpipe *h);
void tw__real_sigpipe_release(struct real_sigpipe *h, int err);

/* Most bytes one sendfile(2) is asked for (Linux moves at most this
 * much per call anyway). */
#define TW__REAL_SENDFILE_MAX ((size_t)0x7ffff000)

/* Bounded retries of a call interrupted by a signal: EINTR is almost
 * never persistent, but a limit keeps a pathological case from pinning
 * the loop (level-triggered epoll brings us back anyway). */
#define TW__REAL_EINTR_MAX 16

/* Files (real/file.c): the loop's file ops. */
extern const tw__file_ops tw__real_file_ops;

#endif
