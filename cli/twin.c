/* cli/twin.c - the `twin` program: the command over the built-in apps. */
#include "twin/main.h"

int main(int argc, char **argv) { return tw_main(argc, argv); }
