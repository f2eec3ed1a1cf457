/* main.c - kvtwin: the whole twin command (run, sim, shrink, apps, ...)
 * with the lkv apps in it. */
#include <twin/main.h>

#include "kv.h"

int main(int argc, char **argv)
{
    if (kv_register_apps() < 0)
        return 2;
    return tw_main(argc, argv);
}
