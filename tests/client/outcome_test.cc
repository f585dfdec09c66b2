// Summaries and exit codes: readable at any fleet size, identical failures
// grouped with a few names.
#include "client/outcome.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(SummaryTest, SomeFailed) {
  EXPECT_EQ(Summary({AgentOutcome{true, "a", ""},
                     AgentOutcome{false, "b", "UNAVAILABLE: x"},
                     AgentOutcome{true, "c", ""}}),
            "2/3 agents ok; b: UNAVAILABLE: x");
}

TEST(SummaryTest, FailuresListedInOrder) {
  EXPECT_EQ(
      Summary({AgentOutcome{false, "a", "UNAVAILABLE: connection refused"},
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

TEST(SummaryTest, IdenticalFailuresAreOneEntryNamingAFew) {
  std::vector<AgentOutcome> outcomes;
  for (int i = 0; i < 5; ++i) {
    outcomes.push_back(AgentOutcome{false, absl::StrCat("10.0.0.", i, ":7070"),
                                    "UNAVAILABLE: connection refused"});
  }
  outcomes.push_back(AgentOutcome{true, "node-9", ""});
  EXPECT_EQ(Summary(outcomes),
            "1/6 agents ok; UNAVAILABLE: connection refused (5 agents: "
            "10.0.0.0:7070, 10.0.0.1:7070, 10.0.0.2:7070 and 2 more)");
}

TEST(SummaryTest, AgentNamesInMessagesDoNotSplitGroups) {
  std::vector<AgentOutcome> outcomes = {
      {false, "node-1", "NOT_FOUND: no probe named p on node-1"},
      {false, "node-2", "NOT_FOUND: no probe named p on node-2"},
      {false, "node-3", "NOT_FOUND: no probe named p on node-3"},
  };
  EXPECT_EQ(Summary(outcomes),
            "0/3 agents ok; NOT_FOUND: no probe named p on AGENT (3 agents: "
            "node-1, node-2, node-3)");
  // Alone, an agent keeps its own words.
  EXPECT_EQ(Summary({outcomes[0]}),
            "0/1 agents ok; node-1: NOT_FOUND: no probe named p on node-1");
}

TEST(SummaryTest, NameInsideALongerNameIsLeftAlone) {
  std::vector<FailureGroup> groups = GroupFailures(
      {{false, "node-1", "UNAVAILABLE: node-10 is unreachable from node-1"}});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].error, "UNAVAILABLE: node-10 is unreachable from AGENT");
}

TEST(SummaryTest, StaysShortAtAnyFleetSize) {
  // 2000 agents failing five ways, each message naming its agent, as
  // "Too many open files" did at 2000 agents.
  std::vector<AgentOutcome> outcomes;
  for (int i = 0; i < 2000; ++i) {
    std::string node = absl::StrCat("127.0.0.1:", 40000 + i);
    outcomes.push_back(AgentOutcome{
        i < 1000, node,
        i < 1000
            ? ""
            : absl::StrCat("UNAVAILABLE: kind ", std::string(1, 'a' + i % 7),
                           ": ipv4:", node, ": Too many open files")});
  }
  std::string summary = Summary(outcomes);
  EXPECT_LT(summary.size(), 1000u) << summary;
  EXPECT_THAT(summary, HasSubstr("1000/2000 agents ok; "));
  EXPECT_THAT(summary,
              HasSubstr("UNAVAILABLE: kind g: ipv4:AGENT: Too many open files "
                        "(143 agents: 127.0.0.1:41000"));
  EXPECT_THAT(summary, HasSubstr("; 2 other errors (285 agents)"));
}

TEST(GroupFailuresTest, NumbersSuchAsDurationsDoNotSplitGroups) {
  std::vector<FailureGroup> groups =
      GroupFailures({{false, "a", "STALE: no update for 3.1s: hung"},
                     {false, "b", "STALE: no update for 12.0s: hung"},
                     {false, "c", "STALE: no update: hung"}});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(DescribeGroup(groups[0]),
            "STALE: no update for 3.1s: hung (2 agents: a, b)");
}

TEST(GroupFailuresTest, GroupsInOrderOfFirstAppearance) {
  std::vector<FailureGroup> groups = GroupFailures({{false, "a", "B: x"},
                                                    {true, "b", ""},
                                                    {false, "c", "A: y"},
                                                    {false, "d", "B: x"}});
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].error, "B: x");
  EXPECT_THAT(groups[0].nodes, ElementsAre("a", "d"));
  EXPECT_EQ(groups[1].error, "A: y");
  EXPECT_EQ(DescribeGroup(groups[0]), "B: x (2 agents: a, d)");
  EXPECT_EQ(DescribeGroup(groups[1]), "c: A: y");
}

TEST(ExitCodeTest, ZeroWhenAllOk) {
  EXPECT_EQ(ExitCode({AgentOutcome{true, "a", ""}}), 0);
  EXPECT_EQ(
      ExitCode({AgentOutcome{true, "a", ""}, AgentOutcome{true, "b", ""}}), 0);
}

TEST(ExitCodeTest, TwoWhenSomeFailed) {
  EXPECT_EQ(ExitCode({AgentOutcome{true, "a", ""},
                      AgentOutcome{false, "b", "UNAVAILABLE: x"}}),
            2);
}

TEST(ExitCodeTest, OneWhenAllFailed) {
  EXPECT_EQ(ExitCode({AgentOutcome{false, "a", "UNAVAILABLE: x"},
                      AgentOutcome{false, "b", "INTERNAL: y"}}),
            1);
}

}  // namespace
}  // namespace tally::cli
