#!/bin/sh
# bench/run.sh BUILD - twin's benchmarks. Prints a table for people and
# writes the same figures as JSON lines to BUILD/bench.jsonl:
#   {"bench": NAME, "value": V, "unit": U[, "peer": P, "peer_value": PV, "ratio": R]}
# Not part of `make test`: figures depend on the machine.
set -e
build=${1:-build}
out=$build/bench.jsonl
: > "$out"
B=$build/bench

field() { # field JSON KEY
    printf '%s' "$1" | sed -n "s/.*\"$2\": \\([0-9.e+-]*\\).*/\\1/p"
}

emit() { # emit NAME VALUE UNIT [PEER PEER_VALUE RATIO]
    if [ -n "$4" ]; then
        printf '{"bench": "%s", "value": %s, "unit": "%s", "peer": "%s", "peer_value": %s, "ratio": %s}\n' \
            "$1" "$2" "$3" "$4" "$5" "$6" >> "$out"
        printf '%-44s %14s %-10s %-14s %14s %8sx\n' "$1" "$2" "$3" "$4" "$5" "$6"
    else
        printf '{"bench": "%s", "value": %s, "unit": "%s"}\n' "$1" "$2" "$3" >> "$out"
        printf '%-44s %14s %-10s\n' "$1" "$2" "$3"
    fi
}

N=100000
printf '%-44s %14s %-10s %-14s %14s %9s\n' bench twin unit peer "peer value" ratio

# 1. The same 100,000-message echo exchange (64 B) on the simulator and on
#    real loopback, wall time of each, three runs each, median.
median3() { sort -g | sed -n 2p; }
sim_runs=""; real_runs=""; ev_runs=""
for i in 1 2 3; do
    s=$($B/echo_bench --backend sim --messages $N --size 64)
    r=$($B/echo_bench --backend real --messages $N --size 64)
    sim_runs="$sim_runs $(field "$s" wall_s)"
    real_runs="$real_runs $(field "$r" wall_s)"
    ev_runs="$ev_runs $(field "$s" sim_events_per_s)"
done
sim_wall=$(echo $sim_runs | tr ' ' '\n' | median3)
real_wall=$(echo $real_runs | tr ' ' '\n' | median3)
ev=$(echo $ev_runs | tr ' ' '\n' | median3)
ratio=$(awk -v a="$real_wall" -v b="$sim_wall" 'BEGIN{printf "%.1f", a/b}')
emit "echo 100k x 64B: wall time, sim vs loopback" "$sim_wall" s "real-loopback" "$real_wall" "$ratio"
emit "sim events per wall second" "$(printf '%.0f' "$ev")" events/s

# 2. Instructions per echoed message on the simulator (callgrind counts
#    instructions, a stable figure on a noisy machine). Two runs of
#    different length; the difference removes start-up cost. Once with
#    the default world (a quarter of deliveries cut short, each piece a
#    data_received of its own and, at the echo server, a write of its
#    own) and once with whole deliveries, as a real socket mostly reads.
if command -v valgrind >/dev/null 2>&1; then
    ir() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $B/echo_bench --backend sim --messages "$@" --size 64 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    i1=$(ir 2000); i2=$(ir 12000)
    per=$(awk -v a="$i1" -v b="$i2" 'BEGIN{printf "%.0f", (b-a)/10000}')
    emit "sim instructions per echoed 64B message" "$per" instr
    stream_per=$per
    i1=$(ir 2000 --chunk-split -1); i2=$(ir 12000 --chunk-split -1)
    per=$(awk -v a="$i1" -v b="$i2" 'BEGIN{printf "%.0f", (b-a)/10000}')
    emit "sim instructions per message, no cut deliveries" "$per" instr
    # The same for datagrams: UDP echoes (64 B, 32 in flight) through
    # twin's UDP echo server on the simulator's default world, counted
    # the same way; the stream figure above is its peer, and the ratio
    # is what a datagram echo costs in stream echoes.
    irdg() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $B/dgram_bench --backend sim --datagrams "$1" --size 64 --window 32 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    i1=$(irdg 2000); i2=$(irdg 12000)
    dper=$(awk -v a="$i1" -v b="$i2" 'BEGIN{printf "%.0f", (b-a)/10000}')
    emit "sim instructions per UDP echo (64B, 32 in flight)" "$dper" instr \
        "stream-echo" "$stream_per" \
        "$(awk -v a="$dper" -v b="$stream_per" 'BEGIN{printf "%.2f", a/b}')"
fi

# 3. 100,000 concurrent simulated connections, each echoing a request
#    every virtual second for 10 s: peak memory and events per wall second.
m=$($B/sim_bench 100000 10)
# kv TEXT KEY: the value of KEY=V in space-separated TEXT (keys may hold '/')
kv() { printf '%s' "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { sub(/MiB$/, "", $2); print $2 }'; }
emit "sim 100k live connections: peak resident memory" "$(kv "$m" maxrss)" MiB
emit "sim 100k live connections: events per wall second" "$(kv "$m" events/s)" events/s

# 4. Datagrams per second: 100,000 UDP echoes (64 B, 32 in flight) on the
#    simulator and on real loopback, three runs each, median. Each echo
#    moves two datagrams.
dsim=""; dreal=""
for i in 1 2 3; do
    dsim="$dsim $(field "$($B/dgram_bench --backend sim --datagrams $N)" dgrams_per_s)"
    dreal="$dreal $(field "$($B/dgram_bench --backend real --datagrams $N)" dgrams_per_s)"
done
dsim=$(echo $dsim | tr ' ' '\n' | median3)
dreal=$(echo $dreal | tr ' ' '\n' | median3)
emit "udp echo 100k x 64B: datagrams per second (sim)" "$(printf '%.0f' "$dsim")" dgrams/s
emit "udp echo 100k x 64B: datagrams per second (real)" "$(printf '%.0f' "$dreal")" dgrams/s

# 4b. The simulator against ns-3 (bench/ns3_udp_echo.cc, built when
#    Debian's libns3-dev is installed): the same 100,000 UDP echoes (64 B,
#    32 in flight, two nodes), wall time of each, three runs each, median.
#    ns-3 simulates the full UDP/IPv4 stack of both nodes, its queues and
#    a point-to-point link's framing and serialisation for every datagram;
#    twin's simulator models the datagram (its fate: loss, refusal,
#    duplication, reordering, corruption, latency; the path's order,
#    socket buffers, the trace hash) and delivers it to the protocol.
#    Ratio: how many times twin's wall time ns-3 takes. Then instructions
#    per echo of each (callgrind, two runs, the difference).
if [ -x "$B/ns3_udp_echo" ]; then
    nsw=""; tww=""
    for i in 1 2 3; do
        nsw="$nsw $(field "$($B/ns3_udp_echo --datagrams $N --size 64 --window 32)" wall_s)"
        tww="$tww $(field "$($B/dgram_bench --backend sim --datagrams $N --size 64 --window 32)" wall_s)"
    done
    nsw=$(echo $nsw | tr ' ' '\n' | median3)
    tww=$(echo $tww | tr ' ' '\n' | median3)
    emit "udp echo 100k x 64B, 32 in flight: wall time, sim (datagram model) vs ns-3 (UDP/IPv4/PPP stack, queues)" \
        "$tww" s "ns-3" "$nsw" "$(awk -v a="$nsw" -v b="$tww" 'BEGIN{printf "%.1f", a/b}')"
    if command -v valgrind >/dev/null 2>&1; then
        irns() {
            valgrind --tool=callgrind --callgrind-out-file=/dev/null \
                $B/ns3_udp_echo --datagrams "$1" --size 64 --window 32 2>&1 >/dev/null |
                sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
        }
        n1=2000; n2=12000
        [ "${BENCH_QUICK:-0}" != 0 ] && { n1=1000; n2=3000; }
        i1=$(irns $n1); i2=$(irns $n2)
        nsper=$(awk -v a="$i1" -v b="$i2" -v d=$((n2 - n1)) 'BEGIN{printf "%.0f", (b-a)/d}')
        emit "instructions per UDP echo (64B, 32 in flight): twin sim vs ns-3" \
            "${dper:-0}" instr "ns-3" "$nsper" \
            "$(awk -v a="$nsper" -v b="${dper:-0}" 'BEGIN{printf "%.1f", (b > 0 ? a / b : 0)}')"
    fi
else
    echo "ns-3 rows skipped: ns3 and libns3-dev are in BENCH_PKGS"
fi

# 5. Scenario seeds per second, one core: a sweep of the reference
#    scenario (two clients echoing through a server across a partition,
#    an isolation and a heal, then the quiet phase), three sweeps of 300
#    seeds, median.
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"
seeds_rate() {
    $pin "$build/twin" sim scenarios/partition_heal.yaml --seeds 1..300 --quiet |
        sed -n 's/.*(\([0-9.]*\) seeds\/s).*/\1/p'
}
sr=$( (seeds_rate; seeds_rate; seeds_rate) | median3)
emit "scenario sweep: seeds per second (partition_heal, 1 core)" "$sr" seeds/s

# 5b. Every shipped scenario: seeds per second, virtual seconds per wall
#     second, and instructions per seed of the app-bound ones
#     (bench/scenarios.sh).
./bench/scenarios.sh "$build" "$out"

# 6. The real backend against its peers: twin's echo app, a libuv echo
#    server and Python asyncio serve the same load generator, pinned to
#    one core each (bench/peers.sh says which rows and how; BENCH_QUICK=1
#    runs a subset).
./bench/peers.sh "$build" "$out"

# 6b. The same servers counted rather than timed: user-space instructions
#     (callgrind) and system calls (strace) per echoed message, twin's
#     echo server against the libuv one, and instructions per request of
#     the RESP server against redis-server (bench/cost.sh; under a minute).
./bench/cost.sh "$build" "$out"

# 7. The cost of TLS on twin: the same windowed echo (8 messages in
#    flight, 64 MiB back, both ends on one loop, real loopback) over plain
#    TCP and over TLS (twin's test certificate), 1 KiB and 16 KiB
#    messages, three runs each, median. Ratio: how many times faster the
#    plain exchange is.
for size in 1024 16384; do
    tcp=""; tls=""
    for i in 1 2 3; do
        tcp="$tcp $(field "$($B/tls_bench --size $size --bytes 67108864)" mib_per_s)"
        tls="$tls $(field "$($B/tls_bench --tls --size $size --bytes 67108864)" mib_per_s)"
    done
    tcp=$(echo $tcp | tr ' ' '\n' | median3)
    tls=$(echo $tls | tr ' ' '\n' | median3)
    ratio=$(awk -v a="$tcp" -v b="$tls" 'BEGIN{printf "%.2f", a/b}')
    emit "echo over TLS vs plain TCP, $((size / 1024)) KiB messages" "$tls" MiB/s "plain-tcp" "$tcp" "$ratio"
done

# 8. A RESP key-value server against Redis: redis-benchmark (SET and
#    GET, 50 clients, without and with -P 16 pipelining; INCR and MSET of
#    ten keys with -P 16) against twin's
#    resp-server and Debian's redis-server (no persistence), both pinned
#    to the same core, the benchmark on the other. Runs alternate between
#    the two servers, five each, median; -n is sized for a few seconds a
#    run. Ratio: twin's requests per second over redis-server's. The
#    machine is shared, so each row also gives the servers' own CPU time
#    per request (from /proc/PID/stat), which noise disturbs less; its
#    ratio is redis-server's over twin's (above 1: twin spends less).
#    The benchmark's single thread is the bottleneck here, and part of
#    its cost is waking a server that fell asleep between requests (on
#    a virtual machine an inter-processor interrupt, ~10 us of the
#    waker's CPU). So twin runs with --busy-poll (BENCH_BUSY_POLL, default
#    10us; 0: off): its loop polls that long before sleeping, trading
#    that much of its own CPU time per idle gap for fewer wake-ups;
#    redis-server has no such option. The CPU rows show the price, and
#    a twin server without the option runs in the same alternation, so
#    its rows ("no busy-poll") are printed too.
if command -v redis-benchmark >/dev/null 2>&1 && command -v redis-server >/dev/null 2>&1; then
    rcpu=${BENCH_SERVER_CPU:-0}; bcpu=${BENCH_CLIENT_CPU:-1}
    busy=${BENCH_BUSY_POLL:-10us}
    case $busy in 0|0us|'') busy_opt= ;; *) busy_opt="--busy-poll $busy" ;; esac
    reps=5; n1=200000; n16=2500000
    [ "${BENCH_QUICK:-0}" != 0 ] && { reps=1; n1=50000; n16=500000; }
    rtmp=$(mktemp -d)
    # taskset execs the server, so $! is the server's own pid.
    taskset -c "$rcpu" "$build/twin" run $busy_opt resp-server --port 0 > "$rtmp/twin.out" 2>&1 &
    tpid=$!
    ppid_=""; pport=""
    if [ -n "$busy_opt" ]; then
        taskset -c "$rcpu" "$build/twin" run resp-server --port 0 > "$rtmp/plain.out" 2>&1 &
        ppid_=$!
    fi
    rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    taskset -c "$rcpu" redis-server --port "$rport" --bind 127.0.0.1 --save '' \
        --appendonly no --logfile "$rtmp/redis.log" &
    rpid=$!
    tport=""
    for i in $(seq 100); do
        tport=$(sed -n 's/^Serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$rtmp/twin.out" | head -1)
        [ -n "$ppid_" ] &&
            pport=$(sed -n 's/^Serving on 127.0.0.1:\([0-9]*\).*/\1/p' "$rtmp/plain.out" | head -1)
        [ -n "$tport" ] && { [ -z "$ppid_" ] || [ -n "$pport" ]; } &&
            redis-cli -p "$rport" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
    hz=$(getconf CLK_TCK)
    run_one() { # run_one PID PORT TEST N PIPELINE: prints "rps cpu_us_per_request"
        T=$(echo "$3" | tr a-z A-Z)
        t0=$(ticks "$1")
        r=$(taskset -c "$bcpu" redis-benchmark -p "$2" -t "$3" -c 50 -n "$4" -P "$5" -q --csv |
            sed -n "s/^\"$T[^\"]*\",\"\([0-9.]*\)\".*/\1/p")
        t1=$(ticks "$1")
        awk -v r="$r" -v d=$((t1 - t0)) -v hz="$hz" -v n="$4" \
            'BEGIN{printf "%s %.3f\n", r, d * 1e6 / hz / n}'
    }
    for P in 1 16; do
        n=$n1; [ "$P" = 16 ] && n=$n16
        tests="set get"; [ "$P" = 16 ] && tests="set get incr mset"
        for t in $tests; do
            : > "$rtmp/tw"; : > "$rtmp/rd"; : > "$rtmp/pl"
            for i in $(seq $reps); do
                run_one "$tpid" "$tport" $t $n $P >> "$rtmp/tw"
                run_one "$rpid" "$rport" $t $n $P >> "$rtmp/rd"
                [ -n "$ppid_" ] && run_one "$ppid_" "$pport" $t $n $P >> "$rtmp/pl"
            done
            rd=$(cut -d' ' -f1 "$rtmp/rd" | median); rc=$(cut -d' ' -f2 "$rtmp/rd" | median)
            T=$(echo $t | tr a-z A-Z)
            for v in tw pl; do
                [ -s "$rtmp/$v" ] || continue
                tw=$(cut -d' ' -f1 "$rtmp/$v" | median); tc=$(cut -d' ' -f2 "$rtmp/$v" | median)
                how=""; [ "$v" = pl ] && how=", no busy-poll"
                emit "resp: $T -P $P, 50 clients$how" "$(printf '%.0f' "$tw")" \
                    req/s "redis-server" "$(printf '%.0f' "$rd")" \
                    "$(awk -v a="$tw" -v b="$rd" 'BEGIN{printf "%.2f", a/b}')"
                emit "resp: CPU/request, $T -P $P$how" "$tc" us "redis-server" "$rc" \
                    "$(awk -v a="$tc" -v b="$rc" 'BEGIN{printf "%.2f", (a > 0 ? b / a : 0)}')"
            done
        done
    done
    kill "$tpid" "$rpid" $ppid_ 2>/dev/null || true
    wait "$tpid" "$rpid" $ppid_ 2>/dev/null || true
    rm -rf "$rtmp"
else
    echo "resp rows skipped: redis-benchmark and redis-server are in BENCH_PKGS"
fi

# 9. The linearizability checker (twin/history.h) on long histories of
#    puts and gets of one key (bench/history_bench.c: every op overlaps
#    the others in flight; --lose makes one read stale, so the history
#    is not linearizable and the checker must search before it says so).
#    Wall time of the check alone, median of three. No peer runs here
#    (Porcupine and Elle are not Debian packages); the figures are the
#    checker's own. A check that does not reach its verdict (1:
#    linearizable, 0: not; -7, past the search's bounds, is none) gives
#    no time: the row says so instead.
hist() { # hist NAME VERDICT ARGS...
    name=$1 want=$2; shift 2
    runs=""
    for i in 1 2 3; do
        j=$($B/history_bench "$@") || true
        got=$(field "$j" verdict)
        if [ "$got" != "$want" ]; then
            echo "$name: verdict ${got:-none}, not $want: no time"
            return
        fi
        runs="$runs $(field "$j" check_s)"
    done
    emit "$name" "$(echo $runs | tr ' ' '\n' | median3)" s
}
hist "history check: 1 key x 5000 ops, 4 in flight" 1 --ops 5000 --processes 4
hist "history check: the same, one stale read (violation)" 0 --ops 5000 --processes 4 --lose
hist "history check: 100 keys x 1000 ops, 4 in flight" 1 --keys 100 --ops 1000 --processes 4
if [ "${BENCH_QUICK:-0}" = 0 ]; then
    hist "history check: 1 key x 10000 ops, 8 in flight" 1 --ops 10000 --processes 8
    hist "history check: 1 key x 40000 ops, 4 in flight" 1 --ops 40000 --processes 4
    hist "history check: 1 key x 20000 ops, 8 in flight" 1 --ops 20000 --processes 8
fi

# 10. What recording costs a server (twin run --record): instructions per
#     request under callgrind and requests per second, with and without,
#     on the echo and RESP servers (bench/record_cost.sh).
. ./bench/record_cost.sh "$build"

echo "JSON lines: $out"
