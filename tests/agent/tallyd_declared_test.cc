// tallyd --probes_file on the real kernel: the file at start, the kubelet's
// ConfigMap update (an atomic ..data symlink swap), a broken file, and
// optional probes this kernel cannot run.
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using ::tally::testing::AgentProcess;
using ::tally::testing::CallGetppid;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;

// The ConfigMap volume as the kubelet lays it out: probes.yaml ->
// ..data/probes.yaml, ..data -> a timestamped directory, swapped atomically.
class ConfigMapDir {
 public:
  explicit ConfigMapDir(std::string dir) : dir_(std::move(dir)) {}
  std::string file() const { return dir_ + "/probes.yaml"; }

  void Update(const std::string& yaml) {
    const std::string version = absl::StrCat("..2026_11_25_", ++n_);
    fs::create_directories(dir_ + "/" + version);
    std::ofstream(dir_ + "/" + version + "/probes.yaml") << yaml;
    fs::create_directory_symlink(version, dir_ + "/..data_tmp");
    fs::rename(dir_ + "/..data_tmp", dir_ + "/..data");
    if (!fs::exists(dir_ + "/probes.yaml", ec_)) {
      fs::create_symlink("..data/probes.yaml", dir_ + "/probes.yaml");
    }
    if (!previous_.empty()) fs::remove_all(dir_ + "/" + previous_);
    previous_ = version;
  }

 private:
  std::string dir_;
  std::string previous_;
  int n_ = 0;
  std::error_code ec_;
};

class TallydDeclaredTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    dir_ = testing::MakeTempDir();
    config_map_ = std::make_unique<ConfigMapDir>(dir_ + "/config");
    fs::create_directories(dir_ + "/config");
    pid_ = absl::StrCat(getpid());
    pins_ = absl::StrCat(
        "/sys/fs/bpf/tally-test-declared-", getpid(), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    agent_.reset();
    fs::remove_all(dir_);
    std::error_code ec;
    fs::remove_all(pins_, ec);
  }

  void StartAgent() {
    AgentProcess::Options options;
    options.args = {"--probes_file=" + config_map_->file()};
    options.pin_dir = pins_;  // kept across restarts
    auto agent = AgentProcess::Start(options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }

  std::map<std::string, v1::Probe> Probes() {
    v1::ListProbesResponse list;
    EXPECT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
    std::map<std::string, v1::Probe> out;
    for (const v1::Probe& p : list.probes()) out[p.name()] = p;
    return out;
  }

  v1::GetInfoResponse Info() {
    v1::GetInfoResponse info;
    EXPECT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
    return info;
  }

  // Bounded polling of the agent's answers: the agent reacts on its own.
  bool Eventually(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (done()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return done();
  }

  std::string Getppid(const std::string& name) {
    return absl::StrCat("  - name: ", name,
                        "\n    hook: tracepoint:syscalls:sys_enter_getppid\n"
                        "    pid: ", pid_, "\n");
  }

  std::string dir_, pid_, pins_;
  std::unique_ptr<ConfigMapDir> config_map_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(TallydDeclaredTest, TheConfigMapAtStartThenAnUpdateConverge) {
  config_map_->Update("probes:\n" + Getppid("same") + Getppid("changed") +
                      Getppid("removed"));
  StartAgent();
  std::map<std::string, v1::Probe> before = Probes();
  ASSERT_EQ(before.size(), 3u);
  for (const auto& [name, p] : before) {
    EXPECT_EQ(p.state(), v1::PROBE_STATE_RUNNING) << name;
    EXPECT_EQ(p.origin(), config_map_->file()) << name;
  }
  CallGetppid(300);

  const absl::Time swapped = absl::Now();
  config_map_->Update("probes:\n" + Getppid("same") +
                      "  - name: changed\n    hook: rawtracepoint:sys_enter\n"
                      "    pid: " + pid_ + "\n" + Getppid("added"));
  ASSERT_TRUE(Eventually([&] {
    std::map<std::string, v1::Probe> p = Probes();
    return p.count("added") && !p.count("removed") &&
           p["changed"].hook() == "rawtracepoint:sys_enter";
  }));
  std::cout << "converged " << absl::FormatDuration(absl::Now() - swapped)
            << " after the ..data swap\n";
  CallGetppid(200);
  std::map<std::string, v1::Probe> after = Probes();
  // Untouched: the same incarnation, counting on (300 + 200).
  EXPECT_EQ(after["same"].probe_id(), before["same"].probe_id());
  ASSERT_TRUE(Eventually([&] { return Probes()["same"].total() >= 500; }));
  EXPECT_EQ(Probes()["same"].total(), 500u);
  EXPECT_NE(after["changed"].probe_id(), before["changed"].probe_id());
  EXPECT_EQ(after["added"].state(), v1::PROBE_STATE_RUNNING);
}

TEST_F(TallydDeclaredTest, ABrokenFileKeepsThePreviousSetCounting) {
  config_map_->Update("probes:\n" + Getppid("keep"));
  StartAgent();
  const uint64_t id = Probes()["keep"].probe_id();
  config_map_->Update("probes:\n" + Getppid("keep") + "  - name: bad\n"
                      "    hook: tracepoint:syscalls:sys_enter_getppid\n"
                      "    group_by: nobody\n");
  ASSERT_TRUE(Eventually([&] { return !Info().probes_file().error().empty(); }));
  EXPECT_THAT(Info().probes_file().error(),
              HasSubstr(absl::StrCat(config_map_->file(),
                                     ":7: probes[1].group_by: unknown value")));
  CallGetppid(100);
  ASSERT_TRUE(Eventually([&] { return Probes()["keep"].total() >= 100; }));
  EXPECT_EQ(Probes()["keep"].probe_id(), id);
  EXPECT_EQ(Probes().count("bad"), 0u);

  config_map_->Update("probes:\n" + Getppid("keep") + Getppid("good"));
  ASSERT_TRUE(Eventually([&] { return Info().probes_file().error().empty(); }));
  EXPECT_EQ(Probes()["good"].state(), v1::PROBE_STATE_RUNNING);
  EXPECT_EQ(Probes()["keep"].probe_id(), id);
}

TEST_F(TallydDeclaredTest, AnExpiredProbeIsNotStartedAgainAfterARestart) {
  config_map_->Update("probes:\n" + Getppid("short") + "    ttl: 1s\n" +
                      Getppid("long"));
  StartAgent();
  ASSERT_TRUE(Eventually([&] {
    return Probes()["short"].state() == v1::PROBE_STATE_EXPIRED;
  }));
  const uint64_t long_id = Probes()["long"].probe_id();
  agent_->Signal(SIGKILL);
  ASSERT_TRUE(agent_->WaitExit(absl::Seconds(20)).ok());
  StartAgent();
  std::map<std::string, v1::Probe> p = Probes();
  EXPECT_EQ(p["short"].state(), v1::PROBE_STATE_EXPIRED) << p["short"].error();
  EXPECT_THAT(p["short"].error(), HasSubstr("ttl of 1s passed"));
  EXPECT_EQ(p["long"].state(), v1::PROBE_STATE_RUNNING);
  EXPECT_EQ(p["long"].probe_id(), long_id);
  // Declared no more: its record goes, and --uninstall finds nothing else.
  config_map_->Update("probes:\n" + Getppid("long"));
  ASSERT_TRUE(Eventually([&] { return Probes().count("short") == 0; }));
  EXPECT_FALSE(fs::exists(pins_ + "/short"));
}

TEST_F(TallydDeclaredTest, OptionalProbesThisKernelCannotRunAreSkipped) {
  // kprobes where this kernel has none (as here), else a tracepoint that
  // exists nowhere: either way the probe cannot run on this node.
  config_map_->Update("probes: []\n");
  StartAgent();
  std::string missing = "tracepoint:tally_nope:nope";
  const v1::GetInfoResponse info = Info();
  for (const auto& k : info.attach_kinds()) {
    if (k.kind() == "kprobe" && !k.supported()) missing = "kprobe:do_sys_openat2";
  }
  config_map_->Update(absl::StrCat(
      "probes:\n  - name: maybe\n    hook: ", missing, "\n    optional: true\n",
      "  - name: must\n    hook: ", missing, "\n", Getppid("fine")));
  ASSERT_TRUE(Eventually([&] { return Probes().size() == 3; }));
  std::map<std::string, v1::Probe> p = Probes();
  EXPECT_EQ(p["maybe"].state(), v1::PROBE_STATE_SKIPPED);
  EXPECT_FALSE(p["maybe"].error().empty());
  EXPECT_EQ(p["must"].state(), v1::PROBE_STATE_FAILED);
  EXPECT_EQ(p["must"].error(), p["maybe"].error());
  EXPECT_EQ(p["fine"].state(), v1::PROBE_STATE_RUNNING);
}

}  // namespace
}  // namespace tally
