/* sim/history.c - recording operations into the world's history
 * (twin/history.h): the loop's world holds one, made at the first
 * record; times are the world's virtual time.
 *
 * Nothing here traces or draws from a PRNG: a run that records is the
 * same run, with the same hash, as one that does not. On the real
 * backend every record is a no-op (id 0).
 */
#include <errno.h>

#include "kit/history.h"
#include "sim/world.h"

tw_history *tw_sim_history(tw_sim *sim)
{
    if (sim && !sim->history)
        sim->history = tw_history_new();
    return sim ? sim->history : NULL;
}

tw_history *tw_history_of(tw_loop *loop) { return tw_sim_history(tw_sim_of(loop)); }

int64_t tw_history_invoke(tw_loop *loop, uint32_t process, tw_history_f f,
                          const char *key, const void *value, size_t value_len)
{
    tw_sim *sim = tw_sim_of(loop);
    if (!sim)
        return 0;
    tw_history *h = tw_sim_history(sim);
    return h ? tw_history_add_invoke(h, sim->now, process, f, key, value, value_len)
             : -ENOMEM;
}

int64_t tw_history_invoke_cas(tw_loop *loop, uint32_t process, const char *key,
                              const void *from, size_t from_len,
                              const void *to, size_t to_len)
{
    tw_sim *sim = tw_sim_of(loop);
    if (!sim)
        return 0;
    tw_history *h = tw_sim_history(sim);
    return h ? tw_history_add_cas(h, sim->now, process, key, from, from_len, to, to_len)
             : -ENOMEM;
}

static int complete(tw_loop *loop, int64_t id, tw_history_type type,
                    const void *value, size_t value_len)
{
    tw_sim *sim = tw_sim_of(loop);
    if (id == 0)
        return 0;
    if (!sim || !sim->history)
        return -ENOENT;
    return tw_history_add_complete(sim->history, id, sim->now, type, value, value_len);
}

int tw_history_ok(tw_loop *loop, int64_t id, const void *value, size_t value_len)
{
    return complete(loop, id, TW_HISTORY_OK, value, value_len);
}

int tw_history_fail(tw_loop *loop, int64_t id)
{
    return complete(loop, id, TW_HISTORY_FAIL, NULL, 0);
}

int tw_history_info(tw_loop *loop, int64_t id)
{
    return complete(loop, id, TW_HISTORY_INFO, NULL, 0);
}
