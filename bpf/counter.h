/* Shared between the CO-RE counter (counter.bpf.c) and its user-space loader.
 * Plain C: the BPF side gets the __u* types from vmlinux.h, user space from
 * <linux/types.h>. */
#ifndef TALLY_BPF_COUNTER_H_
#define TALLY_BPF_COUNTER_H_

#define TALLY_COMM_LEN 16

/* What the per-key hash groups events by (rodata `group_by`). */
enum tally_group_by {
	TALLY_GROUP_NONE = 0,
	TALLY_GROUP_PID = 1,    /* kernel thread id */
	TALLY_GROUP_TGID = 2,   /* process id */
	TALLY_GROUP_COMM = 3,   /* process name (the thread group leader's comm) */
	TALLY_GROUP_CGROUP = 4, /* cgroup v2 id */
	TALLY_GROUP_UID = 5,    /* real uid */
};

/* Slots of the per-CPU `totals` array. */
enum tally_total_slot {
	TALLY_SLOT_EVENTS = 0,       /* every event that passed the filters */
	TALLY_SLOT_DROPPED_KEYS = 1, /* events whose key did not fit: the keys map was full */
	TALLY_SLOT_COUNT = 2,
};

/* Key of the per-CPU `keys` hash: `id` for numeric groupings, `comm` for
 * TALLY_GROUP_COMM; the unused part stays zero so keys compare bytewise. */
struct tally_key {
	__u64 id;
	char comm[TALLY_COMM_LEN];
};

#endif /* TALLY_BPF_COUNTER_H_ */
