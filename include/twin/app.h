/* twin/app.h - named apps: protocols packaged to be started by name.
 *
 * The same app runs on the real backend (`twin run NAME ...`) and on a
 * simulated node (scenario files name apps). An app parses its own
 * options, opens its servers or connections on the loop it is given, and
 * keeps its state in one object that `free` releases.
 */
#ifndef TWIN_APP_H
#define TWIN_APP_H

#include <stdbool.h>
#include <stdio.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct tw_opt; /* twin/opts.h */

typedef struct tw_app {
    const char *name;    /* required, as is start */
    const char *summary; /* one line (NULL: none) */
    const char *usage;   /* the options, one per line (NULL: none) */
    /* Parse argv (argv[0] is the app name) and start on loop. Human output
     * goes to out. On success *state is the app's and 0 is returned; on
     * error a message is written to out, nothing is left open, and a
     * negative errno (-EINVAL for bad options: `twin run` then prints the
     * usage after the message) is returned. tw_opts_parse's -ECANCELED
     * (it wrote the usage for --help) is returned as it is: `twin run`
     * then shows that usage on stdout and exits 0.
     *
     * out is a stdio stream, buffered as stdio buffers: under `twin run`
     * with its output going to a file, a pipe or a journal, a line shows
     * when the app calls fflush(out) or some 8 KiB later, and not at all
     * if the process is killed first. An app that logs (a server telling
     * of accept errors, a client of its reconnects) flushes after each
     * line, as the built-in apps do. Keep out for the life of the state:
     * it is valid until free or discard returns. */
    int (*start)(tw_loop *loop, int argc, char **argv, FILE *out,
                 void **state);
    /* Exit status of a finished run: 0 when the app did its job. NULL:
     * always 0 (a server has no job to finish). */
    int (*result)(void *state);
    /* Release the state. The loop has stopped (`twin run`: the app's
     * work ran out, or SIGINT or SIGTERM came), or, in a simulated run,
     * its node was torn down (a crash, or the run's end) and discard is
     * NULL: its transports, timers and connects in flight are then
     * already gone, with no call back. After a stop under `twin run` the
     * loop is still alive: the app's transports may be open, its timers
     * pending, a connect under way, and `twin run` runs the loop for
     * another 100 ms after free, so that the closes free starts can
     * finish. So free cancels its timers, closes (or aborts) its
     * transports and servers, and leaves whatever a callback still to
     * come will touch alive (examples/kv/kv.c's kv_client_free: a connect
     * in flight keeps its own small record, which it frees when it ends),
     * or a callback reaches freed memory. NULL: nothing to release. */
    void (*free)(void *state);

    /* Optional; NULL means "nothing to say". Scenarios (twin/scenario.h)
     * use them; `twin run` asks invariant once, when the app's loop has
     * ended, and prints what it says on stderr. */
    /* A property that must hold at every moment, checked often during a
     * simulated run: NULL while it holds, else a sentence saying what
     * broke (owned by the state, valid until the next call). A violation
     * is a correctness failure. */
    const char *(*invariant)(void *state);
    /* True once the app finished its job (every message echoed, the
     * replica caught up): the condition a scenario's quiet phase waits
     * for. An app without it has nothing to finish (a server). */
    bool (*done)(void *state);
    /* Release the state after a simulated crash tore the loop down
     * under it: its transports, servers and timers are gone and must not
     * be touched (their protocols got release). NULL: free is safe for
     * that too. Not only after a crash fault: a scenario run ends, and a
     * scenario file's check of the apps' options (each app started once
     * when the file loads) ends, by tearing every node down the same
     * way, so every app a scenario names goes through here. An app whose
     * free closes a server or a transport or cancels a timer needs a
     * discard, or `twin sim` crashes on loading the file. */
    void (*discard)(void *state);

    /* Optional: the option table (twin/opts.h) usage was generated from,
     * for tools and tests. NULL: the app parses its options its own way. */
    const struct tw_opt *opts;
} tw_app;

/* How many times the node that loop belongs to was restarted after a
 * simulated crash: an app's start reads 0 on the node's first start and N
 * on the start after its Nth restart (what it had is gone, its servers
 * must listen again). 0 on the real backend, and for a loop that is not
 * a simulated node's. */
unsigned tw_app_restarts(tw_loop *loop);

/* The app of that name (registered ones first), or NULL. */
const tw_app *tw_app_find(const char *name);
/* Let an app's state go after its loop was torn down under it (a crash,
 * the end of a simulated run): discard, else free; nothing when it has
 * neither, or app is NULL. */
void tw_app_discard(const tw_app *app, void *state);
/* All apps: the registered ones in order, then the built-in ones of
 * proto/ and apps/; NULL-terminated, valid until the next tw_app_register. */
const tw_app *const *tw_apps(void);
/* Add an app from outside the library (a test's protocol, a user's) so
 * that scenarios and `twin apps` find it by name; *app is not copied and
 * must outlive its use. Call it at start-up, before any thread uses the
 * table. 0, -EINVAL (no name or start), -EEXIST (name taken), -ENOSPC
 * (TW_APPS_REGISTERED_MAX reached). */
int tw_app_register(const tw_app *app);
#define TW_APPS_REGISTERED_MAX 64
/* Remove a registered app from the table (a test's, at its teardown); the
 * others keep their order. 0, -ENOENT (no registered app of that name),
 * -EPERM (a built-in app: those stay), -EINVAL (NULL). Same thread rule
 * as tw_app_register. */
int tw_app_unregister(const char *name);

#ifdef __cplusplus
}
#endif
#endif
