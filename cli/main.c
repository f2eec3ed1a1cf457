/* cli/main.c - the `twin` command.
 *
 *   twin run APP [OPTIONS]   run a named app on the real (epoll) backend
 *   twin apps                list the apps and their options
 *   twin version
 *
 * SIGINT and SIGTERM stop the loop cleanly: a helper thread waits for them
 * with sigwait and hands the stop to the loop with call_soon_threadsafe,
 * so no loop code runs in a signal handler.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/real.h"
#include "twin/twin.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: twin run APP [OPTIONS]   run an app on the real backend\n"
            "       twin apps                list apps and their options\n"
            "       twin version\n");
}

static void list_apps(FILE *f)
{
    for (const tw_app *const *a = tw_apps(); *a; a++)
        fprintf(f, "%s\n    %s\n%s\n", (*a)->name, (*a)->summary, (*a)->usage);
}

static void stop_cb(void *loop) { tw_loop_stop(loop); }

static void *signal_thread(void *loop)
{
    sigset_t set;
    int sig;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigwait(&set, &sig) == 0)
        tw_call_soon_threadsafe(loop, stop_cb, loop);
    return NULL;
}

static int cmd_run(int argc, char **argv)
{
    if (argc < 1) {
        usage(stderr);
        return 2;
    }
    const tw_app *app = tw_app_find(argv[0]);
    if (!app) {
        fprintf(stderr, "twin: no app named '%s' (see 'twin apps')\n", argv[0]);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    tw_loop *loop = tw_loop_new(NULL);
    if (!loop) {
        fprintf(stderr, "twin: cannot create the loop: %s\n", strerror(errno));
        return 1;
    }
    void *state = NULL;
    int rc = app->start(loop, argc, argv, stdout, &state);
    if (rc < 0) {
        if (rc == -EINVAL)
            fprintf(stderr, "usage: twin run %s [OPTIONS]\n%s", app->name, app->usage);
        tw_loop_free(loop);
        return 2;
    }
    pthread_t th;
    bool have_thread = pthread_create(&th, NULL, signal_thread, loop) == 0;
    if (have_thread)
        pthread_detach(th);
    rc = tw_loop_run(loop);
    int status = rc < 0 ? 1 : app->result(state);
    app->free(state);
    /* Let closes started by free finish cleanly before the loop goes. */
    tw_loop_run_for(loop, TW_MS(100));
    tw_loop_free(loop);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(argv[1], "apps") == 0) {
        list_apps(stdout);
        return 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("twin %s\n", TWIN_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "twin: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
