// Keeps the benchmark program from rotting: a smoke pass with tiny counts
// must produce every section and row. Asserts shape, never durations.
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/agent_process.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/subprocess.h"

namespace tally {
namespace {

using ::testing::HasSubstr;

TEST(TallyBenchTest, SmokeRunProducesEveryRow) {
  TALLY_REQUIRE_BPF();
  std::string out = ::tally::testing::MakeTempDir() + "/benchmarks.md";
  ::tally::testing::RunResult r = ::tally::testing::Run(
      {::tally::testing::RunfilePath("bench/tally_bench"), "--smoke",
       "--out=" + out},
      absl::Minutes(5));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* expected : {
           "## Targets", "## Per-event overhead", "## Control-plane latency",
           "## Agent footprint", "## Fleet fan-out", "## Fleet watch",
           "| tracepoint |",
           "| raw_tp |", "| tp_btf |", "| StartProbe (load + attach) |",
           "| StopProbe (detach) |", "| tallyd start to serving |",
           "| bpftrace start to attached |", "| tallyd | idle |",
           "| bpftrace | one count probe |", "| 3 |", "StartProbe p50",
           "tallyd RSS idle", "tally's added cost vs bpftrace's (tracepoint",
           "counting over the empty program (tracepoint, CPU ",
           "grouped by pid over the empty program (raw_tp, CPU ",
           "grouped by comm over the empty program (tp_btf, CPU ",
           "## Read path: keys × probes", "| 100 × 1 | after |",
           "| 100 × 2 | after |", "## Start-up: exec to serving",
           "| after: first start of a boot (probes) |",
           "| after: restart on the same boot (cached) |",
           "tallyd exec → serving (restart, same boot)",
           "## Metrics: BPF statistics and scrapes",
           "| BPF statistics on (loop ns/op) | 1 program(s) per syscall |",
           "| tallyd CPU, not scraped (baseline) | 2 probes × 100 keys |",
           "| tallyd CPU, scraped every second, --metrics_keys_max_age=10s "
           "(default) | 2 probes × 100 keys |",
           "| tallyd CPU, scraped every second, --metrics_keys_max_age=0s "
           "(every key every scrape) | 2 probes × 100 keys |",
           "3/3 ok"}) {
    EXPECT_THAT(r.out, HasSubstr(expected));
  }
  // No measurement may be missing from the tally rows.
  for (const char* mechanism : {"| tracepoint |", "| raw_tp |", "| tp_btf |"}) {
    size_t at = r.out.find(mechanism);
    ASSERT_NE(at, std::string::npos);
    std::string row = r.out.substr(at, r.out.find('\n', at) - at);
    size_t na = 0;
    for (size_t p = row.find("n/a"); p != std::string::npos; p = row.find("n/a", p + 1)) ++na;
    // Only bpftrace's columns (it has no tp_btf probe type) and main's
    // (no main binary in a smoke run) may be n/a.
    EXPECT_LE(na, 4u) << row;
    EXPECT_EQ(row.find("→ n/a"), std::string::npos) << row;
  }
  std::system(("rm -rf $(dirname " + out + ")").c_str());
}

}  // namespace
}  // namespace tally
