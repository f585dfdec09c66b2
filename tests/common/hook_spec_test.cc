#include "common/hook_spec.h"

#include <string>

#include "common/quote.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

struct ValidCase {
  const char* spec;
  AttachKind kind;
  const char* category;
  const char* target;
  const char* binary;
  const char* canonical;
};

class ValidSpecTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidSpecTest, ParsesToAttachPoint) {
  const ValidCase& c = GetParam();
  absl::StatusOr<HookSpec> spec = ParseHookSpec(c.spec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->point.has_value());
  EXPECT_EQ(spec->point->kind, c.kind);
  EXPECT_EQ(spec->point->category, c.category);
  EXPECT_EQ(spec->point->target, c.target);
  EXPECT_EQ(spec->point->binary, c.binary);
  EXPECT_EQ(spec->ToSpec(), c.canonical);
  EXPECT_TRUE(spec->syscall.empty());
}

INSTANTIATE_TEST_SUITE_P(
    AllForms, ValidSpecTest,
    ::testing::Values(
        ValidCase{"tracepoint:sched:sched_process_exec",
                  AttachKind::kTracepoint, "sched", "sched_process_exec", "",
                  "tracepoint:sched:sched_process_exec"},
        ValidCase{"t:syscalls:sys_enter_read", AttachKind::kTracepoint,
                  "syscalls", "sys_enter_read", "",
                  "tracepoint:syscalls:sys_enter_read"},
        ValidCase{"rawtracepoint:sched_switch", AttachKind::kRawTracepoint, "",
                  "sched_switch", "", "rawtracepoint:sched_switch"},
        ValidCase{"rt:sys_enter", AttachKind::kRawTracepoint, "", "sys_enter",
                  "", "rawtracepoint:sys_enter"},
        ValidCase{"tp_btf:sched_process_exec", AttachKind::kTpBtf, "",
                  "sched_process_exec", "", "tp_btf:sched_process_exec"},
        ValidCase{"kprobe:do_sys_openat2", AttachKind::kKprobe, "",
                  "do_sys_openat2", "", "kprobe:do_sys_openat2"},
        ValidCase{"k:tcp_v4_connect", AttachKind::kKprobe, "",
                  "tcp_v4_connect", "", "kprobe:tcp_v4_connect"},
        ValidCase{"kprobe:finish_task_switch.isra.0", AttachKind::kKprobe, "",
                  "finish_task_switch.isra.0", "",
                  "kprobe:finish_task_switch.isra.0"},
        ValidCase{"kretprobe:vfs_read", AttachKind::kKretprobe, "", "vfs_read",
                  "", "kretprobe:vfs_read"},
        ValidCase{"kr:vfs_read", AttachKind::kKretprobe, "", "vfs_read", "",
                  "kretprobe:vfs_read"},
        ValidCase{"fentry:vfs_read", AttachKind::kFentry, "", "vfs_read", "",
                  "fentry:vfs_read"},
        ValidCase{"kfunc:vfs_read", AttachKind::kFentry, "", "vfs_read", "",
                  "fentry:vfs_read"},
        ValidCase{"f:vfs_read", AttachKind::kFentry, "", "vfs_read", "",
                  "fentry:vfs_read"},
        ValidCase{"fexit:vfs_write", AttachKind::kFexit, "", "vfs_write", "",
                  "fexit:vfs_write"},
        ValidCase{"kretfunc:vfs_write", AttachKind::kFexit, "", "vfs_write",
                  "", "fexit:vfs_write"},
        ValidCase{"uprobe:/usr/bin/bash:readline", AttachKind::kUprobe, "",
                  "readline", "/usr/bin/bash", "uprobe:/usr/bin/bash:readline"},
        ValidCase{"u:/lib/x86_64-linux-gnu/libc.so.6:malloc",
                  AttachKind::kUprobe, "", "malloc",
                  "/lib/x86_64-linux-gnu/libc.so.6",
                  "uprobe:/lib/x86_64-linux-gnu/libc.so.6:malloc"},
        ValidCase{"uretprobe:/usr/bin/bash:readline", AttachKind::kUretprobe,
                  "", "readline", "/usr/bin/bash",
                  "uretprobe:/usr/bin/bash:readline"},
        ValidCase{"ur:/bin/x:_ZN5tally3FooEv", AttachKind::kUretprobe, "",
                  "_ZN5tally3FooEv", "/bin/x", "uretprobe:/bin/x:_ZN5tally3FooEv"},
        ValidCase{"  kprobe:vfs_read\n", AttachKind::kKprobe, "", "vfs_read",
                  "", "kprobe:vfs_read"}));

TEST(HookSpecTest, SyscallAlias) {
  absl::StatusOr<HookSpec> spec = ParseHookSpec("syscall:execve");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->point.has_value());
  EXPECT_EQ(spec->syscall, "execve");
  EXPECT_EQ(spec->ToSpec(), "syscall:execve");
}

struct InvalidCase {
  const char* spec;
  const char* message_part;
};

class InvalidSpecTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidSpecTest, IsInvalidArgumentNamingTheBadPart) {
  EXPECT_THAT(ParseHookSpec(GetParam().spec),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(GetParam().message_part)));
}

INSTANTIATE_TEST_SUITE_P(
    AllForms, InvalidSpecTest,
    ::testing::Values(
        InvalidCase{"", "the hook is empty"},
        InvalidCase{"   ", "the hook is empty"},
        InvalidCase{"sched_process_exec", "has no probe type"},
        InvalidCase{"bogus:foo", "unknown probe type 'bogus'"},
        InvalidCase{"tracepoint:sched", "tracepoint:CATEGORY:NAME"},
        InvalidCase{"tracepoint:a:b:c", "tracepoint:CATEGORY:NAME"},
        InvalidCase{"tracepoint::sched_switch", "tracepoint category is empty"},
        InvalidCase{"tracepoint:sched:", "tracepoint name is empty"},
        InvalidCase{"tracepoint:sched:sched_*", "wildcards are not supported"},
        InvalidCase{"tracepoint:sch-ed:x", "invalid character '-'"},
        InvalidCase{"rawtracepoint:", "tracepoint name is empty"},
        InvalidCase{"rawtracepoint:a:b", "rawtracepoint:NAME"},
        InvalidCase{"kprobe:", "kernel function is empty"},
        InvalidCase{"kprobe:vfs_*", "wildcards are not supported"},
        InvalidCase{"kprobe:vfs read", "invalid character ' '"},
        InvalidCase{"kprobe:mod:fn", "kprobe:NAME"},
        InvalidCase{"fentry:", "kernel function is empty"},
        InvalidCase{"fexit:a/b", "invalid character '/'"},
        InvalidCase{"uprobe:readline", "uprobe:PATH:SYMBOL"},
        InvalidCase{"uprobe::readline", "binary path is empty"},
        InvalidCase{"uprobe:/bin/bash:", "symbol is empty"},
        InvalidCase{"uretprobe:/bin/bash:read*", "wildcards are not supported"},
        InvalidCase{"syscall:", "syscall name is empty"},
        InvalidCase{"syscall:a:b", "syscall:NAME"},
        InvalidCase{"syscall:sys_execve", "without the sys_ prefix"},
        InvalidCase{"syscall:exec.ve", "invalid character '.'"}));

}  // namespace
}  // namespace tally

namespace tally {
namespace {

bool IsUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8SequenceLength(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// A hook of several KB used to make a message larger than a default gRPC
// client accepts (8 KB of metadata): RESOURCE_EXHAUSTED instead of the
// INVALID_ARGUMENT the user needed.
TEST(HookSpecTest, HugeHooksGetShortMessages) {
  for (const std::string& hook :
       {std::string(9000, 'x'), "tracepoint:sched:" + std::string(9000, 'y'),
        "kprobe:" + std::string(3000, '*'),
        "uprobe:/" + std::string(5000, 'p') + ":sym"}) {
    absl::StatusOr<HookSpec> spec = ParseHookSpec(hook);
    EXPECT_THAT(spec, StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_LT(spec.status().message().size(), 1024u) << spec.status();
  }
}

TEST(HookSpecTest, NonAsciiInputGivesValidUtf8Messages) {
  for (const char* hook :
       {"tracepoint:sched:\xc3\xa9t\xc3\xa9", "kprobe:caf\xc3\xa9",
        "syscall:\xe2\x82\xac", "tracepoint:sched:bad\xc3", "\xc3\xa9:x"}) {
    absl::StatusOr<HookSpec> spec = ParseHookSpec(hook);
    ASSERT_FALSE(spec.ok()) << hook;
    EXPECT_TRUE(IsUtf8(spec.status().message())) << spec.status().message();
  }
  EXPECT_THAT(ParseHookSpec("kprobe:caf\xc3\xa9"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("invalid character '\xc3\xa9'")));
}

}  // namespace
}  // namespace tally
