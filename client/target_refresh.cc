#include "client/target_refresh.h"

#include <utility>

namespace tally::cli {

TargetRefresh::TargetRefresh(std::string spec, absl::Duration period,
                             Callback callback)
    : spec_(std::move(spec)), period_(period), callback_(std::move(callback)) {
  if (!MayChange(spec_) || period_ == absl::InfiniteDuration()) return;
  thread_ = std::thread([this] { Run(); });
}

TargetRefresh::~TargetRefresh() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void TargetRefresh::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]()
                          ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), period_)) return;
    }
    callback_(ParseAgents(spec_));
  }
}

}  // namespace tally::cli
