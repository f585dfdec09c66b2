#include "client/fd_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace tally::cli {

size_t FdBudget::Fits(size_t fds_per_agent) const {
  if (soft <= kReservedFds) return 0;
  return static_cast<size_t>((soft - kReservedFds) /
                             std::max<size_t>(1, fds_per_agent));
}

std::string FdBudget::Warning(size_t agents, size_t fds_per_agent) const {
  const size_t fits = Fits(fds_per_agent);
  if (agents <= fits) return "";
  const uint64_t need = agents * fds_per_agent + kReservedFds;
  return absl::StrCat(agents, " agents need about ", need,
                      " file descriptors and the limit is ", soft,
                      soft < hard ? absl::StrCat(" (hard limit ", hard, ")")
                                  : " (also the hard limit)",
                      ": at most ", fits,
                      " agents are connected at once; raise it (ulimit -n ",
                      need, ", or LimitNOFILE= for a systemd unit)");
}

FdBudget RaiseFdLimit() {
  FdBudget budget;
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return budget;
  rlim_t target = limit.rlim_max;
  // An unlimited hard limit still stops at fs.nr_open.
  if (target == RLIM_INFINITY) {
    uint64_t nr_open = 1 << 20;
    std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
    target = nr_open;
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < target) {
    rlimit raised = limit;
    raised.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  budget.soft = limit.rlim_cur;
  budget.hard = limit.rlim_max;
  return budget;
}

}  // namespace tally::cli
