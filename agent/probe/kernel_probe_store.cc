#include "agent/probe/kernel_probe_store.h"

#include <memory>
#include <utility>

#include "agent/probe/bpf_counter.h"
#include "agent/probe/hook_resolver.h"
#include "agent/probe/kernel_symbols.h"
#include "common/status_macros.h"

namespace tally {

absl::StatusOr<OpenedCounter> KernelProbeStore::Open(const HookSpec& hook,
                                                     ProbeRecord* record) {
  std::unique_ptr<KernelSymbols> symbols = NewKernelSymbols();
  ASSIGN_OR_RETURN(ResolvedHook resolved,
                   ResolveHook(hook, *features_, *symbols));
  ASSIGN_OR_RETURN(std::unique_ptr<BpfCounter> counter,
                   BpfCounter::Create(resolved.point, record->options,
                                      read_options_));
  record->attached = resolved.point;
  record->note = resolved.note;
  return OpenedCounter{std::move(counter), resolved.point, resolved.note};
}

}  // namespace tally
