#!/usr/bin/env bash
# Stages a minimal root filesystem for the runtime image: the given binaries
# in ROOT/usr/local/bin, plus every shared library they load (as ldd lists
# it, the dynamic loader included) at its own absolute path, so ROOT runs
# as a container's / with nothing else in it.
#
#   deploy/collect-runtime.sh ROOT BINARY...
#
# deploy/Dockerfile runs exactly this on the freshly built tallyd and
# tallyctl, and tests/deploy/runtime_image_test.sh runs it the same way and
# then starts the staged tallyd chrooted into ROOT.
set -euo pipefail
if (($# < 2)); then
  echo "usage: collect-runtime.sh ROOT BINARY..." >&2
  exit 2
fi
root=$1
shift

mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"

# Copies PATH's content (symlinks followed) to the same path under ROOT:
# the loader then finds every library by the name ldd printed, in the
# default search directories, without an ld.so.cache.
copy_lib() {  # PATH
  local path=$1
  [[ -e $root$path ]] && return 0
  mkdir -p "$root$(dirname "$path")"
  cp -L "$path" "$root$path"
}

for bin in "$@"; do
  if [[ ! -x $bin ]]; then
    echo "collect-runtime: $bin is not an executable file" >&2
    exit 1
  fi
  dest="$root/usr/local/bin/$(basename "$bin")"
  install -m 0755 "$(readlink -f "$bin")" "$dest"
  # Bazel builds with -g; the image needs the symbol table (glog's stack
  # traces), not the debug info, which is most of the size.
  strip --strip-debug "$dest"
  # "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)" and the
  # loader's "/lib64/ld-linux-x86-64.so.2 (0x...)"; a missing library is an
  # error, not something to find out at run time.
  ldd_out=$(ldd "$bin")
  if grep -q 'not found' <<<"$ldd_out"; then
    echo "collect-runtime: $bin needs libraries that are not installed:" >&2
    grep 'not found' <<<"$ldd_out" >&2
    exit 1
  fi
  while read -r lib; do
    copy_lib "$lib"
  done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
done

# Name lookups for tallyctl's dns: targets: glibc (>= 2.34) resolves hosts
# and DNS itself; Kubernetes mounts /etc/hosts and /etc/resolv.conf.
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
