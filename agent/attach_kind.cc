#include "agent/attach_kind.h"

namespace tally {

absl::string_view AttachKindName(AttachKind kind) {
  switch (kind) {
    case AttachKind::kTracepoint:
      return "tracepoint";
    case AttachKind::kRawTracepoint:
      return "raw_tp";
    case AttachKind::kTpBtf:
      return "tp_btf";
    case AttachKind::kKprobe:
      return "kprobe";
    case AttachKind::kKretprobe:
      return "kretprobe";
    case AttachKind::kFentry:
      return "fentry";
    case AttachKind::kFexit:
      return "fexit";
    case AttachKind::kUprobe:
      return "uprobe";
    case AttachKind::kUretprobe:
      return "uretprobe";
  }
  return "unknown";
}

std::optional<AttachKind> AttachKindFromName(absl::string_view name) {
  for (AttachKind kind : kAllAttachKinds) {
    if (AttachKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace tally
