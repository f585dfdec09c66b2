// File descriptors for agent connections. Every agent in flight holds some
// (a TCP socket, and over TLS a socketpair to gRPC as well); a fleet of
// thousands passes the usual soft limit of 1024, after which connections
// fail one by one with "Too many open files". tallyctl raises the soft limit
// to the hard one at start, then keeps within what fits and says so up
// front when that is less than the fleet.
#ifndef TALLY_CLIENT_FD_BUDGET_H_
#define TALLY_CLIENT_FD_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace tally::cli {

// Descriptors the process needs besides its agents (stdio, gRPC's epoll and
// wakeup fds, the TLS pump's, DNS).
inline constexpr uint64_t kReservedFds = 64;

struct FdBudget {
  uint64_t soft = 0;  // RLIMIT_NOFILE in force
  uint64_t hard = 0;
  // Agent connections that fit at once, `fds_per_agent` each.
  size_t Fits(size_t fds_per_agent) const;
  // Empty when `agents` fit; otherwise what happens and how to fix it.
  std::string Warning(size_t agents, size_t fds_per_agent) const;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (as far as the kernel's
// nr_open allows) and returns the limits now in force.
FdBudget RaiseFdLimit();

}  // namespace tally::cli

#endif  // TALLY_CLIENT_FD_BUDGET_H_
