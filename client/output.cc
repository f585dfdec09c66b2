#include "client/output.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/json_util.h"

namespace tally::cli {

std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = false;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options)
           .ok()) {
    return "{}";
  }
  return out;
}

namespace {

// Columns a cell takes on a terminal, as UTF-8 code points (continuation
// bytes take none): a node name such as "nœud-1" is 6 wide, not 7. Wide
// (East Asian) characters are still counted as one.
size_t DisplayWidth(const std::string& s) {
  return std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

}  // namespace

Table::Table(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void Table::AddRow(std::vector<std::string> row) {
  rows_.push_back(std::move(row));
}

std::string Table::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (row.size() > widths.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], DisplayWidth(row[c]));
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c + 1 < row.size()) {
        absl::StrAppend(&line, row[c],
                        std::string(widths[c] - DisplayWidth(row[c]) + 2,
                                    ' '));
      } else {
        absl::StrAppend(&line, row[c]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string HumanCount(double value) {
  // Thresholds sit where rounding would carry into the next unit, so
  // 999999 prints "1.0M", not "1000.0k".
  if (value < 9999.5) return absl::StrFormat("%.0f", value);
  if (value < 999950) return absl::StrFormat("%.1fk", value / 1e3);
  if (value < 999950000) return absl::StrFormat("%.1fM", value / 1e6);
  return absl::StrFormat("%.1fG", value / 1e9);
}

std::string HumanDuration(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return "0s";
  // Rounded up to the unit shown: a TTL of 1s just after start is "1s",
  // and "0s" only once it has run out.
  int64_t s = absl::ToInt64Seconds(absl::Ceil(d, absl::Seconds(1)));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrCat(s / 60, "m", s % 60, "s");
  const int64_t m = (s + 59) / 60;
  return absl::StrCat(m / 60, "h", m % 60, "m");
}

}  // namespace tally::cli
