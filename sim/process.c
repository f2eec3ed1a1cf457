/* sim/process.c - simulated processes: subprocess_exec and
 * subprocess_shell on a simulated node run programs registered with the
 * world (twin/simproc.h). The SubprocessTransport's rules are the core's
 * (core/subprocess.c); this file is the "kernel": it starts programs,
 * carries their stdio over sim/pipe.c, delivers signals, and reports
 * exits.
 *
 * Map:
 *   1. the registry: programs, faults, tables (one per world)
 *   2. a process: its state, its fds, its end and reaping
 *   3. signals
 *   4. what a program calls (tw_sim_proc_*)
 *   5. events
 *   6. the backend ops the core calls: signal, cleanup, free
 *   7. spawning
 *
 * Life of a process: spawned (PROC_START queued after a latency) ->
 * running (start, then input chunks, drained, timers, signals) -> dead
 * (exit, a signal, a crash fault: every fd closes at once) -> reaped
 * (PROC_REAP after a latency: the program's free runs, then the core's
 * process_exited). Everything that happens to a process is an event of
 * the world's queue, so it is ordered by (time, seq) like the network,
 * and traced.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sim/proc.h"

enum { P_STARTING = 0, P_RUNNING, P_EXECING, P_DEAD };

struct tw_sim_proc {
    tw__subprocess sp; /* first: the core's part (pid, transport) */
    tw_sim *sim;
    uint32_t id, node; /* in the registry's procs table; its node */
    const tw_sim_program *prog;
    void *data;
    char **argv;       /* owned, NULL-terminated */
    int argc;
    char **env;        /* owned, NULL-terminated */
    char *cwd;         /* owned, NULL: "/" */
    sim_pipe *in;      /* stdin's pipe (we read it), NULL: none */
    sim_pipe *out[3];  /* [1] and [2]; [2] may be [1] (stderr to stdout) */
    bool fd_open[3];
    bool discard[3];   /* to /dev/null, or inherited: nowhere to show */
    bool stdin_null;   /* /dev/null or inherited: the end at once */
    int state;         /* P_* */
    bool started_once, blocked, drained_pending, eof_given;
    bool prog_freed, listed;
    int status;        /* the returncode, once dead */
    uint64_t timer_seq;
    void (*timer_cb)(tw_sim_proc *p);
    /* exec: the program that replaces this one at the next PROC_START */
    const tw_sim_program *next_prog;
    char **next_argv;
    int next_argc;
    /* scripted faults */
    bool crash, exit_early;
    uint64_t crash_left;
    int crash_signal, exit_status;
};

/* ------------------------------------------------------------------ */
/* 1. the registry                                                     */

sim_procs *sim_procs_of(tw_sim *sim)
{
    if (sim->procs)
        return sim->procs;
    sim_procs *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    sim_table_init(&r->pipes, 1u << 20);
    sim_table_init(&r->procs, 1u << 20);
    r->next_pid = 1000;
    r->next_fd = 3;
    sim->procs = r;
    return r;
}

static bool name_ok(const char *name)
{
    return name && *name && strlen(name) < sizeof ((sim_program_entry *)0)->name &&
           !strchr(name, '/');
}

int tw_sim_register_program(tw_sim *sim, const char *name,
                            const tw_sim_program *prog)
{
    if (!sim || !name_ok(name) || !prog || !prog->start)
        return -EINVAL;
    sim_procs *r = sim_procs_of(sim);
    if (!r)
        return -ENOMEM;
    for (uint32_t i = 0; i < r->nprogs; i++) {
        if (strcmp(r->progs[i].name, name) == 0) {
            r->progs[i].prog = prog;
            return 0;
        }
    }
    sim_program_entry *e = realloc(r->progs, (r->nprogs + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    r->progs = e;
    e = &r->progs[r->nprogs++];
    strcpy(e->name, name);
    e->prog = prog;
    return 0;
}

static const sim_program_entry *find_entry(sim_procs *r, const char *name)
{
    for (int pass = 0; r && name && pass < 2; pass++) {
        for (uint32_t i = 0; i < r->nprogs; i++)
            if (strcmp(r->progs[i].name, name) == 0)
                return &r->progs[i];
        /* "/bin/cat" finds "cat" */
        const char *slash = strrchr(name, '/');
        if (!slash)
            break;
        name = slash + 1;
    }
    return NULL;
}

const tw_sim_program *tw_sim_find_program(tw_sim *sim, const char *name)
{
    const sim_program_entry *e = sim ? find_entry(sim->procs, name) : NULL;
    return e ? e->prog : NULL;
}

int tw_sim_proc_fault_add(tw_sim *sim, const tw_sim_proc_fault *f)
{
    if (!sim || !f || (f->program && !name_ok(f->program)) ||
        f->kill_after_ns < 0 || f->kill_signal < 0 || f->kill_signal > 64 ||
        f->crash_signal < 0 || f->crash_signal > 64)
        return -EINVAL;
    sim_procs *r = sim_procs_of(sim);
    if (!r)
        return -ENOMEM;
    sim_fault_entry *e = realloc(r->faults, (r->nfaults + 1) * sizeof *e);
    if (!e)
        return -ENOMEM;
    r->faults = e;
    e = &r->faults[r->nfaults++];
    memset(e, 0, sizeof *e);
    e->f = *f;
    if (f->program) {
        strcpy(e->program, f->program);
        e->f.program = e->program;
    }
    e->left = f->count;
    return 0;
}

void sim_procs_free(tw_sim *sim)
{
    sim_procs *r = sim->procs;
    if (!r)
        return;
    /* Every node is down: its transports and processes are gone, and
     * with them their pipe ends. What is left are ends never wrapped. */
    for (uint32_t i = 0; i < r->pipes.n; i++) {
        sim_pipe *p = sim_table_get(&r->pipes, i, sim_table_gen(&r->pipes, i));
        if (p) {
            sim_pipe_close_end(p, false);
            if (sim_table_get(&r->pipes, i, sim_table_gen(&r->pipes, i)))
                sim_pipe_close_end(p, true);
        }
    }
    assert(r->procs.live == 0);
    sim_table_fini(&r->pipes);
    sim_table_fini(&r->procs);
    free(r->progs);
    free(r->faults);
    free(r);
    sim->procs = NULL;
}

/* ------------------------------------------------------------------ */
/* 2. a process                                                        */

static void proc_push(tw_sim_proc *p, tw_ns when, unsigned act, uint64_t payload)
{
    sim_table *t = &p->sim->procs->procs;
    sim_push(p->sim, when, EV_PROC, p->id, sim_table_gen(t, p->id),
             SIM_ARG(act, payload));
}

uint64_t sim_proc_tid(const tw_sim_proc *p)
{
    return p->sp.open && !p->sp.gone ? p->sp.base.id : 0;
}

static void trace(tw_sim_proc *p, const char *what, int64_t b)
{
    sim_trace(p->sim, p->node, sim_proc_tid(p), what, p->sp.pid, b);
}

static tw_ns soon(tw_sim_proc *p)
{
    return p->sim->now + sim_local_latency(p->sim, p->node);
}

static void free_vec(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* A NULL-terminated copy of v[0..n) (n < 0: up to v's NULL). */
static char **copy_vec(const char *const *v, int n, int *count)
{
    int k = 0;
    while (n < 0 ? v[k] != NULL : k < n)
        k++;
    char **c = calloc((size_t)k + 1, sizeof *c);
    for (int i = 0; c && i < k; i++) {
        if (!(c[i] = strdup(v[i]))) {
            free_vec(c);
            return NULL;
        }
    }
    if (c && count)
        *count = k;
    return c;
}

/* The program's own state goes with it (once). */
static void free_prog(tw_sim_proc *p)
{
    if (p->prog_freed)
        return;
    p->prog_freed = true;
    if (p->prog->free)
        p->prog->free(p);
    p->data = NULL;
}

static void close_fd(tw_sim_proc *p, int fd)
{
    if (!p->fd_open[fd])
        return;
    p->fd_open[fd] = false;
    if (fd == 0) {
        sim_pipe *in = p->in;
        p->in = NULL;
        if (in)
            sim_pipe_close_end(in, false);
        return;
    }
    sim_pipe *out = p->out[fd];
    p->out[fd] = NULL;
    /* stderr to stdout shares one pipe: its end closes with the last fd */
    if (out && p->out[fd == 1 ? 2 : 1] != out)
        sim_pipe_close_end(out, true);
}

/* The process is over: every fd closes now, the parent reaps it after a
 * latency. */
static void proc_end(tw_sim_proc *p, int status, const char *why)
{
    if (p->state == P_DEAD)
        return;
    p->state = P_DEAD;
    p->status = status;
    p->timer_seq++;
    p->timer_cb = NULL;
    trace(p, why, status);
    for (int fd = 0; fd < 3; fd++)
        close_fd(p, fd);
    proc_push(p, soon(p), PROC_REAP, 0);
}

bool sim_proc_reading(const tw_sim_proc *p)
{
    return p->state == P_RUNNING && !p->blocked && p->prog->input &&
           p->fd_open[0] && p->in;
}

void sim_proc_input(tw_sim_proc *p, const uint8_t *data, size_t len)
{
    if (sim_proc_reading(p))
        p->prog->input(p, data, len);
}

void sim_proc_input_eof(tw_sim_proc *p)
{
    if (p->state != P_RUNNING || p->eof_given || !p->prog->input)
        return;
    p->eof_given = true;
    if (p->prog->input_eof)
        p->prog->input_eof(p);
}

void sim_proc_output_drained(tw_sim_proc *p)
{
    if (!p->blocked || p->state == P_DEAD)
        return;
    for (int fd = 1; fd <= 2; fd++)
        if (p->out[fd] && sim_pipe_over(p->out[fd]))
            return;
    p->blocked = false;
    if (!p->drained_pending) {
        p->drained_pending = true;
        proc_push(p, p->sim->now, PROC_DRAINED, 0);
    }
    if (p->in)
        sim_pipe_kick(p->in); /* no longer stuck in write(): reads again */
}

/* A process blocked writing into a pipe whose reader just left is woken
 * by EPIPE in that write: SIGPIPE, as the kernel does. */
void sim_proc_reader_gone(tw_sim_proc *p)
{
    if (!p->blocked || p->state == P_DEAD)
        return;
    proc_push(p, p->sim->now, PROC_SIGNAL, SIGPIPE);
    sim_proc_output_drained(p); /* its bytes are gone: no longer over */
}

/* ------------------------------------------------------------------ */
/* 3. signals                                                          */

/* The default action of everything else is to terminate. Stopping is not
 * simulated: the stop signals are ignored. */
static bool ignored_by_default(int sig)
{
    switch (sig) {
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
    case SIGSTOP:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
        return true;
    default:
        return false;
    }
}

static void deliver_signal(tw_sim_proc *p, int sig)
{
    if (p->state == P_DEAD) {
        trace(p, "proc-signal-late", sig);
        return;
    }
    trace(p, "proc-signal", sig);
    if (sig == 0)
        return;
    if (sig == SIGKILL) {
        proc_end(p, -SIGKILL, "proc-killed");
        return;
    }
    if (sig != SIGSTOP && p->state == P_RUNNING && p->prog->signal &&
        p->prog->signal(p, sig))
        return;
    if (!ignored_by_default(sig))
        proc_end(p, -sig, "proc-killed");
}

/* ------------------------------------------------------------------ */
/* 4. what a program calls                                             */

static int put(tw_sim_proc *p, int fd, const void *data, size_t len)
{
    if (p->discard[fd])
        return 0;
    sim_pipe *out = p->out[fd];
    if (out->r_kind == END_CLOSED) {
        /* A write into a pipe nobody reads: SIGPIPE, whose default kills. */
        trace(p, "proc-sigpipe", fd);
        if (p->prog->signal && p->prog->signal(p, SIGPIPE))
            return -EPIPE;
        proc_end(p, -SIGPIPE, "proc-killed");
        return -EPIPE;
    }
    sim_pipe_put(out, data, len);
    if (sim_pipe_over(out))
        p->blocked = true;
    return 0;
}

int tw_sim_proc_write(tw_sim_proc *p, int fd, const void *data, size_t len)
{
    if (p->state == P_DEAD)
        return -ESRCH;
    if ((fd != 1 && fd != 2) || !p->fd_open[fd])
        return -EBADF;
    if (len == 0)
        return 0;
    if (!data)
        return -EINVAL;
    size_t n = len;
    bool crash_now = false;
    if (p->crash) {
        if (p->crash_left <= len) {
            n = (size_t)p->crash_left;
            crash_now = true;
        }
        p->crash_left -= n;
    }
    int rc = n ? put(p, fd, data, n) : 0;
    if (crash_now && p->state != P_DEAD) {
        trace(p, "proc-crash", (int64_t)n);
        proc_end(p, -p->crash_signal, "proc-crashed");
        return -ESRCH;
    }
    return rc;
}

bool tw_sim_proc_blocked(const tw_sim_proc *p) { return p->blocked; }

int tw_sim_proc_close(tw_sim_proc *p, int fd)
{
    if (fd < 0 || fd > 2 || !p->fd_open[fd])
        return -EBADF;
    trace(p, "proc-close", fd);
    close_fd(p, fd);
    return 0;
}

void tw_sim_proc_exit(tw_sim_proc *p, int status)
{
    proc_end(p, status & 0xff, "proc-exit");
}

void tw_sim_proc_die(tw_sim_proc *p, int sig)
{
    if (sig <= 0 || sig > 64)
        sig = SIGKILL;
    proc_end(p, -sig, "proc-died");
}

int tw_sim_proc_exec(tw_sim_proc *p, int argc, char *const argv[])
{
    if (p->state == P_DEAD)
        return -ESRCH;
    if (argc < 1 || !argv || !argv[0])
        return -EINVAL;
    const sim_program_entry *e = find_entry(p->sim->procs, argv[0]);
    if (!e)
        return -ENOENT;
    int n = 0;
    char **v = copy_vec((const char *const *)argv, argc, &n);
    if (!v)
        return -ENOMEM;
    free_vec(p->next_argv);
    p->next_argv = v;
    p->next_argc = n;
    p->next_prog = e->prog;
    p->state = P_EXECING; /* the old program gets nothing more */
    p->timer_seq++;
    p->timer_cb = NULL;
    trace(p, "proc-exec", argc);
    proc_push(p, p->sim->now, PROC_START, 0);
    return 0;
}

int tw_sim_proc_timer(tw_sim_proc *p, tw_ns delay, void (*cb)(tw_sim_proc *p))
{
    if (p->state == P_DEAD)
        return -ESRCH;
    p->timer_seq++;
    p->timer_cb = NULL;
    if (delay < 0 || !cb)
        return 0;
    sim_node *n = p->sim->nodes[p->node];
    tw_ns local = sim_node_local(n, p->sim->now);
    tw_ns when = sim_node_world(n, delay > INT64_MAX - local ? INT64_MAX
                                                            : local + delay);
    p->timer_cb = cb;
    proc_push(p, when, PROC_TIMER, p->timer_seq);
    return 0;
}

void tw_sim_proc_set_data(tw_sim_proc *p, void *data) { p->data = data; }
void *tw_sim_proc_data(const tw_sim_proc *p) { return p->data; }
int tw_sim_proc_pid(const tw_sim_proc *p) { return p->sp.pid; }

tw_loop *tw_sim_proc_loop(const tw_sim_proc *p)
{
    return &p->sim->nodes[p->node]->loop;
}

const char *tw_sim_proc_getenv(const tw_sim_proc *p, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    for (size_t i = 0; n && p->env && p->env[i]; i++)
        if (strncmp(p->env[i], name, n) == 0 && p->env[i][n] == '=')
            return p->env[i] + n + 1;
    return NULL;
}

const char *const *tw_sim_proc_environ(const tw_sim_proc *p)
{
    return (const char *const *)p->env;
}

const char *tw_sim_proc_cwd(const tw_sim_proc *p) { return p->cwd ? p->cwd : "/"; }

int tw_sim_proc_kill_at(tw_loop *loop, int pid, tw_ns when, int sig)
{
    sim_node *n = sim_node_of(loop);
    if (!n || sig < 0 || sig > 64)
        return -EINVAL;
    sim_procs *r = n->sim->procs;
    for (uint32_t i = 0; r && i < r->procs.n; i++) {
        tw_sim_proc *p = sim_table_get(&r->procs, i, sim_table_gen(&r->procs, i));
        if (p && p->node == n->id && p->sp.pid == pid && p->state != P_DEAD) {
            trace(p, "proc-kill-at", sig);
            proc_push(p, when, PROC_SIGNAL, (uint64_t)sig);
            return 0;
        }
    }
    return -ESRCH;
}

/* Every live process of the program registered as `program` on node:
 * sig now (as an event at the current time). For scenarios' kill faults.
 * Returns how many were signalled, or -EINVAL. */
int tw_sim_proc_kill_program(tw_loop *loop, const char *program, int sig)
{
    sim_node *n = sim_node_of(loop);
    if (!n || !program || sig < 1 || sig > 64)
        return -EINVAL;
    const tw_sim_program *prog = tw_sim_find_program(n->sim, program);
    sim_procs *r = n->sim->procs;
    int count = 0;
    for (uint32_t i = 0; prog && r && i < r->procs.n; i++) {
        tw_sim_proc *p = sim_table_get(&r->procs, i, sim_table_gen(&r->procs, i));
        if (p && p->node == n->id && p->prog == prog && p->state != P_DEAD) {
            trace(p, "proc-kill", sig);
            proc_push(p, n->sim->now, PROC_SIGNAL, (uint64_t)sig);
            count++;
        }
    }
    return count;
}

/* ------------------------------------------------------------------ */
/* 5. events                                                           */

static void start(tw_sim_proc *p)
{
    if (p->state == P_EXECING) {
        free_prog(p);
        free_vec(p->argv);
        p->argv = p->next_argv;
        p->argc = p->next_argc;
        p->prog = p->next_prog;
        p->next_argv = NULL;
        p->prog_freed = false;
        p->state = P_STARTING;
    }
    if (p->state != P_STARTING)
        return;
    if (p->exit_early && !p->started_once) {
        p->started_once = true;
        trace(p, "proc-fault-exit-early", p->exit_status);
        proc_end(p, p->exit_status & 0xff, "proc-exit");
        return;
    }
    p->started_once = true;
    p->state = P_RUNNING;
    trace(p, "proc-start", p->argc);
    p->prog->start(p, p->argc, p->argv);
    if (p->state != P_RUNNING)
        return;
    if (p->stdin_null)
        proc_push(p, soon(p), PROC_STDIN_EOF, 0);
    else if (p->in)
        sim_pipe_kick(p->in);
}

static void reap(tw_sim_proc *p)
{
    trace(p, "proc-reap", p->status);
    free_prog(p);
    if (p->sp.open && !p->sp.gone)
        tw__subprocess_exited(&p->sp, p->status);
}

void sim_proc_event(tw_sim *sim, const sim_event *ev)
{
    if (!sim->procs)
        return;
    if (ev->type == EV_PIPE) {
        sim_pipe_event(sim, ev);
        return;
    }
    tw_sim_proc *p = sim_table_get(&sim->procs->procs, ev->obj, ev->gen);
    if (!p)
        return; /* reaped and gone, or torn down with its transport */
    switch (SIM_ACT(ev->arg)) {
    case PROC_START:
        start(p);
        break;
    case PROC_TIMER:
        if (p->state == P_RUNNING && p->timer_cb &&
            SIM_PAYLOAD(ev->arg) == (p->timer_seq & (UINT64_MAX >> 8))) {
            void (*cb)(tw_sim_proc *) = p->timer_cb;
            p->timer_cb = NULL;
            cb(p);
        }
        break;
    case PROC_SIGNAL:
        deliver_signal(p, (int)SIM_PAYLOAD(ev->arg));
        break;
    case PROC_DRAINED:
        p->drained_pending = false;
        if (p->state == P_RUNNING && !p->blocked && p->prog->drained)
            p->prog->drained(p);
        break;
    case PROC_STDIN_EOF:
        sim_proc_input_eof(p);
        break;
    case PROC_REAP:
        reap(p);
        break;
    default:
        assert(!"unknown process event");
    }
}

/* ------------------------------------------------------------------ */
/* 6. backend ops                                                      */

static tw_sim_proc *proc_of(tw__subprocess *sp) { return (tw_sim_proc *)sp; }

static int op_signal(tw__subprocess *sp, int sig)
{
    tw_sim_proc *p = proc_of(sp);
    /* A dead process not reaped yet takes signals and ignores them, as a
     * zombie does. Otherwise the signal lands after a latency. */
    if (sig != 0 && p->state != P_DEAD)
        proc_push(p, soon(p), PROC_SIGNAL, (uint64_t)sig);
    return 0;
}

/* The transport is going away: a process still running is killed without
 * a word (no reap is reported: nobody is left to hear it). */
static void op_cleanup(tw__subprocess *sp)
{
    tw_sim_proc *p = proc_of(sp);
    if (p->state != P_DEAD) {
        p->state = P_DEAD;
        p->status = -SIGKILL;
        trace(p, "proc-killed-with-parent", -SIGKILL);
        for (int fd = 0; fd < 3; fd++)
            close_fd(p, fd);
    }
    free_prog(p);
    if (p->listed) {
        p->listed = false;
        sim_table_del(&p->sim->procs->procs, p->id); /* its events are void */
    }
}

static void op_free(tw__subprocess *sp)
{
    tw_sim_proc *p = proc_of(sp);
    free_vec(p->argv);
    free_vec(p->next_argv);
    free_vec(p->env);
    free(p->cwd);
    tw__transport_free(&p->sp.base); /* p begins with it */
}

static const tw__subprocess_ops proc_ops = {
    .signal = op_signal,
    .cleanup = op_cleanup,
    .free = op_free,
};

/* ------------------------------------------------------------------ */
/* 7. spawning                                                         */

/* The scripted faults that match this spawn. */
static void apply_faults(tw_sim_proc *p, const char *name)
{
    sim_procs *r = p->sim->procs;
    for (uint32_t i = 0; i < r->nfaults; i++) {
        sim_fault_entry *e = &r->faults[i];
        const tw_sim_proc_fault *f = &e->f;
        if ((f->program && strcmp(f->program, name) != 0) ||
            (f->count && e->left == 0))
            continue;
        if (f->count)
            e->left--;
        trace(p, "proc-fault", i);
        if (f->kill_after_ns > 0)
            proc_push(p, p->sim->now + f->kill_after_ns, PROC_SIGNAL,
                      (uint64_t)(f->kill_signal ? f->kill_signal : SIGKILL));
        if (f->crash) {
            p->crash = true;
            p->crash_left = f->crash_after_bytes;
            p->crash_signal = f->crash_signal ? f->crash_signal : SIGSEGV;
        }
        if (f->exit_before_input) {
            p->exit_early = true;
            p->exit_status = f->exit_status;
        }
        for (int fd = 1; fd <= 2 && f->output_bytes_per_sec; fd++)
            if (p->out[fd])
                p->out[fd]->rate_bytes_per_sec = f->output_bytes_per_sec;
    }
}

/* Undo a spawn that failed before anything was visible. */
static void spawn_undo(tw_sim_proc *p, sim_pipe *pipes[3], sim_pipe_tr *trs[3])
{
    for (int i = 0; i < 3; i++) {
        if (pipes[i]) {
            sim_pipe_close_end(pipes[i], false);
            sim_pipe_close_end(pipes[i], true);
        }
        free(trs[i]);
    }
    if (p)
        op_free(&p->sp);
}

/* Memory for the process and its pipes; 0 or -ENOMEM. */
static int spawn_alloc(tw_sim_proc *p, const struct tw_subprocess_spec *spec,
                       const tw_stdio modes[3], sim_pipe *pipes[3],
                       sim_pipe_tr *trs[3])
{
    const tw_subprocess_opts *o = &spec->opts;
    p->argv = copy_vec(spec->argv, -1, &p->argc);
    if (!p->argv)
        return -ENOMEM;
    static const char *const no_env[] = {NULL}; /* a node has none of its own */
    if (!(p->env = copy_vec(o->env ? o->env : no_env, -1, NULL)))
        return -ENOMEM;
    if (o->cwd && !(p->cwd = strdup(o->cwd)))
        return -ENOMEM;
    for (int i = 0; i < 3; i++) {
        if (modes[i] != TW_STDIO_PIPE)
            continue;
        pipes[i] = sim_pipe_new(p->sim, p->node);
        trs[i] = calloc(1, sizeof *trs[i]);
        if (!pipes[i] || !trs[i])
            return -ENOMEM;
    }
    return 0;
}

/* Wire fd i: the process's end of the pipe, the transport on the other. */
static void wire(tw_sim_proc *p, int i, tw_stdio mode, sim_pipe *pipe,
                 sim_pipe_tr *tr, tw_loop *loop)
{
    p->fd_open[i] = true;
    if (mode == TW_STDIO_PIPE) {
        sim_procs *r = p->sim->procs;
        if (i == 0) {
            pipe->r_kind = END_PROC;
            pipe->r_proc = p;
            pipe->w_fd = r->next_fd++;
            p->in = pipe;
        } else {
            pipe->w_kind = END_PROC;
            pipe->w_proc = p;
            pipe->r_fd = r->next_fd++;
            p->out[i] = pipe;
        }
        sim_pipe_attach(pipe, tr, i == 0, loop);
        tw__subprocess_set_pipe(&p->sp, i, &tr->base);
    } else if (mode == TW_STDIO_STDOUT) {
        p->out[2] = p->out[1];
        p->discard[2] = p->discard[1];
    } else if (i == 0) {
        p->stdin_null = true;
    } else {
        p->discard[i] = true;
    }
}

int sim_subprocess(tw_loop *loop, tw_protocol_factory factory, void *arg,
                   const struct tw_subprocess_spec *spec, tw_connect_cb cb)
{
    sim_node *n = sim_node_of(loop);
    tw_sim *sim = n->sim;
    sim_procs *r = sim_procs_of(sim);
    if (!r)
        return -ENOMEM;
    const sim_program_entry *e = find_entry(r, spec->argv[0]);
    if (!e)
        return -ENOENT; /* as posix_spawnp's ENOENT on the real backend */
    const tw_stdio modes[3] = {spec->opts.stdin_mode, spec->opts.stdout_mode,
                               spec->opts.stderr_mode};
    sim_pipe *pipes[3] = {NULL, NULL, NULL};
    sim_pipe_tr *trs[3] = {NULL, NULL, NULL};
    tw_sim_proc *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    tw__subprocess_init(&p->sp, &proc_ops, r->next_pid);
    p->sim = sim;
    p->node = n->id;
    p->prog = e->prog;
    int err = spawn_alloc(p, spec, modes, pipes, trs);
    if (err == 0 && (p->id = sim_table_add(&r->procs, p)) == SIM_NONE)
        err = -EAGAIN; /* the process table is full */
    if (err < 0) {
        spawn_undo(p, pipes, trs);
        return err;
    }
    p->listed = true;
    r->next_pid++;
    /* Nothing can fail from here on. */
    for (int i = 0; i < 3; i++)
        wire(p, i, modes[i], pipes[i], trs[i], loop);
    trace(p, "proc-spawn", p->argc);
    apply_faults(p, e->name);
    proc_push(p, soon(p), PROC_START, 0);
    /* A factory failure comes back through cb; op_cleanup kills it. */
    tw__subprocess_open(&p->sp, loop, factory, arg, cb);
    return 0;
}
