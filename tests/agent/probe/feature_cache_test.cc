#include "agent/probe/feature_cache.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "common/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/bpf_test_env.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

FeatureCacheKey SomeKey() {
  return {"0b2f-boot", "6.1.0-13-amd64", "4a0ca9e0", "000001fffeffffff",
          "[none] integrity confidentiality", "2"};
}

KernelFeatures SomeFeatures() {
  KernelFeatures f;
  f.release = "6.1.0-13-amd64";
  f.btf_source = "/sys/kernel/btf/vmlinux";
  for (AttachKind k : kAllAttachKinds) f.kinds[k] = absl::OkStatus();
  f.kinds[AttachKind::kKprobe] = absl::FailedPreconditionError(
      "the kernel has no kprobes:\n \"CONFIG_KPROBES\" off\\");
  f.kinds[AttachKind::kFentry] = absl::PermissionDeniedError("lacks CAP_BPF");
  return f;
}

std::string TempPath() {
  return absl::StrCat(::testing::TempDir(), "/cache-", getpid(), "-",
                      ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                      "/kernel-features");
}

TEST(FeatureCacheTest, ReadsBackWhatItWroteForTheSameKey) {
  const std::string path = TempPath();
  ASSERT_OK(WriteFeatureCache(path, SomeKey(), SomeFeatures(),
                              absl::FromUnixSeconds(1700000000)));
  absl::StatusOr<KernelFeatures> got = ReadFeatureCache(path, SomeKey());
  ASSERT_OK(got);
  EXPECT_EQ(got->kinds, SomeFeatures().kinds);
  EXPECT_EQ(got->btf_source, "/sys/kernel/btf/vmlinux");
  EXPECT_EQ(got->release, "6.1.0-13-amd64");
  EXPECT_THAT(got->source, StartsWith("cached: probed by this binary at "
                                      "2023-11-14 22:13:20 UTC"));
  EXPECT_THAT(got->source, HasSubstr(path));
  EXPECT_THAT(got->source, HasSubstr("0b2f-boot"));
}

// Anything the answers depend on differs: not this cache's answer.
TEST(FeatureCacheTest, MissesWhenAnythingTheAnswersDependOnDiffers) {
  const std::string path = TempPath();
  ASSERT_OK(WriteFeatureCache(path, SomeKey(), SomeFeatures(), absl::Now()));
  for (std::string FeatureCacheKey::*field :
       {&FeatureCacheKey::boot_id, &FeatureCacheKey::release,
        &FeatureCacheKey::build, &FeatureCacheKey::caps,
        &FeatureCacheKey::lockdown, &FeatureCacheKey::perf_event_paranoid}) {
    FeatureCacheKey other = SomeKey();
    other.*field += "x";
    EXPECT_THAT(ReadFeatureCache(path, other),
                StatusIs(absl::StatusCode::kNotFound,
                         HasSubstr("another boot, kernel, build or privileges")));
  }
  EXPECT_THAT(ReadFeatureCache(path + ".none", SomeKey()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no kernel feature cache")));
}

TEST(FeatureCacheTest, DamagedFilesAreNeverUsed) {
  const std::string path = TempPath();
  ASSERT_OK(WriteFeatureCache(path, SomeKey(), SomeFeatures(), absl::Now()));
  absl::StatusOr<std::string> good = ReadFile(path);
  ASSERT_OK(good);
  auto write = [&](const std::string& text) {
    std::ofstream(path, std::ios::trunc) << text;
  };
  // Cut short (a kind missing, no end mark), a mangled kind, no header.
  write(good->substr(0, good->find("kind uprobe")));
  EXPECT_THAT(ReadFeatureCache(path, SomeKey()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("incomplete")));
  write(absl::StrReplaceAll(*good, {{"kind uprobe 0", "kind uprobe x"}}));
  EXPECT_THAT(ReadFeatureCache(path, SomeKey()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("damaged")));
  write(absl::StrReplaceAll(*good, {{"kind tp_btf", "kind tp_btx"}}));
  EXPECT_THAT(ReadFeatureCache(path, SomeKey()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("damaged")));
  write("boot_id x\n");
  EXPECT_THAT(ReadFeatureCache(path, SomeKey()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no header")));
}

TEST(FeatureCacheTest, CurrentKeyDescribesThisProcess) {
  FeatureCacheKey key = CurrentFeatureCacheKey();
  absl::StatusOr<std::string> boot = ReadFile("/proc/sys/kernel/random/boot_id");
  ASSERT_OK(boot);
  EXPECT_TRUE(absl::StartsWith(*boot, key.boot_id)) << key.boot_id;
  EXPECT_FALSE(key.release.empty());
  EXPECT_NE(key.build, "unknown");
  EXPECT_NE(key.caps, "unknown");
  EXPECT_EQ(CurrentFeatureCacheKey(), key);
}

// Privileged: the first start of a boot probes and stores; the next one
// reads the same answers; a cache of another boot is probed over.
TEST(FeatureCacheTest, ProbesOnceThenServesTheCache) {
  TALLY_REQUIRE_BPF();
  const std::string path = TempPath();
  KernelFeatures probed = CachedOrProbedKernelFeatures(path);
  EXPECT_THAT(probed.source, StartsWith("probed at start-up in "));
  KernelFeatures cached = CachedOrProbedKernelFeatures(path);
  EXPECT_THAT(cached.source, StartsWith("cached: "));
  EXPECT_EQ(cached.kinds, probed.kinds);
  EXPECT_EQ(cached.release, probed.release);
  EXPECT_EQ(cached.btf_source, probed.btf_source);

  FeatureCacheKey stale = CurrentFeatureCacheKey();
  stale.boot_id = "an-earlier-boot";
  KernelFeatures claims_all = probed;
  for (auto& [kind, status] : claims_all.kinds) status = absl::OkStatus();
  ASSERT_OK(WriteFeatureCache(path, stale, claims_all, absl::Now()));
  KernelFeatures again = CachedOrProbedKernelFeatures(path);
  EXPECT_THAT(again.source, StartsWith("probed at start-up in "));
  EXPECT_EQ(again.kinds, probed.kinds);
  EXPECT_THAT(CachedOrProbedKernelFeatures(path).source, StartsWith("cached: "));
}

}  // namespace
}  // namespace tally
