/* bench/uv_echo.c - the libuv peer: an echo server that does the work
 * twin's echo app does, written the way a careful libuv user would.
 *
 *   uv_echo [--port P]      prints "Serving on 127.0.0.1:PORT", then
 *                           echoes until killed
 *
 * Same work as twin's echo server (proto/echo.c), choice for choice:
 * - TCP_NODELAY on every connection (twin and asyncio set it too);
 * - one read buffer for the whole loop, 256 KiB (twin's read size and
 *   asyncio's), handed out by alloc_cb: data is echoed before the next
 *   read, so nothing needs a buffer of its own;
 * - a write is tried at once (uv_try_write); only what the kernel did
 *   not take is copied into a queued uv_write request;
 * - flow control at asyncio's default marks: reading stops while more
 *   than 64 KiB wait to be written and restarts at 16 KiB;
 * - end of input: the queued echo is flushed (uv_shutdown), then closed.
 *
 * Map: connections and their flow control; reading and echoing; main.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define READ_SIZE (256 * 1024)
#define HIGH_WATER (64 * 1024)
#define LOW_WATER (HIGH_WATER / 4)

static uv_loop_t *loop;
static char read_buf[READ_SIZE];

/* ---- connections ---- */

struct conn {
    uv_tcp_t tcp; /* first: libuv hands back the handle */
    int paused;   /* reading stopped for flow control */
};

struct wreq {
    uv_write_t req;
    char data[];
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_close(uv_handle_t *h) { free(h); }

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_close);
    free(req);
}

static void on_written(uv_write_t *req, int status)
{
    struct conn *c = (struct conn *)req->handle;
    free(req);
    if (status < 0 || uv_is_closing((uv_handle_t *)c))
        return;
    if (c->paused &&
        uv_stream_get_write_queue_size((uv_stream_t *)c) <= LOW_WATER) {
        c->paused = 0;
        uv_read_start((uv_stream_t *)c, on_alloc, on_read);
    }
}

/* ---- reading and echoing ---- */

static void echo(struct conn *c, const char *data, size_t len)
{
    uv_stream_t *s = (uv_stream_t *)c;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write(s, &b, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    if ((size_t)n == len)
        return;
    size_t rest = len - (size_t)n;
    struct wreq *w = malloc(sizeof *w + rest);
    if (!w) {
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    memcpy(w->data, data + n, rest);
    b = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, s, &b, 1, on_written) < 0) {
        free(w);
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    if (uv_stream_get_write_queue_size(s) > HIGH_WATER) {
        c->paused = 1;
        uv_read_stop(s);
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = (struct conn *)s;
    if (nread > 0) {
        echo(c, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return; /* EAGAIN: nothing this time */
    uv_read_stop(s);
    uv_shutdown_t *req = nread == UV_EOF ? malloc(sizeof *req) : NULL;
    if (req && uv_shutdown(req, s, on_shutdown) == 0)
        return;
    free(req);
    uv_close((uv_handle_t *)c, on_close);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)c) < 0) {
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static const struct option o[] = {{"port", required_argument, 0, 'p'},
                                       {0, 0, 0, 0}};
    int port = 0, ch;
    while ((ch = getopt_long(argc, argv, "p:", o, NULL)) != -1) {
        if (ch != 'p') {
            fprintf(stderr, "usage: uv_echo [--port P]\n");
            return 2;
        }
        port = atoi(optarg);
    }
    loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &addr);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    /* 100: the backlog twin and asyncio use by default. */
    if (r == 0)
        r = uv_listen((uv_stream_t *)&server, 100, on_connection);
    if (r < 0) {
        fprintf(stderr, "uv_echo: cannot listen: %s\n", uv_strerror(r));
        return 1;
    }
    struct sockaddr_storage name;
    int len = sizeof name;
    uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len);
    printf("Serving on 127.0.0.1:%d\n",
           ntohs(((struct sockaddr_in *)&name)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}
