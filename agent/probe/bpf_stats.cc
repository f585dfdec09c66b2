#include "agent/probe/bpf_stats.h"

#include <bpf/bpf.h>
#include <errno.h>

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/probe/privileges.h"
#include "common/scoped_fd.h"

namespace tally {
namespace {

class FdHold : public BpfStatsHold {
 public:
  explicit FdHold(ScopedFd fd) : fd_(std::move(fd)) {}

 private:
  ScopedFd fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpfStatsHold>> KernelBpfStats::Enable() {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(
          "turning on BPF run-time statistics needs CAP_SYS_ADMIN (",
          ErrnoName(err),
          "); the sysctl kernel.bpf_stats_enabled=1 turns them on for "
          "everyone"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "turning on BPF run-time statistics failed: ", ErrnoName(err)));
  }
  return std::make_unique<FdHold>(ScopedFd(fd));
}

bool KernelBpfStats::On() const {
  std::ifstream in(sysctl_path_);
  int value = 0;
  return in >> value && value != 0;
}

absl::StatusOr<ProgRunStats> ReadProgRunStats(int prog_fd) {
  bpf_prog_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0) {
    return absl::InternalError(absl::StrCat(
        "reading a program's statistics failed: ", ErrnoName(errno)));
  }
  return ProgRunStats{info.run_cnt,
                      absl::Nanoseconds(static_cast<int64_t>(info.run_time_ns))};
}

absl::StatusOr<uint64_t> MapMemlockBytes(int map_fd) {
  std::ifstream in(absl::StrCat("/proc/self/fdinfo/", map_fd));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "memlock:")) continue;
    uint64_t bytes = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &bytes)) {
      return bytes;
    }
  }
  return absl::InternalError(
      absl::StrCat("no memlock in the fdinfo of map fd ", map_fd));
}

}  // namespace tally
