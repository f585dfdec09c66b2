// Turns a parsed hook spec into the attach point to use on this kernel, and
// picks the mechanism for the `syscall:` alias.
#ifndef TALLY_AGENT_HOOK_RESOLVER_H_
#define TALLY_AGENT_HOOK_RESOLVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/hook_spec.h"
#include "agent/kernel_features.h"

namespace tally {

// Existence checks against the running kernel; faked in tests.
class KernelSymbols {
 public:
  virtual ~KernelSymbols() = default;
  // Whether tracefs lists CATEGORY:NAME (mounting tracefs when needed).
  virtual bool HasTracepoint(absl::string_view category,
                             absl::string_view name) = 0;
  // Whether the kernel's BTF has a function NAME (fentry/fexit targets).
  virtual bool HasBtfFunction(absl::string_view name) = 0;
  // Whether /proc/kallsyms lists a function NAME (kprobe targets).
  virtual bool HasKallsym(absl::string_view name) = 0;
};

// The real kernel: tracefs and /sys/kernel/btf/vmlinux.
std::unique_ptr<KernelSymbols> NewKernelSymbols();

// The kernel function implementing syscall NAME on this architecture, e.g.
// "__x64_sys_getppid".
std::string SyscallFunction(absl::string_view name);

struct ResolvedHook {
  AttachPoint point;
  // For the syscall alias, the mechanism and why cheaper ones were passed
  // over, e.g. "tracepoint (fentry unavailable here)"; empty otherwise.
  std::string note;
};

// FAILED_PRECONDITION (or PERMISSION_DENIED) when the kernel lacks the
// mechanism; NOT_FOUND for an unknown syscall or tracepoint.
//
// syscall:NAME tries, in order of cost: fentry on the syscall function (the
// arch wrapper, or __do_sys_NAME where the wrapper has no BTF, as for
// argument-less syscalls on Debian kernels), the syscalls:sys_enter_NAME
// tracepoint, a kprobe on the arch wrapper.
absl::StatusOr<ResolvedHook> ResolveHook(const HookSpec& spec,
                                         const KernelFeatures& features,
                                         KernelSymbols& symbols);

}  // namespace tally

#endif  // TALLY_AGENT_HOOK_RESOLVER_H_
