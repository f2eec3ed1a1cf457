/* tests/dgram_rec.h - a recording DatagramProtocol for tests: logs every
 * callback in order ("M G G X P R L": made, datagram, error, pause,
 * resume, lost), keeps each datagram with its sender (or only counts them,
 * for the statistical tests), and can echo or close when told. Tests
 * assert on what it saw, as a user's protocol would.
 */
#ifndef TWIN_TEST_DGRAM_REC_H
#define TWIN_TEST_DGRAM_REC_H

#include "tests/harness.h"

typedef struct drec_msg {
    uint8_t *data;
    size_t len;
    tw_addr from;
} drec_msg;

typedef struct drec drec;
struct drec {
    tw_protocol base;
    tw_transport *t;
    /* behaviour */
    bool echo;           /* send each datagram back to its sender */
    bool count_only;     /* keep nothing, count (the 100,000 ones) */
    bool close_on_datagram;
    void (*on_datagram)(drec *r, const uint8_t *d, size_t n,
                        const tw_addr *from);
    void (*on_error)(drec *r, int err);
    void (*on_made)(drec *r);
    void (*on_pause)(drec *r);
    void *user;
    /* what it saw */
    char log[256];
    size_t loglen;
    drec_msg *msgs;
    size_t nmsgs, capmsgs;
    int made, lost, lost_err, pauses, resumes, errors, last_err;
    uint64_t datagrams, bytes;
    bool released, done;
    /* the endpoint's completion */
    bool cb_called;
    int cb_err;
    tw_transport *cb_t;
};

void drec_init(drec *r);
void drec_free(drec *r);
tw_protocol *drec_factory(void *r); /* arg: the drec */
void drec_cb(void *r, tw_transport *t, int err);

/* Open an endpoint for r with opts and run until it is made (asserts
 * success). */
void drec_open(tw_env *env, drec *r, const tw_datagram_opts *opts);

/* The i-th datagram kept; asserts there is one. */
const drec_msg *drec_msg_at(const drec *r, size_t i);

/* Number of kept datagrams equal to (d, n). */
size_t drec_count_equal(const drec *r, const void *d, size_t n);

/* r's sockname (asserts it has one). */
tw_addr drec_sockname(drec *r);

#endif
