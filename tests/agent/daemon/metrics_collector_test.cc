// What /metrics says, on fake counters: one read per probe per scrape, keys
// that add up to the total, the key-series bound (10,000 keys), no stale key
// series, incarnations, continuity across a restart, cost series, the
// declared file, and `promtool check metrics` on the result. No root.
#include "agent/daemon/metrics_collector.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "agent/daemon/declared_probes.h"
#include "agent/daemon/host_pids.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/agent/daemon/metrics_test_util.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::tally::testing::FakeBpfStats;
using ::tally::testing::FakeClock;
using ::tally::testing::FakeCounterState;
using ::tally::testing::FakeStore;
using ::tally::testing::ParseExposition;
using ::tally::testing::Sample;
using ::tally::testing::Select;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr uint32_t kTopKeys = 3;
constexpr absl::Duration kKeysMaxAge = absl::Seconds(10);

ProbeConfig Config(const std::string& name, const std::string& hook,
                   GroupBy group_by = GroupBy::kNone) {
  ProbeConfig c;
  c.name = name;
  c.hook = *ParseHookSpec(hook);
  c.options.group_by = group_by;
  if (group_by != GroupBy::kNone) c.options.max_keys = 10240;
  return c;
}

// promtool's lint of a scrape: its findings, empty when clean.
std::string Promtool(const std::string& text) {
  const std::string file = ::testing::TempDir() + "/scrape.txt";
  std::ofstream(file) << text;
  testing::RunResult r = testing::Run(
      {"sh", "-c", absl::StrCat("promtool check metrics < '", file, "'")});
  if (r.exit_code == 127) return "promtool is not installed (scripts/setup.sh)";
  return absl::StrCat(r.exit_code == 0 ? "" : "exit code != 0: ", r.out,
                      r.err);
}

class MetricsCollectorTest : public ::testing::Test {
 protected:
  MetricsCollectorTest() : store_(/*durable=*/true) { Restart(); }
  ~MetricsCollectorTest() override {
    collector_.reset();
    lease_.reset();
    manager_.reset();
  }

  // A new agent on the same store: what a restarted tallyd sees.
  void Restart() {
    collector_.reset();
    lease_.reset();
    manager_.reset();
    manager_ = std::make_unique<ProbeManager>(&store_, AgentLimits(), &clock_);
    manager_->Adopt();
    lease_ = std::make_unique<BpfStatsLease>(
        &stats_, BpfStatsMode::kOnDemand, absl::Minutes(10), &clock_);
    AgentIdentity identity{"node-a", absl::StrCat("epoch-", ++epochs_),
                           absl::FromUnixSeconds(1'700'000'000)};
    collector_ = std::make_unique<MetricsCollector>(
        identity, "6.1.0-test", manager_.get(), lease_.get(), kTopKeys,
        kKeysMaxAge, &clock_);
  }

  std::shared_ptr<FakeCounterState> Start(const ProbeConfig& config) {
    absl::Notification done;
    absl::Status status;
    manager_->Start(config, [&](absl::StatusOr<StartResult> r) {
      status = r.status();
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_OK(status);
    return store_.Latest(config.hook.ToSpec());
  }

  void Stop(const std::string& name) {
    absl::Notification done;
    manager_->Stop(name, [&](absl::StatusOr<ProbeInfo>) { done.Notify(); });
    done.WaitForNotification();
  }

  std::vector<Sample> Scrape() {
    last_ = collector_->Scrape();
    return ParseExposition(last_);
  }

  static double Value(const std::vector<Sample>& samples,
                      const std::string& name,
                      const std::map<std::string, std::string>& match) {
    std::vector<Sample> s = Select(samples, name, match);
    EXPECT_THAT(s, SizeIs(1)) << name;
    return s.empty() ? -1 : s[0].value;
  }

  static void SetKeys(FakeCounterState& c, std::vector<KeyCount> keys,
                      uint64_t dropped, uint64_t reclaimed) {
    absl::MutexLock lock(&c.mu);
    uint64_t sum = dropped + reclaimed;
    for (const KeyCount& k : keys) sum += k.count;
    c.keys = std::move(keys);
    c.dropped_keys = dropped;
    c.reclaimed = reclaimed;
    c.total = sum;
  }

  FakeClock clock_;
  FakeStore store_;
  FakeBpfStats stats_;
  std::unique_ptr<ProbeManager> manager_;
  std::unique_ptr<BpfStatsLease> lease_;
  std::unique_ptr<MetricsCollector> collector_;
  std::string last_;
  int epochs_ = 0;
};

TEST_F(MetricsCollectorTest, AgentSeries) {
  std::vector<Sample> s = Scrape();
  std::vector<Sample> info = Select(s, "tally_agent_info");
  ASSERT_THAT(info, SizeIs(1));
  EXPECT_EQ(info[0].labels["node"], "node-a");
  EXPECT_EQ(info[0].labels["kernel"], "6.1.0-test");
  EXPECT_EQ(info[0].labels["epoch"], "epoch-1");
  EXPECT_FALSE(info[0].labels["version"].empty());
  EXPECT_EQ(Value(s, "tally_agent_start_time_seconds", {}), 1'700'000'000);
  EXPECT_EQ(Value(s, "tally_agent_warnings", {}), 0);
  for (const char* state :
       {"running", "stopped", "expired", "failed", "skipped"}) {
    EXPECT_EQ(Value(s, "tally_probes", {{"state", state}}), 0) << state;
  }
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, UngroupedProbeIsOneReadOfTheTotals) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("tp", "tracepoint:syscalls:sys_enter_getppid"));
  c->Add(42);
  int reads_before;
  {
    absl::MutexLock lock(&c->mu);
    reads_before = c->reads;
  }
  std::vector<Sample> s = Scrape();
  {
    absl::MutexLock lock(&c->mu);
    EXPECT_EQ(c->reads - reads_before, 1);
    EXPECT_EQ(c->key_reads, 0);
  }
  const std::string id = absl::StrCat(manager_->Describe()[0].probe->id);
  EXPECT_EQ(Value(s, "tally_probe_events_total",
                  {{"probe", "tp"}, {"probe_id", id}}),
            42);
  std::vector<Sample> info = Select(s, "tally_probe_info", {{"probe", "tp"}});
  ASSERT_THAT(info, SizeIs(1));
  EXPECT_EQ(info[0].labels["hook"], "tracepoint:syscalls:sys_enter_getppid");
  EXPECT_EQ(info[0].labels["mechanism"], "tracepoint");
  EXPECT_EQ(info[0].labels["state"], "running");
  EXPECT_EQ(info[0].labels["group_by"], "none");
  EXPECT_EQ(info[0].labels["origin"], "");
  EXPECT_THAT(Select(s, "tally_probe_key_events_total"), IsEmpty());
  EXPECT_THAT(Select(s, "tally_probe_other_events"), IsEmpty());
  EXPECT_EQ(Value(s, "tally_probes", {{"state", "running"}}), 1);
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, GroupedKeysAddUpToTheTotal) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kComm));
  SetKeys(*c, {{"bash", 50}, {"sshd", 40}, {"cron", 30}, {"vi", 20}, {"ls", 10}},
          /*dropped=*/5, /*reclaimed=*/7);
  std::vector<Sample> s = Scrape();
  {
    absl::MutexLock lock(&c->mu);
    EXPECT_EQ(c->key_reads, 1) << "one key walk per scrape";
  }
  std::vector<Sample> keys =
      Select(s, "tally_probe_key_events_total", {{"probe", "g"}});
  ASSERT_THAT(keys, SizeIs(kTopKeys));
  std::map<std::string, double> by_key;
  double sum = 0;
  for (const Sample& k : keys) {
    by_key[k.labels.at("key")] = k.value;
    sum += k.value;
  }
  EXPECT_EQ(by_key, (std::map<std::string, double>{
                        {"bash", 50}, {"sshd", 40}, {"cron", 30}}));
  const double total = Value(s, "tally_probe_events_total", {{"probe", "g"}});
  const double other = Value(s, "tally_probe_other_events", {{"probe", "g"}});
  EXPECT_EQ(total, 162);
  EXPECT_EQ(other, 20 + 10 + 5 + 7);
  EXPECT_EQ(sum + other, total);
  EXPECT_EQ(Value(s, "tally_probe_dropped_key_events_total", {{"probe", "g"}}),
            5);
  EXPECT_EQ(Value(s, "tally_probe_reclaimed_events_total", {{"probe", "g"}}),
            7);
  EXPECT_EQ(Value(s, "tally_probe_keys", {{"probe", "g"}}), 5);
  EXPECT_EQ(Value(s, "tally_probe_max_keys", {{"probe", "g"}}), 10240);
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, AKeyThatLeavesTheTopLeavesNoSeries) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kPid));
  SetKeys(*c, {{"1", 50}, {"2", 40}, {"3", 30}, {"4", 20}}, 0, 0);
  Scrape();
  SetKeys(*c, {{"4", 100}, {"1", 55}, {"2", 40}, {"3", 30}}, 0, 0);
  clock_.Advance(kKeysMaxAge);
  std::vector<Sample> s = Scrape();
  std::vector<std::string> listed;
  for (const Sample& k : Select(s, "tally_probe_key_events_total")) {
    listed.push_back(k.labels.at("key"));
  }
  EXPECT_THAT(listed, ElementsAre("4", "1", "2"));
  EXPECT_EQ(Value(s, "tally_probe_other_events", {{"probe", "g"}}), 30);
}

TEST_F(MetricsCollectorTest, KeysAreWalkedOnlyWhenTheyMovedAndAreOldEnough) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kPid));
  SetKeys(*c, {{"1", 50}, {"2", 40}, {"3", 30}, {"4", 20}}, 0, 0);
  auto key_reads = [&] {
    absl::MutexLock lock(&c->mu);
    return c->key_reads;
  };
  Scrape();
  EXPECT_EQ(key_reads(), 1);
  // Nothing moved: the walk is exact however old it gets.
  clock_.Advance(kKeysMaxAge * 3);
  Scrape();
  EXPECT_EQ(key_reads(), 1);
  // Counts moved, the walk is young: totals fresh, keys reused, and still
  // adding up (the remainder takes the difference).
  SetKeys(*c, {{"1", 60}, {"2", 40}, {"3", 30}, {"4", 20}}, 0, 0);
  std::vector<Sample> s = Scrape();
  EXPECT_EQ(key_reads(), 2) << "moved, and the last walk was old";
  EXPECT_EQ(Value(s, "tally_probe_key_events_total", {{"key", "1"}}), 60);
  SetKeys(*c, {{"1", 70}, {"2", 40}, {"3", 30}, {"4", 20}}, 0, 0);
  clock_.Advance(kKeysMaxAge - absl::Seconds(1));
  s = Scrape();
  EXPECT_EQ(key_reads(), 2);
  EXPECT_EQ(Value(s, "tally_probe_events_total", {}), 160);
  EXPECT_EQ(Value(s, "tally_probe_key_events_total", {{"key", "1"}}), 60);
  EXPECT_EQ(Value(s, "tally_probe_other_events", {}), 160 - 60 - 40 - 30);
  clock_.Advance(absl::Seconds(1));
  s = Scrape();
  EXPECT_EQ(key_reads(), 3);
  EXPECT_EQ(Value(s, "tally_probe_key_events_total", {{"key", "1"}}), 70);
}

TEST_F(MetricsCollectorTest, TenThousandKeysStillMakeAtMostTopKeysSeries) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kPid));
  std::vector<KeyCount> keys;
  for (int i = 0; i < 10000; ++i) {
    keys.push_back({absl::StrCat(100000 + i), static_cast<uint64_t>(20000 - i)});
  }
  SetKeys(*c, std::move(keys), 0, 0);
  std::vector<Sample> s = Scrape();
  std::vector<Sample> listed = Select(s, "tally_probe_key_events_total");
  ASSERT_THAT(listed, SizeIs(kTopKeys));
  double sum = 0;
  for (const Sample& k : listed) sum += k.value;
  EXPECT_EQ(sum + Value(s, "tally_probe_other_events", {}),
            Value(s, "tally_probe_events_total", {}));
  // The whole scrape stays small: no series per key.
  EXPECT_LT(last_.size(), 16u * 1024) << last_;
}

TEST_F(MetricsCollectorTest, KeysThatAreNotUtf8StillMakeAValidScrape) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kComm));
  SetKeys(*c, {{"bad\xff\xfe", 3}, {"quo\"te\\", 2}, {"new\nline", 1}}, 0, 0);
  std::vector<Sample> s = Scrape();
  std::set<std::string> keys;
  for (const Sample& k : Select(s, "tally_probe_key_events_total")) {
    keys.insert(k.labels.at("key"));
  }
  EXPECT_EQ(keys, (std::set<std::string>{"bad\\xff\\xfe", "quo\"te\\\\",
                                         "new\nline"}));
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, ANewIncarnationIsANewSeries) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("tp", "tracepoint:syscalls:sys_enter_getppid"));
  c->Add(10);
  const std::string first = absl::StrCat(manager_->Describe()[0].probe->id);
  std::vector<Sample> s = Scrape();
  EXPECT_EQ(Value(s, "tally_probe_events_total", {{"probe_id", first}}), 10);
  Stop("tp");
  Start(Config("tp", "tracepoint:syscalls:sys_enter_getppid"))->Add(3);
  const std::string second = absl::StrCat(manager_->Describe()[0].probe->id);
  ASSERT_NE(first, second);
  s = Scrape();
  EXPECT_THAT(Select(s, "tally_probe_events_total", {{"probe_id", first}}),
              IsEmpty());
  EXPECT_EQ(Value(s, "tally_probe_events_total", {{"probe_id", second}}), 3);
  EXPECT_EQ(Value(s, "tally_probe_start_time_seconds", {{"probe_id", second}}),
            absl::ToUnixSeconds(clock_.Now()));
}

TEST_F(MetricsCollectorTest, ARestartedAgentContinuesTheSeries) {
  std::shared_ptr<FakeCounterState> c =
      Start(Config("g", "rawtracepoint:sys_enter", GroupBy::kComm));
  SetKeys(*c, {{"bash", 5}}, 0, 0);
  std::vector<Sample> before = Scrape();
  const std::string id = absl::StrCat(manager_->Describe()[0].probe->id);
  Restart();  // the fake keeps the "pinned" counter, as bpffs does
  SetKeys(*c, {{"bash", 8}}, 0, 0);
  std::vector<Sample> after = Scrape();
  EXPECT_EQ(Value(after, "tally_probe_events_total", {{"probe_id", id}}), 8);
  EXPECT_EQ(Value(after, "tally_probe_key_events_total",
                  {{"probe_id", id}, {"key", "bash"}}),
            8);
  EXPECT_EQ(Select(after, "tally_agent_info")[0].labels["epoch"], "epoch-2");
}

TEST_F(MetricsCollectorTest, AProbeThatCannotRunIsListedOnly) {
  Start(Config("lost", "tracepoint:syscalls:sys_enter_getppid"));
  store_.FailAdoption("lost", absl::FailedPreconditionError("maps gone"));
  Restart();
  std::vector<Sample> s = Scrape();
  std::vector<Sample> info = Select(s, "tally_probe_info", {{"probe", "lost"}});
  ASSERT_THAT(info, SizeIs(1));
  EXPECT_EQ(info[0].labels["state"], "failed");
  EXPECT_THAT(Select(s, "tally_probe_events_total"), IsEmpty());
  EXPECT_EQ(Value(s, "tally_probes", {{"state", "failed"}}), 1);
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, AProbeThatCannotBeReadIsLeftOutNotZero) {
  std::shared_ptr<FakeCounterState> bad =
      Start(Config("bad", "tracepoint:syscalls:sys_enter_getppid"));
  Start(Config("good", "rawtracepoint:sys_enter"))->Add(1);
  {
    absl::MutexLock lock(&bad->mu);
    bad->read_error = absl::InternalError("map gone");
  }
  std::vector<Sample> s = Scrape();
  EXPECT_THAT(Select(s, "tally_probe_events_total", {{"probe", "bad"}}),
              IsEmpty());
  EXPECT_EQ(Value(s, "tally_probe_events_total", {{"probe", "good"}}), 1);
  EXPECT_EQ(Value(s, "tally_metrics_probe_read_errors", {}), 1);
}

TEST_F(MetricsCollectorTest, CostSeriesAndTheStatisticsAsked) {
  std::shared_ptr<FakeCounterState> plain =
      Start(Config("plain", "tracepoint:syscalls:sys_enter_getppid"));
  std::shared_ptr<FakeCounterState> by_pid =
      Start(Config("by_pid", "rawtracepoint:sys_enter", GroupBy::kPid));
  {
    absl::MutexLock lock(&by_pid->mu);
    by_pid->cost.runs = 1000;
    by_pid->cost.run_time = absl::Microseconds(50);
    by_pid->cost.reclaimer_runs = 7;
    by_pid->cost.reclaimer_run_time = absl::Nanoseconds(700);
    by_pid->cost.map_bytes = 920000;
  }
  EXPECT_EQ(stats_.holds(), 0);
  std::vector<Sample> s = Scrape();
  EXPECT_EQ(stats_.holds(), 1) << "a scrape asks for run-time statistics";
  EXPECT_EQ(Value(s, "tally_bpf_stats_enabled", {}), 1);
  EXPECT_EQ(Value(s, "tally_probe_bpf_runs_total",
                  {{"probe", "by_pid"}, {"program", "counter"}}),
            1000);
  EXPECT_DOUBLE_EQ(Value(s, "tally_probe_bpf_run_seconds_total",
                         {{"probe", "by_pid"}, {"program", "counter"}}),
                   50e-6);
  EXPECT_EQ(Value(s, "tally_probe_bpf_runs_total",
                  {{"probe", "by_pid"}, {"program", "reclaimer"}}),
            7);
  EXPECT_EQ(Value(s, "tally_probe_map_bytes", {{"probe", "by_pid"}}), 920000);
  // No reclaimer where keys never end.
  EXPECT_THAT(Select(s, "tally_probe_bpf_runs_total",
                     {{"probe", "plain"}, {"program", "reclaimer"}}),
              IsEmpty());
  EXPECT_EQ(Promtool(last_), "");
}

TEST_F(MetricsCollectorTest, TheProbesFile) {
  const std::string dir = ::testing::TempDir() + "/metrics-probes";
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/probes.yaml";
  std::ofstream(file) << "probes:\n  - {name: declared, hook: 'rt:a'}\n";
  HostPids host_pids("/proc");
  absl::StatusOr<std::unique_ptr<DeclaredProbes>> declared =
      DeclaredProbes::Start(file, manager_.get(), AgentLimits(), "node-a",
                            &host_pids, &clock_);
  ASSERT_OK(declared);
  collector_->SetDeclaredProbes(declared->get());
  std::vector<Sample> s = Scrape();
  const std::map<std::string, std::string> path = {{"path", file}};
  EXPECT_EQ(Value(s, "tally_probes_file_declared_probes", path), 1);
  EXPECT_EQ(Value(s, "tally_probes_file_last_reload_successful", path), 1);
  EXPECT_EQ(Value(s, "tally_probes_file_last_reload_success_timestamp_seconds",
                  path),
            absl::ToUnixSeconds(clock_.Now()));
  EXPECT_THAT(Select(s, "tally_probes_file_last_error_timestamp_seconds"),
              IsEmpty());
  EXPECT_EQ(Select(s, "tally_probe_info", {{"probe", "declared"}})[0]
                .labels["origin"],
            file);
  EXPECT_EQ(Promtool(last_), "");

  // A broken file: the error, and the last good set keeps running.
  std::ofstream(file) << "probes:\n  - {name: x, hook: 'nope:x'}\n";
  bool refused = false;
  for (absl::Time deadline = absl::Now() + absl::Seconds(10);
       !refused && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(20))) {
    refused = Value(Scrape(), "tally_probes_file_last_reload_successful",
                    path) == 0;
  }
  EXPECT_TRUE(refused);
  s = Scrape();
  EXPECT_EQ(Value(s, "tally_probes_file_last_error_timestamp_seconds", path),
            absl::ToUnixSeconds(clock_.Now()));
  EXPECT_EQ(Value(s, "tally_probes", {{"state", "running"}}), 1);
  collector_->SetDeclaredProbes(nullptr);
}

}  // namespace
}  // namespace tally
