#include "agent/daemon/daemon.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace tally {
namespace {

// How long the gRPC servers get to stop once the streams' grace is over.
constexpr absl::Duration kServerStopTimeout = absl::Seconds(2);

// Health checks answer for the whole server ("") and for the API by name.
constexpr char kServiceName[] = "tally.v1.Agent";

// "HOST:PORT" with the port actually bound.
std::string BoundAddress(const std::string& requested, int port) {
  return absl::StrCat(requested.substr(0, requested.rfind(':')), ":", port);
}

}  // namespace

Daemon::Daemon(DaemonConfig config, const KernelFeatures* features,
               ProbeStore* store, Clock* clock)
    : config_(std::move(config)),
      host_pids_(config_.host_proc),
      manager_(store, config_.limits, clock),
      sampler_(&manager_, config_.limits, clock),
      stats_lease_(config_.bpf_stats, config_.bpf_stats_mode,
                   config_.bpf_stats_hold, clock),
      service_(config_.identity, features, config_.limits, &manager_, &sampler_,
               &host_pids_, &stats_lease_, clock),
      metrics_(config_.identity, features->release, &manager_, &stats_lease_,
               config_.metrics_top_keys, config_.metrics_keys_max_age, clock),
      reflection_v1_({kServiceName, "grpc.health.v1.Health",
                      "grpc.reflection.v1.ServerReflection",
                      "grpc.reflection.v1alpha.ServerReflection"}) {
  manager_.SetListener(&sampler_);
}

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(
    DaemonConfig config, const KernelFeatures* features, ProbeStore* store,
    Clock* clock) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds,
                   MakeServerCredentials(config.listen));
  std::unique_ptr<Daemon> d(
      new Daemon(std::move(config), features, store, clock));
  const ListenConfig& listen = d->config_.listen;
  const bool unix_socket = IsUnixAddress(listen.address);
  if (unix_socket) {
    // First: an agent refused for a live one's socket must change nothing
    // (no probe adopted or declared here).
    std::string path = UnixSocketPath(listen.address);
    std::error_code ignored;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path(), ignored);
    // A live agent on this path keeps it; a killed one's stale socket goes.
    ASSIGN_OR_RETURN(InstanceLock lock,
                     InstanceLock::Acquire(path + ".lock", path));
    d->socket_lock_ = std::move(lock);
  }

  // Before serving: a client must never see the probes missing.
  d->service_.SetPinDir(d->config_.pin_dir);
  std::vector<std::string> warnings = d->config_.startup_warnings;
  for (std::string& w : d->manager_.Adopt()) warnings.push_back(std::move(w));
  if (d->config_.bpf_stats_mode == BpfStatsMode::kAlways) {
    if (std::string problem = d->stats_lease_.state().problem;
        !problem.empty()) {
      warnings.push_back(absl::StrCat(
          "--bpf_stats=always: the statistics stay off: ", problem));
    }
  }
  d->metrics_.SetWarnings(warnings.size());
  d->service_.SetWarnings(std::move(warnings));
  if (!d->config_.probes_file.empty()) {
    ASSIGN_OR_RETURN(
        d->declared_,
        DeclaredProbes::Start(d->config_.probes_file, &d->manager_,
                              d->config_.limits, d->config_.identity.node,
                              &d->host_pids_, clock));
    d->service_.SetDeclaredProbes(d->declared_.get());
    d->metrics_.SetDeclaredProbes(d->declared_.get());
  }
  // Probes are adopted: the first scrape already sees their counts.
  if (!d->config_.metrics_listen.empty()) {
    Daemon* daemon = d.get();
    ASSIGN_OR_RETURN(d->metrics_server_,
                     MetricsServer::Start(d->config_.metrics_listen,
                                          [daemon] {
                                            return daemon->metrics_.Scrape();
                                          }));
    d->metrics_address_ = d->metrics_server_->address();
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Finds dead watchers on broken connections.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC sets SO_REUSEPORT by default: a second agent on the same TCP port
  // would bind too and take half the connections.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&d->service_);
  builder.RegisterService(&d->reflection_v1_);

  int port = 0;
  mode_t old_umask = 0;
  if (unix_socket) {
    unlink(UnixSocketPath(listen.address).c_str());
    builder.AddListeningPort(listen.address, creds);
    // Root only: whoever can connect can load kernel programs.
    old_umask = umask(0077);
  } else {
    builder.AddListeningPort(listen.address, creds, &port);
  }
  d->server_ = builder.BuildAndStart();
  if (unix_socket) umask(old_umask);
  if (d->server_ == nullptr || (!unix_socket && port == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen.address));
  }
  d->address_ =
      unix_socket ? listen.address : BoundAddress(listen.address, port);

  // The health-only listener: a second server with no service of ours
  // registered, so it answers grpc.health.v1 (and reflection, which lists
  // nothing else) and nothing that loads kernel programs.
  if (const std::string& health = d->config_.health_listen; !health.empty()) {
    grpc::ServerBuilder health_builder;
    int health_port = 0;
    health_builder.AddListeningPort(health, grpc::InsecureServerCredentials(),
                                    &health_port);
    d->health_server_ = health_builder.BuildAndStart();
    if (d->health_server_ == nullptr || health_port == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on --health_listen=", health));
    }
    d->health_server_->GetHealthCheckService()->SetServingStatus(kServiceName,
                                                                 true);
    d->health_address_ = BoundAddress(health, health_port);
    LOG(INFO) << "health service (plaintext, health only) on "
              << d->health_address_;
  }
  d->server_->GetHealthCheckService()->SetServingStatus(kServiceName, true);
  LOG(INFO) << "listening on " << d->address_;
  return d;
}

Daemon::~Daemon() {
  // After a Shutdown() that timed out, gRPC still holds this object's
  // service; the process must exit without destroying it (see daemon.h).
  (void)Shutdown();
}

absl::Status Daemon::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  // No scrape from here on (also when Start() failed after the metrics
  // server started): a durable agent's probes live on, and the next agent's
  // first scrape continues their series.
  metrics_server_.reset();
  metrics_.SetDeclaredProbes(nullptr);
  if (server_ == nullptr) return absl::OkStatus();  // Start() failed early
  // Readiness fails first, so a load balancer stops sending new calls.
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->GetHealthCheckService()->SetServingStatus(kServiceName, false);
  if (health_server_) {
    health_server_->GetHealthCheckService()->SetServingStatus(false);
    health_server_->GetHealthCheckService()->SetServingStatus(kServiceName,
                                                              false);
  }
  service_.SetDeclaredProbes(nullptr);
  declared_.reset();    // no reconcile from here on
  manager_.Shutdown();  // refuse starts; final updates; detach every probe
  sampler_.CloseAll();  // end streams once their final updates are out
  // Readers drain their final updates within the grace period; a stalled one
  // is cut when it ends. gRPC's own Shutdown would also wait that long for
  // every idle client connection, so it gets only a short deadline after.
  const absl::Time grace_end = absl::Now() + config_.shutdown_grace;
  while (sampler_.watcher_count() > 0 && absl::Now() < grace_end) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  // gRPC 1.51 never completes a write stuck behind a frozen client's flow
  // control, even once the call is cancelled, and its Shutdown() then waits
  // for that stream forever: stop the servers on a thread and give up on
  // them after a bounded wait.
  auto stopped = std::make_shared<absl::Notification>();
  std::thread([this, stopped] {
    server_->Shutdown(
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
    server_->Wait();
    if (health_server_) {
      health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
      health_server_->Wait();
    }
    stopped->Notify();
  }).detach();
  const bool clean =
      stopped->WaitForNotificationWithTimeout(kServerStopTimeout);
  // Still holding the lock: the socket is ours to remove.
  if (socket_lock_.has_value()) {
    unlink(UnixSocketPath(config_.listen.address).c_str());
  }
  if (!clean) {
    return absl::DeadlineExceededError(absl::StrCat(
        sampler_.watcher_count(),
        " watch stream(s) did not end: their clients stopped reading"));
  }
  return absl::OkStatus();
}

}  // namespace tally
