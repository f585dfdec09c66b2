#!/usr/bin/env bash
# deploy/capabilities.txt is the one list of capabilities; the DaemonSet and
# the systemd unit must carry exactly what deploy/render-capabilities.sh
# writes from it.
set -euo pipefail
runfiles=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-tally}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/deploy/kubernetes" "$tmp/deploy/systemd"
cp "$runfiles/deploy/capabilities.txt" "$tmp/deploy/"
cp "$runfiles/deploy/kubernetes/daemonset.yaml" "$tmp/deploy/kubernetes/"
cp "$runfiles/deploy/systemd/tallyd.service" "$tmp/deploy/systemd/"
"$runfiles/deploy/render-capabilities.sh" --check "$tmp"

# The generated regions hold exactly the listed names, in both files.
want=$(grep -oE '^CAP_[A-Z_]+' "$tmp/deploy/capabilities.txt" | paste -sd' ')
k8s=$(sed -n '/# BEGIN capabilities/,/# END capabilities/p' "$tmp/deploy/kubernetes/daemonset.yaml" |
      sed -nE 's/^ *- ([A-Z_]+).*/CAP_\1/p' | paste -sd' ')
unit=$(sed -nE 's/^CapabilityBoundingSet=//p' "$tmp/deploy/systemd/tallyd.service")
[[ $k8s == "$want" ]] || { echo "FAIL: DaemonSet adds '$k8s', capabilities.txt lists '$want'" >&2; exit 1; }
[[ $unit == "$want" ]] || { echo "FAIL: unit bounds '$unit', capabilities.txt lists '$want'" >&2; exit 1; }
[[ $(grep -c '^CapabilityBoundingSet=' "$tmp/deploy/systemd/tallyd.service") == 1 ]] || {
  echo "FAIL: the unit must set CapabilityBoundingSet= exactly once" >&2; exit 1; }
[[ $(grep -c 'capabilities:' "$tmp/deploy/kubernetes/daemonset.yaml") == 1 ]] || {
  echo "FAIL: the DaemonSet must have exactly one capabilities: block" >&2; exit 1; }

# And the check really detects drift.
sed -i 's/^CapabilityBoundingSet=.*/& CAP_SYS_ADMIN/' "$tmp/deploy/systemd/tallyd.service"
if "$runfiles/deploy/render-capabilities.sh" --check "$tmp" 2>/dev/null; then
  echo "FAIL: render-capabilities.sh --check missed an added capability" >&2
  exit 1
fi
echo "ok: DaemonSet and systemd unit grant exactly: $want"
