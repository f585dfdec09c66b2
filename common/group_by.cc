#include "common/group_by.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {

absl::string_view GroupByName(GroupBy group_by) {
  switch (group_by) {
    case GroupBy::kNone:
      return "none";
    case GroupBy::kPid:
      return "pid";
    case GroupBy::kTgid:
      return "tgid";
    case GroupBy::kComm:
      return "comm";
    case GroupBy::kCgroup:
      return "cgroup";
    case GroupBy::kUid:
      return "uid";
  }
  return "unknown";
}

absl::StatusOr<GroupBy> ParseGroupBy(absl::string_view name) {
  if (name.empty()) return GroupBy::kNone;
  for (GroupBy g : kAllGroupBys) {
    if (GroupByName(g) == name) return g;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown grouping '", name, "'; use pid, tgid, comm, cgroup or uid"));
}

}  // namespace tally
