/* real/loop.c - the epoll loop: clock, poll, wakeup, watchers.
 *
 * Map:
 *   1. watchers: one epoll_ctl per interest change, none when unchanged
 *   2. the clock and poll (busy polling, epoll_wait, then dispatch the
 *      batch)
 *   3. wakeup: the eventfd, also the resolver's door back in
 *   4. the ops table, tw_loop_new and destroy
 *
 * The core runs the loop (ops->run is NULL): it calls poll with the time
 * until the next timer, then runs what is ready. Level-triggered watchers
 * that do not consume everything are simply called again. Edge-triggered
 * ones (streams: one epoll_ctl per connection, and no re-check of every
 * reported socket on the next epoll_wait) are not, so they ask to be
 * called again after the next batch (the `again` list) when they stop
 * reading before the socket is drained.
 */
#include "real/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/eventfd.h>

/* Batch size bounds: start small, grow while batches come back full. */
#define EVENTS_MIN 64
#define EVENTS_MAX 4096

/* ------------------------------------------------------------------ */
/* 1. watchers                                                         */

/* Forget io's events still queued in the batch being dispatched: its
 * owner stopped it (and may free it) from an earlier callback. */
static void batch_forget(struct real_loop *l, const struct real_io *io)
{
    for (int i = l->batch_i + 1; i < l->batch_n; i++)
        if (l->events[i].data.ptr == io)
            l->events[i].data.ptr = NULL;
}

static bool again_on(const struct real_io *io)
{
    return io->again.next != NULL && io->again.next != &io->again;
}

static void again_cancel(struct real_io *io)
{
    if (again_on(io))
        tw__list_remove(&io->again); /* leaves it pointing at itself */
}

void tw__real_io_again(struct real_loop *l, struct real_io *io)
{
    assert(io->mask != 0);
    if (!again_on(io))
        tw__list_push(&l->again, &io->again);
}

int tw__real_io_rearm(struct real_loop *l, struct real_io *io)
{
    assert(io->mask != 0);
    struct epoll_event ev = {.events = io->mask, .data.ptr = io};
    return tw_sys.epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno
                                                                      : 0;
}

int tw__real_io_set(struct real_loop *l, struct real_io *io, uint32_t mask)
{
    if (mask == 0)
        again_cancel(io);
    if (mask == io->mask)
        return 0;
    assert(io->fd >= 0);
    if (mask == 0) {
        /* Removal cannot usefully fail: ENOENT/EBADF mean the fd is not
         * in the set anyway, and the fd is about to be closed. */
        tw_sys.epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
        io->mask = 0;
        batch_forget(l, io);
        return 0;
    }
    struct epoll_event ev = {.events = mask, .data.ptr = io};
    int op = io->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (tw_sys.epoll_ctl(l->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->mask = mask;
    return 0;
}

/* ------------------------------------------------------------------ */
/* 2. the clock and poll                                               */

static tw_ns real_now(tw_loop *loop)
{
    struct real_loop *l = tw__real_loop(loop);
    struct timespec ts;
    if (tw_sys.clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        l->last_now = (tw_ns)ts.tv_sec * TW_NS_PER_SEC + ts.tv_nsec;
    return l->last_now;
}

/* epoll_wait counts milliseconds. Round up: rounding a 0.3 ms timer down
 * to 0 would make the loop spin until it is due. */
static int timeout_ms(tw_ns timeout)
{
    if (timeout < 0)
        return -1;
    tw_ns ms = (timeout + TW_NS_PER_MS - 1) / TW_NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* The batch came back full: more fds are probably ready than we asked
 * for, so ask for more next time (failure just keeps the old size). */
static void events_grow(struct real_loop *l)
{
    if (l->events_cap >= EVENTS_MAX)
        return;
    int cap = l->events_cap * 2;
    struct epoll_event *ev = realloc(l->events, (size_t)cap * sizeof *ev);
    if (ev == NULL)
        return;
    l->events = ev;
    l->events_cap = cap;
}

/* Busy polling (tw_real_opts.busy_poll). Polling pays when the next
 * event tends to come within the window, and is CPU time thrown away
 * when it does not: so the loop polls only while at least a quarter of
 * its recent idle gaps (an average decaying by 1/8 a wait) were no
 * longer than the window. Gaps are measured whether it polled or slept,
 * so a loop that stopped polling starts again when its gaps shorten,
 * and one whose events come further apart than the window soon stops. */
#define SPIN_ONE 256          /* fixed point: the hit rate 1.0 */
#define SPIN_MIN_RATE (SPIN_ONE / 4)

/* The clock while polling: false when it fails, and then the loop stops
 * polling (its last reading would never reach the window's end). */
static bool spin_clock(struct real_loop *l, tw_ns *now)
{
    struct timespec ts;
    if (tw_sys.clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return false;
    *now = l->last_now = (tw_ns)ts.tv_sec * TW_NS_PER_SEC + ts.tv_nsec;
    return true;
}

static void spin_note(struct real_loop *l, tw_ns idle)
{
    int hit = idle <= l->spin_max ? SPIN_ONE : 0;
    l->spin_rate += (hit - l->spin_rate) / 8;
    /* An average of hits (SPIN_ONE) and misses (0) stays between them. */
    assert(l->spin_rate >= 0 && l->spin_rate <= SPIN_ONE);
}

/* epoll_wait into l->events for up to timeout (ns; -1: no limit): first
 * without sleeping for up to the busy-poll window, then asleep for what
 * is left. Returns what epoll_wait returned. */
static int wait_events(struct real_loop *l, tw_ns timeout)
{
    if (timeout == 0 || l->spin_max == 0)
        return tw_sys.epoll_wait(l->epfd, l->events, l->events_cap,
                                 timeout_ms(timeout));
    tw_ns t0 = real_now(&l->base), now = t0;
    int n = 0;
    if (l->spin_rate >= SPIN_MIN_RATE) {
        tw_ns spin = timeout >= 0 && timeout < l->spin_max ? timeout : l->spin_max;
        do {
            n = tw_sys.epoll_wait(l->epfd, l->events, l->events_cap, 0);
            if (n != 0 || !spin_clock(l, &now))
                break;
        } while (now - t0 < spin);
        if (n != 0 || (timeout >= 0 && now - t0 >= timeout)) {
            spin_note(l, now - t0);
            return n;
        }
    }
    n = tw_sys.epoll_wait(l->epfd, l->events, l->events_cap,
                          timeout_ms(timeout < 0 ? -1 : timeout - (now - t0)));
    spin_note(l, real_now(&l->base) - t0);
    return n;
}

/* Move the watchers that asked to be called again to todo. Taken before
 * the wait: what is asked from here on waits for the next poll, so a
 * watcher that never drains cannot pin the loop in one poll. */
static bool again_take(struct real_loop *l, tw__list *todo)
{
    if (tw__list_empty(&l->again)) {
        tw__list_init(todo);
        return false;
    }
    todo->next = l->again.next;
    todo->prev = l->again.prev;
    todo->next->prev = todo;
    todo->prev->next = todo;
    tw__list_init(&l->again);
    return true;
}

static void again_give_back(struct real_loop *l, tw__list *todo)
{
    while (!tw__list_empty(todo)) {
        tw__list *item = todo->next;
        tw__list_remove(item);
        tw__list_push(&l->again, item);
    }
}

/* A watcher stopped in the meantime has left todo (again_cancel). */
static void again_run(tw__list *todo)
{
    while (!tw__list_empty(todo)) {
        struct real_io *io = tw__container_of(todo->next, struct real_io, again);
        assert(again_on(io) && io->mask != 0); /* listed while watched */
        again_cancel(io);
        io->cb(io, EPOLLIN);
    }
}

static int real_poll(tw_loop *loop, tw_ns timeout)
{
    struct real_loop *l = tw__real_loop(loop);
    tw__list todo;
    bool again = again_take(l, &todo);
    int n = wait_events(l, again ? 0 : timeout);
    if (n < 0) {
        int err = errno;
        if (err != EINTR) {
            /* The run ends; the asks stand for the next one. */
            if (again)
                again_give_back(l, &todo);
            return -err;
        }
        n = 0;
    }
    assert(n <= l->events_cap);
    l->batch_n = n;
    for (int i = 0; i < n; i++) {
        l->batch_i = i;
        struct real_io *io = l->events[i].data.ptr;
        /* A watcher removed earlier in the batch was forgotten (NULL):
         * every one still named here is in the set. */
        assert(io == NULL || io->mask != 0);
        if (io != NULL)
            io->cb(io, l->events[i].events);
    }
    l->batch_i = 0;
    l->batch_n = 0;
    if (n == l->events_cap)
        events_grow(l);
    again_run(&todo);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 3. wakeup                                                           */

void tw__real_wakeup(struct real_loop *l)
{
    uint64_t one = 1;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++) {
        if (tw_sys.write(l->wake.fd, &one, sizeof one) >= 0)
            return;
        /* EAGAIN: the counter is saturated, so a wakeup is pending
         * already; nothing else can fail on our own eventfd. */
        if (errno != EINTR)
            return;
    }
}

static void real_wakeup(tw_loop *loop)
{
    tw__real_wakeup(tw__real_loop(loop));
}

/* The eventfd is readable: reset it, then take in resolver results.
 * Threadsafe callbacks need nothing here: the core drains its inbox when
 * it runs the ready queue, and waking up was the whole point. */
static void wake_cb(struct real_io *io, uint32_t events)
{
    struct real_loop *l = tw__container_of(io, struct real_loop, wake);
    uint64_t n;
    for (int i = 0; i < TW__REAL_EINTR_MAX; i++)
        if (tw_sys.read(io->fd, &n, sizeof n) >= 0 || errno != EINTR)
            break;
    tw__real_resolve_drain(l);
}

/* ------------------------------------------------------------------ */
/* 4. ops, new, destroy                                                */

static void real_destroy(tw_loop *loop);

/* RLIMIT_NOFILE, its soft limit raised towards want within the hard
 * one. A failure to read it says "no limit known" (UINT64_MAX); a failure
 * to raise it leaves the limit as it was, which is what is returned. */
static uint64_t real_fd_limit(tw_loop *loop, uint64_t want)
{
    (void)loop;
    struct rlimit rl;
    if (tw_sys.getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    if (want > rl.rlim_cur && rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = rl;
        up.rlim_cur = rl.rlim_max == RLIM_INFINITY || want < rl.rlim_max
                          ? (rlim_t)want
                          : rl.rlim_max;
        if (tw_sys.setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl = up;
    }
    return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
}

/* The wall clock less the loop's: added to tw_loop_now it gives the time
 * of day. Read afresh each call (the wall clock may be stepped); a
 * failing clock gives the virtual epoch rather than nothing. */
static tw_ns real_epoch(tw_loop *loop)
{
    struct timespec ts;
    if (tw_sys.clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return TW_EPOCH_VIRTUAL;
    return (tw_ns)ts.tv_sec * TW_NS_PER_SEC + ts.tv_nsec - real_now(loop);
}

static const tw__loop_ops real_ops = {
    .name = "real",
    .now = real_now,
    .poll = real_poll,
    .run = NULL,
    .wakeup = real_wakeup,
    .destroy = real_destroy,
    .connect_host = tw__real_connect_host,
    .connect_addr = tw__real_connect_addr,
    .connect_fd = tw__real_connect_fd,
    .create_server = tw__real_create_server,
    .create_unix_server = tw__real_create_unix_server,
    .create_datagram_endpoint = tw__real_create_datagram_endpoint,
    .resolve = tw__real_resolve_op,
    .resolve_cancel = tw__real_resolve_cancel_op,
    .connect_pipe = tw__real_connect_pipe,
    .subprocess = tw__real_subprocess,
    .fd_limit = real_fd_limit,
    .epoch = real_epoch,
    .file = &tw__real_file_ops,
    .dial = tw__real_dial,
    .dial_cancel = tw__real_dial_cancel,
};

/* Release what tw_loop_new acquired, in reverse; safe on a partial loop.
 * errno is preserved for tw_loop_new's caller. */
static void release(struct real_loop *l)
{
    int saved = errno;
    if (l->wake.fd >= 0) {
        tw__real_io_set(l, &l->wake, 0);
        tw_sys.close(l->wake.fd);
    }
    if (l->epfd >= 0)
        tw_sys.close(l->epfd);
    free(l->events);
    free(l);
    errno = saved;
}

tw_loop *tw_loop_new(const tw_real_opts *opts)
{
    size_t read_size = TW__READ_SIZE_DEFAULT;
    tw_ns retry = TW_SEC(1);
    if (opts != NULL && opts->read_size > 0)
        read_size = opts->read_size;
    if (opts != NULL && opts->accept_retry_delay > 0)
        retry = opts->accept_retry_delay;
    tw_ns spin = opts != NULL && opts->busy_poll > 0 ? opts->busy_poll : 0;

    struct real_loop *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->epfd = -1;
    l->wake.fd = -1;
    l->wake.cb = wake_cb;
    l->accept_retry_delay = retry;
    l->spin_max = spin;
    l->spin_rate = SPIN_ONE;
    tw__list_init(&l->pending);
    tw__list_init(&l->resolving);
    tw__list_init(&l->again);

    l->events_cap = EVENTS_MIN;
    l->events = malloc((size_t)l->events_cap * sizeof *l->events);
    if (l->events == NULL)
        goto fail;
    l->epfd = tw_sys.epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        goto fail;
    l->wake.fd = tw_sys.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake.fd < 0)
        goto fail;
    int r = tw__real_io_set(l, &l->wake, EPOLLIN);
    if (r < 0) {
        errno = -r;
        goto fail;
    }
    r = tw__loop_init(&l->base, &real_ops, read_size);
    if (r < 0) {
        errno = -r;
        goto fail;
    }
    real_now(&l->base);
    if (opts != NULL && opts->record != NULL &&
        (r = tw__rec_start(&l->base, opts->record)) < 0) {
        tw_loop_free(&l->base); /* nothing of it is in use yet */
        errno = -r;
        return NULL;
    }
    return &l->base;

fail:
    release(l);
    return NULL;
}

/* tw_loop_free. Order matters: our pending connects go first (without
 * callbacks), then the core closes servers and destroys transports (which
 * still need the epoll fd, and cancel their resolutions), and only then
 * can the resolutions left be orphaned and the fds closed. */
static void real_destroy(tw_loop *loop)
{
    struct real_loop *l = tw__real_loop(loop);
    while (!tw__list_empty(&l->pending)) {
        struct real_pending *p =
            tw__container_of(l->pending.next, struct real_pending, link);
        p->cancel(p);
    }
    tw__loop_fini(loop);
    tw__real_resolve_orphan_all(l);
    release(l);
}
