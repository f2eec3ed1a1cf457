/* twin/buggify.h - fault points that protocol code places in its own paths.
 *
 *     if (TW_BUGGIFY(loop))
 *         return tw_transport_abort(t);   // pretend the worst happened
 *
 * In the simulator (tw_sim_opts.buggify on), each call site is enabled for
 * the whole run with buggify_site_probability, chosen from the seed and the
 * site (file base name and line), and an enabled site then fires on each
 * call with buggify_fire_probability, drawn from the seed: a failing seed
 * replays the same fires. Every fire is a trace record ("buggify", line).
 *
 * On the real backend, and whenever no simulated world with buggify on
 * exists, TW_BUGGIFY is false at the cost of one load and one predictable
 * branch. Define TW_NO_BUGGIFY before including this header to make it a
 * constant 0 (the argument is still evaluated for its type only).
 *
 * Only protocol code's own decisions belong here (drop a cache, retry
 * sooner, send in two writes): the network's faults come from the world.
 */
#ifndef TWIN_BUGGIFY_H
#define TWIN_BUGGIFY_H

#include <stdbool.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How many live worlds have buggify on (zero on a real-only program). */
extern int tw__buggify_worlds;
/* The simulator's decision for one call at file:line on loop. */
bool tw__buggify(tw_loop *loop, const char *file, int line);

#ifdef TW_NO_BUGGIFY
#define TW_BUGGIFY(loop) (0 && (loop))
#else
#define TW_BUGGIFY(loop)                                  \
    (__builtin_expect(tw__buggify_worlds != 0, 0) &&      \
     tw__buggify((loop), __FILE__, __LINE__))
#endif

#ifdef __cplusplus
}
#endif
#endif
