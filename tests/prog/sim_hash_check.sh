#!/bin/sh
# The simulator's determinism across builds: the demo world's trace hashes
# for the same seeds must be identical from an -O0 and an -O2 build.
# Usage: tests/prog/sim_hash_check.sh [CC] [SEEDS]   (run from the top)
set -e
cc=${1:-cc}
n=${2:-50}
for opt in O0 O2; do
    b=build-sim-$opt
    make -s --no-print-directory BUILD=$b CC="$cc" OPT="-$opt -g" $b/libtwin.a
    $cc -std=gnu11 -$opt -g -Wall -Wextra -Werror -Iinclude -I. -pthread \
        -o $b/sim_hash tests/prog/sim_hash.c $b/libtwin.a -pthread
    $b/sim_hash "$n" 3 > $b/sim_hash.txt
done
if cmp -s build-sim-O0/sim_hash.txt build-sim-O2/sim_hash.txt; then
    echo "sim-hash-check: -O0 and -O2 ($cc) agree on $n seeds"
else
    echo "sim-hash-check: -O0 and -O2 builds disagree:"
    diff build-sim-O0/sim_hash.txt build-sim-O2/sim_hash.txt | head
    exit 1
fi
