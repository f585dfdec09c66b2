#include "agent/probe/map_reader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/types.h>

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/probe/privileges.h"
#include "bpf/counter.h"

namespace tally {
namespace {

std::string FormatKey(GroupBy group_by, const tally_key& key) {
  if (group_by == GroupBy::kComm) {
    return std::string(key.comm, strnlen(key.comm, sizeof(key.comm)));
  }
  return absl::StrCat(key.id);
}

uint64_t Sum(const std::vector<uint64_t>& per_cpu) {
  uint64_t sum = 0;
  for (uint64_t v : per_cpu) sum += v;
  return sum;
}

}  // namespace

MapReader::MapReader(ScopedFd totals, ScopedFd keys, GroupBy group_by,
                     int num_cpus)
    : totals_(std::move(totals)),
      keys_(std::move(keys)),
      group_by_(group_by),
      num_cpus_(num_cpus) {}

absl::StatusOr<uint64_t> MapReader::ReadSlot(
    uint32_t slot, std::vector<uint64_t>& per_cpu) const {
  if (bpf_map_lookup_elem(totals_.get(), &slot, per_cpu.data()) != 0) {
    return absl::InternalError(
        absl::StrCat("reading the totals map failed: ", ErrnoName(errno)));
  }
  return Sum(per_cpu);
}

absl::StatusOr<CounterSnapshot> MapReader::Read(size_t top_n) const {
  // Per-CPU values come back as one 8-byte slot per possible CPU.
  std::vector<uint64_t> per_cpu(num_cpus_);
  CounterSnapshot snap;
  absl::StatusOr<uint64_t> total = ReadSlot(TALLY_SLOT_EVENTS, per_cpu);
  if (!total.ok()) return total.status();
  absl::StatusOr<uint64_t> dropped = ReadSlot(TALLY_SLOT_DROPPED_KEYS, per_cpu);
  if (!dropped.ok()) return dropped.status();
  snap.total = *total;
  snap.dropped_keys = *dropped;
  if (top_n == 0 || group_by_ == GroupBy::kNone) return snap;

  std::vector<KeyCount> all;
  tally_key key;
  tally_key next;
  const tally_key* prev = nullptr;
  // Keys are never deleted, so walking with get_next_key sees each once.
  while (bpf_map_get_next_key(keys_.get(), prev, &next) == 0) {
    if (bpf_map_lookup_elem(keys_.get(), &next, per_cpu.data()) == 0) {
      all.push_back({FormatKey(group_by_, next), Sum(per_cpu)});
    }
    key = next;
    prev = &key;
  }
  snap.distinct_keys = all.size();
  auto by_count = [](const KeyCount& a, const KeyCount& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  };
  size_t n = std::min(top_n, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end(), by_count);
  all.resize(n);
  snap.top_keys = std::move(all);
  return snap;
}

}  // namespace tally
