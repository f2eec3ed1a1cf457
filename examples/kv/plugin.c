/* plugin.c - the lkv apps as a shared object for the installed command:
 *     twin sim --load ./kv.so scenarios/kv_crash.yaml --seeds 1..100 */
#include <twin/main.h>

#include "kv.h"

int tw_apps_load(void) { return kv_register_apps(); }
