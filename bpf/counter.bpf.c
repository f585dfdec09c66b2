// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tally's CO-RE event counter.
 *
 * One object serves every hook: each attach kind has its own program, all
 * declared with a "?" section so none is loaded by default. The agent opens a
 * fresh skeleton per probe, enables exactly one program, sets its attach
 * target and the read-only config below, then loads and attaches it. Counting
 * is per CPU (no atomics); user space sums the CPUs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "counter.h"

/* Filters and grouping, fixed at load time. 0 means "no filter". */
const volatile __u32 targ_tgid = 0;
const volatile __u64 targ_cgroup_id = 0;
const volatile __u32 group_by = TALLY_GROUP_NONE;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TALLY_SLOT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} totals SEC(".maps");

/* Bounded: the agent sets max_entries before load; a full map sends events
 * to TALLY_SLOT_DROPPED_KEYS instead of losing them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, struct tally_key);
	__type(value, __u64);
} keys SEC(".maps");

static __always_inline void bump_slot(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&totals, &slot);

	if (v)
		(*v)++;
}

static __always_inline void fill_key(struct tally_key *key)
{
	struct task_struct *task;

	switch (group_by) {
	case TALLY_GROUP_PID:
		key->id = (__u32)bpf_get_current_pid_tgid();
		break;
	case TALLY_GROUP_TGID:
		key->id = bpf_get_current_pid_tgid() >> 32;
		break;
	case TALLY_GROUP_COMM:
		/* The process name, not the thread's: threads of one program
		 * ("java", "grpc_global_tim") then count as one key. */
		/* agent/probe/core_btf.cc builds a minimal BTF with the
		 * fields read here; tests/agent/probe/core_btf_test fails when
		 * a CO-RE read is not in it. */
		task = (struct task_struct *)bpf_get_current_task();
		BPF_CORE_READ_STR_INTO(&key->comm, task, group_leader, comm);
		break;
	case TALLY_GROUP_CGROUP:
		key->id = bpf_get_current_cgroup_id();
		break;
	case TALLY_GROUP_UID:
		key->id = (__u32)bpf_get_current_uid_gid();
		break;
	}
}

static __always_inline void count_key(void)
{
	struct tally_key key = {};
	__u64 one = 1, *v;

	fill_key(&key);
	v = bpf_map_lookup_elem(&keys, &key);
	if (v) {
		(*v)++;
		return;
	}
	/* Another CPU may insert the same key between lookup and update:
	 * then EEXIST, and the retried lookup finds it. */
	if (bpf_map_update_elem(&keys, &key, &one, BPF_NOEXIST) == 0)
		return;
	v = bpf_map_lookup_elem(&keys, &key);
	if (v) {
		(*v)++;
		return;
	}
	bump_slot(TALLY_SLOT_DROPPED_KEYS);
}

/* The rodata knobs are frozen before load, so the verifier drops every
 * branch they rule out: without filters or grouping a program is one array
 * lookup and an increment, and helpers run only when a knob needs them. */
static __always_inline int count_event(void)
{
	if (targ_tgid && (bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	if (targ_cgroup_id && bpf_get_current_cgroup_id() != targ_cgroup_id)
		return 0;
	bump_slot(TALLY_SLOT_EVENTS);
	if (group_by != TALLY_GROUP_NONE)
		count_key();
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
