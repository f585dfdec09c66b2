// FileWatcher against the ways a file really changes: an editor's
// write-then-rename, a write in place, and the kubelet's ConfigMap update.
#include "agent/daemon/file_watcher.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

class Seen {
 public:
  void Add(absl::StatusOr<std::string> c) {
    absl::MutexLock lock(&mu_);
    seen_.push_back(c.ok() ? *c
                           : "<" + std::string(c.status().message()) + ">");
  }
  // The `n`th call's contents, waiting (bounded) for it.
  std::string WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return seen_.size() >= n;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10))) {
      return "<timed out>";
    }
    return seen_[n - 1];
  }
  size_t count() {
    absl::MutexLock lock(&mu_);
    return seen_.size();
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> seen_ ABSL_GUARDED_BY(mu_);
};

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  std::unique_ptr<FileWatcher> Watch(const fs::path& file) {
    auto w = FileWatcher::Start(file.string(),
                                [this](auto c) { seen_.Add(std::move(c)); });
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }
  fs::path dir_;
  Seen seen_;
};

TEST_F(FileWatcherTest, EditorsWriteThenRename) {
  WriteFile(dir_ / "probes.yaml", "one");
  auto w = Watch(dir_ / "probes.yaml");
  EXPECT_EQ(seen_.WaitFor(1), "one");
  WriteFile(dir_ / ".probes.yaml.swp", "two");
  fs::rename(dir_ / ".probes.yaml.swp", dir_ / "probes.yaml");
  EXPECT_EQ(seen_.WaitFor(2), "two");
}

TEST_F(FileWatcherTest, WritesInPlaceAndAMissingFile) {
  auto w = Watch(dir_ / "probes.yaml");
  EXPECT_NE(seen_.WaitFor(1).find("cannot read"), std::string::npos);
  WriteFile(dir_ / "probes.yaml", "created");
  EXPECT_EQ(seen_.WaitFor(2), "created");
  WriteFile(dir_ / "probes.yaml", "rewritten");
  EXPECT_EQ(seen_.WaitFor(3), "rewritten");
}

// What the kubelet does on a ConfigMap update: the file is a symlink
// through ..data, which is swapped atomically to a new timestamped dir.
TEST_F(FileWatcherTest, KubeletConfigMapSwap) {
  fs::create_directories(dir_ / "..2026_11_24_00_00_00.1");
  WriteFile(dir_ / "..2026_11_24_00_00_00.1" / "probes.yaml", "v1");
  fs::create_directory_symlink("..2026_11_24_00_00_00.1", dir_ / "..data");
  fs::create_symlink("..data/probes.yaml", dir_ / "probes.yaml");
  auto w = Watch(dir_ / "probes.yaml");
  EXPECT_EQ(seen_.WaitFor(1), "v1");

  fs::create_directories(dir_ / "..2026_11_24_00_01_00.2");
  WriteFile(dir_ / "..2026_11_24_00_01_00.2" / "probes.yaml", "v2");
  fs::create_directory_symlink("..2026_11_24_00_01_00.2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  fs::remove_all(dir_ / "..2026_11_24_00_00_00.1");
  EXPECT_EQ(seen_.WaitFor(2), "v2");
}

TEST_F(FileWatcherTest, UnchangedContentsAreNotReported) {
  WriteFile(dir_ / "probes.yaml", "same");
  auto w = Watch(dir_ / "probes.yaml");
  EXPECT_EQ(seen_.WaitFor(1), "same");
  WriteFile(dir_ / "probes.yaml", "same");  // touched, not changed
  WriteFile(dir_ / "probes.yaml", "different");
  EXPECT_EQ(seen_.WaitFor(2), "different");
  EXPECT_EQ(seen_.count(), 2u);
}

}  // namespace
}  // namespace tally
