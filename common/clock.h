// Time as the daemon sees it, so that tests can drive TTLs and sampling
// ticks with a fake clock instead of sleeping.
#ifndef TALLY_COMMON_CLOCK_H_
#define TALLY_COMMON_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace tally {

class Clock {
 public:
  virtual ~Clock() = default;

  virtual absl::Time Now() = 0;

  // Like absl::Mutex::AwaitWithDeadline, on this clock's time: with `mu`
  // held, waits (releasing `mu`) until `cond` holds or Now() reaches
  // `deadline`. Returns whether `cond` holds.
  virtual bool AwaitWithDeadline(absl::Mutex* mu, const absl::Condition& cond,
                                 absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;

  // The system clock; never deleted.
  static Clock* Real();
};

}  // namespace tally

#endif  // TALLY_COMMON_CLOCK_H_
