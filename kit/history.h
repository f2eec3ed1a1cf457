/* kit/history.h - the records behind twin/history.h, shared by the
 * store (kit/history.c), the checker (kit/history_check.c) and the
 * simulator's hook (sim/history.c). */
#ifndef KIT_HISTORY_H
#define KIT_HISTORY_H

#include <stdbool.h>

#include "twin/history.h"

typedef struct tw_history_rec {
    tw_history_f f;
    tw_history_type type;
    uint32_t process;
    tw_ns invoked, done; /* done: -1 while pending */
    char *key;           /* NULL: the register */
    char *value;         /* written (cas: to) */
    char *from;          /* cas: expected */
    char *out;           /* ok: read */
    size_t value_len, from_len, out_len;
    bool value_nil, from_nil, out_nil;
} tw_history_rec;

struct tw_history {
    tw_history_rec *ops;
    size_t n, cap, ops_max;
    size_t bytes;
    bool overflowed;
};

const char *tw__history_f_name(tw_history_f f);
void tw__history_json_str(FILE *f, const char *s, size_t len, bool nil);

#endif
