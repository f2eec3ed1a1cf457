/* sim/tap.h - the packet tap (twin/simprobe.h, section 4): what the
 * simulator tells it where a packet is put on a path, arrives, is held
 * or dropped (sim/tap.c builds the reports).
 *
 * Every call site reads `if (sim_tapping(sim)) sim_tap_...(...)`: one
 * branch, predicted not taken, when no tap is set. Nothing here changes
 * the world: no draw from its streams, no event, no trace record, no
 * counter; a run with a tap is the run without one.
 *
 * Cookies: the tap returns one for a packet's first SENT; the world keeps
 * it in the segment (sim_seg.tap) or datagram (sim_pkt.tap) and hands it
 * back with the packet's later reports.
 */
#ifndef TWIN_SIM_TAP_H
#define TWIN_SIM_TAP_H

#include "sim/world.h"

struct sim_ep;

static inline bool sim_tapping(const tw_sim *sim)
{
    return __builtin_expect(sim->tap != NULL, 0);
}

/* One report of a packet between two nodes. Returns the tap's cookie. */
uint32_t sim_tap_ip(tw_sim *sim, tw_sim_packet_event ev, tw_sim_packet_kind kind,
                    unsigned flags, tw_ns t, uint32_t from, uint32_t to,
                    const tw_addr *src, const tw_addr *dst, const uint8_t *data,
                    size_t len, uint32_t cookie);

/* One report of a stream packet between ep and its peer: out, from ep to
 * the peer (its window is ep's); else towards ep (the peer's window).
 * until: a pure ack's landing time, else 0. Unix streams: nothing. */
uint32_t sim_tap_tcp(tw_sim *sim, const struct sim_ep *ep, bool out,
                     tw_sim_packet_event ev, tw_sim_packet_kind kind,
                     unsigned flags, tw_ns t, tw_ns until, const uint8_t *data,
                     size_t len, uint32_t cookie);

/* A segment from ep just put on the path (sim/stream.c, enqueue): each
 * transmission the loss draws lost, then the one that gets through (or,
 * gave_up, none: the sender's reset instead). `losses` is how many
 * transmissions were lost, `start` when the first left (the wire's
 * queue included). The cookie goes into seg->tap. */
void sim_tap_segment(tw_sim *sim, struct sim_ep *from, struct sim_seg *seg,
                     uint64_t losses, bool gave_up, tw_ns start, tw_ns arrive);

/* The segments in flight towards ep due by `due` (all: INT64_MAX),
 * reported as ev (SENT: sent again after a heal, a retransmission). */
void sim_tap_fly(tw_sim *sim, struct sim_ep *ep, tw_sim_packet_event ev, tw_ns due);

/* A path's state is about to change (twin/simprobe.h, PATH). */
void sim_tap_path(tw_sim *sim, uint32_t from, uint32_t to, bool cut, tw_ns until);

#endif
