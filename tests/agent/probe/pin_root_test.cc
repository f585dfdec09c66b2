// PinRoot on the real bpffs: one agent per root, records in maps, probes
// assembled then committed, leftovers cleaned or reported.
#include "agent/probe/pin_root.h"

#include <bpf/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class PinRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TALLY_REQUIRE_BPF();
    root_ = absl::StrCat("/sys/fs/bpf/tally-test-pinroot-", getpid(), "-",
                         ::testing::UnitTest::GetInstance()
                             ->current_test_info()
                             ->name());
  }
  void TearDown() override { (void)RemovePinTree(root_); }
  std::string root_;
};

TEST_F(PinRootTest, OneAgentPerRoot) {
  absl::StatusOr<std::unique_ptr<PinRoot>> first = PinRoot::Open(root_);
  ASSERT_OK(first.status());
  EXPECT_THAT(PinRoot::Open(root_),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("another tallyd keeps its probes in")));
  first->reset();
  EXPECT_OK(PinRoot::Open(root_).status());
}

TEST_F(PinRootTest, RecordsAreAssembledThenCommittedUnderTheirNames) {
  auto root = PinRoot::Open(root_);
  ASSERT_OK(root.status());
  absl::StatusOr<std::string> dir = (*root)->NewProbeDir();
  ASSERT_OK(dir.status());
  ASSERT_OK(PinRoot::WriteRecord(*dir, "first"));
  ASSERT_OK(PinRoot::WriteRecord(*dir, "second, longer"));
  ASSERT_OK((*root)->Commit(*dir, "execs.v1"));
  // bpffs refuses dots: the name is kept with '+'.
  EXPECT_EQ((*root)->ProbeDir("execs.v1"), root_ + "/execs+v1");
  EXPECT_EQ(*PinRoot::ReadRecord((*root)->ProbeDir("execs.v1")),
            "second, longer");
  PinRoot::Listing listing = (*root)->List();
  EXPECT_THAT(listing.probes, ::testing::ElementsAre("execs.v1"));
  EXPECT_TRUE(listing.warnings.empty());
  absl::StatusOr<std::string> again = (*root)->NewProbeDir();
  ASSERT_OK(again.status());
  EXPECT_THAT((*root)->Commit(*again, "execs.v1"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("already exists")));
}

TEST_F(PinRootTest, LeftoversAreCleanedOrReportedAndNeverBreakTheListing) {
  auto root = PinRoot::Open(root_);
  ASSERT_OK(root.status());
  // A probe half-pinned by an agent that died, something tally did not
  // write, and a good probe.
  absl::StatusOr<std::string> half = (*root)->NewProbeDir();
  ASSERT_OK(half.status());
  ASSERT_EQ(mkdir((root_ + "/someone-else").c_str(), 0700), 0);
  absl::StatusOr<std::string> good = (*root)->NewProbeDir();
  ASSERT_OK(good.status());
  ASSERT_OK(PinRoot::WriteRecord(*good, "record"));
  ASSERT_OK((*root)->Commit(*good, "good"));

  PinRoot::Listing listing = (*root)->List();
  EXPECT_THAT(listing.probes, ::testing::ElementsAre("good"));
  ASSERT_EQ(listing.warnings.size(), 2u);
  std::sort(listing.warnings.begin(), listing.warnings.end());
  EXPECT_THAT(listing.warnings[0], HasSubstr("someone-else alone"));
  EXPECT_THAT(listing.warnings[1], HasSubstr("half-pinned"));
  EXPECT_NE(access(half->c_str(), F_OK), 0);
  EXPECT_EQ(access((root_ + "/someone-else").c_str(), F_OK), 0);
}

TEST_F(PinRootTest, AliveSurvivesAReopen) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  {
    auto root = PinRoot::Open(root_);
    ASSERT_OK(root.status());
    EXPECT_EQ((*root)->LastAlive(), absl::InfinitePast());
    (*root)->MarkAlive(now);
  }
  auto root = PinRoot::Open(root_);
  ASSERT_OK(root.status());
  EXPECT_EQ((*root)->LastAlive(), now);
}

TEST_F(PinRootTest, RemoveAllLeavesNothing) {
  auto root = PinRoot::Open(root_);
  ASSERT_OK(root.status());
  for (const char* name : {"a", "b.c"}) {
    absl::StatusOr<std::string> dir = (*root)->NewProbeDir();
    ASSERT_OK(dir.status());
    ASSERT_OK(PinRoot::WriteRecord(*dir, name));
    ASSERT_OK((*root)->Commit(*dir, name));
  }
  std::vector<std::string> removed;
  ASSERT_OK((*root)->RemoveAll(&removed));
  EXPECT_THAT(removed, ::testing::UnorderedElementsAre("a", "b.c"));
  EXPECT_NE(access(root_.c_str(), F_OK), 0);
}

TEST_F(PinRootTest, RemoveAllLeavesOtherToolsPinsAlone) {
  auto root = PinRoot::Open(root_);
  ASSERT_OK(root.status());
  absl::StatusOr<std::string> dir = (*root)->NewProbeDir();
  ASSERT_OK(dir.status());
  ASSERT_OK(PinRoot::WriteRecord(*dir, "record"));
  ASSERT_OK((*root)->Commit(*dir, "ours"));
  // Another tool's pins beside tally's (as under a mistyped --pin_dir).
  const std::string other = root_ + "/othertool";
  ASSERT_EQ(mkdir(other.c_str(), 0700), 0);
  ASSERT_OK(PinRoot::WriteRecord(root_, "not a probe: a pin in the root"));
  int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "othertool", 4, 4, 1, nullptr);
  ASSERT_GE(map, 0);
  ASSERT_OK(PinFd(map, other + "/state"));
  close(map);

  std::vector<std::string> removed;
  EXPECT_THAT((*root)->RemoveAll(&removed),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("tally did not write"),
                             HasSubstr("othertool"), HasSubstr("meta"))));
  EXPECT_THAT(removed, ::testing::ElementsAre("ours"));
  EXPECT_NE(access((*root)->ProbeDir("ours").c_str(), F_OK), 0);
  EXPECT_EQ(access((other + "/state").c_str(), F_OK), 0);
  EXPECT_EQ(access((root_ + "/meta").c_str(), F_OK), 0);
  EXPECT_NE(access((root_ + "/alive").c_str(), F_OK), 0);
}

TEST(PinRootPathTest, OutsideBpffsIsAClearPrecondition) {
  EXPECT_THAT(PinRoot::Open(::testing::TempDir() + "/pins"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is not on a bpffs mount")));
}

}  // namespace
}  // namespace tally
