/* sim/dgram.h - simulated datagrams, shared by sim/dgram*.c only.
 *
 * Map:
 *   packets    one datagram (or ICMP error) on its way, then queued at the
 *              receiving endpoint
 *   endpoints  a tw_transport first, then the socket's state: bound
 *              address, socket-buffer accounting, the receive queue
 *   the world  the tables events name, every endpoint in creation order,
 *              the overlays scripted faults put on paths
 *   Unix names the socket files and abstract names of every node's
 *              namespace
 *   between the files
 *      dgram.c        endpoints: create/bind, the transport ops, delivery
 *      dgram_net.c    the network: a send's fate, arrival, refusal
 *      dgram_fault.c  options, faults on paths, ENOBUFS
 *      dgram_unix.c   Unix datagram endpoints: names, sends, push-back
 *
 * Every random choice is made in dgram_net.c at send time from the
 * world's network stream; Unix datagrams draw nothing. Nothing here reads
 * a clock, libc's generator or a pointer value.
 */
#ifndef TWIN_SIM_DGRAM_H
#define TWIN_SIM_DGRAM_H

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "twin/datagram.h"

/* ---- packets ---- */

typedef struct sim_pkt {
    struct sim_pkt *next;   /* in an endpoint's receive queue, the world's
                               packets in flight, or its spare ones */
    struct sim_pkt *prev;   /* in flight: the one before it */
    uint32_t from, to;      /* nodes: the path it travels */
    uint32_t sender, sender_gen; /* the sending endpoint, for ICMP */
    tw_addr src, dst;
    int err;                /* an ICMP error (-ECONNREFUSED), else 0 */
    bool refuse;            /* drawn at send: refused on arrival */
    bool is_unix;           /* charged to its sender until it is read */
    bool unsent_told;       /* the tap heard at its node's crash that it
                               never left (sim_dg_unsent) */
    uint32_t tap;           /* the packet tap's cookie (sim/tap.h), 0: none */
    /* A datagram: when it leaves its node (sim_depart) and the node's
     * crash_epoch then; a crash in between means it never left. */
    tw_ns depart;
    uint32_t epoch;
    uint32_t len;
    uint32_t cap;           /* bytes data[] holds (a spare's size, or len) */
    /* In its path's lane (sim/dgram_net.c): when it arrives, its place in
     * the world's order (a sim->seq), the next one on the path. */
    bool laned;
    tw_ns when;
    uint64_t seq;
    struct sim_pkt *lane_next;
    uint8_t data[];
} sim_pkt;

/* ---- endpoints ---- */

typedef struct sim_dg {
    struct tw_transport t; /* first: the core's transport */
    uint32_t id;           /* in sim->dg->eps: events name it with a gen */
    uint32_t node;
    bool reuse_port, broadcast;
    bool want_read, want_write;
    bool deliver_pending, writable_pending;
    bool blocked;          /* a send said EAGAIN: wait for EV_DGRAM_SENT */
    size_t tx_bytes;       /* waiting for the wire (len + 8 each) */
    sim_pkt *rx_head, *rx_tail;
    size_t rx_bytes;       /* arrived, not delivered (len + 8 each) */
    uint32_t rx_count;     /* and how many datagrams that is */
    /* Unix endpoints (dgram_unix.c) */
    bool is_unix;
    uint32_t upeer, upeer_gen; /* the socket connected to (SIM_NONE: none,
                                  or found gone: not connected any more) */
    uint32_t wait_on, wait_gen; /* blocked on this receiver's full queue
                                   (SIM_NONE: on its own send buffer) */
    uint64_t ino;          /* the name it bound (0: none) */
    size_t unix_tx;        /* its datagrams queued at receivers (len + 8) */
    /* The node its last IPv4 send went to, as sim_node_by_addr found it
     * (route_nodes: the world's node count then, 0: nothing remembered;
     * route_to SIM_NONE: no node has the address). A world's nodes only
     * grow and keep their addresses, so the answer holds while the count
     * does. */
    uint32_t route_ip4, route_to, route_nodes;
    /* The endpoint its last IPv4 datagram reached, as sim_dg_find found
     * it (dgram_net.c; hit_epoch: the world's dg->epoch then, 0: nothing
     * remembered; hit_ep SIM_NONE: none). The answer depends on the
     * datagram's node and addresses and on the endpoints alone, so it
     * holds while those match and no endpoint came or went. */
    uint64_t hit_epoch;
    uint32_t hit_node, hit_ep, hit_gen;
    uint32_t hit_src_ip4, hit_dst_ip4;
    uint16_t hit_src_port, hit_dst_port;
    struct sim_dg *prev, *next; /* every endpoint, creation order */
} sim_dg;

/* ---- Unix names ---- */

/* A socket file in a node's file system, or an abstract name. A file
 * outlives the endpoint that bound it when that endpoint dies without
 * removing it (a crash): a stale socket file. An abstract name dies with
 * its endpoint. */
typedef struct sim_uname {
    struct sim_uname *next;
    uint32_t node;
    uint32_t ep, ep_gen;   /* the endpoint bound to it (SIM_NONE: stale) */
    uint64_t ino;          /* which file: a new bind makes a new one */
    tw_addr addr;          /* canonical (see dgram_unix.c) */
} sim_uname;

/* ---- the world's datagram state ---- */

struct sim_dgram {
    sim_table eps;         /* endpoints */
    /* Packets in flight, each carried by its arrival event (which alone
     * takes it): at most events_max of them, in the paths' lanes or, out
     * of a lane's order, on this list (sim/dgram_net.c). */
    sim_pkt *flying;
    uint32_t nflying;
    uint32_t nparked;      /* in a lane behind another, no event queued */
    sim_dg *head, *tail;
    uint64_t epoch;        /* moves on when an endpoint comes or goes
                              (what senders remember of sim_dg_find is
                              then stale) */
    tw_sim_dgram_opts *overlays; /* from DGRAM faults, by index */
    uint32_t noverlays;
    sim_uname *unames;     /* every node's Unix names */
    uint64_t next_ino;
    uint32_t next_autobind;
    uint32_t unix_blocked; /* Unix endpoints waiting for room */
    sim_pkt *spare;        /* freed small packets, for the next sends */
    uint32_t nspare;       /* how many (at most SIM_PKT_SPARE_MAX) */
};

/* ---- addresses, inline: every send and arrival asks these ---- */

static inline int sim_dg_family(const tw_addr *a)
{
    return a->len ? a->u.sa.sa_family : AF_UNSPEC;
}

static inline uint16_t sim_dg_port(const tw_addr *a)
{
    switch (sim_dg_family(a)) {
    case AF_INET: return ntohs(a->u.in4.sin_port);
    case AF_INET6: return ntohs(a->u.in6.sin6_port);
    default: return 0;
    }
}

static inline bool sim_dg_ip_is_loopback(const tw_addr *a)
{
    int f = sim_dg_family(a);
    if (f == AF_INET)
        return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
    if (f == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
    return false;
}

static inline bool sim_dg_ip_is_wildcard(const tw_addr *a)
{
    int f = sim_dg_family(a);
    if (f == AF_INET)
        return a->u.in4.sin_addr.s_addr == htonl(INADDR_ANY);
    if (f == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&a->u.in6.sin6_addr);
    return false;
}

static inline bool sim_dg_ip_is_broadcast(const tw_addr *a)
{
    return sim_dg_family(a) == AF_INET &&
           a->u.in4.sin_addr.s_addr == htonl(INADDR_BROADCAST);
}

/* Copy an IP address's used bytes only (its length says how many): a
 * packet's addresses are copied twice per datagram. (Unix addresses are
 * copied whole: a reader may look for the path's NUL past the length.) */
static inline void sim_dg_addr_copy(tw_addr *to, const tw_addr *from)
{
    if (sim_dg_family(from) == AF_INET && from->len == sizeof from->u.in4) {
        memcpy(to, from, offsetof(tw_addr, u) + sizeof from->u.in4);
        return;
    }
    size_t n = from->len < sizeof from->u ? from->len : sizeof from->u;
    memcpy(to, from, offsetof(tw_addr, u) + n);
}

/* tw_addr_equal for IP addresses, inline; others go to it. */
static inline bool sim_dg_addr_equal(const tw_addr *a, const tw_addr *b)
{
    int f = sim_dg_family(a);
    if (f != sim_dg_family(b))
        return false;
    if (f == AF_INET)
        return a->u.in4.sin_port == b->u.in4.sin_port &&
               a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    return tw_addr_equal(a, b);
}

static inline bool sim_dg_ip_equal(const tw_addr *a, const tw_addr *b)
{
    int f = sim_dg_family(a);
    if (f != sim_dg_family(b))
        return false;
    if (f == AF_INET)
        return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    return memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) == 0;
}

/* ---- between the files ---- */

/* dgram.c */
static inline sim_dg *sim_dg_get(tw_sim *sim, uint32_t id, uint32_t gen)
{
    return sim_table_get(&sim->dg->eps, id, gen);
}
/* The endpoint a datagram from src to dst reaches on node, or NULL. */
sim_dg *sim_dg_find(tw_sim *sim, uint32_t node, const tw_addr *src,
                    const tw_addr *dst);
/* Queue an arrived packet (or ICMP error) for the protocol; takes it. */
void sim_dg_enqueue(tw_sim *sim, sim_dg *ep, sim_pkt *pkt);
/* Every endpoint of node bound where a broadcast to port reaches. */
bool sim_dg_hears_broadcast(const sim_dg *ep, uint32_t node, uint16_t port);
/* A's family's loopback address (127.0.0.1 or ::1) with port. */
tw_addr sim_dg_loopback(int family, uint16_t port);
/* Set up the transport of ep (its id taken in the table) on node n and
 * put it last in the world's list. */
void sim_dg_attach(tw_sim *sim, sim_dg *ep, sim_node *n);
/* Unblock ep (a Unix sender that had no room) and let it flush. */
void sim_dg_wake(tw_sim *sim, sim_dg *ep);
/* Pop the oldest queued packet of ep (NULL: none). */
sim_pkt *sim_dg_pop(tw_sim *sim, sim_dg *ep);

/* dgram_net.c */
/* The ops->sendto of a simulated endpoint (see core/internal.h). */
int sim_dg_send(tw_sim *sim, sim_dg *ep, const void *data, size_t len,
                const tw_addr *dst);
/* The arrival event of pkt (which it takes): out of flight, then to its
 * node and endpoint. */
void sim_dg_arrive(tw_sim *sim, sim_pkt *pkt);
/* The world ends: the packets still in flight go. */
void sim_dg_flying_fini(tw_sim *sim);
/* A packet for len bytes of data (NULL: no memory), its fields zero but
 * its addresses, which each maker sets whole (they are most of the
 * header, so they are not cleared first); and its end. Small packets
 * come from the world's spares and go back to them, at most
 * SIM_PKT_SPARE_MAX of them: a steady exchange of small datagrams then
 * allocates nothing after its first round. Larger ones, and small ones
 * past the bound, are malloc'd and freed. data[] is written whole by
 * whoever asked for it. */
#define SIM_PKT_SPARE_BYTES 512
#define SIM_PKT_SPARE_MAX 1024
static inline sim_pkt *sim_pkt_new(tw_sim *sim, size_t len)
{
    struct sim_dgram *dg = sim->dg;
    sim_pkt *p;
    if (len <= SIM_PKT_SPARE_BYTES && dg->spare) {
        p = dg->spare;
        dg->spare = p->next;
        dg->nspare--;
        assert(p->cap == SIM_PKT_SPARE_BYTES);
    } else {
        size_t cap = len <= SIM_PKT_SPARE_BYTES ? SIM_PKT_SPARE_BYTES : len;
        p = malloc(sizeof *p + cap);
        if (!p)
            return NULL;
        p->cap = (uint32_t)cap;
    }
    p->next = p->prev = NULL;
    p->from = p->to = p->sender = p->sender_gen = 0;
    p->src.len = p->dst.len = 0;
    p->err = 0;
    p->refuse = p->is_unix = p->unsent_told = false;
    p->tap = 0;
    p->depart = 0; /* (a datagram's are set by its send) */
    p->epoch = 0;
    p->laned = false;
    p->lane_next = NULL;
    p->len = (uint32_t)len;
    assert(p->len <= p->cap);
    return p;
}

static inline void sim_pkt_free(tw_sim *sim, sim_pkt *p)
{
    struct sim_dgram *dg = sim->dg;
    if (!p)
        return;
    if (p->cap != SIM_PKT_SPARE_BYTES || dg->nspare >= SIM_PKT_SPARE_MAX) {
        free(p);
        return;
    }
    p->next = dg->spare;
    dg->spare = p;
    dg->nspare++;
}

/* The rest of the world's spares go (sim_dgram_fini). */
void sim_pkt_spares_fini(tw_sim *sim);

/* dgram_unix.c */
/* The Unix part of create_datagram_endpoint (o->family is AF_UNIX). */
int sim_dg_unix_create(tw_sim *sim, sim_node *n, tw_protocol_factory factory,
                       void *arg, const tw_datagram_opts *o, tw_connect_cb cb);
/* The ops->sendto of a Unix endpoint: dst NULL is the connected peer. */
int sim_dg_unix_send(tw_sim *sim, sim_dg *ep, const void *data, size_t len,
                     const tw_addr *dst);
/* A Unix datagram left rx's queue (read or dropped): its sender's
 * buffer has room again. */
void sim_dg_unix_taken(tw_sim *sim, const sim_pkt *p);
/* rx's queue shrank or rx is going: wake the senders waiting for it. */
void sim_dg_unix_wake(tw_sim *sim, const sim_dg *rx);
/* ep is being destroyed: its name goes (or stays, stale, in a crash). */
void sim_dg_unix_destroy(tw_sim *sim, sim_dg *ep);
void sim_dg_unix_fini(tw_sim *sim);

/* dgram_fault.c */
/* A datagram fault's overlay is on path p now. */
static inline bool sim_dg_overlaid(const tw_sim *sim, const sim_path *p)
{
    return p->dgram_overlay &&
           (p->dgram_overlay_until == 0 || sim->now < p->dgram_overlay_until);
}
/* *scratch: own with the overlay of path p on top; returns scratch. */
const tw_sim_dgram_opts *sim_dg_opts_overlaid(tw_sim *sim, const sim_path *p,
                                              const tw_sim_dgram_opts *own,
                                              tw_sim_dgram_opts *scratch);
/* The datagram options of path p (options po) now: the path's own, with
 * a DGRAM fault's non-zero fields on top while it lasts. Points at the
 * path's own options when no fault is on it (nothing is copied), else
 * at *scratch, filled; valid until the options or the faults change. */
static inline const tw_sim_dgram_opts *sim_dg_opts_of(tw_sim *sim, const sim_path *p,
                                                      const tw_sim_path_opts *po,
                                                      tw_sim_dgram_opts *scratch)
{
    return sim_dg_overlaid(sim, p) ? sim_dg_opts_overlaid(sim, p, &po->dgram, scratch)
                                   : &po->dgram;
}
/* The same for the path from -> to. */
static inline const tw_sim_dgram_opts *sim_dg_opts(tw_sim *sim, uint32_t from,
                                                   uint32_t to,
                                                   tw_sim_dgram_opts *scratch)
{
    return sim_dg_opts_of(sim, sim_path_of(sim, from, to),
                          sim_path_opts(sim, from, to), scratch);
}
/* The largest datagram from the options and the family. */
uint32_t sim_dg_size_max(const tw_sim_dgram_opts *o, int family);

/* Why a datagram was dropped (second number of a "dg_drop" record). */
enum {
    SIM_DG_DROP_CUT = 1,     /* the path is partitioned */
    SIM_DG_DROP_DOWN = 2,    /* the node is crashed */
    SIM_DG_DROP_RCVBUF = 3,  /* the receiver's socket buffer is full */
    SIM_DG_DROP_NOROUTE = 4, /* no node has the address */
    SIM_DG_DROP_NOBODY = 5,  /* a broadcast nobody listens to */
    SIM_DG_DROP_UNSENT = 6,  /* its node crashed before it left */
};

#endif
