#include "client/probe_count.h"

#include "gtest/gtest.h"

namespace tally::cli {
namespace {

// Tester's finding 2: a probe at 1500 with nothing new showed a rate of
// 1500 per interval on the first frame.
TEST(ProbeCountTest, FirstUpdateIsAStartingPointNotAnIncrease) {
  ProbeCount c;
  EXPECT_EQ(c.Update(7, 1500), 0u);
  EXPECT_EQ(c.total(), 1500u);
  EXPECT_EQ(c.Tick(true), 0u);
  EXPECT_TRUE(c.rate_known());
  EXPECT_EQ(c.Update(7, 1510), 10u);
  EXPECT_EQ(c.Update(7, 1530), 20u);
  EXPECT_EQ(c.Tick(true), 30u);
  EXPECT_EQ(c.total(), 1530u);
}

TEST(ProbeCountTest, NoRateBeforeAnyUpdate) {
  ProbeCount c;
  EXPECT_EQ(c.Tick(true), 0u);
  EXPECT_FALSE(c.rate_known());
}

// An agent seen again (SIGCONT, restart) brings what it counted while not
// heard: in the total, not in an interval's increase.
TEST(ProbeCountTest, RejoiningAgentsBacklogIsNotAnIncrease) {
  ProbeCount c;
  c.Update(7, 100);
  c.Tick(true);
  c.Rebase();
  EXPECT_FALSE(c.rate_known());
  EXPECT_EQ(c.Update(7, 5000), 0u);
  EXPECT_EQ(c.Tick(true), 0u);
  EXPECT_EQ(c.total(), 5000u);
  EXPECT_EQ(c.Update(7, 5004), 4u);
  EXPECT_EQ(c.Tick(true), 4u);
}

TEST(ProbeCountTest, NotLiveAtATickStartsAfresh) {
  ProbeCount c;
  c.Update(7, 100);
  EXPECT_EQ(c.Tick(false), 0u);
  EXPECT_FALSE(c.rate_known());
  EXPECT_EQ(c.Update(7, 900), 0u);
  EXPECT_EQ(c.Tick(true), 0u);
  EXPECT_TRUE(c.rate_known());
  EXPECT_EQ(c.total(), 900u);
}

// A probe re-adopted by a restarted agent keeps its probe_id and count:
// counted once.
TEST(ProbeCountTest, ReadoptedProbeIsNotCountedTwice) {
  ProbeCount c;
  c.Update(7, 100);
  c.Rebase();
  c.Update(7, 130);
  EXPECT_EQ(c.total(), 130u);
}

// A new incarnation counts from zero again: the earlier one's count stays.
TEST(ProbeCountTest, NewIncarnationIsCarried) {
  ProbeCount c;
  c.Update(7, 100);
  EXPECT_EQ(c.Update(8, 5), 5u);
  EXPECT_EQ(c.total(), 105u);
  EXPECT_EQ(c.agent_total(), 5u);
  c.Rebase();
  EXPECT_EQ(c.Update(9, 40), 0u);  // started anew while not heard
  EXPECT_EQ(c.total(), 145u);
}

TEST(ProbeCountTest, NeverGoesBackwards) {
  ProbeCount c;
  c.Update(7, 100);
  EXPECT_EQ(c.Update(7, 90), 0u);
  EXPECT_EQ(c.total(), 100u);
  EXPECT_EQ(c.Tick(true), 0u);
}

}  // namespace
}  // namespace tally::cli
