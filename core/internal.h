/* core/internal.h - what the core gives the backends, and what it asks of
 * them. Not a public header: only core/, real/, sim/, tls/ and tests
 * include it.
 *
 * Map:
 *   1. the loop: struct tw_loop, the backend's loop ops, run helpers
 *   2. the write buffer (core/wbuf.c)
 *   3. the contract checker (core/contract.c)
 *   4. transports: struct tw_transport, the backend's transport ops, and
 *      the entry points a backend calls on I/O events (core/transport.c)
 *   5. servers and connect completions
 *
 * The split: every rule of the reference text (watermarks, close flushes,
 * eof handling, callback timing, use after close) lives in core/ once. A
 * backend only moves bytes: it sends what the core hands it, reports how
 * much was taken, says when it can write again, and delivers what arrives
 * through the tw__transport_* entry points. That is what makes the two
 * worlds behave alike by construction.
 */
#ifndef TWIN_CORE_INTERNAL_H
#define TWIN_CORE_INTERNAL_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "twin/addr.h"
#include "twin/error.h"
#include "twin/file.h"
#include "twin/loop.h"
#include "twin/net.h"
#include "twin/protocol.h"
#include "twin/transport.h"

/* ------------------------------------------------------------------ */
/* 1. the loop                                                          */

struct tw_datagram_opts;   /* twin/datagram.h */
struct tw__file_ops;       /* below */
struct tw_subprocess_spec; /* twin/process.h */

/* The outcome of a name lookup, on the loop: err 0 and n >= 1 addresses
 * (IPv4/IPv6, in the resolver's order, port set), or a negative errno (a
 * name that does not resolve is one of TW_EAI_*, twin/error.h). addrs is valid during the call
 * only. */
typedef void (*tw__resolve_cb)(void *ctx, int err, const tw_addr *addrs,
                               int n);

/* What a connected dial is opened with: the factory, its argument and
 * the completion, exactly as connect_addr takes them. */
typedef struct tw__dial_open {
    tw_protocol_factory factory;
    void *arg;
    tw_connect_cb cb;
} tw__dial_open;

/* The outcome of one dial (the loop op), on the loop, never inside the
 * dial call. err 0: connected; fill *how and return true, and the backend
 * opens the transport with it as connect_addr would (the factory,
 * connection_made, then how->cb); false: the backend closes the
 * connection unseen. err < 0: the attempt failed (how NULL, the result
 * ignored). Either way the request is over once this runs: it must not
 * be cancelled. */
typedef bool (*tw__dial_cb)(void *ctx, int err, tw__dial_open *how);

/* A generator a backend lends a layer over its streams (the loop op
 * rand_stream): next(r) draws 64 random bits. state is the backend's,
 * set by rand_stream and read or changed only by next; the layer holds
 * the whole struct, so getting one allocates nothing and cannot fail. */
typedef struct tw__rand {
    uint64_t (*next)(struct tw__rand *r);
    uint64_t state[8];
} tw__rand;

typedef struct tw__loop_ops {
    const char *name; /* "real", "sim" */
    /* The loop's clock. */
    tw_ns (*now)(tw_loop *loop);
    /* Wait at most timeout ns (-1: no limit, 0: don't wait) for I/O and
     * dispatch what is ready through the entry points below. Returns 0 or
     * a negative errno for a failure of the backend itself. Used by the
     * core's generic run loop; NULL if the backend has its own run. */
    int (*poll)(tw_loop *loop, tw_ns timeout);
    /* Whole-run override (the simulator drives its world): run until
     * stopped, out of work, or loop time `deadline` (-1: none). NULL: the
     * core's generic loop over poll(). */
    int (*run)(tw_loop *loop, tw_ns deadline);
    /* Wake a poll() in progress. Called from any thread. May be NULL. */
    void (*wakeup)(tw_loop *loop);
    /* Free the backend's state and the loop memory. */
    void (*destroy)(tw_loop *loop);

    /* Connection makers (twin/net.h). NULL means -ENOTSUP. The core has
     * validated loop/factory; host/path are non-NULL. */
    int (*connect_host)(tw_loop *, tw_protocol_factory, void *arg,
                        const char *host, uint16_t port, tw_connect_cb cb);
    int (*connect_addr)(tw_loop *, tw_protocol_factory, void *arg,
                        const tw_addr *addr, tw_connect_cb cb);
    int (*connect_fd)(tw_loop *, tw_protocol_factory, void *arg, int fd,
                      bool accepted, tw_connect_cb cb);
    int (*create_server)(tw_loop *, tw_protocol_factory, void *arg,
                         const char *host, uint16_t port,
                         const tw_server_opts *opts, tw_server **out);
    int (*create_unix_server)(tw_loop *, tw_protocol_factory, void *arg,
                              const char *path, const tw_server_opts *opts,
                              tw_server **out);
    /* Datagram endpoints (twin/datagram.h). */
    int (*create_datagram_endpoint)(tw_loop *, tw_protocol_factory, void *arg,
                                    const struct tw_datagram_opts *opts,
                                    tw_connect_cb cb);
    /* Pipes (twin/process.h): wrap fd as a read (write=false) or write
     * pipe transport. */
    int (*connect_pipe)(tw_loop *, tw_protocol_factory, void *arg, int fd,
                        bool write, tw_connect_cb cb);
    /* Subprocesses (twin/process.h). */
    int (*subprocess)(tw_loop *, tw_protocol_factory, void *arg,
                      const struct tw_subprocess_spec *spec, tw_connect_cb cb);
    /* Name lookups for the core (datagram endpoints by host name):
     * resolve host (not numeric) with port, passive for a local address,
     * without blocking the loop. cb(ctx, ...) runs later from the loop,
     * never inside the call, unless cancelled. Holds no loop ref. Returns
     * the request, or NULL with *err set (cb is then never called). NULL
     * op: names are -ENOTSUP. */
    void *(*resolve)(tw_loop *, const char *host, uint16_t port,
                     bool passive, tw__resolve_cb cb, void *ctx, int *err);
    /* cb of req will not be called; nothing of the caller's is touched
     * again. Also called while the loop is being freed (tw__loop_fini),
     * before anything of it is. */
    void (*resolve_cancel)(tw_loop *, void *req);
    /* Randomness for a layer over this loop's streams whose draws must
     * replay with the loop (tls/: OpenSSL's random bytes). Set *r to a
     * generator of its own for one user, told apart by key (the TLS layer
     * passes its outer transport's id), and return true. false, or a
     * NULL op: the backend has none, and the layer uses the system's
     * generator (the real loop). */
    bool (*rand_stream)(tw_loop *, uint64_t key, tw__rand *r);
    /* tw_loop_fd_limit. NULL: no such limit (UINT64_MAX). */
    uint64_t (*fd_limit)(tw_loop *, uint64_t want);
    /* tw_loop_epoch: Unix time at loop time 0. NULL: the fixed virtual
     * epoch (a simulated node, whose day must replay with its seed). */
    tw_ns (*epoch)(tw_loop *);
    /* A TLS connection of the loop made a secret: `line` in the NSS key
     * log format (what SSLKEYLOGFILE holds), for a capture to carry so a
     * reader can decrypt what it shows. NULL: nobody keeps them. */
    void (*tls_secret)(tw_loop *, const char *line);
    /* The loop's name for the contract checker's messages (a simulated
     * node's name). NULL op or NULL result: the loop has none. */
    const char *(*label)(tw_loop *);
    /* Files (twin/file.h): the backend's table, or NULL: every file call
     * is -ENOTSUP. */
    const struct tw__file_ops *file;
    /* One TCP connect attempt for the core's dialer (core/connect.c:
     * connect timeouts, Happy Eyeballs): to addr (IPv4 or IPv6, port
     * set), from local when it is not NULL (same family; port 0: any).
     * Returns the request, cb(ctx, ...) to follow from the loop; or NULL
     * with *err set when the attempt failed at once (no socket, bind
     * refused), and cb is never called. Holds a loop ref while it runs.
     * NULL op: tw_create_connection_ex is -ENOTSUP. */
    void *(*dial)(tw_loop *, const tw_addr *addr, const tw_addr *local,
                  tw__dial_cb cb, void *ctx, int *err);
    /* Stop a dial whose cb has not run: its connection, half made or
     * not, is closed and cb never runs. A loop being freed drops its
     * dials itself, without their callbacks, before tw__loop_fini (the
     * core then forgets them without calling this). */
    void (*dial_cancel)(tw_loop *, void *req);
} tw__loop_ops;

/* A backend's files (twin/file.h), kind-independent: the core checks the
 * arguments (non-NULL, flags, the file open for what is asked) and keeps
 * the loop's list of open files; the backend does the work. Every
 * operation returns what the public call returns. A backend's file
 * begins with struct tw_file. */
typedef struct tw__file_ops {
    /* Make *out (the backend's allocation, tw__file_init'ed). */
    int (*open)(tw_loop *, const char *path, unsigned flags, tw_file **out);
    ssize_t (*pread)(tw_file *, void *buf, size_t len, uint64_t off);
    /* off UINT64_MAX: at the end (append). */
    ssize_t (*pwrite)(tw_file *, const void *buf, size_t len, uint64_t off);
    int (*fsync)(tw_file *);
    int64_t (*size)(tw_file *);
    /* Release and free the file (the core took it off the list). */
    int (*close)(tw_file *);
    int (*mkdir)(tw_loop *, const char *path);
    int (*rename)(tw_loop *, const char *from, const char *to);
    int (*unlink)(tw_loop *, const char *path);
    int (*fsync_dir)(tw_loop *, const char *path);
    /* The names in directory path but "." and "..", in any order: *names
     * a malloc'd array of *n malloc'd strings (NULL when none; the caller
     * frees them). The core sorts them, bounds them and calls out. */
    int (*names)(tw_loop *, const char *path, char ***names, size_t *n);
} tw__file_ops;

/* Free what a backend's names op made. */
void tw__fs_names_free(char **names, size_t n);

/* The core part of a file a backend's open made. */
void tw__file_init(tw_file *f, tw_loop *loop, unsigned flags);
/* Close every file still open on loop (tw__loop_fini). */
void tw__files_close_all(tw_loop *loop);

/* One scheduled callback; lives in the loop's slot table. 40 bytes: a
 * burst of a hundred thousand connection_made grows the table to as
 * many, so heap_pos and state share a word. */
typedef struct tw__slot {
    tw_callback cb;
    void *arg;
    tw_ns when;          /* for timers */
    uint64_t seq;        /* FIFO order among equal `when` */
    uint32_t gen;        /* bumped on free: stale handles miss */
    int heap_pos : 30;   /* index in the timer heap, -1 if not a timer */
    unsigned state : 2;  /* TW__SLOT_* */
} tw__slot;
/* The most slots a loop has, so that every heap_pos fits its bits. */
#define TW__SLOTS_MAX (1u << 29)

enum { TW__SLOT_FREE = 0, TW__SLOT_READY, TW__SLOT_TIMER, TW__SLOT_CANCELLED };
_Static_assert(TW__SLOT_CANCELLED < 4, "a slot's state fits its two bits");

typedef struct tw__ts_call {
    tw_callback cb;
    void *arg;
} tw__ts_call;

typedef struct tw__list {
    struct tw__list *prev, *next;
} tw__list;

struct tw_file {
    tw_loop *loop;
    unsigned flags; /* TW_FILE_* */
    tw__list link;  /* in loop->files */
};

struct tw_loop {
    const tw__loop_ops *ops;

    /* slot table: handles index it; free slots are chained via arg */
    tw__slot *slots;
    uint32_t nslots, capslots;
    uint32_t free_head; /* UINT32_MAX: none */
    uint64_t seq;

    /* ready queue: ring of slot indices */
    uint32_t *ready;
    uint32_t ready_head, ready_len, ready_cap;

    /* timer heap: slot indices ordered by (when, seq) */
    uint32_t *heap;
    uint32_t heap_len, heap_cap;

    /* call_soon_threadsafe inbox */
    pthread_mutex_t ts_lock;
    tw__ts_call *ts_calls;
    size_t ts_len, ts_cap;
    volatile int ts_pending;
    uint64_t ts_dropped; /* lost moving to the ready queue (loop thread) */

    bool stopping;
    bool running;
    unsigned alive;      /* open transports, servers, pending operations */
    tw__list transports; /* every live transport (for tw_loop_free) */
    tw__list servers;
    tw__list lookups;    /* datagram endpoints waiting for names */
    tw__list files;      /* open files (twin/file.h) */
    tw__list dialers;    /* tw_create_connection_ex calls in progress */

    /* Scratch buffer for plain (non-buffered) protocols' reads. */
    uint8_t *rbuf;
    size_t rbuf_len;

    bool contract_on;
    bool contract_strict; /* the protocol's own calls too (implies on) */
    tw_contract_handler contract_handler;
    void *contract_arg;
    uint64_t next_transport_id;
    /* The protocol callback running now, for strict mode's messages:
     * its event (a tw__event, TW__EV_RELEASE, or -1: none) and its
     * transport's id. Set around every call out (tw__cb_enter). */
    int cb_ev;
    uint64_t cb_tid;
    /* Strict mode's quarantine: transports whose connection_lost has
     * returned, kept (memory and all) so that a call through a stale
     * pointer finds TW__T_DEAD instead of freed memory. Oldest first,
     * at most TW__QUARANTINE_MAX; freed with the loop. */
    tw__list quarantine;
    unsigned nquarantine;
    bool finishing; /* tw__loop_fini runs: memory is freed at once */
    /* Told of every protocol callback just before it runs (the
     * simulator's trace records them); ev is a tw__event. NULL: nobody
     * listens. */
    void (*on_callback)(tw_loop *loop, const tw_transport *t, unsigned ev);
    /* Told when the loop gets work: the ready queue stops being empty
     * (timer false), or a new earliest timer is set (timer true). The
     * simulator runs only the nodes that have work this way. NULL:
     * nobody listens. */
    void (*on_wake)(tw_loop *loop, bool timer);
    /* The write-buffer alarm (the simulator's limits, twin/simprobe.h):
     * told once per transport whose buffer grows past its threshold
     * (tw_transport.wbuf_alarm). Set with tw__loop_set_wbuf_alarm; NULL:
     * nobody listens, and no transport has a threshold. */
    void (*on_wbuf_alarm)(tw_loop *loop, tw_transport *t, size_t buffered,
                          size_t bound);
    size_t wbuf_alarm_max;          /* any transport's bound; 0: none */
    /* The recorder (core/record.c, twin/record.h), or NULL: each
     * dispatch point tests this pointer and does nothing more. */
    struct tw__rec *rec;
    uint32_t wbuf_alarm_over_high;  /* a paused one's, in high marks; 0: none */
};

/* Set up the core part of a loop the backend allocated (struct tw_loop is
 * the first member of the backend's loop struct). rbuf_len: read size.
 * Returns 0 or -ENOMEM. */
int tw__loop_init(tw_loop *loop, const tw__loop_ops *ops, size_t rbuf_len);
/* Free the core part (called by the backend's destroy). */
void tw__loop_fini(tw_loop *loop);

/* Earliest timer deadline, or -1 if there is none. */
tw_ns tw__loop_next_timer(const tw_loop *loop);
/* True if callbacks are queued to run now (ready queue or thread inbox). */
bool tw__loop_has_ready(const tw_loop *loop);
/* One iteration's callback work: move due timers (by ops->now) to the
 * ready queue, then run the callbacks that were ready at that moment
 * (callbacks they schedule wait for the next iteration). Returns how many
 * ran. */
uint32_t tw__loop_run_ready(tw_loop *loop);
/* The callback the loop would run first: the head of the ready queue,
 * else the earliest timer's; NULL if there is none. For messages (a
 * livelock names it). */
tw_callback tw__loop_next_callback(const tw_loop *loop);
/* Set the write-buffer alarm (struct tw_loop: on_wbuf_alarm and its two
 * bounds) and give every transport of the loop its threshold anew. */
void tw__loop_set_wbuf_alarm(tw_loop *loop,
                             void (*fn)(tw_loop *, tw_transport *, size_t,
                                        size_t),
                             size_t max, uint32_t over_high);
/* True if the loop has nothing left: no ready callback, timer or alive. */
bool tw__loop_idle(const tw_loop *loop);

static inline void tw__loop_ref(tw_loop *loop) { loop->alive++; }
static inline void tw__loop_unref(tw_loop *loop)
{
    assert(loop->alive > 0);
    loop->alive--;
}

void tw__list_init(tw__list *l);
void tw__list_push(tw__list *head, tw__list *item);
void tw__list_remove(tw__list *item);
static inline bool tw__list_empty(const tw__list *l) { return l->next == l; }

#define tw__container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------ */
/* 2. the write buffer: a chain of chunks, appended by copy, drained by
 * writev. Small writes share a chunk; a big one gets its own.          */

typedef struct tw__chunk {
    struct tw__chunk *next;
    size_t start, end, cap;
    uint8_t data[];
} tw__chunk;

/* The chunks are a ring through next: tail is the newest, tail->next
 * the oldest (the head), and one pointer is all a transport keeps. */
typedef struct tw__wbuf {
    tw__chunk *tail; /* NULL: empty */
    size_t size;
} tw__wbuf;

#define TW__CHUNK_MIN 16384
#define TW__IOV_MAX 64

/* Walking the chunks, oldest first: from tw__wbuf_head, tw__wbuf_next
 * until NULL. */
static inline tw__chunk *tw__wbuf_head(const tw__wbuf *b)
{
    return b->tail ? b->tail->next : NULL;
}
static inline tw__chunk *tw__wbuf_next(const tw__wbuf *b, const tw__chunk *c)
{
    return c == b->tail ? NULL : c->next;
}

void tw__wbuf_init(tw__wbuf *b);
int tw__wbuf_append(tw__wbuf *b, const void *data, size_t len); /* 0/-ENOMEM */
/* Fill iov with up to max segments of buffered data; returns the count. */
int tw__wbuf_iov(const tw__wbuf *b, struct iovec *iov, int max);
void tw__wbuf_consume(tw__wbuf *b, size_t n);
void tw__wbuf_clear(tw__wbuf *b);

/* ------------------------------------------------------------------ */
/* 3. the contract checker                                             */

typedef enum tw__event {
    TW__EV_MADE,
    TW__EV_DATA,
    TW__EV_GET_BUFFER,
    TW__EV_BUFFER_UPDATED,
    TW__EV_EOF,
    TW__EV_PAUSE,
    TW__EV_RESUME,
    TW__EV_DATAGRAM,
    TW__EV_ERROR,
    TW__EV_PIPE_DATA,
    TW__EV_PIPE_LOST,
    TW__EV_EXITED,
    TW__EV_LOST,
} tw__event;
#define TW__EV_COUNT (TW__EV_LOST + 1)
/* Not an event the checker steps on: the protocol's release, named as
 * "the callback it was in" by strict mode's messages. */
#define TW__EV_RELEASE TW__EV_COUNT

typedef struct tw__contract {
    uint8_t state : 2;  /* 0 new, 1 made (TW__CONTRACT_MADE), 2 eof, 3 lost */
    bool in_buffer : 1; /* get_buffer returned, buffer_updated not yet */
    bool paused : 1;    /* pause_writing delivered, resume not yet */
    bool exited : 1;    /* process_exited delivered */
} tw__contract;

/* The state in which data_received (the event of every read) is allowed
 * and changes nothing: the transport checks it inline and steps the
 * checker only otherwise. */
#define TW__CONTRACT_MADE 1

/* Check one callback about to be delivered. Returns NULL if allowed, else
 * a static sentence naming the rule broken. Updates the state either way. */
const char *tw__contract_step(tw__contract *c, tw__event ev);
const char *tw__event_name(tw__event ev);

/* Which protocol callback is running, saved and restored around each
 * call out so that nested callbacks (pause_writing inside a write made
 * in data_received) unwind to the right one. */
typedef struct tw__cb_ctx {
    int ev;
    uint64_t tid;
} tw__cb_ctx;
static inline tw__cb_ctx tw__cb_enter(tw_loop *loop, uint64_t tid, int ev)
{
    tw__cb_ctx saved = {loop->cb_ev, loop->cb_tid};
    loop->cb_ev = ev;
    loop->cb_tid = tid;
    return saved;
}
static inline void tw__cb_leave(tw_loop *loop, tw__cb_ctx saved)
{
    loop->cb_ev = saved.ev;
    loop->cb_tid = saved.tid;
}
/* Run stmt as a call out of transport t's protocol for event ev. */
#define TW__CALL_OUT(t, ev, stmt)                                      \
    do {                                                               \
        tw_loop *l_ = (t)->loop;                                       \
        tw__cb_ctx c_ = tw__cb_enter(l_, (t)->id, (int)(ev));          \
        stmt;                                                          \
        tw__cb_leave(l_, c_);                                          \
    } while (0)

/* ------------------------------------------------------------------ */
/* 4. transports                                                       */

typedef struct tw__transport_ops {
    /* Send now, never blocking. Returns the bytes taken (0 when nothing
     * can be taken now) or a negative errno, which loses the connection. */
    ssize_t (*send)(tw_transport *t, const struct iovec *iov, int iovcnt);
    /* Arm (on) or disarm write readiness: while armed, the backend calls
     * tw__transport_writable() whenever send() could take more. */
    void (*want_write)(tw_transport *t, bool on);
    /* Arm or disarm reading: while armed the backend delivers incoming
     * bytes and EOF; while not, it holds them (and pushes back). */
    void (*want_read)(tw_transport *t, bool on);
    /* Half-close the write side (the buffer is empty). 0 or -errno. */
    int (*shutdown_write)(tw_transport *t);
    /* Extra info other than peername/sockname (core serves those from
     * t->peer / t->local). 0, or -ENOENT. May be NULL. */
    int (*extra_info)(tw_transport *t, const char *name, tw_extra *out);
    /* The end: close the socket/resource and free the transport memory.
     * Called once, after connection_lost and release. */
    void (*destroy)(tw_transport *t);
    /* Datagram transports only (NULL for others): try to send one
     * datagram now, never blocking; addr NULL means the connected remote.
     * Returns 0 when it was sent, -EAGAIN when it cannot be taken now
     * (the core queues it and arms want_write), or another negative errno
     * for this datagram (the core reports it to error_received and drops
     * the datagram; the transport stays open). */
    int (*sendto)(tw_transport *t, const void *data, size_t len,
                  const tw_addr *addr);
    bool can_write_eof;
    /* write() after close() is taken while close()'s flush is still in
     * progress (the connection not lost yet), as asyncio's selector
     * socket transport takes it; false: refused from close() on, as its
     * write pipe and SSL transports refuse it. */
    bool close_takes_writes;
    /* A TLS layer: what the protocol reads and writes is the plaintext of
     * records on another transport (the recorder marks its OPEN). */
    bool tls;
    /* Optional: close()'s flush is done (nothing buffered). NULL: the end
     * follows at once. A layer with more to send first (TLS: close_notify,
     * then closing the stream under it) does it and later calls
     * tw__transport_finish; an abort meanwhile still ends it at once. */
    void (*close_flushed)(tw_transport *t);
    /* Optional (TCP streams): keepalive and user timeout, values checked
     * by the core (tw_transport_set_keepalive). NULL: -ENOTSUP. */
    int (*keepalive)(tw_transport *t, tw_ns idle, tw_ns interval, unsigned count);
    int (*user_timeout)(tw_transport *t, tw_ns timeout);
    /* Optional (a plain socket): tw_loop_sendfile's fast path, used once
     * the write buffer is empty. Up to len bytes of fd from *off straight
     * to the connection, advancing *off. Returns the bytes taken (> 0), 0
     * at the end of the file, -EAGAIN when the connection takes nothing
     * now (the core arms writing), or another negative errno, after which
     * the core goes on with its fallback (read the file, send it) from
     * *off, which tells a file's error from the connection's. NULL: the
     * fallback only. */
    ssize_t (*sendfile)(tw_transport *t, int fd, off_t *off, size_t len);
    /* Optional: give back the memory of t, which tw__transport_free let go
     * (at once, or when strict mode's quarantine does), its addresses
     * cleared. NULL: free(t). For a backend that keeps its transports in
     * blocks of its own (the simulator's endpoints). */
    void (*release)(tw_transport *t);
} tw__transport_ops;

enum {
    TW__T_MADE = 1u << 0,     /* connection_made delivered */
    TW__T_CLOSING = 1u << 1,  /* close() or abort() called, or lost */
    TW__T_LOST = 1u << 2,     /* connection_lost scheduled */
    TW__T_EOF_OUT = 1u << 3,  /* write_eof() requested */
    TW__T_EOF_SENT = 1u << 4, /* shutdown_write done */
    TW__T_EOF_IN = 1u << 5,   /* eof_received delivered */
    TW__T_PAUSED = 1u << 6,   /* pause_reading in effect */
    TW__T_WPAUSED = 1u << 7,  /* protocol is in pause_writing */
    TW__T_WARMED = 1u << 8,   /* want_write armed */
    TW__T_RARMED = 1u << 9,   /* want_read armed */
    TW__T_WALARM = 1u << 13,  /* the write-buffer alarm was raised */
    TW__T_CLOSE_CALLED = 1u << 10, /* close() called (or eof_received's
                                      false closed it) */
    TW__T_ABORT_CALLED = 1u << 11, /* abort() called */
    TW__T_DEAD = 1u << 12,    /* connection_lost returned: a call now is a
                                 use after the end (strict mode keeps the
                                 memory to see it) */
};
/* t->flags holds them in 16 bits. */
_Static_assert(TW__T_WALARM <= UINT16_MAX / 2 && TW__T_DEAD <= UINT16_MAX / 2,
               "transport flags outgrew t->flags");

/* What a transport kind can do, and what it does its own way: one constant
 * per tw_transport_kind; tw__transport_init notes the kind in t->kind,
 * and tw__cls(t) is its class. The core asks the class, never the kind. A call a kind cannot make returns -ENOTSUP.
 * STREAM, READ and WRITE are core/transport.c's, DATAGRAM is
 * core/datagram.c's, SUBPROCESS core/subprocess.c's. */
typedef struct tw__transport_class {
    tw_transport_kind kind; /* tw_transport_kind_of */
    /* Delivers what arrives: reading is armed at connection_made, and
     * is_reading says whether it still is. */
    bool reads;
    /* pause_reading and resume_reading (implies reads). */
    bool pause_reading;
    /* write and writelines, through the byte buffer t->wbuf; a kind
     * without them never has a byte in it. */
    bool writes;
    /* write_eof, when the backend can too (ops->can_write_eof); implies
     * writes. */
    bool write_eof;
    /* A write buffer with watermarks (set_write_buffer_limits, pause and
     * resume_writing); implied by writes and by sendto. A kind without
     * one never has a byte buffered (wbuf or t->queued). */
    bool limits;
    /* Closes after eof_received whatever it returned (implies reads). */
    bool close_on_eof;
    /* abort; without it close() is the only end. */
    bool abort;
    /* close(), whole, for a kind that ends its own way. NULL: the core's
     * close (flush the buffer, then the end). */
    int (*close)(tw_transport *t);
    /* The backend can send again (tw__transport_writable, on an open
     * transport): flush, then resume_writing, close or write_eof as the
     * buffer allows. Set exactly when limits is: only a kind with a
     * buffer arms writing. */
    void (*writable)(tw_transport *t);
    /* sendto after the core's checks (the kind's, closing, arguments);
     * NULL: sendto is -ENOTSUP. */
    int (*sendto)(tw_transport *t, const void *data, size_t len,
                  const tw_addr *addr);
    /* Drop what is queued outside t->wbuf (abort, fatal errors, the end,
     * tw_loop_free). NULL: the kind queues nothing there. */
    void (*clear)(tw_transport *t);
} tw__transport_class;

extern const tw__transport_class tw__datagram_class;   /* core/datagram.c */
extern const tw__transport_class tw__subprocess_class; /* core/subprocess.c */

/* An address a transport keeps: a sockaddr of len bytes. Its family is
 * kept in a byte; the bytes after the family inline when they fit (every
 * IPv4 address, a Unix path of up to 17 bytes), an IPv6 address without
 * flow label or scope id as its port and address alone (len
 * TW__TADDR_LEN_IN6), else the whole sockaddr in an allocation of its
 * own, whose pointer the inline bytes hold. 20 bytes: a transport keeps
 * two, and a simulated world a few hundred thousand transports. len 0:
 * no address. Zero bytes are a valid empty one; copy with tw__taddr_copy
 * (never by assignment, which would share the allocation), release with
 * tw__taddr_clear. */
#define TW__TADDR_REST 18
typedef struct tw__taddr {
    uint8_t len; /* a sockaddr_storage's 128 at most, or TW__TADDR_LEN_IN6 */
    uint8_t family;
    uint8_t rest[TW__TADDR_REST];
} tw__taddr;
#define TW__TADDR_INLINE (TW__TADDR_REST + (int)sizeof(sa_family_t))
/* A sockaddr_in6 kept short: port, then the 16 address bytes. */
#define TW__TADDR_LEN_IN6 255

/* Keep a copy of a (NULL or len 0: none). 0, or -ENOMEM (then d holds no
 * address). */
int tw__taddr_set(tw__taddr *d, const tw_addr *a);
int tw__taddr_copy(tw__taddr *d, const tw__taddr *s);
void tw__taddr_clear(tw__taddr *d);
/* The address as a whole tw_addr (bytes past len zero). */
void tw__taddr_get(const tw__taddr *s, tw_addr *out);
/* The same for a look at it on a per-datagram path: only out->len and
 * the address's own bytes (out->u up to len) are written, the rest of
 * out is left as it was. Never for a tw_addr handed to a user. */
static inline void tw__taddr_peek(const tw__taddr *s, tw_addr *out)
{
    if (s->len == sizeof(struct sockaddr_in) && s->family == AF_INET) {
        out->len = sizeof(struct sockaddr_in);
        out->u.sa.sa_family = AF_INET;
        memcpy((uint8_t *)&out->u + sizeof(sa_family_t), s->rest,
               sizeof(struct sockaddr_in) - sizeof(sa_family_t));
        return;
    }
    tw__taddr_get(s, out);
}
/* Its family (AF_UNSPEC when none). */
static inline int tw__taddr_family(const tw__taddr *a)
{
    return a->len ? a->family : AF_UNSPEC;
}

struct tw_transport {
    const tw__transport_ops *ops;
    tw_loop *loop;
    tw_protocol *proto;
    uint16_t flags;          /* TW__T_* */
    int16_t lost_err;        /* an errno or a TW_E* code: both fit */
    uint8_t kind;            /* a tw_transport_kind: its class, tw__cls(t) */
    tw__contract contract;
    uint64_t id;             /* loop-unique, for messages and traces */
    tw__wbuf wbuf;
    size_t queued;           /* bytes buffered outside wbuf (datagrams) */
    /* What only some kinds keep, read through the accessors below. */
    union {
        /* a kind with sendto: unsent datagrams (datagram.c), a ring
         * through next kept by its newest (whose next is the oldest) */
        struct tw__dgram *dq;
        /* a stream: tw_loop_sendfile in progress (core/sendfile.c), or NULL */
        struct tw__sendfile *sendfile;
    } k;
    size_t high, low;
    /* Buffered beyond this, the loop's on_wbuf_alarm is told (once):
     * SIZE_MAX when it has none. Kept by tw__transport_wbuf_alarm_arm, so
     * the write path pays one comparison. */
    size_t wbuf_alarm;
    tw__taddr peer, local;
    tw__list link;           /* in loop->transports */
};

/* The class of each kind (core/transport.c), and t's. */
extern const tw__transport_class *const tw__classes[];
static inline const tw__transport_class *tw__cls(const tw_transport *t)
{
    return tw__classes[t->kind];
}

/* t's sendfile in progress, or NULL (always NULL but for a stream). */
static inline struct tw__sendfile *tw__transport_sendfile(const tw_transport *t)
{
    return tw__cls(t)->kind == TW_TRANSPORT_STREAM ? t->k.sendfile : NULL;
}
/* A datagram t has queued (the newest), or NULL when none (always NULL
 * without sendto). */
static inline struct tw__dgram *tw__transport_dq(const tw_transport *t)
{
    return tw__cls(t)->sendto ? t->k.dq : NULL;
}

/* Initialise the core part of a transport the backend allocated (struct
 * tw_transport first in the backend's struct), of the class of kind.
 * Counts as alive. */
void tw__transport_init(tw_transport *t, tw_loop *loop,
                        const tw__transport_ops *ops, tw_transport_kind kind);

/* Make the protocol with factory(arg), schedule connection_made (then
 * cb(arg, t, 0) if cb), then arm reading. On factory failure the
 * transport is destroyed, cb(arg, NULL, -ENOMEM) is scheduled if cb, and
 * -ENOMEM is returned: the backend must not touch t again. */
int tw__transport_open(tw_transport *t, tw_protocol_factory factory,
                       void *arg, tw_connect_cb cb);

/* The backend delivers bytes: `data` (any length; split to fit a buffered
 * protocol's buffers). Only while reading is armed. Returns how many bytes
 * the protocol took: fewer than len when a callback paused reading or
 * closed the transport part way; the backend keeps the rest (and delivers
 * it after resume_reading) or drops it if the transport is closing. */
size_t tw__transport_deliver(tw_transport *t, const uint8_t *data, size_t len);

/* Zero-copy variant for a reading syscall: get a buffer to read into (the
 * protocol's own for a BufferedProtocol, else the loop's scratch buffer),
 * then report how many bytes landed. recv_buffer returns 0, or a negative
 * errno when the protocol gave no buffer (the connection is then lost:
 * stop). */
int tw__transport_recv_buffer(tw_transport *t, ssize_t sizehint, void **buf,
                              size_t *len);
void tw__transport_received(tw_transport *t, size_t n);

/* The peer sent EOF: eof_received, then close unless it returned true. */
void tw__transport_eof(tw_transport *t);
/* A fatal error: buffered data dropped, connection_lost(err) follows. */
void tw__transport_fatal(tw_transport *t, int err);
/* Writable again: flush the buffer. */
void tw__transport_writable(tw_transport *t);
/* True while the backend should deliver reads (armed, open, not at eof). */
static inline bool tw__transport_reading(const tw_transport *t)
{
    return (t->flags & (TW__T_RARMED | TW__T_CLOSING | TW__T_PAUSED |
                        TW__T_EOF_IN)) == TW__T_RARMED;
}

/* Set t->wbuf_alarm from its loop's alarm: the loop's bound, and while
 * its protocol is paused (pause_writing delivered) also what it holds now
 * plus wbuf_alarm_over_high times its high mark (at least
 * TW__WBUF_ALARM_HIGH_MIN): a protocol that goes on writing after it was
 * told to stop reaches it, one large write that went over the mark does
 * not. SIZE_MAX once the alarm was raised. */
void tw__transport_wbuf_alarm_arm(tw_transport *t);
#define TW__WBUF_ALARM_HIGH_MIN 4096

/* Flow control for buffers the core does not hold itself (a datagram
 * queue, a TLS layer): the transport's buffer size is wbuf.size plus
 * t->queued, which such code keeps up to date. maybe_pause runs the
 * pause rule (inside the call that grew the buffer); maybe_resume the
 * resume rule (from the loop, after the buffer drained). */
void tw__transport_maybe_pause(tw_transport *t);
void tw__transport_maybe_resume(tw_transport *t);

/* Datagram side. The backend delivers each datagram it receives (while
 * reading is armed) and each error the network reports about one; both
 * are dropped once the transport is closing. */
void tw__transport_datagram(tw_transport *t, const uint8_t *data, size_t len,
                            const tw_addr *from);
void tw__transport_error_received(tw_transport *t, int err);

/* For core/datagram.c: arm or disarm want_write (only on change), and
 * schedule the end (connection_lost(err) from the loop). */
void tw__transport_arm_write(tw_transport *t, bool on);
void tw__transport_finish(tw_transport *t, int err);

/* Drop what t's kind queues outside t->wbuf (its class's clear). */
static inline void tw__transport_clear_queued(tw_transport *t)
{
    if (tw__cls(t)->clear)
        tw__cls(t)->clear(t);
}

/* Drop every datagram endpoint still waiting for a name, calling nothing
 * (tw__loop_fini, before it frees anything else). */
void tw__dgram_lookups_cancel(tw_loop *loop);
/* The same for tw_create_connection_ex calls in progress: their lookups
 * are cancelled, their dials were dropped by the backend already. */
void tw__dialers_drop(tw_loop *loop);

/* sendfile (core/sendfile.c). The writable hook of a stream whose buffer
 * has drained while a sendfile waits: send more of the file. */
void tw__sendfile_pump(tw_transport *t);
/* End t's sendfile (if any) with err: its callback is scheduled now, so
 * it runs before a connection_lost scheduled after this. */
void tw__sendfile_end(tw_transport *t, int err);
/* Free t's sendfile without its callback (the end of t, a loop torn
 * down). */
void tw__sendfile_drop(tw_transport *t);
/* The completion's scheduled callback, which owns its argument:
 * tw__loop_fini frees the arguments of those still pending. */
void tw__sendfile_done_cb(void *p);
/* connection_made, then a client's completion: its argument is an
 * allocation the callback frees (and tw__loop_fini, if still pending). */
void tw__made_then_cb(void *p);

/* Most addresses kept from one lookup. */
#define TW__RESOLVE_MAX 16
/* Datagrams flushed per writable event at most, so one endpoint with a
 * long queue cannot starve the loop (readiness calls again). */
#define TW__DGRAM_FLUSH_MAX 256
/* asyncio's per-datagram header in get_write_buffer_size. */
#define TW__DGRAM_HEADER 8

/* Report a contract violation for t (used by the checked callers). */
void tw__contract_fail(tw_transport *t, tw__event ev, const char *rule);

/* Strict mode: report that the protocol's call `call` (as "write()") on
 * t broke `rule`, naming the loop, t and the callback running. Reports
 * only while strict mode is on, except for a call on a dead transport,
 * which is always reported (only strict mode keeps one to be seen). */
void tw__strict_fail(const tw_transport *t, const char *call, const char *rule);
static inline bool tw__strict_on(const tw_transport *t)
{
    return t->loop->contract_strict;
}
/* The guard at the top of every public call: true (and reported) when
 * t's connection_lost has returned, and the call must return at once
 * without touching anything else. */
static inline bool tw__transport_dead(const tw_transport *t, const char *call)
{
    if (!(t->flags & TW__T_DEAD))
        return false;
    tw__strict_fail(t, call, "after connection_lost returned: the transport "
                             "is gone");
    return true;
}

/* Free the memory of a transport a backend's destroy is done with (an
 * allocation that begins with the transport: the backend's struct with
 * the tw_transport first). Strict mode quarantines a dead one instead,
 * up to TW__QUARANTINE_MAX per loop, oldest freed first; the rest go
 * with the loop. A transport never initialised (loop NULL) is freed. */
void tw__transport_free(tw_transport *t);
#define TW__QUARANTINE_MAX 1024
/* Free every quarantined transport of loop (tw__loop_fini). */
void tw__quarantine_drain(tw_loop *loop);

/* The recorder (core/record.c). A backend starts it on a loop it made
 * (0 or -errno, the file left closed); tw__loop_fini stops it. The hooks
 * run only behind TW__REC_ON. type is a tw_rec_type (twin/record.h);
 * a DATA with data NULL is a buffer_updated of len bytes from the
 * buffer tw__rec_buffer noted. */
struct tw_record_opts;
int tw__rec_start(tw_loop *loop, const struct tw_record_opts *opts);
void tw__rec_stop(tw_loop *loop);
void tw__rec_event(tw_transport *t, int type, const void *data, size_t len,
                   const tw_addr *a, int64_t num);
/* A write record of the bytes of iov; flags: TW_REC_F_SENDFILE for those
 * tw_loop_sendfile sent, else 0. */
void tw__rec_writev(tw_transport *t, const struct iovec *iov, int iovcnt, unsigned flags);
/* A write of len bytes of the file at fd from off, which sendfile(2) sent
 * without their passing through the process: read back for the record. */
void tw__rec_file(tw_transport *t, int fd, off_t off, size_t len);
void tw__rec_buffer(tw_loop *loop, const void *buf);
void tw__rec_timer(tw_loop *loop, tw_ns when);
#define TW__REC_ON(loop) __builtin_expect((loop)->rec != NULL, 0)

/* ------------------------------------------------------------------ */
/* 5. servers and connect completions                                  */

typedef struct tw__server_ops {
    /* Stop listening, release sockets, free the server memory. */
    void (*close)(tw_server *srv);
} tw__server_ops;

#define TW__SERVER_MAX_LISTEN 8

struct tw_server {
    const tw__server_ops *ops;
    tw_loop *loop;
    tw_protocol_factory factory;
    void *arg;
    /* tw_server_opts.on_accept_error, or NULL: tw__server_accept_error */
    void (*on_accept_error)(void *arg, tw_server *srv, int err);
    int backlog;
    uint64_t accepted;
    int nlisten;
    tw_addr addrs[TW__SERVER_MAX_LISTEN];
    tw__list link; /* in loop->servers */
};

/* Set up the core part of a server (counts as alive until close). */
void tw__server_init(tw_server *srv, tw_loop *loop, const tw__server_ops *ops,
                     tw_protocol_factory factory, void *arg,
                     const tw_server_opts *opts);
/* Release the core part (the backend's close calls it). */
void tw__server_fini(tw_server *srv);
/* An accept failed for want of a resource (err < 0): tell the owner,
 * from the loop. The callback may close srv. */
void tw__server_accept_error(tw_server *srv, int err);

/* Schedule cb(arg, NULL, err) from the loop (a failed connect). */
void tw__connect_fail(tw_loop *loop, tw_connect_cb cb, void *arg, int err);
/* Its scheduled callback, which owns its argument: tw__loop_fini frees
 * the arguments of those still pending. */
void tw__connect_fail_cb(void *p);

/* Default backlog. */
#define TW__BACKLOG_DEFAULT 100
/* Largest read per data_received (asyncio's max_size). */
#define TW__READ_SIZE_DEFAULT (256 * 1024)

#endif
