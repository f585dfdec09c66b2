// What every tallyctl subcommand gets, and the subcommands themselves (each
// in its own file).
#ifndef TALLY_CLIENT_COMMAND_H_
#define TALLY_CLIENT_COMMAND_H_

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/args.h"
#include "client/channels.h"
#include "client/fanout.h"
#include "client/outcome.h"
#include "client/output.h"
#include "client/targets.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

struct CommandContext {
  // When tallyctl started: --for counts from here.
  absl::Time start = absl::Now();
  // --agents as given, for re-resolving during a watch.
  std::string agents_spec;
  std::vector<AgentTarget> targets;
  // Agent connections that fit the file descriptor limit at once.
  size_t max_connections = SIZE_MAX;
  FanoutOptions fanout;
  OutputFormat output = OutputFormat::kTable;
  bool output_given = false;  // --output was passed explicitly
  bool stdout_is_tty = false;
  ChannelFactory channels;
  FILE* out = stdout;
  FILE* err = stderr;
};

// Each returns the process exit status: 0 all agents ok, 2 some failed,
// 1 all failed or bad usage (after saying what is wrong on stderr).
int RunInfo(const CommandContext& ctx, const std::vector<std::string>& args);
int RunList(const CommandContext& ctx, const std::vector<std::string>& args);
int RunStart(const CommandContext& ctx, const std::vector<std::string>& args);
int RunStop(const CommandContext& ctx, const std::vector<std::string>& args);
int RunWatch(const CommandContext& ctx, const std::vector<std::string>& args);
int RunStatus(const CommandContext& ctx, const std::vector<std::string>& args);

using AsyncAgent = v1::Agent::StubInterface::async_interface;

// The state of one unary call while it is in flight.
struct AgentCall {
  AgentConnection connection;
  std::unique_ptr<v1::Agent::Stub> stub;
  grpc::ClientContext context;
};

// Starts one unary RPC to target `index` for FanOut: `method` is the
// stub's async method (e.g. &AsyncAgent::ListProbes); `request` and
// `response` must outlive the fan-out. The agent has --timeout from when its
// connection is ready (tallyctl's own queueing is not held against it).
template <typename Request, typename Response>
std::shared_ptr<void> StartAgentCall(
    const CommandContext& ctx, size_t index,
    void (AsyncAgent::*method)(grpc::ClientContext*, const Request*, Response*,
                               std::function<void(grpc::Status)>),
    const Request* request, Response* response, CallDone done) {
  auto call = std::make_shared<AgentCall>();
  call->connection =
      ctx.channels.Connect(ctx.targets[index], ctx.fanout.timeout);
  if (call->connection.channel != nullptr) {
    call->stub = v1::Agent::NewStub(call->connection.channel);
  }
  AgentCall* raw = call.get();
  const ChannelFactory* channels = &ctx.channels;
  const absl::Duration timeout = ctx.fanout.timeout;
  raw->connection.WhenReady([=](bool ready) {
    auto finish = [raw, channels, done](const grpc::Status& status) {
      AgentOutcome outcome;
      outcome.ok = status.ok();
      if (!status.ok()) {
        outcome.error = channels->Describe(status, raw->connection);
        // No socket for it yet: the calls that just ended give theirs
        // back a moment after.
        outcome.retry =
            raw->connection.error.code() ==
                absl::StatusCode::kResourceExhausted ||
            absl::StrContains(status.error_message(), "Too many open files");
      }
      done(std::move(outcome));
    };
    if (!ready) {
      return finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not ready"));
    }
    raw->context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    (raw->stub->async()->*method)(&raw->context, request, response, finish);
  });
  return call;
}

// Calls `method` on every target at once; (*responses)[i] is target i's
// answer, whose node names the outcome.
template <typename Request, typename Response>
std::vector<AgentOutcome> CallEveryAgent(
    const CommandContext& ctx,
    void (AsyncAgent::*method)(grpc::ClientContext*, const Request*, Response*,
                               std::function<void(grpc::Status)>),
    const Request& request, std::vector<Response>* responses) {
  responses->assign(ctx.targets.size(), Response());
  std::vector<AgentOutcome> outcomes =
      FanOut(ctx.targets, ctx.fanout, [&](size_t i, CallDone done) {
        return StartAgentCall(ctx, i, method, &request, &(*responses)[i],
                              std::move(done));
      });
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].ok && !(*responses)[i].node().empty()) {
      outcomes[i].node = (*responses)[i].node();
    }
  }
  return outcomes;
}

// The JSON line for target `index`: agent, node and error filled in.
v1::AgentLine AgentLineFor(const CommandContext& ctx, size_t index,
                           const AgentOutcome& outcome);

// A table row for an agent that failed: node, `fill` in the middle columns,
// the error last.
std::vector<std::string> FailedRow(const AgentOutcome& outcome, size_t columns,
                                   const std::string& fill = "-");

// Parses a subcommand's arguments, printing the usage error on failure.
std::optional<ParsedArgs> ParseOrComplain(
    const CommandContext& ctx, const std::string& command,
    const std::vector<std::string>& args,
    const std::vector<OptionSpec>& options);

// Prints per-agent lines, already rendered, then the summary on stderr, and
// returns the exit status.
int Finish(const CommandContext& ctx, const std::string& stdout_text,
           const std::vector<AgentOutcome>& outcomes);

// Prints "tallyctl CMD: message" and returns 1.
int UsageError(const CommandContext& ctx, const std::string& command,
               const std::string& message);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_COMMAND_H_
