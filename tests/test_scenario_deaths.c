/* tests/test_scenario_deaths.c - the bugs the simulator's unkind faults
 * exist for, found by a plain sweep without any app-specific check:
 *
 *   - a client with no reply timeout hangs for good when its server
 *     crashes after reading the request and before answering (TCP tells
 *     an idle end nothing: it is half-open); the sweep finds a seed that
 *     fails liveness, the seed replays, shrink brings it to the one
 *     crash, and the client with a reply timeout passes every seed;
 *   - the same client against a blackhole (a server that vanishes from
 *     the network for a while, without a reset), found likewise;
 *   - a client that takes a late reply for a dead server and gives up,
 *     found by a freeze of the server (a GC or VM pause) and by a slow
 *     server (each of its turns costing time); the client that asks again
 *     passes;
 *   - a UDP client that takes any reply but the one it waits for as a
 *     protocol error, found by the swarm's datagram faults (a duplicate,
 *     a late echo after a resend, a corrupted one); the client that
 *     drops what it does not wait for passes.
 *
 * The apps are this file's: a server that answers each line 200 ms after
 * it reads it, and a client that asks five questions one after another,
 * asking again on a new connection when it loses one, with or without a
 * timeout on each reply. */
#include <stdlib.h>
#include <string.h>

#include "twin/datagram.h"

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/parse.h"
#include "twin/scenario.h"

/* ---- the slow answerer ---- */

typedef struct answer {
    tw_protocol base;
    tw_transport *t;
    tw_handle timer;
    tw_loop *loop;
} answer;

static void answer_now(void *arg)
{
    answer *a = arg;
    a->timer = 0;
    if (a->t)
        tw_transport_write(a->t, "a\n", 2);
}

static void ans_made(tw_protocol *p, tw_transport *t) { ((answer *)p)->t = t; }

static void ans_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    answer *a = (answer *)p;
    (void)d, (void)n;
    if (!a->timer)
        a->timer = tw_call_later(a->loop, TW_MS(200), answer_now, a);
}

static void ans_lost(tw_protocol *p, int err)
{
    answer *a = (answer *)p;
    (void)err;
    if (a->timer)
        tw_handle_cancel(a->loop, a->timer);
    a->timer = 0;
    a->t = NULL;
}

static void ans_release(tw_protocol *p) { free(p); }

static const tw_protocol_ops answer_ops = {
    .connection_made = ans_made, .data_received = ans_data,
    .connection_lost = ans_lost, .release = ans_release,
};

static tw_protocol *answer_factory(void *arg)
{
    answer *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->base.ops = &answer_ops;
    a->loop = arg;
    return &a->base;
}

typedef struct server_state {
    tw_server *srv;
} server_state;

static int server_start(tw_loop *loop, int argc, char **argv, FILE *out, void **st)
{
    (void)argc, (void)argv, (void)out;
    server_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = tw_create_server(loop, answer_factory, loop, "", 7, NULL, &s->srv);
    if (rc < 0) {
        free(s);
        return rc;
    }
    *st = s;
    return 0;
}
static int server_result(void *st) { (void)st; return 0; }
static void server_free(void *st)
{
    server_state *s = st;
    tw_server_close(s->srv);
    free(s);
}
static void server_discard(void *st) { free(st); }

static const tw_app slow_answerer = {
    .name = "test-answerer", .summary = "", .usage = "", .start = server_start,
    .result = server_result, .free = server_free, .discard = server_discard,
};

/* ---- the asker ---- */

#define QUESTIONS 5

typedef struct asker {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    tw_handle retry, patience;
    tw_ns timeout; /* 0: waits for a reply for ever */
    int answered;
    bool connecting;
    bool give_up;  /* a late reply means a dead server: fail (the mistake) */
    bool failed;
} asker;

static void ask_connect(void *arg);

/* No reply in time: give this connection up (connection_lost asks
 * again on a new one). */
static void impatient(void *arg)
{
    asker *k = arg;
    k->patience = 0;
    if (k->give_up) {
        k->failed = true; /* "the server is dead" */
        k->answered = QUESTIONS;
    }
    if (k->t)
        tw_transport_abort(k->t);
}

static void ask(asker *k)
{
    tw_transport_write(k->t, "q\n", 2);
    if (k->timeout)
        k->patience = tw_call_later(k->loop, k->timeout, impatient, k);
}

static void ask_made(tw_protocol *p, tw_transport *t)
{
    asker *k = (asker *)p;
    k->t = t;
    ask(k);
}

static void ask_data(tw_protocol *p, const uint8_t *d, size_t n)
{
    asker *k = (asker *)p;
    (void)d, (void)n;
    if (k->patience)
        tw_handle_cancel(k->loop, k->patience);
    k->patience = 0;
    if (++k->answered == QUESTIONS)
        tw_transport_close(k->t);
    else
        ask(k);
}

static void ask_lost(tw_protocol *p, int err)
{
    asker *k = (asker *)p;
    (void)err;
    if (k->patience)
        tw_handle_cancel(k->loop, k->patience);
    k->patience = 0;
    k->t = NULL;
    if (k->answered < QUESTIONS) /* ask again, on a new connection */
        k->retry = tw_call_later(k->loop, TW_MS(100), ask_connect, k);
}

static void ask_release(tw_protocol *p) { (void)p; }

static const tw_protocol_ops asker_ops = {
    .connection_made = ask_made, .data_received = ask_data,
    .connection_lost = ask_lost, .release = ask_release,
};

static tw_protocol *asker_factory(void *arg) { return &((asker *)arg)->base; }

static void ask_connected(void *arg, tw_transport *t, int err)
{
    asker *k = arg;
    (void)t;
    if (err < 0)
        k->retry = tw_call_later(k->loop, TW_MS(100), ask_connect, k);
}

static void ask_connect(void *arg)
{
    asker *k = arg;
    k->retry = 0;
    if (tw_create_connection(k->loop, asker_factory, k, "server", 7, ask_connected) < 0)
        k->retry = tw_call_later(k->loop, TW_MS(100), ask_connect, k);
}

static int asker_start(tw_loop *loop, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    asker *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->base.ops = &asker_ops;
    k->loop = loop;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--give-up") == 0)
            k->give_up = true;
        else if (strcmp(argv[i], "--timeout") != 0 || i + 1 == argc ||
                 tw_parse_duration(argv[++i], &k->timeout) < 0) {
            free(k);
            return -EINVAL;
        }
    }
    k->retry = tw_call_soon(loop, ask_connect, k);
    *st = k;
    return 0;
}
static int asker_result(void *st)
{
    asker *k = st;
    return k->answered == QUESTIONS && !k->failed ? 0 : 1;
}
static bool asker_done(void *st) { return ((asker *)st)->answered == QUESTIONS; }
static void asker_free(void *st)
{
    asker *k = st;
    if (k->t)
        tw_transport_abort(k->t);
    free(k);
}
static void asker_discard(void *st) { free(st); }

static const tw_app asker_app = {
    .name = "test-asker", .summary = "", .usage = "", .start = asker_start,
    .result = asker_result, .free = asker_free, .done = asker_done,
    .discard = asker_discard,
};

/* ---- the pinger: stop and wait over UDP ---- */

#define PINGS 40

typedef struct pinger {
    tw_protocol base;
    tw_loop *loop;
    tw_transport *t;
    tw_handle resend;
    uint32_t next; /* the sequence number waited for */
    bool tolerant; /* drops what it does not wait for (the fix) */
    bool failed;
} pinger;

static void ping(pinger *k);

static void ping_again(void *arg)
{
    pinger *k = arg;
    k->resend = 0;
    ping(k);
}

static void ping(pinger *k)
{
    uint8_t b[4] = {(uint8_t)(k->next >> 24), (uint8_t)(k->next >> 16),
                    (uint8_t)(k->next >> 8), (uint8_t)k->next};
    tw_transport_sendto(k->t, b, sizeof b, NULL);
    k->resend = tw_call_later(k->loop, TW_MS(50), ping_again, k);
}

static void ping_made(tw_protocol *p, tw_transport *t)
{
    pinger *k = (pinger *)p;
    k->t = t;
    ping(k);
}

static void ping_got(tw_protocol *p, const uint8_t *d, size_t n, const tw_addr *from)
{
    pinger *k = (pinger *)p;
    (void)from;
    if (k->failed || k->next == PINGS)
        return;
    uint32_t seq = n == 4 ? (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                                (uint32_t)d[2] << 8 | d[3]
                          : UINT32_MAX;
    if (seq != k->next) {
        if (k->tolerant)
            return; /* a duplicate, a late one, a damaged one: not ours */
        k->failed = true; /* the mistake: "cannot happen" */
        tw_transport_close(k->t);
        return;
    }
    tw_handle_cancel(k->loop, k->resend);
    k->resend = 0;
    if (++k->next == PINGS)
        tw_transport_close(k->t);
    else
        ping(k);
}

static void ping_error(tw_protocol *p, int err) { (void)p, (void)err; }
static void ping_lost(tw_protocol *p, int err)
{
    pinger *k = (pinger *)p;
    (void)err;
    if (k->resend)
        tw_handle_cancel(k->loop, k->resend);
    k->resend = 0;
    k->t = NULL;
}
static void ping_release(tw_protocol *p) { (void)p; }

static const tw_protocol_ops pinger_ops = {
    .connection_made = ping_made, .datagram_received = ping_got,
    .error_received = ping_error, .connection_lost = ping_lost,
    .release = ping_release,
};

static tw_protocol *pinger_factory(void *arg) { return &((pinger *)arg)->base; }

static int pinger_start(tw_loop *loop, int argc, char **argv, FILE *out, void **st)
{
    (void)out;
    pinger *k = calloc(1, sizeof *k);
    if (!k)
        return -ENOMEM;
    k->base.ops = &pinger_ops;
    k->loop = loop;
    k->tolerant = argc == 2 && strcmp(argv[1], "--tolerant") == 0;
    tw_datagram_opts o = {.remote_host = "server", .remote_port = 9999};
    int rc = tw_create_datagram_endpoint(loop, pinger_factory, k, &o, NULL);
    if (rc < 0) {
        free(k);
        return rc;
    }
    *st = k;
    return 0;
}
static int pinger_result(void *st)
{
    pinger *k = st;
    return !k->failed && k->next == PINGS ? 0 : 1;
}
static bool pinger_done(void *st)
{
    pinger *k = st;
    return k->failed || k->next == PINGS;
}
static void pinger_free(void *st)
{
    pinger *k = st;
    if (k->t)
        tw_transport_abort(k->t);
    free(k);
}

static const tw_app pinger_app = {
    .name = "test-pinger", .summary = "", .usage = "", .start = pinger_start,
    .result = pinger_result, .free = pinger_free, .done = pinger_done,
    .discard = free,
};

/* ---- sweeps ---- */

static tw_scenario *parse(const char *text)
{
    char err[600];
    tw_scenario *sc = NULL;
    if (tw_scenario_parse("t.yaml", text, strlen(text), &sc, err, sizeof err) != 0)
        fail_msg("%s", err);
    return sc;
}

/* The world: the answerer, and the asker with `args`; faults of `kind`
 * drawn by the swarm on the server (or its paths). */
static tw_scenario *world(const char *args, const char *kind)
{
    char text[1024];
    snprintf(text, sizeof text,
             "duration: 3s\n"
             "nodes:\n"
             "  - {name: server, addr: 10.0.0.1, app: test-answerer}\n"
             "  - {name: client, addr: 10.0.0.2, app: test-asker, args: [%s]}\n"
             "network: {latency: 1ms, stall_timeout: 2s}\n"
             "quiet: {within: 20s, until: [client]}\n"
             "swarm:\n  faults: [%s]\n  nodes: [server]\n  window: [0s, 2s]\n"
             "  count: 1\n  duration: [100ms, 3s]\n",
             args, kind);
    return parse(text);
}

/* Seeds 1..n with the swarm: the first that fails (0: none) and how many
 * failed, each with verdict v. */
static uint64_t sweep(const tw_scenario *sc, uint64_t n, tw_scenario_verdict v,
                      int *failed)
{
    uint64_t first = 0;
    *failed = 0;
    for (uint64_t seed = 1; seed <= n; seed++) {
        tw_scenario_result r;
        tw_scenario_run_opts o = {.swarm = true};
        assert_int_equal(tw_scenario_run(sc, seed, &o, &r), 0);
        if (r.verdict != TW_SCENARIO_PASS) {
            if (r.verdict != v)
                fail_msg("seed %llu: %s: %s", (unsigned long long)seed,
                         tw_scenario_verdict_name(r.verdict), r.message);
            (*failed)++;
            first = first ? first : seed;
        }
        tw_scenario_result_fini(&r);
    }
    return first;
}

/* Found (with verdict v), replayed, shrunk to its one fault; the careful
 * client passes. */
static void found_fixed(const char *kind, const char *flawed, const char *careful,
                        tw_scenario_verdict v)
{
    tw_scenario *bad = world(flawed, kind);
    int failed;
    uint64_t seed = sweep(bad, 40, v, &failed);
    if (!seed)
        fail_msg("no seed of 40 found the client '%s' (%s)", flawed, kind);
    /* the seed replays: the same verdict and hash */
    tw_scenario_result a, b;
    tw_scenario_run_opts o = {.swarm = true};
    assert_int_equal(tw_scenario_run(bad, seed, &o, &a), 0);
    assert_int_equal(tw_scenario_run(bad, seed, &o, &b), 0);
    assert_int_equal(a.verdict, v);
    assert_non_null(strstr(a.message, v == TW_SCENARIO_LIVENESS
                                          ? "client (test-asker) had not finished"
                                          : "client (test-asker) exited with status 1"));
    assert_int_equal(a.hash, b.hash);
    tw_scenario_result_fini(&a);
    tw_scenario_result_fini(&b);
    /* shrunk to the fault that matters */
    tw_scenario *small = NULL;
    tw_scenario_shrink_stats st;
    assert_int_equal(tw_scenario_shrink(bad, seed, true, 100, NULL, &small, &st), 0);
    assert_int_equal(st.faults_after, 1);
    assert_int_equal(st.verdict, v);
    tw_scenario_free(small);
    tw_scenario_free(bad);

    tw_scenario *good = world(careful, kind);
    assert_int_equal(sweep(good, 40, v, &failed), 0);
    tw_scenario_free(good);
}

static void found_and_fixed(const char *kind)
{
    found_fixed(kind, "", "--timeout, 1s", TW_SCENARIO_LIVENESS);
}

static void test_crash_finds_a_client_without_a_reply_timeout(void **state)
{
    (void)state;
    found_and_fixed("crash");
}

static void test_blackhole_finds_a_client_without_a_reply_timeout(void **state)
{
    (void)state;
    found_and_fixed("blackhole");
}

/* A late reply is not a dead server: a client that gives up when one is
 * late is found by a freeze (a GC or VM pause of the server) and by a
 * slow server (a gray failure), and the client that asks again passes. */
static void test_freeze_finds_a_client_that_takes_late_for_dead(void **state)
{
    (void)state;
    found_fixed("freeze", "--timeout, 1s, --give-up", "--timeout, 1s",
                TW_SCENARIO_CORRECTNESS);
}

static void test_slow_finds_a_client_that_takes_late_for_dead(void **state)
{
    (void)state;
    found_fixed("slow", "--timeout, 250ms, --give-up", "--timeout, 250ms",
                TW_SCENARIO_CORRECTNESS);
}

static tw_scenario *udp_world(const char *args)
{
    char text[1024];
    snprintf(text, sizeof text,
             "duration: 2s\n"
             "nodes:\n"
             "  - {name: server, addr: 10.0.0.1, app: udp-echo-server,\n"
             "     args: [--host, 10.0.0.1, --port, \"9999\", --quiet]}\n"
             "  - {name: client, addr: 10.0.0.2, app: test-pinger, args: [%s]}\n"
             "network: {latency: 1ms}\n"
             "quiet: {within: 10s, until: [client]}\n"
             "swarm:\n  faults: [dgram]\n  nodes: [client]\n  window: [0s, 500ms]\n"
             "  count: 1\n  duration: [200ms, 1s]\n",
             args);
    return parse(text);
}

static void test_datagram_faults_find_a_client_that_trusts_the_network(void **state)
{
    (void)state;
    tw_scenario *bad = udp_world("");
    int failed;
    uint64_t seed = sweep(bad, 40, TW_SCENARIO_CORRECTNESS, &failed);
    if (!seed)
        fail_msg("no seed of 40 found the client that trusts the network");
    tw_scenario_result a;
    tw_scenario_run_opts o = {.swarm = true};
    assert_int_equal(tw_scenario_run(bad, seed, &o, &a), 0);
    assert_int_equal(a.verdict, TW_SCENARIO_CORRECTNESS);
    assert_non_null(strstr(a.message, "client (test-pinger) exited with status 1"));
    assert_int_equal(a.neffects, 1);
    assert_string_equal(a.effects[0].kind, "dgram");
    assert_true(a.effects[0].count > 0);
    tw_scenario_result_fini(&a);
    tw_scenario *small = NULL;
    tw_scenario_shrink_stats st;
    assert_int_equal(tw_scenario_shrink(bad, seed, true, 100, NULL, &small, &st), 0);
    assert_int_equal(st.faults_after, 1);
    tw_scenario_free(small);
    tw_scenario_free(bad);
    tw_scenario *good = udp_world("--tolerant");
    assert_int_equal(sweep(good, 40, TW_SCENARIO_CORRECTNESS, &failed), 0);
    tw_scenario_free(good);
}

static int setup(void **state)
{
    tw_test_setup(state);
    if (tw_app_register(&slow_answerer) != 0 || tw_app_register(&asker_app) != 0 ||
        tw_app_register(&pinger_app) != 0)
        return -1;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_finds_a_client_without_a_reply_timeout,
                                        setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(
            test_blackhole_finds_a_client_without_a_reply_timeout, setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(
            test_datagram_faults_find_a_client_that_trusts_the_network, setup,
            tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_freeze_finds_a_client_that_takes_late_for_dead,
                                        setup, tw_test_teardown),
        cmocka_unit_test_setup_teardown(test_slow_finds_a_client_that_takes_late_for_dead,
                                        setup, tw_test_teardown),
    };
    return cmocka_run_group_tests_name("scenario_deaths", tests, NULL, NULL);
}
