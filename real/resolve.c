/* real/resolve.c - getaddrinfo without blocking the loop.
 *
 * Map:
 *   1. the request, and who may touch which field when
 *   2. the worker thread: getaddrinfo, then post the result back
 *   3. the loop side: start, cancel, drain, orphan
 *
 * getaddrinfo blocks (DNS can take seconds), so each lookup runs on a
 * detached thread of its own, as asyncio runs it in an executor. The
 * result comes back through an intrusive list on the loop plus an eventfd
 * write, which needs no allocation and so cannot fail on the way back.
 *
 * The one hard part is a loop freed while a worker still runs: one global
 * lock orders the worker's "post" against the loop's "orphan", so exactly
 * one of them frees the request, and a worker never touches a freed loop.
 */
#include "real/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* 1. the request                                                      */

struct real_resolve {
    /* Loop thread only. */
    tw__list link; /* in real_loop.resolving until drained or orphaned */
    real_resolve_cb cb; /* NULL once cancelled */
    void *ctx;

    /* Under resolve_lock. */
    struct real_resolve *next_done; /* in real_loop.done once posted */
    bool posted;
    bool orphan;

    /* Set before the worker starts, read by it; the result fields are
     * written by the worker and read by the loop after the handoff. */
    struct real_loop *l;
    uint16_t port;
    int family;
    bool passive;
    int err;
    int n;
    tw_addr addrs[TW__REAL_ADDRS_MAX];
    char host[]; /* NUL-terminated copy */
};

static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;

/* ------------------------------------------------------------------ */
/* 2. the worker                                                       */

/* twin errors are negative errnos, and getaddrinfo has its own codes:
 * a name that does not resolve gets twin's TW_EAI_* (twin/error.h),
 * whose texts are the resolver's, never a network errno that would send
 * the reader looking at routes. */
static int eai_errno(int rc, int sys_errno)
{
    switch (rc) {
    case EAI_SYSTEM:
        return sys_errno > 0 ? -sys_errno : -EIO;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_AGAIN:
        return TW_EAI_AGAIN;
    case EAI_FAMILY:
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -EAFNOSUPPORT;
    case EAI_NONAME:
        return TW_EAI_NONAME;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return TW_EAI_NODATA;
#endif
    case EAI_FAIL:
        return TW_EAI_FAIL;
    case EAI_SERVICE:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* Keep IPv4/IPv6 answers in the resolver's order, without duplicates
 * (glibc repeats an address once per socket type it could serve). */
static void keep(struct real_resolve *r, const struct addrinfo *ai)
{
    for (; ai != NULL && r->n < TW__REAL_ADDRS_MAX; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ai->ai_addrlen > sizeof r->addrs[0].u.ss)
            continue;
        tw_addr a = {.len = ai->ai_addrlen};
        memcpy(&a.u.ss, ai->ai_addr, ai->ai_addrlen);
        bool dup = false;
        for (int i = 0; i < r->n && !dup; i++)
            dup = tw_addr_equal(&r->addrs[i], &a);
        if (!dup)
            r->addrs[r->n++] = a;
    }
}

static void *resolve_worker(void *arg)
{
    struct real_resolve *r = arg;
    struct addrinfo hints = {.ai_family = r->family,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = r->passive ? AI_PASSIVE : 0};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)r->port);
    int rc = tw_sys.getaddrinfo(r->host, service, &hints, &res);
    if (rc != 0) {
        r->err = eai_errno(rc, errno);
    } else {
        keep(r, res);
        tw_sys.freeaddrinfo(res);
        if (r->n == 0)
            r->err = TW_EAI_NODATA; /* no IPv4 or IPv6 address */
    }

    pthread_mutex_lock(&resolve_lock);
    if (r->orphan) {
        pthread_mutex_unlock(&resolve_lock);
        free(r);
        return NULL;
    }
    struct real_loop *l = r->l;
    r->posted = true;
    r->next_done = l->done;
    l->done = r;
    /* Still under the lock: the loop cannot be destroyed (and its
     * eventfd closed or reused) between our check and this write. */
    tw__real_wakeup(l);
    pthread_mutex_unlock(&resolve_lock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* 3. the loop side                                                    */

struct real_resolve *tw__real_resolve(struct real_loop *l, const char *host,
                                      uint16_t port, int family,
                                      bool passive, real_resolve_cb cb,
                                      void *ctx, int *err)
{
    assert(host != NULL && cb != NULL);
    size_t hlen = strlen(host);
    struct real_resolve *r = calloc(1, sizeof *r + hlen + 1);
    if (r == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    memcpy(r->host, host, hlen + 1);
    r->l = l;
    r->port = port;
    r->family = family;
    r->passive = passive;
    r->cb = cb;
    r->ctx = ctx;

    /* The worker blocks every signal (it inherits the mask it is created
     * with): signals are the application's, for its own threads. */
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_t tid;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = tw_sys.pthread_create(&tid, &attr, resolve_worker, r);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        free(r);
        *err = -rc;
        return NULL;
    }
    tw__list_push(&l->resolving, &r->link);
    return r;
}

void tw__real_resolve_cancel(struct real_resolve *r)
{
    r->cb = NULL;
    r->ctx = NULL;
}

void *tw__real_resolve_op(tw_loop *loop, const char *host, uint16_t port,
                          bool passive, tw__resolve_cb cb, void *ctx,
                          int *err)
{
    return tw__real_resolve(tw__real_loop(loop), host, port, AF_UNSPEC,
                            passive, cb, ctx, err);
}

void tw__real_resolve_cancel_op(tw_loop *loop, void *req)
{
    (void)loop;
    tw__real_resolve_cancel(req);
}

void tw__real_resolve_drain(struct real_loop *l)
{
    pthread_mutex_lock(&resolve_lock);
    struct real_resolve *list = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&resolve_lock);

    /* Workers push at the head; reverse to deliver in finishing order. */
    struct real_resolve *fifo = NULL;
    while (list != NULL) {
        struct real_resolve *next = list->next_done;
        list->next_done = fifo;
        fifo = list;
        list = next;
    }
    while (fifo != NULL) {
        struct real_resolve *r = fifo;
        fifo = r->next_done;
        tw__list_remove(&r->link);
        /* Read cb now: an earlier callback of this drain may have
         * cancelled this request. */
        if (r->cb != NULL)
            r->cb(r->ctx, r->err, r->addrs, r->n);
        free(r);
    }
}

void tw__real_resolve_orphan_all(struct real_loop *l)
{
    pthread_mutex_lock(&resolve_lock);
    while (!tw__list_empty(&l->resolving)) {
        struct real_resolve *r =
            tw__container_of(l->resolving.next, struct real_resolve, link);
        tw__list_remove(&r->link);
        assert(r->cb == NULL); /* its owner was cancelled before this */
        if (r->posted)
            free(r); /* finished: its callback will never run now */
        else
            r->orphan = true; /* still running: the worker frees it */
    }
    l->done = NULL;
    pthread_mutex_unlock(&resolve_lock);
}
