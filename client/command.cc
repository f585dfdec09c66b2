#include "client/command.h"

namespace tally::cli {

int Finish(const CommandContext& ctx, const std::string& stdout_text,
           const std::vector<AgentOutcome>& outcomes) {
  std::fputs(stdout_text.c_str(), ctx.out);
  std::fflush(ctx.out);
  std::fprintf(ctx.err, "%s\n", Summary(outcomes).c_str());
  return ExitCode(outcomes);
}

int UsageError(const CommandContext& ctx, const std::string& command,
               const std::string& message) {
  std::fprintf(ctx.err, "tallyctl %s: %s\n", command.c_str(), message.c_str());
  return 1;
}

}  // namespace tally::cli
