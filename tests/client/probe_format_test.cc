// tallyctl list's cost columns from a Probe as an agent answers it.
#include "client/probe_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::cli {
namespace {

using ::testing::ElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  out->set_seconds(absl::ToUnixSeconds(t));
}

v1::Probe Running(uint64_t total, absl::Duration age) {
  v1::Probe p;
  p.set_state(v1::PROBE_STATE_RUNNING);
  p.set_total(total);
  SetTime(kNow - age, p.mutable_started_at());
  return p;
}

TEST(CostCellsTest, NsPerEventRateAndMemory) {
  v1::Probe p = Running(5000, absl::Seconds(100));
  v1::ProbeCost* cost = p.mutable_cost();
  cost->set_run_count(1000);
  cost->mutable_run_time()->set_nanos(47500);  // 47.5 ns per run
  cost->set_map_bytes(927168);
  EXPECT_THAT(CostHeader(), ElementsAre("NS/EVENT", "EVENTS/S", "MEMORY"));
  EXPECT_THAT(CostCells(p, kNow), ElementsAre("47.5", "50", "905.4 KiB"));
}

TEST(CostCellsTest, UncountedWindowsAreNotCountedTime) {
  v1::Probe p = Running(900, absl::Seconds(100));
  v1::UncountedWindow* w = p.add_uncounted();
  SetTime(kNow - absl::Seconds(50), w->mutable_from());
  SetTime(kNow - absl::Seconds(10), w->mutable_to());
  EXPECT_THAT(CostCells(p, kNow), ElementsAre("-", "15", "-"));
}

TEST(CostCellsTest, NoFiguresAreDashes) {
  // No runs recorded (the statistics were off), a stopped probe, no cost.
  v1::Probe p = Running(10, absl::Seconds(10));
  p.mutable_cost()->set_map_bytes(100);
  EXPECT_THAT(CostCells(p, kNow), ElementsAre("-", "1", "100 B"));
  p.set_state(v1::PROBE_STATE_FAILED);
  p.clear_cost();
  EXPECT_THAT(CostCells(p, kNow), ElementsAre("-", "-", "-"));
}

TEST(HumanBytesTest, Units) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1048575), "1.0 MiB");
  EXPECT_EQ(HumanBytes(3ull << 30), "3.0 GiB");
}

}  // namespace
}  // namespace tally::cli
