/* bench/loadgen.c - the echo load generator: plain epoll, no twin.
 *
 *   loadgen --port P [--host H] [--mode echo|stream|idle] [--conns C]
 *           [--size S] [--seconds T] [--warmup W] [--bytes N]
 *           [--window W] [--server-pid PID] [--messages M]
 *
 * echo:   C connections each ping-pong S-byte messages (one in flight per
 *         connection) for T seconds after W seconds of warm-up; with
 *         --messages M, M messages in all (M / C each, no warm-up) and no
 *         time limit: a fixed amount of work, for counting a server's
 *         instructions or system calls rather than timing it.
 * stream: C connections (1 by default) each send N bytes, at most `window`
 *         ahead of the echo, and read the echo back concurrently.
 * idle:   C connections each echo one byte, then sit idle; the server's
 *         resident memory is read before and after.
 *
 * Every byte that comes back is compared with what was sent. Prints one
 * JSON object; exits 1 on any wrong byte, early close or setup failure (a
 * figure from a broken run is worthless).
 *
 * Why plain epoll and not twin: the generator must not share the code it
 * measures, and must cost less per message than any server it drives, so
 * it does the least a client can: one read and one write per message,
 * edge-triggered epoll (no re-poll of every socket on the next wait, no
 * epoll_ctl after the first), one clock read per epoll batch.
 *
 * Map:
 *   1. options, clock, /proc readers (CPU ticks, resident memory)
 *   2. the byte pattern every connection sends and checks
 *   3. the latency histogram (log-linear, 64 buckets per octave)
 *   4. connections: paced connects, send, receive and verify
 *   5. the event loop and its phases: setup, warm-up, measured window
 *   6. the report
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* 1. options, clock, /proc                                            */

enum mode { MODE_ECHO, MODE_STREAM, MODE_IDLE };

static struct {
    const char *host;
    int port;
    enum mode mode;
    int conns;
    size_t size;
    double seconds, warmup;
    uint64_t bytes, window;
    int server_pid;
    uint64_t messages; /* 0: run for `seconds` */
} opt = {"127.0.0.1", 0, MODE_ECHO, 1, 64, 2.0, 0.5, 1ull << 30, 16u << 20, 0, 0};

/* Connections still connecting or awaiting their first echo: a listen
 * backlog of 100 (asyncio's and twin's default) must never overflow, or
 * a dropped SYN costs a one-second retransmit in the middle of a row. */
#define CONNECT_PENDING_MAX 64
/* Most bytes per read or write. */
#define CHUNK (256 * 1024)
/* The setup (connecting every connection) must finish within this. */
#define SETUP_SECONDS_MAX 60.0

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fail(const char *fmt, const char *detail)
{
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, fmt, detail);
    fputc('\n', stderr);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* utime + stime of a process (all its threads), in clock ticks, from
 * /proc/PID/stat fields 14 and 15; -1 if unreadable. */
static long long cpu_ticks(int pid)
{
    char path[64], buf[1024];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: count from its ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

/* VmRSS of a process in KiB; -1 if unreadable. */
static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* ------------------------------------------------------------------ */
/* 2. the pattern                                                      */

/* Byte p of connection i's stream is pat[(p + i * 101) % PAT_PERIOD]: a
 * prime period so neighbouring messages and connections differ, and a
 * buffer CHUNK longer than the period so any chunk of the stream is one
 * contiguous run of it (a send is one write, a check one memcmp). */
#define PAT_PERIOD 65521u
static uint8_t *pat;

static void pattern_init(void)
{
    pat = malloc(PAT_PERIOD + CHUNK);
    if (!pat)
        die("malloc");
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PAT_PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pat[i] = (uint8_t)x;
    }
    for (size_t i = PAT_PERIOD; i < PAT_PERIOD + CHUNK; i++)
        pat[i] = pat[i - PAT_PERIOD]; /* CHUNK > period: not one memcpy */
}

static const uint8_t *pattern_at(uint32_t conn, uint64_t pos)
{
    return pat + (pos + (uint64_t)conn * 101u) % PAT_PERIOD;
}

/* ------------------------------------------------------------------ */
/* 3. latency histogram                                                */

/* Values below 128 ns are exact; above, each power of two is split into
 * 64 buckets, so a percentile is within 1.6% of the truth. */
#define HIST_SUB 64
#define HIST_N (128 + 40 * HIST_SUB)
static uint64_t hist[HIST_N];
static uint64_t hist_count;

static int hist_index(uint64_t v)
{
    if (v < 128)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int idx = 128 + (msb - 7) * HIST_SUB + (int)((v >> (msb - 6)) & 63);
    return idx < HIST_N ? idx : HIST_N - 1;
}

/* The middle of bucket idx, in ns. */
static double hist_value(int idx)
{
    if (idx < 128)
        return idx;
    int msb = (idx - 128) / HIST_SUB + 7;
    uint64_t lo = ((uint64_t)HIST_SUB + (uint64_t)((idx - 128) % HIST_SUB))
                  << (msb - 6);
    return (double)lo + (double)(1ull << (msb - 6)) / 2;
}

static double hist_pct(double q)
{
    if (hist_count == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)hist_count);
    if (want >= hist_count)
        want = hist_count - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_N; i++) {
        seen += hist[i];
        if (seen > want)
            return hist_value(i);
    }
    return hist_value(HIST_N - 1);
}

/* ------------------------------------------------------------------ */
/* 4. connections                                                      */

struct conn {
    int fd;
    uint32_t id;
    bool connected, first_done;
    uint64_t tx, rx;   /* bytes sent, bytes received and checked */
    uint64_t msgs;     /* messages completed (echo, idle) */
    uint64_t t_send;   /* when the message in flight started */
};

static struct conn *conns;
static int ep;
static uint64_t batch_now; /* the clock, read once per epoll batch */
static bool measuring;
static uint64_t win_msgs, win_bytes, all_msgs;
static int started, pending, first_done_count, finished_count;

/* How far c may send now. */
static uint64_t tx_limit(const struct conn *c)
{
    switch (opt.mode) {
    case MODE_ECHO:
        if (opt.messages && c->msgs >= opt.messages / (uint64_t)opt.conns)
            return c->tx; /* its share is done */
        return (c->msgs + 1) * opt.size;
    case MODE_IDLE:
        return c->msgs == 0 ? opt.size : c->tx;
    default: {
        uint64_t lim = c->rx + opt.window;
        return lim < opt.bytes ? lim : opt.bytes;
    }
    }
}

/* Send up to the limit, or until the socket is full. */
static void pump(struct conn *c)
{
    uint64_t lim = tx_limit(c);
    while (c->tx < lim) {
        size_t n = lim - c->tx < CHUNK ? (size_t)(lim - c->tx) : CHUNK;
        ssize_t w = write(c->fd, pattern_at(c->id, c->tx), n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            die("write");
        }
        c->tx += (uint64_t)w;
    }
}

static void conn_start(int i)
{
    struct conn *c = &conns[i];
    c->id = (uint32_t)i;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)opt.port)};
    if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
        fail("bad host '%s'", opt.host);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
                                       EPOLLET,
                             .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
    started++;
    pending++;
}

static void conn_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        errno = err;
        die("connect");
    }
    c->connected = true;
    c->t_send = batch_now;
    pump(c);
}

/* A message (or, streaming, the whole transfer) came back complete. */
static void conn_complete(struct conn *c)
{
    c->msgs++;
    all_msgs++;
    if (measuring) {
        uint64_t lat = batch_now - c->t_send;
        hist[hist_index(lat)]++;
        hist_count++;
        win_msgs++;
    }
    if (!c->first_done) {
        c->first_done = true;
        first_done_count++;
        pending--;
    }
    if (opt.messages && c->msgs == opt.messages / (uint64_t)opt.conns)
        finished_count++;
    c->t_send = batch_now;
}

/* Edge-triggered: read until a short read (the queue was empty then; a
 * later arrival raises a new edge) or EAGAIN. Returns false when done. */
static bool conn_read_once(struct conn *c, uint8_t *buf)
{
    ssize_t n = read(c->fd, buf, CHUNK);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return false;
        die("read");
    }
    if (n == 0)
        fail("%s: the server closed a connection early", "read");
    if (c->rx + (uint64_t)n > c->tx)
        fail("%s: more bytes came back than were sent", "read");
    if (memcmp(buf, pattern_at(c->id, c->rx), (size_t)n) != 0)
        fail("%s: an echoed byte differs from the one sent", "read");
    c->rx += (uint64_t)n;
    if (measuring)
        win_bytes += (uint64_t)n;
    if (opt.mode == MODE_STREAM) {
        if (!c->first_done) {
            c->first_done = true;
            first_done_count++;
            pending--;
        }
        if (c->rx == opt.bytes)
            finished_count++;
    } else if (c->rx == (c->msgs + 1) * opt.size) {
        conn_complete(c);
    }
    pump(c);
    return n == CHUNK;
}

static void conn_event(struct conn *c, uint32_t ev, uint8_t *buf)
{
    if (!c->connected) {
        conn_connected(c);
        if (!(ev & EPOLLIN))
            return;
    }
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        while (conn_read_once(c, buf))
            ;
    /* The peer's end may wait behind the bytes of a short read, and no
     * edge will come for it: one more read reports it (as a failure). */
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        conn_read_once(c, buf);
    if (ev & EPOLLOUT)
        pump(c);
}

/* Reset, not FIN: the client would otherwise keep every closed port in
 * TIME_WAIT for a minute, and a full bench run opens more connections
 * than there are ephemeral ports. */
static void close_all(void)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (int i = 0; i < started; i++) {
        setsockopt(conns[i].fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(conns[i].fd);
    }
}

/* ------------------------------------------------------------------ */
/* 5. the event loop                                                   */

struct sample {
    uint64_t t;
    long long srv_ticks, cli_ticks;
};

static struct sample sample_take(void)
{
    struct sample s = {now_ns(), opt.server_pid ? cpu_ticks(opt.server_pid) : -1,
                       cpu_ticks(0)};
    return s;
}

/* Run until done() says so or the deadline passes (0: none). Returns
 * false on the deadline. */
static bool loop_until(bool (*done)(void), uint64_t deadline, uint8_t *buf)
{
    static struct epoll_event evs[1024];
    while (!done()) {
        while (opt.mode != MODE_STREAM && started < opt.conns &&
               pending < CONNECT_PENDING_MAX)
            conn_start(started);
        int ms = 10;
        if (deadline) {
            uint64_t t = now_ns();
            if (t >= deadline)
                return false;
            uint64_t left = (deadline - t + 999999) / 1000000;
            if (left < (uint64_t)ms)
                ms = (int)left;
        }
        int n = epoll_wait(ep, evs, 1024, ms);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        batch_now = now_ns();
        for (int i = 0; i < n; i++)
            conn_event(evs[i].data.ptr, evs[i].events, buf);
    }
    return true;
}

static bool all_first(void) { return first_done_count == opt.conns; }
static bool all_finished(void) { return finished_count == opt.conns; }
static bool never(void) { return false; }

/* ------------------------------------------------------------------ */
/* 6. the report                                                       */

static double pct_of(long long ticks, double secs)
{
    return ticks < 0 ? -1 : (double)ticks / (double)sysconf(_SC_CLK_TCK) /
                                secs * 100.0;
}

static void report(struct sample a, struct sample b, long rss0, long rss1)
{
    double secs = (double)(b.t - a.t) / 1e9;
    long long srv = a.srv_ticks >= 0 && b.srv_ticks >= 0
                        ? b.srv_ticks - a.srv_ticks : -1;
    double srv_s = srv >= 0 ? (double)srv / (double)sysconf(_SC_CLK_TCK) : 0;
    static const char *names[] = {"echo", "stream", "idle"};
    printf("{\"mode\": \"%s\", \"conns\": %d, \"size\": %zu, \"seconds\": %.3f, "
           "\"msgs\": %llu, \"msgs_per_s\": %.1f, \"mib_per_s\": %.2f, "
           "\"p50_us\": %.2f, \"p99_us\": %.2f, \"p999_us\": %.2f, "
           "\"server_cpu_pct\": %.1f, \"client_cpu_pct\": %.1f, "
           "\"msgs_per_server_cpu_s\": %.0f, \"server_rss_kib\": %ld, "
           "\"rss_bytes_per_conn\": %.0f, \"msgs_total\": %llu}\n",
           names[opt.mode], opt.conns, opt.size, secs,
           (unsigned long long)win_msgs, (double)win_msgs / secs,
           (double)win_bytes / secs / 1048576.0, hist_pct(0.5) / 1e3,
           hist_pct(0.99) / 1e3, hist_pct(0.999) / 1e3,
           pct_of(srv, secs), pct_of(b.cli_ticks - a.cli_ticks, secs),
           srv_s > 0 ? (double)win_msgs / srv_s : 0.0, rss1,
           rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) * 1024.0 / opt.conns
                                  : -1.0,
           (unsigned long long)all_msgs);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen --port P [--host H] [--mode echo|stream|idle]\n"
            "               [--conns C] [--size S] [--seconds T] [--warmup W]\n"
            "               [--bytes N] [--window W] [--server-pid PID]\n"
            "               [--messages M]\n");
    exit(2);
}

static void parse(int argc, char **argv)
{
    static const struct option o[] = {
        {"host", required_argument, 0, 'h'},   {"port", required_argument, 0, 'p'},
        {"mode", required_argument, 0, 'm'},   {"conns", required_argument, 0, 'c'},
        {"size", required_argument, 0, 's'},   {"seconds", required_argument, 0, 't'},
        {"warmup", required_argument, 0, 'w'}, {"bytes", required_argument, 0, 'b'},
        {"window", required_argument, 0, 'W'}, {"server-pid", required_argument, 0, 'P'},
        {"messages", required_argument, 0, 'M'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", o, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'm':
            if (strcmp(optarg, "echo") == 0) opt.mode = MODE_ECHO;
            else if (strcmp(optarg, "stream") == 0) opt.mode = MODE_STREAM;
            else if (strcmp(optarg, "idle") == 0) opt.mode = MODE_IDLE;
            else usage();
            break;
        case 'c': opt.conns = atoi(optarg); break;
        case 's': opt.size = strtoull(optarg, NULL, 0); break;
        case 't': opt.seconds = atof(optarg); break;
        case 'w': opt.warmup = atof(optarg); break;
        case 'b': opt.bytes = strtoull(optarg, NULL, 0); break;
        case 'W': opt.window = strtoull(optarg, NULL, 0); break;
        case 'P': opt.server_pid = atoi(optarg); break;
        case 'M': opt.messages = strtoull(optarg, NULL, 0); break;
        default: usage();
        }
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.conns < 1 || opt.size < 1 ||
        opt.seconds <= 0 || opt.warmup < 0 || opt.bytes < 1 || opt.window < 1)
        usage();
    /* At least one message per connection, or the first echo never comes. */
    if (opt.messages && (opt.mode != MODE_ECHO ||
                         opt.messages < (uint64_t)opt.conns))
        usage();
    if (opt.mode == MODE_IDLE)
        opt.size = 1;
}

/* C=10000 needs more descriptors than the usual soft limit of 1024. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return;
    rlim_t want = (rlim_t)opt.conns + 64;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < want)
        fail("%s: raise the hard limit (ulimit -Hn)", "too few descriptors");
}

int main(int argc, char **argv)
{
    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN); /* a server that goes away is an EPIPE */
    raise_fd_limit();
    pattern_init();
    uint8_t *buf = malloc(CHUNK);
    conns = calloc((size_t)opt.conns, sizeof *conns);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!buf || !conns || ep < 0)
        die("setup");
    long rss0 = opt.server_pid ? rss_kib(opt.server_pid) : -1, rss1 = -1;
    batch_now = now_ns();
    struct sample a, b;
    if (opt.mode == MODE_STREAM) {
        /* The whole transfer is the window: start every connection now. */
        a = sample_take();
        measuring = true;
        for (int i = 0; i < opt.conns; i++)
            conn_start(i);
        if (!loop_until(all_finished, 0, buf))
            fail("%s", "stream did not finish");
        b = sample_take();
        win_msgs = (uint64_t)opt.conns;
    } else if (opt.messages) {
        /* A fixed count: every message is measured, however long. */
        a = sample_take();
        measuring = true;
        loop_until(all_finished, 0, buf);
        b = sample_take();
        measuring = false;
    } else {
        uint64_t limit = now_ns() + (uint64_t)(SETUP_SECONDS_MAX * 1e9);
        if (!loop_until(all_first, limit, buf))
            fail("%s: connections did not all get their first echo", "setup");
        if (opt.mode == MODE_IDLE) {
            /* Let the server settle (frees, deferred closes) first. */
            usleep(200 * 1000);
            rss1 = rss_kib(opt.server_pid);
            a = b = sample_take();
        } else {
            loop_until(never, now_ns() + (uint64_t)(opt.warmup * 1e9), buf);
            a = sample_take();
            measuring = true;
            loop_until(never, a.t + (uint64_t)(opt.seconds * 1e9), buf);
            b = sample_take();
            measuring = false;
        }
    }
    if (opt.mode == MODE_IDLE)
        b.t = a.t + 1; /* no window: avoid dividing by zero */
    report(a, b, rss0, rss1);
    close_all();
    return 0;
}
