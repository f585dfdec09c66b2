// Checks that a requested pid exists as the host sees it, wherever tallyd
// runs: in the host's PID namespace through /proc, in a pod's own namespace
// through the host's /proc mounted elsewhere (--host_proc).
#ifndef TALLY_AGENT_DAEMON_HOST_PIDS_H_
#define TALLY_AGENT_DAEMON_HOST_PIDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace tally {

class HostPids {
 public:
  // `proc_root`: a procfs of the host's PID namespace; "/proc" when tallyd
  // shares it. Detects once whether it can see host pids.
  explicit HostPids(std::string proc_root);

  // OK when host pid `pid` exists; NOT_FOUND naming `node` when it does not;
  // FAILED_PRECONDITION saying how to fix it when this agent cannot see
  // host pids (its own PID namespace and no host /proc).
  absl::Status Check(uint32_t pid, const std::string& node) const;

  bool sees_host_pids() const { return sees_host_pids_; }

 private:
  std::string proc_root_;
  bool sees_host_pids_ = true;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_HOST_PIDS_H_
