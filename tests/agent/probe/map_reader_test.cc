// Privileged: reads real counter maps through MapReader. The keys are
// written from user space (a counter that never fires), so every count is
// known exactly and no events are needed.
#include "agent/probe/map_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/probe/bpf_counter.h"
#include "bpf/counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/status_matchers.h"

namespace tally {

// For comparing key lists (found by ADL from std::vector's ==).
bool operator==(const KeyCount& a, const KeyCount& b) {
  return a.key == b.key && a.count == b.count;
}
void PrintTo(const KeyCount& kc, std::ostream* os) {
  *os << kc.key << "=" << kc.count;
}

namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

// Ids no task has (pids are 32-bit): the reclaimer never touches them.
constexpr uint64_t kIdBase = 1ull << 40;

// Real maps of a counter that never counts: raw_tp task_rename filtered to
// this process, which never renames itself here.
std::unique_ptr<BpfCounter> QuietCounter(GroupBy group_by, uint32_t max_keys) {
  CounterOptions options;
  options.group_by = group_by;
  options.tgid = static_cast<uint32_t>(getpid());
  options.max_keys = max_keys;
  auto counter = BpfCounter::Create(
      {AttachKind::kRawTracepoint, "", "task_rename", ""}, options);
  EXPECT_TRUE(counter.ok()) << counter.status();
  return counter.ok() ? std::move(*counter) : nullptr;
}

ScopedFd Dup(int fd) { return ScopedFd(fcntl(fd, F_DUPFD_CLOEXEC, 0)); }

MapReader::Maps DupMaps(const MapReader& r) {
  return {Dup(r.totals_fd()), Dup(r.keys_fd()), Dup(r.slots_fd())};
}

int Cpus() { return libbpf_num_possible_cpus(); }

// Key i gets a count from a permutation, so counts are distinct and the
// top N are known.
uint64_t CountOf(uint64_t i) { return (i * 7919) % 100003 + 1; }

void FillKeys(const MapReader& r, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = kIdBase + i, count = CountOf(i);
    ASSERT_EQ(bpf_map_update_elem(r.keys_fd(), &id, &count, BPF_NOEXIST), 0)
        << i;
  }
}

std::vector<KeyCount> ExpectedTop(uint64_t n, size_t top) {
  std::vector<KeyCount> all;
  for (uint64_t i = 0; i < n; ++i) {
    all.push_back({absl::StrCat(kIdBase + i), CountOf(i)});
  }
  std::sort(all.begin(), all.end(), [](const KeyCount& a, const KeyCount& b) {
    return a.count > b.count;  // counts are distinct
  });
  all.resize(std::min<size_t>(top, all.size()));
  return all;
}

class MapReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }
};

TEST_F(MapReaderTest, BatchesAndTheWalkReadEveryKeyExactly) {
  constexpr uint64_t kKeys = 20000;
  auto counter = QuietCounter(GroupBy::kPid, 32768);
  ASSERT_NE(counter, nullptr);
  FillKeys(counter->reader(), kKeys);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < kKeys; ++i) sum += CountOf(i);

  struct Case {
    const char* name;
    MapReadOptions options;
    MapReadMethod settles_on;
  };
  // batch_keys 1: most calls hit a hash bucket holding more than one key
  // (ENOSPC), which the scanner must retry larger.
  for (const Case& c : {
           Case{"auto", {MapReadMethod::kAuto, 0}, MapReadMethod::kBatch},
           Case{"walk", {MapReadMethod::kWalk, 0}, MapReadMethod::kWalk},
           Case{"batches of 1", {MapReadMethod::kBatch, 1},
                MapReadMethod::kBatch},
           Case{"batches of 97", {MapReadMethod::kBatch, 97},
                MapReadMethod::kBatch},
       }) {
    SCOPED_TRACE(c.name);
    auto reader = MapReader::Open(DupMaps(counter->reader()), GroupBy::kPid,
                                  Cpus(), c.options);
    ASSERT_OK(reader);
    absl::StatusOr<CounterSnapshot> top = (*reader)->Read(25);
    ASSERT_OK(top);
    EXPECT_EQ(top->distinct_keys, kKeys);
    EXPECT_EQ(top->top_keys, ExpectedTop(kKeys, 25));
    EXPECT_EQ((*reader)->key_read_method(), c.settles_on);
    // Every key, each once: the counts add up.
    absl::StatusOr<CounterSnapshot> all = (*reader)->Read(kKeys + 10);
    ASSERT_OK(all);
    ASSERT_EQ(all->top_keys.size(), kKeys);
    uint64_t got = 0;
    for (const KeyCount& kc : all->top_keys) got += kc.count;
    EXPECT_EQ(got, sum);
  }
}

TEST_F(MapReaderTest, SlotsAddToTheirKeysOnly) {
  auto counter = QuietCounter(GroupBy::kTgid, 64);
  ASSERT_NE(counter, nullptr);
  const MapReader& r = counter->reader();
  for (uint64_t i = 0; i < 3; ++i) {
    uint64_t id = kIdBase + i, count = 10 * (i + 1);
    ASSERT_EQ(bpf_map_update_elem(r.keys_fd(), &id, &count, BPF_NOEXIST), 0);
  }
  // Slot entries {count, key} in different CPUs' rows: key 0 on two rows,
  // key 2 on one; a free entry (count 0) and an entry whose key is not in
  // `keys` (freed and taken again mid-read) must not count.
  auto put = [&](uint32_t index, uint64_t count, uint64_t id) {
    uint64_t entry[2] = {count, id};
    ASSERT_EQ(bpf_map_update_elem(r.slots_fd(), &index, entry, BPF_ANY), 0);
  };
  const uint32_t last_row = (Cpus() - 1) * TALLY_SLOTS_PER_CPU;
  put(3, 5, kIdBase);
  put(last_row + 7, 6, kIdBase);
  put(9, 100, kIdBase + 2);
  put(10, 0, kIdBase + 1);
  put(11, 1000, kIdBase + 99);
  for (MapReadMethod method : {MapReadMethod::kAuto, MapReadMethod::kWalk}) {
    auto reader =
        MapReader::Open(DupMaps(r), GroupBy::kTgid, Cpus(), {method, 0});
    ASSERT_OK(reader);
    absl::StatusOr<CounterSnapshot> snap = (*reader)->Read(10);
    ASSERT_OK(snap);
    EXPECT_EQ(snap->distinct_keys, 3u);
    std::vector<KeyCount> want = {{absl::StrCat(kIdBase + 2), 130},
                                  {absl::StrCat(kIdBase), 21},
                                  {absl::StrCat(kIdBase + 1), 20}};
    EXPECT_EQ(snap->top_keys, want) << MapReadMethodName(method);
  }
}

TEST_F(MapReaderTest, TotalsReadTheSameEitherWay) {
  auto counter = QuietCounter(GroupBy::kPid, 16);
  ASSERT_NE(counter, nullptr);
  const MapReader& r = counter->reader();
  // One value per CPU per slot; the reader sums them.
  std::vector<uint64_t> per_cpu(Cpus());
  uint64_t want[TALLY_SLOT_LAYOUT] = {};
  for (uint32_t slot = 0; slot < TALLY_SLOT_LAYOUT; ++slot) {
    for (int cpu = 0; cpu < Cpus(); ++cpu) {
      per_cpu[cpu] = (slot + 1) * 1000 + cpu;
      want[slot] += per_cpu[cpu];
    }
    ASSERT_EQ(bpf_map_update_elem(r.totals_fd(), &slot, per_cpu.data(), BPF_ANY),
              0);
  }
  for (MapReadMethod method : {MapReadMethod::kAuto, MapReadMethod::kWalk}) {
    auto reader = MapReader::Open(DupMaps(r), GroupBy::kPid, Cpus(), {method, 0});
    ASSERT_OK(reader);
    absl::StatusOr<CounterSnapshot> snap = (*reader)->Read(0);
    ASSERT_OK(snap);
    EXPECT_EQ(snap->total, want[TALLY_SLOT_EVENTS]);
    EXPECT_EQ(snap->dropped_keys, want[TALLY_SLOT_DROPPED_KEYS]);
    EXPECT_EQ(snap->reclaimed, want[TALLY_SLOT_RECLAIMED]);
    EXPECT_EQ(snap->reclaimed_keys, want[TALLY_SLOT_RECLAIMED_KEYS]);
  }
}

// Reading costs memory bounded by the scan buffer, whatever the key count.
TEST_F(MapReaderTest, BuffersStayBoundedWithManyKeys) {
  constexpr uint64_t kKeys = 60000;
  auto counter = QuietCounter(GroupBy::kUid, 65536);
  ASSERT_NE(counter, nullptr);
  FillKeys(counter->reader(), kKeys);
  absl::StatusOr<CounterSnapshot> snap = counter->Read(10);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->distinct_keys, kKeys);
  EXPECT_EQ(snap->top_keys, ExpectedTop(kKeys, 10));
  EXPECT_LE(counter->reader().buffer_bytes(), kScanBufferBytes + 16 * 1024);
  // A read of the totals allocates no key buffers.
  auto fresh = MapReader::Open(DupMaps(counter->reader()), GroupBy::kUid,
                               Cpus());
  ASSERT_OK(fresh);
  ASSERT_OK((*fresh)->Read(0));
  EXPECT_LE((*fresh)->buffer_bytes(), 1024u);
}

TEST_F(MapReaderTest, RefusesMapsOfAnotherLayout) {
  auto counter = QuietCounter(GroupBy::kPid, 16);
  ASSERT_NE(counter, nullptr);
  // Maps of one grouping are not another's: pid keys are 8 bytes, names 16.
  EXPECT_THAT(MapReader::Open(DupMaps(counter->reader()), GroupBy::kComm,
                              Cpus()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("'keys' map has key size 8")));
  // Maps stamped by another layout version.
  std::vector<uint64_t> per_cpu(Cpus());
  per_cpu[0] = TALLY_MAP_LAYOUT_VERSION - 1;
  uint32_t slot = TALLY_SLOT_LAYOUT;
  ASSERT_EQ(bpf_map_update_elem(counter->reader().totals_fd(), &slot,
                                per_cpu.data(), BPF_ANY),
            0);
  EXPECT_THAT(
      MapReader::Open(DupMaps(counter->reader()), GroupBy::kPid, Cpus()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               HasSubstr(absl::StrCat("layout version ",
                                      TALLY_MAP_LAYOUT_VERSION - 1))));
}

}  // namespace
}  // namespace tally
