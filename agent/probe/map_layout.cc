#include "agent/probe/map_layout.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/types.h>

#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/probe/privileges.h"
#include "bpf/counter.h"

namespace tally {
namespace {

absl::Status Differs(const char* map, const char* what, uint32_t got,
                     uint32_t want) {
  return absl::FailedPreconditionError(absl::StrCat(
      "the probe's '", map, "' map has ", what, " ", got, " where layout ",
      TALLY_MAP_LAYOUT_VERSION, " (this agent's) has ", want,
      ": maps from another tally version"));
}

absl::Status Expect(const char* map, const MapShape& got, uint32_t type,
                    uint32_t key_size, uint32_t value_size) {
  if (got.type != type) return Differs(map, "type", got.type, type);
  if (got.key_size != key_size) {
    return Differs(map, "key size", got.key_size, key_size);
  }
  if (got.value_size != value_size) {
    return Differs(map, "value size", got.value_size, value_size);
  }
  return absl::OkStatus();
}

}  // namespace

uint32_t KeySize(GroupBy group_by) {
  return group_by == GroupBy::kComm ? TALLY_COMM_KEY_SIZE : TALLY_ID_KEY_SIZE;
}

bool KeysCanEnd(GroupBy group_by) {
  return group_by == GroupBy::kPid || group_by == GroupBy::kTgid ||
         group_by == GroupBy::kCgroup;
}

uint32_t SlotEntries(int num_cpus) {
  if (num_cpus < 1 || num_cpus > TALLY_MAX_CPUS) return 0;
  return static_cast<uint32_t>(num_cpus) * TALLY_SLOTS_PER_CPU;
}

absl::StatusOr<MapShape> ShapeOf(int map_fd) {
  bpf_map_info info = {};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(map_fd, &info, &len) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("reading a map's info failed: ", ErrnoName(errno)));
  }
  return MapShape{info.type, info.key_size, info.value_size, info.max_entries,
                  info.map_flags};
}

absl::StatusOr<CounterMapShapes> CheckLayout(int totals_fd, int keys_fd,
                                             int slots_fd, GroupBy group_by,
                                             int num_cpus) {
  absl::StatusOr<MapShape> totals = ShapeOf(totals_fd);
  if (!totals.ok()) return totals.status();
  if (absl::Status s = Expect("totals", *totals, BPF_MAP_TYPE_PERCPU_ARRAY,
                              sizeof(__u32), sizeof(__u64));
      !s.ok()) {
    return s;
  }
  if (totals->max_entries != TALLY_SLOT_COUNT) {
    return Differs("totals", "slot count", totals->max_entries,
                   TALLY_SLOT_COUNT);
  }
  std::vector<uint64_t> per_cpu(num_cpus);
  __u32 slot = TALLY_SLOT_LAYOUT;
  if (bpf_map_lookup_elem(totals_fd, &slot, per_cpu.data()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "reading the maps' layout version failed: ", ErrnoName(errno)));
  }
  uint64_t version = std::accumulate(per_cpu.begin(), per_cpu.end(), 0ull);
  if (version != TALLY_MAP_LAYOUT_VERSION) {
    return Differs("totals", "layout version", version,
                   TALLY_MAP_LAYOUT_VERSION);
  }
  absl::StatusOr<MapShape> keys = ShapeOf(keys_fd);
  if (!keys.ok()) return keys.status();
  if (absl::Status s = Expect("keys", *keys, BPF_MAP_TYPE_HASH,
                              KeySize(group_by), sizeof(__u64));
      !s.ok()) {
    return s;
  }
  absl::StatusOr<MapShape> slots = ShapeOf(slots_fd);
  if (!slots.ok()) return slots.status();
  if (absl::Status s =
          Expect("slots", *slots, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
                 sizeof(__u64) + KeySize(group_by));
      !s.ok()) {
    return s;
  }
  if (!(slots->map_flags & BPF_F_MMAPABLE)) {
    return Differs("slots", "flags", slots->map_flags, BPF_F_MMAPABLE);
  }
  return CounterMapShapes{*keys, *slots};
}

absl::Status StampLayout(int totals_fd, int num_cpus) {
  std::vector<uint64_t> per_cpu(num_cpus);
  per_cpu[0] = TALLY_MAP_LAYOUT_VERSION;
  __u32 slot = TALLY_SLOT_LAYOUT;
  if (bpf_map_update_elem(totals_fd, &slot, per_cpu.data(), BPF_ANY) != 0) {
    return absl::InternalError(absl::StrCat(
        "writing the maps' layout version failed: ", ErrnoName(errno)));
  }
  return absl::OkStatus();
}

}  // namespace tally
