#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite.
#
# As root (as in CI) the privileged BPF tests must run: TALLY_REQUIRE_BPF=1
# turns their "skipped: no BPF here" into a failure. Elsewhere they skip with
# the exact reason.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

require_bpf=0
if [[ $(id -u) -eq 0 ]]; then require_bpf=1; fi

exec bazel test //... \
  --test_env=TALLY_REQUIRE_BPF="$require_bpf" \
  "$@"
