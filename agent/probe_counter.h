// What the agent needs of a counter: read it. Implemented by CounterProbe;
// tests substitute fakes so the agent's logic runs without BPF.
#ifndef TALLY_AGENT_PROBE_COUNTER_H_
#define TALLY_AGENT_PROBE_COUNTER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/counter_reader.h"
#include "agent/hook_spec.h"

namespace tally {

class ProbeCounter {
 public:
  virtual ~ProbeCounter() = default;  // detaches
  virtual absl::StatusOr<CounterSnapshot> Read(size_t top_n) const = 0;
  // Stops counting now; Read() keeps working and returns the final counts.
  virtual void Detach() = 0;
};

struct CounterOptions;

struct OpenedCounter {
  std::unique_ptr<ProbeCounter> counter;
  AttachPoint attached;  // where it really attached
  std::string note;      // why that mechanism (syscall: alias)
};

// Resolves and attaches; slow (BPF load and verification).
using CounterOpener = std::function<absl::StatusOr<OpenedCounter>(
    const HookSpec& hook, const CounterOptions& options)>;

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_COUNTER_H_
