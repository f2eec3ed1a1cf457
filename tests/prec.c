/* tests/prec.c - the recording SubprocessProtocol (see prec.h). */
#include <stdlib.h>
#include <string.h>

#include "tests/prec.h"

static void logtok(prec *r, const char *tok)
{
    if (strcmp(r->last_tok, tok) == 0 && (tok[0] == '1' || tok[0] == '2'))
        return; /* chunking is the transport's business, not the test's */
    snprintf(r->last_tok, sizeof r->last_tok, "%s", tok);
    int n = snprintf(r->log + r->loglen, sizeof r->log - r->loglen, "%s%s",
                     r->loglen ? " " : "", tok);
    if (n > 0 && (size_t)n < sizeof r->log - r->loglen)
        r->loglen += (size_t)n;
}

static void keep(prec *r, int fd, const uint8_t *d, size_t n)
{
    if (r->outlen[fd] + n + 1 > r->outcap[fd]) {
        size_t cap = (r->outlen[fd] + n + 1) * 2;
        uint8_t *b = realloc(r->out[fd], cap);
        assert_non_null(b);
        r->out[fd] = b;
        r->outcap[fd] = cap;
    }
    memcpy(r->out[fd] + r->outlen[fd], d, n);
    r->outlen[fd] += n;
}

static void p_made(tw_protocol *p, tw_transport *t)
{
    prec *r = (prec *)p;
    r->t = t;
    r->made++;
    r->pid = tw_transport_get_pid(t);
    logtok(r, "M");
    if (r->on_made)
        r->on_made(r);
}

static void p_data(tw_protocol *p, int fd, const uint8_t *d, size_t n)
{
    prec *r = (prec *)p;
    assert_true(fd == 1 || fd == 2);
    assert_true(n > 0);
    assert_int_equal(r->lost, 0); /* nothing after connection_lost */
    logtok(r, fd == 1 ? "1" : "2");
    if (fd == 1 && r->verify1) {
        for (size_t i = 0; i < n && !r->mismatch; i++)
            if (d[i] != tw_pattern(r->seed, r->total[1] + i))
                r->mismatch = true;
    } else {
        keep(r, fd, d, n);
    }
    r->total[fd] += n;
    if (r->on_data)
        r->on_data(r, fd, d, n);
}

static void p_pipe_lost(tw_protocol *p, int fd, int err)
{
    prec *r = (prec *)p;
    assert_true(fd >= 0 && fd <= 2);
    assert_false(r->pipe_lost[fd]);
    r->pipe_lost[fd] = true;
    r->pipe_err[fd] = err;
    char tok[4] = {'p', (char)('0' + fd), 0, 0};
    logtok(r, tok);
    if (r->on_pipe_lost)
        r->on_pipe_lost(r, fd);
}

static void p_exited(tw_protocol *p)
{
    prec *r = (prec *)p;
    r->exited++;
    logtok(r, "X");
    r->rc_at_exit = tw_transport_get_returncode(r->t, &r->returncode);
    if (r->on_exited)
        r->on_exited(r);
}

static void p_pause(tw_protocol *p)
{
    prec *r = (prec *)p;
    r->pauses++;
    logtok(r, "w");
    if (r->on_pause)
        r->on_pause(r);
}

static void p_resume(tw_protocol *p)
{
    prec *r = (prec *)p;
    r->resumes++;
    logtok(r, "r");
    if (r->on_resume)
        r->on_resume(r);
}

static void p_lost(tw_protocol *p, int err)
{
    prec *r = (prec *)p;
    r->lost++;
    r->lost_err = err;
    logtok(r, "L");
    /* asyncio's rule: the end comes after the exit and every pipe */
    assert_int_equal(r->exited, 1);
}

static void p_release(tw_protocol *p) { ((prec *)p)->released = true; }

static const tw_protocol_ops prec_ops = {
    .connection_made = p_made,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .pipe_data_received = p_data,
    .pipe_connection_lost = p_pipe_lost,
    .process_exited = p_exited,
    .release = p_release,
};

void prec_init(prec *r)
{
    memset(r, 0, sizeof *r);
    r->base.ops = &prec_ops;
    r->rc_at_exit = 1; /* "not asked yet" */
}

void prec_free(prec *r)
{
    for (int i = 0; i < 3; i++)
        free(r->out[i]);
    memset(r->out, 0, sizeof r->out);
}

tw_protocol *prec_factory(void *r) { return &((prec *)r)->base; }

void prec_cb(void *arg, tw_transport *t, int err)
{
    prec *r = arg;
    r->cb_called = true;
    r->cb_err = err;
    r->cb_t = t;
    if (err == 0)
        assert_ptr_equal(t, r->t); /* the completion follows connection_made */
}

const char *prec_str(prec *r, int fd)
{
    static const uint8_t none = 0;
    keep(r, fd, &none, 0);
    r->out[fd][r->outlen[fd]] = 0;
    return (const char *)r->out[fd];
}

void prec_exec(tw_env *env, prec *r, const char *const argv[],
               const tw_subprocess_opts *opts)
{
    int rc = tw_subprocess_exec(env->loop, prec_factory, r, argv, opts, prec_cb);
    if (rc != 0)
        fail_msg("%s backend: subprocess_exec(%s) = %s", env->backend, argv[0],
                 tw_errname(rc));
    assert_int_equal(r->made, 0); /* never from inside the call */
}

void prec_shell(tw_env *env, prec *r, const char *cmd,
                const tw_subprocess_opts *opts)
{
    int rc = tw_subprocess_shell(env->loop, prec_factory, r, cmd, opts, prec_cb);
    if (rc != 0)
        fail_msg("%s backend: subprocess_shell(%s) = %s", env->backend, cmd,
                 tw_errname(rc));
    assert_int_equal(r->made, 0);
}

tw_transport *prec_pipe(prec *r, int fd)
{
    tw_transport *t = NULL;
    assert_int_equal(tw_transport_get_pipe_transport(r->t, fd, &t), 0);
    return t;
}
