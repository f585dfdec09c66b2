// Section 3: tallyd's memory and CPU, idle and loaded with probes and
// watchers, and bpftrace's memory for one count probe.
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench.h"
#include "bench/bpftrace_runner.h"
#include "bench/stats.h"
#include "glog/logging.h"
#include "tests/testing/agent_process.h"

namespace tally::bench {
namespace {

std::string Mb(long kb) { return kb < 0 ? "n/a" : absl::StrFormat("%.1f", kb / 1024.0); }

}  // namespace

SectionResult RunFootprint(const BenchContext& ctx) {
  const int probes = ctx.smoke ? 3 : 50;
  const int watchers = ctx.smoke ? 3 : 50;
  const absl::Duration loaded_for = ctx.smoke ? absl::Seconds(3) : absl::Seconds(60);
  SectionResult result;
  Section& s = result.section;
  s.title = "Agent footprint";
  s.method = absl::StrCat(
      "tallyd's VmRSS 2 s after it starts serving (idle); then ", probes,
      " probes (tracepoint:syscalls:sys_enter_getppid grouped by pid, no "
      "filter) and ", watchers, " WatchCounts streams (all probes, 1 s "
      "interval, top 10 keys) for ",
      absl::FormatDuration(loaded_for),
      ": VmRSS and peak (VmHWM) at the end, CPU = (utime + stime) / wall "
      "over that period. bpftrace: VmRSS of `bpftrace -e "
      "'tracepoint:syscalls:sys_enter_getppid { @c = count(); }'` once "
      "attached.");
  s.header = {"process", "state", "RSS MB", "peak RSS MB", "CPU %"};

  ::tally::testing::AgentProcess::Options options;
  options.binary = ctx.tallyd;
  auto agent = ::tally::testing::AgentProcess::Start(options);
  if (!agent.ok()) {
    LOG(ERROR) << agent.status();
    return result;
  }
  const pid_t pid = (*agent)->pid();
  absl::SleepFor(absl::Seconds(2));
  const long idle_kb = RssKb(pid);
  s.rows.push_back({"tallyd", "idle", Mb(idle_kb), Mb(PeakRssKb(pid)), "-"});
  result.targets.push_back({"tallyd RSS idle", "≤ 15 MB",
                            absl::StrCat(Mb(idle_kb), " MB"),
                            idle_kb >= 0 && idle_kb <= 15 * 1024});

  auto stub = (*agent)->NewStub();
  for (int i = 0; i < probes; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("load-", i));
    req.set_hook("tracepoint:syscalls:sys_enter_getppid");
    req.set_group_by(v1::GROUP_BY_PID);
    v1::StartProbeResponse resp;
    grpc::Status st = stub->StartProbe(
        ::tally::testing::ContextWithDeadline().get(), req, &resp);
    if (!st.ok()) LOG(ERROR) << st.error_message();
  }
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(watchers);
  std::vector<std::thread> threads;
  for (int w = 0; w < watchers; ++w) {
    contexts[w] = std::make_unique<grpc::ClientContext>();
    threads.emplace_back([&, w] {
      v1::WatchCountsRequest req;
      req.set_top_n(10);
      auto reader = stub->WatchCounts(contexts[w].get(), req);
      v1::WatchCountsResponse u;
      while (reader->Read(&u)) {
      }
    });
  }
  // Some events to count while loaded.
  std::thread load([&] {
    while (!stop.load()) {
      for (int i = 0; i < 1000; ++i) getppid();
      absl::SleepFor(absl::Milliseconds(10));
    }
  });
  const double cpu0 = CpuSeconds(pid);
  const absl::Time w0 = absl::Now();
  absl::SleepFor(loaded_for);
  const double cpu = (CpuSeconds(pid) - cpu0) /
                     absl::ToDoubleSeconds(absl::Now() - w0) * 100;
  s.rows.push_back({"tallyd", absl::StrCat(probes, " probes, ", watchers, " watchers"),
                    Mb(RssKb(pid)), Mb(PeakRssKb(pid)), absl::StrFormat("%.2f", cpu)});
  stop = true;
  load.join();
  for (auto& c : contexts) c->TryCancel();
  for (auto& t : threads) t.join();

  if (BpftraceInstalled()) {
    auto bt = Bpftrace::Start("tracepoint:syscalls:sys_enter_getppid { @c = count(); }");
    if (bt.ok()) {
      absl::SleepFor(absl::Seconds(1));
      s.rows.push_back({"bpftrace", "one count probe", Mb(RssKb((*bt)->pid())),
                        Mb(PeakRssKb((*bt)->pid())), "-"});
    }
  }
  return result;
}

}  // namespace tally::bench
