#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets (fuzz/, clang, ASan+UBSan) into build-fuzz/ and
# runs each for a bounded time on its seed corpus, two at a time. Any crash
# fails: its input is left in build-fuzz/crashes/<target>/, and once the bug
# is fixed that input goes into fuzz/corpus/<target>/ for good.
#
#   tools/fuzz.sh [seconds per target, default 40]     (FUZZ_TARGETS="fuzz-pkg ..." picks some)
#
# New inputs the fuzzers find stay in build-fuzz/corpus/ (not the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-40}

build=${FLUFF_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$build" -DFLUFF_FUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    ${FLUFF_FUZZ_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzzers >/dev/null

if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    mapfile -t targets < <(cd fuzz && ls fuzz-*.c | sed 's/\.c$//')
fi
mkdir -p "$build/crashes" "$build/corpus" "$build/logs"
# libvips starts threads and keeps caches for the process: leaks are not bugs here
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export VIPS_CONCURRENCY=1

run_one() {
    local t=$1 work="$build/corpus/$1" crashes="$build/crashes/$1"
    mkdir -p "$work" "$crashes"
    # -rss_limit_mb: a target that balloons is a bug too (a bomb gets past a limit)
    if "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "fuzz/corpus/$t" \
        >"$build/logs/$t.log" 2>&1; then
        echo "fuzz: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/logs/$t.log" |
            grep -o '[0-9]*$') runs in ${secs} s, no crash"
    else
        echo "fuzz: $t FAILED; the input is in $crashes/, the log follows" >&2
        tail -n 60 "$build/logs/$t.log" >&2
        return 1
    fi
}

failed=0
pids=()
for t in "${targets[@]}"; do
    run_one "$t" & pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit $failed
