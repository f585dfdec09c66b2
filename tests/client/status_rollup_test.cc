#include "client/status_rollup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tally::cli {
namespace {

v1::Probe MakeProbe(const std::string& name, v1::ProbeState state,
                    const std::string& origin = "",
                    const std::string& error = "") {
  v1::Probe p;
  p.set_name(name);
  p.set_state(state);
  p.set_origin(origin);
  p.set_error(error);
  return p;
}

NodeReport Node(const std::string& node, std::vector<v1::Probe> probes) {
  NodeReport r;
  r.agent = node + ":7070";
  r.node = node;
  for (v1::Probe& p : probes) *r.probes.add_probes() = std::move(p);
  return r;
}

TEST(RollUpTest, CountsWhereEachProbeRunsAndSaysWhyNot) {
  const std::string file = "/etc/tally/probes.yaml";
  std::vector<NodeReport> reports = {
      Node("a", {MakeProbe("opens", v1::PROBE_STATE_RUNNING, file)}),
      Node("b", {MakeProbe("opens", v1::PROBE_STATE_FAILED, file,
                           "RESOURCE_EXHAUSTED: 1 probe(s) run already")}),
      Node("c", {MakeProbe("opens", v1::PROBE_STATE_SKIPPED, file,
                           "kprobe is not available")}),
      Node("d", {}),
  };
  std::vector<v1::StatusLine> lines = RollUp(reports);
  ASSERT_EQ(lines.size(), 1u);
  const v1::StatusLine& l = lines[0];
  EXPECT_EQ(l.kind(), v1::StatusLine::PROBE);
  EXPECT_EQ(l.probe(), "opens");
  EXPECT_EQ(l.origin(), file);
  EXPECT_EQ(l.running(), 1u);
  EXPECT_EQ(l.failed(), 1u);
  EXPECT_EQ(l.skipped(), 1u);
  EXPECT_EQ(l.missing(), 1u);
  ASSERT_EQ(l.not_running_size(), 3);
  EXPECT_EQ(l.not_running(0).node(), "b");
  EXPECT_EQ(l.not_running(0).state(), v1::PROBE_STATE_FAILED);
  EXPECT_THAT(l.not_running(0).reason(), testing::HasSubstr("run already"));
  EXPECT_EQ(l.not_running(1).node(), "c");
  EXPECT_EQ(l.not_running(1).state(), v1::PROBE_STATE_SKIPPED);
  EXPECT_EQ(l.not_running(2).node(), "d");
  EXPECT_EQ(l.not_running(2).state(), v1::PROBE_STATE_UNSPECIFIED);
}

TEST(RollUpTest, UnreachableAgentsAndFileErrorsGetTheirOwnLines) {
  NodeReport down;
  down.agent = "10.0.0.9:7070";
  down.node = down.agent;
  down.error = "UNAVAILABLE: connection refused";
  NodeReport bad_file = Node("b", {});
  bad_file.info.mutable_probes_file()->set_error("probes.yaml:3: no hook");
  std::vector<NodeReport> reports = {
      Node("a", {MakeProbe("x", v1::PROBE_STATE_EXPIRED),
                 MakeProbe("w", v1::PROBE_STATE_RUNNING)}),
      down, bad_file};
  std::vector<v1::StatusLine> lines = RollUp(reports);
  ASSERT_EQ(lines.size(), 4u);
  // Probes sorted by name; the unreachable agent is in neither count.
  EXPECT_EQ(lines[0].probe(), "w");
  EXPECT_EQ(lines[0].running(), 1u);
  EXPECT_EQ(lines[0].missing(), 1u);
  EXPECT_EQ(lines[1].probe(), "x");
  EXPECT_EQ(lines[1].expired(), 1u);
  EXPECT_EQ(lines[1].missing(), 1u);
  EXPECT_EQ(lines[2].kind(), v1::StatusLine::FILE_ERROR);
  EXPECT_EQ(lines[2].node(), "b");
  EXPECT_EQ(lines[2].error(), "probes.yaml:3: no hook");
  EXPECT_EQ(lines[3].kind(), v1::StatusLine::UNREACHABLE);
  EXPECT_EQ(lines[3].agent(), "10.0.0.9:7070");
  EXPECT_THAT(lines[3].error(), testing::HasSubstr("UNAVAILABLE"));
}

TEST(RollUpTest, NoAgentsNoLines) { EXPECT_TRUE(RollUp({}).empty()); }

}  // namespace
}  // namespace tally::cli
