#include "common/probe_name.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/quote.h"

namespace tally {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

std::string DefaultProbeName(const std::string& hook_spec) {
  std::string name;
  for (char c : hook_spec) {
    char out = IsNameChar(c) ? c : '-';
    if (out == '-' && (name.empty() || name.back() == '-')) continue;
    name.push_back(out);
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  if (name.size() > kMaxProbeNameLength) name.resize(kMaxProbeNameLength);
  return name;
}

absl::Status ValidateProbeName(const std::string& name) {
  if (name.empty() || name.size() > kMaxProbeNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("probe name ", Quote(name), " must be 1 to ",
                     kMaxProbeNameLength, " characters long"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      // The whole character, not one byte of it: messages stay UTF-8.
      absl::string_view rest = absl::string_view(name).substr(i);
      const size_t len = std::max<size_t>(1, Utf8SequenceLength(rest));
      return absl::InvalidArgumentError(absl::StrCat(
          "probe name ", Quote(name), " has ", Quote(rest.substr(0, len)),
          "; use letters, digits, '_', '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tally
