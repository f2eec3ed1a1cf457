/* twin/simfs.h - a simulated node's file system (twin/file.h's calls on
 * a simulated node).
 *
 * Each node has its own file system in memory: directories, and files
 * as bytes, within a bound per node. It survives the node's crash and
 * restart, as a disk does, and forgets on a crash what was not made
 * durable (twin/file.h says what makes what durable):
 *   - each file whose bytes changed since its last fsync is, as the
 *     seed decides, lost (back to what was fsynced), kept, or torn: the
 *     new bytes reached the disk up to a 512-byte sector boundary within
 *     what changed, the old ones stay after it;
 *   - the names changed since the last directory fsync returned (creates,
 *     renames, unlinks, mkdirs, in the order they were made) are kept up
 *     to a point the seed chooses and undone after it. A directory's
 *     fsync makes every earlier change of names durable (one journal for
 *     the node, as ext4's), not only its own.
 * An fsync, of a file or a directory, makes its changes durable when it
 * returns, at the end of its latency (below): a crash before then keeps
 * what was durable before it. Eight running fsyncs of one file are told
 * apart; one made while eight run is taken to return with the eighth
 * (a crash in between keeps more than a disk might, never less).
 * A power loss (the fault kind power_loss) loses all of it. The disk's
 * other faults (twin/simfault.h): disk_eio, disk_full, fsync_fail,
 * disk_corrupt (bad reads), lost_write (acknowledged writes dropped).
 *
 * Each call holds the node for a latency drawn from the node's
 * distribution (twin/file.h: the call returns at once, the node's next
 * work waits). Draws (latencies, crash outcomes) come from stream
 * TW_SIM_STREAM_DISK of the seed and only when a file call or a crash
 * of a node with files draws them: a world without files draws nothing
 * more and traces nothing more. Every call is a trace record (fs_*).
 *
 * Limits (all per node): bytes_max bounds the bytes of every file (a
 * write past it, or a create past files_max, is -ENOSPC); at most
 * TW_SIM_FS_JOURNAL_MAX name changes wait for a directory fsync (past
 * it the oldest are made durable, as a file system that commits its
 * journal by itself).
 */
#ifndef TWIN_SIMFS_H
#define TWIN_SIMFS_H

#include "twin/sim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TW_SIM_STREAM_DISK 4

typedef struct tw_sim_fs_opts {
    uint64_t bytes_max;        /* [64 MiB] */
    uint32_t files_max;        /* files and directories [4096] */
    tw_sim_dist latency;       /* each call but fsyncs [uniform 5..50 us] */
    tw_sim_dist fsync_latency; /* each fsync [uniform 0.5..5 ms] */
} tw_sim_fs_opts;

#define TW_SIM_FS_JOURNAL_MAX 4096

/* Set node's file system options (zero fields: defaults). Files already
 * there stay, even past a lower bound. 0 or -EINVAL. */
int tw_sim_fs_set(tw_loop *node, const tw_sim_fs_opts *opts);
/* Bytes in node's files and its count of files and directories. */
int tw_sim_fs_usage(tw_loop *node, uint64_t *bytes, uint32_t *files);

#ifdef __cplusplus
}
#endif
#endif
