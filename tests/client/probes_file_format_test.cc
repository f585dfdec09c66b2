// The probes-file sentence info and status print under their tables.
#include "client/probes_file_format.h"

#include "gtest/gtest.h"

namespace tally::cli {
namespace {

TEST(ProbesFileErrorLineTest, NamesTheNodeAndTheFilesError) {
  EXPECT_EQ(ProbesFileErrorLine("node-1",
                                "/etc/tally/probes.yaml:4: probes[0]: unknown "
                                "field \"grup_by\""),
            "probes file not in effect on node-1: /etc/tally/probes.yaml:4: "
            "probes[0]: unknown field \"grup_by\"\n");
}

TEST(ProbesFileErrorLineTest, NothingWhenTheFileIsInEffect) {
  EXPECT_EQ(ProbesFileErrorLine("node-1", ""), "");
}

}  // namespace
}  // namespace tally::cli
