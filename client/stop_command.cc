// tallyctl stop NAME: detach a probe on every agent.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/command.h"
#include "client/probe_format.h"
#include "common/probe_name.h"

namespace tally::cli {

int RunStop(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed = ParseOrComplain(ctx, "stop", args, {});
  if (!parsed) return 1;
  if (parsed->positional.size() != 1) {
    return UsageError(ctx, "stop", "expected exactly one probe NAME");
  }
  if (absl::Status s = ValidateProbeName(parsed->positional[0]); !s.ok()) {
    return UsageError(ctx, "stop", std::string(s.message()));
  }
  v1::StopProbeRequest request;
  request.set_name(parsed->positional[0]);

  std::vector<v1::StopProbeResponse> responses;
  std::vector<AgentOutcome> outcomes =
      CallEveryAgent(ctx, &AsyncAgent::StopProbe, request, &responses);

  std::string text;
  Table table(ProbeHeader());
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    if (ctx.output == OutputFormat::kJson) {
      v1::AgentLine line = AgentLineFor(ctx, i, outcomes[i]);
      if (outcomes[i].ok) *line.mutable_probe() = responses[i].probe();
      absl::StrAppend(&text, JsonLine(line), "\n");
      continue;
    }
    if (!outcomes[i].ok) {
      table.AddRow(
          FailedRow(outcomes[i], ProbeHeader().size(), request.name()));
      continue;
    }
    table.AddRow(
        ProbeRow(responses[i].node(), responses[i].probe(), absl::Now()));
  }
  if (ctx.output == OutputFormat::kTable) text = table.Render();
  return Finish(ctx, text, outcomes);
}

}  // namespace tally::cli
