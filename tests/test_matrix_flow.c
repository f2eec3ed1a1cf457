/* tests/test_matrix_flow.c - flow control seen from the protocol, on BOTH
 * backends: resume_writing at the low-water mark when the peer drains the
 * buffer a little at a time, the size hint a BufferedProtocol is given, and
 * writes made in resume_writing while close() is still flushing.
 *
 * The watermark tests of test_matrix_stream.c drain in large steps with
 * low = 0, where "at low" and "empty" are the same moment. Here the reader
 * takes a few hundred bytes per loop turn, so the writer's buffer passes
 * the low mark in small steps, and the test can tell "resumed at low" from
 * "resumed somewhat later" or "somewhat earlier".
 */
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "tests/rec.h"

typedef rec_pair pair;

static void pair_open(tw_env *env, pair *p) { rec_pair_open(env, p, NULL); }
static void pair_close(tw_env *env, pair *p) { rec_pair_close(env, p); }

/* ---- resume_writing at the low-water mark ---- */

enum { HIGH = 48000, LOW = 20000, STEP = 700, CHUNK = 4096 };

/* What the reader saw of the writer, each time it read. */
static struct {
    tw_env *env;
    rec *writer;
    size_t samples_paused;  /* reads while the writer was paused */
    size_t min_paused;      /* least writer buffer seen while paused */
    size_t near_low;        /* of those, samples within 4 KiB above LOW */
    size_t at_resume;       /* writer's buffer inside resume_writing */
    bool bad;               /* paused at or below LOW */
    size_t bad_size;
} fl;

static void reader_resume(void *arg)
{
    rec *r = arg;
    if (!r->done)
        tw_transport_resume_reading(r->t);
}

/* One small read at a time: pause, and resume a moment later. The real
 * backend's moment is the next loop turn; the simulator's is a millisecond
 * of virtual time, since reads made in one simulated instant open the
 * sender's window as one update, as one kernel turn's reads would. */
static void reader_step(rec *r, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    rec *w = fl.writer;
    if (w->pauses == 1 && w->resumes == 0) {
        size_t s = tw_transport_get_write_buffer_size(w->t);
        fl.samples_paused++;
        if (s < fl.min_paused)
            fl.min_paused = s;
        if (s > LOW && s <= LOW + 4096)
            fl.near_low++;
        /* The drain that took the buffer to LOW or below resumed the
         * writer in the same turn: a paused writer is above LOW. */
        if (s <= LOW && !fl.bad) {
            fl.bad = true;
            fl.bad_size = s;
        }
    }
    if (tw_transport_is_reading(r->t)) {
        tw_transport_pause_reading(r->t);
        tw_call_later(fl.env->loop, fl.env->sim ? TW_MS(1) : 0, reader_resume, r);
    }
}

static void writer_resumed(rec *w)
{
    fl.at_resume = tw_transport_get_write_buffer_size(w->t);
}

static void test_resume_at_low_water_in_small_steps(void **state)
{
    tw_env *env = TW_ENV(state);
    pair p;
    memset(&p, 0, sizeof p);
    memset(&fl, 0, sizeof fl);
    fl.env = env;
    fl.min_paused = (size_t)-1;
    fl.at_resume = (size_t)-1;
    rec_client_init(&p.cli, 0);
    p.cli.r.on_resume = writer_resumed;
    fl.writer = &p.cli.r;
    p.pool.tmpl.bufsize = STEP; /* BufferedProtocol: at most STEP a read */
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = 41;
    p.pool.tmpl.on_data = reader_step;
    pair_open(env, &p);
    rec *srv = &p.pool.recs[0];
    tw_transport *t = p.cli.r.t;
    assert_int_equal(tw_transport_set_write_buffer_limits(t, HIGH, LOW), 0);
    size_t lo = 0, hi = 0;
    tw_transport_get_write_buffer_limits(t, &lo, &hi);
    assert_int_equal(lo, LOW);
    assert_int_equal(hi, HIGH);

    /* The reader holds off until the writer is paused. */
    assert_int_equal(tw_transport_pause_reading(srv->t), 0);
    static uint8_t chunk[CHUNK];
    size_t written = 0;
    while (p.cli.r.pauses == 0) {
        for (size_t i = 0; i < CHUNK; i++)
            chunk[i] = tw_pattern(41, written + i);
        assert_int_equal(tw_transport_write(t, chunk, CHUNK), 0);
        written += CHUNK;
        assert_true(written < ((size_t)256 << 20)); /* the path must fill */
    }
    /* pause_writing came inside the write that went over HIGH */
    size_t s = tw_transport_get_write_buffer_size(t);
    assert_true(s > HIGH);
    assert_true(s <= HIGH + CHUNK);
    assert_int_equal(p.cli.r.resumes, 0);

    assert_int_equal(tw_transport_resume_reading(srv->t), 0);
    TW_RUN_UNTIL(env, p.cli.r.resumes == 1, TW_SEC(120));
    /* resumed at the low mark, not above it ... */
    assert_true(fl.at_resume <= LOW);
    /* ... and not later than the first drain that reached it */
    if (fl.bad)
        fail_msg("%s: writer still paused with %zu bytes buffered (low %d)",
                 env->backend, fl.bad_size, LOW);
    assert_true(fl.samples_paused > 0);
    assert_true(fl.min_paused > LOW);
    if (env->sim) {
        /* The simulated path drains in small steps, so the reader saw the
         * buffer just above LOW, and the resume came within one step of
         * it: a resume late by even a few KiB would have been seen. */
        assert_true(fl.near_low > 0);
        assert_true(fl.min_paused - fl.at_resume <= 4096);
    }
    assert_int_equal(p.cli.r.pauses, 1);
    assert_string_equal(p.cli.r.log, "MPR");

    /* The stream is whole and in order after all that. */
    assert_int_equal(tw_transport_close(t), 0);
    TW_WAIT(env, srv->done);
    assert_int_equal(srv->total, written);
    assert_false(srv->mismatch);
    assert_string_equal(srv->log, "MDEL");
    pair_close(env, &p);
}

/* ---- writing in resume_writing while close() flushes ---- */

/* asyncio's socket transport takes a write made after close() while the
 * buffer is still being flushed: its resume_writing runs inside the flush
 * ("may append to buffer"), and the close then waits for those bytes too.
 * The writer here fills its buffer past the high mark, closes, and writes
 * more each time it is resumed: until it is paused again, then a small
 * last write. */
enum { CW_SEED = 51, CW_LAST = 777 };

static struct {
    size_t written;  /* bytes the writer has handed over, in pattern order */
    int rounds;      /* writes made in resume_writing */
    int rcs[4];      /* what they returned */
    bool was_closing;
} cw;

static void cw_write(tw_transport *t, size_t n, int *rc)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = tw_pattern(CW_SEED, cw.written + i);
    *rc = tw_transport_write(t, b, n);
    if (*rc == 0)
        cw.written += n;
    free(b);
}

static void cw_resumed(rec *w)
{
    if (cw.rounds >= 2)
        return;
    cw.was_closing = tw_transport_is_closing(w->t);
    int k = cw.rounds++;
    if (k == 1) {
        cw_write(w->t, CW_LAST, &cw.rcs[k]);
        return;
    }
    /* Until the writer is paused again: nothing drains meanwhile, so the
     * path fills and the transport buffers. */
    int pauses = w->pauses;
    while (w->pauses == pauses && cw.rcs[k] == 0 &&
           cw.written < ((size_t)256 << 20))
        cw_write(w->t, CHUNK, &cw.rcs[k]);
}

static void test_write_in_resume_writing_after_close(void **state)
{
    tw_env *env = TW_ENV(state);
    /* strict mode: a write the transport takes is no mistake */
    tw_loop_set_contract_strict(env->loop, true);
    pair p;
    memset(&p, 0, sizeof p);
    memset(&cw, 0, sizeof cw);
    rec_client_init(&p.cli, 0);
    p.cli.r.on_resume = cw_resumed;
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = CW_SEED;
    pair_open(env, &p);
    rec *srv = &p.pool.recs[0];
    tw_transport *t = p.cli.r.t;

    /* The reader holds off until the writer is paused and has closed. */
    assert_int_equal(tw_transport_pause_reading(srv->t), 0);
    while (p.cli.r.pauses == 0) {
        int rc;
        cw_write(t, CHUNK, &rc);
        assert_int_equal(rc, 0);
        assert_true(cw.written < ((size_t)256 << 20)); /* the path must fill */
    }
    assert_int_equal(tw_transport_close(t), 0);
    assert_true(tw_transport_is_closing(t));
    assert_true(tw_transport_get_write_buffer_size(t) > 0);

    assert_int_equal(tw_transport_resume_reading(srv->t), 0);
    TW_WAIT(env, p.cli.r.done && srv->done);
    /* both writes made in resume_writing after close() were taken ... */
    assert_int_equal(cw.rounds, 2);
    assert_true(cw.was_closing);
    assert_int_equal(cw.rcs[0], 0);
    assert_int_equal(cw.rcs[1], 0);
    /* ... the first pausing the writer again, and the close waited for
     * them: connection_lost(0) came once all was flushed */
    assert_string_equal(p.cli.r.log, "MPRPRL");
    assert_int_equal(p.cli.r.lost_err, 0);
    /* the peer got every byte in order, then EOF */
    assert_int_equal(srv->total, cw.written);
    assert_false(srv->mismatch);
    assert_string_equal(srv->log, "MDEL");
    assert_int_equal(env->violations, 0);
    pair_close(env, &p);
}

/* ---- the BufferedProtocol size hint ---- */

enum { HINT_BUF = 7, HINT_MAX = 1 << 16 };

static struct {
    ssize_t hint[HINT_MAX];
    size_t got[HINT_MAX];
    size_t n;
} hl;

static void note_hint(rec *r, const uint8_t *d, size_t n)
{
    (void)d;
    assert_true(hl.n < HINT_MAX);
    hl.hint[hl.n] = r->last_hint;
    hl.got[hl.n] = n;
    hl.n++;
}

static void check_hints(tw_env *env, size_t bufsize, size_t total)
{
    size_t sum = 0;
    for (size_t i = 0; i < hl.n; i++) {
        ssize_t h = hl.hint[i];
        sum += hl.got[i];
        if (!env->sim) {
            /* epoll: a read of unknown size, asyncio's get_buffer(-1) */
            if (h != -1)
                fail_msg("real: get_buffer hint %zd at call %zu, not -1", h, i);
            continue;
        }
        /* simulator: the bytes of the delivery not yet handed over, so a
         * buffer of that size takes the rest of it in one go */
        if (h <= 0)
            fail_msg("sim: get_buffer hint %zd at call %zu", h, i);
        size_t want = (size_t)h < bufsize ? (size_t)h : bufsize;
        if (hl.got[i] != want)
            fail_msg("sim: hint %zd with a %zu-byte buffer, got %zu (call %zu)",
                     h, bufsize, hl.got[i], i);
        if ((size_t)h > bufsize) {
            /* the same delivery goes on: the next hint is what is left */
            assert_true(i + 1 < hl.n);
            if (hl.hint[i + 1] != h - (ssize_t)bufsize)
                fail_msg("sim: hint %zd after %zd with a %zu-byte buffer",
                         hl.hint[i + 1], h, bufsize);
        }
    }
    assert_int_equal(sum, total);
}

static void hint_run(tw_env *env, size_t bufsize, size_t total, uint64_t seed)
{
    pair p;
    memset(&p, 0, sizeof p);
    memset(&hl, 0, sizeof hl);
    rec_client_init(&p.cli, 0);
    p.pool.tmpl.bufsize = bufsize;
    p.pool.tmpl.verify = true;
    p.pool.tmpl.seed = seed;
    p.pool.tmpl.on_data = note_hint;
    pair_open(env, &p);
    rec *srv = &p.pool.recs[0];
    uint8_t *b = malloc(total);
    assert_non_null(b);
    for (size_t i = 0; i < total; i++)
        b[i] = tw_pattern(seed, i);
    assert_int_equal(tw_transport_write(p.cli.r.t, b, total), 0);
    free(b);
    tw_transport_close(p.cli.r.t);
    TW_WAIT(env, srv->done);
    assert_int_equal(srv->total, total);
    assert_false(srv->mismatch);
    /* one get_buffer per buffer_updated; epoll may also ask for a buffer
     * for a read that then finds nothing (EAGAIN) */
    if (env->sim)
        assert_int_equal(srv->get_buffers, (int)hl.n);
    else
        assert_true(srv->get_buffers >= (int)hl.n);
    check_hints(env, bufsize, total);
    pair_close(env, &p);
}

static void test_buffered_size_hint(void **state)
{
    tw_env *env = TW_ENV(state);
    /* a small buffer: many get_buffer calls per delivery */
    hint_run(env, HINT_BUF, 20000, 42);
    /* a buffer larger than any delivery: one call each, the whole of it */
    hint_run(env, 1 << 20, 300000, 43);
    if (env->sim)
        for (size_t i = 0; i < hl.n; i++)
            assert_int_equal(hl.hint[i], (ssize_t)hl.got[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_resume_at_low_water_in_small_steps),
        TW_MATRIX(test_buffered_size_hint),
        TW_MATRIX(test_write_in_resume_writing_after_close),
    };
    return cmocka_run_group_tests_name("matrix_flow", tests, NULL, NULL);
}
