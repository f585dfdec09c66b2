#include "agent/agent_service.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/group_by.h"
#include "agent/proto_convert.h"
#include "agent/version.h"
#include "agent/watch_reactor.h"
#include "common/status_macros.h"

namespace tally {
namespace {

constexpr size_t kMaxNameLength = 63;
// Long enough for any experiment; short enough to stay a valid timestamp.
constexpr absl::Duration kMaxTtl = absl::Hours(24 * 365);

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '-';
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

std::string DefaultProbeName(const std::string& hook_spec) {
  std::string name;
  for (char c : hook_spec) {
    char out = IsNameChar(c) ? c : '-';
    if (out == '-' && (name.empty() || name.back() == '-')) continue;
    name.push_back(out);
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > kMaxNameLength) name.resize(kMaxNameLength);
  return name;
}

absl::Status ValidateProbeName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "probe name '", name, "' must be 1 to ", kMaxNameLength,
        " characters long"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "probe name '", name, "' has '", std::string(1, c),
          "'; use letters, digits, '_', '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

AgentService::AgentService(AgentIdentity identity,
                           const KernelFeatures* features,
                           const AgentLimits& limits, ProbeManager* manager,
                           Sampler* sampler)
    : identity_(std::move(identity)),
      features_(features),
      limits_(limits),
      manager_(manager),
      sampler_(sampler) {}

grpc::ServerUnaryReactor* AgentService::GetInfo(
    grpc::CallbackServerContext* context, const v1::GetInfoRequest* /*request*/,
    v1::GetInfoResponse* response) {
  response->set_node(identity_.node);
  response->set_agent_version(kAgentVersion);
  response->set_kernel_release(features_->release);
  response->set_btf_source(features_->btf_source);
  for (const auto& [kind, status] : features_->kinds) {
    v1::AttachKindSupport* support = response->add_attach_kinds();
    support->set_kind(std::string(AttachKindName(kind)));
    support->set_supported(status.ok());
    if (!status.ok()) support->set_reason(std::string(status.message()));
  }
  v1::Limits* limits = response->mutable_limits();
  limits->set_max_probes(limits_.max_probes);
  limits->set_max_watchers(limits_.max_watchers);
  limits->set_max_keys(limits_.max_keys);
  limits->set_max_top_n(limits_.max_top_n);
  ToProto(limits_.min_interval, limits->mutable_min_interval());
  response->set_epoch(identity_.epoch);
  ToProto(identity_.start_time, response->mutable_start_time());
  return FinishNow(context, absl::OkStatus());
}

absl::StatusOr<ProbeConfig> AgentService::ValidateStart(
    const v1::StartProbeRequest& request) const {
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
  if (request.max_keys() > limits_.max_keys) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_keys ", request.max_keys(), " is above this agent's limit of ",
        limits_.max_keys));
  }
  config.options.max_keys =
      request.max_keys() != 0 ? request.max_keys() : limits_.default_keys;
  if (request.pid() != 0) {
    if (access(absl::StrCat("/proc/", request.pid()).c_str(), F_OK) != 0) {
      return absl::NotFoundError(absl::StrCat(
          "no process with pid ", request.pid(), " on node ", identity_.node));
    }
    config.options.tgid = request.pid();
  }
  config.options.cgroup_id = request.cgroup_id();
  if (request.has_ttl()) {
    absl::Duration ttl = FromProto(request.ttl());
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

grpc::ServerUnaryReactor* AgentService::StartProbe(
    grpc::CallbackServerContext* context, const v1::StartProbeRequest* request,
    v1::StartProbeResponse* response) {
  absl::StatusOr<ProbeConfig> config = ValidateStart(*request);
  if (!config.ok()) return FinishNow(context, config.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_node(identity_.node);
  manager_->Start(*std::move(config),
                  [reactor, response](absl::StatusOr<StartResult> result) {
                    if (result.ok()) {
                      ToProto(result->info, response->mutable_probe());
                      response->set_created(result->created);
                    }
                    reactor->Finish(ToGrpcStatus(result.status()));
                  });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::StopProbe(
    grpc::CallbackServerContext* context, const v1::StopProbeRequest* request,
    v1::StopProbeResponse* response) {
  if (absl::Status s = ValidateProbeName(request->name()); !s.ok()) {
    return FinishNow(context, s);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_node(identity_.node);
  manager_->Stop(request->name(),
                 [reactor, response](absl::StatusOr<ProbeInfo> info) {
                   if (info.ok()) ToProto(*info, response->mutable_probe());
                   reactor->Finish(ToGrpcStatus(info.status()));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* AgentService::ListProbes(
    grpc::CallbackServerContext* context,
    const v1::ListProbesRequest* /*request*/,
    v1::ListProbesResponse* response) {
  // Map reads only (no load or unload): quick enough for a reaction.
  response->set_node(identity_.node);
  for (const ProbeInfo& info : manager_->List()) {
    ToProto(info, response->add_probes());
  }
  return FinishNow(context, absl::OkStatus());
}

absl::StatusOr<WatchSpec> AgentService::ValidateWatch(
    const v1::WatchCountsRequest& request) const {
  WatchSpec spec;
  spec.interval = request.has_interval() ? FromProto(request.interval())
                                         : limits_.default_interval;
  if (spec.interval < limits_.min_interval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interval ", absl::FormatDuration(spec.interval),
        " is below this agent's minimum of ",
        absl::FormatDuration(limits_.min_interval)));
  }
  if (request.top_n() > limits_.max_top_n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "top_n ", request.top_n(), " is above this agent's limit of ",
        limits_.max_top_n));
  }
  spec.top_n = request.top_n();
  for (const std::string& name : request.probes()) {
    RETURN_IF_ERROR(ValidateProbeName(name));
    if (!manager_->Exists(name)) {
      return absl::NotFoundError(absl::StrCat(
          "no probe named '", name, "' is running on node ", identity_.node,
          "; start it first, or watch all probes"));
    }
    spec.probes.insert(name);
  }
  return spec;
}

grpc::ServerWriteReactor<v1::WatchCountsResponse>* AgentService::WatchCounts(
    grpc::CallbackServerContext* /*context*/,
    const v1::WatchCountsRequest* request) {
  absl::StatusOr<WatchSpec> spec = ValidateWatch(*request);
  if (!spec.ok()) {
    class Rejected : public grpc::ServerWriteReactor<v1::WatchCountsResponse> {
     public:
      explicit Rejected(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
      void OnDone() override { delete this; }
    };
    return new Rejected(spec.status());
  }
  return WatchReactor::Start(sampler_, identity_.node, identity_.epoch,
                             *std::move(spec));
}

}  // namespace tally
