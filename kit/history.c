/* kit/history.c - a history of operations (twin/history.h): recording,
 * and the JSON-lines form.
 *
 * Map: the store; recording; writing it out.
 *
 * An op is one record holding both its invocation and its completion;
 * keys and values are copied into their own allocations, counted against
 * TW_HISTORY_BYTES_MAX. The checker (kit/history_check.c) reads the
 * records through kit/history.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "kit/history.h"

/* ---- the store ---- */

tw_history *tw_history_new(void)
{
    tw_history *h = calloc(1, sizeof *h);
    if (h)
        h->ops_max = TW_HISTORY_OPS_MAX;
    return h;
}

void tw_history_free(tw_history *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->ops[i].key);
        free(h->ops[i].value);
        free(h->ops[i].from);
        free(h->ops[i].out);
    }
    free(h->ops);
    free(h);
}

int tw_history_set_ops_max(tw_history *h, size_t ops_max)
{
    if (!h || ops_max == 0)
        return -EINVAL;
    if (h->n > ops_max)
        return -EBUSY;
    h->ops_max = ops_max;
    return 0;
}

size_t tw_history_count(const tw_history *h) { return h ? h->n : 0; }

/* ---- recording ---- */

static int copy_bytes(tw_history *h, const void *v, size_t len, char **out, bool *nil)
{
    *out = NULL;
    if (nil)
        *nil = v == NULL;
    if (!v)
        return 0;
    if (len > TW_HISTORY_VALUE_MAX)
        return -EINVAL;
    if (h->bytes + len + 1 > TW_HISTORY_BYTES_MAX) {
        h->overflowed = true;
        return -ENOBUFS;
    }
    char *c = malloc(len + 1);
    if (!c)
        return -ENOMEM;
    memcpy(c, v, len);
    c[len] = 0;
    h->bytes += len + 1;
    *out = c;
    return 0;
}

static int64_t add(tw_history *h, tw_ns time, uint32_t process, tw_history_f f,
                   const char *key, const void *from, size_t from_len,
                   const void *value, size_t value_len)
{
    if (!h || (unsigned)f > TW_HISTORY_EXPIRE)
        return -EINVAL;
    if ((key && strlen(key) > TW_HISTORY_VALUE_MAX) ||
        (value && value_len > TW_HISTORY_VALUE_MAX) ||
        (from && from_len > TW_HISTORY_VALUE_MAX))
        return -EINVAL;
    if (h->n >= h->ops_max) {
        h->overflowed = true;
        return -ENOBUFS;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        tw_history_rec *ops = realloc(h->ops, cap * sizeof *ops);
        if (!ops)
            return -ENOMEM;
        h->ops = ops;
        h->cap = cap;
    }
    tw_history_rec r = {.f = f, .process = process, .invoked = time, .done = -1};
    int rc;
    if ((rc = copy_bytes(h, key && key[0] ? key : NULL, key ? strlen(key) : 0,
                         &r.key, NULL)) < 0 ||
        (rc = copy_bytes(h, value, value_len, &r.value, &r.value_nil)) < 0 ||
        (f == TW_HISTORY_CAS &&
         (rc = copy_bytes(h, from, from_len, &r.from, &r.from_nil)) < 0)) {
        free(r.key);
        free(r.value);
        free(r.from);
        return rc;
    }
    r.value_len = value_len;
    r.from_len = from_len;
    h->ops[h->n++] = r;
    return (int64_t)h->n;
}

int64_t tw_history_add_invoke(tw_history *h, tw_ns time, uint32_t process,
                              tw_history_f f, const char *key,
                              const void *value, size_t value_len)
{
    if (f == TW_HISTORY_CAS)
        return -EINVAL;
    return add(h, time, process, f, key, NULL, 0, value, value_len);
}

int64_t tw_history_add_cas(tw_history *h, tw_ns time, uint32_t process,
                           const char *key, const void *from, size_t from_len,
                           const void *to, size_t to_len)
{
    return add(h, time, process, TW_HISTORY_CAS, key, from, from_len, to, to_len);
}

int tw_history_add_complete(tw_history *h, int64_t id, tw_ns time,
                            tw_history_type type, const void *value,
                            size_t value_len)
{
    if (!h || id <= 0 || (uint64_t)id > h->n)
        return -ENOENT;
    tw_history_rec *r = &h->ops[id - 1];
    if (r->type != TW_HISTORY_PENDING || type == TW_HISTORY_PENDING ||
        (unsigned)type > TW_HISTORY_INFO)
        return r->type != TW_HISTORY_PENDING ? -ENOENT : -EINVAL;
    bool reads = r->f == TW_HISTORY_READ || r->f == TW_HISTORY_GET ||
                 r->f == TW_HISTORY_INCR;
    if (type == TW_HISTORY_OK && reads) {
        int rc = copy_bytes(h, value, value_len, &r->out, &r->out_nil);
        if (rc < 0)
            return rc;
        r->out_len = value_len;
    }
    r->type = type;
    r->done = time < r->invoked ? r->invoked : time;
    return 0;
}

/* ---- writing it out ---- */

static const char *const f_names[] = {"read", "write", "cas", "get", "put", "del",
                                     "incr", "expire"};
static const char *const type_names[] = {"info", "ok", "fail", "info"};

const char *tw__history_f_name(tw_history_f f)
{
    return (unsigned)f <= TW_HISTORY_EXPIRE ? f_names[f] : "?";
}

/* A JSON string, or null for nil. */
void tw__history_json_str(FILE *f, const char *s, size_t len, bool nil)
{
    if (nil || !s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c); /* bytes as code points: lossless */
        else
            fputc(c, f);
    }
    fputc('"', f);
}

typedef struct event {
    tw_ns time;
    size_t op;
    bool done;
} event;

static int event_cmp(const void *pa, const void *pb)
{
    const event *a = pa, *b = pb;
    if (a->time != b->time)
        return a->time < b->time ? -1 : 1;
    if (a->done != b->done) /* at one instant, invocations first */
        return a->done ? 1 : -1;
    return a->op < b->op ? -1 : a->op > b->op;
}

static void write_value(FILE *f, const tw_history_rec *r, bool done)
{
    if (r->f == TW_HISTORY_CAS) {
        fputc('[', f);
        tw__history_json_str(f, r->from, r->from_len, r->from_nil);
        fputc(',', f);
        tw__history_json_str(f, r->value, r->value_len, r->value_nil);
        fputc(']', f);
    } else if (done && r->type == TW_HISTORY_OK &&
               (r->f == TW_HISTORY_READ || r->f == TW_HISTORY_GET ||
                r->f == TW_HISTORY_INCR)) {
        tw__history_json_str(f, r->out, r->out_len, r->out_nil);
    } else if (r->f == TW_HISTORY_READ || r->f == TW_HISTORY_GET ||
               r->f == TW_HISTORY_INCR || r->f == TW_HISTORY_DEL ||
               r->f == TW_HISTORY_EXPIRE) {
        fputs("null", f);
    } else {
        tw__history_json_str(f, r->value, r->value_len, r->value_nil);
    }
}

int tw_history_write_jsonl(const tw_history *h, FILE *f, tw_ns end_ns)
{
    if (!h || !f)
        return -EINVAL;
    event *ev = malloc((2 * h->n + 1) * sizeof *ev);
    if (!ev)
        return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < h->n; i++) {
        const tw_history_rec *r = &h->ops[i];
        ev[n++] = (event){.time = r->invoked, .op = i};
        tw_ns done = r->type == TW_HISTORY_PENDING ? end_ns : r->done;
        ev[n++] = (event){.time = done < r->invoked ? r->invoked : done, .op = i,
                          .done = true};
    }
    qsort(ev, n, sizeof *ev, event_cmp);
    for (size_t i = 0; i < n; i++) {
        const tw_history_rec *r = &h->ops[ev[i].op];
        fprintf(f, "{\"index\":%zu,\"op\":%zu,\"process\":%" PRIu32
                   ",\"type\":\"%s\",\"f\":\"%s\",",
                i, ev[i].op + 1, r->process,
                ev[i].done ? type_names[r->type] : "invoke", f_names[r->f]);
        if (r->key) {
            fputs("\"key\":", f);
            tw__history_json_str(f, r->key, strlen(r->key), false);
            fputc(',', f);
        }
        fputs("\"value\":", f);
        write_value(f, r, ev[i].done);
        fprintf(f, ",\"time\":%" PRId64 "}\n", (int64_t)ev[i].time);
    }
    free(ev);
    return ferror(f) ? -EIO : 0;
}
