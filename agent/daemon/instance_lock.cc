#include "agent/daemon/instance_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tally {

absl::StatusOr<InstanceLock> InstanceLock::Acquire(const std::string& lock_path,
                                                   const std::string& what) {
  ScopedFd fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open the lock file ", lock_path, ": ", std::strerror(errno)));
  }
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot lock ", lock_path, ": ", std::strerror(errno)));
    }
    char buf[32] = {};
    ssize_t n = pread(fd.get(), buf, sizeof(buf) - 1, 0);
    int pid = 0;
    std::string holder = "another process";
    if (n > 0 && absl::SimpleAtoi(absl::StripAsciiWhitespace(buf), &pid)) {
      holder = absl::StrCat("another tallyd (pid ", pid, ")");
    }
    return absl::FailedPreconditionError(absl::StrCat(
        holder, " already serves ", what, " (it holds ", lock_path,
        "); stop it first, or give this agent its own --listen"));
  }
  // Who holds it, for the message another agent prints.
  std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd.get(), 0) != 0 ||
      pwrite(fd.get(), pid.data(), pid.size(), 0) !=
          static_cast<ssize_t>(pid.size())) {
    // Only the message suffers; the lock is what matters.
  }
  return InstanceLock(std::move(fd));
}

}  // namespace tally
