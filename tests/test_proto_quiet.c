/* tests/test_proto_quiet.c - a protocol with no log to write does no text
 * work: the echo protocols (UDP and stream, server and client), given no
 * log, move their data without formatting a single string, on both
 * backends. A quiet server is one that serves many peers fast; formatting
 * each peer's address for a log nobody reads was most of the cost of an
 * echo in the simulator. The same for a history: resp-client on the real
 * backend, where no history is kept, formats no key names beyond those
 * its requests carry.
 *
 * How it is seen: this program defines snprintf itself, so every call
 * the library makes lands here first and is counted, then done by
 * vsnprintf. The count is taken over the exchange only (set-up and
 * teardown may format what they like).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/echo.h"
#include "twin/real.h"
#include "twin/udp_echo.h"

static unsigned long formatted; /* snprintf calls so far */
static unsigned long key_names; /* of them, resp-client's key names */

int snprintf(char *restrict buf, size_t len, const char *restrict fmt, ...)
{
    formatted++;
    if (strcmp(fmt, "%s:k%u") == 0)
        key_names++;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    return n;
}

static tw_addr ip(const char *host, uint16_t port)
{
    tw_addr a;
    assert_int_equal(tw_addr_ip(&a, host, port), 0);
    return a;
}

/* ------------------------------------------------------------------ */
/* UDP echo                                                            */

struct udp_srv {
    tw_udp_echo_server_cfg cfg; /* first: the factory's arg */
    tw_transport *t;
};

static void udp_srv_cb(void *arg, tw_transport *t, int err)
{
    assert_int_equal(err, 0);
    ((struct udp_srv *)arg)->t = t;
}

static void test_quiet_udp_echo_formats_nothing(void **state)
{
    tw_env *env = TW_ENV(state);
    struct udp_srv srv;
    memset(&srv, 0, sizeof srv); /* cfg.log NULL: nobody reads it */
    tw_datagram_opts so = {.local = ip(env->host, 0)};
    assert_int_equal(tw_create_datagram_endpoint(env->loop, tw_udp_echo_server_factory,
                                                 &srv, &so, udp_srv_cb), 0);
    TW_WAIT(env, srv.t != NULL);
    tw_udp_echo_client_cfg cc = {.message = "ping", .count = 20,
                                 .timeout_ns = TW_MS(200), .retries = 50};
    tw_udp_echo_client *cl = tw_udp_echo_client_new(&cc);
    assert_non_null(cl);
    tw_datagram_opts co = {0};
    assert_int_equal(tw_transport_sockname(srv.t, &co.remote), 0);
    unsigned long before = formatted;
    assert_int_equal(tw_create_datagram_endpoint(env->loop, tw_udp_echo_client_factory,
                                                 cl, &co, tw_udp_echo_client_connected), 0);
    TW_WAIT(env, tw_udp_echo_client_done(cl));
    unsigned long during = formatted - before;
    assert_true(tw_udp_echo_client_ok(cl));
    assert_true(srv.cfg.datagrams >= 20);
    if (during != 0)
        fail_msg("%s backend: %lu strings formatted while %llu datagrams "
                 "were echoed with no log", env->backend, during,
                 srv.cfg.datagrams);
    tw_udp_echo_client_free(cl);
    tw_transport_close(srv.t);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

/* ------------------------------------------------------------------ */
/* stream echo                                                         */

struct stream_srv {
    tw_echo_server_cfg cfg; /* first: the factory's arg */
    tw_server *s;
    tw_addr where;
};

static void test_quiet_stream_echo_formats_nothing(void **state)
{
    tw_env *env = TW_ENV(state);
    struct stream_srv srv;
    memset(&srv, 0, sizeof srv);
    srv.cfg.keep_open = true; /* for all twenty, however they are cut */
    tw_server_opts so = {0};
    assert_int_equal(tw_create_server(env->loop, tw_echo_server_factory, &srv.cfg,
                                      env->host, 0, &so, &srv.s), 0);
    assert_int_equal(tw_server_sockname(srv.s, 0, &srv.where), 0);
    unsigned long before = formatted;
    tw_echo_client_cfg cc = {.message = "hello", .count = 20};
    tw_echo_client *cl = tw_echo_client_new(&cc);
    assert_non_null(cl);
    assert_int_equal(tw_create_connection(env->loop, tw_echo_client_factory, cl,
                                          env->host, tw_addr_port(&srv.where),
                                          tw_echo_client_connected), 0);
    TW_WAIT(env, tw_echo_client_done(cl));
    unsigned long during = formatted - before;
    assert_true(tw_echo_client_ok(cl));
    if (during != 0)
        fail_msg("%s backend: %lu strings formatted during a stream echo "
                 "with no log", env->backend, during);
    tw_echo_client_free(cl);
    tw_server_close(srv.s);
    TW_WAIT(env, tw_loop_alive(env->loop) == 0);
}

/* ------------------------------------------------------------------ */
/* resp-client's history                                               */

struct app_run {
    const tw_app *app;
    void *state;
    FILE *out;
    char *text;
    size_t len;
};

static void app_start(struct app_run *a, tw_loop *loop, int argc, char **argv)
{
    a->app = tw_app_find(argv[0]);
    assert_non_null(a->app);
    a->out = open_memstream(&a->text, &a->len);
    assert_non_null(a->out);
    assert_int_equal(a->app->start(loop, argc, argv, a->out, &a->state), 0);
    fflush(a->out);
}

static void app_end(struct app_run *a)
{
    a->app->free(a->state);
    fclose(a->out);
    free(a->text);
}

/* A request carries at most three keys (MGET): a client that names keys
 * for its requests alone formats at most three key names a request, and
 * it sends its ops and at most a pipeline's worth more. */
static void test_real_resp_client_formats_no_history(void **state)
{
    (void)state;
    tw_loop *loop = tw_loop_new(NULL);
    assert_non_null(loop);
    struct app_run srv, cli;
    char *sargv[] = {"resp-server", "--host", "127.0.0.1", "--port", "0", NULL};
    app_start(&srv, loop, 5, sargv);
    unsigned port = 0;
    const char *at = strstr(srv.text, "Serving on 127.0.0.1:");
    assert_non_null(at);
    assert_int_equal(sscanf(at, "Serving on 127.0.0.1:%u", &port), 1);
    char where[32];
    snprintf(where, sizeof where, "127.0.0.1:%u", port);
    char *cargv[] = {"resp-client", "--connect", where, "--ops", "400",
                     "--pipeline", "4", "--quiet", NULL};
    unsigned long before = key_names;
    app_start(&cli, loop, 8, cargv);
    tw_ns end = tw_loop_now(loop) + TW_SEC(60);
    while (!cli.app->done(cli.state) && tw_loop_now(loop) < end)
        tw_loop_run_for(loop, TW_MS(10));
    unsigned long named = key_names - before;
    assert_true(cli.app->done(cli.state));
    assert_int_equal(cli.app->result(cli.state), 0);
    if (named > 3 * (400 + 4))
        fail_msg("%lu key names formatted for 400 ops (at most %d go on "
                 "the wire; no history is kept here)", named, 3 * (400 + 4));
    app_end(&cli);
    app_end(&srv);
    tw_loop_run_for(loop, TW_MS(50));
    assert_int_equal(tw_loop_alive(loop), 0);
    tw_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_MATRIX(test_quiet_udp_echo_formats_nothing),
        TW_MATRIX(test_quiet_stream_echo_formats_nothing),
        TW_TEST(test_real_resp_client_formats_no_history),
    };
    return cmocka_run_group_tests_name("protocols with no log format nothing",
                                       tests, NULL, NULL);
}
