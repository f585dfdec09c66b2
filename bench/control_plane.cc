// Section 2: how long StartProbe takes to have a counter attached, and
// StopProbe to detach it, against bpftrace's process start to attached.
#include <sys/syscall.h>
#include <unistd.h>

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

std::string Ms(double ms) { return absl::StrFormat("%.1f", ms); }

}  // namespace

SectionResult RunControlPlane(const BenchContext& ctx) {
  const int starts = ctx.smoke ? 3 : 50;
  SectionResult result;
  Section& s = result.section;
  s.title = "Control-plane latency";
  s.method = absl::StrCat(
      starts, " StartProbe calls (tracepoint:syscalls:sys_enter_getppid, "
      "distinct names) over the agent's unix socket, each timed from request "
      "to response (the counter is loaded and attached when it returns), "
      "then ", starts, " StopProbe calls. tallyd start: process start to "
      "serving (it probes every attach kind first). bpftrace: process start "
      "to its BEGIN probe firing, which it does after attaching the count "
      "probe; median of ", ctx.smoke ? 1 : 10, " runs.");
  s.header = {"what", "p50 ms", "p99 ms", "runs"};

  std::vector<double> agent_start;
  ::tally::testing::AgentProcess::Options options;
  options.binary = ctx.tallyd;
  const absl::Time t0 = absl::Now();
  auto agent = ::tally::testing::AgentProcess::Start(options);
  if (!agent.ok()) {
    LOG(ERROR) << agent.status();
    return result;
  }
  agent_start.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
  auto stub = (*agent)->NewStub();

  std::vector<double> start_ms, stop_ms;
  for (int i = 0; i < starts; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("latency-", i));
    req.set_hook("tracepoint:syscalls:sys_enter_getppid");
    v1::StartProbeResponse resp;
    auto c = ::tally::testing::ContextWithDeadline();
    absl::Time a = absl::Now();
    grpc::Status st = stub->StartProbe(c.get(), req, &resp);
    if (!st.ok()) {
      LOG(ERROR) << st.error_message();
      continue;
    }
    start_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
  }
  for (int i = 0; i < starts; ++i) {
    v1::StopProbeRequest req;
    req.set_name(absl::StrCat("latency-", i));
    v1::StopProbeResponse resp;
    auto c = ::tally::testing::ContextWithDeadline();
    absl::Time a = absl::Now();
    if (stub->StopProbe(c.get(), req, &resp).ok()) {
      stop_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
    }
  }
  std::vector<double> bpftrace_ms;
  if (BpftraceInstalled()) {
    for (int i = 0; i < (ctx.smoke ? 1 : 10); ++i) {
      auto bt = Bpftrace::Start(
          "tracepoint:syscalls:sys_enter_getppid { @c = count(); }");
      if (bt.ok()) {
        bpftrace_ms.push_back(absl::ToDoubleMilliseconds((*bt)->start_to_attached()));
      }
    }
  }
  auto row = [&](const std::string& what, const std::vector<double>& v) {
    s.rows.push_back({what, v.empty() ? "n/a" : Ms(Percentile(v, 50)),
                      v.empty() ? "n/a" : Ms(Percentile(v, 99)),
                      absl::StrCat(v.size())});
  };
  row("StartProbe (load + attach)", start_ms);
  row("StopProbe (detach)", stop_ms);
  row("tallyd start to serving", agent_start);
  row("bpftrace start to attached", bpftrace_ms);
  if (!start_ms.empty()) {
    double p50 = Percentile(start_ms, 50);
    result.targets.push_back({"StartProbe p50", "≤ 20 ms",
                              absl::StrCat(Ms(p50), " ms"), p50 <= 20});
  }
  return result;
}

}  // namespace tally::bench
