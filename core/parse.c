/* core/parse.c - durations, sizes, rates, probabilities and HOST:PORT as
 * people type them (twin/parse.h).
 *
 * Map: decimals (the exact core every parser uses); suffixes; the
 * parsers; formatting.
 *
 * A decimal is read into an integer mantissa and a count of fraction
 * digits, then scaled by the unit with integer arithmetic and checked for
 * overflow: "0.1s" becomes exactly 100,000,000 ns, never 99,999,999 from
 * a double's rounding.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/parse.h"

/* ---- decimals ---- */

typedef struct dec {
    bool neg;
    uint64_t mant;  /* digits without the point */
    unsigned frac;  /* how many of them follow the point */
} dec;

/* Read [-]digits[.digits] from *s; *s is moved past it. 0 or -EINVAL. */
static int read_dec(const char **s, dec *d, bool allow_neg)
{
    const char *p = *s;
    *d = (dec){0};
    if (*p == '-' && allow_neg) {
        d->neg = true;
        p++;
    }
    bool any = false, point = false;
    for (;; p++) {
        if (*p == '.' && !point) {
            point = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            break;
        if (d->mant > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        d->mant = d->mant * 10 + (uint64_t)(*p - '0');
        d->frac += point;
        any = true;
    }
    if (!any)
        return -EINVAL;
    *s = p;
    return 0;
}

/* mant / 10^frac * unit, exactly; -EINVAL if it is not a whole number,
 * -ERANGE on overflow. */
static int scale(const dec *d, uint64_t unit, uint64_t *out)
{
    unsigned __int128 v = (unsigned __int128)d->mant * unit;
    for (unsigned i = 0; i < d->frac; i++) {
        if (v % 10)
            return -EINVAL; /* finer than the smallest unit */
        v /= 10;
    }
    if (v > INT64_MAX)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

/* ---- suffixes ---- */

typedef struct suffix {
    const char *name;
    uint64_t unit;
} suffix;

static const suffix *find_suffix(const suffix *table, const char *s)
{
    for (const suffix *x = table; x->name; x++)
        if (strcmp(x->name, s) == 0)
            return x;
    return NULL;
}

static const suffix time_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* µs */
    {"ms", 1000000},
    {"s", 1000000000},
    {"", 1000000000}, /* a bare number is seconds */
    {"m", UINT64_C(60000000000)},
    {"h", UINT64_C(3600000000000)},
    {NULL, 0},
};

static const suffix byte_units[] = {
    {"", 1}, {"B", 1},
    {"KB", 1000}, {"kB", 1000}, {"MB", 1000000}, {"GB", 1000000000},
    {"KiB", 1024}, {"MiB", 1048576}, {"GiB", 1073741824},
    {NULL, 0},
};

/* Rates in bytes per second; bit rates are divided by 8 after scaling. */
static const suffix rate_units[] = {
    {"", 1}, {"B/s", 1},
    {"KB/s", 1000}, {"kB/s", 1000}, {"MB/s", 1000000}, {"GB/s", 1000000000},
    {"KiB/s", 1024}, {"MiB/s", 1048576}, {"GiB/s", 1073741824},
    {"bit/s", 1}, {"kbit/s", 1000}, {"Kbit/s", 1000}, {"Mbit/s", 1000000},
    {"Gbit/s", 1000000000},
    {NULL, 0},
};

/* ---- the parsers ---- */

int tw_parse_duration(const char *s, tw_ns *out)
{
    dec d;
    int rc;
    if (!s || (rc = read_dec(&s, &d, true)) < 0)
        return s ? rc : -EINVAL;
    const suffix *u = find_suffix(time_units, s);
    uint64_t v;
    if (!u)
        return -EINVAL;
    if ((rc = scale(&d, u->unit, &v)) < 0)
        return rc;
    *out = d.neg ? -(tw_ns)v : (tw_ns)v;
    return 0;
}

int tw_parse_bytes(const char *s, uint64_t *out)
{
    dec d;
    int rc;
    if (!s || (rc = read_dec(&s, &d, false)) < 0)
        return s ? rc : -EINVAL;
    const suffix *u = find_suffix(byte_units, s);
    return u ? scale(&d, u->unit, out) : -EINVAL;
}

int tw_parse_rate(const char *s, uint64_t *bytes_per_sec)
{
    dec d;
    int rc;
    if (!s || (rc = read_dec(&s, &d, false)) < 0)
        return s ? rc : -EINVAL;
    const suffix *u = find_suffix(rate_units, s);
    if (!u)
        return -EINVAL;
    uint64_t v;
    if ((rc = scale(&d, u->unit, &v)) < 0)
        return rc;
    if (strstr(u->name, "bit"))
        v /= 8;
    *bytes_per_sec = v;
    return 0;
}

/* A probability is a double, so it is read by strtod (correctly rounded:
 * what "%.17g" wrote reads back to the same double); only digits, one
 * point and an exponent are let through to it, never "nan" or hex. */
int tw_parse_probability(const char *s, double *out)
{
    if (!s || !*s)
        return -EINVAL;
    size_t n = strspn(s, "0123456789.eE+-");
    bool percent = strcmp(s + n, "%") == 0;
    if (!n || (s[n] && !percent) || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.'))
        return -EINVAL;
    char num[64];
    if (n >= sizeof num)
        return -EINVAL;
    memcpy(num, s, n);
    num[n] = '\0';
    char *end;
    double v = strtod(num, &end);
    if (*end || v != v)
        return -EINVAL;
    if (percent)
        v /= 100;
    if (v < 0)
        return -EINVAL;
    if (v > 1)
        return -ERANGE;
    *out = v;
    return 0;
}

int tw_parse_port(const char *s, uint16_t *out)
{
    const char *p = s;
    dec d;
    uint64_t v;
    if (!s || read_dec(&p, &d, false) < 0 || *p || d.frac || scale(&d, 1, &v) < 0 ||
        v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

int tw_parse_hostport(const char *s, char *host, size_t hlen, uint16_t *port)
{
    const char *colon = s ? strrchr(s, ':') : NULL;
    if (!colon || colon == s || !host || !hlen)
        return -EINVAL;
    const char *h = s;
    size_t n = (size_t)(colon - s);
    if (s[0] == '[' && colon[-1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= hlen)
        return -EINVAL;
    uint16_t v;
    if (tw_parse_port(colon + 1, &v) < 0 || v == 0)
        return -EINVAL;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = v;
    return 0;
}

/* ---- formatting ---- */

char *tw_format_hostport(const char *host, uint16_t port, char *buf, size_t len)
{
    if (!host || !*host)
        snprintf(buf, len, "*:%u", (unsigned)port);
    else if (strchr(host, ':'))
        snprintf(buf, len, "[%s]:%u", host, (unsigned)port);
    else
        snprintf(buf, len, "%s:%u", host, (unsigned)port);
    return buf;
}

char *tw_format_duration(tw_ns ns, char *buf, size_t len)
{
    static const suffix units[] = {
        {"h", UINT64_C(3600000000000)}, {"m", UINT64_C(60000000000)},
        {"s", 1000000000}, {"ms", 1000000}, {"us", 1000}, {"ns", 1},
        {NULL, 0},
    };
    uint64_t mag = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    const suffix *u = &units[5];
    for (const suffix *x = units; x->name && mag; x++)
        if (mag % x->unit == 0) {
            u = x;
            break;
        }
    if (mag == 0)
        u = &units[2]; /* "0s" */
    if (u == &units[5] && mag >= 1000) {
        /* No whole number of any unit: the largest decimal unit it
         * reaches, with the exact fraction ("1.859375ms", not ns). */
        const suffix *d = mag >= 1000000000 ? &units[2] : mag >= 1000000 ? &units[3]
                                                                         : &units[4];
        int digits = d == &units[2] ? 9 : d == &units[3] ? 6 : 3;
        uint64_t frac = mag % d->unit;
        while (frac % 10 == 0) { /* trailing zeros go */
            frac /= 10;
            digits--;
        }
        snprintf(buf, len, "%s%llu.%0*llu%s", ns < 0 ? "-" : "",
                 (unsigned long long)(mag / d->unit), digits, (unsigned long long)frac,
                 d->name);
        return buf;
    }
    snprintf(buf, len, "%s%llu%s", ns < 0 ? "-" : "",
             (unsigned long long)(mag / u->unit), u->name);
    return buf;
}

/* ---- names mistyped ---- */

/* Optimal string alignment distance (Damerau's, each piece edited once),
 * capped. */
unsigned tw_parse_distance(const char *a, size_t la, const char *b)
{
    enum { CAP = TW_PARSE_FAR, MAXLEN = 64 };
    size_t lb = strlen(b);
    if (la > MAXLEN || lb > MAXLEN)
        return CAP;
    if ((la > lb ? la - lb : lb - la) >= CAP)
        return CAP;
    unsigned d[MAXLEN + 1][MAXLEN + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1];
            unsigned v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb] < CAP ? d[la][lb] : CAP;
}

void tw_parse_guess_offer(tw_parse_guess *g, const char *name, unsigned d)
{
    if (d >= TW_PARSE_FAR || d * 2 >= strlen(name))
        return; /* no typo of it: too far off */
    if (!g->best || d < g->d) {
        *g = (tw_parse_guess){name, d, false};
    } else if (d == g->d) {
        g->tie = true;
    }
}

const char *tw_parse_guess_best(const tw_parse_guess *g)
{
    return g->tie ? NULL : g->best;
}
