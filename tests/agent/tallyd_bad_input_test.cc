// tallyd under bad input, as automation produces it: repeated typos, huge
// and malformed requests, callers that give up. The agent answers each with
// its code, keeps its memory, and leaves nothing in the kernel.
#include <bpf/bpf.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"

namespace tally {
namespace {

using ::tally::testing::AgentProcess;
using ::tally::testing::ContextWithDeadline;
using ::testing::HasSubstr;

// Resident memory of `pid`, in KiB.
int64_t RssKib(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 16, '\n');
  }
  return -1;
}

class TallydBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    auto agent = AgentProcess::Start({});
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }

  grpc::Status Start(const std::string& name, const std::string& hook) {
    v1::StartProbeRequest req;
    req.set_name(name);
    req.set_hook(hook);
    v1::StartProbeResponse resp;
    return stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
  }

  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

// Outside-client finding: each StartProbe of an unknown tp_btf target
// leaked the kernel BTF libbpf 1.1 parsed for it (about 6 MB): 50 typos
// took the agent from 21 MB to 319 MB.
TEST_F(TallydBadInputTest, UnknownBtfTargetsDoNotLeak) {
  ASSERT_TRUE(Start("warm", "tp_btf:no_such_tp_warmup").error_code() ==
              grpc::StatusCode::NOT_FOUND);
  const int64_t before = RssKib(agent_->pid());
  for (int i = 0; i < 40; ++i) {
    grpc::Status s = Start("typo", absl::StrCat("tp_btf:no_such_tp_", i));
    ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  }
  const int64_t after = RssKib(agent_->pid());
  EXPECT_LT(after - before, 16 * 1024)
      << "RSS went from " << before << " KiB to " << after << " KiB";
}

// Outside-client finding: with a 1 ms deadline the caller got
// DEADLINE_EXCEEDED and the probe ran anyway, with no TTL and no owner.
TEST_F(TallydBadInputTest, StartWhoseCallerGaveUpLeavesNoProbe) {
  int gave_up = 0;
  for (int i = 0; i < 5; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("impatient-", i));
    // tp_btf resolves its target in the kernel BTF: milliseconds.
    req.set_hook("tp_btf:sched_switch");
    v1::StartProbeResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Milliseconds(1)));
    grpc::Status s = stub_->StartProbe(&ctx, req, &resp);
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) ++gave_up;
  }
  ASSERT_GT(gave_up, 0) << "every start beat a 1 ms deadline";
  // The worker runs one operation at a time: once this start is answered,
  // every earlier one has been decided.
  ASSERT_TRUE(Start("patient", "rawtracepoint:sched_switch").ok());
  v1::ListProbesResponse list;
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  int impatient_running = 0;
  for (const v1::Probe& p : list.probes()) {
    if (p.name().rfind("impatient-", 0) == 0) ++impatient_running;
  }
  // A start may beat its deadline; those callers got OK and own the probe.
  EXPECT_EQ(impatient_running, 5 - gave_up);
}

}  // namespace
}  // namespace tally
