// The declared probe file: the issue's example, and each kind of mistake
// reported with its line.
#include "agent/daemon/probes_file.h"

#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"
#include "tally/v1/agent.pb.h"
#include "tally/v1/probes_file.pb.h"
#include "tests/testing/status_matchers.h"

namespace tally {
namespace {

using ::tally::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<std::vector<DeclaredConfig>> Parse(const std::string& text) {
  static const HostPids host_pids("/proc");
  return ParseProbesFile(text, "probes.yaml", AgentLimits(), "node", host_pids);
}

TEST(ProbesFileTest, TheDocumentedExampleWorks) {
  absl::StatusOr<std::vector<DeclaredConfig>> probes = Parse(R"(probes:
  - name: execs
    hook: syscall:execve
    group_by: comm
  - name: opens
    hook: tracepoint:syscalls:sys_enter_openat
    ttl: 24h
    optional: true
)");
  ASSERT_OK(probes.status());
  ASSERT_EQ(probes->size(), 2u);
  const DeclaredConfig& execs = (*probes)[0];
  EXPECT_EQ(execs.config.name, "execs");
  EXPECT_EQ(execs.config.hook.ToSpec(), "syscall:execve");
  EXPECT_EQ(execs.config.options.group_by, GroupBy::kComm);
  EXPECT_FALSE(execs.optional);
  EXPECT_EQ(execs.line, 2);
  const DeclaredConfig& opens = (*probes)[1];
  EXPECT_EQ(opens.config.ttl, absl::Hours(24));
  EXPECT_TRUE(opens.optional);
  EXPECT_EQ(opens.line, 5);
}

TEST(ProbesFileTest, EmptyFilesDeclareNothing) {
  for (const char* text : {"", "probes:\n", "probes: []\n", "# nothing\n"}) {
    absl::StatusOr<std::vector<DeclaredConfig>> probes = Parse(text);
    ASSERT_OK(probes.status()) << text;
    EXPECT_TRUE(probes->empty());
  }
}

TEST(ProbesFileTest, MistakesNameTheFileAndLine) {
  EXPECT_THAT(Parse("probes:\n  - name: a\n   hook: x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:3: not valid YAML")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "    grup_by: comm\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:4: probes[0]: unknown field "
                                 "'grup_by'")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "  - name: b\n    hook: nope:x\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:4: probes[1]: hook 'nope:x'")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "    group_by: comms\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:4: probes[0].group_by: unknown "
                                 "value 'comms'")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "    ttl: forever\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:4: probes[0].ttl: 'forever' is "
                                 "not a duration")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "  - name: a\n    hook: syscall:openat\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:4: probes[1]: probe 'a' is "
                                 "already declared at line 2")));
  EXPECT_THAT(Parse("probes:\n  name: a\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:2: probes: expected a list")));
  EXPECT_THAT(Parse("probe:\n  - name: a\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown field 'probe'")));
}

// Outside-run findings: both were accepted, the first silently taking the
// last value, the second silently dropping every probe after the '---'.
TEST(ProbesFileTest, RepeatedKeysAndExtraDocumentsAreMistakes) {
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "    group_by: comm\n    group_by: pid\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:5: probes[0]: field 'group_by' "
                                 "is given twice")));
  EXPECT_THAT(Parse("probes:\n  - name: a\n    hook: syscall:execve\n"
                    "---\nprobes:\n  - name: b\n    hook: syscall:openat\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("probes.yaml:5: a second YAML document")));
  // One document, even with its explicit start marker, is fine.
  EXPECT_OK(Parse("---\nprobes:\n  - name: a\n    hook: syscall:execve\n")
                .status());
}

// A declared probe is read as a StartProbeRequest: the two must keep the
// same field numbers and types.
TEST(ProbesFileTest, DeclaredProbeIsWireCompatibleWithStartProbeRequest) {
  const google::protobuf::Descriptor* request =
      v1::StartProbeRequest::descriptor();
  const google::protobuf::Descriptor* declared =
      v1::DeclaredProbe::descriptor();
  for (int i = 0; i < request->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* r = request->field(i);
    const google::protobuf::FieldDescriptor* d =
        declared->FindFieldByNumber(r->number());
    ASSERT_NE(d, nullptr) << "DeclaredProbe lacks field " << r->name();
    EXPECT_EQ(d->name(), r->name());
    EXPECT_EQ(d->type(), r->type()) << r->name();
    EXPECT_EQ(d->is_repeated(), r->is_repeated()) << r->name();
  }
  for (int i = 0; i < declared->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* d = declared->field(i);
    if (d->name() == "optional") continue;
    EXPECT_NE(request->FindFieldByNumber(d->number()), nullptr) << d->name();
  }
}

}  // namespace
}  // namespace tally
