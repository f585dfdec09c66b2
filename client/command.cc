#include "client/command.h"

namespace tally::cli {

int Finish(const CommandContext& ctx, const std::string& stdout_text,
           const std::vector<AgentOutcome>& outcomes) {
  std::fputs(stdout_text.c_str(), ctx.out);
  std::fflush(ctx.out);
  std::fprintf(ctx.err, "%s\n", Summary(outcomes).c_str());
  return ExitCode(outcomes);
}

v1::AgentLine AgentLineFor(const CommandContext& ctx, size_t index,
                           const AgentOutcome& outcome) {
  v1::AgentLine line;
  line.set_agent(ctx.targets[index].label);
  line.set_node(outcome.node);
  line.set_error(outcome.error);
  return line;
}

std::vector<std::string> FailedRow(const AgentOutcome& outcome, size_t columns,
                                   const std::string& fill) {
  std::vector<std::string> row(columns, "-");
  row.front() = outcome.node;
  if (columns > 2) row[1] = fill;
  row.back() = outcome.error;
  return row;
}

std::optional<ParsedArgs> ParseOrComplain(
    const CommandContext& ctx, const std::string& command,
    const std::vector<std::string>& args,
    const std::vector<OptionSpec>& options) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, options);
  if (!parsed.ok()) {
    UsageError(ctx, command, std::string(parsed.status().message()));
    return std::nullopt;
  }
  return *std::move(parsed);
}

int UsageError(const CommandContext& ctx, const std::string& command,
               const std::string& message) {
  std::fprintf(ctx.err, "tallyctl %s: %s\n", command.c_str(), message.c_str());
  return 1;
}

}  // namespace tally::cli
