// tallyctl watch [NAME...]: live merged counts from every agent.
#include <atomic>
#include <csignal>

#include "client/command.h"
#include "client/fleet_watch.h"
#include "common/probe_name.h"

namespace tally::cli {
namespace {

std::atomic<bool> interrupted{false};

const std::vector<OptionSpec> kOptions = {
    {"interval"}, {"top"}, {"for"}, {"stale-after"}, {"resolve-every"},
};

}  // namespace

int RunWatch(const CommandContext& ctx, const std::vector<std::string>& args) {
  std::optional<ParsedArgs> parsed =
      ParseOrComplain(ctx, "watch", args, kOptions);
  if (!parsed) return 1;
  WatchOptions options;
  options.probes = parsed->positional;
  // Every agent would refuse a malformed name: say so before connecting.
  for (const std::string& name : options.probes) {
    if (absl::Status s = ValidateProbeName(name); !s.ok()) {
      return UsageError(ctx, "watch", std::string(s.message()));
    }
  }
  absl::StatusOr<absl::Duration> interval =
      parsed->GetDuration("interval", absl::Seconds(1));
  absl::StatusOr<uint64_t> top = parsed->GetUint("top", 0, 100);
  absl::StatusOr<absl::Duration> duration =
      parsed->GetDuration("for", absl::InfiniteDuration());
  absl::StatusOr<uint64_t> stale_after =
      parsed->GetUint("stale-after", 3, 1000);
  absl::StatusOr<absl::Duration> resolve_every =
      parsed->GetDuration("resolve-every", absl::Seconds(30));
  for (const absl::Status& s :
       {interval.status(), top.status(), duration.status(),
        stale_after.status(), resolve_every.status()}) {
    if (!s.ok()) return UsageError(ctx, "watch", std::string(s.message()));
  }
  if (*stale_after == 0) {
    return UsageError(ctx, "watch", "--stale-after must be at least 1");
  }
  options.interval = *interval;
  options.top_n = static_cast<uint32_t>(*top);
  options.duration = *duration;
  options.stale_after = static_cast<int>(*stale_after);
  options.resolve_every = *resolve_every;

  // Programs reading a pipe get JSON lines unless they ask for the table.
  CommandContext watch_ctx = ctx;
  if (!ctx.output_given && !ctx.stdout_is_tty)
    watch_ctx.output = OutputFormat::kJson;
  options.live = ctx.stdout_is_tty && watch_ctx.output == OutputFormat::kTable;

  std::signal(SIGINT, [](int) { interrupted = true; });
  std::signal(SIGTERM, [](int) { interrupted = true; });
  FleetWatch watch(watch_ctx, options);
  return watch.Run(interrupted);
}

}  // namespace tally::cli
