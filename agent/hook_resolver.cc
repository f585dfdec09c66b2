#include "agent/hook_resolver.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/kernel_symbols.h"

namespace tally {
namespace {

#if defined(__x86_64__)
constexpr absl::string_view kSyscallPrefix = "__x64_sys_";
#elif defined(__aarch64__)
constexpr absl::string_view kSyscallPrefix = "__arm64_sys_";
#else
#error "add this architecture's syscall wrapper prefix"
#endif

absl::StatusOr<ResolvedHook> ResolveSyscall(const std::string& name,
                                            const KernelFeatures& features,
                                            KernelSymbols& symbols) {
  const std::string function = SyscallFunction(name);
  const std::string event = absl::StrCat("sys_enter_", name);
  std::vector<std::string> skipped;
  bool exists = false;

  // The probe's own reason, without Check()'s list of working kinds.
  auto skip_reason = [&](AttachKind kind) {
    auto it = features.kinds.find(kind);
    absl::string_view why =
        it == features.kinds.end() ? "not probed" : it->second.message();
    return absl::StrCat(AttachKindName(kind), " unavailable (", why, ")");
  };

  if (absl::Status s = features.Check(AttachKind::kFentry); !s.ok()) {
    if (absl::IsPermissionDenied(s)) return s;
    skipped.push_back(skip_reason(AttachKind::kFentry));
  } else if (symbols.HasBtfFunction(function)) {
    return ResolvedHook{{AttachKind::kFentry, "", function, ""},
                        "fentry on the syscall function"};
  } else {
    skipped.push_back(absl::StrCat("fentry: no BTF function ", function));
  }

  if (features.Check(AttachKind::kTracepoint).ok()) {
    if (symbols.HasTracepoint("syscalls", event)) {
      return ResolvedHook{
          {AttachKind::kTracepoint, "syscalls", event, ""},
          absl::StrCat("tracepoint, since ", absl::StrJoin(skipped, "; "))};
    }
    skipped.push_back(absl::StrCat("tracepoint: no syscalls:", event));
  } else {
    skipped.push_back(skip_reason(AttachKind::kTracepoint));
  }

  // A kprobe needs the function in kallsyms, not BTF; BTF is still the best
  // cheap oracle for "this syscall exists", and fentry-less kernels have it.
  exists = symbols.HasBtfFunction(function);
  if (features.Check(AttachKind::kKprobe).ok()) {
    if (exists) {
      return ResolvedHook{
          {AttachKind::kKprobe, "", function, ""},
          absl::StrCat("kprobe, since ", absl::StrJoin(skipped, "; "))};
    }
    skipped.push_back(absl::StrCat("kprobe: no kernel function ", function));
  } else {
    skipped.push_back(skip_reason(AttachKind::kKprobe));
  }

  if (!exists && !symbols.HasTracepoint("syscalls", event)) {
    return absl::NotFoundError(absl::StrCat(
        "unknown syscall '", name, "': this kernel has neither a function ",
        function, " nor a tracepoint syscalls:", event));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no mechanism on this kernel can count syscall:", name, ": ",
      absl::StrJoin(skipped, "; ")));
}

}  // namespace

std::string SyscallFunction(absl::string_view name) {
  return absl::StrCat(kSyscallPrefix, name);
}

absl::StatusOr<ResolvedHook> ResolveHook(const HookSpec& spec,
                                         const KernelFeatures& features,
                                         KernelSymbols& symbols) {
  if (!spec.point) return ResolveSyscall(spec.syscall, features, symbols);
  const AttachPoint& point = *spec.point;
  if (absl::Status s = features.Check(point.kind); !s.ok()) return s;
  if (point.kind == AttachKind::kTracepoint &&
      !symbols.HasTracepoint(point.category, point.target)) {
    return absl::NotFoundError(absl::StrCat(
        "tracepoint ", point.category, ":", point.target,
        " does not exist on this kernel (see the tracefs events directory)"));
  }
  return ResolvedHook{point, ""};
}

std::unique_ptr<KernelSymbols> NewKernelSymbols() {
  return std::make_unique<SystemKernelSymbols>();
}

}  // namespace tally
