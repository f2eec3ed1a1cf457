#!/bin/sh
# Every shipped scenario's trace hash for seeds 1..200 (plain, and --swarm
# where the file has a swarm section) must be the one kept in
# tests/data/scenario-hashes.txt: a change of structure keeps behaviour
# to the hash. A change of behaviour rewrites the list on purpose
# (`make hashes-update`) and says why in its commit.
# Usage: tests/prog/scenario_hash_check.sh TWIN   (run from the top)
twin=${1:-build/twin}
want=tests/data/scenario-hashes.txt
got=$(mktemp)
trap 'rm -f "$got"' EXIT
./tools/scenario-hashes.sh "$twin" 200 > "$got"
if cmp -s "$want" "$got"; then
    echo "scenario-hash-check: $(wc -l < "$want") runs of $(ls scenarios/*.yaml | wc -l) scenarios keep their trace hashes"
    exit 0
fi
echo "scenario-hash-check: trace hashes differ from $want (< kept, > now):"
diff "$want" "$got" | head -20
echo "($(diff "$want" "$got" | grep -c '^<') of $(wc -l < "$want") runs differ)"
exit 1
