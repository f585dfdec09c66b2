// tally_bench: per-event overhead, control-plane latency, agent footprint
// and fleet fan-out, side by side with bpftrace. Needs root. bench/run.sh
// runs it and writes docs/benchmarks.md.
#include <bpf/bpf.h>
#include <sched.h>

#include <algorithm>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/probe/feature_probe.h"
#include "agent/probe/libbpf_logging.h"
#include "bench/bench.h"
#include "glog/logging.h"
#include "tests/testing/agent_process.h"

ABSL_FLAG(bool, smoke, false, "tiny counts: check that every row appears");
ABSL_FLAG(int, rounds, 5, "repetitions of the overhead measurements");
ABSL_FLAG(int, iterations, 1000000, "syscalls per overhead measurement");
ABSL_FLAG(std::string, sections,
          "overhead,readpath,startup,control,footprint,fleet,metrics",
          "which sections to run");
ABSL_FLAG(std::string, before_tallyd, "",
          "main's tallyd, for the read-path and start-up \"before\" rows");
ABSL_FLAG(std::string, before_bench, "",
          "main's tally_bench, run pinned for the hot path's \"before\" "
          "columns");
ABSL_FLAG(std::string, cpus, "",
          "CPUs to pin the hot-path loop to, in turn (default: every online "
          "CPU)");
ABSL_FLAG(int, read_window, 10, "seconds measured per read-path row");
ABSL_FLAG(std::string, out, "", "also write the markdown report here");
ABSL_FLAG(std::string, tallyd, "", "tallyd binary (default: runfiles)");
ABSL_FLAG(std::string, tallyctl, "", "tallyctl binary (default: runfiles)");
ABSL_FLAG(std::string, tallyctl_before, "",
          "another tallyctl (e.g. main's) to measure beside this one in the "
          "fleet sections");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  tally::InstallLibbpfLogging();

  tally::bench::BenchContext ctx;
  ctx.smoke = absl::GetFlag(FLAGS_smoke);
  ctx.rounds = ctx.smoke ? 1 : absl::GetFlag(FLAGS_rounds);
  ctx.iterations = ctx.smoke ? 20000 : absl::GetFlag(FLAGS_iterations);
  ctx.tallyd = absl::GetFlag(FLAGS_tallyd);
  if (ctx.tallyd.empty())
    ctx.tallyd = tally::testing::RunfilePath("agent/tallyd");
  ctx.tallyctl = absl::GetFlag(FLAGS_tallyctl);
  if (ctx.tallyctl.empty()) {
    ctx.tallyctl = tally::testing::RunfilePath("client/tallyctl");
  }
  ctx.before_tallyd = absl::GetFlag(FLAGS_before_tallyd);
  ctx.before_bench = absl::GetFlag(FLAGS_before_bench);
  ctx.read_window_s = absl::GetFlag(FLAGS_read_window);
  for (absl::string_view c :
       absl::StrSplit(absl::GetFlag(FLAGS_cpus), ',', absl::SkipEmpty())) {
    int cpu;
    if (absl::SimpleAtoi(c, &cpu)) ctx.cpus.push_back(cpu);
  }
  if (ctx.cpus.empty()) {
    cpu_set_t online;
    sched_getaffinity(0, sizeof(online), &online);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &online)) ctx.cpus.push_back(cpu);
    }
  }
  if (ctx.smoke) ctx.cpus.resize(std::min<size_t>(ctx.cpus.size(), 1));
  ctx.tallyctl_before = absl::GetFlag(FLAGS_tallyctl_before);
  ctx.standin_fleet =
      tally::testing::RunfilePath("tests/testing/standin_fleet");
  ctx.gen_certs = tally::testing::RunfilePath("scripts/gen-certs.sh");
  uint32_t id = 0;
  while (bpf_prog_get_next_id(id, &id) == 0) ++ctx.bpf_programs_at_start;
  ctx.features = tally::ProbeKernelFeatures();

  std::vector<tally::bench::SectionResult> results;
  for (absl::string_view section :
       absl::StrSplit(absl::GetFlag(FLAGS_sections), ',')) {
    std::cerr << "tally_bench: running " << section << "\n";
    if (section == "overhead") results.push_back(tally::bench::RunOverhead(ctx));
    if (section == "control") results.push_back(tally::bench::RunControlPlane(ctx));
    if (section == "footprint") results.push_back(tally::bench::RunFootprint(ctx));
    if (section == "fleet") {
      for (auto& r : tally::bench::RunFleet(ctx)) results.push_back(r);
    }
    if (section == "readpath") results.push_back(tally::bench::RunReadPath(ctx));
    if (section == "startup") results.push_back(tally::bench::RunStartup(ctx));
    if (section == "metrics") results.push_back(tally::bench::RunMetrics(ctx));
  }
  std::string report = tally::bench::RenderMarkdown(results, ctx);
  std::cout << report;
  if (std::string out = absl::GetFlag(FLAGS_out); !out.empty()) {
    std::ofstream(out) << report;
  }
  return 0;
}
