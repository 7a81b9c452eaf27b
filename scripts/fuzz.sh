#!/bin/sh
# Runs each libFuzzer target for SECONDS from its seeds: scripts/fuzz.sh SECONDS TARGET...
# A target that crashes, leaks or fails a check leaves its input as build/fuzz/crash-*
# (turn it into a unit test once fixed). Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
seconds=$1
shift
passed=0
failed=0
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=build/fuzz/corpus/$name
    seeds=tests/fuzz/corpus/$name
    mkdir -p "$corpus"
    [ -d "$seeds" ] || seeds=
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix=build/fuzz/crash-"$name"- "$corpus" $seeds \
        > build/fuzz/"$name".log 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' build/fuzz/"$name".log |
               grep -o '[0-9]*$')
        echo "ok   $name: ${runs:-?} inputs in ${seconds}s"
        passed=$((passed + 1))
    else
        echo "FAIL $name (build/fuzz/$name.log):"
        tail -30 build/fuzz/"$name".log
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
