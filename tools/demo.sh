#!/bin/bash
# make demo: what twin is for, in under a minute.
#
#   1. A protocol of your own (examples/kv: a small key-value store),
#      built out of the tree against the installed library, with one
#      deliberate bug (its client forgets to ask again after a reconnect).
#   2. A sweep of swarm seeds finds a seed that fails, and prints the
#      command that replays it.
#   3. The seed replays; twin shrink cuts its faults down to the one that
#      matters; the shrunk run is drawn as a timeline page and written as
#      a Wireshark capture, where the tree's twin can.
#   4. The protocol without the bug passes the same seeds.
#   5. The demo world of scenarios/demo.yaml: 500 seeds of swarm faults.
#
# Everything it writes stays in BUILD/demo/ to look at afterwards.
# Usage: tools/demo.sh BUILD   (from the top of the tree)
set -o pipefail
build=${1:-build}
top=$(pwd)
out=$top/$build/demo
twin=$top/$build/twin
seeds=1..200
rm -rf "$out"
mkdir -p "$out"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { echo "\$ $*"; "$@"; }

say "1. a protocol of your own, with a bug: examples/kv, built against the installed library"
make -s --no-print-directory BUILD="$build" install PREFIX="$out/prefix" > /dev/null || exit 4
cp -r examples/kv "$out/kv"
cd "$out/kv" || exit 4
export PKG_CONFIG_PATH="$out/prefix/lib/pkgconfig"
echo "\$ make -C $out/kv kvtwin kvtwin-buggy    # pkg-config only"
make -s kvtwin kvtwin-buggy || exit 4

say "2. a sweep finds a seed that fails"
json=$out/sweep.jsonl
echo "\$ ./kvtwin-buggy sim scenarios/kv_swarm.yaml --swarm --seeds $seeds --first-failure"
./kvtwin-buggy sim scenarios/kv_swarm.yaml --swarm --seeds $seeds --first-failure \
    --json > "$json" 2> "$out/sweep.txt"
grep -v '^{' "$out/sweep.txt"
seed=$(grep -v '"verdict": "pass"' "$json" | head -1 | sed 's/^{"seed": \([0-9]*\).*/\1/')
if [ -z "$seed" ]; then
    echo "demo: the buggy protocol passed seeds $seeds (it should not)"
    exit 1
fi

say "3. seed $seed replays, and shrinks to the fault that matters"
run ./kvtwin-buggy sim scenarios/kv_swarm.yaml --swarm --seed "$seed" --quiet | grep -E "^result|^  [a-z].*at [0-9]|hash"
run ./kvtwin-buggy shrink scenarios/kv_swarm.yaml --swarm --seed "$seed" \
    --out "$out/shrunk.yaml" | tail -4
echo "--- $out/shrunk.yaml (its timeline):"
sed -n '/^timeline:/,/^[a-z]/p' "$out/shrunk.yaml" | sed '$d'
look=""
if ./kvtwin-buggy sim --help 2>&1 | grep -q -- --timeline; then
    ./kvtwin-buggy sim "$out/shrunk.yaml" --seed "$seed" --quiet \
        --timeline "$out/seed$seed.html" > /dev/null
    look="$look\n  the run drawn:      $out/seed$seed.html (open it in a browser)"
fi
if ./kvtwin-buggy sim --help 2>&1 | grep -q -- --pcap; then
    ./kvtwin-buggy sim "$out/shrunk.yaml" --seed "$seed" --quiet \
        --pcap "$out/pcap" > /dev/null
    look="$look\n  its packets:        $out/pcap/ (wireshark or tshark -r FILE)"
fi
echo
echo "Look at it:"
printf '  the trace:          ./kvtwin-buggy sim %s --seed %s --trace%b\n' \
    "$out/shrunk.yaml" "$seed" "$look"

say "4. without the bug, the same seeds pass"
run ./kvtwin sim scenarios/kv_swarm.yaml --swarm --seeds $seeds --quiet | tail -2
status=$?
cd "$top" || exit 4

say "5. the demo world: 500 seeds of swarm faults on checked echo workloads"
file=scenarios/swarm_echo.yaml
run "$twin" sim "$file" --swarm --seeds 1..500 --quiet || status=$?
echo
echo "Replay any seed with the command a failure prints (add --trace for every"
echo "event); --dump-schedule FILE writes the faults a seed drew as a plain"
echo "scenario file; twin shrink FILE --seed N cuts a failing seed down;"
echo "twin report merges the --json lines of sharded sweeps."
exit $status
