// What one agent's call (or stream) came to, and the fleet-wide summary of
// them: readable at any fleet size, since identical failures are grouped.
#ifndef TALLY_CLIENT_OUTCOME_H_
#define TALLY_CLIENT_OUTCOME_H_

#include <cstddef>
#include <string>
#include <vector>

namespace tally::cli {

// Ok, or "CODE: message".
struct AgentOutcome {
  bool ok = false;
  std::string node;  // reported by the agent, else the target's label
  std::string error;
  // The call could not start for want of a resource that calls in flight
  // give back (file descriptors): FanOut starts it again later.
  bool retry = false;
};

// Agents that failed the same way (the same words; numbers such as
// durations may differ): the first one's `error` with the agent's own name
// taken out where it appeared, and who they are.
struct FailureGroup {
  std::string error;
  std::vector<std::string> nodes;
};

// Failed outcomes grouped by error, in order of first appearance.
std::vector<FailureGroup> GroupFailures(
    const std::vector<AgentOutcome>& outcomes);

// "error" for one agent ("node: error"), or "error (N agents: a, b, c and
// K more)" for many. At most kNamesPerGroup names.
inline constexpr size_t kNamesPerGroup = 3;
std::string DescribeGroup(const FailureGroup& group);

// "3/4 agents ok; node-b: UNAVAILABLE: connection refused"; with many
// failures, one entry per distinct error (at most kGroupsInSummary, then how
// many more), so its length does not grow with the fleet.
inline constexpr size_t kGroupsInSummary = 5;
std::string Summary(const std::vector<AgentOutcome>& outcomes);

// 0 when every agent succeeded, 2 when some failed, 1 when all failed.
int ExitCode(const std::vector<AgentOutcome>& outcomes);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_OUTCOME_H_
