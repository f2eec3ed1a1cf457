/* core/subprocess.c - the SubprocessTransport's rules, once for both
 * backends (the contract with them is in core/subprocess.h).
 *
 * Map:
 *   1. holders: the memory lives until the transport and every pipe's
 *      adapter have let go
 *   2. calling out: the SubprocessProtocol's callbacks, each checked by
 *      the contract checker when it is on
 *   3. the pipe adapters: protocols of the pipe transports that forward
 *      to the subprocess's protocol with the child's fd number
 *   4. life: open, exit, the end (asyncio's _try_finish), close
 *   5. the transport ops the core calls, the SUBPROCESS kind's class, and
 *      the public calls
 *
 * asyncio's order, kept here: the pipes are connected before the
 * subprocess's connection_made (so a protocol can use them in it);
 * process_exited runs from the loop after the child was reaped;
 * connection_lost runs only once the child has exited AND every pipe has
 * delivered pipe_connection_lost, whatever order those came in.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/subprocess.h"
#include "twin/record.h"

/* ------------------------------------------------------------------ */
/* 1. holders                                                          */

static void unref(tw__subprocess *sp)
{
    assert(sp->refs > 0);
    if (--sp->refs == 0)
        sp->sops->free(sp);
}

/* ------------------------------------------------------------------ */
/* 2. calling out                                                      */

static void check(tw__subprocess *sp, tw__event ev)
{
    tw_transport *t = &sp->base;
    if (t->loop->on_callback) /* as transport.c's: the sim traces these */
        t->loop->on_callback(t->loop, t, ev);
    if (t->loop->contract_on) {
        const char *rule = tw__contract_step(&t->contract, ev);
        if (rule)
            tw__contract_fail(t, ev, rule);
    }
}

static const tw_protocol_ops *user_ops(const tw__subprocess *sp)
{
    return sp->base.proto->ops;
}

/* ------------------------------------------------------------------ */
/* 3. the pipe adapters                                                */

static void try_finish(tw__subprocess *sp);

/* A callback of a pipe whose subprocess transport is gone (torn down, or
 * its factory failed) has nobody to go to. */
static tw__subprocess *live_sp(tw_protocol *p)
{
    tw__subprocess *sp = ((tw__pipe_adapter *)p)->sp;
    return sp->gone || !sp->open ? NULL : sp;
}

static void ad_data(tw_protocol *p, const uint8_t *data, size_t len)
{
    tw__subprocess *sp = live_sp(p);
    if (!sp)
        return;
    check(sp, TW__EV_PIPE_DATA);
    if (user_ops(sp)->pipe_data_received)
        TW__CALL_OUT(&sp->base, TW__EV_PIPE_DATA,
                     user_ops(sp)->pipe_data_received(
                         sp->base.proto, ((tw__pipe_adapter *)p)->fd, data, len));
}

/* A read pipe closes itself after eof (twin/process.h); false says so. */
static bool ad_eof(tw_protocol *p)
{
    (void)p;
    return false;
}

static void ad_lost(tw_protocol *p, int err)
{
    tw__pipe_adapter *ad = (tw__pipe_adapter *)p;
    /* Once per pipe, from the pipe transport the adapter was opened on. */
    assert(ad->opened && ad->t != NULL);
    ad->t = NULL; /* get_pipe_transport stops handing it out */
    tw__subprocess *sp = live_sp(p);
    if (!sp)
        return;
    check(sp, TW__EV_PIPE_LOST);
    if (user_ops(sp)->pipe_connection_lost)
        TW__CALL_OUT(&sp->base, TW__EV_PIPE_LOST,
                     user_ops(sp)->pipe_connection_lost(sp->base.proto, ad->fd, err));
    try_finish(sp);
}

/* The stdin pipe's flow control is the subprocess protocol's (asyncio's
 * WriteSubprocessPipeProto forwards it the same way). */
static void ad_pause(tw_protocol *p)
{
    tw__subprocess *sp = live_sp(p);
    if (!sp)
        return;
    check(sp, TW__EV_PAUSE);
    if (user_ops(sp)->pause_writing)
        TW__CALL_OUT(&sp->base, TW__EV_PAUSE,
                     user_ops(sp)->pause_writing(sp->base.proto));
}

static void ad_resume(tw_protocol *p)
{
    tw__subprocess *sp = live_sp(p);
    if (!sp)
        return;
    check(sp, TW__EV_RESUME);
    if (user_ops(sp)->resume_writing)
        TW__CALL_OUT(&sp->base, TW__EV_RESUME,
                     user_ops(sp)->resume_writing(sp->base.proto));
}

static void ad_release(tw_protocol *p)
{
    tw__pipe_adapter *ad = (tw__pipe_adapter *)p;
    ad->t = NULL;
    ad->opened = false;
    unref(ad->sp);
}

static const tw_protocol_ops adapter_ops = {
    .data_received = ad_data,
    .eof_received = ad_eof,
    .connection_lost = ad_lost,
    .pause_writing = ad_pause,
    .resume_writing = ad_resume,
    .release = ad_release,
};

static tw_protocol *adapter_factory(void *arg)
{
    tw__pipe_adapter *ad = arg;
    ad->opened = true;
    ad->sp->refs++;
    return &ad->base;
}

/* ------------------------------------------------------------------ */
/* 4. life                                                             */

static const tw__transport_ops subprocess_ops;

void tw__subprocess_init(tw__subprocess *sp, const tw__subprocess_ops *sops,
                         int pid)
{
    assert(sops && sops->signal && sops->cleanup && sops->free);
    assert(pid > 0);
    memset(sp, 0, sizeof *sp);
    sp->sops = sops;
    sp->pid = pid;
    sp->refs = 1; /* the opener's, dropped at the end of open */
    for (int i = 0; i < 3; i++) {
        sp->pipes[i].base.ops = &adapter_ops;
        sp->pipes[i].sp = sp;
        sp->pipes[i].fd = i;
    }
}

void tw__subprocess_set_pipe(tw__subprocess *sp, int fd, tw_transport *pipe)
{
    assert(fd >= 0 && fd <= 2 && !sp->pipes[fd].t);
    assert(tw_transport_kind_of(pipe) ==
           (fd == 0 ? TW_TRANSPORT_WRITE : TW_TRANSPORT_READ));
    sp->pipes[fd].t = pipe;
}

int tw__subprocess_open(tw__subprocess *sp, tw_loop *loop,
                        tw_protocol_factory factory, void *arg,
                        tw_connect_cb cb)
{
    /* Every pipe is opened even after one failed: a failed open destroys
     * its transport, which is the only way to be rid of one that was
     * initialised. */
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        tw_transport *t = sp->pipes[i].t;
        if (t && tw__transport_open(t, adapter_factory, &sp->pipes[i], NULL) < 0) {
            sp->pipes[i].t = NULL;
            rc = -ENOMEM;
        }
    }
    if (rc == 0) {
        tw__transport_init(&sp->base, loop, &subprocess_ops,
                           TW_TRANSPORT_SUBPROCESS);
        sp->open = true;
        sp->refs++; /* the transport's, dropped by its destroy */
        /* On failure the core destroyed the transport: cleanup ran, cb
         * is scheduled. */
        rc = tw__transport_open(&sp->base, factory, arg, cb);
    } else {
        sp->gone = true;
        sp->sops->cleanup(sp);
        if (cb)
            tw__connect_fail(loop, cb, arg, rc);
    }
    if (rc < 0)
        for (int i = 0; i < 3; i++)
            if (sp->pipes[i].t)
                tw_transport_abort(sp->pipes[i].t);
    unref(sp);
    return rc;
}

/* asyncio's _try_finish: the end needs the exit and every pipe. */
static void try_finish(tw__subprocess *sp)
{
    if (sp->gone || !sp->exit_delivered || (sp->base.flags & TW__T_LOST))
        return;
    assert(sp->open && sp->exited); /* delivered only once reaped */
    for (int i = 0; i < 3; i++)
        if (sp->pipes[i].t)
            return;
    tw__transport_finish(&sp->base, 0);
}

static void exited_cb(void *arg)
{
    tw__subprocess *sp = arg;
    /* process_exited once, after the reaping, while the transport is
     * there: its end waits for this very call. */
    assert(sp->exited && !sp->exit_delivered && !sp->gone);
    assert(!(sp->base.flags & TW__T_LOST));
    sp->exit_h = 0;
    sp->exit_delivered = true;
    check(sp, TW__EV_EXITED);
    if (TW__REC_ON(sp->base.loop))
        tw__rec_event(&sp->base, TW_REC_EXITED, NULL, 0, NULL, sp->returncode);
    if (user_ops(sp)->process_exited)
        TW__CALL_OUT(&sp->base, TW__EV_EXITED,
                     user_ops(sp)->process_exited(sp->base.proto));
    try_finish(sp);
}

void tw__subprocess_exited(tw__subprocess *sp, int returncode)
{
    assert(sp->open && !sp->exited && !sp->gone);
    sp->exited = true;
    sp->returncode = returncode;
    /* From the loop, never inside the backend's dispatch; queued after
     * connection_made, which was queued at open. */
    sp->exit_h = tw_call_soon(sp->base.loop, exited_cb, sp);
    if (!sp->exit_h)
        abort(); /* cannot keep the promise of process_exited */
}

/* close(), the class's hook: close the pipes, kill the child, and end once
 * it has exited and every pipe is lost. */
static int sp_close(tw_transport *t)
{
    tw__subprocess *sp = (tw__subprocess *)t;
    assert(tw__cls(t) == &tw__subprocess_class);
    if (t->flags & TW__T_CLOSING)
        return 0;
    t->flags |= TW__T_CLOSING;
    for (int i = 0; i < 3; i++)
        if (sp->pipes[i].t)
            tw_transport_close(sp->pipes[i].t);
    /* asyncio kills a child that has not returned; its exit (reaped as
     * usual) then lets the transport finish. */
    if (!sp->exited)
        sp->sops->signal(sp, SIGKILL);
    try_finish(sp);
    return 0;
}

/* ------------------------------------------------------------------ */
/* 5. transport ops and the public calls                               */

static ssize_t sp_send(tw_transport *t, const struct iovec *iov, int n)
{
    (void)t; (void)iov; (void)n;
    return -ENOTSUP; /* never called: the class has no writes */
}

static void sp_want(tw_transport *t, bool on)
{
    (void)t; (void)on; /* nothing to read or write on the process itself */
}

static int sp_shutdown_write(tw_transport *t)
{
    (void)t;
    return -ENOTSUP;
}

static int sp_extra_info(tw_transport *t, const char *name, tw_extra *out)
{
    if (strcmp(name, "subprocess") != 0)
        return -ENOENT;
    out->type = TW_EXTRA_INT;
    out->v.i = ((tw__subprocess *)t)->pid;
    return 0;
}

static void sp_destroy(tw_transport *t)
{
    tw__subprocess *sp = (tw__subprocess *)t;
    if (sp->exit_h)
        tw_handle_cancel(t->loop, sp->exit_h);
    sp->exit_h = 0;
    sp->gone = true;
    sp->sops->cleanup(sp);
    unref(sp);
}

static const tw__transport_ops subprocess_ops = {
    .send = sp_send,
    .want_write = sp_want,
    .want_read = sp_want,
    .shutdown_write = sp_shutdown_write,
    .extra_info = sp_extra_info,
    .destroy = sp_destroy,
    .sendto = NULL,
    .can_write_eof = false,
};

/* SubprocessTransport: neither reads nor writes itself (its pipes do), no
 * abort; close() is its own. */
const tw__transport_class tw__subprocess_class = {
    .kind = TW_TRANSPORT_SUBPROCESS,
    .close = sp_close,
};

static tw__subprocess *as_sp(tw_transport *t)
{
    return t && tw__cls(t) == &tw__subprocess_class ? (tw__subprocess *)t : NULL;
}

int tw_transport_get_pid(tw_transport *t)
{
    if (t && tw__transport_dead(t, "get_pid()"))
        return -ESRCH;
    tw__subprocess *sp = as_sp(t);
    return sp ? sp->pid : -ENOTSUP;
}

int tw_transport_get_pipe_transport(tw_transport *t, int fd,
                                    tw_transport **out)
{
    if (t && tw__transport_dead(t, "get_pipe_transport()")) {
        if (out)
            *out = NULL;
        return -EPIPE;
    }
    tw__subprocess *sp = as_sp(t);
    if (!sp)
        return -ENOTSUP;
    if (!out)
        return -EINVAL;
    *out = fd >= 0 && fd <= 2 ? sp->pipes[fd].t : NULL;
    return 0;
}

int tw_transport_get_returncode(tw_transport *t, int *code)
{
    if (t && tw__transport_dead(t, "get_returncode()"))
        return -EPIPE;
    tw__subprocess *sp = as_sp(t);
    if (!sp)
        return -ENOTSUP;
    if (!sp->exited)
        return -EAGAIN;
    if (code)
        *code = sp->returncode;
    return 0;
}

/* Linux's highest real-time signal. */
#define SIG_MAX 64

int tw_transport_send_signal(tw_transport *t, int sig)
{
    if (t && tw__transport_dead(t, "send_signal()"))
        return -ESRCH;
    tw__subprocess *sp = as_sp(t);
    if (!sp)
        return -ENOTSUP;
    if (sig < 0 || sig > SIG_MAX)
        return -EINVAL;
    if (sp->exited || sp->gone)
        return -ESRCH;
    return sp->sops->signal(sp, sig);
}

int tw_transport_kill(tw_transport *t)
{
    return tw_transport_send_signal(t, SIGKILL);
}

int tw_transport_terminate(tw_transport *t)
{
    return tw_transport_send_signal(t, SIGTERM);
}
