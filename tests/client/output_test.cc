#include "client/output.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {
namespace {

using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(TableTest, HeaderOnly) {
  Table table({"NODE", "PROBE"});
  EXPECT_EQ(table.Render(), "NODE  PROBE\n");
}

// empty() is documented by its name (and the "rows_[0] is the header"
// comment) as "no rows yet", but rows_ always holds the header, so it is
// never true.
TEST(TableTest, EmptyUntilARowIsAdded) {
  Table table({"NODE", "PROBE"});
  EXPECT_TRUE(table.empty());
  table.AddRow({"node-a", "exec"});
  EXPECT_FALSE(table.empty());
}

// Tester's finding 7: padding by bytes misaligned non-ASCII node names.
TEST(TableTest, NonAsciiCellsArePaddedByCharacters) {
  Table table({"NODE", "TOTAL"});
  table.AddRow({"n\u0153ud-\u00e9t\u00e9", "1"});  // 8 characters
  table.AddRow({"node-ascii", "2"});
  EXPECT_EQ(table.Render(),
            "NODE        TOTAL\n"
            "n\u0153ud-\u00e9t\u00e9    1\n"
            "node-ascii  2\n");
}

TEST(TableTest, ColumnsPaddedToWidestCellPlusTwo) {
  Table table({"NODE", "PROBE", "COUNT"});
  table.AddRow({"node-a", "exec", "12"});
  table.AddRow({"b", "tracepoint:sched:sched_process_exec", "3"});
  EXPECT_FALSE(table.empty());
  EXPECT_EQ(table.Render(),
            "NODE    PROBE                                COUNT\n"
            "node-a  exec                                 12\n"
            "b       tracepoint:sched:sched_process_exec  3\n");
}

TEST(TableTest, LastColumnIsNotPaddedEvenWhenNarrower) {
  Table table({"A", "LONG-HEADER"});
  table.AddRow({"x", "y"});
  EXPECT_EQ(table.Render(),
            "A  LONG-HEADER\n"
            "x  y\n");
}

TEST(TableTest, NoTrailingSpacesWhenLastCellsAreEmpty) {
  Table table({"NODE", "ERROR", "NOTE"});
  table.AddRow({"node-a", "", ""});
  table.AddRow({"node-bb", "UNAVAILABLE: x", ""});
  std::string out = table.Render();
  EXPECT_EQ(out,
            "NODE     ERROR           NOTE\n"
            "node-a\n"
            "node-bb  UNAVAILABLE: x\n");
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    EXPECT_THAT(std::string(line), Not(EndsWith(" ")));
  }
}

TEST(TableTest, EmptyMiddleCellKeepsAlignment) {
  Table table({"A", "B", "C"});
  table.AddRow({"aaa", "", "c"});
  EXPECT_EQ(table.Render(),
            "A    B  C\n"
            "aaa     c\n");
}

TEST(TableTest, ShortRowsEndAtTheirLastCell) {
  Table table({"A", "B", "C"});
  table.AddRow({"aaaa"});
  table.AddRow({"a", "bbbbbb"});
  EXPECT_EQ(table.Render(),
            "A     B       C\n"
            "aaaa\n"
            "a     bbbbbb\n");
}

TEST(TableTest, RowsWiderThanHeaderWidenTheTable) {
  Table table({"A"});
  table.AddRow({"x", "extra"});
  EXPECT_EQ(table.Render(),
            "A\n"
            "x  extra\n");
}

TEST(JsonLineTest, FleetLineUsesProtoNamesAndEnumNames) {
  tally::v1::WatchLine line;
  line.set_kind(tally::v1::WatchLine::FLEET);
  line.set_total(42);
  line.set_probe("exec");
  line.set_agents_up(2);
  line.set_agents(3);
  std::string json = JsonLine(line);
  EXPECT_THAT(json, StartsWith("{"));
  EXPECT_THAT(json, EndsWith("}"));
  EXPECT_THAT(json, Not(HasSubstr("\n")));
  EXPECT_THAT(json, Not(HasSubstr(" ")));
  EXPECT_THAT(json, HasSubstr("\"kind\":\"FLEET\""));
  // uint64 is a string in proto3 JSON; uint32 is a number.
  EXPECT_THAT(json, HasSubstr("\"total\":\"42\""));
  EXPECT_THAT(json, HasSubstr("\"probe\":\"exec\""));
  EXPECT_THAT(json, HasSubstr("\"agents_up\":2"));
  EXPECT_THAT(json, HasSubstr("\"agents\":3"));
  // lower_snake_case, never the lowerCamelCase JSON names.
  EXPECT_THAT(json, Not(HasSubstr("agentsUp")));
  EXPECT_THAT(json, Not(HasSubstr("topKeys")));
}

TEST(JsonLineTest, DefaultPrimitiveFieldsArePresent) {
  tally::v1::WatchLine line;
  line.set_kind(tally::v1::WatchLine::FLEET);
  line.set_total(42);
  std::string json = JsonLine(line);
  EXPECT_THAT(json, AllOf(HasSubstr("\"error\":\"\""), HasSubstr("\"agent\":\"\""),
                          HasSubstr("\"node\":\"\""), HasSubstr("\"seq\":\"0\""),
                          HasSubstr("\"delta\":\"0\""), HasSubstr("\"rate\":0"),
                          HasSubstr("\"top_keys\":[]"),
                          HasSubstr("\"dropped_keys\":\"0\""),
                          HasSubstr("\"mechanism\":\"\""),
                          HasSubstr("\"agent_total\":\"0\""),
                          HasSubstr("\"state\":")));
}

TEST(JsonLineTest, DefaultMessageIsNotEmptyObject) {
  // Every primitive field is printed even when nothing is set.
  tally::v1::WatchLine line;
  std::string json = JsonLine(line);
  EXPECT_THAT(json, HasSubstr("\"kind\":\"KIND_UNSPECIFIED\""));
  EXPECT_THAT(json, HasSubstr("\"total\":\"0\""));
}

TEST(JsonLineTest, AgentLineErrorIsPrinted) {
  tally::v1::AgentLine line;
  line.set_agent("10.0.0.7:7070");
  line.set_node("10.0.0.7:7070");
  line.set_error("UNAVAILABLE: connection refused");
  std::string json = JsonLine(line);
  EXPECT_THAT(json, HasSubstr("\"agent\":\"10.0.0.7:7070\""));
  EXPECT_THAT(json,
              HasSubstr("\"error\":\"UNAVAILABLE: connection refused\""));
  EXPECT_THAT(json, HasSubstr("\"created\":false"));
}

// Unset sub-messages are left out (as output.h says); set ones appear.
TEST(JsonLineTest, SubMessagesAppearOnlyWhenSet) {
  tally::v1::AgentLine agent;
  agent.set_agent("a:1");
  EXPECT_THAT(JsonLine(agent), Not(HasSubstr("\"probe\":")));
  agent.mutable_probe()->set_name("p");
  EXPECT_THAT(JsonLine(agent), HasSubstr("\"probe\":{\"name\":\"p\""));
}

TEST(HumanCountTest, SmallCountsAreExact) {
  EXPECT_EQ(HumanCount(0), "0");
  EXPECT_EQ(HumanCount(7), "7");
  EXPECT_EQ(HumanCount(1234), "1234");
  EXPECT_EQ(HumanCount(9999), "9999");
}

TEST(HumanCountTest, ThousandsMillionsBillions) {
  EXPECT_EQ(HumanCount(10000), "10.0k");
  EXPECT_EQ(HumanCount(12345), "12.3k");
  EXPECT_EQ(HumanCount(999000), "999.0k");
  EXPECT_EQ(HumanCount(1e6), "1.0M");
  EXPECT_EQ(HumanCount(3.4e6), "3.4M");
  EXPECT_EQ(HumanCount(999e6), "999.0M");
  EXPECT_EQ(HumanCount(1e9), "1.0G");
  EXPECT_EQ(HumanCount(2.5e12), "2500.0G");
}

// Values just under a unit boundary round up into the next unit's range but
// keep the smaller unit: 999999 prints "1000.0k" rather than "1.0M".
TEST(HumanCountTest, RoundingUpCarriesIntoTheNextUnit) {
  EXPECT_EQ(HumanCount(999999), "1.0M");
  EXPECT_EQ(HumanCount(999999999), "1.0G");
  EXPECT_EQ(HumanCount(9999.7), "10.0k");
}

TEST(HumanDurationTest, ZeroAndNegative) {
  EXPECT_EQ(HumanDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "0s");
}

TEST(HumanDurationTest, Seconds) {
  EXPECT_EQ(HumanDuration(absl::Seconds(1)), "1s");
  EXPECT_EQ(HumanDuration(absl::Seconds(59)), "59s");
}

// Tester's finding 7: `--ttl 1s` showed "0s" right after start.
TEST(HumanDurationTest, RoundsUpToTheUnitShown) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(500)), "1s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(999)), "1s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(59999)), "1m0s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(299001)), "5m0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(3599) + absl::Milliseconds(1)),
            "1h0m");
  EXPECT_EQ(HumanDuration(absl::Seconds(3661)), "1h2m");
}

TEST(HumanDurationTest, MinutesAndSeconds) {
  EXPECT_EQ(HumanDuration(absl::Seconds(60)), "1m0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(299)), "4m59s");
  EXPECT_EQ(HumanDuration(absl::Seconds(3599)), "59m59s");
}

TEST(HumanDurationTest, HoursAndMinutes) {
  EXPECT_EQ(HumanDuration(absl::Hours(1)), "1h0m");
  EXPECT_EQ(HumanDuration(absl::Seconds(3660)), "1h1m");
  EXPECT_EQ(HumanDuration(absl::Hours(25) + absl::Minutes(30)), "25h30m");
}

}  // namespace
}  // namespace tally::cli
