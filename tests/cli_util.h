/* tests/cli_util.h - running programs from tests: the `twin` binary of the
 * build under test and the real tools it is checked against (nc, socat,
 * openssl s_client, redis-cli), with their output read back.
 *
 * Every process started with tw_proc_spawn is remembered until
 * tw_proc_finish reaps it; tw_cli_teardown kills and reaps whatever a
 * failed assertion left running, so no test leaves a server behind that
 * holds a port or our output pipe. */
#ifndef TWIN_TEST_CLI_UTIL_H
#define TWIN_TEST_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct tw_proc {
    pid_t pid;
    FILE *out; /* the process's stdout */
} tw_proc;

/* BUILD/twin, BUILD from $TWIN_BUILD (default "build"). */
extern char tw_cli_twin[256];

/* Set tw_cli_twin; ignore SIGPIPE (a tool may exit before we write). */
void tw_cli_init(void);

/* True if the tool is on PATH. */
bool tw_cli_have(const char *tool);

/* Start argv (PATH searched) with its stdout on a pipe in p->out. */
void tw_proc_spawn(tw_proc *p, char *const argv[]);

/* Send sig (0: none), reap, close p->out. Returns the exit status, or
 * 128 + the signal that ended it. */
int tw_proc_finish(tw_proc *p, int sig);

/* Read p's output lines until one contains what; false at its end. */
bool tw_proc_saw(tw_proc *p, const char *what);

/* Run a shell command; its stdout (NUL-terminated) into out. Returns the
 * exit status, -1 if it did not exit normally. */
int tw_cli_run(const char *cmd, char *out, size_t len);

/* A loopback port free right now (SOCK_STREAM or SOCK_DGRAM). */
uint16_t tw_cli_free_port(int type);

/* cmocka teardown: SIGKILL and reap every process still spawned. */
int tw_cli_teardown(void **state);

#endif
