// Runs test binaries (tallyctl, ip, ...) as child processes: to completion
// with captured output, or in the background with line-by-line reading.
#ifndef TALLY_TESTS_TESTING_SUBPROCESS_H_
#define TALLY_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace tally::testing {

struct RunResult {
  int exit_code = -1;  // -signal when killed; -1000 on timeout
  std::string out;
  std::string err;
};

// A file's whole contents; empty if it cannot be read (logs, outputs).
std::string ReadWholeFile(const std::string& path);

// Runs argv[0] (PATH lookup) to completion; kills it after `timeout`.
RunResult Run(const std::vector<std::string>& argv,
              absl::Duration timeout = absl::Seconds(60));

// A background child whose stdout is read line by line.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv);
  ~Child();  // SIGKILL if still running

  // The next stdout line, or nullopt at EOF or when `deadline` passes.
  std::optional<std::string> ReadLine(absl::Time deadline);
  void Signal(int signo);
  // Exit code (as RunResult), or -1000 when it does not exit in time.
  int Wait(absl::Duration timeout);
  std::string Stderr() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string err_path_;
  std::string buffer_;
  bool exited_ = false;
  int exit_code_ = -1;
};

}  // namespace tally::testing

#endif  // TALLY_TESTS_TESTING_SUBPROCESS_H_
