// File descriptors: the soft limit is raised to the hard one, and what does
// not fit is said up front.
#include "client/fd_budget.h"

#include <sys/resource.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::cli {
namespace {

using ::testing::HasSubstr;

TEST(FdBudgetTest, FitsAfterTheReserve) {
  FdBudget b{1024, 4096};
  EXPECT_EQ(b.Fits(1), 1024 - kReservedFds);
  EXPECT_EQ(b.Fits(3), (1024 - kReservedFds) / 3);
  EXPECT_EQ((FdBudget{10, 10}.Fits(1)), 0u);
}

TEST(FdBudgetTest, NoWarningWhenTheFleetFits) {
  EXPECT_EQ((FdBudget{8192, 8192}.Warning(2000, 3)), "");
}

TEST(FdBudgetTest, WarningSaysWhatFitsAndHowToRaiseIt) {
  std::string w = FdBudget{1024, 1024}.Warning(2000, 3);
  EXPECT_THAT(w, HasSubstr("2000 agents need about 6064 file descriptors"));
  EXPECT_THAT(w, HasSubstr("the limit is 1024 (also the hard limit)"));
  EXPECT_THAT(w, HasSubstr("at most 320 agents are connected at once"));
  EXPECT_THAT(w, HasSubstr("ulimit -n 6064"));
}

TEST(RaiseFdLimitTest, SoftLimitGoesUpToTheHardLimit) {
  rlimit original;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max < 128) {
    GTEST_SKIP() << "hard limit too low to lower the soft one";
  }
  rlimit lowered = original;
  lowered.rlim_cur = 64;  // as `ulimit -S -n 64` would
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  FdBudget b = RaiseFdLimit();
  rlimit now;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(b.soft, now.rlim_cur);
  EXPECT_EQ(b.hard, now.rlim_max);
  if (original.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, original.rlim_max);
  } else {
    EXPECT_GT(now.rlim_cur, 64u);
  }
  setrlimit(RLIMIT_NOFILE, &original);
}

}  // namespace
}  // namespace tally::cli
