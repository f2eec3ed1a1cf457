/* tests/test_matrix_process.c - pipes and subprocesses, each body run on
 * BOTH backends: real OS processes (cat, sh, date, ... from the PATH) and
 * pipes on epoll, and the simulator's registered programs of the same
 * names (twin/programs.h) and simulated pipes. One body, one protocol,
 * two worlds: what the protocol sees must be the same.
 *
 * Map: pipe transports; spawning and the happy path; returncode and
 * signals; close; the order of process_exited and the pipes; stdio modes;
 * cwd and env; flow control (16 MiB through cat); a child killed mid-way;
 * a writer blocked on a full pipe; kinds and -ENOTSUP; refused spawns; the date app.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/prec.h"
#include "tests/rec.h"

#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static void assert_ended(prec *r)
{
    assert_true(r->released);
    assert_int_equal(r->made, 1);
    assert_int_equal(r->exited, 1);
    assert_int_equal(r->lost, 1);
    assert_int_equal(r->lost_err, 0);
    assert_int_equal(r->rc_at_exit, 0); /* known inside process_exited */
    assert_string_equal(r->last_tok, "L"); /* connection_lost came last */
}

/* ---- pipe transports ---- */

typedef struct pipe_pair {
    int fds[2];
    rec_client w, rd;
} pipe_pair;

static void pipes_open(tw_env *env, pipe_pair *pp, bool reader)
{
    rec_client_init(&pp->w, 0);
    rec_client_init(&pp->rd, 0);
    assert_int_equal(tw_env_pipe(env, pp->fds), 0);
    assert_int_equal(tw_connect_write_pipe(env->loop, rec_client_factory, &pp->w,
                                           pp->fds[1], rec_client_cb), 0);
    if (reader)
        assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory,
                                              &pp->rd, pp->fds[0],
                                              rec_client_cb), 0);
    assert_int_equal(pp->w.r.made, 0); /* never from inside the call */
    TW_WAIT(env, pp->w.res.called && (!reader || pp->rd.res.called));
    assert_int_equal(pp->w.res.err, 0);
    assert_int_equal(tw_transport_kind_of(pp->w.r.t), TW_TRANSPORT_WRITE);
    if (reader) {
        assert_int_equal(pp->rd.res.err, 0);
        assert_int_equal(tw_transport_kind_of(pp->rd.r.t), TW_TRANSPORT_READ);
    }
}

static void pipes_free(pipe_pair *pp)
{
    rec_free(&pp->w.r);
    rec_free(&pp->rd.r);
}

static void test_pipe_write_then_read(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    pipes_open(env, &pp, true);
    tw_extra x;
    assert_int_equal(tw_transport_get_extra_info(pp.w.r.t, "pipe", &x), 0);
    assert_int_equal(x.type, TW_EXTRA_FD);
    assert_int_equal(x.v.fd, pp.fds[1]);
    assert_int_equal(tw_transport_get_extra_info(pp.rd.r.t, "pipe", &x), 0);
    assert_int_equal(x.v.fd, pp.fds[0]);
    assert_int_equal(tw_transport_get_extra_info(pp.rd.r.t, "peername", &x), -ENOENT);
    assert_true(tw_transport_can_write_eof(pp.w.r.t));
    assert_int_equal(tw_transport_write(pp.w.r.t, "hello ", 6), 0);
    assert_int_equal(tw_transport_write(pp.w.r.t, "pipe", 4), 0);
    /* a pipe cannot half-close: write_eof flushes, then closes */
    assert_int_equal(tw_transport_write_eof(pp.w.r.t), 0);
    assert_int_equal(tw_transport_write(pp.w.r.t, "x", 1), -EPIPE);
    TW_WAIT(env, pp.w.r.released && pp.rd.r.released);
    assert_string_equal(pp.w.r.log, "ML");
    assert_int_equal(pp.w.r.lost_err, 0);
    assert_int_equal(pp.rd.r.len, 10);
    assert_memory_equal(pp.rd.r.data, "hello pipe", 10);
    assert_string_equal(pp.rd.r.log, "MDEL");
    assert_int_equal(pp.rd.r.lost_err, 0);
    pipes_free(&pp);
}

/* eof_received returning true keeps a socket half open; a read pipe has
 * nothing left to keep open and closes anyway (asyncio's _UnixReadPipe). */
static void test_read_pipe_closes_after_eof_even_if_kept(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    pipes_open(env, &pp, true);
    pp.rd.r.eof_keep = true;
    assert_int_equal(tw_transport_close(pp.w.r.t), 0);
    TW_WAIT(env, pp.w.r.released && pp.rd.r.released);
    assert_string_equal(pp.rd.r.log, "MEL");
    pipes_free(&pp);
}

/* asyncio's write pipe watches for its reader going away: idle, it closes
 * cleanly; with data still waiting, the data can never arrive: EPIPE. */
static void test_write_pipe_reader_gone_while_idle(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    pipes_open(env, &pp, false);
    tw_env_close_fd(env, pp.fds[0]);
    TW_WAIT(env, pp.w.r.released);
    assert_string_equal(pp.w.r.log, "ML");
    assert_int_equal(pp.w.r.lost_err, 0);
    pipes_free(&pp);
}

static void test_write_pipe_reader_gone_with_data_waiting(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    pipes_open(env, &pp, false);
    static uint8_t big[256 * 1024];
    assert_int_equal(tw_transport_set_write_buffer_limits(pp.w.r.t, 1 << 20, -1), 0);
    assert_int_equal(tw_transport_write(pp.w.r.t, big, sizeof big), 0);
    /* more than a pipe holds: the rest waits in the transport */
    assert_true(tw_transport_get_write_buffer_size(pp.w.r.t) > 0);
    tw_env_close_fd(env, pp.fds[0]);
    TW_WAIT(env, pp.w.r.released);
    assert_string_equal(pp.w.r.log, "ML");
    assert_int_equal(pp.w.r.lost_err, -EPIPE);
    pipes_free(&pp);
}

static void test_pipe_kinds_refuse_the_other_direction(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    pipes_open(env, &pp, true);
    tw_transport *w = pp.w.r.t, *rd = pp.rd.r.t;
    assert_int_equal(tw_transport_write(rd, "x", 1), -ENOTSUP);
    assert_int_equal(tw_transport_write_eof(rd), -ENOTSUP);
    assert_false(tw_transport_can_write_eof(rd));
    assert_int_equal(tw_transport_set_write_buffer_limits(rd, 10, 1), -ENOTSUP);
    assert_int_equal(tw_transport_pause_reading(w), -ENOTSUP);
    assert_int_equal(tw_transport_resume_reading(w), -ENOTSUP);
    assert_false(tw_transport_is_reading(w));
    assert_true(tw_transport_is_reading(rd));
    assert_int_equal(tw_transport_pause_reading(rd), 0);
    assert_false(tw_transport_is_reading(rd));
    assert_int_equal(tw_transport_resume_reading(rd), 0);
    /* the subprocess calls are for the subprocess transport only */
    int c;
    tw_transport *x;
    assert_int_equal(tw_transport_get_pid(w), -ENOTSUP);
    assert_int_equal(tw_transport_get_returncode(rd, &c), -ENOTSUP);
    assert_int_equal(tw_transport_get_pipe_transport(w, 0, &x), -ENOTSUP);
    assert_int_equal(tw_transport_kill(w), -ENOTSUP);
    assert_int_equal(tw_transport_terminate(rd), -ENOTSUP);
    assert_int_equal(tw_transport_send_signal(rd, SIGTERM), -ENOTSUP);
    tw_transport_close(w);
    tw_transport_close(rd);
    TW_WAIT(env, pp.w.r.released && pp.rd.r.released);
    pipes_free(&pp);
}

static void test_pipe_refuses_bad_arguments(void **state)
{
    tw_env *env = TW_ENV(state);
    rec_client c;
    rec_client_init(&c, 0);
    assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory, &c, -1,
                                          rec_client_cb), -EBADF);
    assert_int_equal(tw_connect_write_pipe(env->loop, NULL, &c, 0, NULL), -EINVAL);
    assert_int_equal(tw_connect_write_pipe(NULL, rec_client_factory, &c, 0, NULL),
                     -EINVAL);
    tw_run_slice(env);
    assert_false(c.res.called);
    rec_free(&c.r);
}

/* The write end handed to connect_read_pipe (or the read end to
 * connect_write_pipe) can never move: refused with -EBADF, the fd left
 * open and the callback never called, so the right call can still take
 * it. */
static void test_pipe_refuses_the_wrong_end(void **state)
{
    tw_env *env = TW_ENV(state);
    pipe_pair pp;
    rec_client_init(&pp.w, 0);
    rec_client_init(&pp.rd, 0);
    assert_int_equal(tw_env_pipe(env, pp.fds), 0);
    assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory, &pp.rd,
                                          pp.fds[1], rec_client_cb), -EBADF);
    assert_int_equal(tw_connect_write_pipe(env->loop, rec_client_factory, &pp.w,
                                           pp.fds[0], rec_client_cb), -EBADF);
    tw_run_slice(env);
    assert_false(pp.rd.res.called);
    assert_false(pp.w.res.called);
    /* both ends are still open: the right calls take them and carry data */
    assert_int_equal(tw_connect_write_pipe(env->loop, rec_client_factory, &pp.w,
                                           pp.fds[1], rec_client_cb), 0);
    assert_int_equal(tw_connect_read_pipe(env->loop, rec_client_factory, &pp.rd,
                                          pp.fds[0], rec_client_cb), 0);
    TW_WAIT(env, pp.w.res.called && pp.rd.res.called);
    assert_int_equal(tw_transport_write(pp.w.r.t, "ok", 2), 0);
    assert_int_equal(tw_transport_write_eof(pp.w.r.t), 0);
    TW_WAIT(env, pp.w.r.released && pp.rd.r.released);
    assert_int_equal(pp.rd.r.len, 2);
    assert_memory_equal(pp.rd.r.data, "ok", 2);
    assert_string_equal(pp.rd.r.log, "MDEL");
    pipes_free(&pp);
}

/* ---- spawning: the happy path ---- */

static void write_hello_eof(prec *r)
{
    tw_transport *in = prec_pipe(r, 0);
    assert_non_null(in);
    assert_int_equal(tw_transport_write(in, "hello\n", 6), 0);
    assert_int_equal(tw_transport_write_eof(in), 0);
}

static void test_exec_cat_echoes_stdin(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = write_hello_eof;
    prec_exec(env, &r, ARGV("cat"), NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_true(r.cb_called);
    assert_int_equal(r.cb_err, 0);
    assert_string_equal(prec_str(&r, 1), "hello\n");
    assert_int_equal(r.total[2], 0);
    assert_int_equal(r.returncode, 0);
    for (int fd = 0; fd < 3; fd++) {
        assert_true(r.pipe_lost[fd]);
        assert_int_equal(r.pipe_err[fd], 0);
    }
    assert_int_equal(strncmp(r.log, "M ", 2), 0);
    prec_free(&r);
}

/* subprocess_shell: /bin/sh -c on the real backend, the world's "sh" in
 * the simulator. */
static void test_shell_output_and_exit_status(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    prec_shell(env, &r, "echo hi there; exit 3", NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(prec_str(&r, 1), "hi there\n");
    assert_int_equal(r.returncode, 3);
    prec_free(&r);
}

/* A command the shell cannot find: status 127, and the shell's message
 * names it as invoked (/bin/sh), in dash's words, on both backends. */
static void test_shell_command_not_found(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    prec_shell(env, &r, "twin-no-such-thing --flag", NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_int_equal(r.returncode, 127);
    assert_string_equal(prec_str(&r, 2), "/bin/sh: 1: twin-no-such-thing: not found\n");
    prec_free(&r);
}

static void run_status(tw_env *env, const char *prog, int want)
{
    prec r;
    prec_init(&r);
    prec_exec(env, &r, ARGV(prog), NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_int_equal(r.returncode, want);
    prec_free(&r);
}

static void test_exit_status_true_false(void **state)
{
    tw_env *env = TW_ENV(state);
    run_status(env, "true", 0);
    run_status(env, "false", 1);
}

/* ---- returncode and signals ---- */

static void kill_when_made(prec *r)
{
    int c = 12345;
    /* asyncio's None: still running */
    assert_int_equal(tw_transport_get_returncode(r->t, &c), -EAGAIN);
    assert_int_equal(c, 12345);
    assert_true(tw_transport_get_pid(r->t) > 0);
    assert_int_equal(tw_transport_send_signal(r->t, 0), 0); /* probe */
    assert_int_equal(tw_transport_send_signal(r->t, -1), -EINVAL);
    assert_int_equal(tw_transport_send_signal(r->t, 65), -EINVAL);
    int (*how)(tw_transport *) = r->user;
    assert_int_equal(how(r->t), 0);
}

static void signals_fail_after_exit(prec *r)
{
    assert_int_equal(tw_transport_kill(r->t), -ESRCH);
    assert_int_equal(tw_transport_send_signal(r->t, SIGTERM), -ESRCH);
    assert_true(tw_transport_get_pid(r->t) > 0);
}

static int send_sigint(tw_transport *t) { return tw_transport_send_signal(t, SIGINT); }

static void signal_death(tw_env *env, int (*how)(tw_transport *), int sig)
{
    prec r;
    prec_init(&r);
    r.user = (void *)how;
    r.on_made = kill_when_made;
    r.on_exited = signals_fail_after_exit;
    prec_exec(env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_int_equal(r.returncode, -sig);
    assert_true(r.pipe_lost[0] && r.pipe_lost[1] && r.pipe_lost[2]);
    prec_free(&r);
}

static void test_kill_terminate_send_signal(void **state)
{
    tw_env *env = TW_ENV(state);
    signal_death(env, tw_transport_kill, SIGKILL);
    signal_death(env, tw_transport_terminate, SIGTERM);
    signal_death(env, send_sigint, SIGINT);
}

/* ---- close ---- */

static void close_when_made(prec *r)
{
    assert_int_equal(tw_transport_close(r->t), 0);
    assert_true(tw_transport_is_closing(r->t));
    assert_int_equal(tw_transport_close(r->t), 0); /* idempotent */
    /* the protocol keeps its transport until connection_lost */
    int rc = tw_transport_kill(r->t);
    assert_true(rc == 0 || rc == -ESRCH);
}

static void test_close_kills_a_live_child(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = close_when_made;
    prec_exec(env, &r, ARGV("sleep", "100"), NULL);
    TW_WAIT(env, r.released);
    /* pipes and the exit still reported, connection_lost after them */
    assert_ended(&r);
    assert_true(r.pipe_lost[0] && r.pipe_lost[1] && r.pipe_lost[2]);
    assert_int_equal(r.returncode, -SIGKILL);
    prec_free(&r);
}

/* ---- the order of process_exited and the pipes ---- */

static void pause_stdout(prec *r)
{
    assert_int_equal(tw_transport_pause_reading(prec_pipe(r, 1)), 0);
}

static void resume_stdout(prec *r)
{
    tw_transport *out = prec_pipe(r, 1);
    assert_non_null(out);
    assert_int_equal(tw_transport_resume_reading(out), 0);
}

/* The text's warning: process_exited may come before the output. With
 * stdout paused until the exit, the data and the pipe's end come after. */
static void test_exited_before_the_output_arrives(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = pause_stdout;
    r.on_exited = resume_stdout;
    tw_subprocess_opts o = {.stdin_mode = TW_STDIO_DEVNULL,
                            .stderr_mode = TW_STDIO_DEVNULL};
    prec_exec(env, &r, ARGV("echo", "late"), &o);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(r.log, "M X 1 p1 L");
    assert_string_equal(prec_str(&r, 1), "late\n");
    prec_free(&r);
}

static void close_stdin(prec *r)
{
    assert_int_equal(tw_transport_close(prec_pipe(r, 0)), 0);
}

/* And the other order: the child only exits once its stdin is closed, and
 * that close is reported to us first. */
static void test_pipe_closes_before_the_exit(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = close_stdin;
    tw_subprocess_opts o = {.stdout_mode = TW_STDIO_DEVNULL,
                            .stderr_mode = TW_STDIO_DEVNULL};
    prec_exec(env, &r, ARGV("cat"), &o);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(r.log, "M p0 X L");
    assert_int_equal(r.returncode, 0);
    prec_free(&r);
}

/* ---- stdio modes ---- */

static void no_pipe_2(prec *r) { assert_null(prec_pipe(r, 2)); }

static void test_stderr_to_stdout(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = no_pipe_2;
    tw_subprocess_opts o = {.stderr_mode = TW_STDIO_STDOUT};
    prec_shell(env, &r, "echo out; echo err >&2", &o);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(prec_str(&r, 1), "out\nerr\n");
    assert_int_equal(r.total[2], 0);
    assert_false(r.pipe_lost[2]);
    assert_null(strstr(r.log, "p2"));
    prec_free(&r);
}

static void test_stdout_and_stderr_pipes(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    prec_shell(env, &r, "echo out; echo err >&2", NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(prec_str(&r, 1), "out\n");
    assert_string_equal(prec_str(&r, 2), "err\n");
    prec_free(&r);
}

static void no_pipes(prec *r)
{
    for (int fd = 0; fd < 3; fd++)
        assert_null(prec_pipe(r, fd));
}

static void test_devnull_and_inherit_make_no_pipes(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = no_pipes;
    tw_subprocess_opts o = {.stdin_mode = TW_STDIO_DEVNULL,
                            .stdout_mode = TW_STDIO_DEVNULL,
                            .stderr_mode = TW_STDIO_INHERIT};
    prec_shell(env, &r, "echo into the void", &o);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_string_equal(r.log, "M X L");
    assert_int_equal(r.returncode, 0);
    prec_free(&r);

    /* stdin from /dev/null: cat sees its end at once */
    prec_init(&r);
    tw_subprocess_opts o2 = {.stdin_mode = TW_STDIO_DEVNULL};
    prec_exec(env, &r, ARGV("cat"), &o2);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    assert_int_equal(r.total[1], 0);
    assert_int_equal(r.returncode, 0);
    assert_null(strstr(r.log, "p0"));
    prec_free(&r);
}

/* ---- cwd and env ---- */

static void test_cwd_and_env(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    tw_subprocess_opts o = {.cwd = "/usr"};
    prec_exec(env, &r, ARGV("pwd"), &o);
    TW_WAIT(env, r.released);
    assert_string_equal(prec_str(&r, 1), "/usr\n");
    prec_free(&r);

    prec_init(&r);
    const char *const vars[] = {"TWIN_TEST_VAR=hello world", "OTHER=1", NULL};
    tw_subprocess_opts o2 = {.env = vars};
    prec_exec(env, &r, ARGV("printenv", "TWIN_TEST_VAR"), &o2);
    TW_WAIT(env, r.released);
    assert_string_equal(prec_str(&r, 1), "hello world\n");
    assert_int_equal(r.returncode, 0);
    prec_free(&r);

    /* the env replaces the whole environment */
    prec_init(&r);
    const char *const other[] = {"OTHER=1", NULL};
    tw_subprocess_opts o3 = {.env = other};
    prec_exec(env, &r, ARGV("printenv", "TWIN_TEST_VAR"), &o3);
    TW_WAIT(env, r.released);
    assert_int_equal(r.total[1], 0);
    assert_int_equal(r.returncode, 1);
    prec_free(&r);
}

/* ---- flow control: 16 MiB through cat and back ---- */

#define BIG_BYTES ((size_t)16 << 20)
#define CHUNK_BYTES ((size_t)64 << 10)

typedef struct feeder {
    size_t total, sent;
    bool paused, eof;
    int write_err; /* a write refused (after a kill) */
    bool killed;
} feeder;

/* Write until pause_writing says stop; resume_writing calls again. */
static void pump(prec *r)
{
    static uint8_t buf[CHUNK_BYTES];
    feeder *f = r->user;
    tw_transport *in = prec_pipe(r, 0);
    while (in && !f->paused && f->sent < f->total && !f->write_err) {
        size_t n = f->total - f->sent < CHUNK_BYTES ? f->total - f->sent : CHUNK_BYTES;
        for (size_t i = 0; i < n; i++)
            buf[i] = tw_pattern(r->seed, f->sent + i);
        f->sent += n;
        f->write_err = tw_transport_write(in, buf, n); /* may pause inside */
    }
    if (in && f->sent == f->total && !f->eof && !f->write_err) {
        f->eof = true;
        assert_int_equal(tw_transport_write_eof(in), 0);
    }
}

static void feeder_pause(prec *r) { ((feeder *)r->user)->paused = true; }

static void feeder_resume(prec *r)
{
    ((feeder *)r->user)->paused = false;
    pump(r);
}

static void feed(prec *r, feeder *f, size_t total)
{
    memset(f, 0, sizeof *f);
    f->total = total;
    r->user = f;
    r->verify1 = true;
    r->seed = 0xCA7;
    r->on_made = pump;
    r->on_pause = feeder_pause;
    r->on_resume = feeder_resume;
}

static void test_cat_16mib_with_flow_control(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    feeder f;
    prec_init(&r);
    feed(&r, &f, BIG_BYTES);
    prec_exec(env, &r, ARGV("cat"), NULL);
    TW_RUN_UNTIL(env, r.released, TW_SEC(600));
    assert_ended(&r);
    assert_int_equal(f.write_err, 0);
    assert_int_equal(r.total[1], BIG_BYTES);
    assert_false(r.mismatch);
    /* the pipe pushed back: stdin's pause_writing reached our protocol */
    assert_true(r.pauses >= 1);
    assert_int_equal(r.pauses, r.resumes);
    assert_int_equal(r.returncode, 0);
    prec_free(&r);
}

/* ---- a child killed mid-way ---- */

static void kill_after_256k(prec *r, int fd, const uint8_t *d, size_t n)
{
    feeder *f = r->user;
    (void)d; (void)n;
    if (fd == 1 && r->total[1] >= ((size_t)256 << 10) && !f->killed) {
        f->killed = true;
        assert_int_equal(tw_transport_kill(r->t), 0);
    }
}

static void test_child_killed_midway(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    feeder f;
    prec_init(&r);
    feed(&r, &f, (size_t)4 << 20);
    r.on_data = kill_after_256k;
    prec_exec(env, &r, ARGV("cat"), NULL);
    TW_RUN_UNTIL(env, r.released, TW_SEC(600));
    assert_ended(&r);
    assert_int_equal(r.returncode, -SIGKILL);
    assert_true(r.total[1] >= ((size_t)256 << 10));
    assert_true(r.total[1] < f.total);
    assert_false(r.mismatch); /* what did come, came intact */
    for (int fd = 0; fd < 3; fd++)
        assert_true(r.pipe_lost[fd]);
    /* stdin: closed cleanly if nothing was waiting, else broken */
    assert_true(r.pipe_err[0] == 0 || r.pipe_err[0] == -EPIPE);
    prec_free(&r);
}

/* ---- a writer blocked on a full pipe ---- */

/* yes writes as fast as the reader drains: with the reader paused it
 * blocks in write(), and the reader's close wakes it with SIGPIPE. */
static void pause_after_100k(prec *r, int fd, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    if (fd == 1 && r->total[1] >= 100000 && !r->user) {
        r->user = r;
        assert_int_equal(tw_transport_pause_reading(prec_pipe(r, 1)), 0);
    }
}

static void test_blocked_writer_and_sigpipe(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_data = pause_after_100k;
    tw_subprocess_opts o = {.stdin_mode = TW_STDIO_DEVNULL};
    prec_exec(env, &r, ARGV("yes"), &o);
    TW_WAIT(env, r.user != NULL);
    size_t seen = r.total[1];
    tw_run_slice(env);
    tw_run_slice(env);
    assert_int_equal(r.total[1], seen); /* paused: nothing more arrives */
    assert_int_equal(r.exited, 0);      /* and yes waits, blocked */
    tw_transport_close(prec_pipe(&r, 1)); /* the reader goes away */
    TW_WAIT(env, r.released);
    assert_int_equal(r.returncode, -SIGPIPE);
    assert_int_equal(strncmp(prec_str(&r, 1), "y\ny\ny\n", 6), 0);
    prec_free(&r);
}

/* ---- kinds and -ENOTSUP ---- */

static void kinds_when_made(prec *r)
{
    tw_transport *t = r->t, *in = prec_pipe(r, 0), *out = prec_pipe(r, 1);
    tw_transport *err = prec_pipe(r, 2), *x = t;
    assert_int_equal(tw_transport_kind_of(t), TW_TRANSPORT_SUBPROCESS);
    assert_int_equal(tw_transport_kind_of(in), TW_TRANSPORT_WRITE);
    assert_int_equal(tw_transport_kind_of(out), TW_TRANSPORT_READ);
    assert_int_equal(tw_transport_kind_of(err), TW_TRANSPORT_READ);
    assert_int_equal(tw_transport_get_pipe_transport(t, 3, &x), 0);
    assert_null(x);
    x = t;
    assert_int_equal(tw_transport_get_pipe_transport(t, -1, &x), 0);
    assert_null(x);
    assert_int_equal(tw_transport_get_pipe_transport(t, 0, NULL), -EINVAL);
    tw_extra e;
    assert_int_equal(tw_transport_get_extra_info(t, "subprocess", &e), 0);
    assert_int_equal(e.type, TW_EXTRA_INT);
    assert_int_equal(e.v.i, tw_transport_get_pid(t));
    assert_int_equal(tw_transport_get_extra_info(in, "pipe", &e), 0);
    assert_int_equal(e.type, TW_EXTRA_FD);
    assert_true(e.v.fd >= 0);
    /* a SubprocessTransport is a BaseTransport: nothing else applies */
    assert_int_equal(tw_transport_write(t, "x", 1), -ENOTSUP);
    assert_int_equal(tw_transport_write_eof(t), -ENOTSUP);
    assert_false(tw_transport_can_write_eof(t));
    assert_int_equal(tw_transport_pause_reading(t), -ENOTSUP);
    assert_int_equal(tw_transport_resume_reading(t), -ENOTSUP);
    assert_false(tw_transport_is_reading(t));
    assert_int_equal(tw_transport_abort(t), -ENOTSUP);
    assert_int_equal(tw_transport_set_write_buffer_limits(t, 10, 1), -ENOTSUP);
    assert_int_equal(tw_transport_sendto(t, "x", 1, NULL), -ENOTSUP);
    assert_int_equal(tw_transport_get_write_buffer_size(t), 0);
    assert_ptr_equal(tw_transport_get_protocol(t), &r->base);
    assert_int_equal(tw_transport_write_eof(in), 0); /* cat exits */
}

static void pipe_gone_after_its_loss(prec *r, int fd)
{
    assert_null(prec_pipe(r, fd));
}

static void test_subprocess_transport_kinds(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    r.on_made = kinds_when_made;
    r.on_pipe_lost = pipe_gone_after_its_loss;
    prec_exec(env, &r, ARGV("cat"), NULL);
    TW_WAIT(env, r.released);
    assert_ended(&r);
    prec_free(&r);
}

/* ---- refused spawns ---- */

static tw_protocol *null_factory(void *arg)
{
    (void)arg;
    return NULL;
}

static void test_spawn_refusals(void **state)
{
    tw_env *env = TW_ENV(state);
    tw_loop *l = env->loop;
    prec r;
    prec_init(&r);
    assert_int_equal(tw_subprocess_exec(l, prec_factory, &r,
                                        ARGV("twin-no-such-program"), NULL, prec_cb),
                     -ENOENT);
    assert_int_equal(tw_subprocess_exec(l, prec_factory, &r, NULL, NULL, prec_cb),
                     -EINVAL);
    const char *const empty[] = {NULL}, *const blank[] = {"", NULL};
    assert_int_equal(tw_subprocess_exec(l, prec_factory, &r, empty, NULL, prec_cb),
                     -EINVAL);
    assert_int_equal(tw_subprocess_exec(l, prec_factory, &r, blank, NULL, prec_cb),
                     -EINVAL);
    assert_int_equal(tw_subprocess_exec(l, NULL, &r, ARGV("cat"), NULL, prec_cb),
                     -EINVAL);
    assert_int_equal(tw_subprocess_exec(NULL, prec_factory, &r, ARGV("cat"), NULL,
                                        prec_cb), -EINVAL);
    tw_subprocess_opts bad[] = {
        {.stdin_mode = TW_STDIO_STDOUT},
        {.stdout_mode = TW_STDIO_STDOUT},
        {.stderr_mode = (tw_stdio)99},
        {.cwd = ""},
        {.env = (const char *const[]){"NO_EQUALS_SIGN", NULL}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tw_subprocess_exec(l, prec_factory, &r, ARGV("cat"),
                                            &bad[i], prec_cb), -EINVAL);
    assert_int_equal(tw_subprocess_shell(l, prec_factory, &r, NULL, NULL, prec_cb),
                     -EINVAL);
    tw_run_slice(env);
    assert_false(r.cb_called); /* an error returned: the callback never runs */
    assert_int_equal(r.made, 0);
    assert_int_equal(tw_loop_alive(l), 0);
    prec_free(&r);
}

/* The factory refuses: the child is killed, the completion says -ENOMEM. */
static void test_factory_refusal_kills_the_child(void **state)
{
    tw_env *env = TW_ENV(state);
    prec r;
    prec_init(&r);
    assert_int_equal(tw_subprocess_exec(env->loop, null_factory, &r,
                                        ARGV("sleep", "100"), NULL, prec_cb), 0);
    TW_WAIT(env, r.cb_called);
    assert_int_equal(r.cb_err, -ENOMEM);
    assert_null(r.cb_t);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    assert_int_equal(r.made, 0);
    prec_free(&r);
}

/* ---- the date app (the reference text's example) ---- */

static void run_date_app(tw_env *env, char **argv, int argc, char **text,
                         int *result)
{
    const tw_app *app = tw_app_find("date");
    assert_non_null(app);
    size_t len = 0;
    FILE *out = open_memstream(text, &len);
    assert_non_null(out);
    void *st = NULL;
    assert_int_equal(app->start(env->loop, argc, argv, out, &st), 0);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
    *result = app->result(st);
    app->free(st);
    fclose(out);
}

static void test_date_app(void **state)
{
    tw_env *env = TW_ENV(state);
    char *text = NULL;
    int result = -1;
    char *argv[] = {"date", NULL};
    run_date_app(env, argv, 1, &text, &result);
    assert_int_equal(result, 0);
    assert_int_equal(strncmp(text, "Current date: ", 14), 0);
    assert_true(strlen(text) > 14 + 10);
    assert_non_null(strchr(text + 14, ':')); /* hh:mm:ss */
    assert_int_equal(text[strlen(text) - 1], '\n');
    free(text);

    /* a program that prints nothing and fails: the app says so */
    char *argv2[] = {"date", "--program", "false", NULL};
    run_date_app(env, argv2, 3, &text, &result);
    assert_int_equal(result, 1);
    assert_string_equal(text, "Current date: \n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_pipe_write_then_read),
        TW_MATRIX(test_read_pipe_closes_after_eof_even_if_kept),
        TW_MATRIX(test_write_pipe_reader_gone_while_idle),
        TW_MATRIX(test_write_pipe_reader_gone_with_data_waiting),
        TW_MATRIX(test_pipe_kinds_refuse_the_other_direction),
        TW_MATRIX(test_pipe_refuses_bad_arguments),
        TW_MATRIX(test_pipe_refuses_the_wrong_end),
        TW_MATRIX(test_exec_cat_echoes_stdin),
        TW_MATRIX(test_shell_output_and_exit_status),
        TW_MATRIX(test_shell_command_not_found),
        TW_MATRIX(test_exit_status_true_false),
        TW_MATRIX(test_kill_terminate_send_signal),
        TW_MATRIX(test_close_kills_a_live_child),
        TW_MATRIX(test_exited_before_the_output_arrives),
        TW_MATRIX(test_pipe_closes_before_the_exit),
        TW_MATRIX(test_stderr_to_stdout),
        TW_MATRIX(test_stdout_and_stderr_pipes),
        TW_MATRIX(test_devnull_and_inherit_make_no_pipes),
        TW_MATRIX(test_cwd_and_env),
        TW_MATRIX(test_cat_16mib_with_flow_control),
        TW_MATRIX(test_child_killed_midway),
        TW_MATRIX(test_blocked_writer_and_sigpipe),
        TW_MATRIX(test_subprocess_transport_kinds),
        TW_MATRIX(test_spawn_refusals),
        TW_MATRIX(test_factory_refusal_kills_the_child),
        TW_MATRIX(test_date_app),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
