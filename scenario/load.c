/* scenario/load.c - a scenario file into the model.
 *
 * Map: nodes and their apps; paths; the timeline; quiet; expect; the
 * top level; reading the file. (The swarm section is read in swarm.c,
 * the apps' arguments checked in appcheck.c.)
 *
 * Sections are read in a fixed order whatever their order in the file
 * (nodes before anything that names one, network before paths, which
 * start from it), and every value is checked where it stands, so a
 * mistake is reported at its own line and column.
 */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"
#include "twin/error.h"
#include "twin/parse.h"

#define FILE_MAX (4 << 20)

/* ---- nodes and their apps ---- */

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* The names of the apps this program knows, comma separated, cut with
 * "..." where len would be passed. */
static void app_names(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (const tw_app *const *a = tw_apps(); *a; a++) {
        const char *sep = n ? ", " : "";
        if (n + strlen(sep) + strlen((*a)->name) + sizeof ", ..." > len) {
            snprintf(buf + n, len - n, "%s...", sep);
            return;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, (*a)->name);
    }
}

/* The app whose name name is a typo of (as a key's "did you mean"), or
 * NULL: none near enough, or two as near. */
static const char *app_guess(const char *name)
{
    tw_parse_guess g = TW_PARSE_GUESS_INIT;
    for (const tw_app *const *a = tw_apps(); *a; a++)
        tw_parse_guess_offer(&g, (*a)->name,
                             tw_parse_distance(name, strlen(name), (*a)->name));
    return tw_parse_guess_best(&g);
}

static int parse_app(sc_yaml *y, yaml_node_t *name_n, yaml_node_t *args_n,
                     sc_app *app)
{
    char name[SC_STR_MAX];
    *app = (sc_app){.pos = sc_pos_of(name_n)};
    if (sc_str(y, name_n, "app", name, sizeof name) < 0)
        return -EINVAL;
    if (!(app->app = tw_app_find(name))) {
        /* A user's app missing here is most often one whose shared
         * object was not loaded: say how, beside the names known. */
        const char *guess = app_guess(name);
        if (guess)
            return sc_fail(y, name_n, "unknown app '%.40s' (did you mean '%s'? apps "
                           "of a shared object need --load FILE.so)", name, guess);
        char known[240];
        app_names(known, sizeof known);
        return sc_fail(y, name_n, "unknown app '%.40s' (this program has: %s; "
                       "apps of a shared object need --load FILE.so)", name, known);
    }
    int n = 0;
    if (args_n && sc_seq(y, args_n, "args", SC_ARGS_MAX, &n) < 0)
        return -EINVAL;
    app->argv = calloc((size_t)n + 2, sizeof *app->argv);
    if (!app->argv || !(app->argv[0] = strdup(name)))
        return sc_fail(y, name_n, "out of memory");
    app->argc = 1;
    for (int i = 0; i < n; i++) {
        char arg[SC_STR_MAX];
        if (sc_str(y, sc_item(y, args_n, i), "an argument", arg, sizeof arg) < 0)
            return -EINVAL;
        if (!(app->argv[app->argc] = strdup(arg)))
            return sc_fail(y, args_n, "out of memory");
        app->argc++;
    }
    if (args_n)
        app->pos = sc_pos_of(args_n);
    return 0;
}

static int parse_apps(sc_yaml *y, yaml_node_t *n, sc_node *node)
{
    yaml_node_t *app = sc_get(y, n, "app"), *args = sc_get(y, n, "args");
    yaml_node_t *apps = sc_get(y, n, "apps");
    if (app && apps)
        return sc_fail(y, apps, "a node takes app (with args) or apps, not both");
    if (args && !app)
        return sc_fail(y, args, "args belong to an app: add app: NAME");
    int len = app ? 1 : 0;
    if (apps && sc_seq(y, apps, "apps", SC_APPS_MAX, &len) < 0)
        return -EINVAL;
    node->apps = calloc((size_t)len + 1, sizeof *node->apps);
    if (!node->apps)
        return sc_fail(y, n, "out of memory");
    if (app) {
        node->napps = 1;
        return parse_app(y, app, args, &node->apps[0]);
    }
    static const char *const keys[] = {"app", "args", NULL};
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, apps, i);
        if (sc_map(y, e, "an apps entry", keys) < 0)
            return -EINVAL;
        if (!sc_get(y, e, "app"))
            return sc_fail(y, e, "an apps entry needs app: NAME");
        node->napps = i + 1;
        if (parse_app(y, sc_get(y, e, "app"), sc_get(y, e, "args"), &node->apps[i]) < 0)
            return -EINVAL;
    }
    return 0;
}

static int parse_node(sc_yaml *y, tw_scenario *sc, yaml_node_t *n, sc_node *node)
{
    static const char *const keys[] = {"name", "addr", "app", "args", "apps", "replay",
                                       NULL};
    *node = (sc_node){.pos = sc_pos_of(n)};
    if (sc_map(y, n, "a node", keys) < 0)
        return -EINVAL;
    yaml_node_t *name = sc_get(y, n, "name"), *addr = sc_get(y, n, "addr");
    if (!name)
        return sc_fail(y, n, "a node needs a name");
    if (!addr)
        return sc_fail(y, n, "a node needs an addr (a numeric IP address)");
    if (sc_str(y, name, "name", node->name, sizeof node->name) < 0 ||
        sc_str(y, addr, "addr", node->addr, sizeof node->addr) < 0)
        return -EINVAL;
    if (!name_ok(node->name))
        return sc_fail(y, name, "a node name is letters, digits, '-', '_' and '.'");
    if (sc_node_index(sc, node->name) >= 0)
        return sc_fail(y, name, "a second node named '%s'", node->name);
    unsigned char buf[16];
    if (inet_pton(AF_INET, node->addr, buf) != 1 &&
        inet_pton(AF_INET6, node->addr, buf) != 1)
        return sc_fail(y, addr, "addr must be a numeric IPv4 or IPv6 address, "
                                "not '%.40s'", node->addr);
    for (int i = 0; i < sc->nnodes; i++)
        if (strcmp(sc->nodes[i].addr, node->addr) == 0)
            return sc_fail(y, addr, "address %s is taken by node %s", node->addr,
                           sc->nodes[i].name);
    if (parse_apps(y, n, node) < 0)
        return -EINVAL;
    yaml_node_t *rp = sc_get(y, n, "replay");
    if (rp) {
        if (sc_str(y, rp, "replay", node->replay, sizeof node->replay) < 0)
            return -EINVAL;
        if (node->napps != 1)
            return sc_fail(y, rp, "replay plays the peers of one app: give the node "
                                  "app: NAME (and its args)");
    }
    return 0;
}

static int parse_nodes(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    int len;
    if (!n)
        return sc_fail(y, sc_yaml_root(y), "a scenario needs nodes");
    if (sc_seq(y, n, "nodes", SC_NODES_MAX, &len) < 0)
        return -EINVAL;
    if (len == 0)
        return sc_fail(y, n, "a scenario needs at least one node");
    sc->nodes = calloc((size_t)len, sizeof *sc->nodes);
    if (!sc->nodes)
        return sc_fail(y, n, "out of memory");
    for (int i = 0; i < len; i++) {
        sc_node node;
        int rc = parse_node(y, sc, sc_item(y, n, i), &node);
        sc->nodes[sc->nnodes++] = node; /* even half-made: free() frees it */
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- paths ---- */

static int parse_paths(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    int len;
    if (!n)
        return 0;
    if (sc_seq(y, n, "paths", SC_PATHS_MAX / 2, &len) < 0)
        return -EINVAL;
    sc->paths = calloc((size_t)len * 2 + 1, sizeof *sc->paths);
    if (!sc->paths)
        return sc_fail(y, n, "out of memory");
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, n, i), *v;
        sc_path p = {.opts = sc->world.net, .pos = sc_pos_of(e)};
        bool both = false;
        if (sc_parse_net(y, e, "a path", &p.opts, NULL) < 0)
            return -EINVAL;
        if (!sc_get(y, e, "from") || !sc_get(y, e, "to"))
            return sc_fail(y, e, "a path needs from and to");
        if (sc_noderef(y, sc, sc_get(y, e, "from"), "from", &p.from) < 0 ||
            sc_noderef(y, sc, sc_get(y, e, "to"), "to", &p.to) < 0)
            return -EINVAL;
        if ((v = sc_get(y, e, "both")) && sc_bool(y, v, "both", &both) < 0)
            return -EINVAL;
        sc->paths[sc->npaths++] = p;
        if (both) {
            sc_path q = p;
            q.from = p.to;
            q.to = p.from;
            sc->paths[sc->npaths++] = q;
        }
    }
    return 0;
}

/* ---- the timeline ---- */

static int parse_timeline(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    int len;
    if (!n)
        return 0;
    if (sc_seq(y, n, "timeline", SC_FAULTS_MAX, &len) < 0)
        return -EINVAL;
    for (int i = 0; i < len; i++) {
        yaml_node_t *e = sc_item(y, n, i);
        sc_fault f;
        if (sc_parse_fault(y, sc, e, &f) < 0)
            return -EINVAL;
        if (f.at > sc->duration) {
            char a[32], b[32];
            return sc_fail(y, sc_get(y, e, "at"), "a fault at %s, after the end "
                           "of the fault phase (duration %s)",
                           tw_format_duration(f.at, a, sizeof a),
                           tw_format_duration(sc->duration, b, sizeof b));
        }
        if (sc_add_fault(sc, &f) < 0)
            return sc_fail(y, e, "out of memory");
    }
    return 0;
}

/* ---- quiet, expect ---- */

int sc_parse_node_list(sc_yaml *y, const tw_scenario *sc, yaml_node_t *n,
                       const char *what, int *out, int *count)
{
    int len;
    if (sc_seq(y, n, what, SC_NODES_MAX, &len) < 0)
        return -EINVAL;
    for (int i = 0; i < len; i++)
        if (sc_noderef(y, sc, sc_item(y, n, i), what, &out[i]) < 0)
            return -EINVAL;
    *count = len;
    return 0;
}

static int parse_quiet(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    static const char *const keys[] = {"within", "until", NULL};
    if (!n)
        return 0;
    if (sc_map(y, n, "quiet", keys) < 0)
        return -EINVAL;
    yaml_node_t *w = sc_get(y, n, "within"), *u = sc_get(y, n, "until");
    if (!w)
        return sc_fail(y, n, "quiet needs within (the bound for its conditions)");
    if (sc_dur(y, w, "within", &sc->quiet) < 0)
        return -EINVAL;
    if (sc->quiet <= 0)
        return sc_fail(y, w, "within must be longer than 0");
    const char *all = sc_text(u);
    if (!u || (all && strcmp(all, "all") == 0))
        return 0;
    sc->until_all = false;
    if (sc_is_scalar(u))
        return sc_fail(y, u, "until is 'all' or a list of nodes");
    return sc_parse_node_list(y, sc, u, "until", sc->until, &sc->nuntil);
}

static int parse_exit(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return sc_fail(y, n, "exit must map nodes to exit statuses (client: 0)");
    int len = sc_map_len(n);
    for (int i = 0; i < len; i++) {
        int idx;
        yaml_node_t *k = sc_pair_key(y, n, i), *v = sc_pair_value(y, n, i);
        if (sc_noderef(y, sc, k, "exit", &idx) < 0)
            return -EINVAL;
        sc_node *node = &sc->nodes[idx];
        if (node->exit_given)
            return sc_fail(y, k, "node '%s' listed twice in exit", node->name);
        node->exit_given = true;
        const char *t = sc_text(v);
        long long code;
        if (t && strcmp(t, "any") == 0)
            node->expect_exit = SC_EXIT_ANY;
        else if (sc_int(y, v, "an exit status", 0, 255, &code) < 0)
            return -EINVAL;
        else
            node->expect_exit = (int)code;
    }
    return 0;
}

/* The oracles' bounds: sizes, and counts up to max; 0 turns one off. */
static int parse_oracles(sc_yaml *y, yaml_node_t *n, sc_oracles *o)
{
    static const struct {
        const char *key;
        size_t off;
        bool bytes;
        long long max;
    } bounds[] = {
        {"write_buffer_max", offsetof(sc_oracles, write_buffer_max), true, 0},
        {"write_buffer_over_high", offsetof(sc_oracles, write_buffer_over_high),
         false, 1000000},
        {"connects_per_sec_max", offsetof(sc_oracles, connects_per_sec_max), false,
         UINT32_MAX},
        {"connections_max", offsetof(sc_oracles, connections_max), false, UINT32_MAX},
        {"node_bytes_max", offsetof(sc_oracles, node_bytes_max), true, 0},
        {"livelock_callbacks", offsetof(sc_oracles, livelock_callbacks), false,
         INT64_MAX},
        {"history_ops_max", offsetof(sc_oracles, history_ops_max), false, UINT32_MAX},
    };
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        yaml_node_t *v = sc_get(y, n, bounds[i].key);
        char *field = (char *)o + bounds[i].off;
        uint64_t u;
        long long ll;
        if (!v)
            continue;
        if (bounds[i].bytes) {
            if (sc_bytes(y, v, bounds[i].key, &u) < 0)
                return -EINVAL;
            memcpy(field, &u, sizeof u);
        } else if (sc_int(y, v, bounds[i].key, 0, bounds[i].max, &ll) < 0) {
            return -EINVAL;
        } else if (bounds[i].max > UINT32_MAX) {
            u = (uint64_t)ll;
            memcpy(field, &u, sizeof u);
        } else {
            uint32_t w = (uint32_t)ll;
            memcpy(field, &w, sizeof w);
        }
    }
    return 0;
}

/* contract: true or strict (the default: callbacks and the protocols'
 * own calls), basic (callbacks only), false (ignored). */
static int parse_contract(sc_yaml *y, tw_scenario *sc, yaml_node_t *v)
{
    const char *t = sc_text(v);
    if (t && (strcmp(t, "basic") == 0 || strcmp(t, "strict") == 0)) {
        sc->expect_contract = true;
        sc->contract_strict = t[0] == 's';
        return 0;
    }
    if (t && !sc_is_bool(t))
        return sc_fail(y, v, "contract must be true, strict, basic or false, "
                             "not '%.40s'", t);
    if (sc_bool(y, v, "contract", &sc->expect_contract) < 0)
        return -EINVAL;
    sc->contract_strict = sc->expect_contract;
    return 0;
}

static int parse_expect(sc_yaml *y, tw_scenario *sc, yaml_node_t *n)
{
    static const char *const keys[] = {
        "exit", "contract", "invariants", "no_stuck_connections", "stuck_after",
        "write_buffer_max", "write_buffer_over_high", "connects_per_sec_max",
        "connections_max", "node_bytes_max", "livelock_callbacks", "linearizable",
        "history_ops_max", NULL,
    };
    yaml_node_t *v;
    if (!n)
        return 0;
    if (sc_map(y, n, "expect", keys) < 0 || parse_oracles(y, n, &sc->oracles) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "exit")) && parse_exit(y, sc, v) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "contract")) && parse_contract(y, sc, v) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "invariants")) &&
        sc_bool(y, v, "invariants", &sc->expect_invariants) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "linearizable")) &&
        sc_bool(y, v, "linearizable", &sc->oracles.linearizable) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "history_ops_max")) && sc->oracles.history_ops_max == 0)
        return sc_fail(y, v, "history_ops_max must be at least 1");
    if ((v = sc_get(y, n, "no_stuck_connections")) &&
        sc_bool(y, v, "no_stuck_connections", &sc->expect_no_stuck) < 0)
        return -EINVAL;
    if ((v = sc_get(y, n, "stuck_after"))) {
        if (sc_dur(y, v, "stuck_after", &sc->stuck_after) < 0)
            return -EINVAL;
        if (sc->stuck_after <= 0)
            return sc_fail(y, v, "stuck_after must be longer than 0");
    }
    return 0;
}

/* ---- the top level ---- */

static int parse_top(sc_yaml *y, tw_scenario *sc)
{
    static const char *const keys[] = {
        "name", "description", "duration", "check_every", "buggify", "nodes",
        "network", "paths", "timeline", "quiet", "expect", "swarm", NULL,
    };
    yaml_node_t *root = sc_yaml_root(y), *v;
    if (sc_map(y, root, "a scenario", keys) < 0)
        return -EINVAL;
    if ((v = sc_get(y, root, "name")) && sc_str(y, v, "name", sc->name, sizeof sc->name) < 0)
        return -EINVAL;
    if ((v = sc_get(y, root, "description")) && !sc_text(v))
        return sc_fail(y, v, "description must be text");
    if (!(v = sc_get(y, root, "duration")))
        return sc_fail(y, root, "a scenario needs a duration (its fault phase, e.g. 10s)");
    if (sc_dur(y, v, "duration", &sc->duration) < 0)
        return -EINVAL;
    if (sc->duration <= 0)
        return sc_fail(y, v, "duration must be longer than 0");
    if ((v = sc_get(y, root, "check_every"))) {
        if (sc_dur(y, v, "check_every", &sc->check_every) < 0)
            return -EINVAL;
        if (sc->check_every < TW_MS(1))
            return sc_fail(y, v, "check_every must be at least 1ms");
    }
    if ((v = sc_get(y, root, "buggify")) && sc_bool(y, v, "buggify", &sc->world.buggify) < 0)
        return -EINVAL;
    if (parse_nodes(y, sc, sc_get(y, root, "nodes")) < 0)
        return -EINVAL;
    if ((v = sc_get(y, root, "network")) &&
        sc_parse_net(y, v, "network", &sc->world.net, &sc->world) < 0)
        return -EINVAL;
    if (parse_paths(y, sc, sc_get(y, root, "paths")) < 0 ||
        parse_timeline(y, sc, sc_get(y, root, "timeline")) < 0 ||
        parse_quiet(y, sc, sc_get(y, root, "quiet")) < 0 ||
        parse_expect(y, sc, sc_get(y, root, "expect")) < 0 ||
        sc_parse_swarm(y, sc, sc_get(y, root, "swarm")) < 0)
        return -EINVAL;
    return sc_check_apps(y, sc);
}

static void default_name(tw_scenario *sc, const char *path)
{
    if (sc->name[0])
        return;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(sc->name, sizeof sc->name, "%s", base);
    char *dot = strrchr(sc->name, '.');
    if (dot && dot != sc->name)
        *dot = '\0';
}

int tw_scenario_parse(const char *name, const char *text, size_t len,
                      tw_scenario **out, char *err, size_t errlen)
{
    static char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = 1;
    }
    *out = NULL;
    sc_yaml y;
    int rc = sc_yaml_load(&y, name, text, len, err, errlen);
    tw_scenario *sc = rc == 0 ? sc_new() : NULL;
    if (rc == 0 && !sc)
        rc = sc_fail(&y, NULL, "out of memory");
    if (rc == 0)
        rc = parse_top(&y, sc);
    if (rc == 0 && !(sc->path = strdup(name)))
        rc = sc_fail(&y, NULL, "out of memory");
    sc_yaml_fini(&y);
    if (rc < 0) {
        tw_scenario_free(sc);
        return rc;
    }
    default_name(sc, name);
    *out = sc;
    return 0;
}

int tw_scenario_load(const char *path, tw_scenario **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    /* fopen opens a directory for reading; only the read fails. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "%s: is a directory, not a scenario file", path);
        return -EISDIR;
    }
    char *text = malloc(FILE_MAX + 1);
    errno = 0;
    size_t len = text ? fread(text, 1, FILE_MAX + 1, f) : 0;
    int e = !text ? ENOMEM : ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (e || len > FILE_MAX) {
        if (e)
            snprintf(err, errlen, "%s: cannot read the file: %s", path, strerror(e));
        else
            snprintf(err, errlen, "%s:1:1: the file is larger than 4 MiB", path);
        free(text);
        return e ? -e : -EFBIG;
    }
    int rc = tw_scenario_parse(path, text, len, out, err, errlen);
    free(text);
    return rc;
}
