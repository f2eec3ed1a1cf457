/* sim/stream.c - simulated stream connections: the transport ops the core
 * drives, and the network events that move bytes between two endpoints.
 *
 * Map:
 *   endpoints  new, free, lookup by (id, gen), open as a transport
 *   segments   what a send turns into: in flight (fly), then arrived (rx)
 *   acks       on their way back, settled when the window is looked at
 *   ops        send, want_write, want_read, shutdown_write, destroy
 *   events     arrive, deliver, ack, writable, rst, stall, peer_dead
 *   heal       parked segments and acks move again when a cut heals
 *
 * Flow control is a receive window per direction: the sender may have at
 * most rcvbuf_bytes sent and not yet acknowledged; an acknowledgement is
 * sent only when the receiving protocol has actually been handed the
 * bytes, one per instant of reads. It rides on a segment the reader sends
 * in that instant (as TCP's acks ride on data), else it travels alone,
 * one latency drawn for it. Acks are not events: the sender keeps those on
 * their way (arrival time, bytes) and settles the ones that have landed
 * when it looks at its window; an EV_ACK is queued only to wake a writer
 * the window holds up. A paused reader therefore holds the window shut,
 * send() returns 0, the core buffers, and pause_writing follows: the
 * push-back of a real socket pair, with no special case anywhere.
 *
 * Each endpoint owns the bytes travelling towards it, so a sender may be
 * closed and freed while its last bytes and FIN are still in flight, and a
 * receiver's close frees what it never read (answering with RST, as Linux
 * does when unread data is discarded).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* ---- endpoints ---- */

sim_ep *sim_ep_new(tw_sim *sim, uint32_t node)
{
    sim_ep *ep = sim_pool_get(&sim->ep_pool);
    if (!ep)
        return NULL;
    memset(ep, 0, sizeof *ep);
    ep->id = sim_table_add(&sim->eps, ep);
    if (ep->id == SIM_NONE) {
        sim_pool_put(&sim->ep_pool, ep);
        return NULL;
    }
    assert(node <= SIM_NODES_LIMIT);
    ep->node = ep->peer_node = (uint16_t)node;
    ep->unacked_since = -1;
    return ep;
}

/* ---- segments: small ones come from the world's pools ---- */

_Static_assert(sizeof ((tw_sim *)0)->seg_pool / sizeof(sim_pool) == SIM_SEG_CLASSES,
               "a pool per size class");

static inline sim_seg *seg_new(tw_sim *sim, size_t len)
{
    sim_seg *s;
    unsigned c = len > SIM_SEG_TINY; /* the class, if len is small at all */
    if (len <= SIM_SEG_SMALL) {
        s = sim_pool_get(&sim->seg_pool[c]);
        if (!s)
            return NULL;
        s->room = (uint8_t)(c + 1);
    } else {
        s = malloc(sizeof *s + len);
        if (!s)
            return NULL;
        s->room = 0;
    }
    s->next = NULL;
    s->len = (uint32_t)len;
    s->fin = false;
    s->tap = 0;
    /* A pooled segment has its class's room, and the data fits it. */
    assert(s->len == len && (!s->room || s->room == c + 1));
    return s;
}

static inline void seg_free(tw_sim *sim, sim_seg *s)
{
    if (s->room)
        sim_pool_put(&sim->seg_pool[s->room - 1u], s);
    else
        free(s);
}

static void free_segs(tw_sim *sim, sim_seg *s)
{
    while (s) {
        sim_seg *next = s->next;
        seg_free(sim, s);
        s = next;
    }
}

void sim_segs_init(tw_sim *sim)
{
    sim_pool_init(&sim->seg_pool[0], sizeof(sim_seg) + SIM_SEG_TINY, SIM_SEG_BLOCK_TINY);
    sim_pool_init(&sim->seg_pool[1], sizeof(sim_seg) + SIM_SEG_SMALL, SIM_SEG_BLOCK_SMALL);
}

void sim_segs_fini(tw_sim *sim)
{
    for (unsigned c = 0; c < SIM_SEG_CLASSES; c++) {
        /* the endpoints, freed first, gave every one back */
        assert(sim->seg_pool[c].live == 0);
        sim_pool_fini(&sim->seg_pool[c]);
    }
}

void sim_ep_free(tw_sim *sim, sim_ep *ep)
{
    assert(sim_table_get(&sim->eps, ep->id, sim_table_gen(&sim->eps, ep->id)) == ep);
    if (sim_tapping(sim)) /* what was on its way here never arrives */
        sim_tap_fly(sim, ep, TW_SIM_PACKET_DROPPED, INT64_MAX);
    free_segs(sim, ep->fly_head);
    free_segs(sim, ep->rx_head);
    if (ep->opened)
        free(ep->more);
    else if (!ep->queued)
        free(ep->dial);
    sim_table_del(&sim->eps, ep->id);
    if (ep->peer) { /* its partner no longer reaches it */
        assert(ep->peer->peer == ep);
        ep->peer->peer = NULL;
    }
    if (ep->opened) {
        /* ep begins with it; the core gives it back through op_release,
         * now or once strict mode's quarantine is done with it */
        tw__transport_free(&ep->t);
        return;
    }
    tw__taddr_clear(&ep->t.peer);
    tw__taddr_clear(&ep->t.local);
    sim_pool_put(&sim->ep_pool, ep);
}

static tw_sim *sim_of_ep(const sim_ep *ep);

static void op_release(tw_transport *t)
{
    sim_ep *ep = (sim_ep *)t;
    sim_pool_put(&sim_of_ep(ep)->ep_pool, ep);
}


static int ep_push(tw_sim *sim, sim_ep *ep, tw_ns when, uint8_t type, uint64_t arg)
{
    return sim_push(sim, when, type, ep->id, sim_table_gen(&sim->eps, ep->id), arg);
}

/* ep_push inline, for the events of every message (arrive, deliver). */
static inline __attribute__((always_inline)) void ep_push_hot(tw_sim *sim, sim_ep *ep,
                                                              tw_ns when, uint8_t type)
{
    sim_push_inline(sim, when, type, ep->id, sim_table_gen(&sim->eps, ep->id), 0);
}

static tw_sim *sim_of_ep(const sim_ep *ep)
{
    return ((sim_node *)ep->t.loop)->sim;
}

int sim_ep_open(tw_sim *sim, sim_ep *ep, tw_protocol_factory f, void *arg,
                tw_connect_cb cb)
{
    assert(!ep->opened && !ep->queued);
    /* f, arg and cb came by value: the opening half is done with (a
     * server end's is NULL, its queue's link cleared). */
    free(ep->dial);
    ep->more = NULL;
    sim_node *n = sim->nodes[ep->node];
    /* Leaves the addresses the endpoint was given. */
    tw__transport_init(&ep->t, &n->loop, &tw__sim_stream_ops, TW_TRANSPORT_STREAM);
    ep->opened = true;
    ep->last_active = sim->now;
    int err = -(int)ep->pending_errno;
    ep->pending_errno = 0;
    uint64_t tid = ep->t.id;
    sim_trace(sim, ep->node, tid, "open", ep->id, 0);
    sim_limits_opened(sim, n, tid);
    int rc = tw__transport_open(&ep->t, f, arg, cb);
    if (rc < 0) /* the core destroyed it: ep is gone */
        return rc;
    if (err)
        ep_push(sim, ep, sim->now, EV_RST, (uint64_t)-err);
    else
        sim_ep_watch_cut(sim, ep); /* made while its path is cut */
    return 0;
}

void sim_ep_kill(tw_sim *sim, sim_ep *ep, int err)
{
    assert(err < 0);
    if (ep->broken)
        return;
    if (!ep->opened) {
        assert(-err <= SIM_EP_ERRNO_MAX); /* a reset's or a timeout's */
        if (!ep->pending_errno)
            ep->pending_errno = (unsigned)-err;
        return;
    }
    ep->broken = true;
    if (err == -ETIMEDOUT)
        sim->stats.timeouts++;
    else
        sim->stats.resets++;
    sim_trace(sim, ep->node, ep->t.id, err == -ETIMEDOUT ? "timeout" : "reset",
              -err, 0);
    tw__transport_fatal(&ep->t, err);
}

/* A reset travels to from's peer (lost if the path is cut). */
void sim_send_rst(tw_sim *sim, sim_ep *from)
{
    sim_ep *peer = sim_ep_peer(sim, from);
    if (!peer)
        return;
    bool blocked = sim_path_blocks(sim, from->node, peer->node);
    if (sim_tapping(sim))
        sim_tap_tcp(sim, from, true, blocked ? TW_SIM_PACKET_LOST : TW_SIM_PACKET_SENT,
                    TW_SIM_PACKET_RST, 0, sim->now, 0, NULL, 0, 0);
    if (blocked)
        return;
    /* Sent after everything before it on the stream, it arrives after
     * it too: a receiver reads that data, then learns of the reset. */
    tw_ns t = sim->now + sim_latency(sim, from->node, peer->node);
    if (peer->fly_head && t <= peer->fly_last)
        t = peer->fly_last + 1;
    assert(t >= sim->now && (!peer->fly_head || t > peer->fly_last));
    ep_push(sim, peer, t, EV_RST, ECONNRESET);
}

/* ---- segments ---- */

/* The node of peer's other end crashed now: what it sent that had not
 * left yet (sent after a blocking call that had not returned, sim_depart)
 * never leaves. Those segments are the last of peer's in flight (their
 * departures never go back). */
void sim_stream_unsent(tw_sim *sim, sim_ep *peer)
{
    sim_seg **at = &peer->fly_head, *last = NULL;
    while (*at && (*at)->sent <= sim->now) {
        last = *at;
        at = &(*at)->next;
    }
    if (!*at)
        return;
    sim_seg *s = *at;
    *at = NULL;
    peer->fly_tail = last;
    while (s) {
        sim_seg *next = s->next;
        assert(s->sent > sim->now && peer->fly_bytes >= s->len);
        if (sim_tapping(sim) && s->tap)
            sim_tap_tcp(sim, peer, false, TW_SIM_PACKET_DROPPED,
                        s->fin ? TW_SIM_PACKET_FIN : TW_SIM_PACKET_DATA, 0, sim->now, 0,
                        s->data, s->len, s->tap);
        peer->fly_bytes -= s->len;
        sim_trace(sim, peer->node, sim_ep_tid(peer), "unsent", (int64_t)s->len, 0);
        seg_free(sim, s);
        s = next;
    }
    peer->fly_last = last ? last->arrive : sim->now;
    assert(peer->fly_head || (peer->fly_bytes == 0 && !peer->fly_tail));
}

static size_t window_of(tw_sim *sim, const sim_ep *from)
{
    return sim_path_opts(sim, from->node, from->peer_node)->rcvbuf_bytes;
}

/* The path from ep to its peer (on ep's peer_node), and its options. */
static inline sim_path *path_to(tw_sim *sim, const sim_ep *ep, const sim_ep *peer,
                                const tw_sim_path_opts **o)
{
    assert(peer->node == ep->peer_node);
    sim_path *p = sim_path_of(sim, ep->node, peer->node);
    *o = sim_path_opts_at(sim, p, ep->node, peer->node);
    return p;
}

/* Put seg on its way from `from` to `to`, after everything sent before,
 * over path p (options o): from's node to to's. */
static inline __attribute__((always_inline)) void enqueue(tw_sim *sim, sim_ep *from, sim_ep *to, sim_seg *seg,
                    const tw_sim_path_opts *o, sim_path *p)
{
    bool gave_up = false;
    const uint64_t losses = sim->stats.losses; /* the tap's: how many now */
    const tw_ns depart = sim_depart(sim, from->node);
    tw_ns t = sim_transit_at(sim, o, p, from->node, to->node, seg->len, depart, &gave_up);
    if (sim_tapping(sim)) /* the last loss that gives up is not counted */
        sim_tap_segment(sim, from, seg, sim->stats.losses - losses + gave_up, gave_up,
                        p->busy_until, t);
    if (gave_up) {
        /* Retransmissions exhausted: the sender's TCP gives up and resets.
         * Nothing sent after this segment may arrive before that reset
         * (a receiver never delivers past a hole), so later segments wait
         * behind it, and the reset, queued first, ends the stream. */
        seg_free(sim, seg);
        if (to->fly_last < t)
            to->fly_last = t;
        ep_push(sim, from, t, EV_RST, ETIMEDOUT);
        ep_push(sim, to, t, EV_RST, ECONNRESET);
        return;
    }
    if (t < to->fly_last)
        t = to->fly_last; /* a stream never overtakes itself */
    assert(t >= sim->now);
    assert(!to->fly_tail || to->fly_tail->arrive <= t);
    to->fly_last = t;
    seg->sent = depart;
    seg->arrive = t;
    seg->ack = 0;
    seg->next = NULL;
    if (to->fly_tail)
        to->fly_tail->next = seg;
    else
        to->fly_head = seg;
    to->fly_tail = seg;
    to->fly_bytes += seg->len;
    assert(to->fly_bytes >= seg->len); /* no wrap: counted bytes are real */
    /* One EV_ARRIVE at a time, for the oldest segment in flight: the
     * next is queued when it arrives (arrival times never go back). */
    if (!to->arrive_pending && !to->rx_parked) {
        to->arrive_pending = true;
        ep_push_hot(sim, to, t, EV_ARRIVE);
    }
}

/* ---- acknowledgements ---- */

#ifndef NDEBUG
/* The acks on their way to ep land in the order they are kept: a ring of
 * at most SIM_ACKS, by non-decreasing arrival time. For assertions. */
static bool acks_ordered(const sim_ep *ep)
{
    if (ep->ack_len > SIM_ACKS) /* (ack_head's two bits are a place) */
        return false;
    for (unsigned k = 1; k < ep->ack_len; k++)
        if (ep->ack_t[(ep->ack_head + k) % SIM_ACKS] <
            ep->ack_t[(ep->ack_head + k - 1) % SIM_ACKS])
            return false;
    return true;
}
#endif

static sim_ep_more *ep_more(sim_ep *ep);

/* Fold the acks that have reached ep into its window; one that arrived
 * while its path was cut is held until the heal. */
static void ack_settle(tw_sim *sim, sim_ep *ep)
{
    assert(acks_ordered(ep));
    while (ep->ack_len && ep->ack_t[ep->ack_head] <= sim->now) {
        uint32_t n = ep->ack_n[ep->ack_head];
        sim_path *p = ep->node == ep->peer_node || !sim->paths_cut
                          ? NULL
                          : sim_path_of(sim, ep->peer_node, ep->node);
        if (p && p->cut_since >= 0 && p->cut_since <= ep->ack_t[ep->ack_head]) {
            p->count.blocked++;
            sim_ep_more *m = ep_more(ep);
            if (m) {
                m->ack_parked += n;
                /* acknowledges bytes sent: within what is unacknowledged */
                assert(m->ack_parked >= n && m->ack_parked <= ep->tx_unacked);
            } else {
                sim_fail(sim, -ENOMEM, "out of memory for a stream end's acks");
            }
        } else {
            assert(ep->tx_unacked >= n);
            ep->tx_unacked -= n;
            if (!ep->tx_unacked)
                ep->unacked_since = -1;
        }
        ep->ack_head = (uint8_t)((ep->ack_head + 1u) % SIM_ACKS);
        ep->ack_len--;
    }
    /* What is left is still on its way. */
    assert(!ep->ack_len || ep->ack_t[ep->ack_head] > sim->now);
}

size_t sim_ep_unacked(tw_sim *sim, sim_ep *ep)
{
    ack_settle(sim, ep);
    return ep->tx_unacked;
}

/* A writer the window holds up: wake it when the next ack lands. */
static void ack_wake(tw_sim *sim, sim_ep *ep)
{
    if (!ep->want_write || ep->ack_event || !ep->ack_len)
        return;
    ep->ack_event = true;
    ep_push(sim, ep, ep->ack_t[ep->ack_head], EV_ACK, 0);
}

/* n bytes acknowledged to `to`, arriving at t (or later: acks keep their
 * order, and a clogged path holds them until it clears). */
static void ack_add(tw_sim *sim, sim_ep *to, tw_ns t, size_t n)
{
    if (to->node != to->peer_node) {
        sim_path *p = sim_path_of(sim, to->peer_node, to->node);
        if (p->clog_until > t)
            t = p->clog_until;
    }
    if (to->ack_len == SIM_ACKS)
        ack_settle(sim, to); /* make room with those that have landed */
    /* the newest on its way, if any */
    unsigned last = (to->ack_head + to->ack_len + SIM_ACKS - 1u) % SIM_ACKS;
    if (to->ack_len && t < to->ack_t[last])
        t = to->ack_t[last];
    if (sim_tapping(sim)) /* sent by to's peer now, landing at t */
        sim_tap_tcp(sim, to, false, TW_SIM_PACKET_SENT, TW_SIM_PACKET_ACK, 0,
                    sim->now, t, NULL, 0, 0);
    /* Bytes read of what to sent: within its window. */
    assert(n <= to->tx_unacked);
    if (to->ack_len) {
        if (to->ack_len == SIM_ACKS || t == to->ack_t[last]) {
            /* full: the newest carries the last one's bytes too */
            to->ack_t[last] = t;
            to->ack_n[last] += (uint32_t)n;
            assert(to->ack_n[last] >= n); /* no wrap */
            ack_wake(sim, to);
            return;
        }
    }
    assert(to->ack_len < SIM_ACKS);
    unsigned k = (to->ack_head + to->ack_len + 0u) % SIM_ACKS;
    to->ack_t[k] = t;
    to->ack_n[k] = (uint32_t)n;
    to->ack_len++;
    assert(acks_ordered(to));
    ack_wake(sim, to);
}

void sim_stream_settle_all(tw_sim *sim)
{
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));)
        ack_settle(sim, ep);
}

void sim_stream_clogged(tw_sim *sim)
{
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (!ep->ack_len || ep->node == ep->peer_node)
            continue;
        tw_ns until = sim_path_of(sim, ep->peer_node, ep->node)->clog_until;
        for (uint8_t k = 0; k < ep->ack_len; k++) {
            tw_ns *t = &ep->ack_t[(ep->ack_head + k + 0u) % SIM_ACKS];
            if (*t > sim->now && *t < until) /* landed ones stand */
                *t = until;
        }
    }
}

/* ---- transport ops ---- */

static tw_ns cut_since(tw_sim *sim, const sim_ep *ep);

static bool can_send(tw_sim *sim, sim_ep *ep)
{
    if (!sim_ep_peer(sim, ep))
        return true;
    ack_settle(sim, ep);
    return ep->tx_unacked < window_of(sim, ep);
}

/* The tap hears bytes sent where no end takes them: sent, and dropped. */
static void tap_nobody(tw_sim *sim, sim_ep *ep, const struct iovec *iov,
                       int iovcnt, size_t total)
{
    uint8_t *buf = total ? malloc(total) : NULL;
    if (total && !buf)
        return;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len)
            memcpy(buf + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    uint32_t c = sim_tap_tcp(sim, ep, true, TW_SIM_PACKET_SENT, TW_SIM_PACKET_DATA,
                             0, sim->now, 0, buf, total, 0);
    sim_tap_tcp(sim, ep, true, TW_SIM_PACKET_DROPPED, TW_SIM_PACKET_DATA, 0,
                sim->now, 0, buf, total, c);
    free(buf);
}

bool sim_ep_peer_reachable(tw_sim *sim, const sim_ep *ep)
{
    return sim->nodes[ep->peer_node]->up &&
           !sim_path_is_cut(sim, ep->node, ep->peer_node) &&
           !sim_path_is_cut(sim, ep->peer_node, ep->node);
}

/* ep sends to a host with no such connection, which answers it with a
 * reset: once, a round trip later. */
static void rst_from_the_host(tw_sim *sim, sim_ep *ep)
{
    assert(!ep->rst_sent && sim_ep_peer_reachable(sim, ep));
    ep->rst_sent = true;
    tw_ns there = sim_latency(sim, ep->node, ep->peer_node); /* drawn in order */
    tw_ns back = sim_latency(sim, ep->peer_node, ep->node);
    ep_push(sim, ep, sim->now + there + back, EV_RST, ECONNRESET);
}

/* Nobody at the other end. A live host (one that came back after a
 * crash too) answers with RST; one that is down, or cut off, says
 * nothing: the retransmissions give up after the timeout, unless the
 * host is back, or the cut heals, before (sim_node_restart,
 * sim_stream_heal: then it answers with RST). The bytes count as sent. */
static __attribute__((noinline)) ssize_t send_nobody(tw_sim *sim, sim_ep *ep,
                                                     const struct iovec *iov, int iovcnt,
                                                     size_t total)
{
    if (sim_ep_rst_unseen(ep)) /* the reset it had not looked for */
        return -(ssize_t)ep->pending_errno;
    if (sim_ep_peer_reachable(sim, ep)) {
        if (!ep->rst_sent)
            rst_from_the_host(sim, ep);
    } else {
        sim_ep_arm_dead(sim, ep);
    }
    if (sim_tapping(sim))
        tap_nobody(sim, ep, iov, iovcnt, total);
    ep->last_active = sim->now;
    /* The bytes left as any others do (the capture has them): the trace
     * says so, or a reader sees a reply the protocol did write missing. */
    SIM_TRACE(sim, ep->node, ep->t.id, "send", (int64_t)total, (int64_t)total);
    return (ssize_t)total;
}

/* n bytes of iov (n > 0) cut into segments of at most segmax, each on its
 * way; the bytes put on their way (fewer if memory ran out). */
static __attribute__((noinline)) size_t send_segments(tw_sim *sim, sim_ep *ep, sim_ep *peer,
                                                      const struct iovec *iov, size_t n,
                                                      const tw_sim_path_opts *o, sim_path *path)
{
    size_t done = 0, segmax = sim->opts.segment_bytes_max;
    int i = 0;
    size_t ioff = 0;
    while (done < n) {
        size_t len = n - done < segmax ? n - done : segmax;
        sim_seg *seg = seg_new(sim, len);
        if (!seg)
            break;
        for (size_t got = 0; got < len;) {
            size_t take = iov[i].iov_len - ioff;
            if (take > len - got)
                take = len - got;
            memcpy(seg->data + got, (const uint8_t *)iov[i].iov_base + ioff, take);
            got += take;
            ioff += take;
            if (ioff == iov[i].iov_len) {
                i++;
                ioff = 0;
            }
        }
        enqueue(sim, ep, peer, seg, o, path);
        done += len;
    }
    return done;
}

static ssize_t op_send(tw_transport *t, const struct iovec *iov, int iovcnt)
{
    sim_ep *ep = (sim_ep *)t;
    tw_sim *sim = sim_of_ep(ep);
    assert(ep->opened && !ep->fin_sent && iovcnt > 0);
    assert(!(t->flags & (TW__T_LOST | TW__T_EOF_SENT)));
    size_t total = iov[0].iov_len;
    for (int i = 1; i < iovcnt; i++)
        total += iov[i].iov_len;
    sim_ep *peer = sim_ep_peer(sim, ep);
    if (__builtin_expect(!peer, 0))
        return send_nobody(sim, ep, iov, iovcnt, total);
    const tw_sim_path_opts *o;
    sim_path *path = path_to(sim, ep, peer, &o); /* looked up once */
    size_t window = o->rcvbuf_bytes;
    /* Acks only open the window: look at them when it may be short. */
    if (ep->tx_unacked + total > window)
        ack_settle(sim, ep);
    if (ep->tx_unacked >= window)
        return 0;
    size_t n = total < window - ep->tx_unacked ? total : window - ep->tx_unacked;
    size_t done = 0;
    if (iovcnt == 1 && n <= sim->opts.segment_bytes_max) { /* the common case */
        sim_seg *seg = seg_new(sim, n);
        if (seg) {
            memcpy(seg->data, iov[0].iov_base, n);
            enqueue(sim, ep, peer, seg, o, path);
            done = n;
        }
    } else {
        done = send_segments(sim, ep, peer, iov, n, o, path);
    }
    if (done) {
        if (!ep->tx_unacked) {
            ep->unacked_since = sim->now;
            /* data into a cut: it times out unless the cut heals */
            if (sim->paths_cut && cut_since(sim, ep) >= 0)
                sim_ep_watch_cut(sim, ep);
        }
        ep->last_active = sim->now;
    }
    /* Within what was offered and what the window had room for. */
    assert(done <= total && ep->tx_unacked + done <= window);
    ep->tx_unacked += done;
    sim->stats.bytes_sent += done;
    SIM_TRACE(sim, ep->node, t->id, "send", (int64_t)done, (int64_t)total);
    return (ssize_t)done;
}

static void maybe_writable(tw_sim *sim, sim_ep *ep)
{
    assert(ep->opened && ep->want_write);
    if (ep->writable_pending)
        return;
    if (!can_send(sim, ep)) {
        ack_wake(sim, ep);
        return;
    }
    ep->writable_pending = true;
    ep_push(sim, ep, sim->now, EV_WRITABLE, 0);
}

static inline void maybe_deliver(tw_sim *sim, sim_ep *ep)
{
    if (ep->deliver_pending || !ep->want_read ||
        !(ep->rx_bytes || (ep->fin_arrived && !ep->eof_done)))
        return;
    ep->deliver_pending = true;
    ep_push_hot(sim, ep, sim->now, EV_DELIVER);
}

static void op_want_write(tw_transport *t, bool on)
{
    sim_ep *ep = (sim_ep *)t;
    /* The core asks on a change only, its flag already saying so. */
    assert(on == !!(t->flags & TW__T_WARMED) && on != ep->want_write);
    ep->want_write = on;
    if (on)
        maybe_writable(sim_of_ep(ep), ep);
}

static bool deliverable(const sim_ep *ep);

static void op_want_read(tw_transport *t, bool on)
{
    sim_ep *ep = (sim_ep *)t;
    tw_sim *sim = sim_of_ep(ep);
    assert(on == !!(t->flags & TW__T_RARMED) && on != ep->want_read);
    ep->want_read = on;
    if (on && sim_ep_rst_unseen(ep) && !deliverable(ep)) /* what reading finds */
        ep_push(sim, ep, sim->now, EV_RST, ep->pending_errno);
    else if (on)
        maybe_deliver(sim, ep); /* what came before the reset, first */
}

static void send_fin(tw_sim *sim, sim_ep *ep)
{
    assert(!ep->fin_sent); /* one FIN per direction */
    ep->fin_sent = true;
    sim_ep *peer = sim_ep_peer(sim, ep);
    sim_seg *seg = peer ? seg_new(sim, 0) : NULL;
    if (!seg)
        return;
    seg->fin = true;
    const tw_sim_path_opts *o;
    sim_path *p = path_to(sim, ep, peer, &o);
    enqueue(sim, ep, peer, seg, o, p);
}

static int op_shutdown_write(tw_transport *t)
{
    sim_ep *ep = (sim_ep *)t;
    tw_sim *sim = sim_of_ep(ep);
    assert(!ep->fin_sent);
    if (sim_ep_rst_unseen(ep)) /* a reset socket is no longer connected */
        return -ENOTCONN;
    sim_trace(sim, ep->node, t->id, "fin", 0, 0);
    send_fin(sim, ep);
    return 0;
}

static void op_destroy(tw_transport *t)
{
    sim_ep *ep = (sim_ep *)t;
    tw_sim *sim = sim_of_ep(ep);
    sim_node *n = sim->nodes[ep->node];
    if (!n->crashing && !ep->broken && sim_ep_peer(sim, ep)) {
        bool unread = ep->rx_bytes > 0;
        for (sim_seg *s = ep->fly_head; s && !unread; s = s->next)
            unread = !s->fin;
        if (unread)
            sim_send_rst(sim, ep); /* unread data thrown away: RST */
        else if (!ep->fin_sent)
            send_fin(sim, ep);
    }
    sim_trace(sim, ep->node, t->id, "closed", ep->rx_bytes, 0);
    sim_limits_closed(n);
    sim_ep_free(sim, ep);
}

static int op_keepalive(tw_transport *t, tw_ns idle, tw_ns interval, unsigned count);
static int op_user_timeout(tw_transport *t, tw_ns timeout);

const tw__transport_ops tw__sim_stream_ops = {
    .send = op_send,
    .want_write = op_want_write,
    .want_read = op_want_read,
    .shutdown_write = op_shutdown_write,
    .extra_info = NULL,
    .destroy = op_destroy,
    .sendto = NULL,
    .can_write_eof = true,
    .keepalive = op_keepalive,
    .user_timeout = op_user_timeout,
    .close_takes_writes = true, /* a socket, as asyncio's */
    .release = op_release,
};

int tw_sim_reset_transport(tw_transport *t)
{
    if (!t || t->ops != &tw__sim_stream_ops ||
        tw__transport_dead(t, "tw_sim_reset_transport()"))
        return -EINVAL;
    sim_ep *ep = (sim_ep *)t;
    tw_sim *sim = sim_of_ep(ep);
    ep_push(sim, ep, sim->now, EV_RST, ECONNRESET);
    sim_ep *peer = sim_ep_peer(sim, ep);
    if (peer)
        ep_push(sim, peer, sim->now, EV_RST, ECONNRESET);
    return 0;
}

/* ---- events ---- */

static bool watching(const sim_ep *ep);
static void on_deliver(tw_sim *sim, sim_ep *ep);

void sim_stream_arrive(tw_sim *sim, sim_ep *ep)
{
    ep->arrive_pending = false;
    if (sim_path_blocks(sim, ep->peer_node, ep->node)) {
        if (sim_tapping(sim))
            sim_tap_fly(sim, ep, TW_SIM_PACKET_HELD, sim->now);
        ep->rx_parked = true; /* retransmitted after the heal */
        return;
    }
    sim_path *p = sim->clog_max > sim->now ? sim_path_of(sim, ep->peer_node, ep->node) : NULL;
    if (p && p->clog_until > sim->now) {
        ep->arrive_pending = true;
        ep_push(sim, ep, p->clog_until, EV_ARRIVE, 0);
        return;
    }
    size_t moved = 0, acked = 0;
    while (ep->fly_head && ep->fly_head->arrive <= sim->now) {
        sim_seg *s = ep->fly_head;
        if (sim_tapping(sim))
            sim_tap_tcp(sim, ep, false, TW_SIM_PACKET_ARRIVED,
                        s->fin ? TW_SIM_PACKET_FIN : TW_SIM_PACKET_DATA, 0, sim->now,
                        0, s->data, s->len, s->tap);
        ep->fly_head = s->next;
        if (!ep->fly_head)
            ep->fly_tail = NULL;
        ep->fly_bytes -= s->len;
        acked += s->ack;
        if (s->fin) {
            ep->fin_arrived = true;
            seg_free(sim, s);
            continue;
        }
        s->next = NULL;
        s->off = 0; /* arrived: off, no longer the times (sim_seg) */
        if (ep->rx_tail)
            ep->rx_tail->next = s;
        else
            ep->rx_head = s;
        ep->rx_tail = s;
        ep->rx_bytes += s->len;
        assert(ep->rx_bytes >= s->len); /* within the window: no wrap */
        moved += s->len;
        assert(s->len > 0); /* only data reaches rx */
    }
    assert(ep->fly_head || (ep->fly_bytes == 0 && !ep->fly_tail));
    assert(!ep->fly_head || ep->fly_head->arrive > sim->now);
    if (ep->fly_head) {
        ep->arrive_pending = true;
        ep_push_hot(sim, ep, ep->fly_head->arrive, EV_ARRIVE);
    }
    if (moved || acked)
        ep->last_active = sim->now;
    if (acked) { /* acks that rode on the data: the window opens */
        assert(ep->tx_unacked >= acked);
        ep->tx_unacked -= acked;
        if (!ep->tx_unacked)
            ep->unacked_since = -1;
        if (ep->opened && ep->want_write && !ep->broken)
            maybe_writable(sim, ep);
    }
    if (moved)
        SIM_TRACE(sim, ep->node, sim_ep_tid(ep), "arrive", (int64_t)moved,
                  (int64_t)ep->rx_bytes);
    if (!ep->deliver_pending && deliverable(ep) && sim_next_is_now(sim) &&
        !sim_node_busy(sim, sim->nodes[ep->node])) {
        sim->stats.events++; /* the delivery, made without queueing it */
        on_deliver(sim, ep);
        return;
    }
    maybe_deliver(sim, ep);
}

/* A chunk size from the seed: whole, or cut short (tiny, or anything
 * below whole) with chunk_split_probability. */
static size_t choose_chunk(tw_sim *sim, size_t avail)
{
    assert(avail > 0 && sim->opts.chunk_bytes_max > 0);
    size_t max = avail < sim->opts.chunk_bytes_max ? avail : sim->opts.chunk_bytes_max;
    if (max == 1 || !sim_chance(&sim->rng_net, sim->opts.chunk_split_probability))
        return max;
    size_t below = max - 1; /* a cut chunk leaves at least a byte */
    if (sim_below(&sim->rng_net, 3) == 0)
        return 1 + sim_below(&sim->rng_net, below < 16 ? below : 16);
    return 1 + sim_below(&sim->rng_net, below);
}

/* The first c received bytes, contiguous: in place when one segment
 * holds them, else gathered into the world's scratch buffer. */
static const uint8_t *gather(tw_sim *sim, sim_ep *ep, size_t c)
{
    /* What arrived, and no more than the scratch buffer holds. */
    assert(c > 0 && c <= ep->rx_bytes && c <= sim->opts.chunk_bytes_max);
    sim_seg *s = ep->rx_head;
    if (s->len - s->off >= c)
        return s->data + s->off;
    size_t got = 0;
    for (; got < c; s = s->next) {
        size_t take = s->len - s->off;
        if (take > c - got)
            take = c - got;
        memcpy(sim->scratch + got, s->data + s->off, take);
        got += take;
    }
    return sim->scratch;
}

/* The first arrived segment is read to its end: let it go. */
static inline void rx_drop_head(tw_sim *sim, sim_ep *ep)
{
    sim_seg *s = ep->rx_head;
    ep->rx_head = s->next;
    if (!ep->rx_head)
        ep->rx_tail = NULL;
    seg_free(sim, s);
}

static void consume(tw_sim *sim, sim_ep *ep, size_t n)
{
    assert(n <= ep->rx_bytes);
    assert((ep->rx_head == NULL) == (ep->rx_bytes == 0));
    ep->rx_bytes -= n;
    if (n && n == ep->rx_head->len - ep->rx_head->off) { /* the common case */
        rx_drop_head(sim, ep);
        n = 0;
    }
    while (n) {
        sim_seg *s = ep->rx_head;
        size_t take = s->len - s->off < n ? s->len - s->off : n;
        s->off += (uint32_t)take;
        n -= take;
        if (s->off == s->len)
            rx_drop_head(sim, ep);
    }
    /* Every segment kept has a byte unread: empty means nothing counted. */
    assert(ep->rx_head ? ep->rx_bytes && ep->rx_head->off < ep->rx_head->len
                       : ep->rx_bytes == 0);
}

/* Is there something to hand the protocol? */
static bool deliverable(const sim_ep *ep)
{
    return ep->want_read && (ep->rx_bytes || (ep->fin_arrived && !ep->eof_done));
}

/* Hand the protocol a chunk, and the next ones while each would be the
 * next event anyway; then tell the sender, one latency back, how much
 * was read: one window update for the reads of one instant, as a kernel
 * sends one for the reads an application makes in one turn. */
static void on_deliver(tw_sim *sim, sim_ep *ep)
{
    ep->deliver_pending = false;
    size_t read = 0;
    while (ep->opened && !ep->broken && tw__transport_reading(&ep->t)) {
        if (ep->rx_bytes) {
            size_t c = choose_chunk(sim, ep->rx_bytes);
            const uint8_t *p = gather(sim, ep, c);
            SIM_TRACE(sim, ep->node, ep->t.id, "deliver", (int64_t)c,
                      (int64_t)ep->rx_bytes);
            assert(c > 0 && c <= ep->rx_bytes);
            size_t took = tw__transport_deliver(&ep->t, p, c);
            /* Callbacks may have closed the transport, but it is freed
             * only from the loop: ep is still ours here. Nothing is handed
             * over that had not arrived. */
            assert(took <= c && c <= ep->rx_bytes);
            consume(sim, ep, took);
            sim->stats.bytes_delivered += took;
            read += took;
            if (took && deliverable(ep) && sim_next_is_now(sim)) {
                sim->stats.events++;
                continue;
            }
            maybe_deliver(sim, ep);
        } else if (ep->fin_arrived && !ep->eof_done) {
            ep->eof_done = true;
            sim_trace(sim, ep->node, ep->t.id, "eof", 0, 0);
            tw__transport_eof(&ep->t);
        }
        break;
    }
    sim_ep *peer = read ? sim_ep_peer(sim, ep) : NULL;
    if (!peer) {
        /* A reset kept while reading was paused comes after the bytes
         * that came before it, as a socket's read returns them first. */
        if (sim_ep_rst_unseen(ep) && !ep->broken && watching(ep) && !deliverable(ep))
            ep_push(sim, ep, sim->now, EV_RST, ep->pending_errno);
        return;
    }
    /* A segment this end sent in this instant carries the ack (the reads
     * were for the writes, as an echo's are); else it goes alone. */
    sim_seg *out = peer->fly_tail;
    if (out && out->sent >= sim->now) {
        out->ack += read;
        if (sim_tapping(sim))
            sim_tap_tcp(sim, ep, true, TW_SIM_PACKET_SENT, TW_SIM_PACKET_ACK,
                        TW_SIM_PACKET_RIDES, sim->now, 0, NULL, 0, out->tap);
    } else
        ack_add(sim, peer, sim->now + sim_latency(sim, ep->node, peer->node), read);
}

/* The ack the writer waited for has landed. */
static void on_ack(tw_sim *sim, sim_ep *ep)
{
    assert(ep->ack_event); /* one EV_ACK at a time, and this is it */
    ep->ack_event = false;
    if (!ep->opened || !ep->want_write || ep->broken)
        return;
    if (can_send(sim, ep))
        tw__transport_writable(&ep->t);
    if (!can_send(sim, ep))
        ack_wake(sim, ep);
}

/* Since when the connection's path is cut in either direction, -1: not. */
static tw_ns cut_since(tw_sim *sim, const sim_ep *ep)
{
    if (!sim->paths_cut || ep->node == ep->peer_node)
        return -1;
    tw_ns a = sim_path_of(sim, ep->node, ep->peer_node)->cut_since;
    tw_ns b = sim_path_of(sim, ep->peer_node, ep->node)->cut_since;
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* ---- the death model ----
 *
 * As TCP: an end learns that its peer is gone only when it has data out.
 * Data held up by a cut (or sent to a host that is down) is retransmitted
 * until the timeout (the user timeout, else stall_timeout_ns) from when
 * both the cut and the data were there; then -ETIMEDOUT. A host that is
 * back answers the next retransmission with a reset. An idle end, one
 * that only waits to hear, stays open: half-open, until it sends, or
 * until keepalive finds out. And a reset (or timeout) that reaches an
 * end whose transport neither reads (paused, or past its EOF) nor waits
 * to write is kept, as a socket's error is, for its next send or read
 * (on_rst). */

/* Queue ep's timer of type (EV_STALL, EV_PEER_DEAD or EV_KEEPALIVE) for
 * when, unless it is queued already: one of each at a time. */
static void arm(tw_sim *sim, sim_ep *ep, tw_ns when, uint8_t type)
{
    switch (type) {
    case EV_STALL:
        if (ep->stall_armed)
            return;
        ep->stall_armed = true;
        break;
    case EV_PEER_DEAD:
        if (ep->dead_armed)
            return;
        ep->dead_armed = true;
        break;
    default:
        assert(type == EV_KEEPALIVE);
        if (ep->ka_armed)
            return;
        ep->ka_armed = true;
    }
    ep_push(sim, ep, when, type, 0);
}

void sim_ep_watch_cut(tw_sim *sim, sim_ep *ep)
{
    tw_ns since = cut_since(sim, ep);
    if (since >= 0)
        arm(sim, ep, since + sim_ep_timeout(sim, ep), EV_STALL);
}

static void on_stall(tw_sim *sim, sim_ep *ep)
{
    ep->stall_armed = false;
    tw_ns since = cut_since(sim, ep);
    if (since < 0 || ep->broken || sim_ep_rst_unseen(ep))
        return; /* healed in time */
    assert(since <= sim->now); /* a cut began in the past */
    ack_settle(sim, ep);
    if (!ep->tx_unacked)
        return; /* nothing out: it finds out when it sends */
    if (ep->unacked_since > since)
        since = ep->unacked_since;
    tw_ns due = since + sim_ep_timeout(sim, ep);
    if (sim->now < due) {
        arm(sim, ep, due, EV_STALL);
        return;
    }
    /* Its retransmissions gave up: what the cut holds of them never
     * arrives, and the peer is not told. */
    sim_ep *peer = sim_ep_peer(sim, ep);
    if (peer && peer->rx_parked && peer->fly_head) {
        sim_trace(sim, peer->node, sim_ep_tid(peer), "gave_up", (int64_t)peer->fly_bytes, 0);
        size_t acked = 0; /* the acks they carried still count */
        for (sim_seg *g = peer->fly_head; g; g = g->next)
            acked += g->ack;
        if (sim_tapping(sim))
            sim_tap_fly(sim, peer, TW_SIM_PACKET_DROPPED, INT64_MAX);
        assert(peer->tx_unacked >= acked);
        peer->tx_unacked -= acked;
        if (!peer->tx_unacked)
            peer->unacked_since = -1;
        free_segs(sim, peer->fly_head);
        peer->fly_head = peer->fly_tail = NULL;
        peer->fly_bytes = 0;
        peer->rx_parked = false;
    }
    sim_ep_kill(sim, ep, -ETIMEDOUT);
}

void sim_ep_arm_dead(tw_sim *sim, sim_ep *ep)
{
    sim_ep_more *m = ep_more(ep);
    if (!m) {
        sim_fail(sim, -ENOMEM, "out of memory for a stream end's timer");
        return;
    }
    if (m->dead_since < 0)
        m->dead_since = sim->now;
    arm(sim, ep, m->dead_since + sim_ep_timeout(sim, ep), EV_PEER_DEAD);
}

static void on_peer_dead(tw_sim *sim, sim_ep *ep)
{
    ep->dead_armed = false;
    if (ep->broken || sim_ep_rst_unseen(ep) || sim_ep_peer_reachable(sim, ep))
        return; /* back: its reset is on the way (sim/node.c, sim_stream_heal) */
    assert(ep->more); /* it was armed */
    tw_ns due = ep->more->dead_since + sim_ep_timeout(sim, ep);
    if (sim->now >= due)
        sim_ep_kill(sim, ep, -ETIMEDOUT);
    else
        arm(sim, ep, due, EV_PEER_DEAD);
}

/* Keepalive: after ka_idle of silence a probe, then one every
 * ka_interval; an answer resets the count, a reset ends the connection,
 * and ka_count probes unanswered time it out. */
static void ka_arm(tw_sim *sim, sim_ep *ep, tw_ns when)
{
    arm(sim, ep, when, EV_KEEPALIVE);
}

static void on_keepalive(tw_sim *sim, sim_ep *ep)
{
    ep->ka_armed = false;
    if (ep->broken || sim_ep_rst_unseen(ep) || !ep->opened || !ep->more || !ep->more->ka_idle)
        return;
    sim_ep_more *o = ep->more;
    if (!o->ka_probes && sim->now < ep->last_active + o->ka_idle) {
        ka_arm(sim, ep, ep->last_active + o->ka_idle);
        return;
    }
    /* An end with data out, or waiting to go, sends no probe, as on
     * Linux: its retransmissions (or window probes) decide, within the
     * user timeout, else stall_timeout_ns (sim_ep_timeout). It looks
     * again an idle time later. */
    ack_settle(sim, ep);
    if (ep->tx_unacked || ep->dead_armed || ep->t.wbuf.size) {
        o->ka_probes = 0;
        ka_arm(sim, ep, sim->now + o->ka_idle);
        return;
    }
    sim_ep *peer = sim_ep_peer(sim, ep);
    bool through = ep->node == ep->peer_node ||
                   (!sim_path_blocks(sim, ep->node, ep->peer_node) &&
                    !sim_path_is_cut(sim, ep->peer_node, ep->node));
    bool up = sim->nodes[ep->peer_node]->up;
    sim_trace(sim, ep->node, ep->t.id, "keepalive", o->ka_probes, through && up);
    if (through && up) {
        if (peer) { /* answered */
            o->ka_probes = 0;
            ep->last_active = sim->now;
            ka_arm(sim, ep, sim->now + o->ka_idle);
        } else { /* a host that does not know the connection */
            tw_ns rtt = sim_latency(sim, ep->node, ep->peer_node) +
                        sim_latency(sim, ep->peer_node, ep->node);
            ep_push(sim, ep, sim->now + rtt, EV_RST, ECONNRESET);
        }
        return;
    }
    if (++o->ka_probes > o->ka_count)
        sim_ep_kill(sim, ep, -ETIMEDOUT);
    else
        ka_arm(sim, ep, sim->now + o->ka_interval);
}

/* ep's sim_ep_more, made on first use; NULL: out of memory. Until then
 * each setting is 0 (off) and dead_since -1, as made here. */
static sim_ep_more *ep_more(sim_ep *ep)
{
    assert(ep->opened);
    if (!ep->more) {
        ep->more = calloc(1, sizeof *ep->more);
        if (ep->more)
            ep->more->dead_since = -1;
    }
    return ep->more;
}

/* v rounded up to a multiple of unit (v > 0): Linux takes keepalive's
 * times in whole seconds and the user timeout in milliseconds, and the
 * real backend rounds them up so (real/stream.c); the simulator keeps
 * the same values, so a peer is found gone no sooner than on Linux. */
static tw_ns round_up(tw_ns v, tw_ns unit)
{
    assert(v > 0 && unit > 0);
    return (v + unit - 1) / unit * unit;
}

static int op_keepalive(tw_transport *t, tw_ns idle, tw_ns interval, unsigned count)
{
    sim_ep *ep = (sim_ep *)t;
    if (ep->is_unix)
        return -ENOTSUP;
    if (!idle && !ep->more)
        return 0; /* off, and it never was on */
    sim_ep_more *o = ep_more(ep);
    if (!o)
        return -ENOMEM;
    o->ka_idle = idle ? round_up(idle, TW_SEC(1)) : 0;
    o->ka_interval = idle ? round_up(interval, TW_SEC(1)) : interval;
    o->ka_count = (uint8_t)count;
    o->ka_probes = 0;
    if (idle)
        ka_arm(sim_of_ep(ep), ep, ep->last_active + o->ka_idle);
    return 0;
}

static int op_user_timeout(tw_transport *t, tw_ns timeout)
{
    sim_ep *ep = (sim_ep *)t;
    if (ep->is_unix)
        return -ENOTSUP;
    if (!timeout && !ep->more)
        return 0; /* off, and it never was on */
    sim_ep_more *o = ep_more(ep);
    if (!o)
        return -ENOMEM;
    /* the armed timers look again when due */
    o->user_timeout = timeout ? round_up(timeout, TW_MS(1)) : 0;
    return 0;
}

/* Does the transport look at its socket now: reading (not paused, its
 * EOF not yet seen), or waiting to write? */
static bool watching(const sim_ep *ep)
{
    return (ep->want_read && !ep->eof_done) || ep->want_write;
}

/* A reset (or the end's own timeout, err ETIMEDOUT) reaches ep. A
 * transport that watches its socket learns of it now; one that neither
 * reads nor waits to write does not (the kernel keeps the error) until
 * its next send, or until it reads again: as asyncio's socket transport,
 * whose selector then has nothing registered. The error is Linux's: a
 * reset after the peer's FIN (CLOSE_WAIT) is EPIPE. */
static void on_rst(tw_sim *sim, sim_ep *ep, int err)
{
    assert(err > 0 && err <= SIM_EP_ERRNO_MAX);
    if (!ep->opened || ep->broken || sim_ep_rst_unseen(ep) || watching(ep)) {
        sim_ep_kill(sim, ep, -err);
        return;
    }
    ep->pending_errno = (unsigned)(ep->fin_arrived && err == ECONNRESET ? EPIPE : err);
    /* The connection is gone: nothing more goes out (sim_ep_peer). */
    assert(sim_ep_rst_unseen(ep));
    sim_trace(sim, ep->node, ep->t.id, "reset_unseen", ep->pending_errno, 0);
}

void sim_stream_event(tw_sim *sim, const sim_event *ev, sim_ep *ep)
{
    switch (ev->type) {
    case EV_DELIVER:
        on_deliver(sim, ep);
        break;
    case EV_ACK:
        on_ack(sim, ep);
        break;
    case EV_WRITABLE:
        ep->writable_pending = false;
        if (ep->opened && ep->want_write && !ep->broken && can_send(sim, ep))
            tw__transport_writable(&ep->t);
        break;
    case EV_RST:
        if (sim_tapping(sim) && ev->arg == ECONNRESET && !sim_ep_rst_unseen(ep)) /* a packet */
            sim_tap_tcp(sim, ep, false, TW_SIM_PACKET_ARRIVED, TW_SIM_PACKET_RST, 0,
                        sim->now, 0, NULL, 0, 0);
        on_rst(sim, ep, (int)(ev->arg & ~SIM_RST_TAPPED));
        break;
    case EV_STALL:
        on_stall(sim, ep);
        break;
    case EV_PEER_DEAD:
        on_peer_dead(sim, ep);
        break;
    case EV_KEEPALIVE:
        on_keepalive(sim, ep);
        break;
    default:
        assert(!"not a stream event (EV_ARRIVE goes to sim_stream_arrive)");
    }
}

uint64_t sim_stream_rst_held(tw_sim *sim, const sim_event *ev)
{
    sim_ep *ep = sim_ep_get(sim, ev->obj, ev->gen);
    if (ep && sim_tapping(sim) && ev->arg == ECONNRESET && !sim_ep_rst_unseen(ep)) {
        sim_tap_tcp(sim, ep, false, TW_SIM_PACKET_ARRIVED, TW_SIM_PACKET_RST, 0,
                    sim->now, 0, NULL, 0, 0);
        return ev->arg | SIM_RST_TAPPED;
    }
    return ev->arg;
}

/* After a heal: what a cut held moves again, one latency from now, on
 * every path no longer cut (a heal may end several cuts at once). */
void sim_stream_heal(tw_sim *sim)
{
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        /* Parked segments have no EV_ARRIVE queued: the heal queues it. */
        assert(!(ep->rx_parked && ep->arrive_pending));
        /* Retransmitting to a host with no such connection (it went,
         * or crashed and came back, while the cut held everything):
         * that host answers now. */
        if (ep->dead_armed && !ep->rst_sent && sim_ep_peer_reachable(sim, ep))
            rst_from_the_host(sim, ep);
        if (sim_path_is_cut(sim, ep->peer_node, ep->node))
            continue;
        tw_ns lat = sim_latency(sim, ep->peer_node, ep->node);
        if (ep->rx_parked) {
            if (sim_tapping(sim)) /* what the cut held goes again */
                sim_tap_fly(sim, ep, TW_SIM_PACKET_SENT, sim->now);
            ep->rx_parked = false;
            ep->arrive_pending = true;
            ep_push(sim, ep, sim->now + lat, EV_ARRIVE, 0);
        }
        /* parked acks: only an open end sent what they acknowledge */
        if (ep->opened && ep->more && ep->more->ack_parked) {
            ack_add(sim, ep, sim->now + lat, ep->more->ack_parked);
            ep->more->ack_parked = 0;
        }
    }
}
