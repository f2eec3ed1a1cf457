/* tests/test_sim_process.c - what only the simulator can do with pipes and
 * processes: scripted faults (a kill at a virtual time, a crash after
 * partial output, an exit before reading the input, slow output), each
 * traced and replayed by its seed; programs written against
 * twin/simproc.h (signal handlers, timers, env and cwd, exec, the
 * small sh); node crashes and the end of the world
 * with processes and pipes still alive (LSan checks nothing leaks).
 *
 * Map: helpers; faults; determinism; the program API; sh; crashes and
 * teardown; refusals.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/prec.h"
#include "tests/rec.h"
#include "twin/programs.h"
#include "twin/real.h"
#include "twin/sim.h"
#include "twin/simproc.h"

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define SIM_TEST(fn) {#fn, fn, tw_env_setup, tw_env_teardown, (void *)tw_backend_sim}

/* ---- helpers ---- */

typedef struct writer {
    size_t total, sent;
} writer;

/* Write w->total pattern bytes to stdin in one call (the transport
 * buffers what the pipe cannot take), then write_eof. */
static void write_all(prec *r)
{
    writer *w = r->user;
    uint8_t *b = malloc(w->total);
    assert_non_null(b);
    for (size_t i = 0; i < w->total; i++)
        b[i] = tw_pattern(r->seed, i);
    tw_transport *in = prec_pipe(r, 0);
    assert_int_equal(tw_transport_set_write_buffer_limits(in, (ssize_t)w->total * 2, -1), 0);
    assert_int_equal(tw_transport_write(in, b, w->total), 0);
    assert_int_equal(tw_transport_write_eof(in), 0);
    w->sent = w->total;
    free(b);
}

static void cat_with(tw_env *env, prec *r, writer *w, size_t total)
{
    prec_init(r);
    w->total = total;
    r->user = w;
    r->seed = 0x5EED;
    r->verify1 = true;
    r->on_made = write_all;
    prec_exec(env, r, ARGV("cat"), NULL);
}

/* ---- faults ---- */

static tw_ns exited_at;

static void note_exit_time(prec *r) { exited_at = tw_sim_now(tw_sim_of(tw_transport_loop(r->t))); }

static void test_fault_kill_at_a_virtual_time(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_sim_proc_fault f = {.program = "sleep", .count = 1,
                           .kill_after_ns = TW_SEC(2)};
    assert_int_equal(tw_sim_proc_fault_add(env->sim, &f), 0);
    tw_ns t0 = tw_sim_now(env->sim);
    prec r;
    prec_init(&r);
    r.on_exited = note_exit_time;
    prec_exec(env, &r, ARGV("sleep", "10"), NULL);
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, -SIGKILL);
    /* killed at 2 s, reaped a few microseconds later; not at 10 s */
    assert_true(exited_at >= t0 + TW_SEC(2));
    assert_true(exited_at < t0 + TW_SEC(2) + TW_MS(1));
    prec_free(&r);

    /* count 1: the next sleep is left alone */
    prec_init(&r);
    prec_exec(env, &r, ARGV("sleep", "0.5"), NULL);
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, 0);
    prec_free(&r);
}

static void kill_at_when_made(prec *r)
{
    tw_loop *loop = tw_transport_loop(r->t);
    tw_sim *sim = tw_sim_of(loop);
    assert_int_equal(tw_sim_proc_kill_at(loop, tw_transport_get_pid(r->t),
                                         tw_sim_now(sim) + TW_MS(500), SIGTERM), 0);
    assert_int_equal(tw_sim_proc_kill_at(loop, 999999, tw_sim_now(sim), SIGTERM),
                     -ESRCH);
}

static void test_kill_at_by_pid(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_ns t0 = tw_sim_now(env->sim);
    prec r;
    prec_init(&r);
    r.on_made = kill_at_when_made;
    r.on_exited = note_exit_time;
    prec_exec(env, &r, ARGV("sleep", "10"), NULL);
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, -SIGTERM);
    assert_true(exited_at >= t0 + TW_MS(500) && exited_at < t0 + TW_MS(501));
    prec_free(&r);
}

/* The crash leaves exactly the first bytes, then the signal. */
static void test_fault_crash_after_partial_output(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_sim_proc_fault f = {.program = "cat", .crash = true,
                           .crash_after_bytes = 1000};
    assert_int_equal(tw_sim_proc_fault_add(env->sim, &f), 0);
    prec r;
    writer w;
    cat_with(env, &r, &w, 10000);
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, -SIGSEGV);
    assert_int_equal(r.total[1], 1000);
    assert_false(r.mismatch);
    assert_true(r.pipe_lost[0] && r.pipe_lost[1] && r.pipe_lost[2]);
    prec_free(&r);
}

/* The child is gone before it read anything: what the parent still had
 * buffered can never be delivered (EPIPE); an idle stdin closes cleanly. */
static void test_fault_exit_before_reading_input(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_sim_proc_fault f = {.program = "cat", .count = 2,
                           .exit_before_input = true, .exit_status = 3};
    assert_int_equal(tw_sim_proc_fault_add(env->sim, &f), 0);
    prec r;
    writer w;
    cat_with(env, &r, &w, 200000); /* more than a pipe holds */
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, 3);
    assert_int_equal(r.total[1], 0);
    assert_int_equal(r.pipe_err[0], -EPIPE);
    prec_free(&r);

    prec_init(&r); /* nothing written: stdin just closes */
    prec_exec(env, &r, ARGV("cat"), NULL);
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, 3);
    assert_int_equal(r.pipe_err[0], 0);
    prec_free(&r);
}

static tw_ns cat_duration(tw_env *env, size_t bytes)
{
    prec r;
    writer w;
    tw_ns t0 = tw_sim_now(env->sim);
    cat_with(env, &r, &w, bytes);
    TW_WAIT(env, r.released);
    assert_int_equal(r.total[1], bytes);
    assert_false(r.mismatch);
    assert_int_equal(r.returncode, 0);
    prec_free(&r);
    return tw_sim_now(env->sim) - t0;
}

static void test_fault_slow_output(void **state)
{
    tw_env *env = TW_ENV(state);
    assert_true(cat_duration(env, 200000) < TW_MS(100));
    tw_sim_proc_fault f = {.program = "cat", .count = 1,
                           .output_bytes_per_sec = 100000};
    assert_int_equal(tw_sim_proc_fault_add(env->sim, &f), 0);
    /* 200 kB at 100 kB/s: two seconds of virtual time, every byte intact */
    tw_ns d = cat_duration(env, 200000);
    assert_true(d >= TW_MS(1900));
    assert_true(d < TW_SEC(3));
}

static void test_fault_validation(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_sim_proc_fault bad[] = {
        {.program = "no/slash"},
        {.kill_after_ns = -1},
        {.kill_signal = 65},
        {.crash_signal = -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tw_sim_proc_fault_add(env->sim, &bad[i]), -EINVAL);
    assert_int_equal(tw_sim_proc_fault_add(NULL, &bad[0]), -EINVAL);
    assert_int_equal(tw_sim_proc_fault_add(env->sim, NULL), -EINVAL);
}

/* ---- determinism: a seed replays processes and faults exactly ---- */

typedef struct trace_log {
    unsigned crashes, faults, spawns;
} trace_log;

static void count_records(void *arg, const tw_sim_record *r, const char *line)
{
    trace_log *t = arg;
    (void)line;
    t->crashes += strcmp(r->what, "proc-crash") == 0;
    t->faults += strcmp(r->what, "proc-fault") == 0;
    t->spawns += strcmp(r->what, "proc-spawn") == 0;
}

static uint64_t one_run(uint64_t seed, trace_log *log)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.trace_fn = count_records;
    o.trace_arg = log;
    tw_sim *sim = tw_sim_new(seed, &o);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    assert_int_equal(tw_programs_register(sim), 0);
    tw_sim_proc_fault f = {.program = "cat", .crash = true, .crash_after_bytes = 70000};
    assert_int_equal(tw_sim_proc_fault_add(sim, &f), 0);
    tw_env env = {.backend = tw_backend_sim, .loop = loop, .sim = sim};
    prec r;
    writer w;
    cat_with(&env, &r, &w, 300000);
    prec a;
    prec_init(&a);
    prec_shell(&env, &a, "echo one; echo two >&2; exit 4", NULL);
    TW_WAIT(&env, r.released && a.released);
    assert_int_equal(r.total[1], 70000);
    assert_int_equal(a.returncode, 4);
    uint64_t h = tw_sim_trace_hash(sim);
    tw_sim_free(sim);
    prec_free(&r);
    prec_free(&a);
    return h;
}

static void test_same_seed_same_trace(void **state)
{
    (void)state;
    trace_log l1 = {0}, l2 = {0}, l3 = {0};
    uint64_t h1 = one_run(42, &l1), h2 = one_run(42, &l2), h3 = one_run(43, &l3);
    assert_int_equal(h1, h2);
    assert_true(h1 != h3); /* chunk sizes and latencies come from the seed */
    assert_int_equal(l1.crashes, 1);
    assert_int_equal(l1.faults, 1);
    assert_int_equal(l1.spawns, 2);
    assert_memory_equal(&l1, &l2, sizeof l1);
}

/* ---- the program API ---- */

/* "stubborn": survives SIGTERM (says so), exits 7 on SIGINT, reports its
 * pid, cwd and environment, and ticks a timer. */
static void stubborn_tick(tw_sim_proc *p)
{
    int *ticks = tw_sim_proc_data(p);
    (*ticks)++;
    tw_sim_proc_write(p, 1, "tick\n", 5);
    tw_sim_proc_timer(p, TW_MS(100), stubborn_tick);
}

static void stubborn_start(tw_sim_proc *p, int argc, char **argv)
{
    (void)argc; (void)argv;
    int *ticks = calloc(1, sizeof *ticks);
    tw_sim_proc_set_data(p, ticks);
    char line[128];
    snprintf(line, sizeof line, "pid=%d cwd=%s X=%s\n", tw_sim_proc_pid(p),
             tw_sim_proc_cwd(p), tw_sim_proc_getenv(p, "X"));
    tw_sim_proc_write(p, 1, line, strlen(line));
    assert_int_equal(tw_sim_proc_write(p, 3, "x", 1), -EBADF);
    assert_int_equal(tw_sim_proc_exec(p, 1, (char *[]){"twin-nothing", NULL}), -ENOENT);
    tw_sim_proc_timer(p, TW_MS(100), stubborn_tick);
}

static bool stubborn_signal(tw_sim_proc *p, int sig)
{
    if (sig == SIGTERM) {
        tw_sim_proc_write(p, 2, "ignoring TERM\n", 14);
        return true;
    }
    if (sig == SIGINT) {
        tw_sim_proc_exit(p, 7);
        return true;
    }
    return false;
}

static int stubborn_frees;

static void stubborn_free(tw_sim_proc *p)
{
    stubborn_frees++;
    free(tw_sim_proc_data(p));
}

static const tw_sim_program stubborn = {
    .start = stubborn_start, .signal = stubborn_signal, .free = stubborn_free,
};

static void term_then_int(prec *r, int fd, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (fd == 1 && r->total[1] >= 30 && strstr(prec_str(r, 1), "tick\ntick\n") &&
        !r->user) {
        r->user = r;
        assert_int_equal(tw_transport_terminate(r->t), 0);
    }
    /* once the whole line is in (it may come in several chunks) */
    if (fd == 2 && r->user != (void *)&r->user &&
        strstr(prec_str(r, 2), "ignoring TERM\n")) {
        r->user = &r->user;
        assert_int_equal(tw_transport_send_signal(r->t, SIGINT), 0);
    }
}

static void test_program_signals_timers_env(void **state)
{
    tw_env *env = TW_ENV(state);
    assert_int_equal(tw_sim_register_program(env->sim, "stubborn", &stubborn), 0);
    prec r;
    prec_init(&r);
    r.on_data = term_then_int;
    const char *const vars[] = {"X=42", NULL};
    tw_subprocess_opts o = {.cwd = "/srv", .env = vars};
    stubborn_frees = 0;
    prec_exec(env, &r, ARGV("/usr/bin/stubborn"), &o); /* found by its last name */
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, 7);
    char want[64];
    snprintf(want, sizeof want, "pid=%d cwd=/srv X=42\ntick\ntick\n", r.pid);
    assert_int_equal(strncmp(prec_str(&r, 1), want, strlen(want)), 0);
    assert_string_equal(prec_str(&r, 2), "ignoring TERM\n");
    assert_int_equal(stubborn_frees, 1);
    prec_free(&r);
}

/* A program added to those of every world (tw_programs_add), as a
 * plugin adds its own for `twin sim`: the worlds made after have it,
 * and one added under a standard name replaces that one, until removed. */
static void greet_start(tw_sim_proc *p, int argc, char **argv)
{
    const char *who = argc > 1 ? argv[1] : "world";
    tw_sim_proc_write(p, 1, "hello ", 6);
    tw_sim_proc_write(p, 1, who, strlen(who));
    tw_sim_proc_exit(p, 0);
}

static const tw_sim_program greet = {.start = greet_start};

static void run_in_new_world(const char *const *argv, prec *r)
{
    tw_sim *sim = tw_sim_new(9, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    assert_int_equal(tw_programs_register(sim), 0);
    tw_env env = {.backend = tw_backend_sim, .loop = loop, .sim = sim};
    prec_init(r);
    prec_exec(&env, r, argv, NULL);
    TW_WAIT(&env, r->released);
    tw_sim_free(sim);
}

static void test_programs_added_to_every_world(void **state)
{
    (void)state;
    prec r;
    tw_sim *sim = tw_sim_new(9, NULL);
    assert_int_equal(tw_programs_register(sim), 0);
    assert_null(tw_sim_find_program(sim, "greet")); /* none yet */
    tw_sim_free(sim);
    assert_int_equal(tw_programs_add("greet", &greet), 0);
    assert_int_equal(tw_programs_add("cat", &greet), 0);
    run_in_new_world(ARGV("greet", "you"), &r);
    assert_int_equal(r.returncode, 0);
    assert_string_equal(prec_str(&r, 1), "hello you");
    prec_free(&r);
    run_in_new_world(ARGV("cat"), &r); /* the added one wins */
    assert_string_equal(prec_str(&r, 1), "hello world");
    prec_free(&r);
    assert_int_equal(tw_programs_remove("cat"), 0);
    assert_int_equal(tw_programs_remove("greet"), 0);
    assert_int_equal(tw_programs_remove("greet"), -ENOENT);
    sim = tw_sim_new(9, NULL); /* the standard cat again, and no greet */
    assert_int_equal(tw_programs_register(sim), 0);
    assert_non_null(tw_sim_find_program(sim, "cat"));
    assert_true(tw_sim_find_program(sim, "cat") != &greet);
    assert_null(tw_sim_find_program(sim, "greet"));
    tw_sim_free(sim);
    /* refused: no name, a slash, too long, no program or no start */
    static const tw_sim_program nostart = {0};
    char longname[65];
    memset(longname, 'x', 64);
    longname[64] = '\0';
    assert_int_equal(tw_programs_add("", &greet), -EINVAL);
    assert_int_equal(tw_programs_add(NULL, &greet), -EINVAL);
    assert_int_equal(tw_programs_add("bin/greet", &greet), -EINVAL);
    assert_int_equal(tw_programs_add(longname, &greet), -EINVAL);
    assert_int_equal(tw_programs_add("greet", NULL), -EINVAL);
    assert_int_equal(tw_programs_add("greet", &nostart), -EINVAL);
    assert_int_equal(tw_programs_remove(NULL), -EINVAL);
    /* the table's bound */
    char name[16];
    for (int i = 0; i < TW_PROGRAMS_ADDED_MAX; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(tw_programs_add(name, &greet), 0);
    }
    assert_int_equal(tw_programs_add("one-more", &greet), -ENOSPC);
    assert_int_equal(tw_programs_add("p0", &greet), 0); /* replacing fits */
    for (int i = 0; i < TW_PROGRAMS_ADDED_MAX; i++) {
        snprintf(name, sizeof name, "p%d", i);
        assert_int_equal(tw_programs_remove(name), 0);
    }
}

/* ---- sh ---- */

static void send_line(prec *r)
{
    tw_transport *in = prec_pipe(r, 0);
    assert_int_equal(tw_transport_write(in, "a line\n", 7), 0);
}

static void test_sh_read_exec(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = send_line;
    prec_shell(env, &r, "read x; echo 'got it'; exec echo \"and then\"", NULL);
    TW_WAIT(env, r.released);
    assert_string_equal(prec_str(&r, 1), "got it\nand then\n");
    assert_int_equal(r.returncode, 0);
    prec_free(&r);

    /* a command not found: test_matrix_process, on both backends */

    /* exec >&- closes stdout: the parent sees its end before the exit */
    prec_init(&r);
    prec_shell(env, &r, "exec >&-; sleep 0.2", NULL);
    TW_WAIT(env, r.released);
    assert_int_equal(strncmp(r.log, "M p1", 4), 0);
    prec_free(&r);
}

/* ---- crashes and teardown ---- */

static void test_node_crash_takes_its_processes(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    prec_exec(env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(env, r.made);
    assert_int_equal(tw_sim_crash(env->loop), 0);
    TW_RUN_UNTIL(env, r.released, TW_SEC(5));
    assert_int_equal(r.lost, 0); /* a crash: no callback but release */
    assert_int_equal(tw_loop_alive(env->loop), 0);
    prec_free(&r);
}

/* tw_sim_free with a child running, its pipes full, and a pipe nobody
 * wrapped: everything is freed (LSan would say otherwise). */
static void test_world_ends_with_processes_alive(void **state)
{
    (void)state;
    tw_sim *sim = tw_sim_new(7, NULL);
    tw_loop *loop = tw_sim_add_node(sim, "n1", "10.0.0.1");
    assert_int_equal(tw_programs_register(sim), 0);
    tw_env env = {.backend = tw_backend_sim, .loop = loop, .sim = sim};
    prec r;
    writer w;
    cat_with(&env, &r, &w, 500000);
    prec y;
    prec_init(&y);
    prec_exec(&env, &y, ARGV("yes"), NULL);
    int fds[2];
    assert_int_equal(tw_sim_pipe(loop, fds), 0);
    rec_client c;
    rec_client_init(&c, 0);
    int more[2];
    assert_int_equal(tw_sim_pipe(loop, more), 0);
    assert_int_equal(tw_connect_write_pipe(loop, rec_client_factory, &c, more[1],
                                           rec_client_cb), 0);
    tw_sim_run_for(sim, TW_MS(5));
    assert_true(r.made && y.made && c.res.called);
    tw_sim_free(sim);
    assert_true(r.released && y.released && c.r.released);
    prec_free(&r);
    prec_free(&y);
    rec_free(&c.r);
}

/* ---- refusals ---- */

static void test_sim_pipe_refusals(void **state)
{
    tw_env *env = TW_ENV(state);
    int fds[2];
    assert_int_equal(tw_sim_pipe(env->loop, fds), 0);
    assert_true(fds[0] >= 3 && fds[1] >= 3 && fds[0] != fds[1]);
    rec_client c;
    rec_client_init(&c, 0);
    /* the wrong direction, an unknown fd */
    assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory, &c, fds[1],
                                          rec_client_cb), -EBADF);
    assert_int_equal(tw_connect_write_pipe(env->loop, rec_client_factory, &c, fds[0],
                                           rec_client_cb), -EBADF);
    assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory, &c, 9999,
                                          rec_client_cb), -EBADF);
    assert_int_equal(tw_sim_pipe_close(env->loop, fds[0]), 0);
    assert_int_equal(tw_sim_pipe_close(env->loop, fds[0]), -EBADF);
    assert_int_equal(tw_sim_pipe_close(env->loop, fds[1]), 0);
    tw_loop *real = tw_loop_new(NULL);
    assert_int_equal(tw_sim_pipe(real, fds), -EINVAL);
    assert_int_equal(tw_sim_pipe_close(real, 3), -EINVAL);
    assert_int_equal(tw_sim_proc_kill_at(real, 1, 0, SIGKILL), -EINVAL);
    tw_loop_free(real);
    /* programs: names and tables */
    assert_int_equal(tw_sim_register_program(env->sim, "a/b", &stubborn), -EINVAL);
    assert_int_equal(tw_sim_register_program(env->sim, "", &stubborn), -EINVAL);
    assert_int_equal(tw_sim_register_program(env->sim, "x", NULL), -EINVAL);
    const tw_sim_program nostart = {0};
    assert_int_equal(tw_sim_register_program(env->sim, "x", &nostart), -EINVAL);
    assert_non_null(tw_sim_find_program(env->sim, "cat"));
    assert_ptr_equal(tw_sim_find_program(env->sim, "/bin/cat"),
                     tw_sim_find_program(env->sim, "cat"));
    assert_null(tw_sim_find_program(env->sim, "twin-nothing"));
    assert_int_equal(tw_sim_register_program(env->sim, "cat", &stubborn), 0);
    assert_ptr_equal(tw_sim_find_program(env->sim, "cat"), &stubborn);
    tw_run_slice(env);
    assert_false(c.res.called);
    rec_free(&c.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SIM_TEST(test_fault_kill_at_a_virtual_time),
        SIM_TEST(test_kill_at_by_pid),
        SIM_TEST(test_fault_crash_after_partial_output),
        SIM_TEST(test_fault_exit_before_reading_input),
        SIM_TEST(test_fault_slow_output),
        SIM_TEST(test_fault_validation),
        TW_TEST(test_same_seed_same_trace),
        SIM_TEST(test_program_signals_timers_env),
        cmocka_unit_test(test_programs_added_to_every_world),
        SIM_TEST(test_sh_read_exec),
        SIM_TEST(test_node_crash_takes_its_processes),
        TW_TEST(test_world_ends_with_processes_alive),
        SIM_TEST(test_sim_pipe_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
