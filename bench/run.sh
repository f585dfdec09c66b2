#!/usr/bin/env bash
# Runs every benchmark and writes docs/benchmarks.md (generated tables plus
# bench/analysis.md). Needs root (BPF) and
# takes a few minutes. Extra arguments go to tally_bench (e.g. --rounds=9).
#
# TALLY_BEFORE=DIR: a directory holding tallyd and tally_bench built from
# another commit (e.g. main), and tallyctl if the fleet sections should
# measure it too; their numbers become the "before" rows and columns of the
# same run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
bazel build //bench:tally_bench
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
out=$(mktemp)
before=()
if [[ -n "${TALLY_BEFORE:-}" ]]; then
  before=(--before_tallyd="$TALLY_BEFORE/tallyd"
          --before_bench="$TALLY_BEFORE/tally_bench")
  if [[ -x "$TALLY_BEFORE/tallyctl" ]]; then
    before+=(--tallyctl_before="$TALLY_BEFORE/tallyctl")
  fi
fi
$SUDO ./bazel-bin/bench/tally_bench --out="$out" "${before[@]}" "$@"
# The tables are generated; the reading of them is written by hand.
cat "$out" bench/analysis.md > docs/benchmarks.md
rm -f "$out"
