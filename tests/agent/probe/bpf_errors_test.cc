// The statuses failed loads and attaches become: no kernel needed.
#include "agent/probe/bpf_errors.h"

#include <errno.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

const AttachPoint kRaw{AttachKind::kRawTracepoint, "", "sys_enter", ""};

// Outside-client finding: ENOMEM and E2BIG while loading were
// FAILED_PRECONDITION, as if the request were wrong for this kernel.
TEST(BpfErrorsTest, OutOfRoomWhileLoadingIsResourceExhausted) {
  EXPECT_THAT(LoadError(kRaw, ENOMEM, ""),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       AllOf(HasSubstr("ENOMEM"), HasSubstr("max_keys"))));
  std::string log = "0: (b7) r1 = 0\nBPF program is too large. Processed 1000001 insn\n";
  EXPECT_THAT(LoadError(kRaw, E2BIG, log),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("BPF program is too large")));
}

TEST(BpfErrorsTest, VerifierRejectionCarriesTheLogTail) {
  std::string log(5000, 'x');
  log += "\nR1 invalid mem access 'scalar'\n";
  absl::Status s = LoadError(kRaw, EINVAL, log);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          AllOf(HasSubstr("verifier rejected"),
                                HasSubstr("R1 invalid mem access"))));
  EXPECT_LT(s.message().size(), 2000u);
}

TEST(BpfErrorsTest, MissingTargetsAreNotFoundByWhatTheyAre) {
  EXPECT_THAT(AttachError({AttachKind::kTracepoint, "sched", "nope", ""}, ENOENT),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("tracepoint sched:nope does not exist")));
  EXPECT_THAT(AttachError({AttachKind::kKprobe, "", "nope_fn", ""}, ENOENT),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("kernel function nope_fn")));
  EXPECT_THAT(AttachError({AttachKind::kUprobe, "", "sym", "/bin/x"}, ENOENT),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("symbol sym was not found in /bin/x")));
  EXPECT_THAT(AttachError(kRaw, E2BIG),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("at most 64 BPF programs")));
}

}  // namespace
}  // namespace tally
