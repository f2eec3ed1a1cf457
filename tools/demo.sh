#!/bin/sh
# make demo: the README's first command. A sweep of 500 seeds of the swarm
# scenario (every seed draws its own partitions, clogs, resets, crashes,
# clock jumps and loss bursts; every client must still finish with every
# byte checked), then one seed in full: the options it ran with, what each
# drawn fault did, its trace hash, and the command that replays it.
build=${1:-build}
twin=$build/twin
file=scenarios/swarm_echo.yaml

echo "\$ $twin sim $file --swarm --seeds 1..500"
"$twin" sim "$file" --swarm --seeds 1..500
status=$?
echo
echo "\$ $twin sim $file --swarm --seed 42 --quiet"
"$twin" sim "$file" --swarm --seed 42 --quiet || status=$?
echo
echo "Replay any seed with the command above (add --trace for every event,"
echo "--trace-filter node=c1 to narrow it); --dump-schedule FILE writes the"
echo "faults a seed drew as a plain scenario file; twin shrink FILE --seed N"
echo "cuts a failing seed's scenario down to what still fails."
exit $status
