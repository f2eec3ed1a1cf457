/* sim/fault.h - the world's fault timeline and effect counts
 * (twin/simfault.h is the public side).
 *
 * Map:
 *   fault.c         the kinds' table, checks, the timeline (tw_sim_at),
 *                   applying a fault, ending the fault phase
 *   fault_effect.c  how often each fault took effect
 *   swarm.c         the swarm's draws
 *   node.c          a node's life: its app, crash, restart
 *
 * The timeline is one array of actions sorted by (time, seq): a fault's
 * start, and its window's end when it has one. The world runs the
 * actions due at time t once nothing else is due at or before t (step()
 * in sim/world.c asks sim_timeline_next). A start applies loss bursts
 * and kills at once and queues every other kind as an EV_FAULT at now,
 * so faults of one instant reach the network in timeline order after
 * the instant's own work, as a program calling the shorthands between
 * runs would have them.
 */
#ifndef TWIN_SIM_FAULT_H
#define TWIN_SIM_FAULT_H

#include "sim/world.h"

#define SIM_FAULTS_MAX (1u << 20)

typedef struct sim_action {
    tw_ns t;
    uint64_t seq; /* ties keep the order they were scheduled in */
    uint32_t fault;
    bool end;     /* the window closes */
} sim_action;

/* Per fault: applied, and the effect count (or its base while the
 * window counts). */
typedef struct sim_fault_state {
    bool applied;
    bool open;     /* counting: its count is read off the counters */
    bool ended;    /* its window closed (or the fault phase ended) */
    uint64_t base;
    uint64_t count;
} sim_fault_state;

typedef struct sim_timeline {
    sim_action *a;
    uint32_t head, n, cap; /* a[head..n) pending */
    uint64_t seq;
    sim_fault_state *st;   /* per fault, as sim->faults */
} sim_timeline;

/* fault.c */
/* World time of the next pending action, -1 if none. */
static inline tw_ns sim_timeline_next(const tw_sim *sim)
{
    const sim_timeline *tl = sim->tl;
    return tl && tl->head < tl->n ? tl->a[tl->head].t : -1;
}
/* Run every action due at now (the world has nothing else due). */
void sim_timeline_run(tw_sim *sim);
void sim_timeline_free(tw_sim *sim);
const char *sim_fault_trace_name(tw_sim_fault_kind k);

/* fault_effect.c: before the fault applies; when its window closes;
 * the count as of now. */
void sim_effect_begin(tw_sim *sim, uint32_t i);
void sim_effect_end(tw_sim *sim, uint32_t i);
uint64_t sim_effect_now(tw_sim *sim, uint32_t i);

/* sim/net/loss.c: a burst on a->b (and b->a unless oneway), at once. */
int sim_loss_burst_apply(tw_sim *sim, uint32_t a, uint32_t b,
                         const tw_sim_loss_model *model, tw_ns duration_ns,
                         bool oneway);

#endif
