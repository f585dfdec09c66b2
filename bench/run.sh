#!/usr/bin/env bash
# Runs every benchmark and writes docs/benchmarks.md (generated tables plus
# bench/analysis.md). Needs root (BPF) and
# takes a few minutes. Extra arguments go to tally_bench (e.g. --rounds=9, or
# --tallyctl_before=PATH to measure an older tallyctl beside this one).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
bazel build //bench:tally_bench
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
out=$(mktemp)
$SUDO ./bazel-bin/bench/tally_bench --out="$out" "$@"
# The tables are generated; the reading of them is written by hand.
cat "$out" bench/analysis.md > docs/benchmarks.md
rm -f "$out"
