#include "agent/probe/tracefs.h"

#include <errno.h>
#include <sys/mount.h>
#include <unistd.h>

#include "absl/base/const_init.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/probe/privileges.h"

namespace tally {
namespace {

// libbpf (1.1) prefers debugfs's tracing directory when it exists, so look
// there first to agree with it.
constexpr const char* kDebugfsTracing = "/sys/kernel/debug/tracing";
constexpr const char* kTracefs = "/sys/kernel/tracing";

ABSL_CONST_INIT absl::Mutex mount_mu(absl::kConstInit);

bool HasEvents(const std::string& dir) {
  return access((dir + "/events").c_str(), F_OK) == 0;
}

}  // namespace

absl::StatusOr<std::string> EnsureTracefs() {
  absl::MutexLock lock(&mount_mu);
  if (access(kDebugfsTracing, F_OK) == 0) {
    if (HasEvents(kDebugfsTracing)) return std::string(kDebugfsTracing);
    return absl::FailedPreconditionError(
        absl::StrCat(kDebugfsTracing,
                     " exists but has no events directory, and libbpf "
                     "reads tracepoint ids there; mount tracefs on it"));
  }
  if (HasEvents(kTracefs)) {
    return std::string(kTracefs);
  }
  if (mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0) {
    int err = errno;
    std::string how = absl::StrCat("tracefs is not mounted and mounting it at ",
                                   kTracefs, " failed (", ErrnoName(err),
                                   "); mount it with 'mount -t tracefs nodev ",
                                   kTracefs, "'");
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(
          absl::StrCat(how, " or give tallyd CAP_SYS_ADMIN"));
    }
    return absl::FailedPreconditionError(how);
  }
  if (!HasEvents(kTracefs)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "mounted tracefs at ", kTracefs, " but it has no events directory"));
  }
  return std::string(kTracefs);
}

}  // namespace tally
