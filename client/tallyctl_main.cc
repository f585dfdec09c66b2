// tallyctl: manage a fleet of tally agents.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/args.h"
#include "client/command.h"

namespace tally::cli {
namespace {

constexpr char kUsage[] = R"(usage: tallyctl [options] COMMAND [args]

Commands:
  info                      agent version, kernel and attach kinds per node
  list                      probes on every agent
  start HOOK [--name N] [--group-by pid|tgid|comm|cgroup|uid] [--pid P]
             [--cgroup ID] [--ttl DURATION] [--max-keys N]
                            start a counter on every agent
  stop NAME                 stop a probe on every agent
  watch [NAME...] [--interval DURATION] [--top N] [--for DURATION]
                            live merged counts: a row per node, a fleet total

Options:
  --agents LIST     comma list of HOST:PORT, unix:PATH, dns:NAME:PORT, @FILE
                    (default $TALLY_AGENTS, else unix:/run/tally/tallyd.sock)
  --timeout D       per-agent deadline (default 5s)
  --parallel N      agents called at once (default 32)
  --output F        table or json (json lines; watch defaults to json when
                    stdout is not a terminal)
  --tls-ca FILE     CA of the agents' certificates (TCP agents use TLS when
  --tls-cert FILE   any TLS option is given); client certificate and key
  --tls-key FILE
  --tls-server-name NAME   name to verify in the agents' certificate

Hooks: tracepoint:CAT:NAME rawtracepoint:NAME tp_btf:NAME kprobe:FN
       kretprobe:FN fentry:FN fexit:FN uprobe:PATH:SYM uretprobe:PATH:SYM
       syscall:NAME (the cheapest mechanism each kernel supports)

Exit status: 0 every agent ok, 2 some failed, 1 all failed or bad usage.
)";

const std::vector<OptionSpec> kGlobalOptions = {
    {"agents"},   {"timeout"}, {"parallel"},        {"output"},      {"tls-ca"},
    {"tls-cert"}, {"tls-key"}, {"tls-server-name"}, {"help", false},
};

// Splits argv into global options (anywhere) and the command's own words.
int Main(int argc, char** argv) {
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

  const char* env = std::getenv("TALLY_AGENTS");
  std::string agents = global->Get(
      "agents", env != nullptr && *env ? std::string(env) : kDefaultAgent);
  absl::StatusOr<std::vector<AgentTarget>> targets = ParseAgents(agents);
  if (!targets.ok()) {
    std::fprintf(stderr, "tallyctl: --agents: %s\n",
                 std::string(targets.status().message()).c_str());
    return 1;
  }
  ctx.targets = *std::move(targets);

  absl::StatusOr<absl::Duration> timeout =
      global->GetDuration("timeout", absl::Seconds(5));
  absl::StatusOr<uint64_t> parallel = global->GetUint("parallel", 32, 4096);
  for (const absl::Status& s : {timeout.status(), parallel.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "tallyctl: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  if (*parallel == 0) {
    std::fprintf(stderr, "tallyctl: --parallel must be at least 1\n");
    return 1;
  }
  ctx.fanout.timeout = *timeout;
  ctx.fanout.parallel = static_cast<int>(*parallel);
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

  const std::string command = command_args[0];
  std::vector<std::string> args(command_args.begin() + 1, command_args.end());
  if (command == "info") return RunInfo(ctx, args);
  if (command == "list") return RunList(ctx, args);
  if (command == "start") return RunStart(ctx, args);
  if (command == "stop") return RunStop(ctx, args);
  if (command == "watch") return RunWatch(ctx, args);
  std::fprintf(stderr,
               "tallyctl: unknown command '%s'; commands are info, list, "
               "start, stop, watch (see tallyctl --help)\n",
               command.c_str());
  return 1;
}

}  // namespace
}  // namespace tally::cli

int main(int argc, char** argv) { return tally::cli::Main(argc, argv); }
