#!/usr/bin/env bash
# Installs what is missing, builds, starts a local tallyd, and uses tallyctl
# to count execve calls while something execs: start, watch, list, stop,
# then shuts the agent down.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
bazel build //agent:tallyd //client:tallyctl

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

dir=$(mktemp -d /tmp/tally-demo-XXXXXX)
sock="unix:$dir/tallyd.sock"
ctl() { $SUDO ./bazel-bin/client/tallyctl --agents "$sock" "$@"; }

# Its own pin directory: the demo's probes must not mix with a real
# agent's, and are uninstalled at the end.
pins=/sys/fs/bpf/tally-demo
$SUDO ./bazel-bin/agent/tallyd --listen="$sock" --ready_file="$dir/ready" \
  --node_name="$(hostname)" --pin_dir="$pins" 2>"$dir/tallyd.log" &
agent=$!
cleanup() {
  $SUDO kill -TERM "$agent" 2>/dev/null || true
  wait "$agent" 2>/dev/null || true
  $SUDO ./bazel-bin/agent/tallyd --uninstall --pin_dir="$pins" >/dev/null || true
  $SUDO rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 1 200); do [[ -s $dir/ready ]] && break; sleep 0.05; done
[[ -s $dir/ready ]] || { echo "tallyd did not start:"; cat "$dir/tallyd.log"; exit 1; }

echo "== tallyctl info"
ctl info
echo "== tallyctl start syscall:execve --group-by comm"
ctl start syscall:execve --group-by comm --ttl 2m

# Something to count: a burst of execs in the background.
( for _ in $(seq 1 30); do /bin/true; sleep 0.1; done ) &
burst=$!

echo "== tallyctl watch --for 4s"
ctl --output table watch --for 4s --top 3 --interval 1s
wait "$burst"
echo "== tallyctl list"
ctl list
echo "== tallyctl stop syscall-execve"
ctl stop syscall-execve
