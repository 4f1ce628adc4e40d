#!/usr/bin/env bash
# Run the libFuzzer harnesses of a -Dfuzz=true build, each for a bounded time, and fail on any
# finding (a crash, a sanitizer report, a leak, a timeout, a harness check).
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [HARNESS ...]     (default 60 s, every harness)
# It builds the harnesses first (only those: the rest of a fuzz build is not needed).
# The committed seed corpus (tests/fuzz/corpus/NAME) is copied to a working corpus under
# $FUZZ_WORK (default BUILD_DIR/fuzz-work), so new inputs never land in the source tree; a
# finding is saved there as NAME-crash-<sha1> (replay: BUILD_DIR/tests/fuzz/fuzz_NAME FILE).
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:?usage: tests/fuzz/run.sh BUILD_DIR [SECONDS] [HARNESS ...]}"
secs="${2:-60}"
shift $(( $# >= 2 ? 2 : 1 ))
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(spec config ckpt tokenizer proto db)
work="${FUZZ_WORK:-$build/fuzz-work}"
if ! meson compile -C "$build" "${names[@]/#/tests/fuzz/fuzz_}" >"$build/fuzz-compile.log" 2>&1; then
  echo "fuzz: building the harnesses failed ($build/fuzz-compile.log):" >&2
  grep -E 'error|FAILED|undefined' "$build/fuzz-compile.log" | head -20 >&2
  exit 2
fi
mkdir -p "$work"
failed=0
for n in "${names[@]}"; do
  exe="$build/tests/fuzz/fuzz_$n"
  if [ ! -x "$exe" ]; then
    echo "fuzz: $exe is missing (configure with CC=clang meson setup BUILD -Dfuzz=true)" >&2
    exit 2
  fi
  mkdir -p "$work/$n"
  cp -n "$root/tests/fuzz/corpus/$n/"* "$work/$n/" 2>/dev/null
  log="$work/$n.log"
  start=$(date +%s)
  "$exe" "$work/$n" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -close_fd_mask=3 \
    -print_final_stats=1 -artifact_prefix="$work/$n-" >"$log" 2>&1
  rc=$?
  stats=$(grep -E '^#[0-9]+' "$log" | tail -1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  echo "fuzz_$n: $(( $(date +%s) - start )) s, ${execs:-?} runs, ${stats#* }"
  if [ $rc -ne 0 ]; then
    echo "fuzz_$n: FINDING (exit $rc); log $log:" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$log" | head -20 >&2
    failed=1
  fi
done
exit $failed
