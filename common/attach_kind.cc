#include "common/attach_kind.h"

namespace tally {

std::optional<AttachKind> AttachKindFromName(absl::string_view name) {
  for (const AttachKindInfo& info : kAttachKinds) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

}  // namespace tally
