/* proto/opts.c - apps' options from a table (twin/opts.h).
 *
 * Map: walking a table (INCLUDE entries nest); what each kind expects,
 * in words; setting one value; defaults; the command line; suggestions
 * for unknown names; the usage text.
 *
 * Nothing here keeps state between calls: every function works on its
 * arguments alone.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "twin/opts.h"
#include "twin/parse.h"

/* ---- walking a table ---- */

/* An entry found by name, with the offset of the struct its own offset
 * is relative to. */
typedef struct found {
    const tw_opt *o;
    size_t base;
} found;

static bool find(const tw_opt *t, size_t base, const char *name, size_t len,
                 found *f)
{
    for (; t->kind != TW_OPT_END; t++) {
        if (t->kind == TW_OPT_INCLUDE) {
            if (t->sub && find(t->sub, base + t->off, name, len, f))
                return true;
        } else if (t->name && strlen(t->name) == len &&
                   memcmp(t->name, name, len) == 0) {
            *f = (found){t, base};
            return true;
        }
    }
    return false;
}

static bool find_args(const tw_opt *t, size_t base, found *f)
{
    for (; t->kind != TW_OPT_END; t++) {
        if (t->kind == TW_OPT_INCLUDE) {
            if (t->sub && find_args(t->sub, base + t->off, f))
                return true;
        } else if (t->kind == TW_OPT_ARGS) {
            *f = (found){t, base};
            return true;
        }
    }
    return false;
}

/* ---- what a kind expects, in words ---- */

static bool bounded(const tw_opt *o) { return o->min != 0 || o->max != 0; }

/* The kind's own limits, for the integer kinds. */
static void int_limits(tw_opt_kind k, int64_t *lo, uint64_t *hi)
{
    *lo = 0;
    switch (k) {
    case TW_OPT_INT: *lo = INT_MIN; *hi = INT_MAX; break;
    case TW_OPT_UINT: *hi = UINT_MAX; break;
    case TW_OPT_PORT: *hi = 65535; break;
    default: *hi = UINT64_MAX; break;
    }
}

/* The effective bounds of a numeric entry: lo..hi, has_hi false when
 * there is no upper bound beyond the kind's own. */
typedef struct range {
    int64_t lo;
    int64_t hi;
    bool has_lo, has_hi;
} range;

static range entry_range(const tw_opt *o)
{
    range r = {0};
    if (bounded(o)) {
        r.lo = o->min;
        r.has_lo = true;
        if (o->max != 0) {
            r.hi = o->max;
            r.has_hi = true;
        }
    }
    return r;
}

static void fmt_value(tw_opt_kind k, int64_t v, char *buf, size_t len)
{
    if (k == TW_OPT_DURATION)
        tw_format_duration(v, buf, len);
    else
        snprintf(buf, len, "%" PRId64, v);
}

/* "an integer 1..65535", "a positive duration (e.g. 250ms, 2s)", ... */
static void expected(const tw_opt *o, char *buf, size_t len)
{
    const char *noun = "", *eg = "";
    switch (o->kind) {
    case TW_OPT_DURATION: noun = "duration"; eg = " (e.g. 250ms, 2s)"; break;
    case TW_OPT_BYTES: noun = "byte count"; eg = " (e.g. 512, 64KiB, 1MB)"; break;
    case TW_OPT_RATE: noun = "rate"; eg = " (e.g. 10MB/s, 100Mbit/s)"; break;
    case TW_OPT_PROBABILITY:
        snprintf(buf, len, "a probability (e.g. 1%%, 0.01)");
        return;
    case TW_OPT_HOSTPORT:
        snprintf(buf, len, "HOST:PORT (or [V6]:PORT) with a port 1..65535");
        return;
    case TW_OPT_STRING: {
        range r = entry_range(o);
        if (r.has_hi)
            snprintf(buf, len, "%" PRId64 "..%" PRId64 " characters", r.lo, r.hi);
        else
            snprintf(buf, len, "at least %" PRId64 " character%s", r.lo,
                     r.lo == 1 ? "" : "s");
        return;
    }
    default: noun = "integer"; break;
    }
    bool integer = strcmp(noun, "integer") == 0;
    range r = entry_range(o);
    if (integer) {
        /* Integers always state their range: the kind's own when the
         * entry sets none. */
        int64_t klo;
        uint64_t khi;
        int_limits(o->kind, &klo, &khi);
        if (!r.has_lo)
            r.lo = klo;
        if (!r.has_hi && (o->kind == TW_OPT_INT || o->kind == TW_OPT_PORT)) {
            r.hi = (int64_t)khi;
            r.has_hi = true;
        }
        if (o->kind != TW_OPT_INT && !r.has_hi && r.lo == 0) {
            snprintf(buf, len, "a non-negative integer");
            return;
        }
    }
    char lo[40], hi[40];
    fmt_value(o->kind, r.lo, lo, sizeof lo);
    fmt_value(o->kind, r.hi, hi, sizeof hi);
    const char *an = integer ? "an" : "a";
    if (r.has_hi)
        snprintf(buf, len, "%s %s %s..%s%s", an, noun, lo, hi, eg);
    else if (r.has_lo && r.lo == 1)
        snprintf(buf, len, "a positive %s%s", noun, eg);
    else if (r.has_lo)
        snprintf(buf, len, "%s %s of at least %s%s", an, noun, lo, eg);
    else
        snprintf(buf, len, "%s %s%s", an, noun, eg);
}

/* ---- setting one value ---- */

/* Decimal digits (and a leading '-' when neg_ok) into *neg / *mag. */
static int read_int(const char *s, bool neg_ok, bool *neg, uint64_t *mag)
{
    *neg = false;
    if (*s == '-' && neg_ok) {
        *neg = true;
        s++;
    }
    if (!*s)
        return -EINVAL;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -ERANGE;
        v = v * 10 + d;
    }
    *mag = v;
    return 0;
}

/* A signed value within the entry's bounds? */
static bool in_range_s(const tw_opt *o, int64_t v)
{
    range r = entry_range(o);
    return (!r.has_lo || v >= r.lo) && (!r.has_hi || v <= r.hi);
}

/* An unsigned value within the entry's bounds? */
static bool in_range_u(const tw_opt *o, uint64_t v)
{
    range r = entry_range(o);
    if (r.has_lo && r.lo > 0 && v < (uint64_t)r.lo)
        return false;
    if (r.has_hi && (r.hi < 0 || v > (uint64_t)r.hi))
        return false;
    return true;
}

/* Parse text as entry o wants and store it at p. 0 or -EINVAL. */
static int set_value(const tw_opt *o, void *p, const char *text)
{
    switch (o->kind) {
    case TW_OPT_STRING: {
        size_t n = strlen(text);
        if (n > INT64_MAX || !in_range_s(o, (int64_t)n))
            return -EINVAL;
        *(const char **)p = text;
        return 0;
    }
    case TW_OPT_INT:
    case TW_OPT_UINT:
    case TW_OPT_U64:
    case TW_OPT_PORT: {
        bool neg;
        uint64_t mag;
        int64_t klo;
        uint64_t khi;
        int_limits(o->kind, &klo, &khi);
        if (read_int(text, o->kind == TW_OPT_INT, &neg, &mag) < 0)
            return -EINVAL;
        if (neg) { /* TW_OPT_INT only */
            if (mag > (uint64_t)INT64_MAX || -(int64_t)mag < klo ||
                !in_range_s(o, -(int64_t)mag))
                return -EINVAL;
            *(int *)p = (int)-(int64_t)mag;
            return 0;
        }
        if (mag > khi || !in_range_u(o, mag))
            return -EINVAL;
        switch (o->kind) {
        case TW_OPT_INT: *(int *)p = (int)mag; break;
        case TW_OPT_UINT: *(unsigned *)p = (unsigned)mag; break;
        case TW_OPT_PORT: *(uint16_t *)p = (uint16_t)mag; break;
        default: *(uint64_t *)p = mag; break;
        }
        return 0;
    }
    case TW_OPT_DURATION: {
        tw_ns v;
        int rc = tw_parse_duration(text, &v);
        if (rc < 0) /* -ERANGE: past what a tw_ns holds */
            return rc;
        if (!in_range_s(o, v))
            return -EINVAL;
        *(tw_ns *)p = v;
        return 0;
    }
    case TW_OPT_BYTES:
    case TW_OPT_RATE: {
        uint64_t v;
        int rc = o->kind == TW_OPT_BYTES ? tw_parse_bytes(text, &v)
                                         : tw_parse_rate(text, &v);
        if (rc < 0)
            return rc;
        if (!in_range_u(o, v))
            return -EINVAL;
        *(uint64_t *)p = v;
        return 0;
    }
    case TW_OPT_HOSTPORT: {
        tw_opt_hostport *hp = p, v;
        if (tw_parse_hostport(text, v.host, sizeof v.host, &v.port) < 0)
            return -EINVAL;
        *hp = v;
        return 0;
    }
    case TW_OPT_PROBABILITY: {
        double v;
        if (tw_parse_probability(text, &v) < 0)
            return -EINVAL;
        *(double *)p = v;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

/* ---- defaults ---- */

static int set_defaults(const tw_opt *t, char *dst, char **end_argv,
                        const char *app, FILE *err)
{
    for (; t->kind != TW_OPT_END; t++) {
        void *p = dst + t->off;
        switch (t->kind) {
        case TW_OPT_INCLUDE:
            if (t->sub) {
                int rc = set_defaults(t->sub, (char *)p, end_argv, app, err);
                if (rc < 0)
                    return rc;
            }
            continue;
        case TW_OPT_FLAG: *(bool *)p = false; break;
        case TW_OPT_STRING: *(const char **)p = NULL; break;
        case TW_OPT_INT: *(int *)p = 0; break;
        case TW_OPT_UINT: *(unsigned *)p = 0; break;
        case TW_OPT_PORT: *(uint16_t *)p = 0; break;
        case TW_OPT_DURATION: *(tw_ns *)p = 0; break;
        case TW_OPT_U64:
        case TW_OPT_BYTES:
        case TW_OPT_RATE: *(uint64_t *)p = 0; break;
        case TW_OPT_HOSTPORT: memset(p, 0, sizeof(tw_opt_hostport)); break;
        case TW_OPT_PROBABILITY: *(double *)p = 0; break;
        case TW_OPT_ARGS: *(tw_opt_args *)p = (tw_opt_args){0, end_argv}; break;
        default: break;
        }
        /* A default is spelled as a value; one that does not parse is a
         * mistake in the table, reported as such. */
        if (t->def && (t->kind == TW_OPT_FLAG || t->kind == TW_OPT_ARGS ||
                       set_value(t, p, t->def) < 0)) {
            if (err)
                fprintf(err, "%s: --%s: bad default '%s' in the option table\n",
                        app, t->name ? t->name : "?", t->def);
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- suggestions ---- */

/* Offer g every name of t (its includes too): one that what was typed
 * begins counts as no edit away, any other as far as its edits. */
static void suggest(const tw_opt *t, const char *name, size_t len, tw_parse_guess *g)
{
    for (; t->kind != TW_OPT_END; t++) {
        if (t->kind == TW_OPT_INCLUDE) {
            if (t->sub)
                suggest(t->sub, name, len, g);
            continue;
        }
        if (!t->name)
            continue;
        bool begins = len >= 2 && strncmp(t->name, name, len) == 0;
        tw_parse_guess_offer(g, t->name, begins ? 0 : tw_parse_distance(name, len, t->name));
    }
}

/* ---- the command line ---- */

static const char *meta_of(const tw_opt *o);

/* Move argv[from .. from+n) to just before argv[to] (to <= from),
 * keeping the order of both runs. */
static void move_before(char **argv, int to, int from, int n)
{
    for (int k = 0; k < n; k++) {
        char *w = argv[from + k];
        memmove(&argv[to + k + 1], &argv[to + k],
                (size_t)(from + k - (to + k)) * sizeof *argv);
        argv[to + k] = w;
    }
}

/* A value too large for its kind to hold at all: say so, and the most
 * it can be, rather than that it is malformed. */
static void too_large(FILE *err, const char *app, const tw_opt *o, const char *v)
{
    char most[64];
    range r = entry_range(o);
    if (r.has_hi)
        fmt_value(o->kind, r.hi, most, sizeof most);
    else if (o->kind == TW_OPT_DURATION) /* whole hours in an int64 of ns */
        snprintf(most, sizeof most, "%" PRId64 "h", INT64_MAX / TW_SEC(3600));
    else
        snprintf(most, sizeof most, "%" PRIu64 "%s", UINT64_MAX,
                 o->kind == TW_OPT_RATE ? " bytes/s" : " bytes");
    fprintf(err, "%s: --%s: '%s' is too large (at most %s)\n", app, o->name, v, most);
}

static int bad_value(FILE *err, const char *app, const tw_opt *o, const char *v,
                     int rc)
{
    if (err && rc == -ERANGE) {
        too_large(err, app, o, v);
    } else if (err) {
        char what[160];
        expected(o, what, sizeof what);
        fprintf(err, "%s: --%s: expected %s, got '%s'\n", app, o->name, what, v);
    }
    return -EINVAL;
}

int tw_opts_parse(const tw_opt *table, void *dst, int argc, char **argv,
                  FILE *err)
{
    if (!table || !dst || argc < 1 || !argv)
        return -EINVAL;
    const char *app = argv[0] ? argv[0] : "?";
    char *base = dst;
    int rc = set_defaults(table, base, argv + argc, app, err);
    if (rc < 0)
        return rc;
    found args = {0};
    bool have_args = find_args(table, 0, &args);
    bool anywhere = have_args && (args.o->flags & TW_OPT_ARGS_ANYWHERE);
    int first = -1; /* the first operand, once one was seen */
    int i = 1;
    while (i < argc) {
        const char *w = argv[i];
        if (strcmp(w, "--") == 0) {
            if (first >= 0) {
                move_before(argv, first, i, 1);
                first++;
            }
            i++;
            if (first < 0)
                first = i;
            break;
        }
        if (strncmp(w, "--", 2) != 0) { /* an operand */
            if (!have_args) {
                if (err)
                    fprintf(err, w[0] == '-' && w[1] ? "%s: unknown option %s\n"
                                                     : "%s: unexpected argument '%s'\n",
                            app, w);
                return -EINVAL;
            }
            if (first < 0)
                first = i;
            if (!anywhere)
                break;
            i++;
            continue;
        }
        const char *name = w + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        found f;
        if (!find(table, 0, name, len, &f) || f.o->kind == TW_OPT_ARGS) {
            if (len == 4 && memcmp(name, "help", 4) == 0 && !eq) {
                if (err) {
                    fprintf(err, "usage: %s [OPTIONS]%s%s\n", app,
                            have_args ? " " : "", have_args ? meta_of(args.o) : "");
                    tw_opts_usage(table, err);
                }
                return -ECANCELED;
            }
            if (err) {
                tw_parse_guess g = TW_PARSE_GUESS_INIT;
                suggest(table, name, len, &g);
                fprintf(err, "%s: unknown option --%.*s", app, (int)len, name);
                if (tw_parse_guess_best(&g))
                    fprintf(err, " (did you mean --%s?)", tw_parse_guess_best(&g));
                fputc('\n', err);
            }
            return -EINVAL;
        }
        const tw_opt *o = f.o;
        void *p = base + f.base + o->off;
        int used = 1;
        if (o->kind == TW_OPT_FLAG) {
            if (eq) {
                if (err)
                    fprintf(err, "%s: --%s takes no value\n", app, o->name);
                return -EINVAL;
            }
            *(bool *)p = true;
        } else {
            const char *v = eq ? eq + 1 : NULL;
            if (!v) {
                if (i + 1 >= argc) {
                    if (err)
                        fprintf(err, "%s: --%s needs a value\n", app, o->name);
                    return -EINVAL;
                }
                v = argv[i + 1];
                used = 2;
            }
            int vrc = set_value(o, p, v);
            if (vrc < 0)
                return bad_value(err, app, o, v, vrc);
        }
        if (first >= 0) { /* options after operands: the operands go last */
            move_before(argv, first, i, used);
            first += used;
        }
        i += used;
    }
    if (!have_args) {
        if (first >= 0 && first < argc) { /* after "--" */
            if (err)
                fprintf(err, "%s: unexpected argument '%s'\n", app, argv[first]);
            return -EINVAL;
        }
        return 0;
    }
    if (first < 0)
        first = argc;
    tw_opt_args *a = (tw_opt_args *)(base + args.base + args.o->off);
    *a = (tw_opt_args){argc - first, argv + first};
    if (!in_range_s(args.o, a->argc)) {
        if (err) {
            range r = entry_range(args.o);
            fprintf(err, "%s: expected %s: ", app,
                    args.o->meta ? args.o->meta : "ARG...");
            if (r.has_hi)
                fprintf(err, "%" PRId64 "..%" PRId64, r.lo, r.hi);
            else
                fprintf(err, "at least %" PRId64, r.lo);
            fprintf(err, " argument%s, got %d\n", r.has_hi || r.lo != 1 ? "s" : "",
                    a->argc);
        }
        return -EINVAL;
    }
    return 0;
}

/* ---- the usage text ---- */

/* Where text goes: a FILE, or a buffer filled as snprintf fills one. */
typedef struct sink {
    FILE *f;
    char *buf;
    size_t cap, n;
    bool failed;
} sink;

static void put(sink *s, const char *p, size_t len)
{
    if (s->f) {
        if (len && fwrite(p, 1, len, s->f) != len)
            s->failed = true;
    } else if (s->n + 1 < s->cap) {
        size_t room = s->cap - 1 - s->n;
        memcpy(s->buf + s->n, p, len < room ? len : room);
    }
    s->n += len;
}

static void puts_(sink *s, const char *p) { put(s, p, strlen(p)); }

static void spaces(sink *s, size_t n)
{
    while (n--)
        put(s, " ", 1);
}

static const char *meta_of(const tw_opt *o)
{
    if (o->meta)
        return o->meta;
    switch (o->kind) {
    case TW_OPT_STRING: return "TEXT";
    case TW_OPT_PORT: return "PORT";
    case TW_OPT_DURATION: return "DURATION";
    case TW_OPT_BYTES: return "BYTES";
    case TW_OPT_RATE: return "RATE";
    case TW_OPT_HOSTPORT: return "HOST:PORT";
    case TW_OPT_PROBABILITY: return "P";
    case TW_OPT_ARGS: return "ARG...";
    default: return "N";
    }
}

/* The width of an entry's left part, "--name META" or the operands'. */
static size_t left_len(const tw_opt *o)
{
    if (o->kind == TW_OPT_ARGS)
        return strlen(meta_of(o));
    size_t n = 2 + strlen(o->name ? o->name : "");
    if (o->kind != TW_OPT_FLAG)
        n += 1 + strlen(meta_of(o));
    return n;
}

/* Left parts wider than this put their help on the next line. */
#define LEFT_MAX 22

static size_t widest(const tw_opt *t)
{
    size_t w = 0;
    for (; t->kind != TW_OPT_END; t++) {
        size_t n = t->kind == TW_OPT_INCLUDE ? (t->sub ? widest(t->sub) : 0)
                                             : left_len(t);
        if (n <= LEFT_MAX && n > w)
            w = n;
    }
    return w;
}

static void entry_usage(sink *s, const tw_opt *o, size_t col)
{
    size_t left = left_len(o);
    spaces(s, 2);
    if (o->kind == TW_OPT_ARGS) {
        puts_(s, meta_of(o));
    } else {
        puts_(s, "--");
        puts_(s, o->name ? o->name : "");
        if (o->kind != TW_OPT_FLAG) {
            puts_(s, " ");
            puts_(s, meta_of(o));
        }
    }
    const char *h = o->help ? o->help : "";
    if (!*h) {
        puts_(s, "\n");
        return;
    }
    if (2 + left + 1 > col) { /* too wide: the help starts below */
        puts_(s, "\n");
        spaces(s, col);
    } else {
        spaces(s, col - 2 - left);
    }
    for (;;) {
        const char *nl = strchr(h, '\n');
        size_t n = nl ? (size_t)(nl - h) : strlen(h);
        put(s, h, n);
        puts_(s, "\n");
        if (!nl || !nl[1])
            break;
        h = nl + 1;
        spaces(s, col);
    }
}

static void table_usage(sink *s, const tw_opt *t, size_t col, bool args)
{
    for (; t->kind != TW_OPT_END; t++) {
        if (t->kind == TW_OPT_INCLUDE) {
            if (t->sub)
                table_usage(s, t->sub, col, args);
        } else if ((t->kind == TW_OPT_ARGS) == args) {
            entry_usage(s, t, col);
        }
    }
}

static void usage(sink *s, const tw_opt *table)
{
    size_t col = 2 + widest(table) + 2;
    table_usage(s, table, col, false);
    table_usage(s, table, col, true); /* the operands last */
}

size_t tw_opts_format_usage(const tw_opt *table, char *buf, size_t len)
{
    sink s = {.buf = buf, .cap = len};
    if (table)
        usage(&s, table);
    if (len)
        buf[s.n < len ? s.n : len - 1] = '\0';
    return s.n;
}

int tw_opts_usage(const tw_opt *table, FILE *f)
{
    if (!f)
        return -EINVAL;
    sink s = {.f = f};
    if (table)
        usage(&s, table);
    return s.failed ? -EIO : 0;
}
