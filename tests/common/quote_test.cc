#include "common/quote.h"

#include <string>

#include "gtest/gtest.h"

namespace tally {
namespace {

TEST(Utf8SequenceLengthTest, KnownSequences) {
  EXPECT_EQ(Utf8SequenceLength("a"), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xc3\xa9"), 2u);          // é
  EXPECT_EQ(Utf8SequenceLength("\xe2\x82\xac"), 3u);      // €
  EXPECT_EQ(Utf8SequenceLength("\xf0\x9f\x98\x80"), 4u);  // 😀
  EXPECT_EQ(Utf8SequenceLength("\xc3"), 0u);              // cut short
  EXPECT_EQ(Utf8SequenceLength("\xc3("), 0u);             // bad continuation
  EXPECT_EQ(Utf8SequenceLength("\xc0\xaf"), 0u);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xed\xa0\x80"), 0u);      // surrogate
  EXPECT_EQ(Utf8SequenceLength("\xff"), 0u);
}

TEST(QuoteTest, ShortTextIsQuotedAsIs) {
  EXPECT_EQ(Quote("sys_enter"), "'sys_enter'");
  EXPECT_EQ(Quote("caf\xc3\xa9"), "'caf\xc3\xa9'");
}

TEST(QuoteTest, LongTextIsCutWithItsLength) {
  std::string hook(9000, 'x');
  std::string q = Quote(hook);
  EXPECT_EQ(q, "'" + std::string(kDefaultQuoteBytes, 'x') + "'... (9000 bytes)");
}

TEST(QuoteTest, NeverCutsACharacterInTwo) {
  std::string text = std::string(63, 'a') + "\xc3\xa9" + "tail";
  EXPECT_EQ(Quote(text), "'" + std::string(63, 'a') + "'... (69 bytes)");
}

TEST(QuoteTest, InvalidBytesAndControlsAreEscaped) {
  EXPECT_EQ(Quote("a\xc3z"), "'a\\xc3z'");
  EXPECT_EQ(Quote("line\nbreak\x7f"), "'line\\x0abreak\\x7f'");
  EXPECT_EQ(Quote(std::string("nul\0", 4)), "'nul\\x00'");
}

}  // namespace
}  // namespace tally
