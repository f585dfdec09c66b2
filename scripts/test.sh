#!/usr/bin/env bash
# Installs what is missing, then runs the whole test suite: every test, the
# unit and end-to-end tests again under ASan + UBSan, and a bounded fuzz pass.
#
# As root (as in CI) the privileged BPF tests and the kernel matrix must run:
# TALLY_REQUIRE_BPF=1 and TALLY_REQUIRE_KERNELS=1 turn their "skipped: ..."
# into a failure. Elsewhere they skip with the exact reason.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# The kernel matrix boots Debian's 5.10/6.1/6.12 cloud kernels; fetched once
# into a cache outside the repository.
kernel_cache=${TALLY_KERNEL_CACHE:-/var/cache/tally/kernels}
if ! tests/kernels/fetch-kernels.sh "$kernel_cache"; then
  echo "test.sh: fetching the matrix kernels failed; kernel_matrix_test will say so" >&2
fi

require=0
if [[ $(id -u) -eq 0 ]]; then require=1; fi

env=(
  --test_env=TALLY_REQUIRE_BPF="$require"
  --test_env=TALLY_REQUIRE_KERNELS="$require"
  --test_env=TALLY_KERNEL_CACHE="$kernel_cache"
)
bazel test //... "${env[@]}" "$@"

# The unit and end-to-end tests again under ASan + UBSan (the kernel matrix,
# benchmarks and deploy checks run the plain build only).
bazel test --config=asan "${env[@]}" \
  //tests/common/... //tests/agent/... //tests/client/... //tests/fuzz/...

# A bounded fuzz pass over the hook parser and request validation.
./scripts/fuzz.sh "${TALLY_FUZZ_SECONDS:-30}"
