/* tests/prec.h - a recording SubprocessProtocol for tests: logs every
 * callback in order ("M 1 p1 X L"), keeps what each pipe delivered (or
 * checks it against tw_pattern), and can be told to act from its
 * callbacks through hooks. Tests assert on what it saw, as a user's
 * protocol would.
 *
 * Log tokens: M connection_made; 1 / 2 pipe_data_received on that fd
 * (consecutive chunks of one fd make one token); p0 p1 p2
 * pipe_connection_lost; X process_exited; L connection_lost; w / r
 * pause_writing / resume_writing.
 */
#ifndef TWIN_TEST_PREC_H
#define TWIN_TEST_PREC_H

#include "tests/harness.h"

typedef struct prec prec;
struct prec {
    tw_protocol base;
    tw_transport *t;
    /* behaviour */
    void (*on_made)(prec *r);
    void (*on_data)(prec *r, int fd, const uint8_t *d, size_t n);
    void (*on_pipe_lost)(prec *r, int fd);
    void (*on_exited)(prec *r);
    void (*on_pause)(prec *r);
    void (*on_resume)(prec *r);
    bool verify1;        /* fd 1: check bytes against tw_pattern(seed) */
    uint64_t seed;
    void *user;
    /* what it saw */
    char log[512];
    size_t loglen;
    char last_tok[4];
    uint8_t *out[3];     /* bytes of fd 1 and 2 (unless verify1) */
    size_t outlen[3], outcap[3];
    size_t total[3];     /* bytes per fd in all */
    bool mismatch;
    bool pipe_lost[3];
    int pipe_err[3];
    int pid;             /* get_pid in connection_made */
    int made, exited, lost, pauses, resumes;
    int lost_err;
    int rc_at_exit;      /* get_returncode inside process_exited */
    int returncode;
    bool released;
    /* spawn completion */
    bool cb_called;
    int cb_err;
    tw_transport *cb_t;
};

void prec_init(prec *r);
void prec_free(prec *r);
/* Factory (arg is the prec) and completion (arg is the prec too). */
tw_protocol *prec_factory(void *r);
void prec_cb(void *r, tw_transport *t, int err);
/* NUL-terminated copy of what fd delivered (for string compares); the
 * buffer is the prec's. */
const char *prec_str(prec *r, int fd);

/* Spawn argv with opts on env's loop (asserting the call succeeded). */
void prec_exec(tw_env *env, prec *r, const char *const argv[],
               const tw_subprocess_opts *opts);
void prec_shell(tw_env *env, prec *r, const char *cmd,
                const tw_subprocess_opts *opts);

/* The pipe transport of fd (NULL if none). */
tw_transport *prec_pipe(prec *r, int fd);

#endif
