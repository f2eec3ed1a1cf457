/* scenario/appcheck.c - checking the apps' arguments when a file loads:
 * each app is started once on a throwaway world, so a bad option is
 * reported at its line and column instead of failing every seed.
 *
 * Map: one app (its own message, or getopt's culprit); all of them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/yaml.h"
#include "twin/error.h"
#include "twin/programs.h"
#include "twin/sim.h"

/* ---- one app ---- */

typedef struct started {
    const tw_app *app;
    void *state;
} started;

static int check_app(sc_yaml *y, tw_loop *loop, const sc_app *app,
                     started *st)
{
    char *out_text = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_text, &out_len);
    if (!out)
        return -ENOMEM;
    char *argv[SC_ARGS_MAX + 2];
    memcpy(argv, app->argv, ((size_t)app->argc + 1) * sizeof *argv);
    void *state = NULL;
    int saved = opterr;
    opterr = 0; /* the app's own message, or ours: not getopt's on stderr */
    int rc = app->app->start(loop, app->argc, argv, out, &state);
    opterr = saved;
    fclose(out);
    if (rc >= 0) {
        free(out_text);
        *st = (started){app->app, state};
        return 0;
    }
    char *nl = out_text ? strchr(out_text, '\n') : NULL;
    if (nl)
        *nl = '\0';
    char msg[300];
    snprintf(msg, sizeof msg, "%s", out_text && out_text[0] ? out_text : tw_strerror(rc));
    /* getopt (told to be silent) leaves the culprit at optind - 1. */
    if ((!out_text || !out_text[0]) && rc == -EINVAL && optind > 0 &&
        optind <= app->argc)
        snprintf(msg, sizeof msg, "unknown option or missing value at '%s'",
                 argv[optind - 1]);
    free(out_text);
    yaml_node_t fake = {.start_mark = {.line = (size_t)app->pos.line - 1,
                                       .column = (size_t)app->pos.col - 1}};
    /* --help (tw_opts_parse's -ECANCELED) asks for the usage, which a
     * scenario has no place to show. */
    if (rc == -ECANCELED)
        return sc_fail(y, &fake, "app '%s' was given --help: a scenario runs the app "
                       "(`apps` lists its options)", app->argv[0]);
    /* -EINVAL is a bad command line; anything else is a start that
     * failed with good options (a port two apps of the node both want). */
    if (rc != -EINVAL)
        return sc_fail(y, &fake, "app '%s' could not start on node %s: %s (%s)",
                       app->argv[0], tw_sim_node_name(loop), msg, tw_errname(rc));
    return sc_fail(y, &fake, "app '%s' rejected its arguments: %s (the apps command lists "
                   "its options)",
                   app->argv[0], msg);
}

/* ---- all of them ---- */

/* Apps are started without running the world: nothing happens but the
 * parsing of options and the opening of servers and connections (which
 * checks addresses). The world and everything started go away after. */
int sc_check_apps(sc_yaml *y, const tw_scenario *sc)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    tw_sim *sim = tw_sim_new(0, &o);
    if (!sim)
        return sc_fail(y, NULL, "out of memory");
    tw_programs_register(sim);
    tw_loop *loops[SC_NODES_MAX];
    started *st = calloc((size_t)sc->nnodes * SC_APPS_MAX, sizeof *st);
    size_t nst = 0;
    for (int i = 0; i < sc->nnodes; i++)
        loops[i] = tw_sim_add_node(sim, sc->nodes[i].name, sc->nodes[i].addr);
    int rc = st ? 0 : sc_fail(y, NULL, "out of memory");
    for (int i = 0; i < sc->nnodes && rc == 0; i++)
        for (int k = 0; k < sc->nodes[i].napps && rc == 0; k++)
            rc = loops[i] ? check_app(y, loops[i], &sc->nodes[i].apps[k], &st[nst++])
                          : sc_fail(y, NULL, "node %s cannot be made", sc->nodes[i].name);
    /* The world goes first, then the states' memory: as after a crash. */
    tw_sim_free(sim);
    for (size_t i = 0; i < nst; i++)
        tw_app_discard(st[i].app, st[i].state);
    free(st);
    return rc;
}
