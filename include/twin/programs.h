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

#ifdef __cplusplus
extern "C" {
#endif

/* Register all of the above with the world (replacing programs of the
 * same names). 0 or -ENOMEM. */
int tw_programs_register(tw_sim *sim);

#ifdef __cplusplus
}
#endif
#endif
