/* tests/prog/sim_hash.c - print the demo world's trace hash for seeds
 * 1..N, one line each. Built against an -O0 and an -O2 libtwin, the two
 * outputs must be identical (make sim-hash-check). Not a cmocka test: it
 * lives outside the tests folder proper so the Makefile does not link it everywhere.
 *
 * Usage: sim_hash [N [SECONDS]]   (defaults: 50 seeds, 5 s each)
 *        sim_hash -trace SEED     (the readable trace of one seed)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/sim.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "-trace") == 0) {
        uint64_t h = tw_sim_demo(strtoull(argv[2], NULL, 0), TW_SEC(5), stdout,
                                 NULL, NULL);
        printf("hash=%016" PRIx64 "\n", h);
        return 0;
    }
    int n = argc > 1 ? atoi(argv[1]) : 50;
    int secs = argc > 2 ? atoi(argv[2]) : 5;
    int bad = 0;
    for (int s = 1; s <= n; s++) {
        uint64_t mism = 0;
        tw_sim_stats st;
        uint64_t h = tw_sim_demo((uint64_t)s, TW_SEC(secs), NULL, &mism, &st);
        printf("seed=%d hash=%016" PRIx64 " events=%" PRIu64 " bytes=%" PRIu64
               " mismatches=%" PRIu64 "\n",
               s, h, st.events, st.bytes_delivered, mism);
        bad += mism != 0;
    }
    return bad ? 1 : 0;
}
