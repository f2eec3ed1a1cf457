/* proto/serving.h - what a server app (echo-server, resp-server,
 * bulk-recv) tells its user about its listening sockets. Not installed.
 *
 * Where it listens: every address, once it listens. A numeric host
 * listens when tw_create_server returns; a host name only once it has
 * resolved (tw_server_opts.on_listening), and a name that does not
 * resolve, or whose addresses cannot be listened on, must not leave the
 * app waiting for nothing: the failure is said, naming the host, the
 * loop is stopped and the run fails.
 *
 * Accept failures for want of descriptors or memory
 * (tw_server_opts.on_accept_error): the server stops accepting for a
 * while and its clients wait in the listen backlog, unanswered, which a
 * user cannot tell from a hang unless told. The first failure is said at
 * once; after it, one line at most every TW__SERVING_SAY_EVERY of loop
 * time, counting the failures left unsaid since the line before; the
 * ones left unsaid at the end are counted when the app stops. Only the
 * loop's clock is read, and no timer is set: on a simulated node nothing
 * of the world's schedule changes.
 *
 * Messages go to `out` (the app's output) whether or not the app is
 * quiet: they are errors and warnings.
 */
#ifndef TWIN_PROTO_SERVING_H
#define TWIN_PROTO_SERVING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/twin.h"

#define TW__SERVING_SAY_EVERY TW_SEC(10)

typedef struct tw__serving {
    tw_loop *loop;
    FILE *out;
    const char *app;     /* its name, first word of every message */
    char where[300];     /* "HOST:PORT" or a Unix path, for messages */
    bool quiet;          /* no "Serving on" lines */
    bool said_where;     /* where it listens, or that it could not */
    bool failed;         /* could not listen: the run fails */
    /* accept failures */
    uint64_t failures;   /* all of them */
    uint64_t unsaid;     /* since the last line said */
    tw_ns said_at;       /* when that line was said */
} tw__serving;

/* Set up s for app `app` listening on host:port (path NULL) or on the
 * Unix path. app and out must outlive s; host and path are copied. */
void tw__serving_init(tw__serving *s, tw_loop *loop, FILE *out,
                      const char *app, const char *host, uint16_t port,
                      const char *path, bool quiet);

/* tw_create_server (or its kin) failed with err: say so. */
void tw__serving_create_failed(tw__serving *s, int err);

/* tw_create_server returned 0: say where srv listens if it already does
 * (a numeric host); a host name is said from tw__serving_listening. */
void tw__serving_started(tw__serving *s, const tw_server *srv);

/* From the server's on_listening: say where it listens (once, whatever
 * the backend calls back), or, err < 0, that it could not, and stop the
 * loop. Returns true in that case: the caller closes the server. */
bool tw__serving_listening(tw__serving *s, const tw_server *srv, int err);

/* From the server's on_accept_error. */
void tw__serving_accept_failed(tw__serving *s, int err);

/* The app is stopping: count the failures left unsaid. */
void tw__serving_fini(tw__serving *s);

#endif
