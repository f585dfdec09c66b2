#include "common/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/scoped_fd.h"

namespace tally {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  auto failed = [&](int err) {
    std::string what = absl::StrCat("cannot read ", path, ": ", strerror(err));
    switch (err) {
      case ENOENT:
        return absl::NotFoundError(what);
      case EACCES:
      case EPERM:
        return absl::PermissionDeniedError(what);
      default:
        return absl::FailedPreconditionError(what);
    }
  };
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return failed(errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return failed(errno);
  if (S_ISDIR(st.st_mode)) return failed(EISDIR);
  std::string contents;
  char buf[16384];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return failed(errno);
    }
    if (n == 0) break;
    contents.append(buf, n);
  }
  return contents;
}

}  // namespace tally
