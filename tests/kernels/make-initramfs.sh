#!/usr/bin/env bash
# Packs an initramfs for the kernel-matrix VMs: busybox, the very tallyd and
# tallyctl the build produced plus every shared library they load (at the
# same paths as on the build host), the static event helper, the scenario
# and the init script.
#
#   make-initramfs.sh OUT TALLYD TALLYCTL EVENTS SCENARIO INIT
set -euo pipefail
out=$1 tallyd=$2 tallyctl=$3 events=$4 scenario=$5 init=$6
busybox=$(command -v busybox || echo /bin/busybox)
if ! file -L "$busybox" | grep -q 'statically linked'; then
  echo "make-initramfs: $busybox is not static; install busybox-static" >&2
  exit 1
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev,tmp,run}
cp "$busybox" "$root/bin/busybox"
cp -L "$tallyd" "$root/bin/tallyd"
cp -L "$tallyctl" "$root/bin/tallyctl"
cp -L "$events" "$root/bin/tally-events"
cp -L "$scenario" "$root/scenario.sh"
cp -L "$init" "$root/init"
chmod 755 "$root"/bin/* "$root/init"
for bin in "$tallyd" "$tallyctl"; do
  ldd "$bin" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' |
    while read -r lib; do
      cp --parents -L "$lib" "$root/"
    done
done
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out"
