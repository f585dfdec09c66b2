// Fakes behind the daemon's Counter seam: counters whose counts a test sets,
// and an opener that hands them out (or fails as told). No BPF, no root.
#ifndef TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_
#define TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/probe/counter.h"

namespace tally::testing {

// What a test sees of one fake counter; shared with the counter.
struct FakeCounterState {
  absl::Mutex mu;
  uint64_t total ABSL_GUARDED_BY(mu) = 0;
  std::vector<KeyCount> keys ABSL_GUARDED_BY(mu);
  bool detached ABSL_GUARDED_BY(mu) = false;
  bool destroyed ABSL_GUARDED_BY(mu) = false;
  int reads ABSL_GUARDED_BY(mu) = 0;
  int key_reads ABSL_GUARDED_BY(mu) = 0;  // reads asking for top keys
  // Counts read after Detach(): a final read must come after it.
  int reads_after_detach ABSL_GUARDED_BY(mu) = 0;
  absl::Status read_error ABSL_GUARDED_BY(mu);

  void Add(uint64_t n) {
    absl::MutexLock lock(&mu);
    if (!detached) total += n;
  }
};

class FakeCounter : public Counter {
 public:
  explicit FakeCounter(std::shared_ptr<FakeCounterState> state)
      : state_(std::move(state)) {}
  ~FakeCounter() override {
    absl::MutexLock lock(&state_->mu);
    state_->detached = true;
    state_->destroyed = true;
  }

  absl::StatusOr<CounterSnapshot> Read(size_t top_n) const override {
    absl::MutexLock lock(&state_->mu);
    ++state_->reads;
    if (top_n > 0) ++state_->key_reads;
    if (state_->detached) ++state_->reads_after_detach;
    if (!state_->read_error.ok()) return state_->read_error;
    CounterSnapshot snap;
    snap.total = state_->total;
    snap.distinct_keys = state_->keys.size();
    for (size_t i = 0; i < state_->keys.size() && i < top_n; ++i) {
      snap.top_keys.push_back(state_->keys[i]);
    }
    return snap;
  }

  void Detach() override {
    absl::MutexLock lock(&state_->mu);
    state_->detached = true;
  }

 private:
  std::shared_ptr<FakeCounterState> state_;
};

// Opens FakeCounters; remembers each by probe hook spec (latest first), and
// fails hooks the test told it to.
class FakeOpener {
 public:
  CounterOpener AsOpener() {
    return
        [this](const HookSpec& hook,
               const CounterOptions& options) -> absl::StatusOr<OpenedCounter> {
          absl::MutexLock lock(&mu_);
          ++opens_;
          const std::string spec = hook.ToSpec();
          if (auto it = failures_.find(spec); it != failures_.end()) {
            return it->second;
          }
          auto state = std::make_shared<FakeCounterState>();
          counters_[spec].push_back(state);
          OpenedCounter opened;
          opened.counter = std::make_unique<FakeCounter>(state);
          opened.attached =
              hook.point ? *hook.point
                         : AttachPoint{AttachKind::kTracepoint, "syscalls",
                                       "sys_enter_" + hook.syscall, ""};
          return opened;
        };
  }

  void FailWith(const std::string& spec, absl::Status status) {
    absl::MutexLock lock(&mu_);
    failures_[spec] = std::move(status);
  }

  // The counter most recently opened for `spec`; null if none.
  std::shared_ptr<FakeCounterState> Latest(const std::string& spec) {
    absl::MutexLock lock(&mu_);
    auto it = counters_.find(spec);
    return it == counters_.end() ? nullptr : it->second.back();
  }

  int opens() {
    absl::MutexLock lock(&mu_);
    return opens_;
  }

 private:
  absl::Mutex mu_;
  int opens_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, absl::Status> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::shared_ptr<FakeCounterState>>>
      counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_
