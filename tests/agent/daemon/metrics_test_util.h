// Reads the Prometheus text a scrape returns back into series, for tests:
// "name{labels}" (as written) to value, and the labels of each.
#ifndef TALLY_TESTS_AGENT_DAEMON_METRICS_TEST_UTIL_H_
#define TALLY_TESTS_AGENT_DAEMON_METRICS_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace tally::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;  // unescaped
  double value = 0;
};

// Every sample line; comments skipped.
inline std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = std::string(line.substr(0, i));
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string key(line.substr(i, eq - i));
        i = eq + 2;  // past ="
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels[key] = value;
      }
      ++i;  // }
    }
    absl::string_view value = line.substr(i);
    while (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (!absl::SimpleAtod(value, &s.value)) s.value = -1;
    out.push_back(std::move(s));
  }
  return out;
}

// The samples of `name` whose labels include every one in `match`.
inline std::vector<Sample> Select(
    const std::vector<Sample>& samples, const std::string& name,
    const std::map<std::string, std::string>& match = {}) {
  std::vector<Sample> out;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      ok = ok && it != s.labels.end() && it->second == v;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

}  // namespace tally::testing

#endif  // TALLY_TESTS_AGENT_DAEMON_METRICS_TEST_UTIL_H_
