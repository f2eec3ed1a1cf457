/* tests/test_resp_client_check.c - resp-client notices a value that came
 * back altered, whether it still holds the value it wrote or makes it
 * again; with --extended, a RENAME that put the value elsewhere and an
 * APPEND that stored other bytes than it was given.
 *
 * Map: a proxy between resp-client and resp-server that changes one
 * letter of the Nth value it passes back, or the RENAME or APPEND
 * requests on their way to the server; the world (server, proxy,
 * client); an untouched run passes (also --extended); an altered value
 * of a key written lately (the client compares with the value it kept)
 * and of a key written long before (it makes the value again) are both
 * caught, and so are the RENAME and the APPEND.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"
#include "twin/app.h"
#include "twin/sim.h"
#include "twin/twin.h"

/* ---- the proxy ---- */

static int flip_at;   /* change a letter of this value (0-based), -1: none */
static int values_seen;
static int flips;
/* Requests to the server: every RENAME's destination ends in 'c' (the
 * value moves to a key nobody reads), or every APPEND's bytes begin with
 * 'A' instead of 'a' (every one: a later SETRANGE may overwrite one
 * before it is read). Their replies are what they would have been. */
static enum { MANGLE_NONE, MANGLE_RENAME, MANGLE_APPEND } mangle;
static int mangled;

typedef struct pair pair;
typedef struct half {
    tw_protocol base;
    pair *p;
    tw_transport *t;
} half;

struct pair {
    half down, up; /* down: the client's connection; up: the server's */
    tw_loop *loop;
    uint8_t pend[1 << 16]; /* the client's bytes before up connects */
    size_t npend;
    int refs;
};

static void half_release(tw_protocol *proto)
{
    pair *p = ((half *)proto)->p;
    if (--p->refs == 0)
        free(p);
}

static void half_lost(tw_protocol *proto, int err)
{
    half *h = (half *)proto;
    (void)err;
    half *other = h == &h->p->down ? &h->p->up : &h->p->down;
    h->t = NULL;
    if (other->t)
        tw_transport_close(other->t);
}

/* Server to client: the flip_at'th value ("\r\nv<digits>:" and letters)
 * gets its third letter changed to another letter. */
static void up_data(tw_protocol *proto, const uint8_t *d, size_t n)
{
    half *h = (half *)proto;
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, d, n);
    for (size_t i = 0; i + 3 < n; i++) {
        if (copy[i] != '\r' || copy[i + 1] != '\n' || copy[i + 2] != 'v')
            continue;
        size_t j = i + 3;
        while (j < n && copy[j] >= '0' && copy[j] <= '9')
            j++;
        if (j == i + 3 || j + 3 >= n || copy[j] != ':')
            continue;
        bool letters = true;
        for (size_t k = j + 1; k <= j + 3; k++)
            letters = letters && copy[k] >= 'a' && copy[k] <= 'z';
        if (!letters)
            continue;
        if (values_seen++ == flip_at) {
            copy[j + 3] = (uint8_t)('a' + (copy[j + 3] - 'a' + 1) % 26);
            flips++;
        }
    }
    if (h->p->down.t)
        tw_transport_write(h->p->down.t, copy, n);
    free(copy);
}

static void up_made(tw_protocol *proto, tw_transport *t)
{
    half *h = (half *)proto;
    h->t = t;
    if (h->p->npend)
        tw_transport_write(t, h->p->pend, h->p->npend);
    h->p->npend = 0;
}

static const tw_protocol_ops up_ops = {.connection_made = up_made,
                                       .data_received = up_data,
                                       .connection_lost = half_lost,
                                       .release = half_release};

static tw_protocol *up_factory(void *arg)
{
    pair *p = arg;
    p->refs++;
    return &p->up.base;
}

/* The bulk at d[*i] ("$<len>\r\n<bytes>\r\n"): where its bytes begin and
 * its length, *i moved past it; false if it does not fit in n. */
static bool bulk_at(uint8_t *d, size_t n, size_t *i, size_t *at, size_t *len)
{
    size_t j = *i, l = 0;
    if (j >= n || d[j] != '$')
        return false;
    for (j++; j < n && d[j] >= '0' && d[j] <= '9'; j++)
        l = l * 10 + (size_t)(d[j] - '0');
    if (j + 2 + l + 2 > n)
        return false;
    *at = j + 2;
    *len = l;
    *i = j + 2 + l + 2;
    return true;
}

static void mangle_request(uint8_t *d, size_t n)
{
    const char *cmd = mangle == MANGLE_RENAME ? "$6\r\nRENAME\r\n" : "$6\r\nAPPEND\r\n";
    for (size_t i = 0; mangle != MANGLE_NONE && i + 12 <= n; i++) {
        if (memcmp(d + i, cmd, 12) != 0)
            continue;
        size_t j = i + 12, at, len;
        if (!bulk_at(d, n, &j, &at, &len) || !bulk_at(d, n, &j, &at, &len) || len == 0)
            continue;
        if (mangle == MANGLE_RENAME) {
            d[at + len - 1] = 'c';
            mangled++;
        } else if (d[at] == 'a') {
            d[at] = 'A';
            mangled++;
        }
    }
}

static void down_data(tw_protocol *proto, const uint8_t *d0, size_t n)
{
    pair *p = ((half *)proto)->p;
    uint8_t *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, d0, n);
    mangle_request(copy, n);
    const uint8_t *d = copy;
    if (p->up.t) {
        tw_transport_write(p->up.t, d, n);
        free(copy);
        return;
    }
    assert_true(p->npend + n <= sizeof p->pend);
    memcpy(p->pend + p->npend, d, n);
    p->npend += n;
    free(copy);
}

static void down_made(tw_protocol *proto, tw_transport *t)
{
    half *h = (half *)proto;
    h->t = t;
    assert_int_equal(tw_create_connection(h->p->loop, up_factory, h->p, "10.0.0.1",
                                          6379, NULL), 0);
}

static const tw_protocol_ops down_ops = {.connection_made = down_made,
                                         .data_received = down_data,
                                         .connection_lost = half_lost,
                                         .release = half_release};

static tw_protocol *down_factory(void *arg)
{
    pair *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->loop = arg;
    p->down = (half){.base.ops = &down_ops, .p = p};
    p->up = (half){.base.ops = &up_ops, .p = p};
    p->refs = 1;
    return &p->down.base;
}

/* ---- the world ---- */

typedef struct node_app {
    const char *argv[24];
    int argc;
    const tw_app *app;
    void *state;
} node_app;

static int start_app(tw_loop *loop, void *arg)
{
    node_app *a = arg;
    return a->app->start(loop, a->argc, (char **)a->argv, stderr, &a->state);
}

static tw_server *proxy_srv;

static int start_proxy(tw_loop *loop, void *arg)
{
    (void)arg;
    return tw_create_server(loop, down_factory, loop, "", 6380, NULL, &proxy_srv);
}

/* resp-client through the proxy with these --keys: its invariant's
 * sentence at the end (NULL: it held), and whether it finished. */
static const char *run_x(const char *keys, int flip, bool extended, bool *done,
                         char *msg, size_t len)
{
    flip_at = flip;
    values_seen = 0;
    flips = 0;
    mangled = 0;
    tw_sim_opts o;
    tw_sim_opts_default(&o);
    tw_sim *sim = tw_sim_new(5, &o);
    assert_non_null(sim);
    tw_loop *s = tw_sim_add_node(sim, "server", "10.0.0.1");
    tw_loop *c = tw_sim_add_node(sim, "client", "10.0.0.2");
    tw_loop *p = tw_sim_add_node(sim, "proxy", "10.0.0.3");
    node_app server = {.argv = {"resp-server", "--host", "", "--port", "6379", "--quiet"},
                       .argc = 6, .app = tw_app_find("resp-server")};
    node_app client = {.argv = {"resp-client", "--connect", "10.0.0.3:6380", "--ops",
                                "6000", "--keys", keys, "--size", "200", "--pipeline",
                                "8", "--quiet", extended ? "--extended" : NULL},
                       .argc = extended ? 13 : 12, .app = tw_app_find("resp-client")};
    assert_non_null(server.app);
    assert_non_null(client.app);
    assert_int_equal(tw_sim_node_set_start(s, start_app, &server), 0);
    assert_int_equal(tw_sim_node_set_start(p, start_proxy, NULL), 0);
    tw_sim_run_for(sim, TW_MS(1));
    assert_int_equal(tw_sim_node_set_start(c, start_app, &client), 0);
    tw_sim_run_for(sim, TW_MS(1));
    assert_non_null(client.state);
    const char *why = NULL;
    for (int i = 0; i < 600 && !why && !client.app->done(client.state); i++) {
        tw_sim_run_for(sim, TW_MS(100));
        why = client.app->invariant(client.state);
    }
    *done = client.app->done(client.state);
    if (why)
        snprintf(msg, len, "%s", why);
    client.app->free(client.state);
    server.app->free(server.state);
    tw_server_close(proxy_srv);
    tw_sim_free(sim);
    return why ? msg : NULL;
}

static const char *run(const char *keys, int flip, bool *done, char *msg, size_t len)
{
    return run_x(keys, flip, false, done, msg, len);
}

static void test_untouched_values_pass(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    const char *why = run("4", -1, &done, msg, sizeof msg);
    if (why)
        fail_msg("%s", why);
    assert_true(done);
    assert_true(values_seen > 100); /* values did pass the proxy */
}

/* Few keys: a read gets a version written lately, which the client kept. */
static void test_altered_recent_value_is_caught(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    const char *why = run("4", 40, &done, msg, sizeof msg);
    assert_int_equal(flips, 1);
    assert_non_null(why);
    if (!strstr(why, "came back altered"))
        fail_msg("want 'came back altered', got '%s'", why);
}

/* Many keys: a read gets a version written long before, which the client
 * no longer keeps and makes again. */
static void test_altered_old_value_is_caught(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    const char *why = run("2000", 150, &done, msg, sizeof msg);
    assert_int_equal(flips, 1);
    assert_non_null(why);
    if (!strstr(why, "came back altered"))
        fail_msg("want 'came back altered', got '%s'", why);
}

static void test_untouched_extended_passes(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    mangle = MANGLE_NONE;
    const char *why = run_x("4", -1, true, &done, msg, sizeof msg);
    if (why)
        fail_msg("%s", why);
    assert_true(done);
}

/* The value went to another key, the reply was +OK: a later read of
 * either key (or a RENAME, COPY or GET of them) tells. */
static void test_rename_that_moves_nothing_is_caught(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    mangle = MANGLE_RENAME;
    const char *why = run_x("4", -1, true, &done, msg, sizeof msg);
    mangle = MANGLE_NONE;
    assert_true(mangled > 0);
    assert_non_null(why);
    /* e.g. a GET of the destination finds nothing, or the next RENAME
     * of it meets "no such key" */
    if (!strstr(why, "the model wants") && !strstr(why, "wanted type"))
        fail_msg("want a reply the model rules out, got '%s'", why);
}

/* The length replied is right; the bytes are not: a later read tells. */
static void test_append_of_other_bytes_is_caught(void **state)
{
    (void)state;
    char msg[256];
    bool done;
    mangle = MANGLE_APPEND;
    const char *why = run_x("4", -1, true, &done, msg, sizeof msg);
    mangle = MANGLE_NONE;
    assert_true(mangled > 0);
    assert_non_null(why);
    if (!strstr(why, "the model wants"))
        fail_msg("want 'the model wants', got '%s'", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TW_TEST(test_untouched_values_pass),
        TW_TEST(test_altered_recent_value_is_caught),
        TW_TEST(test_altered_old_value_is_caught),
        TW_TEST(test_untouched_extended_passes),
        TW_TEST(test_rename_that_moves_nothing_is_caught),
        TW_TEST(test_append_of_other_bytes_is_caught),
    };
    return cmocka_run_group_tests_name("resp_client_check", tests, NULL, NULL);
}
