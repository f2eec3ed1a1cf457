#!/bin/sh
# bench/cost.sh BUILD OUT - what a server costs per message, counted
# rather than timed: user-space instructions (callgrind) and system calls
# (strace -c) of twin's echo server and of the libuv one (bench/uv_echo.c)
# under the same fixed load, and the instructions per request of twin's
# RESP server and of redis-server. Counts do not wander with the load of a
# shared machine the way times do.
#
# Each figure is the difference between two runs of different length
# (M1 and M2 messages), divided by M2 - M1: start-up, connection set-up
# and the end cancel out. The load is bench/loadgen.c's echo mode with
# --messages: 10 connections ping-ponging 64-byte messages, each message
# one read and one write at the server.
#
# Rows (appended to OUT as JSON lines, with the peer's figure and the
# ratio twin / peer):
#   echo 64B x 10: server instructions per message   (peer: libuv)
#   echo 64B x 10: server system calls per message   (peer: libuv)
#   resp: server instructions per request, SET+GET -P 1  (peer: redis-server)
set -e
build=${1:-build}
out=${2:-$build/bench.jsonl}
LG=$build/bench/loadgen
M1=2000
M2=12000
tmp=$(mktemp -d)
spid=""
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

emit() { # emit NAME VALUE UNIT PEER PEER_VALUE
    ratio=$(awk -v a="$2" -v b="$5" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
    printf '{"bench": "%s", "value": %s, "unit": "%s", "peer": "%s", "peer_value": %s, "ratio": %s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$ratio" >> "$out"
    printf '%-44s %14s %-10s %-14s %14s %8sx\n' "$1" "$2" "$3" "$4" "$5" "$ratio"
}

server_cmd() { # server_cmd NAME: the echo server's command line
    case $1 in
    twin) echo "$build/twin run echo-server --keep-open --quiet --port 0" ;;
    libuv) echo "$build/bench/uv_echo --port 0" ;;
    esac
}

# under NAME M TOOL...: run echo server NAME under TOOL while loadgen
# sends M messages, then stop the server and wait for the tool to write
# its results. The server gets the SIGTERM: valgrind runs the program in
# its own process, strace in a child (then signalling strace itself
# would only detach it).
under() {
    name=$1; m=$2; shift 2
    rm -f "$tmp/srv.out"
    # The tool's own messages go to srv.err; the server's to srv.out.
    "$@" $(server_cmd "$name") > "$tmp/srv.out" 2> "$tmp/srv.err" &
    spid=$!
    i=0
    while ! grep -q "Serving on" "$tmp/srv.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$spid" 2>/dev/null; then
            echo "cost: $name did not start:" >&2
            cat "$tmp/srv.out" "$tmp/srv.err" >&2
            return 1
        fi
        sleep 0.05
    done
    port=$(sed -n 's/.*Serving on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/srv.out" | head -1)
    "$LG" --port "$port" --conns 10 --size 64 --messages "$m" > "$tmp/lg.out"
    target=$spid
    kids=$(cat /proc/"$spid"/task/*/children 2>/dev/null || true)
    [ "$1" = strace ] && [ -n "$kids" ] && target=$kids
    kill $target 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid=""
}

ir_of() { # ir_of NAME M: user-space instructions of the whole run
    under "$1" "$2" valgrind --tool=callgrind --callgrind-out-file=/dev/null
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/srv.err"
}

sys_of() { # sys_of NAME M: system calls of the whole run (all threads)
    under "$1" "$2" strace -f -c -o "$tmp/strace"
    awk '$NF == "total" { print $(NF - 2) + 0 }' "$tmp/strace"
}

per() { # per A B: (B - A) / (M2 - M1)
    awk -v a="$1" -v b="$2" -v d=$((M2 - M1)) 'BEGIN{printf "%.2f", (b - a) / d}'
}

if command -v valgrind >/dev/null 2>&1; then
    for s in twin libuv; do
        eval "ir_$s=$(per "$(ir_of $s $M1)" "$(ir_of $s $M2)")"
    done
    emit "echo 64B x 10: server instructions per message" \
        "$(printf '%.0f' "$ir_twin")" instr libuv "$(printf '%.0f' "$ir_libuv")"
fi
# Every message is one read and one write on both servers; what varies
# is how many connections one epoll_wait finds ready, which depends on
# timing (strace slows both). So the median of three alternating runs.
if command -v strace >/dev/null 2>&1; then
    : > "$tmp/sc_twin"; : > "$tmp/sc_libuv"
    for i in 1 2 3; do
        for s in twin libuv; do
            per "$(sys_of $s $M1)" "$(sys_of $s $M2)" >> "$tmp/sc_$s"
            echo >> "$tmp/sc_$s"
        done
    done
    sc_twin=$(sort -g "$tmp/sc_twin" | sed -n 2p)
    sc_libuv=$(sort -g "$tmp/sc_libuv" | sed -n 2p)
    emit "echo 64B x 10: server system calls per message" "$sc_twin" calls \
        libuv "$sc_libuv"
fi

# The RESP servers under callgrind: redis-benchmark's SET then GET, 10
# clients, no pipelining, N1 and N2 requests of each.
resp_ir() { # resp_ir twin|redis N: instructions of the whole run
    rm -f "$tmp/srv.out"
    rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if [ "$1" = twin ]; then
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$build/twin" run resp-server --port "$rport" > "$tmp/srv.out" 2> "$tmp/srv.err" &
    else
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            redis-server --port "$rport" --bind 127.0.0.1 --save '' \
            --appendonly no --logfile /dev/null > "$tmp/srv.out" 2> "$tmp/srv.err" &
    fi
    spid=$!
    i=0
    until redis-cli -p "$rport" ping >/dev/null 2>&1; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$spid" 2>/dev/null; then
            echo "cost: resp server $1 did not start" >&2
            cat "$tmp/srv.err" >&2
            return 1
        fi
        sleep 0.1
    done
    redis-benchmark -p "$rport" -t set,get -c 10 -n "$2" -P 1 -q > /dev/null
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid=""
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/srv.err"
}

if command -v valgrind >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1 &&
    command -v redis-benchmark >/dev/null 2>&1; then
    N1=2000; N2=12000
    for s in twin redis; do
        a=$(resp_ir $s $N1); b=$(resp_ir $s $N2)
        # two commands (SET and GET) per request count
        eval "rr_$s=$(awk -v a="$a" -v b="$b" -v d=$((2 * (N2 - N1))) 'BEGIN{printf "%.0f", (b - a) / d}')"
    done
    emit "resp: server instructions per request, SET+GET -P 1" "$rr_twin" instr \
        redis-server "$rr_redis"
fi
