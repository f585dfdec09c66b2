#!/usr/bin/env bash
# tallyctl must not link the agent: no libbpf, libelf or glog in what the
# binary needs, and no agent symbol in it (Bazel's visibility already refuses
# a //client -> //agent dependency; this checks the binary that ships).
set -euo pipefail
runfiles=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-tally}
tallyctl=$(readlink -f "$runfiles/client/tallyctl")
needed=$(readelf -d "$tallyctl" | awk '/NEEDED/ {print $5}')
if grep -Ei 'libbpf|libelf|libglog' <<<"$needed"; then
  echo "FAIL: tallyctl links the agent's libraries:" >&2
  echo "$needed" >&2
  exit 1
fi
if nm -C "$tallyctl" | grep -E ' [TtWw] tally::(BpfCounter|ProbeManager|Sampler)'; then
  echo "FAIL: tallyctl contains agent code" >&2
  exit 1
fi
echo "ok: tallyctl needs only: $(tr '\n' ' ' <<<"$needed")"
