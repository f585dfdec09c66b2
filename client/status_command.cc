// tallyctl status: the fleet roll-up of every probe: on how many nodes it
// runs, where it is skipped, failed, expired or missing and why; nodes
// whose probes file is not in effect; unreachable agents apart.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/command.h"
#include "client/probes_file_format.h"
#include "client/status_rollup.h"

namespace tally::cli {
namespace {

constexpr size_t kReasonChars = 90;
constexpr size_t kNodesShown = 3;

std::string Short(const std::string& s) {
  return s.size() <= kReasonChars ? s : s.substr(0, kReasonChars) + "...";
}

std::string StateWord(v1::ProbeState state) {
  switch (state) {
    case v1::PROBE_STATE_SKIPPED:
      return "skipped";
    case v1::PROBE_STATE_FAILED:
      return "failed";
    case v1::PROBE_STATE_EXPIRED:
      return "expired";
    case v1::PROBE_STATE_UNSPECIFIED:
      return "missing";
    default:
      return "not running";
  }
}

}  // namespace

int RunStatus(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed = ParseOrComplain(ctx, "status", args, {});
  if (!parsed) return 1;
  if (!parsed->positional.empty()) {
    return UsageError(ctx, "status", "takes no arguments");
  }
  std::vector<v1::GetInfoResponse> infos;
  std::vector<AgentOutcome> info_outcomes =
      CallEveryAgent(ctx, &AsyncAgent::GetInfo, v1::GetInfoRequest(), &infos);
  // Only agents that answered are asked again: a hung agent costs one
  // --timeout, not one per call.
  std::vector<size_t> answered;
  std::vector<AgentTarget> answered_targets;
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    if (!info_outcomes[i].ok) continue;
    answered.push_back(i);
    answered_targets.push_back(ctx.targets[i]);
  }
  const v1::ListProbesRequest list_request;
  std::vector<v1::ListProbesResponse> lists(ctx.targets.size());
  std::vector<AgentOutcome> list_outcomes =
      FanOut(answered_targets, ctx.fanout, [&](size_t j, CallDone done) {
        const size_t i = answered[j];
        return StartAgentCall(ctx, i, &AsyncAgent::ListProbes, &list_request,
                              &lists[i], std::move(done));
      });
  std::vector<AgentOutcome> outcomes = info_outcomes;
  for (size_t j = 0; j < answered.size(); ++j) {
    AgentOutcome& o = outcomes[answered[j]];
    const std::string node = o.node;  // as GetInfo reported it
    o = list_outcomes[j];
    o.node = node;
  }

  std::vector<NodeReport> reports(ctx.targets.size());
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    // An agent that missed either call is unreachable for this roll-up.
    NodeReport& r = reports[i];
    r.agent = ctx.targets[i].label;
    r.node = infos[i].node().empty() ? r.agent : infos[i].node();
    if (!outcomes[i].ok) {
      r.error = outcomes[i].error;
      continue;
    }
    r.info = infos[i];
    r.probes = lists[i];
  }
  std::vector<v1::StatusLine> lines = RollUp(reports);

  std::string text;
  int not_converged = 0;
  Table table({"PROBE", "DECLARED IN", "RUNNING", "SKIPPED", "FAILED",
               "EXPIRED", "MISSING", "WHERE NOT, AND WHY"});
  std::string file_errors;
  const size_t reachable = static_cast<size_t>(
      std::count_if(reports.begin(), reports.end(),
                    [](const NodeReport& r) { return r.error.empty(); }));
  for (const v1::StatusLine& line : lines) {
    if (line.kind() == v1::StatusLine::PROBE) {
      // A probe started through the API on some nodes only is not a
      // divergence; a declared one missing somewhere is.
      const uint32_t missing = line.origin().empty() ? 0 : line.missing();
      if (line.failed() + missing > 0) ++not_converged;
    } else if (line.kind() == v1::StatusLine::FILE_ERROR) {
      ++not_converged;
    }
    if (ctx.output == OutputFormat::kJson) {
      absl::StrAppend(&text, JsonLine(line), "\n");
      continue;
    }
    if (line.kind() == v1::StatusLine::FILE_ERROR) {
      absl::StrAppend(&file_errors,
                      ProbesFileErrorLine(line.node(), line.error()));
      continue;
    }
    if (line.kind() != v1::StatusLine::PROBE) continue;  // in the summary
    std::vector<std::string> why;
    for (int i = 0; i < line.not_running_size(); ++i) {
      if (why.size() == kNodesShown) {
        why.push_back(
            absl::StrCat("+", line.not_running_size() - kNodesShown, " more"));
        break;
      }
      const v1::NodeProbeState& n = line.not_running(i);
      why.push_back(absl::StrCat(n.node(), ": ", StateWord(n.state()),
                                 n.reason().empty() ? "" : ": ",
                                 Short(n.reason())));
    }
    table.AddRow({line.probe(), line.origin().empty() ? "-" : line.origin(),
                  absl::StrCat(line.running(), "/", reachable),
                  absl::StrCat(line.skipped()), absl::StrCat(line.failed()),
                  absl::StrCat(line.expired()), absl::StrCat(line.missing()),
                  why.empty() ? "-" : absl::StrJoin(why, "; ")});
  }
  if (ctx.output == OutputFormat::kTable) {
    text = table.empty() ? "no probe on any reachable agent\n" : table.Render();
    absl::StrAppend(&text, file_errors);
  }
  int code = Finish(ctx, text, outcomes);
  if (code == 0 && not_converged > 0) {
    std::fprintf(ctx.err,
                 "tallyctl status: not converged: %d probe(s) failed or "
                 "missing somewhere, or probes files not in effect\n",
                 not_converged);
    return 2;
  }
  return code;
}

}  // namespace tally::cli
