// Section 4: tallyctl across many real agents on this machine (one unix
// socket each): start, list and stop wall time, and the CPU tallyctl watch
// needs to merge them at 1 Hz.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench.h"
#include "bench/stats.h"
#include "glog/logging.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/subprocess.h"

namespace tally::bench {
namespace {

// Runs tallyctl to completion; wall seconds, or -1 on failure.
double TimedTallyctl(const BenchContext& ctx, const std::string& agents_file,
                     std::vector<std::string> args) {
  std::vector<std::string> argv = {ctx.tallyctl, "--agents", "@" + agents_file,
                                   "--parallel", "100"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::Time t0 = absl::Now();
  ::tally::testing::RunResult r = ::tally::testing::Run(argv, absl::Minutes(2));
  double secs = absl::ToDoubleSeconds(absl::Now() - t0);
  if (r.exit_code != 0) {
    LOG(ERROR) << "tallyctl " << args[0] << " exited " << r.exit_code << ": "
               << r.err.substr(0, 500);
    return -1;
  }
  return secs;
}

std::string Secs(double s) { return s < 0 ? "failed" : absl::StrFormat("%.3f", s); }

}  // namespace

SectionResult RunFleet(const BenchContext& ctx) {
  const std::vector<int> sizes = ctx.smoke ? std::vector<int>{3}
                                           : std::vector<int>{50, 100};
  const absl::Duration watch_for = ctx.smoke ? absl::Seconds(3) : absl::Seconds(30);
  SectionResult result;
  Section& s = result.section;
  s.title = "Fleet fan-out";
  s.method = absl::StrCat(
      "N real tallyd processes on this machine, one unix socket each, listed "
      "in an @FILE; wall time of one tallyctl process (`--parallel 100`) for "
      "`start rawtracepoint:sched_process_exec`, `list` and `stop` (a raw "
      "tracepoint: the kernel allows at most 64 perf-event programs on one "
      "classic tracepoint, which 100 agents on one machine would exceed), median of ",
      ctx.smoke ? 1 : 3, " runs. Watch: `tallyctl watch --interval 1s` "
      "merging all N for ", absl::FormatDuration(watch_for),
      "; its CPU = (utime + stime) / wall.");
  s.header = {"agents", "start s", "list s", "stop s", "watch CPU %"};

  for (int n : sizes) {
    std::vector<std::unique_ptr<::tally::testing::AgentProcess>> agents;
    std::string dir = ::tally::testing::MakeTempDir();
    std::string file = dir + "/agents";
    std::ofstream out(file);
    for (int i = 0; i < n; ++i) {
      ::tally::testing::AgentProcess::Options options;
      options.binary = ctx.tallyd;
      options.node_name = absl::StrCat("bench-", i);
      auto agent = ::tally::testing::AgentProcess::Start(options);
      if (!agent.ok()) {
        LOG(ERROR) << agent.status();
        break;
      }
      out << (*agent)->address() << "\n";
      agents.push_back(*std::move(agent));
    }
    out.close();
    if (static_cast<int>(agents.size()) != n) continue;

    std::vector<double> start, list, stop;
    for (int r = 0; r < (ctx.smoke ? 1 : 3); ++r) {
      start.push_back(TimedTallyctl(ctx, file, {"start", "rawtracepoint:sched_process_exec"}));
      list.push_back(TimedTallyctl(ctx, file, {"list"}));
      if (r + 1 < (ctx.smoke ? 1 : 3)) {
        stop.push_back(TimedTallyctl(ctx, file, {"stop", "rawtracepoint-sched_process_exec"}));
      }
    }
    // Leave the probe running for the watch, then stop it.
    std::string watch_cpu = "-";
    {
      ::tally::testing::Child watch({ctx.tallyctl, "--agents", "@" + file,
                                     "--output", "json", "watch",
                                     "--interval", "1s"});
      // Measure once every agent streams: a FLEET line with all of them up.
      const std::string all_up = absl::StrCat("\"agents_up\":", n, ",");
      absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (auto line = watch.ReadLine(deadline)) {
        if (line->find("\"FLEET\"") != std::string::npos &&
            line->find(all_up) != std::string::npos) {
          break;
        }
      }
      const double cpu0 = CpuSeconds(watch.pid());
      const absl::Time w0 = absl::Now();
      absl::Time until = w0 + watch_for;
      while (absl::Now() < until && watch.ReadLine(until)) {
      }
      double cpu = (CpuSeconds(watch.pid()) - cpu0) /
                   absl::ToDoubleSeconds(absl::Now() - w0) * 100;
      watch_cpu = absl::StrFormat("%.2f", cpu);
      watch.Signal(SIGINT);
      watch.Wait(absl::Seconds(10));
    }
    stop.push_back(TimedTallyctl(ctx, file, {"stop", "rawtracepoint-sched_process_exec"}));
    s.rows.push_back({absl::StrCat(n), Secs(Median(start)), Secs(Median(list)),
                      Secs(Median(stop)), watch_cpu});
    if (n == 100) {
      double t = Median(start);
      result.targets.push_back({"tallyctl start across 100 agents", "< 1 s",
                                absl::StrCat(Secs(t), " s"), t >= 0 && t < 1});
    }
    agents.clear();
    std::system(("rm -rf " + dir).c_str());
  }
  return result;
}

}  // namespace tally::bench
