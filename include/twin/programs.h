/* twin/programs.h - simulated stand-ins for a few Unix programs, so that
 * protocol code that spawns `cat` or `date` (twin/process.h) runs
 * unchanged in a simulated world (twin/simproc.h).
 *
 * Each behaves like its namesake for what tests and apps use, reading and
 * writing through simulated pipes in virtual time:
 *   cat            copies stdin to stdout (no file arguments)
 *   date [+FMT]    the node's virtual time as a UTC date, the clock's zero
 *                  being 2000-01-01 00:00:00 (FMT: %a %b %d %e %H %M %S
 *                  %Y %m %s %Z %%)
 *   echo [-n] ...  its arguments
 *   true, false    exit 0, exit 1
 *   sleep SECONDS  exits after that much virtual time (decimals allowed)
 *   printenv [N]   the value of N (exit 1 when unset), or every variable
 *   pwd            its working directory
 *   yes [WORD]     WORD (y) forever, as fast as the reader drains
 *   sh -c CMD      a small shell: commands separated by ';' or newlines,
 *                  words split on blanks with '...' and "..." quoting (no
 *                  other expansion); builtins echo, exit [N], true,
 *                  false, ':', read (one line of stdin), and exec with
 *                  redirections only; redirections >&2 1>&2 (a builtin's
 *                  output to stderr), >&- 2>&- <&- (with exec: close that
 *                  fd). Any other command must be the last one: sh execs
 *                  it (as dash does for `sh -c cmd`), keeping its pid and
 *                  stdio; a program of no registered name exits 127 with
 *                  "ARGV0: 1: NAME: not found" (ARGV0 its own argv[0],
 *                  /bin/sh for tw_subprocess_shell, as dash says).
 */
#ifndef TWIN_PROGRAMS_H
#define TWIN_PROGRAMS_H

#include "twin/sim.h"
#include "twin/simproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Register all of the above with the world (replacing programs of the
 * same names), then the programs added with tw_programs_add. 0, or an
 * error of tw_sim_register_program (-ENOMEM). `twin sim` and every
 * scenario run call it for their worlds. */
int tw_programs_register(tw_sim *sim);

/* Add a program of your own (twin/simproc.h) to those tw_programs_register
 * puts in every world: how a plugin's or a program's own stand-in for a
 * tool its protocol spawns reaches the worlds `twin sim` makes. *prog is
 * not copied and must outlive its use; name is copied (1..63 bytes, no
 * '/'). A name added again, or a standard program's name, is replaced:
 * the added one is registered last. Call it at start-up (a plugin's
 * tw_apps_load, a main before tw_main), before any thread uses the
 * table. 0, -EINVAL (a bad name, or prog without start), -ENOSPC
 * (TW_PROGRAMS_ADDED_MAX reached). */
int tw_programs_add(const char *name, const tw_sim_program *prog);
#define TW_PROGRAMS_ADDED_MAX 64
/* Take an added program out of the table (a test's, at its teardown).
 * 0, -ENOENT (none added of that name), -EINVAL (NULL). */
int tw_programs_remove(const char *name);

#ifdef __cplusplus
}
#endif
#endif
