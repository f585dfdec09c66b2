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
  ToProto(identity_.start_time, response->mutable_start_time());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AgentService::StartProbe(
    grpc::CallbackServerContext* context, const v1::StartProbeRequest* request,
    v1::StartProbeResponse* response) {
  absl::StatusOr<ProbeConfig> config =
      ValidateStartRequest(*request, limits_, identity_.node);
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
                             *std::move(spec));
}

}  // namespace tally
