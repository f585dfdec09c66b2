#include "agent/daemon/host_pids.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pid_namespace.h"

namespace tally {

HostPids::HostPids(std::string proc_root) : proc_root_(std::move(proc_root)) {
  // Nested, a procfs shows this process's tgid at every level from its own
  // namespace down: more than one level means it is an outer (the host's).
  sees_host_pids_ = InInitialPidNamespace() ||
                    SelfNamespaceTgids(proc_root_).size() > 1;
}

absl::Status HostPids::Check(uint32_t pid, const std::string& node) const {
  if (!sees_host_pids_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tallyd on node ", node, " runs in its own PID namespace and cannot "
        "check host pid ", pid, ": give it the host's /proc with --host_proc "
        "(the DaemonSet mounts it at /host/proc), or run it with hostPID"));
  }
  if (access(absl::StrCat(proc_root_, "/", pid).c_str(), F_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("no process with pid ", pid, " on node ", node));
  }
  return absl::OkStatus();
}

}  // namespace tally
