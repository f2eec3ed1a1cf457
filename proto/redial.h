/* proto/redial.h - the apps' client connection that comes back: connect
 * to host:port (TCP, or TLS with a context), and after a connect that
 * failed or a connection that was lost, connect again after a delay that
 * starts at `retry` and doubles up to 2 s, until the app is done or the
 * attempts run out.
 *
 * Used by: echo-load, resp-client. The app embeds a tw__redial, fills its
 * settings and calls tw__redial_start. Each connection's protocol comes
 * from factory(arg); the app calls tw__redial_up from its
 * connection_made (the delay starts over) and tw__redial_failed from its
 * connection_lost when it still wants a connection. A failed connect is
 * seen here. Either way on_failure(arg, err, again) tells the app, after
 * the next connect is scheduled (again) or once the redialer gave up.
 *
 * Ownership: the redialer owns the connect in flight. tw__redial_stop
 * (the loop alive: the app is going) cancels the timer and leaves the
 * connect to end on its own, its protocol never made; tw__redial_discard
 * is for a simulated crash, after which a pending connect never calls
 * back and timers are gone.
 */
#ifndef TWIN_PROTO_REDIAL_H
#define TWIN_PROTO_REDIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "twin/tls.h"
#include "twin/twin.h"

#define TW__REDIAL_RETRY_MAX TW_SEC(2)

struct tw__redial_attempt;

typedef struct tw__redial {
    /* settings, before tw__redial_start */
    tw_loop *loop;
    const char *host; /* not copied: lives as long as the redialer */
    uint16_t port;
    tw_tls_ctx *tls;       /* NULL: plain TCP (not owned) */
    tw_ns retry;           /* the first delay */
    uint64_t attempts_max; /* connects at most (0: no limit) */
    bool once;             /* never connect again: give up at a failure */
    tw_protocol_factory factory;
    void *arg;
    void (*on_failure)(void *arg, int err, bool again);
    /* state */
    struct tw__redial_attempt *pending;
    tw_handle timer;
    tw_ns backoff;
    uint64_t attempts, connects, failures;
    bool gave_up;
} tw__redial;

/* Connect now. */
void tw__redial_start(tw__redial *r);
/* A connection is made (from its connection_made). */
void tw__redial_up(tw__redial *r);
/* The connection failed with err (from connection_lost): connect again
 * later, or give up. */
void tw__redial_failed(tw__redial *r, int err);
/* The app is going, its loop alive: no connect is made again. */
void tw__redial_stop(tw__redial *r);
/* The app is going after a simulated crash. */
void tw__redial_discard(tw__redial *r);

#endif
