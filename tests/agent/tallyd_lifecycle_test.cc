// tallyd's life as an operator sees it: one agent per socket, a killed
// agent's leftovers never block the next, and SIGTERM always ends.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::tally::testing::AgentProcess;
using ::tally::testing::ContextWithDeadline;
using ::tally::testing::RunfilePath;
using ::testing::HasSubstr;

bool Answers(const AgentProcess& agent) {
  v1::GetInfoResponse info;
  return agent.NewStub()
      ->GetInfo(ContextWithDeadline(absl::Seconds(5)).get(), {}, &info)
      .ok();
}

std::unique_ptr<AgentProcess> StartAgent(AgentProcess::Options options) {
  auto agent = AgentProcess::Start(std::move(options));
  EXPECT_TRUE(agent.ok()) << agent.status();
  return agent.ok() ? *std::move(agent) : nullptr;
}

class TallydLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }
};

// Outside-client finding: a second tallyd on a running one's socket path
// took it over; the first kept its probes but was unreachable, and later
// unlinked the second's socket.
TEST_F(TallydLifecycleTest, SecondAgentOnTheSameSocketRefusesToStart) {
  std::unique_ptr<AgentProcess> first = StartAgent({});
  ASSERT_NE(first, nullptr);
  AgentProcess::Options second_options;
  second_options.unix_socket = false;
  second_options.wait_ready = false;
  const std::string second_pins =
      absl::StrCat("/sys/fs/bpf/tally-test-refused-", getpid());
  second_options.pin_dir = second_pins;
  second_options.args = {"--listen=" + first->address()};
  std::unique_ptr<AgentProcess> second = StartAgent(second_options);
  ASSERT_NE(second, nullptr);
  absl::StatusOr<int> code = second->WaitExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(second->Log(),
              HasSubstr(absl::StrCat("another tallyd (pid ", first->pid(),
                                     ") already serves")));
  // Refused, it leaves nothing behind (no pin directory of its own).
  EXPECT_FALSE(std::filesystem::exists(second_pins));
  std::error_code ec;
  std::filesystem::remove_all(second_pins, ec);
  second.reset();
  EXPECT_TRUE(Answers(*first));
}

TEST_F(TallydLifecycleTest, StaleSocketOfAKilledAgentDoesNotBlockARestart) {
  std::unique_ptr<AgentProcess> first = StartAgent({});
  ASSERT_NE(first, nullptr);
  const std::string address = first->address();
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->WaitExit(absl::Seconds(20)).ok());
  AgentProcess::Options options;
  options.unix_socket = false;
  options.args = {"--listen=" + address};
  std::unique_ptr<AgentProcess> second = StartAgent(options);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(Answers(*second));
}

TEST_F(TallydLifecycleTest, SecondAgentOnTheSameTcpPortRefusesToStart) {
  AgentProcess::Options options;
  options.unix_socket = false;
  options.args = {"--listen=127.0.0.1:0", "--insecure_plaintext"};
  std::unique_ptr<AgentProcess> first = StartAgent(options);
  ASSERT_NE(first, nullptr);
  options.args = {"--listen=" + first->address(), "--insecure_plaintext"};
  options.wait_ready = false;
  std::unique_ptr<AgentProcess> second = StartAgent(options);
  ASSERT_NE(second, nullptr);
  absl::StatusOr<int> code = second->WaitExit(absl::Seconds(20));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT(second->Log(), HasSubstr("cannot listen on"));
  EXPECT_TRUE(Answers(*first));
}

// Outside-client finding: with a watcher's client frozen (SIGSTOP) mid-
// stream, SIGTERM detached every probe and then never exited: gRPC waits
// forever for a write stuck behind the client's flow control.
// --shutdown_grace must bound the whole shutdown.
TEST_F(TallydLifecycleTest, SigtermEndsEvenWhenAWatchersClientIsFrozen) {
  AgentProcess::Options options;
  options.args = {"--min_interval=10ms", "--shutdown_grace=1s"};
  std::unique_ptr<AgentProcess> agent = StartAgent(options);
  ASSERT_NE(agent, nullptr);
  const std::string tallyctl = RunfilePath("client/tallyctl");
  testing::RunResult started = testing::Run(
      {tallyctl, "--agents", agent->address(), "start",
       "tracepoint:raw_syscalls:sys_enter", "--name", "busy", "--group-by",
       "pid"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  // A hundred keys make each update a few KB.
  for (int i = 0; i < 150; ++i) {
    pid_t child = fork();
    if (child == 0) _exit(getppid() > 0 ? 0 : 1);
    waitpid(child, nullptr, 0);
  }
  // tallyctl prints a JSON line per update: 100 a second at 10 ms.
  testing::Child watch({tallyctl, "--agents", agent->address(), "watch",
                        "busy", "--interval", "10ms", "--top", "100",
                        "--output", "json"});
  ASSERT_TRUE(watch.ReadLine(absl::Now() + absl::Seconds(20)).has_value())
      << watch.Stderr();
  watch.Signal(SIGSTOP);
  // At a few hundred KB a second the frozen client's socket and HTTP/2
  // windows fill in about a second; give it several.
  absl::SleepFor(absl::Seconds(5));
  agent->Signal(SIGTERM);
  absl::StatusOr<int> code = agent->WaitExit(absl::Seconds(30));
  watch.Signal(SIGKILL);
  ASSERT_TRUE(code.ok()) << "tallyd did not exit after SIGTERM: "
                         << agent->Log();
  EXPECT_EQ(*code, 0);
  // Its probes are pinned (the agent has a --pin_dir): they stay, and the
  // log says so rather than claiming they are gone.
  EXPECT_THAT(agent->Log(), HasSubstr("stopped; its probes stay pinned in"));
}

}  // namespace
}  // namespace tally
