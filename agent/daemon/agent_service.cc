#include "agent/daemon/agent_service.h"

#include <utility>

#include "agent/daemon/proto_convert.h"
#include "agent/daemon/request_validation.h"
#include "agent/daemon/version.h"
#include "agent/daemon/watch_reactor.h"
#include "common/probe_name.h"

namespace tally {
namespace {

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

AgentService::AgentService(AgentIdentity identity,
                           const KernelFeatures* features,
                           const AgentLimits& limits, ProbeManager* manager,
                           Sampler* sampler, const HostPids* host_pids,
                           BpfStatsLease* stats, Clock* clock)
    : identity_(std::move(identity)),
      features_(features),
      limits_(limits),
      manager_(manager),
      sampler_(sampler),
      host_pids_(host_pids),
      stats_(stats),
      clock_(clock) {}

void AgentService::SetPinDir(std::string pin_dir) {
  absl::MutexLock lock(&mu_);
  pin_dir_ = std::move(pin_dir);
}

void AgentService::SetWarnings(std::vector<std::string> warnings) {
  absl::MutexLock lock(&mu_);
  warnings_ = std::move(warnings);
}

void AgentService::SetDeclaredProbes(const DeclaredProbes* declared) {
  absl::MutexLock lock(&mu_);
  declared_ = declared;
}

grpc::ServerUnaryReactor* AgentService::GetInfo(
    grpc::CallbackServerContext* context, const v1::GetInfoRequest* /*request*/,
    v1::GetInfoResponse* response) {
  response->set_node(identity_.node);
  response->set_agent_version(kAgentVersion);
  response->set_kernel_release(features_->release);
  response->set_btf_source(features_->btf_source);
  response->set_attach_kinds_source(features_->source);
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
  {
    absl::MutexLock lock(&mu_);
    response->set_pin_dir(pin_dir_);
    for (const std::string& w : warnings_) response->add_warnings(w);
    if (declared_ != nullptr)
      declared_->FillStatus(response->mutable_probes_file());
  }
  ToProto(identity_.start_time, response->mutable_start_time());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AgentService::StartProbe(
    grpc::CallbackServerContext* context, const v1::StartProbeRequest* request,
    v1::StartProbeResponse* response) {
  absl::StatusOr<ProbeConfig> config =
      ValidateStartRequest(*request, limits_, identity_.node, *host_pids_);
  if (!config.ok()) return FinishNow(context, config.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_node(identity_.node);
  manager_->Start(
      *std::move(config),
      [reactor, response](absl::StatusOr<StartResult> result) {
        if (result.ok()) {
          ToProto(result->info, response->mutable_probe());
          response->set_created(result->created);
        }
        reactor->Finish(ToGrpcStatus(result.status()));
      },
      // The call stays open until Finish, so its context is valid here.
      [context] { return !context->IsCancelled(); });
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
  // Whoever lists probes sees their run times: the statistics go on (on
  // demand) for a while, so the next listing has figures.
  stats_->Ask();
  absl::StatusOr<std::vector<ProbeInfo>> probes =
      manager_->List(/*with_cost=*/true);
  if (!probes.ok()) return FinishNow(context, probes.status());
  const BpfStatsLease::State stats = stats_->state();
  for (const ProbeInfo& info : *probes) {
    v1::Probe* probe = response->add_probes();
    ToProto(info, probe);
    CostToProto(info, stats, probe);
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::WatchCountsResponse>* AgentService::WatchCounts(
    grpc::CallbackServerContext* /*context*/,
    const v1::WatchCountsRequest* request) {
  absl::StatusOr<WatchSpec> spec =
      ValidateWatchRequest(*request, limits_, identity_.node, *manager_);
  if (!spec.ok()) {
    class Rejected : public grpc::ServerWriteReactor<v1::WatchCountsResponse> {
     public:
      explicit Rejected(const absl::Status& s) { Finish(ToGrpcStatus(s)); }
      void OnDone() override { delete this; }
    };
    return new Rejected(spec.status());
  }
  return WatchReactor::Start(sampler_, identity_.node, identity_.epoch,
                             *std::move(spec), clock_->Now());
}

}  // namespace tally
