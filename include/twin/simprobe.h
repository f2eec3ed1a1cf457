/* twin/simprobe.h - what a simulated world can tell about itself while
 * it runs, so that a fault can prove it did something.
 *
 * Map:
 *   1. per-path traffic counters (packets, found cut, sent clogged, lost)
 *   2. a node's state (up, open transports, timers)
 *   3. connections between nodes; stream ends and what they hold
 *
 * A scenario (twin/scenario.h) reads these before and after each fault:
 * a partition that no packet ever met, or a crash of a node with nothing
 * open, is reported as inert, because a sweep that is green only because
 * its faults never touched anything proves nothing.
 *
 * Every call only reads; none changes the run or its trace. Errors follow
 * twin/error.h; a loop that is not a node of sim gives -EINVAL.
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

#ifdef __cplusplus
}
#endif
#endif
