// Every request is checked here before it reaches the manager or the
// sampler: the codes and messages the API promises (proto/tally/v1).
#ifndef TALLY_AGENT_DAEMON_REQUEST_VALIDATION_H_
#define TALLY_AGENT_DAEMON_REQUEST_VALIDATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "agent/daemon/host_pids.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"
#include "agent/daemon/sampler.h"
#include "tally/v1/agent.pb.h"

namespace tally {

absl::StatusOr<ProbeConfig> ValidateStartRequest(
    const v1::StartProbeRequest& request, const AgentLimits& limits,
    const std::string& node, const HostPids& host_pids);

absl::StatusOr<WatchSpec> ValidateWatchRequest(
    const v1::WatchCountsRequest& request, const AgentLimits& limits,
    const std::string& node, const ProbeManager& manager);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_REQUEST_VALIDATION_H_
