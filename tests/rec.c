/* tests/rec.c - the recording protocol (see rec.h). */
#include <stdlib.h>
#include <string.h>

#include "tests/rec.h"

static void logc(rec *r, char c)
{
    if (r->loglen + 2 < sizeof r->log) {
        /* collapse runs of data events: "D" once per run */
        if (c == 'D' && r->loglen && r->log[r->loglen - 1] == 'D')
            return;
        r->log[r->loglen++] = c;
        r->log[r->loglen] = '\0';
    }
}

static void keep(rec *r, const uint8_t *d, size_t n)
{
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + n)
            cap *= 2;
        r->data = realloc(r->data, cap);
        assert_non_null(r->data);
        r->cap = cap;
    }
    memcpy(r->data + r->len, d, n);
    r->len += n;
}

static void made(tw_protocol *p, tw_transport *t)
{
    rec *r = (rec *)p;
    r->t = t;
    r->made++;
    logc(r, 'M');
    if (r->on_made)
        r->on_made(r);
}

static void got(rec *r, const uint8_t *d, size_t n)
{
    r->data_calls++;
    if (n > r->max_chunk)
        r->max_chunk = n;
    logc(r, 'D');
    if (r->verify) {
        for (size_t i = 0; i < n && !r->mismatch; i++)
            if (d[i] != tw_pattern(r->seed, r->total + i))
                r->mismatch = true;
    } else {
        keep(r, d, n);
    }
    r->total += n;
    if (r->echo)
        tw_transport_write(r->t, d, n);
    if (r->on_data)
        r->on_data(r, d, n);
    if (r->close_on_data)
        tw_transport_close(r->t);
}

static void data(tw_protocol *p, const uint8_t *d, size_t n) { got((rec *)p, d, n); }

static bool eof(tw_protocol *p)
{
    rec *r = (rec *)p;
    r->eofs++;
    logc(r, 'E');
    if (r->on_eof)
        r->on_eof(r);
    return r->eof_keep;
}

static void lost(tw_protocol *p, int err)
{
    rec *r = (rec *)p;
    r->lost++;
    r->lost_err = err;
    r->done = true;
    logc(r, 'L');
    if (r->on_lost)
        r->on_lost(r);
}

static void pause_w(tw_protocol *p)
{
    rec *r = (rec *)p;
    r->pauses++;
    logc(r, 'P');
    if (r->on_pause)
        r->on_pause(r);
}

static void resume_w(tw_protocol *p)
{
    rec *r = (rec *)p;
    r->resumes++;
    logc(r, 'R');
    if (r->on_resume)
        r->on_resume(r);
}

static void *get_buffer(tw_protocol *p, ssize_t hint, size_t *len)
{
    rec *r = (rec *)p;
    r->get_buffers++;
    r->last_hint = hint;
    *len = r->zero_buffer ? 0 : r->bufsize;
    return r->buf;
}

static void buffer_updated(tw_protocol *p, size_t n)
{
    rec *r = (rec *)p;
    assert_true(n <= r->bufsize);
    got(r, r->buf, n);
}

static void release(tw_protocol *p) { ((rec *)p)->released = true; }

static const tw_protocol_ops plain_ops = {
    .connection_made = made,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
    .data_received = data,
    .eof_received = eof,
    .release = release,
};

static const tw_protocol_ops buffered_ops = {
    .connection_made = made,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
    .eof_received = eof,
    .get_buffer = get_buffer,
    .buffer_updated = buffer_updated,
    .release = release,
};

void rec_init(rec *r, size_t bufsize)
{
    memset(r, 0, sizeof *r);
    r->bufsize = bufsize;
    r->base.ops = bufsize ? &buffered_ops : &plain_ops;
    if (bufsize) {
        r->buf = malloc(bufsize);
        assert_non_null(r->buf);
    }
}

void rec_free(rec *r)
{
    free(r->data);
    free(r->buf);
    r->data = r->buf = NULL;
}

tw_protocol *rec_pool_factory(void *arg)
{
    rec_pool *p = arg;
    if (p->n == (int)(sizeof p->recs / sizeof p->recs[0]))
        return NULL;
    rec *r = &p->recs[p->n++];
    rec_init(r, p->tmpl.bufsize);
    r->eof_keep = p->tmpl.eof_keep;
    r->echo = p->tmpl.echo;
    r->close_on_data = p->tmpl.close_on_data;
    r->zero_buffer = p->tmpl.zero_buffer;
    r->on_made = p->tmpl.on_made;
    r->on_data = p->tmpl.on_data;
    r->on_pause = p->tmpl.on_pause;
    r->on_resume = p->tmpl.on_resume;
    r->on_lost = p->tmpl.on_lost;
    r->on_eof = p->tmpl.on_eof;
    r->verify = p->tmpl.verify;
    r->seed = p->tmpl.seed;
    r->user = p->tmpl.user;
    return &r->base;
}

void rec_pool_free(rec_pool *p)
{
    for (int i = 0; i < p->n; i++)
        rec_free(&p->recs[i]);
}

tw_protocol *rec_factory(void *r) { return &((rec *)r)->base; }

void rec_client_init(rec_client *c, size_t bufsize)
{
    rec_init(&c->r, bufsize);
    memset(&c->res, 0, sizeof c->res);
}

void rec_client_cb(void *client, tw_transport *t, int err)
{
    rec_client *c = client;
    c->res.called = true;
    c->res.err = err;
    c->res.t = t;
}

tw_protocol *rec_client_factory(void *client) { return &((rec_client *)client)->r.base; }

void rec_pair_open(tw_env *env, rec_pair *p, tw_connect_cb cb)
{
    assert_int_equal(tw_create_server(env->loop, rec_pool_factory, &p->pool,
                                      env->host, 0, NULL, &p->srv), 0);
    p->in_create = true;
    assert_int_equal(tw_create_connection(env->loop, rec_client_factory, &p->cli,
                                          env->host, tw_server_port(p->srv),
                                          cb ? cb : rec_client_cb), 0);
    p->in_create = false;
    TW_WAIT(env, p->cli.res.called && p->pool.n == 1 && p->pool.recs[0].made);
    assert_int_equal(p->cli.res.err, 0);
}

void rec_pair_close(tw_env *env, rec_pair *p)
{
    tw_server_close(p->srv);
    p->srv = NULL;
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    rec_pool_free(&p->pool);
    rec_free(&p->cli.r);
}
