#include "common/files.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ReadFileTest, ReadsWholeFiles) {
  std::string big(100000, 'p');
  EXPECT_EQ(*ReadFile(Write("big.pem", big)), big);
}

TEST(ReadFileTest, MissingIsNotFound) {
  EXPECT_THAT(ReadFile("/no/such/file.pem"),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("/no/such/file.pem")));
}

// Outside-client finding: an existing PEM file tallyd could not read was
// reported NOT_FOUND, sending operators to look for a file that is there.
TEST(ReadFileTest, ExistingButUnreadableIsNotNotFound) {
  EXPECT_THAT(ReadFile(::testing::TempDir()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("Is a directory")));
  std::string path = Write("secret.pem", "key");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  // Root reads anything; drop every capability in a child to see EACCES.
  pid_t child = fork();
  if (child == 0) {
    __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct none[2] = {};
    if (syscall(SYS_capset, &header, none) != 0) _exit(3);
    absl::StatusOr<std::string> read = ReadFile(path);
    _exit(read.status().code() == absl::StatusCode::kPermissionDenied ? 0
                                                                       : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "expected PERMISSION_DENIED";
}

}  // namespace
}  // namespace tally
