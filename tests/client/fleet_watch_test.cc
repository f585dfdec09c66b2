// FleetWatch against stand-in agents on loopback over mutual TLS: idle
// agents are up, hung ones go STALE (and their counts are kept apart),
// restarted and late agents come back, --for counts from the start, an
// @FILE is re-read, and agents past the file descriptor budget wait with a
// reason. JSON lines are read as the watch writes them; waits are bounded.
#include "client/fleet_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/standin_agent.h"

namespace tally::cli {
namespace {

using ::tally::testing::MakeTempDir;
using ::tally::testing::RunfilePath;
using ::tally::testing::StandinFleet;
using ::tally::testing::StandinOptions;
using ::testing::HasSubstr;

constexpr absl::Duration kBound = absl::Seconds(30);

// Runs a FleetWatch on its own thread, JSON lines into a pipe.
class WatchRun {
 public:
  WatchRun(CommandContext ctx, WatchOptions options)
      : ctx_(std::move(ctx)), options_(std::move(options)) {
    int fds[2];
    if (pipe(fds) != 0) std::abort();
    read_fd_ = fds[0];
    ctx_.out = fdopen(fds[1], "w");
    ctx_.err = tmpfile();
    ctx_.output = OutputFormat::kJson;
    thread_ = std::thread([this] {
      FleetWatch watch(ctx_, options_);
      code_ = watch.Run(stop_);
      std::fclose(ctx_.out);  // the reader sees the end
    });
  }

  ~WatchRun() {
    Finish();
    close(read_fd_);
    std::fclose(ctx_.err);
  }

  // The next line, or nothing once the watch ended or `deadline` passed.
  std::optional<v1::WatchLine> Next(absl::Time deadline) {
    while (true) {
      size_t nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string text = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        v1::WatchLine line;
        EXPECT_TRUE(
            google::protobuf::util::JsonStringToMessage(text, &line).ok())
            << text;
        seen_.push_back(line);
        return line;
      }
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return std::nullopt;
      pollfd p = {read_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <=
          0) {
        continue;
      }
      char buf[4096];
      ssize_t n = read(read_fd_, buf, sizeof(buf));
      if (n <= 0) {
        ended_ = true;
        return std::nullopt;
      }
      buffer_.append(buf, n);
    }
  }

  // The first line from the `from`th on (counting every line read so far)
  // that satisfies `want`, reading on as needed (bounded); or nothing.
  std::optional<v1::WatchLine> Until(
      const std::function<bool(const v1::WatchLine&)>& want, size_t from = 0) {
    for (size_t i = from; i < seen_.size(); ++i) {
      if (want(seen_[i])) return seen_[i];
    }
    const absl::Time deadline = absl::Now() + kBound;
    while (std::optional<v1::WatchLine> line = Next(deadline)) {
      if (want(*line)) return line;
    }
    return std::nullopt;
  }

  // Whether the watch closed its output (ended on its own or was stopped).
  bool ended() const { return ended_; }

  // Lines read so far: Until(want, Mark()) then looks only at later ones.
  size_t Mark() const { return seen_.size(); }

  // Stops the watch; its exit status.
  int Finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return code_;
  }

  // Everything the watch printed, once finished.
  std::vector<v1::WatchLine> Drain() {
    while (Next(absl::Now() + kBound)) {
    }
    return seen_;
  }

  std::string Stderr() {
    std::fflush(ctx_.err);
    std::rewind(ctx_.err);
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), ctx_.err)) > 0) {
      out.append(buf, n);
    }
    return out;
  }

 private:
  CommandContext ctx_;
  const WatchOptions options_;
  int read_fd_ = -1;
  std::string buffer_;
  std::vector<v1::WatchLine> seen_;
  bool ended_ = false;
  std::atomic<bool> stop_{false};
  int code_ = -1;
  std::thread thread_;
};

auto Kind(v1::WatchLine::Kind kind, const std::string& agent) {
  return [kind, agent](const v1::WatchLine& l) {
    return l.kind() == kind && l.agent() == agent;
  };
}

class FleetWatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pki_ = new std::string(MakeTempDir());
    ASSERT_EQ(std::system(absl::StrCat(RunfilePath("scripts/gen-certs.sh"), " ",
                                       *pki_, " >/dev/null")
                              .c_str()),
              0);
  }
  static void TearDownTestSuite() {
    std::system(absl::StrCat("rm -rf ", *pki_).c_str());
    delete pki_;
  }

  void StartFleet(int n) {
    StandinOptions o;
    o.tls_cert = *pki_ + "/server.pem";
    o.tls_key = *pki_ + "/server.key";
    o.tls_client_ca = *pki_ + "/ca.pem";
    auto fleet = StandinFleet::Start(n, o);
    ASSERT_TRUE(fleet.ok()) << fleet.status();
    fleet_ = *std::move(fleet);
  }

  CommandContext Context(const std::string& agents) {
    CommandContext ctx;
    ctx.agents_spec = agents;
    auto targets = ParseAgents(agents);
    EXPECT_TRUE(targets.ok()) << targets.status();
    ctx.targets = *targets;
    auto channels = ChannelFactory::Create(TlsOptions{
        *pki_ + "/ca.pem", *pki_ + "/client.pem", *pki_ + "/client.key", ""});
    EXPECT_TRUE(channels.ok()) << channels.status();
    ctx.channels = *channels;
    ctx.fanout.timeout = absl::Seconds(5);
    return ctx;
  }

  std::string All() const {
    std::string agents;
    for (size_t i = 0; i < fleet_->size(); ++i) {
      absl::StrAppend(&agents, i ? "," : "", fleet_->address(i));
    }
    return agents;
  }

  static WatchOptions Fast() {
    WatchOptions o;
    o.interval = absl::Milliseconds(200);
    o.stale_after = 3;  // 600 ms, raised to the 1 s floor
    return o;
  }

  void StartProbeEverywhere(const std::string& name) {
    // Through tallyctl's own connections (the agents require mTLS).
    CommandContext ctx = Context(All());
    for (size_t i = 0; i < fleet_->size(); ++i) {
      AgentConnection c = ctx.channels.Connect(ctx.targets[i], kBound);
      absl::Notification ready;
      c.WhenReady([&](bool) { ready.Notify(); });
      ready.WaitForNotification();
      auto stub = v1::Agent::NewStub(c.channel);
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + kBound));
      v1::StartProbeRequest req;
      req.set_name(name);
      req.set_hook("syscall:execve");
      v1::StartProbeResponse resp;
      ASSERT_TRUE(stub->StartProbe(&context, req, &resp).ok());
    }
  }

  static std::string* pki_;
  std::unique_ptr<StandinFleet> fleet_;
};

std::string* FleetWatchTest::pki_ = nullptr;

// Finding 2: an agent with no probe sends heartbeats, so it is up; JSON
// says so (AGENT_UP, and a FLEET line per interval), and the exit is 0.
TEST_F(FleetWatchTest, IdleAgentsAreUp) {
  StartFleet(3);
  WatchOptions o = Fast();
  o.duration = absl::Milliseconds(1500);
  WatchRun run(Context(All()), o);
  std::vector<v1::WatchLine> lines = run.Drain();
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  EXPECT_THAT(run.Stderr(), HasSubstr("3/3 agents ok"));
  int up = 0, fleet = 0;
  for (const v1::WatchLine& l : lines) {
    up += l.kind() == v1::WatchLine::AGENT_UP;
    if (l.kind() == v1::WatchLine::FLEET) {
      ++fleet;
      EXPECT_EQ(l.probe(), "");
      EXPECT_EQ(l.agents(), 3u);
    }
  }
  EXPECT_EQ(up, 3);
  EXPECT_GT(fleet, 0);
  EXPECT_EQ(lines.back().kind(), v1::WatchLine::FLEET);
  EXPECT_EQ(lines.back().agents_up(), 3u);
}

// Finding 1: a hung agent goes STALE after a few silent intervals, its last
// count stays in the fleet total but apart (stale_total), and it counts in
// the exit status with a reason. Thawed, it is up again.
TEST_F(FleetWatchTest, HungAgentGoesStaleAndIsKeptApart) {
  StartFleet(3);
  StartProbeEverywhere("p");
  WatchRun run(Context(All()), Fast());
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 3;
  }));
  fleet_->Freeze(1);
  std::optional<v1::WatchLine> stale =
      run.Until(Kind(v1::WatchLine::AGENT_STALE, fleet_->address(1)));
  ASSERT_TRUE(stale);
  EXPECT_THAT(stale->error(), HasSubstr("STALE: no update for"));
  EXPECT_THAT(stale->error(), HasSubstr("most likely hung"));
  std::optional<v1::WatchLine> fleet_line = run.Until(
      [](const v1::WatchLine& l) { return l.kind() == v1::WatchLine::FLEET; },
      run.Mark());
  ASSERT_TRUE(fleet_line);
  EXPECT_EQ(fleet_line->agents_up(), 2u);
  EXPECT_EQ(fleet_line->agents_stale(), 1u);
  EXPECT_GT(fleet_line->stale_total(), 0u);
  EXPECT_GE(fleet_line->total(), fleet_line->stale_total());
  size_t mark = run.Mark();
  fleet_->Thaw(1);
  ASSERT_TRUE(
      run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(1)), mark));
  std::optional<v1::WatchLine> after = run.Until(
      [](const v1::WatchLine& l) {
        return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 3;
      },
      mark);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->stale_total(), 0u);
  EXPECT_GE(after->total(), fleet_line->total());  // never backwards
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
}

// FLEET delta is what the UPDATE lines since the previous FLEET line added,
// for every FLEET line of `probe` in `lines`.
void ExpectFleetDeltasAreUpdateDeltas(const std::vector<v1::WatchLine>& lines,
                                      const std::string& probe) {
  uint64_t since = 0;
  for (const v1::WatchLine& l : lines) {
    if (l.probe() != probe) continue;
    if (l.kind() == v1::WatchLine::UPDATE) since += l.delta();
    if (l.kind() == v1::WatchLine::FLEET) {
      EXPECT_EQ(l.delta(), since) << "FLEET total " << l.total();
      since = 0;
    }
  }
}

// Tester's finding 2: what agents had counted before the watch saw them is
// in the first FLEET total, not in its delta or rate.
TEST_F(FleetWatchTest, FirstFrameCountsNoBacklogAsNew) {
  StartFleet(3);
  StartProbeEverywhere("p");
  WatchRun run(Context(All()), Fast());
  std::optional<v1::WatchLine> first = run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.probe() == "p";
  });
  ASSERT_TRUE(first);
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  std::vector<v1::WatchLine> lines = run.Drain();
  uint64_t backlog = 0;
  std::set<std::string> seen;
  for (const v1::WatchLine& l : lines) {
    if (l.kind() == v1::WatchLine::UPDATE && seen.insert(l.agent()).second) {
      EXPECT_EQ(l.delta(), 0u) << l.agent() << " total " << l.total();
      backlog += l.total();
    }
    if (l.kind() == v1::WatchLine::FLEET) break;
  }
  ASSERT_GT(backlog, 0u);  // the probes counted before the watch began
  EXPECT_LE(first->delta(), first->total() - backlog);
  ExpectFleetDeltasAreUpdateDeltas(lines, "p");
}

// Tester's finding 2: an agent back from a hang brings what it counted
// meanwhile; that is in the total but not one interval's increase.
TEST_F(FleetWatchTest, ThawedAgentsBacklogIsNotAnIncrease) {
  StartFleet(2);
  StartProbeEverywhere("p");
  WatchRun run(Context(All()), Fast());
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 2;
  }));
  fleet_->Freeze(1);
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_STALE, fleet_->address(1))));
  size_t mark = run.Mark();
  fleet_->Thaw(1);
  ASSERT_TRUE(
      run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(1)), mark));
  std::optional<v1::WatchLine> back = run.Until(
      [&](const v1::WatchLine& l) {
        return l.kind() == v1::WatchLine::UPDATE &&
               l.agent() == fleet_->address(1);
      },
      mark);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->delta(), 0u) << "total " << back->total();
  ASSERT_TRUE(run.Until(
      [](const v1::WatchLine& l) {
        return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 2;
      },
      mark));
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  ExpectFleetDeltasAreUpdateDeltas(run.Drain(), "p");
}

// The last FLEET line of `probe` has the sum of every agent's last UPDATE.
void ExpectLastFleetLineHasEveryUpdate(const std::vector<v1::WatchLine>& lines,
                                       const std::string& probe) {
  std::map<std::string, uint64_t> last;
  std::optional<v1::WatchLine> fleet;
  for (const v1::WatchLine& l : lines) {
    if (l.probe() != probe) continue;
    if (l.kind() == v1::WatchLine::UPDATE) last[l.agent()] = l.total();
    if (l.kind() == v1::WatchLine::FLEET) fleet = l;
  }
  ASSERT_FALSE(last.empty());
  ASSERT_TRUE(fleet) << "no FLEET line";
  uint64_t sum = 0;
  for (const auto& [agent, total] : last) sum += total;
  EXPECT_EQ(fleet->total(), sum);
  EXPECT_EQ(lines.back().kind(), v1::WatchLine::FLEET);
}

// Tester's finding 3: updates after the last interval's FLEET line were
// never in one when --for ended (here it ends before the first interval).
TEST_F(FleetWatchTest, ForEndsWithAFleetLineOfEveryUpdate) {
  StartFleet(2);
  StartProbeEverywhere("p");
  WatchOptions o = Fast();
  o.interval = absl::Seconds(5);
  o.duration = absl::Milliseconds(700);
  WatchRun run(Context(All()), o);
  std::vector<v1::WatchLine> lines = run.Drain();
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  ExpectLastFleetLineHasEveryUpdate(lines, "p");
}

// ... and when stopped (SIGINT).
TEST_F(FleetWatchTest, StopEndsWithAFleetLineOfEveryUpdate) {
  StartFleet(2);
  StartProbeEverywhere("p");
  WatchOptions o = Fast();
  o.interval = absl::Seconds(5);
  WatchRun run(Context(All()), o);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(run.Until([&](const v1::WatchLine& l) {
      return l.kind() == v1::WatchLine::UPDATE &&
             l.agent() == fleet_->address(i);
    }));
  }
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  ExpectLastFleetLineHasEveryUpdate(run.Drain(), "p");
}

TEST_F(FleetWatchTest, StaleAgentAtTheEndFailsTheWatchWithItsReason) {
  StartFleet(3);
  WatchRun run(Context(All()), Fast());
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 3;
  }));
  fleet_->Freeze(2);
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_STALE, fleet_->address(2))));
  EXPECT_EQ(run.Finish(), 2);
  EXPECT_THAT(run.Stderr(), HasSubstr("2/3 agents ok; " + fleet_->node(2) +
                                      ": STALE: no update for"));
  fleet_->Thaw(2);
}

// Finding 1: a watch started while an agent hangs says why it is not up.
TEST_F(FleetWatchTest, WatchStartedDuringAHangGivesAReason) {
  StartFleet(3);
  fleet_->Freeze(0);
  WatchRun run(Context(All()), Fast());
  std::optional<v1::WatchLine> stale =
      run.Until(Kind(v1::WatchLine::AGENT_STALE, fleet_->address(0)));
  ASSERT_TRUE(stale);
  EXPECT_THAT(stale->error(), HasSubstr("no answer for"));
  EXPECT_THAT(stale->error(), HasSubstr("most likely hung"));
  // Tester's finding 4: FLEET lines count it as the AGENT_STALE line says.
  std::optional<v1::WatchLine> fleet_line = run.Until(
      [](const v1::WatchLine& l) { return l.kind() == v1::WatchLine::FLEET; },
      run.Mark());
  ASSERT_TRUE(fleet_line);
  EXPECT_EQ(fleet_line->agents_stale(), 1u);
  EXPECT_EQ(fleet_line->agents_up(), 2u);
  EXPECT_EQ(run.Finish(), 2);
  EXPECT_THAT(run.Stderr(), HasSubstr("2/3 agents ok; " + fleet_->address(0) +
                                      ": DEADLINE_EXCEEDED: no answer for"));
  fleet_->Thaw(0);
}

// Finding 2: after a restart, and for an agent that joins late, the watch
// shows the agent up again as soon as it answers.
TEST_F(FleetWatchTest, RestartedAndLateAgentsComeUp) {
  StartFleet(3);
  fleet_->Stop(2);  // the late joiner
  WatchRun run(Context(All()), Fast());
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(0))));
  std::optional<v1::WatchLine> down =
      run.Until(Kind(v1::WatchLine::AGENT_DOWN, fleet_->address(2)));
  ASSERT_TRUE(down);
  EXPECT_THAT(down->error(), HasSubstr("connection refused"));
  ASSERT_TRUE(fleet_->Restart(2).ok());
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(2))));
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 3;
  }));

  size_t mark = run.Mark();
  fleet_->Stop(1);
  ASSERT_TRUE(
      run.Until(Kind(v1::WatchLine::AGENT_DOWN, fleet_->address(1)), mark));
  mark = run.Mark();
  ASSERT_TRUE(fleet_->Restart(1).ok());
  ASSERT_TRUE(
      run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(1)), mark));
  ASSERT_TRUE(run.Until(
      [](const v1::WatchLine& l) {
        return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 3;
      },
      mark));
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  EXPECT_THAT(run.Stderr(), HasSubstr("3/3 agents ok"));
}

// Tester's finding 1: when every agent refuses the request itself
// (INVALID_ARGUMENT: an interval below their minimum), nothing can heal it,
// so the watch ends on its own with exit 1 and the agents' words, rather
// than printing empty FLEET lines until stopped. The agents list is given
// as --agents is (so a re-read is set up), without --for.
TEST_F(FleetWatchTest, RequestEveryAgentRefusesEndsTheWatch) {
  StartFleet(2);
  WatchOptions o = Fast();
  o.interval = absl::Milliseconds(50);
  WatchRun run(Context(All()), o);
  // Ends within a second or so; 10 s bounds a failure.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (run.Next(deadline)) {
  }
  EXPECT_TRUE(run.ended()) << "still watching after every agent refused";
  EXPECT_EQ(run.Finish(), 1);
  EXPECT_THAT(run.Stderr(), HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(run.Stderr(), HasSubstr("below the agent's minimum"));
}

// A probe not started yet (NOT_FOUND) may start any moment: keep retrying.
TEST_F(FleetWatchTest, ProbeNotFoundIsRetriedUntilItStarts) {
  StartFleet(2);
  WatchOptions o = Fast();
  o.probes = {"later"};
  WatchRun run(Context(All()), o);
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_DOWN, fleet_->address(0))));
  StartProbeEverywhere("later");
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents_up() == 2 &&
           l.probe() == "later";
  }));
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
}

// Finding 7: --for counts from when tallyctl started, not from when the
// streams are set up: a watch whose time is already up ends at once.
TEST_F(FleetWatchTest, ForCountsFromTheStart) {
  StartFleet(2);
  CommandContext ctx = Context(All());
  ctx.start = absl::Now() - absl::Seconds(10);
  WatchOptions o = Fast();
  o.duration = absl::Seconds(5);
  WatchRun run(std::move(ctx), o);
  for (const v1::WatchLine& l : run.Drain()) {
    EXPECT_NE(l.kind(), v1::WatchLine::FLEET) << "ticked after its time";
  }
  run.Finish();
}

// Finding 3: lines added to an @FILE are picked up during the watch, and
// agents whose lines go leave (their counts stay in the fleet total).
TEST_F(FleetWatchTest, AgentsFileIsReReadDuringTheWatch) {
  StartFleet(2);
  const std::string dir = MakeTempDir();
  const std::string file = dir + "/agents";
  std::ofstream(file) << fleet_->address(0) << "\n";
  WatchOptions o = Fast();
  o.resolve_every = absl::Milliseconds(200);
  WatchRun run(Context("@" + file), o);
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(0))));
  std::ofstream(file, std::ios::app) << fleet_->address(1) << "\n";
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_UP, fleet_->address(1))));
  std::ofstream(file) << fleet_->address(1) << "\n";  // agent 0 goes
  ASSERT_TRUE(run.Until(Kind(v1::WatchLine::AGENT_LEFT, fleet_->address(0))));
  ASSERT_TRUE(run.Until([](const v1::WatchLine& l) {
    return l.kind() == v1::WatchLine::FLEET && l.agents() == 1 &&
           l.agents_up() == 1;
  }));
  EXPECT_EQ(run.Finish(), 0) << run.Stderr();
  EXPECT_THAT(run.Stderr(), HasSubstr("1/1 agents ok"));
  std::system(absl::StrCat("rm -rf ", dir).c_str());
}

// Finding 5: past the file descriptor budget agents wait, each with the
// reason, and the summary groups them.
TEST_F(FleetWatchTest, AgentsPastTheDescriptorBudgetWaitWithAReason) {
  StartFleet(5);
  CommandContext ctx = Context(All());
  ctx.max_connections = 2;
  WatchOptions o = Fast();
  o.duration = absl::Milliseconds(1500);
  WatchRun run(std::move(ctx), o);
  std::vector<v1::WatchLine> lines = run.Drain();
  EXPECT_EQ(run.Finish(), 2);
  EXPECT_THAT(
      run.Stderr(),
      HasSubstr("2/5 agents ok; RESOURCE_EXHAUSTED: not connected: the "
                "file descriptor limit allows 2 agents at once (see the "
                "warning at start) (3 agents: "));
}

}  // namespace
}  // namespace tally::cli
