/* twin/main.h - the whole `twin` command, in any program.
 *
 * A user's protocol gets every tool twin's own apps get by registering its
 * apps and handing over to tw_main:
 *
 *     #include <twin/app.h>
 *     #include <twin/main.h>
 *
 *     extern const tw_app my_app;
 *
 *     int main(int argc, char **argv)
 *     {
 *         if (tw_app_register(&my_app) < 0)
 *             return 2;
 *         return tw_main(argc, argv);
 *     }
 *
 * That program is `twin` over the built-in apps plus its own: `run`,
 * `sim` (seeds, sweeps with --json and --shard, --trace-filter,
 * --dump-schedule, --check-determinism), `shrink`, `apps`, `demo`,
 * `version`, `help`. Every line it prints that names a command (usage,
 * replay commands, shrink comments) names this program, as argv[0] gave it.
 *
 * Loading apps without a rebuild: `twin --load PATH CMD ...` or `twin CMD
 * --load PATH ...` (for run, before the app's name; for sim, shrink and
 * apps anywhere among the options; repeatable) dlopens the shared object
 * PATH (a name without a slash is the file of that name in the current
 * directory when there is one, else dlopen's search of the library
 * path) and calls its function
 *
 *     int tw_apps_load(void);
 *
 * which registers its apps (tw_app_register) and returns 0, or a negative
 * errno to refuse. Build it against the installed library:
 *
 *     cc -shared -fPIC my_app.c -o my_app.so $(pkg-config --cflags --libs twin)
 *
 * A missing file, a missing function or a refusal is one line on stderr
 * and exit status 2. The object stays loaded until the process ends. The
 * replay commands `sim` and `shrink` print carry the same --load options
 * (`twin sim --load ./my_app.so FILE --seed N`), so they find the apps
 * again; at most 16 objects.
 */
#ifndef TWIN_MAIN_H
#define TWIN_MAIN_H

#ifdef __cplusplus
extern "C" {
#endif

/* The name of the function --load calls. */
#define TW_LOAD_SYMBOL "tw_apps_load"

/* Run the twin command with this argv (argv[0]: the program, as invoked)
 * and return its exit status: 0 success; 1 a run or a seed failed (see
 * `twin sim --help` for the verdicts' statuses); 2 bad usage or a --load
 * that failed. Call it once, from main, after registering apps: it
 * installs signal handling for `run` (SIGINT and SIGTERM stop the loop)
 * and a crash report for `sim`. argv may be rearranged. */
int tw_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
