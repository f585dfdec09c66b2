// Runs one call per agent in parallel, bounded, each with its own deadline;
// a dead agent costs its deadline on one worker and never blocks the rest.
#ifndef TALLY_CLIENT_FANOUT_H_
#define TALLY_CLIENT_FANOUT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/targets.h"

namespace tally::cli {

struct FanoutOptions {
  int parallel = 32;
  absl::Duration timeout = absl::Seconds(5);
  bool progress = false;  // "[n/N] agents answered" on stderr
};

// What one agent's call produced: ok, or "CODE: message".
struct AgentOutcome {
  bool ok = false;
  std::string node;   // reported by the agent, else the target's label
  std::string error;
};

// Calls `call(i, deadline)` for every target index, at most
// options.parallel at once. Targets that failed to resolve are not called:
// their outcome is their error. Outcomes come back in target order.
std::vector<AgentOutcome> FanOut(
    const std::vector<AgentTarget>& targets, const FanoutOptions& options,
    const std::function<AgentOutcome(size_t index, absl::Time deadline)>& call);

// "3/4 agents ok; node-b: UNAVAILABLE: connection refused".
std::string Summary(const std::vector<AgentOutcome>& outcomes);

// 0 when every agent succeeded, 2 when some failed, 1 when all failed.
int ExitCode(const std::vector<AgentOutcome>& outcomes);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_FANOUT_H_
