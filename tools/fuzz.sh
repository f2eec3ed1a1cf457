#!/bin/sh
# The fuzz targets of fuzz/*.c, built by `make fuzz-build` into BUILD/fuzz/.
#
#   fuzz.sh run BUILD SECONDS   fuzz each target for SECONDS; new inputs go
#                               to BUILD/corpus/T (the seeds of fuzz/corpus/T
#                               are read, never written), crashes to
#                               BUILD/crashes/T with reproduce.sh beside
#                               them; prints executions per second per
#                               target; exit 1 if anything crashed
#   fuzz.sh regress BUILD       replay fuzz/corpus/T and fuzz/regressions/T
#                               through each target once (no fuzzing)
#
# A target T has fuzz/T.c, a seed corpus fuzz/corpus/T/, crash inputs kept
# as regressions in fuzz/regressions/T/, if its format has keywords a
# dictionary fuzz/T.dict and, if it needs its own, libFuzzer flags in
# fuzz/T.options (one line; they come after the defaults and win). The
# scenario target's seeds also include every shipped scenarios/*.yaml.
mode=$1
build=$2
seconds=${3:-60}
[ -n "$build" ] || { echo "usage: $0 run|regress BUILD [SECONDS]" >&2; exit 2; }

targets=$(for f in fuzz/*.c; do basename "$f" .c; done)

# Seed folders of target $1 beyond fuzz/corpus/$1.
more_seeds() {
    [ "$1" = scenario ] && echo scenarios
}

# The inputs of target $1: its seeds and its regressions.
inputs() {
    for d in fuzz/corpus/$1 $(more_seeds "$1") fuzz/regressions/$1; do
        [ -d "$d" ] && find "$d" -type f ! -name '.*' ! -name '*.md'
    done | sort
}

# Target $1's own libFuzzer flags.
options() {
    [ -f "fuzz/$1.options" ] && cat "fuzz/$1.options"
}

# Longest time one input may take, in seconds: the target's -timeout
# when it sets one, else 20 (an input slower than that is a bug too).
timeout_of() {
    t=$(options "$1" | tr ' ' '\n' | sed -n 's/^-timeout=//p' | tail -n 1)
    echo "${t:-20}"
}

regress() {
    fail=0
    for t in $targets; do
        bin=$build/fuzz/$t
        files=$(inputs "$t")
        n=$(printf '%s\n' "$files" | grep -c .)
        if [ "$n" -eq 0 ]; then
            echo "fuzz-regress: $t: no inputs"; fail=1; continue
        fi
        # A dictionary libFuzzer cannot read would only fail `make fuzz`.
        if [ -f "fuzz/$t.dict" ] && ! "$bin" -dict="fuzz/$t.dict" -runs=0 \
                >"$build/regress-$t.log" 2>&1; then
            echo "fuzz-regress: $t: fuzz/$t.dict does not load"
            grep -i dictionary "$build/regress-$t.log"; fail=1; continue
        fi
        # Files (not directories) as arguments: libFuzzer runs each once
        # and writes nothing.
        if printf '%s\n' "$files" | xargs "$bin" -runs=1 -timeout="$(timeout_of "$t")" \
                >"$build/regress-$t.log" 2>&1; then
            echo "fuzz-regress: $t: $n inputs ok"
        else
            echo "fuzz-regress: $t: FAILED (log: $build/regress-$t.log)"
            tail -n 30 "$build/regress-$t.log"
            fail=1
        fi
    done
    return $fail
}

run() {
    crashed=0
    summary=""
    for t in $targets; do
        bin=$build/fuzz/$t
        work=$build/corpus/$t
        crashes=$build/crashes/$t
        mkdir -p "$work" "$crashes"
        dict=""
        [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
        seeds=""
        for d in fuzz/corpus/$t $(more_seeds "$t"); do
            [ -d "$d" ] && seeds="$seeds $d"
        done
        echo "== $t: ${seconds}s"
        # -timeout: an input slower than that is a bug too (a livelock, a
        # parser that is not linear).
        "$bin" -max_total_time="$seconds" -timeout="$(timeout_of "$t")" \
            -print_final_stats=1 -artifact_prefix="$crashes/" $dict $(options "$t") \
            "$work" $seeds \
            >"$build/fuzz-$t.log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz-$t.log" | tail -n 1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz-$t.log" | tail -n 1)
        cov=$(grep -E '^#[0-9]+' "$build/fuzz-$t.log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
        found=$(find "$crashes" -type f ! -name reproduce.sh | wc -l)
        if [ "$found" -gt 0 ] || [ $rc -ne 0 ]; then
            crashed=1
            : > "$crashes/reproduce.sh"
            for c in $(find "$crashes" -type f ! -name reproduce.sh | sort); do
                echo "$bin $c" >> "$crashes/reproduce.sh"
            done
            echo "   CRASH (exit $rc): inputs in $crashes, commands in $crashes/reproduce.sh"
            grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|twin contract)' "$build/fuzz-$t.log" | head -n 5
        fi
        line=$(printf '%-10s %10s execs %8s exec/s  cov %6s  corpus %5s  crashes %s' \
            "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
            "$(ls "$work" | wc -l)" "$found")
        echo "   $line"
        summary="$summary$line
"
    done
    echo "fuzz: ${seconds}s per target"
    printf '%s' "$summary"
    [ $crashed -eq 0 ] && echo "fuzz: no crash" || echo "fuzz: CRASHES found (see above)"
    return $crashed
}

case $mode in
run) run ;;
regress) regress ;;
*) echo "usage: $0 run|regress BUILD [SECONDS]" >&2; exit 2 ;;
esac
