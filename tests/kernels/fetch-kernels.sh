#!/usr/bin/env bash
# Fetches the Debian cloud kernels the kernel matrix boots: 5.10 (bullseye),
# 6.1 (bookworm) and 6.12 (trixie), as linux-image-*-cloud-amd64-unsigned
# packages, through a private apt configuration (the machine's own apt setup
# is not touched). Cached: a second run downloads nothing.
#
#   tests/kernels/fetch-kernels.sh [CACHE_DIR]    (default /var/cache/tally/kernels)
#
# Leaves CACHE_DIR/<suite>/vmlinuz and CACHE_DIR/<suite>/release.
set -euo pipefail
cache=${1:-${TALLY_KERNEL_CACHE:-/var/cache/tally/kernels}}
mirror=${TALLY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suites=(bullseye bookworm trixie)

have_all=1
for suite in "${suites[@]}"; do
  [[ -s $cache/$suite/vmlinuz && -s $cache/$suite/release ]] || have_all=0
done
if ((have_all)); then
  exit 0
fi

apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc"
: > "$apt_dir/etc/sources.list"
for suite in "${suites[@]}"; do
  echo "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
    >> "$apt_dir/etc/sources.list"
done
apt_opts=(
  -o Dir::Etc::sourcelist="$apt_dir/etc/sources.list"
  -o Dir::Etc::sourceparts=/nonexistent
  -o Dir::State::Lists="$apt_dir/lists"
  -o Dir::Cache="$apt_dir/cache"
  -o Dir::Cache::archives="$apt_dir/archives"
  -o APT::Get::List-Cleanup=0
  -o Debug::NoLocking=1
)
mkdir -p "$apt_dir/cache"
echo "fetch-kernels: updating a private apt index for ${suites[*]}" >&2
apt-get "${apt_opts[@]}" update -q >&2

for suite in "${suites[@]}"; do
  dir=$cache/$suite
  [[ -s $dir/vmlinuz && -s $dir/release ]] && continue
  # The image linux-image-cloud-amd64 pulls in that suite; its -unsigned
  # twin holds the same vmlinuz without the signing step.
  image=$(apt-cache "${apt_opts[@]}" -o APT::Default-Release="$suite" \
            depends linux-image-cloud-amd64 2>/dev/null |
          awk '/Depends: linux-image-/ {print $2; exit}')
  [[ -n $image ]] && image="$image-unsigned"
  if [[ -z $image ]]; then
    echo "fetch-kernels: no cloud kernel found for $suite" >&2
    exit 1
  fi
  echo "fetch-kernels: $suite: $image" >&2
  work=$(mktemp -d)
  # _apt cannot write into mktemp's private directory; root can.
  (cd "$work" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root \
     download "$image/$suite" >&2)
  dpkg-deb -x "$work"/*.deb "$work/root"
  mkdir -p "$dir"
  cp "$work"/root/boot/vmlinuz-* "$dir/vmlinuz"
  basename "$work"/root/boot/vmlinuz-* | sed 's/^vmlinuz-//' > "$dir/release"
  rm -rf "$work"
done
