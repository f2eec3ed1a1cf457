/* tests/rec.h - a recording protocol for tests: logs every callback in
 * order ("M D E L"), keeps every byte received, and can be told to behave
 * (keep half-open on eof, close on data, use a small BufferedProtocol
 * buffer, ...). Tests assert on what it saw, as a user's protocol would. */
#ifndef TWIN_TEST_REC_H
#define TWIN_TEST_REC_H

#include "tests/harness.h"

typedef struct rec rec;
struct rec {
    tw_protocol base;
    tw_transport *t;
    /* behaviour */
    bool eof_keep;       /* eof_received returns this */
    bool echo;           /* write back what arrives */
    bool close_on_data;  /* close() after the first data */
    size_t bufsize;      /* > 0: a BufferedProtocol with this buffer size */
    bool zero_buffer;    /* get_buffer returns an empty buffer */
    void (*on_made)(rec *r);
    void (*on_data)(rec *r, const uint8_t *d, size_t n);
    void (*on_pause)(rec *r);
    void (*on_resume)(rec *r);
    void (*on_lost)(rec *r);
    void (*on_eof)(rec *r);
    bool verify;         /* check bytes against tw_pattern(seed) instead of
                            keeping them */
    uint64_t seed;
    bool mismatch;
    size_t total;        /* bytes received in all */
    void *user;
    /* what it saw */
    char log[256];
    size_t loglen;
    uint8_t *data;
    size_t len, cap;
    int made, lost, eofs, pauses, resumes, data_calls, get_buffers;
    int lost_err;
    ssize_t last_hint;
    size_t max_chunk;
    bool released, done;
    uint8_t *buf;
};

/* Set up r as a plain Protocol (bufsize 0) or BufferedProtocol. */
void rec_init(rec *r, size_t bufsize);
void rec_free(rec *r);

/* A server factory handing out recs from a pool (copies of `tmpl`). */
typedef struct rec_pool {
    rec tmpl;
    rec recs[16];
    int n;
} rec_pool;
tw_protocol *rec_pool_factory(void *pool);
void rec_pool_free(rec_pool *p);

/* Client factory: arg is the rec itself. */
tw_protocol *rec_factory(void *r);

/* Connect completion that stores the result in a conn_result. */
typedef struct conn_result {
    bool called;
    int err;
    tw_transport *t;
} conn_result;
typedef struct rec_client {
    rec r;
    conn_result res;
} rec_client;
void rec_client_init(rec_client *c, size_t bufsize);
void rec_client_cb(void *client, tw_transport *t, int err);
tw_protocol *rec_client_factory(void *client);

/* A server of recs and one rec client connected to it, on env's loop. */
typedef struct rec_pair {
    rec_pool pool; /* the server side; pool.recs[0] is the accepted end */
    rec_client cli;
    tw_server *srv;
    bool in_create; /* true while tw_create_connection runs */
} rec_pair;
/* Listen, connect (cb: the connect completion, NULL for rec_client_cb;
 * it must end by calling rec_client_cb), and run until both ends saw
 * connection_made. Fill p->pool.tmpl and p->cli first. */
void rec_pair_open(tw_env *env, rec_pair *p, tw_connect_cb cb);
/* Close the server, wait until nothing is left on the loop, free. */
void rec_pair_close(tw_env *env, rec_pair *p);

#endif
