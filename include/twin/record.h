/* twin/record.h - what a loop's protocols were given, kept in a file.
 *
 * A loop of the real backend can record, for every transport it owns,
 * what the protocol saw and when: connections made (with both
 * addresses, and whether one of the loop's servers accepted it), every
 * data_received or buffer_updated exactly as it came (the bytes, the
 * chunk), EOF, the end and its error, datagrams with their sources,
 * error_received, process exits, timer firings by loop time; and, to
 * check a replay against, what the protocol wrote (write, writelines,
 * sendto, write_eof, close, abort). `twin replay` (twin/replay.h) runs
 * the same protocol on a simulated node fed from such a file.
 *
 * The file format is documented in docs/recording.md. In short: a
 * 32-byte header, then records, each a length, a CRC-32C of its body and
 * the body. Records are written through a shared memory mapping of the
 * file, so a process that crashes in a callback leaves every record up
 * to that callback in the file; a reader stops cleanly at a torn or
 * zero-filled tail.
 *
 * Off by default; when off, each dispatch point costs one comparison of
 * a loop pointer with NULL.
 *
 * Only setup code and tools include this header.
 */
#ifndef TWIN_RECORD_H
#define TWIN_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "twin/addr.h"
#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version this library writes and reads. */
#define TW_RECORD_VERSION 1
/* Default size limit of a recording (tw_record_opts.max_bytes). */
#define TW_RECORD_MAX_DEFAULT (256ull << 20)
/* Smallest ring (tw_record_opts.ring_bytes). */
#define TW_RECORD_RING_MIN (64ull << 10)

typedef struct tw_record_opts {
    /* The file; created or truncated. Required. */
    const char *path;
    /* Stop recording once the file would pass this many bytes; a last
     * record says the limit was hit. 0: TW_RECORD_MAX_DEFAULT. */
    uint64_t max_bytes;
    /* Ring mode: keep about the last ring_bytes only. The recording is
     * two files of at most ring_bytes/2 each: path has the newest
     * records, path.old the ones before them; when path is full it
     * becomes path.old (the older one goes) and a new path begins with
     * the connections still open. A reader given path reads path.old
     * first when it is the segment just before. 0: off (max_bytes
     * applies instead); else at least TW_RECORD_RING_MIN. */
    uint64_t ring_bytes;
    /* Sizes and timing only: no payload byte is written (data, datagrams
     * and writes keep their lengths). */
    bool redact;
} tw_record_opts;

/* Check opts (the path given, the sizes). 0, or -EINVAL with a sentence
 * naming the option in err. */
int tw_record_opts_check(const tw_record_opts *opts, char *err, size_t errlen);

/* What a loop's recording has written so far. */
typedef struct tw_record_stats {
    uint64_t records;
    uint64_t bytes;     /* in the files, headers included */
    uint64_t segments;  /* ring mode: files begun (1 without a ring) */
    bool stopped;       /* max_bytes was reached: nothing more is kept */
    int error;          /* a write that failed (-errno), then stopped */
} tw_record_stats;

/* 0 and *out filled while loop records; -ENOENT when it does not. */
int tw_loop_record_stats(const tw_loop *loop, tw_record_stats *out);

/* ------------------------------------------------------------------ */
/* Reading a recording. */

typedef enum tw_rec_type {
    TW_REC_OPEN = 1,    /* connection_made: a peer, b local */
    TW_REC_DATA,        /* data_received or buffer_updated: data */
    TW_REC_EOF,         /* eof_received */
    TW_REC_LOST,        /* connection_lost: num the error (0 or -errno) */
    TW_REC_DGRAM,       /* datagram_received: a the source, data */
    TW_REC_ERROR,       /* error_received: num the error */
    TW_REC_EXITED,      /* process_exited: num the return code */
    TW_REC_TIMER,       /* a timer fired: num its due time */
    TW_REC_WRITE,       /* write / writelines: data */
    TW_REC_SENDTO,      /* sendto: a the destination (empty: connected) */
    TW_REC_WRITE_EOF,   /* write_eof() */
    TW_REC_CLOSE,       /* close() */
    TW_REC_ABORT,       /* abort() */
    TW_REC_LIMIT,       /* recording stopped: num the limit in bytes */
    TW_REC_TYPE_MAX = TW_REC_LIMIT,
} tw_rec_type;

enum {
    TW_REC_F_REDACTED = 1u << 0, /* no payload: num is its length */
    TW_REC_F_BEFORE = 1u << 1,   /* OPEN of a ring segment: the
                                    connection began before it */
    TW_REC_F_ACCEPTED = 1u << 2, /* OPEN: accepted by the loop's server */
    TW_REC_F_BUFFERED = 1u << 3, /* DATA: through get_buffer/buffer_updated */
    TW_REC_F_TLS = 1u << 4,      /* OPEN: a TLS connection (its records
                                    are the plaintext) */
    TW_REC_F_SENDFILE = 1u << 5, /* WRITE: bytes tw_loop_sendfile sent
                                    (how far it got depends on the peer) */
};

/* One record as read. The pointers are valid until the next call on the
 * reader. */
typedef struct tw_rec_event {
    tw_rec_type type;
    unsigned kind;      /* the transport's tw_transport_kind */
    unsigned flags;     /* TW_REC_F_* */
    tw_ns time_ns;      /* loop time since the recording began */
    uint64_t transport; /* the recorded loop's transport id; 0: none */
    int64_t num;
    tw_addr a, b;       /* len 0: none */
    const uint8_t *data;
    size_t len;         /* redacted: 0 (num has the size) */
} tw_rec_event;

typedef struct tw_recording tw_recording;

/* Open a recording (path.old first, when it is the previous ring
 * segment). NULL on error with a sentence naming the file in err. */
tw_recording *tw_recording_open(const char *path, char *err, size_t errlen);
/* The next record: 1 and *ev filled, 0 at the end (clean, or a torn
 * tail: tw_recording_tail says which). */
int tw_recording_next(tw_recording *r, tw_rec_event *ev);
/* "" after a clean end; else what ended the reading ("torn record at
 * offset 4096: checksum mismatch"), naming the file. */
const char *tw_recording_tail(const tw_recording *r);
/* The header's flags: redacted, and the ring segment number. */
bool tw_recording_redacted(const tw_recording *r);
uint64_t tw_recording_segment(const tw_recording *r);
/* The recorded loop's clock (tw_loop_now) when the recording began: a
 * record's time_ns counts from it. */
tw_ns tw_recording_clock(const tw_recording *r);
void tw_recording_close(tw_recording *r);
/* "open", "data", ...: a record type's name. */
const char *tw_rec_type_name(tw_rec_type t);

#ifdef __cplusplus
}
#endif
#endif
