// The user-space side of bpf/counter.h's map layout: what each map of a
// probe must look like for a grouping, checked from the maps' fds alone, so
// that maps re-opened from bpffs by another agent build are recognised or
// refused, never misread.
#ifndef TALLY_AGENT_PROBE_MAP_LAYOUT_H_
#define TALLY_AGENT_PROBE_MAP_LAYOUT_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/group_by.h"

namespace tally {

// Bytes of a key for `group_by` (TALLY_ID_KEY_SIZE or TALLY_COMM_KEY_SIZE).
uint32_t KeySize(GroupBy group_by);

// Whether keys of `group_by` belong to something that ends for good (a
// thread, a process, a cgroup): such probes also load a reclaimer.
bool KeysCanEnd(GroupBy group_by);

// Entries of the slots map for `num_cpus` possible CPUs; 0 when there are
// more CPUs than the reclaimer visits (TALLY_MAX_CPUS): then no slots.
uint32_t SlotEntries(int num_cpus);

struct MapShape {
  uint32_t type = 0;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t map_flags = 0;
};

absl::StatusOr<MapShape> ShapeOf(int map_fd);

struct CounterMapShapes {
  MapShape keys;
  MapShape slots;
};

// OK when the three maps have this build's layout for `group_by` and the
// totals carry TALLY_MAP_LAYOUT_VERSION; FAILED_PRECONDITION saying what
// differs otherwise.
absl::StatusOr<CounterMapShapes> CheckLayout(int totals_fd, int keys_fd,
                                             int slots_fd, GroupBy group_by,
                                             int num_cpus);

// Writes TALLY_MAP_LAYOUT_VERSION into the totals of freshly created maps.
absl::Status StampLayout(int totals_fd, int num_cpus);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_MAP_LAYOUT_H_
