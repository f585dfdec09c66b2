// The concrete BPF attach mechanisms, described once: every place that needs
// a per-kind fact (names, spec syntax, what the target is) reads this table.
// The kernel-side facts (program, how to attach, how to probe the kernel for
// it) are in agent/probe/attach_kinds.h, keyed by the same enum.
#ifndef TALLY_COMMON_ATTACH_KIND_H_
#define TALLY_COMMON_ATTACH_KIND_H_

#include <array>
#include <cstddef>
#include <optional>

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

// How a hook spec names the place to attach.
enum class TargetForm {
  kCategoryAndName,  // tracepoint:CAT:NAME
  kName,             // raw_tp/tp_btf event, or a kernel function
  kBinaryAndSymbol,  // uprobe:PATH:SYMBOL
};

// What the target is.
enum class TargetClass { kTracepoint, kKernelFunction, kUserFunction };

struct AttachKindInfo {
  AttachKind kind;
  // Stable lower-case name used in the API and in messages.
  absl::string_view name;
  // Canonical spec prefix ("rawtracepoint" for raw_tp, as bpftrace spells it).
  absl::string_view spec_prefix;
  TargetForm form;
  TargetClass target;
};

inline constexpr std::array<AttachKindInfo, 9> kAttachKinds = {{
    {AttachKind::kTracepoint, "tracepoint", "tracepoint",
     TargetForm::kCategoryAndName, TargetClass::kTracepoint},
    {AttachKind::kRawTracepoint, "raw_tp", "rawtracepoint", TargetForm::kName,
     TargetClass::kTracepoint},
    {AttachKind::kTpBtf, "tp_btf", "tp_btf", TargetForm::kName,
     TargetClass::kTracepoint},
    {AttachKind::kKprobe, "kprobe", "kprobe", TargetForm::kName,
     TargetClass::kKernelFunction},
    {AttachKind::kKretprobe, "kretprobe", "kretprobe", TargetForm::kName,
     TargetClass::kKernelFunction},
    {AttachKind::kFentry, "fentry", "fentry", TargetForm::kName,
     TargetClass::kKernelFunction},
    {AttachKind::kFexit, "fexit", "fexit", TargetForm::kName,
     TargetClass::kKernelFunction},
    {AttachKind::kUprobe, "uprobe", "uprobe", TargetForm::kBinaryAndSymbol,
     TargetClass::kUserFunction},
    {AttachKind::kUretprobe, "uretprobe", "uretprobe",
     TargetForm::kBinaryAndSymbol, TargetClass::kUserFunction},
}};

// The table is indexed by the enum's value.
constexpr bool AttachKindTableInOrder() {
  for (size_t i = 0; i < kAttachKinds.size(); ++i) {
    if (static_cast<size_t>(kAttachKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(AttachKindTableInOrder(), "kAttachKinds must follow AttachKind");

constexpr std::array<AttachKind, kAttachKinds.size()> AllAttachKinds() {
  std::array<AttachKind, kAttachKinds.size()> out{};
  for (size_t i = 0; i < kAttachKinds.size(); ++i)
    out[i] = kAttachKinds[i].kind;
  return out;
}
inline constexpr std::array<AttachKind, kAttachKinds.size()> kAllAttachKinds =
    AllAttachKinds();

inline const AttachKindInfo& Info(AttachKind kind) {
  return kAttachKinds[static_cast<size_t>(kind)];
}

// "tracepoint", "raw_tp", "tp_btf", "kprobe", "kretprobe", "fentry", "fexit",
// "uprobe", "uretprobe".
inline absl::string_view AttachKindName(AttachKind kind) {
  return Info(kind).name;
}
std::optional<AttachKind> AttachKindFromName(absl::string_view name);

}  // namespace tally

#endif  // TALLY_COMMON_ATTACH_KIND_H_
