// tallyctl info: agent version, kernel and which attach kinds work, per node;
// under the table, nodes whose probes file is not in effect, and why.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command.h"
#include "client/probes_file_format.h"

namespace tally::cli {

int RunInfo(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed = ParseOrComplain(ctx, "info", args, {});
  if (!parsed) return 1;
  if (!parsed->positional.empty()) {
    return UsageError(ctx, "info", "takes no arguments");
  }
  const v1::GetInfoRequest request;
  std::vector<v1::GetInfoResponse> infos;
  std::vector<AgentOutcome> outcomes =
      CallEveryAgent(ctx, &AsyncAgent::GetInfo, request, &infos);

  std::string text;
  Table table({"NODE", "AGENT", "VERSION", "KERNEL", "WORKS HERE"});
  std::string file_errors;
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    const v1::GetInfoResponse& info = infos[i];
    if (ctx.output == OutputFormat::kJson) {
      v1::AgentLine line = AgentLineFor(ctx, i, outcomes[i]);
      if (outcomes[i].ok) *line.mutable_info() = info;
      absl::StrAppend(&text, JsonLine(line), "\n");
      continue;
    }
    if (!outcomes[i].ok) {
      table.AddRow(FailedRow(outcomes[i], 5, ctx.targets[i].label));
      continue;
    }
    std::vector<std::string> kinds;
    for (const auto& k : info.attach_kinds()) {
      if (k.supported()) kinds.push_back(k.kind());
    }
    table.AddRow({info.node(), ctx.targets[i].label, info.agent_version(),
                  info.kernel_release(), absl::StrJoin(kinds, ",")});
    absl::StrAppend(&file_errors, ProbesFileErrorLine(
                                      info.node(), info.probes_file().error()));
  }
  if (ctx.output == OutputFormat::kTable) text = table.Render() + file_errors;
  return Finish(ctx, text, outcomes);
}

}  // namespace tally::cli
