// Classic tracepoints need tracefs, which many hosts do not mount by default.
#ifndef TALLY_AGENT_PROBE_TRACEFS_H_
#define TALLY_AGENT_PROBE_TRACEFS_H_

#include <string>

#include "absl/status/statusor.h"

namespace tally {

// The tracefs directory libbpf will use, mounting tracefs at
// /sys/kernel/tracing first when neither it nor debugfs's copy is there.
// PERMISSION_DENIED / FAILED_PRECONDITION say how to fix a failed mount.
absl::StatusOr<std::string> EnsureTracefs();

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_TRACEFS_H_
