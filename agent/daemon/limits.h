// The agent's limits: every request past one gets a clear error.
#ifndef TALLY_AGENT_DAEMON_LIMITS_H_
#define TALLY_AGENT_DAEMON_LIMITS_H_

#include <cstdint>

#include "absl/status/status.h"
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

// The ranges an operator may set (tallyd's flags), so that nonsense such as
// --max_keys=0 is refused at start rather than breaking every request.
inline constexpr uint32_t kMaxProbesCeiling = 4096;
inline constexpr uint32_t kMaxWatchersCeiling = 65536;
inline constexpr uint32_t kMaxKeysCeiling = 1 << 20;
inline constexpr absl::Duration kMinIntervalFloor = absl::Milliseconds(10);
inline constexpr absl::Duration kMinIntervalCeiling = absl::Minutes(10);

// INVALID_ARGUMENT naming the flag and what is allowed.
absl::Status ValidateLimits(const AgentLimits& limits);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_LIMITS_H_
