// One tallyd per resource (a socket path, a pin directory): an flock on a
// file beside it, held for the life of the process and released by the
// kernel however the process ends, so a killed agent never blocks the next.
#ifndef TALLY_AGENT_DAEMON_INSTANCE_LOCK_H_
#define TALLY_AGENT_DAEMON_INSTANCE_LOCK_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/scoped_fd.h"

namespace tally {

class InstanceLock {
 public:
  // Locks `lock_path` (created if missing; never deleted: unlinking a held
  // lock file would let a second agent lock a new one). FAILED_PRECONDITION
  // naming the holder's pid when another process holds it; `what` says what
  // the lock guards, for that message.
  static absl::StatusOr<InstanceLock> Acquire(const std::string& lock_path,
                                              const std::string& what);

  InstanceLock(InstanceLock&&) = default;
  InstanceLock& operator=(InstanceLock&&) = default;

 private:
  explicit InstanceLock(ScopedFd fd) : fd_(std::move(fd)) {}
  ScopedFd fd_;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_INSTANCE_LOCK_H_
