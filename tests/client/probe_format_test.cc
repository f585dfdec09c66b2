// tallyctl list's probe, cost and reason columns from a Probe as an agent
// answers it.
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

// A declared probe that could not start: probe_id 0, nothing attached, no
// start time, and why in Probe.error.
v1::Probe NeverStarted(v1::ProbeState state, const std::string& error) {
  v1::Probe p;
  p.set_name("reads");
  p.set_hook("kprobe:vfs_read");
  p.set_state(state);
  p.set_error(error);
  p.set_origin("/etc/tally/probes.yaml");
  return p;
}

TEST(ProbeRowTest, FailedAndSkippedProbesSayStateWithNothingAttached) {
  EXPECT_THAT(
      ProbeRow("node-1", NeverStarted(v1::PROBE_STATE_FAILED, "no kprobes"),
               kNow),
      ElementsAre("node-1", "reads", "kprobe:vfs_read", "-", "0", "failed", "-",
                  ""));
  EXPECT_THAT(
      ProbeRow("node-1", NeverStarted(v1::PROBE_STATE_SKIPPED, "no kprobes"),
               kNow),
      ElementsAre("node-1", "reads", "kprobe:vfs_read", "-", "0", "skipped",
                  "-", ""));
}

TEST(ProbeRowTest, RunningProbeShowsWhereItAttached) {
  v1::Probe p = Running(7, absl::Seconds(1));
  p.set_name("opens");
  p.set_hook("syscall:openat");
  p.set_attached("tracepoint:syscalls:sys_enter_openat");
  EXPECT_THAT(ProbeRow("n", p, kNow),
              ElementsAre("n", "opens", "syscall:openat",
                          "tracepoint:syscalls:sys_enter_openat", "7",
                          "running", "-", ""));
}

TEST(ReasonCellTest, TheProbesErrorOnOneLineOrADash) {
  EXPECT_EQ(ReasonHeader(), "REASON");
  EXPECT_EQ(ReasonCell(Running(1, absl::Seconds(1))), "-");
  EXPECT_EQ(ReasonCell(NeverStarted(v1::PROBE_STATE_SKIPPED,
                                    "tracepoint nosuch:event not found")),
            "tracepoint nosuch:event not found");
  // A verifier log tail is many lines: one line in the table.
  EXPECT_EQ(ReasonCell(NeverStarted(
                v1::PROBE_STATE_FAILED,
                "the verifier rejected it; verifier log tail:\n0: r0 = 0\n"
                "1: exit\n")),
            "the verifier rejected it; verifier log tail: / 0: r0 = 0 / "
            "1: exit");
}

TEST(ReasonCellTest, LongReasonsAreCutOnACharacterBoundary) {
  // 159 ASCII bytes, then a two-byte character across the cut.
  std::string error(kReasonCellChars - 1, 'x');
  error += "\xc3\xa9 and more";
  EXPECT_EQ(ReasonCell(NeverStarted(v1::PROBE_STATE_FAILED, error)),
            std::string(kReasonCellChars - 1, 'x') + "...");
  std::string exact(kReasonCellChars, 'y');
  EXPECT_EQ(ReasonCell(NeverStarted(v1::PROBE_STATE_FAILED, exact)), exact);
}

TEST(StateNameTest, EveryState) {
  EXPECT_EQ(StateName(v1::PROBE_STATE_RUNNING), "running");
  EXPECT_EQ(StateName(v1::PROBE_STATE_STOPPED), "stopped");
  EXPECT_EQ(StateName(v1::PROBE_STATE_EXPIRED), "expired");
  EXPECT_EQ(StateName(v1::PROBE_STATE_FAILED), "failed");
  EXPECT_EQ(StateName(v1::PROBE_STATE_SKIPPED), "skipped");
  EXPECT_EQ(StateName(v1::PROBE_STATE_UNSPECIFIED), "-");
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
