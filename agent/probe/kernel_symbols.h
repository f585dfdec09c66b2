// Existence checks against the running kernel, behind an interface so the
// hook resolver's tests can fake them.
#ifndef TALLY_AGENT_PROBE_KERNEL_SYMBOLS_H_
#define TALLY_AGENT_PROBE_KERNEL_SYMBOLS_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"

namespace tally {

class KernelSymbols {
 public:
  virtual ~KernelSymbols() = default;
  // Whether tracefs lists CATEGORY:NAME (mounting tracefs when needed).
  virtual bool HasTracepoint(absl::string_view category,
                             absl::string_view name) = 0;
  // Whether the kernel's BTF has a function NAME (fentry/fexit targets).
  // Parsed per call rather than cached: a few milliseconds each time,
  // against megabytes of resident memory kept forever.
  virtual bool HasBtfFunction(absl::string_view name) = 0;
  // Whether /proc/kallsyms lists a function NAME (kprobe targets).
  virtual bool HasKallsym(absl::string_view name) = 0;
};

// The real kernel: tracefs, /sys/kernel/btf/vmlinux, /proc/kallsyms.
std::unique_ptr<KernelSymbols> NewKernelSymbols();

// The kernel function implementing syscall NAME on this architecture, e.g.
// "__x64_sys_getppid".
std::string SyscallFunction(absl::string_view name);

}  // namespace tally

#endif  // TALLY_AGENT_PROBE_KERNEL_SYMBOLS_H_
