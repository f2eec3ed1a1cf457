/* proto/resp_aof.h - the RESP server's append-only file. Not installed.
 *
 * The file is a sequence of RESP arrays, one per change, as the commands
 * hand them on (tw_resp_ctx.propagate): Redis's AOF format, so
 * redis-check-aof and redis-server read it too. At start it is replayed
 * into the keyspace; then every change is added to a buffer, written
 * before the replies of its batch go out (resp_aof_flush), and made
 * durable as the fsync policy says:
 *   always    fsync before the replies go out: an acknowledged write
 *             survives a crash and a power loss;
 *   everysec  fsync once a second at most (a timer): up to about a
 *             second of acknowledged writes may be lost;
 *   no        never fsync: what is lost is up to the disk.
 * Loading: a file that ends inside a command (a torn or short write) is
 * cut back to its last whole command with a warning, as Redis's
 * aof-load-truncated does; a file damaged before its end (not RESP, an
 * unknown command) is an error, and the server does not start.
 * Growth: past a size, the file is rewritten as one SET per key (see
 * resp_aof_rewrite).
 * Errors after start: with `always` a failed write or fsync is fatal
 * (Redis exits): resp_aof_flush returns it, and the server stops serving
 * and starts again from the file a second later, as a supervised Redis
 * would.
 * Otherwise the bytes stay buffered and are tried again at the next
 * flush, and meanwhile write commands are refused with -MISCONF.
 */
#ifndef TWIN_PROTO_RESP_AOF_H
#define TWIN_PROTO_RESP_AOF_H

#include <stdbool.h>
#include <stdio.h>

#include "twin/file.h"
#include "twin/resp.h"

typedef struct resp_aof resp_aof;

/* When the file is rewritten (made anew from the keyspace, the way
 * Redis's auto-aof-rewrite does, but synchronously): once it is at least
 * min_size and has grown by percentage since the last rewrite (or the
 * start). Zero fields: Redis's defaults, 64 MiB and 100; a negative
 * percentage: never. */
typedef struct resp_aof_rewrite {
    uint64_t min_size;
    int percentage;
} resp_aof_rewrite;

#define RESP_AOF_REWRITE_MIN ((uint64_t)64 << 20)

/* Open (creating it if absent) and replay path into st; run commands
 * as cx_proto says (store, info, clock; propagate is ignored). Messages
 * (a truncated tail, an error) go to log, naming the file. 0 and *out,
 * or a negative errno: -EBADMSG damaged, -ENOMEM, the file API's. */
int resp_aof_open(tw_loop *loop, const char *path, int fsync_mode,
                  const resp_aof_rewrite *rw, const tw_resp_ctx *cx_proto,
                  FILE *log, resp_aof **out);

/* The tw_resp_propagate_fn: arg is the resp_aof. */
void resp_aof_feed(void *arg, const tw_resp_arg *argv, size_t argc);

/* Write what was fed; fsync it with `always`. 0, or a negative errno
 * when the failure is fatal (always). */
int resp_aof_flush(resp_aof *a);

/* NULL while writes go through; else the error text write commands are
 * refused with (Redis's MISCONF). */
const char *resp_aof_refusal(const resp_aof *a);

/* Bytes of the file, counting what is buffered; rewrites done. */
uint64_t resp_aof_size(const resp_aof *a);
uint64_t resp_aof_rewrites(const resp_aof *a);

/* Close without writing what was fed (the server stops after a fatal
 * failure: those changes were never acknowledged). */
void resp_aof_abandon(resp_aof *a);

/* Flush, fsync and close; messages to the log passed at open. */
void resp_aof_close(resp_aof *a);
/* The node crashed: its files and timers are gone; free the rest. */
void resp_aof_discard(resp_aof *a);

#endif
