/* sim/stream.h - stream connections (sim/stream.c, sim/server.c).
 *
 * Map:
 *   segments   bytes on their way, and the acks on their way back
 *   endpoints  one end of a stream connection: a tw_transport first, then
 *              the bytes flowing towards it (in flight, then arrived)
 *   listeners  a tw_server first, then the accept queue
 *   stream.c   endpoints: the table, opening, resets, cuts and heals
 *   server.c   connects, listeners, the resolver
 */
#ifndef TWIN_SIM_STREAM_H
#define TWIN_SIM_STREAM_H

#include "sim/world.h"

/* ---- stream endpoints ---- */

/* A segment is in flight (an endpoint's fly list), then arrived (its rx
 * list); the times matter only in flight and the offset only once
 * arrived, so they share their bytes: 40 bytes of header. */
typedef struct sim_seg {
    struct sim_seg *next;
    union {
        struct {
            tw_ns sent, arrive; /* in flight */
        };
        uint32_t off;           /* arrived: bytes of it read */
    };
    uint32_t len;
    /* bytes of the other direction read by the sender, acknowledged by
     * this segment (an ack riding on data, as TCP's do): within the
     * sender's window, a uint32_t */
    uint32_t ack;
    uint32_t tap;    /* the packet tap's cookie (sim/tap.h), 0: none */
    bool fin;
    uint8_t room;    /* 0: room for len bytes; else 1 + its size class */
    uint8_t data[];
} sim_seg;

/* Segments of up to SIM_SEG_SMALL bytes come in two sizes of room, each
 * from a pool of its own in the world (sim/pool.h: no malloc header, and
 * a freed one is the next handed out): a tiny one for the short messages
 * most workloads send (a hundred thousand of them in flight at once take
 * a third of what small ones would), and a small one. Larger ones are a
 * malloc each. */
#define SIM_SEG_TINY 104
#define SIM_SEG_SMALL 480
#define SIM_SEG_CLASSES 2
_Static_assert((sizeof(sim_seg) + SIM_SEG_TINY) % 8 == 0 &&
                   (sizeof(sim_seg) + SIM_SEG_SMALL) % 8 == 0,
               "a segment of either class keeps a pool's alignment");
/* Segments to a pool's block, by class: about 64 KiB each. */
#define SIM_SEG_BLOCK_TINY 420
#define SIM_SEG_BLOCK_SMALL 124

/* Acknowledgements on their way back to the end that sent the bytes:
 * arrival time and bytes, in arrival order (sim_ep's ack_t and ack_n).
 * They are not events: the sender settles them when it looks at its
 * window, and an EV_ACK is queued only to wake a writer the window holds
 * up. */
#define SIM_ACKS 4
_Static_assert(SIM_ACKS == 4, "sim_ep's ack_head and ack_len have 2 and 3 bits");

/* What a client endpoint needs until it opens: how to open it. Kept
 * apart from the endpoint (which lives as long as the connection), and
 * freed when it opens or goes. */
typedef struct sim_ep_dial {
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
    tw__dial_cb dial_cb; /* a dial of the core's: its callback, else NULL */
    void *dial_ctx;
} sim_ep_dial;

/* What only some open endpoints need: keepalive and user timeout (0:
 * off), dead_since, when it first sent towards a crashed host (-1:
 * never), and ack_parked, the bytes of acks a cut holds on their way
 * here. Made at the first tw_transport_set_keepalive or set_user_timeout
 * that turns one on, the first send to a crashed host or the first ack
 * a cut holds; freed with the endpoint. */
typedef struct sim_ep_more {
    tw_ns ka_idle, ka_interval, user_timeout;
    tw_ns dead_since;
    uint32_t ack_parked;
    uint8_t ka_count, ka_probes;
} sim_ep_more;

/* Node ids fit sim_ep's 16 bits (world.h: SIM_NODES_LIMIT). */
_Static_assert(SIM_NODES_LIMIT <= UINT16_MAX, "a node id fits sim_ep's node");

/* A hundred thousand connections are two hundred thousand of these, so
 * they are packed: byte counts are 32 bits (what is sent and not yet
 * acknowledged is bounded by the window, rcvbuf_bytes, a uint32_t, and
 * every count below is part of it), node ids 16, flags single bits, and
 * what only some endpoints need is allocated apart (sim_ep_dial,
 * sim_ep_more). */
typedef struct sim_ep {
    struct tw_transport t; /* first: the core's transport */
    uint32_t id;
    uint16_t node, peer_node;
    /* The other end, while both live: each end's free clears its
     * partner's pointer (sim_ep_free). Read it through sim_ep_peer. */
    struct sim_ep *peer;
    /* the direction towards this endpoint */
    sim_seg *fly_head, *fly_tail; /* sent, not arrived, in order */
    sim_seg *rx_head, *rx_tail;   /* arrived, not read */
    uint32_t rx_bytes, fly_bytes;
    tw_ns fly_last;               /* arrival of the newest segment */
    /* the direction away from it: acks on their way here, a ring (when
     * each lands, and its bytes; those a cut holds: more->ack_parked) */
    tw_ns ack_t[SIM_ACKS];
    uint32_t ack_n[SIM_ACKS];
    uint32_t tx_unacked;          /* sent, not yet acknowledged as read */
    /* One word from here: the ring's first and count, the flags, and
     * the errno of a reset it has not been told of (0: none). */
    unsigned ack_head : 2, ack_len : 3;
    /* Timers armed: EV_STALL, EV_PEER_DEAD, EV_KEEPALIVE (see below). */
    bool stall_armed : 1, dead_armed : 1, ka_armed : 1;
    bool ack_event : 1;           /* an EV_ACK is queued to wake a writer */
    bool arrive_pending : 1;      /* an EV_ARRIVE is queued for fly_head */
    bool opened : 1, connecting : 1, broken : 1;
    bool fin_sent : 1, fin_arrived : 1, eof_done : 1;
    bool rx_parked : 1, deliver_pending : 1, writable_pending : 1, rst_sent : 1;
    bool want_write : 1, want_read : 1, peer_crashed : 1, is_unix : 1;
    bool queued : 1;              /* a server end in its listener's queue */
    /* Before the transport opened, a reset's errno; after, that of a
     * reset (or a timeout) that came while it neither read nor waited to
     * write, which its next send, or resume_reading, learns of, as a
     * socket's error (sim_ep_rst_unseen). */
    unsigned pending_errno : 7;
#define SIM_EP_ERRNO_MAX 127
    /* How this end learns its peer is gone, as TCP does (stream.c, the
     * death model): only by sending, or by keepalive. unacked_since: when
     * its oldest unacknowledged byte went out (-1: none); last_active:
     * its last send or arrival (and more->dead_since). */
    tw_ns unacked_since, last_active;
    /* One pointer for the stage the endpoint is in. */
    union {
        sim_ep_dial *dial;          /* a client, until opened */
        struct sim_ep *next_queued; /* queued: the next in the listener's queue */
        sim_ep_more *more;          /* opened: NULL until needed */
    };
} sim_ep;

/* Endpoints come from the world's pool (sim/pool.h), this many to a
 * block (about 80 KB). */
#define SIM_EP_BLOCK 256

struct sim_listener {
    tw_server srv; /* first: the core's server */
    uint32_t id;
    uint32_t node;
    bool unlinked, accept_pending;
    sim_ep *q_head, *q_tail;
    uint32_t q_len;
    struct sim_listener *next; /* in the world's list */
    /* Asked once for each SYN the listener takes (room in its backlog):
     * true refuses it as a closed port does (-ECONNREFUSED at the
     * client). NULL: none is. Set by the scripted peer (kit/peer.c). */
    bool (*refuse_syn)(void *arg);
    void *refuse_arg;
};

/* stream.c */
sim_ep *sim_ep_new(tw_sim *sim, uint32_t node);
void sim_ep_free(tw_sim *sim, sim_ep *ep);
static inline sim_ep *sim_ep_get(tw_sim *sim, uint32_t id, uint32_t gen)
{
    return (sim_ep *)sim_table_get(&sim->eps, id, gen);
}
/* Every live stream end, in id order; the body may free the one it has:
 *   sim_ep *ep;
 *   for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) ...            */
static inline sim_ep *sim_ep_next(tw_sim *sim, uint32_t *i)
{
    while (*i < sim->eps.n) {
        uint32_t id = (*i)++;
        sim_ep *ep = sim_ep_get(sim, id, sim_table_gen(&sim->eps, id));
        if (ep)
            return ep;
    }
    return NULL;
}
/* Has a reset reached ep's open transport unseen (stream.c, on_rst)? */
static inline bool sim_ep_rst_unseen(const sim_ep *ep)
{
    return ep->opened && ep->pending_errno;
}

static inline sim_ep *sim_ep_peer(tw_sim *sim, sim_ep *ep)
{
    (void)sim;
    /* A reset it has not been told of ends what it sends (on_rst). */
    assert(!ep->peer || ep->peer->peer == ep);
    return sim_ep_rst_unseen(ep) ? NULL : ep->peer;
}
int sim_ep_open(tw_sim *sim, sim_ep *ep, tw_protocol_factory f, void *arg,
                tw_connect_cb cb);
void sim_ep_kill(tw_sim *sim, sim_ep *ep, int err);
/* If the endpoint's path is cut, start its stall clock (it times out
 * only if it has data the cut holds up). */
void sim_ep_watch_cut(tw_sim *sim, sim_ep *ep);
/* It sent towards a host that is down: its retransmissions give up
 * after the timeout unless the host answers with a reset first. */
void sim_ep_arm_dead(tw_sim *sim, sim_ep *ep);
/* Can ep's segments reach its peer's host (up, and no cut either way),
 * and that host's answer come back? */
bool sim_ep_peer_reachable(tw_sim *sim, const sim_ep *ep);
/* The timeout of its retransmissions: the user timeout or the world's
 * stall_timeout_ns. */
static inline tw_ns sim_ep_timeout(const tw_sim *sim, const sim_ep *ep)
{
    /* more is there only once opened (see sim_ep). */
    return ep->opened && ep->more && ep->more->user_timeout
               ? ep->more->user_timeout
               : sim->opts.stall_timeout_ns;
}
void sim_send_rst(tw_sim *sim, sim_ep *from);
void sim_stream_event(tw_sim *sim, const sim_event *ev, sim_ep *ep);
/* An EV_RST's arg: the error, and this bit once its packet is captured. */
#define SIM_RST_TAPPED (UINT64_C(1) << 32)
/* An EV_RST that reaches a held node (frozen, or in a file call): its
 * host's kernel takes the packet now, the process later. Captures it
 * now; returns the arg to queue it with for the process. */
uint64_t sim_stream_rst_held(tw_sim *sim, const sim_event *ev);
/* The node of peer's other end crashed: drop what it had not sent yet
 * (sim/stream.c). */
void sim_stream_unsent(tw_sim *sim, sim_ep *peer);
/* An EV_ARRIVE for ep: the world's dispatch calls it straight (the
 * commonest event there is), sim_stream_event the rest. */
void sim_stream_arrive(tw_sim *sim, sim_ep *ep);
void sim_stream_heal(tw_sim *sim);
/* Before a cut heals: settle every end's acks that arrived under the
 * cut (they are held). After a clog: acks still on their way across a
 * clogged path wait for its end; those that landed stand. */
void sim_stream_settle_all(tw_sim *sim);
void sim_stream_clogged(tw_sim *sim);
/* The window's view after settling the acks that have arrived. */
size_t sim_ep_unacked(tw_sim *sim, sim_ep *ep);
/* The segment pools: made with the world, freed after its endpoints. */
void sim_segs_init(tw_sim *sim);
void sim_segs_fini(tw_sim *sim);
extern const tw__transport_ops tw__sim_stream_ops;

/* server.c */
int sim_connect_host(tw_loop *, tw_protocol_factory, void *, const char *,
                     uint16_t, tw_connect_cb);
int sim_connect_addr(tw_loop *, tw_protocol_factory, void *, const tw_addr *,
                     tw_connect_cb);
int sim_create_server(tw_loop *, tw_protocol_factory, void *, const char *,
                      uint16_t, const tw_server_opts *, tw_server **);
int sim_create_unix_server(tw_loop *, tw_protocol_factory, void *,
                           const char *, const tw_server_opts *, tw_server **);
void sim_server_event(tw_sim *sim, const sim_event *ev);
/* The loop's resolve / resolve_cancel ops (core/internal.h). */
void *sim_resolve_op(tw_loop *loop, const char *host, uint16_t port,
                     bool passive, tw__resolve_cb cb, void *ctx, int *err);
void sim_resolve_cancel_op(tw_loop *loop, void *req);
/* The dial / dial_cancel ops (core/internal.h). */
void *sim_dial_op(tw_loop *loop, const tw_addr *addr, const tw_addr *local,
                  tw__dial_cb cb, void *ctx, int *err);
void sim_dial_cancel_op(tw_loop *loop, void *req);

/* A name given addresses of its own (tw_sim_set_host). */
typedef struct sim_host {
    char name[TW_SIM_HOST_NAME_MAX + 1];
    int n;
    tw_addr addrs[TW_SIM_HOST_ADDRS_MAX];
} sim_host;

static inline uint64_t sim_ep_tid(const sim_ep *ep)
{
    return ep->opened ? ep->t.id : 0;
}

#endif
