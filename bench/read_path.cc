// Section: what reading grouped probes costs tallyd, as keys and probes
// grow: its CPU, its bpf() calls, and how long after each 1 s tick the last
// update of that tick reaches a watcher. The same workload runs on main's
// tallyd (before) and this build's (after), in the same run.
//
// The keys are written into tallyd's own key maps from here (found through
// /proc/PID/fdinfo), with ids no task has: the maps hold exactly the keys
// the row says, the reader cannot tell them from counted ones, and no
// reclaimer ever removes them. The probes never fire.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/probe/bpf_counter.h"
#include "bench/bench.h"
#include "bench/key_maps.h"
#include "bench/stats.h"
#include "glog/logging.h"
#include "tests/testing/agent_process.h"

namespace tally::bench {
namespace {

struct Arrival {
  absl::Time arrived;
  absl::Time read;  // the update's time: when tallyd read that probe
  std::string probe;
};

struct Measured {
  double cpu_percent = 0;
  double bpf_per_s = 0;
  std::vector<double> late_ms;  // per pass: its last update after its tick
  int ticks = 0;           // whole ticks in the window
  int complete_ticks = 0;  // served within the second, every probe
};

Measured Measure(const std::string& binary, uint64_t keys, int probes,
                 absl::Duration window) {
  Measured m;
  ::tally::testing::AgentProcess::Options options;
  options.binary = binary;
  options.args = {"--max_keys=65536", "--max_probes=64"};
  auto agent = ::tally::testing::AgentProcess::Start(options);
  if (!agent.ok()) {
    LOG(ERROR) << agent.status();
    return m;
  }
  const pid_t pid = (*agent)->pid();
  auto stub = (*agent)->NewStub();
  for (int i = 0; i < probes; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("read-", i));
    // Never fires here: task_rename of this (bench) process, which does not
    // rename itself.
    req.set_hook("rawtracepoint:task_rename");
    req.set_group_by(v1::GROUP_BY_PID);
    req.set_pid(static_cast<uint32_t>(getpid()));
    req.set_max_keys(keys <= 10240 ? 10240 : 65536);
    v1::StartProbeResponse resp;
    grpc::Status st = stub->StartProbe(
        ::tally::testing::ContextWithDeadline().get(), req, &resp);
    if (!st.ok()) LOG(ERROR) << st.error_message();
  }
  if (int n = FillKeyMaps(pid, keys); n != probes) {
    LOG(WARNING) << "filled " << n << " key maps for " << probes << " probes";
  }

  // tallyd's bpf() calls, counted by a tally counter filtered to it.
  CounterOptions count_opts;
  count_opts.tgid = static_cast<uint32_t>(pid);
  auto bpf_calls = BpfCounter::Create(
      {AttachKind::kTracepoint, "syscalls", "sys_enter_bpf", ""}, count_opts);

  std::mutex mu;
  std::vector<Arrival> arrivals;
  grpc::ClientContext watch_ctx;
  v1::WatchCountsRequest wreq;
  wreq.set_top_n(10);
  wreq.mutable_interval()->set_seconds(1);
  auto reader = stub->WatchCounts(&watch_ctx, wreq);
  std::thread reading([&] {
    v1::WatchCountsResponse u;
    while (reader->Read(&u)) {
      Arrival a{absl::Now(),
                absl::FromUnixSeconds(u.time().seconds()) +
                    absl::Nanoseconds(u.time().nanos()),
                u.probe()};
      std::lock_guard<std::mutex> lock(mu);
      arrivals.push_back(std::move(a));
    }
  });

  absl::SleepFor(absl::Seconds(2));  // snapshots, then steady ticks
  auto calls = [&]() -> uint64_t {
    if (!bpf_calls.ok()) return 0;
    auto snap = (*bpf_calls)->Read(0);
    return snap.ok() ? snap->total : 0;
  };
  const double cpu0 = CpuSeconds(pid);
  const uint64_t calls0 = calls();
  const absl::Time t0 = absl::Now();
  absl::SleepFor(window);
  const absl::Time t1 = absl::Now();
  const double cpu1 = CpuSeconds(pid);
  const uint64_t calls1 = calls();
  watch_ctx.TryCancel();
  reading.join();

  const double wall = absl::ToDoubleSeconds(t1 - t0);
  m.cpu_percent = (cpu1 - cpu0) / wall * 100;
  m.bpf_per_s = static_cast<double>(calls1 - calls0) / wall;
  // One sampler pass reads every probe, then offers all the updates at
  // once: they arrive together. Passes are the clusters of arrivals; a
  // pass serves the tick before its first read.
  std::sort(arrivals.begin(), arrivals.end(),
            [](const Arrival& a, const Arrival& b) { return a.arrived < b.arrived; });
  struct Pass {
    absl::Time first_read = absl::InfiniteFuture();
    absl::Time last_arrival = absl::InfinitePast();
    std::set<std::string> probes;
  };
  std::vector<Pass> passes;
  for (const Arrival& a : arrivals) {
    if (passes.empty() ||
        a.arrived - passes.back().last_arrival > absl::Milliseconds(200)) {
      passes.emplace_back();
    }
    Pass& p = passes.back();
    p.first_read = std::min(p.first_read, a.read);
    p.last_arrival = std::max(p.last_arrival, a.arrived);
    p.probes.insert(a.probe);
  }
  // Ticks wholly inside the window.
  const int64_t first_tick = absl::ToUnixSeconds(t0) + 1;
  const int64_t end_tick = absl::ToUnixSeconds(t1);  // exclusive
  m.ticks = static_cast<int>(end_tick - first_tick);
  std::set<int64_t> served;
  for (const Pass& p : passes) {
    const int64_t tick = absl::ToUnixSeconds(p.first_read);
    if (tick < first_tick || tick >= end_tick) continue;
    const absl::Time at = absl::FromUnixSeconds(tick);
    m.late_ms.push_back(absl::ToDoubleMilliseconds(p.last_arrival - at));
    if (static_cast<int>(p.probes.size()) == probes &&
        p.last_arrival - at < absl::Seconds(1)) {
      served.insert(tick);
    }
  }
  m.complete_ticks = static_cast<int>(served.size());
  return m;
}

std::string Ms(const std::vector<double>& v, double p) {
  return v.empty() ? "n/a" : absl::StrFormat("%.1f", Percentile(v, p));
}

}  // namespace

SectionResult RunReadPath(const BenchContext& ctx) {
  struct Config {
    uint64_t keys;
    int probes;
  };
  std::vector<Config> configs =
      ctx.smoke ? std::vector<Config>{{100, 1}, {100, 2}}
                : std::vector<Config>{{1000, 1},   {10000, 1},  {60000, 1},
                                      {10000, 32}, {60000, 16}, {10240, 64}};
  const absl::Duration window =
      ctx.smoke ? absl::Seconds(3) : absl::Seconds(ctx.read_window_s);
  SectionResult result;
  Section& s = result.section;
  s.title = "Read path: keys × probes";
  s.method = absl::StrCat(
      "One tallyd per row and binary (main's, \"before\"; this build's, "
      "\"after\"; same run, same machine). Probes grouped by pid on a hook "
      "that never fires (rawtracepoint:task_rename of the benchmark "
      "process); each probe's key map is filled from the benchmark with the "
      "row's number of keys, found through /proc/PID/fdinfo (ids no task "
      "has: never reclaimed). One WatchCounts stream of every probe, 1 s "
      "interval, top 10 keys. Over ",
      absl::FormatDuration(window),
      " after 2 s of warm-up: tallyd's CPU ((utime + stime) / wall), its "
      "bpf() calls per second (counted by a tally counter on "
      "syscalls:sys_enter_bpf filtered to tallyd), and per sampler pass "
      "(the updates of one pass arrive together) how long after its tick "
      "the last update arrived (p50 and max over the passes); \"on time\": "
      "ticks served within their second with an update of every probe, of "
      "the whole ticks in the window.");
  s.header = {"keys × probes", "binary",      "tallyd CPU %", "bpf() calls/s",
              "sample p50 ms", "sample max ms", "ticks on time"};
  std::vector<std::pair<std::string, std::string>> binaries;
  if (!ctx.before_tallyd.empty()) {
    binaries.emplace_back("before (main)", ctx.before_tallyd);
  }
  binaries.emplace_back("after", ctx.tallyd);
  for (const Config& c : configs) {
    for (const auto& [label, binary] : binaries) {
      Measured m = Measure(binary, c.keys, c.probes, window);
      const std::string row = absl::StrFormat("%d × %d", c.keys, c.probes);
      s.rows.push_back({row, label, absl::StrFormat("%.2f", m.cpu_percent),
                        absl::StrFormat("%.0f", m.bpf_per_s),
                        Ms(m.late_ms, 50), Ms(m.late_ms, 100),
                        absl::StrCat(m.complete_ticks, "/", m.ticks)});
      if (label != "after") continue;
      if (c.keys == 60000 && c.probes == 1) {
        double p50 = m.late_ms.empty() ? 1e9 : Percentile(m.late_ms, 50);
        result.targets.push_back({"60,000 keys: sample time", "≤ 10 ms",
                                  absl::StrFormat("%.1f ms", p50), p50 <= 10});
        result.targets.push_back({"60,000 keys at 1 Hz: tallyd CPU", "≤ 1%",
                                  absl::StrFormat("%.2f%%", m.cpu_percent),
                                  m.cpu_percent <= 1});
      }
      if (c.keys == 10240 && c.probes == 64) {
        result.targets.push_back(
            {"64 probes × 10,240 keys at 1 Hz: tallyd CPU, every update on "
             "time",
             "< 10%, all ticks",
             absl::StrFormat("%.2f%%, %d/%d ticks", m.cpu_percent,
                             m.complete_ticks, m.ticks),
             m.cpu_percent < 10 && m.complete_ticks == m.ticks && m.ticks > 0});
      }
    }
  }
  return result;
}

}  // namespace tally::bench
