#!/bin/sh
# make coverage: build twin with gcov (gcc -O0, so lines map one to one),
# run the cmocka suite and every fuzz target over its corpus and
# regressions (fuzz/standalone/main.c stands in for libFuzzer), then write
# an lcov HTML report and print one summary line: line and branch coverage
# of every folder of the library (core/, tls/, real/, sim/ with sim/net/,
# kit/, proto/, apps/, scenario/, cli/). Each stage says when it starts,
# and the suite's tests are counted as they pass, so the minutes it takes
# are not silent. Exits 1 if line coverage of core/ or sim/ is below
# COVERAGE_MIN percent (85).
# Usage: tools/coverage.sh [BUILD]   (from the top; BUILD defaults to build-cov)
cov=${1:-build-cov}
min=${COVERAGE_MIN:-85}
top=$(pwd)

stage() { echo "coverage: $* ($(date +%H:%M:%S))"; }

# --coverage is in OPT, which every compile and link line has.
stage "building with gcov in $cov"
make --no-print-directory -s BUILD="$cov" CC=gcc OPT="-O0 -g --coverage" \
    FUZZ_MAIN=fuzz/standalone/main.c all fuzz-bins >/dev/null || { echo "coverage: build failed" >&2; exit 2; }
# Counters add up across runs: start from zero.
find "$cov/obj" "$cov/fuzz" -name '*.gcda' -delete 2>/dev/null

# The suite (its own pass/fail is `make test`'s business: a failing test
# still tells what it covered).
stage "running the test suite under gcov (log: $cov/coverage-tests.log)"
make --no-print-directory BUILD="$cov" CC=gcc OPT="-O0 -g --coverage" \
    test-plain >"$cov/coverage-tests.log" 2>&1 &
suite=$!
# Progress: each test binary the runner starts, from its log.
while kill -0 "$suite" 2>/dev/null; do
    sleep 15
    done_bins=$(grep -c '^== ' "$cov/coverage-tests.log" 2>/dev/null)
    passed=$(grep -h '^\[  PASSED  \]' "$cov/coverage-tests.log" 2>/dev/null |
        awk '{n += $4} END {print n + 0}')
    echo "coverage:   $done_bins test programs started, $passed tests passed so far"
done
if ! wait "$suite"; then
    echo "coverage: some tests failed under gcov (log: $cov/coverage-tests.log)"
fi
stage "replaying the fuzz corpora"
for f in fuzz/*.c; do
    t=$(basename "$f" .c)
    dirs=""
    for d in fuzz/corpus/$t fuzz/regressions/$t; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    [ -n "$dirs" ] && "$cov/fuzz/$t" $dirs >>"$cov/coverage-fuzz.log" 2>&1
done

info=$cov/coverage.info
stage "collecting the counters (lcov)"
lcov --quiet --rc lcov_branch_coverage=1 --capture --directory "$cov" \
    --output-file "$info.all" >/dev/null 2>"$cov/lcov.log" ||
    { echo "coverage: lcov failed (log: $cov/lcov.log)" >&2; exit 2; }
lcov --quiet --rc lcov_branch_coverage=1 --extract "$info.all" \
    "$top/core/*" "$top/tls/*" "$top/real/*" "$top/sim/*" "$top/kit/*" "$top/proto/*" \
    "$top/apps/*" "$top/scenario/*" "$top/cli/*" --output-file "$info" >/dev/null 2>>"$cov/lcov.log"
genhtml --quiet --rc genhtml_branch_coverage=1 --prefix "$top" \
    --output-directory "$cov/coverage" "$info" >/dev/null 2>>"$cov/lcov.log"

# One line from the tracefile: LF/LH (lines found/hit) and BRF/BRH
# (branches) summed per top-level folder.
awk -v top="$top/" -v min="$min" -v report="$cov/coverage/index.html" '
    /^SF:/ { f = substr($0, 4); sub("^" top, "", f); split(f, p, "/"); d = p[1] }
    /^LF:/ { lf[d] += substr($0, 4) }
    /^LH:/ { lh[d] += substr($0, 4) }
    /^BRF:/ { bf[d] += substr($0, 5) }
    /^BRH:/ { bh[d] += substr($0, 5) }
    function pct(h, n) { return n ? 100 * h / n : 0 }
    END {
        n = split("core tls real sim kit proto apps scenario cli", ds, " ")
        lines = "lines"; branches = "branches"
        for (i = 1; i <= n; i++) {
            d = ds[i]
            lines = lines sprintf(" %s %.1f%%", d, pct(lh[d], lf[d]))
            branches = branches sprintf(" %s %.1f%%", d, pct(bh[d], bf[d]))
        }
        printf "coverage: %s; %s (report %s)\n", lines, branches, report
        bad = ""
        if (pct(lh["core"], lf["core"]) < min) bad = bad " core/"
        if (pct(lh["sim"], lf["sim"]) < min) bad = bad " sim/"
        if (bad != "") {
            printf "coverage: line coverage below %d%% in%s\n", min, bad
            exit 1
        }
    }' "$info"
