// Visits every entry of a BPF hash map from its fd: BPF_MAP_LOOKUP_BATCH
// where the kernel has it (5.6+), many entries per syscall, else the
// classic walk (get_next_key + lookup, two syscalls per entry). Entries land
// in buffers the caller keeps, so steady-state scans allocate nothing.
#ifndef TALLY_AGENT_PROBE_MAP_SCAN_H_
#define TALLY_AGENT_PROBE_MAP_SCAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

enum class MapReadMethod {
  kAuto,   // batches; the walk for good if the kernel refuses them
  kBatch,  // batches only (fails where the kernel lacks them)
  kWalk,   // the pre-5.6 path, also for lookup-and-delete (pre-5.14)
};

absl::string_view MapReadMethodName(MapReadMethod method);
// "auto", "batch", "walk"; INVALID_ARGUMENT otherwise.
absl::StatusOr<MapReadMethod> ParseMapReadMethod(absl::string_view name);

// True for the errnos a kernel gives for a bpf() command or map operation
// it does not have (EINVAL for unknown commands, ENOTSUPP, EOPNOTSUPP).
bool IsUnsupportedErrno(int err);

// Bytes a scan's buffers may hold: bounds a probe's reading memory whatever
// its key count (entries per batch shrink as CPUs grow).
inline constexpr size_t kScanBufferBytes = 64 * 1024;

struct ScanShape {
  uint32_t key_size = 0;
  // Bytes of one entry's value as bpf() returns it: value_size, or for
  // per-CPU maps round_up(value_size, 8) for every possible CPU.
  uint32_t value_stride = 0;
  uint32_t max_entries = 0;
};

class MapScanner {
 public:
  // `batch_keys`: entries per batch; 0: as many as kScanBufferBytes hold.
  explicit MapScanner(MapReadMethod method, uint32_t batch_keys = 0)
      : method_(method), batch_keys_(batch_keys) {}

  // Calls fn(key, value) for each entry; `value` has shape.value_stride
  // bytes. The map must not lose entries during the scan except through
  // this scanner's owner (a walk restarts at a deleted key).
  absl::Status Scan(
      int fd, const ScanShape& shape,
      absl::FunctionRef<void(const uint8_t* key, const uint8_t* value)> fn);

  // kBatch or kWalk once a scan has settled it; kAuto before.
  MapReadMethod method() const { return method_; }
  // What the buffers hold now.
  size_t buffer_bytes() const { return keys_.capacity() + values_.capacity(); }

 private:
  absl::Status ScanBatches(
      int fd, const ScanShape& shape, bool* unsupported,
      absl::FunctionRef<void(const uint8_t*, const uint8_t*)> fn);
  absl::Status Walk(int fd, const ScanShape& shape,
                    absl::FunctionRef<void(const uint8_t*, const uint8_t*)> fn);

  MapReadMethod method_;
  uint32_t batch_keys_;
  std::vector<uint8_t> keys_;
  std::vector<uint8_t> values_;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_MAP_SCAN_H_
