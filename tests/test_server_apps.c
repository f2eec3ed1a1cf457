/* tests/test_server_apps.c - what the server apps (echo-server,
 * resp-server, bulk-recv) tell their user about accepting, run on a
 * simulated node where virtual time makes the rate limit's seconds cheap:
 * accept failures for want of descriptors are said at once, then at most
 * once per 10 s with a count of what was left unsaid, and the remainder is
 * counted when the app stops; a simulated node has no descriptor limit,
 * so resp-server keeps its maxclients. (The same on the real backend, with
 * a real RLIMIT_NOFILE: tests/test_cli.c and tests/test_resp_cli.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/sim.h"

/* A client that only connects. */
typedef struct dialer {
    tw_protocol base;
    tw_transport *t;
    int made;
} dialer;

static void d_made(tw_protocol *p, tw_transport *t)
{
    dialer *d = (dialer *)p;
    d->t = t;
    d->made++;
}

static const tw_protocol_ops dialer_ops = {.connection_made = d_made};

static tw_protocol *dialer_factory(void *arg) { return arg; }

/* Start app (argv, NULL-terminated) on node s of a two-node world, make
 * the next `fails` accepts there fail with EMFILE, connect from the other
 * node, run 40 s of virtual time, stop the app; its output in *text. */
static void run_app(char **argv, uint32_t fails, char **text, int *accepted)
{
    tw_sim *sim = tw_sim_new(1, NULL);
    assert_non_null(sim);
    tw_loop *s = tw_sim_add_node(sim, "s", "10.0.0.1");
    tw_loop *c = tw_sim_add_node(sim, "c", "10.0.0.2");
    assert_true(s && c);
    /* nothing to run out of in a simulated world */
    assert_true(tw_loop_fd_limit(s, 100000) == UINT64_MAX);
    const tw_app *app = tw_app_find(argv[0]);
    assert_non_null(app);
    int argc = 0;
    while (argv[argc])
        argc++;
    size_t len = 0;
    FILE *out = open_memstream(text, &len);
    assert_non_null(out);
    void *st = NULL;
    assert_int_equal(app->start(s, argc, argv, out, &st), 0);
    if (fails)
        assert_int_equal(tw_sim_emfile(s, fails), 0);
    dialer d = {.base.ops = &dialer_ops};
    assert_int_equal(tw_create_connection(c, dialer_factory, &d, "10.0.0.1", 7000,
                                          NULL), 0);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(40)), 0);
    *accepted = d.made;
    /* the connection ends before the app goes: its protocol has the app */
    if (d.t)
        tw_transport_close(d.t);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0);
    app->free(st);
    assert_int_equal(tw_sim_run_for(sim, TW_SEC(1)), 0);
    fclose(out);
    tw_sim_free(sim);
}

static void expect_text(const char *app, const char *got, const char *want)
{
    if (strcmp(got, want) != 0)
        fail_msg("%s printed\n%s\nwanted\n%s", app, got, want);
}

/* 25 failures a second apart: the 1st is said, the 11th with 9 unsaid
 * before it, the 21st likewise, and the last 4 are counted at the end. */
static void test_accept_failures_said_at_a_limited_rate(void **state)
{
    (void)state;
    static const char fails[] =
        "%1$s: cannot accept a connection: Too many open files (EMFILE); "
        "clients wait unanswered until it can\n"
        "%1$s: cannot accept a connection: Too many open files (EMFILE); "
        "9 more time(s) since the last message\n"
        "%1$s: cannot accept a connection: Too many open files (EMFILE); "
        "9 more time(s) since the last message\n"
        "%1$s: accepting failed 4 more time(s) after the last message (25 in all)\n";
    char want[1024], *text = NULL;
    int made = 0;

    char *echo[] = {"echo-server", "--host", "10.0.0.1", "--port", "7000", "--keep-open", "--quiet", NULL};
    run_app(echo, 25, &text, &made);
    assert_int_equal(made, 1); /* the client got in at last */
    int n = snprintf(want, sizeof want, "Serving on 10.0.0.1:7000\n");
    snprintf(want + n, sizeof want - (size_t)n, fails, "echo-server");
    expect_text("echo-server", text, want);
    free(text);

    /* --quiet: no "Serving on", but warnings all the same */
    char *resp[] = {"resp-server", "--host", "10.0.0.1", "--port", "7000", "--quiet", NULL};
    run_app(resp, 25, &text, &made);
    assert_int_equal(made, 1);
    snprintf(want, sizeof want, fails, "resp-server");
    expect_text("resp-server", text, want);
    free(text);

    char *bulk[] = {"bulk-recv", "--host", "10.0.0.1", "--port", "7000", "--quiet", NULL};
    run_app(bulk, 25, &text, &made);
    snprintf(want, sizeof want, fails, "bulk-recv");
    expect_text("bulk-recv", text, want);
    free(text);

    /* one failure: said, and nothing left to count */
    run_app(resp, 1, &text, &made);
    assert_int_equal(made, 1);
    expect_text("resp-server", text,
                "resp-server: cannot accept a connection: Too many open files "
                "(EMFILE); clients wait unanswered until it can\n");
    free(text);
}

/* No descriptor limit on a simulated node: maxclients stays as asked,
 * and nothing is said about it. */
static void test_resp_server_keeps_maxclients_without_a_limit(void **state)
{
    (void)state;
    char *text = NULL;
    int made = 0;
    char *resp[] = {"resp-server", "--host", "10.0.0.1", "--port", "7000", NULL};
    run_app(resp, 0, &text, &made);
    assert_int_equal(made, 1);
    expect_text("resp-server", text, "Serving on 10.0.0.1:7000\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_accept_failures_said_at_a_limited_rate),
        TW_TEST(test_resp_server_keeps_maxclients_without_a_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
