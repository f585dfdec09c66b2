// The kernel's BPF statistics and a program's figures in them, and a map's
// memory as the kernel charges it: what a probe costs the node.
#ifndef TALLY_AGENT_PROBE_BPF_STATS_H_
#define TALLY_AGENT_PROBE_BPF_STATS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/probe/counter.h"

namespace tally {

// The real BpfStats: BPF_ENABLE_STATS(BPF_STATS_RUN_TIME), which the kernel
// keeps on while any fd it returned is open, or while the sysctl
// kernel.bpf_stats_enabled is 1 (which On() reads).
class KernelBpfStats : public BpfStats {
 public:
  // `sysctl_path`: tests point it elsewhere.
  explicit KernelBpfStats(
      std::string sysctl_path = "/proc/sys/kernel/bpf_stats_enabled")
      : sysctl_path_(std::move(sysctl_path)) {}
  absl::StatusOr<std::unique_ptr<BpfStatsHold>> Enable() override;
  bool On() const override;

 private:
  const std::string sysctl_path_;
};

struct ProgRunStats {
  uint64_t runs = 0;
  absl::Duration run_time;
};

// Runs and run time the kernel has recorded for the program `prog_fd`
// (while the statistics were on). INTERNAL when the kernel will not say.
absl::StatusOr<ProgRunStats> ReadProgRunStats(int prog_fd);

// The memory the kernel charges for the map `map_fd` ("memlock:" in its
// fdinfo; exact from Linux 6.5, an estimate of the same size before).
absl::StatusOr<uint64_t> MapMemlockBytes(int map_fd);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_BPF_STATS_H_
