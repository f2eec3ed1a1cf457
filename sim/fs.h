/* sim/fs.h - a node's file system (sim/fs.c; twin/simfs.h is the
 * public side): for world.c, node.c and the disk faults in fault.c.
 */
#ifndef TWIN_SIM_FS_H
#define TWIN_SIM_FS_H

#include "sim/world.h"
#include "twin/simfs.h"

typedef struct sim_fent sim_fent;
typedef struct sim_jrec sim_jrec;

typedef struct sim_fs {
    tw_sim_fs_opts opts;
    sim_fent **ents; /* every file and directory, live or kept by the
                        journal or an open file */
    uint32_t n, cap;
    sim_jrec *j;     /* name changes since the last directory fsync */
    uint32_t nj, capj;
    uint64_t bytes;  /* in every entry's current bytes */
    /* disk faults: a window of EIO, a window of ENOSPC, fsyncs to fail,
     * a window of bad reads, writes to lose;
     * and what they refused (their effect counts) */
    tw_ns eio_until, full_until, corrupt_until;
    uint32_t fsync_fail_left, lost_write_left;
    uint64_t eio_hits, full_hits, fsync_failed, corrupt_hits, writes_lost;
    /* what crashes took: files cut back (lost or torn) and name changes
     * undone, over every crash so far (a crash fault's effect count) */
    uint64_t crash_losses;
} sim_fs;

extern const tw__file_ops sim_file_ops;

/* n's file system, made (empty, default options) if it has none; NULL
 * only out of memory. */
sim_fs *sim_fs_of(sim_node *n);
/* n crashed (its files are closed): forget what was not durable, all of
 * it when power is true. Nothing when n never had a file system. */
void sim_fs_crash(tw_sim *sim, sim_node *n, bool power);
/* sim_fs's crash_losses of n; 0 when n never had a file system. */
uint64_t sim_fs_crash_losses(const sim_node *n);
void sim_fs_free(sim_fs *fs);

#endif
