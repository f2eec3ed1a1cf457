#!/bin/sh
# The simulator's determinism across builds: a shipped scenario's trace
# hashes (scenarios/demo.yaml under --swarm, through the library's
# scenario runner: tests/prog/sim_hash.c) for the same seeds must be
# identical from an -O0 and an -O2 build.
# Usage: tests/prog/sim_hash_check.sh [CC] [SEEDS] [BUILD]   (run from the
# top; the two builds go to BUILD-O0 and BUILD-O2, default build-sim-O*)
set -e
cc=${1:-cc}
n=${2:-50}
prefix=${3:-build-sim}
for opt in O0 O2; do
    b=$prefix-$opt
    make -s --no-print-directory BUILD=$b CC="$cc" OPT="-$opt -g" $b/libtwin.a
    $cc -std=gnu11 -$opt -g -Wall -Wextra -Werror -Iinclude -I. -pthread \
        -o $b/sim_hash tests/prog/sim_hash.c $b/libtwin.a -pthread -lyaml -lssl -lcrypto
    $b/sim_hash "$n" > $b/sim_hash.txt
done
if cmp -s $prefix-O0/sim_hash.txt $prefix-O2/sim_hash.txt; then
    echo "sim-hash-check: -O0 and -O2 ($cc) agree on $n seeds of scenarios/demo.yaml"
else
    echo "sim-hash-check: -O0 and -O2 builds disagree:"
    diff $prefix-O0/sim_hash.txt $prefix-O2/sim_hash.txt | head
    exit 1
fi
