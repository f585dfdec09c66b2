#include "client/fanout.h"

#include <algorithm>
#include <cstdio>
#include <deque>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

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
  std::vector<int> attempts(n, 0);
  size_t limit = options.parallel == 0 ? n : options.parallel;

  Finished finished;
  std::deque<size_t> to_start;
  for (size_t i = 0; i < n; ++i) to_start.push_back(i);
  size_t in_flight = 0, done = 0;

  auto report = [&] {
    if (!options.progress) return;
    std::fprintf(stderr, "\r[%zu/%zu] agents answered", done, n);
    std::fflush(stderr);
  };
  while (done < n) {
    // Start what the bound allows; only this thread starts calls.
    while (!to_start.empty() && in_flight < limit) {
      const size_t i = to_start.front();
      to_start.pop_front();
      if (!targets[i].error.empty()) {
        outcomes[i] = AgentOutcome{false, targets[i].label, targets[i].error};
        ++done;
        report();
        continue;
      }
      ++in_flight;
      ++attempts[i];
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
    bool retried = false;
    for (auto& [i, outcome] : batch) {
      keep[i].reset();
      --in_flight;
      if (outcome.retry && attempts[i] < kMaxStartAttempts) {
        // Out of descriptors: what fits is fewer than we thought, and the
        // ones just finished come back shortly.
        to_start.push_front(i);
        limit = std::max<size_t>(1, in_flight);
        retried = true;
        continue;
      }
      outcome.retry = false;
      if (outcome.node.empty()) outcome.node = targets[i].label;
      outcomes[i] = std::move(outcome);
      ++done;
    }
    if (retried && in_flight == 0) {
      // Nothing in flight to wait for: give closed descriptors a moment.
      absl::SleepFor(absl::Milliseconds(20));
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
