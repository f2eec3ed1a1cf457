/* twin/app.h - named apps: protocols packaged to be started by name.
 *
 * The same app runs on the real backend (`twin run NAME ...`) and on a
 * simulated node (scenario files name apps). An app parses its own
 * options, opens its servers or connections on the loop it is given, and
 * keeps its state in one object that `free` releases.
 */
#ifndef TWIN_APP_H
#define TWIN_APP_H

#include <stdio.h>

#include "twin/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_app {
    const char *name;
    const char *summary; /* one line */
    const char *usage;   /* the options, one per line */
    /* Parse argv (argv[0] is the app name) and start on loop. Human output
     * goes to out. On success *state is the app's and 0 is returned; on
     * error a message is written to out, nothing is left open, and a
     * negative errno (-EINVAL for bad options) is returned. */
    int (*start)(tw_loop *loop, int argc, char **argv, FILE *out,
                 void **state);
    /* Exit status of a finished run: 0 when the app did its job. */
    int (*result)(void *state);
    /* Release the state. The loop has finished, or the node crashed (its
     * transports are already gone). */
    void (*free)(void *state);
} tw_app;

/* The app of that name, or NULL. */
const tw_app *tw_app_find(const char *name);
/* All apps, NULL-terminated. */
const tw_app *const *tw_apps(void);

#ifdef __cplusplus
}
#endif
#endif
