#include "agent/probe/kernel_features.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally {

absl::Status KernelFeatures::Check(AttachKind kind) const {
  auto it = kinds.find(kind);
  if (it == kinds.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat(AttachKindName(kind), " was not probed on this kernel"));
  }
  if (it->second.ok() || absl::IsPermissionDenied(it->second)) {
    return it->second;
  }
  std::vector<absl::string_view> working;
  for (AttachKind k : Supported()) working.push_back(AttachKindName(k));
  return absl::FailedPreconditionError(absl::StrCat(
      "this kernel (", release, ") cannot attach ", AttachKindName(kind),
      " probes: ", it->second.message(), "; kinds that work here: ",
      working.empty() ? "none" : absl::StrJoin(working, ", ")));
}

std::vector<AttachKind> KernelFeatures::Supported() const {
  std::vector<AttachKind> out;
  for (const auto& [kind, status] : kinds) {
    if (status.ok()) out.push_back(kind);
  }
  return out;
}

}  // namespace tally
