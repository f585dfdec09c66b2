#include "client/fanout.h"

#include <cstdio>
#include <deque>

#include "absl/synchronization/mutex.h"

namespace tally::cli {
namespace {

// Calls that ended, waiting for the fan-out's thread.
struct Finished {
  absl::Mutex mu;
  std::deque<std::pair<size_t, AgentOutcome>> outcomes ABSL_GUARDED_BY(mu);
};

}  // namespace

std::vector<AgentOutcome> FanOut(const std::vector<AgentTarget>& targets,
                                 const FanoutOptions& options,
                                 const StartCall& start) {
  const size_t n = targets.size();
  std::vector<AgentOutcome> outcomes(n);
  std::vector<std::shared_ptr<void>> keep(n);
  const size_t limit = options.parallel == 0 ? n : options.parallel;

  Finished finished;
  size_t next = 0, in_flight = 0, done = 0;

  auto report = [&] {
    if (!options.progress) return;
    std::fprintf(stderr, "\r[%zu/%zu] agents answered", done, n);
    std::fflush(stderr);
  };
  while (done < n) {
    // Start what the bound allows; only this thread starts calls.
    while (next < n && in_flight < limit) {
      const size_t i = next++;
      if (!targets[i].error.empty()) {
        outcomes[i] = AgentOutcome{false, targets[i].label, targets[i].error};
        ++done;
        report();
        continue;
      }
      ++in_flight;
      keep[i] = start(i, [&finished, i](AgentOutcome outcome) {
        absl::MutexLock lock(&finished.mu);
        finished.outcomes.emplace_back(i, std::move(outcome));
      });
    }
    if (done == n) break;
    std::deque<std::pair<size_t, AgentOutcome>> batch;
    {
      absl::MutexLock lock(&finished.mu);
      auto any = [&]() ABSL_SHARED_LOCKS_REQUIRED(finished.mu) {
        return !finished.outcomes.empty();
      };
      finished.mu.Await(absl::Condition(&any));
      batch.swap(finished.outcomes);
    }
    for (auto& [i, outcome] : batch) {
      keep[i].reset();
      if (outcome.node.empty()) outcome.node = targets[i].label;
      outcomes[i] = std::move(outcome);
      --in_flight;
      ++done;
    }
    report();
  }
  if (options.progress) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  return outcomes;
}

}  // namespace tally::cli
