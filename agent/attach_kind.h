// The concrete BPF attach mechanisms the counter has a program for.
#ifndef TALLY_AGENT_ATTACH_KIND_H_
#define TALLY_AGENT_ATTACH_KIND_H_

#include <array>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tally {

enum class AttachKind {
  kTracepoint,
  kRawTracepoint,
  kTpBtf,
  kKprobe,
  kKretprobe,
  kFentry,
  kFexit,
  kUprobe,
  kUretprobe,
};

inline constexpr std::array<AttachKind, 9> kAllAttachKinds = {
    AttachKind::kTracepoint, AttachKind::kRawTracepoint, AttachKind::kTpBtf,
    AttachKind::kKprobe,     AttachKind::kKretprobe,     AttachKind::kFentry,
    AttachKind::kFexit,      AttachKind::kUprobe,        AttachKind::kUretprobe,
};

// Stable lower-case name used in the API and in messages: "tracepoint",
// "raw_tp", "tp_btf", "kprobe", "kretprobe", "fentry", "fexit", "uprobe",
// "uretprobe".
absl::string_view AttachKindName(AttachKind kind);
std::optional<AttachKind> AttachKindFromName(absl::string_view name);

}  // namespace tally

#endif  // TALLY_AGENT_ATTACH_KIND_H_
