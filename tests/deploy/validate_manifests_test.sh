#!/usr/bin/env bash
# Runs validate_manifests.js on deploy/kubernetes, then checks that it still
# catches a misspelt field (so a package upgrade cannot make it lenient
# without this test noticing).
#
# node_modules is not a Bazel input: scripts/setup.sh installs it next to
# package.json in the source tree, which is found by following the runfile
# symlink of package.json.
set -euo pipefail
runfiles=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-tally}
pkg_dir=$(dirname "$(readlink -f "$runfiles/tests/deploy/package.json")")
export NODE_PATH=$pkg_dir/node_modules
if [[ ! -d $NODE_PATH/kubernetes-models ]]; then
  echo "FAIL: $NODE_PATH has no kubernetes-models; run ./scripts/setup.sh" >&2
  exit 1
fi
command -v node >/dev/null || { echo "FAIL: node is not installed; run ./scripts/setup.sh" >&2; exit 1; }

validator=$runfiles/tests/deploy/validate_manifests.js
manifests=$(dirname "$(readlink -f "$runfiles/deploy/kubernetes/kustomization.yaml")")
tallyd=$runfiles/agent/tallyd

node "$validator" "$manifests" --tallyd="$tallyd"

# The same validator must reject a copy with one misspelt field.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$manifests" "$tmp/k"
sed -i 's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' "$tmp/k/daemonset.yaml"
if out=$(node "$validator" "$tmp/k" 2>&1); then
  echo "FAIL: the validator accepted readOnlyRootFileSystem (misspelt):" >&2
  echo "$out" >&2
  exit 1
fi
grep -q 'unknown field .*readOnlyRootFileSystem' <<<"$out" || {
  echo "FAIL: the validator rejected the misspelt copy for another reason:" >&2
  echo "$out" >&2
  exit 1
}
echo "ok: a misspelt field is rejected"

# And a ConfigMap probes.yaml that tallyd would refuse.
cp -r "$manifests" "$tmp/p"
sed -i "s/^    probes: \[\]$/    probes: [{name: bad, hook: 'nope:x'}]/" "$tmp/p/probes-configmap.yaml"
if out=$(node "$validator" "$tmp/p" --tallyd="$tallyd" 2>&1); then
  echo "FAIL: the validator accepted a probes.yaml tallyd refuses:" >&2
  echo "$out" >&2
  exit 1
fi
grep -q "probes.yaml does not validate: .*probes\[0\]: hook 'nope:x'" <<<"$out" || {
  echo "FAIL: the validator rejected the bad probes.yaml for another reason:" >&2
  echo "$out" >&2
  exit 1
}
echo "ok: an invalid probes.yaml is rejected"

# The PodMonitor example is checked against the Prometheus Operator's schema
# as strictly, and against the DaemonSet's metrics port.
cp -r "$manifests" "$tmp/m"
sed -i 's/scrapeTimeout:/scrapeTimout:/' "$tmp/m/examples/podmonitor.yaml"
if out=$(node "$validator" "$tmp/m" 2>&1); then
  echo "FAIL: the validator accepted a PodMonitor with scrapeTimout (misspelt):" >&2
  echo "$out" >&2
  exit 1
fi
grep -q 'unknown field spec.podMetricsEndpoints\[0\].scrapeTimout' <<<"$out" || {
  echo "FAIL: the validator rejected the misspelt PodMonitor for another reason:" >&2
  echo "$out" >&2
  exit 1
}
cp -r "$manifests" "$tmp/n"
sed -i 's/--metrics_listen=0.0.0.0:9464/--metrics_listen=0.0.0.0:9465/' "$tmp/n/daemonset.yaml"
if out=$(node "$validator" "$tmp/n" 2>&1); then
  echo "FAIL: the validator accepted --metrics_listen on a port the pod does not expose" >&2
  exit 1
fi
echo "ok: a misspelt PodMonitor and a stray metrics port are rejected"
