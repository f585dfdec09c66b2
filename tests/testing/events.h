// Events a test makes itself, so probes filtered to its pid count exactly.
#ifndef TALLY_TESTS_TESTING_EVENTS_H_
#define TALLY_TESTS_TESTING_EVENTS_H_

#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace tally::testing {

// Real syscalls (glibc's getppid() could be cached some day): each is one
// syscalls:sys_enter_getppid event.
inline void CallGetppid(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) syscall(SYS_getppid);
}

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_EVENTS_H_
