/* tests/harness.h - the backend matrix.
 *
 * A test body written once as `static void test_x(void **state)` gets a
 * tw_env through *state and uses env->loop and env->host; TW_MATRIX(test_x)
 * registers it twice, once on the real backend (epoll, 127.0.0.1) and once
 * on a simulated world (one node at 127.0.0.1, seed from TWIN_TEST_SEED or
 * a fixed default). Teardown asserts what libuv's tests assert: nothing is
 * left open on the loop, and the contract checker saw no violation.
 */
#ifndef TWIN_TEST_HARNESS_H
#define TWIN_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "twin/twin.h"

typedef struct tw_sim tw_sim;

typedef struct tw_env {
    const char *backend; /* "real" or "sim" */
    tw_loop *loop;
    tw_sim *sim;
    const char *host;    /* where servers listen and clients connect */
    char unix_path[100]; /* a fresh Unix socket path for this test */
    int violations;
    char violation[256];
} tw_env;

extern const char tw_backend_real[];
extern const char tw_backend_sim[];

/* Every test starts from a clean world: the syscall table at its defaults
 * (no fault armed, no short writes, counts at zero) and no app registered
 * beyond the built-in ones. The matrix fixtures do this before and after
 * each test; TW_TEST gives any other test the same. */
void tw_test_isolate(void);
int tw_test_setup(void **state);
int tw_test_teardown(void **state);
#define TW_TEST(fn) cmocka_unit_test_setup_teardown(fn, tw_test_setup, tw_test_teardown)

int tw_env_setup(void **state);
int tw_env_teardown(void **state);

#define TW_ENV(state) ((tw_env *)*(state))

#define TW_MATRIX(fn)                                                        \
    {#fn "[real]", fn, tw_env_setup, tw_env_teardown, (void *)tw_backend_real}, \
    {#fn "[sim]", fn, tw_env_setup, tw_env_teardown, (void *)tw_backend_sim}

/* Run the loop a short slice (10 ms of loop time; a timer keeps an
 * otherwise idle simulated world moving). */
void tw_run_slice(tw_env *env);
/* Run env's loop for about `ns` of its time, in slices. */
void tw_run_for(tw_env *env, tw_ns ns);
/* An option of the socket under t (its `socket` extra info): the int
 * getsockopt gives, -1 when t has no socket or the call fails. */
int tw_sockopt(tw_transport *t, int level, int name);

/* Run until `cond` holds, or fail the test after `limit` ns of loop time.
 * The limit is a hang detector, not a speed test: keep it generous. */
#define TW_RUN_UNTIL(env, cond, limit)                                      \
    do {                                                                    \
        tw_ns end_ = tw_loop_now((env)->loop) + (limit);                    \
        while (!(cond)) {                                                   \
            if (tw_loop_now((env)->loop) >= end_)                           \
                fail_msg("%s backend: '%s' not reached in %.1f s (line %d)", \
                         (env)->backend, #cond, (double)(limit) / 1e9,      \
                         __LINE__);                                         \
            tw_run_slice(env);                                              \
        }                                                                   \
    } while (0)

#define TW_WAIT(env, cond) TW_RUN_UNTIL(env, cond, TW_SEC(60))

/* A pipe on env's loop for tw_connect_read_pipe / _write_pipe: a kernel
 * pipe (O_CLOEXEC) on the real backend, a simulated one (twin/simproc.h)
 * in the simulator. fds[0] reads, fds[1] writes. 0 or a negative errno. */
int tw_env_pipe(tw_env *env, int fds[2]);
/* Close a pipe end that no transport owns. */
void tw_env_close_fd(tw_env *env, int fd);

/* A deterministic byte pattern: byte i of stream `seed`. */
static inline uint8_t tw_pattern(uint64_t seed, uint64_t i)
{
    uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ull ^ seed;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return (uint8_t)(x >> (8 * (i & 7)));
}

#endif
