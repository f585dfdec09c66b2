// Reads a counter's maps through their file descriptors.
//
// Only fds are held, so a reader works the same for maps this process loaded
// and for maps re-opened from pins under /sys/fs/bpf; Open() checks their
// layout (map_layout.h) first.
//
// Cost: totals are one syscall (a batch over the totals array; a lookup per
// slot where the kernel has no array batches, as 5.10). Keys are read in
// batches into buffers the reader keeps (at most kScanBufferBytes), one
// syscall per few thousand keys, and merged with the per-CPU slots
// (bpf/counter.h), which are mapped into memory and cost no syscall; only
// the top N are formatted as strings.
#ifndef TALLY_AGENT_PROBE_MAP_READER_H_
#define TALLY_AGENT_PROBE_MAP_READER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "agent/probe/counter.h"
#include "agent/probe/map_layout.h"
#include "agent/probe/map_scan.h"
#include "common/group_by.h"
#include "common/scoped_fd.h"

namespace tally {

struct MapReadOptions {
  MapReadMethod method = MapReadMethod::kAuto;
  uint32_t batch_keys = 0;  // entries per batch; 0: what the buffer holds
};

class MapReader {
 public:
  struct Maps {
    ScopedFd totals;
    ScopedFd keys;
    ScopedFd slots;
  };

  // `num_cpus`: libbpf_num_possible_cpus(), at least 1. FAILED_PRECONDITION
  // when the maps are not of this build's layout.
  static absl::StatusOr<std::unique_ptr<MapReader>> Open(
      Maps maps, GroupBy group_by, int num_cpus, MapReadOptions options = {});

  ~MapReader();
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  // Sums every CPU. top_n == 0 skips the keys entirely.
  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const
      ABSL_LOCKS_EXCLUDED(mu_);

  GroupBy group_by() const { return group_by_; }
  int totals_fd() const { return maps_.totals.get(); }
  int keys_fd() const { return maps_.keys.get(); }
  int slots_fd() const { return maps_.slots.get(); }
  // How keys are read: kAuto until the first key read settles it.
  MapReadMethod key_read_method() const ABSL_LOCKS_EXCLUDED(mu_);
  // Memory kept between reads.
  size_t buffer_bytes() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Key = std::array<uint64_t, 2>;  // a key's bytes, zero-padded

  MapReader(Maps maps, GroupBy group_by, int num_cpus,
            const CounterMapShapes& shapes, MapReadOptions options,
            const uint8_t* slots, size_t slots_bytes);

  // Every slot of the totals, summed over the CPUs.
  absl::StatusOr<std::vector<uint64_t>> ReadTotalsLocked() const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Fills slot_counts_ with what the per-CPU slots hold, per key.
  void ReadSlotsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Maps maps_;
  const GroupBy group_by_;
  const int num_cpus_;
  const ScanShape keys_shape_;
  const uint32_t slot_entries_;
  const uint32_t slot_stride_;
  // The slots, mapped read-only.
  const uint8_t* const slots_;
  const size_t slots_bytes_;

  mutable absl::Mutex mu_;
  // Everything a read reuses; the methods learn what the kernel has.
  mutable MapScanner keys_scanner_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<Key, uint64_t> slot_counts_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<uint64_t> per_cpu_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<uint32_t> slot_keys_ ABSL_GUARDED_BY(mu_);
  // Batches over the totals array until the kernel refuses them.
  mutable bool totals_batch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_MAP_READER_H_
