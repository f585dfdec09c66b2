#include "client/args.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally::cli {
namespace {

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// A StatusOr that is OK and holds a value equal to `expected`.
MATCHER_P(IsOkAndHolds, expected, "is OK and holds " +
                                      ::testing::PrintToString(expected)) {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  *result_listener << "which holds " << ::testing::PrintToString(*arg);
  return *arg == expected;
}

// The options of a typical tallyctl subcommand.
const std::vector<OptionSpec>& Options() {
  static const auto* options = new std::vector<OptionSpec>{
      {"agents", true},
      {"timeout", true},
      {"group-by", true},
      {"top", true},
      {"json", false},
      {"no-progress", false},
  };
  return *options;
}

ParsedArgs MustParse(const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, Options());
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? *parsed : ParsedArgs{};
}

TEST(ParseArgsTest, EmptyArgsGiveNothing) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs({}, Options());
  ASSERT_OK(parsed);
  EXPECT_THAT(parsed->values, IsEmpty());
  EXPECT_THAT(parsed->positional, IsEmpty());
}

TEST(ParseArgsTest, OptionWithSeparateValue) {
  ParsedArgs parsed = MustParse({"--agents", "10.0.0.7:7070"});
  EXPECT_THAT(parsed.values, ElementsAre(Pair("agents", "10.0.0.7:7070")));
  EXPECT_THAT(parsed.positional, IsEmpty());
}

TEST(ParseArgsTest, OptionWithInlineValue) {
  ParsedArgs parsed = MustParse({"--agents=10.0.0.7:7070"});
  EXPECT_THAT(parsed.values, ElementsAre(Pair("agents", "10.0.0.7:7070")));
  EXPECT_THAT(parsed.positional, IsEmpty());
}

TEST(ParseArgsTest, InlineValueKeepsFurtherEqualsSigns) {
  ParsedArgs parsed = MustParse({"--group-by=a=b"});
  EXPECT_EQ(parsed.Get("group-by"), "a=b");
}

TEST(ParseArgsTest, InlineValueMayBeEmpty) {
  ParsedArgs parsed = MustParse({"--agents="});
  EXPECT_TRUE(parsed.Has("agents"));
  EXPECT_EQ(parsed.Get("agents", "default"), "");
}

TEST(ParseArgsTest, SeparateValueIsTakenVerbatimEvenIfItLooksLikeAnOption) {
  ParsedArgs parsed = MustParse({"--agents", "--json"});
  EXPECT_EQ(parsed.Get("agents"), "--json");
  EXPECT_FALSE(parsed.Has("json"));
}

TEST(ParseArgsTest, BooleanOptionHasEmptyValue) {
  ParsedArgs parsed = MustParse({"--json"});
  EXPECT_TRUE(parsed.Has("json"));
  EXPECT_EQ(parsed.Get("json", "unset"), "");
  EXPECT_FALSE(parsed.Has("no-progress"));
}

TEST(ParseArgsTest, BooleanOptionDoesNotConsumeNextArgument) {
  ParsedArgs parsed = MustParse({"--json", "probe-a"});
  EXPECT_TRUE(parsed.Has("json"));
  EXPECT_THAT(parsed.positional, ElementsAre("probe-a"));
}

TEST(ParseArgsTest, BooleanOptionRejectsInlineValue) {
  EXPECT_THAT(ParseArgs({"--json=true"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--json takes no value")));
}

TEST(ParseArgsTest, PositionalArgumentsKeepTheirOrderAroundOptions) {
  ParsedArgs parsed =
      MustParse({"first", "--timeout", "5s", "second", "--json", "third"});
  EXPECT_THAT(parsed.positional, ElementsAre("first", "second", "third"));
  EXPECT_THAT(parsed.values,
              UnorderedElementsAre(Pair("timeout", "5s"), Pair("json", "")));
}

TEST(ParseArgsTest, SingleDashIsPositional) {
  ParsedArgs parsed = MustParse({"-"});
  EXPECT_THAT(parsed.positional, ElementsAre("-"));
}

TEST(ParseArgsTest, DoubleDashEndsOptions) {
  ParsedArgs parsed =
      MustParse({"--json", "--", "--timeout", "-x", "--", "plain"});
  EXPECT_THAT(parsed.values, ElementsAre(Pair("json", "")));
  EXPECT_THAT(parsed.positional, ElementsAre("--timeout", "-x", "--", "plain"));
}

TEST(ParseArgsTest, DoubleDashAloneGivesNoPositional) {
  ParsedArgs parsed = MustParse({"--"});
  EXPECT_THAT(parsed.positional, IsEmpty());
  EXPECT_THAT(parsed.values, IsEmpty());
}

TEST(ParseArgsTest, UnderscoresAndDashesAreEquivalent) {
  ParsedArgs separate = MustParse({"--group_by", "comm"});
  EXPECT_THAT(separate.values, ElementsAre(Pair("group-by", "comm")));
  ParsedArgs inline_value = MustParse({"--group_by=pid"});
  EXPECT_THAT(inline_value.values, ElementsAre(Pair("group-by", "pid")));
  ParsedArgs boolean = MustParse({"--no_progress"});
  EXPECT_THAT(boolean.values, ElementsAre(Pair("no-progress", "")));
}

TEST(ParseArgsTest, LaterOccurrenceWins) {
  ParsedArgs parsed = MustParse({"--top", "3", "--top=7"});
  EXPECT_EQ(parsed.Get("top"), "7");
}

TEST(ParseArgsTest, UnknownOptionIsNamed) {
  EXPECT_THAT(ParseArgs({"--bogus", "1"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown option --bogus")));
}

TEST(ParseArgsTest, UnknownOptionWithInlineValueIsNamedWithoutValue) {
  EXPECT_THAT(ParseArgs({"--bogus_opt=1"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown option --bogus_opt")));
}

TEST(ParseArgsTest, PrefixOfAnOptionIsNotAccepted) {
  EXPECT_THAT(ParseArgs({"--time", "5s"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown option --time")));
}

TEST(ParseArgsTest, MissingValueAtEndIsAnError) {
  EXPECT_THAT(ParseArgs({"probe", "--timeout"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--timeout needs a value")));
}

TEST(ParseArgsTest, MissingValueIsNamedWithDashes) {
  EXPECT_THAT(ParseArgs({"--group_by"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("--group-by needs a value")));
}

TEST(ParseArgsTest, SingleDashOptionIsRejected) {
  EXPECT_THAT(ParseArgs({"-j"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unknown option '-j'"),
                             HasSubstr("--name"))));
  EXPECT_THAT(ParseArgs({"probe", "-timeout", "5s"}, Options()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("'-timeout'")));
}

TEST(ParsedArgsTest, GetReturnsDefaultWhenAbsent) {
  ParsedArgs parsed;
  EXPECT_FALSE(parsed.Has("agents"));
  EXPECT_EQ(parsed.Get("agents"), "");
  EXPECT_EQ(parsed.Get("agents", "unix:/x"), "unix:/x");
}

ParsedArgs WithValue(const std::string& name, const std::string& value) {
  ParsedArgs parsed;
  parsed.values[name] = value;
  return parsed;
}

TEST(GetDurationTest, DefaultWhenAbsent) {
  absl::StatusOr<absl::Duration> d =
      ParsedArgs{}.GetDuration("timeout", absl::Seconds(7));
  ASSERT_OK(d);
  EXPECT_EQ(*d, absl::Seconds(7));
}

TEST(GetDurationTest, ParsesUnits) {
  EXPECT_THAT(WithValue("timeout", "500ms").GetDuration("timeout",
                                                         absl::Seconds(1)),
              IsOkAndHolds(absl::Milliseconds(500)));
  EXPECT_THAT(
      WithValue("timeout", "5s").GetDuration("timeout", absl::Seconds(1)),
      IsOkAndHolds(absl::Seconds(5)));
  EXPECT_THAT(
      WithValue("timeout", "2m").GetDuration("timeout", absl::Seconds(1)),
      IsOkAndHolds(absl::Minutes(2)));
  EXPECT_THAT(
      WithValue("timeout", "1h30m").GetDuration("timeout", absl::Seconds(1)),
      IsOkAndHolds(absl::Minutes(90)));
}

TEST(GetDurationTest, RejectsBadValues) {
  for (const char* bad : {"", "5", "abc", "5 s", "0s", "0", "-1s", "1x"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        WithValue("timeout", bad).GetDuration("timeout", absl::Seconds(1)),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(HasSubstr("--timeout wants a positive duration"),
                       HasSubstr(absl::StrCat("got '", bad, "'")))));
  }
}

TEST(GetUintTest, DefaultWhenAbsent) {
  EXPECT_THAT(ParsedArgs{}.GetUint("top", 10, 100), IsOkAndHolds(10u));
}

TEST(GetUintTest, DefaultIsNotCheckedAgainstMax) {
  // The default is the caller's, not the user's: returned as is.
  EXPECT_THAT(ParsedArgs{}.GetUint("top", 500, 100),
              IsOkAndHolds(500u));
}

TEST(GetUintTest, ParsesWithinBounds) {
  EXPECT_THAT(WithValue("top", "0").GetUint("top", 10, 100),
              IsOkAndHolds(0u));
  EXPECT_THAT(WithValue("top", "42").GetUint("top", 10, 100),
              IsOkAndHolds(42u));
  EXPECT_THAT(WithValue("top", "100").GetUint("top", 10, 100),
              IsOkAndHolds(100u));
}

TEST(GetUintTest, ParsesUint64Max) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_THAT(
      WithValue("top", "18446744073709551615").GetUint("top", 0, max),
      IsOkAndHolds(max));
}

TEST(GetUintTest, RejectsAboveMax) {
  EXPECT_THAT(WithValue("top", "101").GetUint("top", 10, 100),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("--top wants a whole number up to 100"),
                             HasSubstr("got '101'"))));
}

TEST(GetUintTest, RejectsBadValues) {
  for (const char* bad : {"", "abc", "-1", "1.5", "12x", "0x10",
                          "18446744073709551616"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(WithValue("top", bad).GetUint("top", 10,
                                              std::numeric_limits<uint64_t>::max()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(absl::StrCat("got '", bad, "'"))));
  }
}

TEST(ParseArgsTest, ParsedValuesFeedTheTypedGetters) {
  ParsedArgs parsed = MustParse({"--timeout=250ms", "--top", "5"});
  EXPECT_THAT(parsed.GetDuration("timeout", absl::Seconds(5)),
              IsOkAndHolds(absl::Milliseconds(250)));
  EXPECT_THAT(parsed.GetUint("top", 10, 100), IsOkAndHolds(5u));
}

}  // namespace
}  // namespace tally::cli
