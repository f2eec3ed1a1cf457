/* tests/cli_util.h - running programs from tests: the `twin` binary of the
 * build under test and the real tools it is checked against (nc, socat,
 * openssl s_client, redis-cli), with their output read back.
 *
 * Every process a test starts runs in a process group of its own, and
 * every wait for one is bounded by tw_cli_timeout seconds: a hang
 * detector, not a speed test. When a wait runs out, the whole group (a
 * shell and whatever it started) is killed with SIGKILL and reaped, and
 * the test fails with a message naming the command.
 *
 * Every process started with tw_proc_spawn is remembered until
 * tw_proc_finish reaps it; tw_cli_teardown kills and reaps whatever a
 * failed assertion left running, so no test leaves a server behind that
 * holds a port or our output pipe. */
#ifndef TWIN_TEST_CLI_UTIL_H
#define TWIN_TEST_CLI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct tw_proc {
    pid_t pid;      /* also the id of its process group */
    int fd;         /* the read end of its stdout */
    bool eof;
    size_t len;     /* bytes read into buf and not yet returned */
    char buf[4096];
    char name[64];  /* argv[0], for messages */
} tw_proc;

/* BUILD/twin, BUILD from $TWIN_BUILD (default "build"). */
extern char tw_cli_twin[256];

/* Seconds any one wait for a process may take before the test fails:
 * $TWIN_CLI_TIMEOUT, default 120. */
extern int tw_cli_timeout;

/* Set tw_cli_twin and tw_cli_timeout; ignore SIGPIPE (a tool may exit
 * before we write). Children get SIGPIPE back at its default. */
void tw_cli_init(void);

/* True if the tool is an executable on PATH. */
bool tw_cli_have(const char *tool);

/* fork() with the child leading a new process group, stdin on /dev/null,
 * SIGPIPE at its default, and killed should the test process die;
 * returns the child's pid (0 in the child). Wait for it with
 * tw_cli_wait. */
pid_t tw_cli_fork(void);

/* Wait for a child of tw_cli_fork to exit and reap it; returns its wait
 * status. After tw_cli_timeout seconds its group is killed and the test
 * fails, naming `what`. */
int tw_cli_wait(pid_t pid, const char *what);

/* Start argv (PATH searched) with its stdout on a pipe read by
 * tw_proc_line / tw_proc_saw. */
void tw_proc_spawn(tw_proc *p, char *const argv[]);

/* Send sig (0: none) to p's group, wait for p to exit, kill what is left
 * of its group, reap. Returns the exit status, or 128 + the signal that
 * ended it. */
int tw_proc_finish(tw_proc *p, int sig);

/* The next line of p's output, without its newline, into line; false at
 * the end of the output. Fails the test if none comes in time. */
bool tw_proc_line(tw_proc *p, char *line, size_t len);

/* Read p's output lines until one contains what; false at its end. Fails
 * the test if neither comes in time. */
bool tw_proc_saw(tw_proc *p, const char *what);

/* Run a shell command (stdin /dev/null, stderr inherited); its stdout,
 * NUL-terminated and cut to len - 1 bytes, into out. Returns the exit
 * status, -1 if it did not exit normally. */
int tw_cli_run(const char *cmd, char *out, size_t len);

/* Wait until a socket of this machine listens on the TCP port
 * (SOCK_STREAM) or is bound to the UDP port (SOCK_DGRAM), as
 * /proc/net/{tcp,udp}[6] show: without connecting, so a server that
 * takes one connection keeps it for the test. Fails the test after
 * tw_cli_timeout seconds, naming `who`. */
void tw_cli_wait_bound(int type, uint16_t port, const char *who);

/* A loopback port free right now (SOCK_STREAM or SOCK_DGRAM). */
uint16_t tw_cli_free_port(int type);

/* cmocka teardown: SIGKILL and reap every process still spawned. */
int tw_cli_teardown(void **state);

#endif
