// tallyctl start HOOK: load and attach a counter on every agent.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/command.h"
#include "client/probe_format.h"
#include "common/api_convert.h"
#include "common/group_by.h"
#include "common/hook_spec.h"

namespace tally::cli {
namespace {

const std::vector<OptionSpec> kOptions = {
    {"name"}, {"group-by"}, {"pid"}, {"cgroup"}, {"ttl"}, {"max-keys"},
};

}  // namespace

int RunStart(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed =
      ParseOrComplain(ctx, "start", args, kOptions);
  if (!parsed) return 1;
  if (parsed->positional.size() != 1) {
    return UsageError(ctx, "start",
                      "expected exactly one HOOK, e.g. syscall:execve or "
                      "tracepoint:sched:sched_process_exec");
  }
  // Check the syntax here once rather than getting N identical errors.
  absl::StatusOr<HookSpec> hook = ParseHookSpec(parsed->positional[0]);
  if (!hook.ok())
    return UsageError(ctx, "start", std::string(hook.status().message()));
  absl::StatusOr<GroupBy> group_by = ParseGroupBy(parsed->Get("group-by"));
  if (!group_by.ok()) {
    return UsageError(ctx, "start", std::string(group_by.status().message()));
  }
  absl::StatusOr<uint64_t> pid = parsed->GetUint("pid", 0, UINT32_MAX);
  absl::StatusOr<uint64_t> cgroup = parsed->GetUint("cgroup", 0, UINT64_MAX);
  absl::StatusOr<uint64_t> max_keys =
      parsed->GetUint("max-keys", 0, UINT32_MAX);
  absl::StatusOr<absl::Duration> ttl =
      parsed->GetDuration("ttl", absl::ZeroDuration());
  for (const absl::Status& s :
       {pid.status(), cgroup.status(), max_keys.status(), ttl.status()}) {
    if (!s.ok()) return UsageError(ctx, "start", std::string(s.message()));
  }

  v1::StartProbeRequest request;
  request.set_hook(hook->ToSpec());
  request.set_name(parsed->Get("name"));
  request.set_group_by(ToProto(*group_by));
  request.set_pid(static_cast<uint32_t>(*pid));
  request.set_cgroup_id(*cgroup);
  request.set_max_keys(static_cast<uint32_t>(*max_keys));
  if (*ttl > absl::ZeroDuration()) ToProto(*ttl, request.mutable_ttl());

  std::vector<v1::StartProbeResponse> responses;
  std::vector<AgentOutcome> outcomes =
      CallEveryAgent(ctx, &AsyncAgent::StartProbe, request, &responses);

  std::string text;
  std::vector<std::string> header = ProbeHeader();
  header.insert(header.begin() + 2, "CREATED");
  Table table(header);
  for (size_t i = 0; i < ctx.targets.size(); ++i) {
    const v1::StartProbeResponse& r = responses[i];
    if (ctx.output == OutputFormat::kJson) {
      v1::AgentLine line = AgentLineFor(ctx, i, outcomes[i]);
      if (outcomes[i].ok) {
        *line.mutable_probe() = r.probe();
        line.set_created(r.created());
      }
      absl::StrAppend(&text, JsonLine(line), "\n");
      continue;
    }
    if (!outcomes[i].ok) {
      table.AddRow(FailedRow(outcomes[i], header.size()));
      continue;
    }
    std::vector<std::string> row = ProbeRow(r.node(), r.probe(), absl::Now());
    row.insert(row.begin() + 2, r.created() ? "yes" : "already running");
    table.AddRow(row);
  }
  if (ctx.output == OutputFormat::kTable) text = table.Render();
  return Finish(ctx, text, outcomes);
}

}  // namespace tally::cli
