#include "client/fanout.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
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

// Counts calls in flight and remembers the most seen at once.
class ConcurrencyProbe {
 public:
  explicit ConcurrencyProbe(size_t targets)
      : calls_(std::make_unique<std::atomic<int>[]>(targets)) {
    for (size_t i = 0; i < targets; ++i) calls_[i] = 0;
  }

  void Enter(size_t index) {
    ++calls_[index];
    int now = ++in_flight_;
    int seen = max_in_flight_.load();
    while (now > seen && !max_in_flight_.compare_exchange_weak(seen, now)) {
    }
  }
  void Leave() { --in_flight_; }

  int calls(size_t index) const { return calls_[index].load(); }
  int max_in_flight() const { return max_in_flight_.load(); }

 private:
  std::unique_ptr<std::atomic<int>[]> calls_;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_in_flight_{0};
};

// A short stretch of work inside the call, so that calls overlap when the
// fan-out lets them. Timing only makes overlap likely; no assertion depends
// on it.
void BusySection() {
  for (int i = 0; i < 50; ++i) std::this_thread::yield();
}

class BoundedParallelismTest : public ::testing::TestWithParam<int> {};

TEST_P(BoundedParallelismTest, EveryTargetCalledOnceAndNeverMoreThanParallel) {
  const int parallel = GetParam();
  constexpr size_t kTargets = 64;
  std::vector<AgentTarget> targets = MakeTargets(kTargets);
  ConcurrencyProbe probe(kTargets);
  FanoutOptions options;
  options.parallel = parallel;

  std::vector<AgentOutcome> outcomes =
      FanOut(targets, options, [&](size_t i, absl::Time) {
        probe.Enter(i);
        BusySection();
        probe.Leave();
        return AgentOutcome{true, absl::StrCat("node-", i), ""};
      });

  EXPECT_GE(probe.max_in_flight(), 1);
  EXPECT_LE(probe.max_in_flight(), std::max(parallel, 1));
  ASSERT_THAT(outcomes, SizeIs(kTargets));
  for (size_t i = 0; i < kTargets; ++i) {
    EXPECT_EQ(probe.calls(i), 1) << "target " << i;
    EXPECT_THAT(outcomes[i], Outcome(true, absl::StrCat("node-", i), ""))
        << "target " << i;
  }
}

// 0 and negative values mean one at a time rather than none.
INSTANTIATE_TEST_SUITE_P(Parallelism, BoundedParallelismTest,
                         ::testing::Values(-3, 0, 1, 2, 4, 7, 32, 64, 100));

TEST(FanOutTest, RunsUpToParallelCallsAtOnce) {
  // Each call waits (bounded) until `kParallel` calls are in flight together:
  // with a working fan-out all of them get there; a serial one would not.
  constexpr int kParallel = 4;
  std::vector<AgentTarget> targets = MakeTargets(kParallel);
  absl::Mutex mu;
  int in_flight = 0;
  int max_in_flight = 0;
  FanoutOptions options;
  options.parallel = kParallel;

  std::vector<AgentOutcome> outcomes =
      FanOut(targets, options, [&](size_t, absl::Time) {
        absl::MutexLock lock(&mu);
        ++in_flight;
        max_in_flight = std::max(max_in_flight, in_flight);
        mu.AwaitWithTimeout(
            absl::Condition(
                +[](int* n) { return *n >= kParallel; }, &in_flight),
            absl::Seconds(10));
        return AgentOutcome{true, "", ""};
      });

  EXPECT_EQ(max_in_flight, kParallel);
  EXPECT_THAT(outcomes, SizeIs(kParallel));
}

TEST(FanOutTest, OutcomesAreInTargetOrderWhateverTheCompletionOrder) {
  constexpr size_t kTargets = 8;
  std::vector<AgentTarget> targets = MakeTargets(kTargets);
  // Later targets finish first: each call waits (bounded) until every later
  // target is done.
  absl::Mutex mu;
  std::vector<bool> finished(kTargets, false);
  FanoutOptions options;
  options.parallel = kTargets;

  std::vector<AgentOutcome> outcomes =
      FanOut(targets, options, [&](size_t i, absl::Time) {
        absl::MutexLock lock(&mu);
        auto later_done = [&] {
          for (size_t j = i + 1; j < kTargets; ++j) {
            if (!finished[j]) return false;
          }
          return true;
        };
        mu.AwaitWithTimeout(absl::Condition(&later_done), absl::Seconds(10));
        finished[i] = true;
        return AgentOutcome{i % 2 == 0, absl::StrCat("node-", i),
                            i % 2 == 0 ? "" : absl::StrCat("UNKNOWN: ", i)};
      });

  ASSERT_THAT(outcomes, SizeIs(kTargets));
  for (size_t i = 0; i < kTargets; ++i) {
    EXPECT_THAT(outcomes[i],
                Outcome(i % 2 == 0, absl::StrCat("node-", i),
                        i % 2 == 0 ? "" : absl::StrCat("UNKNOWN: ", i)));
  }
}

TEST(FanOutTest, UnresolvedTargetsAreNotCalledAndKeepTheirError) {
  std::vector<AgentTarget> targets = MakeTargets(4);
  targets[1] = AgentTarget{"dns:a.invalid:7070", "", "",
                           "UNAVAILABLE: cannot resolve a.invalid"};
  targets[3] = AgentTarget{"dns:b.invalid:7070", "", "",
                           "UNAVAILABLE: b.invalid resolved to no address"};
  std::vector<int> calls(targets.size(), 0);
  absl::Mutex mu;
  FanoutOptions options;
  options.parallel = 2;

  std::vector<AgentOutcome> outcomes =
      FanOut(targets, options, [&](size_t i, absl::Time) {
        absl::MutexLock lock(&mu);
        ++calls[i];
        return AgentOutcome{true, absl::StrCat("node-", i), ""};
      });

  EXPECT_THAT(calls, ElementsAre(1, 0, 1, 0));
  EXPECT_THAT(
      outcomes,
      ElementsAre(
          Outcome(true, "node-0", ""),
          Outcome(false, "dns:a.invalid:7070",
                  "UNAVAILABLE: cannot resolve a.invalid"),
          Outcome(true, "node-2", ""),
          Outcome(false, "dns:b.invalid:7070",
                  "UNAVAILABLE: b.invalid resolved to no address")));
}

TEST(FanOutTest, AllTargetsUnresolvedMeansNoCalls) {
  std::vector<AgentTarget> targets = {
      AgentTarget{"dns:x.invalid:1", "", "", "UNAVAILABLE: x"}};
  std::atomic<int> calls{0};
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [&](size_t, absl::Time) {
        ++calls;
        return AgentOutcome{true, "", ""};
      });
  EXPECT_EQ(calls.load(), 0);
  EXPECT_THAT(outcomes,
              ElementsAre(Outcome(false, "dns:x.invalid:1", "UNAVAILABLE: x")));
}

TEST(FanOutTest, NodeFallsBackToTargetLabel) {
  std::vector<AgentTarget> targets = {
      AgentTarget{"10.0.0.1:7070", "10.0.0.1:7070", "", ""},
      AgentTarget{"unix:/tmp/a.sock", "unix:/tmp/a.sock", "", ""},
      AgentTarget{"10.0.0.3:7070", "ipv4:10.0.0.3:7070", "agents.local", ""},
  };
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{}, [](size_t i, absl::Time) {
        switch (i) {
          case 0:
            return AgentOutcome{true, "", ""};
          case 1:
            return AgentOutcome{false, "", "UNAVAILABLE: connection refused"};
          default:
            return AgentOutcome{true, "node-c", ""};
        }
      });
  EXPECT_THAT(outcomes,
              ElementsAre(Outcome(true, "10.0.0.1:7070", ""),
                          Outcome(false, "unix:/tmp/a.sock",
                                  "UNAVAILABLE: connection refused"),
                          Outcome(true, "node-c", "")));
}

TEST(FanOutTest, DeadlineIsNowPlusTimeout) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  FanoutOptions options;
  options.timeout = absl::Seconds(42);
  absl::Mutex mu;
  std::vector<absl::Time> deadlines;

  const absl::Time before = absl::Now();
  FanOut(targets, options, [&](size_t, absl::Time deadline) {
    absl::MutexLock lock(&mu);
    deadlines.push_back(deadline);
    return AgentOutcome{true, "", ""};
  });
  const absl::Time after = absl::Now();

  ASSERT_THAT(deadlines, SizeIs(3));
  for (absl::Time deadline : deadlines) {
    EXPECT_GE(deadline, before + options.timeout);
    EXPECT_LE(deadline, after + options.timeout);
  }
}

TEST(FanOutTest, NoTargetsNoCalls) {
  std::atomic<int> calls{0};
  std::vector<AgentOutcome> outcomes =
      FanOut({}, FanoutOptions{}, [&](size_t, absl::Time) {
        ++calls;
        return AgentOutcome{true, "", ""};
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
  FanOut(targets, options,
         [](size_t, absl::Time) { return AgentOutcome{true, "", ""}; });
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("[1/3] agents answered"));
  EXPECT_THAT(err, HasSubstr("[3/3] agents answered"));
  EXPECT_THAT(err, ::testing::EndsWith("\r\033[K"));
}

TEST(FanOutTest, NoProgressByDefault) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  ::testing::internal::CaptureStderr();
  FanOut(targets, FanoutOptions{},
         [](size_t, absl::Time) { return AgentOutcome{true, "", ""}; });
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(SummaryTest, SomeFailed) {
  EXPECT_EQ(Summary({AgentOutcome{true, "a", ""},
                     AgentOutcome{false, "b", "UNAVAILABLE: x"},
                     AgentOutcome{true, "c", ""}}),
            "2/3 agents ok; b: UNAVAILABLE: x");
}

TEST(SummaryTest, FailuresListedInOrder) {
  EXPECT_EQ(Summary({AgentOutcome{false, "a", "UNAVAILABLE: connection refused"},
                     AgentOutcome{true, "b", ""},
                     AgentOutcome{false, "c", "DEADLINE_EXCEEDED: timed out"},
                     AgentOutcome{true, "d", ""}}),
            "2/4 agents ok; a: UNAVAILABLE: connection refused; "
            "c: DEADLINE_EXCEEDED: timed out");
}

TEST(SummaryTest, AllOk) {
  EXPECT_EQ(Summary({AgentOutcome{true, "a", ""}, AgentOutcome{true, "b", ""}}),
            "2/2 agents ok");
}

TEST(SummaryTest, AllFailed) {
  EXPECT_EQ(Summary({AgentOutcome{false, "a", "INTERNAL: boom"}}),
            "0/1 agents ok; a: INTERNAL: boom");
}

TEST(ExitCodeTest, ZeroWhenAllOk) {
  EXPECT_EQ(ExitCode({AgentOutcome{true, "a", ""}}), 0);
  EXPECT_EQ(ExitCode({AgentOutcome{true, "a", ""}, AgentOutcome{true, "b", ""}}),
            0);
}

TEST(ExitCodeTest, TwoWhenSomeFailed) {
  EXPECT_EQ(ExitCode({AgentOutcome{true, "a", ""},
                      AgentOutcome{false, "b", "UNAVAILABLE: x"}}),
            2);
  EXPECT_EQ(ExitCode({AgentOutcome{false, "a", "UNAVAILABLE: x"},
                      AgentOutcome{false, "b", "UNAVAILABLE: x"},
                      AgentOutcome{true, "c", ""}}),
            2);
}

TEST(ExitCodeTest, OneWhenAllFailed) {
  EXPECT_EQ(ExitCode({AgentOutcome{false, "a", "UNAVAILABLE: x"}}), 1);
  EXPECT_EQ(ExitCode({AgentOutcome{false, "a", "UNAVAILABLE: x"},
                      AgentOutcome{false, "b", "INTERNAL: y"}}),
            1);
}

TEST(ExitCodeTest, MatchesFanOutResults) {
  std::vector<AgentTarget> targets = MakeTargets(3);
  targets[2].error = "UNAVAILABLE: cannot resolve";
  std::vector<AgentOutcome> outcomes =
      FanOut(targets, FanoutOptions{},
             [](size_t, absl::Time) { return AgentOutcome{true, "", ""}; });
  EXPECT_EQ(ExitCode(outcomes), 2);
  EXPECT_EQ(Summary(outcomes),
            "2/3 agents ok; 10.0.0.2:7070: UNAVAILABLE: cannot resolve");
}

}  // namespace
}  // namespace tally::cli
