// What the daemon needs of a counter, and of whatever opens one: the seam
// between agent/daemon and the kernel. The real implementation is BpfCounter
// (bpf_counter.h); the daemon's unit tests put fakes behind this interface.
#ifndef TALLY_AGENT_PROBE_COUNTER_H_
#define TALLY_AGENT_PROBE_COUNTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/group_by.h"
#include "common/hook_spec.h"

namespace tally {

struct CounterOptions {
  GroupBy group_by = GroupBy::kNone;
  uint32_t tgid = 0;          // count only this process; 0 = all
  uint64_t cgroup_id = 0;     // count only this cgroup (v2 id); 0 = all
  uint32_t max_keys = 10240;  // bound of the per-key map when grouping

  bool operator==(const CounterOptions& o) const {
    return group_by == o.group_by && tgid == o.tgid &&
           cgroup_id == o.cgroup_id && max_keys == o.max_keys;
  }
};

struct KeyCount {
  std::string key;  // "1234" for numeric groupings, the name for comm
  uint64_t count = 0;
};

// With grouping, every event of `total` is in exactly one of: a key's
// count, `dropped_keys`, `reclaimed` (exact when nothing is counting; a read
// while counting sees key counts no newer than the total).
struct CounterSnapshot {
  uint64_t total = 0;  // events that passed the filters
  uint64_t dropped_keys =
      0;  // of those, events the full key map could not hold
  // Of those, events of keys removed when their thread, process or cgroup
  // ended, so that ended owners never crowd out live ones.
  uint64_t reclaimed = 0;
  uint64_t reclaimed_keys = 0;  // how many keys were removed so
  uint64_t distinct_keys = 0;   // keys in the map (when keys were read)
  std::vector<KeyCount> top_keys;  // highest count first, then by key
};

class Counter {
 public:
  virtual ~Counter() = default;  // detaches
  // top_n == 0 reads the totals only: a few syscalls whatever the key
  // count. Otherwise also every key, formatting the top_n.
  virtual absl::StatusOr<CounterSnapshot> Read(size_t top_n) const = 0;
  // Stops counting now; Read() keeps working and returns the final counts.
  virtual void Detach() = 0;
};

struct OpenedCounter {
  std::unique_ptr<Counter> counter;
  AttachPoint attached;  // where it really attached
  std::string note;      // why that mechanism (syscall: alias)
};

// Resolves the hook on this kernel and attaches; slow (BPF load and
// verification), so the daemon calls it on its worker thread only.
using CounterOpener = std::function<absl::StatusOr<OpenedCounter>(
    const HookSpec& hook, const CounterOptions& options)>;

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_COUNTER_H_
