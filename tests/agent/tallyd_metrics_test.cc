// tallyd's /metrics scraped by a real Prometheus server (Debian's 2.42, on
// loopback, its own config and storage): exact counts of a pid-filtered
// probe through Prometheus's HTTP API, a grouped probe's keys adding up to
// its total, promtool on a scrape, the counter never going backwards across
// an agent restart (same --pin_dir: the probe is re-adopted), and the key
// series bound with 10,000 distinct keys. Needs root and BPF.
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/barrier.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/events.h"
#include "tests/testing/http_client.h"
#include "tests/testing/prometheus_server.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

namespace fs = std::filesystem;
using ::tally::testing::AgentProcess;
using ::tally::testing::CallGetppid;
using ::tally::testing::ContextWithDeadline;
using ::tally::testing::HostPortOf;
using ::tally::testing::HttpRequest;
using ::tally::testing::HttpResponse;
using ::tally::testing::PrometheusServer;
using ::testing::IsEmpty;

constexpr uint64_t kN = 1234;

// Polls `expr` through Prometheus until it equals `want`, bounded: a
// scrape a second, and events reach the maps on other CPUs a little late.
absl::StatusOr<double> AwaitValue(PrometheusServer& prom,
                                  const std::string& expr, double want) {
  absl::StatusOr<double> v = absl::NotFoundError("not queried");
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(200))) {
    v = prom.Scalar(expr);
    if (v.ok() && *v == want) return v;
  }
  return v;
}

class TallydMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }
  void TearDown() override {
    prom_.reset();
    agent_.reset();
    if (!pins_.empty()) {
      std::error_code ec;
      fs::remove_all(pins_, ec);
    }
  }

  // tallyd with metrics on `port` (0: any) and Prometheus scraping it.
  void StartAgent(std::vector<std::string> args, int port = 0,
                  const std::string& pin_dir = "") {
    AgentProcess::Options options;
    options.args = std::move(args);
    options.args.push_back(absl::StrCat("--metrics_listen=127.0.0.1:", port));
    options.pin_dir = pin_dir;
    auto agent = AgentProcess::Start(options);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = *std::move(agent);
    stub_ = agent_->NewStub();
    ASSERT_FALSE(agent_->metrics_url().empty());
  }
  void StartPrometheus() {
    auto prom = PrometheusServer::Start({HostPortOf(agent_->metrics_url())});
    ASSERT_TRUE(prom.ok()) << prom.status();
    prom_ = *std::move(prom);
  }

  void Start(const v1::StartProbeRequest& req) {
    v1::StartProbeResponse resp;
    grpc::Status s = stub_->StartProbe(ContextWithDeadline().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << req.name() << ": " << s.error_message();
  }

  std::string Scrape() {
    absl::StatusOr<HttpResponse> r =
        HttpRequest(HostPortOf(agent_->metrics_url()), "GET", "/metrics");
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200);
    return r->body;
  }

  std::string pins_;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  std::unique_ptr<PrometheusServer> prom_;
};

TEST_F(TallydMetricsTest, PrometheusSeesExactlyTheEventsMade) {
  StartAgent({});
  StartPrometheus();
  Start(testing::GetppidProbe("exact"));
  CallGetppid(kN);
  absl::StatusOr<double> v = AwaitValue(
      *prom_, "tally_probe_events_total{job=\"tally\",probe=\"exact\"}", kN);
  ASSERT_TRUE(v.ok()) << v.status() << "\n" << prom_->Log();
  EXPECT_EQ(*v, kN);
  // Scraped, up, and described: the info series names the hook and the
  // incarnation the API reports.
  EXPECT_EQ(*prom_->Scalar("up{job=\"tally\"}"), 1);
  v1::ListProbesResponse list;
  ASSERT_TRUE(stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
  ASSERT_EQ(list.probes_size(), 1);
  absl::StatusOr<std::vector<PrometheusServer::Series>> info =
      prom_->Query("tally_probe_info{probe=\"exact\"}");
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->size(), 1u);
  EXPECT_EQ((*info)[0].labels["probe_id"],
            absl::StrCat(list.probes(0).probe_id()));
  EXPECT_EQ((*info)[0].labels["hook"], "tracepoint:syscalls:sys_enter_getppid");
  EXPECT_EQ((*info)[0].labels["mechanism"], "tracepoint");
  EXPECT_EQ((*info)[0].labels["state"], "running");
  // More events, counted exactly again.
  CallGetppid(kN);
  v = AwaitValue(*prom_, "tally_probe_events_total{probe=\"exact\"}", 2 * kN);
  EXPECT_TRUE(v.ok() && *v == 2 * kN) << v.status();
  EXPECT_EQ(*prom_->Scalar("sum(tally_agent_info{node=\"test-node\"})"), 1);
}

TEST_F(TallydMetricsTest, AGroupedProbesKeysAddUpToItsTotal) {
  // Every scrape walks the keys when they moved (the default reuses a walk
  // for up to 10 s), so the top keys are exact as soon as the total is.
  StartAgent({"--metrics_top_keys=3", "--metrics_keys_max_age=0s"});
  StartPrometheus();
  v1::StartProbeRequest req = testing::GetppidProbe("threads");
  req.set_group_by(v1::GROUP_BY_PID);  // one key per thread
  Start(req);
  // Six threads, 100 to 600 events each; they stay alive (their keys are
  // reclaimed when they end) until the check is done.
  constexpr int kThreads = 6;
  absl::Barrier* counted = new absl::Barrier(kThreads + 1);
  absl::Notification done;
  std::vector<std::thread> threads;
  uint64_t want = 0;
  for (int i = 1; i <= kThreads; ++i) {
    want += 100 * i;
    threads.emplace_back([i, counted, &done] {
      CallGetppid(100 * i);
      if (counted->Block()) delete counted;
      done.WaitForNotification();
    });
  }
  if (counted->Block()) delete counted;
  absl::StatusOr<double> total =
      AwaitValue(*prom_, "tally_probe_events_total{probe=\"threads\"}", want);
  ASSERT_TRUE(total.ok()) << total.status() << "\n" << prom_->Log();
  // Every series at one instant comes from one scrape.
  const absl::Time at = absl::Now();
  absl::StatusOr<std::vector<PrometheusServer::Series>> keys =
      prom_->Query("tally_probe_key_events_total{probe=\"threads\"}", at);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 3u) << "--metrics_top_keys=3";
  std::vector<double> top;
  double listed = 0;
  for (const auto& s : *keys) {
    top.push_back(s.values[0].second);
    listed += s.values[0].second;
  }
  std::sort(top.rbegin(), top.rend());
  EXPECT_EQ(top, (std::vector<double>{600, 500, 400}));
  absl::StatusOr<double> other =
      prom_->Scalar("tally_probe_other_events{probe=\"threads\"}", at);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(*other, 300 + 200 + 100);
  EXPECT_EQ(listed + *other, want);
  EXPECT_EQ(*prom_->Scalar("tally_probe_events_total{probe=\"threads\"}", at),
            want);
  // The same identity as a query.
  EXPECT_EQ(*prom_->Scalar("sum(tally_probe_key_events_total{probe=\"threads\"}"
                           ") + sum(tally_probe_other_events{probe=\"threads\"})"
                           " - sum(tally_probe_events_total{probe=\"threads\"})",
                           at),
            0);
  done.Notify();
  for (std::thread& t : threads) t.join();
}

TEST_F(TallydMetricsTest, PromtoolFindsNothingInAScrape) {
  const std::string dir = testing::MakeTempDir();
  const std::string file = dir + "/probes.yaml";
  std::ofstream(file) << "probes:\n  - {name: declared, hook: "
                         "'rawtracepoint:sched_process_exec', group_by: comm}\n"
                         "  - {name: never, hook: 'kprobe:no_such_fn_x', "
                         "optional: true}\n";
  StartAgent({"--probes_file=" + file});
  v1::StartProbeRequest by_pid = testing::GetppidProbe("by_pid");
  by_pid.set_group_by(v1::GROUP_BY_PID);
  Start(by_pid);
  Start(testing::GetppidProbe("plain"));
  CallGetppid(10);
  testing::Run({"true"});  // an exec for the declared probe
  // Bad requests first: the agent answers them and keeps serving.
  const std::string host = HostPortOf(agent_->metrics_url());
  absl::StatusOr<HttpResponse> wrong = HttpRequest(host, "GET", "/");
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(wrong->status, 404);
  absl::StatusOr<HttpResponse> post = HttpRequest(host, "POST", "/metrics");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);
  absl::StatusOr<std::string> huge = testing::RawExchange(
      host,
      absl::StrCat("GET /metrics HTTP/1.1\r\nX: ", std::string(100000, 'x'),
                   "\r\n\r\n"),
      absl::Seconds(20));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->rfind("HTTP/1.0 400", 0), 0u) << huge->substr(0, 60);

  const std::string text = Scrape();
  for (const char* family :
       {"tally_agent_info", "tally_probes_file_last_reload_successful",
        "tally_probe_info", "tally_probe_events_total",
        "tally_probe_key_events_total", "tally_probe_other_events",
        "tally_probe_bpf_runs_total", "tally_probe_map_bytes"}) {
    EXPECT_NE(text.find(absl::StrCat("\n", family)), std::string::npos)
        << family;
  }
  EXPECT_NE(text.find("state=\"skipped\""), std::string::npos);
  const std::string path = dir + "/scrape.txt";
  std::ofstream(path) << text;
  testing::RunResult lint = testing::Run(
      {"sh", "-c", absl::StrCat("promtool check metrics < '", path, "'")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  EXPECT_EQ(lint.out + lint.err, "") << text;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_F(TallydMetricsTest, TheCounterDoesNotGoBackwardsAcrossARestart) {
  pins_ = absl::StrCat("/sys/fs/bpf/tally-test-metrics-", getpid());
  fs::remove_all(pins_);
  const int port = testing::FreeLoopbackPort();
  ASSERT_GT(port, 0);
  StartAgent({}, port, pins_);
  StartPrometheus();
  Start(testing::GetppidProbe("durable"));
  const std::string id = absl::StrCat(
      [&] {
        v1::ListProbesResponse list;
        EXPECT_TRUE(
            stub_->ListProbes(ContextWithDeadline().get(), {}, &list).ok());
        return list.probes_size() == 1 ? list.probes(0).probe_id() : 0;
      }());
  const absl::Time began = absl::Now();
  CallGetppid(kN);
  const std::string expr = "tally_probe_events_total{probe=\"durable\"}";
  ASSERT_TRUE(AwaitValue(*prom_, expr, kN).ok()) << prom_->Log();

  // SIGTERM: a durable agent leaves the probe counting for the next one.
  agent_->Signal(SIGTERM);
  ASSERT_TRUE(agent_->WaitExit(absl::Seconds(20)).ok());
  CallGetppid(kN);  // while no agent runs (the link is pinned)
  StartAgent({}, port, pins_);
  CallGetppid(kN);
  absl::StatusOr<double> after = AwaitValue(*prom_, expr, 3 * kN);
  ASSERT_TRUE(after.ok()) << after.status() << "\n" << prom_->Log();

  // One series (the same incarnation), never decreasing, no reset. Range
  // steps are aligned to `began`: poll until one falls after the last scrape.
  absl::StatusOr<std::vector<PrometheusServer::Series>> range;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(200))) {
    range = prom_->QueryRange(expr, began, absl::Now(),
                              absl::Milliseconds(500));
    ASSERT_TRUE(range.ok()) << range.status();
    if (range->size() == 1 && !(*range)[0].values.empty() &&
        (*range)[0].values.back().second == 3 * kN) {
      break;
    }
  }
  ASSERT_EQ(range->size(), 1u);
  EXPECT_EQ((*range)[0].labels["probe_id"], id);
  double last = 0;
  for (const auto& [t, v] : (*range)[0].values) {
    EXPECT_GE(v, last) << "at " << t;
    last = v;
  }
  EXPECT_EQ(last, 3 * kN);
  EXPECT_EQ(*prom_->Scalar(absl::StrCat("resets(", expr, "[5m])")), 0);
  // The agent did restart: two epochs.
  EXPECT_EQ(*prom_->Scalar("count(count_over_time(tally_agent_info[5m]))"), 2);
}

TEST_F(TallydMetricsTest, TenThousandKeysMakeTwentySeries) {
  StartAgent({});  // --metrics_top_keys defaults to 20
  StartPrometheus();
  v1::StartProbeRequest req;
  req.set_name("uids");
  req.set_hook("tracepoint:syscalls:sys_enter_getppid");
  req.set_group_by(v1::GROUP_BY_UID);  // uid keys never end
  req.set_max_keys(16384);
  Start(req);
  // 10,000 children, each with its own uid, each one event.
  constexpr int kKeys = 10000;
  for (int i = 0; i < kKeys; ++i) {
    pid_t child = fork();
    if (child == 0) {
      const uid_t uid = 2'000'000 + i;
      if (syscall(SYS_setresuid, uid, uid, uid) != 0) _exit(1);
      syscall(SYS_getppid);
      _exit(0);
    }
    ASSERT_GT(child, 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  absl::StatusOr<double> keys = absl::NotFoundError("not queried");
  for (absl::Time deadline = absl::Now() + absl::Seconds(30);
       absl::Now() < deadline; absl::SleepFor(absl::Milliseconds(200))) {
    keys = prom_->Scalar("tally_probe_keys{probe=\"uids\"}");
    if (keys.ok() && *keys >= kKeys) break;
  }
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_GE(*keys, kKeys);
  const absl::Time at = absl::Now();
  EXPECT_EQ(*prom_->Scalar("count(tally_probe_key_events_total{probe=\"uids\"})",
                           at),
            20);
  EXPECT_EQ(*prom_->Scalar("sum(tally_probe_key_events_total{probe=\"uids\"}) "
                           "+ sum(tally_probe_other_events{probe=\"uids\"}) - "
                           "sum(tally_probe_events_total{probe=\"uids\"})",
                           at),
            0);
  // Everything this agent exports stays a few dozen series.
  EXPECT_LT(*prom_->Scalar("count({job=\"tally\"})", at), 150);
  EXPECT_LT(Scrape().size(), 32u * 1024);
}

}  // namespace
}  // namespace tally
