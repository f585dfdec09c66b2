// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tally's CO-RE event counter.
 *
 * One object serves every hook: each attach kind has its own program, all
 * declared with a "?" section so none is loaded by default. The agent opens a
 * fresh skeleton per probe, enables exactly one program, sets its attach
 * target and the read-only config below, then loads and attaches it. Counting
 * is per CPU; user space sums the CPUs. The maps' layout is in counter.h
 * (TALLY_MAP_LAYOUT_VERSION). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "counter.h"

/* Filters and grouping, fixed at load time. 0 means "no filter". */
const volatile __u32 targ_tgid = 0;
const volatile __u64 targ_cgroup_id = 0;
const volatile __u32 group_by = TALLY_GROUP_NONE;
/* Rows of `slots` (possible CPUs); 0: no slots, every key in `keys`. */
const volatile __u32 nr_cpus = 0;
/* The kernel has bpf_get_current_task_btf (5.11+): read the process name
 * with plain loads instead of two probe reads (helper calls cost ~20 ns
 * each on kernels with return-thunk mitigations). */
const volatile bool task_btf = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TALLY_SLOT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

/* Sizes set by the agent before load (counter.h); no BTF key/value types,
 * since they vary with the grouping. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, TALLY_ID_KEY_SIZE);
	__uint(value_size, sizeof(__u64));
} keys SEC(".maps");

/* Mappable: user space reads the slots as memory, without syscalls. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u64) + TALLY_ID_KEY_SIZE);
} slots SEC(".maps");

static __always_inline void add_slot(__u32 slot, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&totals, &slot);

	if (v)
		*v += n;
}

/* Keys are two words on the stack for every grouping; numeric ones use the
 * first (the maps' key size says how many bytes count). */
static __always_inline bool same_key(const __u64 *a, const __u64 *b)
{
	if (group_by == TALLY_GROUP_COMM)
		return a[0] == b[0] && a[1] == b[1];
	return a[0] == b[0];
}

static __always_inline __u32 slot_index(const __u64 *key, __u32 cpu)
{
	__u64 w1 = group_by == TALLY_GROUP_COMM ? key[1] : 0;

	return cpu * TALLY_SLOTS_PER_CPU + TALLY_SLOT_HASH(key[0], w1);
}

static __always_inline void count_key(const __u64 *key)
{
	__u64 one = 1, zero = 0, *slot = NULL, *v;
	__u32 idx;

	if (nr_cpus) {
		idx = slot_index(key, bpf_get_smp_processor_id());
		slot = bpf_map_lookup_elem(&slots, &idx);
		if (slot && slot[0] && same_key(slot + 1, key)) {
			slot[0]++;
			return;
		}
		if (slot && slot[0])
			slot = NULL; /* another key's: count in `keys` */
	}
	v = bpf_map_lookup_elem(&keys, key);
	if (!v) {
		/* Another CPU may insert the same key between lookup and
		 * update: then EEXIST, and the retried lookup finds it. With
		 * a free slot the event is counted there, below. */
		if (bpf_map_update_elem(&keys, key, slot ? &zero : &one,
					BPF_NOEXIST) != 0) {
			v = bpf_map_lookup_elem(&keys, key);
			if (!v) {
				add_slot(TALLY_SLOT_DROPPED_KEYS, 1);
				return;
			}
		} else if (!slot) {
			return;
		}
	}
	if (!slot) {
		__sync_fetch_and_add(v, 1);
		return;
	}
	/* Claim the free slot: key first, then the count that makes it
	 * taken, so a reader that sees the count sees the key. */
	slot[1] = key[0];
	if (group_by == TALLY_GROUP_COMM)
		slot[2] = key[1];
	slot[0] = 1;
}

/* Clears the bytes after the first NUL of a little-endian word (the
 * classic "has a zero byte" trick: the lowest flagged byte is exact);
 * sets *ended when there was one. */
static __always_inline __u64 cut_at_nul(__u64 w, bool *ended)
{
	__u64 zero = (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;

	if (!zero)
		return w;
	*ended = true;
	return w & (((zero & -zero) >> 7) - 1);
}

/* The process name, not the thread's: threads of one program ("java",
 * "grpc_global_tim") then count as one key. agent/probe/core_btf.cc builds
 * a minimal BTF with the fields read here; tests/agent/probe/core_btf_test
 * fails when a CO-RE read is not in it. Whole words, then cut at the NUL:
 * the same zero-padded key a string read gives, without its byte loop. */
static __always_inline void comm_key(__u64 *name)
{
	struct task_struct *leader;
	bool ended = false;

	if (task_btf) {
		leader = bpf_get_current_task_btf()->group_leader;
		name[0] = *(__u64 *)&leader->comm[0];
		name[1] = *(__u64 *)&leader->comm[8];
	} else {
		leader = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(),
				       group_leader);
		bpf_core_read(name, TALLY_COMM_KEY_SIZE, &leader->comm);
	}
	name[0] = cut_at_nul(name[0], &ended);
	name[1] = ended ? 0 : cut_at_nul(name[1], &ended);
}

/* The rodata knobs are frozen before load, so the verifier drops every
 * branch they rule out: without filters or grouping a program is one array
 * lookup and an increment, and helpers run only when a knob needs them. */
static __always_inline int count_event(void)
{
	__u64 key[2] = {};

	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	if (targ_cgroup_id && bpf_get_current_cgroup_id() != targ_cgroup_id)
		return 0;
	add_slot(TALLY_SLOT_EVENTS, 1);
	switch (group_by) {
	case TALLY_GROUP_PID:
		key[0] = (__u32)bpf_get_current_pid_tgid();
		break;
	case TALLY_GROUP_TGID:
		key[0] = bpf_get_current_pid_tgid() >> 32;
		break;
	case TALLY_GROUP_COMM:
		comm_key(key);
		break;
	case TALLY_GROUP_CGROUP:
		key[0] = bpf_get_current_cgroup_id();
		break;
	case TALLY_GROUP_UID:
		key[0] = (__u32)bpf_get_current_uid_gid();
		break;
	default:
		return 0;
	}
	count_key(key);
	return 0;
}

SEC("?tracepoint")
int handle__tracepoint(void *ctx)
{
	return count_event();
}

SEC("?raw_tp")
int handle__raw_tp(void *ctx)
{
	return count_event();
}

SEC("?tp_btf")
int BPF_PROG(handle__tp_btf)
{
	return count_event();
}

SEC("?kprobe")
int BPF_KPROBE(handle__kprobe)
{
	return count_event();
}

SEC("?kretprobe")
int BPF_KRETPROBE(handle__kretprobe)
{
	return count_event();
}

SEC("?fentry")
int BPF_PROG(handle__fentry)
{
	return count_event();
}

SEC("?fexit")
int BPF_PROG(handle__fexit)
{
	return count_event();
}

SEC("?uprobe")
int BPF_KPROBE(handle__uprobe)
{
	return count_event();
}

SEC("?uretprobe")
int BPF_KRETPROBE(handle__uretprobe)
{
	return count_event();
}

/* Reclaimers: loaded next to the counting program when the grouping's keys
 * can end. They move an ended owner's counts (its `keys` value and every
 * slot holding it) into TALLY_SLOT_RECLAIMED and remove the key, so the
 * total stays exact and the maps hold live owners only. Nothing counts for
 * an ended owner any more, so nothing races with the move. */
static __always_inline void reclaim_key(__u64 id)
{
	__u64 key[2] = {id, 0};
	__u64 *v = bpf_map_lookup_elem(&keys, key), *slot, events;
	__u32 cpu, idx;

	if (!v)
		return; /* no key: slots only hold keys that are in `keys` */
	events = *v;
	for (cpu = 0; cpu < TALLY_MAX_CPUS && cpu < nr_cpus; cpu++) {
		idx = slot_index(key, cpu);
		slot = bpf_map_lookup_elem(&slots, &idx);
		if (slot && slot[0] && slot[1] == id) {
			events += slot[0];
			slot[0] = 0; /* free again: one store */
		}
	}
	bpf_map_delete_elem(&keys, key);
	add_slot(TALLY_SLOT_RECLAIMED, events);
	add_slot(TALLY_SLOT_RECLAIMED_KEYS, 1);
}

/* After the RCU grace period that follows a task's release: no event can
 * run as this task any more. A process id ends with its leader, which is
 * released after every other thread. */
SEC("?raw_tp/sched_process_free")
int BPF_PROG(handle__task_free, struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);

	if (group_by == TALLY_GROUP_PID)
		reclaim_key(pid);
	else if (group_by == TALLY_GROUP_TGID && pid == BPF_CORE_READ(task, tgid))
		reclaim_key(pid);
	return 0;
}

/* A removed cgroup's id is never reused. */
SEC("?raw_tp/cgroup_rmdir")
int BPF_PROG(handle__cgroup_rmdir, struct cgroup *cgrp)
{
	if (group_by == TALLY_GROUP_CGROUP)
		reclaim_key(BPF_CORE_READ(cgrp, kn, id));
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
