#include "client/outcome.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally::cli {
namespace {

constexpr char kAgent[] = "AGENT";

bool NamePart(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

// `text` with every whole occurrence of `name` (not inside a longer name)
// replaced by `with`.
std::string ReplaceName(const std::string& text, const std::string& name,
                        const std::string& with) {
  if (name.empty()) return text;
  std::string out;
  size_t from = 0;
  for (size_t at = text.find(name); at != std::string::npos;
       at = text.find(name, at + 1)) {
    const size_t end = at + name.size();
    if ((at > 0 && NamePart(text[at - 1])) ||
        (end < text.size() && NamePart(text[end]) && text[end] != '.')) {
      continue;
    }
    absl::StrAppend(&out, text.substr(from, at - from), with);
    from = end;
    at = end - 1;
  }
  absl::StrAppend(&out, text.substr(from));
  return out;
}

// `text` with every number ("3", "4.25") as '#': what a group is keyed by,
// so that "no update for 3.1s" and "no update for 4.0s" go together.
std::string MaskNumbers(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      out.push_back(text[i]);
      continue;
    }
    while (i + 1 < text.size() &&
           (absl::ascii_isdigit(static_cast<unsigned char>(text[i + 1])) ||
            (text[i + 1] == '.' && i + 2 < text.size() &&
             absl::ascii_isdigit(static_cast<unsigned char>(text[i + 2]))))) {
      ++i;
    }
    out.push_back('#');
  }
  return out;
}

}  // namespace

std::vector<FailureGroup> GroupFailures(
    const std::vector<AgentOutcome>& outcomes) {
  std::vector<FailureGroup> groups;
  std::map<std::string, size_t> index;
  for (const AgentOutcome& o : outcomes) {
    if (o.ok) continue;
    // Messages often name the agent ("ipv4:10.0.0.7:7070: Connection
    // refused"); without its name they group with their peers'.
    std::string error = ReplaceName(o.error, o.node, kAgent);
    auto [it, added] = index.emplace(MaskNumbers(error), groups.size());
    if (added) groups.push_back(FailureGroup{error, {}});
    groups[it->second].nodes.push_back(o.node);
  }
  return groups;
}

std::string DescribeGroup(const FailureGroup& group) {
  if (group.nodes.size() == 1) {
    // One agent: its own words, name included.
    return absl::StrCat(group.nodes[0], ": ",
                        ReplaceName(group.error, kAgent, group.nodes[0]));
  }
  std::vector<std::string> names(
      group.nodes.begin(),
      group.nodes.begin() + std::min(kNamesPerGroup, group.nodes.size()));
  std::string who = absl::StrJoin(names, ", ");
  if (group.nodes.size() > names.size()) {
    absl::StrAppend(&who, " and ", group.nodes.size() - names.size(), " more");
  }
  return absl::StrCat(group.error, " (", group.nodes.size(), " agents: ", who,
                      ")");
}

std::string Summary(const std::vector<AgentOutcome>& outcomes) {
  const size_t ok = std::count_if(outcomes.begin(), outcomes.end(),
                                  [](const AgentOutcome& o) { return o.ok; });
  std::string out = absl::StrCat(ok, "/", outcomes.size(), " agents ok");
  std::vector<FailureGroup> groups = GroupFailures(outcomes);
  for (size_t i = 0; i < groups.size() && i < kGroupsInSummary; ++i) {
    absl::StrAppend(&out, "; ", DescribeGroup(groups[i]));
  }
  if (groups.size() > kGroupsInSummary) {
    size_t agents = 0;
    for (size_t i = kGroupsInSummary; i < groups.size(); ++i) {
      agents += groups[i].nodes.size();
    }
    absl::StrAppend(&out, "; ", groups.size() - kGroupsInSummary,
                    " other errors (", agents, " agents)");
  }
  return out;
}

int ExitCode(const std::vector<AgentOutcome>& outcomes) {
  const size_t ok = std::count_if(outcomes.begin(), outcomes.end(),
                                  [](const AgentOutcome& o) { return o.ok; });
  if (ok == outcomes.size()) return 0;
  return ok == 0 ? 1 : 2;
}

}  // namespace tally::cli
