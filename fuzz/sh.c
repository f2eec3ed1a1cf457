/* fuzz/sh.c - the simulated shell of sim/programs/sh.c and the programs
 * it runs (sim/programs/programs.c, sim/programs/date.c), through
 * tw_subprocess_shell on a simulated node.
 *
 * The input: a command line up to the first NUL (at most 4 KiB, the
 * shell's own limit being the thing under test), then what the child
 * reads on stdin. The run is bounded in virtual time (`sleep 1e9` and
 * `yes` are fine inputs). Oracles: no crash, the contract checker, and
 * the SubprocessProtocol rules (process_exited at most once, pipe data
 * only from fds 1 and 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/programs.h"
#include "twin/sim.h"
#include "twin/twin.h"

#define CMD_MAX 4096

typedef struct child {
    tw_protocol base;
    const uint8_t *in;
    size_t in_len;
    size_t out_bytes;
    int exited, lost;
} child;

static void made(tw_protocol *p, tw_transport *t)
{
    child *c = (child *)p;
    tw_transport *w;
    if (tw_transport_get_pipe_transport(t, 0, &w) == 0 && w) {
        tw_transport_write(w, c->in, c->in_len);
        tw_transport_write_eof(w);
    }
}

static void pipe_data(tw_protocol *p, int fd, const uint8_t *d, size_t n)
{
    if (fd != 1 && fd != 2)
        abort();
    ((child *)p)->out_bytes += n;
    (void)d;
}

static void exited(tw_protocol *p)
{
    if (((child *)p)->exited++)
        abort();
}

static void lost(tw_protocol *p, int err) { ((child *)p)->lost++; }

static const tw_protocol_ops child_ops = {
    .connection_made = made,
    .pipe_data_received = pipe_data,
    .process_exited = exited,
    .connection_lost = lost,
};

static tw_protocol *factory(void *arg) { return arg; }

static void violation(void *arg, const char *msg)
{
    fprintf(stderr, "%s\n", msg);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char cmd[CMD_MAX + 1];
    const uint8_t *nul = memchr(data, 0, size < CMD_MAX ? size : CMD_MAX);
    size_t clen = nul ? (size_t)(nul - data) : (size < CMD_MAX ? size : CMD_MAX);
    memcpy(cmd, data, clen);
    cmd[clen] = 0;
    size_t skip = clen + (nul ? 1 : 0);

    tw_sim_opts so;
    tw_sim_opts_default(&so);
    so.chunk_bytes_max = 4096;
    tw_sim *sim = tw_sim_new(0, &so);
    tw_loop *loop = sim ? tw_sim_add_node(sim, "host", "10.0.0.1") : NULL;
    if (!loop || tw_programs_register(sim) < 0) {
        tw_sim_free(sim);
        return 0;
    }
    tw_loop_set_contract_check(loop, true);
    tw_loop_set_contract_handler(loop, violation, NULL);
    child c = {.base.ops = &child_ops, .in = data + skip, .in_len = size - skip};
    /* 200 ms of virtual time: any command line of the grammar is done by
     * then, and a `yes` has written megabytes. */
    if (tw_subprocess_shell(loop, factory, &c, cmd, NULL, NULL) == 0)
        tw_sim_run_for(sim, TW_MS(200));
    tw_sim_free(sim);
    return 0;
}
