// What every tallyctl subcommand gets, and the subcommands themselves (each
// in its own file).
#ifndef TALLY_CLIENT_COMMAND_H_
#define TALLY_CLIENT_COMMAND_H_

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "client/args.h"
#include "client/channels.h"
#include "client/fanout.h"
#include "client/output.h"
#include "client/targets.h"
#include "tally/v1/agent.grpc.pb.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

struct CommandContext {
  std::vector<AgentTarget> targets;
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

// One unary RPC to target `index` with `deadline`: `rpc(stub, context)`
// returns the grpc::Status; the outcome carries `node` on success.
template <typename Rpc>
AgentOutcome CallAgent(const CommandContext& ctx, size_t index,
                       absl::Time deadline, Rpc rpc) {
  auto stub = v1::Agent::NewStub(ctx.channels.Channel(ctx.targets[index]));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  grpc::Status status = rpc(*stub, &context);
  AgentOutcome outcome;
  outcome.ok = status.ok();
  if (!status.ok()) outcome.error = DescribeStatus(status);
  return outcome;
}

// The JSON line for target `index`: agent, node and error filled in.
v1::AgentLine AgentLineFor(const CommandContext& ctx, size_t index,
                           const AgentOutcome& outcome);

// A table row for an agent that failed: node, `fill` in the middle columns,
// the error last.
std::vector<std::string> FailedRow(const AgentOutcome& outcome,
                                   size_t columns,
                                   const std::string& fill = "-");

// Parses a subcommand's arguments, printing the usage error on failure.
std::optional<ParsedArgs> ParseOrComplain(const CommandContext& ctx,
                                          const std::string& command,
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
