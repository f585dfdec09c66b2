#include "common/probe_name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

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
        absl::StrCat("probe name '", name, "' must be 1 to ",
                     kMaxProbeNameLength, " characters long"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe name '", name, "' has '", std::string(1, c),
                       "'; use letters, digits, '_', '.' and '-'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tally
