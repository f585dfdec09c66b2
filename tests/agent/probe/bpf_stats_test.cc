// Privileged: what a real counter costs, as the kernel accounts it. Runs and
// run time of its programs move only while the BPF statistics are on; its
// maps' memory is what the kernel charges for them.
#include "agent/probe/bpf_stats.h"

#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/probe/bpf_counter.h"
#include "agent/probe/feature_probe.h"
#include "agent/probe/hook_resolver.h"
#include "gtest/gtest.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/status_matchers.h"

extern "C" __attribute__((noinline, used)) int tally_stats_uprobe_target(
    int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

namespace tally {
namespace {

constexpr int kCalls = 500;

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "/proc/self/exe";
}

// A uprobe filtered to this process: only this test's calls run it.
absl::StatusOr<std::unique_ptr<BpfCounter>> OwnUprobe(GroupBy group_by) {
  static const KernelFeatures* features =
      new KernelFeatures(ProbeKernelFeatures());
  absl::StatusOr<HookSpec> spec = ParseHookSpec(
      absl::StrCat("uprobe:", SelfExe(), ":tally_stats_uprobe_target"));
  if (!spec.ok()) return spec.status();
  std::unique_ptr<KernelSymbols> symbols = NewKernelSymbols();
  absl::StatusOr<ResolvedHook> resolved =
      ResolveHook(*spec, *features, *symbols);
  if (!resolved.ok()) return resolved.status();
  CounterOptions options;
  options.tgid = static_cast<uint32_t>(getpid());
  options.group_by = group_by;
  return BpfCounter::Create(resolved->point, options);
}

void Call(int n) {
  int sum = 0;
  for (int i = 0; i < n; ++i) sum += tally_stats_uprobe_target(i);
  ASSERT_GT(sum, 0);
}

class BpfStatsTest : public ::testing::Test {
 protected:
  void SetUp() override { TALLY_REQUIRE_BPF(); }
};

TEST_F(BpfStatsTest, RunsAreCountedExactlyWhileTheStatsAreOn) {
  auto counter = OwnUprobe(GroupBy::kNone);
  ASSERT_OK(counter);
  KernelBpfStats stats;
  absl::StatusOr<CounterCost> before = (*counter)->Cost();
  ASSERT_OK(before);
  {
    auto hold = stats.Enable();
    ASSERT_OK(hold);
    Call(kCalls);
    absl::StatusOr<CounterCost> on = (*counter)->Cost();
    ASSERT_OK(on);
    EXPECT_EQ(on->runs - before->runs, static_cast<uint64_t>(kCalls));
    EXPECT_GT(on->run_time, before->run_time);
  }
  // (Whether they stop once released depends on other tools on the node,
  // which may hold them too: not asserted.)
}

TEST_F(BpfStatsTest, ReclaimerRunsAreSeparate) {
  auto counter = OwnUprobe(GroupBy::kPid);
  ASSERT_OK(counter);
  KernelBpfStats stats;
  auto hold = stats.Enable();
  ASSERT_OK(hold);
  absl::StatusOr<CounterCost> before = (*counter)->Cost();
  ASSERT_OK(before);
  Call(kCalls);
  // A child that ends: the reclaimer runs when its task is freed (every
  // task on the node, not only this test's).
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  waitpid(child, nullptr, 0);
  absl::StatusOr<CounterCost> after;
  for (int i = 0; i < 500; ++i) {
    after = (*counter)->Cost();
    ASSERT_OK(after);
    if (after->reclaimer_runs > before->reclaimer_runs) break;
    usleep(10000);
  }
  EXPECT_EQ(after->runs - before->runs, static_cast<uint64_t>(kCalls));
  EXPECT_GT(after->reclaimer_runs, before->reclaimer_runs);
}

TEST_F(BpfStatsTest, MapMemoryCoversTheKeyMap) {
  auto plain = OwnUprobe(GroupBy::kNone);
  auto grouped = OwnUprobe(GroupBy::kPid);
  ASSERT_OK(plain);
  ASSERT_OK(grouped);
  absl::StatusOr<CounterCost> p = (*plain)->Cost();
  absl::StatusOr<CounterCost> g = (*grouped)->Cost();
  ASSERT_OK(p);
  ASSERT_OK(g);
  EXPECT_GT(p->map_bytes, 0u);
  // 10,240 preallocated keys of 8 bytes with 8-byte counts, at least.
  EXPECT_GE(g->map_bytes, p->map_bytes + 10240u * 16);
  // The same as the kernel reports for each map.
  uint64_t sum = 0;
  for (int fd : {(*grouped)->reader().totals_fd(),
                 (*grouped)->reader().keys_fd(),
                 (*grouped)->reader().slots_fd()}) {
    absl::StatusOr<uint64_t> bytes = MapMemlockBytes(fd);
    ASSERT_OK(bytes);
    sum += *bytes;
  }
  EXPECT_EQ(g->map_bytes, sum);
}

TEST_F(BpfStatsTest, CostWorksAfterDetach) {
  auto counter = OwnUprobe(GroupBy::kNone);
  ASSERT_OK(counter);
  (*counter)->Detach();
  EXPECT_OK((*counter)->Cost());
}

TEST(BpfStatsSysctlTest, OnReadsTheSysctl) {
  const std::string dir = ::testing::TempDir();
  const std::string on = dir + "/on", off = dir + "/off";
  std::ofstream(on) << "1\n";
  std::ofstream(off) << "0\n";
  EXPECT_TRUE(KernelBpfStats(on).On());
  EXPECT_FALSE(KernelBpfStats(off).On());
  EXPECT_FALSE(KernelBpfStats(dir + "/missing").On());
}

}  // namespace
}  // namespace tally
