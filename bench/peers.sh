#!/bin/sh
# bench/peers.sh BUILD OUT - the real backend against its peers: twin's
# echo app, a libuv echo server (bench/uv_echo.c) and Python asyncio
# (bench/asyncio_echo.py) serve the same load from bench/loadgen.c.
# Prints one table and appends the same rows as JSON lines to OUT.
#
# Rows: echo S x C for S in {64 B, 1 KiB, 16 KiB, 256 KiB} and C in {1, 10,
# 100, 1000}; a stream row (one connection, 1 GiB, echoed back); an idle
# row (10,000 connections: the server's resident memory per connection).
# Each run starts a fresh server pinned to one core, the load generator on
# the other, and reads both CPU uses from /proc/PID/stat. Runs alternate
# between the servers (twin, libuv, asyncio, twin, ...) and repeat; the
# table quotes medians (the machine is shared and noisy).
#
# Environment:
#   BENCH_QUICK=1        a subset, once, shorter (for development)
#   BENCH_SECONDS=T      measured seconds per run (default 2; warm-up 0.5)
#   BENCH_REPEATS=N      runs per row and server (default 3)
#   BENCH_PEERS="..."    servers to run (default "twin libuv asyncio")
#   BENCH_ROWS="..."     only these rows, e.g. "64x100 1024x10 stream idle"
#   BENCH_SERVER_CPU / BENCH_CLIENT_CPU   the two cores (default 0 and 1)
set -e
build=${1:-build}
out=${2:-$build/bench.jsonl}
here=$(dirname "$0")
LG=$build/bench/loadgen

T=${BENCH_SECONDS:-2}
R=${BENCH_REPEATS:-3}
SIZES="64 1024 16384 262144"
CONNS="1 10 100 1000"
STREAM_BYTES=1073741824
IDLE_CONNS=10000
if [ "${BENCH_QUICK:-0}" != 0 ]; then
    T=${BENCH_SECONDS:-1}
    R=${BENCH_REPEATS:-1}
    SIZES="64 16384"
    CONNS="1 100"
    STREAM_BYTES=268435456
    IDLE_CONNS=2000
fi
PEERS=${BENCH_PEERS:-"twin libuv asyncio"}
SCPU=${BENCH_SERVER_CPU:-0}
CCPU=${BENCH_CLIENT_CPU:-1}
PY=$(python3 -c 'import sys; print(sys.executable)')

# 10,000 idle connections need that many descriptors in the server and
# the client; both inherit this limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE_CONNS + 100)) ]; then
    IDLE_CONNS=$(($(ulimit -n) - 100))
    echo "peers: descriptor limit $(ulimit -n): idle row uses $IDLE_CONNS connections" >&2
fi

tmp=$(mktemp -d)
spid=""
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_server NAME: start it pinned to SCPU; sets spid and port.
start_server() {
    case $1 in
    twin) set -- "$build/twin" run echo-server --keep-open --quiet --port 0 ;;
    libuv) set -- "$build/bench/uv_echo" --port 0 ;;
    asyncio) set -- "$PY" "$here/asyncio_echo.py" 0 ;;
    *) echo "peers: unknown server $1" >&2; return 1 ;;
    esac
    # The old file goes first: the shell truncates it only once the child
    # runs, and a stale "Serving on" would name the last server's port.
    rm -f "$tmp/srv.out"
    # taskset execs the server, so $! is the server's own pid.
    taskset -c "$SCPU" "$@" > "$tmp/srv.out" 2>&1 &
    spid=$!
    i=0
    while ! grep -q "Serving on" "$tmp/srv.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$spid" 2>/dev/null; then
            echo "peers: $1 did not start:" >&2
            cat "$tmp/srv.out" >&2
            return 1
        fi
        sleep 0.05
    done
    port=$(sed -n 's/.*Serving on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/srv.out" | head -1)
}

stop_server() {
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid=""
}

failed=0
# run_row ROW LOADGEN_ARGS...: every server, R times, interleaved.
run_row() {
    row=$1
    shift
    case " ${BENCH_ROWS:-$row} " in *" $row "*) ;; *) return 0 ;; esac
    # (sh has no locals: these names must not clash with the callers'.)
    rep=0
    while [ $rep -lt "$R" ]; do
        for server in $PEERS; do
            start_server "$server"
            if taskset -c "$CCPU" "$LG" --port "$port" --server-pid "$spid" \
                "$@" > "$tmp/lg.out" 2> "$tmp/lg.err"; then
                printf '%s\t%s\t%s\n' "$row" "$server" "$(cat "$tmp/lg.out")" >> "$tmp/raw"
            else
                echo "peers: $row against $server failed: $(cat "$tmp/lg.err")" >&2
                failed=1
            fi
            stop_server
        done
        rep=$((rep + 1))
    done
}

: > "$tmp/raw"
for size in $SIZES; do
    for conns in $CONNS; do
        run_row "${size}x$conns" --mode echo --size "$size" --conns "$conns" \
            --seconds "$T" --warmup 0.5
    done
done
run_row stream --mode stream --conns 1 --bytes "$STREAM_BYTES"
run_row idle --mode idle --conns "$IDLE_CONNS"

awk -f "$here/peers_report.awk" -v out="$out" -v peers="$PEERS" \
    -v repeats="$R" -v seconds="$T" -v stream_bytes="$STREAM_BYTES" \
    -v idle_conns="$IDLE_CONNS" "$tmp/raw"
exit $failed
