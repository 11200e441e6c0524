#!/usr/bin/env bash
# Builds and runs the coverage-guided fuzz targets in fuzz/ (cargo-fuzz, libFuzzer, no
# sanitizer, because only the stable toolchain exists), one target after the other, and prints
# the executions of each.
#
#   scripts/fuzz.sh                     60 s per target
#   scripts/fuzz.sh 15                  15 s per target
#   scripts/fuzz.sh --runs 10000000     10 million executions per target
#   scripts/fuzz.sh 600 artifact jwt_pem   only these targets
#
# Each run starts from the seed corpus in fuzz/corpus/<target> (read, never written) plus a
# working corpus in fuzz/target/corpus-work/<target> that libFuzzer grows and later runs
# reuse. A crash, a failed invariant, a timeout or running out of memory makes the script
# exit non-zero after all targets ran; the input that did it is kept in
# fuzz/artifacts/<target>/ (reproduce with `cargo fuzz run --sanitizer none <target> <file>`
# in fuzz/'s parent directory). Logs: fuzz/target/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=60)
what="60 s"
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) limit=(-runs="$2"); what="$2 runs"; shift 2 ;;
    --runs=*) limit=(-runs="${1#--runs=}"); what="${1#--runs=} runs"; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    [0-9]*) limit=(-max_total_time="$1"); what="$1 s"; shift ;;
    *) targets+=("$1"); shift ;;
  esac
done

command -v cargo-fuzz >/dev/null 2>&1 || { echo "==> installing cargo-fuzz"; cargo install --locked cargo-fuzz; }

if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

echo "==> building fuzz targets"
cargo fuzz build --sanitizer none

mkdir -p fuzz/target/logs
failed=()
summary=()
for t in "${targets[@]}"; do
  work="fuzz/target/corpus-work/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  log="fuzz/target/logs/$t.log"
  echo "==> fuzzing $t ($what)"
  # -timeout: one input taking this long is a finding (a hang or an unbounded loop).
  status=0
  cargo fuzz run --sanitizer none "$t" "$work" "fuzz/corpus/$t" -- \
    "${limit[@]}" -timeout=30 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
  line=$(printf '%-18s %12s executions %8s exec/s' "$t" "${runs:-?}" "${speed:-?}")
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    line="$line   FAILED (exit $status)"
    grep -E '^(==[0-9]+== ?ERROR|thread .* panicked|.*panicked at|Test unit written to)' "$log" | head -n 5 || true
    ls -1 "fuzz/artifacts/$t" 2>/dev/null | sed 's/^/    kept: fuzz\/artifacts\/'"$t"'\//'
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "==> fuzzing summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found failures in: ${failed[*]} (inputs in fuzz/artifacts/, logs in fuzz/target/logs/)" >&2
  exit 1
fi
