// Section: tallyd from exec to serving. main's tallyd probes every attach
// kind at each start; this build's probes at a boot's first start (cold)
// and reads that answer at later ones (cached).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

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

// ms from just before exec until tallyd has written its ready file (after
// its server is listening); polled every 1 ms.
double ExecToServing(const std::string& binary,
                     const std::vector<std::string>& extra) {
  const std::string dir = ::tally::testing::MakeTempDir();
  const std::string ready = dir + "/ready";
  std::vector<std::string> argv = {binary, "--listen=unix:" + dir + "/s.sock",
                                   "--ready_file=" + ready};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const absl::Time start = absl::Now();
  ::tally::testing::Child child(argv);
  struct stat st;
  double ms = -1;
  while (absl::Now() - start < absl::Seconds(30)) {
    if (stat(ready.c_str(), &st) == 0 && st.st_size > 0) {
      ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      break;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  child.Signal(SIGTERM);
  if (child.Wait(absl::Seconds(10)) == -1000) child.Signal(SIGKILL);
  std::system(("rm -rf " + dir).c_str());
  return ms;
}

}  // namespace

SectionResult RunStartup(const BenchContext& ctx) {
  const int runs = ctx.smoke ? 2 : 10;
  SectionResult result;
  Section& s = result.section;
  s.title = "Start-up: exec to serving";
  s.method = absl::StrCat(
      "From just before exec until tallyd's --ready_file exists (written "
      "once its gRPC server listens), polled every 1 ms; ",
      runs,
      " runs each, one after another. main's tallyd probes every attach kind "
      "at every start. This build: \"first start of a boot\" with an empty "
      "--feature_cache directory each run (it probes, and tears its test "
      "probes down off the serving path); \"restart on the same boot\" "
      "reading what the first start stored, with an empty pin directory; "
      "\"re-adopting 64 pinned probes\": the same, with 64 probes (half "
      "tracepoint on getppid, half raw_tp on task_rename) an earlier agent left "
      "pinned.");
  s.header = {"tallyd", "p50 ms", "max ms", "runs"};
  auto row = [&](const std::string& what, const std::vector<double>& v) {
    s.rows.push_back(
        {what, v.empty() ? "n/a" : absl::StrFormat("%.1f", Percentile(v, 50)),
         v.empty() ? "n/a" : absl::StrFormat("%.1f", Percentile(v, 100)),
         absl::StrCat(v.size())});
  };
  auto measure = [&](const std::string& binary,
                     const std::vector<std::string>& extra, bool fresh_cache) {
    std::vector<double> out;
    for (int i = 0; i < runs; ++i) {
      std::vector<std::string> args = extra;
      std::string cache_dir;
      if (fresh_cache) {
        cache_dir = ::tally::testing::MakeTempDir();
        args.push_back("--feature_cache=" + cache_dir + "/kernel-features");
      }
      double ms = ExecToServing(binary, args);
      if (!cache_dir.empty()) std::system(("rm -rf " + cache_dir).c_str());
      if (ms >= 0) out.push_back(ms);
    }
    return out;
  };
  if (!ctx.before_tallyd.empty()) {
    row("before (main): probes at every start",
        measure(ctx.before_tallyd, {}, false));
  }
  // This build pins probes: in a directory of the benchmark's own.
  const std::string pins =
      absl::StrCat("/sys/fs/bpf/tally-bench-startup-", getpid());
  std::vector<double> cold = measure(ctx.tallyd, {"--pin_dir=" + pins}, true);
  row("after: first start of a boot (probes)", cold);
  const std::string cache_dir = ::tally::testing::MakeTempDir();
  const std::string cache = "--feature_cache=" + cache_dir + "/kernel-features";
  ExecToServing(ctx.tallyd, {cache, "--pin_dir=" + pins});  // the boot's first
  std::vector<double> cached =
      measure(ctx.tallyd, {cache, "--pin_dir=" + pins}, false);
  row("after: restart on the same boot (cached)", cached);

  // Durable probes: a restart re-adopts what is pinned before it serves.
  constexpr int kPinned = 64;
  std::vector<double> readopt;
  {
    ::tally::testing::AgentProcess::Options options;
    options.pin_dir = pins;
    options.args = {cache};
    auto agent = ::tally::testing::AgentProcess::Start(options);
    if (agent.ok()) {
      auto stub = (*agent)->NewStub();
      for (int i = 0; i < kPinned; ++i) {
        v1::StartProbeRequest req;
        req.set_name(absl::StrCat("pinned-", i));
        req.set_hook(i % 2 ? "rawtracepoint:sys_enter"
                           : "tracepoint:syscalls:sys_enter_getppid");
        req.set_pid(static_cast<uint32_t>(getpid()));
        v1::StartProbeResponse resp;
        (void)stub->StartProbe(::tally::testing::ContextWithDeadline().get(),
                               req, &resp);
      }
    }
    // The agent dies with the process object; its probes stay pinned.
  }
  readopt = measure(ctx.tallyd, {cache, "--pin_dir=" + pins}, false);
  std::system(
      absl::StrCat(ctx.tallyd, " --uninstall --pin_dir=", pins, " >/dev/null")
          .c_str());
  std::system(("rm -rf " + cache_dir).c_str());
  row(absl::StrCat("after: restart re-adopting ", kPinned, " pinned probes"),
      readopt);
  if (!cold.empty()) {
    double p50 = Percentile(cold, 50);
    result.targets.push_back({"tallyd exec → serving (first start of a boot)",
                              "≤ 100 ms", absl::StrFormat("%.1f ms", p50),
                              p50 <= 100});
  }
  if (!cached.empty()) {
    double p50 = Percentile(cached, 50);
    result.targets.push_back({"tallyd exec → serving (restart, same boot)",
                              "≤ 100 ms", absl::StrFormat("%.1f ms", p50),
                              p50 <= 100});
  }
  if (!readopt.empty()) {
    double p50 = Percentile(readopt, 50);
    result.targets.push_back(
        {"tallyd exec → serving with 64 pinned probes to re-adopt", "≤ 150 ms",
         absl::StrFormat("%.1f ms", p50), p50 <= 150});
    if (!cached.empty()) {
      double extra = p50 - Percentile(cached, 50);
      result.targets.push_back({"re-adopting 64 pinned probes adds", "< 50 ms",
                                absl::StrFormat("%.1f ms", extra), extra < 50});
    }
  }
  return result;
}

}  // namespace tally::bench
