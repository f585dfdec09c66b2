// Reads a counter's maps through their file descriptors.
//
// Only fds are held, so a reader works the same for maps this process loaded
// and for maps re-opened from pins under /sys/fs/bpf.
#ifndef TALLY_AGENT_PROBE_MAP_READER_H_
#define TALLY_AGENT_PROBE_MAP_READER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/probe/counter.h"
#include "common/group_by.h"
#include "common/scoped_fd.h"

namespace tally {

class MapReader {
 public:
  // `num_cpus`: libbpf_num_possible_cpus(), at least 1.
  MapReader(ScopedFd totals, ScopedFd keys, GroupBy group_by, int num_cpus);
  MapReader(MapReader&&) = default;
  MapReader& operator=(MapReader&&) = default;

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

#endif  // TALLY_AGENT_PROBE_MAP_READER_H_
