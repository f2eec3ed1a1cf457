#!/bin/sh
# bench/scenarios.sh BUILD OUT - every shipped scenario (scenarios/*.yaml)
# swept on one core: seeds per second and virtual seconds per wall second
# (the simulated time of all its seeds over the wall time they took),
# appended to OUT as bench/run.sh's JSON lines. Then, for the scenarios
# whose sweeps the apps bound, instructions per seed (callgrind, the
# difference of two sweeps of different length, divided by the seeds
# between: start-up cancels out), the figure a noisy machine leaves alone.
#
#   BENCH_QUICK=1   fewer seeds (the whole set in well under a minute)
set -e
build=${1:-build}
out=${2:-$build/bench.jsonl}
seeds=300
[ "${BENCH_QUICK:-0}" != 0 ] && seeds=60
pin=""
command -v taskset >/dev/null 2>&1 && pin="taskset -c 0"

emit() { # emit NAME VALUE UNIT
    printf '{"bench": "%s", "value": %s, "unit": "%s"}\n' "$1" "$2" "$3" >> "$out"
    printf '%-44s %14s %-10s\n' "$1" "$2" "$3"
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for f in scenarios/*.yaml; do
    name=$(basename "$f" .yaml)
    # The JSON lines give each seed's virtual time; the summary line (on
    # stderr) the sweep's seeds per second.
    rate=$($pin "$build/twin" sim "$f" --seeds "1..$seeds" --json 2>&1 >"$tmp" |
        sed -n 's/.*(\([0-9.]*\) seeds\/s).*/\1/p')
    accel=$(awk -v rate="$rate" -v n="$seeds" '
        match($0, /"virtual_ns": [0-9]+/) { v += substr($0, RSTART + 14, RLENGTH - 14) }
        END { if (n > 0 && rate > 0) printf "%.0f", v / 1e9 / (n / rate); else print 0 }' "$tmp")
    emit "scenario sweep: seeds per second ($name)" "${rate:-0}" seeds/s
    emit "scenario sweep: virtual s per wall s ($name)" "$accel" x
done

if command -v valgrind >/dev/null 2>&1; then
    ir() { # ir FILE SEEDS: instructions of a sweep
        valgrind --tool=callgrind --callgrind-out-file=/dev/null \
            "$build/twin" sim "$1" --seeds "1..$2" --quiet 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    for name in slow_reader resp-slow-reader tls_echo; do
        a=$(ir "scenarios/$name.yaml" 1); b=$(ir "scenarios/$name.yaml" 4)
        emit "scenario instructions per seed ($name)" \
            "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.0f", (b - a) / 3}')" instr
    done
fi
