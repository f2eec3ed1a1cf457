#!/bin/bash
# The out-of-tree example as a user builds it: twin installed into a
# temporary prefix, examples/kv copied out of the tree and built with
# nothing but pkg-config, then its `make check` (unit tests with the
# scripted peer, seed sweeps through its own tw_main binary with --json
# and --shard, a shrink of its buggy variant, the same sweep through the
# installed `twin sim --load`), a short fuzz run and its coverage; and the
# C examples of README.md, built the same way.
# Usage: tests/prog/examples.sh BUILD   (run from the top; logs the unit
# tests' cmocka lines to BUILD/test-examples.log)
set -eo pipefail
build=${1:-build}
top=$(pwd)
tmp=$(mktemp -d /tmp/twin-examples.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
make -s --no-print-directory BUILD="$build" install PREFIX="$tmp/prefix" > /dev/null
cp -r examples/kv "$tmp/kv"
cd "$tmp/kv"
# Nothing of the tree, and no loader path: pkg-config and the rpath only.
unset LD_LIBRARY_PATH CPATH LIBRARY_PATH
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# The README's C examples as a user copies them, built with examples/kv's
# warnings (-Wall -Wextra -Werror); the cmocka one runs. A block that
# includes a header of its own ("my_parser.h") is a sketch: skipped.
mkdir "$tmp/readme"
awk -v d="$tmp/readme" '/^```c$/ { n++; f = sprintf("%s/snippet%d.c", d, n); on = 1; next }
     /^```$/ { on = 0; next }
     on { print > f }' "$top/README.md"
for f in "$tmp"/readme/snippet*.c; do
    grep -q '#include "' "$f" && continue
    libs=$(pkg-config --libs twin)
    grep -q 'cmocka.h' "$f" && libs="$libs -lcmocka"
    if ! cc -std=gnu11 -Wall -Wextra -Werror $(pkg-config --cflags twin) \
            -o "${f%.c}" "$f" $libs; then
        echo "examples: README.md's C block $(basename "$f" .c) does not build"
        exit 1
    fi
    if grep -q 'cmocka.h' "$f" && ! out=$("${f%.c}" 2>&1); then
        echo "$out"
        echo "examples: README.md's C block $(basename "$f" .c) fails"
        exit 1
    fi
done
make -s all
# The programs find the installed library by themselves.
# (ldd's output read whole first: a grep -q that stops early would leave
# ldd writing to a closed pipe, which pipefail counts as a failure)
libs=$(ldd ./kvtwin)
case "$libs" in
*"libtwin.so.0 => $tmp/prefix/lib/libtwin.so.0 "*) ;;
*) echo "examples: kvtwin does not load libtwin.so.0 from the prefix:"
   echo "$libs"; exit 1 ;;
esac
# --help: the app's usage once, on stdout, and success.
help=$(./kvtwin run kv-server --help 2>&1) || { echo "examples: kv-server --help failed"; exit 1; }
case "$help" in
"usage: kv-server [OPTIONS]"*"usage:"*|"") echo "examples: kv-server --help said:"
    echo "$help"; exit 1 ;;
"usage: kv-server [OPTIONS]"*) ;;
*) echo "examples: kv-server --help said:"; echo "$help"; exit 1 ;;
esac
CMOCKA_MESSAGE_OUTPUT=stdout ./test_kv | tee "$top/$build/test-examples.log"
make -s check SEEDS=1..100 2>&1 | grep -v '^\[' | grep -v '^$'
if command -v clang > /dev/null; then
    make -s fuzz-smoke CC=cc
fi
make -s coverage SEEDS=1..50
# A failure found through --load replays with the same --load: the buggy
# variant's apps, loaded by the installed command, in its replay command.
cc -std=gnu11 -O2 -DKV_BUGGY -shared -fPIC $(pkg-config --cflags twin) -o kv-buggy.so \
    plugin.c kv.c kv_app.c $(pkg-config --libs twin)
twin="$tmp/prefix/bin/twin"
replay=$("$twin" sim --load ./kv-buggy.so scenarios/kv_swarm.yaml --swarm --seeds 1..100 \
             --json 2>/dev/null | grep -v '"verdict": "pass"' | head -1 |
         sed 's/.*"replay": "\([^"]*\)".*/\1/') || true
case "$replay" in
"$twin sim --load ./kv-buggy.so scenarios/kv_swarm.yaml --seed "*" --swarm") ;;
*) echo "examples: the replay command of a --load sweep lost its --load: '$replay'"
   exit 1 ;;
esac
$replay > /dev/null && { echo "examples: '$replay' passes"; exit 1; }
echo "examples: a --load failure replays: $replay"
echo "examples: kv built against $tmp/prefix with pkg-config only, checked"
