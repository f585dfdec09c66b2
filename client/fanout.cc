#include "client/fanout.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace tally::cli {

std::vector<AgentOutcome> FanOut(
    const std::vector<AgentTarget>& targets, const FanoutOptions& options,
    const std::function<AgentOutcome(size_t, absl::Time)>& call) {
  std::vector<AgentOutcome> outcomes(targets.size());
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  absl::Mutex progress_mu;
  auto report = [&] {
    if (!options.progress) return;
    absl::MutexLock lock(&progress_mu);
    std::fprintf(stderr, "\r[%zu/%zu] agents answered", done.load(),
                 targets.size());
    std::fflush(stderr);
  };
  auto worker = [&] {
    for (size_t i = next++; i < targets.size(); i = next++) {
      if (!targets[i].error.empty()) {
        outcomes[i] = AgentOutcome{false, targets[i].label, targets[i].error};
      } else {
        outcomes[i] = call(i, absl::Now() + options.timeout);
        if (outcomes[i].node.empty()) outcomes[i].node = targets[i].label;
      }
      ++done;
      report();
    }
  };
  const size_t n =
      std::min<size_t>(std::max(1, options.parallel), targets.size());
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  if (options.progress) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  return outcomes;
}

std::string Summary(const std::vector<AgentOutcome>& outcomes) {
  size_t ok = 0;
  std::vector<std::string> failures;
  for (const AgentOutcome& o : outcomes) {
    if (o.ok) {
      ++ok;
    } else {
      failures.push_back(absl::StrCat(o.node, ": ", o.error));
    }
  }
  std::string out = absl::StrCat(ok, "/", outcomes.size(), " agents ok");
  if (!failures.empty())
    absl::StrAppend(&out, "; ", absl::StrJoin(failures, "; "));
  return out;
}

int ExitCode(const std::vector<AgentOutcome>& outcomes) {
  size_t ok = std::count_if(outcomes.begin(), outcomes.end(),
                            [](const AgentOutcome& o) { return o.ok; });
  if (ok == outcomes.size()) return 0;
  return ok == 0 ? 1 : 2;
}

}  // namespace tally::cli
