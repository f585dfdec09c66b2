#include "tests/testing/agent_process.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/testing/subprocess.h"

namespace tally::testing {

std::string RunfilePath(const std::string& relative) {
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string ws = workspace != nullptr ? workspace : "tally";
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    return absl::StrCat(srcdir, "/", ws, "/", relative);
  }
  // A binary run outside `bazel test` (bazel-bin/bench/tally_bench): its
  // runfiles tree sits next to it.
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    std::string candidate =
        absl::StrCat(std::string(self, n), ".runfiles/", ws, "/", relative);
    if (access(candidate.c_str(), F_OK) == 0) return candidate;
  }
  return relative;
}

std::string MakeTempDir() {
  char tmpl[] = "/tmp/tally-test-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  return dir != nullptr ? dir : "/tmp";
}

absl::StatusOr<std::unique_ptr<AgentProcess>> AgentProcess::Start(
    Options options) {
  std::unique_ptr<AgentProcess> agent(new AgentProcess());
  agent->dir_ = MakeTempDir();
  const std::string ready = agent->dir_ + "/ready";
  std::vector<std::string> argv = options.wrapper;
  argv.push_back(options.binary.empty() ? RunfilePath("agent/tallyd")
                                        : options.binary);
  if (options.unix_socket) {
    argv.push_back(absl::StrCat("--listen=unix:", agent->dir_, "/tallyd.sock"));
  }
  argv.push_back("--ready_file=" + ready);
  argv.push_back("--node_name=" + options.node_name);
  // Tests run in parallel: each agent pins in its own directory, removed
  // with it, unless the test manages one (restarts) itself.
  if (options.pin_dir.empty()) {
    agent->owned_pin_dir_ = absl::StrCat(
        "/sys/fs/bpf/", std::filesystem::path(agent->dir_).filename().string());
    argv.push_back("--pin_dir=" + agent->owned_pin_dir_);
  } else if (options.pin_dir != "-") {
    argv.push_back("--pin_dir=" + options.pin_dir);
  }
  for (const std::string& arg : options.args) argv.push_back(arg);

  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    std::string log = agent->dir_ + "/tallyd.log";
    FILE* f = freopen(log.c_str(), "w", stderr);
    (void)f;
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  agent->pid_ = pid;
  if (!options.wait_ready) return agent;

  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    std::ifstream in(ready);
    std::string address;
    if (in && std::getline(in, address) && !address.empty()) {
      agent->address_ = address;
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("http://", 0) == 0) agent->metrics_url_ = line;
      }
      return agent;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      agent->exited_ = true;
      return absl::FailedPreconditionError(
          absl::StrCat("tallyd exited before serving: ", agent->Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("tallyd did not become ready in 30s: ", agent->Log()));
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
  // Unpins whatever this agent left: nothing of a test stays attached.
  if (!owned_pin_dir_.empty())
    std::filesystem::remove_all(owned_pin_dir_, ignored);
}

std::shared_ptr<grpc::Channel> AgentProcess::NewChannel() const {
  return grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::Agent::Stub> AgentProcess::NewStub() const {
  return v1::Agent::NewStub(NewChannel());
}

void AgentProcess::Signal(int signo) const {
  if (pid_ > 0 && !exited_) kill(pid_, signo);
}

absl::StatusOr<int> AgentProcess::WaitExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exited_ = true;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError("tallyd did not exit in time");
}

std::string AgentProcess::Log() const {
  return ReadWholeFile(dir_ + "/tallyd.log");
}

v1::StartProbeRequest GetppidProbe(const std::string& name) {
  v1::StartProbeRequest req;
  req.set_name(name);
  req.set_hook("tracepoint:syscalls:sys_enter_getppid");
  req.set_pid(getpid());
  return req;
}

std::unique_ptr<grpc::ClientContext> ContextWithDeadline(
    absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

std::set<uint32_t> HeldBpfIds(pid_t pid, const char* field) {
  std::set<uint32_t> ids;
  std::string dir = absl::StrCat("/proc/", pid, "/fdinfo");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (absl::StartsWith(line, field)) {
        uint32_t id = 0;
        if (absl::SimpleAtoi(line.substr(strlen(field)), &id)) ids.insert(id);
      }
    }
  }
  return ids;
}

}  // namespace tally::testing
