#include "client/probes_file_format.h"

#include "absl/strings/str_cat.h"

namespace tally::cli {

std::string ProbesFileErrorLine(const std::string& node,
                                const std::string& error) {
  if (error.empty()) return "";
  return absl::StrCat("probes file not in effect on ", node, ": ", error, "\n");
}

}  // namespace tally::cli
