// End to end: the real tallyctl binary against real tallyd processes, each
// in its own network namespace with its own address, over mutual TLS.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tally/v1/cli_output.pb.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"
#include "tests/testing/netns_fleet.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::tally::testing::CallGetppid;

using ::tally::testing::Child;
using ::tally::testing::NetnsFleet;
using ::tally::testing::RunfilePath;
using ::tally::testing::RunResult;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kAgents = 3;
constexpr uint64_t kEvents = 300;
constexpr char kFleetName[] = "tally-agents.test";


template <typename T>
T ParseJson(const std::string& line) {
  T message;
  auto status = google::protobuf::util::JsonStringToMessage(line, &message);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
  return message;
}

class TallyctlFleetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    if (system("command -v ip >/dev/null") != 0) {
      GTEST_SKIP() << "skipped: iproute2's ip is not installed";
    }
    pki_ = ::tally::testing::MakeTempDir();
    auto fleet = NetnsFleet::Create(kAgents);
    ASSERT_TRUE(fleet.ok()) << fleet.status();
    fleet_ = *std::move(fleet);
    std::string names = kFleetName;
    for (int i = 0; i < kAgents; ++i) {
      absl::StrAppend(&names, " ", fleet_->address(i));
    }
    ASSERT_EQ(system(absl::StrCat(RunfilePath("scripts/gen-certs.sh"), " ",
                                  pki_, " ", names, " >/dev/null")
                         .c_str()),
              0);
    for (int i = 0; i < kAgents; ++i) {
      absl::Status s = fleet_->StartAgent(i, pki_);
      ASSERT_TRUE(s.ok()) << s;
    }
  }

  void TearDown() override {
    fleet_.reset();
    if (!pki_.empty()) system(("rm -rf " + pki_).c_str());
  }

  std::string Agents() const {
    std::vector<std::string> endpoints;
    for (int i = 0; i < kAgents; ++i) endpoints.push_back(fleet_->endpoint(i));
    return absl::StrJoin(endpoints, ",");
  }

  std::vector<std::string> Tallyctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        RunfilePath("client/tallyctl"), "--tls-ca=" + pki_ + "/ca.pem",
        "--tls-cert=" + pki_ + "/client.pem",
        "--tls-key=" + pki_ + "/client.key", "--timeout=5s"};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  RunResult Ctl(std::vector<std::string> args) const {
    return ::tally::testing::Run(Tallyctl(std::move(args)));
  }

  // tallyctl with exactly `args`: no TLS options of its own.
  RunResult Bare(std::vector<std::string> args) const {
    args.insert(args.begin(), RunfilePath("client/tallyctl"));
    return ::tally::testing::Run(args);
  }

  void StartProbeEverywhere() {
    RunResult start = Ctl({"--agents", Agents(), "start",
                           "tracepoint:syscalls:sys_enter_getppid", "--name",
                           "fleet", "--pid", absl::StrCat(getpid())});
    ASSERT_EQ(start.exit_code, 0) << start.err;
  }

  std::vector<v1::AgentLine> Lines(const std::string& out) {
    std::vector<v1::AgentLine> lines;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) lines.push_back(ParseJson<v1::AgentLine>(line));
    }
    return lines;
  }

  std::string pki_;
  std::unique_ptr<NetnsFleet> fleet_;
};

// Reads watch lines until a FLEET line for `probe` reaches `want` (bounded),
// checking that fleet totals never go backwards. Returns the last total.
uint64_t WatchUntil(Child& watch, const std::string& probe, uint64_t want,
                    uint64_t* last_fleet_total, std::vector<v1::WatchLine>* seen) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    std::optional<std::string> line = watch.ReadLine(deadline);
    if (!line) break;
    v1::WatchLine w = ParseJson<v1::WatchLine>(*line);
    seen->push_back(w);
    if (w.kind() != v1::WatchLine::FLEET || w.probe() != probe) continue;
    EXPECT_GE(w.total(), *last_fleet_total) << "fleet total went backwards";
    *last_fleet_total = w.total();
    if (w.total() >= want) break;
  }
  return *last_fleet_total;
}

bool Saw(const std::vector<v1::WatchLine>& lines, v1::WatchLine::Kind kind,
         const std::string& agent) {
  for (const auto& l : lines) {
    if (l.kind() == kind && l.agent() == agent) return true;
  }
  return false;
}

// Reads watch lines (bounded) until there was one of `kind` for every agent
// in `agents`.
bool ReadUntilAll(Child& watch, v1::WatchLine::Kind kind,
                  std::set<std::string> agents) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!agents.empty()) {
    std::optional<std::string> line = watch.ReadLine(deadline);
    if (!line) return false;
    v1::WatchLine w = ParseJson<v1::WatchLine>(*line);
    if (w.kind() == kind) agents.erase(w.agent());
  }
  return true;
}

// Reads watch lines (bounded) until one of `kind` for `agent`; that line.
std::optional<v1::WatchLine> ReadUntil(Child& watch, v1::WatchLine::Kind kind,
                                       const std::string& agent) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (std::optional<std::string> line = watch.ReadLine(deadline)) {
    v1::WatchLine w = ParseJson<v1::WatchLine>(*line);
    if (w.kind() == kind && w.agent() == agent) return w;
  }
  return std::nullopt;
}

TEST_F(TallyctlFleetTest, StartWatchKillRestartStopAcrossTheFleet) {
  const std::string pid = absl::StrCat(getpid());
  RunResult info = Ctl({"--agents", Agents(), "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  for (int i = 0; i < kAgents; ++i) {
    EXPECT_THAT(info.out, HasSubstr(absl::StrCat("node-", i)));
  }
  EXPECT_THAT(info.err, HasSubstr("3/3 agents ok"));

  RunResult start = Ctl({"--agents", Agents(), "--output", "json", "start",
                         "tracepoint:syscalls:sys_enter_getppid", "--name",
                         "fleet", "--pid", pid});
  ASSERT_EQ(start.exit_code, 0) << start.err;
  std::vector<v1::AgentLine> started = Lines(start.out);
  ASSERT_EQ(started.size(), static_cast<size_t>(kAgents));
  for (int i = 0; i < kAgents; ++i) {
    EXPECT_EQ(started[i].agent(), fleet_->endpoint(i));  // stable order
    EXPECT_EQ(started[i].node(), absl::StrCat("node-", i));
    EXPECT_TRUE(started[i].created());
    EXPECT_EQ(started[i].probe().mechanism(), "tracepoint");
    EXPECT_EQ(started[i].error(), "");
  }

  Child watch(Tallyctl({"--agents", Agents(), "watch", "fleet", "--interval",
                        "200ms"}));  // stdout is a pipe: JSON lines
  std::vector<v1::WatchLine> seen;
  uint64_t fleet_total = 0;
  WatchUntil(watch, "fleet", 0, &fleet_total, &seen);
  // Every agent counts this process's calls: the fleet sees agents x N.
  CallGetppid(kEvents);
  EXPECT_EQ(WatchUntil(watch, "fleet", kAgents * kEvents, &fleet_total, &seen),
            kAgents * kEvents);

  RunResult list = Ctl({"--agents", Agents(), "--output", "json", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<v1::AgentLine> listed = Lines(list.out);
  ASSERT_EQ(listed.size(), static_cast<size_t>(kAgents));
  for (const v1::AgentLine& l : listed) {
    EXPECT_EQ(l.probe().name(), "fleet");
    EXPECT_EQ(l.probe().total(), kEvents);
  }

  // One agent dies: the others keep streaming; it is reported down.
  fleet_->KillAgent(2);
  CallGetppid(kEvents);
  // Node 2's count stays in the fleet total: N + 2N + 2N.
  EXPECT_EQ(WatchUntil(watch, "fleet", 5 * kEvents, &fleet_total, &seen),
            5 * kEvents);
  const absl::Time down_deadline = absl::Now() + absl::Seconds(30);
  while (!Saw(seen, v1::WatchLine::AGENT_DOWN, fleet_->endpoint(2)) &&
         absl::Now() < down_deadline) {
    if (auto line = watch.ReadLine(down_deadline)) {
      seen.push_back(ParseJson<v1::WatchLine>(*line));
    }
  }
  EXPECT_TRUE(Saw(seen, v1::WatchLine::AGENT_DOWN, fleet_->endpoint(2)));

  RunResult partial = Ctl({"--agents", Agents(), "list"});
  EXPECT_EQ(partial.exit_code, 2);
  EXPECT_THAT(partial.err, HasSubstr("2/3 agents ok; " + fleet_->endpoint(2) +
                                     ": UNAVAILABLE"));

  // The node's pinned probe counted on while no agent ran: N more there.
  CallGetppid(kEvents);
  EXPECT_EQ(WatchUntil(watch, "fleet", 7 * kEvents, &fleet_total, &seen),
            7 * kEvents);
  // Back again: the agent re-adopts its pinned probe (same probe_id, its
  // count intact, the downtime included); the watch reconnects and goes on
  // from it without counting it twice. Starting it again is idempotent.
  ASSERT_TRUE(fleet_->StartAgent(2, pki_).ok());
  RunResult restart = Ctl({"--agents", Agents(), "--output", "json", "start",
                           "tracepoint:syscalls:sys_enter_getppid", "--name",
                           "fleet", "--pid", pid});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  std::vector<v1::AgentLine> restarted = Lines(restart.out);
  ASSERT_EQ(restarted.size(), static_cast<size_t>(kAgents));
  EXPECT_FALSE(restarted[0].created());
  EXPECT_FALSE(restarted[2].created());
  EXPECT_EQ(restarted[2].probe().probe_id(), started[2].probe().probe_id());
  EXPECT_TRUE(restarted[2].probe().readopted());
  // N before the kill and 2N while no agent ran.
  EXPECT_EQ(restarted[2].probe().total(), 3 * kEvents);
  seen.clear();
  WatchUntil(watch, "fleet", 9 * kEvents, &fleet_total, &seen);
  const absl::Time up_deadline = absl::Now() + absl::Seconds(30);
  while (!Saw(seen, v1::WatchLine::AGENT_UP, fleet_->endpoint(2)) &&
         absl::Now() < up_deadline) {
    if (auto line = watch.ReadLine(up_deadline)) {
      seen.push_back(ParseJson<v1::WatchLine>(*line));
    }
  }
  ASSERT_TRUE(Saw(seen, v1::WatchLine::AGENT_UP, fleet_->endpoint(2)));
  // 3N from each node: exactly (carrying node 2's N on top of its
  // re-adopted 3N would say 10N).
  EXPECT_EQ(fleet_total, 9 * kEvents);
  CallGetppid(kEvents);
  EXPECT_EQ(WatchUntil(watch, "fleet", 12 * kEvents, &fleet_total, &seen),
            12 * kEvents);

  RunResult stop = Ctl({"--agents", Agents(), "--output", "json", "stop",
                        "fleet"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  std::vector<v1::AgentLine> stopped = Lines(stop.out);
  ASSERT_EQ(stopped.size(), static_cast<size_t>(kAgents));
  EXPECT_EQ(stopped[0].probe().total(), 4 * kEvents);
  EXPECT_EQ(stopped[2].probe().total(), 4 * kEvents);
  EXPECT_EQ(stopped[0].probe().state(), v1::PROBE_STATE_STOPPED);
  RunResult empty = Ctl({"--agents", Agents(), "--output", "json", "list"});
  EXPECT_EQ(empty.exit_code, 0);
  // An agent with no probes still gets a line (so an empty node is
  // visible), and that line carries no probe.
  std::vector<v1::AgentLine> empty_lines = Lines(empty.out);
  ASSERT_EQ(empty_lines.size(), static_cast<size_t>(kAgents)) << empty.out;
  for (const v1::AgentLine& line : empty_lines) {
    EXPECT_FALSE(line.has_probe()) << empty.out;
    EXPECT_TRUE(line.error().empty()) << empty.out;
  }

  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(20)), 0) << watch.Stderr();
  EXPECT_THAT(watch.Stderr(), HasSubstr("3/3 agents ok"));
}

TEST_F(TallyctlFleetTest, DnsNameReachesEveryAgent) {
  // A private /etc/hosts (in a mount namespace of tallyctl's own) maps one
  // name to every agent address, as a headless Service's DNS record does.
  std::string hosts = pki_ + "/hosts";
  {
    std::ofstream out(hosts);
    for (int i = 0; i < kAgents; ++i) {
      out << fleet_->address(i) << " " << kFleetName << "\n";
    }
  }
  std::vector<std::string> ctl = Tallyctl(
      {"--agents", absl::StrCat("dns:", kFleetName, ":", NetnsFleet::kPort),
       "--output", "json", "info"});
  std::string command = absl::StrCat("mount --bind ", hosts, " /etc/hosts && exec");
  for (const std::string& a : ctl) absl::StrAppend(&command, " '", a, "'");
  RunResult r = ::tally::testing::Run({"unshare", "--mount", "sh", "-c", command});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> nodes, agents;
  for (const v1::AgentLine& l : Lines(r.out)) {
    nodes.insert(l.node());
    agents.insert(l.agent());
    EXPECT_EQ(l.error(), "");
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"node-0", "node-1", "node-2"}));
  EXPECT_EQ(agents.size(), static_cast<size_t>(kAgents));
  EXPECT_THAT(r.err, HasSubstr("3/3 agents ok"));
}

TEST_F(TallyctlFleetTest, BadInputGetsAClearMessageAndExitStatus) {
  RunResult unknown = Ctl({"--agents", Agents(), "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("unknown command 'frobnicate'"));
  EXPECT_THAT(unknown.err,
              HasSubstr("commands are info, list, start, status, stop, watch"));
  // Every agent would refuse it: said before connecting, exit 1.
  RunResult bad_name = Ctl({"--agents", Agents(), "watch", "bad name!"});
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_THAT(bad_name.err, HasSubstr("tallyctl watch: "));

  RunResult bad_hook = Ctl({"--agents", Agents(), "start", "bogus:thing"});
  EXPECT_EQ(bad_hook.exit_code, 1);
  EXPECT_THAT(bad_hook.err, HasSubstr("unknown probe type 'bogus'"));

  // Syntax is fine, the kernel says no: every agent fails the same way.
  RunResult missing = Ctl({"--agents", Agents(), "start",
                           "tracepoint:sched:no_such_event"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("0/3 agents ok"));
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));

  RunResult unreachable = Ctl({"--agents", "unix:/nonexistent/tally.sock",
                               "list"});
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_THAT(unreachable.err, HasSubstr("0/1 agents ok"));
  EXPECT_THAT(unreachable.err, HasSubstr("UNAVAILABLE"));

  RunResult mixed = Ctl({"--agents",
                         Agents() + ",unix:/nonexistent/tally.sock", "info"});
  EXPECT_EQ(mixed.exit_code, 2);
  EXPECT_THAT(mixed.err, HasSubstr("3/4 agents ok; unix:/nonexistent/tally.sock: UNAVAILABLE"));

  std::string file = pki_ + "/agents.txt";
  {
    std::ofstream out(file);
    out << "# the fleet\n" << fleet_->endpoint(0) << "\n\nthis is not an agent\n";
  }
  RunResult garbage = Ctl({"--agents", "@" + file, "list"});
  EXPECT_EQ(garbage.exit_code, 1);
  EXPECT_THAT(garbage.err, HasSubstr(file + ":4: 'this is not an agent'"));

  // A watch whose only agent can never be reached ends instead of spinning.
  RunResult nowhere = Ctl({"--agents", "dns:name.invalid:7070", "watch"});
  EXPECT_EQ(nowhere.exit_code, 1);
  EXPECT_THAT(nowhere.err, HasSubstr("0/1 agents ok"));
  EXPECT_THAT(nowhere.err, HasSubstr("cannot resolve name.invalid"));

  RunResult bad_option = Ctl({"--agents", Agents(), "start", "syscall:read",
                              "--group-by", "colour"});
  EXPECT_EQ(bad_option.exit_code, 1);
  EXPECT_THAT(bad_option.err, HasSubstr("unknown grouping 'colour'"));
}

// Finding 1: an agent stopped with SIGSTOP goes STALE during a watch, its
// last count kept apart in the fleet total; SIGCONT brings it back.
TEST_F(TallyctlFleetTest, StoppedAgentGoesStaleAndComesBack) {
  StartProbeEverywhere();
  Child watch(Tallyctl({"--agents", Agents(), "watch", "fleet", "--interval",
                        "200ms"}));
  std::vector<v1::WatchLine> seen;
  uint64_t fleet_total = 0;
  WatchUntil(watch, "fleet", 0, &fleet_total, &seen);
  CallGetppid(kEvents);
  // Every agent has reported its count before one of them stops.
  ASSERT_EQ(WatchUntil(watch, "fleet", kAgents * kEvents, &fleet_total, &seen),
            kAgents * kEvents);
  fleet_->agent(1)->Signal(SIGSTOP);
  std::optional<v1::WatchLine> stale =
      ReadUntil(watch, v1::WatchLine::AGENT_STALE, fleet_->endpoint(1));
  ASSERT_TRUE(stale);
  EXPECT_THAT(stale->error(), HasSubstr("no update for"));
  EXPECT_THAT(stale->error(), HasSubstr("most likely hung"));
  // The next fleet line keeps its count apart from the live agents'.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::optional<v1::WatchLine> fleet;
  while (std::optional<std::string> line = watch.ReadLine(deadline)) {
    v1::WatchLine w = ParseJson<v1::WatchLine>(*line);
    if (w.kind() == v1::WatchLine::FLEET && w.probe() == "fleet" &&
        w.agents_stale() == 1) {
      fleet = w;
      break;
    }
  }
  ASSERT_TRUE(fleet);
  EXPECT_EQ(fleet->agents_up(), static_cast<uint32_t>(kAgents - 1));
  EXPECT_EQ(fleet->stale_total(), kEvents);
  EXPECT_EQ(fleet->total(), kAgents * kEvents);

  fleet_->agent(1)->Signal(SIGCONT);
  ASSERT_TRUE(ReadUntil(watch, v1::WatchLine::AGENT_UP, fleet_->endpoint(1)));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(20)), 0) << watch.Stderr();
  EXPECT_THAT(watch.Stderr(), HasSubstr("3/3 agents ok"));
}

// Finding 1: a watch started while an agent is stopped says why it is not
// up, and exits 2.
TEST_F(TallyctlFleetTest, WatchStartedWhileAnAgentIsStoppedSaysWhy) {
  fleet_->agent(2)->Signal(SIGSTOP);
  RunResult r = Ctl({"--agents", Agents(), "--output", "json", "watch",
                     "--interval", "200ms", "--for", "3s"});
  fleet_->agent(2)->Signal(SIGCONT);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("2/3 agents ok; " + fleet_->endpoint(2) +
                               ": DEADLINE_EXCEEDED: no answer for"));
  EXPECT_THAT(r.err, HasSubstr("connected, but no TLS handshake: the agent is "
                               "most likely hung"));
  EXPECT_THAT(r.out, HasSubstr("\"kind\":\"AGENT_STALE\""));
}

// Finding 2: agents without probes are up (their heartbeats say so), in the
// table and in JSON, and the watch exits 0.
TEST_F(TallyctlFleetTest, AgentsWithoutProbesAreUp) {
  RunResult table = Ctl({"--agents", Agents(), "--output", "table", "watch",
                         "--for", "2.5s"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("3/3 agents up"));
  EXPECT_THAT(table.out, Not(HasSubstr("not up")));
  EXPECT_THAT(table.err, HasSubstr("3/3 agents ok"));

  RunResult json = Ctl({"--agents", Agents(), "--output", "json", "watch",
                        "--for", "2.5s"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  std::istringstream in(json.out);
  std::string line;
  std::set<std::string> up;
  int fleet_lines = 0;
  while (std::getline(in, line)) {
    v1::WatchLine w = ParseJson<v1::WatchLine>(line);
    if (w.kind() == v1::WatchLine::AGENT_UP) up.insert(w.agent());
    if (w.kind() == v1::WatchLine::FLEET) {
      ++fleet_lines;
      EXPECT_EQ(w.agents_up(), static_cast<uint32_t>(kAgents));
    }
  }
  EXPECT_EQ(up.size(), static_cast<size_t>(kAgents));
  EXPECT_GE(fleet_lines, 1);
}

// Finding 2: an agent that starts after the watch (a late joiner) shows up
// once it is ready.
TEST_F(TallyctlFleetTest, LateAgentShowsUp) {
  fleet_->KillAgent(2);
  Child watch(Tallyctl({"--agents", Agents(), "watch", "--interval", "200ms"}));
  std::optional<v1::WatchLine> down =
      ReadUntil(watch, v1::WatchLine::AGENT_DOWN, fleet_->endpoint(2));
  ASSERT_TRUE(down);
  EXPECT_THAT(down->error(), HasSubstr("connection refused"));
  ASSERT_TRUE(fleet_->StartAgent(2, pki_).ok());
  ASSERT_TRUE(ReadUntil(watch, v1::WatchLine::AGENT_UP, fleet_->endpoint(2)));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(20)), 0) << watch.Stderr();
}

// Finding 3: a dns: name is resolved again during the watch, so an agent
// added behind it is watched too.
TEST_F(TallyctlFleetTest, DnsNameIsResolvedAgainDuringAWatch) {
  std::string hosts = pki_ + "/hosts";
  std::ofstream(hosts) << fleet_->address(0) << " " << kFleetName << "\n"
                       << fleet_->address(1) << " " << kFleetName << "\n";
  std::vector<std::string> ctl = Tallyctl(
      {"--agents", absl::StrCat("dns:", kFleetName, ":", NetnsFleet::kPort),
       "--output", "json", "watch", "--interval", "200ms", "--resolve-every",
       "300ms"});
  std::string command =
      absl::StrCat("mount --bind ", hosts, " /etc/hosts && exec");
  for (const std::string& a : ctl) absl::StrAppend(&command, " '", a, "'");
  Child watch({"unshare", "--mount", "sh", "-c", command});
  ASSERT_TRUE(ReadUntilAll(watch, v1::WatchLine::AGENT_UP,
                           {fleet_->endpoint(0), fleet_->endpoint(1)}));
  // Appended in place: the bind mount sees the same file.
  std::ofstream(hosts, std::ios::app)
      << fleet_->address(2) << " " << kFleetName << "\n";
  ASSERT_TRUE(ReadUntil(watch, v1::WatchLine::AGENT_UP, fleet_->endpoint(2)));
  watch.Signal(SIGINT);
  EXPECT_EQ(watch.Wait(absl::Seconds(20)), 0) << watch.Stderr();
  EXPECT_THAT(watch.Stderr(), HasSubstr("3/3 agents ok"));
}

std::vector<v1::StatusLine> StatusLines(const std::string& out) {
  std::vector<v1::StatusLine> lines;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) lines.push_back(ParseJson<v1::StatusLine>(line));
  }
  return lines;
}

// Issue 13: nodes given the same probes file converge to it with no tallyctl
// start, a node that joins later too, and `tallyctl status` says where a
// declared probe does not run and why, until the file and the fleet agree.
TEST_F(TallyctlFleetTest, NodesConvergeToASharedProbesFile) {
  const std::string file = pki_ + "/probes.yaml";
  auto declare = [&](const std::vector<std::string>& names) {
    std::string yaml = "probes:\n";
    for (const std::string& n : names) {
      absl::StrAppend(&yaml, "  - name: ", n,
                      "\n    hook: tracepoint:syscalls:sys_enter_getppid\n"
                      "    pid: ", getpid(), "\n");
    }
    // Whole, by rename, as a deploy tool writes it.
    std::ofstream(file + ".new") << yaml;
    ASSERT_EQ(rename((file + ".new").c_str(), file.c_str()), 0);
  };
  declare({"declared-a", "declared-b"});
  ASSERT_TRUE(fleet_->StartAgent(0, pki_, {"--probes_file=" + file}).ok());
  // Node 1 may run one probe only: one declared probe fails there.
  ASSERT_TRUE(fleet_->StartAgent(1, pki_,
                                 {"--probes_file=" + file, "--max_probes=1"})
                  .ok());
  fleet_->KillAgent(2);
  const std::string two =
      absl::StrCat(fleet_->endpoint(0), ",", fleet_->endpoint(1));

  RunResult status = Ctl({"--agents", two, "--output", "json", "status"});
  EXPECT_EQ(status.exit_code, 2) << status.err;
  EXPECT_THAT(status.err, HasSubstr("not converged"));
  std::vector<v1::StatusLine> lines = StatusLines(status.out);
  ASSERT_EQ(lines.size(), 2u) << status.out;
  uint32_t running = 0, failed = 0;
  for (const v1::StatusLine& l : lines) {
    EXPECT_EQ(l.kind(), v1::StatusLine::PROBE);
    EXPECT_EQ(l.origin(), file);
    running += l.running();
    failed += l.failed();
    for (const v1::NodeProbeState& n : l.not_running()) {
      EXPECT_EQ(n.node(), "node-1");
      EXPECT_EQ(n.state(), v1::PROBE_STATE_FAILED);
      EXPECT_THAT(n.reason(), HasSubstr("its limit is 1"));
    }
  }
  EXPECT_EQ(running, 3u);
  EXPECT_EQ(failed, 1u);

  // list shows the probe node 1 could not run as failed, with its reason
  // and nothing attached, and exits 0: the agents answered (status is the
  // convergence check).
  RunResult failed_list =
      Ctl({"--agents", fleet_->endpoint(1), "--output", "json", "list"});
  EXPECT_EQ(failed_list.exit_code, 0) << failed_list.err;
  EXPECT_THAT(failed_list.out, Not(HasSubstr("tracepoint::")));
  EXPECT_THAT(failed_list.out, Not(HasSubstr("1970-01-01")));
  int failed_lines = 0;
  for (const v1::AgentLine& l : Lines(failed_list.out)) {
    if (l.probe().state() != v1::PROBE_STATE_FAILED) continue;
    ++failed_lines;
    EXPECT_THAT(l.probe().error(), HasSubstr("its limit is 1"));
    EXPECT_EQ(l.probe().attached(), "");
    EXPECT_EQ(l.probe().mechanism(), "");
    EXPECT_FALSE(l.probe().has_started_at());
  }
  EXPECT_EQ(failed_lines, 1) << failed_list.out;
  RunResult failed_table =
      Ctl({"--agents", fleet_->endpoint(1), "--output", "table", "list"});
  EXPECT_EQ(failed_table.exit_code, 0) << failed_table.err;
  EXPECT_THAT(failed_table.out, HasSubstr("REASON"));
  EXPECT_THAT(failed_table.out, Not(HasSubstr("tracepoint::")));
  std::string failed_row;
  std::istringstream rows(failed_table.out);
  for (std::string row; std::getline(rows, row);) {
    if (row.find(" failed ") != std::string::npos) failed_row = row;
  }
  EXPECT_THAT(failed_row, HasSubstr("node-1")) << failed_table.out;
  EXPECT_THAT(failed_row, HasSubstr("the agent already runs 1 probes"));
  // The hook, and no attach point beside it.
  size_t hooks = 0;
  for (size_t at = failed_row.find("sys_enter_getppid");
       at != std::string::npos;
       at = failed_row.find("sys_enter_getppid", at + 1)) {
    ++hooks;
  }
  EXPECT_EQ(hooks, 1u) << failed_row;

  // The late node runs the declared probes on its own and counts.
  ASSERT_TRUE(fleet_->StartAgent(2, pki_, {"--probes_file=" + file}).ok());
  CallGetppid(kEvents);
  RunResult list = Ctl({"--agents", fleet_->endpoint(2), "--output", "json",
                        "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::vector<v1::AgentLine> probes = Lines(list.out);
  ASSERT_EQ(probes.size(), 2u) << list.out;
  for (const v1::AgentLine& l : probes) {
    EXPECT_EQ(l.node(), "node-2");
    EXPECT_EQ(l.probe().state(), v1::PROBE_STATE_RUNNING);
    EXPECT_EQ(l.probe().origin(), file);
    EXPECT_GE(l.probe().total(), kEvents);
  }

  RunResult table = Ctl({"--agents", Agents(), "--output", "table", "status"});
  EXPECT_EQ(table.exit_code, 2) << table.err;
  EXPECT_THAT(table.out, HasSubstr("node-1: failed: the agent already runs 1 probes"));
  EXPECT_THAT(table.out, HasSubstr("3/3"));  // the probe node 1 runs
  EXPECT_THAT(table.out, HasSubstr("2/3"));  // the one it could not

  // Declare one probe only: every node drops the other and node 1 can run
  // the one left.
  declare({"declared-a"});
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  RunResult converged;
  do {
    absl::SleepFor(absl::Milliseconds(100));
    converged = Ctl({"--agents", Agents(), "--output", "json", "status"});
  } while (converged.exit_code != 0 && absl::Now() < deadline);
  ASSERT_EQ(converged.exit_code, 0) << converged.out << converged.err;
  lines = StatusLines(converged.out);
  ASSERT_EQ(lines.size(), 1u) << converged.out;
  EXPECT_EQ(lines[0].probe(), "declared-a");
  EXPECT_EQ(lines[0].running(), 3u);

  // A file that does not validate: info's table says so per node, as its
  // JSON and status do.
  std::ofstream(file + ".new") << "probes:\n  - name: x\n    hok: a\n";
  ASSERT_EQ(rename((file + ".new").c_str(), file.c_str()), 0);
  RunResult info;
  const absl::Time broken_deadline = absl::Now() + absl::Seconds(30);
  do {
    absl::SleepFor(absl::Milliseconds(100));
    info = Ctl({"--agents", fleet_->endpoint(0), "--output", "json", "info"});
  } while (info.out.find("\"error\":\"" + file) == std::string::npos &&
           absl::Now() < broken_deadline);
  ASSERT_THAT(info.out, HasSubstr("\"error\":\"" + file)) << info.out;
  RunResult info_table =
      Ctl({"--agents", fleet_->endpoint(0), "--output", "table", "info"});
  EXPECT_EQ(info_table.exit_code, 0) << info_table.err;
  EXPECT_THAT(info_table.out,
              HasSubstr("probes file not in effect on node-0: " + file + ":3"));
}

// Finding 4: TLS refusals say what most likely happened, and gRPC's own
// log lines stay off.
TEST_F(TallyctlFleetTest, TlsRefusalsSayWhatHappened) {
  const std::string other = pki_ + "/other";
  ASSERT_EQ(system(absl::StrCat(RunfilePath("scripts/gen-certs.sh"), " ",
                                other, " >/dev/null")
                       .c_str()),
            0);
  const std::string agent = fleet_->endpoint(0);
  RunResult wrong_ca = Bare({"--agents", agent, "--tls-ca", pki_ + "/ca.pem",
                             "--tls-cert", other + "/client.pem", "--tls-key",
                             other + "/client.key", "info"});
  EXPECT_EQ(wrong_ca.exit_code, 1);
  EXPECT_THAT(wrong_ca.err,
              HasSubstr("most likely it does not trust this client's "
                        "certificate"));
  RunResult no_cert =
      Bare({"--agents", agent, "--tls-ca", pki_ + "/ca.pem", "info"});
  EXPECT_EQ(no_cert.exit_code, 1);
  EXPECT_THAT(no_cert.err, HasSubstr("requires a client certificate: pass "
                                     "--tls-cert and --tls-key"));
  RunResult plaintext = Bare({"--agents", agent, "info"});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_THAT(plaintext.err, HasSubstr("most likely it requires TLS"));
  RunResult other_ca = Bare({"--agents", agent, "--tls-ca", other + "/ca.pem",
                             "--tls-cert", pki_ + "/client.pem", "--tls-key",
                             pki_ + "/client.key", "info"});
  EXPECT_EQ(other_ca.exit_code, 1);
  EXPECT_THAT(other_ca.err, HasSubstr("the agent's certificate is not signed "
                                      "by the CA in --tls-ca"));
  for (const RunResult* r : {&wrong_ca, &no_cert, &plaintext, &other_ca}) {
    EXPECT_THAT(r->err, Not(HasSubstr("ssl_transport_security")));
    EXPECT_THAT(r->err, Not(HasSubstr("Socket closed")));
  }
}

}  // namespace
}  // namespace tally
