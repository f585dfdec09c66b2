#!/usr/bin/env bash
# Installs every Debian package tally's build, tests and demo need.
# Idempotent: installs only what is missing, and runs `apt-get update` only
# when something must be installed. Both README commands start here.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap bazel-rules-cc bazel-rules-java bazel-platforms
  clang llvm libclang-rt-14-dev libbpf-dev bpftool
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgoogle-glog-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libcivetweb-dev
  # tests and demo
  iproute2 libcap2-bin procps openssl util-linux
  # kernel matrix: boot Debian kernels with an initramfs of the built binaries
  qemu-system-x86 busybox-static cpio file
  # benchmarks: bpftrace side by side
  bpftrace
  # deploy tests: systemd-analyze verify, strace for the unit's syscall filter
  systemd strace
  # metrics tests: a real Prometheus server scrapes tallyd; promtool lints
  prometheus
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node.js for the offline Kubernetes schema validation in tests/deploy (any
# Node >= 18; Debian's when none is installed: a Node.js that ships its own
# npm conflicts with Debian's npm package, so check for the commands).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing nodejs npm" >&2
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi

# The npm packages tests/deploy pins in its package-lock.json, into
# tests/deploy/node_modules (not in git); npm ci again only when the lock
# file is newer than the last install.
deploy_tests="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/deploy"
if [[ ! -f $deploy_tests/node_modules/.package-lock.json ||
      $deploy_tests/package-lock.json -nt $deploy_tests/node_modules/.package-lock.json ]]; then
  echo "setup: npm ci in tests/deploy" >&2
  (cd "$deploy_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
