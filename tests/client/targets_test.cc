#include "client/targets.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace tally::cli {
namespace {

using ::tally::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ::testing::StartsWith;

// A target that was parsed, not resolved: label and gRPC target are the
// entry, no TLS name override, no error.
::testing::Matcher<AgentTarget> Literal(const std::string& entry) {
  return AllOf(Field("label", &AgentTarget::label, entry),
               Field("grpc_target", &AgentTarget::grpc_target, entry),
               Field("tls_name", &AgentTarget::tls_name, IsEmpty()),
               Field("error", &AgentTarget::error, IsEmpty()));
}

std::vector<AgentTarget> MustParse(const std::string& spec) {
  absl::StatusOr<std::vector<AgentTarget>> targets = ParseAgents(spec);
  EXPECT_TRUE(targets.ok()) << spec << ": " << targets.status();
  return targets.ok() ? *targets : std::vector<AgentTarget>{};
}

// A scratch directory under /tmp for agent list files, removed afterwards.
class AgentFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/tally-client-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
  }

  void TearDown() override {
    for (const std::string& path : files_) std::remove(path.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  // Writes `contents` to a new file `name` in the scratch directory and
  // returns its path.
  std::string WriteFile(const std::string& name, const std::string& contents) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream out(path);
    out << contents;
    out.close();
    EXPECT_TRUE(out) << "cannot write " << path;
    files_.push_back(path);
    return path;
  }

  std::string dir_;
  std::vector<std::string> files_;
};

TEST(ParseAgentsTest, HostPort) {
  EXPECT_THAT(MustParse("10.0.0.7:7070"), ElementsAre(Literal("10.0.0.7:7070")));
  EXPECT_THAT(MustParse("node-a.example.com:443"),
              ElementsAre(Literal("node-a.example.com:443")));
  EXPECT_THAT(MustParse("my_host:1"), ElementsAre(Literal("my_host:1")));
  EXPECT_THAT(MustParse("localhost:65535"),
              ElementsAre(Literal("localhost:65535")));
}

TEST(ParseAgentsTest, BracketedIpv6) {
  EXPECT_THAT(MustParse("[::1]:7070"), ElementsAre(Literal("[::1]:7070")));
  EXPECT_THAT(MustParse("[fd00::7]:7070"),
              ElementsAre(Literal("[fd00::7]:7070")));
}

TEST(ParseAgentsTest, UnixSocket) {
  EXPECT_THAT(MustParse("unix:/run/tally/tallyd.sock"),
              ElementsAre(Literal("unix:/run/tally/tallyd.sock")));
}

// Tester's finding 5: spellings of one socket path are one agent.
TEST(ParseAgentsTest, UnixPathsAreNormalizedAndDeduplicated) {
  std::vector<AgentTarget> targets =
      MustParse("unix:/tmp/a/1.sock,unix:/tmp/a//1.sock,unix:/tmp/./a/1.sock");
  ASSERT_THAT(targets, SizeIs(1));
  EXPECT_EQ(targets[0].grpc_target, "unix:/tmp/a/1.sock");
  EXPECT_EQ(MustParse("unix://tmp//b.sock")[0].grpc_target, "unix:/tmp/b.sock");
  EXPECT_EQ(MustParse("unix:rel//c.sock")[0].grpc_target, "unix:rel/c.sock");
}

TEST(ParseAgentsTest, SameAddressTwiceIsOneAgent) {
  EXPECT_THAT(MustParse("a:1,b:2,a:1"),
              ElementsAre(Literal("a:1"), Literal("b:2")));
}

TEST(ParseAgentsTest, DefaultAgentParses) {
  EXPECT_THAT(MustParse(kDefaultAgent), ElementsAre(Literal(kDefaultAgent)));
}

TEST(ParseAgentsTest, CommaListWithSpacesKeepsOrder) {
  EXPECT_THAT(
      MustParse(" 10.0.0.7:7070 ,unix:/tmp/a.sock,  [::1]:7071 , b:1 "),
      ElementsAre(Literal("10.0.0.7:7070"), Literal("unix:/tmp/a.sock"),
                  Literal("[::1]:7071"), Literal("b:1")));
}

TEST(ParseAgentsTest, EmptyListEntriesAreSkipped) {
  EXPECT_THAT(MustParse(",a:1,,  ,b:2,"),
              ElementsAre(Literal("a:1"), Literal("b:2")));
}

TEST(ParseAgentsTest, EmptyListIsAnError) {
  for (const char* spec : {"", " ", ",", " , ,"}) {
    SCOPED_TRACE(spec);
    EXPECT_THAT(ParseAgents(spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("no agents given")));
  }
}

TEST(ParseAgentsTest, BadPortsAreRejected) {
  for (const char* spec :
       {"host:0", "host:70000", "host:65536", "host:abc", "host:", "host:-1",
        "[::1]:0", "[::1]:abc"}) {
    SCOPED_TRACE(spec);
    EXPECT_THAT(ParseAgents(spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("'", spec, "'")),
                               HasSubstr("invalid port"))));
  }
}

TEST(ParseAgentsTest, MalformedAddressesAreRejected) {
  for (const char* spec :
       {"host", "::1:7070", "[::1]7070", "[::1", ":7070", "[]:7070",
        "ho st:7070", "host/x:7070", "unix:"}) {
    SCOPED_TRACE(spec);
    EXPECT_THAT(ParseAgents(spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("'", spec, "'")),
                               HasSubstr("expected HOST:PORT"))));
  }
}

TEST(ParseAgentsTest, OneBadEntryFailsTheWholeList) {
  EXPECT_THAT(ParseAgents("a:1,b:0,c:3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'b:0'")));
}

TEST(ParseAgentsTest, MissingFileIsAnError) {
  EXPECT_THAT(ParseAgents("@/nonexistent/tally/agents.txt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("cannot read agent list file "
                                 "/nonexistent/tally/agents.txt")));
}

TEST(ParseAgentsTest, DnsLocalhostResolvesToAddressLiterals) {
  std::vector<AgentTarget> targets = MustParse("dns:localhost:7070");
  ASSERT_THAT(targets, Not(IsEmpty()));
  for (const AgentTarget& t : targets) {
    SCOPED_TRACE(t.grpc_target);
    EXPECT_TRUE(absl::StartsWith(t.grpc_target, "ipv4:") ||
                absl::StartsWith(t.grpc_target, "ipv6:"));
    EXPECT_TRUE(absl::EndsWith(t.grpc_target, ":7070"));
    EXPECT_EQ(t.tls_name, "localhost");
    EXPECT_THAT(t.error, IsEmpty());
    // The label is the resolved address: the grpc target minus its scheme.
    EXPECT_EQ(t.grpc_target, absl::StrCat(t.grpc_target.substr(0, 5), t.label));
  }
}

TEST(ParseAgentsTest, DnsAddressesAreNotDuplicated) {
  std::vector<AgentTarget> targets = MustParse("dns:localhost:7070");
  for (size_t i = 0; i < targets.size(); ++i) {
    for (size_t j = i + 1; j < targets.size(); ++j) {
      EXPECT_NE(targets[i].grpc_target, targets[j].grpc_target);
    }
  }
}

TEST(ParseAgentsTest, DnsNumericV4) {
  EXPECT_THAT(
      MustParse("dns:127.0.0.1:7070"),
      ElementsAre(AllOf(
          Field("label", &AgentTarget::label, "127.0.0.1:7070"),
          Field("grpc_target", &AgentTarget::grpc_target, "ipv4:127.0.0.1:7070"),
          Field("tls_name", &AgentTarget::tls_name, "127.0.0.1"),
          Field("error", &AgentTarget::error, IsEmpty()))));
}

TEST(ParseAgentsTest, DnsNumericV6IsBracketed) {
  EXPECT_THAT(
      MustParse("dns:[::1]:7070"),
      ElementsAre(AllOf(
          Field("label", &AgentTarget::label, "[::1]:7070"),
          Field("grpc_target", &AgentTarget::grpc_target, "ipv6:[::1]:7070"),
          Field("tls_name", &AgentTarget::tls_name, "::1"),
          Field("error", &AgentTarget::error, IsEmpty()))));
}

TEST(ParseAgentsTest, DnsFailureIsAPerTargetError) {
  // RFC 2606: .invalid never resolves.
  EXPECT_THAT(
      MustParse("a:1,dns:name.invalid:7070,b:2"),
      ElementsAre(Literal("a:1"),
                  AllOf(Field("label", &AgentTarget::label,
                              "dns:name.invalid:7070"),
                        Field("grpc_target", &AgentTarget::grpc_target,
                              IsEmpty()),
                        Field("error", &AgentTarget::error,
                              AllOf(StartsWith("UNAVAILABLE"),
                                    HasSubstr("name.invalid")))),
                  Literal("b:2")));
}

TEST(ParseAgentsTest, MalformedDnsFormsAreRejected) {
  for (const char* spec :
       {"dns:", "dns:localhost", "dns::7070", "dns:localhost:", "dns:localhost:0",
        "dns:localhost:70000", "dns:localhost:abc", "dns:a:b:7070",
        "dns:ho st:7070", "dns:host/x:7070", "dns:[::1]7070"}) {
    SCOPED_TRACE(spec);
    EXPECT_THAT(ParseAgents(spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(absl::StrCat("'", spec, "'")),
                               HasSubstr("is not dns:NAME:PORT"))));
  }
}

TEST_F(AgentFileTest, ReadsEntriesSkippingCommentsAndBlankLines) {
  std::string path = WriteFile("agents.txt",
                               "# the fleet\n"
                               "\n"
                               "10.0.0.7:7070\n"
                               "   \t\n"
                               "  unix:/tmp/x.sock   # local agent\n"
                               "#10.0.0.9:7070\n"
                               "[::1]:7071\r\n"
                               "b:2");  // no final newline
  EXPECT_THAT(MustParse(absl::StrCat("@", path)),
              ElementsAre(Literal("10.0.0.7:7070"), Literal("unix:/tmp/x.sock"),
                          Literal("[::1]:7071"), Literal("b:2")));
}

TEST_F(AgentFileTest, FileEntriesMixWithListEntriesInOrder) {
  std::string path = WriteFile("agents.txt", "b:2\nc:3\n");
  EXPECT_THAT(MustParse(absl::StrCat("a:1, @", path, " ,d:4")),
              ElementsAre(Literal("a:1"), Literal("b:2"), Literal("c:3"),
                          Literal("d:4")));
}

// Allowed, and (tester's finding 5) its agents are one agent each.
TEST_F(AgentFileTest, SameFileTwiceIsAllowed) {
  std::string path = WriteFile("agents.txt", "b:2\n");
  EXPECT_THAT(MustParse(absl::StrCat("@", path, ",@", path)),
              ElementsAre(Literal("b:2")));
}

// Tester's finding 5: an agent in a file and on the line is called once.
TEST_F(AgentFileTest, AgentInFileAndOnTheLineIsOneAgent) {
  std::string path = WriteFile("agents.txt", "unix:/x/1.sock\nb:2\n");
  EXPECT_THAT(MustParse(absl::StrCat("unix:/x/1.sock,@", path)),
              ElementsAre(Literal("unix:/x/1.sock"), Literal("b:2")));
}

// Tester's finding 6: a line with commas is several agents, as on the line.
TEST_F(AgentFileTest, CommasInALineSeparateAgents) {
  std::string path = WriteFile("agents.txt", "unix:/a.sock, unix:/b.sock\n");
  EXPECT_THAT(MustParse(absl::StrCat("@", path)),
              ElementsAre(Literal("unix:/a.sock"), Literal("unix:/b.sock")));
}

TEST_F(AgentFileTest, BadEntryAfterACommaNamesFileAndLine) {
  std::string path = WriteFile("agents.txt", "\na:1,nope\n");
  EXPECT_THAT(ParseAgents(absl::StrCat("@", path)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(absl::StrCat(path, ":2: 'nope'"))));
}

TEST_F(AgentFileTest, GarbageLineNamesFileAndLine) {
  std::string path = WriteFile("agents.txt",
                               "# header\n"
                               "a:1\n"
                               "\n"
                               "this is not an agent\n"
                               "b:2\n");
  EXPECT_THAT(ParseAgents(absl::StrCat("@", path)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(absl::StrCat(path, ":4: ")),
                             HasSubstr("'this is not an agent'"))));
}

TEST_F(AgentFileTest, BadPortInFileNamesFileAndLine) {
  std::string path = WriteFile("agents.txt", "a:1\nb:70000 # typo\n");
  EXPECT_THAT(ParseAgents(absl::StrCat("@", path)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(absl::StrCat(path, ":2: 'b:70000'")),
                             HasSubstr("invalid port"))));
}

TEST_F(AgentFileTest, NestedFileIsRejected) {
  std::string inner = WriteFile("inner.txt", "b:2\n");
  std::string outer =
      WriteFile("outer.txt", absl::StrCat("a:1\n@", inner, "\n"));
  EXPECT_THAT(ParseAgents(absl::StrCat("@", outer)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(absl::StrCat(outer, ":2: ")),
                             HasSubstr("cannot include other files"))));
}

TEST_F(AgentFileTest, FileWithOnlyCommentsGivesNoAgents) {
  std::string path = WriteFile("agents.txt", "# nobody\n\n   # here\n");
  EXPECT_THAT(ParseAgents(absl::StrCat("@", path)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no agents given")));
}

TEST_F(AgentFileTest, DnsFailureInFileIsAPerTargetError) {
  std::string path = WriteFile("agents.txt", "dns:name.invalid:7070\na:1\n");
  std::vector<AgentTarget> targets = MustParse(absl::StrCat("@", path));
  ASSERT_THAT(targets, SizeIs(2));
  EXPECT_THAT(targets[0].error, StartsWith("UNAVAILABLE"));
  EXPECT_THAT(targets[1], Literal("a:1"));
}

}  // namespace
}  // namespace tally::cli
