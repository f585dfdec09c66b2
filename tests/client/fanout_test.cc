// The fan-out: every call in flight at once (no thread per call), a bound
// only when asked, outcomes in target order however calls finish.
#include "client/fanout.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/targets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::cli {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::vector<AgentTarget> MakeTargets(size_t n) {
  std::vector<AgentTarget> targets;
  for (size_t i = 0; i < n; ++i) {
    std::string label = absl::StrCat("10.0.0.", i, ":7070");
    targets.push_back(AgentTarget{label, label, "", ""});
  }
  return targets;
}

::testing::Matcher<AgentOutcome> Outcome(bool ok, const std::string& node,
                                         const std::string& error) {
  return AllOf(Field("ok", &AgentOutcome::ok, ok),
               Field("node", &AgentOutcome::node, node),
               Field("error", &AgentOutcome::error, error));
}

// Calls that answer only when told, like agents that hang until released;
// answers come from another thread, as gRPC's callbacks do.
class PendingCalls {
 public:
  StartCall Starter() {
    return [this](size_t i, CallDone done) -> std::shared_ptr<void> {
      absl::MutexLock lock(&mu_);
      pending_.push_back({i, std::move(done)});
      ++started_;
      return std::make_shared<int>(0);
    };
  }
  // Waits (bounded) until `n` calls were started.
  bool WaitStarted(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return started_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
  }
  size_t started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }
  // Answers every pending call, in reverse order, from another thread.
  void AnswerAll(bool ok) {
    std::vector<std::pair<size_t, CallDone>> calls;
    {
      absl::MutexLock lock(&mu_);
      calls.swap(pending_);
    }
    std::thread([calls = std::move(calls), ok]() mutable {
      for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
        it->second(AgentOutcome{ok, absl::StrCat("node-", it->first),
                                ok ? "" : "DEADLINE_EXCEEDED: hung"});
      }
    }).join();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<size_t, CallDone>> pending_ ABSL_GUARDED_BY(mu_);
  size_t started_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(FanOutTest, EveryCallIsInFlightAtOnce) {
  // 2000 hung agents: with calls in flight only a few at a time, the first
  // ones would have to time out before the rest even start.
  constexpr size_t kAgents = 2000;
  std::vector<AgentTarget> targets = MakeTargets(kAgents);
  PendingCalls calls;
  std::vector<AgentOutcome> outcomes;
  std::thread fanout(
      [&] { outcomes = FanOut(targets, FanoutOptions{}, calls.Starter()); });
  ASSERT_TRUE(calls.WaitStarted(kAgents));
  EXPECT_EQ(calls.started(), kAgents);
  calls.AnswerAll(false);
  fanout.join();
  ASSERT_THAT(outcomes, SizeIs(kAgents));
  EXPECT_THAT(outcomes[0], Outcome(false, "node-0", "DEADLINE_EXCEEDED: hung"));
}

TEST(FanOutTest, ParallelBoundsCallsInFlight) {
  std::vector<AgentTarget> targets = MakeTargets(10);
  PendingCalls calls;
  FanoutOptions options;
  options.parallel = 4;
  std::vector<AgentOutcome> outcomes;
  std::thread fanout(
      [&] { outcomes = FanOut(targets, options, calls.Starter()); });
  ASSERT_TRUE(calls.WaitStarted(4));
  // The next wave starts only when this one is answered.
  calls.AnswerAll(true);
  ASSERT_TRUE(calls.WaitStarted(8));
  calls.AnswerAll(true);
  ASSERT_TRUE(calls.WaitStarted(10));
  calls.AnswerAll(true);
  fanout.join();
  EXPECT_EQ(calls.started(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_THAT(outcomes[i], Outcome(true, absl::StrCat("node-", i), ""));
  }
}

TEST(FanOutTest, OutcomesAreInTargetOrderWhateverTheCompletionOrder) {
  std::vector<AgentTarget> targets = MakeTargets(8);
  PendingCalls calls;
  std::vector<AgentOutcome> outcomes;
  std::thread fanout(
      [&] { outcomes = FanOut(targets, FanoutOptions{}, calls.Starter()); });
  ASSERT_TRUE(calls.WaitStarted(8));
  calls.AnswerAll(true);  // last target first
  fanout.join();
  ASSERT_THAT(outcomes, SizeIs(8));
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_THAT(outcomes[i], Outcome(true, absl::StrCat("node-", i), ""));
  }
}

TEST(FanOutTest, CallsMayAnswerBeforeStartReturns) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [](size_t i, CallDone done) {
        done(AgentOutcome{i != 1, "", i == 1 ? "UNAVAILABLE: no socket" : ""});
        return std::shared_ptr<void>();
      });
  EXPECT_THAT(outcomes, ElementsAre(Outcome(true, "10.0.0.0:7070", ""),
                                    Outcome(false, "10.0.0.1:7070",
                                            "UNAVAILABLE: no socket"),
                                    Outcome(true, "10.0.0.2:7070", "")));
}

// Stands for what a call keeps alive (channel, context); counts releases.
struct Kept {
  explicit Kept(std::atomic<int>* released) : released(released) {}
  ~Kept() { ++*released; }
  std::atomic<int>* released;
};

TEST(FanOutTest, WhatACallKeepsIsHeldUntilItsAnswer) {
  std::vector<AgentTarget> targets = MakeTargets(2);
  std::atomic<int> released{0};
  PendingCalls calls;
  StartCall pending = calls.Starter();
  std::vector<AgentOutcome> outcomes;
  std::thread fanout([&] {
    outcomes = FanOut(targets, FanoutOptions{},
                      [&](size_t i, CallDone done) -> std::shared_ptr<void> {
                        pending(i, std::move(done));
                        return std::make_shared<Kept>(&released);
                      });
  });
  ASSERT_TRUE(calls.WaitStarted(2));
  EXPECT_EQ(released.load(), 0);  // in flight: kept
  calls.AnswerAll(true);
  fanout.join();
  EXPECT_EQ(released.load(), 2);
}

TEST(FanOutTest, CallsOutOfDescriptorsStartAgainWhenOthersFinish) {
  // Room for two calls at a time, whatever --parallel says: a third start
  // fails for want of descriptors until one of the two has finished.
  std::vector<AgentTarget> targets = MakeTargets(6);
  absl::Mutex mu;
  int open = 0, max_open = 0, refused = 0;
  std::vector<std::thread> answers;
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [&](size_t i, CallDone done) {
        absl::MutexLock lock(&mu);
        if (open == 2) {
          ++refused;
          done(AgentOutcome{false, "", "RESOURCE_EXHAUSTED: no socket", true});
          return std::shared_ptr<void>();
        }
        max_open = std::max(max_open, ++open);
        answers.emplace_back([&, i, done] {
          {
            absl::MutexLock lock(&mu);
            --open;
          }
          done(AgentOutcome{true, absl::StrCat("node-", i), ""});
        });
        return std::shared_ptr<void>();
      });
  for (std::thread& t : answers) t.join();
  for (size_t i = 0; i < targets.size(); ++i) {
    EXPECT_THAT(outcomes[i], Outcome(true, absl::StrCat("node-", i), ""));
  }
  EXPECT_LE(max_open, 2);
  EXPECT_GT(refused, 0);
}

TEST(FanOutTest, ACallThatNeverGetsItsDescriptorsFailsInTheEnd) {
  std::vector<AgentTarget> targets = MakeTargets(1);
  int attempts = 0;
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [&](size_t, CallDone done) {
        ++attempts;
        done(AgentOutcome{false, "", "RESOURCE_EXHAUSTED: no socket", true});
        return std::shared_ptr<void>();
      });
  EXPECT_EQ(attempts, kMaxStartAttempts);
  EXPECT_THAT(outcomes, ElementsAre(Outcome(false, "10.0.0.0:7070",
                                            "RESOURCE_EXHAUSTED: no socket")));
  EXPECT_FALSE(outcomes[0].retry);
}

TEST(FanOutTest, UnresolvedTargetsAreNotCalledAndKeepTheirError) {
  std::vector<AgentTarget> targets = MakeTargets(4);
  targets[1] = AgentTarget{"dns:a.invalid:7070", "", "",
                           "UNAVAILABLE: cannot resolve a.invalid"};
  targets[3] = AgentTarget{"dns:b.invalid:7070", "", "",
                           "UNAVAILABLE: b.invalid resolved to no address"};
  std::vector<int> calls(targets.size(), 0);
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [&](size_t i, CallDone done) {
        ++calls[i];
        done(AgentOutcome{true, absl::StrCat("node-", i), ""});
        return std::shared_ptr<void>();
      });
  EXPECT_THAT(calls, ElementsAre(1, 0, 1, 0));
  EXPECT_THAT(
      outcomes,
      ElementsAre(Outcome(true, "node-0", ""),
                  Outcome(false, "dns:a.invalid:7070",
                          "UNAVAILABLE: cannot resolve a.invalid"),
                  Outcome(true, "node-2", ""),
                  Outcome(false, "dns:b.invalid:7070",
                          "UNAVAILABLE: b.invalid resolved to no address")));
}

TEST(FanOutTest, NoTargetsNoCalls) {
  std::atomic<int> calls{0};
  std::vector<AgentOutcome> outcomes =
      FanOut({}, FanoutOptions{}, [&](size_t, CallDone) {
        ++calls;
        return std::shared_ptr<void>();
      });
  EXPECT_THAT(outcomes, IsEmpty());
  EXPECT_EQ(calls.load(), 0);
}

TEST(FanOutTest, ProgressGoesToStderrAndIsClearedAtTheEnd) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  FanoutOptions options;
  options.progress = true;
  options.parallel = 1;
  ::testing::internal::CaptureStderr();
  FanOut(targets, options, [](size_t, CallDone done) {
    done(AgentOutcome{true, "", ""});
    return std::shared_ptr<void>();
  });
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("[1/3] agents answered"));
  EXPECT_THAT(err, HasSubstr("[3/3] agents answered"));
  EXPECT_THAT(err, ::testing::EndsWith("\r\033[K"));
}

TEST(FanOutTest, NoProgressByDefault) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  ::testing::internal::CaptureStderr();
  FanOut(targets, FanoutOptions{}, [](size_t, CallDone done) {
    done(AgentOutcome{true, "", ""});
    return std::shared_ptr<void>();
  });
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace tally::cli
