#include "agent/probe/hook_resolver.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

class FakeSymbols : public KernelSymbols {
 public:
  std::set<std::string> tracepoints;  // "cat:name"
  std::set<std::string> functions;
  std::set<std::string> kallsyms;

  bool HasTracepoint(absl::string_view category,
                     absl::string_view name) override {
    return tracepoints.count(absl::StrCat(category, ":", name)) > 0;
  }
  bool HasBtfFunction(absl::string_view name) override {
    return functions.count(std::string(name)) > 0;
  }
  bool HasKallsym(absl::string_view name) override {
    return kallsyms.count(std::string(name)) > 0;
  }
};

// A kernel where exactly `supported` attach kinds work.
KernelFeatures Features(std::set<AttachKind> supported) {
  KernelFeatures f;
  f.release = "6.18.0-test";
  for (AttachKind kind : kAllAttachKinds) {
    f.kinds[kind] = supported.count(kind)
                        ? absl::OkStatus()
                        : absl::FailedPreconditionError("attach failed: ENOENT");
  }
  return f;
}

const std::set<AttachKind> kEverything(kAllAttachKinds.begin(),
                                       kAllAttachKinds.end());

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() {
    symbols_.tracepoints = {"syscalls:sys_enter_getppid",
                            "sched:sched_process_exec"};
    symbols_.functions = {SyscallFunction("getppid")};
    symbols_.kallsyms = {SyscallFunction("getppid")};
  }

  absl::StatusOr<ResolvedHook> Resolve(const std::string& spec,
                                       const KernelFeatures& features) {
    absl::StatusOr<HookSpec> parsed = ParseHookSpec(spec);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return ResolveHook(*parsed, features, symbols_);
  }

  FakeSymbols symbols_;
};

TEST_F(ResolverTest, SyscallPrefersFentry) {
  absl::StatusOr<ResolvedHook> r = Resolve("syscall:getppid", Features(kEverything));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.kind, AttachKind::kFentry);
  EXPECT_EQ(r->point.target, SyscallFunction("getppid"));
}

TEST_F(ResolverTest, SyscallFallsBackToTracepointWithoutFentry) {
  std::set<AttachKind> kinds = kEverything;
  kinds.erase(AttachKind::kFentry);
  absl::StatusOr<ResolvedHook> r = Resolve("syscall:getppid", Features(kinds));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.ToSpec(), "tracepoint:syscalls:sys_enter_getppid");
  EXPECT_THAT(r->note, HasSubstr("fentry"));
}

TEST_F(ResolverTest, SyscallUsesDoSysWhenTheWrapperHasNoBtf) {
  // Debian kernels: argument-less syscalls' wrappers lack BTF.
  symbols_.functions = {"__do_sys_getppid"};
  absl::StatusOr<ResolvedHook> r =
      Resolve("syscall:getppid", Features(kEverything));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.ToSpec(), "fentry:__do_sys_getppid");
}

TEST_F(ResolverTest, SyscallFallsBackToTracepointWhenFunctionHasNoBtf) {
  symbols_.functions.clear();
  absl::StatusOr<ResolvedHook> r =
      Resolve("syscall:getppid", Features(kEverything));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.kind, AttachKind::kTracepoint);
  EXPECT_THAT(r->note, HasSubstr("no BTF function"));
}

TEST_F(ResolverTest, SyscallKprobeNeedsOnlyKallsyms) {
  symbols_.functions.clear();
  symbols_.tracepoints.clear();
  absl::StatusOr<ResolvedHook> r =
      Resolve("syscall:getppid", Features({AttachKind::kKprobe}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.ToSpec(), absl::StrCat("kprobe:", SyscallFunction("getppid")));
}

TEST_F(ResolverTest, SyscallFallsBackToKprobe) {
  absl::StatusOr<ResolvedHook> r =
      Resolve("syscall:getppid",
              Features({AttachKind::kKprobe, AttachKind::kRawTracepoint}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.kind, AttachKind::kKprobe);
  EXPECT_EQ(r->point.target, SyscallFunction("getppid"));
}

TEST_F(ResolverTest, SyscallTracepointMissingFallsToKprobe) {
  symbols_.tracepoints.clear();
  absl::StatusOr<ResolvedHook> r = Resolve(
      "syscall:getppid",
      Features({AttachKind::kTracepoint, AttachKind::kKprobe}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.kind, AttachKind::kKprobe);
  EXPECT_THAT(r->note, HasSubstr("no syscalls:sys_enter_getppid"));
}

TEST_F(ResolverTest, SyscallWithNoMechanismIsFailedPrecondition) {
  EXPECT_THAT(Resolve("syscall:getppid", Features({AttachKind::kUprobe})),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       AllOf(HasSubstr("syscall:getppid"), HasSubstr("fentry"),
                             HasSubstr("tracepoint"), HasSubstr("kprobe"))));
}

TEST_F(ResolverTest, UnknownSyscallIsNotFound) {
  symbols_.kallsyms.clear();
  EXPECT_THAT(Resolve("syscall:nosuchcall", Features(kEverything)),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("unknown syscall 'nosuchcall'")));
}

TEST_F(ResolverTest, MissingPrivilegeIsPermissionDenied) {
  KernelFeatures f = Features({});
  for (auto& [kind, status] : f.kinds) {
    status = absl::PermissionDeniedError("tallyd lacks CAP_BPF");
  }
  EXPECT_THAT(Resolve("syscall:getppid", f),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("CAP_BPF")));
  EXPECT_THAT(Resolve("kprobe:vfs_read", f),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("CAP_BPF")));
}

TEST_F(ResolverTest, UnsupportedKindSaysWhatWorks) {
  EXPECT_THAT(
      Resolve("kprobe:vfs_read",
              Features({AttachKind::kTracepoint, AttachKind::kUprobe})),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               AllOf(HasSubstr("cannot attach kprobe"), HasSubstr("ENOENT"),
                     HasSubstr("kinds that work here: tracepoint, uprobe"))));
}

TEST_F(ResolverTest, DirectKindsPassThrough) {
  absl::StatusOr<ResolvedHook> r =
      Resolve("kfunc:vfs_read", Features(kEverything));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->point.ToSpec(), "fentry:vfs_read");
  EXPECT_TRUE(r->note.empty());
}

TEST_F(ResolverTest, UnknownTracepointIsNotFound) {
  EXPECT_THAT(Resolve("tracepoint:sched:no_such_event", Features(kEverything)),
              StatusIs(absl::StatusCode::kNotFound,
                       HasSubstr("tracepoint sched:no_such_event does not exist")));
}

}  // namespace
}  // namespace tally
