/* proto/serving.c - a server app's reports on its listening sockets
 * (proto/serving.h).
 *
 * Map: setting up; where it listens, or why not; accept failures.
 */
#include <string.h>

#include "proto/serving.h"

/* ---- setting up ---- */

void tw__serving_init(tw__serving *s, tw_loop *loop, FILE *out,
                      const char *app, const char *host, uint16_t port,
                      const char *path, bool quiet)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->out = out;
    s->app = app;
    s->quiet = quiet;
    if (path)
        snprintf(s->where, sizeof s->where, "%s", path);
    else if (host && strchr(host, ':'))
        snprintf(s->where, sizeof s->where, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(s->where, sizeof s->where, "%s:%u",
                 host && *host ? host : "*", (unsigned)port);
}

/* ---- where it listens, or why not ---- */

void tw__serving_create_failed(tw__serving *s, int err)
{
    fprintf(s->out, "%s: cannot listen on %s: %s\n", s->app, s->where,
            tw_strerror(err));
    fflush(s->out);
}

static void say_where(tw__serving *s, const tw_server *srv)
{
    s->said_where = true;
    if (s->quiet)
        return;
    for (int i = 0; i < tw_server_count(srv); i++) {
        tw_addr addr;
        char buf[TW_ADDR_STRLEN];
        if (tw_server_sockname(srv, i, &addr) == 0)
            fprintf(s->out, "Serving on %s\n",
                    tw_addr_format(&addr, buf, sizeof buf));
    }
    fflush(s->out);
}

void tw__serving_started(tw__serving *s, const tw_server *srv)
{
    if (tw_server_count(srv) > 0)
        say_where(s, srv);
}

bool tw__serving_listening(tw__serving *s, const tw_server *srv, int err)
{
    if (s->said_where)
        return false; /* listening since the create returned */
    if (err == 0) {
        say_where(s, srv);
        return false;
    }
    s->said_where = true;
    s->failed = true;
    tw__serving_create_failed(s, err);
    tw_loop_stop(s->loop);
    return true;
}

/* ---- accept failures ---- */

void tw__serving_accept_failed(tw__serving *s, int err)
{
    tw_ns now = tw_loop_now(s->loop);
    bool first = s->failures++ == 0;
    if (!first && now - s->said_at < TW__SERVING_SAY_EVERY) {
        s->unsaid++;
        return;
    }
    if (first)
        fprintf(s->out,
                "%s: cannot accept a connection: %s (%s); clients wait "
                "unanswered until it can\n",
                s->app, tw_strerror(err), tw_errname(err));
    else
        fprintf(s->out,
                "%s: cannot accept a connection: %s (%s); %llu more time(s) "
                "since the last message\n",
                s->app, tw_strerror(err), tw_errname(err),
                (unsigned long long)s->unsaid);
    fflush(s->out);
    s->unsaid = 0;
    s->said_at = now;
}

void tw__serving_fini(tw__serving *s)
{
    if (s->unsaid) {
        fprintf(s->out,
                "%s: accepting failed %llu more time(s) after the last message "
                "(%llu in all)\n",
                s->app, (unsigned long long)s->unsaid,
                (unsigned long long)s->failures);
        fflush(s->out);
    }
    s->unsaid = 0;
}
