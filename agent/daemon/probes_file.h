// The declared probe set (tallyd --probes_file): read through the proto,
// each probe validated exactly as StartProbe validates one.
#ifndef TALLY_AGENT_DAEMON_PROBES_FILE_H_
#define TALLY_AGENT_DAEMON_PROBES_FILE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/daemon/host_pids.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"

namespace tally {

// Parses and validates the contents of a probes file named `file`. The
// first problem comes back as INVALID_ARGUMENT (or the code StartProbe
// would give, such as NOT_FOUND for a pid) prefixed with "FILE:LINE: ":
// YAML syntax, an unknown field, a bad value, an invalid probe, a name
// declared twice.
absl::StatusOr<std::vector<DeclaredConfig>> ParseProbesFile(
    const std::string& text, const std::string& file, const AgentLimits& limits,
    const std::string& node, const HostPids& host_pids);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_PROBES_FILE_H_
