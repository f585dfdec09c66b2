// Runs a real tallyd binary for a test: its own temp directory and socket
// (or TCP port 0), found through --ready_file, killed on destruction.
#ifndef TALLY_TESTS_TESTING_AGENT_PROCESS_H_
#define TALLY_TESTS_TESTING_AGENT_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tally/v1/agent.grpc.pb.h"

namespace tally::testing {

// A path in the test's runfiles, e.g. "agent/tallyd".
std::string RunfilePath(const std::string& relative);

// mkdtemp under /tmp: unix socket paths must stay short (108 bytes), which
// TEST_TMPDIR is not.
std::string MakeTempDir();

class AgentProcess {
 public:
  struct Options {
    std::vector<std::string> args;  // extra tallyd flags
    // Listen on a unix socket in the temp dir unless args set --listen.
    bool unix_socket = true;
    // Wait for the ready file; off for runs expected to fail at start-up.
    bool wait_ready = true;
    // Prefix for the command line, e.g. {"capsh", "--drop=cap_bpf", "--"}.
    std::vector<std::string> wrapper;
    std::string node_name = "test-node";
    // The tallyd to run; empty: the runfile agent/tallyd.
    std::string binary;
    // --pin_dir: empty, a directory of this agent's own under /sys/fs/bpf,
    // removed with it; "-": tallyd's own default (or the args' flag);
    // otherwise this one, which the test cleans up (for restarts).
    std::string pin_dir;
  };

  static absl::StatusOr<std::unique_ptr<AgentProcess>> Start(Options options);
  ~AgentProcess();

  // "unix:/tmp/.../tallyd.sock" or "127.0.0.1:PORT", as tallyd reported.
  const std::string& address() const { return address_; }
  // "http://HOST:PORT/metrics" with --metrics_listen; empty without.
  const std::string& metrics_url() const { return metrics_url_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }

  // Plaintext channel (unix socket or --insecure_plaintext TCP).
  std::unique_ptr<v1::Agent::Stub> NewStub() const;
  std::shared_ptr<grpc::Channel> NewChannel() const;

  void Signal(int signo) const;
  // The exit code, or DEADLINE_EXCEEDED; -signal when killed by a signal.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);
  // What tallyd printed on stderr so far.
  std::string Log() const;

 private:
  AgentProcess() = default;

  pid_t pid_ = -1;
  bool exited_ = false;
  std::string dir_;
  std::string address_;
  std::string metrics_url_;
  std::string owned_pin_dir_;
};

// The BPF object ids process `pid` holds open, from its fdinfo: `field` is
// "prog_id:", "map_id:" or "link_id:".
std::set<uint32_t> HeldBpfIds(pid_t pid, const char* field);

// StartProbe of tracepoint:syscalls:sys_enter_getppid filtered to this
// process: CallGetppid(n) (events.h) then makes exactly n events.
v1::StartProbeRequest GetppidProbe(const std::string& name);

// A ClientContext with a deadline, as every non-stream call should have.
std::unique_ptr<grpc::ClientContext> ContextWithDeadline(
    absl::Duration timeout = absl::Seconds(20));

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_AGENT_PROCESS_H_
