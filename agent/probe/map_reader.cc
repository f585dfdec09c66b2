#include "agent/probe/map_reader.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/types.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/probe/privileges.h"
#include "agent/probe/top_keys.h"
#include "bpf/counter.h"
#include "common/status_macros.h"

namespace tally {
namespace {

// The totals slots a read needs (not TALLY_SLOT_LAYOUT).
constexpr uint32_t kReadSlots[] = {TALLY_SLOT_EVENTS, TALLY_SLOT_DROPPED_KEYS,
                                   TALLY_SLOT_RECLAIMED,
                                   TALLY_SLOT_RECLAIMED_KEYS};

uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

uint64_t SumCpus(const uint8_t* values, int num_cpus) {
  uint64_t sum = 0;
  for (int cpu = 0; cpu < num_cpus; ++cpu) sum += Load64(values + cpu * 8);
  return sum;
}

absl::Status MapError(const char* what, int err) {
  return absl::InternalError(absl::StrCat(what, " failed: ", ErrnoName(err)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<MapReader>> MapReader::Open(
    Maps maps, GroupBy group_by, int num_cpus, MapReadOptions options) {
  ASSIGN_OR_RETURN(CounterMapShapes shapes,
                   CheckLayout(maps.totals.get(), maps.keys.get(),
                               maps.slots.get(), group_by, num_cpus));
  return std::unique_ptr<MapReader>(
      new MapReader(std::move(maps), group_by, num_cpus, shapes, options));
}

MapReader::MapReader(Maps maps, GroupBy group_by, int num_cpus,
                     const CounterMapShapes& shapes, MapReadOptions options)
    : maps_(std::move(maps)),
      group_by_(group_by),
      num_cpus_(num_cpus),
      keys_shape_{shapes.keys.key_size, shapes.keys.value_size,
                  shapes.keys.max_entries},
      slots_shape_{shapes.slots.key_size, shapes.slots.value_size,
                   shapes.slots.max_entries},
      scanner_(options.method, options.batch_keys),
      totals_method_(options.method) {}

MapReadMethod MapReader::key_read_method() const {
  absl::MutexLock lock(&mu_);
  return scanner_.method();
}

size_t MapReader::buffer_bytes() const {
  absl::MutexLock lock(&mu_);
  return scanner_.buffer_bytes() + per_cpu_.capacity() * sizeof(uint64_t) +
         slot_keys_.capacity() * sizeof(uint32_t) +
         slot_counts_.capacity() * (sizeof(Key) + sizeof(uint64_t) + 1);
}

absl::StatusOr<std::vector<uint64_t>> MapReader::ReadTotalsLocked() const {
  std::vector<uint64_t> sums(TALLY_SLOT_COUNT);
  per_cpu_.resize(static_cast<size_t>(num_cpus_) * TALLY_SLOT_COUNT);
  if (totals_method_ != MapReadMethod::kWalk) {
    // The whole array in one syscall.
    slot_keys_.resize(TALLY_SLOT_COUNT);
    uint32_t count = TALLY_SLOT_COUNT, out_batch = 0;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    int err = bpf_map_lookup_batch(totals_fd(), nullptr, &out_batch,
                                   slot_keys_.data(), per_cpu_.data(), &count,
                                   &opts) == 0
                  ? 0
                  : errno;
    if ((err == 0 || err == ENOENT) && count == TALLY_SLOT_COUNT) {
      for (uint32_t i = 0; i < count; ++i) {
        sums[slot_keys_[i] % TALLY_SLOT_COUNT] = SumCpus(
            reinterpret_cast<const uint8_t*>(per_cpu_.data() + i * num_cpus_),
            num_cpus_);
      }
      totals_method_ = MapReadMethod::kBatch;
      return sums;
    }
    if (totals_method_ == MapReadMethod::kBatch || !IsUnsupportedErrno(err)) {
      return MapError("reading the totals map", err == 0 ? EIO : err);
    }
    totals_method_ = MapReadMethod::kWalk;
  }
  for (uint32_t slot : kReadSlots) {
    if (bpf_map_lookup_elem(totals_fd(), &slot, per_cpu_.data()) != 0) {
      return MapError("reading the totals map", errno);
    }
    sums[slot] = SumCpus(reinterpret_cast<const uint8_t*>(per_cpu_.data()),
                         num_cpus_);
  }
  return sums;
}

absl::Status MapReader::ReadSlotsLocked() const {
  // mu_ is held; the lambda gets a pointer (the analysis cannot see that
  // the lambda runs within this call).
  absl::flat_hash_map<Key, uint64_t>* counts = &slot_counts_;
  counts->clear();
  const size_t key_size = keys_shape_.key_size;
  return scanner_.Scan(slots_fd(), slots_shape_,
                       [&](const uint8_t*, const uint8_t* value) {
                         uint64_t count = Load64(value);
                         if (count == 0) return;  // free
                         Key key = {};
                         std::memcpy(key.data(), value + 8, key_size);
                         (*counts)[key] += count;
                       });
}

absl::StatusOr<CounterSnapshot> MapReader::Read(size_t top_n) const {
  absl::MutexLock lock(&mu_);
  CounterSnapshot snap;
  // Keys before totals: every key count follows its event's total on the
  // same CPU, so the keys read never exceed the total.
  if (top_n > 0 && group_by_ != GroupBy::kNone) {
    RETURN_IF_ERROR(ReadSlotsLocked());
    TopKeys top(top_n, group_by_);
    uint64_t seen = 0;
    const size_t key_size = keys_shape_.key_size;
    const absl::flat_hash_map<Key, uint64_t>* slot_counts = &slot_counts_;
    RETURN_IF_ERROR(scanner_.Scan(
        keys_fd(), keys_shape_, [&](const uint8_t* raw, const uint8_t* value) {
          uint64_t count = Load64(value);
          // Slots count for keys in `keys` only: a slot freed and taken
          // again while being read never adds to another key.
          if (!slot_counts->empty()) {
            Key key = {};
            std::memcpy(key.data(), raw, key_size);
            if (auto it = slot_counts->find(key); it != slot_counts->end()) {
              count += it->second;
            }
          }
          top.Offer(raw, count);
          ++seen;
        }));
    snap.distinct_keys = seen;
    snap.top_keys = top.Take();
  }
  ASSIGN_OR_RETURN(std::vector<uint64_t> totals, ReadTotalsLocked());
  snap.total = totals[TALLY_SLOT_EVENTS];
  snap.dropped_keys = totals[TALLY_SLOT_DROPPED_KEYS];
  snap.reclaimed = totals[TALLY_SLOT_RECLAIMED];
  snap.reclaimed_keys = totals[TALLY_SLOT_RECLAIMED_KEYS];
  return snap;
}

}  // namespace tally
