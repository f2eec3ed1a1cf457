/* core/contract.c - the contract checker: the reference text's state
 * machines as a table of small rules, and strict mode's reports of what
 * the protocol itself does with its transports.
 *
 *   stream    connection_made -> data_received* -> eof_received? ->
 *             connection_lost
 *   buffered  connection_made -> (get_buffer -> buffer_updated?)* ->
 *             eof_received? -> connection_lost
 *   flow      pause_writing / resume_writing alternate, pause first
 *   process   connection_made -> (pipe_data_received | pipe_connection_lost
 *             | process_exited, at most once)* -> connection_lost
 *
 * tw__contract_step() is pure (state in, sentence out), so the checker is
 * tested on its own with sequences no correct backend would produce.
 *
 * Strict mode (tw_loop_set_contract_strict) adds the other direction: the
 * transport calls decide what is a mistake (core/transport.c: a write
 * refused after close(), abort() or write_eof(), limits asyncio refuses,
 * any call after connection_lost) and report it here, with the loop, the
 * transport, the call and the callback running. A call after
 * connection_lost can only be seen if the transport's memory is still
 * there: strict mode keeps the last TW__QUARANTINE_MAX dead transports of
 * each loop (the quarantine below) instead of freeing them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/internal.h"

enum { ST_NEW = 0, ST_MADE, ST_EOF, ST_LOST };

const char *tw__event_name(tw__event ev)
{
    static const char *const names[] = {
        [TW__EV_MADE] = "connection_made",
        [TW__EV_DATA] = "data_received",
        [TW__EV_GET_BUFFER] = "get_buffer",
        [TW__EV_BUFFER_UPDATED] = "buffer_updated",
        [TW__EV_EOF] = "eof_received",
        [TW__EV_PAUSE] = "pause_writing",
        [TW__EV_RESUME] = "resume_writing",
        [TW__EV_DATAGRAM] = "datagram_received",
        [TW__EV_ERROR] = "error_received",
        [TW__EV_PIPE_DATA] = "pipe_data_received",
        [TW__EV_PIPE_LOST] = "pipe_connection_lost",
        [TW__EV_EXITED] = "process_exited",
        [TW__EV_LOST] = "connection_lost",
        [TW__EV_RELEASE] = "release",
    };
    return (unsigned)ev < sizeof names / sizeof names[0] ? names[ev] : "?";
}

/* Callbacks that need an open connection: after connection_made, before
 * connection_lost. */
static const char *need_open(uint8_t st)
{
    if (st == ST_NEW)
        return "called before connection_made";
    if (st == ST_LOST)
        return "called after connection_lost";
    return NULL;
}

const char *tw__contract_step(tw__contract *c, tw__event ev)
{
    const char *r = NULL;
    switch (ev) {
    case TW__EV_MADE:
        if (c->state != ST_NEW)
            r = c->state == ST_LOST ? "connection_made after connection_lost"
                                    : "connection_made called twice";
        else
            c->state = ST_MADE;
        break;
    case TW__EV_DATA:
    case TW__EV_GET_BUFFER:
        if ((r = need_open(c->state)) == NULL && c->state == ST_EOF)
            r = "called after eof_received";
        if (!r && ev == TW__EV_GET_BUFFER)
            c->in_buffer = true;
        break;
    case TW__EV_BUFFER_UPDATED:
        if ((r = need_open(c->state)) == NULL && c->state == ST_EOF)
            r = "called after eof_received";
        else if (!r && !c->in_buffer)
            r = "buffer_updated without a get_buffer before it";
        c->in_buffer = false;
        break;
    case TW__EV_EOF:
        if ((r = need_open(c->state)) == NULL && c->state == ST_EOF)
            r = "eof_received called twice";
        if (!r)
            c->state = ST_EOF;
        c->in_buffer = false;
        break;
    case TW__EV_PAUSE:
        if ((r = need_open(c->state)) == NULL && c->paused)
            r = "pause_writing twice without resume_writing between";
        c->paused = true;
        break;
    case TW__EV_RESUME:
        if ((r = need_open(c->state)) == NULL && !c->paused)
            r = "resume_writing without pause_writing before it";
        c->paused = false;
        break;
    case TW__EV_DATAGRAM:
    case TW__EV_ERROR:
    case TW__EV_PIPE_DATA:
    case TW__EV_PIPE_LOST:
        r = need_open(c->state);
        break;
    case TW__EV_EXITED:
        if ((r = need_open(c->state)) == NULL && c->exited)
            r = "process_exited called twice";
        c->exited = true;
        break;
    case TW__EV_LOST:
        if (c->state == ST_NEW)
            r = "connection_lost without connection_made";
        else if (c->state == ST_LOST)
            r = "connection_lost called twice";
        c->state = ST_LOST;
        break;
    }
    return r;
}

static void default_handler(void *arg, const char *violation)
{
    (void)arg;
    fprintf(stderr, "%s\n", violation);
    abort();
}

void tw__contract_fail(tw_transport *t, tw__event ev, const char *rule)
{
    char msg[256];
    snprintf(msg, sizeof msg,
             "twin contract violation: transport #%llu (%s backend): %s: %s",
             (unsigned long long)t->id, t->loop->ops->name, tw__event_name(ev),
             rule);
    tw_contract_handler h = t->loop->contract_handler;
    (h ? h : default_handler)(t->loop->contract_arg, msg);
}

/* ---- strict mode ---- */

void tw__strict_fail(const tw_transport *t, const char *call, const char *rule)
{
    tw_loop *loop = t->loop;
    if (!loop->contract_strict && !(t->flags & TW__T_DEAD))
        return;
    const char *name = loop->ops->label ? loop->ops->label(loop) : NULL;
    char where[96], in[96], msg[400];
    if (name)
        snprintf(where, sizeof where, "node %s (%s backend)", name, loop->ops->name);
    else
        snprintf(where, sizeof where, "loop (%s backend)", loop->ops->name);
    if (loop->cb_ev >= 0)
        snprintf(in, sizeof in, "in %s of transport #%llu",
                 tw__event_name((tw__event)loop->cb_ev),
                 (unsigned long long)loop->cb_tid);
    else
        snprintf(in, sizeof in, "outside any protocol callback");
    snprintf(msg, sizeof msg,
             "twin contract violation: %s: transport #%llu: %s %s (%s)", where,
             (unsigned long long)t->id, call, rule, in);
    tw_contract_handler h = loop->contract_handler;
    (h ? h : default_handler)(loop->contract_arg, msg);
}

/* ---- the quarantine ---- */

static void transport_release(tw_transport *t)
{
    tw__taddr_clear(&t->peer);
    tw__taddr_clear(&t->local);
    if (t->ops && t->ops->release)
        t->ops->release(t);
    else
        free(t);
}

void tw__transport_free(tw_transport *t)
{
    tw_loop *loop = t->loop;
    if (!loop || !(t->flags & TW__T_DEAD) || !loop->contract_strict ||
        loop->finishing) {
        transport_release(t);
        return;
    }
    /* t->link left loop->transports when t was destroyed. */
    tw__list_push(&loop->quarantine, &t->link);
    if (++loop->nquarantine <= TW__QUARANTINE_MAX)
        return;
    tw__list *oldest = loop->quarantine.next;
    tw__list_remove(oldest);
    loop->nquarantine--;
    transport_release(tw__container_of(oldest, tw_transport, link));
}

void tw__quarantine_drain(tw_loop *loop)
{
    while (!tw__list_empty(&loop->quarantine)) {
        tw__list *l = loop->quarantine.next;
        tw__list_remove(l);
        transport_release(tw__container_of(l, tw_transport, link));
    }
    loop->nquarantine = 0;
}
