#include "agent/probe/map_reader.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/types.h>
#include <sys/mman.h>
#include <unistd.h>

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
  // An array's values are laid out 8-byte aligned from offset 0.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t stride = (shapes.slots.value_size + 7) / 8 * 8;
  const size_t bytes =
      (stride * shapes.slots.max_entries + page - 1) / page * page;
  void* slots =
      mmap(nullptr, bytes, PROT_READ, MAP_SHARED, maps.slots.get(), 0);
  if (slots == MAP_FAILED) {
    return MapError("mapping the slots map", errno);
  }
  return std::unique_ptr<MapReader>(
      new MapReader(std::move(maps), group_by, num_cpus, shapes, options,
                    static_cast<const uint8_t*>(slots), bytes));
}

MapReader::MapReader(Maps maps, GroupBy group_by, int num_cpus,
                     const CounterMapShapes& shapes, MapReadOptions options,
                     const uint8_t* slots, size_t slots_bytes)
    : maps_(std::move(maps)),
      group_by_(group_by),
      num_cpus_(num_cpus),
      keys_shape_{shapes.keys.key_size, shapes.keys.value_size,
                  shapes.keys.max_entries},
      slot_entries_(shapes.slots.max_entries),
      slot_stride_((shapes.slots.value_size + 7) / 8 * 8),
      slots_(slots),
      slots_bytes_(slots_bytes),
      keys_scanner_(options.method, options.batch_keys),
      totals_batch_(options.method != MapReadMethod::kWalk) {}

MapReader::~MapReader() {
  munmap(const_cast<uint8_t*>(slots_), slots_bytes_);
}

MapReadMethod MapReader::key_read_method() const {
  absl::MutexLock lock(&mu_);
  return keys_scanner_.method();
}

size_t MapReader::buffer_bytes() const {
  absl::MutexLock lock(&mu_);
  return keys_scanner_.buffer_bytes() + per_cpu_.capacity() * sizeof(uint64_t) +
         slot_keys_.capacity() * sizeof(uint32_t) +
         slot_counts_.capacity() * (sizeof(Key) + sizeof(uint64_t) + 1);
}

absl::StatusOr<std::vector<uint64_t>> MapReader::ReadTotalsLocked() const {
  std::vector<uint64_t> sums(TALLY_SLOT_COUNT);
  per_cpu_.resize(static_cast<size_t>(num_cpus_) * TALLY_SLOT_COUNT);
  if (totals_batch_) {
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
      return sums;
    }
    if (!IsUnsupportedErrno(err)) {
      return MapError("reading the totals map", err == 0 ? EIO : err);
    }
    // Arrays got batches after hash maps (5.10 has none): a lookup per slot
    // from now on.
    totals_batch_ = false;
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

void MapReader::ReadSlotsLocked() const {
  slot_counts_.clear();
  const size_t key_size = keys_shape_.key_size;
  for (uint32_t i = 0; i < slot_entries_; ++i) {
    const uint8_t* entry = slots_ + static_cast<size_t>(i) * slot_stride_;
    // Programs on other CPUs write these words as we read. A claim stores
    // the key, then the count; a reclaim zeroes the count. A count that
    // did not drop across the key read belongs to that key.
    const auto* words = reinterpret_cast<const uint64_t*>(entry);
    uint64_t count = __atomic_load_n(&words[0], __ATOMIC_ACQUIRE);
    if (count == 0) continue;  // free
    Key key = {};
    key[0] = __atomic_load_n(&words[1], __ATOMIC_RELAXED);
    if (key_size > 8) key[1] = __atomic_load_n(&words[2], __ATOMIC_RELAXED);
    if (__atomic_load_n(&words[0], __ATOMIC_ACQUIRE) < count) continue;
    slot_counts_[key] += count;
  }
}

absl::StatusOr<CounterSnapshot> MapReader::Read(size_t top_n) const {
  absl::MutexLock lock(&mu_);
  CounterSnapshot snap;
  // Keys before totals: every key count follows its event's total on the
  // same CPU, so the keys read never exceed the total.
  if (top_n > 0 && group_by_ != GroupBy::kNone) {
    ReadSlotsLocked();
    TopKeys top(top_n, group_by_);
    uint64_t seen = 0;
    const size_t key_size = keys_shape_.key_size;
    const absl::flat_hash_map<Key, uint64_t>* slot_counts = &slot_counts_;
    RETURN_IF_ERROR(keys_scanner_.Scan(
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
