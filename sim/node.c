/* sim/node.c - a node's life: its app's start and stop, a crash, a
 * restart.
 *
 * Map: the app (started at creation and after each restart); a crash (the
 * node's loop is torn down as the core tears down a loop: protocols get
 * release only, then it is made anew); a restart (peers that waited on
 * the node are reset when it answers again).
 *
 * Crashes and restarts are faults (sim/fault.c applies them); a crash
 * for good is a world's end (tw_sim_free).
 */
#include <stdlib.h>
#include <string.h>

#include "sim/fs.h"
#include "sim/sim.h"
#include "twin/app.h"

static void start_cb(void *arg)
{
    sim_node *n = arg;
    int rc = n->start ? n->start(&n->loop, n->app_arg) : 0;
    sim_trace(n->sim, n->id, 0, rc ? "start_failed" : "started", rc, 0);
}

void sim_node_start_app(sim_node *n)
{
    if (n->start && !tw_call_soon(&n->loop, start_cb, n))
        sim_fail(n->sim, -ENOMEM, "out of memory starting an app");
}

int tw_sim_node_set_start(tw_loop *loop, int (*start)(tw_loop *, void *),
                          void *arg)
{
    sim_node *n = sim_node_of(loop);
    if (!n)
        return -EINVAL;
    n->start = start;
    n->app_arg = arg;
    if (n->up)
        sim_node_start_app(n);
    return 0;
}

int tw_sim_node_set_stop(tw_loop *loop, void (*stop)(tw_loop *, void *))
{
    sim_node *n = sim_node_of(loop);
    if (!n)
        return -EINVAL;
    n->stop = stop;
    return 0;
}

void sim_node_crash(tw_sim *sim, sim_node *n, bool for_good)
{
    if (!n->up && !for_good)
        return;
    n->up = false;
    n->crashing = true;
    sim_dg_unsent(sim, n->id); /* the tap's news; changes nothing */
    n->crash_epoch++;
    n->crashed_at = sim->now;
    if (!for_good)
        sim_trace(sim, n->id, 0, "crash", n->crash_epoch, 0);
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        if (ep->node != n->id)
            continue;
        sim_ep *peer = sim_ep_peer(sim, ep);
        if (peer && peer->node != n->id && !for_good) {
            /* The peer hears nothing. With data out it retransmits: it
             * times out, or is reset once this node is back and answers;
             * idle, it stays open (half-open) until it sends or its
             * keepalive finds out (sim/stream.c, the death model). */
            peer->peer_crashed = true;
            sim_stream_unsent(sim, peer);
            if (sim_ep_unacked(sim, peer))
                sim_ep_arm_dead(sim, peer);
        }
        if (!ep->opened && !ep->queued) {
            if (ep->connecting)
                tw__loop_unref(&n->loop);
            sim_ep_free(sim, ep);
        }
    }
    bool contract_on = n->loop.contract_on;
    bool contract_strict = n->loop.contract_strict;
    tw_contract_handler h = n->loop.contract_handler;
    void *harg = n->loop.contract_arg;
    tw__loop_fini(&n->loop);
    if (n->stop)
        n->stop(&n->loop, n->app_arg);
    if (!for_good) {
        /* The disk outlives the process: what was durable stays. */
        sim_fs_crash(sim, n, n->power_loss);
        n->power_loss = false;
        if (tw__loop_init(&n->loop, &tw__sim_loop_ops, sim->opts.chunk_bytes_max) < 0)
            sim_fail(sim, -ENOMEM, "out of memory restarting a node's loop");
        n->loop.contract_on = contract_on;
        n->loop.contract_strict = contract_strict;
        n->loop.contract_handler = h;
        n->loop.contract_arg = harg;
        sim_node_hooks(n);
    }
    n->crashing = false;
}

void sim_node_restart(tw_sim *sim, sim_node *n)
{
    if (n->up)
        return;
    n->up = true;
    n->restarts++;
    sim_trace(sim, n->id, 0, "restart", n->crash_epoch, 0);
    sim_ep *ep;
    for (uint32_t i = 0; (ep = sim_ep_next(sim, &i));) {
        /* A peer still retransmitting is answered with a reset (across
         * a cut, once it heals: sim_stream_heal); an idle one hears it
         * when it next sends (or probes). */
        if (ep->peer_crashed && ep->peer_node == n->id && ep->dead_armed &&
            !ep->rst_sent && sim_ep_peer_reachable(sim, ep)) {
            ep->rst_sent = true;
            sim_push(sim, sim->now + sim_latency(sim, n->id, ep->node), EV_RST,
                     ep->id, sim_table_gen(&sim->eps, ep->id), ECONNRESET);
        }
    }
    sim_node_start_app(n);
}

unsigned tw_app_restarts(tw_loop *loop)
{
    sim_node *n = sim_node_of(loop);
    return n ? n->restarts : 0;
}
