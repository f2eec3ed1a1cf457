#!/bin/sh
# make coverage: build twin with gcov (gcc -O0, so lines map one to one),
# run the cmocka suite and every fuzz target over its corpus and
# regressions (fuzz/standalone/main.c stands in for libFuzzer), then write
# an lcov HTML report and print one summary line: line and branch coverage
# of core/, real/, sim/ (its network model in sim/net/ included), kit/,
# proto/ and apps/. Exits 1 if line coverage of core/ or sim/ is below
# COVERAGE_MIN percent (85).
# Usage: tools/coverage.sh [BUILD]   (from the top; BUILD defaults to build-cov)
cov=${1:-build-cov}
min=${COVERAGE_MIN:-85}
top=$(pwd)

# --coverage is in OPT, which every compile and link line has.
make --no-print-directory -s BUILD="$cov" CC=gcc OPT="-O0 -g --coverage" \
    FUZZ_MAIN=fuzz/standalone/main.c all fuzz-bins >/dev/null || { echo "coverage: build failed" >&2; exit 2; }
# Counters add up across runs: start from zero.
find "$cov/obj" "$cov/fuzz" -name '*.gcda' -delete 2>/dev/null

# The suite (its own pass/fail is `make test`'s business: a failing test
# still tells what it covered).
if ! make --no-print-directory BUILD="$cov" CC=gcc OPT="-O0 -g --coverage" \
    test-plain >"$cov/coverage-tests.log" 2>&1; then
    echo "coverage: some tests failed under gcov (log: $cov/coverage-tests.log)"
fi
for f in fuzz/*.c; do
    t=$(basename "$f" .c)
    dirs=""
    for d in fuzz/corpus/$t fuzz/regressions/$t; do
        [ -d "$d" ] && dirs="$dirs $d"
    done
    [ -n "$dirs" ] && "$cov/fuzz/$t" $dirs >>"$cov/coverage-fuzz.log" 2>&1
done

info=$cov/coverage.info
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
        n = split("core real sim kit proto apps", ds, " ")
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
