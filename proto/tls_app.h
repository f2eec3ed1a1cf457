/* proto/tls_app.h - the --tls options the apps of proto/ share.
 *
 * An app splices TW__TLS_SERVER_OPTIONS or TW__TLS_CLIENT_OPTIONS into its
 * getopt_long table, hands every option it does not know to
 * tw__tls_app_option, appends the matching usage text, and asks
 * tw__tls_app_ctx for a context once the options are parsed (NULL and 0:
 * the user asked for no TLS).
 *
 * In a simulation (scenario files) certificate files work too, but
 * --tls-test-cert and --tls-test-ca need none and replay the same on
 * every machine (twin/tls.h, section 3).
 */
#ifndef TWIN_PROTO_TLS_APP_H
#define TWIN_PROTO_TLS_APP_H

#include <getopt.h>
#include <stdio.h>

#include "twin/tls.h"

enum {
    TW__OPT_TLS = 0x7100,
    TW__OPT_TLS_CERT,
    TW__OPT_TLS_KEY,
    TW__OPT_TLS_CA,
    TW__OPT_TLS_NO_VERIFY,
    TW__OPT_TLS_NAME,
    TW__OPT_TLS_TEST_CERT,
    TW__OPT_TLS_TEST_CA,
};

#define TW__TLS_SERVER_OPTIONS                                         \
    {"tls-cert", required_argument, 0, TW__OPT_TLS_CERT},              \
    {"tls-key", required_argument, 0, TW__OPT_TLS_KEY},                \
    {"tls-test-cert", required_argument, 0, TW__OPT_TLS_TEST_CERT}

#define TW__TLS_CLIENT_OPTIONS                                         \
    {"tls", no_argument, 0, TW__OPT_TLS},                              \
    {"tls-ca", required_argument, 0, TW__OPT_TLS_CA},                  \
    {"tls-no-verify", no_argument, 0, TW__OPT_TLS_NO_VERIFY},          \
    {"tls-name", required_argument, 0, TW__OPT_TLS_NAME},              \
    {"tls-test-ca", no_argument, 0, TW__OPT_TLS_TEST_CA}

#define TW__TLS_SERVER_USAGE                                                  \
    "  --tls-cert FILE serve TLS with this certificate chain (PEM)\n"         \
    "  --tls-key FILE  its private key (PEM; default: in --tls-cert)\n"       \
    "  --tls-test-cert NAMES\n"                                               \
    "                  serve TLS with twin's test certificate for NAMES\n"    \
    "                  (comma separated; INSECURE: tests only)\n"

#define TW__TLS_CLIENT_USAGE                                                  \
    "  --tls                connect with TLS, verifying the server\n"         \
    "  --tls-ca FILE        trust these CAs (PEM) instead of the system's\n"  \
    "  --tls-no-verify      do not verify the server (still encrypted)\n"     \
    "  --tls-name NAME      the server's name to check (default: the host)\n" \
    "  --tls-test-ca        trust twin's test CA (INSECURE: tests only)\n"

typedef struct tw__tls_app {
    tw_tls_opts opts;
    bool on; /* some --tls option was given */
} tw__tls_app;

/* 1 if opt was a TLS option (then taken), 0 if not. */
int tw__tls_app_option(tw__tls_app *a, int opt, const char *arg);

/* The context the options ask for (the caller frees it), NULL with *err 0
 * when none was given, or NULL with a negative *err after a message
 * "APP: ..." to out. Unless quiet, every failed handshake is reported to
 * out as "TLS handshake failed: reason" (out must outlive the context:
 * the app's output does). */
tw_tls_ctx *tw__tls_app_ctx(const tw__tls_app *a, tw_tls_role role,
                            const char *app, FILE *out, bool quiet, int *err);

#endif
