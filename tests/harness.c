/* tests/harness.c - fixtures of the backend matrix. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "real/sys.h"
#include "tests/harness.h"
#include "twin/app.h"
#include "twin/real.h"
#include "twin/programs.h"
#include "twin/sim.h"
#include "twin/simproc.h"

const char tw_backend_real[] = "real";
const char tw_backend_sim[] = "sim";

static void record_violation(void *arg, const char *msg)
{
    tw_env *env = arg;
    if (env->violations++ == 0)
        snprintf(env->violation, sizeof env->violation, "%s", msg);
    fprintf(stderr, "%s\n", msg);
}

static uint64_t test_seed(void)
{
    const char *s = getenv("TWIN_TEST_SEED");
    return s ? strtoull(s, NULL, 0) : 0x7717;
}

void tw_test_isolate(void)
{
    /* A shell that starts a command in the background ignores SIGINT and
     * SIGQUIT for it, and an ignored signal stays ignored in a spawned
     * child: tests that interrupt a child need the default action. */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    tw_sys_reset();
    /* Registered apps go; the built-in ones cannot. */
    const tw_app *const *a = tw_apps();
    while (*a && tw_app_unregister((*a)->name) == 0)
        a = tw_apps();
}

int tw_test_setup(void **state)
{
    (void)state;
    tw_test_isolate();
    return 0;
}

int tw_test_teardown(void **state)
{
    (void)state;
    tw_test_isolate();
    return 0;
}

int tw_env_setup(void **state)
{
    static unsigned counter;
    tw_test_isolate();
    tw_env *env = calloc(1, sizeof *env);
    if (!env)
        return -1;
    env->backend = *state;
    env->host = "127.0.0.1";
    snprintf(env->unix_path, sizeof env->unix_path, "/tmp/twin-test-%d-%u.sock",
             (int)getpid(), counter++);
    if (env->backend == tw_backend_real) {
        env->loop = tw_loop_new(NULL);
    } else {
        env->sim = tw_sim_new(test_seed(), NULL);
        env->loop = env->sim ? tw_sim_add_node(env->sim, "n1", env->host) : NULL;
        /* cat, sh, date, ...: the names tests spawn on the real backend */
        if (env->loop && tw_programs_register(env->sim) < 0)
            env->loop = NULL;
    }
    if (!env->loop) {
        free(env);
        return -1;
    }
    tw_loop_set_contract_check(env->loop, true);
    tw_loop_set_contract_handler(env->loop, record_violation, env);
    *state = env;
    return 0;
}

int tw_env_teardown(void **state)
{
    tw_env *env = *state;
    /* Let closes in flight finish, then nothing may be left open. */
    tw_loop_run_for(env->loop, TW_SEC(1));
    unsigned alive = tw_loop_alive(env->loop);
    int violations = env->violations;
    if (violations)
        fprintf(stderr, "contract violation: %s\n", env->violation);
    if (env->sim)
        tw_sim_free(env->sim);
    else
        tw_loop_free(env->loop);
    unlink(env->unix_path);
    free(env);
    tw_test_isolate(); /* no fault armed here reaches the next test */
    if (alive)
        fprintf(stderr, "teardown: %u handles still alive on the loop\n", alive);
    return alive || violations ? -1 : 0;
}

int tw_env_pipe(tw_env *env, int fds[2])
{
    if (env->sim)
        return tw_sim_pipe(env->loop, fds);
    if (pipe(fds) < 0)
        return -errno;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC); /* no leak into spawned children */
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

void tw_env_close_fd(tw_env *env, int fd)
{
    if (env->sim)
        tw_sim_pipe_close(env->loop, fd);
    else
        close(fd);
}

static void noop(void *p) { (void)p; }

void tw_run_slice(tw_env *env)
{
    tw_handle h = tw_call_later(env->loop, TW_MS(10), noop, NULL);
    tw_loop_run_for(env->loop, TW_MS(10));
    tw_handle_cancel(env->loop, h);
}

void tw_run_for(tw_env *env, tw_ns ns)
{
    tw_ns end = tw_loop_now(env->loop) + ns;
    while (tw_loop_now(env->loop) < end)
        tw_run_slice(env);
}

int tw_sockopt(tw_transport *t, int level, int name)
{
    tw_extra e;
    int v = -1;
    socklen_t len = sizeof v;
    if (tw_transport_get_extra_info(t, "socket", &e) != 0 ||
        getsockopt(e.v.fd, level, name, &v, &len) != 0)
        return -1;
    return v;
}
