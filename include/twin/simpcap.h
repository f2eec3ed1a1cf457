/* twin/simpcap.h - a simulated world's traffic as capture files that
 * Wireshark and tshark read (pcapng).
 *
 * One file per node, DIR/NAME.pcapng: what that node's interfaces saw,
 * as a tcpdump on the host would have written it. A packet between two
 * nodes is in both files: in the sender's when it left (each
 * retransmission again, and the transmissions the network lost), in the
 * receiver's when it arrived (never, if it did not). A packet a node
 * sends itself (127.0.0.1, its own address) is written once, on its
 * interface "lo". Why per node and not per path: a node's file is the
 * view of one program, with every connection it has, which is how one
 * debugs a server; and loss, duplication and corruption show as the two
 * files disagreeing, as they would on two real hosts.
 *
 * What the frames hold (kit/pcap.c): Ethernet (made-up addresses
 * 02:74:77:xx:xx:xx from the node id), IPv4 or IPv6 as the nodes'
 * addresses are, TCP, UDP and ICMP with correct checksums (a datagram
 * the network corrupted arrives with its sender's checksum, which then
 * no longer matches). TCP: a sequence space per direction from an
 * initial number drawn from the world's seed per connection (the same
 * run writes the same files), SYN and FIN counting one; the ack number
 * says what the sender has received, the window what room it has left
 * (scaled, as the SYN's option says); a retransmission repeats the
 * sequence number. Time stamps are the world's virtual time in
 * nanoseconds (the epoch stands for the world's start). A packet comment
 * says what the network did when a file cannot show it by itself (lost
 * on the way, sent again after a heal, duplicated, corrupted).
 *
 * Not written: Unix-socket streams and datagrams and pipes (they never
 * cross the network), keepalive probes (the model has no packet for
 * them). A segment larger than 65,495 bytes (tw_sim_opts
 * .segment_bytes_max above it) is written as several frames.
 *
 * Errors follow twin/error.h; messages name the file ("DIR/n1.pcapng:
 * No space left on device").
 */
#ifndef TWIN_SIMPCAP_H
#define TWIN_SIMPCAP_H

#include <stddef.h>

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_sim_pcap tw_sim_pcap;

/* Capture sim's traffic from now on into directory dir (made, with its
 * parents, if missing): the file of each node there now is created at
 * once, a node added later gets its file with its first packet. Sets the
 * world's packet tap (twin/simprobe.h; it replaces any other). On error
 * nothing is left set up, err (errlen bytes) says why, and a negative
 * errno is returned. */
int tw_sim_pcap_start(tw_sim *sim, const char *dir, tw_sim_pcap **out,
                      char *err, size_t errlen);

/* Write what the run put on the network up to the world's time now
 * (what is due later never happened), close the files, remove the tap
 * and free pc. Call it before tw_sim_free. Returns 0, or the first error
 * met since start (a write that failed stops the capture; the run goes
 * on) with "path: reason" in err. NULL is ignored (returns 0). */
int tw_sim_pcap_finish(tw_sim_pcap *pc, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
