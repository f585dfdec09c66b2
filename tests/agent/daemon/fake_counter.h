// Fakes behind the daemon's seam (agent/probe/counter.h): counters whose
// counts a test sets, and a store that opens them, fails as told, and, when
// durable, keeps them across "agent restarts" (a new ProbeManager on the
// same store). No BPF, no root.
#ifndef TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_
#define TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
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
  // Highest count first, as a real counter's top keys are.
  std::vector<KeyCount> keys ABSL_GUARDED_BY(mu);
  uint64_t dropped_keys ABSL_GUARDED_BY(mu) = 0;
  uint64_t reclaimed ABSL_GUARDED_BY(mu) = 0;
  uint64_t reclaimed_keys ABSL_GUARDED_BY(mu) = 0;
  bool detached ABSL_GUARDED_BY(mu) = false;
  bool destroyed ABSL_GUARDED_BY(mu) = false;
  int reads ABSL_GUARDED_BY(mu) = 0;
  int key_reads ABSL_GUARDED_BY(mu) = 0;  // reads asking for top keys
  // Counts read after Detach(): a final read must come after it.
  int reads_after_detach ABSL_GUARDED_BY(mu) = 0;
  absl::Status read_error ABSL_GUARDED_BY(mu);
  CounterCost cost ABSL_GUARDED_BY(mu);
  int cost_reads ABSL_GUARDED_BY(mu) = 0;

  // Events happen: counted unless detached.
  void Add(uint64_t n) {
    absl::MutexLock lock(&mu);
    if (!detached) total += n;
  }
};

class FakeCounter : public Counter {
 public:
  // `keeps_counting`: destroying it (an agent exiting) leaves it attached,
  // as a pinned link does.
  explicit FakeCounter(std::shared_ptr<FakeCounterState> state,
                       bool keeps_counting = false)
      : state_(std::move(state)), keeps_counting_(keeps_counting) {}
  ~FakeCounter() override {
    absl::MutexLock lock(&state_->mu);
    if (!keeps_counting_) state_->detached = true;
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
    snap.dropped_keys = state_->dropped_keys;
    snap.reclaimed = state_->reclaimed;
    snap.reclaimed_keys = state_->reclaimed_keys;
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

  absl::StatusOr<CounterCost> Cost() const override {
    absl::MutexLock lock(&state_->mu);
    ++state_->cost_reads;
    if (!state_->read_error.ok()) return state_->read_error;
    return state_->cost;
  }

 private:
  std::shared_ptr<FakeCounterState> state_;
  const bool keeps_counting_;
};

// BPF statistics a test switches: how many holds are alive, and whether
// Enable() fails.
class FakeBpfStats : public BpfStats {
 public:
  absl::StatusOr<std::unique_ptr<BpfStatsHold>> Enable() override {
    absl::MutexLock lock(&state_->mu);
    if (!state_->enable_error.ok()) return state_->enable_error;
    ++state_->holds;
    ++state_->enables;
    return std::make_unique<Hold>(state_);
  }
  bool On() const override {
    absl::MutexLock lock(&state_->mu);
    return state_->holds > 0 || state_->sysctl;
  }
  int holds() const {
    absl::MutexLock lock(&state_->mu);
    return state_->holds;
  }
  int enables() const {
    absl::MutexLock lock(&state_->mu);
    return state_->enables;
  }
  void FailWith(absl::Status s) {
    absl::MutexLock lock(&state_->mu);
    state_->enable_error = std::move(s);
  }
  void SetSysctl(bool on) {
    absl::MutexLock lock(&state_->mu);
    state_->sysctl = on;
  }

 private:
  struct State {
    absl::Mutex mu;
    int holds ABSL_GUARDED_BY(mu) = 0;
    int enables ABSL_GUARDED_BY(mu) = 0;
    bool sysctl ABSL_GUARDED_BY(mu) = false;
    absl::Status enable_error ABSL_GUARDED_BY(mu);
  };
  class Hold : public BpfStatsHold {
   public:
    explicit Hold(std::shared_ptr<State> s) : s_(std::move(s)) {}
    ~Hold() override {
      absl::MutexLock lock(&s_->mu);
      --s_->holds;
    }

   private:
    std::shared_ptr<State> s_;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class FakeStore : public ProbeStore {
 public:
  // `durable`: probes outlive a manager, with links "pinned" (counting on)
  // unless SetLinksPinned(false).
  explicit FakeStore(bool durable = false) : durable_(durable) {}

  absl::StatusOr<OpenedCounter> Open(const HookSpec& hook,
                                     ProbeRecord* record) override {
    absl::MutexLock lock(&mu_);
    ++opens_;
    const std::string spec = hook.ToSpec();
    if (auto it = failures_.find(spec); it != failures_.end()) {
      return it->second;
    }
    auto state = std::make_shared<FakeCounterState>();
    counters_[spec].push_back(state);
    record->attached = hook.point
                           ? *hook.point
                           : AttachPoint{AttachKind::kTracepoint, "syscalls",
                                         "sys_enter_" + hook.syscall, ""};
    if (durable_) kept_[record->name] = {*record, state};
    OpenedCounter opened;
    opened.counter =
        std::make_unique<FakeCounter>(state, durable_ && links_pinned_);
    opened.attached = record->attached;
    return opened;
  }

  absl::Status Update(const ProbeRecord& record) override {
    absl::MutexLock lock(&mu_);
    if (durable_) kept_[record.name].record = record;
    return absl::OkStatus();
  }

  absl::Status Remove(const std::string& name) override {
    absl::MutexLock lock(&mu_);
    removed_.push_back(name);
    kept_.erase(name);
    return absl::OkStatus();
  }

  absl::Status Retire(const ProbeRecord& record) override {
    absl::MutexLock lock(&mu_);
    if (durable_) kept_[record.name] = {record, nullptr, /*ended=*/true};
    return absl::OkStatus();
  }

  Adoption AdoptAll() override {
    absl::MutexLock lock(&mu_);
    Adoption out;
    out.warnings = warnings_;
    for (auto& [name, kept] : kept_) {
      AdoptedProbe a;
      a.record = kept.record;
      if (kept.ended) {
        a.ended = true;
        out.probes.push_back(std::move(a));
        continue;
      }
      if (auto it = adopt_problems_.find(name); it != adopt_problems_.end()) {
        a.problem = it->second;
        out.probes.push_back(std::move(a));
        continue;
      }
      if (reopen_.count(name) > 0) {
        a.must_reopen = true;
        a.continuity = "counts restarted: another map layout";
        out.probes.push_back(std::move(a));
        continue;
      }
      if (links_pinned_) {
        a.continuity = "counted throughout (pinned link)";
      } else {
        // Re-attached: nothing counted from the last sign of life to now.
        UncountedWindow w{last_alive_, adopt_time_, "fake: link not pinned"};
        a.record.uncounted.push_back(w);
        kept.record.uncounted.push_back(w);
        a.continuity = "re-attached to its maps";
        absl::MutexLock state_lock(&kept.state->mu);
        kept.state->detached = false;
      }
      a.counter = std::make_unique<FakeCounter>(kept.state, links_pinned_);
      out.probes.push_back(std::move(a));
    }
    return out;
  }

  void MarkAlive(absl::Time now) override {
    absl::MutexLock lock(&mu_);
    last_alive_ = now;
  }

  bool durable() const override { return durable_; }

  // Test controls.
  void FailWith(const std::string& spec, absl::Status status) {
    absl::MutexLock lock(&mu_);
    failures_[spec] = std::move(status);
  }
  void SetLinksPinned(bool pinned) {
    absl::MutexLock lock(&mu_);
    links_pinned_ = pinned;
  }
  // When AdoptAll happens, for windows of unpinned links.
  void SetAdoptTime(absl::Time t) {
    absl::MutexLock lock(&mu_);
    adopt_time_ = t;
  }
  void FailAdoption(const std::string& name, absl::Status problem) {
    absl::MutexLock lock(&mu_);
    adopt_problems_[name] = std::move(problem);
  }
  void MustReopen(const std::string& name) {
    absl::MutexLock lock(&mu_);
    reopen_.insert(name);
  }
  void AddWarning(std::string w) {
    absl::MutexLock lock(&mu_);
    warnings_.push_back(std::move(w));
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
  bool Kept(const std::string& name) {
    absl::MutexLock lock(&mu_);
    return kept_.count(name) > 0;
  }
  std::vector<std::string> removed() {
    absl::MutexLock lock(&mu_);
    return removed_;
  }
  absl::Time last_alive() {
    absl::MutexLock lock(&mu_);
    return last_alive_;
  }

 private:
  struct KeptProbe {
    ProbeRecord record;
    std::shared_ptr<FakeCounterState> state;
    bool ended = false;  // Retire()d: the record alone
  };

  const bool durable_;
  absl::Mutex mu_;
  bool links_pinned_ ABSL_GUARDED_BY(mu_) = true;
  int opens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_alive_ ABSL_GUARDED_BY(mu_);
  absl::Time adopt_time_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> adopt_problems_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> reopen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, KeptProbe> kept_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> removed_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::shared_ptr<FakeCounterState>>>
      counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_AGENT_DAEMON_FAKE_COUNTER_H_
