// Names of the grouping modes, as users type them.
#ifndef TALLY_AGENT_GROUP_BY_H_
#define TALLY_AGENT_GROUP_BY_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/counter_reader.h"

namespace tally {

// "" or "none", "pid", "tgid", "comm", "cgroup", "uid"; INVALID_ARGUMENT
// listing the valid names otherwise.
absl::StatusOr<GroupBy> ParseGroupBy(absl::string_view name);
absl::string_view GroupByName(GroupBy group_by);

}  // namespace tally

#endif  // TALLY_AGENT_GROUP_BY_H_
