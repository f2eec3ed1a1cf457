#!/bin/sh
# Run every test binary; keep going past failures, log to BUILD/test-plain.log,
# exit non-zero if any test failed or a sanitizer spoke.
# Usage: run-tests.sh BUILD TEST...
build=$1; shift
log=$build/test-plain.log
: > "$log"
fail=0
# cmocka writes its summary to stderr; keep every line in order on stdout.
export CMOCKA_MESSAGE_OUTPUT=stdout
export TWIN_BUILD="$build"
for t in "$@"; do
    echo "== $t" | tee -a "$log"
    "$t" > "$log.one" 2>&1
    rc=$?
    cat "$log.one" | tee -a "$log"
    if [ $rc -ne 0 ]; then
        echo "== $t exited with status $rc" | tee -a "$log"
        fail=1
    fi
done
rm -f "$log.one"
grep -qE '^\[  FAILED  \]|^\[  ERROR   \]' "$log" && fail=1
grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" && fail=1
exit $fail
