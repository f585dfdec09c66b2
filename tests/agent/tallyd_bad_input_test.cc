// tallyd under bad input, as automation produces it: repeated typos, huge
// and malformed requests, callers that give up. The agent answers each with
// its code, keeps its memory, and leaves nothing in the kernel.
#include <bpf/bpf.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
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
#include "tests/testing/sanitizers.h"

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
  if (testing::kAssertMemoryBounds) {
    EXPECT_LT(after - before, 16 * 1024)
        << "RSS went from " << before << " KiB to " << after << " KiB";
  }
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

// A bad StartProbe and the code it must get.
struct BadStart {
  std::string name;
  std::string hook;
  grpc::StatusCode code;
  // Applied to the request after name and hook.
  std::function<void(v1::StartProbeRequest*)> tweak = nullptr;
};

std::vector<BadStart> BadStarts() {
  const std::string huge(9000, 'h');
  return {
      {"tp", "tracepoint:sched:no_such_event", grpc::StatusCode::NOT_FOUND},
      {"raw", "rawtracepoint:no_such_tp", grpc::StatusCode::NOT_FOUND},
      {"kp", "kprobe:no_such_function_xyz", grpc::StatusCode::FAILED_PRECONDITION},
      {"fe", "fentry:no_such_function_xyz", grpc::StatusCode::FAILED_PRECONDITION},
      {"up", "uprobe:/bin/true:no_such_symbol", grpc::StatusCode::NOT_FOUND},
      {"ub", "uprobe:/no/such/binary:main", grpc::StatusCode::NOT_FOUND},
      {"sc", "syscall:no_such_call", grpc::StatusCode::NOT_FOUND},
      {"e", "", grpc::StatusCode::INVALID_ARGUMENT},
      {"t", "nope:thing", grpc::StatusCode::INVALID_ARGUMENT},
      {"w", "kprobe:vfs_*", grpc::StatusCode::INVALID_ARGUMENT},
      {"h", "tracepoint:x:" + huge, grpc::StatusCode::INVALID_ARGUMENT},
      {"bad name", "syscall:getppid", grpc::StatusCode::INVALID_ARGUMENT},
      {huge, "syscall:getppid", grpc::StatusCode::INVALID_ARGUMENT},
      {"g", "syscall:getppid", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::StartProbeRequest* r) { r->set_group_by(static_cast<v1::GroupBy>(99)); }},
      {"k", "syscall:getppid", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::StartProbeRequest* r) { r->set_max_keys(1u << 31); }},
      {"p", "syscall:getppid", grpc::StatusCode::NOT_FOUND,
       [](v1::StartProbeRequest* r) { r->set_pid(999999999); }},
      {"l", "syscall:getppid", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::StartProbeRequest* r) {
         r->mutable_ttl()->set_seconds(5);
         r->mutable_ttl()->set_nanos(-1);
       }},
  };
}

// Thousands of bad requests of every kind, as a buggy script would send
// them: each gets its code, the agent's memory stays put, and nothing is
// left in the kernel.
TEST_F(TallydBadInputTest, ThousandsOfBadRequestsCostNothing) {
  const std::vector<BadStart> bad = BadStarts();
  auto round = [&](bool with_btf) {
    for (const BadStart& b : bad) {
      v1::StartProbeRequest req;
      req.set_name(b.name);
      req.set_hook(b.hook);
      if (b.tweak) b.tweak(&req);
      v1::StartProbeResponse resp;
      grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
      ASSERT_EQ(s.error_code(), b.code)
          << b.hook.substr(0, 64) << ": " << s.error_message().substr(0, 200);
      ASSERT_LT(s.error_message().size(), 2048u);
    }
    if (with_btf) {
      ASSERT_EQ(Start("btf", "tp_btf:no_such_tp").error_code(),
                grpc::StatusCode::NOT_FOUND);
    }
    v1::StopProbeRequest stop;
    stop.set_name("absent");
    v1::StopProbeResponse stopped;
    ASSERT_EQ(stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped)
                  .error_code(),
              grpc::StatusCode::NOT_FOUND);
    stop.set_name("bad name");
    ASSERT_EQ(stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped)
                  .error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    for (auto tweak : std::vector<std::function<void(v1::WatchCountsRequest*)>>{
             [](v1::WatchCountsRequest* r) { r->mutable_interval()->set_nanos(1); },
             [](v1::WatchCountsRequest* r) { r->set_top_n(1u << 30); },
             [](v1::WatchCountsRequest* r) { r->add_probes("absent"); }}) {
      v1::WatchCountsRequest req;
      tweak(&req);
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      auto reader = stub_->WatchCounts(&ctx, req);
      v1::WatchCountsResponse u;
      while (reader->Read(&u)) {
      }
      grpc::Status s = reader->Finish();
      ASSERT_TRUE(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                  s.error_code() == grpc::StatusCode::NOT_FOUND)
          << s.error_message();
    }
  };
  round(true);  // warm-up: first-use allocations are not growth
  const int64_t before = RssKib(agent_->pid());
  // What the agent holds of its own (the pin root's alive map).
  std::map<std::string, std::set<uint32_t>> held;
  for (const char* field : {"prog_id:", "map_id:", "link_id:"}) {
    held[field] = testing::HeldBpfIds(agent_->pid(), field);
  }
  constexpr int kRounds = 100;  // ~2,300 requests
  for (int i = 0; i < kRounds; ++i) {
    round(i % 10 == 0);
    if (HasFatalFailure()) return;
  }
  const int64_t after = RssKib(agent_->pid());
  std::cout << "RSS after warm-up " << before << " KiB, after " << kRounds
            << " rounds " << after << " KiB\n";
  if (testing::kAssertMemoryBounds) {
    EXPECT_LT(after - before, 4 * 1024)
        << "RSS went from " << before << " KiB to " << after << " KiB";
  }
  for (const char* field : {"prog_id:", "map_id:", "link_id:"}) {
    EXPECT_EQ(testing::HeldBpfIds(agent_->pid(), field), held[field]) << field;
  }
  v1::ListProbesResponse list;
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  EXPECT_EQ(list.probes_size(), 0);
}

}  // namespace
}  // namespace tally
