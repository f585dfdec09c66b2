#include "common/api_convert.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace tally {

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  timespec ts = absl::ToTimespec(d);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::StatusOr<absl::Duration> ValidDurationFromProto(
    const google::protobuf::Duration& d, absl::string_view field) {
  constexpr int64_t kMaxSeconds = 315'576'000'000;  // 10,000 years
  constexpr int32_t kNanosPerSecond = 1'000'000'000;
  if (d.seconds() > kMaxSeconds || d.seconds() < -kMaxSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " of ", d.seconds(),
        " seconds is not a valid Duration: at most 315,576,000,000 seconds "
        "either way"));
  }
  if (d.nanos() >= kNanosPerSecond || d.nanos() <= -kNanosPerSecond ||
      (d.seconds() > 0 && d.nanos() < 0) || (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " is not a valid Duration (seconds ", d.seconds(), ", nanos ",
        d.nanos(), "): nanos must be within +-999,999,999 and have the sign "
        "of seconds"));
  }
  return FromProto(d);
}

v1::GroupBy ToProto(GroupBy group_by) {
  switch (group_by) {
    case GroupBy::kNone:
      return v1::GROUP_BY_UNSPECIFIED;
    case GroupBy::kPid:
      return v1::GROUP_BY_PID;
    case GroupBy::kTgid:
      return v1::GROUP_BY_TGID;
    case GroupBy::kComm:
      return v1::GROUP_BY_COMM;
    case GroupBy::kCgroup:
      return v1::GROUP_BY_CGROUP;
    case GroupBy::kUid:
      return v1::GROUP_BY_UID;
  }
  return v1::GROUP_BY_UNSPECIFIED;
}

absl::StatusOr<GroupBy> FromProto(v1::GroupBy group_by) {
  switch (group_by) {
    case v1::GROUP_BY_UNSPECIFIED:
      return GroupBy::kNone;
    case v1::GROUP_BY_PID:
      return GroupBy::kPid;
    case v1::GROUP_BY_TGID:
      return GroupBy::kTgid;
    case v1::GROUP_BY_COMM:
      return GroupBy::kComm;
    case v1::GROUP_BY_CGROUP:
      return GroupBy::kCgroup;
    case v1::GROUP_BY_UID:
      return GroupBy::kUid;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown group_by value ", static_cast<int>(group_by),
          "; use GROUP_BY_PID, GROUP_BY_TGID, GROUP_BY_COMM, GROUP_BY_CGROUP "
          "or GROUP_BY_UID"));
  }
}

}  // namespace tally
