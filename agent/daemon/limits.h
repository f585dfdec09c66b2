// The agent's limits: every request past one gets a clear error.
#ifndef TALLY_AGENT_DAEMON_LIMITS_H_
#define TALLY_AGENT_DAEMON_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace tally {

struct AgentLimits {
  uint32_t max_probes = 64;     // RESOURCE_EXHAUSTED past it
  uint32_t max_watchers = 128;  // RESOURCE_EXHAUSTED past it
  uint32_t max_keys = 65536;    // per probe; INVALID_ARGUMENT past it
  uint32_t default_keys = 10240;
  uint32_t max_top_n = 100;  // INVALID_ARGUMENT past it
  absl::Duration min_interval = absl::Milliseconds(100);
  absl::Duration default_interval = absl::Seconds(1);
  uint32_t max_queued_operations = 256;  // pending start/stop calls
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_LIMITS_H_
