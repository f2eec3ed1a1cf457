#!/bin/sh
# Sum cmocka's per-binary results over the given logs into closing lines.
passed=0; failed=0; skipped=0
for log in "$@"; do
    [ -f "$log" ] || continue
    p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    s=$(grep -E '^\[  SKIPPED \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    passed=$((passed+p)); failed=$((failed+f)); skipped=$((skipped+s))
done
echo "[==========] twin: all suites, plain and ASan+UBSan"
echo "[  PASSED  ] $passed test(s)."
[ "$failed" -gt 0 ] && echo "[  FAILED  ] $failed test(s)."
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
