/* tests/test_sim_fs.c - a simulated node's file system (twin/simfs.h):
 * what a crash keeps, per-node isolation, the bound, the cost. */
#include <string.h>

#include "tests/harness.h"
#include "twin/sim.h"

static tw_sim *world(uint64_t seed, tw_loop **n1, tw_loop **n2)
{
    tw_sim *sim = tw_sim_new(seed, NULL);
    assert_non_null(sim);
    *n1 = tw_sim_add_node(sim, "n1", "10.0.0.1");
    assert_non_null(*n1);
    if (n2) {
        *n2 = tw_sim_add_node(sim, "n2", "10.0.0.2");
        assert_non_null(*n2);
    }
    return sim;
}

static void put(tw_loop *loop, const char *path, char c, size_t len, bool sync)
{
    tw_file *f;
    char buf[4096];
    assert_true(len <= sizeof buf);
    memset(buf, c, len);
    assert_int_equal(tw_file_open(loop, path, TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_file_pwrite(f, buf, len, 0), (ssize_t)len);
    if (sync)
        assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_close(f), 0);
}

/* The file's bytes (at most cap), or -errno. */
static ssize_t get(tw_loop *loop, const char *path, char *buf, size_t cap)
{
    tw_file *f;
    int rc = tw_file_open(loop, path, TW_FILE_READ, &f);
    if (rc < 0)
        return rc;
    ssize_t n = tw_file_pread(f, buf, cap, 0);
    tw_file_close(f);
    return n;
}

/* A crash once the calls made so far have returned (an fsync counts
 * once it returns, at the end of its latency), then a restart. */
static void crash_restart(tw_sim *sim, tw_loop *loop)
{
    assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0);
    assert_int_equal(tw_sim_crash(loop), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
    assert_false(tw_sim_node_up(loop));
    assert_int_equal(tw_sim_restart(loop), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
    assert_true(tw_sim_node_up(loop));
}

static void test_fsynced_data_survives_a_crash(void **state)
{
    for (uint64_t seed = 1; seed <= 50; seed++) {
        tw_loop *n1;
        tw_sim *sim = world(seed, &n1, NULL);
        assert_int_equal(tw_fs_mkdir(n1, "/d"), 0);
        put(n1, "/d/f", 'a', 3000, true);
        assert_int_equal(tw_fs_fsync_dir(n1, "/d"), 0);
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
        crash_restart(sim, n1);
        char buf[4096];
        assert_int_equal(get(n1, "/d/f", buf, sizeof buf), 3000);
        for (int i = 0; i < 3000; i++)
            assert_int_equal(buf[i], 'a');
        tw_sim_free(sim);
    }
}

/* An fsync is done when it returns, at the end of its latency: a power
 * loss before then keeps what was durable before it; one after keeps
 * what it synced. */
static void test_fsync_counts_once_it_returns(void **state)
{
    for (int late = 0; late < 2; late++) {
        tw_sim_opts o;
        tw_sim_opts_default(&o);
        tw_sim *sim = tw_sim_new(3, &o);
        tw_loop *n1 = tw_sim_add_node(sim, "n1", "10.0.0.1");
        tw_sim_fs_opts fo = {.fsync_latency = {.kind = TW_SIM_DIST_CONSTANT,
                                               .min_ns = TW_MS(10)}};
        assert_int_equal(tw_sim_fs_set(n1, &fo), 0);
        put(n1, "/f", 'a', 100, true);
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0); /* all returned */
        put(n1, "/f", 'b', 100, true); /* returns 10 ms from now */
        assert_int_equal(tw_sim_run_for(sim, late ? TW_MS(11) : TW_MS(9)), 0);
        assert_int_equal(tw_sim_power_loss(n1, 0), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
        assert_int_equal(tw_sim_restart(n1), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
        char buf[100];
        assert_int_equal(get(n1, "/f", buf, sizeof buf), 100);
        for (int i = 0; i < 100; i++)
            assert_int_equal(buf[i], late ? 'b' : 'a');
        tw_sim_free(sim);
    }
}

/* A world whose node n1 takes `ms` for each fsync, file or directory. */
static tw_sim *slow_sync_world(tw_loop **n1, int ms)
{
    tw_sim *sim = tw_sim_new(3, NULL);
    assert_non_null(sim);
    *n1 = tw_sim_add_node(sim, "n1", "10.0.0.1");
    assert_non_null(*n1);
    tw_sim_fs_opts fo = {.fsync_latency = {.kind = TW_SIM_DIST_CONSTANT,
                                           .min_ns = TW_MS(ms)}};
    assert_int_equal(tw_sim_fs_set(*n1, &fo), 0);
    return sim;
}

/* A power loss `after` from now, then a restart. */
static void power_loss_after(tw_sim *sim, tw_loop *n1, tw_ns after)
{
    assert_int_equal(tw_sim_run_for(sim, after), 0);
    assert_int_equal(tw_sim_power_loss(n1, 0), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
    assert_int_equal(tw_sim_restart(n1), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
}

/* Ten appends, each fsynced, in one go: the fsyncs return 10 ms apart,
 * and a power loss keeps the appends whose fsync had returned. Eight
 * running fsyncs of a file are told apart (SIM_FSYNC_FLY_MAX); one made
 * while eight run is taken to return with the eighth: the simulator
 * keeps more, never less, than a disk would. */
static void test_fsyncs_running_together(void **state)
{
    for (int at = 0; at <= 10; at++) {
        tw_loop *n1;
        tw_sim *sim = slow_sync_world(&n1, 10);
        put(n1, "/f", 'a', 0, true);
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0); /* all returned */
        tw_file *f;
        assert_int_equal(tw_file_open(n1, "/f", TW_FILE_WRITE, &f), 0);
        for (int i = 0; i < 10; i++) { /* fsync i returns at 10 * (i + 1) ms */
            char c = (char)('a' + i);
            assert_int_equal(tw_file_append(f, &c, 1), 1);
            assert_int_equal(tw_file_fsync(f), 0);
        }
        assert_int_equal(tw_file_close(f), 0);
        power_loss_after(sim, n1, TW_MS(10 * at + 5)); /* after `at` returned */
        char buf[16];
        ssize_t kept = get(n1, "/f", buf, sizeof buf);
        /* the ninth and tenth return with the eighth */
        assert_int_equal(kept, at >= 8 ? 10 : at);
        for (ssize_t i = 0; i < kept; i++)
            assert_int_equal(buf[i], 'a' + i);
        tw_sim_free(sim);
    }
}

/* A directory's fsync is done when it returns too: a power loss before
 * then loses the new name, one after keeps it. */
static void test_dir_fsync_counts_once_it_returns(void **state)
{
    for (int late = 0; late < 2; late++) {
        tw_loop *n1;
        tw_sim *sim = slow_sync_world(&n1, 10);
        put(n1, "/f", 'a', 100, true);                /* returns at 10 ms */
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0); /* at 20 ms */
        power_loss_after(sim, n1, late ? TW_MS(21) : TW_MS(19));
        char buf[100];
        if (!late) {
            assert_int_equal(get(n1, "/f", buf, sizeof buf), -ENOENT);
        } else {
            assert_int_equal(get(n1, "/f", buf, sizeof buf), 100);
            for (int i = 0; i < 100; i++)
                assert_int_equal(buf[i], 'a');
        }
        tw_sim_free(sim);
    }
}

/* ---- a store that acknowledges a write before or after its fsync ---- */

typedef struct store {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    bool ack_first; /* the bug: the ack goes out before the fsync */
    tw_ns got_at;   /* when the write arrived */
} store;

static void store_made(tw_protocol *p, tw_transport *t) { ((store *)p)->t = t; }
static void store_lost(tw_protocol *p, int err) { (void)p; (void)err; }

static void store_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    store *st = (store *)p;
    st->got_at = tw_loop_now(st->loop);
    tw_file *f;
    assert_int_equal(tw_file_open(st->loop, "/log", TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    if (st->ack_first)
        tw_transport_write(st->t, "ok", 2);
    assert_int_equal(tw_file_append(f, d, n), (ssize_t)n);
    assert_int_equal(tw_file_fsync(f), 0);
    if (!st->ack_first)
        tw_transport_write(st->t, "ok", 2);
    tw_file_close(f);
}

static const tw_protocol_ops store_ops = {
    .connection_made = store_made, .connection_lost = store_lost, .data_received = store_data};

static tw_protocol *store_factory(void *arg) { return &((store *)arg)->base; }

typedef struct writer {
    tw_protocol base;
    tw_loop *loop;
    tw_ns acked_at; /* -1: no ack */
} writer;

static void writer_made(tw_protocol *p, tw_transport *t)
{
    (void)p;
    tw_transport_write(t, "x=1", 3);
}

static void writer_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    (void)d; (void)n;
    writer *w = (writer *)p;
    w->acked_at = tw_loop_now(w->loop);
}

static const tw_protocol_ops writer_ops = {
    .connection_made = writer_made, .connection_lost = store_lost, .data_received = writer_data};

static tw_protocol *writer_factory(void *arg) { return &((writer *)arg)->base; }

/* The same store and writer over datagrams: a write is one datagram, its
 * ack one back. */
static void dstore_data(tw_protocol *p, const uint8_t *d, size_t n, const tw_addr *from)
{
    store *st = (store *)p;
    st->got_at = tw_loop_now(st->loop);
    tw_file *f;
    assert_int_equal(tw_file_open(st->loop, "/log", TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    if (st->ack_first)
        tw_transport_sendto(st->t, "ok", 2, from);
    assert_int_equal(tw_file_append(f, d, n), (ssize_t)n);
    assert_int_equal(tw_file_fsync(f), 0);
    if (!st->ack_first)
        tw_transport_sendto(st->t, "ok", 2, from);
    tw_file_close(f);
}

static const tw_protocol_ops dstore_ops = {
    .connection_made = store_made, .connection_lost = store_lost,
    .datagram_received = dstore_data};

static void dwriter_made(tw_protocol *p, tw_transport *t)
{
    (void)p;
    tw_transport_sendto(t, "x=1", 3, NULL);
}

static void dwriter_data(tw_protocol *p, const uint8_t *d, size_t n, const tw_addr *from)
{
    (void)from;
    writer_data(p, d, n);
}

static const tw_protocol_ops dwriter_ops = {
    .connection_made = dwriter_made, .connection_lost = store_lost,
    .datagram_received = dwriter_data};

/* One write to a store on n1 from n2 (over a stream, or as a datagram),
 * 1 ms each way, fsyncs of 10 ms; crash_after: n1 loses power that long
 * after the write arrived (-1: never). The store's ack time at the writer
 * (-1: none), and whether the write survived on n1's disk. */
static tw_ns store_run(bool dgram, bool ack_first, tw_ns crash_after, bool *kept)
{
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    o.net.latency = (tw_sim_dist){.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)};
    o.chunk_split_probability = -1;
    tw_sim *sim = tw_sim_new(7, &o);
    tw_loop *n1 = tw_sim_add_node(sim, "n1", "10.0.0.1");
    tw_loop *n2 = tw_sim_add_node(sim, "n2", "10.0.0.2");
    tw_sim_fs_opts fo = {.fsync_latency = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(10)}};
    assert_int_equal(tw_sim_fs_set(n1, &fo), 0);
    store st = {.base.ops = dgram ? &dstore_ops : &store_ops, .loop = n1,
                .ack_first = ack_first, .got_at = -1};
    writer w = {.base.ops = dgram ? &dwriter_ops : &writer_ops, .loop = n2, .acked_at = -1};
    if (dgram) {
        tw_datagram_opts so = {.local_host = "10.0.0.1", .local_port = 9};
        tw_datagram_opts wo = {.remote_host = "10.0.0.1", .remote_port = 9};
        assert_int_equal(tw_create_datagram_endpoint(n1, store_factory, &st, &so, NULL), 0);
        assert_int_equal(tw_create_datagram_endpoint(n2, writer_factory, &w, &wo, NULL), 0);
    } else {
        tw_server *srv;
        assert_int_equal(tw_create_server(n1, store_factory, &st, "10.0.0.1", 9, NULL, &srv),
                         0);
        assert_int_equal(tw_create_connection(n2, writer_factory, &w, "10.0.0.1", 9, NULL), 0);
    }
    while (st.got_at < 0)
        assert_int_equal(tw_sim_run_for(sim, 100000), 0);
    if (crash_after >= 0) {
        tw_sim_fault f = {.kind = TW_SIM_FAULT_POWER_LOSS, .a = tw_sim_node_id(n1),
                          .b = TW_SIM_ALL};
        assert_true(tw_sim_at(sim, st.got_at + crash_after, &f) >= 0);
    }
    assert_int_equal(tw_sim_run_for(sim, TW_MS(100)), 0);
    tw_ns acked = w.acked_at < 0 ? -1 : w.acked_at - st.got_at;
    if (!tw_sim_node_up(n1)) {
        assert_int_equal(tw_sim_restart(n1), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
    }
    char buf[8];
    *kept = get(n1, "/log", buf, sizeof buf) == 3;
    tw_sim_free(sim);
    return acked;
}

/* For both ways of sending:
 * an ack written after an fsync leaves when the fsync returns; one
 * written before it leaves at once. A power loss while the fsync runs
 * loses the write, and the ack written after it with it (it never left
 * the node): only the store that acks first tells the writer of a write
 * it then loses. */
static void test_an_ack_after_an_fsync_leaves_after_it(void **state)
{
    for (int dgram = 0; dgram < 2; dgram++) {
        bool kept;
        /* (the open before it and the append take up to 50 us each) */
        tw_ns after = store_run(dgram, false, -1, &kept);
        assert_true(after >= TW_MS(11) && after <= TW_MS(11) + 100000);
        assert_true(kept);
        tw_ns first = store_run(dgram, true, -1, &kept);
        assert_true(first >= TW_MS(1) && first <= TW_MS(1) + 50000);
        assert_true(kept);
        /* power lost 5 ms into the fsync */
        assert_int_equal(store_run(dgram, false, TW_MS(5), &kept), -1);
        assert_false(kept);
        assert_int_equal(store_run(dgram, true, TW_MS(5), &kept), first);
        assert_false(kept); /* acknowledged, and lost: the bug, found */
    }
}

/* Durable: 4096 bytes of 'a'. Then 4096 of 'b' over them, not synced,
 * and a crash: over many seeds the file comes back as it was (lost), as
 * written (kept), and torn: 'b' up to a sector boundary, 'a' after. */
static void test_unsynced_data_lost_kept_or_torn(void **state)
{
    int lost = 0, kept = 0, torn = 0;
    for (uint64_t seed = 1; seed <= 60; seed++) {
        tw_loop *n1;
        tw_sim *sim = world(seed, &n1, NULL);
        put(n1, "/f", 'a', 4096, true);
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
        put(n1, "/f", 'b', 4096, false);
        crash_restart(sim, n1);
        char buf[4096];
        assert_int_equal(get(n1, "/f", buf, sizeof buf), 4096);
        size_t bs = 0;
        while (bs < 4096 && buf[bs] == 'b')
            bs++;
        for (size_t i = bs; i < 4096; i++)
            assert_int_equal(buf[i], 'a');
        if (bs == 0)
            lost++;
        else if (bs == 4096)
            kept++;
        else {
            assert_int_equal(bs % 512, 0);
            torn++;
        }
        tw_sim_free(sim);
    }
    assert_true(lost > 0);
    assert_true(kept > 0);
    assert_true(torn > 0);
}

/* A rename not followed by a directory fsync may be undone; with one it
 * never is. */
static void test_rename_without_dir_fsync_may_be_undone(void **state)
{
    int undone = 0, stayed = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        for (int sync_dir = 0; sync_dir <= 1; sync_dir++) {
            tw_loop *n1;
            tw_sim *sim = world(seed, &n1, NULL);
            put(n1, "/state", 'o', 100, true);
            assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
            put(n1, "/state.tmp", 'n', 100, true);
            assert_int_equal(tw_fs_rename(n1, "/state.tmp", "/state"), 0);
            if (sync_dir)
                assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
            crash_restart(sim, n1);
            char buf[128];
            assert_int_equal(get(n1, "/state", buf, sizeof buf), 100);
            if (buf[0] == 'o') {
                assert_int_equal(sync_dir, 0);
                undone++;
                /* undone whole: the temporary file is back, or its
                 * create is undone too */
            } else {
                assert_int_equal(buf[0], 'n');
                assert_int_equal(get(n1, "/state.tmp", buf, sizeof buf), -ENOENT);
                stayed++;
            }
            tw_sim_free(sim);
        }
    }
    assert_true(undone > 0);
    assert_true(stayed > 40);
}

/* A create without a directory fsync may be undone: the file is gone. */
static void test_create_without_dir_fsync_may_be_undone(void **state)
{
    int gone = 0, there = 0;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        tw_loop *n1;
        tw_sim *sim = world(seed, &n1, NULL);
        put(n1, "/new", 'x', 10, true);
        crash_restart(sim, n1);
        char buf[16];
        ssize_t n = get(n1, "/new", buf, sizeof buf);
        if (n == -ENOENT)
            gone++;
        else {
            assert_int_equal(n, 10);
            there++;
        }
        tw_sim_free(sim);
    }
    assert_true(gone > 0);
    assert_true(there > 0);
}

static void test_nodes_have_their_own_files(void **state)
{
    tw_loop *n1, *n2;
    tw_sim *sim = world(7, &n1, &n2);
    put(n1, "/only-on-n1", 'a', 10, true);
    char buf[16];
    assert_int_equal(get(n1, "/only-on-n1", buf, sizeof buf), 10);
    assert_int_equal(get(n2, "/only-on-n1", buf, sizeof buf), -ENOENT);
    put(n2, "/only-on-n1", 'b', 3, true);
    assert_int_equal(get(n1, "/only-on-n1", buf, sizeof buf), 10);
    assert_int_equal(buf[0], 'a');
    uint64_t bytes;
    uint32_t files;
    assert_int_equal(tw_sim_fs_usage(n2, &bytes, &files), 0);
    assert_int_equal(bytes, 3);
    assert_int_equal(files, 1);
    tw_sim_free(sim);
}

static void test_size_bound_and_raising_it(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(3, &n1, NULL);
    tw_sim_fs_opts o = {.bytes_max = 4096, .files_max = 3};
    assert_int_equal(tw_sim_fs_set(n1, &o), 0);
    tw_file *f;
    char buf[4096] = {0};
    assert_int_equal(tw_file_open(n1, "/a", TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_file_pwrite(f, buf, 4096, 0), 4096);
    assert_int_equal(tw_file_append(f, "x", 1), -ENOSPC);
    assert_int_equal(tw_file_pwrite(f, "x", 1, 10), 1); /* no growth: fine */
    assert_int_equal(tw_file_size(f), 4096);
    o.bytes_max = 8192;
    assert_int_equal(tw_sim_fs_set(n1, &o), 0);
    assert_int_equal(tw_file_append(f, "x", 1), 1);
    assert_int_equal(tw_file_close(f), 0);
    /* the count of files is bounded too */
    put(n1, "/b", 'b', 1, false);
    put(n1, "/c", 'c', 1, false);
    assert_int_equal(tw_file_open(n1, "/d", TW_FILE_WRITE | TW_FILE_CREATE, &f),
                     -ENOSPC);
    tw_sim_free(sim);
}

static tw_ns ran_at = -1;
static void note_time(void *arg) { ran_at = tw_loop_now(arg); }

/* A call costs virtual time: the node's next work waits for it. */
static void test_a_call_holds_the_node(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(5, &n1, NULL);
    tw_sim_fs_opts o = {
        .latency = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(1)},
        .fsync_latency = {.kind = TW_SIM_DIST_CONSTANT, .min_ns = TW_MS(5)},
    };
    assert_int_equal(tw_sim_fs_set(n1, &o), 0);
    tw_file *f;
    tw_ns t0 = tw_loop_now(n1);
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_WRITE | TW_FILE_CREATE, &f), 0);
    assert_int_equal(tw_file_fsync(f), 0); /* 1 ms + 5 ms */
    assert_int_equal(tw_loop_now(n1), t0); /* the call itself takes no time */
    ran_at = -1;
    assert_true(tw_call_soon(n1, note_time, n1) != 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(20)), 0);
    assert_true(ran_at >= t0 + TW_MS(6));
    assert_int_equal(tw_file_close(f), 0);
    tw_sim_free(sim);
}

/* The same seed and the same calls give the same trace. */
static uint64_t run_once(uint64_t seed)
{
    tw_loop *n1;
    tw_sim *sim = world(seed, &n1, NULL);
    put(n1, "/f", 'a', 2048, true);
    put(n1, "/f", 'b', 4000, false);
    put(n1, "/g", 'g', 100, false);
    /* work waiting for the calls' cost: its thaw is traced at the time
     * the latencies drawn add up to */
    assert_true(tw_call_soon(n1, note_time, n1) != 0);
    crash_restart(sim, n1);
    uint64_t h = tw_sim_trace_hash(sim);
    tw_sim_free(sim);
    return h;
}

static void test_replays_with_the_seed(void **state)
{
    assert_true(run_once(11) == run_once(11));
    assert_true(run_once(11) != run_once(12));
}

/* ---- disk faults ---- */

static int at_now(tw_sim *sim, tw_loop *node, tw_sim_fault f)
{
    f.a = tw_sim_node_id(node);
    f.b = TW_SIM_ALL;
    int id = tw_sim_at(sim, tw_sim_now(sim), &f);
    assert_true(id >= 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0); /* applied */
    assert_true(tw_sim_fault_applied(sim, id));
    return id;
}

static uint64_t effect(tw_sim *sim, int id)
{
    uint64_t n = 0;
    assert_int_equal(tw_sim_fault_effect(sim, id, &n), 0);
    return n;
}

static void test_disk_eio_fails_calls_for_its_window(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(9, &n1, NULL);
    put(n1, "/f", 'a', 100, true);
    tw_file *f;
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_READ | TW_FILE_WRITE, &f), 0);
    int id = at_now(sim, n1, (tw_sim_fault){.kind = TW_SIM_FAULT_DISK_EIO,
                                            .duration_ns = TW_MS(50)});
    char buf[8];
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), -EIO);
    assert_int_equal(tw_file_pwrite(f, "b", 1, 0), -EIO);
    assert_int_equal(tw_file_fsync(f), -EIO);
    assert_int_equal(tw_fs_fsync_dir(n1, "/"), -EIO);
    assert_int_equal(effect(sim, id), 4);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(60)), 0); /* the window closed */
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 8);
    assert_int_equal(buf[0], 'a'); /* the failed write wrote nothing */
    assert_int_equal(tw_file_pwrite(f, "b", 1, 0), 1);
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(effect(sim, id), 4);
    assert_int_equal(tw_file_close(f), 0);
    tw_sim_free(sim);
}

static void test_disk_full_refuses_writes_for_its_window(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(10, &n1, NULL);
    put(n1, "/f", 'a', 100, true);
    assert_int_equal(tw_sim_disk_full(n1, TW_MS(50)), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
    tw_file *f;
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_READ | TW_FILE_WRITE, &f), 0);
    assert_int_equal(tw_file_append(f, "b", 1), -ENOSPC);
    char buf[8];
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 8); /* reads go on */
    tw_file *g;
    assert_int_equal(tw_file_open(n1, "/g", TW_FILE_WRITE | TW_FILE_CREATE, &g),
                     -ENOSPC);
    assert_int_equal(tw_fs_mkdir(n1, "/d"), -ENOSPC);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(60)), 0);
    assert_int_equal(tw_file_append(f, "b", 1), 1);
    assert_int_equal(tw_file_size(f), 101);
    assert_int_equal(tw_file_close(f), 0);
    tw_sim_free(sim);
}

/* The next `count` fsyncs fail, and what they were to make durable is
 * not: a power loss then takes it. */
static void test_fsync_fail_leaves_data_not_durable(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(12, &n1, NULL);
    put(n1, "/f", 'a', 512, true);
    assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0); /* both returned */
    int id = at_now(sim, n1, (tw_sim_fault){.kind = TW_SIM_FAULT_FSYNC_FAIL,
                                            .count = 2});
    tw_file *f;
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_WRITE, &f), 0);
    assert_int_equal(tw_file_pwrite(f, "bbbb", 4, 0), 4);
    assert_int_equal(tw_file_fsync(f), -EIO);
    assert_int_equal(tw_fs_fsync_dir(n1, "/"), -EIO);
    assert_int_equal(effect(sim, id), 2);
    assert_int_equal(tw_sim_power_loss(n1, 0), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
    assert_false(tw_sim_node_up(n1)); /* f went with the crash */
    assert_int_equal(tw_sim_restart(n1), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(1)), 0);
    char buf[8];
    assert_int_equal(get(n1, "/f", buf, sizeof buf), 8);
    assert_int_equal(buf[0], 'a');
    /* the count is used up: the next fsync succeeds */
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_WRITE, &f), 0);
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_close(f), 0);
    assert_int_equal(effect(sim, id), 2);
    tw_sim_free(sim);
}

/* For its window every read comes back with exactly one bit flipped,
 * inside the sectors read; the file itself is intact: reads after the
 * window are right, and a crash keeps the true bytes. */
static void test_disk_corrupt_flips_one_bit_per_read(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(13, &n1, NULL);
    put(n1, "/f", 'a', 2048, true);
    tw_file *f;
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_READ, &f), 0);
    int id = at_now(sim, n1, (tw_sim_fault){.kind = TW_SIM_FAULT_DISK_CORRUPT,
                                            .duration_ns = TW_MS(20)});
    bool sectors[4] = {false};
    for (int r = 0; r < 16; r++) {
        char buf[1500];
        assert_int_equal(tw_file_pread(f, buf, sizeof buf, 300), 1500);
        int flipped = 0, at = -1;
        for (int i = 0; i < 1500; i++)
            for (int b = 0; b < 8; b++)
                if (((buf[i] ^ 'a') >> b) & 1)
                    flipped++, at = i;
        assert_int_equal(flipped, 1);
        sectors[(300 + at) / 512] = true;
    }
    /* the draws reach every sector the reads cover (0..3) */
    assert_true(sectors[0] && sectors[1] && sectors[2] && sectors[3]);
    assert_int_equal(effect(sim, id), 16);
    assert_int_equal(tw_sim_run_for(sim, TW_MS(30)), 0);
    char buf[2048];
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 2048);
    for (int i = 0; i < 2048; i++)
        assert_int_equal(buf[i], 'a');
    assert_int_equal(effect(sim, id), 16);
    assert_int_equal(tw_file_close(f), 0);
    tw_sim_free(sim);
}

/* The next `count` writes report success and leave the file as it was;
 * the one after lands. */
static void test_lost_write_is_acknowledged_and_absent(void **state)
{
    tw_loop *n1;
    tw_sim *sim = world(14, &n1, NULL);
    put(n1, "/f", 'a', 10, true);
    tw_file *f;
    assert_int_equal(tw_file_open(n1, "/f", TW_FILE_READ | TW_FILE_WRITE, &f), 0);
    int id = at_now(sim, n1, (tw_sim_fault){.kind = TW_SIM_FAULT_LOST_WRITE,
                                            .count = 2});
    assert_int_equal(tw_file_pwrite(f, "bb", 2, 0), 2);
    assert_int_equal(tw_file_append(f, "cc", 2), 2);
    assert_int_equal(tw_file_fsync(f), 0);
    assert_int_equal(tw_file_size(f), 10);
    char buf[16];
    assert_int_equal(tw_file_pread(f, buf, sizeof buf, 0), 10);
    assert_int_equal(buf[0], 'a');
    assert_int_equal(effect(sim, id), 2);
    assert_int_equal(tw_file_append(f, "dd", 2), 2);
    assert_int_equal(tw_file_size(f), 12);
    assert_int_equal(effect(sim, id), 2);
    assert_int_equal(tw_file_close(f), 0);
    tw_sim_free(sim);
}

/* A power loss keeps only what was durable, whatever the seed: unsynced
 * bytes and unsynced names are gone; the node comes back after the
 * window. */
static void test_power_loss_keeps_only_what_was_durable(void **state)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        tw_loop *n1;
        tw_sim *sim = world(seed, &n1, NULL);
        put(n1, "/kept", 'k', 600, true);
        assert_int_equal(tw_fs_fsync_dir(n1, "/"), 0);
        assert_int_equal(tw_sim_run_for(sim, TW_MS(50)), 0); /* the fsyncs return */
        put(n1, "/kept", 'x', 1200, false);
        put(n1, "/new", 'n', 10, true);
        int id = at_now(sim, n1, (tw_sim_fault){.kind = TW_SIM_FAULT_POWER_LOSS,
                                                .duration_ns = TW_MS(5)});
        assert_false(tw_sim_node_up(n1));
        assert_int_equal(tw_sim_run_for(sim, TW_MS(10)), 0);
        assert_true(tw_sim_node_up(n1));
        char buf[2048];
        assert_int_equal(get(n1, "/kept", buf, sizeof buf), 600);
        for (int i = 0; i < 600; i++)
            assert_int_equal(buf[i], 'k');
        assert_int_equal(get(n1, "/new", buf, sizeof buf), -ENOENT);
        /* No transport was open, yet it hit: /kept lost its unsynced
         * bytes and /new's name was undone. */
        assert_int_equal(effect(sim, id), 2);
        tw_sim_free(sim);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_fsynced_data_survives_a_crash),
        TW_TEST(test_fsync_counts_once_it_returns),
        TW_TEST(test_fsyncs_running_together),
        TW_TEST(test_dir_fsync_counts_once_it_returns),
        TW_TEST(test_an_ack_after_an_fsync_leaves_after_it),
        TW_TEST(test_unsynced_data_lost_kept_or_torn),
        TW_TEST(test_rename_without_dir_fsync_may_be_undone),
        TW_TEST(test_create_without_dir_fsync_may_be_undone),
        TW_TEST(test_nodes_have_their_own_files),
        TW_TEST(test_size_bound_and_raising_it),
        TW_TEST(test_a_call_holds_the_node),
        TW_TEST(test_replays_with_the_seed),
        TW_TEST(test_disk_eio_fails_calls_for_its_window),
        TW_TEST(test_disk_full_refuses_writes_for_its_window),
        TW_TEST(test_fsync_fail_leaves_data_not_durable),
        TW_TEST(test_disk_corrupt_flips_one_bit_per_read),
        TW_TEST(test_lost_write_is_acknowledged_and_absent),
        TW_TEST(test_power_loss_keeps_only_what_was_durable),
    };
    return cmocka_run_group_tests_name("sim file system", tests, NULL, NULL);
}
