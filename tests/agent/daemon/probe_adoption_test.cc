// Durable probes on a fake store: a restarted agent (a new ProbeManager on
// the same store) re-adopts what the last one left, with the same names,
// incarnations and counts, original TTLs, and any uncounted window.
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "agent/daemon/probe_manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::FakeClock;
using ::tally::testing::FakeCounterState;
using ::tally::testing::FakeStore;
using ::testing::HasSubstr;

class EndedLog : public ProbeListener {
 public:
  void OnProbeEnded(const ActiveProbe& probe, const CounterSnapshot& counts,
                    ProbeState state) override {
    absl::MutexLock lock(&mu_);
    ended_.push_back({probe.name, state});
  }
  std::vector<std::pair<std::string, ProbeState>> WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return ended_.size() >= n;
    };
    mu_.Await(absl::Condition(&enough));
    return ended_;
  }
  size_t count() {
    absl::MutexLock lock(&mu_);
    return ended_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, ProbeState>> ended_ ABSL_GUARDED_BY(mu_);
};

class ProbeAdoptionTest : public ::testing::Test {
 protected:
  ProbeAdoptionTest() : store_(/*durable=*/true) { StartAgent(); }

  // A new agent on the same store; the old one, if any, dies first (as
  // kill -9 would leave things: no Shutdown).
  std::vector<std::string> StartAgent() {
    manager_.reset();
    log_ = std::make_unique<EndedLog>();
    manager_ = std::make_unique<ProbeManager>(&store_, AgentLimits(), &clock_);
    manager_->SetListener(log_.get());
    return manager_->Adopt();
  }

  absl::StatusOr<StartResult> Start(const std::string& name,
                                    absl::Duration ttl = absl::ZeroDuration()) {
    ProbeConfig c;
    c.name = name;
    c.hook = *ParseHookSpec("rawtracepoint:" + name);
    c.ttl = ttl;
    absl::StatusOr<StartResult> out = absl::UnknownError("not run");
    absl::Notification done;
    manager_->Start(std::move(c), [&](absl::StatusOr<StartResult> r) {
      out = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  absl::StatusOr<ProbeInfo> Stop(const std::string& name) {
    absl::StatusOr<ProbeInfo> out = absl::UnknownError("not run");
    absl::Notification done;
    manager_->Stop(name, [&](absl::StatusOr<ProbeInfo> r) {
      out = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }

  // Converges to a probes file declaring `names` (each with `ttl`).
  ReconcileResult Declare(const std::vector<std::string>& names,
                          absl::Duration ttl = absl::ZeroDuration()) {
    std::vector<DeclaredConfig> declared;
    for (const std::string& name : names) {
      DeclaredConfig d;
      d.config.name = name;
      d.config.hook = *ParseHookSpec("rawtracepoint:" + name);
      d.config.ttl = ttl;
      declared.push_back(std::move(d));
    }
    ReconcileResult out;
    absl::Notification done;
    manager_->ClaimDeclared(kFile);
    manager_->Reconcile(kFile, std::move(declared), [&](ReconcileResult r) {
      out = r;
      done.Notify();
    });
    done.WaitForNotification();
    return out;
  }
  static constexpr char kFile[] = "/etc/tally/probes.yaml";

  ProbeInfo Listed(const std::string& name) {
    absl::StatusOr<std::vector<ProbeInfo>> list = manager_->List();
    EXPECT_OK(list.status());
    for (const ProbeInfo& i : *list) {
      if (i.probe->name == name) return i;
    }
    ADD_FAILURE() << "no probe " << name;
    return {};
  }

  std::shared_ptr<FakeCounterState> Counter(const std::string& name) {
    return store_.Latest("rawtracepoint:" + name);
  }

  FakeClock clock_;
  FakeStore store_;
  std::unique_ptr<EndedLog> log_;
  std::unique_ptr<ProbeManager> manager_;
};

TEST_F(ProbeAdoptionTest, PinnedProbeContinuesWithItsIncarnationAndCounts) {
  absl::StatusOr<StartResult> started = Start("p");
  ASSERT_OK(started.status());
  const uint64_t id = started->info.probe->id;
  EXPECT_NE(id, 0u);
  Counter("p")->Add(100);
  manager_.reset();       // the agent dies
  Counter("p")->Add(50);  // its pinned link keeps counting
  StartAgent();
  ProbeInfo p = Listed("p");
  EXPECT_EQ(p.state, ProbeState::kRunning);
  EXPECT_EQ(p.probe->id, id);
  EXPECT_EQ(p.total, 150u);
  EXPECT_TRUE(p.probe->readopted);
  EXPECT_THAT(p.probe->continuity, HasSubstr("pinned link"));
  EXPECT_TRUE(p.probe->uncounted.empty());
}

TEST_F(ProbeAdoptionTest, UnpinnedLinkReportsTheWindowNobodyCounted) {
  store_.SetLinksPinned(false);
  ASSERT_OK(Start("p").status());
  Counter("p")->Add(10);
  // The worker tells the store the agent is alive once a second.
  const absl::Time alive = clock_.Now();
  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_GE(store_.last_alive(), alive);
  const absl::Time last_alive = store_.last_alive();
  manager_.reset();
  Counter("p")->Add(5);  // detached with the agent: not counted
  clock_.Advance(absl::Seconds(30));
  store_.SetAdoptTime(clock_.Now());
  StartAgent();
  ProbeInfo p = Listed("p");
  EXPECT_EQ(p.total, 10u);
  ASSERT_EQ(p.probe->uncounted.size(), 1u);
  EXPECT_EQ(p.probe->uncounted[0].from, last_alive);
  EXPECT_EQ(p.probe->uncounted[0].to, clock_.Now());
  Counter("p")->Add(7);
  EXPECT_EQ(Listed("p").total, 17u);
}

// The new agent's worker runs before Adopt(); were it to say "alive" first,
// the window would start at the restart instead of the death (seen as a
// flaky end-to-end test).
TEST_F(ProbeAdoptionTest, TheWindowStartsAtTheLastAgentsLastSignOfLife) {
  store_.SetLinksPinned(false);
  ASSERT_OK(Start("p").status());
  clock_.Advance(absl::Seconds(1));
  ASSERT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  const absl::Time last_alive = store_.last_alive();
  manager_.reset();
  clock_.Advance(absl::Seconds(30));
  store_.SetAdoptTime(clock_.Now());
  manager_ = std::make_unique<ProbeManager>(&store_, AgentLimits(), &clock_);
  // A round trip through the new worker before adopting.
  ASSERT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  manager_->Adopt();
  ProbeInfo p = Listed("p");
  ASSERT_EQ(p.probe->uncounted.size(), 1u);
  EXPECT_EQ(p.probe->uncounted[0].from, last_alive);
  // And from then on this agent says it is alive.
  ASSERT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_EQ(store_.last_alive(), clock_.Now());
}

TEST_F(ProbeAdoptionTest, TtlKeepsItsOriginalExpiryAcrossARestart) {
  const absl::Time t0 = clock_.Now();
  ASSERT_OK(Start("short", absl::Seconds(60)).status());
  manager_.reset();
  clock_.Advance(absl::Seconds(30));
  StartAgent();
  EXPECT_EQ(Listed("short").expires_at, t0 + absl::Seconds(60));
  clock_.Advance(absl::Seconds(31));
  auto ended = log_->WaitFor(1);
  EXPECT_EQ(ended[0].first, "short");
  EXPECT_EQ(ended[0].second, ProbeState::kExpired);
  // The worker keeps its record after telling the listener: a round trip
  // through the worker waits for that. Listed as expired, also after a
  // restart; stopping it forgets it.
  EXPECT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  manager_.reset();
  StartAgent();
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  ASSERT_OK(Stop("short").status());
  EXPECT_FALSE(store_.Kept("short"));
}

TEST_F(ProbeAdoptionTest, TtlThatPassedWhileNoAgentRanEndsAtAdoption) {
  ASSERT_OK(Start("short", absl::Seconds(60)).status());
  manager_.reset();
  clock_.Advance(absl::Minutes(5));
  Counter("short")->Add(3);  // its pinned link counted on
  StartAgent();
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  EXPECT_EQ(Listed("short").total, 3u);
  auto ended = log_->WaitFor(1);
  EXPECT_EQ(ended[0].second, ProbeState::kExpired);
}

TEST_F(ProbeAdoptionTest, ADeclaredProbeWhoseTtlPassedStaysExpiredAfterARestart) {
  ASSERT_EQ(Declare({"short"}, absl::Seconds(60)).started, 1);
  clock_.Advance(absl::Seconds(61));
  EXPECT_EQ(log_->WaitFor(1)[0].second, ProbeState::kExpired);
  // A round trip through the worker: the expiry is fully handled.
  EXPECT_THAT(Stop("absent"),
              testing::StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  const int opens = store_.opens();

  manager_.reset();
  StartAgent();
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  EXPECT_THAT(Listed("short").error, HasSubstr("ttl of 1m passed"));
  ReconcileResult again = Declare({"short"}, absl::Seconds(60));
  EXPECT_EQ(again.started, 0);
  EXPECT_EQ(store_.opens(), opens);
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  // No longer declared: its record goes too.
  Declare({});
  EXPECT_FALSE(manager_->Exists("short"));
  EXPECT_FALSE(store_.Kept("short"));
}

TEST_F(ProbeAdoptionTest, ADeclaredProbeWhoseTtlPassedWhileNoAgentRanIsNotRerun) {
  ASSERT_EQ(Declare({"short"}, absl::Seconds(60)).started, 1);
  const int opens = store_.opens();
  manager_.reset();
  clock_.Advance(absl::Minutes(5));
  StartAgent();
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
  EXPECT_EQ(Declare({"short"}, absl::Seconds(60)).started, 0);
  EXPECT_EQ(store_.opens(), opens);
  manager_.reset();
  StartAgent();
  EXPECT_EQ(Listed("short").state, ProbeState::kExpired);
}

TEST_F(ProbeAdoptionTest, StopAfterARestartRemovesTheProbeFromTheStore) {
  ASSERT_OK(Start("p").status());
  manager_.reset();
  StartAgent();
  ASSERT_OK(Stop("p").status());
  EXPECT_FALSE(store_.Kept("p"));
  EXPECT_THAT(store_.removed(), ::testing::Contains("p"));
}

TEST_F(ProbeAdoptionTest, AProbeThatCannotBeReadoptedIsListedAsFailed) {
  ASSERT_OK(Start("gone").status());
  ASSERT_OK(Start("fine").status());
  manager_.reset();
  store_.FailAdoption("gone",
                      absl::NotFoundError("binary /opt/app was deleted"));
  StartAgent();
  ProbeInfo gone = Listed("gone");
  EXPECT_EQ(gone.state, ProbeState::kFailed);
  EXPECT_THAT(gone.error, HasSubstr("/opt/app was deleted"));
  EXPECT_EQ(Listed("fine").state, ProbeState::kRunning);
  // The sampler never sees it; StopProbe removes what is left.
  for (const auto& p : manager_->ActiveProbes()) EXPECT_NE(p->name, "gone");
  EXPECT_THAT(Start("gone"), testing::StatusIs(absl::StatusCode::kAlreadyExists,
                                               HasSubstr("stop it first")));
  ASSERT_OK(Stop("gone").status());
  EXPECT_FALSE(store_.Kept("gone"));
}

TEST_F(ProbeAdoptionTest, MapsOfAnotherLayoutRestartAsANewIncarnation) {
  absl::StatusOr<StartResult> started = Start("p");
  ASSERT_OK(started.status());
  manager_.reset();
  store_.MustReopen("p");
  std::vector<std::string> warnings = StartAgent();
  ProbeInfo p = Listed("p");
  EXPECT_EQ(p.state, ProbeState::kRunning);
  EXPECT_NE(p.probe->id, started->info.probe->id);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("counts restarted"));
  EXPECT_THAT(warnings[0], HasSubstr("new incarnation"));
}

TEST_F(ProbeAdoptionTest, ShutdownLeavesDurableProbesCounting) {
  ASSERT_OK(Start("p").status());
  manager_->Shutdown();
  EXPECT_EQ(log_->count(), 0u);  // not stopped: no final update
  EXPECT_TRUE(store_.Kept("p"));
  Counter("p")->Add(3);
  manager_.reset();
  StartAgent();
  EXPECT_EQ(Listed("p").total, 3u);
}

TEST_F(ProbeAdoptionTest, StoreWarningsReachTheCaller) {
  manager_.reset();
  store_.AddWarning("removed a half-written probe 'x'");
  EXPECT_THAT(StartAgent(), ::testing::ElementsAre(HasSubstr("half-written")));
}

}  // namespace
}  // namespace tally
