/* tests/test_main.c - tw_main, the whole twin command inside any program:
 * it sees the apps the program registered, names the program (argv[0])
 * in what it prints, replay commands included, and refuses a bad --load
 * with one line and status 2; `sim` reports a protocol's mistake with its
 * own transport as a correctness failure naming the call and the callback
 * (strict contract mode, on unless the file says `contract: basic`). Runs
 * tw_main in this process, its output caught in a file. */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/main.h"

static char out[1 << 16], err[1 << 14];

/* Run tw_main on a copy of argv; its stdout and stderr into out, err. */
static int run_main(int argc, const char *const *argv)
{
    char *args[16];
    assert_true(argc < 16);
    for (int i = 0; i < argc; i++)
        args[i] = (char *)argv[i];
    args[argc] = NULL;
    FILE *o = tmpfile(), *e = tmpfile();
    assert_non_null(o);
    assert_non_null(e);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    int rc = tw_main(argc, args);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    rewind(o);
    rewind(e);
    size_t n = fread(out, 1, sizeof out - 1, o);
    out[n] = '\0';
    n = fread(err, 1, sizeof err - 1, e);
    err[n] = '\0';
    fclose(o);
    fclose(e);
    return rc;
}

/* ---- an app of the program's own ---- */

typedef struct counter {
    tw_loop *loop;
    int ticks, want;
    bool broken; /* its invariant breaks once it is done ("N broken") */
} counter;

static void tick(void *arg)
{
    counter *c = arg;
    if (++c->ticks < c->want)
        tw_call_later(c->loop, TW_MS(10), tick, c);
}

static int c_start(tw_loop *loop, int argc, char **argv, FILE *o, void **state)
{
    counter *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->loop = loop;
    c->want = argc > 1 ? atoi(argv[1]) : 3;
    c->broken = argc > 2 && strcmp(argv[2], "broken") == 0;
    tw_call_later(loop, TW_MS(10), tick, c);
    (void)o;
    *state = c;
    return 0;
}
static int c_result(void *s) { return ((counter *)s)->ticks >= ((counter *)s)->want ? 0 : 1; }
static void c_free(void *s) { free(s); }
static bool c_done(void *s) { return ((counter *)s)->ticks >= ((counter *)s)->want; }
static const char *c_invariant(void *s)
{
    return ((counter *)s)->broken && c_done(s) ? "broken on purpose" : NULL;
}

static const tw_app counter_app = {
    .name = "tick-counter",
    .summary = "ticks N times, 10 ms apart",
    .usage = "  N   how many ticks (default 3)\n",
    .start = c_start,
    .result = c_result,
    .free = c_free,
    .done = c_done,
    .invariant = c_invariant,
};

/* ---- an app with nothing but a name and a start ---- */

static void bare_tick(void *arg) { (void)arg; }

static int bare_start(tw_loop *loop, int argc, char **argv, FILE *o, void **state)
{
    (void)argc, (void)argv, (void)o;
    tw_call_later(loop, TW_MS(5), bare_tick, NULL);
    *state = NULL;
    return 0;
}

static const tw_app bare_app = {.name = "bare", .start = bare_start};

/* ---- an app that dies when it is let go ---- */

static void dying_free(void *state)
{
    (void)state;
    abort(); /* as a free that touches a loop already torn down may */
}

static const tw_app dying_app = {.name = "dies-when-freed", .start = bare_start,
                                 .free = dying_free};

/* ---- an app whose protocol writes after its own close() ---- */

typedef struct late {
    tw_protocol base;
    tw_transport *t;
    bool lost;
    bool careful; /* makes no mistake (before a restart, with --restarted) */
} late;

static void late_made(tw_protocol *p, tw_transport *t)
{
    ((late *)p)->t = t;
    tw_transport_write(t, "hi", 2);
}

static void late_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    late *l = (late *)p;
    (void)d, (void)n;
    tw_transport_close(l->t);
    if (!l->careful)
        tw_transport_write(l->t, "late", 4); /* the mistake: dropped */
}

static void late_lost(tw_protocol *p, int error)
{
    (void)error;
    ((late *)p)->lost = true;
}

static const tw_protocol_ops late_ops = {
    .connection_made = late_made, .data_received = late_data,
    .connection_lost = late_lost,
};

static tw_protocol *late_factory(void *arg) { return arg; }

static int late_start(tw_loop *loop, int argc, char **argv, FILE *o, void **state)
{
    (void)o;
    late *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->base.ops = &late_ops;
    l->careful = argc > 1 && strcmp(argv[1], "--restarted") == 0 &&
                 tw_app_restarts(loop) == 0;
    int rc = tw_create_connection(loop, late_factory, l, "server", 7, NULL);
    if (rc < 0) {
        free(l);
        return rc;
    }
    *state = l;
    return 0;
}
static int late_result(void *s) { return ((late *)s)->lost ? 0 : 1; }
static void late_free(void *s) { free(s); }
static bool late_done(void *s) { return ((late *)s)->lost; }

static const tw_app late_app = {
    .name = "late-writer",
    .summary = "says hi, then closes and writes on the answer",
    .usage = "",
    .start = late_start,
    .result = late_result,
    .free = late_free,
    .done = late_done,
};

static int with_app(void **state)
{
    tw_test_setup(state);
    return tw_app_register(&counter_app);
}

static char scenario[128];

static void test_apps_lists_the_programs_own(void **state)
{
    (void)state;
    const char *argv[] = {"/opt/x/mytool", "apps"};
    assert_int_equal(run_main(2, argv), 0);
    /* registered first, then the built-in ones */
    assert_ptr_equal(strstr(out, "tick-counter\n"), out);
    assert_non_null(strstr(out, "    ticks N times, 10 ms apart\n"));
    assert_non_null(strstr(out, "reports when it is done"));
    assert_non_null(strstr(out, "\necho-server\n"));
}

static void test_sim_names_the_program(void **state)
{
    (void)state;
    const char *argv[] = {"/opt/x/mytool", "sim", scenario, "--seed", "7"};
    assert_int_equal(run_main(5, argv), 0);
    assert_non_null(strstr(out, "mytool sim: "));
    assert_non_null(strstr(out, "result: PASS"));
    char want[300];
    snprintf(want, sizeof want, "reproduce with: /opt/x/mytool sim %s --seed 7",
             scenario);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "twin sim"));
    /* a sweep names it in its replay commands too */
    const char *sweep[] = {"/opt/x/mytool", "sim", scenario, "--seeds", "1..3", "--json"};
    assert_int_equal(run_main(6, sweep), 0);
    assert_non_null(strstr(out, "\"replay\": \"/opt/x/mytool sim "));
    /* so do the hints of its error messages and usage texts */
    const char *filter[] = {"/opt/x/mytool", "sim", scenario, "--seed", "7",
                            "--trace-filter", "event=no_such_record"};
    assert_int_equal(run_main(7, filter), 2);
    if (!strstr(err, "`mytool sim --trace-fields` lists them") || strstr(err, "twin sim"))
        fail_msg("the hint does not name the program: %s", err);
    /* refused before the run's description, which would bury it */
    assert_string_equal(out, "");
    const char *report[] = {"/opt/x/mytool", "report"};
    assert_int_equal(run_main(2, report), 2);
    if (!strstr(err, "(mytool sim F --seeds") || strstr(err, "twin sim"))
        fail_msg("report's usage does not name the program: %s", err);
    const char *shrink[] = {"/opt/x/mytool", "shrink", scenario, "--seed", "7",
                            "--pcap", "/tmp"};
    assert_int_equal(run_main(7, shrink), 2);
    if (!strstr(err, "--pcap is mytool sim's") || strstr(err, "twin sim"))
        fail_msg("shrink's --pcap message does not name the program: %s", err);
}

static char strict_file[128];

static void write_late_scenario(const char *args, const char *rest)
{
    FILE *f = fopen(strict_file, "w");
    assert_non_null(f);
    fprintf(f, "name: late\n"
               "duration: 1s\n"
               "nodes:\n"
               "  - {name: server, addr: 10.0.0.1, app: echo-server,\n"
               "     args: [--host, \"\", --port, \"7\", --quiet]}\n"
               "  - {name: writer, addr: 10.0.0.2, app: late-writer, args: [%s]}\n"
               "quiet: {within: 2s, until: [writer]}\n"
               "%s",
            args, rest);
    fclose(f);
}

static void test_sim_reports_a_protocol_mistake(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&late_app), 0);
    const char *argv[] = {"mytool", "sim", strict_file, "--seed", "1"};
    write_late_scenario("", "");
    assert_int_equal(run_main(5, argv), 1);
    assert_non_null(strstr(out, "result: FAIL (correctness)"));
    if (!strstr(out, "writer: twin contract violation: node writer (sim backend): "
                     "transport #1: write() after close(): refused, its 4 bytes "
                     "dropped (in data_received of transport #1)"))
        fail_msg("no violation naming the call and the callback in:\n%s", out);
    /* the file's own word turns it off: callbacks only */
    write_late_scenario("", "expect: {contract: basic}\n");
    assert_int_equal(run_main(5, argv), 0);
    assert_non_null(strstr(out, "result: PASS"));
    assert_non_null(strstr(out, "contract clean (basic)"));
    /* a node restarted after a crash is watched as strictly */
    write_late_scenario("--restarted", "timeline:\n  - {at: 300ms, crash: writer, "
                                       "for: 100ms}\n");
    assert_int_equal(run_main(5, argv), 1);
    if (!strstr(out, "writer: twin contract violation: node writer (sim backend): "
                     "transport #1: write() after close()"))
        fail_msg("no violation after the restart in:\n%s", out);
    unlink(strict_file);
}

static void test_usage_and_version_name_the_program(void **state)
{
    (void)state;
    const char *argv[] = {"./mytool", "help"};
    assert_int_equal(run_main(2, argv), 0);
    assert_non_null(strstr(out, "usage: mytool run APP [OPTIONS]"));
    assert_non_null(strstr(out, "see 'mytool sim --help'"));
    assert_non_null(strstr(out, "tw_apps_load()"));
    assert_null(strstr(out, "twin run"));
    const char *v[] = {"./mytool", "version"};
    assert_int_equal(run_main(2, v), 0);
    assert_string_equal(out, "mytool (twin " TWIN_VERSION ")\n");
    const char *bad[] = {"./mytool", "frobnicate"};
    assert_int_equal(run_main(2, bad), 2);
    assert_non_null(strstr(err, "mytool: unknown command 'frobnicate'\n"));
    const char *noapp[] = {"./mytool", "run", "no-such-app"};
    assert_int_equal(run_main(3, noapp), 2);
    if (!strstr(err, "mytool: no app named 'no-such-app' (see 'mytool apps'; apps of "
                     "a shared object need --load FILE.so before the app's name)\n"))
        fail_msg("no word of --load in: %s", err);
    const char *noreplay[] = {"./mytool", "replay", "/nonexistent.twr", "no-such-app"};
    assert_int_equal(run_main(4, noreplay), 2);
    if (!strstr(err, "mytool replay: no app named 'no-such-app' (see 'mytool apps'; "
                     "apps of a shared object need --load FILE.so)\n"))
        fail_msg("no word of --load in: %s", err);
}

/* `run` of a checking app says what its invariant saw break, on stderr,
 * beside the exit status; an app whose invariant holds says nothing. */
static void test_run_prints_a_broken_invariant(void **state)
{
    (void)state;
    const char *ok[] = {"mytool", "run", "tick-counter", "2"};
    assert_int_equal(run_main(4, ok), 0);
    assert_string_equal(err, "");
    const char *bad[] = {"mytool", "run", "tick-counter", "2", "broken"};
    run_main(5, bad);
    assert_string_equal(err, "tick-counter: broken on purpose\n");
}

/* `run --strict` runs the app's loop with the contract checker in strict
 * mode (a call on a transport after its connection_lost is reported, on
 * the real backend too); without it the loop is not strict. */
static int strict_seen = -1;
static int strict_start(tw_loop *loop, int argc, char **argv, FILE *o, void **state)
{
    (void)argc;
    (void)argv;
    (void)o;
    (void)state;
    strict_seen = tw_loop_contract_strict(loop);
    return 0;
}
static const tw_app strict_app = {.name = "strict-probe", .start = strict_start};

static void test_run_strict_turns_strict_mode_on(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&strict_app), 0);
    const char *plain[] = {"mytool", "run", "strict-probe"};
    assert_int_equal(run_main(3, plain), 0);
    assert_int_equal(strict_seen, 0);
    const char *strict[] = {"mytool", "run", "--strict", "strict-probe"};
    assert_int_equal(run_main(4, strict), 0);
    assert_int_equal(strict_seen, 1);
    const char *both[] = {"mytool", "run", "--strict", "--busy-poll", "1us", "strict-probe"};
    strict_seen = -1;
    assert_int_equal(run_main(6, both), 0);
    assert_int_equal(strict_seen, 1);
    assert_int_equal(tw_app_unregister("strict-probe"), 0);
}

static int threads_now(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* `run` leaves no thread of its own behind once it returns: its signal
 * thread, which would wake a loop that is gone, ends with it. */
static void test_run_leaves_no_thread(void **state)
{
    (void)state;
    int before = threads_now();
    const char *ok[] = {"mytool", "run", "tick-counter", "2"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(run_main(4, ok), 0);
    assert_int_equal(threads_now(), before);
}

/* A scenario file of text at /tmp/twin-test-NAME-PID.yaml; its path in
 * path (128 bytes). */
static void tmp_scenario(char path[128], const char *name, const char *text)
{
    snprintf(path, 128, "/tmp/twin-test-%s-%d.yaml", name, (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* result, free, summary and usage may be left out: an app with only a
 * name and a start is listed, runs, checks in a scenario file, runs in a
 * simulation, crashes and restarts there, and exits 0. */
static void test_app_with_only_a_start(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&bare_app), 0);
    const char *apps[] = {"mytool", "apps"};
    assert_int_equal(run_main(2, apps), 0);
    assert_non_null(strstr(out, "bare\n"));
    assert_null(strstr(out, "(null)"));
    const char *run[] = {"mytool", "run", "bare"};
    assert_int_equal(run_main(3, run), 0);
    char path[128];
    tmp_scenario(path, "bare", "name: bare\nduration: 1s\nnodes:\n"
                               "  - {name: s, addr: 10.0.0.1, app: bare}\n"
                               "timeline:\n  - {at: 100ms, crash: s, for: 100ms}\n");
    const char *sim[] = {"mytool", "sim", path, "--seed", "1"};
    int rc = run_main(5, sim);
    unlink(path);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "result: PASS"));
    assert_int_equal(tw_app_unregister("bare"), 0);
}

/* An app that kills the process while the file loads (its apps are
 * started once, then let go) gets a message saying where and what to
 * look at, and the crash status, not a bare signal. */
/* A seed that kills the process in a file that turned strict contract
 * mode off says so: without it, a protocol's call on a transport after
 * its connection_lost (which strict mode names) is a use of freed memory,
 * a likely cause. A strict file's crash has no such word. */
static void boom(void *arg)
{
    (void)arg;
    abort();
}
static int boom_start(tw_loop *loop, int argc, char **argv, FILE *o, void **state)
{
    (void)argc;
    (void)argv;
    (void)o;
    (void)state;
    if (tw_app_restarts(loop) > 0) /* not at the check of options */
        tw_call_later(loop, TW_MS(10), boom, NULL);
    return 0;
}
static const tw_app boom_app = {.name = "boom", .start = boom_start};

static void crash_run(const char *contract, char *text, size_t len)
{
    char path[128], errpath[128];
    char yaml[300];
    snprintf(yaml, sizeof yaml,
             "name: boom\nduration: 1s\nnodes:\n  - {name: s, addr: 10.0.0.1, app: boom}\n"
             "timeline:\n  - {at: 100ms, crash: s, for: 100ms}\nexpect: {contract: %s}\n",
             contract);
    tmp_scenario(path, "boom", yaml);
    snprintf(errpath, sizeof errpath, "/tmp/twin-test-boom-%d.err", (int)getpid());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
            _exit(100);
        char *argv[] = {"mytool", "sim", path, "--seeds", "1..2", NULL};
        _exit(tw_main(5, argv));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    unlink(path);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, len - 1, f);
    text[n] = '\0';
    fclose(f);
    unlink(errpath);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 4);
}

static void test_crash_without_strict_mode_says_so(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&boom_app), 0);
    static char text[1 << 14];
    crash_run("basic", text, sizeof text);
    if (!strstr(text, "crashed the process (CRASH)\nthe file turns strict contract mode "
                      "off: a call on a transport after its connection_lost"))
        fail_msg("no word of strict mode in: %s", text);
    crash_run("true", text, sizeof text);
    if (!strstr(text, "crashed the process (CRASH)\nreproduce with:"))
        fail_msg("%s", text);
    assert_int_equal(tw_app_unregister("boom"), 0);
}

static void test_crash_while_loading_says_so(void **state)
{
    (void)state;
    assert_int_equal(tw_app_register(&dying_app), 0);
    char path[128], errpath[128];
    tmp_scenario(path, "dies", "name: dies\nduration: 1s\nnodes:\n"
                               "  - {name: s, addr: 10.0.0.1, app: dies-when-freed}\n");
    snprintf(errpath, sizeof errpath, "/tmp/twin-test-dies-%d.err", (int)getpid());
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGABRT, SIG_DFL); /* not cmocka's: this process is the program */
        signal(SIGSEGV, SIG_DFL);
        int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 2) < 0)
            _exit(100);
        char *argv[] = {"mytool", "sim", path, "--seed", "1", NULL};
        _exit(tw_main(5, argv));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(tw_app_unregister("dies-when-freed"), 0);
    unlink(path);
    FILE *f = fopen(errpath, "r");
    assert_non_null(f);
    size_t n = fread(err, 1, sizeof err - 1, f);
    err[n] = '\0';
    fclose(f);
    unlink(errpath);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 4);
    char want[300];
    snprintf(want, sizeof want, "mytool sim: %s: the process crashed while the file's "
                                "apps were started once to check their options (CRASH)",
             path);
    if (!strstr(err, want) || !strstr(err, "needs a discard (twin/app.h)"))
        fail_msg("no word of the load in: %s", err);
}

static void test_bad_load_is_status_2(void **state)
{
    (void)state;
    const char *missing[] = {"mytool", "--load", "/nonexistent/x.so", "apps"};
    assert_int_equal(run_main(4, missing), 2);
    assert_non_null(strstr(err, "mytool: --load /nonexistent/x.so: "));
    assert_string_equal(out, "");
    /* a shared object without the function */
    const char *nosym[] = {"mytool", "apps", "--load", "libyaml-0.so.2"};
    assert_int_equal(run_main(4, nosym), 2);
    assert_non_null(strstr(err, "mytool: --load libyaml-0.so.2: no function "
                                "tw_apps_load() in it\n"));
    const char *nopath[] = {"mytool", "sim", "--load"};
    assert_int_equal(run_main(3, nopath), 2);
    assert_non_null(strstr(err, "mytool: --load needs a path\n"));
    const char *extra[] = {"mytool", "apps", "stray"};
    assert_int_equal(run_main(3, extra), 2);
}

/* The path of a loaded library whose name contains part. */
typedef struct lib_find { const char *part; char path[512]; } lib_find;

static int find_lib(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    lib_find *f = arg;
    if (info->dlpi_name && strstr(info->dlpi_name, f->part))
        snprintf(f->path, sizeof f->path, "%s", info->dlpi_name);
    return 0;
}

static void test_load_takes_a_bare_name_from_the_current_directory(void **state)
{
    (void)state;
    /* a shared object without tw_apps_load, copied here as plain.so */
    lib_find f = {.part = "libyaml"};
    dl_iterate_phdr(find_lib, &f);
    assert_true(f.path[0] != '\0');
    char dir[] = "/tmp/twin-test-load-XXXXXX", cwd[4096], cmd[1200];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "cp '%s' '%s/plain.so'", f.path, dir);
    assert_int_equal(system(cmd), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    const char *argv[] = {"mytool", "--load", "plain.so", "apps"};
    int rc = run_main(4, argv);
    assert_int_equal(chdir(cwd), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    /* found (it has no tw_apps_load), not looked for in the library path */
    assert_int_equal(rc, 2);
    if (!strstr(err, "mytool: --load plain.so: no function tw_apps_load() in it\n"))
        fail_msg("plain.so in the current directory not loaded:\n%s", err);
}

int main(void)
{
    snprintf(scenario, sizeof scenario, "/tmp/twin-test-main-%d.yaml", (int)getpid());
    snprintf(strict_file, sizeof strict_file, "/tmp/twin-test-late-%d.yaml",
             (int)getpid());
    FILE *f = fopen(scenario, "w");
    if (!f)
        return 1;
    fputs("name: ticks\n"
          "duration: 1s\n"
          "nodes:\n"
          "  - name: a\n"
          "    addr: 10.0.0.1\n"
          "    app: tick-counter\n"
          "    args: [\"5\"]\n"
          "quiet:\n"
          "  within: 2s\n",
          f);
    fclose(f);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apps_lists_the_programs_own, with_app,
                                        tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_sim_names_the_program, with_app,
                                        tw_test_teardown),
        TW_TEST(test_sim_reports_a_protocol_mistake),
        TW_TEST(test_usage_and_version_name_the_program),
        TW_TEST(test_bad_load_is_status_2),
        TW_TEST(test_app_with_only_a_start),
        TW_TEST(test_crash_while_loading_says_so),
        cmocka_unit_test_setup_teardown(test_run_prints_a_broken_invariant, with_app,
                                        tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_run_leaves_no_thread, with_app,
                                        tw_test_teardown),
        TW_TEST(test_load_takes_a_bare_name_from_the_current_directory),
        TW_TEST(test_run_strict_turns_strict_mode_on),
        TW_TEST(test_crash_without_strict_mode_says_so),
    };
    int rc = cmocka_run_group_tests_name("main", tests, NULL, NULL);
    unlink(scenario);
    return rc;
}
