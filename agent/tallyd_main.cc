// tallyd: the node agent. Loads and attaches CO-RE counters on gRPC request
// and streams their counts.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/agent_service.h"
#include "agent/kernel_counter_opener.h"
#include "agent/kernel_features.h"
#include "agent/libbpf_logging.h"
#include "agent/limits.h"
#include "agent/probe_manager.h"
#include "agent/sampler.h"
#include "agent/server_credentials.h"
#include "agent/version.h"
#include "glog/logging.h"

ABSL_FLAG(std::string, listen, "unix:/run/tally/tallyd.sock",
          "unix:PATH, or HOST:PORT for TCP (mutual TLS required unless "
          "--insecure_plaintext); port 0 picks a free port");
ABSL_FLAG(std::string, node_name, "",
          "node name in every answer; default $NODE_NAME, else the hostname");
ABSL_FLAG(std::string, tls_cert, "", "server certificate chain (PEM)");
ABSL_FLAG(std::string, tls_key, "", "server private key (PEM)");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA bundle that client certificates must chain to (PEM)");
ABSL_FLAG(bool, insecure_plaintext, false,
          "allow TCP without TLS: anyone who connects can load kernel programs");
ABSL_FLAG(std::string, health_listen, "",
          "also serve only grpc.health.v1 here, in plaintext (HOST:PORT), for "
          "Kubernetes' native gRPC probes, which cannot present a client "
          "certificate; the Agent API never listens here");
ABSL_FLAG(std::string, ready_file, "",
          "once serving, write the listening address here (for scripts and "
          "tests that bind port 0)");
ABSL_FLAG(uint32_t, max_probes, tally::AgentLimits().max_probes,
          "most probes at once");
ABSL_FLAG(uint32_t, max_watchers, tally::AgentLimits().max_watchers,
          "most WatchCounts streams at once");
ABSL_FLAG(uint32_t, max_keys, tally::AgentLimits().max_keys,
          "largest per-probe key map a request may ask for");
ABSL_FLAG(absl::Duration, min_interval, tally::AgentLimits().min_interval,
          "shortest WatchCounts interval");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(3),
          "how long streams get to drain on SIGTERM before they are cut");
ABSL_FLAG(int, verbosity, 0, "glog verbosity; 1 shows libbpf warnings, 2 debug");

namespace tally {
namespace {

std::string NodeName() {
  std::string flag = absl::GetFlag(FLAGS_node_name);
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("NODE_NAME"); env != nullptr && *env) {
    return env;
  }
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::string NewEpoch() {
  unsigned char bytes[8] = {};
  if (getrandom(bytes, sizeof(bytes), 0) != sizeof(bytes)) {
    // Start time is unique enough when the entropy pool is unavailable.
    return absl::StrCat(absl::ToUnixNanos(absl::Now()));
  }
  std::string out;
  for (unsigned char b : bytes) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

bool WriteReadyFile(const std::string& path, const std::string& address) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << address << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int Run() {
  ListenConfig listen;
  listen.address = absl::GetFlag(FLAGS_listen);
  listen.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  listen.tls_key = absl::GetFlag(FLAGS_tls_key);
  listen.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  listen.insecure_plaintext = absl::GetFlag(FLAGS_insecure_plaintext);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeServerCredentials(listen);
  if (!creds.ok()) {
    std::fprintf(stderr, "tallyd: %s\n", std::string(creds.status().message()).c_str());
    return 1;
  }

  AgentLimits limits;
  limits.max_probes = absl::GetFlag(FLAGS_max_probes);
  limits.max_watchers = absl::GetFlag(FLAGS_max_watchers);
  limits.max_keys = absl::GetFlag(FLAGS_max_keys);
  limits.default_keys = std::min(limits.default_keys, limits.max_keys);
  limits.min_interval = absl::GetFlag(FLAGS_min_interval);

  AgentIdentity identity{NodeName(), NewEpoch(), absl::Now()};
  KernelFeatures features = ProbeKernelFeatures();
  // The probing threads parsed the kernel's BTF in their own malloc arenas;
  // give those megabytes back rather than keep them resident.
  malloc_trim(0);
  std::string supported;
  for (AttachKind kind : features.Supported()) {
    absl::StrAppend(&supported, supported.empty() ? "" : ", ",
                    AttachKindName(kind));
  }
  LOG(INFO) << "tallyd " << kAgentVersion << " on node " << identity.node
            << ", kernel " << features.release << ", epoch " << identity.epoch
            << "; attach kinds that work here: "
            << (supported.empty() ? "none" : supported);
  for (const auto& [kind, status] : features.kinds) {
    if (!status.ok()) {
      LOG(INFO) << AttachKindName(kind) << " unavailable: " << status.message();
    }
  }

  ProbeManager manager(KernelCounterOpener(&features), limits);
  Sampler sampler(&manager, limits);
  manager.SetListener(&sampler);
  AgentService service(identity, &features, limits, &manager, &sampler);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // Finds dead watchers on broken connections.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.RegisterService(&service);

  int port = 0;
  mode_t old_umask = 0;
  if (IsUnixAddress(listen.address)) {
    std::string path = UnixSocketPath(listen.address);
    std::error_code ignored;
    std::filesystem::create_directories(
        std::filesystem::path(path).parent_path(), ignored);
    unlink(path.c_str());  // a stale socket from a previous run
    builder.AddListeningPort(listen.address, *creds);
    // Root only: whoever can connect can load kernel programs.
    old_umask = umask(0077);
  } else {
    builder.AddListeningPort(listen.address, *creds, &port);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (IsUnixAddress(listen.address)) umask(old_umask);
  if (server == nullptr || (!IsUnixAddress(listen.address) && port == 0)) {
    std::fprintf(stderr, "tallyd: cannot listen on %s\n", listen.address.c_str());
    return 1;
  }
  // The health-only listener: a second server with no service of ours
  // registered, so it answers grpc.health.v1 (and reflection, which lists
  // nothing else) and nothing that loads kernel programs.
  std::unique_ptr<grpc::Server> health_server;
  std::string health_bound;
  if (std::string health = absl::GetFlag(FLAGS_health_listen); !health.empty()) {
    grpc::ServerBuilder health_builder;
    int health_port = 0;
    health_builder.AddListeningPort(health, grpc::InsecureServerCredentials(),
                                    &health_port);
    health_server = health_builder.BuildAndStart();
    if (health_server == nullptr || health_port == 0) {
      std::fprintf(stderr, "tallyd: cannot listen on --health_listen=%s\n",
                   health.c_str());
      return 1;
    }
    health_bound = absl::StrCat(health.substr(0, health.rfind(':')), ":",
                                health_port);
    LOG(INFO) << "health service (plaintext, health only) on " << health_bound;
  }
  std::string bound = listen.address;
  if (!IsUnixAddress(listen.address)) {
    bound = absl::StrCat(listen.address.substr(0, listen.address.rfind(':')),
                         ":", port);
  }
  LOG(INFO) << "listening on " << bound;
  // Line 1: the API address; line 2: the health address, if any.
  if (std::string ready = absl::GetFlag(FLAGS_ready_file);
      !ready.empty() &&
      !WriteReadyFile(ready, health_bound.empty()
                                 ? bound
                                 : absl::StrCat(bound, "\n", health_bound))) {
    LOG(ERROR) << "cannot write --ready_file " << ready;
  }

  // Signals were blocked before any thread started; wait for one here.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  int signo = 0;
  sigwait(&signals, &signo);
  LOG(INFO) << "received " << strsignal(signo) << ", shutting down";

  // Readiness fails first, so a load balancer stops sending new calls.
  server->GetHealthCheckService()->SetServingStatus(false);
  if (health_server) health_server->GetHealthCheckService()->SetServingStatus(false);
  manager.Shutdown();   // refuse starts; final updates; detach every probe
  sampler.CloseAll();   // end streams once their final updates are out
  // Readers drain their final updates within the grace period; a stalled one
  // is cut when it ends. gRPC's own Shutdown would also wait that long for
  // every idle client connection, so it gets only a short deadline after.
  const absl::Time grace_end = absl::Now() + absl::GetFlag(FLAGS_shutdown_grace);
  while (sampler.watcher_count() > 0 && absl::Now() < grace_end) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Milliseconds(200)));
  server->Wait();
  if (health_server) {
    health_server->Shutdown(absl::ToChronoTime(absl::Now()));
    health_server->Wait();
  }
  if (IsUnixAddress(listen.address)) {
    unlink(UnixSocketPath(listen.address).c_str());
  }
  LOG(INFO) << "stopped; no probe remains attached";
  return 0;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tallyd: the tally node agent. Serves tally.v1.Agent on --listen.");
  absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  FLAGS_v = absl::GetFlag(FLAGS_verbosity);
  tally::InstallLibbpfLogging();

  // Every thread created from here on inherits the mask, so only sigwait()
  // in Run() sees SIGTERM and SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client vanishing mid-write must not kill the agent.
  signal(SIGPIPE, SIG_IGN);
  return tally::Run();
}
