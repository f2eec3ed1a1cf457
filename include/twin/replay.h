/* twin/replay.h - a recording (twin/record.h) played back against the
 * same app on a simulated node, deterministically.
 *
 * The app starts on a node of a new world with the options it is given.
 * Its peers are scripted from the recording, on the same node over the
 * loopback path (one microsecond, constant; chunks never cut): a
 * connection a server of the app accepted is made by the peer at its
 * recorded time to the recorded port on 127.0.0.1; a connection the app
 * made is accepted by a peer listening on its recorded port there; the
 * bytes the app received are sent at their recorded times in their
 * recorded chunks, then the EOF or the reset it saw; each source of
 * datagrams is a peer endpoint that sends them at their times. The
 * app's own timers run in virtual time.
 *
 * What the app writes is compared with what was recorded, per
 * transport: the first difference (transport, byte offset, expected and
 * got bytes) is the verdict. Not replayed (and counted as skipped, with
 * the reason in the report): pipes and processes, and connections a
 * ring recording began after (their start is not in the file).
 *
 * A redacted recording has sizes and times only: the bytes sent are
 * drawn from the seed, and only the sizes of the writes are compared.
 */
#ifndef TWIN_REPLAY_H
#define TWIN_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/app.h"
#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_replay_opts {
    uint64_t seed;         /* the world's seed [0] */
    FILE *trace;           /* the world's trace, one line per record */
    const char *pcap_dir;  /* capture files, as `twin sim --pcap` */
    FILE *out;             /* the app's output and the report [stdout] */
    tw_ns tail_ns;         /* virtual time run past the last record [1 s] */
} tw_replay_opts;

typedef struct tw_replay_result {
    uint64_t transports;   /* replayed */
    uint64_t skipped;      /* recorded, not replayed */
    uint64_t bytes_sent;   /* by the peers to the app */
    uint64_t bytes_expected, bytes_got; /* the app's writes */
    bool redacted;
    bool differ;           /* the writes differ (the first is below) */
    uint64_t diff_transport; /* its recorded id */
    uint64_t diff_offset;  /* stream: byte offset; datagram: index */
    char diff[1024];       /* the sentence the report printed */
    uint64_t trace_hash;
    int app_status;        /* the app's result() */
} tw_replay_result;

/* Replay the recording at path against app started with argv (argv[0]
 * the app's name). Prints the report to opts->out. Returns 0 when the
 * writes agree, 1 when they differ, or a negative errno with err (errlen
 * bytes) saying why the replay could not run (the file, the app's
 * start, the world). res may be NULL. */
int tw_replay(const char *path, const tw_app *app, int argc, char **argv,
              const tw_replay_opts *opts, tw_replay_result *res, char *err,
              size_t errlen);

/* The peers alone, for a world of the caller's (a scenario's node:
 * `replay: FILE`). Load reads the file (notes such as a torn tail go to
 * out, NULL: stdout; redacted payloads are drawn from seed); start plays
 * the peers on loop, a simulated node, with their times counted from
 * the loop's now, once the app has started there (its servers listen);
 * check compares what the app wrote, prints the report to out and
 * returns 0 (the same) or 1 (they differ); free after the world is
 * freed (its transports point into the peers). Errors as tw_replay. */
typedef struct tw_replay_peers tw_replay_peers;
int tw_replay_peers_load(const char *path, uint64_t seed, FILE *out,
                         tw_replay_peers **peers, char *err, size_t errlen);
/* The largest chunk or datagram, and the time of the last record. */
size_t tw_replay_peers_chunk_max(const tw_replay_peers *peers);
tw_ns tw_replay_peers_last(const tw_replay_peers *peers);
int tw_replay_peers_start(tw_replay_peers *peers, tw_loop *loop);
int tw_replay_peers_check(tw_replay_peers *peers, tw_replay_result *res);
void tw_replay_peers_free(tw_replay_peers *peers);

#ifdef __cplusplus
}
#endif
#endif
