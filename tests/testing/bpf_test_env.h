// Gate for tests that need root, BPF and kernel BTF.
//
// Where those are missing the test is skipped with the exact reason, unless
// TALLY_REQUIRE_BPF=1 (scripts/test.sh sets it when run as root, as in CI):
// then a missing prerequisite fails the test instead of skipping it silently.
#ifndef TALLY_TESTS_TESTING_BPF_TEST_ENV_H_
#define TALLY_TESTS_TESTING_BPF_TEST_ENV_H_

#include <string>

#include "gtest/gtest.h"

namespace tally::testing {

// Empty when this process can load and attach BPF tracing programs;
// otherwise why it cannot.
std::string BpfUnavailableReason();

bool BpfRequired();

}  // namespace tally::testing

#define TALLY_REQUIRE_BPF()                                                \
  do {                                                                     \
    std::string tally_reason_ = ::tally::testing::BpfUnavailableReason();  \
    if (!tally_reason_.empty()) {                                          \
      if (::tally::testing::BpfRequired()) {                               \
        FAIL() << "TALLY_REQUIRE_BPF=1 but " << tally_reason_;             \
      }                                                                    \
      GTEST_SKIP() << "skipped: " << tally_reason_;                        \
    }                                                                      \
  } while (0)

#endif  // TALLY_TESTS_TESTING_BPF_TEST_ENV_H_
