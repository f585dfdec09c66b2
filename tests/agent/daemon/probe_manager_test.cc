// ProbeManager on fake counters and a fake clock: no root, no BPF, no sleeps.
#include "agent/daemon/probe_manager.h"

#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::FakeClock;
using ::tally::testing::FakeStore;
using ::tally::testing::IsOk;
using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

struct Ended {
  std::string name;
  uint64_t id;
  uint64_t total;
  ProbeState state;
  bool detached_before_final_read;
};

class RecordingListener : public ProbeListener {
 public:
  explicit RecordingListener(FakeStore* opener) : store_(opener) {}

  void OnProbeEnded(const ActiveProbe& probe, const CounterSnapshot& counts,
                    ProbeState state) override {
    std::shared_ptr<testing::FakeCounterState> c = store_->Latest(probe.hook);
    bool detached = false;
    if (c != nullptr) {
      absl::MutexLock lock(&c->mu);
      detached = c->detached && c->reads_after_detach > 0;
    }
    absl::MutexLock lock(&mu_);
    ended_.push_back({probe.name, probe.id, counts.total, state, detached});
  }

  // Blocks until `n` probes have ended.
  std::vector<Ended> WaitFor(size_t n) {
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
  FakeStore* store_;
  absl::Mutex mu_;
  std::vector<Ended> ended_ ABSL_GUARDED_BY(mu_);
};

ProbeConfig Config(const std::string& name, const std::string& hook,
                   absl::Duration ttl = absl::ZeroDuration()) {
  ProbeConfig c;
  c.name = name;
  c.hook = *ParseHookSpec(hook);
  c.ttl = ttl;
  return c;
}

class ProbeManagerTest : public ::testing::Test {
 protected:
  ProbeManagerTest() : listener_(&store_) { Rebuild(AgentLimits()); }

  void Rebuild(const AgentLimits& limits) {
    manager_.reset();
    manager_ = std::make_unique<ProbeManager>(&store_, limits, &clock_);
    manager_->SetListener(&listener_);
  }

  absl::StatusOr<StartResult> Start(
      ProbeConfig config, ProbeManager::StillWanted still_wanted = nullptr) {
    absl::StatusOr<StartResult> out = absl::UnknownError("not run");
    absl::Notification done;
    manager_->Start(
        std::move(config),
        [&](absl::StatusOr<StartResult> r) {
          out = std::move(r);
          done.Notify();
        },
        std::move(still_wanted));
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

  FakeClock clock_;
  FakeStore store_;
  RecordingListener listener_;
  std::unique_ptr<ProbeManager> manager_;
};

TEST_F(ProbeManagerTest, SameNameAndSpecIsIdempotent) {
  absl::StatusOr<StartResult> first =
      Start(Config("execs", "tracepoint:sched:sched_process_exec"));
  ASSERT_OK(first);
  EXPECT_TRUE(first->created);
  store_.Latest("tracepoint:sched:sched_process_exec")->Add(7);

  absl::StatusOr<StartResult> again =
      Start(Config("execs", "t:sched:sched_process_exec"));
  ASSERT_OK(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->info.probe->id, first->info.probe->id);
  EXPECT_EQ(again->info.total, 7u);
  EXPECT_EQ(store_.opens(), 1);
  EXPECT_EQ(manager_->List()->size(), 1u);
}

TEST_F(ProbeManagerTest, SameNameOtherSpecIsAlreadyExists) {
  ASSERT_OK(Start(Config("p", "tracepoint:sched:sched_process_exec")));
  EXPECT_THAT(Start(Config("p", "rawtracepoint:sched_process_exec")),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("stop it first or choose another name")));
  ProbeConfig grouped = Config("p", "tracepoint:sched:sched_process_exec");
  grouped.options.group_by = GroupBy::kComm;
  EXPECT_THAT(Start(grouped), StatusIs(absl::StatusCode::kAlreadyExists,
                                       HasSubstr("group-by comm")));
}

TEST_F(ProbeManagerTest, ProbeLimitIsResourceExhausted) {
  AgentLimits limits;
  limits.max_probes = 2;
  Rebuild(limits);
  ASSERT_OK(Start(Config("a", "rawtracepoint:a")));
  ASSERT_OK(Start(Config("b", "rawtracepoint:b")));
  EXPECT_THAT(Start(Config("c", "rawtracepoint:c")),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("its limit is 2")));
  ASSERT_OK(Stop("a"));
  EXPECT_OK(Start(Config("c", "rawtracepoint:c")));
}

TEST_F(ProbeManagerTest, OpenerErrorsReachTheCallerAndLeaveNoProbe) {
  store_.FailWith("kprobe:do_nothing",
                  absl::FailedPreconditionError("no kprobes here"));
  EXPECT_THAT(Start(Config("k", "kprobe:do_nothing")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("no kprobes here")));
  EXPECT_TRUE(manager_->List()->empty());
  EXPECT_FALSE(manager_->Exists("k"));
}

TEST_F(ProbeManagerTest, StopDetachesThenReportsFinalCounts) {
  ASSERT_OK(Start(Config("p", "rawtracepoint:sched_switch")));
  store_.Latest("rawtracepoint:sched_switch")->Add(42);
  absl::StatusOr<ProbeInfo> stopped = Stop("p");
  ASSERT_OK(stopped);
  EXPECT_EQ(stopped->total, 42u);
  EXPECT_EQ(stopped->state, ProbeState::kStopped);
  std::vector<Ended> ended = listener_.WaitFor(1);
  EXPECT_EQ(ended[0].name, "p");
  EXPECT_EQ(ended[0].total, 42u);
  EXPECT_EQ(ended[0].state, ProbeState::kStopped);
  EXPECT_TRUE(ended[0].detached_before_final_read);
  EXPECT_THAT(Stop("p"), StatusIs(absl::StatusCode::kNotFound,
                                  HasSubstr("no probe named 'p'")));
}

TEST_F(ProbeManagerTest, RestartedProbeIsANewIncarnation) {
  absl::StatusOr<StartResult> first = Start(Config("p", "rawtracepoint:x"));
  ASSERT_OK(first);
  ASSERT_OK(Stop("p"));
  absl::StatusOr<StartResult> second = Start(Config("p", "rawtracepoint:x"));
  ASSERT_OK(second);
  EXPECT_TRUE(second->created);
  EXPECT_NE(second->info.probe->id, first->info.probe->id);
}

TEST_F(ProbeManagerTest, TtlExpiresOnTheClock) {
  absl::StatusOr<StartResult> started =
      Start(Config("short", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(started);
  EXPECT_EQ(started->info.expires_at, clock_.Now() + absl::Seconds(10));

  clock_.Advance(absl::Seconds(9));
  // The worker checks expiry after every task: a no-op round trip proves
  // it looked at 9 s and kept the probe.
  EXPECT_THAT(Stop("nothing"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_TRUE(manager_->Exists("short"));
  EXPECT_EQ(listener_.count(), 0u);

  store_.Latest("rawtracepoint:x")->Add(7);
  clock_.Advance(absl::Seconds(2));
  std::vector<Ended> ended = listener_.WaitFor(1);
  EXPECT_EQ(ended[0].name, "short");
  EXPECT_EQ(ended[0].state, ProbeState::kExpired);
}

// Outside-run finding: an expired probe vanished with its final count; the
// operator who asked for "an hour of X" found nothing after the hour.
TEST_F(ProbeManagerTest, AnExpiredProbeStaysListedWithItsTotalUntilStopped) {
  absl::StatusOr<StartResult> started =
      Start(Config("short", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(started);
  store_.Latest("rawtracepoint:x")->Add(7);
  clock_.Advance(absl::Seconds(11));
  listener_.WaitFor(1);
  // A round trip: the worker has finished with the expiry.
  EXPECT_THAT(Stop("nothing"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  absl::StatusOr<std::vector<ProbeInfo>> list = manager_->List();
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state, ProbeState::kExpired);
  EXPECT_EQ((*list)[0].total, 7u);
  EXPECT_THAT((*list)[0].error, HasSubstr("ttl of 10s passed"));
  // It counts against no limit, and stopping it says its total.
  absl::StatusOr<ProbeInfo> stopped = Stop("short");
  ASSERT_OK(stopped);
  EXPECT_EQ(stopped->total, 7u);
  EXPECT_FALSE(manager_->Exists("short"));
}

TEST_F(ProbeManagerTest, StartingAnExpiredProbeAgainIsANewIncarnation) {
  absl::StatusOr<StartResult> first =
      Start(Config("short", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(first);
  clock_.Advance(absl::Seconds(11));
  listener_.WaitFor(1);
  absl::StatusOr<StartResult> again =
      Start(Config("short", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(again);
  EXPECT_TRUE(again->created);
  EXPECT_NE(again->info.probe->id, first->info.probe->id);
  EXPECT_EQ(again->info.state, ProbeState::kRunning);
}

TEST_F(ProbeManagerTest, IdempotentStartRenewsTheTtl) {
  ASSERT_OK(Start(Config("p", "rawtracepoint:x", absl::Seconds(10))));
  clock_.Advance(absl::Seconds(8));
  absl::StatusOr<StartResult> renewed =
      Start(Config("p", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(renewed);
  EXPECT_FALSE(renewed->created);
  EXPECT_EQ(renewed->info.expires_at, clock_.Now() + absl::Seconds(10));
  clock_.Advance(absl::Seconds(8));  // 16 s after the first start
  EXPECT_THAT(Stop("nothing"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_TRUE(manager_->Exists("p"));
}

// Outside-run finding: re-running a start without --ttl silently made a
// time-boxed probe run forever.
TEST_F(ProbeManagerTest, AStartWithoutATtlKeepsTheRunningProbesTtl) {
  absl::StatusOr<StartResult> first =
      Start(Config("p", "rawtracepoint:x", absl::Seconds(10)));
  ASSERT_OK(first);
  absl::StatusOr<StartResult> again = Start(Config("p", "rawtracepoint:x"));
  ASSERT_OK(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->info.ttl, absl::Seconds(10));
  EXPECT_EQ(again->info.expires_at, first->info.expires_at);
}

TEST_F(ProbeManagerTest, ShutdownStopsEveryProbeThenRefusesStarts) {
  ASSERT_OK(Start(Config("a", "rawtracepoint:a")));
  ASSERT_OK(Start(Config("b", "rawtracepoint:b")));
  store_.Latest("rawtracepoint:a")->Add(3);
  manager_->Shutdown();
  std::vector<Ended> ended = listener_.WaitFor(2);
  for (const Ended& e : ended) {
    EXPECT_EQ(e.state, ProbeState::kStopped);
    EXPECT_TRUE(e.detached_before_final_read) << e.name;
  }
  EXPECT_TRUE(manager_->List()->empty());
  EXPECT_THAT(
      Start(Config("c", "rawtracepoint:c")),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting down")));
}

// Outside-client finding: a StartProbe whose caller gave up (a 1 ms
// deadline) still created the probe, which then ran with nobody to stop it.
TEST_F(ProbeManagerTest, CallerThatGaveUpBeforeTheLoadGetsNothingStarted) {
  EXPECT_THAT(Start(Config("p", "rawtracepoint:x"), [] { return false; }),
              StatusIs(absl::StatusCode::kCancelled,
                       HasSubstr("nothing was left running")));
  EXPECT_EQ(store_.opens(), 0);
  EXPECT_FALSE(manager_->Exists("p"));
}

TEST_F(ProbeManagerTest, CallerThatGaveUpDuringTheLoadGetsItRolledBack) {
  int asked = 0;
  // Still wanted before the load, gone by the time it finished.
  EXPECT_THAT(
      Start(Config("p", "rawtracepoint:x"), [&] { return ++asked == 1; }),
      StatusIs(absl::StatusCode::kCancelled, ::testing::_));
  EXPECT_EQ(store_.opens(), 1);
  EXPECT_FALSE(manager_->Exists("p"));
  std::shared_ptr<testing::FakeCounterState> c =
      store_.Latest("rawtracepoint:x");
  absl::MutexLock lock(&c->mu);
  EXPECT_TRUE(c->destroyed);
}

TEST_F(ProbeManagerTest, StopDuringShutdownIsUnavailable) {
  ASSERT_OK(Start(Config("a", "rawtracepoint:a")));
  manager_->Shutdown();
  EXPECT_THAT(Stop("a"), StatusIs(absl::StatusCode::kUnavailable,
                                  HasSubstr("shutting down")));
}

// A counter that cannot be read is an error, never a listing that silently
// shows it at 0.
TEST_F(ProbeManagerTest, ReadErrorsAreErrorsNotZeroes) {
  ASSERT_OK(Start(Config("p", "rawtracepoint:x")));
  std::shared_ptr<testing::FakeCounterState> c =
      store_.Latest("rawtracepoint:x");
  {
    absl::MutexLock lock(&c->mu);
    c->read_error = absl::InternalError("map lookup: EFAULT");
  }
  EXPECT_THAT(manager_->List(),
              StatusIs(absl::StatusCode::kInternal,
                       HasSubstr("reading probe 'p' failed")));
  EXPECT_THAT(Start(Config("p", "rawtracepoint:x")),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("EFAULT")));
}

}  // namespace
}  // namespace tally
