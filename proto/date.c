/* proto/date.c - the reference text's subprocess example ("loop.
 * subprocess_exec() and SubprocessProtocol") as the app `date`: run a
 * program, collect its stdout, and wait for BOTH process_exited and the
 * stdout pipe's closing before using the output (the newer revision's
 * warning: the exit may be reported before the last data).
 *
 * Map: the protocol; the app (options, start, result, free); the
 * simulated `date` program.
 *
 * On the real backend it runs /bin/date (found in the PATH); on a
 * simulated node the program `date` registered with the world (see
 * twin/programs.h), which prints the node's virtual time.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "twin/app.h"
#include "twin/opts.h"
#include "twin/simproc.h"
#include "twin/twin.h"

/* Output kept, at most; a date is one short line. */
#define DATE_OUT_MAX 4096
/* Program arguments, at most (argv[0] included). */
#define DATE_ARGS_MAX 32

struct date_app {
    tw_protocol base; /* the protocol is the app's state: one child */
    tw_transport *t;
    FILE *out;
    char output[DATE_OUT_MAX];
    size_t len;
    bool exited, pipe_closed, lost, printed;
    int returncode;
};

/* ---- the protocol ---- */

static void date_made(tw_protocol *p, tw_transport *t)
{
    ((struct date_app *)p)->t = t;
}

static void date_data(tw_protocol *p, int fd, const uint8_t *d, size_t n)
{
    struct date_app *a = (struct date_app *)p;
    if (fd != 1)
        return;
    size_t room = sizeof a->output - 1 - a->len;
    if (n > room)
        n = room; /* a date is short: keep the start, never overflow */
    memcpy(a->output + a->len, d, n);
    a->len += n;
}

/* Both the exit and the end of stdout: only now is the output whole. */
static void maybe_done(struct date_app *a)
{
    if (!a->exited || !a->pipe_closed || a->printed)
        return;
    a->printed = true;
    while (a->len > 0 && (a->output[a->len - 1] == '\n' ||
                          a->output[a->len - 1] == '\r' ||
                          a->output[a->len - 1] == ' '))
        a->len--;
    a->output[a->len] = '\0';
    fprintf(a->out, "Current date: %s\n", a->output);
    fflush(a->out);
    tw_transport_close(a->t); /* as the example: transport.close() */
}

static void date_pipe_lost(tw_protocol *p, int fd, int err)
{
    struct date_app *a = (struct date_app *)p;
    (void)err;
    if (fd == 1) {
        a->pipe_closed = true;
        maybe_done(a);
    }
}

static void date_exited(tw_protocol *p)
{
    struct date_app *a = (struct date_app *)p;
    a->exited = true;
    tw_transport_get_returncode(a->t, &a->returncode);
    maybe_done(a);
}

static void date_lost(tw_protocol *p, int err)
{
    (void)err;
    ((struct date_app *)p)->lost = true;
}

static const tw_protocol_ops date_ops = {
    .connection_made = date_made,
    .pipe_data_received = date_data,
    .pipe_connection_lost = date_pipe_lost,
    .process_exited = date_exited,
    .connection_lost = date_lost,
    /* no release: the app's free() owns the memory */
};

static tw_protocol *date_factory(void *arg) { return arg; }

/* ---- the app ---- */

typedef struct date_opts {
    const char *program;
    tw_opt_args args;
} date_opts;

/* Options and the program's arguments may come in any order. */
static const tw_opt date_table[] = {
    {.name = "program", TW_OPT_FIELD(TW_OPT_STRING, date_opts, program),
     .def = "date", .meta = "NAME", .help = "the program to run [date]"},
    {TW_OPT_FIELD(TW_OPT_ARGS, date_opts, args), .max = DATE_ARGS_MAX - 1,
     .flags = TW_OPT_ARGS_ANYWHERE, .help = "its arguments"},
    {0},
};

TW_OPTS_USAGE_TEXT(date_usage, 1024, date_table)

static int date_start(tw_loop *loop, int argc, char **argv, FILE *out,
                      void **state)
{
    date_opts o = {0};
    int rc = tw_opts_parse(date_table, &o, argc, argv, out);
    if (rc < 0)
        return rc;
    const char *args[DATE_ARGS_MAX + 1] = {o.program};
    int n = 1;
    for (int i = 0; i < o.args.argc; i++)
        args[n++] = o.args.argv[i];
    args[n] = NULL;
    struct date_app *a = calloc(1, sizeof *a);
    if (!a)
        return -ENOMEM;
    a->base.ops = &date_ops;
    a->out = out;
    /* The example's stdin=None, stderr=None: the child shares ours. */
    tw_subprocess_opts so = {.stdin_mode = TW_STDIO_INHERIT,
                             .stdout_mode = TW_STDIO_PIPE,
                             .stderr_mode = TW_STDIO_INHERIT};
    rc = tw_subprocess_exec(loop, date_factory, a, args, &so, NULL);
    if (rc < 0) {
        fprintf(out, "date: cannot run %s: %s\n", args[0], tw_strerror(rc));
        free(a);
        return rc;
    }
    *state = a;
    return 0;
}

static int date_result(void *state)
{
    struct date_app *a = state;
    return a->printed && a->returncode == 0 && a->len > 0 ? 0 : 1;
}

static void date_free(void *state) { free(state); }

const tw_app tw__app_date = {
    .name = "date",
    .summary = "run a program (date), print its output once it exited and "
               "its stdout closed",
    .usage = date_usage,
    .opts = date_table,
    .start = date_start,
    .result = date_result,
    .free = date_free,
};

/* ---- the simulated date program ----
 *
 * Prints the node's virtual clock as date(1) does in UTC. The clock's
 * zero is 2000-01-01 00:00:00 UTC, so a seed replays the same dates. The
 * calendar arithmetic is done here (Hinnant's civil_from_days): no libc
 * time function, which could consult a time zone file. */

#define DATE_EPOCH_2000 INT64_C(946684800) /* Unix seconds of the zero */

struct civil {
    int64_t unix_s;
    int year, month, day, hour, min, sec, wday;
};

static struct civil civil_of(int64_t unix_s)
{
    struct civil c = {.unix_s = unix_s};
    int64_t days = unix_s / 86400, rem = unix_s % 86400;
    c.hour = (int)(rem / 3600);
    c.min = (int)(rem / 60 % 60);
    c.sec = (int)(rem % 60);
    c.wday = (int)((days + 4) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    c.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    c.year = (int)(yoe + era * 400 + (c.month <= 2));
    return c;
}

/* date's format directives, the ones listed in twin/programs.h. */
static void date_format(const struct civil *c, const char *fmt, char *out,
                        size_t cap)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    size_t n = 0;
    for (; *fmt && n + 32 < cap; fmt++) {
        if (*fmt != '%' || !fmt[1]) {
            out[n++] = *fmt;
            continue;
        }
        int w;
        switch (*++fmt) {
        case 'a': w = snprintf(out + n, cap - n, "%s", wd[c->wday]); break;
        case 'b': w = snprintf(out + n, cap - n, "%s", mo[c->month - 1]); break;
        case 'd': w = snprintf(out + n, cap - n, "%02d", c->day); break;
        case 'e': w = snprintf(out + n, cap - n, "%2d", c->day); break;
        case 'H': w = snprintf(out + n, cap - n, "%02d", c->hour); break;
        case 'M': w = snprintf(out + n, cap - n, "%02d", c->min); break;
        case 'S': w = snprintf(out + n, cap - n, "%02d", c->sec); break;
        case 'Y': w = snprintf(out + n, cap - n, "%d", c->year); break;
        case 'm': w = snprintf(out + n, cap - n, "%02d", c->month); break;
        case 's': w = snprintf(out + n, cap - n, "%lld", (long long)c->unix_s); break;
        case 'Z': w = snprintf(out + n, cap - n, "UTC"); break;
        case '%': w = snprintf(out + n, cap - n, "%%"); break;
        default: w = snprintf(out + n, cap - n, "%%%c", *fmt); break;
        }
        n += w > 0 ? (size_t)w : 0;
    }
    out[n] = '\0';
}

static void sim_date_start(tw_sim_proc *p, int argc, char **argv)
{
    tw_ns now = tw_loop_now(tw_sim_proc_loop(p));
    struct civil c = civil_of(DATE_EPOCH_2000 + now / TW_NS_PER_SEC);
    const char *fmt = "%a %b %e %H:%M:%S %Z %Y";
    if (argc > 1 && argv[1][0] == '+')
        fmt = argv[1] + 1;
    else if (argc > 1) {
        const char msg[] = "date: the simulated date takes +FORMAT only\n";
        tw_sim_proc_write(p, 2, msg, sizeof msg - 1);
        tw_sim_proc_exit(p, 1);
        return;
    }
    char line[256];
    date_format(&c, fmt, line, sizeof line - 1);
    strcat(line, "\n");
    tw_sim_proc_write(p, 1, line, strlen(line));
    tw_sim_proc_exit(p, 0);
}

const tw_sim_program tw__program_date = {.start = sim_date_start};
