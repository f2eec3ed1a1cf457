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
#    different length; the difference removes start-up cost.
if command -v valgrind >/dev/null 2>&1; then
    ir() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            $B/echo_bench --backend sim --messages "$1" --size 64 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    i1=$(ir 2000); i2=$(ir 12000)
    per=$(awk -v a="$i1" -v b="$i2" 'BEGIN{printf "%.0f", (b-a)/10000}')
    emit "sim instructions per echoed 64B message" "$per" instr
fi

# 3. Memory of 100,000 concurrent simulated connections.
m=$($B/sim_conns --connections 100000)
rss=$(field "$m" rss_after_kib)
emit "sim 100k connections: resident memory" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')" MiB
emit "sim memory per connection (both ends)" "$(field "$m" bytes_per_connection)" bytes

echo "JSON lines: $out"
