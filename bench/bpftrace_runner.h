// Runs bpftrace with one program and waits until its probes are attached.
#ifndef TALLY_BENCH_BPFTRACE_RUNNER_H_
#define TALLY_BENCH_BPFTRACE_RUNNER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace tally::bench {

class Bpftrace {
 public:
  // `program` gets a BEGIN probe that prints a marker; bpftrace fires BEGIN
  // after attaching every other probe, so the marker means "attached".
  static absl::StatusOr<std::unique_ptr<Bpftrace>> Start(
      const std::string& program);
  ~Bpftrace();  // SIGINT, then SIGKILL

  absl::Duration start_to_attached() const { return start_to_attached_; }
  pid_t pid() const { return child_->pid(); }

 private:
  std::unique_ptr<::tally::testing::Child> child_;
  absl::Duration start_to_attached_;
};

bool BpftraceInstalled();

}  // namespace tally::bench

#endif  // TALLY_BENCH_BPFTRACE_RUNNER_H_
