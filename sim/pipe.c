/* sim/pipe.c - simulated pipes: what connect_read_pipe and
 * connect_write_pipe wrap on a simulated node, and the stdio of simulated
 * processes (sim/process.c).
 *
 * Map:
 *   1. life: new, close an end, free
 *   2. moving bytes: the reader's deliveries, the writer's room
 *   3. the transport ops the core calls
 *   4. events
 *   5. user fds: tw_sim_pipe, tw_sim_pipe_close, connect_pipe
 *
 * A pipe is a byte queue with Linux's capacity (64 KiB) between a writer
 * and a reader. Each end is an fd nobody wrapped yet (END_FD), a
 * transport, or a process. A transport writer is taken only what fits
 * (the core buffers the rest and pause_writing follows, as with a real
 * pipe); a process writer is always taken whole and is then "blocked"
 * until the reader drains the pipe (sim/process.c). The reader gets the
 * bytes after a latency and in chunk sizes drawn from the world's seed;
 * it gets the end once the writer closed and everything was read. The
 * reader's close drops what it never read and tells a writer transport,
 * which then closes (idle) or is lost with -EPIPE (data waiting), as
 * real/pipe.c does on EPOLLERR.
 *
 * Callouts (a protocol's data_received, a program's input) run from
 * events only, never inside a write, so every callback comes from the
 * loop as the text promises.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/proc.h"

static const tw__transport_ops pipe_tr_ops;

/* ------------------------------------------------------------------ */
/* 1. life                                                             */

tw_ns sim_local_latency(tw_sim *sim, uint32_t node)
{
    return sim_latency(sim, node, node);
}

static void pipe_push(sim_pipe *p, tw_ns when, unsigned act)
{
    sim_table *t = &p->sim->procs->pipes;
    sim_push(p->sim, when, EV_PIPE, p->id, sim_table_gen(t, p->id),
             SIM_ARG(act, 0));
}

/* The transport id a record names: the reader's or the writer's. */
static uint64_t end_tid(const sim_pipe *p, bool write)
{
    if (write)
        return p->w_kind == END_TRANSPORT ? p->w_tr->base.id
               : p->w_kind == END_PROC    ? sim_proc_tid(p->w_proc)
                                          : 0;
    return p->r_kind == END_TRANSPORT ? p->r_tr->base.id
           : p->r_kind == END_PROC    ? sim_proc_tid(p->r_proc)
                                      : 0;
}

sim_pipe *sim_pipe_new(tw_sim *sim, uint32_t node)
{
    sim_procs *r = sim_procs_of(sim);
    sim_pipe *p = r ? calloc(1, sizeof *p) : NULL;
    if (!p)
        return NULL;
    p->id = sim_table_add(&r->pipes, p);
    if (p->id == SIM_NONE) {
        free(p);
        return NULL;
    }
    p->sim = sim;
    p->node = node;
    p->r_fd = p->w_fd = -1;
    tw__wbuf_init(&p->buf);
    return p;
}

static void pipe_free(sim_pipe *p)
{
    tw__wbuf_clear(&p->buf);
    sim_table_del(&p->sim->procs->pipes, p->id);
    free(p);
}

void sim_pipe_close_end(sim_pipe *p, bool write)
{
    tw_sim *sim = p->sim;
    if (write) {
        if (p->w_kind == END_CLOSED)
            return;
        sim_trace(sim, p->node, end_tid(p, true), "pipe-close-w", p->id, 0);
        p->w_kind = END_CLOSED;
        p->w_tr = NULL;
        p->w_proc = NULL;
        if (p->r_kind == END_CLOSED)
            pipe_free(p);
        else
            sim_pipe_kick(p); /* the end, after what is left */
        return;
    }
    if (p->r_kind == END_CLOSED)
        return;
    sim_trace(sim, p->node, end_tid(p, false), "pipe-close-r", p->id,
              (int64_t)p->buf.size);
    p->r_kind = END_CLOSED;
    p->r_tr = NULL;
    p->r_proc = NULL;
    tw__wbuf_clear(&p->buf); /* never read, never will be */
    if (p->w_kind == END_CLOSED)
        pipe_free(p);
    else if (p->w_kind == END_TRANSPORT)
        pipe_push(p, sim->now + sim_local_latency(sim, p->node),
                  PIPE_READER_GONE);
    else if (p->w_kind == END_PROC)
        sim_proc_reader_gone(p->w_proc); /* else at its next write */
}

/* ------------------------------------------------------------------ */
/* 2. moving bytes                                                     */

static bool reader_ready(const sim_pipe *p)
{
    if (p->r_kind == END_TRANSPORT)
        return tw__transport_reading(&p->r_tr->base);
    if (p->r_kind == END_PROC)
        return sim_proc_reading(p->r_proc);
    return false; /* nobody reads an fd that was not wrapped yet */
}

void sim_pipe_kick(sim_pipe *p)
{
    if (p->deliver_pending || !reader_ready(p))
        return;
    bool eof = p->w_kind == END_CLOSED && !p->eof_done;
    if (p->buf.size == 0 && !eof)
        return;
    tw_ns when = p->sim->now + sim_local_latency(p->sim, p->node);
    if (p->rate_bytes_per_sec && p->rate_next > when)
        when = p->rate_next;
    p->deliver_pending = true;
    pipe_push(p, when, PIPE_DELIVER);
}

bool sim_pipe_over(const sim_pipe *p) { return p->buf.size > SIM_PIPE_CAP; }

void sim_pipe_put(sim_pipe *p, const void *data, size_t len)
{
    if (tw__wbuf_append(&p->buf, data, len) < 0) {
        sim_fail(p->sim, -ENOMEM, "out of memory in a simulated pipe");
        return;
    }
    sim_trace(p->sim, p->node, end_tid(p, true), "pipe-write", p->id,
              (int64_t)len);
    sim_pipe_kick(p);
}

/* The reader took bytes: tell a writer waiting for room. */
static void room_made(sim_pipe *p)
{
    if (p->buf.size >= SIM_PIPE_CAP)
        return;
    if (p->w_kind == END_TRANSPORT && p->w_tr->want_wr && !p->writable_pending) {
        p->writable_pending = true;
        pipe_push(p, p->sim->now + sim_local_latency(p->sim, p->node),
                  PIPE_WRITABLE);
    } else if (p->w_kind == END_PROC) {
        sim_proc_output_drained(p->w_proc);
    }
}

/* The size of the next read: drawn from the seed, as a reader's read(2)
 * returns whatever happens to be there. Slow output caps it to 10 ms
 * worth and spaces the deliveries out. */
static size_t next_chunk(sim_pipe *p)
{
    size_t avail = p->buf.size;
    size_t max = p->sim->opts.chunk_bytes_max;
    if (p->rate_bytes_per_sec) {
        uint64_t per = p->rate_bytes_per_sec / 100;
        if (per < max)
            max = per ? (size_t)per : 1;
    }
    if (avail > max)
        avail = max;
    size_t n = 1 + (size_t)tw_sim_prng_below(&p->sim->rng_net, avail);
    if (p->rate_bytes_per_sec)
        p->rate_next = p->sim->now + (tw_ns)((__int128)n * TW_NS_PER_SEC /
                                             p->rate_bytes_per_sec);
    return n;
}

static void gather(const sim_pipe *p, uint8_t *out, size_t n)
{
    for (const tw__chunk *c = tw__wbuf_head(&p->buf); c && n;
         c = tw__wbuf_next(&p->buf, c)) {
        size_t have = c->end - c->start;
        size_t k = have < n ? have : n;
        memcpy(out, c->data + c->start, k);
        out += k;
        n -= k;
    }
}

static void deliver(sim_pipe *p)
{
    tw_sim *sim = p->sim;
    p->deliver_pending = false;
    if (!reader_ready(p))
        return; /* resume_reading or an unblocked process kicks again */
    if (p->buf.size == 0) {
        if (p->w_kind != END_CLOSED || p->eof_done)
            return;
        p->eof_done = true;
        sim_trace(sim, p->node, end_tid(p, false), "pipe-eof", p->id, 0);
        if (p->r_kind == END_TRANSPORT)
            tw__transport_eof(&p->r_tr->base);
        else
            sim_proc_input_eof(p->r_proc); /* p may be gone after this */
        return;
    }
    size_t n = next_chunk(p);
    gather(p, sim->scratch, n);
    sim_trace(sim, p->node, end_tid(p, false), "pipe-deliver", p->id,
              (int64_t)n);
    sim->stats.bytes_delivered += n;
    if (p->r_kind == END_TRANSPORT) {
        /* The pipe outlives the call: its reader end only closes when the
         * transport is destroyed, which is never inside a callback. */
        size_t taken = tw__transport_deliver(&p->r_tr->base, sim->scratch, n);
        assert(p->r_kind == END_TRANSPORT);
        tw__wbuf_consume(&p->buf, taken);
        room_made(p);
        sim_pipe_kick(p);
        return;
    }
    /* A program always takes the whole chunk, and may close its stdin
     * (and with it maybe the pipe) inside: everything first, call last. */
    tw_sim_proc *proc = p->r_proc;
    tw__wbuf_consume(&p->buf, n);
    room_made(p);
    sim_pipe_kick(p);
    sim_proc_input(proc, sim->scratch, n);
}

/* ------------------------------------------------------------------ */
/* 3. transport ops                                                    */

static sim_pipe_tr *tr_of(tw_transport *t) { return (sim_pipe_tr *)t; }

static ssize_t tr_send(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    sim_pipe *p = tr_of(t)->pipe;
    if (p->r_kind == END_CLOSED)
        return -EPIPE;
    size_t room = p->buf.size < SIM_PIPE_CAP ? SIM_PIPE_CAP - p->buf.size : 0;
    size_t took = 0;
    for (int i = 0; i < iovcnt && room > 0; i++) {
        size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
        if (tw__wbuf_append(&p->buf, iov[i].iov_base, n) < 0)
            break; /* a short write; the core keeps the rest */
        took += n;
        room -= n;
    }
    if (took) {
        p->sim->stats.bytes_sent += took;
        sim_trace(p->sim, p->node, t->id, "pipe-write", p->id, (int64_t)took);
        sim_pipe_kick(p);
    }
    return (ssize_t)took;
}

static void tr_want_write(tw_transport *t, bool on)
{
    sim_pipe_tr *tr = tr_of(t);
    tr->want_wr = on;
    if (on && tr->pipe->buf.size < SIM_PIPE_CAP)
        room_made(tr->pipe);
}

static void tr_want_read(tw_transport *t, bool on)
{
    sim_pipe_tr *tr = tr_of(t);
    tr->want_rd = on;
    if (on)
        sim_pipe_kick(tr->pipe);
}

/* A pipe cannot half-close: write_eof ends in a close (real/pipe.c). */
static int tr_shutdown_write(tw_transport *t)
{
    tw_transport_close(t);
    return 0;
}

static int tr_extra_info(tw_transport *t, const char *name, tw_extra *out)
{
    if (strcmp(name, "pipe") != 0)
        return -ENOENT;
    out->type = TW_EXTRA_FD;
    out->v.fd = tr_of(t)->fd;
    return 0;
}

static void tr_destroy(tw_transport *t)
{
    sim_pipe_tr *tr = tr_of(t);
    sim_pipe_close_end(tr->pipe, tw__cls(t)->kind == TW_TRANSPORT_WRITE);
    tw__transport_free(&tr->base);
}

static const tw__transport_ops pipe_tr_ops = {
    .send = tr_send,
    .want_write = tr_want_write,
    .want_read = tr_want_read,
    .shutdown_write = tr_shutdown_write,
    .extra_info = tr_extra_info,
    .destroy = tr_destroy,
    .sendto = NULL,
    .can_write_eof = true,
};

void sim_pipe_attach(sim_pipe *p, sim_pipe_tr *tr, bool write, tw_loop *loop)
{
    tr->pipe = p;
    tr->fd = write ? p->w_fd : p->r_fd;
    if (write) {
        p->w_kind = END_TRANSPORT;
        p->w_tr = tr;
    } else {
        p->r_kind = END_TRANSPORT;
        p->r_tr = tr;
    }
    tw__transport_init(&tr->base, loop, &pipe_tr_ops,
                       write ? TW_TRANSPORT_WRITE : TW_TRANSPORT_READ);
}

/* ------------------------------------------------------------------ */
/* 4. events                                                           */

static void reader_gone(sim_pipe *p)
{
    if (p->w_kind != END_TRANSPORT)
        return;
    tw_transport *t = &p->w_tr->base;
    if (t->flags & TW__T_LOST)
        return;
    if (t->wbuf.size)
        tw__transport_fatal(t, -EPIPE);
    else
        tw_transport_close(t);
}

void sim_pipe_event(tw_sim *sim, const sim_event *ev)
{
    sim_pipe *p = sim_table_get(&sim->procs->pipes, ev->obj, ev->gen);
    if (!p)
        return;
    switch (SIM_ACT(ev->arg)) {
    case PIPE_DELIVER:
        deliver(p);
        break;
    case PIPE_WRITABLE:
        p->writable_pending = false;
        if (p->w_kind == END_TRANSPORT && p->w_tr->want_wr)
            tw__transport_writable(&p->w_tr->base);
        break;
    case PIPE_READER_GONE:
        reader_gone(p);
        break;
    default:
        assert(!"unknown pipe event");
    }
}

/* ------------------------------------------------------------------ */
/* 5. user fds                                                         */

sim_pipe *sim_pipe_by_fd(tw_sim *sim, uint32_t node, int fd, bool *write)
{
    sim_procs *r = sim->procs;
    for (uint32_t i = 0; r && i < r->pipes.n; i++) {
        sim_pipe *p = sim_table_get(&r->pipes, i, sim_table_gen(&r->pipes, i));
        if (!p || p->node != node)
            continue;
        if (p->r_fd == fd && p->r_kind == END_FD) {
            *write = false;
            return p;
        }
        if (p->w_fd == fd && p->w_kind == END_FD) {
            *write = true;
            return p;
        }
    }
    return NULL;
}

int tw_sim_pipe(tw_loop *loop, int fds[2])
{
    sim_node *n = sim_node_of(loop);
    if (!n || !fds)
        return -EINVAL;
    sim_pipe *p = sim_pipe_new(n->sim, n->id);
    if (!p)
        return -ENOMEM;
    sim_procs *r = n->sim->procs;
    p->r_fd = fds[0] = r->next_fd++;
    p->w_fd = fds[1] = r->next_fd++;
    sim_trace(n->sim, n->id, 0, "pipe-new", fds[0], fds[1]);
    return 0;
}

int tw_sim_pipe_close(tw_loop *loop, int fd)
{
    sim_node *n = sim_node_of(loop);
    if (!n)
        return -EINVAL;
    bool write;
    sim_pipe *p = sim_pipe_by_fd(n->sim, n->id, fd, &write);
    if (!p)
        return -EBADF;
    sim_pipe_close_end(p, write);
    return 0;
}

int sim_connect_pipe(tw_loop *loop, tw_protocol_factory factory, void *arg,
                     int fd, bool write, tw_connect_cb cb)
{
    sim_node *n = sim_node_of(loop);
    bool is_write = false;
    sim_pipe *p = sim_pipe_by_fd(n->sim, n->id, fd, &is_write);
    if (!p || is_write != write)
        return -EBADF; /* not an open end of that direction here */
    sim_pipe_tr *tr = calloc(1, sizeof *tr);
    if (!tr) {
        sim_pipe_close_end(p, write); /* the fd was the call's */
        return -ENOMEM;
    }
    sim_pipe_attach(p, tr, write, loop);
    sim_trace(n->sim, n->id, tr->base.id, write ? "pipe-wrap-w" : "pipe-wrap-r",
              p->id, fd);
    /* A factory failure is reported through cb; the core destroys the
     * transport, which closes the end. */
    tw__transport_open(&tr->base, factory, arg, cb);
    return 0;
}
