// One call per agent, all in flight at once (asynchronous, gRPC's callback
// API: no thread per call), each with its own deadline; a fan-out takes
// about the slowest agent's answer or --timeout, however many agents hang.
// The only bounds are file descriptors (fd_budget.h) and --parallel.
#ifndef TALLY_CLIENT_FANOUT_H_
#define TALLY_CLIENT_FANOUT_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "client/outcome.h"
#include "client/targets.h"

namespace tally::cli {

struct FanoutOptions {
  // Most calls in flight at once; 0: no bound but file descriptors.
  size_t parallel = 0;
  absl::Duration timeout = absl::Seconds(5);
  bool progress = false;  // "[n/N] agents answered" on stderr
};

// Reports one call's outcome; any thread, exactly once per call.
using CallDone = std::function<void(AgentOutcome)>;

// Starts the call to target `index` (each agent gets options.timeout to
// answer) and returns at once with whatever the call needs kept alive
// (channel, context, ...). FanOut holds that until `done` has run and then
// lets it go on its own thread, never inside a gRPC callback.
using StartCall =
    std::function<std::shared_ptr<void>(size_t index, CallDone done)>;

// Starts every target's call, at most options.parallel at once (0: all),
// and waits for all of them. Targets that failed to resolve are not called:
// their outcome is their error. A call that reports `retry` is started
// again once another call has finished (and fewer go at once from then on:
// resources come back a little after their calls end); after
// kMaxStartAttempts its error stands. Outcomes come back in target order;
// a failed agent's node is its label.
inline constexpr int kMaxStartAttempts = 50;
std::vector<AgentOutcome> FanOut(const std::vector<AgentTarget>& targets,
                                 const FanoutOptions& options,
                                 const StartCall& start);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_FANOUT_H_
