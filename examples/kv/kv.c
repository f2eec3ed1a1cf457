/* kv.c - the lkv protocol (kv.h): a server and a client that retries.
 *
 * Protocol code: it includes twin's headers only, never a backend's, and
 * neither reads the clock nor draws random numbers of its own, so the
 * simulator replays it exactly from a seed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

/* ------------------------------------------------------------------ */
/* the store                                                            */

struct kv_store {
    unsigned refs; /* the owner's, and one per connection */
    size_t n;
    char key[KV_KEYS_MAX][KV_LINE_MAX];
    char val[KV_KEYS_MAX][KV_LINE_MAX];
};

kv_store *kv_store_new(void)
{
    kv_store *s = calloc(1, sizeof *s);
    if (s)
        s->refs = 1;
    return s;
}

void kv_store_free(kv_store *s)
{
    if (s && --s->refs == 0)
        free(s);
}
size_t kv_store_size(const kv_store *s) { return s->n; }

static const char *store_get(const kv_store *s, const char *k)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->key[i], k) == 0)
            return s->val[i];
    return NULL;
}

static int store_set(kv_store *s, const char *k, const char *v)
{
    size_t i = 0;
    while (i < s->n && strcmp(s->key[i], k) != 0)
        i++;
    if (i == s->n) {
        if (s->n == KV_KEYS_MAX)
            return -ENOSPC;
        snprintf(s->key[s->n++], KV_LINE_MAX, "%s", k);
    }
    snprintf(s->val[i], KV_LINE_MAX, "%s", v);
    return 0;
}

/* ------------------------------------------------------------------ */
/* lines                                                                */

/* Bytes gathered until a newline; a line longer than KV_LINE_MAX - 1 is
 * refused whole. */
typedef struct linebuf {
    char b[KV_LINE_MAX];
    size_t n;
} linebuf;

/* Feed bytes; for each complete line (without its newline, NUL-ended)
 * call fn. Returns -EMSGSIZE on a line too long, or fn's negative return,
 * else 0. */
static int lines_feed(linebuf *lb, const uint8_t *d, size_t len,
                      int (*fn)(void *arg, char *line), void *arg)
{
    for (size_t i = 0; i < len; i++) {
        if (d[i] == '\n') {
            lb->b[lb->n] = '\0';
            lb->n = 0;
            int rc = fn(arg, lb->b);
            if (rc < 0)
                return rc;
            continue;
        }
        if (lb->n == KV_LINE_MAX - 1)
            return -EMSGSIZE;
        lb->b[lb->n++] = (char)d[i];
    }
    return 0;
}

/* Split "VERB a b" into at most 3 words; returns the count. */
static int words(char *line, char *w[3])
{
    int n = 0;
    char *save = NULL;
    for (char *p = strtok_r(line, " \r", &save); p && n < 3;
         p = strtok_r(NULL, " \r", &save))
        w[n++] = p;
    if (n == 3 && strtok_r(NULL, " \r", &save))
        return 4; /* too many */
    return n;
}

/* ------------------------------------------------------------------ */
/* the server                                                           */

typedef struct kv_sconn {
    tw_protocol base;
    tw_transport *t;
    kv_store *store;
    linebuf in;
} kv_sconn;

static void reply(kv_sconn *s, const char *a, const char *b)
{
    tw_transport_write(s->t, a, strlen(a));
    if (b) {
        tw_transport_write(s->t, b, strlen(b));
    }
    tw_transport_write(s->t, "\n", 1);
}

static int serve_line(void *arg, char *line)
{
    kv_sconn *s = arg;
    char *w[3];
    int n = words(line, w);
    if (n == 3 && strcmp(w[0], "SET") == 0) {
        if (store_set(s->store, w[1], w[2]) < 0)
            reply(s, "ERR store full", NULL);
        else
            reply(s, "OK", NULL);
    } else if (n == 2 && strcmp(w[0], "GET") == 0) {
        const char *v = store_get(s->store, w[1]);
        if (v)
            reply(s, "VALUE ", v);
        else
            reply(s, "NIL", NULL);
    } else {
        reply(s, "ERR unknown request", NULL);
    }
    return 0;
}

static void s_made(tw_protocol *p, tw_transport *t) { ((kv_sconn *)p)->t = t; }

static void s_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    kv_sconn *s = (kv_sconn *)p;
    if (tw_transport_is_closing(s->t))
        return;
    if (lines_feed(&s->in, d, n, serve_line, s) == -EMSGSIZE) {
        reply(s, "ERR line too long", NULL);
        tw_transport_close(s->t);
    }
}

static void s_release(tw_protocol *p)
{
    kv_store_free(((kv_sconn *)p)->store);
    free(p);
}

static const tw_protocol_ops server_ops = {
    .connection_made = s_made,
    .data_received = s_data,
    .release = s_release,
};

tw_protocol *kv_server_factory(void *store)
{
    kv_sconn *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->base.ops = &server_ops;
    s->store = store;
    s->store->refs++;
    return &s->base;
}

/* ------------------------------------------------------------------ */
/* the client                                                           */

/* A connection's protocol, and a connect in flight, each point back at
 * the client; the client lets go of them (c = NULL) when it is freed
 * first, and they free themselves when they end. */
typedef struct kv_conn {
    tw_protocol base;
    kv_client *c;
    tw_transport *t;
    linebuf in;
} kv_conn;

typedef struct kv_dial {
    kv_client *c;
} kv_dial;

enum { WAIT_SET, WAIT_GET };

struct kv_client {
    tw_loop *loop;
    char host[256];
    uint16_t port;
    unsigned ops;
    tw_ns reply_timeout, retry, delay;
    FILE *log;
    unsigned round;      /* rounds checked */
    int phase;           /* what the reply in flight answers */
    kv_conn *conn;       /* the connection that is up, or NULL */
    kv_dial *dial;       /* the connect in flight, or NULL */
    tw_handle timer;     /* reply timeout, or the delay before a connect */
    unsigned connections, failures;
    bool done;
    char violation[160];
};

static void kv_connect(kv_client *c);

static void say(kv_client *c, const char *what, unsigned n)
{
    if (c->log)
        fprintf(c->log, "kv-client %.3f s: %s %u\n", tw_loop_time(c->loop), what, n);
}

static void cancel_timer(kv_client *c)
{
    if (c->timer)
        tw_handle_cancel(c->loop, c->timer);
    c->timer = 0;
}

static void on_reply_timeout(void *arg)
{
    kv_client *c = arg;
    c->timer = 0;
    say(c, "no reply in time, round", c->round);
    if (c->conn)
        tw_transport_abort(c->conn->t); /* connection_lost connects again */
}

static void send_request(kv_client *c)
{
    char line[KV_LINE_MAX];
    int n = c->phase == WAIT_SET
                ? snprintf(line, sizeof line, "SET k%u v%u\n", c->round, c->round)
                : snprintf(line, sizeof line, "GET k%u\n", c->round);
    tw_transport_write(c->conn->t, line, (size_t)n);
    cancel_timer(c);
    if (c->reply_timeout > 0)
        c->timer = tw_call_later(c->loop, c->reply_timeout, on_reply_timeout, c);
}

static void again_cb(void *arg)
{
    kv_client *c = arg;
    c->timer = 0;
    kv_connect(c);
}

/* The connection failed or was never made: try again after a delay. */
static void retry_later(kv_client *c)
{
    c->failures++;
    cancel_timer(c);
    c->timer = tw_call_later(c->loop, c->delay, again_cb, c);
    c->delay = c->delay * 2 < TW_SEC(1) ? c->delay * 2 : TW_SEC(1);
}

static int client_line(void *arg, char *line)
{
    kv_conn *k = arg;
    kv_client *c = k->c;
    char want[KV_LINE_MAX];
    if (c->done)
        return 0;
    if (c->phase == WAIT_SET) {
        if (strcmp(line, "OK") != 0)
            return -EPROTO;
        c->phase = WAIT_GET;
        send_request(c);
        return 0;
    }
    snprintf(want, sizeof want, "VALUE v%u", c->round);
    if (strcmp(line, want) != 0) {
        snprintf(c->violation, sizeof c->violation,
                 "GET k%u after its SET was acknowledged returned '%.60s'",
                 c->round, line);
        return -EPROTO;
    }
    c->round++;
    c->phase = WAIT_SET;
    if (c->round == c->ops) {
        c->done = true;
        cancel_timer(c);
        say(c, "done, rounds", c->round);
        tw_transport_close(k->t);
        return 0;
    }
    send_request(c);
    return 0;
}

static void c_made(tw_protocol *p, tw_transport *t)
{
    kv_conn *k = (kv_conn *)p;
    k->t = t;
    kv_client *c = k->c;
    if (!c) {
        tw_transport_close(t);
        return;
    }
    c->conn = k;
    c->connections++;
    c->delay = c->retry;
    say(c, "connected, round", c->round);
#ifdef KV_BUGGY
    /* The bug this variant carries: after a reconnect, the round in
     * progress is not asked again, so its reply never comes. */
    if (c->connections > 1 && c->round > 0) {
        c->timer = c->reply_timeout > 0
                       ? tw_call_later(c->loop, c->reply_timeout, on_reply_timeout, c)
                       : 0;
        return;
    }
#endif
    c->phase = WAIT_SET; /* the round starts again from its SET */
    send_request(c);
}

static void c_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    kv_conn *k = (kv_conn *)p;
    if (!k->c || k->c->done || tw_transport_is_closing(k->t))
        return;
    /* a wrong reply, or one too long: this connection is no good */
    if (lines_feed(&k->in, d, n, client_line, k) < 0)
        tw_transport_abort(k->t);
}

static void c_lost(tw_protocol *p, int err)
{
    kv_conn *k = (kv_conn *)p;
    kv_client *c = k->c;
    k->c = NULL;
    if (!c)
        return;
    c->conn = NULL;
    if (c->done)
        return;
    say(c, "connection lost, round", c->round);
    (void)err;
    if (c->violation[0])
        return; /* a wrong answer is final */
    retry_later(c);
}

static void c_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops client_ops = {
    .connection_made = c_made,
    .data_received = c_data,
    .connection_lost = c_lost,
    .release = c_release,
};

static tw_protocol *conn_factory(void *arg)
{
    kv_dial *d = arg;
    kv_conn *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->base.ops = &client_ops;
    k->c = d->c;
    return &k->base;
}

static void connected(void *arg, tw_transport *t, int err)
{
    kv_dial *d = arg;
    kv_client *c = d->c;
    free(d);
    if (!c)
        return; /* the client went; its connection closed itself */
    c->dial = NULL;
    (void)t;
    if (err < 0) {
        say(c, "connect failed, attempt", c->failures + 1);
        retry_later(c);
    }
}

static void kv_connect(kv_client *c)
{
    kv_dial *d = calloc(1, sizeof *d);
    if (!d) {
        retry_later(c);
        return;
    }
    d->c = c;
    c->dial = d;
    int rc = tw_create_connection(c->loop, conn_factory, d, c->host, c->port,
                                  connected);
    if (rc < 0) { /* the callback is never called */
        free(d);
        c->dial = NULL;
        retry_later(c);
    }
}

kv_client *kv_client_start(tw_loop *loop, const kv_client_cfg *cfg)
{
    kv_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    snprintf(c->host, sizeof c->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    c->port = cfg->port;
    c->ops = cfg->ops;
    c->reply_timeout = cfg->reply_timeout;
    c->retry = c->delay = cfg->retry > 0 ? cfg->retry : TW_MS(50);
    c->log = cfg->log;
    if (c->ops == 0)
        c->done = true;
    else
        kv_connect(c);
    return c;
}

bool kv_client_done(const kv_client *c) { return c->done; }

const char *kv_client_violation(const kv_client *c)
{
    return c->violation[0] ? c->violation : NULL;
}

unsigned kv_client_connections(const kv_client *c) { return c->connections; }
unsigned kv_client_failures(const kv_client *c) { return c->failures; }

void kv_client_free(kv_client *c)
{
    if (!c)
        return;
    cancel_timer(c);
    if (c->dial)
        c->dial->c = NULL; /* it frees itself when the connect ends */
    if (c->conn) {
        c->conn->c = NULL;
        tw_transport_close(c->conn->t);
    }
    free(c);
}

void kv_client_discard(kv_client *c)
{
    /* After a crash: the loop's transports, timers and the connect in
     * flight are gone without calling back. */
    if (c)
        free(c->dial);
    free(c);
}
