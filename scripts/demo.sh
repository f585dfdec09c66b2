#!/usr/bin/env bash
# Installs what is missing, builds, and counts execve calls on this machine
# for a few seconds while something execs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
bazel build //agent:tallycount

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

# Something to count: a short burst of execs in the background.
( for _ in $(seq 1 20); do /bin/true; sleep 0.1; done ) &
$SUDO ./bazel-bin/agent/tallycount --for=4s --group_by=comm syscall:execve
wait
