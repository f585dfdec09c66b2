#!/usr/bin/env bash
# A bounded fuzz pass over every target in tests/fuzz: builds them with
# libFuzzer, ASan and UBSan (--config=fuzz) and runs each for SECONDS
# (default 30) from its checked-in corpus. Fails on any crash, sanitizer
# report or failed check; the input that did it is kept and named.
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(hook_spec start_request)

bazel build --config=fuzz $(printf '//tests/fuzz:%s_fuzzer ' "${targets[@]}")
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz
out=$(mktemp -d /tmp/tally-fuzz-XXXXXX)
status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/$t"
  echo "fuzz: $t for ${seconds}s" >&2
  if ! "$bin/${t}_fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$out/$t/" "$out/$t" "tests/fuzz/corpus/$t" \
      >"$out/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; log and crashing input in $out/$t*" >&2
    tail -40 "$out/$t.log" >&2
    status=1
    continue
  fi
  grep -E '^stat::number_of_executed_units' "$out/$t.log" >&2 || true
done
if [[ $status -eq 0 ]]; then rm -rf "$out"; fi
exit $status
