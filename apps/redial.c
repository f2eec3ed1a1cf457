/* apps/redial.c - the apps' client connection that comes back
 * (apps/redial.h).
 *
 * A connect in flight has an attempt of its own, which the connect's
 * callback frees. The attempt points back at the redialer until the app
 * goes; after that the factory makes no protocol and the callback only
 * frees the attempt, so an app can go at any time.
 */
#include <errno.h>
#include <stdlib.h>

#include "apps/redial.h"

typedef struct apps_redial_attempt {
    apps_redial *r; /* NULL once the app is gone */
} attempt;

static void connect_now(apps_redial *r);

static void retry_cb(void *arg)
{
    apps_redial *r = arg;
    r->timer = 0;
    connect_now(r);
}

void apps_redial_failed(apps_redial *r, int err)
{
    r->failures++;
    bool again = !r->once && !(r->attempts_max && r->attempts >= r->attempts_max);
    if (again) {
        r->timer = tw_call_later(r->loop, r->backoff, retry_cb, r);
        r->backoff = r->backoff * 2 > APPS_REDIAL_RETRY_MAX ? APPS_REDIAL_RETRY_MAX
                                                          : r->backoff * 2;
    } else {
        r->gave_up = true;
    }
    if (r->on_failure)
        r->on_failure(r->arg, err, again);
}

static tw_protocol *attempt_factory(void *arg)
{
    attempt *at = arg;
    if (!at->r)
        return NULL; /* the app went */
    apps_redial_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->base.ops = at->r->ops;
    c->r = at->r;
    at->r->conn = c;
    return &c->base;
}

static void attempt_done(void *arg, tw_transport *t, int err)
{
    attempt *at = arg;
    apps_redial *r = at->r;
    free(at);
    if (!r)
        return;
    r->pending = NULL;
    if (!t)
        apps_redial_failed(r, err);
}

static void connect_now(apps_redial *r)
{
    attempt *at = calloc(1, sizeof *at);
    int rc = at ? 0 : -ENOMEM;
    r->attempts++;
    if (at) {
        at->r = r;
        rc = r->tls ? tw_create_connection_tls(r->loop, attempt_factory, at, r->host,
                                               r->port, r->tls, attempt_done)
                    : tw_create_connection(r->loop, attempt_factory, at, r->host,
                                           r->port, attempt_done);
    }
    if (rc < 0) {
        free(at);
        apps_redial_failed(r, rc);
        return;
    }
    r->pending = at;
}

void apps_redial_start(apps_redial *r)
{
    r->backoff = r->retry;
    connect_now(r);
}

void *apps_redial_made(tw_protocol *p, tw_transport *t)
{
    apps_redial_conn *c = (apps_redial_conn *)p;
    c->t = t;
    if (!c->r) {
        tw_transport_close(t);
        return NULL;
    }
    c->r->connects++;
    c->r->backoff = c->r->retry;
    return c->r->arg;
}

void *apps_redial_app(tw_protocol *p)
{
    apps_redial_conn *c = (apps_redial_conn *)p;
    return c->r ? c->r->arg : NULL;
}

void *apps_redial_lost(tw_protocol *p)
{
    apps_redial_conn *c = (apps_redial_conn *)p;
    apps_redial *r = c->r;
    if (!r)
        return NULL;
    c->r = NULL;
    r->conn = NULL;
    return r->arg;
}

void apps_redial_release(tw_protocol *p)
{
    apps_redial_conn *c = (apps_redial_conn *)p;
    if (c->r && c->r->conn == c)
        c->r->conn = NULL;
    free(c);
}

void apps_redial_stop(apps_redial *r)
{
    if (r->timer)
        tw_handle_cancel(r->loop, r->timer);
    r->timer = 0;
    if (r->pending)
        r->pending->r = NULL; /* attempt_done frees it */
    r->pending = NULL;
    apps_redial_conn *c = r->conn;
    r->conn = NULL;
    if (c) {
        c->r = NULL;
        if (c->t)
            tw_transport_close(c->t);
    }
}

void apps_redial_discard(apps_redial *r)
{
    free(r->pending);
    r->pending = NULL;
    r->timer = 0;
    if (r->conn) /* else cleared already, by the release the crash made */
        r->conn->r = NULL;
    r->conn = NULL;
}
