// Probe names: the rule both tallyd and tallyctl apply, and the name derived
// from a hook when a request gives none.
#ifndef TALLY_COMMON_PROBE_NAME_H_
#define TALLY_COMMON_PROBE_NAME_H_

#include <string>

#include "absl/status/status.h"

namespace tally {

inline constexpr size_t kMaxProbeNameLength = 63;

// "syscall:execve" becomes "syscall-execve".
std::string DefaultProbeName(const std::string& hook_spec);

// INVALID_ARGUMENT unless [A-Za-z0-9_.-]{1,63}.
absl::Status ValidateProbeName(const std::string& name);

}  // namespace tally

#endif  // TALLY_COMMON_PROBE_NAME_H_
