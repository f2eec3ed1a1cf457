#!/bin/sh
# The README's C examples are what a user copies first: each block that
# is a whole program (one that includes no header of the user's own, as
# the fuzzing example's "my_parser.h") compiles against include/ with the
# warnings the examples' Makefiles turn into errors.
# Usage: tools/check-readme.sh [CC]
cc=${1:-cc}
tmp=$(mktemp -d /tmp/twin-readme.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
awk -v dir="$tmp" '
    /^```c$/ { n++; f = sprintf("%s/block%d.c", dir, n); inblock = 1; next }
    /^```/ && inblock { inblock = 0; close(f); next }
    inblock { print > f }
' README.md
status=0
count=0
for f in "$tmp"/block*.c; do
    [ -e "$f" ] || continue
    grep -q '#include "' "$f" && continue
    count=$((count + 1))
    if ! out=$($cc -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -Iinclude "$f" 2>&1); then
        echo "check-readme: README.md's C example $(basename "$f" .c | sed 's/block/#/') does not compile cleanly:"
        echo "$out"
        status=1
    fi
done
[ $status -eq 0 ] && echo "check-readme: README.md's $count whole C examples compile with -Wall -Wextra -Werror"
exit $status
