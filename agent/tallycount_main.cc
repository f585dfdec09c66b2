// tallycount: count one hook on this machine for a while, without an agent.
//
//   tallycount [--for=5s] [--interval=1s] [--group_by=comm] [--top=10] HOOK
//
// The probe library end to end (parse, resolve, load, attach, read, detach);
// handy on a node where tallyd is not running, and the demo before tallyd.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/probe/feature_probe.h"
#include "agent/probe/kernel_probe_store.h"
#include "agent/probe/libbpf_logging.h"
#include "common/group_by.h"
#include "common/hook_spec.h"
#include "glog/logging.h"

ABSL_FLAG(absl::Duration, for, absl::Seconds(5), "how long to count");
ABSL_FLAG(absl::Duration, interval, absl::Seconds(1), "print every interval");
ABSL_FLAG(std::string, group_by, "", "pid, tgid, comm, cgroup or uid");
ABSL_FLAG(int, top, 5, "keys to print per interval when grouping");
ABSL_FLAG(uint32_t, pid, 0, "count only this process (tgid)");

namespace tally {
namespace {

volatile std::sig_atomic_t stop_requested = 0;

int Run(const std::string& hook) {
  absl::StatusOr<HookSpec> spec = ParseHookSpec(hook);
  if (!spec.ok()) {
    std::fprintf(stderr, "tallycount: %s\n", spec.status().ToString().c_str());
    return 1;
  }
  CounterOptions options;
  options.tgid = absl::GetFlag(FLAGS_pid);
  absl::StatusOr<GroupBy> group_by =
      ParseGroupBy(absl::GetFlag(FLAGS_group_by));
  if (!group_by.ok()) {
    std::fprintf(stderr, "tallycount: %s\n",
                 group_by.status().ToString().c_str());
    return 1;
  }
  options.group_by = *group_by;

  KernelFeatures features = ProbeKernelFeatures();
  KernelProbeStore store(&features);  // not durable: ends with tallycount
  ProbeRecord record;
  record.name = "tallycount";
  record.options = options;
  absl::StatusOr<OpenedCounter> probe = store.Open(*spec, &record);
  if (!probe.ok()) {
    std::fprintf(stderr, "tallycount: %s\n", probe.status().ToString().c_str());
    return 1;
  }
  std::printf("counting %s via %s%s%s on %s\n", hook.c_str(),
              probe->attached.ToSpec().c_str(), probe->note.empty() ? "" : ": ",
              probe->note.c_str(), features.release.c_str());
  std::fflush(stdout);

  const absl::Time deadline = absl::Now() + absl::GetFlag(FLAGS_for);
  const absl::Time start = absl::Now();
  uint64_t last = 0;
  while (!stop_requested) {
    absl::Time now = absl::Now();
    absl::Time next = std::min(deadline, now + absl::GetFlag(FLAGS_interval));
    absl::SleepFor(next - now);
    absl::StatusOr<CounterSnapshot> snap =
        probe->counter->Read(static_cast<size_t>(absl::GetFlag(FLAGS_top)));
    if (!snap.ok()) {
      std::fprintf(stderr, "tallycount: %s\n",
                   snap.status().ToString().c_str());
      return 1;
    }
    std::printf("%8.1fs  total %llu  (+%llu)",
                absl::ToDoubleSeconds(next - start),
                static_cast<unsigned long long>(snap->total),
                static_cast<unsigned long long>(snap->total - last));
    if (snap->dropped_keys > 0) {
      std::printf("  dropped-keys %llu",
                  static_cast<unsigned long long>(snap->dropped_keys));
    }
    for (const KeyCount& kc : snap->top_keys) {
      std::printf("  %s=%llu", kc.key.c_str(),
                  static_cast<unsigned long long>(kc.count));
    }
    std::printf("\n");
    std::fflush(stdout);
    last = snap->total;
    if (next >= deadline) break;
  }
  return 0;
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "count one hook on this machine: tallycount [flags] HOOK, e.g. "
      "tallycount --for=5s syscall:execve");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  tally::InstallLibbpfLogging();
  if (args.size() != 2) {
    std::fprintf(stderr,
                 "tallycount: expected exactly one HOOK, e.g. "
                 "syscall:execve (see --help)\n");
    return 1;
  }
  std::signal(SIGINT, [](int) { tally::stop_requested = 1; });
  std::signal(SIGTERM, [](int) { tally::stop_requested = 1; });
  return tally::Run(args[1]);
}
