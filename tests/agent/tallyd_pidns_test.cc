// tallyd as the DaemonSet runs it: in its own PID namespace (no hostPID).
// A pid in a request is the host's, and filters count it exactly there too.
#include <limits.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"

// A function of this binary for the uprobe case.
extern "C" __attribute__((noinline, used)) int tally_pidns_uprobe_target(
    int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

namespace tally {
namespace {

using ::tally::testing::AgentProcess;
using ::tally::testing::CallGetppid;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;

constexpr int kEvents = 300;

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "/proc/self/exe";
}

class TallydPidNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    if (system("unshare --help >/dev/null 2>&1") != 0) {
      GTEST_FAIL() << "unshare (util-linux) is missing";
    }
    host_proc_ = testing::MakeTempDir();
  }
  void TearDown() override {
    agent_.reset();
    std::filesystem::remove_all(host_proc_);
  }

  // tallyd as pid 1 of a new PID namespace with its own /proc, as in a pod
  // without hostPID; with `host_proc`, the host's /proc is bind-mounted for
  // it as the DaemonSet mounts /host/proc.
  void StartNested(bool host_proc) {
    AgentProcess::Options options;
    std::string nest =
        "exec unshare --pid --fork --mount-proc --kill-child -- \"$@\"";
    if (host_proc) {
      nest = "mount --bind /proc \"$0\" && " + nest + " --host_proc=\"$0\"";
    }
    options.wrapper = {"unshare", "--mount", "--propagation", "private", "--",
                       "sh", "-c", nest, host_proc_};
    auto agent = AgentProcess::Start(options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }

  uint64_t Total(const std::string& name) {
    v1::ListProbesResponse list;
    EXPECT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
    for (const v1::Probe& p : list.probes()) {
      if (p.name() == name) return p.total();
    }
    return 0;
  }

  // Counts are per CPU and summed when read: poll, bounded, for `want`.
  uint64_t WaitForTotal(const std::string& name, uint64_t want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    uint64_t total = Total(name);
    while (total < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      total = Total(name);
    }
    return total;
  }

  std::string host_proc_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

// Outside-client finding: as deployed, every host pid was NOT_FOUND (the
// agent looked in its own namespace's /proc), uprobes were reported
// unsupported, and a uprobe's pid would have been read in the wrong
// namespace.
TEST_F(TallydPidNamespaceTest, HostPidsFilterExactlyFromAPidNamespace) {
  StartNested(/*host_proc=*/true);
  v1::GetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(ContextWithDeadline().get(), {}, &info).ok());
  for (const v1::AttachKindSupport& k : info.attach_kinds()) {
    if (k.kind() == "uprobe") {
      EXPECT_TRUE(k.supported()) << "uprobe in a PID namespace: " << k.reason();
    }
  }

  v1::StartProbeRequest getppid = testing::GetppidProbe("mine");
  v1::StartProbeResponse resp;
  grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(), getppid, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.probe().pid(), static_cast<uint32_t>(getpid()));
  CallGetppid(kEvents);
  EXPECT_EQ(WaitForTotal("mine", kEvents), static_cast<uint64_t>(kEvents));

  v1::StartProbeRequest uprobe;
  uprobe.set_name("mine-uprobe");
  uprobe.set_hook(
      absl::StrCat("uprobe:", SelfExe(), ":tally_pidns_uprobe_target"));
  uprobe.set_pid(static_cast<uint32_t>(getpid()));
  s = stub_->StartProbe(ContextWithDeadline().get(), uprobe, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  int sum = 0;
  for (int i = 0; i < kEvents; ++i) sum += tally_pidns_uprobe_target(i);
  EXPECT_GT(sum, 0);
  EXPECT_EQ(WaitForTotal("mine-uprobe", kEvents),
            static_cast<uint64_t>(kEvents));
}

TEST_F(TallydPidNamespaceTest, WithoutTheHostsProcAPidIsAClearPrecondition) {
  StartNested(/*host_proc=*/false);
  v1::StartProbeResponse resp;
  grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(),
                                     testing::GetppidProbe("mine"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("--host_proc"));
  v1::StartProbeRequest everyone = testing::GetppidProbe("everyone");
  everyone.set_pid(0);
  s = stub_->StartProbe(ContextWithDeadline().get(), everyone, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

}  // namespace
}  // namespace tally
