/* twin/opts.h - an app's options as one table: parsed, defaulted and
 * described from the same entries, so the usage text cannot drift from
 * what the parser accepts.
 *
 *     typedef struct srv_opts { const char *host; uint16_t port; bool quiet; } srv_opts;
 *     static const tw_opt srv_table[] = {
 *         {.name = "host", TW_OPT_FIELD(TW_OPT_STRING, srv_opts, host),
 *          .def = "127.0.0.1", .meta = "HOST", .help = "address to listen on"},
 *         {.name = "port", TW_OPT_FIELD(TW_OPT_PORT, srv_opts, port),
 *          .def = "8888", .help = "port (default 8888)"},
 *         {.name = "quiet", TW_OPT_FIELD(TW_OPT_FLAG, srv_opts, quiet),
 *          .help = "no output"},
 *         {0},
 *     };
 *     srv_opts o;
 *     int rc = tw_opts_parse(srv_table, &o, argc, argv, out);
 *
 * The command line: argv[0] is the app's name (it starts every message);
 * then `--name value` or `--name=value` for an option with a value,
 * `--name` for a flag; `--` ends the options. Anything else is an operand
 * (a word not starting with `--`, "-" and "-x" included): an error unless
 * the table has a TW_OPT_ARGS entry. Names are matched exactly (no
 * abbreviations, no one-letter forms). An option given twice keeps the
 * last value.
 *
 * Values are spelled as twin/parse.h spells them: durations ("250ms"),
 * byte counts ("64KiB"), rates ("10MB/s"), probabilities ("1%"),
 * HOST:PORT. Integers are decimal digits only (a leading '-' for
 * TW_OPT_INT).
 *
 * Reentrant: no global state, no getopt. The table is constant data; a
 * parse reads argv and writes only the struct it is given (and, with a
 * TW_OPT_ARGS_ANYWHERE entry, reorders argv), so apps started many times
 * in one process (simulated nodes) parse independently.
 */
#ifndef TWIN_OPTS_H
#define TWIN_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an option holds, and the C type of the field it is stored in. */
typedef enum tw_opt_kind {
    TW_OPT_END = 0,     /* ends a table (an all-zero entry) */
    TW_OPT_FLAG,        /* bool: true when given; takes no value */
    TW_OPT_STRING,      /* const char *: the argument itself (into argv,
                           or the default's text); min/max: its length */
    TW_OPT_INT,         /* int, decimal */
    TW_OPT_UINT,        /* unsigned, decimal */
    TW_OPT_U64,         /* uint64_t, decimal */
    TW_OPT_PORT,        /* uint16_t, decimal, 0..65535 */
    TW_OPT_DURATION,    /* tw_ns, tw_parse_duration (may be negative) */
    TW_OPT_BYTES,       /* uint64_t, tw_parse_bytes */
    TW_OPT_RATE,        /* uint64_t bytes per second, tw_parse_rate */
    TW_OPT_HOSTPORT,    /* tw_opt_hostport, tw_parse_hostport (port 1..65535) */
    TW_OPT_PROBABILITY, /* double, tw_parse_probability (0..1) */
    TW_OPT_ARGS,        /* tw_opt_args: the operands (no name) */
    TW_OPT_INCLUDE,     /* the options of `sub` (no name), their offsets
                           taken from `off` (a struct inside the parent) */
} tw_opt_kind;

typedef struct tw_opt_hostport {
    char host[256];
    uint16_t port;
} tw_opt_hostport;

/* The operands, in order: argv[0..argc) are pointers into the argv given
 * to tw_opts_parse, and argv[argc] is that argv's terminating NULL. */
typedef struct tw_opt_args {
    int argc;
    char **argv;
} tw_opt_args;

/* TW_OPT_ARGS flags. Without TW_OPT_ARGS_ANYWHERE the first operand ends
 * the options (everything after it is an operand: a program and its own
 * options). With it, options and operands may be mixed; argv is then
 * reordered, as GNU getopt does, so that the operands come last, in
 * their order. */
#define TW_OPT_ARGS_ANYWHERE 1u

typedef struct tw_opt {
    const char *name;  /* without the dashes: "port" */
    tw_opt_kind kind;
    size_t off;        /* where the value goes: an offset into the struct
                          passed to tw_opts_parse (TW_OPT_FIELD checks
                          that the field's type fits the kind) */
    const char *def;   /* the default, spelled as on the command line and
                          parsed as the value would be; NULL: zero, false,
                          NULL, no operands. A flag has none. */
    /* Bounds, applied when either is non-zero: the value (a string's
     * length, the number of operands) must lie in min..max; max 0 means
     * no upper bound. Durations in ns, byte counts in bytes, rates in
     * bytes per second. Not for flags, HOST:PORT and probabilities. */
    int64_t min, max;
    const char *meta;  /* the value's name in the usage ("HOST:PORT");
                          NULL: the kind's ("N", "DURATION", "BYTES", ...) */
    const char *help;  /* the usage text; each '\n' starts a line of its
                          own, indented to the same column */
    const struct tw_opt *sub; /* TW_OPT_INCLUDE: the included table */
    unsigned flags;    /* TW_OPT_ARGS_* */
} tw_opt;

/* The C type each kind is stored in (used by TW_OPT_FIELD). */
#define TW__OPT_CTYPE_TW_OPT_FLAG bool
#define TW__OPT_CTYPE_TW_OPT_STRING const char *
#define TW__OPT_CTYPE_TW_OPT_INT int
#define TW__OPT_CTYPE_TW_OPT_UINT unsigned
#define TW__OPT_CTYPE_TW_OPT_U64 uint64_t
#define TW__OPT_CTYPE_TW_OPT_PORT uint16_t
#define TW__OPT_CTYPE_TW_OPT_DURATION tw_ns
#define TW__OPT_CTYPE_TW_OPT_BYTES uint64_t
#define TW__OPT_CTYPE_TW_OPT_RATE uint64_t
#define TW__OPT_CTYPE_TW_OPT_HOSTPORT tw_opt_hostport
#define TW__OPT_CTYPE_TW_OPT_PROBABILITY double
#define TW__OPT_CTYPE_TW_OPT_ARGS tw_opt_args

/* `.kind = k, .off = offsetof(stype, field)` for a table entry, and a
 * compile error when the field's type is not the one kind k is stored in
 * (k is one of the TW_OPT_* names, spelled out). */
#define TW_OPT_FIELD(k, stype, field)                                       \
    .kind = k,                                                              \
    .off = _Generic(((stype *)0)->field,                                    \
                    TW__OPT_CTYPE_##k: offsetof(stype, field))

/* Reset every option of table in *dst to its default (fields no entry
 * names are not touched: zero the struct first when something reads
 * them), then apply argv (argc words, argv[0] the app's name). 0 on
 * success. On a bad command
 * line one message naming the option and what it expected is written to
 * err (when not NULL), for example
 *     echo-client: --count: expected a non-negative integer, got 'abc'
 *     echo-load: --timeout: '99999999999h' is too large (at most 2562047h)
 *     echo-client: unknown option --prot (did you mean --port?)
 *     echo-client: --connect needs a value
 *     echo-client: --quiet takes no value
 *     echo-client: unexpected argument 'x'
 * and -EINVAL is returned; *dst is then partly written. `--help`, unless
 * the table has an option of that name, writes "usage: APP [OPTIONS]"
 * and the usage to err and returns -ECANCELED. String values and the
 * operands point into argv (or into the defaults): argv must outlive
 * their use. */
int tw_opts_parse(const tw_opt *table, void *dst, int argc, char **argv,
                  FILE *err);

/* The usage text of table: one line per option, "  --name META", then its
 * help from a column shared by the table (on the next line for a name
 * too long for it), then the operands' line. As snprintf: writes at most
 * len bytes (NUL-terminated when len > 0) and returns the length of the
 * whole text. */
size_t tw_opts_format_usage(const tw_opt *table, char *buf, size_t len);
/* The same text written to f; 0 or -EIO. */
int tw_opts_usage(const tw_opt *table, FILE *f);

/* Define `static char var[size]` holding table's usage text, filled when
 * the program (or the shared object) is loaded, for a tw_app's constant
 * `usage`. A text longer than size - 1 is cut (tw_app.opts lets a test
 * compare it with tw_opts_format_usage). */
#define TW_OPTS_USAGE_TEXT(var, size, table)                                \
    static char var[size];                                                  \
    __attribute__((constructor)) static void var##_fill(void)               \
    {                                                                       \
        tw_opts_format_usage(table, var, sizeof var);                       \
    }

#ifdef __cplusplus
}
#endif
#endif
