/* proto/tls_app.c - the --tls options of the built-in apps and of any app
 * (twin/tls.h, section 2). */
#include <errno.h>
#include <string.h>

#include "twin/opts.h"
#include "twin/tls.h"

const tw_opt tw_tls_server_opts[] = {
    {.name = "tls-cert", TW_OPT_FIELD(TW_OPT_STRING, tw_tls_app, opts.cert_file),
     .meta = "FILE", .help = "serve TLS with this certificate chain (PEM)"},
    {.name = "tls-key", TW_OPT_FIELD(TW_OPT_STRING, tw_tls_app, opts.key_file),
     .meta = "FILE", .help = "its private key (PEM; default: in --tls-cert)"},
    {.name = "tls-test-cert", TW_OPT_FIELD(TW_OPT_STRING, tw_tls_app, opts.test_cert),
     .meta = "NAMES",
     .help = "serve TLS with twin's test certificate for NAMES\n"
             "(comma separated; INSECURE: tests only)"},
    {0},
};

const tw_opt tw_tls_client_opts[] = {
    {.name = "tls", TW_OPT_FIELD(TW_OPT_FLAG, tw_tls_app, tls),
     .help = "connect with TLS, verifying the server"},
    {.name = "tls-ca", TW_OPT_FIELD(TW_OPT_STRING, tw_tls_app, opts.ca_file),
     .meta = "FILE", .help = "trust these CAs (PEM) instead of the system's"},
    {.name = "tls-no-verify", TW_OPT_FIELD(TW_OPT_FLAG, tw_tls_app, opts.no_verify),
     .help = "do not verify the server (still encrypted)"},
    {.name = "tls-name", TW_OPT_FIELD(TW_OPT_STRING, tw_tls_app, opts.server_name),
     .meta = "NAME", .help = "the server's name to check (default: the host)"},
    {.name = "tls-test-ca", TW_OPT_FIELD(TW_OPT_FLAG, tw_tls_app, opts.test_ca),
     .help = "trust twin's test CA (INSECURE: tests only)"},
    {0},
};

bool tw_tls_app_on(const tw_tls_app *a)
{
    const tw_tls_opts *o = &a->opts;
    return a->tls || o->cert_file || o->key_file || o->ca_file || o->no_verify ||
           o->server_name || o->test_cert || o->test_ca;
}

static void report(void *out, int err, const char *reason)
{
    (void)err;
    fprintf(out, "TLS handshake failed: %s\n", reason);
    fflush(out);
}

tw_tls_ctx *tw_tls_app_ctx(const tw_tls_app *a, tw_tls_role role,
                            const char *app, FILE *out, bool quiet, int *err)
{
    *err = 0;
    if (!tw_tls_app_on(a))
        return NULL;
    const tw_tls_opts *o = &a->opts;
    if (role == TW_TLS_SERVER && !o->cert_file && !o->test_cert) {
        fprintf(out, "%s: --tls-key needs --tls-cert\n", app);
        *err = -EINVAL;
        return NULL;
    }
    /* Made once per process for the same options: a sweep's worlds
     * differ by seed, their certificates and contexts do not. */
    tw_tls_ctx *ctx;
    int rc = tw_tls_ctx_new_shared(role, o, &ctx);
    if (!ctx) {
        fprintf(out, "%s: out of memory\n", app);
        *err = -ENOMEM;
        return NULL;
    }
    if (rc < 0) {
        fprintf(out, "%s: TLS: %s\n", app, tw_tls_ctx_error(ctx));
        tw_tls_ctx_free(ctx);
        /* Well-formed options naming files that do not do (a key that
         * does not fit its certificate, a PEM that is none): no bad
         * option (-EINVAL would have `twin run` print the usage after
         * the message that says it all). */
        *err = rc == -EINVAL ? -EBADMSG : rc;
        return NULL;
    }
    if (!quiet)
        tw_tls_ctx_set_error_cb(ctx, report, out);
    return ctx;
}
