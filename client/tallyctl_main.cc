// tallyctl: manage a fleet of tally agents.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/args.h"
#include "client/command.h"
#include "client/fd_budget.h"
#include "client/grpc_logging.h"

namespace tally::cli {
namespace {

constexpr char kUsage[] = R"(usage: tallyctl [options] COMMAND [args]

Commands:
  info                      agent version, kernel and attach kinds per node
  list                      probes on every agent (a row for an agent with none)
  status                    per probe: on how many nodes it runs, where it is
                            skipped, failed, expired or missing, and why;
                            probes files not in effect; exit 2 unless every
                            node runs what it should
  start HOOK [--name N] [--group-by pid|tgid|comm|cgroup|uid] [--pid P]
             [--cgroup ID] [--ttl DURATION] [--max-keys N]
                            start a counter on every agent
  stop NAME                 stop a probe on every agent
  watch [NAME...] [--interval DURATION] [--top N] [--for DURATION]
        [--stale-after N] [--resolve-every DURATION]
                            live merged counts: a row per node, a fleet total;
                            an agent silent for N intervals (default 3) is
                            STALE; dns: names and @FILEs are re-read every
                            DURATION (default 30s)

Options:
  --agents LIST     comma list of HOST:PORT, unix:PATH, dns:NAME:PORT, @FILE
                    (default $TALLY_AGENTS, else unix:/run/tally/tallyd.sock)
  --timeout D       per-agent deadline (default 5s)
  --parallel N      at most N agents in flight at once (default: all, as
                    far as the file descriptor limit allows)
  --output F        table or json (json lines; watch defaults to json when
                    stdout is not a terminal)
  --tls-ca FILE     CA of the agents' certificates (TCP agents use TLS when
  --tls-cert FILE   any TLS option is given); client certificate and key
  --tls-key FILE
  --tls-server-name NAME   name to verify in the agents' certificate
  --verbose         also gRPC's own log on stderr (as GRPC_VERBOSITY does)

Hooks: tracepoint:CAT:NAME rawtracepoint:NAME tp_btf:NAME kprobe:FN
       kretprobe:FN fentry:FN fexit:FN uprobe:PATH:SYM uretprobe:PATH:SYM
       syscall:NAME (the cheapest mechanism each kernel supports)

Exit status: 0 every agent ok, 2 some failed, 1 all failed or bad usage.
)";

const std::vector<OptionSpec> kGlobalOptions = {
    {"agents"},      {"timeout"},        {"parallel"}, {"output"},
    {"tls-ca"},      {"tls-cert"},       {"tls-key"},  {"tls-server-name"},
    {"help", false}, {"verbose", false},
};

// Splits argv into global options (anywhere) and the command's own words.
int Main(int argc, char** argv) {
  const absl::Time start = absl::Now();
  // Debian's Abseil checks every lock order at run time (a debug aid); with
  // thousands of agents' events that is a few percent of a CPU for nothing:
  // the thread-safety annotations are checked at compile time instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Before anything opens a file: a large fleet needs many descriptors.
  const FdBudget fds = RaiseFdLimit();
  std::vector<std::string> words(argv + 1, argv + argc);
  // Global options may appear before or after the command; peel them off
  // so the command sees only its own.
  std::vector<std::string> global_args, command_args;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    bool is_global = false;
    for (const OptionSpec& o : kGlobalOptions) {
      std::string dashed = "--" + o.name;
      std::string underscored = dashed;
      for (char& c : underscored) c = c == '-' ? '_' : c;
      underscored[0] = underscored[1] = '-';
      for (const std::string& form : {dashed, underscored}) {
        if (w == form || w.rfind(form + "=", 0) == 0) is_global = true;
      }
      if (is_global) {
        global_args.push_back(w);
        if (o.takes_value && w.find('=') == std::string::npos &&
            i + 1 < words.size()) {
          global_args.push_back(words[++i]);
        }
        break;
      }
    }
    if (!is_global) command_args.push_back(w);
  }

  CommandContext ctx;
  ctx.start = start;
  absl::StatusOr<ParsedArgs> global = ParseArgs(global_args, kGlobalOptions);
  if (!global.ok()) {
    std::fprintf(stderr, "tallyctl: %s\n%s",
                 std::string(global.status().message()).c_str(), kUsage);
    return 1;
  }
  if (global->Has("help") || command_args.empty() ||
      command_args[0] == "help") {
    std::fputs(kUsage,
               global->Has("help") || !command_args.empty() ? stdout : stderr);
    return command_args.empty() && !global->Has("help") ? 1 : 0;
  }
  ConfigureGrpcLogging(global->Has("verbose"));

  const char* env = std::getenv("TALLY_AGENTS");
  std::string agents = global->Get(
      "agents", env != nullptr && *env ? std::string(env) : kDefaultAgent);
  ctx.agents_spec = agents;
  absl::StatusOr<std::vector<AgentTarget>> targets = ParseAgents(agents);
  if (!targets.ok()) {
    std::fprintf(stderr, "tallyctl: --agents: %s\n",
                 std::string(targets.status().message()).c_str());
    return 1;
  }
  ctx.targets = *std::move(targets);

  absl::StatusOr<absl::Duration> timeout =
      global->GetDuration("timeout", absl::Seconds(5));
  absl::StatusOr<uint64_t> parallel = global->GetUint("parallel", 0, 1'000'000);
  for (const absl::Status& s : {timeout.status(), parallel.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "tallyctl: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  if (global->Has("parallel") && *parallel == 0) {
    std::fprintf(stderr, "tallyctl: --parallel must be at least 1\n");
    return 1;
  }
  ctx.fanout.timeout = *timeout;
  ctx.fanout.parallel = static_cast<size_t>(*parallel);
  ctx.fanout.progress = isatty(STDERR_FILENO) && ctx.targets.size() > 8;
  ctx.stdout_is_tty = isatty(STDOUT_FILENO);

  std::string output = global->Get("output", "table");
  if (output == "json") {
    ctx.output = OutputFormat::kJson;
  } else if (output != "table") {
    std::fprintf(stderr, "tallyctl: --output is table or json, not '%s'\n",
                 output.c_str());
    return 1;
  }
  ctx.output_given = global->Has("output");

  TlsOptions tls{global->Get("tls-ca"), global->Get("tls-cert"),
                 global->Get("tls-key"), global->Get("tls-server-name")};
  absl::StatusOr<ChannelFactory> channels = ChannelFactory::Create(tls);
  if (!channels.ok()) {
    std::fprintf(stderr, "tallyctl: %s\n",
                 std::string(channels.status().message()).c_str());
    return 1;
  }
  ctx.channels = *std::move(channels);

  // Within the file descriptor limit: fan-outs call in waves, a watch
  // connects as many as fit; either way, say so now rather than let agents
  // fail one by one with "Too many open files".
  const size_t per_agent = ctx.channels.fds_per_agent();
  ctx.max_connections = std::max<size_t>(1, fds.Fits(per_agent));
  if (ctx.fanout.parallel == 0 || ctx.fanout.parallel > ctx.max_connections) {
    ctx.fanout.parallel = ctx.max_connections;
  }
  if (std::string warning = fds.Warning(ctx.targets.size(), per_agent);
      !warning.empty()) {
    std::fprintf(stderr, "tallyctl: warning: %s\n", warning.c_str());
  }

  const std::string command = command_args[0];
  std::vector<std::string> args(command_args.begin() + 1, command_args.end());
  if (command == "info") return RunInfo(ctx, args);
  if (command == "list") return RunList(ctx, args);
  if (command == "status") return RunStatus(ctx, args);
  if (command == "start") return RunStart(ctx, args);
  if (command == "stop") return RunStop(ctx, args);
  if (command == "watch") return RunWatch(ctx, args);
  std::fprintf(stderr,
               "tallyctl: unknown command '%s'; commands are info, list, "
               "start, status, stop, watch (see tallyctl --help)\n",
               command.c_str());
  return 1;
}

}  // namespace
}  // namespace tally::cli

int main(int argc, char** argv) { return tally::cli::Main(argc, argv); }
