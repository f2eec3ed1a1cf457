/* tests/test_resp_redis.c - twin's replies beside redis-server 7.0's.
 *
 * Each sequence below is a list of requests, each with the reply
 * redis-server 7.0.15 gave to it, byte for byte (recorded with
 * tools/resp-record.py against `redis-server --save '' --appendonly no`;
 * a sequence starts from an empty keyspace). The first test runs every
 * sequence through twin's commands and compares. The second, when
 * redis-server is installed, runs the same requests against a fresh one
 * and against twin side by side, so a reply that drifted from Redis (or a
 * recording gone stale) shows with both texts.
 *
 * The requests avoid what differs by design: the order of several keys
 * (KEYS, SCAN: a hash seed of twin's own) or of several settings (CONFIG
 * GET: Redis's order is its hash table's, seeded at random), client ids,
 * versions, dates, COMMAND COUNT, settings twin does not have.
 *
 * Map: the sequences; the fixture; the recorded test; the live test.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/cli_util.h"
#include "tests/harness.h"
#include "twin/resp.h"

typedef struct step {
    const char *req;   /* an inline request, quoted as redis-cli quotes */
    const char *rep;
    size_t rep_len;
} step;

#define S(req, rep) {req, rep, sizeof rep - 1}

/* ---- the sequences ---- */

static const step seq_set[] = {
    S("SET k v", "+OK\r\n"),
    S("SET k w XX GET", "$1\r\nv\r\n"),
    S("SET k v EX 100 PX 100", "-ERR syntax error\r\n"),
    S("SET k v KEEPTTL EXAT 5", "-ERR syntax error\r\n"),
    S("SET k v EXAT 4000000000", "+OK\r\n"),
    S("EXPIRETIME k", ":4000000000\r\n"),
    S("PEXPIRETIME k", ":4000000000000\r\n"),
    S("SET k v PXAT 4000000000123", "+OK\r\n"),
    S("PEXPIRETIME k", ":4000000000123\r\n"),
    S("EXPIRETIME k", ":4000000000\r\n"),
    S("SET k w KEEPTTL", "+OK\r\n"),
    S("PEXPIRETIME k", ":4000000000123\r\n"),
    S("SET k v", "+OK\r\n"),
    S("EXPIRETIME k", ":-1\r\n"),
    S("EXPIRETIME nokey", ":-2\r\n"),
    S("PEXPIRETIME nokey", ":-2\r\n"),
    S("SET k v EXAT 1", "+OK\r\n"),
    S("GET k", "$-1\r\n"),
    S("SET k v PXAT 0", "-ERR invalid expire time in 'set' command\r\n"),
    S("SET k v GET NX", "$-1\r\n"),
    S("SETNX n 1", ":1\r\n"),
    S("SETNX n 2", ":0\r\n"),
    S("GET n", "$1\r\n1\r\n"),
    S("SETEX s 100 v", "+OK\r\n"),
    S("TTL s", ":100\r\n"),
    S("SETEX s 0 v", "-ERR invalid expire time in 'setex' command\r\n"),
    S("SETEX s -1 v", "-ERR invalid expire time in 'setex' command\r\n"),
    S("SETEX s x v", "-ERR value is not an integer or out of range\r\n"),
    S("PSETEX p 100000 v", "+OK\r\n"),
    S("TTL p", ":100\r\n"),
    S("PSETEX p 0 v", "-ERR invalid expire time in 'psetex' command\r\n"),
    S("GETSET g 1", "$-1\r\n"),
    S("GETSET g 2", "$1\r\n1\r\n"),
    S("SET g 3 EX 100", "+OK\r\n"),
    S("GETSET g 4", "$1\r\n3\r\n"),
    S("TTL g", ":-1\r\n"),
    S("GETDEL g", "$1\r\n4\r\n"),
    S("GETDEL g", "$-1\r\n"),
    S("EXISTS g", ":0\r\n"),
    S("MSETNX a 1 b 2", ":1\r\n"),
    S("MSETNX b 3 c 4", ":0\r\n"),
    S("MGET a b c", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
    S("MSETNX a", "-ERR wrong number of arguments for 'msetnx' command\r\n"),
    S("MSETNX a 1 b", "-ERR wrong number of arguments for 'msetnx' command\r\n"),
    {NULL, NULL, 0},
};

/* An expiry that overflows once the current time is added. */
static const step seq_overflow[] = {
    S("SET foo bar", "+OK\r\n"),
    S("EXPIRE foo 9223370399119966", "-ERR invalid expire time in 'expire' command\r\n"),
    S("PEXPIRE foo 9223370399119966000", "-ERR invalid expire time in 'pexpire' command\r\n"),
    S("SET foo bar EX 9223370399119966", "-ERR invalid expire time in 'set' command\r\n"),
    S("SET foo bar PX 9223370399119966000", "-ERR invalid expire time in 'set' command\r\n"),
    S("SETEX foo 9223370399119966 bar", "-ERR invalid expire time in 'setex' command\r\n"),
    S("PSETEX foo 9223370399119966000 bar", "-ERR invalid expire time in 'psetex' command\r\n"),
    S("GETEX foo EX 9223370399119966", "-ERR invalid expire time in 'getex' command\r\n"),
    S("GETEX foo PX 9223370399119966000", "-ERR invalid expire time in 'getex' command\r\n"),
    S("EXPIRE foo 9223372036854775", "-ERR invalid expire time in 'expire' command\r\n"),
    S("EXPIRE foo 9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"),
    S("EXPIREAT foo 9223372036854776", "-ERR invalid expire time in 'expireat' command\r\n"),
    S("SET foo bar EXAT 9223372036854776", "-ERR invalid expire time in 'set' command\r\n"),
    S("EXPIRE foo -9223372036854775", ":1\r\n"),
    S("EXISTS foo", ":0\r\n"),
    S("SET foo bar", "+OK\r\n"),
    S("EXPIRE foo -9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"),
    S("PEXPIRE foo -9223372036854775808", ":1\r\n"),
    S("TTL foo", ":-2\r\n"),
    {NULL, NULL, 0},
};

static const step seq_getex[] = {
    S("SET e v", "+OK\r\n"),
    S("GETEX e", "$1\r\nv\r\n"),
    S("TTL e", ":-1\r\n"),
    S("GETEX e EX 100", "$1\r\nv\r\n"),
    S("TTL e", ":100\r\n"),
    S("GETEX e PERSIST", "$1\r\nv\r\n"),
    S("TTL e", ":-1\r\n"),
    S("GETEX e PX 5000", "$1\r\nv\r\n"),
    S("TTL e", ":5\r\n"),
    S("GETEX e EXAT 4000000000", "$1\r\nv\r\n"),
    S("EXPIRETIME e", ":4000000000\r\n"),
    S("GETEX e PXAT 4000000000500", "$1\r\nv\r\n"),
    S("PEXPIRETIME e", ":4000000000500\r\n"),
    S("GETEX e EX 0", "-ERR invalid expire time in 'getex' command\r\n"),
    S("GETEX e EX 10 PX 10", "-ERR syntax error\r\n"),
    S("GETEX e PERSIST EX 10", "-ERR syntax error\r\n"),
    S("GETEX e EX 10 PERSIST", "-ERR syntax error\r\n"),
    S("GETEX e FOO", "-ERR syntax error\r\n"),
    S("GETEX e EX", "-ERR syntax error\r\n"),
    S("GETEX e EX x", "-ERR value is not an integer or out of range\r\n"),
    S("GETEX nokey EX 10", "$-1\r\n"),
    S("GETEX e EXAT 1", "$1\r\nv\r\n"),
    S("EXISTS e", ":0\r\n"),
    {NULL, NULL, 0},
};

static const step seq_ranges[] = {
    S("APPEND ap hello", ":5\r\n"),
    S("APPEND ap \" world\"", ":11\r\n"),
    S("GET ap", "$11\r\nhello world\r\n"),
    S("STRLEN ap", ":11\r\n"),
    S("STRLEN nokey", ":0\r\n"),
    S("APPEND ap \"\"", ":11\r\n"),
    S("APPEND new \"\"", ":0\r\n"),
    S("EXISTS new", ":1\r\n"),
    S("SET r \"This is a string\"", "+OK\r\n"),
    S("GETRANGE r 0 3", "$4\r\nThis\r\n"),
    S("GETRANGE r -3 -1", "$3\r\ning\r\n"),
    S("GETRANGE r 0 -1", "$16\r\nThis is a string\r\n"),
    S("GETRANGE r 10 100", "$6\r\nstring\r\n"),
    S("GETRANGE r 5 3", "$0\r\n\r\n"),
    S("GETRANGE r -1 -5", "$0\r\n\r\n"),
    S("GETRANGE r -100 2", "$3\r\nThi\r\n"),
    S("GETRANGE r 0 9223372036854775807", "$16\r\nThis is a string\r\n"),
    S("GETRANGE r -9223372036854775808 1", "$2\r\nTh\r\n"),
    S("GETRANGE nokey 0 -1", "$0\r\n\r\n"),
    S("GETRANGE r x 1", "-ERR value is not an integer or out of range\r\n"),
    S("SUBSTR r 0 3", "$4\r\nThis\r\n"),
    S("SET sr \"Hello World\"", "+OK\r\n"),
    S("SETRANGE sr 6 Redis", ":11\r\n"),
    S("GET sr", "$11\r\nHello Redis\r\n"),
    S("SETRANGE sr 20 x", ":21\r\n"),
    S("GET sr", "$21\r\nHello Redis\000\000\000\000\000\000\000\000\000x\r\n"),
    S("SETRANGE sr2 5 x", ":6\r\n"),
    S("GET sr2", "$6\r\n\000\000\000\000\000x\r\n"),
    S("SETRANGE sr3 0 \"\"", ":0\r\n"),
    S("EXISTS sr3", ":0\r\n"),
    S("SETRANGE sr 2 \"\"", ":21\r\n"),
    S("SETRANGE sr -1 x", "-ERR offset is out of range\r\n"),
    S("SETRANGE sr x y", "-ERR value is not an integer or out of range\r\n"),
    S("SETRANGE sr 536870912 x", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
    S("SETRANGE sr 536870911 xy", "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"),
    S("SETRANGE sr 536870912 \"\"", ":21\r\n"),
    S("SET empty \"\"", "+OK\r\n"),
    S("GETRANGE empty 0 -1", "$0\r\n\r\n"),
    S("STRLEN empty", ":0\r\n"),
    {NULL, NULL, 0},
};

static const step seq_lcs[] = {
    S("MSET l1 ohmytext l2 mynewtext", "+OK\r\n"),
    S("LCS l1 l2", "$6\r\nmytext\r\n"),
    S("LCS l1 l2 LEN", ":6\r\n"),
    S("LCS l1 l2 IDX", "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
    S("LCS l1 l2 IDX MINMATCHLEN 4", "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
    S("LCS l1 l2 IDX MINMATCHLEN 4 WITHMATCHLEN", "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
    S("LCS l1 l2 IDX WITHMATCHLEN", "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"),
    S("LCS l1 l2 LEN IDX", "-ERR If you want both the length and indexes, please just use IDX.\r\n"),
    S("LCS l1 nokey", "$0\r\n\r\n"),
    S("LCS nokey l2 IDX", "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"),
    S("LCS l1 l2 FOO", "-ERR syntax error\r\n"),
    S("LCS l1 l2 MINMATCHLEN x", "-ERR value is not an integer or out of range\r\n"),
    S("LCS l1 l2 MINMATCHLEN", "-ERR syntax error\r\n"),
    S("LCS l1 l2 IDX MINMATCHLEN -3", "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
    S("LCS l1 l1 IDX", "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:7\r\n*2\r\n:0\r\n:7\r\n$3\r\nlen\r\n:8\r\n"),
    S("MSET a1 abcabcabc a2 cbacbacba", "+OK\r\n"),
    S("LCS a1 a2 IDX WITHMATCHLEN", "*4\r\n$7\r\nmatches\r\n*5\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n:1\r\n*3\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:5\r\n"),
    {NULL, NULL, 0},
};

static const step seq_bits[] = {
    S("SETBIT b 7 1", ":0\r\n"),
    S("SETBIT b 7 1", ":1\r\n"),
    S("GET b", "$1\r\n\001\r\n"),
    S("GETBIT b 7", ":1\r\n"),
    S("GETBIT b 100", ":0\r\n"),
    S("GETBIT nokey 0", ":0\r\n"),
    S("SETBIT b 7 0", ":1\r\n"),
    S("SETBIT b 100 1", ":0\r\n"),
    S("STRLEN b", ":13\r\n"),
    S("GET b", "$13\r\n\000\000\000\000\000\000\000\000\000\000\000\000\010\r\n"),
    S("SETBIT b -1 1", "-ERR bit offset is not an integer or out of range\r\n"),
    S("SETBIT b 4294967296 1", "-ERR bit offset is not an integer or out of range\r\n"),
    S("SETBIT b 4294967295 2", "-ERR bit is not an integer or out of range\r\n"),
    S("SETBIT b 0 2", "-ERR bit is not an integer or out of range\r\n"),
    S("SETBIT b 0 01", "-ERR bit is not an integer or out of range\r\n"),
    S("SETBIT b x 1", "-ERR bit offset is not an integer or out of range\r\n"),
    S("GETBIT b x", "-ERR bit offset is not an integer or out of range\r\n"),
    S("GETBIT b -1", "-ERR bit offset is not an integer or out of range\r\n"),
    S("GETBIT b 4294967296", "-ERR bit offset is not an integer or out of range\r\n"),
    S("SETBIT z 3 0", ":0\r\n"),
    S("GET z", "$1\r\n\000\r\n"),
    S("SET bc foobar", "+OK\r\n"),
    S("BITCOUNT bc", ":26\r\n"),
    S("BITCOUNT bc 0 0", ":4\r\n"),
    S("BITCOUNT bc 1 1", ":6\r\n"),
    S("BITCOUNT bc 1 1 BYTE", ":6\r\n"),
    S("BITCOUNT bc 5 30 BIT", ":17\r\n"),
    S("BITCOUNT bc -2 -1", ":7\r\n"),
    S("BITCOUNT bc -1 -2", ":0\r\n"),
    S("BITCOUNT bc 0 -1 BIT", ":26\r\n"),
    S("BITCOUNT bc 100 200", ":0\r\n"),
    S("BITCOUNT bc -100 -50", ":4\r\n"),
    S("BITCOUNT bc 1", "-ERR syntax error\r\n"),
    S("BITCOUNT bc 1 x", "-ERR value is not an integer or out of range\r\n"),
    S("BITCOUNT bc 0 1 FOO", "-ERR syntax error\r\n"),
    S("BITCOUNT bc 0 1 BIT x", "-ERR syntax error\r\n"),
    S("BITCOUNT bc -2 -100 X", ":0\r\n"),
    S("BITCOUNT bc -100 -2 X", "-ERR syntax error\r\n"),
    S("BITPOS bc 1 0 x FOO", "-ERR syntax error\r\n"),
    S("BITPOS bc 1 0 x BIT", "-ERR value is not an integer or out of range\r\n"),
    S("SET nul \"-6\\x00hello\"", "+OK\r\n"),
    S("INCRBYFLOAT nul 1", "-ERR value is not a valid float\r\n"),
    S("INCR nul", "-ERR value is not an integer or out of range\r\n"),
    S("BITCOUNT nokey", ":0\r\n"),
    S("BITCOUNT nokey 1", ":0\r\n"),
    S("BITCOUNT nokey 0 1 FOO", ":0\r\n"),
    S("SET bp \"\\xff\\xf0\\x00\"", "+OK\r\n"),
    S("BITPOS bp 0", ":12\r\n"),
    S("SET bp \"\\x00\\xff\\xf0\"", "+OK\r\n"),
    S("BITPOS bp 1 0", ":8\r\n"),
    S("BITPOS bp 1 2", ":16\r\n"),
    S("BITPOS bp 1 2 -1 BYTE", ":16\r\n"),
    S("BITPOS bp 1 7 15 BIT", ":8\r\n"),
    S("BITPOS bp 1 17 23 BIT", ":17\r\n"),
    S("BITPOS bp 0 8 23 BIT", ":20\r\n"),
    S("SET bp \"\\x00\\x00\\x00\"", "+OK\r\n"),
    S("BITPOS bp 1", ":-1\r\n"),
    S("BITPOS bp 0", ":0\r\n"),
    S("SET bp \"\\xff\\xff\\xff\"", "+OK\r\n"),
    S("BITPOS bp 0", ":24\r\n"),
    S("BITPOS bp 0 0 -1", ":-1\r\n"),
    S("BITPOS bp 0 0", ":24\r\n"),
    S("BITPOS bp 0 10 20 BIT", ":-1\r\n"),
    S("BITPOS bp 1 -1", ":16\r\n"),
    S("BITPOS bp 1 5 2", ":-1\r\n"),
    S("SET bp \"\\xff\\x7f\"", "+OK\r\n"),
    S("BITPOS bp 0 3 12 BIT", ":8\r\n"),
    S("BITPOS bp 0 1 1", ":8\r\n"),
    S("BITPOS nokey 0", ":0\r\n"),
    S("BITPOS nokey 1", ":-1\r\n"),
    S("BITPOS bp 2", "-ERR The bit argument must be 1 or 0.\r\n"),
    S("BITPOS bp x", "-ERR value is not an integer or out of range\r\n"),
    S("BITPOS bp 1 x", "-ERR value is not an integer or out of range\r\n"),
    S("BITPOS bp 1 0 x", "-ERR value is not an integer or out of range\r\n"),
    S("BITPOS bp 1 0 1 FOO", "-ERR syntax error\r\n"),
    S("BITPOS bp 1 0 1 BIT 5", "-ERR syntax error\r\n"),
    S("BITPOS nokey 1 0 1 FOO", ":-1\r\n"),
    S("SET bp \"\"", "+OK\r\n"),
    S("BITPOS bp 0", ":-1\r\n"),
    S("BITPOS bp 1", ":-1\r\n"),
    S("BITCOUNT bp", ":0\r\n"),
    {NULL, NULL, 0},
};

static const step seq_float[] = {
    S("INCRBYFLOAT f 10.50", "$4\r\n10.5\r\n"),
    S("INCRBYFLOAT f 0.1", "$4\r\n10.6\r\n"),
    S("INCRBYFLOAT f -5", "$3\r\n5.6\r\n"),
    S("SET f 5.0e3", "+OK\r\n"),
    S("INCRBYFLOAT f 2.0e2", "$4\r\n5200\r\n"),
    S("INCRBYFLOAT f x", "-ERR value is not a valid float\r\n"),
    S("INCRBYFLOAT f \" 1\"", "-ERR value is not a valid float\r\n"),
    S("INCRBYFLOAT f \"\"", "-ERR value is not a valid float\r\n"),
    S("SET s abc", "+OK\r\n"),
    S("INCRBYFLOAT s 1", "-ERR value is not a valid float\r\n"),
    S("INCRBYFLOAT h inf", "-ERR increment would produce NaN or Infinity\r\n"),
    S("INCRBYFLOAT h nan", "-ERR value is not a valid float\r\n"),
    S("INCRBYFLOAT z -0", "$1\r\n0\r\n"),
    S("INCRBYFLOAT z 0.0000001", "$9\r\n0.0000001\r\n"),
    S("INCRBYFLOAT big 1e30", "$31\r\n1000000000000000000024696061952\r\n"),
    S("INCRBYFLOAT tiny 3.0e-5", "$7\r\n0.00003\r\n"),
    S("SET e2 1 EX 100", "+OK\r\n"),
    S("INCRBYFLOAT e2 1.5", "$3\r\n2.5\r\n"),
    S("TTL e2", ":100\r\n"),
    S("INCR e2", "-ERR value is not an integer or out of range\r\n"),
    S("SET i 10", "+OK\r\n"),
    S("INCRBYFLOAT i 1", "$2\r\n11\r\n"),
    {NULL, NULL, 0},
};

static const step seq_keys[] = {
    S("SET a 1", "+OK\r\n"),
    S("TYPE a", "+string\r\n"),
    S("TYPE nokey", "+none\r\n"),
    S("TOUCH a nokey a", ":2\r\n"),
    S("UNLINK a nokey", ":1\r\n"),
    S("SET x 1", "+OK\r\n"),
    S("RENAME x y", "+OK\r\n"),
    S("GET y", "$1\r\n1\r\n"),
    S("EXISTS x", ":0\r\n"),
    S("RENAME nokey z", "-ERR no such key\r\n"),
    S("RENAMENX nokey z", "-ERR no such key\r\n"),
    S("RENAME y y", "+OK\r\n"),
    S("SET z 2", "+OK\r\n"),
    S("RENAMENX y z", ":0\r\n"),
    S("RENAMENX y w", ":1\r\n"),
    S("RENAMENX w w", ":0\r\n"),
    S("RENAME w z", "+OK\r\n"),
    S("GET z", "$1\r\n1\r\n"),
    S("SET t v EX 100", "+OK\r\n"),
    S("RENAME t t2", "+OK\r\n"),
    S("TTL t2", ":100\r\n"),
    S("COPY t2 c1", ":1\r\n"),
    S("TTL c1", ":100\r\n"),
    S("GET c1", "$1\r\nv\r\n"),
    S("COPY t2 c1", ":0\r\n"),
    S("COPY t2 c1 REPLACE", ":1\r\n"),
    S("COPY t2 t2", "-ERR source and destination objects are the same\r\n"),
    S("COPY nokey c1", ":0\r\n"),
    S("COPY t2 c2 DB 0", ":1\r\n"),
    S("COPY t2 c2 FOO", "-ERR syntax error\r\n"),
    S("COPY t2 c2 DB x", "-ERR value is not an integer or out of range\r\n"),
    S("COPY t2 c2 DB", "-ERR syntax error\r\n"),
    S("PERSIST t2", ":1\r\n"),
    S("PERSIST t2", ":0\r\n"),
    S("PERSIST nokey", ":0\r\n"),
    S("TTL t2", ":-1\r\n"),
    S("SET k v", "+OK\r\n"),
    S("EXPIREAT k 1", ":1\r\n"),
    S("EXISTS k", ":0\r\n"),
    S("SET k v", "+OK\r\n"),
    S("PEXPIREAT k 4000000000000", ":1\r\n"),
    S("EXPIRETIME k", ":4000000000\r\n"),
    S("EXPIREAT k 4000000001 LT", ":0\r\n"),
    S("EXPIREAT k 4000000001 GT", ":1\r\n"),
    S("EXPIRETIME k", ":4000000001\r\n"),
    S("PEXPIREAT k x", "-ERR value is not an integer or out of range\r\n"),
    S("FLUSHDB", "+OK\r\n"),
    S("MSET key1 1 key2 2 other 3", "+OK\r\n"),
    S("KEYS k?y1", "*1\r\n$4\r\nkey1\r\n"),
    S("KEYS o*", "*1\r\n$5\r\nother\r\n"),
    S("KEYS [ab]*", "*0\r\n"),
    S("KEYS key[^1]", "*1\r\n$4\r\nkey2\r\n"),
    S("KEYS *2", "*1\r\n$4\r\nkey2\r\n"),
    S("KEYS \\\\*", "*0\r\n"),
    S("KEYS", "-ERR wrong number of arguments for 'keys' command\r\n"),
    S("DBSIZE", ":3\r\n"),
    S("FLUSHDB ASYNC", "+OK\r\n"),
    S("FLUSHDB foo", "-ERR syntax error\r\n"),
    S("RANDOMKEY", "$-1\r\n"),
    S("SET only 1", "+OK\r\n"),
    S("RANDOMKEY", "$4\r\nonly\r\n"),
    S("SCAN 0", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"),
    S("SCAN 0 MATCH o*", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"),
    S("SCAN 0 MATCH x*", "*2\r\n$1\r\n0\r\n*0\r\n"),
    S("SCAN 0 TYPE string", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"),
    S("SCAN 0 TYPE hash", "*2\r\n$1\r\n0\r\n*0\r\n"),
    S("SCAN 0 COUNT 100 MATCH * TYPE string", "*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"),
    S("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
    S("SCAN 0 COUNT x", "-ERR value is not an integer or out of range\r\n"),
    S("SCAN x", "-ERR invalid cursor\r\n"),
    S("SCAN 0 MATCH", "-ERR syntax error\r\n"),
    S("SCAN 0 FOO bar", "-ERR syntax error\r\n"),
    {NULL, NULL, 0},
};

static const step seq_server[] = {
    S("ECHO hi", "$2\r\nhi\r\n"),
    S("PING", "+PONG\r\n"),
    S("SELECT 0", "+OK\r\n"),
    S("TIME x", "-ERR wrong number of arguments for 'time' command\r\n"),
    S("WAIT 0 0", ":0\r\n"),
    S("WAIT x 0", "-ERR value is not an integer or out of range\r\n"),
    S("WAIT 0 -1", "-ERR timeout is negative\r\n"),
    S("CLIENT SETNAME \"a b\"", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
    S("CLIENT SETNAME \"a\\nb\"", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
    S("CLIENT GETNAME", "$-1\r\n"),
    S("CLIENT SETNAME worker-1", "+OK\r\n"),
    S("CLIENT GETNAME", "$8\r\nworker-1\r\n"),
    S("CLIENT SETNAME \"\"", "+OK\r\n"),
    S("CLIENT GETNAME", "$-1\r\n"),
    S("CLIENT SETNAME", "-ERR wrong number of arguments for 'client|setname' command\r\n"),
    S("CLIENT REPLY foo", "-ERR syntax error\r\n"),
    S("CLIENT NOSUCH", "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"),
    S("CLIENT", "-ERR wrong number of arguments for 'client' command\r\n"),
    S("CLIENT KILL 1.2.3.4:5", "-ERR No such client\r\n"),
    S("CLIENT KILL ID 999999", ":0\r\n"),
    S("CLIENT KILL ID x", "-ERR client-id should be greater than 0\r\n"),
    S("CLIENT KILL FOO bar", "-ERR syntax error\r\n"),
    S("CLIENT ID x", "-ERR wrong number of arguments for 'client|id' command\r\n"),
    S("HELLO 2 SETNAME \"a b\"", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
    S("HELLO 2 SETNAME", "-ERR Syntax error in HELLO option 'SETNAME'\r\n"),
    S("HELLO 4 SETNAME \"a b\"", "-NOPROTO unsupported protocol version\r\n"),
    S("HELLO 4 FOO", "-NOPROTO unsupported protocol version\r\n"),
    S("HELLO 3 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n"),
    S("HELLO 3 SETNAME \"a b\"", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
    S("HELLO 2 AUTH default", "-ERR Syntax error in HELLO option 'AUTH'\r\n"),
    S("HELLO x", "-ERR Protocol version is not an integer or out of range\r\n"),
    S("HELLO 1", "-NOPROTO unsupported protocol version\r\n"),
    S("CONFIG GET maxmemor?", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
    S("CONFIG GET MAXMEMORY", "*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n"),
    S("CONFIG GET maxmemory maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
    S("CONFIG GET maxmemory MAXMEMORY", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
    S("CONFIG GET nosuch", "*0\r\n"),
    S("CONFIG GET save", "*2\r\n$4\r\nsave\r\n$0\r\n\r\n"),
    S("CONFIG GET appendonly", "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"),
    S("CONFIG GET maxmemory-policy", "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"),
    S("CONFIG GET hz", "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"),
    S("CONFIG GET proto-max-bulk-len", "*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n"),
    S("CONFIG GET client-query-buffer-limit", "*2\r\n$25\r\nclient-query-buffer-limit\r\n$10\r\n1073741824\r\n"),
    S("CONFIG GET PROTO-max-bulk-LEN", "*2\r\n$18\r\nPROTO-max-bulk-LEN\r\n$9\r\n536870912\r\n"),
    S("CONFIG GET proto-max-bulk-le[m-n]", "*2\r\n$18\r\nproto-max-bulk-len\r\n$9\r\n536870912\r\n"),
    S("CONFIG GET", "-ERR wrong number of arguments for 'config|get' command\r\n"),
    S("CONFIG SET maxmemory abc", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
    S("CONFIG SET nosuch 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"),
    S("CONFIG SET maxmemory", "-ERR wrong number of arguments for 'config|set' command\r\n"),
    S("CONFIG SET maxmemory 1mb", "+OK\r\n"),
    S("CONFIG GET maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"),
    S("CONFIG SET maxmemory 2k", "+OK\r\n"),
    S("CONFIG GET maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$4\r\n2000\r\n"),
    S("CONFIG SET maxmemory 0", "+OK\r\n"),
    S("CONFIG HELP", "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n+    Return parameters matching the glob-like <pattern> and their values.\r\n+SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n+RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n+REWRITE\r\n+    Rewrite the configuration file.\r\n+HELP\r\n+    Prints this help.\r\n"),
    S("CONFIG FOO", "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"),
    S("COMMAND COUNT x", "-ERR wrong number of arguments for 'command|count' command\r\n"),
    S("COMMAND INFO get", "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"),
    S("COMMAND INFO nosuch GET", "*2\r\n$-1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"),
    S("COMMAND INFO set incr mget exists ttl", "*5\r\n*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*1\r\n*8\r\n$5\r\nnotes\r\n$48\r\nRW and ACCESS due to the optional `GET` argument\r\n$5\r\nflags\r\n*4\r\n+RW\r\n+access\r\n+update\r\n+variable_flags\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$4\r\nincr\r\n:2\r\n*3\r\n+write\r\n+denyoom\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@write\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*3\r\n+RW\r\n+access\r\n+update\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$4\r\nmget\r\n:-2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:-1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n+@fast\r\n*1\r\n$26\r\nrequest_policy:multi_shard\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$6\r\nexists\r\n:-2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:-1\r\n:1\r\n*3\r\n+@keyspace\r\n+@read\r\n+@fast\r\n*2\r\n$26\r\nrequest_policy:multi_shard\r\n$23\r\nresponse_policy:agg_sum\r\n*1\r\n*6\r\n$5\r\nflags\r\n*1\r\n+RO\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:-1\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n*10\r\n$3\r\nttl\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@keyspace\r\n+@read\r\n+@fast\r\n*1\r\n$23\r\nnondeterministic_output\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"),
    S("COMMAND GETKEYS get k", "*1\r\n$1\r\nk\r\n"),
    S("COMMAND GETKEYS mset a 1 b 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    S("COMMAND GETKEYS del a b c", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
    S("COMMAND GETKEYS ping", "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
    S("COMMAND GETKEYS nosuch a", "-ERR Invalid command specified\r\n"),
    S("COMMAND GETKEYS get", "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
    S("COMMAND GETKEYS", "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
    S("COMMAND LIST x", "-ERR syntax error\r\n"),
    S("COMMAND FOO", "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"),
    S("RESET", "+RESET\r\n"),
    S("FOO a b", "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"),
    S("GET", "-ERR wrong number of arguments for 'get' command\r\n"),
    {NULL, NULL, 0},
};

static const struct seq {
    const char *name;
    const step *steps;
} seqs[] = {
    {"set", seq_set},       {"overflow", seq_overflow}, {"getex", seq_getex},
    {"ranges", seq_ranges}, {"lcs", seq_lcs},           {"bits", seq_bits},
    {"float", seq_float},   {"keys", seq_keys},         {"server", seq_server},
};
#define NSEQS (sizeof seqs / sizeof seqs[0])

/* ---- the fixture: a keyspace and a connection, at a date ---- */

typedef struct fx {
    tw_resp_store *st;
    tw_resp_info info;
    tw_resp_client client;
    tw_resp_ctx cx;
    tw_resp_buf out;
    tw_resp_parser ps;
    uint8_t scratch[4096];
} fx;

static fx *fx_new(void)
{
    fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tw_resp_store_opts o = {.hash_seed = 42};
    f->st = tw_resp_store_new(&o);
    assert_non_null(f->st);
    snprintf(f->info.run_id, sizeof f->info.run_id, "%040d", 7);
    f->info.maxclients = 10000;
    f->info.limits = tw_resp_limits_resolve(NULL);
    f->info.epoch_ms = TW_EPOCH_VIRTUAL / TW_NS_PER_MS;
    f->client.id = 3;
    f->cx = (tw_resp_ctx){.store = f->st, .info = &f->info, .now = TW_SEC(1000),
                          .client = &f->client};
    tw_resp_buf_init(&f->out, 0);
    tw_resp_parser_init(&f->ps, NULL, f->scratch, sizeof f->scratch);
    return f;
}

static void fx_free(fx *f)
{
    tw_resp_buf_fini(&f->out);
    tw_resp_store_free(f->st);
    free(f);
}

/* twin's reply to one inline request, in f->out. */
static void twin_reply(fx *f, const char *req)
{
    tw_resp_arg argv[64];
    size_t argc;
    char text[1024];
    int n = snprintf(text, sizeof text, "%s\r\n", req);
    int rc = tw_resp_parse(&f->ps, (const uint8_t *)text, (size_t)n, argv, 64, &argc);
    if (rc != n)
        fail_msg("'%s' did not parse (%d)", req, rc);
    f->out.len = 0;
    f->cx.quit = false;
    tw_resp_exec(&f->cx, argv, argc, &f->out);
}

static void show(const char *what, const uint8_t *p, size_t n)
{
    fprintf(stderr, "  %-8s", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, p[i] == '\r' ? "\\r" : p[i] == '\n' ? "\\n" : p[i] < 32 || p[i] > 126
                        ? "\\x%02x" : "%c", p[i]);
    fprintf(stderr, "\n");
}

/* ---- the recorded replies ---- */

static void test_replies_match_redis_recorded(void **state)
{
    (void)state;
    int bad = 0;
    for (size_t s = 0; s < NSEQS; s++) {
        fx *f = fx_new();
        for (const step *st = seqs[s].steps; st->req; st++) {
            twin_reply(f, st->req);
            if (f->out.len == st->rep_len && !memcmp(f->out.data, st->rep, st->rep_len))
                continue;
            fprintf(stderr, "%s: %s\n", seqs[s].name, st->req);
            show("twin", f->out.data, f->out.len);
            show("redis", (const uint8_t *)st->rep, st->rep_len);
            bad++;
        }
        fx_free(f);
    }
    assert_int_equal(bad, 0);
}

/* ---- the live comparison ---- */

static int redis_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    for (int i = 0; i < 500; i++) {
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return fd;
        usleep(10000);
    }
    fail_msg("redis-server did not listen on %s", path);
    return -1;
}

/* One reply from redis, whole, into buf; its length. */
static size_t redis_ask(int fd, const char *req, uint8_t *buf, size_t cap)
{
    char line[1100];
    int n = snprintf(line, sizeof line, "%s\r\n", req);
    assert_int_equal(write(fd, line, (size_t)n), n);
    size_t len = 0;
    for (;;) {
        tw_resp_reply r;
        int k = tw_resp_reply_parse(buf, len, &r, NULL);
        assert_true(k >= 0);
        if (k > 0)
            return (size_t)k;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t got = read(fd, buf + len, cap - len);
        assert_true(got > 0);
        len += (size_t)got;
    }
}

static void test_replies_match_a_live_redis(void **state)
{
    (void)state;
    if (!tw_cli_have("redis-server")) {
        print_message("skipped: no redis-server on PATH (apt-get install redis-server)\n");
        skip();
    }
    char dir[] = "/tmp/twin-redis-XXXXXX", sock[128], logf[128];
    assert_non_null(mkdtemp(dir));
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(logf, sizeof logf, "%s/redis.log", dir);
    tw_proc srv;
    char *argv[] = {"redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
                    "--appendonly", "no", "--logfile", logf, NULL};
    tw_proc_spawn(&srv, argv);
    int fd = redis_connect(sock);
    static uint8_t buf[1 << 16];
    int bad = 0;
    for (size_t s = 0; s < NSEQS; s++) {
        redis_ask(fd, "FLUSHALL", buf, sizeof buf);
        redis_ask(fd, "CONFIG SET maxmemory 0", buf, sizeof buf);
        fx *f = fx_new();
        for (const step *st = seqs[s].steps; st->req; st++) {
            size_t n = redis_ask(fd, st->req, buf, sizeof buf);
            twin_reply(f, st->req);
            if (f->out.len == n && !memcmp(f->out.data, buf, n))
                continue;
            fprintf(stderr, "%s: %s\n", seqs[s].name, st->req);
            show("twin", f->out.data, f->out.len);
            show("redis", buf, n);
            bad++;
        }
        fx_free(f);
    }
    close(fd);
    tw_proc_finish(&srv, SIGTERM);
    unlink(sock);
    unlink(logf);
    rmdir(dir);
    assert_int_equal(bad, 0);
}

int main(void)
{
    tw_cli_init();
    const struct CMUnitTest tests[] = {
        TW_TEST(test_replies_match_redis_recorded),
        cmocka_unit_test_teardown(test_replies_match_a_live_redis, tw_cli_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
