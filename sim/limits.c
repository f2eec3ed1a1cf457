/* sim/limits.c - the limits' alarms (twin/simprobe.h, section 4): a
 * node's write buffers, connect attempts and open connections, each
 * checked where it grows.
 *
 * Map: setting the limits; write buffers (the core's alarm, per loop);
 * connect attempts (fixed one-second windows); open connections.
 *
 * An alarm only tells: it draws nothing, traces nothing and changes no
 * state a run depends on, so a run under limits that are never passed
 * is the run without them, record for record. Each is given once (per
 * transport, or per node and kind): the first explains the rest.
 */
#include "sim/sim.h"

/* ---- setting the limits ---- */

static void alarm(tw_sim *sim, const tw_sim_alarm *a)
{
    if (sim->alarm_fn)
        sim->alarm_fn(sim->alarm_arg, a);
}

static void on_wbuf_alarm(tw_loop *loop, tw_transport *t, size_t buffered,
                          size_t bound)
{
    sim_node *n = (sim_node *)loop;
    tw_sim_alarm a = {
        .kind = TW_SIM_ALARM_WRITE_BUFFER,
        .node = n->id,
        .transport = t->id,
        .time_ns = n->sim->now,
        .value = buffered,
        .limit = bound,
        .high = t->high,
        .paused = (t->flags & TW__T_WPAUSED) != 0,
    };
    alarm(n->sim, &a);
}

void sim_limits_hook(sim_node *n)
{
    const tw_sim_limits *l = &n->sim->limits;
    bool on = n->sim->alarm_fn &&
              (l->write_buffer_bytes_max || l->write_buffer_over_high);
    uint64_t max = l->write_buffer_bytes_max;
    tw__loop_set_wbuf_alarm(&n->loop, on ? on_wbuf_alarm : NULL,
                            max > SIZE_MAX ? SIZE_MAX : (size_t)max,
                            l->write_buffer_over_high);
}

int tw_sim_set_limits(tw_sim *sim, const tw_sim_limits *limits,
                      tw_sim_alarm_fn fn, void *arg)
{
    if (!sim || (limits && !fn))
        return -EINVAL;
    sim->limits = limits ? *limits : (tw_sim_limits){0};
    sim->alarm_fn = limits ? fn : NULL;
    sim->alarm_arg = limits ? arg : NULL;
    for (uint32_t i = 0; i < sim->nnodes; i++)
        sim_limits_hook(sim->nodes[i]);
    return 0;
}

/* ---- connect attempts ---- */

void sim_limits_connect(tw_sim *sim, sim_node *n)
{
    tw_ns from = sim->now - sim->now % TW_NS_PER_SEC;
    if (n->connects_from != from) {
        n->connects_from = from;
        n->connects = 0;
    }
    n->connects++;
    uint32_t max = sim->limits.connects_per_sec_max;
    if (max && n->connects > max && !n->rate_alarmed) {
        n->rate_alarmed = true;
        tw_sim_alarm a = {.kind = TW_SIM_ALARM_CONNECT_RATE, .node = n->id,
                          .time_ns = sim->now, .value = n->connects,
                          .limit = max, .window_ns = from};
        alarm(sim, &a);
    }
}

/* ---- open connections ---- */

void sim_limits_opened(tw_sim *sim, sim_node *n, uint64_t t)
{
    n->conns_open++;
    uint32_t max = sim->limits.connections_max;
    if (max && n->conns_open > max && !n->conns_alarmed) {
        n->conns_alarmed = true;
        tw_sim_alarm a = {.kind = TW_SIM_ALARM_CONNECTIONS, .node = n->id,
                          .transport = t, .time_ns = sim->now,
                          .value = n->conns_open, .limit = max};
        alarm(sim, &a);
    }
}
