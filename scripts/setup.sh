#!/usr/bin/env bash
# Installs every Debian package tally's build, tests and demo need.
# Idempotent: installs only what is missing, and runs `apt-get update` only
# when something must be installed. Both README commands start here.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap bazel-rules-cc bazel-rules-java bazel-platforms
  clang llvm libbpf-dev bpftool
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libgoogle-glog-dev libgtest-dev libgmock-dev libbenchmark-dev
  # tests and demo
  iproute2 libcap2-bin procps openssl util-linux
  # kernel matrix: boot Debian kernels with an initramfs of the built binaries
  qemu-system-x86 busybox-static cpio file
  # benchmarks: bpftrace side by side
  bpftrace
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
