#!/bin/sh
# Run every test binary; keep going past failures, log to BUILD/test-plain.log,
# exit non-zero if any test failed or a sanitizer spoke.
# Usage: run-tests.sh BUILD TEST...
#
# Each binary runs in a process group of its own under a time limit
# (TWIN_TEST_TIMEOUT seconds, default 600): a test that hangs is killed
# with everything it started, counted as failed, and the run goes on.
build=$1; shift
log=$build/test-plain.log
limit=${TWIN_TEST_TIMEOUT:-600}
: > "$log"
fail=0
# cmocka writes its summary to stderr; keep every line in order on stdout.
export CMOCKA_MESSAGE_OUTPUT=stdout
export TWIN_BUILD="$build"
for t in "$@"; do
    echo "== $t" | tee -a "$log"
    # timeout runs it in a process group of its own and signals the whole
    # group (--kill-after: KILL for one that ignores TERM).
    timeout --kill-after=10 "$limit" "$t" > "$log.one" 2>&1
    rc=$?
    cat "$log.one" | tee -a "$log"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "[  ERROR   ] $t: still running after $limit s, killed" | tee -a "$log"
        fail=1
    elif [ $rc -ne 0 ]; then
        echo "== $t exited with status $rc" | tee -a "$log"
        fail=1
    fi
done
rm -f "$log.one"
grep -qE '^\[  FAILED  \]|^\[  ERROR   \]' "$log" && fail=1
grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" && fail=1
exit $fail
