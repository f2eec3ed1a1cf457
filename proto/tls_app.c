/* proto/tls_app.c - the --tls options the apps share (see tls_app.h). */
#include <errno.h>
#include <string.h>

#include "proto/tls_app.h"

int tw__tls_app_option(tw__tls_app *a, int opt, const char *arg)
{
    tw_tls_opts *o = &a->opts;
    switch (opt) {
    case TW__OPT_TLS: break;
    case TW__OPT_TLS_CERT: o->cert_file = arg; break;
    case TW__OPT_TLS_KEY: o->key_file = arg; break;
    case TW__OPT_TLS_CA: o->ca_file = arg; break;
    case TW__OPT_TLS_NO_VERIFY: o->no_verify = true; break;
    case TW__OPT_TLS_NAME: o->server_name = arg; break;
    case TW__OPT_TLS_TEST_CERT: o->test_cert = arg; break;
    case TW__OPT_TLS_TEST_CA: o->test_ca = true; break;
    default: return 0;
    }
    a->on = true;
    return 1;
}

static void report(void *out, int err, const char *reason)
{
    (void)err;
    fprintf(out, "TLS handshake failed: %s\n", reason);
    fflush(out);
}

tw_tls_ctx *tw__tls_app_ctx(const tw__tls_app *a, tw_tls_role role,
                            const char *app, FILE *out, bool quiet, int *err)
{
    *err = 0;
    if (!a->on)
        return NULL;
    const tw_tls_opts *o = &a->opts;
    if (role == TW_TLS_SERVER && !o->cert_file && !o->test_cert) {
        fprintf(out, "%s: --tls-key needs --tls-cert\n", app);
        *err = -EINVAL;
        return NULL;
    }
    tw_tls_ctx *ctx = tw_tls_ctx_new(role);
    if (!ctx) {
        fprintf(out, "%s: out of memory\n", app);
        *err = -ENOMEM;
        return NULL;
    }
    int rc = tw_tls_ctx_configure(ctx, o);
    if (rc < 0) {
        fprintf(out, "%s: TLS: %s\n", app, tw_tls_ctx_error(ctx));
        tw_tls_ctx_free(ctx);
        *err = rc;
        return NULL;
    }
    if (!quiet)
        tw_tls_ctx_set_error_cb(ctx, report, out);
    return ctx;
}
