// Turns a parsed hook spec into the attach point to use on this kernel, and
// picks the mechanism for the `syscall:` alias.
#ifndef TALLY_AGENT_PROBE_HOOK_RESOLVER_H_
#define TALLY_AGENT_PROBE_HOOK_RESOLVER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "agent/probe/kernel_features.h"
#include "agent/probe/kernel_symbols.h"
#include "common/hook_spec.h"

namespace tally {

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

#endif  // TALLY_AGENT_PROBE_HOOK_RESOLVER_H_
