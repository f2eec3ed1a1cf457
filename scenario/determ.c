/* scenario/determ.c - `--check-determinism`: run a seed twice and show
 * where the two traces part.
 *
 * Map: a recording FILE (each trace line hashed and kept in a temporary
 * file); the comparison; the report.
 *
 * Both runs write the readable trace, so what is compared is what a
 * person would read; the hash of every line is kept in memory and the
 * lines themselves in a temporary file, read back only around the first
 * difference. A difference means something in the run escaped the seed
 * (a wall clock, an uninitialised byte, a pointer's value): the two lines
 * printed are where to start looking.
 */
#define _GNU_SOURCE /* fopencookie */
#include <stdlib.h>
#include <string.h>

#include "scenario/internal.h"

#define CONTEXT 3

/* ---- a recording FILE ---- */

typedef struct recording {
    FILE *lines;     /* every line, for the report */
    uint64_t *hash;  /* one per line */
    size_t n, cap;
    uint64_t h;      /* of the line being written */
    bool oom;
} recording;

static ssize_t rec_write(void *cookie, const char *buf, size_t len)
{
    recording *r = cookie;
    fwrite(buf, 1, len, r->lines);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            r->h = (r->h ^ (uint8_t)buf[i]) * UINT64_C(0x100000001b3);
            continue;
        }
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 4096;
            uint64_t *nh = realloc(r->hash, cap * sizeof *nh);
            if (!nh) {
                r->oom = true;
                return (ssize_t)len;
            }
            r->hash = nh;
            r->cap = cap;
        }
        r->hash[r->n++] = r->h;
        r->h = UINT64_C(0xcbf29ce484222325);
    }
    return (ssize_t)len;
}

static int record(const tw_scenario *sc, uint64_t seed, bool swarm,
                  recording *r, uint64_t *trace_hash)
{
    *r = (recording){.h = UINT64_C(0xcbf29ce484222325), .lines = tmpfile()};
    static const cookie_io_functions_t io = {.write = rec_write};
    FILE *f = r->lines ? fopencookie(r, "w", io) : NULL;
    if (!f)
        return -ENOMEM;
    tw_scenario_run_opts o = {.swarm = swarm, .trace = f};
    tw_scenario_result res;
    int rc = sc_run(sc, seed, &o, &res);
    fclose(f);
    if (rc == 0) {
        *trace_hash = res.hash;
        tw_scenario_result_fini(&res);
    }
    return rc < 0 ? rc : r->oom ? -ENOMEM : 0;
}

/* ---- the report ---- */

static void print_lines(FILE *lines, size_t from, size_t to, size_t mark,
                        FILE *out, const char *label)
{
    char buf[600];
    size_t i = 0;
    rewind(lines);
    while (i <= to && fgets(buf, sizeof buf, lines)) {
        if (i >= from)
            fprintf(out, "  %s %s line %zu: %s", i == mark ? ">>" : "  ", label,
                    i + 1, buf);
        i += strchr(buf, '\n') != NULL;
    }
    if (mark >= i)
        fprintf(out, "  >> %s: (its trace ends after %zu lines)\n", label, i);
}

int tw_scenario_check_determinism(const tw_scenario *sc, uint64_t seed,
                                  bool swarm, FILE *report)
{
    recording a, b;
    uint64_t ha = 0, hb = 0;
    int rc = record(sc, seed, swarm, &a, &ha);
    if (rc == 0)
        rc = record(sc, seed, swarm, &b, &hb);
    else
        b = (recording){0};
    if (rc == 0) {
        size_t k = 0, n = a.n < b.n ? a.n : b.n;
        while (k < n && a.hash[k] == b.hash[k])
            k++;
        if (!report)
            report = stderr;
        if (k < n || a.n != b.n || ha != hb) {
            fprintf(report, "seed %llu: the two runs part at trace line %zu "
                            "(hashes %016llx and %016llx):\n",
                    (unsigned long long)seed, k + 1, (unsigned long long)ha,
                    (unsigned long long)hb);
            size_t from = k > CONTEXT ? k - CONTEXT : 0;
            print_lines(a.lines, from, k, k, report, "run 1");
            print_lines(b.lines, from, k, k, report, "run 2");
            rc = -EPROTO;
        } else {
            fprintf(report, "seed %llu: %zu trace lines, hash %016llx, twice\n",
                    (unsigned long long)seed, a.n, (unsigned long long)ha);
        }
    }
    if (a.lines)
        fclose(a.lines);
    if (b.lines)
        fclose(b.lines);
    free(a.hash);
    free(b.hash);
    return rc;
}
