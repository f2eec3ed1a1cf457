/* sim/trace_fields.c - what the two numbers of each trace record mean:
 * the one place the record format is written down, and the printers
 * that use it (text lines and JSON lines).
 *
 * Map: the field kinds; the records; looking one up; values as people
 * read them; a line of text; a line of JSON; the list for --help.
 *
 * A record is (time, node, transport, what, a, b); the hash folds those
 * raw numbers (sim/trace.h), so what is printed here never changes it.
 * A record whose name is not in the table prints its numbers as a= and
 * b=; a test (tests/test_sim_world.c) runs every shipped scenario and
 * fails on any such line.
 */
#define _GNU_SOURCE /* strerrorname_np, sigabbrev_np */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sim/dgram.h"
#include "sim/trace.h"
#include "sim/world.h"
#include "twin/parse.h"

/* ---- the field kinds ---- */

typedef enum {
    F_NONE,  /* not shown */
    F_NUM,   /* a count or an id */
    F_BYTES, /* a byte count */
    F_ERR,   /* an errno (either sign): its name */
    F_NS,    /* a duration: in human units */
    F_NODE,  /* a node id: its name, -1 "*" (every other node) */
    F_PORT,
    F_SIG,   /* a signal number: its name */
    F_BOOL,
    F_DROP,  /* why a datagram was dropped (sim/dgram.h): its name */
} fkind;

typedef struct {
    const char *what;
    const char *a, *b; /* field names, NULL: not shown */
    fkind ka, kb;
    const char *means; /* one line, for --help */
} schema;

/* ---- the records ---- */

static const schema records[] = {
    /* nodes and faults */
    {"node", NULL, NULL, F_NONE, F_NONE, "a node joins the world"},
    {"started", "rc", NULL, F_ERR, F_NONE, "the node's app started"},
    {"start_failed", "err", NULL, F_ERR, F_NONE, "the node's app failed to start"},
    {"run", "ready", NULL, F_NUM, F_NONE, "a turn of the node's loop (verbose only)"},
    {"crash", "epoch", NULL, F_NUM, F_NONE, "the node went down"},
    {"restart", "epoch", NULL, F_NUM, F_NONE, "the node came back"},
    {"thaw", "held", NULL, F_NUM, F_NONE, "a frozen or slow node runs again; held: its turns held back so far, all its holds together"},
    {"fs_open", "flags", "rc", F_NUM, F_ERR, "a file opened (twin/file.h)"},
    {"fs_read", "len", "rc", F_BYTES, F_NUM, "a file read, or its size asked"},
    {"fs_write", "len", "rc", F_BYTES, F_NUM, "a file written"},
    {"fs_fsync", NULL, "rc", F_NONE, F_ERR, "a file fsynced"},
    {"fs_close", NULL, "rc", F_NONE, F_ERR, "a file closed"},
    {"fs_mkdir", NULL, "rc", F_NONE, F_ERR, "a directory made"},
    {"fs_rename", NULL, "rc", F_NONE, F_ERR, "a file renamed"},
    {"fs_unlink", NULL, "rc", F_NONE, F_ERR, "a file removed"},
    {"fs_fsync_dir", NULL, "rc", F_NONE, F_ERR, "the names made durable"},
    {"fs_list", "entries", "rc", F_NUM, F_ERR, "a directory listed"},
    {"fs_crash", "files", "names", F_NUM, F_NUM,
     "a crash: files whose unsynced bytes were lost or torn, name changes undone"},
    {"buggify", "line", NULL, F_NUM, F_NONE, "a buggify site fired"},
    {"partition", "with", NULL, F_NODE, F_NONE, "fault: paths cut"},
    {"heal", "with", NULL, F_NODE, F_NONE, "fault: cut paths restored"},
    {"clog", "with", "for", F_NODE, F_NS, "fault: paths hold what is sent"},
    {"reset_all", "with", NULL, F_NODE, F_NONE, "fault: connections reset"},
    {"crash_fault", "with", NULL, F_NODE, F_NONE, "fault: crash"},
    {"restart_fault", "with", NULL, F_NODE, F_NONE, "fault: restart"},
    {"clock", "with", "skew", F_NODE, F_NS,
     "fault: the node's time of day stepped (its monotonic clock's rate may change)"},
    {"uptime", "now", NULL, F_NS, F_NONE, "the node's monotonic clock set to read now"},
    {"emfile", "with", NULL, F_NODE, F_NONE, "fault: accepts will fail"},
    {"dgram_fault", "with", "for", F_NODE, F_NS, "fault: datagrams impaired"},
    {"enobufs_fault", "with", NULL, F_NODE, F_NONE, "fault: datagram sends will fail"},
    {"freeze", "with", "for", F_NODE, F_NS, "fault: the node stops"},
    {"slow", "with", "for", F_NODE, F_NS, "fault: the node's turns cost time"},
    {"disk_eio", "with", "for", F_NODE, F_NS, "fault: file calls fail with EIO"},
    {"disk_full", "with", "for", F_NODE, F_NS, "fault: file writes fail with ENOSPC"},
    {"fsync_fail", "with", NULL, F_NODE, F_NONE, "fault: the next fsyncs fail"},
    {"disk_corrupt", "with", "for", F_NODE, F_NS, "fault: file reads come back corrupted"},
    {"lost_write", "with", NULL, F_NODE, F_NONE, "fault: the next file writes are lost"},
    {"power_loss", "with", NULL, F_NODE, F_NONE,
     "fault: the node goes down, its disk keeps only what was durable"},
    {"blackhole", "with", "for", F_NODE, F_NS, "fault: silent drops"},
    {"blackhole_end", "with", NULL, F_NODE, F_NONE, "a blackhole ends"},
    {"loss_burst", "with", "for", F_NODE, F_NS, "fault: a loss burst on the paths"},
    {"loss_burst_end", "with", NULL, F_NODE, F_NONE, "loss bursts end"},
    /* streams */
    {"listen", "port", "backlog", F_PORT, F_NUM, "a server listens"},
    {"unlisten", "port", NULL, F_PORT, F_NONE, "a server stops listening"},
    {"connect", "ep", "to", F_NUM, F_NODE, "a connect starts (to: -1 no such host)"},
    {"connect_failed", "ep", "err", F_NUM, F_ERR, "a connect failed"},
    {"syn", "ep", "server_ep", F_NUM, F_NUM, "a SYN reached a listener"},
    {"syn_dropped", "ep", "queued", F_NUM, F_NUM, "a SYN found the backlog full"},
    {"refuse", "ep", "port", F_NUM, F_PORT, "a SYN met a closed port"},
    {"accept", "ep", "queued", F_NUM, F_NUM, "a connection accepted"},
    {"accept_emfile", "queued", NULL, F_NUM, F_NONE, "an accept failed: EMFILE"},
    {"connected", "ep", NULL, F_NUM, F_NONE, "the handshake completed"},
    {"open", "ep", NULL, F_NUM, F_NONE, "a stream transport opened"},
    {"send", "len", "offered", F_BYTES, F_BYTES, "bytes taken by the network"},
    {"arrive", "len", "unread", F_BYTES, F_BYTES, "bytes reached the receiver"},
    {"deliver", "len", "unread", F_BYTES, F_BYTES, "bytes handed to data_received"},
    {"unsent", "len", NULL, F_BYTES, F_NONE,
     "bytes written after a blocking call never left: the sender crashed first"},
    {"eof", NULL, NULL, F_NONE, F_NONE, "the peer's FIN handed to eof_received"},
    {"fin", NULL, NULL, F_NONE, F_NONE, "a FIN sent (write_eof or close)"},
    {"closed", "unread", NULL, F_BYTES, F_NONE, "a stream transport closed"},
    {"reset", "err", NULL, F_ERR, F_NONE, "a connection reset"},
    {"timeout", "err", NULL, F_ERR, F_NONE, "a connection timed out"},
    {"reset_unseen", "err", NULL, F_ERR, F_NONE,
     "a reset or timeout while the transport neither read nor waited to write: its next send or read gets err"},
    {"gave_up", "len", NULL, F_BYTES, F_NONE, "a peer's retransmissions gave up: held bytes dropped"},
    {"keepalive", "probes", "answered", F_NUM, F_BOOL, "a keepalive probe"},
    /* datagrams */
    {"dg_open", "port", "remote_port", F_PORT, F_PORT, "a datagram endpoint opened"},
    {"dg_closed", "unread", NULL, F_BYTES, F_NONE, "a datagram endpoint closed"},
    {"dg_send", "len", "port", F_BYTES, F_PORT, "a datagram sent"},
    {"dg_arrive", "len", "from_port", F_BYTES, F_PORT, "a datagram arrived"},
    {"dg_loss", "len", "to", F_BYTES, F_NODE, "a datagram lost"},
    {"dg_dup", "len", "after", F_BYTES, F_NS, "a datagram duplicated"},
    {"dg_reorder", "len", "held", F_BYTES, F_NS, "a datagram held back"},
    {"dg_corrupt", "len", "bits", F_BYTES, F_NUM, "a datagram corrupted"},
    {"dg_drop", "len", "why", F_BYTES, F_DROP,
     "a datagram dropped (why: cut, its path partitioned; down, its node "
     "crashed; rcvbuf, the receiver's buffer full; noroute, no node has "
     "the address; nobody, a broadcast no one listens to; unsent, its "
     "sender crashed before it left)"},
    {"dg_refused", "len", "port", F_BYTES, F_PORT, "a datagram met a closed port"},
    {"dg_icmp", "err", NULL, F_ERR, F_NONE, "an ICMP error reached the endpoint"},
    {"dg_icmp_ignored", "err", NULL, F_ERR, F_NONE, "an ICMP error ignored"},
    {"dg_enobufs", "len", NULL, F_BYTES, F_NONE, "a send failed: ENOBUFS"},
    {"dg_emsgsize", "len", NULL, F_BYTES, F_NONE, "a send failed: EMSGSIZE"},
    {"dg_eacces", "len", NULL, F_BYTES, F_NONE, "a broadcast without permission"},
    {"dg_eagain", "len", "queued", F_BYTES, F_BYTES, "the socket buffer is full"},
    {"dgu_open", "inode", "peer", F_NUM, F_NUM, "a Unix datagram endpoint opened"},
    {"dgu_send", "len", "to", F_BYTES, F_NUM, "a Unix datagram sent (to: transport)"},
    {"dgu_arrive", "len", "from", F_BYTES, F_NUM, "a Unix datagram arrived (from: transport)"},
    {"dgu_error", "len", "err", F_BYTES, F_ERR, "a Unix datagram send failed"},
    {"dgu_eagain", "len", "queued", F_BYTES, F_NUM, "a Unix datagram found a full queue"},
    {"dgu_purge", "unread", NULL, F_NUM, F_NONE, "queued datagrams dropped"},
    {"dgu_replace", "inode", "new", F_NUM, F_NUM, "a socket file replaced"},
    {"dgu_unlink", "inode", NULL, F_NUM, F_NONE, "a socket file removed"},
    {"dgu_stale", "inode", NULL, F_NUM, F_NONE, "a stale socket file found"},
    /* pipes and processes */
    {"pipe-new", "read_fd", "write_fd", F_NUM, F_NUM, "a pipe made"},
    {"pipe-write", "pipe", "len", F_NUM, F_BYTES, "bytes written to a pipe"},
    {"pipe-deliver", "pipe", "len", F_NUM, F_BYTES, "bytes read from a pipe"},
    {"pipe-eof", "pipe", NULL, F_NUM, F_NONE, "a pipe's reader saw EOF"},
    {"pipe-close-w", "pipe", NULL, F_NUM, F_NONE, "a pipe's write end closed"},
    {"pipe-close-r", "pipe", "unread", F_NUM, F_BYTES, "a pipe's read end closed"},
    {"pipe-wrap-w", "pipe", "fd", F_NUM, F_NUM, "a pipe's write end became a transport"},
    {"pipe-wrap-r", "pipe", "fd", F_NUM, F_NUM, "a pipe's read end became a transport"},
    {"proc-spawn", "pid", "argc", F_NUM, F_NUM, "a process spawned"},
    {"proc-start", "pid", "argc", F_NUM, F_NUM, "a process's program started"},
    {"proc-exec", "pid", "argc", F_NUM, F_NUM, "a process exec'd"},
    {"proc-exit", "pid", "status", F_NUM, F_NUM, "a process exited"},
    {"proc-killed", "pid", "signal", F_NUM, F_SIG, "a process died of a signal"},
    {"proc-crash", "pid", "fault", F_NUM, F_NUM, "a scripted process crash"},
    {"proc-crashed", "pid", "signal", F_NUM, F_SIG, "a process crashed (scripted)"},
    {"proc-died", "pid", "signal", F_NUM, F_SIG, "a process died of a signal"},
    {"proc-reap", "pid", "status", F_NUM, F_NUM, "a process reaped"},
    {"proc-signal", "pid", "signal", F_NUM, F_SIG, "a signal delivered"},
    {"proc-signal-late", "pid", "signal", F_NUM, F_SIG, "a signal for a process gone"},
    {"proc-sigpipe", "pid", "fd", F_NUM, F_NUM, "a write to a closed pipe"},
    {"proc-close", "pid", "fd", F_NUM, F_NUM, "a process closed an fd"},
    {"proc-kill", "pid", "signal", F_NUM, F_SIG, "fault: kill"},
    {"proc-kill-at", "pid", "signal", F_NUM, F_SIG, "a scripted kill"},
    {"proc-fault", "pid", "fault", F_NUM, F_NUM, "a scripted process fault"},
    {"proc-fault-exit-early", "pid", "status", F_NUM, F_NUM, "a scripted early exit"},
    {"proc-killed-with-parent", "pid", "signal", F_NUM, F_SIG, "killed with its parent"},
};

#define NRECORDS (sizeof records / sizeof records[0])

/* ---- looking one up ---- */

static const schema *find(const char *what)
{
    for (size_t i = 0; i < NRECORDS; i++)
        if (strcmp(records[i].what, what) == 0)
            return &records[i];
    return NULL;
}

/* Protocol callbacks (core/internal.h's event names) carry no numbers. */
static bool is_callback(const char *what)
{
    for (unsigned e = 0; e < TW__EV_COUNT; e++)
        if (strcmp(tw__event_name((tw__event)e), what) == 0)
            return true;
    return false;
}

bool sim_trace_known(const char *what)
{
    return find(what) || is_callback(what);
}

bool tw_sim_trace_event_known(const char *prefix)
{
    size_t n = prefix ? strlen(prefix) : 0;
    if (!n)
        return false;
    for (size_t i = 0; i < NRECORDS; i++)
        if (strncmp(records[i].what, prefix, n) == 0)
            return true;
    for (unsigned e = 0; e < TW__EV_COUNT; e++)
        if (strncmp(tw__event_name((tw__event)e), prefix, n) == 0)
            return true;
    return false;
}

/* ---- values as people read them ---- */

static const char *const drop_why[] = {
    [SIM_DG_DROP_CUT] = "cut",         [SIM_DG_DROP_DOWN] = "down",
    [SIM_DG_DROP_RCVBUF] = "rcvbuf",   [SIM_DG_DROP_NOROUTE] = "noroute",
    [SIM_DG_DROP_NOBODY] = "nobody",   [SIM_DG_DROP_UNSENT] = "unsent",
};

static void value(char *buf, size_t len, fkind k, int64_t v, const tw_sim *sim,
                  bool json)
{
    const char *s = NULL;
    switch (k) {
    case F_ERR:
        s = v ? strerrorname_np((int)(v < 0 ? -v : v)) : "0";
        break;
    case F_SIG: /* a process's status carries it negated */
        if (v < 0)
            v = -v;
        s = v > 0 && v < 65 ? sigabbrev_np((int)v) : NULL;
        if (s) {
            snprintf(buf, len, json ? "\"SIG%s\"" : "SIG%s", s);
            return;
        }
        break;
    case F_NS:
        if (json)
            break; /* JSON keeps the nanoseconds */
        tw_format_duration(v, buf, len);
        return;
    case F_NODE:
        s = v < 0 ? "*" : (uint64_t)v < sim->nnodes ? sim->nodes[v]->name : NULL;
        break;
    case F_DROP:
        s = v > 0 && (uint64_t)v < sizeof drop_why / sizeof *drop_why ? drop_why[v] : NULL;
        break;
    case F_BOOL:
        s = v ? "true" : "false";
        if (json) {
            snprintf(buf, len, "%s", s);
            return;
        }
        break;
    default:
        break;
    }
    if (s)
        snprintf(buf, len, json ? "\"%s\"" : "%s", s);
    else
        snprintf(buf, len, "%" PRId64, v);
}

/* ---- a line of text, a line of JSON ---- */

static size_t field(char *buf, size_t len, const char *name, fkind k, int64_t v,
                    const tw_sim *sim, bool json)
{
    if (!name || k == F_NONE)
        return 0;
    char val[64];
    value(val, sizeof val, k, v, sim, json);
    return (size_t)snprintf(buf, len, json ? ", \"%s\": %s" : " %s=%s", name, val);
}

size_t sim_trace_format(const tw_sim *sim, const char *node, uint64_t transport,
                        const char *what, int64_t a, int64_t b, bool json,
                        char *buf, size_t len)
{
    tw_ns t = sim->now;
    size_t n = (size_t)snprintf(
        buf, len,
        json ? "{\"t\": %" PRId64 ".%09" PRId64 ", \"node\": \"%s\", \"transport\": %" PRIu64
               ", \"what\": \"%s\""
             : "%4" PRId64 ".%09" PRId64 " %s t%" PRIu64 " %s",
        t / TW_NS_PER_SEC, t % TW_NS_PER_SEC, node, transport, what);
    const schema *s = find(what);
    if (s) {
        n += field(buf + (n < len ? n : len), n < len ? len - n : 0, s->a, s->ka, a, sim, json);
        n += field(buf + (n < len ? n : len), n < len ? len - n : 0, s->b, s->kb, b, sim, json);
    } else if (!is_callback(what) || a || b) {
        n += field(buf + (n < len ? n : len), n < len ? len - n : 0, "a", F_NUM, a, sim, json);
        n += field(buf + (n < len ? n : len), n < len ? len - n : 0, "b", F_NUM, b, sim, json);
    }
    if (json && n < len)
        n += (size_t)snprintf(buf + n, len - n, "}");
    return n;
}

/* ---- the list ---- */

void tw_sim_trace_fields(FILE *f)
{
    fprintf(f, "Each trace line: SECONDS.NANOSECONDS NODE tTRANSPORT WHAT FIELD=VALUE...\n"
               "(JSON lines: {\"t\", \"node\", \"transport\", \"what\", fields}; durations in ns;\n"
               " a scenario's JSON trace also has the apps' output: what \"app\", field line)\n"
               "Protocol callbacks (connection_made, data_received, ...) carry no fields.\n\n");
    for (size_t i = 0; i < NRECORDS; i++) {
        const schema *s = &records[i];
        char fields[64];
        snprintf(fields, sizeof fields, "%s%s%s", s->a && s->ka ? s->a : "",
                 s->b && s->kb ? " " : "", s->b && s->kb ? s->b : "");
        fprintf(f, "  %-24s %-18s %s\n", s->what, fields, s->means);
    }
}
