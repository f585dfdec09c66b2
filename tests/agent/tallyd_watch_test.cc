// WatchCounts under load: many concurrent watchers, and one that never reads.
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <fstream>
#include <map>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/sanitizers.h"
#include "tests/testing/events.h"

namespace tally {
namespace {

using ::tally::testing::CallGetppid;

using ::tally::testing::AgentProcess;
using ::tally::testing::ContextWithDeadline;


// Resident memory of `pid` in kB.
long RssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

class TallydWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    auto agent = AgentProcess::Start({});
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
  }

  void StartProbe(const std::string& name, v1::GroupBy group_by) {
    v1::StartProbeRequest req;
    req.set_name(name);
    req.set_hook("tracepoint:syscalls:sys_enter_getppid");
    req.set_pid(getpid());
    req.set_group_by(group_by);
    v1::StartProbeResponse resp;
    grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // A stub on its own connection with a small, fixed flow-control window
  // (no BDP growth): a stream on it that is not read really blocks the
  // agent's writes, as a stalled client's would.
  std::unique_ptr<v1::Agent::Stub> SmallWindowStub() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
    return v1::Agent::NewStub(grpc::CreateCustomChannel(
        agent_->address(), grpc::InsecureChannelCredentials(), args));
  }

  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
};

TEST_F(TallydWatchTest, TwentyWatchersSeeIncreasingSeqsAndConverge) {
  constexpr int kWatchers = 20;
  constexpr int kRounds = 10;
  constexpr int kPerRound = 100;
  constexpr uint64_t kTotal = kRounds * kPerRound;
  StartProbe("load", v1::GROUP_BY_UNSPECIFIED);

  std::atomic<int> ready{0};
  std::vector<std::string> failures(kWatchers);
  std::vector<uint64_t> final_totals(kWatchers, 0);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWatchers; ++w) {
    threads.emplace_back([&, w] {
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      v1::WatchCountsRequest req;
      req.add_probes("load");
      req.mutable_interval()->set_nanos(100 * 1000 * 1000);
      auto reader = stub_->WatchCounts(&ctx, req);
      v1::WatchCountsResponse u;
      uint64_t last_seq = 0, last_total = 0;
      bool first = true;
      while (reader->Read(&u)) {
        if (first) ready++;
        if (!first && u.seq() <= last_seq) {
          failures[w] = absl::StrCat("seq went ", last_seq, " -> ", u.seq());
        }
        if (u.total() < last_total) {
          failures[w] = absl::StrCat("total went ", last_total, " -> ", u.total());
        }
        if (u.delta() != u.total() - (first ? u.total() : last_total)) {
          failures[w] = absl::StrCat("delta ", u.delta(), " after ", last_total,
                                     " -> ", u.total());
        }
        first = false;
        last_seq = u.seq();
        last_total = u.total();
        if (last_total == kTotal) break;
      }
      final_totals[w] = last_total;
      ctx.TryCancel();
    });
  }
  // Events flow while every watcher is connected, in rounds, so updates
  // arrive mid-way and not only at the end.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (ready.load() < kWatchers && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (int r = 0; r < kRounds; ++r) {
    CallGetppid(kPerRound);
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < kWatchers; ++w) {
    EXPECT_EQ(failures[w], "") << "watcher " << w;
    EXPECT_EQ(final_totals[w], kTotal) << "watcher " << w;
  }
}

TEST_F(TallydWatchTest, StalledWatcherIsCoalescedAndDoesNotSlowOthers) {
  // Many probes with many keys: big, frequent updates that would pile up
  // without coalescing.
  constexpr int kProbes = 10;
  constexpr int kThreads = 40;
  for (int p = 0; p < kProbes; ++p) {
    StartProbe(absl::StrCat("p", p), v1::GROUP_BY_PID);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < kThreads; ++t) {
    load.emplace_back([&] {
      while (!stop.load()) {
        CallGetppid(50);
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
  }

  // The stalled watcher: opened, never read until the end.
  auto stalled_stub = SmallWindowStub();
  grpc::ClientContext stalled_ctx;
  v1::WatchCountsRequest req;
  req.mutable_interval()->set_nanos(100 * 1000 * 1000);
  req.set_top_n(100);
  auto stalled = stalled_stub->WatchCounts(&stalled_ctx, req);

  // A healthy watcher on the same agent, counting its updates.
  grpc::ClientContext healthy_ctx;
  healthy_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::WatchCountsRequest healthy_req;
  healthy_req.add_probes("p0");
  healthy_req.mutable_interval()->set_nanos(100 * 1000 * 1000);
  auto healthy = stub_->WatchCounts(&healthy_ctx, healthy_req);
  v1::WatchCountsResponse u;
  ASSERT_TRUE(healthy->Read(&u));
  const long rss_start = RssKb(agent_->pid());

  // 50 intervals of 100 ms: the healthy watcher gets one update per tick.
  int healthy_updates = 0;
  const absl::Time start = absl::Now();
  while (healthy_updates < 50 && healthy->Read(&u)) ++healthy_updates;
  const absl::Duration took = absl::Now() - start;
  const long rss_end = RssKb(agent_->pid());
  stop = true;
  for (std::thread& t : load) t.join();

  EXPECT_EQ(healthy_updates, 50);
  // Its interval held while the other stream was stalled (50 ticks of
  // 100 ms; generous slack for a loaded CI machine).
  EXPECT_LT(took, absl::Seconds(15));
  // Bounded memory: without coalescing, 10 probes x 10 updates/s x 5 s of
  // ~1 KB messages would queue up for the stalled stream.
  if (testing::kAssertMemoryBounds) {
    EXPECT_LT(rss_end - rss_start, 4 * 1024)
        << "RSS grew from " << rss_start << " kB to " << rss_end << " kB";
  }

  // Drained now, the stalled stream holds far fewer updates than the ~500
  // produced for it, and each probe's last one is current.
  agent_->Signal(SIGTERM);
  int stalled_updates = 0;
  std::map<std::string, uint64_t> last_total;
  while (stalled->Read(&u)) {
    if (u.heartbeat()) continue;  // a tick that had no probe left
    ++stalled_updates;
    EXPECT_GE(u.total(), last_total[u.probe()]) << u.probe();
    last_total[u.probe()] = u.total();
  }
  std::cout << "stalled stream delivered " << stalled_updates
            << " updates after the stall\n";
  EXPECT_LT(stalled_updates, 250);
  EXPECT_EQ(last_total.size(), static_cast<size_t>(kProbes));
  healthy_ctx.TryCancel();
}

TEST_F(TallydWatchTest, StalledWatcherGetsTheFinalUpdateOfARestartedProbe) {
  // Many keys make big updates, so a stalled stream's window fills quickly.
  constexpr int kThreads = 200;
  StartProbe("p", v1::GROUP_BY_PID);
  auto burst = [] {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) threads.emplace_back([] { CallGetppid(3); });
    for (std::thread& t : threads) t.join();
  };
  burst();

  auto stalled_stub = SmallWindowStub();
  grpc::ClientContext ctx;
  v1::WatchCountsRequest req;
  req.mutable_interval()->set_nanos(100 * 1000 * 1000);
  req.set_top_n(100);
  auto stalled = stalled_stub->WatchCounts(&ctx, req);
  // Not synchronization: time for ~20 big updates to fill the window, so
  // what follows happens while the agent holds updates back.
  absl::SleepFor(absl::Seconds(2));
  burst();

  v1::StopProbeRequest stop;
  stop.set_name("p");
  v1::StopProbeResponse stopped;
  ASSERT_TRUE(stub_->StopProbe(ContextWithDeadline().get(), stop, &stopped).ok());
  StartProbe("p", v1::GROUP_BY_PID);  // same name, new incarnation
  agent_->Signal(SIGTERM);

  bool got_final = false;
  v1::WatchCountsResponse u;
  while (stalled->Read(&u)) {
    if (u.probe_id() == stopped.probe().probe_id() &&
        u.state() == v1::PROBE_STATE_STOPPED) {
      got_final = true;
      EXPECT_EQ(u.total(), stopped.probe().total());
    }
  }
  EXPECT_TRUE(got_final) << "the stopped incarnation's final update was lost";
}

}  // namespace
}  // namespace tally
