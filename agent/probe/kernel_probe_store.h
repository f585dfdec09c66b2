// The real ProbeStore: resolves a hook against this kernel, loads and
// attaches the CO-RE counter. With a pin directory (durable) each probe is
// pinned there and re-adopted by the next agent; without one, probes end
// with the agent.
#ifndef TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_
#define TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_

#include "agent/probe/counter.h"
#include "agent/probe/kernel_features.h"
#include "agent/probe/map_reader.h"

namespace tally {

class KernelProbeStore : public ProbeStore {
 public:
  // `features` must outlive the store. `read_options` choose how the
  // counters' maps are read (map_reader.h).
  explicit KernelProbeStore(const KernelFeatures* features,
                            MapReadOptions read_options = {})
      : features_(features), read_options_(read_options) {}

  absl::StatusOr<OpenedCounter> Open(const HookSpec& hook,
                                     ProbeRecord* record) override;
  absl::Status Update(const ProbeRecord&) override { return absl::OkStatus(); }
  absl::Status Remove(const std::string&) override { return absl::OkStatus(); }
  Adoption AdoptAll() override { return {}; }
  void MarkAlive(absl::Time) override {}
  bool durable() const override { return false; }

 private:
  const KernelFeatures* const features_;
  const MapReadOptions read_options_;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_
