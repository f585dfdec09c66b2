#include "bench/bpftrace_runner.h"

#include <signal.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace tally::bench {

bool BpftraceInstalled() {
  return std::system("command -v bpftrace >/dev/null 2>&1") == 0;
}

absl::StatusOr<std::unique_ptr<Bpftrace>> Bpftrace::Start(
    const std::string& program) {
  auto b = std::unique_ptr<Bpftrace>(new Bpftrace());
  const std::string full =
      absl::StrCat(program, " BEGIN { printf(\"tally-bench-ready\\n\"); }");
  const absl::Time start = absl::Now();
  b->child_ = std::make_unique<::tally::testing::Child>(
      std::vector<std::string>{"bpftrace", "-B", "line", "-e", full});
  const absl::Time deadline = start + absl::Seconds(60);
  while (true) {
    std::optional<std::string> line = b->child_->ReadLine(deadline);
    if (!line) {
      return absl::UnavailableError(absl::StrCat(
          "bpftrace did not attach: ", b->child_->Stderr()));
    }
    if (*line == "tally-bench-ready") break;
  }
  b->start_to_attached_ = absl::Now() - start;
  return b;
}

Bpftrace::~Bpftrace() {
  if (child_ == nullptr) return;
  child_->Signal(SIGINT);
  if (child_->Wait(absl::Seconds(10)) == -1000) child_->Signal(SIGKILL);
}

}  // namespace tally::bench
