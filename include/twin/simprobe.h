/* twin/simprobe.h - what a simulated world can tell about itself while
 * it runs, so that a fault can prove it did something.
 *
 * Map:
 *   1. per-path traffic counters (packets, found cut, sent clogged, lost)
 *   2. a node's state (up, open transports, timers)
 *   3. connections between nodes; stream ends and what they hold
 *   4. limits: an alarm the moment a node goes over one
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

#ifdef __cplusplus
}
#endif
#endif
