/* apps/table.c - the table of named apps (`twin run NAME`, scenarios).
 *
 * Map: the built-in apps of proto/ and apps/ (each file defines its
 * tw_app and gets one line here: a static library links only what is
 * named, so a constructor in the app's own file would silently vanish);
 * apps registered at run time; the combined view.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "twin/app.h"

extern const tw_app tw__app_echo_server;
extern const tw_app tw__app_echo_client;
extern const tw_app tw__app_date;
extern const tw_app tw__app_udp_echo_server;
extern const tw_app tw__app_udp_echo_client;
extern const tw_app tw__app_echo_load;
extern const tw_app tw__app_bulk_send;
extern const tw_app tw__app_bulk_recv;
extern const tw_app tw__app_supervise;
extern const tw_app tw__app_udp_load;
extern const tw_app tw__app_resp_server;
extern const tw_app tw__app_resp_client;

static const tw_app *const apps[] = {
    &tw__app_echo_server,
    &tw__app_echo_client,
    &tw__app_date,
    &tw__app_udp_echo_server,
    &tw__app_udp_echo_client,
    &tw__app_echo_load,
    &tw__app_bulk_send,
    &tw__app_bulk_recv,
    &tw__app_supervise,
    &tw__app_udp_load,
    &tw__app_resp_server,
    &tw__app_resp_client,
    NULL,
};

#define BUILTIN_COUNT (sizeof apps / sizeof apps[0] - 1)

/* Registered apps, then the built-in ones, NULL-terminated; rebuilt by
 * each registration (rare: start-up only). */
static const tw_app *all[TW_APPS_REGISTERED_MAX + BUILTIN_COUNT + 1];
static size_t nregistered;

const tw_app *const *tw_apps(void)
{
    if (!nregistered)
        return apps;
    return all;
}

const tw_app *tw_app_find(const char *name)
{
    for (const tw_app *const *a = tw_apps(); *a; a++)
        if (name && strcmp((*a)->name, name) == 0)
            return *a;
    return NULL;
}

void tw_app_discard(const tw_app *app, void *state)
{
    void (*let_go)(void *) = !app ? NULL : app->discard ? app->discard : app->free;
    if (let_go)
        let_go(state);
}

int tw_app_register(const tw_app *app)
{
    if (!app || !app->name || !*app->name || !app->start)
        return -EINVAL;
    if (tw_app_find(app->name))
        return -EEXIST;
    if (nregistered == TW_APPS_REGISTERED_MAX)
        return -ENOSPC;
    /* Shift the built-in ones up by one and put the new app before them. */
    all[nregistered++] = app;
    for (size_t i = 0; i <= BUILTIN_COUNT; i++)
        all[nregistered + i] = apps[i];
    return 0;
}

int tw_app_unregister(const char *name)
{
    if (!name)
        return -EINVAL;
    for (size_t i = 0; i < nregistered; i++) {
        if (strcmp(all[i]->name, name) != 0)
            continue;
        /* Close the gap; the built-in ones and the NULL move down too. */
        memmove(&all[i], &all[i + 1],
                (nregistered - i + BUILTIN_COUNT) * sizeof all[0]);
        nregistered--;
        assert(all[nregistered + BUILTIN_COUNT] == NULL);
        return 0;
    }
    for (size_t i = 0; i < BUILTIN_COUNT; i++)
        if (strcmp(apps[i]->name, name) == 0)
            return -EPERM;
    return -ENOENT;
}
