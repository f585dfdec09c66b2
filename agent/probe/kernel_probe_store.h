// The real ProbeStore: resolves a hook against this kernel, loads and
// attaches the CO-RE counter. With a PinRoot (durable) each probe is pinned
// in its own bpffs directory with its record, and the next agent re-adopts
// it: still counting where its link was pinned, re-attached to its maps
// (and the gap reported) where the kernel could not pin that link. Without
// one, probes end with the agent.
#ifndef TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_
#define TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_

#include <memory>
#include <string>

#include "agent/probe/counter.h"
#include "agent/probe/kernel_features.h"
#include "agent/probe/map_reader.h"
#include "agent/probe/pin_root.h"

namespace tally {

class KernelProbeStore : public ProbeStore {
 public:
  // `features` must outlive the store. `read_options` choose how the
  // counters' maps are read (map_reader.h). `pins`: where probes outlive
  // the agent; null: they do not.
  explicit KernelProbeStore(const KernelFeatures* features,
                            MapReadOptions read_options = {},
                            std::unique_ptr<PinRoot> pins = nullptr)
      : features_(features),
        read_options_(read_options),
        pins_(std::move(pins)) {}

  absl::StatusOr<OpenedCounter> Open(const HookSpec& hook,
                                     ProbeRecord* record) override;
  absl::Status Update(const ProbeRecord& record) override;
  absl::Status Remove(const std::string& name) override;
  absl::Status Retire(const ProbeRecord& record) override;
  Adoption AdoptAll() override;
  void MarkAlive(absl::Time now) override;
  bool durable() const override { return pins_ != nullptr; }

 private:
  // One pinned probe, as found at start-up.
  AdoptedProbe Adopt(const std::string& name, absl::Time now,
                     absl::Time last_alive);

  const KernelFeatures* const features_;
  const MapReadOptions read_options_;
  const std::unique_ptr<PinRoot> pins_;
};

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_KERNEL_PROBE_STORE_H_
