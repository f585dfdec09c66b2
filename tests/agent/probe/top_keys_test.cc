#include "agent/probe/top_keys.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

using ::testing::ElementsAre;
using ::testing::FieldsAre;
using ::testing::IsEmpty;

void OfferId(TopKeys& top, uint64_t id, uint64_t count) {
  uint8_t key[8];
  std::memcpy(key, &id, sizeof(key));
  top.Offer(key, count);
}

void OfferName(TopKeys& top, const std::string& name, uint64_t count) {
  uint8_t key[16] = {};
  std::memcpy(key, name.data(), name.size());
  top.Offer(key, count);
}

TEST(TopKeysTest, KeepsTheHighestCountsInOrder) {
  TopKeys top(3, GroupBy::kPid);
  for (uint64_t id = 1; id <= 1000; ++id) OfferId(top, id, (id * 7919) % 1009);
  // The three largest of (id * 7919) % 1009 for id in 1..1000.
  std::vector<std::pair<uint64_t, uint64_t>> all;
  for (uint64_t id = 1; id <= 1000; ++id) all.push_back({(id * 7919) % 1009, id});
  std::sort(all.begin(), all.end(), [](auto a, auto b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<KeyCount> got = top.Take();
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].key, std::to_string(all[i].second));
    EXPECT_EQ(got[i].count, all[i].first);
  }
  EXPECT_THAT(top.Take(), IsEmpty());
}

TEST(TopKeysTest, TiesGoToTheSmallerIdNumerically) {
  TopKeys top(2, GroupBy::kTgid);
  OfferId(top, 100, 5);
  OfferId(top, 9, 5);
  OfferId(top, 20, 5);
  // Numeric order, not string order ("100" < "20" < "9").
  EXPECT_THAT(top.Take(), ElementsAre(FieldsAre("9", 5), FieldsAre("20", 5)));
}

TEST(TopKeysTest, NamesEndAtTheirNulAndTieByName) {
  TopKeys top(4, GroupBy::kComm);
  OfferName(top, "bash", 3);
  OfferName(top, "ba", 3);
  OfferName(top, "0123456789abcdef", 7);  // all 16 bytes, no NUL
  OfferName(top, "zsh", 1);
  OfferName(top, "sh", 0);
  EXPECT_THAT(top.Take(),
              ElementsAre(FieldsAre("0123456789abcdef", 7), FieldsAre("ba", 3),
                          FieldsAre("bash", 3), FieldsAre("zsh", 1)));
}

TEST(TopKeysTest, ZeroKeepsNothing) {
  TopKeys top(0, GroupBy::kUid);
  OfferId(top, 1, 1);
  EXPECT_THAT(top.Take(), IsEmpty());
}

}  // namespace
}  // namespace tally
