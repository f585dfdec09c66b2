// tallyctl list: every probe on every agent.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/command.h"
#include "client/probe_format.h"
#include "tally/v1/cli_output.pb.h"

namespace tally::cli {

int RunList(const CommandContext& ctx, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedArgs> parsed = ParseArgs(args, {});
  if (!parsed.ok()) return UsageError(ctx, "list", std::string(parsed.status().message()));
  if (!parsed->positional.empty()) {
    return UsageError(ctx, "list", "takes no arguments");
  }
  std::vector<v1::ListProbesResponse> lists(ctx.targets.size());
  std::vector<AgentOutcome> outcomes =
      FanOut(ctx.targets, ctx.fanout, [&](size_t i, absl::Time deadline) {
        AgentOutcome o = CallAgent(ctx, i, deadline, [&](auto& stub, auto* c) {
          return stub.ListProbes(c, v1::ListProbesRequest(), &lists[i]);
        });
        o.node = lists[i].node();
        return o;
      });

  std::string text;
  Table table(ProbeHeader());
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    if (ctx.output == OutputFormat::kJson) {
      v1::AgentLine line;
      line.set_agent(ctx.targets[i].label);
      line.set_node(outcomes[i].node);
      line.set_error(outcomes[i].error);
      if (!outcomes[i].ok) {
        absl::StrAppend(&text, JsonLine(line), "\n");
        continue;
      }
      for (const v1::Probe& probe : lists[i].probes()) {
        *line.mutable_probe() = probe;
        absl::StrAppend(&text, JsonLine(line), "\n");
      }
      continue;
    }
    if (!outcomes[i].ok) {
      table.AddRow({outcomes[i].node, "-", "-", "-", "-", "-", "-",
                    outcomes[i].error});
      continue;
    }
    for (const v1::Probe& probe : lists[i].probes()) {
      table.AddRow(ProbeRow(outcomes[i].node, probe, absl::Now()));
    }
  }
  if (ctx.output == OutputFormat::kTable) text = table.Render();
  return Finish(ctx, text, outcomes);
}

}  // namespace tally::cli
