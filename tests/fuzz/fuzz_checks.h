// Invariants every fuzz target checks on what tallyd would send back.
#ifndef TALLY_TESTS_FUZZ_FUZZ_CHECKS_H_
#define TALLY_TESTS_FUZZ_FUZZ_CHECKS_H_

#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/quote.h"

// abort() so that libFuzzer records the input as a crash.
#define TALLY_FUZZ_CHECK(cond)                                         \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,     \
                   __LINE__, #cond);                                   \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace tally::fuzz {

// An error message fits a default gRPC client's 8 KB of metadata with room
// to spare and is valid UTF-8.
inline void CheckMessage(const absl::Status& status) {
  absl::string_view m = status.message();
  TALLY_FUZZ_CHECK(!m.empty());
  TALLY_FUZZ_CHECK(m.size() < 2048);
  for (size_t i = 0; i < m.size();) {
    size_t n = Utf8SequenceLength(m.substr(i));
    TALLY_FUZZ_CHECK(n > 0);
    i += n;
  }
}

}  // namespace tally::fuzz

#endif  // TALLY_TESTS_FUZZ_FUZZ_CHECKS_H_
