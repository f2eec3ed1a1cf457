/* core/connect.c - clients with options: a connect timeout, Happy
 * Eyeballs over several addresses (RFC 8305; asyncio's
 * happy_eyeballs_delay and interleave), a local address.
 *
 * Map:
 *   1. the dialer: one per call, listed on the loop until it ends
 *   2. the order of the addresses (interleave)
 *   3. attempts: start, fail, win; the delay between starts
 *   4. endings: all failed, the timeout, the loop torn down
 *   5. the calls
 *
 * A backend makes single attempts (the dial op: one address, cancellable
 * until its callback runs); the race, the timeout and the report are
 * here once, so both backends race, time out and report alike.
 *
 * Re-entrancy: a dial's callback runs from the backend's event handling;
 * starting the next attempt from it is a new dial (never a callback
 * inside it), and the user's callbacks run later, from the loop: the
 * winner's through the transport's open, a failure through
 * tw__connect_fail. So a dialer is freed only by its own code, and
 * nothing of it is touched after dialer_free.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ------------------------------------------------------------------ */
/* 1. the dialer                                                       */

struct dialer;

struct attempt {
    struct dialer *d;
    void *req; /* the backend's dial while in flight, else NULL */
};

struct dialer {
    tw__list link; /* in loop->dialers */
    tw_loop *loop;
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    tw_ns delay;           /* between starts; 0: one at a time */
    int interleave;        /* as tw_connect_opts, resolved: 0 none */
    bool has_local;
    tw_addr local;
    void *resolving;       /* the backend's lookup, or NULL */
    tw_handle timeout_h, delay_h;
    int n, next, pending;  /* addresses, the next to start, in flight */
    int last_err;          /* of the attempt that failed last */
    tw_connect_report rep; /* ours; copied to the caller's at the end */
    tw_connect_report *report;
    tw_addr addrs[TW_CONNECT_ATTEMPTS_MAX];
    struct attempt att[TW_CONNECT_ATTEMPTS_MAX];
};

static void cancel_handle(tw_loop *loop, tw_handle *h)
{
    if (*h)
        tw_handle_cancel(loop, *h);
    *h = 0;
}

/* Tell the caller's report where things stand. */
static void publish(struct dialer *d)
{
    if (d->report)
        *d->report = d->rep;
}

static void dialer_free(struct dialer *d)
{
    assert(d->pending == 0); /* every dial ended or was dropped */
    cancel_handle(d->loop, &d->timeout_h);
    cancel_handle(d->loop, &d->delay_h);
    if (d->resolving)
        d->loop->ops->resolve_cancel(d->loop, d->resolving);
    d->resolving = NULL;
    tw__list_remove(&d->link);
    tw__loop_unref(d->loop);
    free(d);
}

void tw__dialers_drop(tw_loop *loop)
{
    while (!tw__list_empty(&loop->dialers)) {
        struct dialer *d = tw__container_of(loop->dialers.next, struct dialer,
                                            link);
        /* The backend has dropped its dials already (internal.h). */
        d->pending = 0;
        dialer_free(d);
    }
}

/* ------------------------------------------------------------------ */
/* 2. the order                                                        */

/* asyncio's _interleave_addrinfos: the families in the order they first
 * appear; the first `first` - 1 addresses of the first family, then one
 * of each family in turn while any is left. */
static void interleave(tw_addr *a, int n, int first)
{
    tw_addr group[2][TW_CONNECT_ATTEMPTS_MAX];
    int fam[2] = {AF_UNSPEC, AF_UNSPEC}, len[2] = {0, 0}, at[2] = {0, 0};
    assert(n <= TW_CONNECT_ATTEMPTS_MAX && first >= 1);
    for (int i = 0; i < n; i++) {
        int f = tw_addr_family(&a[i]);
        int g = fam[0] == AF_UNSPEC || fam[0] == f ? 0 : 1;
        assert(g == 0 || fam[1] == AF_UNSPEC || fam[1] == f); /* two at most */
        fam[g] = f;
        group[g][len[g]++] = a[i];
    }
    int k = 0;
    for (; at[0] < len[0] && at[0] < first - 1; at[0]++)
        a[k++] = group[0][at[0]];
    while (at[0] < len[0] || at[1] < len[1])
        for (int g = 0; g < 2; g++)
            if (at[g] < len[g])
                a[k++] = group[g][at[g]++];
    assert(k == n); /* every address once */
}

/* ------------------------------------------------------------------ */
/* 3. attempts                                                         */

static void fail(struct dialer *d, int err);
static bool dialed(void *ctx, int err, tw__dial_open *how);

static void delay_cb(void *arg);

/* Start attempts from d->next on: one that fails at once is recorded and
 * the next one starts in its place. Ends the dialer when nothing is left
 * to start and nothing is in flight. */
static void start_next(struct dialer *d)
{
    cancel_handle(d->loop, &d->delay_h);
    while (d->next < d->n) {
        int i = d->next++;
        const tw_addr *a = &d->addrs[i];
        struct attempt *at = &d->att[i];
        int err = 0;
        d->rep.n = i + 1;
        d->rep.attempts[i].addr = *a;
        if (d->has_local && tw_addr_family(&d->local) != tw_addr_family(a))
            err = -EAFNOSUPPORT; /* asyncio: no local address of that family */
        else
            at->req = d->loop->ops->dial(d->loop, a,
                                         d->has_local ? &d->local : NULL,
                                         dialed, at, &err);
        if (at->req) {
            d->rep.attempts[i].err = TW_CONNECT_IN_FLIGHT;
            d->pending++;
            if (d->delay > 0 && d->next < d->n) {
                d->delay_h = tw_call_later(d->loop, d->delay, delay_cb, d);
                if (!d->delay_h)
                    d->delay = 0; /* no timer: one at a time from here */
            }
            publish(d);
            return;
        }
        assert(err < 0);
        d->rep.attempts[i].err = err;
        d->last_err = err;
    }
    publish(d);
    if (d->pending == 0)
        fail(d, d->last_err);
}

static void delay_cb(void *arg)
{
    struct dialer *d = arg;
    d->delay_h = 0;
    start_next(d);
}

/* Cancel every attempt in flight but `keep`, recording why. */
static void cancel_attempts(struct dialer *d, int keep, int why)
{
    for (int i = 0; i < d->next; i++) {
        struct attempt *at = &d->att[i];
        if (i == keep || !at->req)
            continue;
        void *req = at->req;
        at->req = NULL;
        d->pending--;
        d->rep.attempts[i].err = why;
        d->loop->ops->dial_cancel(d->loop, req);
    }
}

/* A dial ended (the backend's callback, from the loop). */
static bool dialed(void *ctx, int err, tw__dial_open *how)
{
    struct attempt *at = ctx;
    struct dialer *d = at->d;
    int i = (int)(at - d->att);
    assert(at->req && d->pending > 0);
    assert(d->rep.attempts[i].err == TW_CONNECT_IN_FLIGHT);
    at->req = NULL;
    d->pending--;
    if (err < 0) {
        d->rep.attempts[i].err = err;
        d->last_err = err;
        /* The race's rule: the failure of the one started last starts
         * the next at once; an earlier one's leaves the delay running. */
        if (i == d->next - 1 || d->pending == 0)
            start_next(d); /* may end d */
        else
            publish(d);
        return false;
    }
    /* The winner: the others go before the factory is called. */
    d->rep.attempts[i].err = 0;
    cancel_attempts(d, i, -ECANCELED);
    assert(d->pending == 0);
    publish(d);
    *how = (tw__dial_open){d->factory, d->arg, d->cb};
    dialer_free(d);
    return true;
}

/* ------------------------------------------------------------------ */
/* 4. endings                                                          */

/* No attempt is in flight and none will start: cb(arg, NULL, err) from
 * the loop. */
static void fail(struct dialer *d, int err)
{
    assert(d->pending == 0 && err < 0);
    publish(d);
    tw__connect_fail(d->loop, d->cb, d->arg, err);
    dialer_free(d);
}

static void timeout_cb(void *arg)
{
    struct dialer *d = arg;
    d->timeout_h = 0;
    cancel_attempts(d, -1, -ETIMEDOUT);
    fail(d, -ETIMEDOUT); /* the lookup, if any, goes with the dialer */
}

static void resolved(void *ctx, int err, const tw_addr *addrs, int n)
{
    struct dialer *d = ctx;
    d->resolving = NULL;
    if (err < 0) {
        fail(d, err);
        return;
    }
    assert(n >= 1);
    d->n = n < TW_CONNECT_ATTEMPTS_MAX ? n : TW_CONNECT_ATTEMPTS_MAX;
    memcpy(d->addrs, addrs, (size_t)d->n * sizeof *addrs);
    if (d->interleave > 0)
        interleave(d->addrs, d->n, d->interleave);
    start_next(d);
}

/* ------------------------------------------------------------------ */
/* 5. the calls                                                        */

static int check_opts(const tw_connect_opts *o)
{
    if (!o)
        return 0;
    if (o->timeout_ns < 0 || o->happy_eyeballs_delay_ns < 0 ||
        o->interleave < TW_INTERLEAVE_OFF)
        return -EINVAL;
    if (o->local_addr) {
        int f = tw_addr_family(o->local_addr);
        if (f != AF_INET && f != AF_INET6)
            return -EINVAL;
    }
    return 0;
}

static struct dialer *dialer_new(tw_loop *loop, tw_protocol_factory factory,
                                 void *arg, const tw_connect_opts *o,
                                 tw_connect_cb cb)
{
    struct dialer *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->loop = loop;
    d->factory = factory;
    d->arg = arg;
    d->cb = cb;
    for (int i = 0; i < TW_CONNECT_ATTEMPTS_MAX; i++)
        d->att[i].d = d;
    d->last_err = -EHOSTUNREACH; /* no address at all: never, but defined */
    if (o) {
        d->delay = o->happy_eyeballs_delay_ns;
        d->interleave = o->interleave;
        if (o->local_addr) {
            d->has_local = true;
            d->local = *o->local_addr;
        }
        d->report = o->report;
    }
    /* asyncio: with Happy Eyeballs the families interleave by default. */
    if (d->interleave == 0 && d->delay > 0)
        d->interleave = 1;
    if (d->interleave == TW_INTERLEAVE_OFF)
        d->interleave = 0;
    publish(d); /* an empty report until something starts */
    if (o && o->timeout_ns > 0) {
        d->timeout_h = tw_call_later(loop, o->timeout_ns, timeout_cb, d);
        if (!d->timeout_h) {
            free(d);
            return NULL;
        }
    }
    tw__list_push(&loop->dialers, &d->link);
    tw__loop_ref(loop);
    return d;
}

int tw_create_connection_addrs(tw_loop *loop, tw_protocol_factory factory,
                               void *arg, const tw_addr *addrs, int n,
                               const tw_connect_opts *opts, tw_connect_cb cb)
{
    if (!loop || !factory || !addrs || n < 1 || n > TW_CONNECT_ATTEMPTS_MAX)
        return -EINVAL;
    for (int i = 0; i < n; i++) {
        int f = tw_addr_family(&addrs[i]);
        if ((f != AF_INET && f != AF_INET6) || tw_addr_port(&addrs[i]) == 0)
            return -EINVAL;
    }
    int rc = check_opts(opts);
    if (rc < 0)
        return rc;
    if (!loop->ops->dial)
        return -ENOTSUP;
    struct dialer *d = dialer_new(loop, factory, arg, opts, cb);
    if (!d)
        return -ENOMEM;
    resolved(d, 0, addrs, n); /* dials start now; nothing calls back yet */
    return 0;
}

int tw_create_connection_ex(tw_loop *loop, tw_protocol_factory factory,
                            void *arg, const char *host, uint16_t port,
                            const tw_connect_opts *opts, tw_connect_cb cb)
{
    if (!loop || !factory || !host || !*host || port == 0)
        return -EINVAL;
    tw_addr a;
    if (tw_addr_ip(&a, host, port) == 0)
        return tw_create_connection_addrs(loop, factory, arg, &a, 1, opts, cb);
    int rc = check_opts(opts);
    if (rc < 0)
        return rc;
    if (!loop->ops->dial || !loop->ops->resolve)
        return -ENOTSUP;
    struct dialer *d = dialer_new(loop, factory, arg, opts, cb);
    if (!d)
        return -ENOMEM;
    int err = 0;
    d->resolving = loop->ops->resolve(loop, host, port, false, resolved, d,
                                      &err);
    if (!d->resolving) {
        assert(err < 0);
        dialer_free(d);
        return err;
    }
    return 0;
}
