#!/bin/sh
# make demo: the simulated demo world, one seed traced in summary and
# replayed, then a short sweep of seeds.
set -e
build=${1:-build}
"$build/twin" demo --seed 42 --seconds 30
echo
"$build/twin" demo --seeds 1..20 --seconds 30
