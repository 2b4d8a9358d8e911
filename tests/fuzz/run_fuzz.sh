#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time: run_fuzz.sh EXE NAME SOURCE_DIR ARTIFACT_DIR
# The corpus it grows lives in a temporary folder; the seeds (SOURCE_DIR/corpus/NAME), the regression
# inputs (SOURCE_DIR/regressions/NAME) and the dictionary (SOURCE_DIR/NAME.dict) are only read.
# FUZZ_SECONDS (default 25) sets the time. Exit 0 when nothing was found, 1 with the reproducer's path
# when a crash, a leak, a timeout or an oversized allocation was.
set -uo pipefail
exe=$1 name=$2 src=$3 artifacts=$4
seconds=${FUZZ_SECONDS:-25}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256
      -artifact_prefix="$artifacts/" -print_final_stats=1)
[ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
dirs=("$work/corpus" "$src/corpus/$name")
[ -d "$src/regressions/$name" ] && dirs+=("$src/regressions/$name")

# libFuzzer stops at its first finding; its own exit status says whether it found one.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=suppressions=$src/lsan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
timeout --kill-after=10 $((seconds + 120)) "$exe" "${args[@]}" "${dirs[@]}" >"$work/log" 2>&1
rc=$?
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)' "$work/log"
if [ "$rc" -ne 0 ]; then
  tail -n 60 "$work/log"
  found=$(ls -t "$artifacts" 2>/dev/null | head -n 1)
  echo "$name: libFuzzer exited with $rc; reproducer: ${found:+$artifacts/$found}"
  echo "replay it with: $exe $artifacts/${found:-CRASH-FILE}"
  exit 1
fi
echo "$name: nothing found in ${seconds}s"
exit 0
