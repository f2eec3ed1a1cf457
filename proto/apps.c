/* proto/apps.c - the table of named apps (`twin run NAME`, scenarios). */
#include <string.h>

#include "twin/app.h"

extern const tw_app tw__app_echo_server;
extern const tw_app tw__app_echo_client;

static const tw_app *const apps[] = {
    &tw__app_echo_server,
    &tw__app_echo_client,
    NULL,
};

const tw_app *const *tw_apps(void) { return apps; }

const tw_app *tw_app_find(const char *name)
{
    for (const tw_app *const *a = apps; *a; a++)
        if (name && strcmp((*a)->name, name) == 0)
            return *a;
    return NULL;
}
