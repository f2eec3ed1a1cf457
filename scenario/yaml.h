/* scenario/yaml.h - reading a libyaml document the way a schema does:
 * every value typed, every key known, every mistake placed at its line
 * and column. Shared by scenario/load.c, netparse.c and timeline.c.
 *
 * Error rule: each sc_* reader returns 0, or -EINVAL after writing
 * "file:line:column: message" into the error buffer (the first error
 * wins; later ones are ignored, so callers may simply propagate).
 * Positions are 1-based, as editors count.
 */
#ifndef TWIN_SCENARIO_YAML_H
#define TWIN_SCENARIO_YAML_H

#include <yaml.h>

#include "scenario/internal.h"

typedef struct sc_yaml {
    yaml_document_t doc;
    bool loaded;
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
} sc_yaml;

/* Limits on a file's shape, checked on libyaml's events before the
 * document is built (yaml.c says why): how deep lists and mappings nest,
 * and how many anchors and aliases a file has. The shipped scenarios nest
 * four deep and use neither. */
#define SC_YAML_DEPTH_MAX 64
#define SC_YAML_ANCHORS_MAX 256
#define SC_YAML_ALIASES_MAX 4096
#define SC_STR_(x) SC_STR2_(x)
#define SC_STR2_(x) #x

/* Parse text as exactly one YAML document: 0, -EINVAL (error set) or
 * -ENOMEM. A file past the limits above is refused at the place where it
 * passes them, before any document is built. */
int sc_yaml_load(sc_yaml *y, const char *file, const char *text, size_t len,
                 char *err, size_t errlen);
void sc_yaml_fini(sc_yaml *y);
yaml_node_t *sc_yaml_root(sc_yaml *y);

/* Report a problem at node n (NULL: the start of the file). -EINVAL. */
__attribute__((format(printf, 3, 4)))
int sc_fail(sc_yaml *y, const yaml_node_t *n, const char *fmt, ...);
sc_pos sc_pos_of(const yaml_node_t *n);

/* ---- mappings ----
 * sc_map checks that n is a mapping whose keys are all plain strings
 * from keys[] (NULL-terminated), none twice. what names n in messages.
 * An unknown key is answered with the key it is a typo of, if one is
 * near, else with every key of keys[], whose text (", " between them)
 * must fit in SC_KEYS_TEXT_MAX bytes. */
#define SC_KEYS_TEXT_MAX 640
int sc_map(sc_yaml *y, yaml_node_t *n, const char *what,
           const char *const keys[]);
/* The value of key in mapping n, or NULL. */
yaml_node_t *sc_get(sc_yaml *y, yaml_node_t *n, const char *key);
/* The key node of key (for messages about the key itself), or NULL. */
yaml_node_t *sc_key(sc_yaml *y, yaml_node_t *n, const char *key);
/* The i-th pair's key and value. */
int sc_map_len(const yaml_node_t *n);
yaml_node_t *sc_pair_key(sc_yaml *y, yaml_node_t *n, int i);
yaml_node_t *sc_pair_value(sc_yaml *y, yaml_node_t *n, int i);

/* ---- sequences ---- */
/* n must be a sequence of at most max items; *len gets their count. */
int sc_seq(sc_yaml *y, yaml_node_t *n, const char *what, int max, int *len);
yaml_node_t *sc_item(sc_yaml *y, yaml_node_t *n, int i);

/* ---- scalars ---- */
bool sc_is_scalar(const yaml_node_t *n);
/* The scalar's text (NUL-terminated by libyaml), or NULL if n is not a
 * scalar or holds a NUL byte. */
const char *sc_text(const yaml_node_t *n);
int sc_str(sc_yaml *y, yaml_node_t *n, const char *what, char *buf,
           size_t len);
int sc_dur(sc_yaml *y, yaml_node_t *n, const char *what, tw_ns *out);
int sc_prob(sc_yaml *y, yaml_node_t *n, const char *what, double *out);
int sc_bytes(sc_yaml *y, yaml_node_t *n, const char *what, uint64_t *out);
int sc_rate(sc_yaml *y, yaml_node_t *n, const char *what, uint64_t *out);
int sc_bool(sc_yaml *y, yaml_node_t *n, const char *what, bool *out);
/* s is one of the words sc_bool takes. */
bool sc_is_bool(const char *s);
int sc_int(sc_yaml *y, yaml_node_t *n, const char *what, long long min,
           long long max, long long *out);
/* A node name; *idx gets its index in sc. */
int sc_noderef(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
               const char *what, int *idx);

/* ---- schema readers shared by the parse files ---- */
/* netparse.c: network settings in mapping n into *p (path-level keys
 * only when world is NULL), on top of what *p holds. */
int sc_parse_net(sc_yaml *y, yaml_node_t *n, const char *what,
                 tw_sim_path_opts *p, sc_world *world);
/* netparse.c: a gilbert_elliott mapping into *m. */
int sc_parse_ge(sc_yaml *y, yaml_node_t *n, tw_sim_loss_model *m);
/* timeline.c: one timeline entry. */
int sc_parse_fault(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
                   sc_fault *f);
/* load.c: a list of node names into indices. */
int sc_parse_node_list(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
                       const char *what, int *out, int *count);
/* swarm.c: the swarm section. */
int sc_parse_swarm(sc_yaml *y, tw_scenario *sc, yaml_node_t *n);
/* appcheck.c: start every app once to check its arguments. */
int sc_check_apps(sc_yaml *y, const tw_scenario *sc);

#endif
