// KernelSymbols backed by the running kernel's tracefs and BTF.
#ifndef TALLY_AGENT_KERNEL_SYMBOLS_H_
#define TALLY_AGENT_KERNEL_SYMBOLS_H_

#include "agent/hook_resolver.h"

namespace tally {

class SystemKernelSymbols : public KernelSymbols {
 public:
  bool HasTracepoint(absl::string_view category,
                     absl::string_view name) override;
  // Parses vmlinux BTF per call rather than caching it: a few milliseconds
  // each time, against megabytes of resident memory kept forever.
  bool HasBtfFunction(absl::string_view name) override;
  // Scans /proc/kallsyms (only the kprobe rung of syscall: needs it).
  bool HasKallsym(absl::string_view name) override;
};

}  // namespace tally

#endif  // TALLY_AGENT_KERNEL_SYMBOLS_H_
