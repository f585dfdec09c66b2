// Re-reads --agents while a watch runs, so that pods added behind a
// headless Service, lines added to an @FILE, and names that did not resolve
// at first are picked up. On its own thread: a DNS lookup may take seconds
// and must not hold up the watch.
#ifndef TALLY_CLIENT_TARGET_REFRESH_H_
#define TALLY_CLIENT_TARGET_REFRESH_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/targets.h"

namespace tally::cli {

class TargetRefresh {
 public:
  using Callback =
      std::function<void(absl::StatusOr<std::vector<AgentTarget>>)>;

  // Parses `spec` every `period` and hands each result to `callback` (on
  // this object's thread). Nothing happens when `spec` cannot change.
  TargetRefresh(std::string spec, absl::Duration period, Callback callback);
  // Stops the thread (waiting for a lookup in progress).
  ~TargetRefresh();

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string spec_;
  const absl::Duration period_;
  const Callback callback_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tally::cli

#endif  // TALLY_CLIENT_TARGET_REFRESH_H_
