#!/usr/bin/env bash
# Copies the capability list in deploy/capabilities.txt into the files that
# grant it, so the DaemonSet, the systemd unit and the capability test cannot
# drift apart:
#
#   deploy/kubernetes/daemonset.yaml   securityContext.capabilities.add
#   deploy/systemd/tallyd.service      CapabilityBoundingSet=
#
# Each file has a region between "# BEGIN capabilities" and
# "# END capabilities" lines; only that region is rewritten.
#
#   deploy/render-capabilities.sh           rewrite the regions in place
#   deploy/render-capabilities.sh --check   exit 1 with a diff if a region is
#                                           stale (tests/deploy runs this)
# An optional last argument is the repository root (default: this script's
# parent directory's parent).
set -euo pipefail

check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
root=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"}
caps_file="$root/deploy/capabilities.txt"

names=()
whys=()
while IFS= read -r line; do
  line=${line%%$'\r'}
  [[ -z ${line//[[:space:]]/} || $line =~ ^[[:space:]]*# ]] && continue
  if [[ ! $line =~ ^(CAP_[A-Z_]+)[[:space:]]*(#[[:space:]]*(.*))?$ ]]; then
    echo "render-capabilities: $caps_file: cannot parse: $line" >&2
    exit 2
  fi
  if [[ -z ${BASH_REMATCH[3]:-} ]]; then
    echo "render-capabilities: $caps_file: ${BASH_REMATCH[1]} needs a '# why' comment" >&2
    exit 2
  fi
  names+=("${BASH_REMATCH[1]}")
  whys+=("${BASH_REMATCH[3]}")
done <"$caps_file"
if ((${#names[@]} == 0)); then
  echo "render-capabilities: $caps_file lists no capability" >&2
  exit 2
fi

# The generated lines for one file, each prefixed by the marker's indent.
kubernetes_region() {  # INDENT
  echo "$1add:"
  for i in "${!names[@]}"; do
    echo "$1  - ${names[$i]#CAP_}  # ${whys[$i]}"
  done
}

systemd_region() {  # INDENT
  for i in "${!names[@]}"; do
    echo "$1# ${names[$i]}: ${whys[$i]}"
  done
  echo "$1CapabilityBoundingSet=${names[*]}"
}

# Writes FILE with its region replaced to stdout.
render() {  # FILE REGION_FUNCTION
  local file=$1 fn=$2 line indent="" state=0
  while IFS= read -r line || [[ -n $line ]]; do
    case $state in
      0)
        echo "$line"
        if [[ $line =~ ^([[:space:]]*)#\ BEGIN\ capabilities ]]; then
          indent=${BASH_REMATCH[1]}
          "$fn" "$indent"
          state=1
        fi
        ;;
      1)
        if [[ $line =~ ^[[:space:]]*#\ END\ capabilities ]]; then
          echo "$line"
          state=2
        fi
        ;;
      2) echo "$line" ;;
    esac
  done <"$file"
  if ((state != 2)); then
    echo "render-capabilities: $file has no '# BEGIN capabilities' ... '# END capabilities' region" >&2
    return 2
  fi
}

status=0
for pair in "deploy/kubernetes/daemonset.yaml:kubernetes_region" \
            "deploy/systemd/tallyd.service:systemd_region"; do
  file="$root/${pair%%:*}"
  fn=${pair##*:}
  tmp=$(mktemp)
  render "$file" "$fn" >"$tmp"
  if ((check)); then
    if ! diff -u "$file" "$tmp" >&2; then
      echo "render-capabilities: ${pair%%:*} does not match deploy/capabilities.txt;" \
           "run deploy/render-capabilities.sh" >&2
      status=1
    fi
    rm -f "$tmp"
  elif ! cmp -s "$file" "$tmp"; then
    cat "$tmp" >"$file"
    rm -f "$tmp"
    echo "render-capabilities: updated ${pair%%:*}" >&2
  else
    rm -f "$tmp"
  fi
done
exit "$status"
