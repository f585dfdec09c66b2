// Reads a counter's maps through their file descriptors.
//
// Only fds are held, so a reader works the same for maps this process loaded
// and for maps re-opened from pins under /sys/fs/bpf.
#ifndef TALLY_AGENT_COUNTER_READER_H_
#define TALLY_AGENT_COUNTER_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/scoped_fd.h"

namespace tally {

// Matches enum tally_group_by in bpf/counter.h.
enum class GroupBy : uint32_t {
  kNone = 0,
  kPid = 1,
  kTgid = 2,
  kComm = 3,
  kCgroup = 4,
  kUid = 5,
};

struct KeyCount {
  std::string key;  // "1234" for numeric groupings, the name for comm
  uint64_t count = 0;
};

struct CounterSnapshot {
  uint64_t total = 0;         // events that passed the filters
  uint64_t dropped_keys = 0;  // of those, events the full key map could not hold
  uint64_t distinct_keys = 0;
  std::vector<KeyCount> top_keys;  // highest count first, then by key
};

class CounterReader {
 public:
  // `num_cpus`: libbpf_num_possible_cpus(), at least 1.
  CounterReader(ScopedFd totals, ScopedFd keys, GroupBy group_by,
                int num_cpus);
  CounterReader(CounterReader&&) = default;
  CounterReader& operator=(CounterReader&&) = default;

  // Sums every CPU. top_n == 0 skips the key walk entirely.
  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const;

  GroupBy group_by() const { return group_by_; }
  int totals_fd() const { return totals_.get(); }
  int keys_fd() const { return keys_.get(); }

 private:
  absl::StatusOr<uint64_t> ReadSlot(uint32_t slot,
                                    std::vector<uint64_t>& per_cpu) const;

  ScopedFd totals_;
  ScopedFd keys_;
  GroupBy group_by_;
  int num_cpus_;
};

}  // namespace tally

#endif  // TALLY_AGENT_COUNTER_READER_H_
