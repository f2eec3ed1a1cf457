/* twin/simprobe.h - what a simulated world can tell about itself while
 * it runs, so that a fault can prove it did something.
 *
 * Map:
 *   1. per-path traffic counters (packets, found cut, sent clogged, lost)
 *   2. a node's state (up, open transports, timers)
 *   3. connections between nodes; stream ends and what they hold
 *   4. limits: an alarm the moment a node goes over one
 *   5. a tap on every packet the world puts on a path (twin/simpcap.h
 *      writes what it hears as capture files)
 *
 * A scenario (twin/scenario.h) reads these before and after each fault:
 * a partition that no packet ever met, or a crash of a node with nothing
 * open, is reported as inert, because a sweep that is green only because
 * its faults never touched anything proves nothing. It sets the limits
 * of section 4 from its `expect:` section, so that common protocol
 * mistakes fail a run without an invariant of the app's own.
 *
 * Every call only reads; none changes the run or its trace (an alarm's
 * handler may end a run early with tw_sim_stop, nothing else). Errors
 * follow twin/error.h; a loop that is not a node of sim gives -EINVAL.
 */
#ifndef TWIN_SIMPROBE_H
#define TWIN_SIMPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin/addr.h"
#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_sim tw_sim;

/* ------------------------------------------------------------------ */
/* 1. one direction of a path, counted since the world began */

typedef struct tw_sim_path_counters {
    /* Packets put on the path: stream segments (and each retransmission),
     * SYNs, acknowledgements, resets, datagrams. */
    uint64_t packets;
    /* Times traffic found the path cut (a partition at work). */
    uint64_t blocked;
    /* Packets put on the path while it was clogged (held until the clog
     * ends). */
    uint64_t clogged;
    /* Packets lost: independent loss, the loss model, a loss burst. */
    uint64_t lost;
    /* Of those, the ones a loss burst's model took (tw_sim_loss_burst). */
    uint64_t burst_lost;
    /* Datagrams lost, refused, duplicated, reordered or corrupted while a
     * datagram fault (TW_SIM_FAULT_DGRAM) impaired the path. */
    uint64_t dgram_impaired;
} tw_sim_path_counters;

int tw_sim_path_counters_get(tw_sim *sim, tw_loop *from, tw_loop *to,
                             tw_sim_path_counters *out);
/* Stream segments on the way from -> to that arrive before world time
 * `until`: what a clog laid on the path now until then will hold. */
uint64_t tw_sim_path_arrivals(tw_sim *sim, tw_loop *from, tw_loop *to,
                              tw_ns until);
/* True if traffic from -> to is cut now (false for from == to). */
bool tw_sim_path_is_cut(tw_sim *sim, tw_loop *from, tw_loop *to);

/* ------------------------------------------------------------------ */
/* 2. a node */

typedef struct tw_sim_node_probe {
    bool up;
    uint32_t transports;  /* open on its loop: streams, datagram
                             endpoints, pipes, subprocesses */
    uint32_t servers;     /* listening */
    uint32_t timers;      /* pending on its loop */
    uint32_t emfile_left; /* accepts still to fail with EMFILE */
    uint32_t connections; /* stream ends open on it (both ends of a
                             connection to itself), as section 4 counts */
    uint64_t write_buffered; /* bytes its transports hold for writing
                                (tw_transport_get_write_buffer_size, summed) */
} tw_sim_node_probe;

int tw_sim_node_probe_get(tw_loop *node, tw_sim_node_probe *out);

/* ------------------------------------------------------------------ */
/* 3. stream connections */

/* Connections (counted once, not per end) between a and b, b NULL: a and
 * any other node, that have completed their handshake. */
uint32_t tw_sim_connections_between(tw_sim *sim, tw_loop *a, tw_loop *b);

/* One stream end and the bytes it holds. */
typedef struct tw_sim_stream_probe {
    uint32_t slot, gen;  /* identity: equal in two probes = the same end */
    uint32_t node, peer_node;
    uint64_t transport;  /* the transport's id on its node (trace) */
    uint64_t buffered;   /* in its write buffer, not yet sent */
    uint64_t unacked;    /* sent, not yet read by the peer */
    uint64_t in_flight;  /* towards it, on the way (retransmissions
                            included): their arrival is scheduled */
    uint64_t arrived;    /* towards it, arrived, not yet read */
    bool reading;        /* the protocol reads (not paused) */
    bool peer_gone;      /* the other end no longer exists, or its node
                            is down: half-open */
} tw_sim_stream_probe;

/* Fill out[0..max) with the open stream ends (creation-table order);
 * returns how many there are (which may exceed max). */
size_t tw_sim_streams(tw_sim *sim, tw_sim_stream_probe *out, size_t max);

/* ------------------------------------------------------------------ */
/* 4. limits
 *
 * Bounds on what a node's protocols make the world hold, checked where it
 * grows, at the cost of a comparison: a transport's write buffer in the
 * core's write path (every write, writelines, sendto and TLS record), a
 * node's connect attempts in its connect, its open connections where one
 * opens. Going over one calls the handler once (per transport for a
 * buffer, per node and kind for the others), from inside the world: it
 * may record it and end the run with tw_sim_stop, and must not call into
 * the transport or the world otherwise. An alarm changes nothing of the
 * run by itself: no draw, no trace record. Zero fields: no bound. */

typedef struct tw_sim_limits {
    /* Bytes any transport may hold for writing. */
    uint64_t write_buffer_bytes_max;
    /* A transport whose protocol was told pause_writing may go on to hold
     * this many times its high-water mark (a mark below 4 KiB counts as 4
     * KiB) on top of what it held then: beyond that, the protocol is
     * writing as though it had never been told. */
    uint32_t write_buffer_over_high;
    /* Connect attempts a node makes (tw_create_connection and friends,
     * each one reaching the network) within one second of world time,
     * counted in fixed windows [k s, k+1 s). */
    uint32_t connects_per_sec_max;
    /* Stream ends open on a node at once (from connection_made to the end
     * of connection_lost; an accepted connection and a connected one
     * alike). */
    uint32_t connections_max;
} tw_sim_limits;

typedef enum tw_sim_alarm_kind {
    TW_SIM_ALARM_WRITE_BUFFER = 1, /* value: bytes buffered */
    TW_SIM_ALARM_CONNECT_RATE,     /* value: attempts in the window */
    TW_SIM_ALARM_CONNECTIONS,      /* value: stream ends open */
} tw_sim_alarm_kind;

typedef struct tw_sim_alarm {
    tw_sim_alarm_kind kind;
    uint32_t node;
    /* WRITE_BUFFER: the transport; CONNECTIONS: the one that opened;
     * CONNECT_RATE: 0 (an attempt has no transport before it opens). */
    uint64_t transport;
    tw_ns time_ns;       /* world time */
    uint64_t value;
    uint64_t limit;      /* the bound passed (for a paused transport's
                            buffer: what it held at pause_writing plus its
                            share) */
    /* WRITE_BUFFER: its high-water mark, and whether its protocol had
     * been told pause_writing (the bound passed is then the
     * over_high one, unless the absolute one is lower). */
    uint64_t high;
    bool paused;
    /* CONNECT_RATE: the window's start. */
    tw_ns window_ns;
} tw_sim_alarm;

typedef void (*tw_sim_alarm_fn)(void *arg, const tw_sim_alarm *alarm);

/* Watch sim's nodes (those there now, those added later, and across
 * crashes) with *limits (copied; NULL: none), telling fn(arg, ...). A
 * transport already over its new bound is told at its next write. 0 or
 * -EINVAL (fn NULL with limits). */
int tw_sim_set_limits(tw_sim *sim, const tw_sim_limits *limits,
                      tw_sim_alarm_fn fn, void *arg);
/* 5. the packet tap
 *
 * The simulator moves bytes, not packets, but each move is one: a
 * stream segment (with its acknowledgement riding on it, or an
 * acknowledgement alone), a SYN, a SYN-ACK, a FIN, a reset, a datagram,
 * an ICMP port unreachable. A tap hears each of them as it happens, in
 * the world's order, with what became of it. It hears more than one
 * report per packet: the send (and every retransmission), then the
 * arrival or the drop, each at its own time.
 *
 * What a stream's model does, as the tap tells it: a lost segment is not
 * missing bytes but a segment sent again one retransmission timeout
 * later (LOST for each transmission lost, then SENT with
 * TW_SIM_PACKET_RETRANSMIT for the one that gets through, each at the
 * world time it is put on the wire); a segment that meets a cut is
 * HELD, and SENT again (RETRANSMIT) when the cut heals. A pure
 * acknowledgement has no ARRIVED report: it lands at `until`, unless a
 * cut on its path then holds it (PATH reports say when paths are cut,
 * healed and clogged; a clog holds it to the clog's end).
 *
 * Unix-socket streams and datagrams, and pipes, never cross a path: the
 * tap hears nothing of them. Neither of keepalive probes.
 *
 * The tap only listens: a run with a tap is the very run without one
 * (same events, same trace hash), and without one the simulator pays one
 * predictable branch per packet. The tap must not call into the world
 * (no sends, no faults, no runs); reading it (tw_sim_now, the probes
 * above) is fine. */

typedef enum tw_sim_packet_kind {
    TW_SIM_PACKET_SYN,    /* a connect's SYN (each retransmission again) */
    TW_SIM_PACKET_SYNACK, /* the server node's answer to one it takes */
    TW_SIM_PACKET_DATA,   /* a stream segment: data, len bytes of it */
    TW_SIM_PACKET_ACK,    /* an acknowledgement with no data */
    TW_SIM_PACKET_FIN,    /* the end of one direction of a stream */
    TW_SIM_PACKET_RST,    /* a reset, or the refusal of a SYN */
    TW_SIM_PACKET_UDP,    /* a datagram: data, len bytes of it */
    /* Port unreachable, answering a datagram: src, dst, data and len
     * are the datagram it answers (it travels from -> to, the other
     * way). */
    TW_SIM_PACKET_ICMP_UNREACH,
    TW_SIM_PACKET_NONE,   /* a PATH report: no packet */
} tw_sim_packet_kind;

typedef enum tw_sim_packet_event {
    /* Put on the path at `time` by `from`, on its way to `to`. */
    TW_SIM_PACKET_SENT,
    /* Put on the path at `time` and lost there: it never arrives. */
    TW_SIM_PACKET_LOST,
    /* Taken off the path by `to` at `time` (a datagram: data is what
     * arrived, corrupted or not). */
    TW_SIM_PACKET_ARRIVED,
    /* A stream segment met a cut at `time`: held, sent again at the
     * heal. */
    TW_SIM_PACKET_HELD,
    /* It will never arrive: a cut or a crashed host stopped it, the
     * sender gave up, or the end it was travelling to is gone. A
     * segment or datagram sent after a blocking call (twin/file.h)
     * whose node crashed before the call returned never left: it is
     * DROPPED at the crash, before the `time` it was SENT for. */
    TW_SIM_PACKET_DROPPED,
    /* No packet: the path from -> to was cut (`cut` true), healed
     * (`cut` false, `until` 0) or clogged until `until`; reported just
     * before the change takes effect. */
    TW_SIM_PACKET_PATH,
    /* No packet: a TLS connection on node `from` (= `to`) made a secret;
     * data, len bytes: one line of the NSS key log format (SSLKEYLOGFILE's,
     * no newline), for a capture to carry so its TLS can be decrypted. */
    TW_SIM_PACKET_SECRET,
} tw_sim_packet_event;

/* Flags of a report. */
#define TW_SIM_PACKET_RETRANSMIT 1u /* SENT, LOST: a copy of one sent before */
#define TW_SIM_PACKET_DUPLICATE 2u  /* SENT: the network delivers it twice */
#define TW_SIM_PACKET_CORRUPT 4u    /* SENT: bits flip on the way */
#define TW_SIM_PACKET_REORDER 8u    /* SENT: held back; later ones overtake it */
/* SENT, ACK: the acknowledgement rides on the data segment the tap
 * returned `cookie` for, sent in this same instant: no packet of its
 * own (the segment's header says it). */
#define TW_SIM_PACKET_RIDES 16u

/* A node id for a destination no node has (the packet goes nowhere). */
#define TW_SIM_PACKET_NOBODY UINT32_MAX

typedef struct tw_sim_packet {
    tw_sim_packet_event event;
    tw_sim_packet_kind kind;
    unsigned flags;
    tw_ns time;      /* world time of the event (may be later than now:
                        a retransmission's timer, a busy wire) */
    tw_ns until;     /* SENT ACK: when it lands; PATH: the clog's end */
    uint32_t from, to; /* node ids (tw_sim_node_id) */
    /* Addresses with ports (IPv4 or IPv6); NULL for PATH. */
    const tw_addr *src, *dst;
    const uint8_t *data; /* DATA, UDP, ICMP_UNREACH; valid during the call */
    size_t len;
    /* TCP kinds: room left in the sender's receive buffer for the other
     * direction (its window), in bytes. */
    uint64_t window;
    /* What the tap returned when this packet was first SENT, handed back
     * with its later reports (a retransmission, its arrival or drop, an
     * acknowledgement riding on it); 0: none, or not one the world keeps
     * (SYN, SYN-ACK, resets: their arrival comes with 0). */
    uint32_t cookie;
    bool cut;        /* PATH */
} tw_sim_packet;

/* The tap: called for each report, inside the world's step. For a first
 * SENT (not a retransmission) it returns a cookie of its choice (0:
 * none) that the world keeps with the packet and hands back with the
 * packet's later reports; other returns are ignored. */
typedef uint32_t (*tw_sim_packet_fn)(void *arg, const tw_sim_packet *p);

/* Set (fn NULL: remove) the world's tap. One tap per world: a new one
 * replaces the old. Packets already on their way when it is set come
 * with cookie 0. -EINVAL for a NULL sim. */
int tw_sim_set_packet_tap(tw_sim *sim, tw_sim_packet_fn fn, void *arg);

/* The node with id `id` (0, 1, ... in creation order), NULL past the
 * last. */
tw_loop *tw_sim_node_at(tw_sim *sim, uint32_t id);

#ifdef __cplusplus
}
#endif
#endif
