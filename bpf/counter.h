/* Shared between the CO-RE counter (counter.bpf.c) and its user-space loader
 * and reader. Plain C: the BPF side gets the __u* types from vmlinux.h, user
 * space from <linux/types.h>.
 *
 * This header is the layout of a probe's maps. Maps may outlive the agent
 * that created them (pinned in bpffs), so an agent must recognise maps of
 * another layout instead of misreading them. */
#ifndef TALLY_BPF_COUNTER_H_
#define TALLY_BPF_COUNTER_H_

/* The version of everything below that lives in a map: map types, key and
 * value sizes and layouts, max_entries rules, and the meaning of every
 * `totals` slot. It MUST change whenever any of those changes; user space
 * writes it into TALLY_SLOT_LAYOUT when it creates the maps and refuses maps
 * that carry another one (agent/probe/map_layout.h).
 *   1: `keys` a PERCPU_HASH keyed by a 24-byte struct for every grouping;
 *      totals had two slots (events, dropped keys).
 *   2: `keys` a HASH keyed by 8 or 16 bytes with shared counts, in front of
 *      it the per-CPU `slots`; totals slots for reclaimed keys and this
 *      version. */
#define TALLY_MAP_LAYOUT_VERSION 2

#define TALLY_COMM_LEN 16

/* What the per-key maps group events by (rodata `group_by`). */
enum tally_group_by {
	TALLY_GROUP_NONE = 0,
	TALLY_GROUP_PID = 1,    /* kernel thread id */
	TALLY_GROUP_TGID = 2,   /* process id */
	TALLY_GROUP_COMM = 3,   /* process name (the thread group leader's comm) */
	TALLY_GROUP_CGROUP = 4, /* cgroup v2 id */
	TALLY_GROUP_UID = 5,    /* real uid */
};

/* Slots of the per-CPU `totals` array (values: __u64 per CPU; user space
 * sums the CPUs). All written by the programs, except TALLY_SLOT_LAYOUT.
 * When nothing is counting, with grouping:
 *   EVENTS = (each key: its `keys` value + its `slots` counts)
 *            + DROPPED_KEYS + RECLAIMED. */
enum tally_total_slot {
	TALLY_SLOT_EVENTS = 0,       /* every event that passed the filters */
	TALLY_SLOT_DROPPED_KEYS = 1, /* events whose key did not fit: `keys` was full */
	TALLY_SLOT_RECLAIMED = 2,    /* events of keys removed when their owner ended */
	TALLY_SLOT_RECLAIMED_KEYS = 3, /* how many keys were removed so */
	TALLY_SLOT_LAYOUT = 4,       /* TALLY_MAP_LAYOUT_VERSION, on CPU 0 (user space) */
	TALLY_SLOT_COUNT = 5,
};

/* A key is what the grouping holds: a __u64 id for the numeric groupings
 * (pid, tgid, cgroup, uid), the name for comm (NUL-terminated, zero-padded,
 * so equal names are equal keys). */
#define TALLY_ID_KEY_SIZE 8
#define TALLY_COMM_KEY_SIZE TALLY_COMM_LEN

/* `keys`: HASH, key_size TALLY_*_KEY_SIZE (set before load), value a __u64
 * count added to atomically. It holds every key (max_entries bounds how
 * many); a full map sends events to TALLY_SLOT_DROPPED_KEYS.
 *
 * `slots`: ARRAY (BPF_F_MMAPABLE: user space reads it as memory) of
 * TALLY_SLOTS_PER_CPU entries per possible CPU, row `cpu`
 * written only by programs running on that CPU (and by the reclaimer, for
 * keys whose owner ended). An entry is a __u64 count followed by a key; count
 * 0 means free. A key's events go to the entry its hash selects in the
 * running CPU's row while that entry holds it (the hot path: array lookups
 * the verifier inlines, no hash-table call), else to its `keys` value. An
 * entry only ever holds a key that is in `keys`; a key's count is its `keys`
 * value plus every entry holding it. */
#define TALLY_SLOTS_PER_CPU 64
#define TALLY_SLOT_SHIFT 58 /* 64 - log2(TALLY_SLOTS_PER_CPU) */
/* Rows the reclaimer visits at most; beyond it the agent disables slots. */
#define TALLY_MAX_CPUS 1024

/* The entry a key selects within a row: a multiplicative hash of its first
 * (and, for names, second) 8 bytes. */
#define TALLY_SLOT_HASH(w0, w1) \
	((__u32)((((w0) ^ (w1)) * 0x9E3779B97F4A7C15ULL) >> TALLY_SLOT_SHIFT))

/* Keys end when their owner does (pid, tgid, cgroup): the reclaimer programs
 * (counter.bpf.c) then move the key's counts into TALLY_SLOT_RECLAIMED and
 * remove it, so dead owners never crowd out live ones. comm and uid keys
 * recur and stay. */

#endif /* TALLY_BPF_COUNTER_H_ */
