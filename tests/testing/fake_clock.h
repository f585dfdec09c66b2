// A Clock that moves only when a test says so. Waiters blocked in
// AwaitWithDeadline re-check their deadline on every Advance().
#ifndef TALLY_TESTS_TESTING_FAKE_CLOCK_H_
#define TALLY_TESTS_TESTING_FAKE_CLOCK_H_

#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace tally::testing {

class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}

  absl::Time Now() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  bool AwaitWithDeadline(absl::Mutex* waiter_mu, const absl::Condition& cond,
                         absl::Time deadline) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(waiter_mu) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      ++waiters_[waiter_mu];
    }
    auto ready = [&] { return cond.Eval() || Now() >= deadline; };
    waiter_mu->Await(absl::Condition(&ready));
    {
      absl::MutexLock lock(&mu_);
      if (--waiters_[waiter_mu] == 0) waiters_.erase(waiter_mu);
    }
    return cond.Eval();
  }

  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<absl::Mutex*> wake;
    {
      absl::MutexLock lock(&mu_);
      now_ += d;
      for (const auto& [m, n] : waiters_) wake.push_back(m);
    }
    // Releasing a mutex makes absl re-evaluate its waiters' conditions.
    for (absl::Mutex* m : wake) {
      m->Lock();
      m->Unlock();
    }
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::map<absl::Mutex*, int> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_FAKE_CLOCK_H_
