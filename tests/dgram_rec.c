/* tests/dgram_rec.c - the recording DatagramProtocol (see dgram_rec.h). */
#include <stdlib.h>
#include <string.h>

#include "tests/dgram_rec.h"

static void logc(drec *r, char c)
{
    if (r->loglen + 2 < sizeof r->log) {
        r->log[r->loglen++] = c;
        r->log[r->loglen] = '\0';
    }
}

static void keep(drec *r, const uint8_t *d, size_t n, const tw_addr *from)
{
    if (r->nmsgs == r->capmsgs) {
        r->capmsgs = r->capmsgs ? 2 * r->capmsgs : 16;
        r->msgs = realloc(r->msgs, r->capmsgs * sizeof *r->msgs);
        assert_non_null(r->msgs);
    }
    drec_msg *m = &r->msgs[r->nmsgs++];
    m->data = malloc(n ? n : 1);
    assert_non_null(m->data);
    if (n)
        memcpy(m->data, d, n);
    m->len = n;
    m->from = *from;
}

static void made(tw_protocol *p, tw_transport *t)
{
    drec *r = (drec *)p;
    r->t = t;
    r->made++;
    logc(r, 'M');
    if (r->on_made)
        r->on_made(r);
}

static void datagram(tw_protocol *p, const uint8_t *d, size_t n,
                     const tw_addr *from)
{
    drec *r = (drec *)p;
    assert_non_null(from);
    assert_true(n == 0 || d != NULL);
    r->datagrams++;
    r->bytes += n;
    if (!r->count_only) {
        logc(r, 'G');
        keep(r, d, n, from);
    }
    if (r->echo)
        assert_int_equal(tw_transport_sendto(r->t, d, n, from), 0);
    if (r->on_datagram)
        r->on_datagram(r, d, n, from);
    if (r->close_on_datagram)
        tw_transport_close(r->t);
}

static void err_recv(tw_protocol *p, int err)
{
    drec *r = (drec *)p;
    assert_true(err < 0);
    r->errors++;
    r->last_err = err;
    logc(r, 'X');
    if (r->on_error)
        r->on_error(r, err);
}

static void pause_w(tw_protocol *p)
{
    drec *r = (drec *)p;
    r->pauses++;
    logc(r, 'P');
    if (r->on_pause)
        r->on_pause(r);
}

static void resume_w(tw_protocol *p)
{
    drec *r = (drec *)p;
    r->resumes++;
    logc(r, 'R');
}

static void lost(tw_protocol *p, int err)
{
    drec *r = (drec *)p;
    r->lost++;
    r->lost_err = err;
    r->done = true;
    logc(r, 'L');
}

static void release(tw_protocol *p) { ((drec *)p)->released = true; }

static const tw_protocol_ops drec_ops = {
    .connection_made = made,
    .connection_lost = lost,
    .pause_writing = pause_w,
    .resume_writing = resume_w,
    .datagram_received = datagram,
    .error_received = err_recv,
    .release = release,
};

void drec_init(drec *r)
{
    memset(r, 0, sizeof *r);
    r->base.ops = &drec_ops;
}

void drec_free(drec *r)
{
    for (size_t i = 0; i < r->nmsgs; i++)
        free(r->msgs[i].data);
    free(r->msgs);
    r->msgs = NULL;
    r->nmsgs = r->capmsgs = 0;
}

tw_protocol *drec_factory(void *r) { return &((drec *)r)->base; }

void drec_cb(void *arg, tw_transport *t, int err)
{
    drec *r = arg;
    r->cb_called = true;
    r->cb_err = err;
    r->cb_t = t;
}

void drec_open(tw_env *env, drec *r, const tw_datagram_opts *opts)
{
    assert_int_equal(tw_create_datagram_endpoint(env->loop, drec_factory, r,
                                                 opts, drec_cb), 0);
    /* connection_made is never called from inside create */
    assert_int_equal(r->made, 0);
    assert_false(r->cb_called);
    TW_WAIT(env, r->cb_called);
    assert_int_equal(r->cb_err, 0);
    assert_int_equal(r->made, 1);
    assert_ptr_equal(r->cb_t, r->t);
}

const drec_msg *drec_msg_at(const drec *r, size_t i)
{
    assert_true(i < r->nmsgs);
    return &r->msgs[i];
}

size_t drec_count_equal(const drec *r, const void *d, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nmsgs; i++)
        if (r->msgs[i].len == n && (n == 0 || memcmp(r->msgs[i].data, d, n) == 0))
            k++;
    return k;
}

tw_addr drec_sockname(drec *r)
{
    tw_addr a;
    assert_int_equal(tw_transport_sockname(r->t, &a), 0);
    return a;
}
