// Section: what metrics cost. (a) What having the kernel's BPF run-time
// statistics on costs every BPF program on the node: a getppid loop pinned
// to one CPU with tally counters on sys_enter (each runs on every syscall),
// statistics off and on, alternately. (b) What scraping /metrics every
// second costs tallyd with 64 grouped probes, against the same agent not
// scraped.
#include <bpf/bpf.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "agent/probe/bpf_counter.h"
#include "bench/bench.h"
#include "bench/key_maps.h"
#include "bench/stats.h"
#include "glog/logging.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/http_client.h"

namespace tally::bench {
namespace {

double LoopNs(int iterations) {
  timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < iterations; ++i) syscall(SYS_getppid);
  clock_gettime(CLOCK_MONOTONIC, &b);
  return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / iterations;
}

bool SysctlOn() {
  std::ifstream in("/proc/sys/kernel/bpf_stats_enabled");
  int v = 0;
  return in >> v && v != 0;
}

struct StatsCost {
  int programs = 0;
  double off_ns = 0;
  double on_ns = 0;
};

// Median over rounds of the loop with the statistics off, then on.
StatsCost MeasureStats(const BenchContext& ctx, int programs) {
  StatsCost out;
  out.programs = programs;
  std::vector<std::unique_ptr<BpfCounter>> counters;
  for (int i = 0; i < programs; ++i) {
    auto c = BpfCounter::Create({AttachKind::kRawTracepoint, "", "sys_enter", ""},
                                CounterOptions{});
    if (!c.ok()) {
      LOG(ERROR) << "attaching a counter: " << c.status();
      return out;
    }
    counters.push_back(*std::move(c));
  }
  const int iterations = ctx.smoke ? 20000 : ctx.iterations;
  std::vector<double> off, on;
  LoopNs(iterations / 10);  // warm-up
  for (int r = 0; r < std::max(ctx.rounds, 3); ++r) {
    off.push_back(LoopNs(iterations));
    int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (fd < 0) {
      LOG(ERROR) << "bpf_enable_stats failed";
      return out;
    }
    on.push_back(LoopNs(iterations));
    close(fd);
  }
  out.off_ns = Median(off);
  out.on_ns = Median(on);
  return out;
}

struct ScrapeCost {
  double cpu_percent = 0;
  std::vector<double> scrape_ms;
  size_t bytes = 0;
  int scrapes = 0;
  int failed = 0;
};

ScrapeCost MeasureScrapes(const BenchContext& ctx, uint64_t keys, int probes,
                          bool scrape, const std::string& keys_max_age,
                          absl::Duration window) {
  ScrapeCost m;
  ::tally::testing::AgentProcess::Options options;
  options.binary = ctx.tallyd;
  options.args = {"--max_probes=64", "--metrics_listen=127.0.0.1:0",
                  "--metrics_keys_max_age=" + keys_max_age};
  auto agent = ::tally::testing::AgentProcess::Start(options);
  if (!agent.ok()) {
    LOG(ERROR) << agent.status();
    return m;
  }
  const pid_t pid = (*agent)->pid();
  auto stub = (*agent)->NewStub();
  for (int i = 0; i < probes; ++i) {
    v1::StartProbeRequest req;
    req.set_name(absl::StrCat("grouped-", i));
    // This benchmark's own getppid() calls, a few every second: the counts
    // move, so a scrape cannot skip a key walk for want of change.
    req.set_hook("tracepoint:syscalls:sys_enter_getppid");
    req.set_group_by(v1::GROUP_BY_PID);
    req.set_pid(static_cast<uint32_t>(getpid()));
    v1::StartProbeResponse resp;
    grpc::Status st = stub->StartProbe(
        ::tally::testing::ContextWithDeadline().get(), req, &resp);
    if (!st.ok()) LOG(ERROR) << st.error_message();
  }
  if (int n = FillKeyMaps(pid, keys); n != probes) {
    LOG(WARNING) << "filled " << n << " key maps for " << probes << " probes";
  }
  const std::string host =
      ::tally::testing::HostPortOf((*agent)->metrics_url());
  absl::SleepFor(absl::Seconds(2));
  const double cpu0 = CpuSeconds(pid);
  const absl::Time t0 = absl::Now();
  for (absl::Time next = t0; next < t0 + window; next += absl::Seconds(1)) {
    absl::SleepFor(next - absl::Now());
    for (int i = 0; i < 100; ++i) syscall(SYS_getppid);
    if (!scrape) continue;
    const absl::Time a = absl::Now();
    absl::StatusOr<::tally::testing::HttpResponse> r =
        ::tally::testing::HttpRequest(host, "GET", "/metrics");
    ++m.scrapes;
    if (!r.ok() || r->status != 200) {
      ++m.failed;
      continue;
    }
    m.scrape_ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - a));
    m.bytes = r->body.size();
  }
  absl::SleepFor(t0 + window - absl::Now());
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  m.cpu_percent = (CpuSeconds(pid) - cpu0) / wall * 100;
  return m;
}

std::string Percent(double v) { return absl::StrFormat("%.2f%%", v); }

}  // namespace

SectionResult RunMetrics(const BenchContext& ctx) {
  SectionResult result;
  Section& s = result.section;
  s.title = "Metrics: BPF statistics and scrapes";

  // (a) BPF statistics.
  std::vector<int> program_counts = ctx.smoke ? std::vector<int>{1}
                                              : std::vector<int>{1, 4};
  const int cpu = ctx.cpus.empty() ? 0 : ctx.cpus[0];
  cpu_set_t old_set, one;
  sched_getaffinity(0, sizeof(old_set), &old_set);
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_setaffinity(0, sizeof(one), &one);
  const bool sysctl = SysctlOn();
  std::vector<StatsCost> stats;
  for (int n : program_counts) stats.push_back(MeasureStats(ctx, n));
  sched_setaffinity(0, sizeof(old_set), &old_set);

  // (b) Scrapes.
  struct Config {
    uint64_t keys;
    int probes;
  };
  std::vector<Config> configs =
      ctx.smoke ? std::vector<Config>{{100, 2}}
                : std::vector<Config>{{100, 64}, {1000, 64}, {10240, 64}};
  const absl::Duration window =
      ctx.smoke ? absl::Seconds(3) : absl::Seconds(ctx.read_window_s);

  s.method = absl::StrCat(
      "(a) What the kernel's BPF run-time statistics cost every BPF program "
      "while they are on (tallyd holds them on demand: ListProbes and "
      "scrapes ask, --bpf_stats_hold after; or --bpf_stats=always): a loop "
      "of getppid() pinned to CPU ", cpu, " with N ungrouped tally counters "
      "on rawtracepoint:sys_enter (each runs on every syscall), statistics "
      "off then on (bpf_enable_stats held), alternately, ",
      std::max(ctx.rounds, 3), " rounds, medians; the added ns divided by N "
      "is the cost per program run. ",
      sysctl ? "NOTE: the sysctl kernel.bpf_stats_enabled was 1, so \"off\" "
               "was on too: these rows are not valid. "
             : "",
      "(b) What scraping /metrics once a second costs tallyd: 64 probes "
      "grouped by pid on syscalls:sys_enter_getppid filtered to the "
      "benchmark, which makes 100 such calls every second (so every probe's "
      "counts move and no key walk is skipped for want of change), each key "
      "map filled from the benchmark with the row's number of keys (as in "
      "\"Read path\"); no watchers. Over ",
      absl::FormatDuration(window),
      " after 2 s of warm-up: tallyd's CPU ((utime + stime) / wall) while "
      "nobody scrapes (baseline: the same agent idle) and while one client "
      "GETs /metrics every second (a new connection each, as Prometheus "
      "without keep-alive), the scrape's wall time at the client (p50, max) "
      "and its size. Scrapes turn the BPF statistics on (default "
      "--bpf_stats=on_demand), so (b) includes their cost to tallyd's "
      "probes, which never fire here.");
  s.header = {"what", "setting", "measured", "per unit"};
  for (const StatsCost& c : stats) {
    const double added = c.on_ns - c.off_ns;
    s.rows.push_back({"BPF statistics on (loop ns/op)",
                      absl::StrCat(c.programs, " program(s) per syscall"),
                      absl::StrFormat("%.1f off → %.1f on", c.off_ns, c.on_ns),
                      absl::StrFormat("+%.1f ns per program run",
                                      added / std::max(c.programs, 1))});
    if (c.programs == program_counts.back()) {
      result.targets.push_back(
          {"BPF statistics on: added cost per program run", "measured",
           absl::StrFormat("+%.1f ns", added / std::max(c.programs, 1)),
           !sysctl});
    }
  }
  for (const Config& c : configs) {
    const std::string row = absl::StrFormat("%d probes × %d keys", c.probes,
                                            c.keys);
    ScrapeCost idle =
        MeasureScrapes(ctx, c.keys, c.probes, false, "10s", window);
    s.rows.push_back({"tallyd CPU, not scraped (baseline)", row,
                      Percent(idle.cpu_percent), "-"});
    for (const char* max_age : {"10s", "0s"}) {
      ScrapeCost scraped =
          MeasureScrapes(ctx, c.keys, c.probes, true, max_age, window);
      const double p50 =
          scraped.scrape_ms.empty() ? -1 : Percentile(scraped.scrape_ms, 50);
      const double max =
          scraped.scrape_ms.empty() ? -1 : Percentile(scraped.scrape_ms, 100);
      s.rows.push_back(
          {absl::StrCat("tallyd CPU, scraped every second, "
                        "--metrics_keys_max_age=",
                        max_age, std::string(max_age) == "10s" ? " (default)"
                                                               : " (every key "
                                                                 "every scrape)"),
           row, Percent(scraped.cpu_percent),
           absl::StrFormat("scrape p50 %.1f ms, max %.1f ms; %d B; %d/%d ok",
                           p50, max, scraped.bytes,
                           scraped.scrapes - scraped.failed, scraped.scrapes)});
      if (c.probes == 64 && std::string(max_age) == "10s") {
        const double added = scraped.cpu_percent - idle.cpu_percent;
        result.targets.push_back(
            {absl::StrFormat("64 grouped probes × %d keys scraped at 1 Hz: "
                             "tallyd CPU over not scraped",
                             c.keys),
             "≤ +2%", absl::StrFormat("%+.2f%%", added), added <= 2});
      }
    }
  }
  return result;
}

}  // namespace tally::bench
