// Conversions between the shared vocabulary and tally.v1 messages that both
// tallyd and tallyctl need.
#ifndef TALLY_COMMON_API_CONVERT_H_
#define TALLY_COMMON_API_CONVERT_H_

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/group_by.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "tally/v1/agent.pb.h"

namespace tally {

void ToProto(absl::Time t, google::protobuf::Timestamp* out);
absl::Time FromProto(const google::protobuf::Timestamp& t);
void ToProto(absl::Duration d, google::protobuf::Duration* out);
absl::Duration FromProto(const google::protobuf::Duration& d);
// FromProto() of a request's Duration field, INVALID_ARGUMENT naming `field`
// unless it is valid as google/protobuf/duration.proto defines: |seconds| at
// most 315,576,000,000, |nanos| below 1e9, and the two of the same sign.
absl::StatusOr<absl::Duration> ValidDurationFromProto(
    const google::protobuf::Duration& d, absl::string_view field);

v1::GroupBy ToProto(GroupBy group_by);
// INVALID_ARGUMENT for values this side does not know.
absl::StatusOr<GroupBy> FromProto(v1::GroupBy group_by);

}  // namespace tally

#endif  // TALLY_COMMON_API_CONVERT_H_
