#!/usr/bin/env bash
# deploy/systemd/tallyd.service:
#  1. passes `systemd-analyze verify` with no warning at all (unknown keys and
#     bad values are only warnings there), using a copy whose ExecStart names
#     the tallyd just built;
#  2. keeps its hardening settings;
#  3. as root: every system call tallyd makes while it starts, counts, serves
#     a watch, refuses a probe and shuts down, run with the unit's capability
#     set, is allowed by the unit's SystemCallFilter= (tallyd cannot be run
#     under systemd here: it is not PID 1 in this container).
set -euo pipefail
runfiles=${TEST_SRCDIR:-$PWD/..}/${TEST_WORKSPACE:-tally}
unit=$runfiles/deploy/systemd/tallyd.service
tallyd=$(readlink -f "$runfiles/agent/tallyd")
tallyctl=$(readlink -f "$runfiles/client/tallyctl")
tmp=$(mktemp -d /tmp/tally-unit-XXXXXX)
agent=""
cleanup() {
  if [[ -n $agent ]]; then kill -KILL "$agent" 2>/dev/null || true; wait "$agent" 2>/dev/null || true; fi
  rm -rf "$tmp"
  if [[ -n ${pins:-} ]]; then rm -rf "$pins"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. systemd-analyze verify.
grep -q '^ExecStart=/usr/local/bin/tallyd ' "$unit" || fail "ExecStart must run /usr/local/bin/tallyd"
sed "s|^ExecStart=/usr/local/bin/tallyd |ExecStart=$tallyd |" "$unit" >"$tmp/tallyd.service"
if ! out=$(systemd-analyze verify --man=no "$tmp/tallyd.service" 2>&1) || [[ -n $out ]]; then
  fail "systemd-analyze verify: $out"
fi
echo "ok: systemd-analyze verify"

# 2. Hardening that must not be lost in an edit.
for setting in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes \
    ProtectControlGroups=yes RestrictNamespaces=yes MemoryDenyWriteExecute=yes \
    LockPersonality=yes SystemCallArchitectures=native; do
  grep -qx "$setting" "$unit" || fail "the unit lost $setting"
done
grep -q '^CapabilityBoundingSet=CAP_' "$unit" || fail "no CapabilityBoundingSet="
grep -q '^AmbientCapabilities=' "$unit" && fail "tallyd runs as root; AmbientCapabilities= would only widen a non-root override"
echo "ok: hardening settings present"

# 3. SystemCallFilter= against what tallyd really calls.
if [[ $(id -u) -ne 0 ]]; then
  if [[ ${TALLY_REQUIRE_BPF:-0} == 1 ]]; then fail "TALLY_REQUIRE_BPF=1 but not root"; fi
  echo "skipped: the system call check needs root"
  exit 0
fi
for tool in strace capsh; do
  command -v "$tool" >/dev/null || fail "$tool is not installed; run ./scripts/setup.sh"
done
if [[ ! -e /sys/kernel/tracing/events && ! -e /sys/kernel/debug/tracing/events ]]; then
  mount -t tracefs nodev /sys/kernel/tracing  # the host's job; the unit has no CAP_SYS_ADMIN
fi

# Names allowed by the filter, with @groups expanded recursively.
expand() {
  local item
  for item in "$@"; do
    if [[ $item == @* ]]; then
      # shellcheck disable=SC2046
      expand $(systemd-analyze syscall-filter "$item" | tail -n +2 | sed 's/^ *//' | grep -v '^#' | grep .)
    else
      echo "$item"
    fi
  done
}
read -r -a filter <<<"$(sed -n 's/^SystemCallFilter=//p' "$unit")"
((${#filter[@]})) || fail "no SystemCallFilter="
expand "${filter[@]}" | sort -u >"$tmp/allowed"

# The unit's capabilities, as capsh --drop of everything else.
keep=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr 'A-Z' 'a-z')
drop=()
for ((n = 0; n <= $(cat /proc/sys/kernel/cap_last_cap); n++)); do
  name=$(capsh --decode="$(printf '%x' $((1 << n)))" | sed 's/.*=//')
  [[ " $keep " == *" $name "* ]] || drop+=("$n")
done
dropped=$(IFS=,; echo "${drop[*]}")

sock=$tmp/tallyd.sock
# Pinning as deployed, in a directory of this test's own (then uninstalled:
# --uninstall's system calls are checked too).
pins=/sys/fs/bpf/tally-test-unit-$$
capsh --drop="$dropped" -- -c 'exec strace -f -qq -o "$0" "$@"' "$tmp/strace" \
  "$tallyd" --listen="unix:$sock" --ready_file="$tmp/ready" --node_name=unit-test \
  --pin_dir="$pins" 2>"$tmp/tallyd.log" &
agent=$!
for _ in $(seq 1 600); do [[ -s $tmp/ready ]] && break; sleep 0.05; done
[[ -s $tmp/ready ]] || fail "tallyd did not start: $(cat "$tmp/tallyd.log")"

ctl() { "$tallyctl" --agents "unix:$sock" --output json "$@" >>"$tmp/ctl.log" 2>&1; }
ctl info || fail "info: $(cat "$tmp/ctl.log")"
ctl start tracepoint:syscalls:sys_enter_getppid --name tp --pid $$ || fail "start: $(cat "$tmp/ctl.log")"
ctl start tp_btf:sched_switch --name grouped --group-by comm || fail "start: $(cat "$tmp/ctl.log")"
ctl start rawtracepoint:sys_enter --name raw || fail "start: $(cat "$tmp/ctl.log")"
ctl start uprobe:/bin/bash:readline --name refused || true  # an error path
ctl watch --for 1s --interval 100ms --top 3 || true
ctl list || fail "list: $(cat "$tmp/ctl.log")"
ctl stop tp || fail "stop: $(cat "$tmp/ctl.log")"
# strace blocks fatal signals for itself; SIGTERM goes to tallyd, its child.
tallyd_pid=$(pgrep -P "$agent" | head -1)
[[ -n $tallyd_pid ]] || fail "cannot find tallyd under strace"
kill -TERM "$tallyd_pid"
wait "$agent" || fail "tallyd exited with $?: $(tail -5 "$tmp/tallyd.log")"
agent=""
capsh --drop="$dropped" -- -c 'exec strace -f -qq -o "$0" "$@"' "$tmp/strace.uninstall" \
  "$tallyd" --uninstall --pin_dir="$pins" >"$tmp/uninstall.log" 2>&1 ||
  fail "tallyd --uninstall: $(cat "$tmp/uninstall.log")"
[[ ! -e $pins ]] || fail "tallyd --uninstall left $pins"
cat "$tmp/strace.uninstall" >>"$tmp/strace"

# "1234  openat(AT_FDCWD, ..." -> openat; the first execve is strace's own
# start of tallyd, which systemd performs before the filter applies too.
sed -nE 's/^[0-9]+ +([a-z0-9_]+)\(.*/\1/p' "$tmp/strace" | sort -u >"$tmp/used"
(($(wc -l <"$tmp/used") > 20)) || fail "strace saw too few system calls: $(head "$tmp/strace")"
if denied=$(grep -vxF -f "$tmp/allowed" "$tmp/used"); then
  fail "SystemCallFilter= would deny what tallyd calls: $(echo "$denied" | paste -sd' ')"
fi
echo "ok: all $(wc -l <"$tmp/used") system calls tallyd made are allowed by SystemCallFilter="
