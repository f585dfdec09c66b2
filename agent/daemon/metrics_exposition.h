// The Prometheus text exposition format (version 0.0.4), written by hand
// because it is small: a family's HELP and TYPE once, then its samples, all
// together; label values escaped and made valid UTF-8 (a process name may
// be any bytes, and one invalid byte would fail the whole scrape).
#ifndef TALLY_AGENT_DAEMON_METRICS_EXPOSITION_H_
#define TALLY_AGENT_DAEMON_METRICS_EXPOSITION_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace tally {

enum class MetricType { kCounter, kGauge };

using MetricLabels = std::vector<std::pair<absl::string_view, std::string>>;

// The families and their samples; families come out in the order they were
// declared, each whole, whatever order samples were added in.
class Exposition {
 public:
  // Declares a family (once); samples of undeclared families are a bug.
  void Family(absl::string_view name, MetricType type, absl::string_view help);
  void Add(absl::string_view family, const MetricLabels& labels,
           uint64_t value);
  void Add(absl::string_view family, const MetricLabels& labels,
           double value);
  // The text; families without samples are left out.
  std::string Render() const;

 private:
  struct FamilyText {
    std::string header;
    std::string samples;
  };
  void AddLine(absl::string_view family, const MetricLabels& labels,
               absl::string_view value);

  std::vector<std::string> order_;
  std::map<std::string, FamilyText, std::less<>> families_;
};

// `raw` as a label value's contents: valid UTF-8 kept; a backslash doubled
// and each invalid byte written as \xNN (so distinct inputs stay distinct);
// then the format's escapes (\\, \", \n).
std::string EscapeLabelValue(absl::string_view raw);

// A sample value: integers exactly, others shortest round-trip, and
// +Inf/-Inf/NaN as the format spells them.
std::string FormatSampleValue(double value);

inline constexpr char kExpositionContentType[] =
    "text/plain; version=0.0.4; charset=utf-8";

}  // namespace tally

#endif  // TALLY_AGENT_DAEMON_METRICS_EXPOSITION_H_
