/* cli/command.c - the `twin` command, as tw_main() (twin/main.h): any
 * program that registers its own apps and calls it is the whole command
 * over them, and names itself (argv[0]) in everything it prints.
 *
 *   twin run [--busy-poll DURATION] [--strict] APP [OPTIONS]
 *                            run a named app on the real (epoll) backend
 *   twin apps                list the apps and their options
 *   twin demo [--seed N | --seeds A..B] [--seconds S] [--trace]
 *                            scenarios/demo.yaml with --swarm (cli/demo.c)
 *   twin sim FILE ...        a scenario file (cli/sim.c)
 *   twin shrink FILE ...     shrink a failing seed's scenario (cli/sim.c)
 *   twin version
 *   --load PATH              (before or after the command word) load a
 *                            shared object that registers apps first
 *
 * SIGINT and SIGTERM stop the loop cleanly: a helper thread waits for them
 * with sigwait and hands the stop to the loop with call_soon_threadsafe,
 * so no loop code runs in a signal handler.
 *
 * `run` ignores SIGPIPE. The library's own writes never raise it (sockets
 * use MSG_NOSIGNAL, pipes hold it back), but an app's output is stdio on
 * stdout: `twin run echo-server | head -1` would otherwise kill the server
 * at the first line written after head exits. A server's output is a log,
 * not its work: once nobody reads it, what it writes is dropped and it
 * goes on serving until SIGINT or SIGTERM. (Subprocesses get SIGPIPE back
 * at its default: real/process.c.)
 *
 * An app writes everything to the one FILE it is given; `twin run` holds
 * back what it writes while it starts, and sends it to stderr when the
 * start fails (a bad option: the message beside the usage) or to stdout
 * when it succeeds ("Serving on ..."), then passes the rest to stdout.
 */
#define _GNU_SOURCE /* fopencookie */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "twin/main.h"
#include "twin/parse.h"
#include "twin/real.h"
#include "twin/record.h"
#include "twin/twin.h"

/* How the program was invoked (argv[0]), and its last path component:
 * set once by tw_main, read by every message of cli/. */
static const char *prog_path = "twin";
static const char *prog_name = "twin";

const char *cli_name(void) { return prog_name; }

/* What --load loaded, for replay commands (argv's strings outlive them). */
#define LOADS_MAX 16
static const char *loads[LOADS_MAX];
static size_t nloads;

const char *const *cli_loaded(size_t *n)
{
    *n = nloads;
    return loads;
}

static void usage(FILE *f)
{
    const char *n = prog_name;
    fprintf(f,
            "usage: %s run APP [OPTIONS]   run an app on the real backend\n"
            "       %s run --busy-poll DURATION APP [OPTIONS]\n"
            "                                the same, polling up to DURATION (\"20us\")\n"
            "                                before the loop sleeps\n"
            "       %s run --strict APP [OPTIONS]\n"
            "                                the same, the contract checker in strict mode:\n"
            "                                a protocol's call on a transport after its\n"
            "                                connection_lost is reported, not undefined\n"
            "       %s run --record FILE [--record-max SIZE] [--record-ring SIZE]\n"
            "              [--record-redact] APP [OPTIONS]\n"
            "                                the same, recording what the app's protocols\n"
            "                                are given (docs/recording.md)\n"
            "       %s replay FILE APP [OPTIONS]  the recording on a simulated node\n"
            "       %s recording FILE [--dump | --to-fuzz-seed OUT | --to-test] ...\n"
            "       %s apps                list apps and their options\n"
            "       %s demo [--seed N | --seeds A..B] [--seconds S] [--trace]\n"
            "                                the demo world: scenarios/demo.yaml, --swarm\n"
            "       %s sim FILE [--seed N | --seeds A..B] [--swarm] [--trace] ...\n"
            "                                run a scenario file (see '%s sim --help')\n"
            "       %s shrink FILE --seed N  shrink a failing seed's scenario\n"
            "       %s report FILE...        merge sweeps' --json lines into one summary\n"
            "       %s version\n"
            "  --load PATH (before or after run, sim, shrink, apps): load a shared\n"
            "  object whose %s() registers apps, then run the command\n",
            n, n, n, n, n, n, n, n, n, n, n, n, n, TW_LOAD_SYMBOL);
}

static void list_apps(FILE *f)
{
    for (const tw_app *const *a = tw_apps(); *a; a++) {
        fprintf(f, "%s\n    %s\n%s", (*a)->name, (*a)->summary ? (*a)->summary : "",
                (*a)->usage ? (*a)->usage : "");
        if ((*a)->done || (*a)->invariant) /* what scenarios can wait for */
            fprintf(f, "  in scenarios: %s%s%s\n",
                    (*a)->done ? "reports when it is done" : "",
                    (*a)->done && (*a)->invariant ? "; " : "",
                    (*a)->invariant ? "checks an invariant" : "");
        fputc('\n', f);
    }
}

static void stop_cb(void *loop) { tw_loop_stop(loop); }

static void *signal_thread(void *loop)
{
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* One signal, and the thread is done: cmd_run sends it one itself
     * when the loop has no more use for it (and waits for it). */
    if (sigwait(&set, &sig) == 0)
        tw_call_soon_threadsafe(loop, stop_cb, loop);
    return NULL;
}

/* The app's output FILE: held back in memory until its start is judged,
 * then passed to stdout. stdout's own errors stay on stdout, where
 * tw_main looks for them. */
typedef struct app_out {
    FILE *held; /* open_memstream while starting, then NULL */
    char *text;
    size_t len;
} app_out;

static ssize_t app_out_write(void *cookie, const char *buf, size_t len)
{
    app_out *o = cookie;
    if (o->held)
        return (ssize_t)fwrite(buf, 1, len, o->held);
    fwrite(buf, 1, len, stdout);
    fflush(stdout); /* the app flushed its FILE: the line is due now */
    return (ssize_t)len;
}

static int app_out_close(void *cookie)
{
    (void)cookie;
    return 0;
}

static FILE *app_out_open(app_out *o)
{
    *o = (app_out){0};
    if (!(o->held = open_memstream(&o->text, &o->len)))
        return NULL;
    static const cookie_io_functions_t io = {.write = app_out_write,
                                             .close = app_out_close};
    FILE *f = fopencookie(o, "w", io);
    if (!f) {
        fclose(o->held);
        free(o->text);
        return NULL;
    }
    setvbuf(f, NULL, isatty(1) ? _IOLBF : _IOFBF, BUFSIZ);
    return f;
}

/* The start is judged: what was held goes to `to`; from now on all
 * passes to stdout. */
static void app_out_release(FILE *f, app_out *o, FILE *to)
{
    fflush(f);
    fclose(o->held);
    o->held = NULL;
    fwrite(o->text, 1, o->len, to);
    fflush(to);
    free(o->text);
    o->text = NULL;
}

/* `run` keeps serving once nobody reads its output (above). */
static bool output_is_a_log;

/* The options of `run` that take no value. */
static bool run_flag(const char *o)
{
    return strcmp(o, "--record-redact") == 0 || strcmp(o, "--strict") == 0;
}

/* The options of `run` before the app's name: how many words they took
 * (>= 0), -1 after saying what is wrong, or -2 for --help. */
static int run_opts(int argc, char **argv, tw_real_opts *opts,
                    tw_record_opts *rec, bool *strict)
{
    static const char *const valued[] = {"--busy-poll", "--record", "--record-max",
                                         "--record-ring"};
    int i = 0;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "--help") == 0)
            return -2;
        if (run_flag(o)) {
            if (strcmp(o, "--strict") == 0)
                *strict = true;
            else
                rec->redact = true;
            i++;
            continue;
        }
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            known = known || strcmp(o, valued[k]) == 0;
        if (!known) {
            fprintf(stderr, "%s run: unknown option '%s'\n", prog_name, o);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "%s run: %s needs a value\n", prog_name, o);
            return -1;
        }
        bool bad = false;
        if (strcmp(o, "--busy-poll") == 0)
            bad = tw_parse_duration(v, &opts->busy_poll) < 0 || opts->busy_poll < 0;
        else if (strcmp(o, "--record") == 0)
            rec->path = v;
        else if (strcmp(o, "--record-max") == 0)
            bad = tw_parse_bytes(v, &rec->max_bytes) < 0;
        else
            bad = tw_parse_bytes(v, &rec->ring_bytes) < 0; /* --record-ring */
        if (bad) {
            fprintf(stderr, "%s run: bad %s '%s' (%s)\n", prog_name, o, v ? v : "",
                    strcmp(o, "--busy-poll") == 0 ? "a duration: \"20us\""
                                                  : "a size: \"64MiB\"");
            return -1;
        }
        i += 2;
    }
    bool any = rec->max_bytes || rec->ring_bytes || rec->redact;
    if (any && !rec->path) {
        fprintf(stderr, "%s run: --record-max, --record-ring and --record-redact "
                        "go with --record FILE\n", prog_name);
        return -1;
    }
    char err[160];
    if (rec->path && tw_record_opts_check(rec, err, sizeof err) < 0) {
        fprintf(stderr, "%s run: --%s\n", prog_name, err);
        return -1;
    }
    if (rec->path)
        opts->record = rec;
    return i;
}

/* What a recording kept, said once the run is over. */
static void record_report(tw_loop *loop, const char *path)
{
    tw_record_stats st;
    if (!path || tw_loop_record_stats(loop, &st) < 0)
        return;
    fprintf(stderr, "%s: recorded %llu records (%llu bytes) to %s%s\n", prog_name,
            (unsigned long long)st.records, (unsigned long long)st.bytes, path,
            st.segments > 1 ? " and its .old" : "");
    if (st.stopped)
        fprintf(stderr, "%s: the recording reached --record-max and stopped: "
                        "what came after is not in it\n", prog_name);
    if (st.error)
        fprintf(stderr, "%s: the recording stopped: %s: %s\n", prog_name, path,
                tw_strerror(st.error));
}

static int cmd_run(int argc, char **argv)
{
    output_is_a_log = true;
    tw_real_opts opts = {0};
    tw_record_opts rec = {0};
    bool strict = false;
    int used = run_opts(argc, argv, &opts, &rec, &strict);
    if (used == -2) {
        usage(stdout);
        return 0;
    }
    if (used < 0)
        return 2;
    argc -= used;
    argv += used;
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const tw_app *app = tw_app_find(argv[0]);
    if (!app) {
        fprintf(stderr, "%s: no app named '%s' (see '%s apps'; apps of a shared "
                        "object need --load FILE.so before the app's name)\n",
                prog_name, argv[0], prog_name);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN); /* see the top of this file */

    tw_loop *loop = tw_loop_new(&opts);
    if (!loop && opts.record) {
        fprintf(stderr, "%s run: --record %s: %s\n", prog_name, rec.path,
                strerror(errno));
        return 1;
    }
    if (!loop) {
        fprintf(stderr, "%s: cannot create the loop: %s\n", prog_name,
                strerror(errno));
        return 1;
    }
    if (strict)
        tw_loop_set_contract_strict(loop, true);
    void *state = NULL;
    app_out held;
    FILE *out = app_out_open(&held);
    if (!out) {
        fprintf(stderr, "%s: out of memory\n", prog_name);
        tw_loop_free(loop);
        return 1;
    }
    int rc = app->start(loop, argc, argv, out, &state);
    /* --help (tw_opts_parse's -ECANCELED) was asked for: the usage the
     * app wrote is the answer, on stdout, and nothing failed. */
    bool help = rc == -ECANCELED;
    app_out_release(out, &held, rc < 0 && !help ? stderr : stdout);
    if (rc < 0) {
        if (rc == -EINVAL)
            fprintf(stderr, "usage: %s run %s [OPTIONS]\n%s", prog_name, app->name,
                    app->usage ? app->usage : "");
        fclose(out);
        tw_loop_free(loop);
        return help ? 0 : 2;
    }
    pthread_t th;
    bool have_thread = pthread_create(&th, NULL, signal_thread, loop) == 0;
    rc = tw_loop_run(loop);
    int status = rc < 0 ? 1 : app->result ? app->result(state) : 0;
    /* A checking app's exit status says that something broke; its
     * invariant, the sentence a scenario would print, says what. */
    const char *broken = app->invariant ? app->invariant(state) : NULL;
    if (broken)
        fprintf(stderr, "%s: %s\n", app->name, broken);
    if (app->free)
        app->free(state);
    /* Let closes started by free finish cleanly before the loop goes. */
    tw_loop_run_for(loop, TW_MS(100));
    record_report(loop, rec.path);
    /* The signal thread goes before the loop it would wake: a SIGTERM
     * from here on stays pending, and nothing is left running (a
     * program that calls tw_main again, a leak checker at exit). */
    if (have_thread) {
        pthread_kill(th, SIGTERM); /* its stop lands on a loop still here */
        pthread_join(th, NULL);
    }
    tw_loop_free(loop);
    fclose(out); /* what the app left in it goes to stdout */
    return status;
}

/* Load one shared object and call its registering function. */
static int load_one(const char *path)
{
    if (nloads == LOADS_MAX) {
        fprintf(stderr, "%s: --load %s: at most %d shared objects\n", prog_name, path,
                LOADS_MAX);
        return 2;
    }
    /* dlopen looks a name without a slash up in the library path, never
     * in the current directory: `--load my.so` beside the program would
     * not be found. A file of that name here is the one meant. */
    char here[4096];
    const char *open_as = path;
    if (!strchr(path, '/') && access(path, F_OK) == 0 &&
        snprintf(here, sizeof here, "./%s", path) < (int)sizeof here)
        open_as = here;
    /* RTLD_GLOBAL: the object's own references to libtwin resolve to the
     * library this program runs, so its apps land in this table. */
    void *h = dlopen(open_as, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr, "%s: --load %s: %s\n", prog_name, path, dlerror());
        return 2;
    }
    int (*fn)(void);
    *(void **)&fn = dlsym(h, TW_LOAD_SYMBOL);
    if (!fn) {
        fprintf(stderr, "%s: --load %s: no function %s() in it\n", prog_name,
                path, TW_LOAD_SYMBOL);
        dlclose(h);
        return 2;
    }
    int rc = fn();
    if (rc < 0) {
        fprintf(stderr, "%s: --load %s: %s() failed: %s\n", prog_name, path,
                TW_LOAD_SYMBOL, tw_strerror(rc));
        return 2;
    }
    /* Kept loaded: the apps it registered live in it. */
    loads[nloads++] = path;
    return 0;
}

/* Take every "--load PATH" out of argv[from..to), loading each; argc is
 * updated. For `run` only the options before the app's name are ours. */
static int take_loads(int *argc, char **argv, int from, bool stop_at_word)
{
    int i = from;
    while (i < *argc) {
        if (strcmp(argv[i], "--load") != 0) {
            if (stop_at_word && argv[i][0] != '-')
                break;
            i++;
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "%s: --load needs a path\n", prog_name);
            return 2;
        }
        int rc = load_one(argv[i + 1]);
        if (rc)
            return rc;
        memmove(&argv[i], &argv[i + 2], (size_t)(*argc - i - 2 + 1) * sizeof *argv);
        *argc -= 2;
    }
    return 0;
}

static int dispatch(int argc, char **argv);

/* A pipe whose reader has gone reports an error to poll. */
static bool reader_gone(FILE *f)
{
    struct pollfd p = {.fd = fileno(f), .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

/* Every command's standard output is checked once it is done: output
 * lost to a full disk or a closed pipe is a failure, never a silent
 * success; but for `run`, a reader that went away (`| head -1`) chose
 * to stop reading a log, and that is no failure. */
int tw_main(int argc, char **argv)
{
    int rc = dispatch(argc, argv);
    if (output_is_a_log && reader_gone(stdout)) {
        clearerr(stdout);
        return rc;
    }
    if (!cli_output_ok(stdout, "standard output", false) && rc == 0)
        rc = TW_SCENARIO_USAGE;
    return rc;
}

static int dispatch(int argc, char **argv)
{
    if (argc >= 1 && argv[0] && *argv[0]) {
        prog_path = argv[0];
        const char *slash = strrchr(argv[0], '/');
        prog_name = slash ? slash + 1 : argv[0];
    }
    /* --load before the command word */
    int rc = take_loads(&argc, argv, 1, true);
    if (rc)
        return rc;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    bool is_run = strcmp(cmd, "run") == 0;
    if (is_run || strcmp(cmd, "sim") == 0 || strcmp(cmd, "shrink") == 0 ||
        strcmp(cmd, "apps") == 0 || strcmp(cmd, "replay") == 0) {
        /* run's options take values that are not an app's name */
        int from = 2;
        while (is_run && from + 1 < argc && strncmp(argv[from], "--", 2) == 0 &&
               strcmp(argv[from], "--load") != 0)
            from += run_flag(argv[from]) ? 1 : 2;
        if ((rc = take_loads(&argc, argv, from, is_run)) != 0)
            return rc;
    }
    if (is_run)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0) /* cli/demo.c */
        return tw_cli_demo(prog_path, argc - 2, argv + 2);
    if (strcmp(cmd, "sim") == 0) /* cli/sim.c */
        return tw_cli_sim(prog_path, argc - 2, argv + 2);
    if (strcmp(cmd, "shrink") == 0)
        return tw_cli_shrink(prog_path, argc - 2, argv + 2);
    if (strcmp(cmd, "replay") == 0) /* cli/replay.c */
        return tw_cli_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "recording") == 0)
        return tw_cli_recording(argc - 2, argv + 2);
    if (strcmp(cmd, "report") == 0) /* cli/report.c */
        return tw_cli_report(argc - 2, argv + 2);
    if (strcmp(cmd, "apps") == 0) {
        if (argc > 2) {
            fprintf(stderr, "%s apps: no arguments but --load PATH\n", prog_name);
            return 2;
        }
        list_apps(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        if (strcmp(prog_name, "twin") == 0)
            printf("twin %s\n", TWIN_VERSION);
        else
            printf("%s (twin %s)\n", prog_name, TWIN_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prog_name, cmd);
    usage(stderr);
    return 2;
}
