/* kit/pcap.h - what the two files of the capture writer share
 * (twin/simpcap.h). Not installed.
 *
 *   pcap.c        the tap's listener: connections and their sequence
 *                 numbers, packets kept for their arrival, records put
 *                 in time order, files
 *   pcap_frame.c  bytes: Ethernet, IPv4/IPv6, TCP, UDP, ICMP with their
 *                 checksums; pcapng blocks
 */
#ifndef TWIN_KIT_PCAP_H
#define TWIN_KIT_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"

enum { PC_TCP, PC_UDP, PC_ICMP };

/* TCP flags as the header has them. */
enum { PC_FIN = 1, PC_SYN = 2, PC_RST = 4, PC_PSH = 8, PC_ACK = 16 };

/* No window scale option on a SYN. */
#define PC_NO_WS 0xff

/* The largest TCP payload of one frame: an IPv4 packet's 65,535 bytes
 * less 40 of headers. A longer segment is written as several frames. */
#define PC_MSS 65495

/* ICMP errors quote the datagram's headers and this much of its data. */
#define PC_ICMP_QUOTE 64

/* A node id no node has; MAC of such a destination. */
#define PC_NOBODY UINT32_MAX

/* One packet as the wire has it, shared by the records of its
 * transmissions and arrivals (refs) and kept for its arrival reports
 * while the world holds its cookie (arrivals). */
typedef struct pc_pkt {
    uint32_t refs;
    uint8_t arrivals;   /* arrival reports still to come with its cookie */
    uint8_t proto;      /* PC_TCP, PC_UDP, PC_ICMP */
    uint8_t flags;      /* TCP flags */
    uint8_t wscale;     /* a SYN's window scale option, or PC_NO_WS */
    uint8_t side;       /* TCP: 0 the connecting side sent it, 1 the other */
    bool v6;
    bool fixed_sum;     /* write sum as the transport checksum (corrupted) */
    uint16_t sum;       /* ICMP: the quoted datagram's UDP checksum */
    uint16_t ipid;
    uint16_t mss;       /* a SYN's MSS option */
    uint32_t from, to;  /* node ids */
    uint8_t src[16], dst[16]; /* network order; IPv4 in the first 4 */
    uint16_t sport, dport;    /* ICMP: the quoted datagram's */
    uint32_t seq, ack, win;   /* win: as written (scaled) */
    uint64_t rel_end;   /* TCP: the sender's sequence after it, from ISN */
    struct pc_conn *conn; /* TCP: its connection (while conn_gen matches) */
    uint64_t conn_gen;
    bool seq_late;      /* a pure ack: its sequence number is what its
                           sender has put on the wire when it goes */
    uint32_t qlen;      /* ICMP: the quoted datagram's data length */
    tw_ns first_t;      /* TCP: when it was first put on the wire */
    tw_ns gone_at;      /* its sender gave it up then (a reset, the
                           other end gone): no transmission after it */
    bool gone;
    bool merged;        /* a pure ack a segment sent in the same instant
                           carries: not written at all */
    size_t len;
    uint8_t data[];     /* TCP/UDP payload; ICMP: the quoted data */
} pc_pkt;

/* pcap_frame.c */

/* Scratch room for one frame of any packet. */
#define PC_FRAME_MAX (14 + 40 + 60 + 65535)

/* The file's header: a section header block, then two interfaces,
 * 0 "eth0" and 1 "lo", Ethernet, nanosecond time stamps. */
int pc_write_header(FILE *f, const char *node, uint64_t seed);

/* A decryption secrets block: one line of a TLS key log (NSS format,
 * without its newline, at most PC_SECRET_MAX bytes), so that Wireshark
 * decrypts the TLS the file shows. 0, -E2BIG, or -errno of the write. */
#define PC_SECRET_MAX 400
int pc_write_secret(FILE *f, const uint8_t *line, size_t len);

/* Write p as seen at time t on interface iface (0, 1), inbound or not,
 * with a packet comment (NULL: none); one enhanced packet block per
 * frame (a TCP segment over PC_MSS is several). scratch: PC_FRAME_MAX
 * bytes. 0, or -errno of the failed write. */
int pc_write_pkt(FILE *f, const pc_pkt *p, tw_ns t, int iface, bool inbound,
                 const char *comment, uint8_t *scratch);

/* The UDP checksum of a datagram with p's addresses and ports and this
 * payload (the one its sender wrote). */
uint16_t pc_udp_sum(const pc_pkt *p, const uint8_t *data, size_t len);

#endif
