// The Sampler on fake probes and a fake clock: snapshot first, one read per
// tick shared by equal intervals, seqs in order, the final update last.
#include "agent/daemon/sampler.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/daemon/fake_counter.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::FakeClock;
using ::tally::testing::FakeCounter;
using ::tally::testing::FakeCounterState;
using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

class FakeSource : public ProbeSource {
 public:
  std::shared_ptr<FakeCounterState> Add(const std::string& name, uint64_t id) {
    auto state = std::make_shared<FakeCounterState>();
    auto probe = std::make_shared<ActiveProbe>();
    probe->id = id;
    probe->name = name;
    probe->hook = "rawtracepoint:" + name;
    probe->attached = {AttachKind::kRawTracepoint, "", name, ""};
    probe->counter = std::make_unique<FakeCounter>(state);
    absl::MutexLock lock(&mu_);
    probes_.push_back(std::move(probe));
    return state;
  }
  std::shared_ptr<const ActiveProbe> Remove(const std::string& name) {
    absl::MutexLock lock(&mu_);
    for (auto it = probes_.begin(); it != probes_.end(); ++it) {
      if ((*it)->name == name) {
        auto p = *it;
        probes_.erase(it);
        return p;
      }
    }
    return nullptr;
  }
  std::vector<std::shared_ptr<const ActiveProbe>> ActiveProbes()
      const override {
    absl::MutexLock lock(&mu_);
    return probes_;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const ActiveProbe>> probes_ ABSL_GUARDED_BY(mu_);
};

// Records what it is offered. The sampler owns it once added; the test keeps
// a shared log.
struct WatchLog {
  absl::Mutex mu;
  std::vector<CountUpdate> updates ABSL_GUARDED_BY(mu);
  bool closed ABSL_GUARDED_BY(mu) = false;

  std::vector<CountUpdate> WaitFor(size_t n) {
    absl::MutexLock lock(&mu);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return updates.size() >= n;
    };
    mu.Await(absl::Condition(&enough));
    return updates;
  }
};

class RecordingWatcher : public Watcher {
 public:
  explicit RecordingWatcher(std::shared_ptr<WatchLog> log)
      : log_(std::move(log)) {}
  void Offer(const CountUpdate& update) override {
    absl::MutexLock lock(&log_->mu);
    log_->updates.push_back(update);
  }
  void Close() override {
    absl::MutexLock lock(&log_->mu);
    log_->closed = true;
  }
  bool Done() const override { return false; }

 private:
  std::shared_ptr<WatchLog> log_;
};

class SamplerTest : public ::testing::Test {
 protected:
  SamplerTest() : sampler_(&source_, AgentLimits(), &clock_) {}

  std::shared_ptr<WatchLog> Watch(WatchSpec spec) {
    auto log = std::make_shared<WatchLog>();
    auto* watcher = new RecordingWatcher(log);
    absl::Status added = sampler_.AddWatcher(watcher, std::move(spec));
    EXPECT_OK(added);
    if (!added.ok()) delete watcher;
    return log;
  }

  static WatchSpec Every(absl::Duration interval) {
    WatchSpec spec;
    spec.interval = interval;
    return spec;
  }

  FakeClock clock_;
  FakeSource source_;
  Sampler sampler_;
};

TEST_F(SamplerTest, SnapshotAtOnceThenOneUpdatePerInterval) {
  std::shared_ptr<FakeCounterState> c = source_.Add("p", 1);
  c->Add(5);
  std::shared_ptr<WatchLog> log = Watch(Every(absl::Seconds(1)));
  std::vector<CountUpdate> got = log->WaitFor(1);
  EXPECT_EQ(got[0].probe, "p");
  EXPECT_EQ(got[0].counts.total, 5u);
  EXPECT_EQ(got[0].state, ProbeState::kRunning);
  EXPECT_EQ(got[0].mechanism, "raw_tp");

  c->Add(10);
  clock_.Advance(absl::Seconds(1));
  got = log->WaitFor(2);
  EXPECT_EQ(got[1].counts.total, 15u);
  EXPECT_GT(got[1].seq, got[0].seq);
  EXPECT_EQ(got[1].time, clock_.Now());
}

TEST_F(SamplerTest, EqualIntervalsShareOneReadPerTick) {
  std::shared_ptr<FakeCounterState> c = source_.Add("p", 1);
  // Aligned ticks: both watchers are due on the same whole second.
  std::shared_ptr<WatchLog> a = Watch(Every(absl::Seconds(1)));
  a->WaitFor(1);
  std::shared_ptr<WatchLog> b = Watch(Every(absl::Seconds(1)));
  b->WaitFor(1);
  int before;
  {
    absl::MutexLock lock(&c->mu);
    before = c->reads;
  }
  clock_.Advance(absl::Seconds(1));
  a->WaitFor(2);
  b->WaitFor(2);
  absl::MutexLock lock(&c->mu);
  EXPECT_EQ(c->reads - before, 1);
}

int Reads(FakeCounterState& c) {
  absl::MutexLock lock(&c.mu);
  return c.reads;
}

int KeyReads(FakeCounterState& c) {
  absl::MutexLock lock(&c.mu);
  return c.key_reads;
}

WatchSpec Top(absl::Duration interval, uint32_t top_n) {
  WatchSpec spec;
  spec.interval = interval;
  spec.top_n = top_n;
  return spec;
}

// Totals are cheap; keys are read only when a due watcher asks for them.
TEST_F(SamplerTest, KeysAreReadOnlyForWatchersThatWantThem) {
  std::shared_ptr<FakeCounterState> c = source_.Add("p", 1);
  std::shared_ptr<WatchLog> totals = Watch(Top(absl::Seconds(1), 0));
  totals->WaitFor(1);
  clock_.Advance(absl::Seconds(1));
  totals->WaitFor(2);
  EXPECT_EQ(Reads(*c), 2);
  EXPECT_EQ(KeyReads(*c), 0);
  // A top-keys watcher every 2 s: keys on its ticks only.
  // Its snapshot cannot reuse the totals-only read.
  std::shared_ptr<WatchLog> keys = Watch(Top(absl::Seconds(2), 5));
  keys->WaitFor(1);
  EXPECT_EQ(Reads(*c), 3);
  EXPECT_EQ(KeyReads(*c), 1);
  clock_.Advance(absl::Seconds(1));  // :02, both due: one read, with keys
  totals->WaitFor(3);
  keys->WaitFor(2);
  clock_.Advance(absl::Seconds(1));  // :03, the totals watcher only
  totals->WaitFor(4);
  EXPECT_EQ(Reads(*c), 5);
  EXPECT_EQ(KeyReads(*c), 2);
}

// New watchers' snapshots reuse the latest read when it is fresh enough for
// them: a crowd of watchers arriving does not re-read the keys each.
TEST_F(SamplerTest, SnapshotsReuseAReadYoungerThanTheirInterval) {
  std::shared_ptr<FakeCounterState> c = source_.Add("p", 1);
  c->Add(5);
  std::shared_ptr<WatchLog> a = Watch(Top(absl::Seconds(1), 5));
  a->WaitFor(1);
  c->Add(10);
  clock_.Advance(absl::Seconds(1));
  std::vector<CountUpdate> tick = a->WaitFor(2);
  ASSERT_EQ(Reads(*c), 2);
  clock_.Advance(absl::Milliseconds(300));

  std::shared_ptr<WatchLog> b = Watch(Top(absl::Seconds(1), 5));
  std::vector<CountUpdate> snap = b->WaitFor(1);
  EXPECT_EQ(Reads(*c), 2);  // the tick's read, 300 ms old
  EXPECT_EQ(snap[0].counts.total, 15u);
  EXPECT_EQ(snap[0].time, tick[1].time);
  EXPECT_GT(snap[0].seq, tick[1].seq);

  // More keys than that read holds: read again.
  std::shared_ptr<WatchLog> more = Watch(Top(absl::Seconds(1), 20));
  more->WaitFor(1);
  EXPECT_EQ(Reads(*c), 3);
  std::shared_ptr<WatchLog> fewer = Watch(Top(absl::Seconds(1), 0));
  fewer->WaitFor(1);
  EXPECT_EQ(Reads(*c), 3);

  // Older than the new watcher's own interval: read again.
  clock_.Advance(absl::Milliseconds(300));
  std::shared_ptr<WatchLog> fast = Watch(Top(absl::Milliseconds(200), 0));
  fast->WaitFor(1);
  EXPECT_EQ(Reads(*c), 4);
}

TEST_F(SamplerTest, WatchersSeeOnlyTheirProbesAndSeqsIncrease) {
  source_.Add("a", 1);
  source_.Add("b", 2);
  WatchSpec only_b = Every(absl::Seconds(1));
  only_b.probes = {"b"};
  std::shared_ptr<WatchLog> all = Watch(Every(absl::Seconds(1)));
  std::shared_ptr<WatchLog> b = Watch(only_b);
  all->WaitFor(2);
  b->WaitFor(1);
  for (size_t i = 1; i <= 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    all->WaitFor(2 + 2 * i);
    b->WaitFor(1 + i);
  }
  std::vector<CountUpdate> got = all->WaitFor(8);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_GT(got[i].seq, got[i - 1].seq);
  for (const CountUpdate& u : b->WaitFor(4)) EXPECT_EQ(u.probe, "b");
}

TEST_F(SamplerTest, EndedProbeGetsItsFinalUpdateAndNothingAfter) {
  std::shared_ptr<FakeCounterState> c = source_.Add("p", 7);
  std::shared_ptr<WatchLog> log = Watch(Every(absl::Seconds(1)));
  log->WaitFor(1);
  c->Add(3);
  std::shared_ptr<const ActiveProbe> p = source_.Remove("p");
  CounterSnapshot final_counts;
  final_counts.total = 3;
  sampler_.OnProbeEnded(*p, final_counts, ProbeState::kStopped);
  std::vector<CountUpdate> got = log->WaitFor(2);
  EXPECT_EQ(got[1].state, ProbeState::kStopped);
  EXPECT_EQ(got[1].counts.total, 3u);
  EXPECT_EQ(got[1].probe_id, 7u);
  // A later tick has nothing of it.
  source_.Add("q", 8);
  clock_.Advance(absl::Seconds(1));
  got = log->WaitFor(3);
  EXPECT_EQ(got[2].probe, "q");
}

TEST_F(SamplerTest, IdleWatcherGetsAHeartbeatAtOnceAndEveryInterval) {
  std::shared_ptr<WatchLog> log = Watch(Every(absl::Seconds(1)));
  std::vector<CountUpdate> got = log->WaitFor(1);
  EXPECT_TRUE(got[0].heartbeat);
  EXPECT_EQ(got[0].probe, "");
  EXPECT_EQ(got[0].time, clock_.Now());
  for (size_t i = 2; i <= 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    got = log->WaitFor(i);
    EXPECT_TRUE(got[i - 1].heartbeat);
    EXPECT_EQ(got[i - 1].time, clock_.Now());
    EXPECT_GT(got[i - 1].seq, got[i - 2].seq);
  }
}

TEST_F(SamplerTest, HeartbeatOnlyForWatchersATickGaveNothing) {
  source_.Add("a", 1);
  WatchSpec only_b = Every(absl::Seconds(1));
  only_b.probes = {"b"};  // e.g. stopped since: nothing to send
  std::shared_ptr<WatchLog> all = Watch(Every(absl::Seconds(1)));
  std::shared_ptr<WatchLog> b = Watch(only_b);
  all->WaitFor(1);
  b->WaitFor(1);
  clock_.Advance(absl::Seconds(1));
  // Offered in one locked section: when b has its heartbeat, `all` has had
  // that tick's update of a.
  std::vector<CountUpdate> got_b = b->WaitFor(2);
  std::vector<CountUpdate> got_all = all->WaitFor(2);
  for (const CountUpdate& u : got_b) EXPECT_TRUE(u.heartbeat);
  for (const CountUpdate& u : got_all) {
    EXPECT_FALSE(u.heartbeat);
    EXPECT_EQ(u.probe, "a");
  }
  // Once b's probe appears, b gets it instead of a heartbeat.
  source_.Add("b", 2);
  clock_.Advance(absl::Seconds(1));
  got_b = b->WaitFor(3);
  EXPECT_FALSE(got_b[2].heartbeat);
  EXPECT_EQ(got_b[2].probe, "b");
}

TEST_F(SamplerTest, WatcherLimitAndCloseAll) {
  AgentLimits limits;
  limits.max_watchers = 1;
  Sampler sampler(&source_, limits, &clock_);
  auto log = std::make_shared<WatchLog>();
  ASSERT_OK(
      sampler.AddWatcher(new RecordingWatcher(log), Every(absl::Seconds(1))));
  RecordingWatcher extra(std::make_shared<WatchLog>());
  EXPECT_THAT(sampler.AddWatcher(&extra, Every(absl::Seconds(1))),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("its limit is 1")));
  sampler.CloseAll();
  {
    absl::MutexLock lock(&log->mu);
    EXPECT_TRUE(log->closed);
  }
  EXPECT_THAT(sampler.AddWatcher(&extra, Every(absl::Seconds(1))),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("shutting")));
}

}  // namespace
}  // namespace tally
