// Hook specs in bpftrace's probe syntax, plus the `syscall:NAME` alias.
//
//   tracepoint:CAT:NAME   (t:)        rawtracepoint:NAME  (rt:)
//   tp_btf:NAME                        kprobe:FN (k:)   kretprobe:FN (kr:)
//   fentry:FN (kfunc:, f:)             fexit:FN (kretfunc:, fr:)
//   uprobe:PATH:SYMBOL (u:)            uretprobe:PATH:SYMBOL (ur:)
//   syscall:NAME                       cheapest mechanism this kernel has
#ifndef TALLY_COMMON_HOOK_SPEC_H_
#define TALLY_COMMON_HOOK_SPEC_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/attach_kind.h"

namespace tally {

// One concrete place to attach the counter.
struct AttachPoint {
  AttachKind kind = AttachKind::kTracepoint;
  std::string category;  // tracepoint category; empty otherwise
  std::string target;    // event, kernel function or binary symbol
  std::string binary;    // uprobe/uretprobe binary path; empty otherwise

  // Canonical spec, e.g. "fentry:vfs_read" for "kfunc:vfs_read".
  std::string ToSpec() const;
  bool operator==(const AttachPoint& other) const;
};

struct HookSpec {
  // Set for every form except the alias.
  std::optional<AttachPoint> point;
  // Set only for `syscall:NAME`.
  std::string syscall;

  std::string ToSpec() const;
};

// Longest accepted spec: a uprobe's PATH_MAX path plus a symbol name.
inline constexpr size_t kMaxHookLength = 4096 + 512;

// INVALID_ARGUMENT naming the bad part when `spec` is malformed. Existence of
// the event, function or binary is not checked here (see hook_resolver.h).
absl::StatusOr<HookSpec> ParseHookSpec(absl::string_view spec);

}  // namespace tally

#endif  // TALLY_COMMON_HOOK_SPEC_H_
