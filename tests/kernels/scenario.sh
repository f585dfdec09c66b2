#!/bin/sh
# One kernel-matrix column: start tallyd, use tallyctl to start one probe of
# every kind on a helper process, make exactly N events of each, list the
# totals, shut down; then read per-thread keys with each map-read method;
# then durable probes: one of every kind pinned, N events, kill -9 of the
# agent, N events with no agent, a new agent re-adopts them, N events. Runs
# as the VMs' init payload and on the host; prints "@@" marker lines and
# tallyctl's JSON lines for kernel_matrix_test.
#
# Environment: TALLYD, TALLYCTL, EVENTS (absolute paths), N, RUNDIR, PINS
# (a bpffs directory of its own for the durable round).
set -u
: "${TALLYD:?}" "${TALLYCTL:?}" "${EVENTS:?}"
N=${N:-1000}
RUNDIR=${RUNDIR:-/tmp/tally-matrix}
PINS=${PINS:-/sys/fs/bpf/tally-matrix}
mkdir -p "$RUNDIR"
sock="unix:$RUNDIR/tallyd.sock"

echo "@@KERNEL $(uname -r)"
echo "@@KPROBE_PMU $([ -e /sys/bus/event_source/devices/kprobe ] && echo yes || echo no)"
# Not pinned: these probes end with the agent (the durable round is last).
"$TALLYD" --listen="$sock" --ready_file="$RUNDIR/ready" --node_name=matrix \
  --pin_dir= 2>"$RUNDIR/tallyd.log" &
agent=$!
i=0
while [ ! -s "$RUNDIR/ready" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -s "$RUNDIR/ready" ]; then
  echo "@@FATAL tallyd did not start"
  cat "$RUNDIR/tallyd.log"
  exit 1
fi
ctl() { "$TALLYCTL" --agents "$sock" --output json --timeout 120s "$@"; }

echo "@@INFO"
ctl info

"$EVENTS" "$N" "$RUNDIR/events.ready" &
events=$!
i=0
while [ ! -e "$RUNDIR/events.ready" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done

while read -r name hook group; do
  echo "@@START $name"
  ctl start "$hook" --name "$name" --pid "$events" ${group:+--group-by "$group"}
  echo "@@RC $?"
done <<PROBES
tracepoint tracepoint:syscalls:sys_enter_getppid
rawtracepoint rawtracepoint:task_rename
tp_btf tp_btf:task_rename
kprobe kprobe:__x64_sys_getppid
kretprobe kretprobe:__x64_sys_getppid
fentry fentry:vfs_read
fexit fexit:vfs_read
uprobe uprobe:$EVENTS:tally_event_target
uretprobe uretprobe:$EVENTS:tally_event_target
syscall syscall:getppid
comm tracepoint:syscalls:sys_enter_getppid comm
PROBES

kill -USR1 "$events"
wait "$events"
echo "@@EVENTS_EXIT $?"
echo "@@LIST"
ctl list
# The comm-grouped probe's keys come from task->group_leader->comm, read
# with CO-RE: its top key proves the relocation on this kernel.
echo "@@KEYS"
ctl watch comm --top 3 --interval 1s --for 10s | grep '"kind":"UPDATE"' | head -1
kill -TERM "$agent"
wait "$agent"
echo "@@AGENT_EXIT $?"

# Key reading, once per method (batches: BPF_MAP_LOOKUP_BATCH, 5.6+; the
# walk: what older kernels need), each by a restarted tallyd whose kernel
# features come from the cache the first start wrote. A probe grouped by
# thread counts T helper threads making known numbers of getpid() calls:
# their keys are read while they live, then reclaimed once they end.
T=40
wait_file() {
  i=0
  while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
}
keys_round() {
  method=$1
  shift
  rm -f "$RUNDIR/ready" "$RUNDIR/threads.ready" "$RUNDIR/tids"
  "$TALLYD" --listen="$sock" --ready_file="$RUNDIR/ready" --node_name=matrix \
    --pin_dir= --map_read="$method" "$@" 2>"$RUNDIR/tallyd.log" &
  agent=$!
  wait_file "$RUNDIR/ready"
  echo "@@INFO_$method"
  ctl info
  "$EVENTS" threads "$T" "$RUNDIR/threads.ready" "$RUNDIR/tids" &
  helper=$!
  wait_file "$RUNDIR/threads.ready"
  ctl start tracepoint:syscalls:sys_enter_getpid --name keys --pid "$helper" \
    --group-by pid >/dev/null
  kill -USR1 "$helper"
  wait_file "$RUNDIR/tids"
  echo "@@TIDS_$method"
  cat "$RUNDIR/tids"
  echo "@@KEYS_$method"
  ctl watch keys --top 100 --interval 1s --for 10s | grep '"kind":"UPDATE"' | head -1
  kill -USR1 "$helper"
  wait "$helper"
  # Threads are freed an RCU grace period after they end.
  i=0
  while [ $i -lt 30 ]; do
    line=$(ctl watch keys --top 100 --interval 1s --for 1s | grep '"kind":"UPDATE"' | head -1)
    case "$line" in *"\"reclaimed_keys\":\"$T\""*) break ;; esac
    i=$((i + 1))
  done
  echo "@@RECLAIM_$method"
  echo "$line"
  kill -TERM "$agent"
  wait "$agent"
}
keys_round batch --map_read_batch=7
keys_round walk

# Durable probes across a kill -9.
start_durable() {
  rm -f "$RUNDIR/ready"
  "$TALLYD" --listen="$sock" --ready_file="$RUNDIR/ready" --node_name=matrix \
    --pin_dir="$PINS" 2>>"$RUNDIR/tallyd-durable.log" &
  agent=$!
  wait_file "$RUNDIR/ready"
}
"$TALLYD" --uninstall --pin_dir="$PINS" >/dev/null 2>&1
start_durable
"$EVENTS" rounds "$N" 3 "$RUNDIR/rounds" &
events=$!
wait_file "$RUNDIR/rounds"
while read -r name hook group; do
  echo "@@PIN $name"
  ctl start "$hook" --name "$name" --pid "$events" ${group:+--group-by "$group"}
done <<PROBES
tracepoint tracepoint:syscalls:sys_enter_getppid
rawtracepoint rawtracepoint:task_rename
tp_btf tp_btf:task_rename
kprobe kprobe:__x64_sys_getppid
kretprobe kretprobe:__x64_sys_getppid
fentry fentry:vfs_read
fexit fexit:vfs_read
uprobe uprobe:$EVENTS:tally_event_target
uretprobe uretprobe:$EVENTS:tally_event_target
comm tracepoint:syscalls:sys_enter_getppid comm
PROBES
kill -USR1 "$events"
wait_file "$RUNDIR/rounds.1"
kill -KILL "$agent"
wait "$agent"
kill -USR1 "$events"  # nobody runs: only pinned links count these
wait_file "$RUNDIR/rounds.2"
start_durable
kill -USR1 "$events"
wait_file "$RUNDIR/rounds.3"
wait "$events"
echo "@@READOPTED"
ctl list
echo "@@READOPTED_KEYS"
ctl watch comm --top 3 --interval 1s --for 10s | grep '"kind":"UPDATE"' | head -1
kill -TERM "$agent"
wait "$agent"
"$TALLYD" --uninstall --pin_dir="$PINS" >/dev/null 2>&1
echo "@@DONE"
