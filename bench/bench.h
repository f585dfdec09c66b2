// What every benchmark section gets, and what it gives back.
#ifndef TALLY_BENCH_BENCH_H_
#define TALLY_BENCH_BENCH_H_

#include <string>
#include <vector>

#include "agent/probe/kernel_features.h"

namespace tally::bench {

struct BenchContext {
  bool smoke = false;     // tiny counts: proves every row is produced
  int rounds = 5;         // repetitions; medians are reported
  int iterations = 1000000;  // syscalls per overhead measurement
  std::string tallyd;
  std::string tallyctl;
  // main's binaries, for "before" columns in the same run; empty: none.
  std::string before_tallyd;
  std::string before_bench;
  std::vector<int> cpus;   // the hot-path loop runs pinned to each in turn
  int read_window_s = 10;  // read-path measurement window per row
  // Another tallyctl (e.g. main's) to measure beside this one; empty: none.
  std::string tallyctl_before;
  std::string standin_fleet;  // //tests/testing:standin_fleet
  std::string gen_certs;      // scripts/gen-certs.sh
  KernelFeatures features;
  int bpf_programs_at_start = 0;  // loaded by anyone before the run
};

// One markdown section: a heading, a method paragraph and a table.
struct Section {
  std::string title;
  std::string method;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

// A target from the issue, reported whether met or not.
struct Target {
  std::string what;
  std::string goal;
  std::string measured;
  bool met = false;
};

struct SectionResult {
  Section section;
  std::vector<Target> targets;
};

SectionResult RunOverhead(const BenchContext& ctx);
SectionResult RunControlPlane(const BenchContext& ctx);
SectionResult RunFootprint(const BenchContext& ctx);
// Fan-out and watch: two sections.
std::vector<SectionResult> RunFleet(const BenchContext& ctx);
SectionResult RunReadPath(const BenchContext& ctx);
SectionResult RunStartup(const BenchContext& ctx);
SectionResult RunMetrics(const BenchContext& ctx);

std::string RenderMarkdown(const std::vector<SectionResult>& results,
                           const BenchContext& ctx);

}  // namespace tally::bench

#endif  // TALLY_BENCH_BENCH_H_
