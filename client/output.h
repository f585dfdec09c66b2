// tallyctl output: aligned tables for people, JSON lines for programs.
#ifndef TALLY_CLIENT_OUTPUT_H_
#define TALLY_CLIENT_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace tally::cli {

enum class OutputFormat { kTable, kJson };

// One line of protobuf's JSON mapping: proto field names, every scalar and
// repeated field present even when zero (a stable shape for readers); unset
// sub-messages are left out. No trailing newline.
std::string JsonLine(const google::protobuf::Message& message);

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  // Columns padded to their widest cell (in UTF-8 code points); the last
  // column is not padded.
  std::string Render() const;
  bool empty() const { return rows_.size() <= 1; }

 private:
  std::vector<std::vector<std::string>> rows_;  // rows_[0] is the header
};

// "1.2k", "3.4M": compact counts for tables.
std::string HumanCount(double value);
// "4m59s"-style, for TTLs: rounded up to the last unit shown.
std::string HumanDuration(absl::Duration d);

}  // namespace tally::cli

#endif  // TALLY_CLIENT_OUTPUT_H_
