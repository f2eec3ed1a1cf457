#!/bin/sh
# bench/record_cost.sh BUILD - what `twin run --record` costs a server
# (docs/recording.md). Sourced by bench/run.sh, which defines emit.
#
# Two figures, each with and without recording in the same run:
#   - instructions per request of the server process, counted by
#     callgrind (stable on a shared machine): the echo server under
#     bench/loadgen (4 connections ping-ponging 64 B), the RESP server
#     under redis-benchmark (SET and GET, -P 16). A run with no load is
#     subtracted, so start-up is not counted.
#   - requests per second, wall clock: the same loads, the two servers
#     alternating, median of three (one with BENCH_QUICK=1).
# Ratio: with recording over without (above 1: recording costs that
# much more per request; for throughput, below 1 is the loss).
rc_build=$1
rc_tmp=$(mktemp -d)
rc_quick=${BENCH_QUICK:-0}

# The server's line "Serving on 127.0.0.1:PORT" in file $1.
rc_port() {
    for i in $(seq 300); do
        p=$(sed -n 's/^Serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$1" 2>/dev/null | head -1)
        [ -n "$p" ] && { echo "$p"; return; }
        sleep 0.1
    done
}

# rc_ir NAME REC LOAD: run the server (twin run [--record] APP) under
# callgrind with LOAD (echo, resp, none) against it; prints
# "instructions requests".
rc_ir() {
    rec=""; [ "$2" = yes ] && rec="--record $rc_tmp/$1.rec --record-ring 64MiB"
    case $1 in
        echo) app="echo-server --keep-open --quiet" ;;
        resp) app="resp-server" ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$rc_build/twin" run $rec $app --port 0 > "$rc_tmp/out" 2> "$rc_tmp/err" &
    pid=$!
    port=$(rc_port "$rc_tmp/out")
    n=0
    case $3 in
        echo)
            secs=1; [ "$rc_quick" != 0 ] || secs=3
            j=$("$rc_build/bench/loadgen" --port "$port" --mode echo --conns 4 --size 64 \
                 --seconds "$secs" --warmup 0)
            n=$(printf '%s' "$j" | sed -n 's/.*"msgs_total": \([0-9]*\).*/\1/p') ;;
        resp)
            n=4000; [ "$rc_quick" != 0 ] || n=20000
            redis-benchmark -p "$port" -t set,get -c 4 -n "$n" -P 16 -q > /dev/null
            n=$((n * 2)) ;;
    esac
    kill -INT "$pid"
    wait "$pid" || true
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$rc_tmp/err")
    echo "$ir $n"
}

# rc_rps NAME REC: requests per second of the server, wall clock.
rc_rps() {
    rec=""; [ "$2" = yes ] && rec="--record $rc_tmp/$1-w.rec --record-ring 64MiB"
    case $1 in
        echo) app="echo-server --keep-open --quiet" ;;
        resp) app="resp-server" ;;
    esac
    "$rc_build/twin" run $rec $app --port 0 > "$rc_tmp/wout" 2>&1 &
    pid=$!
    port=$(rc_port "$rc_tmp/wout")
    case $1 in
        echo)
            secs=1; [ "$rc_quick" != 0 ] || secs=3
            "$rc_build/bench/loadgen" --port "$port" --mode echo --conns 4 --size 64 \
                --seconds "$secs" --warmup 0.2 |
                sed -n 's/.*"msgs_per_s": \([0-9.]*\).*/\1/p' ;;
        resp)
            n=50000; [ "$rc_quick" != 0 ] || n=200000
            redis-benchmark -p "$port" -t set -c 4 -n "$n" -P 16 -q --csv |
                sed -n 's/^"SET","\([0-9.]*\)".*/\1/p' ;;
    esac
    kill -INT "$pid"
    wait "$pid" || true
}

rc_median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

if [ -x "$rc_build/bench/loadgen" ] && command -v redis-benchmark >/dev/null 2>&1; then
    if command -v valgrind >/dev/null 2>&1; then
        for srv in echo resp; do
            idle0=$(rc_ir $srv no none | cut -d' ' -f1)
            idle1=$(rc_ir $srv yes none | cut -d' ' -f1)
            set -- $(rc_ir $srv no $srv); ir0=$1; n0=$2
            set -- $(rc_ir $srv yes $srv); ir1=$1; n1=$2
            per0=$(awk -v a="$ir0" -v b="$idle0" -v n="$n0" 'BEGIN{printf "%.0f", (a-b)/n}')
            per1=$(awk -v a="$ir1" -v b="$idle1" -v n="$n1" 'BEGIN{printf "%.0f", (a-b)/n}')
            emit "record: $srv server instructions/request" "$per1" instr "no-record" "$per0" \
                "$(awk -v a="$per1" -v b="$per0" 'BEGIN{printf "%.3f", a/b}')"
        done
    fi
    reps=3; [ "$rc_quick" != 0 ] && reps=1
    for srv in echo resp; do
        : > "$rc_tmp/w0"; : > "$rc_tmp/w1"
        for i in $(seq $reps); do
            rc_rps $srv no >> "$rc_tmp/w0"
            rc_rps $srv yes >> "$rc_tmp/w1"
        done
        w0=$(rc_median < "$rc_tmp/w0"); w1=$(rc_median < "$rc_tmp/w1")
        emit "record: $srv server requests/s" "$(printf '%.0f' "$w1")" req/s "no-record" \
            "$(printf '%.0f' "$w0")" "$(awk -v a="$w1" -v b="$w0" 'BEGIN{printf "%.3f", a/b}')"
    done
else
    echo "record rows skipped: they need bench/loadgen and redis-benchmark"
fi
rm -rf "$rc_tmp"
