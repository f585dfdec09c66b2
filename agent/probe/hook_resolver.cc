#include "agent/probe/hook_resolver.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace tally {
namespace {

absl::StatusOr<ResolvedHook> ResolveSyscall(const std::string& name,
                                            const KernelFeatures& features,
                                            KernelSymbols& symbols) {
  const std::string function = SyscallFunction(name);
  const std::string event = absl::StrCat("sys_enter_", name);
  // Why each cheaper rung was passed over: short for the note that comes
  // with success, detailed for the error when no rung works.
  std::vector<std::string> passed, details;
  auto unavailable = [&](AttachKind kind) {
    passed.push_back(absl::StrCat(AttachKindName(kind), " unavailable here"));
    auto it = features.kinds.find(kind);
    details.push_back(absl::StrCat(
        AttachKindName(kind), ": ",
        it == features.kinds.end() ? "not probed" : it->second.message()));
  };
  auto missing = [&](std::string why) {
    passed.push_back(why);
    details.push_back(std::move(why));
  };
  auto chose = [&](AttachKind kind) {
    return absl::StrCat(
        AttachKindName(kind),
        passed.empty() ? ""
                       : absl::StrCat(" (", absl::StrJoin(passed, "; "), ")"));
  };

  if (absl::Status s = features.Check(AttachKind::kFentry); !s.ok()) {
    if (absl::IsPermissionDenied(s)) return s;
    unavailable(AttachKind::kFentry);
  } else {
    // The wrapper is the one entry point; argument-less syscalls' wrappers
    // often lack BTF while their out-of-line body __do_sys_NAME has it.
    for (const std::string& fn : {function, absl::StrCat("__do_sys_", name)}) {
      if (symbols.HasBtfFunction(fn)) {
        return ResolvedHook{{AttachKind::kFentry, "", fn, ""},
                            chose(AttachKind::kFentry)};
      }
    }
    missing(absl::StrCat("fentry: no BTF function ", function, " or __do_sys_",
                         name));
  }

  if (features.Check(AttachKind::kTracepoint).ok()) {
    if (symbols.HasTracepoint("syscalls", event)) {
      return ResolvedHook{{AttachKind::kTracepoint, "syscalls", event, ""},
                          chose(AttachKind::kTracepoint)};
    }
    missing(absl::StrCat("tracepoint: no syscalls:", event));
  } else {
    unavailable(AttachKind::kTracepoint);
  }

  const bool exists = symbols.HasKallsym(function);
  if (features.Check(AttachKind::kKprobe).ok()) {
    if (exists) {
      return ResolvedHook{{AttachKind::kKprobe, "", function, ""},
                          chose(AttachKind::kKprobe)};
    }
    missing(absl::StrCat("kprobe: no kernel function ", function));
  } else {
    unavailable(AttachKind::kKprobe);
  }

  if (!exists && !symbols.HasTracepoint("syscalls", event)) {
    return absl::NotFoundError(absl::StrCat(
        "unknown syscall '", name, "': this kernel has neither a function ",
        function, " nor a tracepoint syscalls:", event));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no mechanism on this kernel can count syscall:", name, ": ",
                   absl::StrJoin(details, "; ")));
}

}  // namespace

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

}  // namespace tally
