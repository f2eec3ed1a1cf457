/* proto/tls_app.h - the --tls options the apps of proto/ and apps/ share.
 *
 * An app keeps a tw__tls_app in its options struct, includes
 * tw__tls_server_opts or tw__tls_client_opts in its option table (a
 * TW_OPT_INCLUDE entry at the offset of that tw__tls_app), and asks
 * tw__tls_app_ctx for a context once the options are parsed (NULL and 0:
 * the user asked for no TLS).
 *
 * In a simulation (scenario files) certificate files work too, but
 * --tls-test-cert and --tls-test-ca need none and replay the same on
 * every machine (twin/tls.h, section 3).
 */
#ifndef TWIN_PROTO_TLS_APP_H
#define TWIN_PROTO_TLS_APP_H

#include <stdbool.h>
#include <stdio.h>

#include "twin/opts.h"
#include "twin/tls.h"

typedef struct tw__tls_app {
    tw_tls_opts opts;
    bool tls; /* --tls: TLS with nothing else to say */
} tw__tls_app;

/* --tls-cert, --tls-key, --tls-test-cert; and --tls, --tls-ca,
 * --tls-no-verify, --tls-name, --tls-test-ca: offsets into a tw__tls_app. */
extern const tw_opt tw__tls_server_opts[];
extern const tw_opt tw__tls_client_opts[];

/* True when some --tls option was given. */
bool tw__tls_app_on(const tw__tls_app *a);

/* The context the options ask for (the caller frees it), NULL with *err 0
 * when none was given, or NULL with a negative *err after a message
 * "APP: ..." to out. Unless quiet, every failed handshake is reported to
 * out as "TLS handshake failed: reason" (out must outlive the context:
 * the app's output does). */
tw_tls_ctx *tw__tls_app_ctx(const tw__tls_app *a, tw_tls_role role,
                            const char *app, FILE *out, bool quiet, int *err);

#endif
