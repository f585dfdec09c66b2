#include "agent/daemon/limits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

TEST(LimitsTest, DefaultsAreValid) { EXPECT_OK(ValidateLimits(AgentLimits())); }

// Outside-client finding: tallyd started with --max_keys=0 or
// --min_interval=0 and then failed requests instead of refusing the flag.
TEST(LimitsTest, NonsenseIsRefusedNamingTheFlagAndTheRange) {
  AgentLimits l;
  l.max_keys = 0;
  EXPECT_THAT(
      ValidateLimits(l),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("--max_keys=0 is out of range; allowed: 1 to")));
  l = AgentLimits();
  l.min_interval = absl::ZeroDuration();
  EXPECT_THAT(ValidateLimits(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("--min_interval=0")));
  l = AgentLimits();
  l.max_probes = 0;
  EXPECT_THAT(ValidateLimits(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("--max_probes=0")));
  l = AgentLimits();
  l.max_watchers = 0;
  EXPECT_THAT(ValidateLimits(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("--max_watchers=0")));
  l = AgentLimits();
  l.max_keys = kMaxKeysCeiling + 1;
  EXPECT_THAT(ValidateLimits(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                          HasSubstr("--max_keys")));
}

}  // namespace
}  // namespace tally
