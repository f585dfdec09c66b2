// When the BPF run-time statistics are held: on demand (held from an ask
// until `hold` after the last one), always, off; a refusal is reported, not
// fatal. Fake statistics and a fake clock; the lease's own thread lets go,
// so its release is polled (bounded).
#include "agent/daemon/bpf_stats_lease.h"

#include <functional>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::FakeBpfStats;
using ::tally::testing::FakeClock;
using ::tally::testing::StatusIs;

constexpr absl::Duration kHold = absl::Minutes(10);

bool Eventually(const std::function<bool()>& done) {
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(2))) {
    if (done()) return true;
  }
  return done();
}

TEST(ParseBpfStatsModeTest, Names) {
  EXPECT_EQ(*ParseBpfStatsMode("off"), BpfStatsMode::kOff);
  EXPECT_EQ(*ParseBpfStatsMode("on_demand"), BpfStatsMode::kOnDemand);
  EXPECT_EQ(*ParseBpfStatsMode("always"), BpfStatsMode::kAlways);
  EXPECT_THAT(ParseBpfStatsMode("sometimes"),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(BpfStatsLeaseTest, OnDemandHoldsFromAnAskUntilHoldAfterTheLast) {
  FakeClock clock;
  FakeBpfStats stats;
  BpfStatsLease lease(&stats, BpfStatsMode::kOnDemand, kHold, &clock);
  EXPECT_EQ(stats.holds(), 0) << "nothing asked yet";
  EXPECT_FALSE(lease.state().on);
  EXPECT_EQ(lease.state().held_since, absl::InfinitePast());

  lease.Ask();
  EXPECT_EQ(stats.holds(), 1);
  EXPECT_TRUE(lease.state().on);
  EXPECT_EQ(lease.state().held_since, clock.Now());
  const absl::Time since = clock.Now();

  clock.Advance(kHold - absl::Minutes(1));
  lease.Ask();  // renews: one hold, the same start
  EXPECT_EQ(stats.enables(), 1);
  clock.Advance(kHold - absl::Minutes(1));
  EXPECT_EQ(stats.holds(), 1) << "the last ask was 9 minutes ago";
  EXPECT_EQ(lease.state().held_since, since);

  clock.Advance(absl::Minutes(2));
  EXPECT_TRUE(Eventually([&] { return stats.holds() == 0; }));
  EXPECT_FALSE(lease.state().on);

  lease.Ask();  // and on again
  EXPECT_EQ(stats.holds(), 1);
  EXPECT_EQ(stats.enables(), 2);
}

TEST(BpfStatsLeaseTest, AlwaysHoldsForItsLifeAndOffNever) {
  FakeClock clock;
  FakeBpfStats stats;
  {
    BpfStatsLease always(&stats, BpfStatsMode::kAlways, kHold, &clock);
    EXPECT_EQ(stats.holds(), 1);
    clock.Advance(kHold * 10);
    always.Ask();
    EXPECT_EQ(stats.holds(), 1);
    EXPECT_TRUE(always.state().on);
  }
  EXPECT_EQ(stats.holds(), 0);
  BpfStatsLease off(&stats, BpfStatsMode::kOff, kHold, &clock);
  off.Ask();
  EXPECT_EQ(stats.enables(), 1);
  EXPECT_FALSE(off.state().on);
  stats.SetSysctl(true);
  EXPECT_TRUE(off.state().on) << "on by the sysctl, for everyone";
  EXPECT_EQ(off.state().held_since, absl::InfinitePast());
}

TEST(BpfStatsLeaseTest, ARefusalIsReportedAndRetried) {
  FakeClock clock;
  FakeBpfStats stats;
  stats.FailWith(absl::PermissionDeniedError("needs CAP_SYS_ADMIN"));
  BpfStatsLease lease(&stats, BpfStatsMode::kOnDemand, kHold, &clock);
  lease.Ask();
  EXPECT_FALSE(lease.state().on);
  EXPECT_EQ(lease.state().problem, "needs CAP_SYS_ADMIN");
  stats.FailWith(absl::OkStatus());
  lease.Ask();
  EXPECT_TRUE(lease.state().on);
  EXPECT_EQ(lease.state().problem, "");
}

TEST(BpfStatsLeaseTest, NoStatisticsAtAll) {
  FakeClock clock;
  BpfStatsLease lease(nullptr, BpfStatsMode::kAlways, kHold, &clock);
  lease.Ask();
  EXPECT_FALSE(lease.state().on);
}

}  // namespace
}  // namespace tally
