#include "common/probe_name.h"

#include <string>

#include "common/quote.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

bool IsUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(absl::string_view(s).substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

TEST(ProbeNameTest, AcceptsTheDocumentedAlphabet) {
  EXPECT_OK(ValidateProbeName("syscall-execve_2.v1"));
  EXPECT_OK(ValidateProbeName(std::string(63, 'n')));
}

TEST(ProbeNameTest, RejectsWithAShortValidMessage) {
  EXPECT_THAT(ValidateProbeName(""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1 to 63 characters")));
  absl::Status long_name = ValidateProbeName(std::string(10000, 'n'));
  EXPECT_THAT(long_name, StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("(10000 bytes)")));
  EXPECT_LT(long_name.message().size(), 200u);
  absl::Status accent = ValidateProbeName("caf\xc3\xa9");
  EXPECT_THAT(accent, StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("has '\xc3\xa9'")));
  EXPECT_TRUE(IsUtf8(std::string(accent.message())));
}

TEST(ProbeNameTest, DefaultNameFollowsTheRule) {
  EXPECT_EQ(DefaultProbeName("syscall:execve"), "syscall-execve");
  EXPECT_OK(ValidateProbeName(DefaultProbeName("uprobe:/usr/bin/bash:readline")));
}

}  // namespace
}  // namespace tally
