// tally.v1.Agent on the gRPC callback API. Validates every request, then
// hands load/unload to the ProbeManager (never blocking a gRPC thread) and
// streams through the Sampler.
#ifndef TALLY_AGENT_AGENT_SERVICE_H_
#define TALLY_AGENT_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/kernel_features.h"
#include "agent/limits.h"
#include "agent/probe_manager.h"
#include "agent/sampler.h"
#include "tally/v1/agent.grpc.pb.h"

namespace tally {

struct AgentIdentity {
  std::string node;
  std::string epoch;
  absl::Time start_time;
};

class AgentService final : public v1::Agent::CallbackService {
 public:
  // All pointers must outlive the service.
  AgentService(AgentIdentity identity, const KernelFeatures* features,
               const AgentLimits& limits, ProbeManager* manager,
               Sampler* sampler);

  grpc::ServerUnaryReactor* GetInfo(grpc::CallbackServerContext* context,
                                    const v1::GetInfoRequest* request,
                                    v1::GetInfoResponse* response) override;
  grpc::ServerUnaryReactor* StartProbe(
      grpc::CallbackServerContext* context,
      const v1::StartProbeRequest* request,
      v1::StartProbeResponse* response) override;
  grpc::ServerUnaryReactor* StopProbe(grpc::CallbackServerContext* context,
                                      const v1::StopProbeRequest* request,
                                      v1::StopProbeResponse* response) override;
  grpc::ServerUnaryReactor* ListProbes(
      grpc::CallbackServerContext* context,
      const v1::ListProbesRequest* request,
      v1::ListProbesResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchCountsResponse>* WatchCounts(
      grpc::CallbackServerContext* context,
      const v1::WatchCountsRequest* request) override;

 private:
  absl::StatusOr<ProbeConfig> ValidateStart(
      const v1::StartProbeRequest& request) const;
  absl::StatusOr<WatchSpec> ValidateWatch(
      const v1::WatchCountsRequest& request) const;

  const AgentIdentity identity_;
  const KernelFeatures* const features_;
  const AgentLimits limits_;
  ProbeManager* const manager_;
  Sampler* const sampler_;
};

// A probe name from a hook, for requests without one: "syscall:execve"
// becomes "syscall-execve".
std::string DefaultProbeName(const std::string& hook_spec);

// INVALID_ARGUMENT unless [A-Za-z0-9_.-]{1,63}.
absl::Status ValidateProbeName(const std::string& name);

}  // namespace tally

#endif  // TALLY_AGENT_AGENT_SERVICE_H_
