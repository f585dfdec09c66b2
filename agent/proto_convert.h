// Conversions between the agent's types and tally.v1 messages; the one place
// absl::Status becomes grpc::Status.
#ifndef TALLY_AGENT_PROTO_CONVERT_H_
#define TALLY_AGENT_PROTO_CONVERT_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/counter_reader.h"
#include "agent/probe_manager.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "tally/v1/agent.pb.h"

namespace tally {

// The codes have the same numbers; messages pass through unchanged.
grpc::Status ToGrpcStatus(const absl::Status& status);

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
void ToProto(absl::Duration d, google::protobuf::Duration* out);
absl::Duration FromProto(const google::protobuf::Duration& d);

v1::GroupBy ToProto(GroupBy group_by);
// INVALID_ARGUMENT for values this agent does not know.
absl::StatusOr<GroupBy> FromProto(v1::GroupBy group_by);
v1::ProbeState ToProto(ProbeState state);

void ToProto(const ProbeInfo& info, v1::Probe* out);

}  // namespace tally

#endif  // TALLY_AGENT_PROTO_CONVERT_H_
