/* fuzz/scenario.c - the scenario file parser (twin/scenario.h: libyaml,
 * then every key, type, app and its arguments).
 *
 * Oracles: a bad file gets a message and nothing else (never a crash);
 * a good file written back by tw_scenario_write loads again, and writing
 * that one gives the same text (the file a --dump-schedule or a shrink
 * hands the user must replay). A swarm section's draws for one seed,
 * written as plain faults, load back too, and stay put from then on.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/scenario.h"

/* sc as text (malloc'd), or NULL. */
static char *write_text(const tw_scenario *sc, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    int rc = tw_scenario_write(sc, f, NULL);
    fclose(f);
    if (rc < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Written and loaded again: must load. The text must then stay put:
 * writing what was loaded gives the same text (exact is false for a
 * materialized schedule, whose drawn faults carry a "# drawn" comment
 * only until they are loaded as the file's own). */
static void round_trip(const tw_scenario *sc, bool exact)
{
    size_t len, len2;
    char *text = write_text(sc, &len);
    if (!text)
        return;
    char err[256];
    tw_scenario *again;
    if (tw_scenario_parse("written", text, len, &again, err, sizeof err) < 0) {
        fprintf(stderr, "written scenario does not load: %s\n---\n%s", err, text);
        abort();
    }
    char *text2 = write_text(again, &len2);
    if (text2 && exact && (len2 != len || memcmp(text, text2, len) != 0)) {
        fprintf(stderr, "written twice, two texts:\n%s---\n%s", text, text2);
        abort();
    }
    if (text2 && !exact)
        round_trip(again, true);
    free(text2);
    tw_scenario_free(again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("fuzz.yaml", (const char *)data, size, &sc, err,
                          sizeof err) < 0) {
        if (!err[0])
            abort(); /* a refusal always says why */
        return 0;
    }
    round_trip(sc, true);
    if (tw_scenario_has_swarm(sc)) {
        tw_scenario *m = tw_scenario_materialize(sc, 1);
        if (m) {
            round_trip(m, false);
            tw_scenario_free(m);
        }
    }
    tw_scenario_free(sc);
    return 0;
}
