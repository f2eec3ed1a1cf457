#!/bin/sh
# The trace hash of every shipped scenario for seeds 1..N: plainly, and
# with --swarm where the file has a swarm section. One line per run:
#     FILE MODE SEED HASH
# A change of structure must keep every line; tests/data/scenario-hashes.txt
# keeps the list (`make hashes` checks the tree against it,
# `make hashes-update` writes it anew after a change of behaviour).
# Usage: tools/scenario-hashes.sh TWIN [SEEDS]   (run from the top)
twin=$1
n=${2:-200}
for f in scenarios/*.yaml; do
    modes=plain
    grep -q '^swarm:' "$f" && modes="plain swarm"
    for m in $modes; do
        flag=
        [ "$m" = swarm ] && flag=--swarm
        # every verdict is fine here: the hash is what is compared
        "$twin" sim "$f" --seeds "1..$n" $flag --json 2>/dev/null |
            sed -n "s|^{\"seed\": \([0-9]*\), \"verdict\": \"[a-z]*\", \"exit\": [0-9]*, \"hash\": \"\([0-9a-f]*\)\".*|$f $m \1 \2|p"
    done
done
