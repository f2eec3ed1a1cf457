/* sim/programs/date.c - the simulated `date` (twin/programs.h): the
 * node's virtual clock as date(1) prints it in UTC.
 *
 * Map: the calendar; the format directives; the program.
 *
 * The clock's zero is 2000-01-01 00:00:00 UTC, so a seed replays the same
 * dates. The calendar arithmetic is done here (Hinnant's
 * civil_from_days): no libc time function, which could consult a time
 * zone file.
 */
#include <stdio.h>
#include <string.h>

#include "twin/simproc.h"

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
