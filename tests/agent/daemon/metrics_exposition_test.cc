// The text exposition format on its own: escaping, UTF-8, family grouping
// and values. No root.
#include "agent/daemon/metrics_exposition.h"

#include <cmath>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::HasSubstr;

TEST(EscapeLabelValueTest, FormatEscapes) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b"), "a\\\"b");
  EXPECT_EQ(EscapeLabelValue("a\nb"), "a\\nb");
  EXPECT_EQ(EscapeLabelValue(""), "");
}

TEST(EscapeLabelValueTest, ValidUtf8IsKept) {
  EXPECT_EQ(EscapeLabelValue("zürich-€-😀"), "zürich-€-😀");
}

TEST(EscapeLabelValueTest, InvalidBytesAreSpelledOutAndStayDistinct) {
  // A lone continuation byte, a truncated sequence, an overlong NUL, a
  // surrogate: each byte as \xNN, whose backslash the format escapes again.
  EXPECT_EQ(EscapeLabelValue("a\x80z"), "a\\\\x80z");
  EXPECT_EQ(EscapeLabelValue("\xe2\x82"), "\\\\xe2\\\\x82");
  EXPECT_EQ(EscapeLabelValue("\xc0\x80"), "\\\\xc0\\\\x80");
  EXPECT_EQ(EscapeLabelValue("\xed\xa0\x80"), "\\\\xed\\\\xa0\\\\x80");
  // A name that is literally backslash-x-8-0 is not the byte 0x80.
  EXPECT_NE(EscapeLabelValue("\\x80"), EscapeLabelValue("\x80"));
  EXPECT_EQ(EscapeLabelValue("\\x80"), "\\\\\\\\x80");
}

TEST(FormatSampleValueTest, Values) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(42), "42");
  EXPECT_EQ(FormatSampleValue(0.25), "0.25");
  EXPECT_EQ(FormatSampleValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatSampleValue(1795572383.0483181), "1795572383.0483181");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()),
            "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()),
            "-Inf");
  EXPECT_EQ(FormatSampleValue(std::nan("")), "NaN");
}

TEST(ExpositionTest, FamiliesComeOutWholeInDeclarationOrder) {
  Exposition e;
  e.Family("b_total", MetricType::kCounter, "B things.");
  e.Family("a", MetricType::kGauge, "A things.");
  e.Family("empty", MetricType::kGauge, "Nothing here.");
  e.Add("a", {{"x", "1"}}, uint64_t{1});
  e.Add("b_total", {{"p", "one"}}, uint64_t{10});
  e.Add("a", {{"x", "2"}}, 2.5);
  e.Add("b_total", {}, uint64_t{18446744073709551615u});
  EXPECT_EQ(e.Render(),
            "# HELP b_total B things.\n"
            "# TYPE b_total counter\n"
            "b_total{p=\"one\"} 10\n"
            "b_total 18446744073709551615\n"
            "# HELP a A things.\n"
            "# TYPE a gauge\n"
            "a{x=\"1\"} 1\n"
            "a{x=\"2\"} 2.5\n");
}

TEST(ExpositionTest, HelpIsEscaped) {
  Exposition e;
  e.Family("h", MetricType::kGauge, "back\\slash\nnew \"quote\"");
  e.Add("h", {}, uint64_t{0});
  EXPECT_THAT(e.Render(),
              HasSubstr("# HELP h back\\\\slash\\nnew \"quote\"\n"));
}

TEST(ExpositionTest, LabelValuesAreEscaped) {
  Exposition e;
  e.Family("k_total", MetricType::kCounter, "Keys.");
  e.Add("k_total", {{"key", "a\"b\\c\nd\xff"}}, uint64_t{1});
  EXPECT_THAT(e.Render(),
              HasSubstr("k_total{key=\"a\\\"b\\\\\\\\c\\nd\\\\xff\"} 1\n"));
}

TEST(ExpositionDeathTest, UndeclaredOrTwiceDeclaredFamiliesAreBugs) {
  Exposition e;
  e.Family("x", MetricType::kGauge, "X.");
  EXPECT_DEATH(e.Family("x", MetricType::kGauge, "X."), "declared twice");
  EXPECT_DEATH(e.Add("y", {}, uint64_t{1}), "undeclared");
}

}  // namespace
}  // namespace tally
