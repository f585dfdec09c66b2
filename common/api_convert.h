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

v1::GroupBy ToProto(GroupBy group_by);
// INVALID_ARGUMENT for values this side does not know.
absl::StatusOr<GroupBy> FromProto(v1::GroupBy group_by);

}  // namespace tally

#endif  // TALLY_COMMON_API_CONVERT_H_
