// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Programs that do nothing, one per attach kind: the baseline that shows
 * what the hook costs before tally counts anything. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("?tracepoint")
int handle__tracepoint(void *ctx)
{
	return 0;
}

SEC("?raw_tp")
int handle__raw_tp(void *ctx)
{
	return 0;
}

SEC("?tp_btf")
int BPF_PROG(handle__tp_btf)
{
	return 0;
}

SEC("?kprobe")
int BPF_KPROBE(handle__kprobe)
{
	return 0;
}

SEC("?fentry")
int BPF_PROG(handle__fentry)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
