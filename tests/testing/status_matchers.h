// gMock matchers for absl::Status and absl::StatusOr (Abseil 20220623 has
// none). Usage: EXPECT_THAT(f(), StatusIs(absl::StatusCode::kNotFound,
// HasSubstr("x")));
#ifndef TALLY_TESTS_TESTING_STATUS_MATCHERS_H_
#define TALLY_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace tally::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = ::tally::testing::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code &&
         ::testing::Matches(message_matcher)(std::string(s.message()));
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = ::tally::testing::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.ok();
}

}  // namespace tally::testing

// Fails the test with the status when `expr` is not OK.
#define ASSERT_OK(expr) ASSERT_THAT(expr, ::tally::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::tally::testing::IsOk())

#endif  // TALLY_TESTS_TESTING_STATUS_MATCHERS_H_
