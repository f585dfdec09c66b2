#include "agent/daemon/limits.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tally {
namespace {

absl::Status OutOfRange(absl::string_view flag, const std::string& value,
                        const std::string& low, const std::string& high) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, "=", value,
                                                 " is out of range; allowed: ",
                                                 low, " to ", high));
}

}  // namespace

absl::Status ValidateLimits(const AgentLimits& limits) {
  if (limits.max_probes < 1 || limits.max_probes > kMaxProbesCeiling) {
    return OutOfRange("max_probes", absl::StrCat(limits.max_probes), "1",
                      absl::StrCat(kMaxProbesCeiling));
  }
  if (limits.max_watchers < 1 || limits.max_watchers > kMaxWatchersCeiling) {
    return OutOfRange("max_watchers", absl::StrCat(limits.max_watchers), "1",
                      absl::StrCat(kMaxWatchersCeiling));
  }
  if (limits.max_keys < 1 || limits.max_keys > kMaxKeysCeiling) {
    return OutOfRange("max_keys", absl::StrCat(limits.max_keys), "1",
                      absl::StrCat(kMaxKeysCeiling));
  }
  if (limits.min_interval < kMinIntervalFloor ||
      limits.min_interval > kMinIntervalCeiling) {
    return OutOfRange("min_interval", absl::FormatDuration(limits.min_interval),
                      absl::FormatDuration(kMinIntervalFloor),
                      absl::FormatDuration(kMinIntervalCeiling));
  }
  return absl::OkStatus();
}

}  // namespace tally
