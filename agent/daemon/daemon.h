// tallyd's serving side, wired: the probe manager, the sampler and the gRPC
// servers, started and shut down in the right order. tallyd_main.cc adds
// flags, kernel probing and signals; tests run it on fake counters.
#ifndef TALLY_AGENT_DAEMON_DAEMON_H_
#define TALLY_AGENT_DAEMON_DAEMON_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/daemon/agent_service.h"
#include "agent/daemon/bpf_stats_lease.h"
#include "agent/daemon/declared_probes.h"
#include "agent/daemon/host_pids.h"
#include "agent/daemon/instance_lock.h"
#include "agent/daemon/limits.h"
#include "agent/daemon/metrics_collector.h"
#include "agent/daemon/metrics_server.h"
#include "agent/daemon/probe_manager.h"
#include "agent/daemon/reflection_v1.h"
#include "agent/daemon/sampler.h"
#include "agent/daemon/server_credentials.h"
#include "agent/probe/counter.h"
#include "agent/probe/kernel_features.h"
#include "common/clock.h"

namespace tally {

struct DaemonConfig {
  AgentIdentity identity;
  AgentLimits limits;
  ListenConfig listen;
  // Plaintext, health-only listener (HOST:PORT); empty: none.
  std::string health_listen;
  // Where the store pins probes (reported in GetInfo); empty: not durable.
  std::string pin_dir;
  // Problems found before the daemon started, for GetInfo's warnings.
  std::vector<std::string> startup_warnings;
  // The declared probe set to converge to and watch; empty: none.
  std::string probes_file;
  // A procfs of the host's PID namespace, for checking requested pids.
  std::string host_proc = "/proc";
  // How long streams get to drain their final updates on shutdown.
  absl::Duration shutdown_grace = absl::Seconds(3);
  // Prometheus metrics over plain HTTP (HOST:PORT); empty: none.
  std::string metrics_listen;
  // Key series per grouped probe in the metrics, and how old their values
  // may be in a scrape (metrics_collector.h).
  uint32_t metrics_top_keys = 20;
  absl::Duration metrics_keys_max_age = absl::Seconds(10);
  // The kernel's BPF run-time statistics (must outlive the daemon); null:
  // none (probes' run times stay 0). When they are on: bpf_stats_lease.h.
  BpfStats* bpf_stats = nullptr;
  BpfStatsMode bpf_stats_mode = BpfStatsMode::kOnDemand;
  absl::Duration bpf_stats_hold = absl::Minutes(10);
};

class Daemon {
 public:
  // Re-adopts what an earlier agent left in `store`, then serves until
  // Shutdown(). `features`, `store` and `clock` must outlive the daemon.
  // INVALID_ARGUMENT / NOT_FOUND for unusable listen settings,
  // FAILED_PRECONDITION when another agent serves the socket path,
  // UNAVAILABLE when an address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(
      DaemonConfig config, const KernelFeatures* features, ProbeStore* store,
      Clock* clock);

  // Shuts down if Shutdown() was not called.
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // The API address as bound ("unix:PATH" or "HOST:PORT" with the real port).
  const std::string& address() const { return address_; }
  // The health-only address as bound; empty without one.
  const std::string& health_address() const { return health_address_; }
  // The metrics address ("HOST:PORT") as bound; empty without one.
  const std::string& metrics_address() const { return metrics_address_; }

  // Readiness fails first; then starts are refused, every probe stops with a
  // final update, streams end once those are sent (cut after the grace
  // period), and every probe is detached when this returns. Bounded: about
  // the grace period plus two seconds. DEADLINE_EXCEEDED when a stream
  // stuck on a client that stopped reading kept gRPC from stopping; the
  // probes are detached all the same, but gRPC still uses this object, so
  // the process must then exit without destroying it (_exit).
  absl::Status Shutdown();

 private:
  Daemon(DaemonConfig config, const KernelFeatures* features, ProbeStore* store,
         Clock* clock);

  const DaemonConfig config_;
  const HostPids host_pids_;
  ProbeManager manager_;
  Sampler sampler_;
  BpfStatsLease stats_lease_;
  AgentService service_;
  MetricsCollector metrics_;
  ReflectionV1Service reflection_v1_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  std::string address_;
  std::string health_address_;
  std::unique_ptr<MetricsServer> metrics_server_;
  std::string metrics_address_;
  std::optional<InstanceLock> socket_lock_;   // unix sockets only
  std::unique_ptr<DeclaredProbes> declared_;  // with --probes_file
  bool shut_down_ = false;
};

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_DAEMON_H_
