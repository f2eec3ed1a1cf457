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
 * Messages go to `out` (the app's output) whether or not the app is
 * quiet: they are errors.
 */
#ifndef TWIN_PROTO_SERVING_H
#define TWIN_PROTO_SERVING_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/twin.h"

typedef struct tw__serving {
    tw_loop *loop;
    FILE *out;
    const char *app;     /* its name, first word of every message */
    char where[300];     /* "HOST:PORT" or a Unix path, for messages */
    bool quiet;          /* no "Serving on" lines */
    bool said_where;     /* where it listens, or that it could not */
    bool failed;         /* could not listen: the run fails */
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

#endif
