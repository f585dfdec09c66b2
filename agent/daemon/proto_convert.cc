#include "agent/daemon/proto_convert.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace tally {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

v1::ProbeState ToProto(ProbeState state) {
  switch (state) {
    case ProbeState::kRunning:
      return v1::PROBE_STATE_RUNNING;
    case ProbeState::kStopped:
      return v1::PROBE_STATE_STOPPED;
    case ProbeState::kExpired:
      return v1::PROBE_STATE_EXPIRED;
    case ProbeState::kFailed:
      return v1::PROBE_STATE_FAILED;
    case ProbeState::kSkipped:
      return v1::PROBE_STATE_SKIPPED;
  }
  return v1::PROBE_STATE_UNSPECIFIED;
}

void ToProto(const ProbeInfo& info, v1::Probe* out) {
  const ActiveProbe& p = *info.probe;
  out->set_name(p.name);
  out->set_hook(p.hook);
  // A declared probe that could not start has no incarnation (id 0): nothing
  // attached and no start time, so none is reported (a default AttachPoint
  // would read "tracepoint::", a default time 1970).
  const bool started = p.id != 0;
  if (started) {
    out->set_attached(p.attached.ToSpec());
    out->set_mechanism(std::string(AttachKindName(p.attached.kind)));
  }
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
  if (started) ToProto(p.started_at, out->mutable_started_at());
  out->set_state(ToProto(info.state));
  out->set_total(info.total);
  out->set_probe_id(p.id);
  for (const UncountedWindow& w : p.uncounted) ToProto(w, out->add_uncounted());
  out->set_readopted(p.readopted);
  out->set_continuity(p.continuity);
  out->set_error(info.error);
  out->set_origin(info.origin);
}

void CostToProto(const ProbeInfo& info, const BpfStatsLease::State& stats,
                 v1::Probe* out) {
  if (!info.cost.has_value()) return;
  const CounterCost& c = *info.cost;
  v1::ProbeCost* cost = out->mutable_cost();
  cost->set_run_count(c.runs);
  ToProto(c.run_time, cost->mutable_run_time());
  cost->set_reclaimer_run_count(c.reclaimer_runs);
  ToProto(c.reclaimer_run_time, cost->mutable_reclaimer_run_time());
  cost->set_map_bytes(c.map_bytes);
  cost->set_stats_on(stats.on);
  if (stats.held_since != absl::InfinitePast()) {
    ToProto(stats.held_since, cost->mutable_stats_since());
  }
  cost->set_stats_problem(stats.problem);
}

void ToProto(const UncountedWindow& w, v1::UncountedWindow* out) {
  ToProto(w.from, out->mutable_from());
  ToProto(w.to, out->mutable_to());
  out->set_reason(w.reason);
}

}  // namespace tally
