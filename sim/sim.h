/* sim/sim.h - the simulator's insides, shared by the files of sim/ and
 * kit/ only: all of the headers below, for a file that wants them all.
 *
 *   sim/queue.h   the event queue, the object tables
 *   sim/world.h   nodes, the world; world.c, fault.c, datagrams' entries
 *   sim/prng.h    the PRNG's inline parts, the simulator's own math
 *   sim/trace.h   trace records and the run's hash
 *   sim/net.h     the network model: paths, latency draws, loss,
 *                 bandwidth, retransmission, cuts (sim/net/)
 *   sim/stream.h  stream endpoints, listeners, connects
 *   sim/tap.h     the packet tap's call sites (twin/simprobe.h)
 *
 * Datagrams (sim/dgram.h) and pipes and processes (sim/proc.h) have
 * headers of their own, for their own files.
 */
#ifndef TWIN_SIM_INTERNAL_H
#define TWIN_SIM_INTERNAL_H

#include "sim/net.h"
#include "sim/prng.h"
#include "sim/queue.h"
#include "sim/stream.h"
#include "sim/tap.h"
#include "sim/trace.h"
#include "sim/world.h"

#endif
