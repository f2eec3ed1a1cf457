/* scenario/yaml.c - typed, positioned reading of a libyaml document
 * (scenario/yaml.h).
 *
 * Map: loading (syntax errors and their place); errors; mappings;
 * sequences; scalars.
 *
 * The document API resolves aliases into shared nodes rather than
 * copies, and nothing here walks a document generically: each reader
 * looks only where the schema says, so aliases (even a node that
 * contains itself) cost nothing and cannot make a reader loop.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "scenario/yaml.h"
#include "twin/parse.h"

/* ---- loading ---- */

/* Line and column (1-based) of a byte offset, for reader errors (bad
 * UTF-8), which libyaml reports as an offset only. */
static sc_pos pos_of_offset(const char *text, size_t len, size_t off)
{
    sc_pos p = {1, 1};
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            p.line++;
            p.col = 1;
        } else {
            p.col++;
        }
    }
    return p;
}

static int syntax_error(sc_yaml *y, yaml_parser_t *ps, const char *text,
                        size_t len)
{
    sc_pos p = {(int)ps->problem_mark.line + 1, (int)ps->problem_mark.column + 1};
    if (ps->error == YAML_READER_ERROR)
        p = pos_of_offset(text, len, ps->problem_offset);
    snprintf(y->err, y->errlen, "%s:%d:%d: YAML %s: %s%s%s", y->file, p.line,
             p.col, ps->error == YAML_READER_ERROR ? "encoding error" : "syntax error",
             ps->problem ? ps->problem : "malformed",
             ps->context ? " " : "", ps->context ? ps->context : "");
    y->failed = true;
    return -EINVAL;
}

/* Refuse at the event where a limit is passed, placed at that event. */
static int limit_error(sc_yaml *y, const yaml_event_t *e, const char *msg)
{
    snprintf(y->err, y->errlen, "%s:%d:%d: %s", y->file,
             (int)e->start_mark.line + 1, (int)e->start_mark.column + 1, msg);
    y->failed = true;
    return -EINVAL;
}

/* libyaml's costs are not linear in everything a file can hold: its
 * scanner looks through every open flow level at each token, and its
 * document loader compares each anchor with all the earlier ones and
 * looks each alias up among them, so a 1 MiB "[[[[..." or a file of
 * anchors takes minutes. The events come one at a time, the scanner
 * reading ahead a bounded stretch only, so this pass over them stops at
 * the first level or anchor past the limits after little work; the
 * document is loaded only from text that passed. */
static int check_shape(sc_yaml *y, const char *text, size_t len)
{
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps))
        return -ENOMEM;
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    int depth = 0, rc = 0;
    long anchors = 0, aliases = 0;
    for (bool end = false; !end && rc == 0;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&ps, &e)) {
            rc = syntax_error(y, &ps, text, len);
            break;
        }
        const yaml_char_t *anchor = NULL;
        switch (e.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            anchor = e.type == YAML_SEQUENCE_START_EVENT ? e.data.sequence_start.anchor
                                                         : e.data.mapping_start.anchor;
            if (++depth > SC_YAML_DEPTH_MAX)
                rc = limit_error(y, &e, "lists and mappings nested more than "
                                        SC_STR_(SC_YAML_DEPTH_MAX) " deep");
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        case YAML_SCALAR_EVENT:
            anchor = e.data.scalar.anchor;
            break;
        case YAML_ALIAS_EVENT:
            if (++aliases > SC_YAML_ALIASES_MAX)
                rc = limit_error(y, &e, "more than " SC_STR_(SC_YAML_ALIASES_MAX)
                                        " aliases (*name)");
            break;
        case YAML_STREAM_END_EVENT:
            end = true;
            break;
        default:
            break;
        }
        if (anchor && rc == 0 && ++anchors > SC_YAML_ANCHORS_MAX)
            rc = limit_error(y, &e, "more than " SC_STR_(SC_YAML_ANCHORS_MAX)
                                    " anchors (&name)");
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&ps);
    return rc;
}

int sc_yaml_load(sc_yaml *y, const char *file, const char *text, size_t len,
                 char *err, size_t errlen)
{
    *y = (sc_yaml){.file = file, .err = err, .errlen = errlen};
    if (errlen)
        err[0] = '\0';
    int shape = check_shape(y, text, len);
    if (shape < 0)
        return shape;
    yaml_parser_t ps;
    if (!yaml_parser_initialize(&ps))
        return -ENOMEM;
    yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
    int rc = 0;
    if (!yaml_parser_load(&ps, &y->doc)) {
        rc = syntax_error(y, &ps, text, len);
        yaml_parser_delete(&ps);
        return rc;
    }
    y->loaded = true;
    if (!yaml_document_get_root_node(&y->doc)) {
        rc = sc_fail(y, NULL, "the file holds no scenario (it is empty)");
    } else {
        /* One scenario per file: a second document is a mistake. */
        yaml_document_t next;
        if (!yaml_parser_load(&ps, &next)) {
            rc = syntax_error(y, &ps, text, len);
        } else {
            yaml_node_t *root = yaml_document_get_root_node(&next);
            if (root) {
                sc_pos p = sc_pos_of(root);
                snprintf(err, errlen, "%s:%d:%d: a second YAML document: one "
                                      "scenario per file", file, p.line, p.col);
                y->failed = true;
                rc = -EINVAL;
            }
            yaml_document_delete(&next);
        }
    }
    yaml_parser_delete(&ps);
    return rc;
}

void sc_yaml_fini(sc_yaml *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    y->loaded = false;
}

yaml_node_t *sc_yaml_root(sc_yaml *y)
{
    return yaml_document_get_root_node(&y->doc);
}

/* ---- errors ---- */

sc_pos sc_pos_of(const yaml_node_t *n)
{
    if (!n)
        return (sc_pos){1, 1};
    return (sc_pos){(int)n->start_mark.line + 1, (int)n->start_mark.column + 1};
}

int sc_fail(sc_yaml *y, const yaml_node_t *n, const char *fmt, ...)
{
    if (y->failed)
        return -EINVAL;
    y->failed = true;
    sc_pos p = sc_pos_of(n);
    char msg[SC_KEYS_TEXT_MAX + 160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(y->err, y->errlen, "%s:%d:%d: %s", y->file, p.line, p.col, msg);
    return -EINVAL;
}

static const char *type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a single value";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

/* ---- mappings ---- */

int sc_map_len(const yaml_node_t *n)
{
    return n && n->type == YAML_MAPPING_NODE
               ? (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start)
               : 0;
}

yaml_node_t *sc_pair_key(sc_yaml *y, yaml_node_t *n, int i)
{
    return yaml_document_get_node(&y->doc, n->data.mapping.pairs.start[i].key);
}

yaml_node_t *sc_pair_value(sc_yaml *y, yaml_node_t *n, int i)
{
    return yaml_document_get_node(&y->doc, n->data.mapping.pairs.start[i].value);
}

/* The one key of keys nearest to name, if it is near enough to be what
 * was meant (fewer edits than half its length, and no other as near). */
static const char *key_guess(const char *name, const char *const keys[])
{
    tw_parse_guess g = TW_PARSE_GUESS_INIT;
    for (const char *const *x = keys; *x; x++)
        tw_parse_guess_offer(&g, *x, tw_parse_distance(name, strlen(name), *x));
    return tw_parse_guess_best(&g);
}

int sc_map(sc_yaml *y, yaml_node_t *n, const char *what,
           const char *const keys[])
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return sc_fail(y, n, "%s must be a mapping (key: value lines), not %s",
                       what, n ? type_name(n) : "nothing");
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        yaml_node_t *k = sc_pair_key(y, n, i);
        const char *name = sc_text(k);
        if (!name)
            return sc_fail(y, k, "a key in %s must be a plain word", what);
        bool known = false;
        for (const char *const *x = keys; *x && !known; x++)
            known = strcmp(*x, name) == 0;
        if (!known) {
            const char *guess = key_guess(name, keys);
            if (guess)
                return sc_fail(y, k, "unknown key '%.40s' in %s (did you mean '%s'?)",
                               name, what, guess);
            /* Every key, however many: a timeline entry takes dozens. */
            char list[SC_KEYS_TEXT_MAX] = "";
            for (const char *const *x = keys; *x; x++)
                snprintf(list + strlen(list), sizeof list - strlen(list),
                         "%s%s", x == keys ? "" : ", ", *x);
            return sc_fail(y, k, "unknown key '%.40s' in %s (expected one of: %s)",
                           name, what, list);
        }
        for (int j = 0; j < i; j++) {
            const char *other = sc_text(sc_pair_key(y, n, j));
            if (other && strcmp(other, name) == 0)
                return sc_fail(y, k, "duplicate key '%s' in %s", name, what);
        }
    }
    return 0;
}

yaml_node_t *sc_key(sc_yaml *y, yaml_node_t *n, const char *key)
{
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        yaml_node_t *k = sc_pair_key(y, n, i);
        const char *name = sc_text(k);
        if (name && strcmp(name, key) == 0)
            return k;
    }
    return NULL;
}

yaml_node_t *sc_get(sc_yaml *y, yaml_node_t *n, const char *key)
{
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        const char *name = sc_text(sc_pair_key(y, n, i));
        if (name && strcmp(name, key) == 0)
            return sc_pair_value(y, n, i);
    }
    return NULL;
}

/* ---- sequences ---- */

int sc_seq(sc_yaml *y, yaml_node_t *n, const char *what, int max, int *len)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return sc_fail(y, n, "%s must be a list, not %s", what,
                       n ? type_name(n) : "nothing");
    long items = n->data.sequence.items.top - n->data.sequence.items.start;
    if (items > max)
        return sc_fail(y, n, "%s has %ld items; at most %d are allowed", what,
                       items, max);
    *len = (int)items;
    return 0;
}

yaml_node_t *sc_item(sc_yaml *y, yaml_node_t *n, int i)
{
    return yaml_document_get_node(&y->doc, n->data.sequence.items.start[i]);
}

/* ---- scalars ---- */

bool sc_is_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE;
}

const char *sc_text(const yaml_node_t *n)
{
    if (!sc_is_scalar(n))
        return NULL;
    const char *s = (const char *)n->data.scalar.value;
    return strlen(s) == n->data.scalar.length ? s : NULL;
}

/* The scalar's text, or an error naming what was expected. */
static const char *scalar(sc_yaml *y, yaml_node_t *n, const char *what,
                          const char *expect)
{
    const char *s = sc_text(n);
    if (!s)
        sc_fail(y, n, "%s must be %s, not %s", what, expect,
                !n ? "nothing" : sc_is_scalar(n) ? "text with a NUL byte"
                                                 : type_name(n));
    return s;
}

int sc_str(sc_yaml *y, yaml_node_t *n, const char *what, char *buf,
           size_t len)
{
    const char *s = scalar(y, n, what, "text");
    if (!s)
        return -EINVAL;
    if (strlen(s) >= len)
        return sc_fail(y, n, "%s is too long (at most %zu characters)", what,
                       len - 1);
    strcpy(buf, s);
    return 0;
}

int sc_dur(sc_yaml *y, yaml_node_t *n, const char *what, tw_ns *out)
{
    const char *s = scalar(y, n, what, "a duration like 10s or 250ms");
    if (!s)
        return -EINVAL;
    int rc = tw_parse_duration(s, out);
    if (rc < 0 && rc != -ERANGE)
        return sc_fail(y, n, "%s must be a duration like 10s or 250ms, not '%.40s'",
                       what, s);
    /* Well formed, but past what a run can hold: say that, and the bound. */
    char most[32];
    tw_format_duration(SC_TIME_MAX, most, sizeof most);
    if (rc == -ERANGE || *out > SC_TIME_MAX)
        return sc_fail(y, n, "%s is too large: at most %s (a year), not '%.40s'", what,
                       most, s);
    if (*out < -SC_TIME_MAX)
        return sc_fail(y, n, "%s is too far below zero: at least -%s (a year), "
                             "not '%.40s'", what, most, s);
    return 0;
}

int sc_prob(sc_yaml *y, yaml_node_t *n, const char *what, double *out)
{
    const char *s = scalar(y, n, what, "a probability like 1% or 0.01");
    if (!s)
        return -EINVAL;
    if (tw_parse_probability(s, out) < 0)
        return sc_fail(y, n, "%s must be a probability like 1%% or 0.01, not '%.40s'",
                       what, s);
    return 0;
}

int sc_bytes(sc_yaml *y, yaml_node_t *n, const char *what, uint64_t *out)
{
    const char *s = scalar(y, n, what, "a size like 64KiB");
    if (!s)
        return -EINVAL;
    if (tw_parse_bytes(s, out) < 0)
        return sc_fail(y, n, "%s must be a size like 65536 or 64KiB, not '%.40s'",
                       what, s);
    return 0;
}

int sc_rate(sc_yaml *y, yaml_node_t *n, const char *what, uint64_t *out)
{
    const char *s = scalar(y, n, what, "a rate like 10MB/s");
    if (!s)
        return -EINVAL;
    if (tw_parse_rate(s, out) < 0)
        return sc_fail(y, n, "%s must be a rate like 10MB/s or 100Mbit/s, not '%.40s'",
                       what, s);
    return 0;
}

/* 1 true, 0 false, -1 neither. */
static int bool_word(const char *s)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "on", NULL};
    static const char *const no[] = {"false", "False", "FALSE", "no", "off", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

bool sc_is_bool(const char *s) { return s && bool_word(s) >= 0; }

int sc_bool(sc_yaml *y, yaml_node_t *n, const char *what, bool *out)
{
    const char *s = scalar(y, n, what, "true or false");
    if (!s)
        return -EINVAL;
    int b = bool_word(s);
    if (b < 0)
        return sc_fail(y, n, "%s must be true or false, not '%.40s'", what, s);
    *out = b == 1;
    return 0;
}

int sc_int(sc_yaml *y, yaml_node_t *n, const char *what, long long min,
           long long max, long long *out)
{
    const char *s = scalar(y, n, what, "a whole number");
    if (!s)
        return -EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < min || v > max)
        return sc_fail(y, n, "%s must be a whole number from %lld to %lld, not '%.40s'",
                       what, min, max, s);
    *out = v;
    return 0;
}

int sc_noderef(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
               const char *what, int *idx)
{
    const char *s = scalar(y, n, what, "a node's name");
    if (!s)
        return -EINVAL;
    int i = sc_node_index(sc, s);
    if (i < 0) {
        char list[200] = "";
        for (int k = 0; k < sc->nnodes && strlen(list) < 150; k++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     k ? ", " : "", sc->nodes[k].name);
        return sc_fail(y, n, "unknown node '%.40s' in %s (nodes: %s)", s, what,
                       list);
    }
    *idx = i;
    return 0;
}
