/* apps/redial.h - the apps' client connection that comes back: connect
 * to host:port (TCP, or TLS with a context), and after a connect that
 * failed or a connection that was lost, connect again after a delay that
 * starts at `retry` and doubles up to 2 s, until the app is done or the
 * attempts run out.
 *
 * Used by: echo-load, resp-client. The app embeds an apps_redial, fills
 * its settings and calls apps_redial_start. Each connection's protocol is
 * an apps_redial_conn running the app's `ops`; from those callbacks the app
 * reaches its state with apps_redial_made (connection_made),
 * apps_redial_app (the others) and apps_redial_lost (connection_lost),
 * each NULL once the app is gone, and the connection that is up is
 * `conn`. The app calls apps_redial_failed from connection_lost when it
 * still wants a connection. A failed connect is seen here. Either way
 * on_failure(arg, err, again) tells the app, after the next connect is
 * scheduled (again) or once the redialer gave up.
 *
 * Ownership: the redialer owns the connect in flight and knows the
 * connection that is up; a connection's protocol is freed by its release
 * (apps_redial_release, which the app's ops must name). apps_redial_stop
 * (the loop alive: the app is going) cancels the timer, closes the
 * connection and leaves the connect to end on its own, its protocol never
 * made; apps_redial_discard is for a simulated crash, after which a
 * pending connect never calls back and timers are gone.
 */
#ifndef TWIN_APPS_REDIAL_H
#define TWIN_APPS_REDIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "twin/tls.h"
#include "twin/twin.h"

#define APPS_REDIAL_RETRY_MAX TW_SEC(2)

struct apps_redial_attempt;
struct apps_redial;

/* A connection's protocol: the app's ops run on it. */
typedef struct apps_redial_conn {
    tw_protocol base;
    struct apps_redial *r; /* NULL once lost, or once the app went */
    tw_transport *t;      /* set at connection_made */
} apps_redial_conn;

typedef struct apps_redial {
    /* settings, before apps_redial_start */
    tw_loop *loop;
    const char *host; /* not copied: lives as long as the redialer */
    uint16_t port;
    tw_tls_ctx *tls;       /* NULL: plain TCP (not owned) */
    tw_ns retry;           /* the first delay */
    uint64_t attempts_max; /* connects at most (0: no limit) */
    bool once;             /* never connect again: give up at a failure */
    const tw_protocol_ops *ops; /* each connection's; .release = apps_redial_release */
    void *arg;                  /* the app's state, handed to the callbacks */
    void (*on_failure)(void *arg, int err, bool again);
    /* state */
    struct apps_redial_attempt *pending;
    apps_redial_conn *conn; /* made by the last connect and not lost, or NULL */
    tw_handle timer;
    tw_ns backoff;
    uint64_t attempts, connects, failures;
    bool gave_up;
} apps_redial;

/* Connect now. */
void apps_redial_start(apps_redial *r);
/* From connection_made: the app's arg, and the delay starts over; NULL
 * when the app went meanwhile (the connection is then closed). */
void *apps_redial_made(tw_protocol *p, tw_transport *t);
/* From the other callbacks: the app's arg, NULL once the connection is
 * lost or the app went. */
void *apps_redial_app(tw_protocol *p);
/* From connection_lost: the app's arg (NULL as above); the connection is
 * no longer `conn`. */
void *apps_redial_lost(tw_protocol *p);
/* The ops' release: frees the connection's protocol. */
void apps_redial_release(tw_protocol *p);
/* The transport of the connection that is up, or NULL. */
static inline tw_transport *apps_redial_transport(const apps_redial *r)
{
    return r->conn ? r->conn->t : NULL;
}
/* The connection failed with err (from connection_lost): connect again
 * later, or give up. */
void apps_redial_failed(apps_redial *r, int err);
/* The app is going, its loop alive: no connect is made again, and the
 * connection that is up is closed, its callbacks finding no app. */
void apps_redial_stop(apps_redial *r);
/* The app is going after a simulated crash. */
void apps_redial_discard(apps_redial *r);

#endif
