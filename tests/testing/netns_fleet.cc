#include "tests/testing/netns_fleet.h"

#include <filesystem>

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/subprocess.h"

namespace tally::testing {
namespace {

absl::Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  RunResult r = Run(argv, absl::Seconds(20));
  if (r.exit_code != 0) {
    std::string cmd;
    for (const std::string& a : argv) absl::StrAppend(&cmd, a, " ");
    return absl::InternalError(absl::StrCat(cmd, "failed: ", r.err));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetnsFleet>> NetnsFleet::Create(int size) {
  std::unique_ptr<NetnsFleet> fleet(new NetnsFleet());
  const int base = 100 + getpid() % 100;
  for (int i = 0; i < size; ++i) {
    std::string ns = absl::StrCat("tally-", getpid(), "-", i);
    std::string link = absl::StrCat("tv", getpid() % 100000, "x", i);
    std::string host_ip = absl::StrCat("10.", base, ".", i + 1, ".1");
    std::string agent_ip = absl::StrCat("10.", base, ".", i + 1, ".2");
    // Recorded before creation so the destructor cleans up partial work.
    fleet->namespaces_.push_back(ns);
    fleet->host_links_.push_back(link);
    fleet->addresses_.push_back(agent_ip);
    fleet->pin_dirs_.push_back(
        absl::StrCat("/sys/fs/bpf/tally-test-fleet-", getpid(), "-", i));
    fleet->agents_.emplace_back();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"netns", "add", ns},
             {"link", "add", link, "type", "veth", "peer", "name", "eth0",
              "netns", ns},
             {"addr", "add", host_ip + "/30", "dev", link},
             {"link", "set", link, "up"},
             {"-n", ns, "addr", "add", agent_ip + "/30", "dev", "eth0"},
             {"-n", ns, "link", "set", "eth0", "up"},
             {"-n", ns, "link", "set", "lo", "up"},
         }) {
      if (absl::Status s = Ip(args); !s.ok()) return s;
    }
  }
  return fleet;
}

NetnsFleet::~NetnsFleet() {
  agents_.clear();  // kills the agents first
  std::error_code ignored;
  for (const std::string& dir : pin_dirs_) {
    std::filesystem::remove_all(dir, ignored);  // unpins the nodes' probes
  }
  for (size_t i = 0; i < namespaces_.size(); ++i) {
    (void)Ip({"link", "del", host_links_[i]});
    (void)Ip({"netns", "del", namespaces_[i]});
  }
}

std::string NetnsFleet::endpoint(int i) const {
  return absl::StrCat(addresses_[i], ":", kPort);
}

absl::Status NetnsFleet::StartAgent(int i, const std::string& pki_dir,
                                    const std::vector<std::string>& extra_args) {
  agents_[i].reset();
  AgentProcess::Options options;
  options.unix_socket = false;
  options.node_name = absl::StrCat("node-", i);
  // Only the network namespace: `ip netns exec` would also give the agent a
  // fresh /sys without the host's bpffs, and its pins would die with it.
  options.wrapper = {"nsenter", "--net=/run/netns/" + namespaces_[i], "--"};
  // A node's pins outlive its agent, as on a real node: a restarted agent
  // re-adopts its probes.
  options.pin_dir = pin_dirs_[i];
  options.args = {absl::StrCat("--listen=", endpoint(i)),
                  "--tls_cert=" + pki_dir + "/server.pem",
                  "--tls_key=" + pki_dir + "/server.key",
                  "--tls_client_ca=" + pki_dir + "/ca.pem"};
  options.args.insert(options.args.end(), extra_args.begin(), extra_args.end());
  absl::StatusOr<std::unique_ptr<AgentProcess>> agent =
      AgentProcess::Start(options);
  if (!agent.ok()) return agent.status();
  agents_[i] = *std::move(agent);
  return absl::OkStatus();
}

std::string NetnsFleet::PinDir(int i) const { return pin_dirs_[i]; }

void NetnsFleet::KillAgent(int i) {
  if (agents_[i] == nullptr) return;
  agents_[i]->Signal(SIGKILL);
  (void)agents_[i]->WaitExit(absl::Seconds(10));
}

}  // namespace tally::testing
