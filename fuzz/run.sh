#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target (or the ones named) for the given
# number of seconds each, starting from the committed seeds; fails on any
# crash, leak, timeout or out-of-memory.
#
#   fuzz/run.sh [seconds-per-target] [target...]     (default: 60 s, all)
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# New corpus entries go to fuzz/corpus/<target>/ (not committed); crashes
# to fuzz/artifacts/<target>/. A crash, once fixed, keeps its input as a
# regression test in fuzz/regressions/<target>/ (replayed by `cargo test`).
# Logs, with each target's final executions and coverage, go to
# fuzz/logs/<target>.log and a summary is printed at the end.
set -euo pipefail
cd "$(dirname "$0")"

seconds=60
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
    seconds=$1
    shift
fi
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo +nightly fuzz list); fi

cargo +nightly fuzz build
mkdir -p logs
status=0
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "=== $target: ${seconds}s"
    if cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"logs/$target.log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
        tail -n 40 "logs/$target.log"
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$target.log" | grep -o '[0-9]*$' || true)
    last=$(grep -E '^#[0-9]+' "logs/$target.log" | tail -n 1 || true)
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    corp=$(grep -o 'corp: [0-9]*' <<<"$last" | grep -o '[0-9]*' || true)
    summary+=("$(printf '%-17s %-6s executions %-10s coverage %-6s features %-7s corpus %s' \
        "$target" "$result" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
done
echo "=== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
