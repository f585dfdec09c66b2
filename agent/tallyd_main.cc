// tallyd: the node agent. Loads and attaches CO-RE counters on gRPC request
// and streams their counts.
#include <malloc.h>
#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/daemon/daemon.h"
#include "agent/daemon/probes_file.h"
#include "agent/daemon/version.h"
#include "agent/probe/bpf_stats.h"
#include "agent/probe/core_btf.h"
#include "agent/probe/feature_cache.h"
#include "agent/probe/kernel_probe_store.h"
#include "agent/probe/libbpf_logging.h"
#include "agent/probe/pin_root.h"
#include "common/clock.h"
#include "common/files.h"
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
ABSL_FLAG(
    bool, insecure_plaintext, false,
    "allow TCP without TLS: anyone who connects can load kernel programs");
ABSL_FLAG(std::string, health_listen, "",
          "also serve only grpc.health.v1 here, in plaintext (HOST:PORT), for "
          "Kubernetes' native gRPC probes, which cannot present a client "
          "certificate; the Agent API never listens here");
ABSL_FLAG(std::string, pin_dir, "/sys/fs/bpf/tally",
          "where probes are pinned so they outlive the agent: a restarted "
          "tallyd re-adopts them, counts intact (bpffs; mounted at "
          "/sys/fs/bpf when missing). Empty: probes end with the agent");
ABSL_FLAG(bool, uninstall, false,
          "remove every probe pinned in --pin_dir (detaching its programs) "
          "and the directory itself, then exit; with no tallyd running");
ABSL_FLAG(std::string, probes_file, "",
          "a YAML file of probes this agent runs (a ConfigMap in Kubernetes): "
          "reconciled at start and whenever it changes; a bad file is "
          "reported and the last good set keeps running");
ABSL_FLAG(std::string, check_probes_file, "",
          "check a probes file (YAML) as --probes_file would read it, print "
          "FILE:LINE problems or how many probes it declares, and exit (0: "
          "valid); for CI and ConfigMap changes");
ABSL_FLAG(std::string, host_proc, "/proc",
          "the host's /proc, for pids in requests, which are the host's: "
          "/proc unless tallyd runs in its own PID namespace (a pod without "
          "hostPID), where the DaemonSet mounts the host's at /host/proc");
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
ABSL_FLAG(int, verbosity, 0,
          "glog verbosity; 1 shows libbpf warnings, 2 debug");
ABSL_FLAG(std::string, feature_cache, "/run/tally/kernel-features",
          "where the kernel features probed at this boot's first start are "
          "kept for later starts (same boot, binary and privileges); empty: "
          "probe at every start");
ABSL_FLAG(std::string, map_read, "auto",
          "how probes read their key maps: auto (batches where the kernel has "
          "them, 5.6+), batch, or walk (a key at a time, as older kernels "
          "need); for tests and diagnosis");
ABSL_FLAG(uint32_t, map_read_batch, 0,
          "keys per batched map read; 0: as many as 64 KiB hold");
ABSL_FLAG(std::string, metrics_listen, "",
          "serve Prometheus metrics at http://HOST:PORT/metrics, in plaintext "
          "and without authentication (an IPv4 address or a name; port 0 "
          "picks a free port): bind it to an address only scrapers reach. "
          "Empty: no metrics");
ABSL_FLAG(uint32_t, metrics_top_keys, 20,
          "key series per grouped probe in the metrics (its top keys by "
          "count; the rest in one remainder series), 0 to 1000");
ABSL_FLAG(absl::Duration, metrics_keys_max_age, absl::Seconds(10),
          "how old a grouped probe's key series may be in a scrape: its keys "
          "are walked again only when its counts moved and the last walk is "
          "older (totals are read at every scrape; 0s to 1h; 0: every "
          "scrape walks every key)");
ABSL_FLAG(std::string, bpf_stats, "on_demand",
          "when the kernel's BPF run-time statistics (each probe's run time "
          "per event; they cost every BPF program on the node a little) are "
          "on: on_demand (while ListProbes or metrics scrapes ask, and "
          "--bpf_stats_hold after), always, or off. Turning them on needs "
          "CAP_SYS_ADMIN; the sysctl kernel.bpf_stats_enabled=1 does it for "
          "everyone");
ABSL_FLAG(absl::Duration, bpf_stats_hold, absl::Minutes(10),
          "with --bpf_stats=on_demand, how long after the last ask the "
          "statistics stay on (1s to 24h)");

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

// tallyd --check_probes_file=FILE: the file as a running agent would read
// it, without loading anything.
int CheckProbesFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    std::fprintf(stderr, "%s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  AgentLimits limits;
  HostPids host_pids(absl::GetFlag(FLAGS_host_proc));
  absl::StatusOr<std::vector<DeclaredConfig>> declared =
      ParseProbesFile(*text, path, limits, NodeName(), host_pids);
  if (!declared.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(declared.status().message()).c_str());
    return 1;
  }
  std::printf("%s: %zu probe(s), valid\n", path.c_str(), declared->size());
  return 0;
}

// tallyd --uninstall: everything tally left in the kernel goes.
int Uninstall(const std::string& pin_dir) {
  if (pin_dir.empty()) {
    std::fprintf(stderr, "tallyd --uninstall: --pin_dir is empty\n");
    return 1;
  }
  if (access(pin_dir.c_str(), F_OK) != 0) {
    std::printf("nothing pinned: %s does not exist\n", pin_dir.c_str());
    return 0;
  }
  absl::StatusOr<std::unique_ptr<PinRoot>> root = PinRoot::Open(pin_dir);
  if (!root.ok()) {
    std::fprintf(stderr, "tallyd --uninstall: %s\n",
                 std::string(root.status().message()).c_str());
    return 1;
  }
  std::vector<std::string> removed;
  absl::Status s = (*root)->RemoveAll(&removed);
  for (const std::string& name : removed) {
    std::printf("removed probe %s\n", name.c_str());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "tallyd --uninstall: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  std::printf("removed %s: no tally program, link or map is left there\n",
              pin_dir.c_str());
  return 0;
}

int Run() {
  ListenConfig listen;
  listen.address = absl::GetFlag(FLAGS_listen);
  listen.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  listen.tls_key = absl::GetFlag(FLAGS_tls_key);
  listen.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  listen.insecure_plaintext = absl::GetFlag(FLAGS_insecure_plaintext);

  AgentLimits limits;
  limits.max_probes = absl::GetFlag(FLAGS_max_probes);
  limits.max_watchers = absl::GetFlag(FLAGS_max_watchers);
  limits.max_keys = absl::GetFlag(FLAGS_max_keys);
  limits.default_keys = std::min(limits.default_keys, limits.max_keys);
  limits.min_interval = absl::GetFlag(FLAGS_min_interval);
  if (absl::Status s = ValidateLimits(limits); !s.ok()) {
    std::fprintf(stderr, "tallyd: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_shutdown_grace) < absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_shutdown_grace) > absl::Minutes(10)) {
    std::fprintf(
        stderr,
        "tallyd: --shutdown_grace=%s is out of range; allowed: 0 to "
        "10m\n",
        absl::FormatDuration(absl::GetFlag(FLAGS_shutdown_grace)).c_str());
    return 1;
  }

  MapReadOptions read_options;
  if (absl::StatusOr<MapReadMethod> m =
          ParseMapReadMethod(absl::GetFlag(FLAGS_map_read));
      m.ok()) {
    read_options.method = *m;
  } else {
    std::fprintf(stderr, "tallyd: --map_read: %s\n",
                 std::string(m.status().message()).c_str());
    return 2;
  }
  read_options.batch_keys = absl::GetFlag(FLAGS_map_read_batch);

  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!metrics_listen.empty()) {
    if (absl::Status s = ValidateMetricsListen(metrics_listen); !s.ok()) {
      std::fprintf(stderr, "tallyd: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }
  if (absl::GetFlag(FLAGS_metrics_top_keys) > kMaxMetricsTopKeys) {
    std::fprintf(stderr,
                 "tallyd: --metrics_top_keys=%u is out of range; allowed: 0 "
                 "to %u\n",
                 absl::GetFlag(FLAGS_metrics_top_keys), kMaxMetricsTopKeys);
    return 2;
  }
  const absl::Duration keys_max_age = absl::GetFlag(FLAGS_metrics_keys_max_age);
  if (keys_max_age < absl::ZeroDuration() || keys_max_age > absl::Hours(1)) {
    std::fprintf(stderr,
                 "tallyd: --metrics_keys_max_age=%s is out of range; allowed: "
                 "0s to 1h\n",
                 absl::FormatDuration(keys_max_age).c_str());
    return 2;
  }
  absl::StatusOr<BpfStatsMode> stats_mode =
      ParseBpfStatsMode(absl::GetFlag(FLAGS_bpf_stats));
  if (!stats_mode.ok()) {
    std::fprintf(stderr, "tallyd: --bpf_stats: %s\n",
                 std::string(stats_mode.status().message()).c_str());
    return 2;
  }
  const absl::Duration stats_hold = absl::GetFlag(FLAGS_bpf_stats_hold);
  if (stats_hold < absl::Seconds(1) || stats_hold > absl::Hours(24)) {
    std::fprintf(stderr,
                 "tallyd: --bpf_stats_hold=%s is out of range; allowed: 1s "
                 "to 24h\n",
                 absl::FormatDuration(stats_hold).c_str());
    return 2;
  }

  AgentIdentity identity{NodeName(), NewEpoch(), absl::Now()};
  KernelFeatures features =
      CachedOrProbedKernelFeatures(absl::GetFlag(FLAGS_feature_cache));
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
            << (supported.empty() ? "none" : supported) << " ("
            << features.source << ")";
  for (const auto& [kind, status] : features.kinds) {
    if (!status.ok()) {
      LOG(INFO) << AttachKindName(kind) << " unavailable: " << status.message();
    }
  }

  std::unique_ptr<PinRoot> pins;
  std::string pin_dir = absl::GetFlag(FLAGS_pin_dir);
  std::vector<std::string> startup_warnings;
  // A refused start leaves no pin directory it made itself.
  const bool pin_dir_existed =
      !pin_dir.empty() && access(pin_dir.c_str(), F_OK) == 0;
  if (!pin_dir.empty()) {
    absl::StatusOr<std::unique_ptr<PinRoot>> root = PinRoot::Open(pin_dir);
    if (absl::IsAlreadyExists(root.status())) {
      // Two agents on one node's probes would take them from each other.
      std::fprintf(stderr, "tallyd: %s\n",
                   std::string(root.status().message()).c_str());
      return 1;
    }
    if (root.ok()) {
      pins = *std::move(root);
    } else {
      // Serving without durability beats not serving: said loudly.
      startup_warnings.push_back(absl::StrCat(
          "probes will not outlive this agent: ", root.status().message(),
          " (--pin_dir= runs without pinning and without this warning)"));
      LOG(WARNING) << startup_warnings.back();
      pin_dir.clear();
    }
  }
  KernelProbeStore store(&features, read_options, std::move(pins));
  KernelBpfStats bpf_stats;
  DaemonConfig config;
  config.metrics_listen = metrics_listen;
  config.metrics_top_keys = absl::GetFlag(FLAGS_metrics_top_keys);
  config.metrics_keys_max_age = keys_max_age;
  config.bpf_stats = &bpf_stats;
  config.bpf_stats_mode = *stats_mode;
  config.bpf_stats_hold = stats_hold;
  config.pin_dir = pin_dir;
  config.startup_warnings = std::move(startup_warnings);
  config.identity = identity;
  config.limits = limits;
  config.listen = listen;
  config.health_listen = absl::GetFlag(FLAGS_health_listen);
  config.host_proc = absl::GetFlag(FLAGS_host_proc);
  config.probes_file = absl::GetFlag(FLAGS_probes_file);
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  absl::StatusOr<std::unique_ptr<Daemon>> daemon =
      Daemon::Start(std::move(config), &features, &store, Clock::Real());
  if (!daemon.ok()) {
    std::fprintf(stderr, "tallyd: %s\n",
                 std::string(daemon.status().message()).c_str());
    // Only what this run made is in a directory it created.
    if (!pin_dir.empty() && !pin_dir_existed) (void)RemovePinTree(pin_dir);
    return 1;
  }
  // Off the serving path: the minimal CO-RE BTF the first probe needs
  // (~15 ms of parsing), which a cached start has not built yet.
  std::thread([] { (void)KernelCoreBtf(); }).detach();
  // Line 1: the API address; then the health address, if any; then the
  // metrics URL (http://HOST:PORT/metrics), if any.
  std::string ready_text = (*daemon)->address();
  if (const std::string& health = (*daemon)->health_address();
      !health.empty()) {
    absl::StrAppend(&ready_text, "\n", health);
  }
  if (const std::string& metrics = (*daemon)->metrics_address();
      !metrics.empty()) {
    absl::StrAppend(&ready_text, "\nhttp://", metrics, "/metrics");
  }
  if (std::string ready = absl::GetFlag(FLAGS_ready_file);
      !ready.empty() && !WriteReadyFile(ready, ready_text)) {
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

  // Pinned probes outlive the agent by design; say which it is.
  const std::string left =
      pin_dir.empty()
          ? "no probe remains attached"
          : absl::StrCat("its probes stay pinned in ", pin_dir,
                         " and counting for the next agent (tallyd "
                         "--uninstall removes them)");
  if (absl::Status s = (*daemon)->Shutdown(); !s.ok()) {
    LOG(WARNING) << "stopped without waiting for gRPC: " << s.message()
                 << "; " << left;
    _exit(0);
  }
  LOG(INFO) << "stopped; " << left;
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
  if (std::string check = absl::GetFlag(FLAGS_check_probes_file);
      !check.empty()) {
    return tally::CheckProbesFile(check);
  }
  if (absl::GetFlag(FLAGS_uninstall)) {
    return tally::Uninstall(absl::GetFlag(FLAGS_pin_dir));
  }
  return tally::Run();
}
