// --probes_file on fakes: the daemon in-process over gRPC, a real file and
// real inotify, fake counters. Converging, never disturbing an unchanged
// probe, keeping the last good set through a broken file, skipped versus
// failed, and what the API may do with a declared probe.
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/daemon/daemon.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using ::tally::testing::ContextWithDeadline;
using ::tally::testing::FakeClock;
using ::tally::testing::FakeStore;
using ::testing::HasSubstr;

KernelFeatures AllKinds() {
  KernelFeatures f;
  for (AttachKind kind : kAllAttachKinds) f.kinds[kind] = absl::OkStatus();
  return f;
}

// Polls `done` (a gRPC read of the agent's state), bounded: the watcher
// reacts to inotify on its own thread.
bool Eventually(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return done();
}

class DeclaredProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    file_ = dir_ + "/probes.yaml";
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  void Write(const std::string& text) {
    const std::string tmp = dir_ + "/.probes.yaml.tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, file_);
  }

  void StartDaemon() {
    DaemonConfig config;
    config.identity = {"node-a", "epoch", clock_.Now()};
    config.listen.address = absl::StrCat("unix:", dir_, "/tallyd.sock");
    config.probes_file = file_;
    auto d = Daemon::Start(config, &features_, store_ptr_, &clock_);
    ASSERT_OK(d.status());
    daemon_ = *std::move(d);
    stub_ = v1::Agent::NewStub(grpc::CreateChannel(
        daemon_->address(), grpc::InsecureChannelCredentials()));
  }

  std::map<std::string, v1::Probe> Probes() {
    v1::ListProbesResponse list;
    EXPECT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
    std::map<std::string, v1::Probe> out;
    for (const v1::Probe& p : list.probes()) out[p.name()] = p;
    return out;
  }

  grpc::Status StopOverApi(const std::string& name) {
    v1::StopProbeRequest stop;
    stop.set_name(name);
    v1::StopProbeResponse stopped;
    return stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped);
  }
  grpc::Status StartOverApi(const std::string& name, const std::string& hook,
                            v1::StartProbeResponse* resp) {
    v1::StartProbeRequest start;
    start.set_name(name);
    start.set_hook(hook);
    return stub_->StartProbe(ContextWithDeadline().get(), start, resp);
  }

  v1::ProbesFileStatus FileStatus() {
    v1::GetInfoResponse info;
    EXPECT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
    return info.probes_file();
  }

  FakeClock clock_;
  FakeStore store_;
  FakeStore* store_ptr_ = &store_;
  KernelFeatures features_ = AllKinds();
  std::string dir_, file_;
  std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(DeclaredProbesTest, TheFileAtStartIsRunningBeforeTheAgentServes) {
  Write(
      "probes:\n  - name: execs\n    hook: syscall:execve\n"
      "    group_by: comm\n  - name: opens\n"
      "    hook: tracepoint:syscalls:sys_enter_openat\n    ttl: 24h\n");
  StartDaemon();
  std::map<std::string, v1::Probe> probes = Probes();  // no waiting
  ASSERT_EQ(probes.size(), 2u);
  EXPECT_EQ(probes["execs"].state(), v1::PROBE_STATE_RUNNING);
  EXPECT_EQ(probes["execs"].origin(), file_);
  EXPECT_EQ(probes["execs"].group_by(), v1::GROUP_BY_COMM);
  EXPECT_EQ(probes["opens"].ttl().seconds(), 24 * 3600);
  v1::ProbesFileStatus status = FileStatus();
  EXPECT_EQ(status.path(), file_);
  EXPECT_EQ(status.declared(), 2u);
  EXPECT_TRUE(status.error().empty());
}

TEST_F(DeclaredProbesTest, ChangesConvergeAndLeaveUnchangedProbesAlone) {
  Write(
      "probes:\n  - {name: same, hook: 'rt:a'}\n"
      "  - {name: changed, hook: 'rt:b'}\n  - {name: removed, hook: 'rt:c'}\n");
  StartDaemon();
  std::map<std::string, v1::Probe> before = Probes();
  store_.Latest("rawtracepoint:a")->Add(40);

  Write(
      "probes:\n  - {name: same, hook: 'rt:a'}\n"
      "  - {name: changed, hook: 'rt:b2'}\n  - {name: added, hook: 'rt:d'}\n");
  ASSERT_TRUE(Eventually([&] {
    std::map<std::string, v1::Probe> p = Probes();
    return p.count("added") && !p.count("removed") &&
           p["changed"].hook() == "rawtracepoint:b2";
  })) << FileStatus().DebugString();
  std::map<std::string, v1::Probe> after = Probes();
  EXPECT_EQ(after["same"].probe_id(), before["same"].probe_id());
  EXPECT_EQ(after["same"].total(), 40u);
  EXPECT_NE(after["changed"].probe_id(), before["changed"].probe_id());
  EXPECT_EQ(after["added"].state(), v1::PROBE_STATE_RUNNING);
  {
    auto a = store_.Latest("rawtracepoint:a");
    absl::MutexLock lock(&a->mu);
    EXPECT_FALSE(a->detached);
  }
  EXPECT_EQ(FileStatus().declared(), 3u);
}

TEST_F(DeclaredProbesTest, ABrokenFileKeepsTheLastGoodSetAndSaysWhere) {
  Write("probes:\n  - {name: keep, hook: 'rt:a'}\n");
  StartDaemon();
  const uint64_t id = Probes()["keep"].probe_id();
  Write("probes:\n  - name: keep\n    hook: rt:a\n    grup_by: pid\n");
  ASSERT_TRUE(Eventually([&] { return !FileStatus().error().empty(); }));
  EXPECT_THAT(FileStatus().error(),
              HasSubstr(absl::StrCat(file_, ":4: probes[0]: unknown field")));
  EXPECT_EQ(Probes()["keep"].probe_id(), id);
  EXPECT_EQ(Probes()["keep"].state(), v1::PROBE_STATE_RUNNING);

  Write(
      "probes:\n  - {name: keep, hook: 'rt:a'}\n  - {name: new, hook: "
      "'rt:n'}\n");
  ASSERT_TRUE(Eventually([&] { return FileStatus().error().empty(); }));
  EXPECT_EQ(Probes()["keep"].probe_id(), id);
  EXPECT_EQ(Probes()["new"].state(), v1::PROBE_STATE_RUNNING);
}

TEST_F(DeclaredProbesTest, OptionalProbesThatCannotRunAreSkippedOthersFail) {
  store_.FailWith("kprobe:do_sys_openat2",
                  absl::FailedPreconditionError("this kernel has no kprobes"));
  Write(
      "probes:\n"
      "  - {name: maybe, hook: 'kprobe:do_sys_openat2', optional: true}\n"
      "  - {name: must, hook: 'kprobe:do_sys_openat2'}\n"
      "  - {name: fine, hook: 'rt:a'}\n");
  StartDaemon();
  std::map<std::string, v1::Probe> p = Probes();
  EXPECT_EQ(p["maybe"].state(), v1::PROBE_STATE_SKIPPED);
  EXPECT_THAT(p["maybe"].error(), HasSubstr("no kprobes"));
  EXPECT_EQ(p["must"].state(), v1::PROBE_STATE_FAILED);
  EXPECT_THAT(p["must"].error(), HasSubstr("no kprobes"));
  EXPECT_EQ(p["fine"].state(), v1::PROBE_STATE_RUNNING);
  // Never started: no incarnation, nothing attached (not "tracepoint::"),
  // no mechanism and no start time (not 1970).
  for (const char* name : {"maybe", "must"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(p[name].probe_id(), 0u);
    EXPECT_EQ(p[name].attached(), "");
    EXPECT_EQ(p[name].mechanism(), "");
    EXPECT_FALSE(p[name].has_started_at());
    EXPECT_EQ(p[name].hook(), "kprobe:do_sys_openat2");
  }
  EXPECT_NE(p["fine"].attached(), "");
  EXPECT_TRUE(p["fine"].has_started_at());
}

TEST_F(DeclaredProbesTest, TheApiCannotStopOrRedefineADeclaredProbe) {
  Write("probes:\n  - {name: decl, hook: 'rt:a'}\n");
  StartDaemon();
  grpc::Status s = StopOverApi("decl");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr(file_));

  v1::StartProbeResponse resp;
  s = StartOverApi("decl", "rt:other", &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(s.error_message(), HasSubstr(file_));
  s = StartOverApi("decl", "rt:a", &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resp.created());
}

TEST_F(DeclaredProbesTest, ARestartWhileTheFileIsBrokenKeepsTheLastGoodSet) {
  FakeStore durable(/*durable=*/true);
  store_ptr_ = &durable;
  Write("probes:\n  - {name: decl, hook: 'rt:a'}\n");
  StartDaemon();
  const uint64_t id = Probes()["decl"].probe_id();
  // Broken, then the agent restarts (kill -9, upgrade) before it is fixed.
  Write("probes: [\n");
  daemon_.reset();
  StartDaemon();
  std::map<std::string, v1::Probe> probes = Probes();
  ASSERT_EQ(probes.count("decl"), 1u);
  EXPECT_EQ(probes["decl"].probe_id(), id);
  EXPECT_EQ(probes["decl"].origin(), file_);
  v1::ProbesFileStatus status = FileStatus();
  EXPECT_FALSE(status.error().empty());
  EXPECT_EQ(status.declared(), 1u);
  // Still the file's: the API may neither stop nor redefine it.
  EXPECT_EQ(StopOverApi("decl").error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::StartProbeResponse resp;
  EXPECT_EQ(StartOverApi("decl", "rt:other", &resp).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  daemon_.reset();
}

TEST_F(DeclaredProbesTest, NoFileAtStartDeclaresNothingUntilOneAppears) {
  StartDaemon();
  EXPECT_TRUE(Probes().empty());
  EXPECT_TRUE(FileStatus().error().empty());
  Write("probes:\n  - {name: late, hook: 'rt:a'}\n");
  EXPECT_TRUE(Eventually([&] { return Probes().count("late") > 0; }));
}

}  // namespace
}  // namespace tally
