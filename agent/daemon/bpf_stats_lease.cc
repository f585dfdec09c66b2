#include "agent/daemon/bpf_stats_lease.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace tally {

absl::StatusOr<BpfStatsMode> ParseBpfStatsMode(absl::string_view text) {
  if (text == "off") return BpfStatsMode::kOff;
  if (text == "on_demand") return BpfStatsMode::kOnDemand;
  if (text == "always") return BpfStatsMode::kAlways;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "' is not a BPF statistics mode; use off, on_demand or always"));
}

BpfStatsLease::BpfStatsLease(BpfStats* stats, BpfStatsMode mode,
                             absl::Duration hold, Clock* clock)
    : stats_(stats), mode_(mode), hold_(hold), clock_(clock) {
  if (stats_ == nullptr) return;
  if (mode_ == BpfStatsMode::kAlways) {
    absl::MutexLock lock(&mu_);
    EnableLocked();
  } else if (mode_ == BpfStatsMode::kOnDemand) {
    thread_ = std::thread([this] { Run(); });
  }
}

BpfStatsLease::~BpfStatsLease() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void BpfStatsLease::EnableLocked() {
  if (held_ != nullptr) return;
  absl::StatusOr<std::unique_ptr<BpfStatsHold>> hold = stats_->Enable();
  if (!hold.ok()) {
    // Said once per distinct reason: a scrape every second must not log.
    if (problem_ != hold.status().message()) {
      problem_ = std::string(hold.status().message());
      LOG(WARNING) << "BPF run-time statistics stay off: " << problem_;
    }
    return;
  }
  problem_.clear();
  held_ = *std::move(hold);
  held_since_ = clock_->Now();
  LOG(INFO) << "BPF run-time statistics on"
            << (mode_ == BpfStatsMode::kAlways
                    ? " (--bpf_stats=always)"
                    : absl::StrCat(" while asked for, and for ",
                                   absl::FormatDuration(hold_), " after"));
}

void BpfStatsLease::Ask() {
  if (stats_ == nullptr || mode_ != BpfStatsMode::kOnDemand) return;
  absl::MutexLock lock(&mu_);
  expires_ = clock_->Now() + hold_;
  if (held_ == nullptr) {
    EnableLocked();
    woken_ = true;  // a new expiry to wait for
  }
}

BpfStatsLease::State BpfStatsLease::state() const {
  State s;
  {
    absl::MutexLock lock(&mu_);
    s.held_since = held_ != nullptr ? held_since_ : absl::InfinitePast();
    s.problem = problem_;
    s.on = held_ != nullptr;
  }
  if (!s.on && stats_ != nullptr) s.on = stats_->On();
  return s;
}

void BpfStatsLease::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    const absl::Time wake =
        held_ != nullptr ? expires_ : absl::InfiniteFuture();
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return woken_ || stop_;
    };
    clock_->AwaitWithDeadline(&mu_, absl::Condition(&woken), wake);
    woken_ = false;
    if (held_ != nullptr && clock_->Now() >= expires_) {
      held_.reset();
      held_since_ = absl::InfinitePast();
      LOG(INFO) << "BPF run-time statistics off: nobody asked for "
                << absl::FormatDuration(hold_);
    }
  }
}

}  // namespace tally
