// tallyctl list: every probe on every agent.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/command.h"
#include "client/probe_format.h"

namespace tally::cli {

int RunList(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed = ParseOrComplain(ctx, "list", args, {});
  if (!parsed) return 1;
  if (!parsed->positional.empty()) {
    return UsageError(ctx, "list", "takes no arguments");
  }
  const v1::ListProbesRequest request;
  std::vector<v1::ListProbesResponse> lists;
  std::vector<AgentOutcome> outcomes =
      CallEveryAgent(ctx, &AsyncAgent::ListProbes, request, &lists);

  std::string text;
  // What each probe costs, beside what list always showed; last, why a
  // probe does not run (or why an agent did not answer).
  std::vector<std::string> header = ProbeHeader();
  for (std::string& column : CostHeader()) header.push_back(std::move(column));
  header.push_back(ReasonHeader());
  Table table(header);
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    if (ctx.output == OutputFormat::kJson) {
      v1::AgentLine line = AgentLineFor(ctx, i, outcomes[i]);
      if (!outcomes[i].ok) {
        absl::StrAppend(&text, JsonLine(line), "\n");
        continue;
      }
      // An agent with no probe still gets a line: up, and empty.
      if (lists[i].probes().empty()) {
        absl::StrAppend(&text, JsonLine(line), "\n");
      }
      for (const v1::Probe& probe : lists[i].probes()) {
        *line.mutable_probe() = probe;
        absl::StrAppend(&text, JsonLine(line), "\n");
      }
      continue;
    }
    if (!outcomes[i].ok) {
      table.AddRow(FailedRow(outcomes[i], header.size()));
      continue;
    }
    if (lists[i].probes().empty()) {
      // An empty node is visible, not absent from the listing.
      std::vector<std::string> row =
          FailedRow(outcomes[i], header.size(), "(no probes)");
      row.back() = "-";
      table.AddRow(row);
      continue;
    }
    for (const v1::Probe& probe : lists[i].probes()) {
      const absl::Time now = absl::Now();
      std::vector<std::string> row = ProbeRow(outcomes[i].node, probe, now);
      for (std::string& cell : CostCells(probe, now)) {
        row.push_back(std::move(cell));
      }
      row.push_back(ReasonCell(probe));
      table.AddRow(std::move(row));
    }
  }
  if (ctx.output == OutputFormat::kTable) text = table.Render();
  return Finish(ctx, text, outcomes);
}

}  // namespace tally::cli
