#include "agent/daemon/request_validation.h"

#include "absl/strings/str_cat.h"
#include "common/api_convert.h"
#include "common/probe_name.h"
#include "common/status_macros.h"

namespace tally {
namespace {

// Long enough for any experiment; short enough to stay a valid timestamp.
constexpr absl::Duration kMaxTtl = absl::Hours(24 * 365);

}  // namespace

absl::StatusOr<ProbeConfig> ValidateStartRequest(
    const v1::StartProbeRequest& request, const AgentLimits& limits,
    const std::string& node, const HostPids& host_pids) {
  if (request.hook().empty()) {
    return absl::InvalidArgumentError(
        "hook is empty; give one such as syscall:execve or "
        "tracepoint:sched:sched_process_exec");
  }
  ProbeConfig config;
  ASSIGN_OR_RETURN(config.hook, ParseHookSpec(request.hook()));
  config.name = request.name().empty() ? DefaultProbeName(config.hook.ToSpec())
                                       : request.name();
  RETURN_IF_ERROR(ValidateProbeName(config.name));
  ASSIGN_OR_RETURN(config.options.group_by, FromProto(request.group_by()));
  if (request.max_keys() > limits.max_keys) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_keys ", request.max_keys(),
                     " is above this agent's limit of ", limits.max_keys));
  }
  if (request.max_keys() != 0 && config.options.group_by == GroupBy::kNone) {
    // Accepted silently it would promise a bound that bounds nothing.
    return absl::InvalidArgumentError(
        "max_keys bounds the keys of a grouped probe: give group_by too, or "
        "leave max_keys unset");
  }
  config.options.max_keys =
      request.max_keys() != 0 ? request.max_keys() : limits.default_keys;
  if (request.pid() != 0) {
    RETURN_IF_ERROR(host_pids.Check(request.pid(), node));
    config.options.tgid = request.pid();
  }
  config.options.cgroup_id = request.cgroup_id();
  if (request.has_ttl()) {
    ASSIGN_OR_RETURN(absl::Duration ttl,
                     ValidDurationFromProto(request.ttl(), "ttl"));
    if (ttl <= absl::ZeroDuration() || ttl > kMaxTtl) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ttl must be positive and at most ", absl::FormatDuration(kMaxTtl),
          ", got ", absl::FormatDuration(ttl),
          "; leave it unset to run until stopped"));
    }
    config.ttl = ttl;
  }
  return config;
}

absl::StatusOr<WatchSpec> ValidateWatchRequest(
    const v1::WatchCountsRequest& request, const AgentLimits& limits,
    const std::string& node, const ProbeManager& manager) {
  WatchSpec spec;
  spec.interval = limits.default_interval;
  if (request.has_interval()) {
    ASSIGN_OR_RETURN(spec.interval,
                     ValidDurationFromProto(request.interval(), "interval"));
  }
  if (spec.interval < limits.min_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("interval ", absl::FormatDuration(spec.interval),
                     " is below this agent's minimum of ",
                     absl::FormatDuration(limits.min_interval)));
  }
  if (request.top_n() > limits.max_top_n) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_n ", request.top_n(),
                     " is above this agent's limit of ", limits.max_top_n));
  }
  spec.top_n = request.top_n();
  for (const std::string& name : request.probes()) {
    RETURN_IF_ERROR(ValidateProbeName(name));
    if (!manager.Exists(name)) {
      return absl::NotFoundError(
          absl::StrCat("no probe named '", name, "' is running on node ", node,
                       "; start it first, or watch all probes"));
    }
    spec.probes.insert(name);
  }
  return spec;
}

}  // namespace tally
