// The daemon's types as tally.v1 messages, and the one place absl::Status
// becomes grpc::Status. Shared conversions are in common/api_convert.h.
#ifndef TALLY_AGENT_DAEMON_PROTO_CONVERT_H_
#define TALLY_AGENT_DAEMON_PROTO_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/daemon/bpf_stats_lease.h"
#include "agent/daemon/probe_manager.h"
#include "common/api_convert.h"
#include "tally/v1/agent.pb.h"

namespace tally {

// The codes have the same numbers; messages pass through unchanged.
grpc::Status ToGrpcStatus(const absl::Status& status);

v1::ProbeState ToProto(ProbeState state);

void ToProto(const ProbeInfo& info, v1::Probe* out);
// `info.cost` with the agent's BPF statistics state; nothing without a cost.
void CostToProto(const ProbeInfo& info, const BpfStatsLease::State& stats,
                 v1::Probe* out);
void ToProto(const UncountedWindow& w, v1::UncountedWindow* out);

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_PROTO_CONVERT_H_
