// What a grouped probe counts per key, and the names users type for it.
#ifndef TALLY_COMMON_GROUP_BY_H_
#define TALLY_COMMON_GROUP_BY_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tally {

// The values of enum tally_group_by in bpf/counter.h (checked by a
// static_assert where both are visible, agent/probe/bpf_counter.cc).
enum class GroupBy : uint32_t {
  kNone = 0,
  kPid = 1,
  kTgid = 2,
  kComm = 3,
  kCgroup = 4,
  kUid = 5,
};

inline constexpr GroupBy kAllGroupBys[] = {GroupBy::kNone,   GroupBy::kPid,
                                           GroupBy::kTgid,   GroupBy::kComm,
                                           GroupBy::kCgroup, GroupBy::kUid};

// "" or "none", "pid", "tgid", "comm", "cgroup", "uid"; INVALID_ARGUMENT
// listing the valid names otherwise.
absl::StatusOr<GroupBy> ParseGroupBy(absl::string_view name);
absl::string_view GroupByName(GroupBy group_by);

}  // namespace tally

#endif  // TALLY_COMMON_GROUP_BY_H_
