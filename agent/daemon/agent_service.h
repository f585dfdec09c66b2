// tally.v1.Agent on the gRPC callback API. Validates every request, then
// hands load/unload to the ProbeManager (never blocking a gRPC thread) and
// streams through the Sampler.
#ifndef TALLY_AGENT_DAEMON_AGENT_SERVICE_H_
#define TALLY_AGENT_DAEMON_AGENT_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/bpf_stats_lease.h"
#include "agent/daemon/declared_probes.h"
#include "agent/daemon/host_pids.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/probe_manager.h"
#include "agent/daemon/sampler.h"
#include "agent/probe/kernel_features.h"
#include "common/clock.h"
#include "tally/v1/agent.grpc.pb.h"

namespace tally {

struct AgentIdentity {
  std::string node;
  std::string epoch;
  absl::Time start_time;
};

class AgentService final : public v1::Agent::CallbackService {
 public:
  // All pointers must outlive the service. ListProbes asks `stats` for
  // the kernel's run-time statistics (bpf_stats_lease.h).
  AgentService(AgentIdentity identity, const KernelFeatures* features,
               const AgentLimits& limits, ProbeManager* manager,
               Sampler* sampler, const HostPids* host_pids,
               BpfStatsLease* stats, Clock* clock);

  // Reported by GetInfo: where probes are pinned, and what start-up found
  // that needs a person.
  void SetPinDir(std::string pin_dir) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWarnings(std::vector<std::string> warnings) ABSL_LOCKS_EXCLUDED(mu_);
  // With --probes_file: its status. Must outlive its use (the daemon clears
  // it before destroying it).
  void SetDeclaredProbes(const DeclaredProbes* declared)
      ABSL_LOCKS_EXCLUDED(mu_);

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
  const AgentIdentity identity_;
  const KernelFeatures* const features_;
  const AgentLimits limits_;
  ProbeManager* const manager_;
  Sampler* const sampler_;
  const HostPids* const host_pids_;
  BpfStatsLease* const stats_;
  Clock* const clock_;

  mutable absl::Mutex mu_;
  std::string pin_dir_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> warnings_ ABSL_GUARDED_BY(mu_);
  const DeclaredProbes* declared_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_AGENT_SERVICE_H_
