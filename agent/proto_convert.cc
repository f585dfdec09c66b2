#include "agent/proto_convert.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tally {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  timespec ts = absl::ToTimespec(d);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
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

v1::ProbeState ToProto(ProbeState state) {
  switch (state) {
    case ProbeState::kRunning:
      return v1::PROBE_STATE_RUNNING;
    case ProbeState::kStopped:
      return v1::PROBE_STATE_STOPPED;
    case ProbeState::kExpired:
      return v1::PROBE_STATE_EXPIRED;
  }
  return v1::PROBE_STATE_UNSPECIFIED;
}

void ToProto(const ProbeInfo& info, v1::Probe* out) {
  const ActiveProbe& p = *info.probe;
  out->set_name(p.name);
  out->set_hook(p.hook);
  out->set_attached(p.attached.ToSpec());
  out->set_mechanism(std::string(AttachKindName(p.attached.kind)));
  out->set_mechanism_note(p.note);
  out->set_group_by(ToProto(p.options.group_by));
  out->set_pid(p.options.tgid);
  out->set_cgroup_id(p.options.cgroup_id);
  if (p.options.group_by != GroupBy::kNone) {
    out->set_max_keys(p.options.max_keys);
  }
  if (info.ttl > absl::ZeroDuration()) {
    ToProto(info.ttl, out->mutable_ttl());
    ToProto(info.expires_at, out->mutable_expires_at());
  }
  ToProto(p.started_at, out->mutable_started_at());
  out->set_state(ToProto(info.state));
  out->set_total(info.total);
  out->set_probe_id(p.id);
}

}  // namespace tally
