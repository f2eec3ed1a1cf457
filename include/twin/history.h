/* twin/history.h - a run's history of operations, and a linearizability
 * checker for it.
 *
 * An app records each operation it asks of a store: its invocation (who,
 * what, on which key, with which value), then how it ended: ok (with the
 * value a read saw), fail (it certainly did not happen) or info (unknown:
 * a timeout or a lost connection; it may have taken effect at any time
 * after its invocation, even after the reply was given up on, or never).
 * At the end of a run the history is checked: is there a total order of
 * the operations, each taking effect at one instant between its
 * invocation and its completion, in which every read sees the value of
 * the last write before it? (Herlihy & Wing's linearizability; the
 * search is Wing & Gong's, with Lowe's memoization of the states seen.)
 *
 * A process's ops take effect in the order it invoked them: one op at a
 * time (Jepsen's processes), or a pipeline on one connection, which the
 * server runs in order (a RESP client's). The ops of one process that
 * completed ok are checked in that order; its unknown ops are not (they
 * may take effect whenever, as any unknown op). Ops that may run out of
 * order belong to different processes.
 *
 * Two models, one per key: a register (read, write, cas) and a
 * key-value map (get, put, del, incr) whose keys are independent
 * registers, each checked on its own; expire marks when a key with a
 * time to live may vanish. A register is the map's key ""
 * (pass NULL or ""). The initial value of every key is nil (absent);
 * NULL as a value means nil: a read that saw nothing, a del. incr treats
 * nil as 0 and ends ok with the new value, as Redis's INCR. A get reads
 * "0" only after something wrote it: a store whose counters start at 0
 * records a read of its untouched 0 as nil (value NULL), or the very
 * first read fails the check.
 *
 * Where a history lives: in the simulator, one per world (tw_sim), made
 * at the first record and found from any node's loop; times are the
 * world's virtual time (tw_sim_now) at the record, so the clocks of
 * nodes with skew or drift compare. On the real backend recording is a
 * no-op: tw_history_invoke returns 0 and the completions of op 0 do
 * nothing. Recording never draws from a PRNG and never traces, so it
 * does not change a run.
 *
 * Limits: at most ops_max operations (default TW_HISTORY_OPS_MAX) and
 * TW_HISTORY_BYTES_MAX bytes of keys and values; past them a record
 * returns -ENOBUFS and the history is marked overflowed (a check then
 * fails with -ENOBUFS rather than judge a partial history).
 *
 * The JSON-lines form (tw_history_write_jsonl; `twin sim ... --history
 * FILE`): one event per line, in time order, each an object with
 *   "process": int,  the recorder's process number
 *   "type":    "invoke" | "ok" | "fail" | "info"
 *   "f":       "read" | "write" | "cas" | "get" | "put" | "del" | "incr" |
 *              "expire"
 *   "key":     string (absent for a register)
 *   "value":   string, null (nil), or for cas [from, to]; on invoke the
 *              value written, on ok the value read (a write's ok repeats
 *              what it wrote)
 *   "time":    int, virtual ns
 *   "index":   int, the event's position; "op": int, its operation
 * which is Jepsen's (and Elle's) history shape with keyword values as
 * strings: :process, :type, :f, :value, :time; a map's op carries its
 * key in "key" where Jepsen's independent checker puts [key value]
 * tuples. Porcupine's Operation{ClientId, Input, Call, Output, Return}
 * is one invoke line and its completion: ClientId = process, Call and
 * Return = the two times, Input = (f, key, value), Output = the ok value;
 * an info op has no Return (Porcupine's unknown: return at infinity).
 * An op never completed by the end of the run is written as info at the
 * end time.
 */
#ifndef TWIN_HISTORY_H
#define TWIN_HISTORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "twin/loop.h"

#define TW_HISTORY_OPS_MAX 200000
#define TW_HISTORY_BYTES_MAX (64u << 20)
#define TW_HISTORY_VALUE_MAX 65536 /* bytes of one key or value */

typedef enum tw_history_f {
    TW_HISTORY_READ,
    TW_HISTORY_WRITE,
    TW_HISTORY_CAS,
    TW_HISTORY_GET,
    TW_HISTORY_PUT,
    TW_HISTORY_DEL,
    TW_HISTORY_INCR,
    /* The key may vanish (a TTL) at any instant of the op's span, or not
     * at all: ok closes the window at its completion time; an expire
     * never completed stays open for ever. No value. */
    TW_HISTORY_EXPIRE,
} tw_history_f;

typedef enum tw_history_type {
    TW_HISTORY_PENDING, /* invoked, not yet completed */
    TW_HISTORY_OK,
    TW_HISTORY_FAIL,
    TW_HISTORY_INFO,
} tw_history_type;

typedef struct tw_history tw_history;

/* ---- 1. recording from an app ---- */

/* Records an invocation by `process` (any number the app chooses) of f
 * on key (NULL:
 * the register) with value (value_len bytes, copied; NULL: nil). For
 * TW_HISTORY_CAS use tw_history_invoke_cas. Returns the op's id (> 0),
 * 0 on the real backend (nothing recorded), -EINVAL (a bad f, a key or
 * value over TW_HISTORY_VALUE_MAX), -ENOBUFS (over the limits) or
 * -ENOMEM. */
int64_t tw_history_invoke(tw_loop *loop, uint32_t process, tw_history_f f,
                          const char *key, const void *value, size_t value_len);
/* The same for a compare-and-set from `from` to `to` (NULL: nil). */
int64_t tw_history_invoke_cas(tw_loop *loop, uint32_t process, const char *key,
                              const void *from, size_t from_len,
                              const void *to, size_t to_len);
/* Completes op `id`: ok with the value read (reads, gets, incr; ignored
 * for writes), fail, or info. Returns 0; 0 with nothing done for id 0;
 * -ENOENT for an id that is not a pending op of this loop's world. */
int tw_history_ok(tw_loop *loop, int64_t id, const void *value, size_t value_len);
int tw_history_fail(tw_loop *loop, int64_t id);
int tw_history_info(tw_loop *loop, int64_t id);

/* The history of the loop's world, made on first use; NULL on the real
 * backend or when it cannot be made. */
tw_history *tw_history_of(tw_loop *loop);
/* The same from the world (twin/sim.h); NULL if it cannot be made. */
struct tw_sim;
tw_history *tw_sim_history(struct tw_sim *sim);

/* ---- 2. a history on its own (tests, tools, the runner) ---- */

tw_history *tw_history_new(void);
void tw_history_free(tw_history *h);
/* Sets the operation cap (1 ..); -EINVAL for 0, -EBUSY if already more. */
int tw_history_set_ops_max(tw_history *h, size_t ops_max);
size_t tw_history_count(const tw_history *h);
/* The same records with explicit times (ns); see section 1. */
int64_t tw_history_add_invoke(tw_history *h, tw_ns time, uint32_t process,
                              tw_history_f f, const char *key,
                              const void *value, size_t value_len);
int64_t tw_history_add_cas(tw_history *h, tw_ns time, uint32_t process,
                           const char *key, const void *from, size_t from_len,
                           const void *to, size_t to_len);
int tw_history_add_complete(tw_history *h, int64_t id, tw_ns time,
                            tw_history_type type, const void *value,
                            size_t value_len);

/* Writes the JSON-lines form (see above); ops still pending are written
 * as info at end_ns. Returns 0 or -EIO. */
int tw_history_write_jsonl(const tw_history *h, FILE *f, tw_ns end_ns);

/* ---- 3. checking ---- */

typedef struct tw_history_check_opts {
    /* Search bounds per key: memoized states (each the set of the key's
     * ops placed so far, kept in a few words when they were placed about
     * in the order invoked) and their bytes. 0: the defaults (4M states,
     * 512 MiB). */
    uint64_t states_max;
    uint64_t bytes_max;
} tw_history_check_opts;

typedef struct tw_history_verdict {
    size_t ops;  /* ops checked (fail and info reads are left out) */
    size_t keys;
    /* For a violation: the key, and the ops that show it as text: the one
     * that could not be placed, the end of the longest linearizable order
     * found, the state there, for a read the writes of the value it read
     * (or that none that may have taken effect wrote it), and the ops
     * concurrent with it. */
    char key[128];
    char message[2048];
    /* For a violation: when the op that could not be placed completed
     * (its invocation, for one that never did), the moment the history
     * went wrong; -1 otherwise. */
    tw_ns at_ns;
} tw_history_verdict;

/* Checks every key. Returns 1 (linearizable), 0 (a violation: see
 * out->message), -E2BIG (a key's search went past the bounds: undecided;
 * message names the key), -ENOBUFS (the history overflowed while
 * recording) or -ENOMEM. opts may be NULL. */
int tw_history_check(const tw_history *h, const tw_history_check_opts *opts,
                     tw_history_verdict *out);

#endif
