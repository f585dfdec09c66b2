// Durable probes on the real kernel: tallyd pins every probe in bpffs, and a
// restarted tallyd (after kill -9 or SIGTERM) re-adopts it with the same
// name, incarnation and counts: N1 events before, N2 while no agent runs, N3
// after. Plus TTLs across a restart, StopProbe and --uninstall leaving
// nothing, and what a restarted agent does with pins it cannot use.
#include <bpf/bpf.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/probe/pin_root.h"
#include "agent/probe/pinned_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"
#include "tests/testing/subprocess.h"

extern "C" __attribute__((noinline, used)) int tally_durable_uprobe_target(
    int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

namespace tally {
namespace {

namespace fs = std::filesystem;
using ::tally::testing::AgentProcess;
using ::tally::testing::CallGetppid;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kN = 300;

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "/proc/self/exe";
}

void CallUprobeTarget(uint64_t n) {
  int sum = 0;
  for (uint64_t i = 0; i < n; ++i) sum += tally_durable_uprobe_target(i);
  ASSERT_GT(sum, 0);
}

class TallydDurableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    pins_ = absl::StrCat(
        "/sys/fs/bpf/tally-test-durable-", getpid(), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(pins_);
    StartAgent();
  }
  void TearDown() override {
    agent_.reset();
    std::error_code ec;
    fs::remove_all(pins_, ec);
  }

  void StartAgent() {
    AgentProcess::Options options;
    options.pin_dir = pins_;
    auto agent = AgentProcess::Start(options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }
  void Kill9() {
    agent_->Signal(SIGKILL);
    ASSERT_TRUE(agent_->WaitExit(absl::Seconds(20)).ok());
  }
  void Sigterm() {
    agent_->Signal(SIGTERM);
    absl::StatusOr<int> code = agent_->WaitExit(absl::Seconds(20));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << agent_->Log();
  }

  v1::Probe Start(v1::StartProbeRequest req) {
    v1::StartProbeResponse resp;
    grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << req.name() << ": " << s.error_message();
    return resp.probe();
  }

  std::map<std::string, v1::Probe> Probes() {
    v1::ListProbesResponse list;
    EXPECT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
    std::map<std::string, v1::Probe> out;
    for (const v1::Probe& p : list.probes()) out[p.name()] = p;
    return out;
  }

  // Counts are per CPU and read while events may still be in flight on
  // another CPU: poll, bounded, for `want`.
  uint64_t TotalOf(const std::string& name, uint64_t want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    uint64_t total = Probes()[name].total();
    while (total < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      total = Probes()[name].total();
    }
    return total;
  }

  std::string pins_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

// The kinds this kernel has, pinned: N1 + N2 + N3 exactly, the downtime
// counted by the pinned links; grouped probes carry their keys.
TEST_F(TallydDurableTest, KillNineLosesNothingWhereLinksArePinned) {
  v1::StartProbeRequest tp = testing::GetppidProbe("tp");
  v1::StartProbeRequest raw = testing::GetppidProbe("raw");
  raw.set_hook("rawtracepoint:sys_enter");
  v1::StartProbeRequest btf = testing::GetppidProbe("btf");
  btf.set_hook("tp_btf:sys_enter");
  v1::StartProbeRequest up = testing::GetppidProbe("up");
  up.set_hook(
      absl::StrCat("uprobe:", SelfExe(), ":tally_durable_uprobe_target"));
  v1::StartProbeRequest keyed = testing::GetppidProbe("keyed");
  keyed.set_group_by(v1::GROUP_BY_PID);
  std::map<std::string, uint64_t> ids;
  for (const v1::StartProbeRequest& r : {tp, raw, btf, up, keyed}) {
    ids[r.name()] = Start(r).probe_id();
  }
  auto events = [&] {
    CallGetppid(kN);
    CallUprobeTarget(kN);
  };
  events();  // N1
  Kill9();
  events();  // N2: no agent
  StartAgent();
  events();  // N3
  EXPECT_EQ(TotalOf("tp", 3 * kN), 3 * kN);
  EXPECT_EQ(TotalOf("up", 3 * kN), 3 * kN);
  EXPECT_EQ(TotalOf("keyed", 3 * kN), 3 * kN);
  // raw_tp and tp_btf see every syscall of this process: at least.
  EXPECT_GE(TotalOf("raw", 3 * kN), 3 * kN);
  EXPECT_GE(TotalOf("btf", 3 * kN), 3 * kN);
  std::map<std::string, v1::Probe> probes = Probes();
  for (const auto& [name, id] : ids) {
    EXPECT_EQ(probes[name].probe_id(), id) << name;
    EXPECT_TRUE(probes[name].readopted()) << name;
    EXPECT_EQ(probes[name].uncounted_size(), 0) << name;
    EXPECT_THAT(probes[name].continuity(), HasSubstr("counted throughout"));
  }
  // The grouped probe's one key (this thread) carried all three rounds.
  v1::WatchCountsRequest watch;
  watch.add_probes("keyed");
  watch.set_top_n(5);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  auto reader = stub_->WatchCounts(&ctx, watch);
  v1::WatchCountsResponse u;
  ASSERT_TRUE(reader->Read(&u));
  ASSERT_EQ(u.top_keys_size(), 1);
  EXPECT_EQ(u.top_keys(0).count(), 3 * kN);
  ctx.TryCancel();
}

// Where the kernel cannot pin a link (perf events before 5.15) the program
// ends with the agent; simulated here by removing the link's pin. The next
// agent re-attaches to the pinned maps: N1 + N3, and the window reported.
TEST_F(TallydDurableTest, WithoutAPinnedLinkTheGapIsReported) {
  const uint64_t id = Start(testing::GetppidProbe("tp")).probe_id();
  CallGetppid(kN);
  ASSERT_EQ(TotalOf("tp", kN), kN);
  ASSERT_TRUE(fs::remove(pins_ + "/tp/link"));
  Kill9();
  // After it died: its last sign of life (every second) cannot be later.
  const absl::Time killed = absl::Now();
  CallGetppid(kN);  // nobody counts these
  StartAgent();
  CallGetppid(kN);
  EXPECT_EQ(TotalOf("tp", 2 * kN), 2 * kN);
  v1::Probe p = Probes()["tp"];
  EXPECT_EQ(p.probe_id(), id);
  ASSERT_EQ(p.uncounted_size(), 1);
  // From the last sign of life (at most a second before the kill) to the
  // re-adoption.
  EXPECT_LE(p.uncounted(0).from().seconds(), absl::ToUnixSeconds(killed));
  EXPECT_GE(p.uncounted(0).to().seconds(), absl::ToUnixSeconds(killed));
  EXPECT_THAT(p.uncounted(0).reason(),
              HasSubstr("cannot pin tracepoint links"));
  EXPECT_THAT(p.continuity(), HasSubstr("re-attached"));
}

TEST_F(TallydDurableTest, SigtermThenRestartLosesNothing) {
  const uint64_t id = Start(testing::GetppidProbe("tp")).probe_id();
  CallGetppid(kN);
  Sigterm();
  CallGetppid(kN);
  StartAgent();
  CallGetppid(kN);
  EXPECT_EQ(TotalOf("tp", 3 * kN), 3 * kN);
  EXPECT_EQ(Probes()["tp"].probe_id(), id);
}

TEST_F(TallydDurableTest, TtlKeepsItsExpiryAcrossARestart) {
  v1::StartProbeRequest req = testing::GetppidProbe("short");
  req.mutable_ttl()->set_seconds(3);
  const v1::Probe started = Start(req);
  Kill9();
  StartAgent();
  v1::Probe p = Probes()["short"];
  EXPECT_EQ(p.expires_at().seconds(), started.expires_at().seconds());
  EXPECT_EQ(p.expires_at().nanos(), started.expires_at().nanos());
  CallGetppid(kN);
  // It ends when it was due to: its program and maps go, its record with
  // the final total stays (listed as expired, by the next agent too).
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (Probes()["short"].state() != v1::PROBE_STATE_EXPIRED &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(Probes()["short"].state(), v1::PROBE_STATE_EXPIRED);
  EXPECT_EQ(Probes()["short"].total(), kN);
  EXPECT_FALSE(fs::exists(pins_ + "/short/link"));
  Kill9();
  StartAgent();
  EXPECT_EQ(Probes()["short"].state(), v1::PROBE_STATE_EXPIRED);
  EXPECT_EQ(Probes()["short"].total(), kN);
  v1::StopProbeRequest stop;
  stop.set_name("short");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(
      stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  EXPECT_EQ(stopped.probe().total(), kN);
  EXPECT_FALSE(fs::exists(pins_ + "/short"));
}

TEST_F(TallydDurableTest, StopAfterARestartRemovesThePins) {
  Start(testing::GetppidProbe("tp"));
  EXPECT_TRUE(fs::exists(pins_ + "/tp/link"));
  Kill9();
  StartAgent();
  v1::StopProbeRequest stop;
  stop.set_name("tp");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(
      stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  EXPECT_FALSE(fs::exists(pins_ + "/tp"));
}

TEST_F(TallydDurableTest, UninstallLeavesNoProgramLinkMapOrPin) {
  Start(testing::GetppidProbe("tp"));
  v1::StartProbeRequest keyed = testing::GetppidProbe("keyed");
  keyed.set_hook("rawtracepoint:sys_enter");
  keyed.set_group_by(v1::GROUP_BY_COMM);
  Start(keyed);
  std::set<uint32_t> maps = testing::HeldBpfIds(agent_->pid(), "map_id:");
  std::set<uint32_t> links = testing::HeldBpfIds(agent_->pid(), "link_id:");
  ASSERT_FALSE(links.empty());
  Kill9();
  testing::RunResult r = testing::Run({testing::RunfilePath("agent/tallyd"),
                                       "--uninstall", "--pin_dir=" + pins_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("removed probe tp"));
  EXPECT_THAT(r.out, HasSubstr("removed probe keyed"));
  EXPECT_FALSE(fs::exists(pins_));
  // The kernel frees them once the last reference goes (deferred): poll.
  auto gone = [](int (*get_fd)(uint32_t), uint32_t id) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      int fd = get_fd(id);
      if (fd < 0) return true;
      close(fd);
      absl::SleepFor(absl::Milliseconds(20));
    }
    return false;
  };
  for (uint32_t id : links) EXPECT_TRUE(gone(&bpf_link_get_fd_by_id, id)) << id;
  for (uint32_t id : maps) EXPECT_TRUE(gone(&bpf_map_get_fd_by_id, id)) << id;
}

TEST_F(TallydDurableTest, UninstallLeavesAnotherToolsPinsAlone) {
  Start(testing::GetppidProbe("tp"));
  // Another tool's pin beside tally's, as under a mistyped --pin_dir.
  const std::string other = pins_ + "/othertool";
  fs::create_directories(other);
  int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "othertool", 4, 4, 1, nullptr);
  ASSERT_GE(map, 0);
  ASSERT_EQ(bpf_obj_pin(map, (other + "/state").c_str()), 0);
  close(map);
  Kill9();
  testing::RunResult r = testing::Run({testing::RunfilePath("agent/tallyd"),
                                       "--uninstall", "--pin_dir=" + pins_});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("removed probe tp"));
  EXPECT_THAT(r.err, HasSubstr("othertool"));
  EXPECT_THAT(r.err, HasSubstr("tally did not write"));
  EXPECT_THAT(r.out, Not(HasSubstr("no tally program, link or map is left")));
  EXPECT_TRUE(fs::exists(other + "/state"));
  EXPECT_FALSE(fs::exists(pins_ + "/tp"));
}

TEST_F(TallydDurableTest, WhatARestartedAgentCannotUseIsReportedNotFatal) {
  Start(testing::GetppidProbe("good"));
  // A binary that will be gone, probed without a pinned link.
  const std::string copy = absl::StrCat(pins_, ".bin");
  fs::copy_file(SelfExe(), "/tmp/" + fs::path(copy).filename().string(),
                fs::copy_options::overwrite_existing);
  const std::string binary = "/tmp/" + fs::path(copy).filename().string();
  v1::StartProbeRequest up = testing::GetppidProbe("vanished");
  up.set_hook(absl::StrCat("uprobe:", binary, ":tally_durable_uprobe_target"));
  Start(up);
  Kill9();
  ASSERT_TRUE(fs::remove(pins_ + "/vanished/link"));
  fs::remove(binary);
  // Something tally did not write, and a probe half-pinned by an agent that
  // died while starting it.
  fs::create_directory(pins_ + "/not-tally");
  fs::create_directory(pins_ + "/+new-0123456789abcdef");
  StartAgent();
  std::map<std::string, v1::Probe> probes = Probes();
  EXPECT_EQ(probes["good"].state(), v1::PROBE_STATE_RUNNING);
  EXPECT_EQ(probes["vanished"].state(), v1::PROBE_STATE_FAILED);
  EXPECT_THAT(probes["vanished"].error(), HasSubstr("does not exist"));
  v1::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  std::string warnings;
  for (const std::string& w : info.warnings())
    absl::StrAppend(&warnings, w, "\n");
  EXPECT_THAT(warnings, HasSubstr("not-tally alone"));
  EXPECT_THAT(warnings, HasSubstr("half-pinned"));
  EXPECT_FALSE(fs::exists(pins_ + "/+new-0123456789abcdef"));
  // StopProbe removes what is left of the failed one.
  v1::StopProbeRequest stop;
  stop.set_name("vanished");
  v1::StopProbeResponse stopped;
  EXPECT_TRUE(
      stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  EXPECT_FALSE(fs::exists(pins_ + "/vanished"));
}

// A newer agent whose map layout differs never reads the old maps: it
// starts the probe afresh, as a new incarnation, and says so.
TEST_F(TallydDurableTest, PinsOfAnotherLayoutRestartTheCountsAndSaySo) {
  const uint64_t id = Start(testing::GetppidProbe("tp")).probe_id();
  CallGetppid(kN);
  Kill9();
  // What an agent with layout 1 would have left.
  absl::StatusOr<std::string> bytes = PinRoot::ReadRecord(pins_ + "/tp");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<PinnedRecord> record = ParsePinned(*bytes);
  ASSERT_TRUE(record.ok());
  record->layout_version = 1;
  ASSERT_TRUE(
      PinRoot::WriteRecord(pins_ + "/tp", SerializePinned(*record)).ok());
  StartAgent();
  v1::Probe p = Probes()["tp"];
  EXPECT_EQ(p.state(), v1::PROBE_STATE_RUNNING);
  EXPECT_NE(p.probe_id(), id);
  EXPECT_EQ(p.total(), 0u);
  v1::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  ASSERT_EQ(info.warnings_size(), 1);
  EXPECT_THAT(info.warnings(0),
              HasSubstr("counts restarted: its maps have layout 1"));
}

}  // namespace
}  // namespace tally
